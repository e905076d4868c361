"""Shared builders for archive tests: exchanges, a fixed clock and sequential record ids."""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.records import HttpExchange

T0 = datetime(2024, 5, 1, 8, 9, 10, tzinfo=UTC)


def make_exchange(
    url: str = "http://example.com/page?id=1", payload: bytes = b"<html>hi</html>", **kw: Any
) -> HttpExchange:
    """A plausible exchange; keyword arguments override any field."""
    from archive.records import target_uri

    ascii_url = target_uri(url)
    rest = ascii_url.split("/", 3)[3] if ascii_url.count("/") >= 3 else ""
    host = ascii_url.split("/")[2].encode()
    values: dict[str, Any] = {
        "url": url,
        "method": "GET",
        "request_target": "/" + rest,
        "http_version": "HTTP/1.1",
        "request_headers": [
            (b"Host", host),
            (b"User-Agent", b"archival-crawler/0.1"),
            (b"Accept-Encoding", b"gzip"),
        ],
        "request_body": b"",
        "status": 200,
        "reason": b"OK",
        "response_headers": [
            (b"Content-Type", b"text/html; charset=utf-8"),
            (b"Content-Length", str(len(payload)).encode()),
        ],
        "payload": payload,
        "ip_address": "127.0.0.1",
        "date": T0,
    }
    values.update(kw)
    return HttpExchange(**values)


class Clock:
    """A clock that moves one millisecond per call, so file names differ but stay predictable."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        value = self.now
        self.now += timedelta(milliseconds=1)
        return value


def sequential_ids(start: int = 1) -> Callable[[], str]:
    counter = itertools.count(start)
    return lambda: f"<urn:uuid:00000000-0000-4000-8000-{next(counter):012d}>"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ids() -> Callable[[], str]:
    return sequential_ids()


def members(path: Path) -> Iterator[bytes]:
    """The decompressed content of each gzip member of ``path``."""
    import zlib

    data = path.read_bytes()
    while data:
        dec = zlib.decompressobj(zlib.MAX_WBITS | 16)
        yield dec.decompress(data) + dec.flush()
        data = dec.unused_data


def gunzip(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())
