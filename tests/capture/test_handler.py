"""FaithfulHTTP11DownloadHandler keeps what Scrapy's handler drops: framing headers, reason, order, bytes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from crawler.middlewares.handler import WireExchange, parse_header_lines, parse_request_head
from tests.capture.conftest import Crawl
from tests.capture.site import CHUNKED_BODY, GBK_FORUM, LENGTH_BODY, REASON

Seen = tuple[str, WireExchange | None, bytes, list[tuple[bytes, bytes]], str | None]


def seen_at(crawl: Crawl, path: str) -> list[Seen]:
    return [entry for entry in crawl.probe if entry[0] == crawl.base + path]


def one_wire(crawl: Crawl, path: str) -> tuple[WireExchange, bytes, list[tuple[bytes, bytes]]]:
    entries = seen_at(crawl, path)
    assert len(entries) == 1, [entry[0] for entry in crawl.probe]
    _, wire, body, scrapy_headers, _ = entries[0]
    assert wire is not None, f"no wire heads filed for {path}"
    return wire, body, scrapy_headers


def names(headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...]) -> list[bytes]:
    return [name for name, _ in headers]


def test_chunked_response_keeps_transfer_encoding_and_its_true_length(recorded_crawl: Crawl) -> None:
    wire, body, scrapy_headers = one_wire(recorded_crawl, "chunked")
    assert wire.response_header(b"Transfer-Encoding") == [b"chunked"]
    assert wire.chunked
    assert wire.response_header(b"Content-Length") == []
    # The payload is the body with the chunked framing removed: its length is the true Content-Length.
    assert body == CHUNKED_BODY
    # What the trap is: Scrapy's own headers have no trace of the framing.
    assert b"Transfer-Encoding" not in names(scrapy_headers)


def test_content_length_response_keeps_its_header_in_wire_order(recorded_crawl: Crawl) -> None:
    wire, body, _ = one_wire(recorded_crawl, "length")
    assert names(wire.response_headers) == [b"Server", b"Date", b"Content-Type", b"Content-Length"]
    assert wire.response_header(b"content-length") == [str(len(LENGTH_BODY)).encode()]
    assert not wire.chunked
    assert body == LENGTH_BODY
    assert (wire.http_version, wire.status, wire.reason) == ("HTTP/1.1", 200, b"OK")


def test_reason_phrase_is_kept_as_received(recorded_crawl: Crawl) -> None:
    wire, _, _ = one_wire(recorded_crawl, "reason")
    assert wire.reason == REASON.encode()
    assert wire.status == 200


def test_gbk_bytes_in_a_header_stay_raw(recorded_crawl: Crawl) -> None:
    wire, _, _ = one_wire(recorded_crawl, "gbk-header")
    assert wire.response_header(b"X-Forum") == [GBK_FORUM.encode("gbk")]


def test_request_head_is_what_the_server_received(recorded_crawl: Crawl) -> None:
    wire, _, _ = one_wire(recorded_crawl, "search?kw=%D6%D0%CE%C4&page=2")
    assert (wire.method, wire.request_version) == ("GET", "HTTP/1.1")
    assert wire.request_target == "/search?kw=%D6%D0%CE%C4&page=2"
    assert ("GET", wire.request_target) in recorded_crawl.log
    host = urlsplit(recorded_crawl.base).netloc.encode()
    assert [value for name, value in wire.request_headers if name.lower() == b"host"] == [host]
    assert b"User-Agent" in names(wire.request_headers)


def test_peer_address_and_send_time_are_kept(recorded_crawl: Crawl) -> None:
    wire, _, _ = one_wire(recorded_crawl, "length")
    assert wire.ip_address == "127.0.0.1"
    assert wire.sent_at is not None
    assert wire.sent_at.utcoffset() == timedelta(0)


def test_every_downloaded_response_has_wire_heads(recorded_crawl: Crawl) -> None:
    missing = [entry[0] for entry in recorded_crawl.probe if entry[1] is None]
    assert missing == []
    assert len(recorded_crawl.probe) >= 10


def test_protocol_of_scrapy_response_agrees_with_status_line(recorded_crawl: Crawl) -> None:
    for url, wire, _, _, protocol in recorded_crawl.probe:
        assert wire is not None
        assert protocol == wire.http_version, url


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            [b"Content-Type: text/html", b"X-A:  padded  "],
            [(b"Content-Type", b"text/html"), (b"X-A", b"padded")],
        ),
        ([b"X-Folded: one", b"\ttwo", b" three"], [(b"X-Folded", b"one\ttwo three")]),
        (
            [b"no colon here", b"Set-Cookie: a=1", b"Set-Cookie: b=2"],
            [(b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2")],
        ),
        ([b"X-Time: 10:11:12"], [(b"X-Time", b"10:11:12")]),
    ],
)
def test_parse_header_lines(lines: list[bytes], expected: list[tuple[bytes, bytes]]) -> None:
    assert parse_header_lines(lines) == expected


def test_parse_request_head() -> None:
    head = b"POST /a/b?x=1&y=%E4 HTTP/1.1\r\nContent-Length: 3\r\nHost: h:81\r\n\r\n"
    parsed: tuple[Any, ...] = parse_request_head(head)
    assert parsed == ("POST", "/a/b?x=1&y=%E4", "HTTP/1.1", [(b"Content-Length", b"3"), (b"Host", b"h:81")])
