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

from crawler.extensions.runs import OutputError, stop_run
from crawler.processors import tsv_row

LAYOUTS = ("daily", "per-post")


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


def replace_whole(path: Path, data: bytes, fsync: bool) -> None:
    """Write ``path`` as a whole new file: written beside it, then renamed over it."""
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("wb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise OutputError(exc.errno or errno.EIO, f"cannot write {path}: {exc.strerror}") from exc


class TsvWriterPipeline:
    """Writes every item that declares ``tsv_columns`` under ``DATA_DIR/tsv/{spider}/``."""

    crawler: Crawler | None = None

    def __init__(self, data_dir: Path, spider_name: str, layout: str, fsync: bool, day: str, part: str = "") -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"TSV_LAYOUT={layout!r} is not one of {', '.join(LAYOUTS)}; pick one of them")
        self.root = data_dir / "tsv" / spider_name
        self.layout = layout
        self.fsync = fsync
        self.day = day
        self.part = part
        """Distributed crawling: the worker id naming this worker's daily part file; empty otherwise."""
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
            # Distributed crawling (REDIS_URL): each worker appends to its own part file, `scrapy merge-tsv`
            # joins a day's parts into one file.
            part=settings.get("WORKER_ID") if settings.get("REDIS_URL") else "",
        )
        pipeline.stats = crawler.stats
        pipeline.crawler = crawler
        return pipeline

    stats: Any = None

    def path_for(self, key: str) -> Path:
        """Where the row of the item with id ``key`` goes."""
        if self.layout == "per-post":
            return self.root / "files" / self.day / f"{key}.txt"
        if self.part:
            return self.root / f"{self.day}.{self.part}.tsv"
        return self.root / f"{self.day}.tsv"

    def process_item(self, item: Any) -> Any:
        columns = getattr(item, "tsv_columns", None)
        if not columns:
            return item
        adapter = ItemAdapter(item)
        row = tsv_row([adapter.get(name) for name in columns])
        path = self.path_for(str(adapter.get(item.tsv_key)))
        data = (row if self.layout == "per-post" else row + "\n").encode("utf-8")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if self.layout == "per-post":
                replace_whole(path, data, self.fsync)
            else:
                append_whole(path, data, self.fsync)
        except OSError as exc:
            error = exc if isinstance(exc, OutputError) else OutputError(exc.errno or errno.EIO, f"{path}: {exc}")
            if self.crawler is not None:
                stop_run(self.crawler, "output_failure", str(error))
            raise error from exc
        self.rows_written += 1
        if self.stats is not None:
            self.stats.inc_value("tsv/rows_written")
        return item
