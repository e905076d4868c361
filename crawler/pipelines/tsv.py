"""Writes items as TSV rows in the golden layout, whole rows only, flushed (and fsynced) per item."""

from __future__ import annotations

import contextlib
import errno
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.processors import tsv_row

LAYOUTS = ("daily", "per-post")


class OutputError(OSError):
    """Writing an output failed (disk full, permissions); nothing partial was left behind."""


def append_whole(path: Path, data: bytes, fsync: bool) -> None:
    """Append ``data`` to ``path`` entirely or not at all: on failure the file is cut back."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if fsync:
                os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise OutputError(exc.errno or errno.EIO, f"cannot write {path}: {exc.strerror}") from exc
    finally:
        os.close(fd)


class TsvWriterPipeline:
    """Writes every item that declares ``tsv_columns`` under ``DATA_DIR/tsv/{spider}/``."""

    def __init__(self, data_dir: Path, spider_name: str, layout: str, fsync: bool, day: str) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"TSV_LAYOUT={layout!r} is not one of {', '.join(LAYOUTS)}; pick one of them")
        self.root = data_dir / "tsv" / spider_name
        self.layout = layout
        self.fsync = fsync
        self.day = day
        self.rows_written = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TsvWriterPipeline:
        settings = crawler.settings
        if crawler.spider is None:
            raise NotConfigured("the TSV writer needs a spider")
        day = settings.get("TSV_DATE") or datetime.now(UTC).strftime("%Y-%m-%d")
        pipeline = cls(
            data_dir=Path(settings.get("DATA_DIR", "data")),
            spider_name=crawler.spider.name,
            layout=settings.get("TSV_LAYOUT", "daily"),
            fsync=settings.getbool("TSV_FSYNC", True),
            day=day,
        )
        pipeline.stats = crawler.stats
        return pipeline

    stats: Any = None

    def path_for(self, key: str) -> Path:
        """Where the row of the item with id ``key`` goes."""
        if self.layout == "per-post":
            return self.root / "files" / self.day / f"{key}.txt"
        return self.root / f"{self.day}.tsv"

    def process_item(self, item: Any) -> Any:
        columns = getattr(item, "tsv_columns", None)
        if not columns:
            return item
        adapter = ItemAdapter(item)
        row = tsv_row([adapter.get(name) for name in columns])
        path = self.path_for(str(adapter.get(item.tsv_key)))
        path.parent.mkdir(parents=True, exist_ok=True)
        data = (row if self.layout == "per-post" else row + "\n").encode("utf-8")
        append_whole(path, data, self.fsync)
        self.rows_written += 1
        if self.stats is not None:
            self.stats.inc_value("tsv/rows_written")
        return item
