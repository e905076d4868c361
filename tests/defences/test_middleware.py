"""DefencesMiddleware and its parts without a crawl: Retry-After, page classes, the script sandbox."""

from __future__ import annotations

import asyncio
import re
from email.utils import formatdate
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.test import get_crawler

from crawler.middlewares.defences import DefencesMiddleware, retry_after_seconds, run_page_scripts
from tests.replica.defences import LOGIN_PAGE, WAF_PAGE, Dsign, JsChallenge
from tests.replica.discuz import DiscuzSite, generated_board
from tests.replica.server import Request as ReplicaRequest
from tests.replica.server import Response as ReplicaResponse
from tests.replica.server import Site

BASE = "http://forum.test/"


class Stats:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] = self.values.get(key, start) + count

    def set_value(self, key: str, value: Any) -> None:
        self.values[key] = value

    def get_value(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def middleware(**options: Any) -> tuple[DefencesMiddleware, Stats, list[str]]:
    stats, stops = Stats(), []
    mw = DefencesMiddleware(stats=stats, stop=lambda: stops.append("blocked"), **options)
    return mw, stats, stops


def served(site: Site, path: str, query: str = "", cookie: str = "") -> ReplicaResponse:
    target = path + (f"?{query}" if query else "")
    headers = {"host": "forum.test", **({"cookie": cookie} if cookie else {})}
    answer = site.handle(ReplicaRequest("GET", path, {}, target, headers, "127.0.0.1"))
    assert answer is not None
    return answer


def as_scrapy(answer: ReplicaResponse, url: str, request: Request | None = None) -> Response:
    headers: dict[str, list[str]] = {}
    for name, value in answer.headers:
        headers.setdefault(name, []).append(value)
    cls = HtmlResponse if "html" in dict(answer.headers).get("Content-Type", "") else TextResponse
    response: Response = cls(url=url, status=answer.status, body=answer.body, headers=headers,
                             request=request or Request(url))
    return response


# --- Retry-After ---
def test_retry_after_seconds_and_dates() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds(" 1.5 ", now) == 1.5
    assert retry_after_seconds(formatdate(now + 30, usegmt=True), now) == pytest.approx(30)
    assert retry_after_seconds(formatdate(now - 30, usegmt=True), now) == 0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("-5", now) is None


# --- what a page is ---
def test_pages_are_told_apart() -> None:
    mw, _, _ = middleware()
    board = generated_board(forums=1, threads_per_forum=2, max_posts=3)
    forum = DiscuzSite(board)
    tid = sorted(board.threads)[0]
    # A post that talks about being blocked is still content: the page carries the post list.
    board.threads[tid].posts[0].text = "访问被拒绝怎么办？您无权进行当前操作，原因如下：Access Denied"
    thread = as_scrapy(served(forum, f"/thread-{tid}-1-1.html"), f"{BASE}thread-{tid}-1-1.html")
    assert mw.classify(thread) is None
    assert mw.classify(as_scrapy(served(forum, "/forum.php"), f"{BASE}forum.php")) is None
    missing = as_scrapy(served(forum, "/thread-1-1-1.html"), f"{BASE}thread-1-1-1.html")
    assert missing.status == 404 and mw.classify(missing) is None
    waf = HtmlResponse(url=BASE, body=WAF_PAGE.format(request_id="x").encode(), encoding="utf-8")
    assert mw.classify(waf) == "waf-block"
    login = HtmlResponse(url=BASE, body=LOGIN_PAGE.format(reason="游客").encode("gbk"), encoding="gbk")
    assert mw.classify(login) == "login-wall"
    dsign = as_scrapy(served(Dsign(views=0), f"/thread-{tid}-1-1.html"), f"{BASE}thread-{tid}-1-1.html")
    assert mw.classify(dsign) == "dsign"
    challenge = as_scrapy(served(JsChallenge(), "/forum.php"), f"{BASE}forum.php")
    assert challenge.status == 521 and mw.classify(challenge) == "js-challenge"
    # A 429 without Retry-After is Scrapy's RetryMiddleware's; with one, it is ours.
    assert mw.classify(Response(BASE, status=429)) is None
    assert mw.classify(Response(BASE, status=429, headers={"Retry-After": "3"})) == "rate-limit"
    assert mw.classify(Response(BASE, status=503, headers={"Retry-After": "whenever"})) is None
    # Not HTML, not ours: robots.txt, JSON.
    assert mw.classify(TextResponse(BASE + "robots.txt", body=b"Access Denied", encoding="utf-8")) is None


# --- the script sandbox ---
def test_scripts_never_raise_and_report_what_they_did() -> None:
    url = BASE + "a/b.html?x=1"
    out = run_page_scripts(["document.cookie='a=1; path=/';", "location = '/c.html';"], url, {"s": "2"})
    assert [(c.name, c.value, c.path) for c in out.cookies] == [("a", "1", "/")]
    assert out.navigate == "/c.html" and out.errors == []
    out = run_page_scripts(["document.cookie='a=1'; window.__seen = document.cookie;",
                            "location.replace(location.pathname + '#' + window.__seen)"], url, {"s": "2"})
    assert out.navigate == "/a/b.html#s=2; a=1"
    out = run_page_scripts(["while (true) {}", "this is not javascript", "document.cookie='late=1'"], url, {},
                           timeout=0.3)
    assert out.errors == ["JavaScript was terminated by timeout", "SyntaxError: Unexpected identifier 'is'"]
    assert [c.name for c in out.cookies] == ["late"]  # as in a browser, one bad script does not stop the next
    out = run_page_scripts(["setTimeout(function(){ location.reload(); }, 5000);"], url, {})
    assert out.reload and out.navigate is None


# --- the middleware's decisions ---
def challenge_exchange(mode: str = "solvable", seed: int = 1) -> tuple[JsChallenge, Request, Response]:
    site = JsChallenge(seed=seed, mode=mode)
    request = Request(BASE + "forum.php", meta={"cb": "kept"})
    return site, request, as_scrapy(served(site, "/forum.php"), request.url, request)


def test_a_solved_challenge_is_retried_with_the_computed_cookie() -> None:
    mw, stats, stops = middleware()
    site, request, response = challenge_exchange()
    retry = asyncio.run(mw.process_response(request, response))
    assert isinstance(retry, Request)
    assert retry.url == request.url and retry.dont_filter
    assert retry.meta["cb"] == "kept" and "defence" not in retry.meta
    assert request.meta["defence"] == "js-challenge"  # the challenge response is marked
    assert isinstance(retry.cookies, list)
    cookies = {str(c["name"]): str(c["value"]) for c in retry.cookies}
    uid = re.search(r"__jsluid_h=(\w+)", (response.headers.get(b"Set-Cookie") or b"").decode())
    assert uid and cookies["__jsl_clearance"] == site.expected[uid.group(1)]
    assert stats.values == {"defences/js-challenge/met": 1} and not stops
    # The page that comes back to the retried request counts the challenge as passed and marks it.
    page = HtmlResponse(retry.url, body=b"<html><div id='postlist'></div></html>", request=retry)
    assert asyncio.run(mw.process_response(retry, page)) is page
    assert stats.values["defences/js-challenge/passed"] == 1
    assert page.meta["defences_passed"] == ["js-challenge"]


def test_cookies_are_sent_by_hand_when_the_jar_is_off() -> None:
    mw, _, _ = middleware(cookies_enabled=False)
    site, request, response = challenge_exchange()
    retry = asyncio.run(mw.process_response(request, response))
    assert isinstance(retry, Request) and not retry.cookies
    later = Request(BASE + "forum-290-1.html", headers={"Cookie": "other=1"})
    asyncio.run(mw.process_request(later))
    sent = (later.headers.get(b"Cookie") or b"").decode()
    assert "other=1" in sent and "__jsluid_h=" in sent
    uid = re.search(r"__jsluid_h=(\w+)", sent)
    assert uid and f"__jsl_clearance={site.expected[uid.group(1)]}" in sent


def test_unsolvable_challenge_gives_up_after_the_tries_and_stops_the_run() -> None:
    mw, stats, stops = middleware(challenge_tries=2)
    site, request, response = challenge_exchange(mode="throws")
    for _ in range(2):
        request = asyncio.run(mw.process_response(request, response))  # type: ignore[assignment]
        assert isinstance(request, Request)
        response = as_scrapy(served(site, "/forum.php"), request.url, request)
    with pytest.raises(IgnoreRequest, match="after 2 solved tries"):
        asyncio.run(mw.process_response(request, response))
    assert stops == ["blocked"]
    assert stats.values["run/blocked_by"] == "js-challenge"
    assert stats.values["defences/js-challenge/failed"] == 1
    with pytest.raises(IgnoreRequest, match="blocked by js-challenge"):
        asyncio.run(mw.process_request(Request(BASE + "forum-1-1.html")))


def test_block_pages_are_ignored_until_the_limit() -> None:
    mw, stats, stops = middleware(block_limit=3)
    waf = WAF_PAGE.format(request_id="1").encode()

    def block_page() -> None:
        with pytest.raises(IgnoreRequest, match="waf-block page instead of content"):
            asyncio.run(mw.process_response(Request(BASE), HtmlResponse(BASE, body=waf, encoding="utf-8")))

    block_page()
    block_page()
    # A content page between blocks starts the count again.
    content = HtmlResponse(BASE, body=b"<div id='postlist'></div>")
    assert asyncio.run(mw.process_response(Request(BASE), content)) is content
    block_page()
    block_page()
    assert stops == []
    block_page()
    assert stops == ["blocked"] and stats.values["run/blocked_by"] == "waf-block"
    assert stats.values["defences/waf-block/met"] == stats.values["defences/waf-block/failed"] == 5


def test_retry_after_holds_the_host_then_retries() -> None:
    slept: list[float] = []
    now = [100.0]

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    held: list[float] = []
    mw, stats, _ = middleware(sleep=sleep, clock=lambda: now[0], wall_clock=lambda: 1_700_000_000.0,
                              hold_slot=lambda request, until: held.append(until))
    request = Request(BASE + "forum-290-1.html")
    limited = Response(request.url, status=429, headers={"Retry-After": "7"}, request=request)
    retry = asyncio.run(mw.process_response(request, limited))
    assert isinstance(retry, Request) and retry.dont_filter
    assert held == [107.0]
    other = Request(BASE + "thread-1-1-1.html")
    asyncio.run(mw.process_request(other))
    assert slept == [7.0]
    asyncio.run(mw.process_request(Request("http://elsewhere.test/")))
    assert slept == [7.0]  # other hosts are not held
    assert stats.values["defences/rate-limit/waited_seconds"] == 7.0


def test_from_crawler_reads_settings_and_refuses_bad_values() -> None:
    async def build(settings: dict[str, Any]) -> DefencesMiddleware:
        return DefencesMiddleware.from_crawler(get_crawler(settings_dict=settings))

    mw = asyncio.run(build({"DEFENCES_CHALLENGE_TRIES": 7, "RETRY_AFTER_MAX": 30, "COOKIES_ENABLED": False}))
    assert (mw.challenge_tries, mw.retry_after_max, mw.cookies_enabled) == (7, 30.0, False)
    with pytest.raises(NotConfigured, match="DEFENCES_ENABLED"):
        asyncio.run(build({"DEFENCES_ENABLED": False}))
    with pytest.raises(ValueError, match=r"DEFENCES_CHALLENGE_TRIES=0 must be 1 or more, e.g. -s"):
        asyncio.run(build({"DEFENCES_CHALLENGE_TRIES": 0}))
    with pytest.raises(ValueError, match="RETRY_AFTER_MAX='-1' must be seconds"):
        asyncio.run(build({"RETRY_AFTER_MAX": "-1"}))


def test_dsign_page_sends_the_request_to_the_signed_url() -> None:
    mw, stats, _ = middleware()
    site = Dsign(views=0, seed=9)
    request = Request(BASE + "thread-7-1-1.html", cb_kwargs={"page": 1})
    page = as_scrapy(served(site, "/thread-7-1-1.html"), request.url, request)
    retry = asyncio.run(mw.process_response(request, page))
    assert isinstance(retry, Request)
    sign = retry.url.partition("?_dsign=")[2]
    assert retry.url == f"{request.url}?_dsign={sign}" and sign in site.issued["127.0.0.1"]
    assert retry.cb_kwargs == {"page": 1}
    assert retry.meta["defences_original_url"] == request.url
    assert stats.values == {"defences/dsign/met": 1}


def test_replica_defences_by_name() -> None:
    from tests.replica.defences import BUILDERS, NAMES, defence_sites

    assert set(BUILDERS) == set(NAMES)
    assert [type(s).__name__ for s in defence_sites(["dsign", "js-challenge"])] == ["Dsign", "JsChallenge"]
    with pytest.raises(ValueError, match=r"unknown defence \['captcha'\]: use any of js-challenge"):
        defence_sites(["captcha"])
