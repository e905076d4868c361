"""Drops records already emitted by this or an earlier run (asks the crawl state)."""

from __future__ import annotations

from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.state import CrawlState, state_for


class DuplicatePostPipeline:
    """A forum post whose pid was emitted in any run (or earlier in this one) is dropped with its reason."""

    def __init__(self, state: CrawlState) -> None:
        self.state = state
        self.in_flight: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DuplicatePostPipeline:
        return cls(state_for(crawler))

    def process_item(self, item: Any) -> Any:
        if getattr(item, "record_kind", None) != "post":
            return item
        pid = str(ItemAdapter(item)["pid"])
        if pid in self.in_flight or self.state.emitted("post", pid):
            raise DropItem(f"duplicate post {pid}")
        self.in_flight.add(pid)
        return item


class DuplicateArticlePipeline:
    """An article already emitted with the same content, under its docid or another one, is dropped.

    The same docid with different content passes: it is a new version (README, "Sina articles").
    """

    def __init__(self, state: CrawlState) -> None:
        self.state = state
        self.in_flight: dict[str, str] = {}
        """content hash -> docid, for this run."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DuplicateArticlePipeline:
        return cls(state_for(crawler))

    def process_item(self, item: Any) -> Any:
        if getattr(item, "record_kind", None) != "article":
            return item
        adapter = ItemAdapter(item)
        docid, digest = str(adapter["docid"]), str(adapter["content_hash"])
        if self.state.emitted("article", docid, digest) or self.in_flight.get(digest) == docid:
            raise DropItem(f"duplicate article {docid}")
        other = self.in_flight.get(digest) or self.state.key_of_version("article", digest)
        if other is not None and other != docid:
            raise DropItem(f"article {docid} has the same content as article {other}")
        self.in_flight[digest] = docid
        return item
