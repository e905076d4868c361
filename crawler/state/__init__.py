"""Crawl state kept across runs: threads seen, records emitted. SQLite by default (``DATA_DIR/state.sqlite``)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from scrapy import signals
from scrapy.crawler import Crawler


@dataclass(frozen=True)
class ThreadState:
    """What an earlier run saw of a thread once every page it fetched was written."""

    tid: str
    last_reply: str | None
    """The listing's last reply time then, ``YYYY-MM-DDTHH:MM``."""
    pages: int
    """The thread's page count then."""
    posts_seen: int
    """Posts on all its pages then (the position where the next reply lands)."""


class CrawlState(Protocol):
    """One interface, two stores: :mod:`crawler.state.sqlite` (default) and Redis (``REDIS_URL``)."""

    def thread(self, tid: str) -> ThreadState | None: ...

    def save_thread(self, state: ThreadState) -> None: ...

    def emitted(self, kind: str, key: str, version: str = "") -> bool:
        """Whether record ``key`` of ``kind`` (``post``, ``article``) was emitted, in this version."""
        ...

    def emitted_versions(self, kind: str, key: str) -> list[str]: ...

    def key_of_version(self, kind: str, version: str) -> str | None:
        """Which record of ``kind`` was emitted with this version (e.g. an article's content hash)."""
        ...

    def mark_emitted(self, kind: str, key: str, version: str = "") -> None:
        """Record that ``key`` was durably written."""
        ...

    def set_checkpoint(self, source: str, offset: int) -> None:
        """Every record in ``source`` before byte ``offset`` is marked."""
        ...

    def checkpoint(self, source: str) -> int:
        """The byte offset of ``source`` up to which every record is known to be marked."""
        ...

    def flag(self, name: str) -> str | None:
        """A named fact kept across runs (None when unset)."""
        ...

    def set_flag(self, name: str, value: str | None) -> None: ...

    def flush(self) -> None:
        """Make every change so far durable."""
        ...

    def close(self) -> None: ...


_STATES: weakref.WeakKeyDictionary[Crawler, CrawlState] = weakref.WeakKeyDictionary()


def state_for(crawler: Crawler) -> CrawlState:
    """The crawl's one state store, opened on first use and closed when the spider closes."""
    state = _STATES.get(crawler)
    if state is None:
        settings = crawler.settings
        if settings.get("REDIS_URL"):
            from crawler.state.redis import RedisState

            state = RedisState.from_settings(settings)
        else:
            from crawler.errors import OutputError
            from crawler.state.sqlite import SqliteState

            try:
                state = SqliteState(Path(settings.get("DATA_DIR", "data")) / "state.sqlite")
            except OutputError as exc:
                assert crawler.stats is not None
                crawler.stats.set_value("run/output_failure", str(exc))
                raise
        _STATES[crawler] = state
        crawler.signals.connect(state.close, signal=signals.engine_stopped, weak=False)
    return state
