"""``scrapy crawl 51credit``: forum listings, then the pages of new or changed threads, one item per post."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy import signals
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler.items import ForumPost
from crawler.pages import discuz
from crawler.pages.discuz import ThreadRef
from crawler.state import CrawlState, ThreadState, state_for
from crawler.state.progress import ThreadProgress

if TYPE_CHECKING:
    from crawler.state.redis import RedisThreadProgress


def _forum_list(value: Any) -> list[str]:
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    forums = [str(v).strip() for v in items if str(v).strip()]
    bad = [f for f in forums if not f.isdigit()]
    if bad:
        raise ValueError(f"CREDIT51_FORUMS holds {bad!r}: give forum ids (digits), e.g. -s CREDIT51_FORUMS=290,291")
    return forums


def first_page_to_fetch(seen: ThreadState | None, ref: ThreadRef, posts_per_page: int) -> int | None:
    """Where new posts of a thread can be, given what an earlier run saw; None when nothing changed."""
    if seen is None:
        return 1
    if ref.last_reply is not None and seen.last_reply == ref.last_reply:
        return None
    page = seen.posts_seen // posts_per_page + 1
    if ref.replies is not None:
        page = min(page, (ref.replies + 1 + posts_per_page - 1) // posts_per_page)
    return max(1, page)


class Credit51Spider(scrapy.Spider):
    name = "51credit"
    record_types = (ForumPost,)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base_url = ""
        self.forums: list[str] = []
        self.max_listing_pages = 0
        self.incremental = True
        self.progress: ThreadProgress | RedisThreadProgress = ThreadProgress(20)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Credit51Spider:
        spider: Credit51Spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        base = settings.get("CREDIT51_BASE_URL")
        if not re.match(r"^https?://[^/]+/", base or ""):
            raise ValueError(f"CREDIT51_BASE_URL={base!r} is not an http(s) URL ending in '/'; "
                             "e.g. -s CREDIT51_BASE_URL=https://bbs.51credit.com/")
        spider.base_url = base
        spider.forums = _forum_list(settings.get("CREDIT51_FORUMS"))
        spider.max_listing_pages = settings.getint("CREDIT51_MAX_LISTING_PAGES", 0)
        spider.incremental = settings.getbool("CREDIT51_INCREMENTAL", True)
        spider.progress = ThreadProgress(settings.getint("CREDIT51_POSTS_PER_PAGE", 20))
        if settings.get("REDIS_URL"):
            # Distributed crawling: a thread's pages are fetched by different workers, so what is known of
            # its progress is shared in Redis (README, "Distributed crawling"), from when the crawl opens.
            crawler.signals.connect(spider.share_progress, signal=signals.spider_opened)
        crawler.signals.connect(spider.item_written, signal=signals.item_scraped)
        crawler.signals.connect(spider.item_written, signal=signals.item_dropped)
        crawler.signals.connect(spider.item_failed, signal=signals.item_error)
        return spider

    def share_progress(self) -> None:
        from crawler.state.redis import RedisState

        state = self.state
        assert isinstance(state, RedisState)
        self.progress = state.thread_progress(self.name, self.progress.posts_per_page)

    @property
    def state(self) -> CrawlState:
        return state_for(self.crawler)

    def count(self, key: str, n: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"51credit/{key}", n)

    async def start(self) -> AsyncIterator[Any]:
        if self.forums:
            for fid in self.forums:
                yield self.listing_request(fid, 1)
        else:
            yield scrapy.Request(self.base_url + "forum.php", callback=self.parse_index)

    def listing_request(self, fid: str, page: int) -> scrapy.Request:
        return scrapy.Request(f"{self.base_url}forum-{fid}-{page}.html", callback=self.parse_listing,
                              cb_kwargs={"fid": fid, "page": page})

    def thread_request(self, ref: ThreadRef, page: int, entry: bool = False) -> scrapy.Request:
        self.progress.page_requested(ref.tid, page, ref.last_reply)
        return scrapy.Request(f"{self.base_url}thread-{ref.tid}-{page}-1.html", callback=self.parse_thread,
                              errback=self.thread_failed, cb_kwargs={"ref": ref, "page": page, "entry": entry})

    def drop(self, response: Response, reasons: list[str]) -> None:
        for reason in reasons:
            self.count(f"dropped/{reason}")
            self.logger.warning("dropped: %s (%s)", reason, response.url)

    def parse_index(self, response: Response) -> Iterator[scrapy.Request]:
        if not isinstance(response, TextResponse):
            self.drop(response, ["forum index is not text"])
            return
        fids = discuz.forum_ids(response)
        if not fids:
            self.drop(response, ["forum index without forums"])
        for fid in fids:
            yield self.listing_request(fid, 1)

    def parse_listing(self, response: Response, fid: str, page: int) -> Iterator[scrapy.Request]:
        if not isinstance(response, TextResponse):
            self.drop(response, ["listing is not text"])
            return
        listing = discuz.listing_page(response)
        self.drop(response, listing.drops)
        for ref in listing.threads:
            start = 1
            if self.incremental:
                found = first_page_to_fetch(self.state.thread(ref.tid), ref, self.progress.posts_per_page)
                if found is None:
                    self.count("threads_unchanged")
                    continue
                start = found
            yield self.thread_request(ref, start, entry=True)
        last = listing.total_pages
        if self.max_listing_pages:
            last = min(last, self.max_listing_pages)
        if page == 1:
            for n in range(2, last + 1):
                yield self.listing_request(fid, n)

    def parse_thread(self, response: Response, ref: ThreadRef, page: int, entry: bool = False) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            self.drop(response, ["thread page is not text"])
            self.progress.page_failed(ref.tid)
            return
        thread = discuz.thread_page(response)
        self.drop(response, thread.drops)
        if thread.drops:
            self.progress.page_failed(ref.tid)
        url = f"{self.base_url}thread-{ref.tid}-{page}-1.html"
        items = []
        for post in thread.posts:
            if post.hidden:
                self.count("hidden_posts")
            items.append(ForumPost(
                tid=ref.tid, forum_group=thread.forum_group, forum=thread.forum, title=thread.title or ref.title,
                thread_url=url, author=ref.author, author_url=ref.author_url, thread_date=ref.created,
                pid=post.pid, poster=post.poster, poster_url=post.poster_url,
                poster_registered=post.poster_registered, floor=post.floor, content=post.content,
                posted_at=post.posted_at, page=page,
            ))
        if entry:
            for n in range(page + 1, thread.total_pages + 1):
                yield self.thread_request(ref, n)
        done = self.progress.page_parsed(ref.tid, page, thread.total_pages, len(thread.posts), len(items))
        if done:
            self.state.save_thread(done)
        yield from items

    def thread_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        self.progress.page_failed(request.cb_kwargs["ref"].tid)
        self.count("thread_pages_failed")
        self.logger.warning("thread page failed: %s (%s)", request.url, failure.getErrorMessage())

    def item_written(self, item: Any, **kwargs: Any) -> None:
        if isinstance(item, ForumPost):
            done = self.progress.item_done(item.tid)
            if done:
                self.state.save_thread(done)

    def item_failed(self, item: Any, **kwargs: Any) -> None:
        if isinstance(item, ForumPost):
            self.progress.item_done(item.tid, ok=False)
