"""WARC capture: every HTTP exchange as request/response records, and a metadata record per parsed page.

Three pieces share one ``archive.writer.WarcWriter`` per crawl:

* ``WarcSession`` owns the writer (opened when the spider opens, closed when it closes) and the stats;
  ``WarcSession.for_crawler(crawler)`` returns the crawl's one session.
* ``WarcCaptureMiddleware`` (downloader middleware, order 950, nearest the network) turns Scrapy's
  request and response, plus the wire heads ``crawler.middlewares.handler`` kept, into the plain values
  of an ``archive.records.HttpExchange``. It sees redirects, error statuses, retries and robots.txt each
  as their own exchange, with the body still content-encoded; it never parses. Downloads that Scrapy
  cancels past ``DOWNLOAD_MAXSIZE`` (or that time out or lose the connection after the headers) reach it
  only as exceptions: what arrived is collected from the ``headers_received`` / ``bytes_received``
  signals and written as a response record marked ``WARC-Truncated``.
* ``WarcMetadataSpiderMiddleware`` writes, for each page a callback parsed, a metadata record linked to
  its response record by ``WARC-Concurrent-To``: the outlinks the callback yielded, the charset decision
  and the ids of the items it extracted.

``request.meta`` (hence ``response.meta``) gets ``warc_response_id``, ``warc_request_id``,
``warc_revisit`` and ``warc_response_url`` (the URL the ids belong to) for each exchange written.
"""

from __future__ import annotations

import logging
import platform
import re
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypedDict
from urllib.parse import urldefrag, urlsplit
from weakref import WeakKeyDictionary

from itemadapter import ItemAdapter
from scrapy import Request, signals
from scrapy.exceptions import DownloadTimeoutError, NotConfigured, StopDownload
from scrapy.http import Headers, Response, TextResponse
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.misc import load_object

from crawler.middlewares.handler import FaithfulHTTP11DownloadHandler, WireExchange, pop_wire_exchange

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

Header = tuple[bytes, bytes]

#: What the records hold that did not cross the wire byte for byte, said in every warcinfo record.
RECONSTRUCTED_FAITHFUL = (
    "Request heads, status lines and header fields are copied from the wire (names, order and raw "
    "bytes); header values lose surrounding whitespace and obsolete line folding is joined. Payloads "
    "are stored after transfer decoding (Twisted removes chunked framing): such responses carry "
    "X-Orig-Transfer-Encoding and a Content-Length computed from the payload. Content encodings "
    "(gzip) are kept as received. Truncated bodies are marked WARC-Truncated."
)
RECONSTRUCTED_PARSED = (
    "The HTTP download handler is not crawler.middlewares.handler.FaithfulHTTP11DownloadHandler: "
    "request heads are rebuilt from Scrapy's Request (Host first), response headers from Scrapy's parsed "
    "Response (names title-cased, repeated fields merged in order, Transfer-Encoding lost), reason "
    "phrases from the status code. Payloads are stored after transfer decoding, content encodings "
    "kept as received."
)

_CHARSET_PARAM = re.compile(rb"""charset\s*=\s*["']?\s*([-\w.:]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([-\w.:]+)""",
    re.IGNORECASE,
)
#: How far into the body a ``<meta charset>`` counts (the HTML prescan and w3lib look as far).
META_PRESCAN_BYTES = 4096


class ExchangeFields(TypedDict):
    """The keyword arguments of ``archive.records.HttpExchange``, built from Scrapy objects."""

    url: str
    method: str
    request_target: str
    http_version: str
    request_headers: list[Header]
    request_body: bytes
    status: int
    reason: bytes
    response_headers: list[Header]
    payload: bytes
    ip_address: str | None
    date: datetime
    truncated: str | None


class WrittenIds(Protocol):
    """What the middlewares read of ``archive.records.WrittenExchange``."""

    @property
    def response_id(self) -> str: ...
    @property
    def request_id(self) -> str: ...
    @property
    def revisit(self) -> bool: ...


class ExchangeWriter(Protocol):
    """What the middlewares use of ``archive.writer.WarcWriter``."""

    def write_exchange(self, exchange: Any) -> WrittenIds: ...
    def write_metadata(
        self, target_uri: str, concurrent_to: str, fields: list[tuple[str, str]], date: datetime | None = None
    ) -> str: ...
    def close(self) -> None: ...


def request_target_of(url: str) -> str:
    """The origin-form request-target of ``url``: its path (``/`` when empty) plus ``?query``."""
    parts = urlsplit(url)
    target = parts.path or "/"
    return f"{target}?{parts.query}" if parts.query else target


def headers_as_pairs(headers: Headers) -> list[Header]:
    """Scrapy ``Headers`` as ``(name, value)`` pairs, one per value."""
    return [(bytes(name), bytes(value)) for name, values in headers.items() for value in values]


def exchange_fields(
    request: Request,
    wire: WireExchange | None,
    *,
    status: int,
    headers: Headers,
    payload: bytes,
    ip_address: str | None,
    protocol: str | None,
    date: datetime,
    truncated: str | None,
) -> ExchangeFields:
    """The values of one ``HttpExchange``: from the wire heads when the handler kept them, else rebuilt.

    ``headers`` (Scrapy's parsed response headers) and ``protocol`` are used only without ``wire``.
    """
    url = urldefrag(request.url)[0]  # the fragment is never sent
    if wire is not None:
        return ExchangeFields(
            url=url,
            method=wire.method,
            request_target=wire.request_target,
            http_version=wire.http_version,
            request_headers=list(wire.request_headers),
            request_body=request.body,
            status=wire.status,
            reason=wire.reason,
            response_headers=list(wire.response_headers),
            payload=payload,
            ip_address=ip_address or wire.ip_address,
            date=date,
            truncated=truncated,
        )
    netloc = urlsplit(url).netloc.encode("ascii")
    request_headers = [(b"Host", netloc)]
    request_headers += [pair for pair in headers_as_pairs(request.headers) if pair[0].lower() != b"host"]
    try:
        reason = HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        reason = b""
    return ExchangeFields(
        url=url,
        method=request.method,
        request_target=request_target_of(url),
        http_version=protocol or "HTTP/1.1",
        request_headers=request_headers,
        request_body=request.body,
        status=status,
        reason=reason,
        response_headers=headers_as_pairs(headers),
        payload=payload,
        ip_address=ip_address,
        date=date,
        truncated=truncated,
    )


def software_versions(bot_name: str) -> str:
    """``bot/version (Scrapy x, Twisted y, warcio z, Python w)`` for the warcinfo ``software`` field."""

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "source checkout"

    return (
        f"{bot_name}/{version('archival-crawler')} (Scrapy {version('scrapy')}, "
        f"Twisted {version('twisted')}, warcio {version('warcio')}, Python {platform.python_version()})"
    )


def uses_faithful_handler(crawler: Crawler) -> bool:
    """Whether both ``http`` and ``https`` are downloaded by ``FaithfulHTTP11DownloadHandler``."""
    handlers = crawler.settings.getwithbase("DOWNLOAD_HANDLERS")
    for scheme in ("http", "https"):
        path = handlers.get(scheme)
        if path is None:
            return False
        cls = load_object(path) if isinstance(path, str) else path
        if not (isinstance(cls, type) and issubclass(cls, FaithfulHTTP11DownloadHandler)):
            return False
    return True


_SESSIONS: WeakKeyDictionary[Crawler, WarcSession] = WeakKeyDictionary()


class WarcSession:
    """The one WARC writer of a crawl, shared by the capture and metadata middlewares."""

    def __init__(
        self,
        *,
        directory: Path,
        prefix: str,
        hostname: str,
        max_bytes: int,
        warcinfo: dict[str, str],
        digest_index_path: Path | None,
        stats: StatsCollector | None = None,
        stop_crawl: Callable[[str], None] | None = None,
    ) -> None:
        self.directory = directory
        self.prefix = prefix
        self.hostname = hostname
        self.max_bytes = max_bytes
        self.warcinfo = warcinfo
        self.digest_index_path = digest_index_path
        self.stats = stats
        self.stop_crawl = stop_crawl
        self._writer: ExchangeWriter | None = None
        self._digest_index: Any = None
        self.shared_digest_index: Callable[[], Any] | None = None
        self._closed = False
        self._failed = False

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> WarcSession:
        """The session of ``crawler``, made (and hooked to its signals) on first use."""
        session = _SESSIONS.get(crawler)
        if session is None:
            session = cls.from_crawler(crawler)
            _SESSIONS[crawler] = session
        return session

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcSession:
        settings = crawler.settings
        if not settings.getbool("WARC_ENABLED", True):
            raise NotConfigured("WARC_ENABLED is off: no WARC records are written")
        if settings.get("REPLAY_WARC"):
            raise NotConfigured("REPLAY_WARC is set: pages come from an archive, nothing new is fetched")
        data_dir = Path(settings.get("DATA_DIR") or "data")
        directory = Path(settings.get("WARC_DIR") or data_dir / "warc")
        spider_name = crawler.spider.name if crawler.spider is not None else crawler.spidercls.name
        prefix = settings.get("WARC_PREFIX") or spider_name
        if not prefix:
            raise NotConfigured("WARC_PREFIX is empty and the spider has no name; set -s WARC_PREFIX=NAME")
        max_bytes = settings.getint("WARC_MAX_BYTES", 1_000_000_000)
        if max_bytes <= 0:
            raise ValueError(f"WARC_MAX_BYTES={max_bytes}: give a positive number of bytes, e.g. 1000000000")
        hostname = socket.gethostname()
        faithful = uses_faithful_handler(crawler)
        if not faithful:
            logger.warning(
                "WARC capture without crawler.middlewares.handler.FaithfulHTTP11DownloadHandler for "
                "http/https: header fields and reason phrases will be rebuilt from Scrapy's Response; "
                "set DOWNLOAD_HANDLERS as crawler/settings.py does"
            )
        warcinfo = {
            "software": software_versions(settings.get("BOT_NAME") or "crawler"),
            "hostname": hostname,
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            "operator": settings.get("WARC_OPERATOR") or settings.get("CRAWLER_CONTACT") or "",
            "isPartOf": settings.get("WARC_IS_PART_OF") or prefix,
            "http-header-user-agent": settings.get("USER_AGENT") or "",
            "reconstructed": RECONSTRUCTED_FAITHFUL if faithful else RECONSTRUCTED_PARSED,
        }
        warcinfo = {key: value for key, value in warcinfo.items() if value}
        digest_index_path = data_dir / "state.sqlite" if settings.getbool("WARC_DEDUP", True) else None
        session = cls(
            directory=directory,
            prefix=prefix,
            hostname=hostname,
            max_bytes=max_bytes,
            warcinfo=warcinfo,
            digest_index_path=digest_index_path,
            stats=crawler.stats,
            stop_crawl=lambda reason: _close_spider(crawler, reason),
        )
        if settings.get("REDIS_URL") and digest_index_path is not None:
            # Distributed mode: one digest index for every worker, in the crawl state on Redis.
            from crawler.state import state_for

            session.shared_digest_index = lambda: state_for(crawler).digest_index()  # type: ignore[attr-defined]
        crawler.signals.connect(session.open, signal=signals.spider_opened)
        crawler.signals.connect(session.close, signal=signals.spider_closed)
        return session

    def open_writer(self) -> ExchangeWriter:
        """A new ``archive.writer.WarcWriter`` for this crawl (it salvages leftover ``.open`` files)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        from archive.writer import WarcWriter

        if self.shared_digest_index is not None:
            self._digest_index = self.shared_digest_index()
        elif self.digest_index_path is not None:
            from archive.digests import SqliteDigestIndex

            self.digest_index_path.parent.mkdir(parents=True, exist_ok=True)
            self._digest_index = SqliteDigestIndex(self.digest_index_path)
        writer: ExchangeWriter = WarcWriter(
            self.directory,
            prefix=self.prefix,
            hostname=self.hostname,
            max_bytes=self.max_bytes,
            warcinfo=self.warcinfo,
            digest_index=self._digest_index,
        )
        return writer

    def make_exchange(self, fields: ExchangeFields) -> Any:
        """An ``archive.records.HttpExchange`` holding ``fields``."""
        from archive.records import HttpExchange

        return HttpExchange(**fields)

    def open(self) -> None:
        """Open the writer now (on ``spider_opened``), so leftovers are salvaged before the first fetch."""
        self.writer()

    def writer(self) -> ExchangeWriter:
        if self._closed:
            raise RuntimeError(f"the WARC session for {self.directory} is closed: nothing more goes in")
        if self._writer is None:
            try:
                self._writer = self.open_writer()
            except Exception as exc:
                self._fail("opening a WARC file", exc)
                raise
        return self._writer

    def _fail(self, action: str, exc: Exception) -> None:
        """Count a failure; on the first, stop the crawl: pages fetched from now on would go unarchived."""
        if self.stats is not None:
            self.stats.inc_value("warc/errors")
        if self._failed:
            return
        self._failed = True
        logger.error(
            "%s in %s failed: %r. Stopping the crawl so that nothing is fetched without being archived; "
            "fix the cause (disk space, permissions, WARC_DIR) and run the crawl again",
            action, self.directory, exc,
        )
        if self.stop_crawl is not None:
            self.stop_crawl("warc_error")

    def write_exchange(self, fields: ExchangeFields) -> WrittenIds:
        """Write one exchange (request and response or revisit records) and count it."""
        writer = self.writer()
        try:
            written = writer.write_exchange(self.make_exchange(fields))
        except Exception as exc:
            self._fail(f"writing the exchange of {fields['url']}", exc)
            raise
        if self.stats is not None:
            self.stats.inc_value("warc/records", 2)
            if written.revisit:
                self.stats.inc_value("warc/revisits")
            else:
                self.stats.inc_value("warc/bytes", len(fields["payload"]))
            if fields["truncated"]:
                self.stats.inc_value("warc/truncated")
        return written

    def write_metadata(self, target_uri: str, concurrent_to: str, fields: list[tuple[str, str]]) -> str:
        """Write one metadata record linked to the record ``concurrent_to``; return its id."""
        writer = self.writer()
        try:
            record_id = writer.write_metadata(target_uri, concurrent_to, fields)
        except Exception as exc:
            self._fail(f"writing the metadata of {target_uri}", exc)
            raise
        if self.stats is not None:
            self.stats.inc_value("warc/records")
        return record_id

    def close(self) -> None:
        """Close the writer (flush, fsync, rename away ``.open``) and the digest index."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            close_index: Callable[[], None] | None = getattr(self._digest_index, "close", None)
            if close_index is not None:
                close_index()


def _close_spider(crawler: Crawler, reason: str) -> None:
    if crawler.engine is not None and crawler.engine.spider is not None:
        deferred_from_coro(crawler.engine.close_spider_async(reason=reason))


@dataclass
class _Arrived:
    """What the signals delivered of one download so far."""

    headers: Headers
    expected_length: int
    started: datetime
    chunks: list[bytes] = field(default_factory=list)


def truncation_from_flags(flags: list[str]) -> str | None:
    """``WARC-Truncated`` value for a response Scrapy delivered with ``flags``, or None when whole.

    ``dataloss``: the connection closed before the declared length (``DOWNLOAD_FAIL_ON_DATALOSS`` off).
    ``download_stopped``: a signal handler stopped the body early; "length" is the closest WARC value.
    ``partial`` (no length declared, body ended by closing the connection) is how such bodies end.
    """
    if "dataloss" in flags:
        return "disconnect"
    if "download_stopped" in flags:
        return "length"
    return None


class WarcCaptureMiddleware:
    """Downloader middleware (order 950) that writes every real exchange to the crawl's WARC."""

    def __init__(self, session: WarcSession, *, default_maxsize: int) -> None:
        self.session = session
        self.default_maxsize = default_maxsize
        self._arrived: WeakKeyDictionary[Request, _Arrived] = WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        middleware = cls(
            WarcSession.for_crawler(crawler),
            default_maxsize=crawler.settings.getint("DOWNLOAD_MAXSIZE"),
        )
        crawler.signals.connect(middleware.headers_received, signal=signals.headers_received)
        crawler.signals.connect(middleware.bytes_received, signal=signals.bytes_received)
        return middleware

    def headers_received(self, headers: Headers, body_length: int, request: Request) -> None:
        self._arrived[request] = _Arrived(
            headers=headers, expected_length=body_length, started=datetime.now(UTC)
        )

    def bytes_received(self, data: bytes, request: Request) -> None:
        arrived = self._arrived.get(request)
        if arrived is not None:
            arrived.chunks.append(data)

    def process_response(self, request: Request, response: Response) -> Response:
        arrived = self._arrived.pop(request, None)
        wire = pop_wire_exchange(request)
        if (wire is None and arrived is None) or "cached" in response.flags:
            # Not downloaded here: a cache hit, or a response some middleware made up.
            return response
        self._capture(request, response, wire, arrived, truncation_from_flags(response.flags))
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        arrived = self._arrived.pop(request, None)
        wire = pop_wire_exchange(request)
        if isinstance(exception, StopDownload) and exception.response is not None:
            self._capture(request, exception.response, wire, arrived, "length")
            return
        if arrived is None and wire is None:
            return  # nothing came back: no response to archive
        if wire is None:
            assert arrived is not None
            logger.warning(
                "%s failed after its headers (%s) but its status line was not kept; no record written. "
                "Use crawler.middlewares.handler.FaithfulHTTP11DownloadHandler for http/https",
                request.url, type(exception).__name__,
            )
            if self.session.stats is not None:
                self.session.stats.inc_value("warc/truncated_lost")
            return
        payload = b"".join(arrived.chunks) if arrived is not None else b""
        expected = arrived.expected_length if arrived is not None else -1
        maxsize = int(request.meta.get("download_maxsize", self.default_maxsize) or 0)
        if maxsize and (len(payload) > maxsize or expected > maxsize):
            truncated = "length"
        elif isinstance(exception, DownloadTimeoutError):
            truncated = "time"
        else:
            truncated = "disconnect"
        fields = exchange_fields(
            request,
            wire,
            status=wire.status,
            headers=arrived.headers if arrived is not None else Headers(),
            payload=payload,
            ip_address=wire.ip_address,
            protocol=wire.http_version,
            date=wire.sent_at or (arrived.started if arrived is not None else datetime.now(UTC)),
            truncated=truncated,
        )
        logger.info(
            "archived %s truncated (%s) after %d payload bytes: %s",
            request.url, truncated, len(payload), type(exception).__name__,
        )
        self._remember(request, fields["url"], self.session.write_exchange(fields))

    def _capture(
        self,
        request: Request,
        response: Response,
        wire: WireExchange | None,
        arrived: _Arrived | None,
        truncated: str | None,
    ) -> None:
        if wire is not None and wire.sent_at is not None:
            date = wire.sent_at
        elif arrived is not None:
            date = arrived.started
        else:
            date = datetime.now(UTC)
        fields = exchange_fields(
            request,
            wire,
            status=response.status,
            headers=response.headers,
            payload=response.body,
            ip_address=str(response.ip_address) if response.ip_address is not None else None,
            protocol=response.protocol,
            date=date,
            truncated=truncated,
        )
        self._remember(request, response.url, self.session.write_exchange(fields))

    @staticmethod
    def _remember(request: Request, url: str, written: WrittenIds) -> None:
        request.meta["warc_response_id"] = written.response_id
        request.meta["warc_request_id"] = written.request_id
        request.meta["warc_revisit"] = written.revisit
        request.meta["warc_response_url"] = url


def declared_charsets(response: Response) -> tuple[str | None, str | None]:
    """The charset labels a response declares, as written: ``Content-Type`` header, then ``<meta>``."""
    header = None
    content_type = response.headers.get(b"Content-Type")
    if content_type:
        match = _CHARSET_PARAM.search(content_type)
        header = match.group(1).decode("ascii") if match else None
    meta = None
    if isinstance(response, TextResponse):
        match = _META_CHARSET.search(response.body[:META_PRESCAN_BYTES])
        meta = match.group(1).decode("ascii") if match else None
    return header, meta


def item_label(item: Any) -> str:
    """``ForumPost pid=43706324``: the item's class and the value of its ``tsv_key`` field (if any)."""
    name = type(item).__name__
    key = getattr(type(item), "tsv_key", None)
    if isinstance(key, str):
        adapter = ItemAdapter(item)
        if key in adapter and adapter[key] is not None:
            return f"{name} {key}={adapter[key]}"
    return name


def page_metadata(
    response: Response, outlinks: list[str], items: list[str]
) -> tuple[list[tuple[str, str]], int]:
    """Fields of a page's metadata record, and its count of U+FFFD replacement characters."""
    fields: list[tuple[str, str]] = []
    replacements = 0
    if isinstance(response, TextResponse):
        header, meta = declared_charsets(response)
        if header:
            fields.append(("charset-declared-header", header))
        if meta:
            fields.append(("charset-declared-meta", meta))
        fields.append(("charset-used", response.encoding))
        replacements = response.text.count("\ufffd")
        fields.append(("replacement-chars", str(replacements)))
    fields += [("item", label) for label in items]
    fields += [("outlink", url) for url in outlinks]
    return fields, replacements


class WarcMetadataSpiderMiddleware:
    """Spider middleware (nearest the spider) writing one metadata record per parsed page."""

    def __init__(self, session: WarcSession) -> None:
        self.session = session

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcMetadataSpiderMiddleware:
        if not crawler.settings.getbool("WARC_METADATA", True):
            raise NotConfigured("WARC_METADATA is off: no metadata records for parsed pages")
        return cls(WarcSession.for_crawler(crawler))

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        outlinks: list[str] = []
        items: list[str] = []
        try:
            async for obj in result:
                if isinstance(obj, Request):
                    outlinks.append(obj.url)
                elif ItemAdapter.is_item(obj):
                    items.append(item_label(obj))
                yield obj
        finally:
            self._write(response, outlinks, items)

    def _write(self, response: Response, outlinks: list[str], items: list[str]) -> None:
        try:
            meta = response.meta
        except AttributeError:
            return
        response_id = meta.get("warc_response_id")
        # A redirect copies meta: ids that belong to another URL are not this page's.
        if not response_id or meta.get("warc_response_url") != response.url:
            return
        fields, replacements = page_metadata(response, outlinks, items)
        self.session.write_metadata(response.url, response_id, fields)
        if self.session.stats is not None:
            self.session.stats.inc_value("charset/replacement_chars", replacements)
