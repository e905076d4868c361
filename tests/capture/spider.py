"""The capture test spider, and a probe that keeps what the download handler filed for each response."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import scrapy
from scrapy.http import Response

from crawler.items import ForumPost
from crawler.middlewares.handler import WireExchange, wire_exchange
from tests.capture.site import BIG_MAXSIZE, CHINESE_PATH, GBK_PAGE_PID, GBK_PAGE_TID

#: Paths requested at start, with the keyword arguments of their Request.
START: list[tuple[str, dict[str, Any]]] = [
    ("chunked", {}),
    ("length", {}),
    ("reason", {}),
    ("gbk-header", {}),
    ("gzip", {}),
    # A GBK query string: Scrapy percent-encodes it in the request's encoding.
    ("search?kw=中文&page=2", {"encoding": "gbk"}),
    (CHINESE_PATH.lstrip("/"), {}),
    ("redirect", {}),
    ("missing", {}),
    ("error", {}),
    ("big-chunked", {"meta": {"download_maxsize": BIG_MAXSIZE}}),
    ("big-length", {"meta": {"download_maxsize": BIG_MAXSIZE}}),
    ("page-gbk.html", {}),
]


class CaptureSpider(scrapy.Spider):
    """Requests every case of ``tests.capture.site.CaptureSite``; parses only the GBK page."""

    name = "capture"

    def __init__(self, base: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = base

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for path, kwargs in START:
            yield scrapy.Request(self.base + path, callback=self.parse, **kwargs)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if not response.url.endswith("/page-gbk.html"):
            return
        yield ForumPost(
            tid=GBK_PAGE_TID, forum_group=None, forum=None, title=None, thread_url=response.url,
            author=None, author_url=None, thread_date=None, pid=GBK_PAGE_PID, poster=None,
            poster_url=None, poster_registered=None, floor="1", content=None,
        )  # fmt: skip
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, callback=self.parse)


class WireProbe:
    """Downloader middleware just outside capture (960): keeps each response with its wire heads."""

    seen: ClassVar[list[tuple[str, WireExchange | None, bytes, list[tuple[bytes, bytes]], str | None]]] = []

    def process_response(self, request: scrapy.Request, response: Response) -> Response:
        pairs = [(bytes(k), bytes(v)) for k, values in response.headers.items() for v in values]
        WireProbe.seen.append((response.url, wire_exchange(request), response.body, pairs, response.protocol))
        return response
