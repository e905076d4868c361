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
        self.fds: dict[Path, int] = {}
        """Daily files kept open for appending."""
        self.sync_with_state = False
        """fsync before the crawl state commits its marks, instead of after every row (same guarantee:
        no record is marked emitted before its row is durable)."""

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
        if pipeline.fsync:
            from crawler.state import state_for

            state = state_for(crawler)
            add_hook = getattr(state, "add_commit_hook", None)
            if add_hook is not None:
                add_hook(pipeline.sync)
                pipeline.sync_with_state = True
        return pipeline

    def sync(self) -> None:
        """Make every row written so far durable."""
        for path, fd in self.fds.items():
            try:
                os.fsync(fd)
            except OSError as exc:
                raise OutputError(exc.errno or errno.EIO, f"cannot sync {path}: {exc.strerror}") from exc

    def close_spider(self) -> None:
        try:
            if self.fsync:
                self.sync()
        finally:
            for fd in self.fds.values():
                os.close(fd)
            self.fds.clear()

    def _append(self, path: Path, data: bytes) -> None:
        """Append ``data`` whole or not at all (on failure the file is cut back)."""
        fd = self.fds.get(path)
        if fd is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = self.fds[path] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if self.fsync and not self.sync_with_state:
                os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise OutputError(exc.errno or errno.EIO, f"cannot write {path}: {exc.strerror}") from exc

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
            if self.layout == "per-post":
                path.parent.mkdir(parents=True, exist_ok=True)
                replace_whole(path, data, self.fsync)
            else:
                self._append(path, data)
        except OSError as exc:
            error = exc if isinstance(exc, OutputError) else OutputError(exc.errno or errno.EIO, f"{path}: {exc}")
            if self.crawler is not None:
                stop_run(self.crawler, "output_failure", str(error))
            raise error from exc
        self.rows_written += 1
        if self.stats is not None:
            self.stats.inc_value("tsv/rows_written")
        return item
