"""Cleans article bodies (unless ``HEXO_RAW_BODY``): scripts, styles, comments, adverts, editor line out."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.items import Article
from crawler.pages.sina import clean_body


class CleanBodyPipeline:
    """Replaces each ``Article``'s served body with the cleaned one; other items pass through untouched.

    The cleaned body keeps every paragraph and article image, with absolute URLs and
    ``referrerpolicy="no-referrer"`` on images (``crawler.pages.sina.clean_body``).
    """

    def __init__(self, stats: Any = None) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleanBodyPipeline:
        if crawler.settings.getbool("HEXO_RAW_BODY"):
            raise NotConfigured("HEXO_RAW_BODY is set: article bodies stay as served")
        return cls(stats=crawler.stats)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            item.body_html = clean_body(item.body_html, item.canonical_url or item.url)
            if self.stats is not None:
                self.stats.inc_value("clean/bodies_cleaned")
        return item
