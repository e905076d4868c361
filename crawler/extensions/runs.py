"""The cron contract: one run at a time per spider and DATA_DIR, a run summary file, and the run's outcome."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import IO, Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.errors import OutputError, RunLocked

__all__ = ["ExitCode", "OutputError", "RunLocked", "RunsExtension", "outcome", "stop_run"]

logger = logging.getLogger(__name__)


class ExitCode(IntEnum):
    """What ``scrapy crawl`` exits with (see README, "Exit codes")."""

    OK = 0
    FAILED = 1
    """Start-up failed (bad settings) or the crawl died of an unexpected error."""
    LOCKED = 3
    """Another run of this spider holds ``DATA_DIR``; this one touched nothing."""
    BLOCKED = 4
    """The site's defences stopped the crawl (stats ``run/blocked_by`` names which)."""
    UNREACHABLE = 5
    """Not one page could be fetched (DNS, refused connections, timeouts)."""
    OUTPUT_FAILED = 6
    """An output could not be written (disk full, permissions); what was missing comes next run."""
    INTERRUPTED = 7
    """Stopped early (Ctrl-C, SIGTERM); resume with the same command (and ``JOBDIR`` if set)."""


def stop_run(crawler: Crawler, reason: str, detail: str) -> None:
    """Close the spider with ``reason`` (once); ``detail`` goes to the stats as ``run/{reason}``."""
    assert crawler.stats is not None
    if crawler.stats.get_value("run/stopping"):
        return
    crawler.stats.set_value("run/stopping", reason)
    crawler.stats.set_value(f"run/{reason}", detail)
    logger.error("stopping the run (%s): %s", reason, detail)
    engine = crawler.engine
    if engine is not None and engine.spider is not None:
        from scrapy.utils.defer import deferred_from_coro

        deferred_from_coro(engine.close_spider_async(reason=reason))


def outcome(finish_reason: str | None, stats: dict[str, Any]) -> ExitCode:
    """The exit code of a finished run, from its close reason and stats."""
    if stats.get("run/locked"):
        return ExitCode.LOCKED
    if finish_reason in ("output_failure", "warc_error"):
        return ExitCode.OUTPUT_FAILED
    if finish_reason == "blocked":
        return ExitCode.BLOCKED
    if finish_reason == "finished":
        if not stats.get("response_received_count") and stats.get("downloader/exception_count"):
            return ExitCode.UNREACHABLE
        return ExitCode.OK
    if finish_reason in ("shutdown", "cancelled"):
        return ExitCode.INTERRUPTED
    return ExitCode.FAILED


def dropped_pages(stats: dict[str, Any]) -> dict[str, int]:
    """Pages a spider skipped or dropped, by reason (slide pages, pages without a body, ...)."""
    return {key.split("/dropped/", 1)[1]: value for key, value in stats.items() if "/dropped/" in key}


def error_reasons(stats: dict[str, Any]) -> dict[str, int]:
    """Errors of a run by reason: failed downloads, HTTP errors, logged errors."""
    reasons: dict[str, int] = {}
    for key, value in stats.items():
        if key.startswith("downloader/exception_type_count/"):
            reasons[key.rsplit("/", 1)[1].rsplit(".", 1)[-1]] = value
        elif key.startswith("downloader/response_status_count/") and int(key.rsplit("/", 1)[1]) >= 400:
            reasons[f"HTTP {key.rsplit('/', 1)[1]}"] = value
        elif key == "log_count/ERROR":
            reasons["logged errors"] = value
    return reasons


class RunLock:
    """An advisory lock on ``DATA_DIR/locks/{spider}.lock``, held for the life of the process's run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunLocked(f"{self.path} is held by {holder}; another run of this spider is still going "
                            "(wait for it, or give this run another DATA_DIR)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n")
        handle.flush()
        self.handle = handle

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


class RunsExtension:
    """Takes the run lock before anything opens a file, and writes the run summary when the spider closes."""

    def __init__(self, crawler: Crawler, data_dir: Path, spider_name: str, worker: str = "") -> None:
        self.crawler = crawler
        self.data_dir = data_dir
        self.spider_name = spider_name
        # Distributed crawling (REDIS_URL): N workers run at once, so the lock guards this worker's DATA_DIR
        # against a second copy of the same worker (same WORKER_ID), not against the other workers; the
        # worker's lease in Redis guards the id across machines (crawler/distributed/workers.py).
        self.worker = worker
        name = f"{spider_name}.{worker}" if worker else spider_name
        self.lock = RunLock(data_dir / "locks" / f"{name}.lock")
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.summary: dict[str, Any] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunsExtension:
        if crawler.spider is None:
            raise NotConfigured("the runs extension needs a spider")
        settings = crawler.settings
        worker = settings.get("WORKER_ID") if settings.get("REDIS_URL") else ""
        ext = cls(crawler, Path(settings.get("DATA_DIR", "data")), crawler.spider.name, worker)
        try:
            ext.lock.acquire()
        except RunLocked as exc:
            assert crawler.stats is not None
            crawler.stats.set_value("run/locked", str(exc))
            logger.error("%s", exc)
            raise
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def spider_closed(self, spider: Spider, reason: str) -> None:
        assert self.crawler.stats is not None
        stats = self.crawler.stats.get_stats()
        code = outcome(reason, stats)
        dropped = {k.split("/", 1)[1]: v for k, v in stats.items() if k.startswith("item_dropped_reasons_count/")}
        self.summary = {
            "spider": self.spider_name,
            "started": self.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_seconds": round(time.monotonic() - self.started, 3),
            "finish_reason": reason,
            "exit_code": int(code),
            "outcome": code.name.lower(),
            "new_items": stats.get("item_scraped_count", 0),
            "duplicate_items": stats.get("item_dropped_count", 0),
            "dropped_items_by_reason": dropped,
            "pages_fetched": stats.get("response_received_count", 0),
            "requests": stats.get("downloader/request_count", 0),
            "bytes_received": stats.get("downloader/response_bytes", 0),
            "errors_by_reason": error_reasons(stats),
            "pages_dropped_by_reason": dropped_pages(stats),
            "blocked_by": stats.get("run/blocked_by"),
            "warc_records": stats.get("warc/records", 0),
        }
        if self.worker:
            self.summary["worker"] = self.worker
            self.summary["crawl"] = stats.get("distributed/crawl")
        if stats.get("distributed/requeued_from_dead_workers"):
            self.summary["requeued_from_dead_workers"] = stats["distributed/requeued_from_dead_workers"]
        if stats.get("distributed/claims_taken_over"):
            self.summary["claims_taken_over"] = stats["distributed/claims_taken_over"]
        self.crawler.stats.set_value("run/exit_code", int(code))
        runs = self.data_dir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        # Workers sharing a DATA_DIR each write their own summary.
        name = f"{self.spider_name}-{self.worker}" if self.worker else self.spider_name
        path = runs / f"{name}-{self.started_at:%Y%m%dT%H%M%SZ}.json"
        try:
            path.write_text(json.dumps(self.summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            logger.error("cannot write the run summary %s: %s", path, exc)
        logger.info("run summary written to %s", path)
        self.crawler.stats.set_value("run/summary_path", str(path))

    def engine_stopped(self) -> None:
        self.lock.release()
