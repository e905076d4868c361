"""Marks each record emitted once its outputs are durable, and after a crash marks what was written."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler

from crawler.extensions.runs import OutputError, stop_run
from crawler.state import CrawlState, state_for

logger = logging.getLogger(__name__)


def record_version(item: Any) -> str:
    """The version a record is emitted in (an article's content hash); '' for records without one."""
    field = getattr(item, "version_field", None)
    return str(ItemAdapter(item).get(field) or "") if field else ""


class EmittedPipeline:
    """Last in the chain: the TSV row (the commit record) is written and flushed when an item gets here."""

    def __init__(self, state: CrawlState, tsv_root: Path, record_types: tuple[type, ...] = ()) -> None:
        self.state = state
        self.record_types = record_types
        self.tsv_root = tsv_root
        self.reconciled = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EmittedPipeline:
        assert crawler.spider is not None
        root = Path(crawler.settings.get("DATA_DIR", "data")) / "tsv" / crawler.spider.name
        pipeline = cls(state_for(crawler), root, tuple(getattr(crawler.spider, "record_types", ())))
        pipeline.stats = crawler.stats
        pipeline.crawler = crawler
        return pipeline

    crawler: Crawler | None = None

    stats: Any = None

    def open_spider(self) -> None:
        for item_class in self.record_types:
            self.reconcile(item_class)
        if self.reconciled:
            logger.warning("marked %d records written by an interrupted run as emitted", self.reconciled)
            if self.stats is not None:
                self.stats.set_value("state/reconciled", self.reconciled)

    def reconcile(self, item_class: type) -> None:
        """Rows a killed run wrote but had no time to mark: read the files past their checkpoint."""
        columns: tuple[str, ...] = item_class.tsv_columns  # type: ignore[attr-defined]
        kind: str = item_class.record_kind  # type: ignore[attr-defined]
        key_at = columns.index(item_class.tsv_key)  # type: ignore[attr-defined]
        field = getattr(item_class, "version_field", None)
        version_at = columns.index(field) if field else None
        for path in sorted(self.tsv_root.glob("*.tsv")) + sorted(self.tsv_root.glob("files/*/*.txt")):
            source = str(path)
            start = self.state.checkpoint(source)
            size = path.stat().st_size
            if start >= size:
                continue
            with path.open("rb") as f:
                f.seek(start)
                for raw in f:
                    values = raw.decode("utf-8", "replace").rstrip("\n").split("\t")
                    if len(values) < len(columns) + 1:
                        continue  # a torn row cannot exist (rows are written whole), but never trust it
                    key = values[key_at]
                    version = values[version_at] if version_at is not None else ""
                    version = "" if version == "NULL" else version
                    if not self.state.emitted(kind, key, version):
                        self.reconciled += 1
                        self.state.mark_emitted(kind, key, version)
            self.state.set_checkpoint(source, size)

    def close_spider(self) -> None:
        # A clean stop: every row written so far is marked, the next start need not read them.
        for path in list(self.tsv_root.glob("*.tsv")) + list(self.tsv_root.glob("files/*/*.txt")):
            self.state.set_checkpoint(str(path), path.stat().st_size)

    def process_item(self, item: Any) -> Any:
        kind = getattr(item, "record_kind", None)
        if kind is None:
            return item
        key = str(ItemAdapter(item)[item.tsv_key])
        try:
            self.state.mark_emitted(kind, key, record_version(item))
        except OutputError as exc:
            # The row is written: the next run's reconciliation marks it. This run stops here.
            if self.crawler is not None:
                stop_run(self.crawler, "output_failure", str(exc))
            raise
        if self.stats is not None:
            self.stats.inc_value(f"state/emitted/{kind}")
        return item
