"""The capture and metadata middlewares: the exchange values and metadata records they hand the writer."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest, NotConfigured
from scrapy.http import Headers, HtmlResponse, Response
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler.items import Article, ForumPost
from crawler.middlewares.handler import _WIRE, WireExchange
from crawler.middlewares.warc import (
    RECONSTRUCTED_FAITHFUL,
    RECONSTRUCTED_PARSED,
    ExchangeFields,
    WarcCaptureMiddleware,
    WarcMetadataSpiderMiddleware,
    WarcSession,
    declared_charsets,
    exchange_fields,
    item_label,
    page_metadata,
    truncation_from_flags,
    uses_faithful_handler,
)
from tests.capture.conftest import Crawl
from tests.capture.site import (
    BIG_BODY,
    BIG_MAXSIZE,
    CHINESE_PATH,
    CHUNKED_BODY,
    GBK_PAGE,
    GBK_PAGE_PID,
    GBK_PAGE_REPLACEMENTS,
    GZIP_WIRE,
    LENGTH_BODY,
    REASON,
    ROBOTS,
)

# --- one crawl of every case, recorded -----------------------------------------------------------------


def exchanges(crawl: Crawl) -> list[SimpleNamespace]:
    recorded: list[SimpleNamespace] = crawl.writer["exchanges"]
    return recorded


def exchanges_at(crawl: Crawl, path: str) -> list[SimpleNamespace]:
    return [exchange for exchange in exchanges(crawl) if exchange.url == crawl.base + path]


def one_exchange(crawl: Crawl, path: str) -> SimpleNamespace:
    found = exchanges_at(crawl, path)
    assert len(found) == 1, (path, [exchange.url for exchange in exchanges(crawl)])
    return found[0]


def header(exchange: SimpleNamespace, name: bytes, *, response: bool = True) -> list[bytes]:
    headers = exchange.response_headers if response else exchange.request_headers
    return [value for key, value in headers if key.lower() == name.lower()]


def test_every_request_the_server_saw_is_one_exchange(recorded_crawl: Crawl) -> None:
    captured = Counter((exchange.method, exchange.request_target) for exchange in exchanges(recorded_crawl))
    assert captured == Counter(recorded_crawl.log)
    # robots.txt, both tries of the 500, the redirect and its target, the 404s: each its own exchange.
    for target in ("/robots.txt", "/redirect", "/redirect-target", "/missing", "/outlink-only?x=1"):
        assert captured["GET", target] == 1, target
    assert captured["GET", "/error"] == 2


def test_exchange_values_carry_the_request_as_sent(recorded_crawl: Crawl) -> None:
    search = one_exchange(recorded_crawl, "search?kw=%D6%D0%CE%C4&page=2")
    assert search.method == "GET"
    assert search.request_target == "/search?kw=%D6%D0%CE%C4&page=2"
    assert search.http_version == "HTTP/1.1"
    assert header(search, b"Host", response=False) == [urlsplit(recorded_crawl.base).netloc.encode()]
    assert search.request_body == b""
    assert search.ip_address == "127.0.0.1"
    assert (search.status, search.reason) == (200, b"OK")


def test_urls_are_ascii_as_requested(recorded_crawl: Crawl) -> None:
    chinese = one_exchange(recorded_crawl, quote(CHINESE_PATH.lstrip("/")))
    assert chinese.url == recorded_crawl.base + "%E8%AE%BA%E5%9D%9B/%E5%B8%96%E5%AD%90.html"
    assert chinese.request_target == "/%E8%AE%BA%E5%9D%9B/%E5%B8%96%E5%AD%90.html"
    for exchange in exchanges(recorded_crawl):
        assert exchange.url.isascii(), exchange.url


def test_gzip_payload_stays_content_encoded(recorded_crawl: Crawl) -> None:
    gzipped = one_exchange(recorded_crawl, "gzip")
    assert gzipped.payload == GZIP_WIRE
    assert header(gzipped, b"Content-Encoding") == [b"gzip"]


def test_chunked_exchange_has_decoded_payload_and_its_framing_header(recorded_crawl: Crawl) -> None:
    chunked = one_exchange(recorded_crawl, "chunked")
    assert chunked.payload == CHUNKED_BODY
    assert header(chunked, b"Transfer-Encoding") == [b"chunked"]
    assert chunked.truncated is None


def test_status_reason_and_raw_headers(recorded_crawl: Crawl) -> None:
    assert one_exchange(recorded_crawl, "reason").reason == REASON.encode()
    length = one_exchange(recorded_crawl, "length")
    assert header(length, b"Content-Length") == [str(len(LENGTH_BODY)).encode()]
    assert one_exchange(recorded_crawl, "robots.txt").payload == ROBOTS


def test_redirect_is_its_own_exchange(recorded_crawl: Crawl) -> None:
    redirect = one_exchange(recorded_crawl, "redirect")
    assert (redirect.status, redirect.reason) == (302, b"Found")
    assert header(redirect, b"Location") == [b"/redirect-target"]
    target = one_exchange(recorded_crawl, "redirect-target")
    assert target.status == 200
    assert header(target, b"Referer", response=False) == [(recorded_crawl.base + "redirect").encode()]


def test_error_statuses_and_retries_are_captured(recorded_crawl: Crawl) -> None:
    assert one_exchange(recorded_crawl, "missing").status == 404
    errors = exchanges_at(recorded_crawl, "error")
    assert [(e.status, e.reason) for e in errors] == [(500, b"Internal Server Error")] * 2
    assert errors[0].date != errors[1].date


def test_dates_are_utc(recorded_crawl: Crawl) -> None:
    for exchange in exchanges(recorded_crawl):
        assert isinstance(exchange.date, datetime)
        assert exchange.date.utcoffset() == timedelta(0)


def test_body_cut_at_maxsize_is_written_truncated(recorded_crawl: Crawl) -> None:
    chunked = one_exchange(recorded_crawl, "big-chunked")
    assert chunked.truncated == "length"
    assert chunked.status == 200
    assert len(chunked.payload) > BIG_MAXSIZE
    assert chunked.payload == BIG_BODY[: len(chunked.payload)] != BIG_BODY
    assert header(chunked, b"Transfer-Encoding") == [b"chunked"]
    # Declared too big: cancelled at the headers, nothing of the body kept, the header says how big.
    declared = one_exchange(recorded_crawl, "big-length")
    assert declared.truncated == "length"
    assert declared.payload == b""
    assert header(declared, b"Content-Length") == [str(len(BIG_BODY)).encode()]
    others = [e.url for e in exchanges(recorded_crawl) if e.truncated and e not in (chunked, declared)]
    assert others == []


def test_stats(recorded_crawl: Crawl) -> None:
    stats = recorded_crawl.stats
    recorded = exchanges(recorded_crawl)
    metadata = recorded_crawl.writer["metadata"]
    assert stats["warc/records"] == 2 * len(recorded) + len(metadata)
    assert stats["warc/bytes"] == sum(len(exchange.payload) for exchange in recorded)
    assert stats["warc/truncated"] == 2
    assert "warc/revisits" not in stats  # the recording writer never answers with a revisit
    assert stats["charset/replacement_chars"] == GBK_PAGE_REPLACEMENTS


def test_metadata_record_of_the_gbk_page(recorded_crawl: Crawl) -> None:
    base = recorded_crawl.base
    page = base + "page-gbk.html"
    records = [m for m in recorded_crawl.writer["metadata"] if m["target_uri"] == page]
    assert len(records) == 1
    record = records[0]
    assert record["fields"] == [
        ("charset-declared-header", "GBK"),
        ("charset-declared-meta", "gbk"),
        ("charset-used", "gb18030"),
        ("replacement-chars", str(GBK_PAGE_REPLACEMENTS)),
        ("item", f"ForumPost pid={GBK_PAGE_PID}"),
        ("outlink", base + "length"),
        ("outlink", base + "outlink-only?x=1"),
    ]
    # Linked to the response record of the same page.
    index = exchanges(recorded_crawl).index(one_exchange(recorded_crawl, "page-gbk.html"))
    assert record["concurrent_to"] == recorded_crawl.writer["written"][index].response_id


def test_decoding_gbk_as_gbk_would_have_lost_characters() -> None:
    # Why the page is decoded as gb18030: its four-byte character is not GBK.
    assert GBK_PAGE.decode("gb18030", "replace").count("\ufffd") == GBK_PAGE_REPLACEMENTS
    assert GBK_PAGE.decode("gbk", "replace").count("\ufffd") > GBK_PAGE_REPLACEMENTS


def test_one_metadata_record_per_parsed_page(recorded_crawl: Crawl) -> None:
    targets = Counter(m["target_uri"] for m in recorded_crawl.writer["metadata"])
    base = recorded_crawl.base
    parsed = {
        "chunked", "length", "reason", "gbk-header", "gzip", "search?kw=%D6%D0%CE%C4&page=2",
        quote(CHINESE_PATH.lstrip("/")), "redirect-target", "page-gbk.html",
    }  # fmt: skip
    assert targets == Counter(base + path for path in parsed)
    # Error pages, robots.txt and the redirect itself never reach a callback: no metadata for them.


# --- pure parts and in-process behaviour ---------------------------------------------------------------


def wire_for(status: int = 200) -> WireExchange:
    return WireExchange(
        method="GET",
        request_target="/p?q=1",
        request_version="HTTP/1.1",
        request_headers=((b"Accept", b"*/*"), (b"Host", b"example.org")),
        sent_at=datetime(2024, 1, 2, 3, 4, 5).astimezone(),
        http_version="HTTP/1.0",
        status=status,
        reason=b"Fine",
        response_headers=((b"content-type", b"text/html"), (b"Transfer-Encoding", b"chunked")),
        ip_address="10.0.0.1",
    )


def test_exchange_fields_prefer_the_wire() -> None:
    request = Request("http://example.org/p?q=1#frag", headers={"Accept": "*/*"})
    date = datetime(2024, 1, 2, 3, 4, 5).astimezone()
    fields = exchange_fields(
        request, wire_for(), status=200, headers=Headers({"Content-Type": "x"}), payload=b"body",
        ip_address=None, protocol="HTTP/1.1", date=date, truncated=None,
    )  # fmt: skip
    assert fields["url"] == "http://example.org/p?q=1"
    assert fields["http_version"] == "HTTP/1.0"
    assert fields["reason"] == b"Fine"
    assert fields["request_headers"] == [(b"Accept", b"*/*"), (b"Host", b"example.org")]
    assert fields["response_headers"] == [(b"content-type", b"text/html"), (b"Transfer-Encoding", b"chunked")]
    assert fields["ip_address"] == "10.0.0.1"
    assert set(fields) == set(ExchangeFields.__annotations__)


def test_exchange_fields_without_wire_are_rebuilt_from_scrapy() -> None:
    request = Request("http://example.org:8080/a%20b?x=%D6%D0", method="POST", body=b"k=v")
    fields = exchange_fields(
        request, None, status=404,
        headers=Headers({"Content-Type": "text/html", "Set-Cookie": ["a=1", "b=2"]}),
        payload=b"nope", ip_address="127.0.0.1", protocol=None, date=datetime.now().astimezone(),
        truncated=None,
    )  # fmt: skip
    assert fields["request_target"] == "/a%20b?x=%D6%D0"
    assert fields["request_headers"][0] == (b"Host", b"example.org:8080")
    assert fields["reason"] == b"Not Found"
    assert fields["http_version"] == "HTTP/1.1"
    assert fields["method"] == "POST"
    assert fields["request_body"] == b"k=v"
    assert (b"Set-Cookie", b"a=1") in fields["response_headers"]
    assert (b"Set-Cookie", b"b=2") in fields["response_headers"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [([], None), (["partial"], None), (["dataloss"], "disconnect"), (["download_stopped"], "length")],
)
def test_truncation_from_flags(flags: list[str], expected: str | None) -> None:
    assert truncation_from_flags(flags) == expected


def test_declared_charsets_keep_the_labels_as_written() -> None:
    response = HtmlResponse(
        "http://example.org/", body=GBK_PAGE, headers={"Content-Type": 'text/html; charset="GB2312"'}
    )
    assert declared_charsets(response) == ("GB2312", "gbk")
    bare = HtmlResponse("http://example.org/", body=b"<html></html>", headers={"Content-Type": "text/html"})
    assert declared_charsets(bare) == (None, None)
    assert declared_charsets(Response("http://example.org/x.bin", body=b"\x00")) == (None, None)


def test_page_metadata_of_a_non_text_response_has_no_charset() -> None:
    binary = Response("http://example.org/x.bin", body=b"\xff")
    fields, replacements = page_metadata(binary, ["http://a/"], [])
    assert (fields, replacements) == ([("outlink", "http://a/")], 0)


def test_item_label_uses_tsv_key() -> None:
    post = ForumPost(
        tid="1", forum_group=None, forum=None, title=None, thread_url="u", author=None, author_url=None,
        thread_date=None, pid="77", poster=None, poster_url=None, poster_registered=None, floor=None,
        content=None,
    )  # fmt: skip
    assert item_label(post) == "ForumPost pid=77"
    article = Article(docid="ihq1", url="u", title="t")
    expected = f"Article {Article.tsv_key}=ihq1" if hasattr(Article, "tsv_key") else "Article"
    assert item_label(article) == expected
    assert item_label({"pid": "1"}) == "dict"


class RecordingSession(WarcSession):
    """A session whose writer keeps exchanges in memory, for in-process tests."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            directory=Path("unused"), prefix="unit", hostname="h", max_bytes=1000, warcinfo={},
            digest_index_path=None, **kwargs,
        )  # fmt: skip
        self.exchanges: list[SimpleNamespace] = []
        self.metadata: list[tuple[str, str, list[tuple[str, str]]]] = []

    def open_writer(self) -> Any:
        session = self

        class Writer:
            def write_exchange(self, exchange: SimpleNamespace) -> SimpleNamespace:
                session.exchanges.append(exchange)
                n = len(session.exchanges)
                return SimpleNamespace(
                    response_id=f"<urn:uuid:r{n}>", request_id=f"<urn:uuid:q{n}>", revisit=False
                )

            def write_metadata(self, target: str, concurrent_to: str, fields: list[tuple[str, str]]) -> str:
                session.metadata.append((target, concurrent_to, fields))
                return "<urn:uuid:m>"

            def close(self) -> None:
                pass

        return Writer()

    def make_exchange(self, fields: ExchangeFields) -> SimpleNamespace:
        return SimpleNamespace(**fields)


def test_responses_not_downloaded_here_are_not_captured() -> None:
    session = RecordingSession()
    middleware = WarcCaptureMiddleware(session, default_maxsize=0)
    request = Request("http://example.org/")
    cached = Response("http://example.org/", body=b"x", flags=["cached"])
    _WIRE[request] = wire_for()
    assert middleware.process_response(request, cached) is cached
    made_up = Response("http://example.org/", body=b"y")
    assert middleware.process_response(Request("http://example.org/"), made_up) is made_up
    assert session.exchanges == []


def test_response_is_captured_and_its_ids_kept_in_meta() -> None:
    session = RecordingSession()
    middleware = WarcCaptureMiddleware(session, default_maxsize=0)
    request = Request("http://example.org/p?q=1")
    _WIRE[request] = wire_for()
    response = Response("http://example.org/p?q=1", body=b"hello", request=request)
    middleware.process_response(request, response)
    assert [e.payload for e in session.exchanges] == [b"hello"]
    assert request.meta["warc_response_id"] == "<urn:uuid:r1>"
    assert request.meta["warc_request_id"] == "<urn:uuid:q1>"
    assert request.meta["warc_response_url"] == "http://example.org/p?q=1"
    assert request.meta["warc_revisit"] is False


def test_exception_before_any_response_writes_nothing() -> None:
    session = RecordingSession()
    middleware = WarcCaptureMiddleware(session, default_maxsize=100)
    middleware.process_exception(Request("http://example.org/"), IgnoreRequest())
    assert session.exchanges == []


def test_timeout_after_headers_is_truncated_time() -> None:
    session = RecordingSession()
    middleware = WarcCaptureMiddleware(session, default_maxsize=1000)
    request = Request("http://example.org/slow")
    _WIRE[request] = wire_for()
    middleware.headers_received(Headers({"Content-Length": "500"}), 500, request)
    middleware.bytes_received(b"abc", request)
    middleware.bytes_received(b"def", request)
    middleware.process_exception(request, DownloadTimeoutError("too slow"))
    [exchange] = session.exchanges
    assert (exchange.truncated, exchange.payload, exchange.status) == ("time", b"abcdef", 200)
    assert "warc_response_id" in request.meta


def test_cut_connection_after_headers_is_truncated_disconnect() -> None:
    session = RecordingSession()
    middleware = WarcCaptureMiddleware(session, default_maxsize=1000)
    request = Request("http://example.org/cut")
    _WIRE[request] = wire_for()
    middleware.headers_received(Headers(), -1, request)
    middleware.bytes_received(b"partial", request)
    middleware.process_exception(request, ConnectionResetError("reset"))
    assert [(e.truncated, e.payload) for e in session.exchanges] == [("disconnect", b"partial")]


def run_spider_output(
    middleware: WarcMetadataSpiderMiddleware, response: Response, out: list[Any]
) -> list[Any]:
    async def source() -> AsyncIterator[Any]:
        for obj in out:
            yield obj

    async def collect() -> list[Any]:
        return [obj async for obj in middleware.process_spider_output(response, source())]

    return asyncio.run(collect())


def test_metadata_is_linked_only_to_this_urls_response_record() -> None:
    session = RecordingSession()
    middleware = WarcMetadataSpiderMiddleware(session)
    request = Request("http://example.org/final")
    # Ids copied along a redirect belong to the redirect's URL, not this page.
    request.meta.update(warc_response_id="<urn:uuid:r9>", warc_response_url="http://example.org/redirect")
    response = HtmlResponse("http://example.org/final", body=b"<html></html>", request=request)
    out = [Request("http://example.org/next")]
    assert run_spider_output(middleware, response, out) == out
    assert session.metadata == []
    request.meta["warc_response_url"] = "http://example.org/final"
    run_spider_output(middleware, response, out)
    assert session.metadata == [
        (
            "http://example.org/final",
            "<urn:uuid:r9>",
            [
                ("charset-used", "cp1252"),
                ("replacement-chars", "0"),
                ("outlink", "http://example.org/next"),
            ],
        )
    ]


# --- settings -----------------------------------------------------------------------------------------


class UnitSpider(Spider):
    name = "unit"


def project_crawler(**overrides: Any) -> Any:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(overrides, priority="cmdline")
    # No reactor: these tests build components, they download nothing.
    settings.set("TWISTED_REACTOR_ENABLED", False, priority="cmdline")
    return get_crawler(UnitSpider, settings.copy_to_dict())


def test_session_from_project_settings() -> None:
    crawler = project_crawler(DATA_DIR="/srv/crawl", WARC_OPERATOR="ops@example.org")
    session = WarcSession.from_crawler(crawler)
    assert session.directory == Path("/srv/crawl/warc")
    assert session.prefix == "unit"
    assert session.max_bytes == 1_000_000_000
    assert session.digest_index_path == Path("/srv/crawl/state.sqlite")
    info = session.warcinfo
    assert info["robots"] == "obey"
    assert info["operator"] == "ops@example.org"
    assert info["isPartOf"] == "unit"
    assert info["format"] == "WARC File Format 1.1"
    assert info["reconstructed"] == RECONSTRUCTED_FAITHFUL
    assert "Scrapy 2." in info["software"] and "warcio" in info["software"] and "Twisted" in info["software"]
    assert "hostname" in info and "conformsTo" in info


def test_session_settings_override() -> None:
    crawler = project_crawler(
        WARC_DIR="/w", WARC_PREFIX="credit51-run", WARC_MAX_BYTES=5000, WARC_DEDUP=False,
        ROBOTSTXT_OBEY=False, WARC_IS_PART_OF="coll",
    )  # fmt: skip
    session = WarcSession.from_crawler(crawler)
    assert (session.directory, session.prefix, session.max_bytes) == (Path("/w"), "credit51-run", 5000)
    assert session.digest_index_path is None
    assert (session.warcinfo["robots"], session.warcinfo["isPartOf"]) == ("ignore", "coll")
    assert session.warcinfo["operator"] == crawler.settings.get("CRAWLER_CONTACT")


def test_one_session_per_crawler() -> None:
    crawler = project_crawler()
    capture = WarcCaptureMiddleware.from_crawler(crawler)
    metadata = WarcMetadataSpiderMiddleware.from_crawler(crawler)
    assert capture.session is metadata.session is WarcSession.for_crawler(crawler)


def test_disabled_capture_is_not_configured() -> None:
    with pytest.raises(NotConfigured, match="WARC_ENABLED"):
        WarcCaptureMiddleware.from_crawler(project_crawler(WARC_ENABLED=False))
    with pytest.raises(NotConfigured, match="WARC_METADATA"):
        WarcMetadataSpiderMiddleware.from_crawler(project_crawler(WARC_METADATA=False))


def test_bad_max_bytes_names_the_value() -> None:
    with pytest.raises(ValueError, match="WARC_MAX_BYTES=0"):
        WarcSession.from_crawler(project_crawler(WARC_MAX_BYTES=0))


def test_stock_handler_is_detected_and_said_in_warcinfo() -> None:
    crawler = project_crawler(DOWNLOAD_HANDLERS={})
    assert not uses_faithful_handler(crawler)
    assert WarcSession.from_crawler(crawler).warcinfo["reconstructed"] == RECONSTRUCTED_PARSED
    assert uses_faithful_handler(project_crawler())


def test_closed_session_refuses_writes() -> None:
    session = RecordingSession()
    session.close()
    with pytest.raises(RuntimeError, match="closed"):
        session.writer()


class FailingSession(RecordingSession):
    """A session whose disk is full."""

    def open_writer(self) -> Any:
        writer = super().open_writer()

        def full(exchange: SimpleNamespace) -> SimpleNamespace:
            raise OSError(28, "No space left on device")

        writer.write_exchange = full
        return writer


def test_write_failure_stops_the_crawl_once() -> None:
    stops: list[str] = []
    crawler = project_crawler()
    assert crawler.stats is not None
    session = FailingSession(stats=crawler.stats, stop_crawl=stops.append)
    middleware = WarcCaptureMiddleware(session, default_maxsize=0)
    for path in ("a", "b"):
        request = Request(f"http://example.org/{path}")
        _WIRE[request] = wire_for()
        with pytest.raises(OSError, match="No space"):
            middleware.process_response(request, Response(request.url, body=b"x"))
    assert stops == ["warc_error"]
    assert crawler.stats.get_value("warc/errors") == 2


def test_open_failure_stops_the_crawl(tmp_path: Path) -> None:
    stops: list[str] = []
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the WARC directory should be")
    session = WarcSession(
        directory=blocked / "warc", prefix="p", hostname="h", max_bytes=10, warcinfo={},
        digest_index_path=None, stop_crawl=stops.append,
    )  # fmt: skip
    with pytest.raises(OSError):
        session.open()
    assert stops == ["warc_error"]
