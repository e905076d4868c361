"""Distributed crawling: makes this worker the only writer of a record, atomically, before it is written."""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from crawler.pipelines.emitted import record_version
from crawler.state import state_for
from crawler.state.redis import RedisState

logger = logging.getLogger(__name__)


class ClaimPipeline:
    """After the duplicate check, before any write: claim the record in Redis, or drop it with the reason.

    The duplicate check asks whether a record was emitted; between that question and the write another
    worker may be writing the same record (a page fetched again after its worker was taken for dead).
    The claim closes that gap: one atomic script checks "emitted" and takes the claim. The claim is dropped
    when the record is marked emitted (after its write is durable). A failed write or mark stops the run
    (output failure) with the claim still held: whether the row reached the file is the run's own to know,
    so the claim waits for the lease to go, and a worker that fetches the page again then takes it over.
    """

    def __init__(self, state: RedisState, holder: str) -> None:
        self.state = state
        self.holder = holder
        self.in_flight: set[tuple[str, str, str]] = set()
        self.stats: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClaimPipeline:
        from crawler.distributed.workers import WorkersExtension

        state = state_for(crawler)
        if not isinstance(state, RedisState):
            raise NotConfigured("claims are for a crawl state in Redis (REDIS_URL)")
        pipeline = cls(state, WorkersExtension.of(crawler).coordinator.lease_key)
        pipeline.stats = crawler.stats
        return pipeline

    def _record(self, item: Any) -> tuple[str, str, str] | None:
        kind = getattr(item, "record_kind", None)
        if kind is None:
            return None
        return kind, str(ItemAdapter(item)[item.tsv_key]), record_version(item)

    def process_item(self, item: Any) -> Any:
        record = self._record(item)
        if record is None:
            return item
        kind, key, version = record
        claim = self.state.claim(kind, key, version, self.holder)
        if claim.outcome == "emitted":
            raise DropItem(f"duplicate {kind} {key}")
        if claim.outcome == "held":
            raise DropItem(f"{kind} {key} is being written by worker {self._worker(claim.holder)}")
        if claim.outcome == "mine" and record in self.in_flight:
            raise DropItem(f"duplicate {kind} {key}")
        if claim.outcome == "taken":
            # The dead worker may have written the row just before dying without marking it: then it is in
            # both workers' part files, identical, and `scrapy merge-tsv` keeps one (README).
            logger.warning("took over %s %s from dead worker %s", kind, key, self._worker(claim.holder))
            if self.stats is not None:
                self.stats.inc_value("distributed/claims_taken_over")
        self.in_flight.add(record)
        return item

    def _worker(self, lease_key: str | None) -> str:
        return (lease_key or "?").rsplit(":", 1)[-1]
