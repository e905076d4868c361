"""End to end: crawls written by the real ``archive.writer.WarcWriter``, read back and checked.

These need the ``archive`` package (writer, digests, checker, CLI) of the archive branch: on the capture
branch alone they fail, by design, until both are merged.
"""

from __future__ import annotations

import base64
import hashlib
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.cli import main as warcio_main
from warcio.recordloader import ArcWarcRecord

from tests.capture.conftest import Crawl
from tests.capture.site import (
    BIG_MAXSIZE,
    CHINESE_PATH,
    CHUNKED_BODY,
    GBK_PAGE_PID,
    GZIP_WIRE,
    LENGTH_BODY,
)

REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"


def records(crawl: Crawl) -> Iterator[tuple[Path, ArcWarcRecord, bytes]]:
    """Every record of the crawl's WARC files, with its stored block after the HTTP head."""
    files = crawl.warc_files
    assert files, f"no .warc.gz written under {crawl.out / 'data' / 'warc'}"
    for path in files:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                yield path, record, record.raw_stream.read()


def of_type(crawl: Crawl, kind: str, url: str | None = None) -> list[tuple[ArcWarcRecord, bytes]]:
    return [
        (record, payload)
        for _, record, payload in records(crawl)
        if record.rec_type == kind
        and (url is None or record.rec_headers.get_header("WARC-Target-URI") == url)
    ]


def one(crawl: Crawl, kind: str, path: str) -> tuple[ArcWarcRecord, bytes]:
    found = of_type(crawl, kind, crawl.base + path)
    assert len(found) == 1, (kind, path, len(found))
    return found[0]


def digest_matches(label: str, payload: bytes) -> bool:
    algorithm, _, value = label.partition(":")
    digest = hashlib.new(algorithm, payload).digest()
    return value in (base64.b32encode(digest).decode(), digest.hex())


def test_every_warc_passes_archive_check_and_warcio_check(warc_crawl: Crawl) -> None:
    from archive.cli import main as archive_main

    assert warc_crawl.warc_files
    for path in warc_crawl.warc_files:
        assert archive_main(["check", str(path)]) == 0, path
        with pytest.raises(SystemExit) as exited:
            warcio_main(["check", str(path)])
        assert exited.value.code == 0, path


def test_files_are_named_closed_and_open_with_warcinfo(warc_crawl: Crawl) -> None:
    warc_dir = warc_crawl.out / "data" / "warc"
    assert warc_crawl.warc_files, f"no .warc.gz written under {warc_dir}"
    assert list(warc_dir.glob("*.open")) == []
    pattern = re.compile(rf"capture-\d{{17}}-\d{{5}}-{re.escape(socket.gethostname())}\.warc\.gz")
    for path in warc_crawl.warc_files:
        assert pattern.fullmatch(path.name), path.name
        with path.open("rb") as stream:
            first = next(iter(ArchiveIterator(stream)))
        assert first.rec_type == "warcinfo"
        info = first.content_stream().read().decode()
        for line in ("robots: obey", "isPartOf: capture", "format: WARC File Format 1.1", "reconstructed: "):
            assert line in info, (line, info)
        assert "Scrapy" in info and "warcio" in info


def test_every_exchange_the_server_saw_is_archived(warc_crawl: Crawl) -> None:
    requests = [record for record, _ in of_type(warc_crawl, "request")]
    targets = sorted(
        (record.http_headers.protocol, record.http_headers.statusline.rsplit(" ", 1)[0])
        for record in requests
    )
    assert targets == sorted(warc_crawl.log)
    assert warc_crawl.stats["warc/records"] >= 2 * len(warc_crawl.log)


def test_gzip_response_digest_is_of_the_gzip_bytes(warc_crawl: Crawl) -> None:
    record, payload = one(warc_crawl, "response", "gzip")
    assert payload == GZIP_WIRE
    assert digest_matches(record.rec_headers.get_header("WARC-Payload-Digest"), GZIP_WIRE)
    assert record.http_headers.get_header("Content-Encoding") == "gzip"


def test_chunked_response_has_orig_transfer_encoding_and_true_length(warc_crawl: Crawl) -> None:
    record, payload = one(warc_crawl, "response", "chunked")
    assert payload == CHUNKED_BODY
    assert record.http_headers.get_header("X-Orig-Transfer-Encoding") == "chunked"
    assert record.http_headers.get_header("Transfer-Encoding") is None
    assert record.http_headers.get_header("Content-Length") == str(len(CHUNKED_BODY))
    assert digest_matches(record.rec_headers.get_header("WARC-Payload-Digest"), CHUNKED_BODY)


def test_content_length_response_is_as_received(warc_crawl: Crawl) -> None:
    record, payload = one(warc_crawl, "response", "length")
    assert payload == LENGTH_BODY
    assert record.http_headers.get_header("Content-Length") == str(len(LENGTH_BODY))
    assert record.http_headers.protocol == "HTTP/1.1"
    assert record.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"


def test_request_record_has_the_real_request_line_and_host(warc_crawl: Crawl) -> None:
    record, _ = one(warc_crawl, "request", "search?kw=%D6%D0%CE%C4&page=2")
    head = record.http_headers
    assert f"{head.protocol} {head.statusline}" == "GET /search?kw=%D6%D0%CE%C4&page=2 HTTP/1.1"
    assert head.get_header("Host") == warc_crawl.base.split("/")[2]


def test_target_uris_are_bare_ascii(warc_crawl: Crawl) -> None:
    one(warc_crawl, "response", quote(CHINESE_PATH.lstrip("/")))
    for _, record, _ in records(warc_crawl):
        uri = record.rec_headers.get_header("WARC-Target-URI")
        if record.rec_type == "warcinfo":
            assert uri is None
            continue
        assert uri is not None and uri.isascii() and not uri.startswith("<"), uri


def test_request_and_response_share_their_date(warc_crawl: Crawl) -> None:
    request, _ = one(warc_crawl, "request", "length")
    response, _ = one(warc_crawl, "response", "length")
    assert request.rec_headers.get_header("WARC-Date") == response.rec_headers.get_header("WARC-Date")


def test_body_cut_at_maxsize_is_marked_truncated(warc_crawl: Crawl) -> None:
    record, payload = one(warc_crawl, "response", "big-chunked")
    assert record.rec_headers.get_header("WARC-Truncated") == "length"
    assert len(payload) > BIG_MAXSIZE
    declared, _ = one(warc_crawl, "response", "big-length")
    assert declared.rec_headers.get_header("WARC-Truncated") == "length"
    assert warc_crawl.stats["warc/truncated"] == 2


def test_metadata_record_is_linked_to_its_response(warc_crawl: Crawl) -> None:
    response, _ = one(warc_crawl, "response", "page-gbk.html")
    metadata, block = one(warc_crawl, "metadata", "page-gbk.html")
    assert metadata.rec_headers.get_header("WARC-Concurrent-To") == response.rec_headers.get_header(
        "WARC-Record-ID"
    )
    text = block.decode()
    for line in ("charset-used: gb18030", f"item: ForumPost pid={GBK_PAGE_PID}", "replacement-chars: 1"):
        assert line in text, text


def test_second_crawl_writes_revisits_of_the_first(second_warc_crawl: Crawl, warc_crawl: Crawl) -> None:
    assert second_warc_crawl.stats.get("warc/revisits", 0) >= 1
    revisits = of_type(second_warc_crawl, "revisit", second_warc_crawl.base + "length")
    assert len(revisits) == 1
    record, _ = revisits[0]
    assert record.rec_headers.get_header("WARC-Profile") == REVISIT_PROFILE
    # Dedup is URL-agnostic: the original is whichever first-crawl response had the same payload.
    digest = record.rec_headers.get_header("WARC-Payload-Digest")
    originals = {
        r.rec_headers.get_header("WARC-Record-ID"): r.rec_headers.get_header("WARC-Target-URI")
        for r, _ in of_type(warc_crawl, "response")
        if r.rec_headers.get_header("WARC-Payload-Digest") == digest
    }
    refers_to = record.rec_headers.get_header("WARC-Refers-To")
    assert refers_to in originals
    assert record.rec_headers.get_header("WARC-Refers-To-Target-URI") == originals[refers_to]
    from archive.cli import main as archive_main

    for path in second_warc_crawl.warc_files:
        assert archive_main(["check", str(path)]) == 0, path
