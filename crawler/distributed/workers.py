"""The workers extension: this worker's lease, its heartbeat, dead workers' requests put back, and when to stop.

A worker keeps going while the crawl has work anywhere (queued, or held by a live worker that may queue
more); it closes once the crawl is complete and has stayed so for ``SCHEDULER_IDLE_BEFORE_CLOSE`` seconds.
"""

from __future__ import annotations

import logging
import time

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider, NotConfigured
from twisted.internet import task

from crawler.distributed import crawl_id, distributed, worker_id
from crawler.distributed.coordination import Coordinator
from crawler.errors import OutputError, RunLocked
from crawler.state import state_for
from crawler.state.redis import RedisState

logger = logging.getLogger(__name__)

#: How often an idle worker looks at the shared queue (seconds).
POLL_SECONDS = 0.25


class WorkersExtension:
    """Holds the worker's lease for the whole run; the scheduler and the claim pipeline work under it."""

    def __init__(self, crawler: Crawler, coordinator: Coordinator, idle_before_close: float) -> None:
        self.crawler = crawler
        self.coordinator = coordinator
        self.idle_before_close = idle_before_close
        self.complete_since: float | None = None
        self.heartbeat: task.LoopingCall | None = None
        self.poll: task.LoopingCall | None = None

    @classmethod
    def of(cls, crawler: Crawler) -> WorkersExtension:
        ext = crawler.get_extension(cls) if crawler.extensions else None
        if ext is None:
            raise NotConfigured("the workers extension is off: REDIS_URL must be set through the DistributedCrawl "
                                "add-on (ADDONS in crawler/settings.py)")
        return ext

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkersExtension:
        settings = crawler.settings
        if not distributed(settings):
            raise NotConfigured("REDIS_URL is empty")
        spider_name = crawler.spider.name if crawler.spider is not None else crawler.spidercls.name
        try:
            state = state_for(crawler)
        except OutputError as exc:  # Redis unreachable: the crawl command says "not started" and exits 6
            assert crawler.stats is not None
            crawler.stats.set_value("run/output_failure", str(exc))
            logger.error("%s", exc)
            raise
        if not isinstance(state, RedisState):
            raise NotConfigured("the crawl state is not in Redis")
        idle = settings.getfloat("SCHEDULER_IDLE_BEFORE_CLOSE", 0)
        if idle < 0:
            raise ValueError(f"SCHEDULER_IDLE_BEFORE_CLOSE={idle!r} must be 0 or more seconds, e.g. 10")
        coordinator = Coordinator(state.client, state.prefix, spider_name, worker_id(settings.get("WORKER_ID")),
                                  settings.getfloat("REDIS_LEASE_SECONDS", 30), url=state.url,
                                  crawl_id=crawl_id(settings.get("REDIS_CRAWL_ID")))
        try:
            coordinator.acquire()
        except RunLocked as exc:
            assert crawler.stats is not None
            crawler.stats.set_value("run/locked", str(exc))
            logger.error("%s", exc)
            raise
        requeued = coordinator.requeue_own()
        if requeued:
            logger.warning("put back %d requests an earlier process of worker %s held when it died",
                           requeued, coordinator.worker)
        ext = cls(crawler, coordinator, idle)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def spider_opened(self) -> None:
        assert self.crawler.stats is not None
        stats = self.crawler.stats
        stats.set_value("distributed/worker", self.coordinator.worker)
        asked = self.coordinator.crawl_id
        joined = self.coordinator.join()
        stats.set_value("distributed/crawl", joined.crawl_id)
        if joined.outcome == "finished":
            finished = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(joined.since)))
            logger.info("crawl %s finished at %s: nothing left to do", joined.crawl_id, finished)
            raise CloseSpider("finished")
        if asked and joined.crawl_id != asked:
            logger.warning("crawl %s is still going: worker %s joins it instead of starting crawl %s",
                           joined.crawl_id, self.coordinator.worker, asked)
        logger.info("worker %s %s crawl %s (started %s)", self.coordinator.worker, joined.outcome,
                    joined.crawl_id, joined.since)
        # The lease lives REDIS_LEASE_SECONDS: renew it three times per lease, so one late beat is not death.
        self.heartbeat = task.LoopingCall(self.beat)
        self.heartbeat.start(self.coordinator.lease_ms / 3000, now=False)
        self.poll = task.LoopingCall(self.wake_engine)
        self.poll.start(POLL_SECONDS, now=False)

    def beat(self) -> None:
        try:
            renewed = self.coordinator.renew()
            if renewed == 2:
                logger.warning("worker %s's lease had expired (a stall longer than REDIS_LEASE_SECONDS); its "
                               "requests were put back for others, some pages may be fetched twice",
                               self.coordinator.worker)
            elif renewed == 0:
                logger.error("another process took worker %s's lease; this one stops", self.coordinator.worker)
                from crawler.extensions.runs import stop_run

                stop_run(self.crawler, "lease_lost", f"worker {self.coordinator.worker}'s lease is another's")
                return
            status = self.coordinator.status()
            if status.requeued:
                self.dead_workers(status.dead, status.requeued)
        except Exception as exc:  # a missed beat must not kill the loop; the next one tries again
            logger.error("worker heartbeat failed: %s", exc)

    def dead_workers(self, dead: list[str], requeued: int) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("distributed/requeued_from_dead_workers", requeued)
        logger.warning("put back %d requests held by dead workers %s", requeued, ", ".join(dead))

    def wake_engine(self) -> None:
        """Have the engine ask the scheduler again (the engine's own heartbeat is every 5 s)."""
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None and slot.closing is None:
            slot.nextcall.schedule()

    def spider_idle(self) -> None:
        scheduler = getattr(getattr(self.crawler.engine, "_slot", None), "scheduler", None)
        ack_finished = getattr(scheduler, "ack_finished", None)
        if ack_finished is not None:
            ack_finished()
        status = self.coordinator.status()
        if status.requeued:
            self.dead_workers(status.dead, status.requeued)
        if not status.complete:
            self.complete_since = None
            raise DontCloseSpider("other workers are still busy")
        if self.complete_since is None:
            self.complete_since = time.monotonic()
            logger.info("the crawl is complete: nothing queued, no worker holds a request")
        if time.monotonic() - self.complete_since < self.idle_before_close:
            raise DontCloseSpider("waiting SCHEDULER_IDLE_BEFORE_CLOSE for a new crawl")

    def spider_closed(self, reason: str) -> None:
        for loop in (self.heartbeat, self.poll):
            if loop is not None and loop.running:
                loop.stop()

    def engine_stopped(self) -> None:
        try:
            self.coordinator.release()
        except Exception as exc:  # the lease expires on its own: others then treat this worker as gone
            logger.error("could not release worker %s's lease: %s", self.coordinator.worker, exc)
