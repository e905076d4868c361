"""``scrapy merge-tsv SPIDER --date YYYY-MM-DD``: one day's TSV parts of a distributed crawl, merged into one file.

Scrapy names a command after its module, hence this file's name; the work is in ``merge_tsv.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.spiderloader import get_spider_loader

from crawler.commands.merge_tsv import Layout, main


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "SPIDER --date YYYY-MM-DD [--dir DIR]... [--out FILE]"

    def short_desc(self) -> str:
        return "Merge a day's TSV part files (one per worker) into {DATE}.tsv, each record once"

    def long_desc(self) -> str:
        return ("Reads DATA_DIR/tsv/SPIDER/{DATE}.*.tsv (and an earlier {DATE}.tsv), keeps each record once, "
                "sorts by thread then record id, and writes {DATE}.tsv whole. Refuses, writing nothing, when "
                "one record has two different rows or a row is torn.")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--date", metavar="YYYY-MM-DD", help="the day whose parts to merge")
        parser.add_argument("--dir", action="append", default=[], metavar="DIR",
                            help="a directory of parts (repeatable); default DATA_DIR/tsv/SPIDER")
        parser.add_argument("--out", metavar="FILE", help="the merged file; default {first dir}/{DATE}.tsv")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if len(args) != 1 or not opts.date:
            raise UsageError("name one spider and the day: scrapy merge-tsv 51credit --date 2026-01-31")
        spider = args[0]
        loader = get_spider_loader(self.settings)
        if spider not in loader.list():
            raise UsageError(f"no spider {spider!r}; one of: {', '.join(sorted(loader.list()))}")
        record_types = getattr(loader.load(spider), "record_types", ())
        tsv = [t for t in record_types if getattr(t, "tsv_columns", None)]
        if not tsv:
            raise UsageError(f"spider {spider!r} writes no TSV records")
        columns: tuple[str, ...] = tsv[0].tsv_columns
        layout = Layout(columns=len(columns), key_at=columns.index(tsv[0].tsv_key))
        if self.settings.get("TSV_LAYOUT", "daily") != "daily":
            raise UsageError(f"TSV_LAYOUT={self.settings.get('TSV_LAYOUT')!r} writes one file per record: "
                             "there is nothing to merge; merge-tsv is for the daily layout")
        argv = ["--date", opts.date] + [a for d in opts.dir for a in ("--dir", d)]
        if opts.out:
            argv += ["--out", opts.out]
        self.exitcode = main(argv, layout, Path(self.settings.get("DATA_DIR", "data")), spider)
