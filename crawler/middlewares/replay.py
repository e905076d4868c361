"""``-s REPLAY_WARC=DIR``: answer every request from archived response records, so items are rebuilt offline.

The same spider and page functions run over the archive as over the live site: one parser, two sources.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from warcio.archiveiterator import ArchiveIterator

logger = logging.getLogger(__name__)


def warc_files(source: Path) -> list[Path]:
    """The WARC files of ``source`` (a file or a folder), in name order."""
    if source.is_file():
        return [source]
    files = sorted(source.glob("*.warc.gz")) + sorted(source.glob("*.warc"))
    if not files:
        raise ValueError(f"REPLAY_WARC={source} holds no .warc.gz files; point it at DATA_DIR/warc of a crawl")
    return files


class WarcReplayMiddleware:
    """Downloader middleware (first in line): every request is answered from the archive or ignored."""

    def __init__(self, files: list[Path], stats: Any = None) -> None:
        self.files = files
        self.stats = stats
        self.index: dict[str, tuple[Path, int]] = {}
        """URL -> (file, offset) of its last response record; revisits point at their original."""
        for path in files:
            self._index(path)
        logger.info("replaying %d archived responses from %d WARC file(s)", len(self.index), len(files))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcReplayMiddleware:
        source = crawler.settings.get("REPLAY_WARC")
        if not source:
            raise NotConfigured("REPLAY_WARC is not set")
        path = Path(source)
        if not path.exists():
            raise ValueError(f"REPLAY_WARC={source} does not exist; give a WARC file or a folder of them")
        return cls(warc_files(path), crawler.stats)

    def _index(self, path: Path) -> None:
        originals: dict[str, tuple[Path, int]] = {}
        with path.open("rb") as f:
            records = ArchiveIterator(f)
            for record in records:
                kind = record.rec_type
                url = record.rec_headers.get_header("WARC-Target-URI")
                if kind == "response" and url:
                    where = (path, records.get_record_offset())
                    self.index[url] = where
                    originals[record.rec_headers.get_header("WARC-Record-ID")] = where
                elif kind == "revisit" and url:
                    refers = record.rec_headers.get_header("WARC-Refers-To-Target-URI")
                    target = originals.get(record.rec_headers.get_header("WARC-Refers-To") or "")
                    target = target or (self.index.get(refers) if refers else None)
                    if target is not None:
                        self.index[url] = target

    def process_request(self, request: Request) -> Response:
        where = self.index.get(request.url)
        if where is None:
            if self.stats is not None:
                self.stats.inc_value("replay/not_archived")
            raise IgnoreRequest(f"not in the archive: {request.url}")
        path, offset = where
        with path.open("rb") as f:
            f.seek(offset)
            record = next(iter(ArchiveIterator(f)))
            http = record.http_headers
            body = record.raw_stream.read()
        headers = Headers([(k, v) for k, v in http.headers if k.lower() not in ("transfer-encoding",)])
        status = int(http.get_statuscode() or 200)
        cls = responsetypes.from_args(headers=headers, url=request.url, body=body)
        if self.stats is not None:
            self.stats.inc_value("replay/responses")
        return cls(url=request.url, status=status, headers=headers, body=body, request=request)
