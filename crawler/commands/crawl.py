"""``scrapy crawl`` with documented exit codes and a closing summary (stock crawl exits 1 only on start-up)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

from crawler.extensions.runs import ExitCode, outcome


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """What a person reads at the end of a run."""
    lines = [
        f"{summary['spider']}: {summary['outcome'].upper()} (exit {summary['exit_code']}, "
        f"{summary['finish_reason']}) in {summary['duration_seconds']:.1f}s",
        f"  new records {summary['new_items']}, duplicates dropped {summary['duplicate_items']}, "
        f"pages fetched {summary['pages_fetched']}, {summary['bytes_received'] / 1e6:.1f} MB received",
    ]
    if summary.get("warc_records"):
        lines.append(f"  WARC records {summary['warc_records']}")
    if summary.get("blocked_by"):
        lines.append(f"  blocked by: {summary['blocked_by']}")
    if summary["errors_by_reason"]:
        errors = ", ".join(f"{k} {v}" for k, v in sorted(summary["errors_by_reason"].items()))
        lines.append(f"  errors: {errors}")
    if summary.get("pages_dropped_by_reason"):
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(summary["pages_dropped_by_reason"].items()))
        lines.append(f"  pages dropped: {dropped}")
    return lines


class Command(ScrapyCrawl):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one spider: scrapy crawl 51credit | sina_finance")
        assert self.crawler_process
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        try:
            stats = crawler.stats.get_stats()
        except RuntimeError:
            stats = {}  # start-up failed before the stats collector existed (the error is logged above)
        if stats.get("run/locked"):
            print(f"not started: {stats['run/locked']}", file=sys.stderr)
            self.exitcode = int(ExitCode.LOCKED)
            return
        if self.crawler_process.bootstrap_failed:
            failed_output = stats.get("run/output_failure")
            if failed_output:
                print(f"not started: {failed_output}", file=sys.stderr)
            self.exitcode = int(ExitCode.OUTPUT_FAILED if failed_output else ExitCode.FAILED)
            return
        from crawler.extensions.runs import RunsExtension

        ext = crawler.get_extension(RunsExtension) if crawler.extensions else None
        if ext is not None and ext.summary is not None:
            print("\n".join(summary_lines(ext.summary)), file=sys.stderr)
            self.exitcode = ext.summary["exit_code"]
        else:
            self.exitcode = int(outcome(stats.get("finish_reason"), stats))
