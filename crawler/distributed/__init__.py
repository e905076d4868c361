"""Distributed crawling: the add-on that turns ``REDIS_URL`` on, and the worker id every output is named with.

This module imports nothing of Redis: without ``REDIS_URL`` neither ``redis`` nor ``scrapy_redis`` is loaded.
"""

from __future__ import annotations

import os
import re
import socket
from typing import Any

from scrapy.settings import BaseSettings

_WORKER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def worker_id(value: str | None) -> str:
    """``WORKER_ID``, or ``{hostname}-{pid}`` when empty; checked to be safe in file names and Redis keys."""
    worker = value or f"{socket.gethostname()}-{os.getpid()}"
    if not _WORKER_ID.match(worker):
        raise ValueError(f"WORKER_ID={worker!r} cannot name files: use up to 64 letters, digits, '.', '_' or '-' "
                         "starting with a letter or digit, e.g. -s WORKER_ID=box1-a")
    return worker


def crawl_id(value: str | None) -> str:
    """``REDIS_CRAWL_ID`` checked; empty means "the crawl going, or a new one"."""
    if value and not _WORKER_ID.match(value):
        raise ValueError(f"REDIS_CRAWL_ID={value!r} must be up to 64 letters, digits, '.', '_' or '-', "
                         "e.g. -s REDIS_CRAWL_ID=$(date -u +%Y%m%dT%H)")
    return value or ""


def distributed(settings: BaseSettings) -> bool:
    """Whether this crawl shares its queue and state through Redis."""
    return bool(settings.get("REDIS_URL"))


def _set_resolved(settings: BaseSettings, name: str, value: Any) -> None:
    """Replace a setting's value at the priority it already has (an add-on's own priority is below project's)."""
    priority = settings.getpriority(name)
    settings.set(name, value, priority="addon" if priority is None else priority)


class DistributedCrawl:
    """Scrapy add-on. With ``REDIS_URL``: scrapy-redis's dupefilter and our reliable subclass of its scheduler,
    the shared crawl state, per-worker claims on records, and the workers extension (lease, idle, completion).
    """

    def __init__(self, spider_name: str) -> None:
        self.spider_name = spider_name

    @classmethod
    def from_crawler(cls, crawler: Any) -> DistributedCrawl:
        return cls(crawler.spidercls.name)

    def update_settings(self, settings: BaseSettings) -> None:
        worker = worker_id(settings.get("WORKER_ID"))
        _set_resolved(settings, "WORKER_ID", worker)
        if not distributed(settings):
            return
        prefix = settings.get("REDIS_STATE_PREFIX") or "crawler"
        if any(c.isspace() or c == "%" for c in prefix):
            raise ValueError(f"REDIS_STATE_PREFIX={prefix!r} must be one word without spaces or '%', "
                             "e.g. -s REDIS_STATE_PREFIX=crawler")
        if settings.get("JOBDIR"):
            raise ValueError(f"JOBDIR={settings.get('JOBDIR')!r} has no use with REDIS_URL: the queue lives in "
                             "Redis and survives any worker; drop -s JOBDIR")
        settings.set("SCHEDULER", "crawler.distributed.scheduler.ReliableRedisScheduler", "addon")
        settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", "addon")
        # A worker that stops must never clear the queue or dupefilter the others still work from.
        settings.set("SCHEDULER_PERSIST", True, "addon")
        settings.set("SCHEDULER_FLUSH_ON_START", False, "addon")
        settings.set("SCHEDULER_QUEUE_CLASS", "scrapy_redis.queue.PriorityQueue", "addon")
        settings.set("SCHEDULER_QUEUE_KEY", f"{prefix}:%(spider)s:requests", "addon")
        settings.set("SCHEDULER_DUPEFILTER_KEY", f"{prefix}:%(spider)s:dupefilter", "addon")
        settings["ITEM_PIPELINES"]["crawler.pipelines.claim.ClaimPipeline"] = 250
        settings["EXTENSIONS"]["crawler.distributed.workers.WorkersExtension"] = 10
        # Each worker writes its own WARC files, named apart from every other worker's.
        if not settings.get("WARC_PREFIX"):
            _set_resolved(settings, "WARC_PREFIX", f"{self.spider_name}-{worker}")
        if not settings.get("WARC_IS_PART_OF"):
            _set_resolved(settings, "WARC_IS_PART_OF", self.spider_name)
