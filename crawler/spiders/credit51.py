"""``scrapy crawl 51credit``: forum listings, then every page of every thread, one item per post."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse

from crawler.items import ForumPost
from crawler.pages import discuz
from crawler.pages.discuz import ThreadRef


def _forum_list(value: Any) -> list[str]:
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    forums = [str(v).strip() for v in items if str(v).strip()]
    bad = [f for f in forums if not f.isdigit()]
    if bad:
        raise ValueError(f"CREDIT51_FORUMS holds {bad!r}: give forum ids (digits), e.g. -s CREDIT51_FORUMS=290,291")
    return forums


class Credit51Spider(scrapy.Spider):
    name = "51credit"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base_url = ""
        self.forums: list[str] = []
        self.max_listing_pages = 0

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
        return spider

    async def start(self) -> AsyncIterator[Any]:
        if self.forums:
            for fid in self.forums:
                yield self.listing_request(fid, 1)
        else:
            yield scrapy.Request(self.base_url + "forum.php", callback=self.parse_index)

    def listing_request(self, fid: str, page: int) -> scrapy.Request:
        return scrapy.Request(f"{self.base_url}forum-{fid}-{page}.html", callback=self.parse_listing,
                              cb_kwargs={"fid": fid, "page": page})

    def thread_request(self, ref: ThreadRef, page: int) -> scrapy.Request:
        return scrapy.Request(f"{self.base_url}thread-{ref.tid}-{page}-1.html", callback=self.parse_thread,
                              cb_kwargs={"ref": ref, "page": page})

    def drop(self, response: Response, reasons: list[str]) -> None:
        for reason in reasons:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value(f"51credit/dropped/{reason}")
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
            yield self.thread_request(ref, 1)
        last = listing.total_pages
        if self.max_listing_pages:
            last = min(last, self.max_listing_pages)
        if page == 1:
            for n in range(2, last + 1):
                yield self.listing_request(fid, n)

    def parse_thread(self, response: Response, ref: ThreadRef, page: int) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            self.drop(response, ["thread page is not text"])
            return
        thread = discuz.thread_page(response)
        self.drop(response, thread.drops)
        url = f"{self.base_url}thread-{ref.tid}-{page}-1.html"
        for post in thread.posts:
            if post.hidden:
                assert self.crawler.stats is not None
                self.crawler.stats.inc_value("51credit/hidden_posts")
            yield ForumPost(
                tid=ref.tid, forum_group=thread.forum_group, forum=thread.forum, title=thread.title or ref.title,
                thread_url=url, author=ref.author, author_url=ref.author_url, thread_date=ref.created,
                pid=post.pid, poster=post.poster, poster_url=post.poster_url,
                poster_registered=post.poster_registered, floor=post.floor, content=post.content,
                posted_at=post.posted_at, page=page,
            )
        if page == 1:
            for n in range(2, thread.total_pages + 1):
                yield self.thread_request(ref, n)
