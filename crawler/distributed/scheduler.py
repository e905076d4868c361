"""scrapy-redis's scheduler, made reliable: a popped request stays held by its worker until the engine is done.

scrapy-redis 0.9.1 pops a request out of Redis for good: a worker killed with requests in flight loses them
for the crawl (their fingerprints are already in the shared dupefilter). Here a pop moves the request into
the worker's held hash (:mod:`crawler.distributed.coordination`), and it leaves that hash only once the
engine has finished with it: downloaded, parsed, its items through the pipelines, its follow-ups queued.
"""

from __future__ import annotations

import logging
from typing import Any

import scrapy
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy_redis.scheduler import Scheduler

from crawler.distributed.coordination import Coordinator

logger = logging.getLogger(__name__)


def engine_slot(crawler: Crawler) -> Any:
    """The engine's slot: its ``inprogress`` set is the one exact record of which requests the engine still
    works on (a request leaves it after its callback's output is fully processed). Scrapy has no public
    signal for that moment; this is checked at start-up so that another Scrapy fails loudly, not silently.
    """
    slot = getattr(crawler.engine, "_slot", None)
    if slot is None or not isinstance(getattr(slot, "inprogress", None), set) or not hasattr(slot, "nextcall"):
        raise RuntimeError(f"Scrapy {scrapy.__version__}'s engine has no _slot.inprogress/_slot.nextcall: "
                           "distributed crawling (REDIS_URL) was written against Scrapy 2.13-2.19; "
                           "pin scrapy<2.20 or run without REDIS_URL")
    return slot


class ReliableRedisScheduler(Scheduler):  # type: ignore[misc]
    """Queue and dupefilter of scrapy-redis, in one atomic step each, with held requests acknowledged late."""

    crawler: Crawler
    coordinator: Coordinator
    held: dict[str, Request]
    """Token -> request this worker popped and the engine may still be working on."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ReliableRedisScheduler:
        from crawler.distributed.workers import WorkersExtension

        instance: ReliableRedisScheduler = super().from_crawler(crawler)
        instance.crawler = crawler
        instance.coordinator = WorkersExtension.of(crawler).coordinator
        instance.held = {}
        return instance

    def open(self, spider: Spider) -> None:
        super().open(spider)
        ours = (self.coordinator.queue_key, self.coordinator.dupefilter_key)
        if (self.queue.key, self.df.key) != ours:
            raise ValueError(f"SCHEDULER_QUEUE_KEY/SCHEDULER_DUPEFILTER_KEY give {self.queue.key!r}/{self.df.key!r}, "
                             f"but the workers share {ours[0]!r}/{ours[1]!r}: leave both unset (REDIS_STATE_PREFIX "
                             "names every key)")
        engine_slot(self.crawler)

    def enqueue_request(self, request: Request) -> bool:
        fingerprint = "" if request.dont_filter else self.df.request_fingerprint(request)
        data = self.queue._encode_request(request)
        if not self.coordinator.push(fingerprint, -request.priority, data):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        self.ack_finished()
        popped = self.coordinator.pop()
        if popped is None:
            return None
        token, data = popped
        request: Request = self.queue._decode_request(data)
        self.held[token] = request
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def ack_finished(self) -> int:
        """Release the held requests the engine is done with; how many."""
        if not self.held:
            return 0
        slot = getattr(self.crawler.engine, "_slot", None)
        inprogress = slot.inprogress if slot is not None else set()
        done = [token for token, request in self.held.items() if request not in inprogress]
        self.coordinator.ack(done)
        for token in done:
            del self.held[token]
        return len(done)

    def has_pending_requests(self) -> bool:
        return self.coordinator.queued() > 0

    def __len__(self) -> int:
        return self.coordinator.queued()

    def close(self, reason: str) -> None:
        # The engine closes the scheduler after every request in progress has finished: all are done.
        self.ack_finished()
        if self.held:
            logger.warning("%d requests still held at close; putting them back in the queue", len(self.held))
            self.coordinator.ack(list(self.held))
            for request in self.held.values():
                self.enqueue_request(request.replace(dont_filter=True))
            self.held.clear()
        super().close(reason)
