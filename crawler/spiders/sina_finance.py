"""``sina_finance``: reads the Sina roll list API page by page and follows every article it lists."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.items import Article
from crawler.pages.sina import RollEntry, article_page, roll_page, roll_url
from crawler.pipelines.hexo import check_categories
from crawler.state import CrawlState, state_for

_LIST_KEY = re.compile(r"^\d+:\d+$")
#: Pages without an article are expected on a roll list; they are logged at INFO, other drops at WARNING.
_EXPECTED_SKIPS = frozenset({"slide", "video"})


def roll_lists(value: dict[str, Any]) -> dict[str, list[str]]:
    """``SINA_ROLL_LISTS`` checked: ``{"pageid:lid": [c1, c2, c3]}``; ValueError naming the bad entry."""
    if not value:
        raise ValueError('SINA_ROLL_LISTS is empty; give at least one list, e.g. {"155:1686": [...]}')
    lists: dict[str, list[str]] = {}
    for key, categories in value.items():
        if not _LIST_KEY.match(str(key)):
            raise ValueError(f"SINA_ROLL_LISTS key {key!r} is not a 'pageid:lid' pair such as '155:1686'")
        if isinstance(categories, str) or not isinstance(categories, (list, tuple)):
            raise ValueError(
                f"SINA_ROLL_LISTS[{key!r}] = {categories!r}: give a list of three category names"
            )
        lists[str(key)] = check_categories([str(c) for c in categories])
    return lists


class SinaFinanceSpider(Spider):
    name = "sina_finance"

    api_url: str = "https://feed.mix.sina.com.cn/api/roll/get"
    lists: dict[str, list[str]]
    max_pages: int = 0
    page_size: int = 50
    referer: str = "https://finance.sina.com.cn/"
    incremental: bool = True
    record_types = (Article,)
    caught_up: dict[str, bool]
    paged_to_end: set[str]
    unexpected_drops: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.caught_up = {}
        self.paged_to_end = set()

    @property
    def state(self) -> CrawlState:
        return state_for(self.crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SinaFinanceSpider:
        spider: SinaFinanceSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        try:
            lists = settings.getdict("SINA_ROLL_LISTS")
        except ValueError as exc:
            raise ValueError(f"SINA_ROLL_LISTS is not a JSON object of 'pageid:lid' -> names: {exc}") from exc
        spider.lists = roll_lists(lists)
        spider.api_url = settings.get("SINA_ROLL_API_URL", spider.api_url)
        spider.max_pages = settings.getint("SINA_ROLL_MAX_PAGES", 0)
        spider.page_size = settings.getint("SINA_ROLL_PAGE_SIZE", 50)
        spider.referer = settings.get("SINA_ROLL_REFERER", spider.referer)
        spider.incremental = settings.getbool("SINA_INCREMENTAL", True)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        # caught_up: lists an earlier run paged to the end and finished cleanly, so this run may stop at a
        # page with nothing new. A run killed before that leaves the flag cleared: the next pages to the end.
        self.crawler.signals.connect(self.closed_cleanly, signal=signals.spider_closed)
        for key in self.lists:
            if self.incremental:
                flag = f"sina/paged_to_end/{key}"
                self.caught_up[key] = self.state.flag(flag) is not None
                self.state.set_flag(flag, None)
            yield self.roll_request(key, 1)

    def closed_cleanly(self, spider: Spider, reason: str) -> None:
        if not self.incremental or reason != "finished" or self.unexpected_drops:
            return
        for key in self.paged_to_end:
            self.state.set_flag(f"sina/paged_to_end/{key}", "1")

    def roll_request(self, key: str, page: int) -> Request:
        pageid, lid = key.split(":")
        return Request(
            roll_url(self.api_url, pageid, lid, self.page_size, page),
            headers={"Referer": self.referer},
            callback=self.parse_roll,
            errback=self.failed,
            cb_kwargs={"key": key, "page": page},
        )

    def parse_roll(self, response: Response, key: str, page: int) -> Iterator[Request]:
        listing = roll_page(response)
        if listing.problem:
            self.drop(listing.problem, response.url, listing.detail)
            return
        for reason, detail in listing.skipped:
            self.drop(reason, response.url, detail)
        self.inc("sina/roll/entries", len(listing.entries))
        fresh = 0
        for entry in listing.entries:
            if self.incremental and entry.docid and self.state.emitted_versions("article", entry.docid):
                self.inc("sina/roll/known")
                continue
            fresh += 1
            yield Request(
                entry.url,
                callback=self.parse_article,
                errback=self.failed,
                cb_kwargs={"entry": entry, "key": key},
            )
        more = listing.total is None or page * self.page_size < listing.total
        if self.incremental and listing.entries and not fresh and self.caught_up.get(key):
            self.logger.info("roll list %s page %d holds nothing new: paging stops", key, page)
            more = False
        if not (listing.entries and more):
            self.paged_to_end.add(key)
        if listing.entries and more and (self.max_pages == 0 or page < self.max_pages):
            yield self.roll_request(key, page + 1)

    def parse_article(self, response: Response, entry: RollEntry, key: str) -> Iterator[Article]:
        result = article_page(response, entry)
        for warning in result.warnings:
            self.inc(f"sina/warnings/{warning}")
            self.logger.warning("Kept %s despite a problem: %s", response.url, warning)
        if result.article is None:
            reason = result.dropped or "unknown"
            level = logging.INFO if reason in _EXPECTED_SKIPS else logging.WARNING
            self.drop(reason, response.url, result.detail, level)
            return
        result.article.lids = key
        result.article.categories = list(self.lists[key])
        yield result.article

    def failed(self, failure: Failure) -> None:
        request: Request | None = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        prefix = "" if request is not None and "entry" in request.cb_kwargs else "roll_"
        if isinstance(failure.value, HttpError):
            status = failure.value.response.status
            self.drop(f"{prefix}http_{status}", url, f"HTTP {status}")
        else:
            self.drop(f"{prefix}download_error", url, failure.getErrorMessage())

    def inc(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)

    def drop(self, reason: str, url: str, detail: str, level: int = logging.WARNING) -> None:
        self.inc(f"sina/dropped/{reason}")
        if reason not in _EXPECTED_SKIPS:
            self.unexpected_drops += 1
        self.logger.log(level, "Dropped %s (%s): %s", url, reason, detail)
