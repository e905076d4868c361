"""WACZ 1.1.1 packages built streaming: WARCs stored as they are, a gzip CDXJ index, pages, manifest."""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import os
import re
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TextIO

from archive import __version__
from archive.index import cdxj_path, closed_warcs, index_warc, merged_lines
from archive.reader import decode_content, iter_records, read_record_at
from archive.records import parse_warc_date

WACZ_VERSION = "1.1.1"
#: Bytes of a page's decoded HTML searched for its ``<title>``.
TITLE_SEARCH_BYTES = 256 * 1024
_ZIP64_PAST = 2**31 - 1

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.IGNORECASE)
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@dataclass(frozen=True)
class Page:
    """One entry of ``pages/pages.jsonl``."""

    url: str
    #: RFC 3339 date of the capture, e.g. ``2024-05-01T08:09:10Z``.
    ts: str
    title: str | None = None


class _HashingWriter:
    """Passes writes through to ``out`` while counting and hashing them (sha256)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()

    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def pages_from_warcs(warcs: Iterable[Path]) -> Iterator[Page]:
    """Pages derived from the WARCs: each URL's first ``200 text/html`` response, titled by its ``<title>``.

    One pass reads only headers; each page's record is then read again by offset to find the title in
    the first 256 KiB of its content-decoded HTML.
    """
    seen: set[str] = set()
    for warc in warcs:
        candidates: list[tuple[int, str, str]] = []
        for record in iter_records(warc):
            head = record.http
            if record.type != "response" or head is None or head.status != 200:
                continue
            content_type = (head.get(b"content-type") or b"").lower()
            uri = record.target_uri
            if not content_type.startswith(b"text/html") or uri is None or uri in seen:
                continue
            seen.add(uri)
            ts = parse_warc_date(record.date).strftime("%Y-%m-%dT%H:%M:%SZ")
            candidates.append((record.offset, uri, ts))
        for offset, uri, ts in candidates:
            yield Page(url=uri, ts=ts, title=_title_at(warc, offset))


def _title_at(warc: Path, offset: int) -> str | None:
    record = read_record_at(warc, offset, keep_block=True)
    if record.block is None or record.http is None:
        return None
    with record.block:
        head = record.http
        data = b""
        try:
            for chunk in decode_content(record.payload(), head.get(b"content-encoding")):
                data += chunk
                if len(data) >= TITLE_SEARCH_BYTES:
                    break
        except (ValueError, OSError, EOFError) as exc:
            print(f"no title for {record.target_uri}: payload does not decode ({exc})", file=sys.stderr)
            return None
    match = _TITLE.search(data[:TITLE_SEARCH_BYTES])
    if match is None:
        return None
    charset = _charset(head.get(b"content-type") or b"", data)
    try:
        text = match.group(1).decode(charset, "replace")
    except LookupError:
        text = match.group(1).decode("utf-8", "replace")
    return " ".join(html.unescape(text).split()) or None


def _charset(content_type: bytes, data: bytes) -> str:
    found = re.search(rb"charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", content_type, re.IGNORECASE)
    if found is None:
        found = _META_CHARSET.search(data[:4096])
    name = found.group(1).decode("ascii").lower() if found else "utf-8"
    # Pages labelled gb2312/gbk are decoded by browsers as GB18030, its superset.
    return "gb18030" if name in ("gb2312", "gbk", "x-gbk") else name


def _page_lines(pages: Iterable[Page]) -> Iterator[bytes]:
    yield json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}).encode() + b"\n"
    for page in pages:
        if not _RFC3339.match(page.ts):
            raise ValueError(
                f"page ts {page.ts!r} for {page.url} is not RFC 3339; use e.g. 2024-05-01T08:09:10Z"
            )
        entry = {
            "id": hashlib.sha1(f"{page.ts} {page.url}".encode()).hexdigest()[:16],
            "url": page.url,
            "ts": page.ts,
        }
        if page.title:
            entry["title"] = page.title
        yield json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n"


def build_wacz(
    warcs: Iterable[str | Path],
    output: Path,
    *,
    pages: Iterable[Page | tuple[str, str, str | None]] | None = None,
    title: str | None = None,
    description: str | None = None,
    created: datetime | None = None,
    progress: TextIO | None = None,
) -> Path:
    """Write a WACZ 1.1.1 file at ``output`` from closed WARC files (or directories of them).

    Nothing is held in memory: WARCs are copied in chunks (ZIP ``STORE``, never recompressed), the
    per-WARC CDXJ files (``x.cdxj`` beside each WARC, built when missing or stale) are merged into
    ``indexes/index.cdx.gz``. ``pages`` are ``Page`` values or ``(url, ts, title)`` tuples; when None
    they are derived with :func:`pages_from_warcs`. The file appears at ``output`` only once complete.
    ``progress``, when given, gets a line per WARC stored.
    """
    files = closed_warcs(warcs)
    if not files:
        raise ValueError("no closed .warc.gz file to package; pass WARC files or their directory")
    names = [f.name for f in files]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"WARC names {sorted(duplicates)} appear twice; a WACZ holds each name once")
    moment = (created or datetime.now(UTC)).astimezone(UTC)
    stamp = moment.timetuple()[:6]
    output = Path(output)
    partial = output.with_name(output.name + ".partial")
    resources: list[dict[str, object]] = []

    def entry(path: str, compress: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(path, date_time=stamp)
        info.compress_type = compress
        info.external_attr = 0o644 << 16
        return info

    with zipfile.ZipFile(partial, "w", allowZip64=True) as archive:
        for number, warc in enumerate(files, 1):
            size = warc.stat().st_size
            info = entry(f"archive/{warc.name}", zipfile.ZIP_STORED)
            with archive.open(info, "w", force_zip64=size > _ZIP64_PAST) as raw, open(warc, "rb") as source:
                sink = _HashingWriter(raw)
                while chunk := source.read(1024 * 1024):
                    sink.write(chunk)
            resources.append(_resource(info.filename, sink))
            if progress is not None:
                print(f"[{number}/{len(files)}] stored {warc.name} ({size} bytes)", file=progress)

        with tempfile.TemporaryDirectory() as scratch:
            indexes = [_fresh_index(warc, Path(scratch)) for warc in files]
            # The gzip index is smaller than the CDXJ it packs: their size bounds it.
            total = sum(p.stat().st_size for p in indexes)
            info = entry("indexes/index.cdx.gz", zipfile.ZIP_STORED)
            with archive.open(info, "w", force_zip64=total > _ZIP64_PAST) as raw:
                sink = _HashingWriter(raw)
                with gzip.GzipFile(fileobj=sink, mode="wb", mtime=0) as packed:  # type: ignore[arg-type]
                    for line in merged_lines(indexes):
                        packed.write(line)
            resources.append(_resource(info.filename, sink))

        if pages is None:
            page_values: Iterable[Page] = pages_from_warcs(files)
        else:
            page_values = (p if isinstance(p, Page) else Page(*p) for p in pages)
        info = entry("pages/pages.jsonl", zipfile.ZIP_DEFLATED)
        with archive.open(info, "w") as raw:
            sink = _HashingWriter(raw)
            for line in _page_lines(page_values):
                sink.write(line)
        resources.append(_resource(info.filename, sink))

        package: dict[str, object] = {
            "profile": "data-package",
            "resources": resources,
            "wacz_version": WACZ_VERSION,
            "created": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "software": f"archival-crawler/{__version__} (archive.wacz)",
        }
        if title:
            package["title"] = title
        if description:
            package["description"] = description
        manifest = json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")
        archive.writestr(entry("datapackage.json", zipfile.ZIP_DEFLATED), manifest)
        digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(manifest).hexdigest()}
        archive.writestr(entry("datapackage-digest.json", zipfile.ZIP_DEFLATED), json.dumps(digest, indent=2))
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, output)
    if progress is not None:
        print(f"wrote {output} ({output.stat().st_size} bytes, {len(files)} WARC files)", file=progress)
    return output


def _resource(path: str, sink: _HashingWriter) -> dict[str, object]:
    return {"name": path.rsplit("/", 1)[-1].lower(), "path": path, "hash": sink.digest(), "bytes": sink.size}


def _fresh_index(warc: Path, scratch: Path) -> Path:
    """The CDXJ of ``warc``: the one beside it when newer than the WARC, else a new one in ``scratch``."""
    beside = cdxj_path(warc)
    if beside.exists() and beside.stat().st_mtime >= warc.stat().st_mtime:
        return beside
    target, _ = index_warc(warc, scratch / beside.name)
    return target
