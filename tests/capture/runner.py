"""``python -m tests.capture.runner BASE OUT [--fake-writer] [-s NAME=VALUE]``: one capture crawl.

Runs ``CaptureSpider`` against ``BASE`` with the project's settings (politeness off), in a process of its
own because a Twisted reactor runs once per process. Leaves in ``OUT``: ``stats.json``, ``probe.pickle``
(what ``WireProbe`` saw), ``data/`` (``DATA_DIR``) and, with ``--fake-writer``, ``writer.pickle``: the
exchange values and metadata records the middlewares handed to a recording writer instead of
``archive.writer.WarcWriter``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import uuid
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.middlewares.warc import ExchangeFields, WarcSession
from tests.capture.spider import CaptureSpider, WireProbe


class RecordingWriter:
    """Takes what the middlewares hand a WarcWriter and pickles it to ``path`` on close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.exchanges: list[SimpleNamespace] = []
        self.written: list[SimpleNamespace] = []
        self.metadata: list[dict[str, Any]] = []

    def write_exchange(self, exchange: SimpleNamespace) -> SimpleNamespace:
        self.exchanges.append(exchange)
        written = SimpleNamespace(
            response_id=f"<urn:uuid:{uuid.uuid4()}>", request_id=f"<urn:uuid:{uuid.uuid4()}>", revisit=False
        )
        self.written.append(written)
        return written

    def write_metadata(
        self, target_uri: str, concurrent_to: str, fields: list[tuple[str, str]], date: datetime | None = None
    ) -> str:
        record_id = f"<urn:uuid:{uuid.uuid4()}>"
        self.metadata.append(
            {"target_uri": target_uri, "concurrent_to": concurrent_to, "fields": fields, "id": record_id}
        )
        return record_id

    def close(self) -> None:
        with self.path.open("wb") as out:
            recorded = {"exchanges": self.exchanges, "written": self.written, "metadata": self.metadata}
            pickle.dump(recorded, out)


def install_recording_writer(path: Path) -> None:
    """Make every WarcSession of this process write to a RecordingWriter (values as SimpleNamespace)."""

    def open_writer(self: WarcSession) -> RecordingWriter:
        return RecordingWriter(path)

    def make_exchange(self: WarcSession, fields: ExchangeFields) -> SimpleNamespace:
        return SimpleNamespace(**fields)

    WarcSession.open_writer = open_writer  # type: ignore[assignment,method-assign]
    WarcSession.make_exchange = make_exchange  # type: ignore[method-assign]


def crawl_settings(out: Path, overrides: list[str]) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(
        {
            "DATA_DIR": str(out / "data"),
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
            "RETRY_TIMES": 1,
            "ITEM_PIPELINES": {},
            "LOG_FILE": str(out / "crawl.log"),
            "LOG_LEVEL": "DEBUG",
        },
        priority="cmdline",
    )
    middlewares = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"))
    middlewares["tests.capture.spider.WireProbe"] = 960
    settings.set("DOWNLOADER_MIDDLEWARES", middlewares, priority="cmdline")
    for override in overrides:
        name, _, value = override.partition("=")
        settings.set(name, value, priority="cmdline")
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.capture.runner", description=__doc__)
    parser.add_argument("base", help="base URL of the replica, ending with /")
    parser.add_argument("out", type=Path, help="directory for the results")
    parser.add_argument("--fake-writer", action="store_true", help="record values instead of writing WARC")
    parser.add_argument("-s", dest="overrides", action="append", default=[], help="setting NAME=VALUE")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.fake_writer:
        install_recording_writer(args.out / "writer.pickle")
    process = CrawlerProcess(crawl_settings(args.out, args.overrides))
    crawler = process.create_crawler(CaptureSpider)
    process.crawl(crawler, base=args.base)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats is not None else {}
    (args.out / "stats.json").write_text(json.dumps(stats, default=str, indent=1))
    with (args.out / "probe.pickle").open("wb") as probe:
        pickle.dump(WireProbe.seen, probe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
