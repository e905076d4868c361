"""Knows when every page and item of a thread fetched in this run is done, so its state can be saved."""

from __future__ import annotations

from dataclasses import dataclass, field

from crawler.state import ThreadState


@dataclass
class _Thread:
    last_reply: str | None
    pages_expected: set[int] = field(default_factory=set)
    pages_parsed: dict[int, int] = field(default_factory=dict)
    """page -> posts on it."""
    total_pages: int = 0
    items_pending: int = 0
    failed: bool = False


class ThreadProgress:
    """Per-thread bookkeeping of one run; a thread with a failed page or item is never reported done."""

    def __init__(self, posts_per_page: int) -> None:
        self.posts_per_page = posts_per_page
        self.threads: dict[str, _Thread] = {}

    def page_requested(self, tid: str, page: int, last_reply: str | None) -> None:
        thread = self.threads.setdefault(tid, _Thread(last_reply))
        thread.pages_expected.add(page)

    def page_parsed(self, tid: str, page: int, total_pages: int, posts: int, items: int) -> ThreadState | None:
        thread = self.threads.get(tid)
        if thread is None:
            return None
        thread.pages_parsed[page] = posts
        thread.total_pages = max(thread.total_pages, total_pages)
        thread.pages_expected.update(range(page, total_pages + 1))
        thread.items_pending += items
        return self._done(tid)

    def page_failed(self, tid: str) -> None:
        if tid in self.threads:
            self.threads[tid].failed = True

    def item_done(self, tid: str, ok: bool = True) -> ThreadState | None:
        thread = self.threads.get(tid)
        if thread is None:
            return None
        thread.items_pending -= 1
        if not ok:
            thread.failed = True
        return self._done(tid)

    def _done(self, tid: str) -> ThreadState | None:
        thread = self.threads[tid]
        if thread.failed or thread.items_pending > 0 or not thread.total_pages:
            return None
        if not thread.pages_expected <= thread.pages_parsed.keys():
            return None
        last = thread.total_pages
        posts_seen = (last - 1) * self.posts_per_page + thread.pages_parsed[last]
        del self.threads[tid]
        return ThreadState(tid, thread.last_reply, last, posts_seen)
