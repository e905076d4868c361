"""WARC figures with warcio: response records and their URLs, and the bare iteration re-extraction is held to.

``python -m tests.benchmarks.warcs iterate DIR`` is the baseline: open each ``*.warc.gz`` / ``*.warc`` under
DIR, walk every record with ``ArchiveIterator`` and read each record's whole payload; print one JSON line.
It runs as its own process so it is timed like the re-extraction crawl it is compared with.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator


def warc_files(where: Path) -> list[Path]:
    if where.is_file():
        return [where]
    return sorted(p for p in where.rglob("*") if p.name.endswith((".warc.gz", ".warc")) and p.is_file())


def warc_bytes(where: Path) -> int:
    return sum(p.stat().st_size for p in warc_files(where))


@dataclass
class WarcCount:
    files: int = 0
    bytes: int = 0
    records: Counter[str] = field(default_factory=Counter)
    response_urls: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def responses(self) -> int:
        return self.records["response"]


def count_records(where: Path) -> WarcCount:
    """Records by type, and the target URI and status of every response record."""
    found = WarcCount()
    for path in warc_files(where):
        found.files += 1
        found.bytes += path.stat().st_size
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                found.records[record.rec_type] += 1
                if record.rec_type == "response":
                    found.response_urls.append(record.rec_headers.get_header("WARC-Target-URI") or "")
                    status = record.http_headers.get_statuscode() if record.http_headers else "?"
                    found.statuses[status or "?"] += 1
    return found


def iterate(where: Path, parse: bool = False) -> dict[str, int]:
    """Every record of every file, each payload read to its end: what any reader of the archive must do.

    With ``parse``, each HTML response is also parsed into an lxml tree: the least any re-extraction that
    looks inside the pages must do, so the floor under ``REPLAY_WARC`` rather than the issue's baseline.
    """
    from lxml import html as lxml_html

    records = responses = payload = parsed = 0
    for path in warc_files(where):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                records += 1
                data = record.content_stream().read()
                payload += len(data)
                if record.rec_type == "response":
                    responses += 1
                    kind = record.http_headers.get_header("Content-Type", "") if record.http_headers else ""
                    if parse and "html" in kind and data:
                        lxml_html.document_fromstring(data)
                        parsed += 1
    return {"files": len(warc_files(where)), "records": records, "responses": responses, "payload_bytes": payload,
            "parsed": parsed}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parse = "--parse" in args
    args = [a for a in args if a != "--parse"]
    if len(args) != 2 or args[0] != "iterate":
        print("usage: python -m tests.benchmarks.warcs iterate DIR [--parse]", file=sys.stderr)
        return 2
    print(json.dumps(iterate(Path(args[1]), parse=parse)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
