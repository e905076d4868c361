"""Scrapy's HTTP/1.1 download handler, made to keep the bytes a faithful WARC record needs.

Scrapy's handler builds its ``Response`` from what Twisted keeps for applications: the status code,
the entity headers and the decoded body. Twisted files ``Transfer-Encoding``, ``Content-Length``,
``Connection`` and ``Keep-Alive`` as connection headers that Scrapy never copies (it only re-creates a
``Content-Length`` from the body length), title-cases every header name, merges repeated headers and
drops the reason phrase and the protocol version of the status line. The request head Twisted writes
(``Host`` first, then ``Connection: close`` or ``Content-Length`` where it adds them, then Scrapy's
headers) is never seen by any middleware either.

``FaithfulHTTP11DownloadHandler`` is the stock handler with three small changes:

* the request head is copied as it is written to the socket (request line with the real
  request-target, every header in order, ``Host`` included) together with the moment it was sent;
* the response head is copied line by line as it is parsed: the status line's protocol, code and raw
  reason phrase, and every header as ``(name, value)`` raw bytes in wire order, GBK bytes included;
* both are filed, with the peer's IP address, under the Scrapy ``Request`` before the
  ``headers_received`` signal is sent, so that a signal handler can already see them.

Where the record is kept: ``Response`` and ``Request`` use ``__slots__`` (no side attributes), a
``Response`` is replaced by later middlewares and ``request.meta`` would be pickled into ``JOBDIR``
queues and copied into redirects. So the record lives in a weak map keyed by the ``Request`` object
that was downloaded: ``wire_exchange(request)`` reads it, ``pop_wire_exchange(request)`` takes it. It
vanishes with the request. ``crawler.middlewares.warc`` is its reader.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast
from weakref import WeakKeyDictionary

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
    _ScrapyAgent,
)
from scrapy.exceptions import ResponseDataLossError
from scrapy.utils._download_handlers import get_dataloss_msg, wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.web._newclient import HEADER, STATUS

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IAddress
    from twisted.web._newclient import HTTP11ClientProtocol
    from twisted.web._newclient import Request as TxRequest
    from twisted.web.client import Response as TxResponse
    from twisted.web.iweb import IResponse

logger = logging.getLogger(__name__)

Header = tuple[bytes, bytes]


@dataclass(frozen=True, kw_only=True)
class WireExchange:
    """The heads of one HTTP exchange as they crossed the socket."""

    method: str
    """Request method from the request line, e.g. ``GET``."""
    request_target: str
    """Request-target exactly as sent: ``/path?query`` (the absolute URI when sent to a proxy)."""
    request_version: str
    """Protocol of the request line, ``HTTP/1.1`` (Twisted speaks nothing else)."""
    request_headers: tuple[Header, ...]
    """Request header fields in the order written, raw bytes, ``Host`` included."""
    sent_at: datetime | None
    """UTC moment the first byte of the request was handed to the transport."""
    http_version: str
    """Protocol of the status line as received, e.g. ``HTTP/1.1`` or ``HTTP/1.0``."""
    status: int
    """Status code."""
    reason: bytes
    """Reason phrase as received, raw bytes (may be empty)."""
    response_headers: tuple[Header, ...]
    """Response header fields in wire order, raw bytes, connection headers included."""
    ip_address: str | None
    """Peer address the response came from."""

    def response_header(self, name: bytes) -> list[bytes]:
        """Values of the response header ``name`` (any case), in wire order."""
        wanted = name.lower()
        return [value for key, value in self.response_headers if key.lower() == wanted]

    @property
    def chunked(self) -> bool:
        """Whether the body came with ``Transfer-Encoding: chunked`` framing (removed from the payload)."""
        return any(b"chunked" in value.lower() for value in self.response_header(b"Transfer-Encoding"))


_WIRE: WeakKeyDictionary[Request, WireExchange] = WeakKeyDictionary()


def wire_exchange(request: Request) -> WireExchange | None:
    """The wire heads recorded for the last download of ``request``, or None (not downloaded by us)."""
    return _WIRE.get(request)


def pop_wire_exchange(request: Request) -> WireExchange | None:
    """Like ``wire_exchange``, and forget the record."""
    return _WIRE.pop(request, None)


def parse_header_lines(lines: Iterable[bytes]) -> list[Header]:
    """``(name, value)`` pairs from raw header lines (no CRLF), joining obsolete folded continuations.

    Values lose their surrounding whitespace, as every HTTP parser does; lines without a colon are
    skipped, as Scrapy's lenient parser skips them.
    """
    fields: list[list[bytes]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if fields:
                fields[-1].append(line)
            continue
        fields.append([line])
    headers: list[Header] = []
    for parts in fields:
        whole = b"".join(parts)
        if b":" not in whole:
            continue
        name, value = whole.split(b":", 1)
        headers.append((name, value.strip()))
    return headers


def parse_request_head(head: bytes) -> tuple[str, str, str, list[Header]]:
    """Method, request-target, protocol and header fields of a request head ending in CRLF CRLF."""
    lines = head.split(b"\r\n")
    method, target, version = lines[0].split(b" ", 2)
    headers = parse_header_lines(line for line in lines[1:] if line)
    return method.decode("ascii"), target.decode("latin-1"), version.decode("ascii"), headers


class _RequestHeadRecorder:
    """Stands in for the transport while Twisted writes one request: forwards everything, keeps the head."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._buffer = bytearray()
        self.head: bytes | None = None
        self.sent_at: datetime | None = None

    def _keep(self, data: bytes) -> None:
        if self.head is not None:
            return
        if self.sent_at is None:
            self.sent_at = datetime.now(UTC)
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end >= 0:
            self.head = bytes(self._buffer[: end + 4])
            self._buffer.clear()

    def write(self, data: bytes) -> None:
        self._keep(data)
        self._transport.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        chunks = list(data)
        for chunk in chunks:
            self._keep(chunk)
        self._transport.writeSequence(chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@dataclass(frozen=True)
class _ResponseHead:
    http_version: str
    reason: bytes
    headers: tuple[Header, ...]
    request: _RequestHeadRecorder | None


class _FaithfulHTTPClientParser(_LenientHTTPClientParser):
    """Scrapy's lenient response parser, also keeping the status line and header lines verbatim."""

    _archive_lines: list[bytes]

    def lineReceived(self, line: bytes) -> None:
        if self.state in (STATUS, HEADER):
            if self.state == STATUS:
                self._archive_lines = []
            self._archive_lines.append(line.removesuffix(b"\r"))
        super().lineReceived(line)

    def allHeadersReceived(self) -> None:
        lines, self._archive_lines = self._archive_lines, []
        # 1xx interim responses are skipped by Twisted; the final response's head comes next.
        if not 100 <= self.response.code < 200:
            parts = lines[0].split(b" ", 2)
            self.response._archive_head = _ResponseHead(
                http_version=parts[0].decode("ascii", "replace"),
                reason=parts[2] if len(parts) == 3 else b"",
                headers=tuple(parse_header_lines(line for line in lines[1:] if line)),
                request=getattr(self.request, "_archive_recorder", None),
            )
        super().allHeadersReceived()  # type: ignore[no-untyped-call]


class _FaithfulHTTP11ClientProtocol(_LenientHTTP11ClientProtocol):
    """Writes each request through a head recorder and parses responses with the faithful parser."""

    def request(self, request: TxRequest) -> Deferred[IResponse]:
        if not hasattr(request, "_archive_recorder"):
            # The pool may hand the same request to a fresh connection: wrap writeTo only once.
            write_to: Callable[[Any], Any] = request.writeTo

            def recording_write_to(transport: Any) -> Any:
                recorder = _RequestHeadRecorder(transport)
                request._archive_recorder = recorder  # type: ignore[attr-defined]
                return write_to(recorder)

            request._archive_recorder = None  # type: ignore[attr-defined]
            request.writeTo = recording_write_to  # type: ignore[method-assign]
        result = super().request(request)
        parser = self._parser
        if type(parser) is _LenientHTTPClientParser:
            # Same trick as Scrapy's: request() hard-codes the parser class, and no byte of the
            # response can have arrived yet, so swapping the class of the fresh parser is safe.
            parser.__class__ = _FaithfulHTTPClientParser
        return result


class _FaithfulHTTP11ClientFactory(_LenientHTTP11ClientFactory):
    def buildProtocol(self, addr: IAddress | None) -> HTTP11ClientProtocol:
        return _FaithfulHTTP11ClientProtocol(self._quiescentCallback)  # type: ignore[no-untyped-call]


def _file_wire_exchange(request: Request, txresponse: TxResponse) -> None:
    head: _ResponseHead | None = getattr(txresponse, "_archive_head", None)
    if head is None:
        _WIRE.pop(request, None)
        return
    recorder = head.request
    if recorder is not None and recorder.head is not None:
        method, target, request_version, request_headers = parse_request_head(recorder.head)
        sent_at = recorder.sent_at
    else:  # pragma: no cover - Twisted always writes the head before a response can be parsed
        method, target, request_version, request_headers = request.method, "", "HTTP/1.1", []
        sent_at = None
    ip = getattr(txresponse, "_scrapy_ip_address", None)
    _WIRE[request] = WireExchange(
        method=method,
        request_target=target,
        request_version=request_version,
        request_headers=tuple(request_headers),
        sent_at=sent_at,
        http_version=head.http_version,
        status=int(txresponse.code),
        reason=head.reason,
        response_headers=head.headers,
        ip_address=str(ip) if ip is not None else None,
    )


class _FaithfulScrapyAgent(_ScrapyAgent):
    def _cb_bodyready(self, txresponse: TxResponse, request: Request) -> Any:
        _file_wire_exchange(request, txresponse)
        return super()._cb_bodyready(txresponse, request)


class FaithfulHTTP11DownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler that files a ``WireExchange`` for every response it receives."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._pool._factory = _FaithfulHTTP11ClientFactory

    async def download_request(self, request: Request) -> Response:
        # Mirrors HTTP11DownloadHandler.download_request of Scrapy 2.19 with our agent class; the
        # spider attributes it reads are deprecated there and not supported here.
        _WIRE.pop(request, None)
        agent = _FaithfulScrapyAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=self._default_maxsize,
            warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        try:
            with wrap_twisted_exceptions():
                return cast("Response", await maybe_deferred_to_future(agent.download_request(request)))
        except ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise
