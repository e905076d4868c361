"""Get through a site's defences (JS cookie challenge, Discuz ``_dsign``, Retry-After), or stop cleanly.

The downloader middleware sits outside WARC capture (950), so every challenge, block page and 429 is
still archived as what it was; here it is told apart from content and never reaches a callback:

- **js-challenge**: HTTP 521 (``DEFENCES_CHALLENGE_STATUSES``) with an inline script that computes a
  cookie (加速乐). The scripts run in V8 (mini-racer) against a tiny fake ``document``/``location``/
  ``window``; the cookies they set go on the retried request (into Scrapy's cookie jar, or straight
  into the ``Cookie`` header when ``COOKIES_ENABLED`` is off).
- **dsign**: a 200 page that is nothing but script navigating elsewhere (Discuz anti-leech, which adds
  ``_dsign=...``): the script runs the same way and the crawl follows where it goes.
- **rate-limit**: 429/503 (``RETRY_AFTER_STATUSES``) with ``Retry-After`` (seconds or an HTTP date):
  requests to that host wait that long, then the request is retried; past ``RETRY_AFTER_MAX`` the
  crawl stops. Without ``Retry-After`` the response is left to Scrapy's RetryMiddleware.
- **waf-block** and **login-wall**: pages that say access is denied or a login is needed, and carry
  none of the site's content markup: ignored (``IgnoreRequest``); ``DEFENCES_BLOCK_LIMIT`` of them in
  a row stop the crawl.

A defence the crawl cannot get through stops it with the "blocked" outcome: ``run/blocked_by`` names
the defence and the spider closes with reason ``blocked``. Stats count ``defences/<name>/met``,
``passed`` and ``failed``. A defence page's ``response.meta["defence"]`` names the defence; a response
that got through one carries ``meta["defences_passed"]``, and ``meta["defences_original_url"]`` when a
script sent it to another URL (``..._dsign=...``) than the one requested.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, NoReturn, Protocol
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.asyncio import is_asyncio_available
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.httpobj import urlparse_cached

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

JS_CHALLENGE, DSIGN, WAF_BLOCK = "js-challenge", "dsign", "waf-block"
LOGIN_WALL, RATE_LIMIT = "login-wall", "rate-limit"

DEFAULT_BLOCK_MARKERS = (
    "访问被拒绝", "您的访问被阻断", "对网站造成安全威胁", "Access Denied", "Request Blocked",
    "The requested URL was rejected",
)
DEFAULT_LOGIN_MARKERS = (
    "您无权进行当前操作", "您需要先登录才能继续本操作", "抱歉，您尚未登录", "请先登录后才能",
)
#: Markup only real content pages carry: a page with any of it is never taken for a block page.
DEFAULT_CONTENT_SELECTORS = ("#postlist", "#threadlisttableid", "[id^=category_]", "#artibody", "#article")

_VISIBLE_TEXT = (
    "//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)"
    " and not(ancestor::title)]"
)
_JS_TYPES = {"", "text/javascript", "application/javascript", "application/x-javascript", "text/ecmascript"}


class Stats(Protocol):
    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None: ...

    def set_value(self, key: str, value: Any) -> None: ...

    def get_value(self, key: str, default: Any = None) -> Any: ...


# --- running a page's scripts -------------------------------------------------------------------------
@dataclass
class ScriptCookie:
    """One ``document.cookie = "..."`` assignment."""

    name: str
    value: str
    path: str | None = None
    expired: bool = False
    """``max-age<=0``: the script deleted the cookie."""


@dataclass
class ScriptOutcome:
    """What a page's scripts did to the fake browser."""

    cookies: list[ScriptCookie] = field(default_factory=list)
    navigate: str | None = None
    """Where ``location.href =``/``replace``/``assign``/``location =`` sent the page (as written)."""
    reload: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def did_something(self) -> bool:
        return bool(self.cookies) or self.navigate is not None or self.reload


_HARNESS = """
var __out = {cookies: [], href: null, reload: false, errors: []};
var __jar = %(cookies)s;
var __url = %(url)s;
var __timers = [];
function __setCookie(v) {
  v = String(v); __out.cookies.push(v);
  var nv = v.split(';')[0], i = nv.indexOf('=');
  if (i <= 0) return;
  var n = nv.slice(0, i).trim();
  if (/;\\s*max-age\\s*=\\s*(-\\d+|0)\\s*(;|$)/i.test(v)) { delete __jar[n]; }
  else { __jar[n] = nv.slice(i + 1).trim(); }
}
function __node(tag) {
  return {tagName: String(tag).toUpperCase(), style: {}, childNodes: [], firstChild: null, innerHTML: '',
          setAttribute: function () {}, getAttribute: function () { return null; },
          appendChild: function (c) { return c; }, removeChild: function (c) { return c; },
          addEventListener: function () {}};
}
var __loc = {protocol: __url.protocol, host: __url.host, hostname: __url.hostname, port: __url.port,
             pathname: __url.pathname, search: __url.search, hash: __url.hash, origin: __url.origin,
             reload: function () { __out.reload = true; },
             replace: function (u) { __out.href = String(u); },
             assign: function (u) { __out.href = String(u); },
             toString: function () { return __url.href; }};
Object.defineProperty(__loc, 'href', {get: function () { return __url.href; },
                                       set: function (u) { __out.href = String(u); }});
var __doc = {referrer: '', domain: __url.hostname, URL: __url.href, readyState: 'complete', title: '',
             createElement: __node, getElementById: function () { return null; },
             getElementsByTagName: function () { return [__node('head')]; },
             querySelector: function () { return null; }, querySelectorAll: function () { return []; },
             addEventListener: function () {}, write: function () {}, writeln: function () {},
             documentElement: __node('html'), body: __node('body'), head: __node('head')};
Object.defineProperty(__doc, 'cookie', {
  get: function () { return Object.keys(__jar).map(function (k) { return k + '=' + __jar[k]; }).join('; '); },
  set: __setCookie});
Object.defineProperty(__doc, 'location', {get: function () { return __loc; },
                                           set: function (u) { __out.href = String(u); }});
function __global(name, value) {
  var d = Object.getOwnPropertyDescriptor(globalThis, name);
  if (d && !d.configurable) { globalThis[name] = value; return; }  // mini-racer's own setTimeout
  Object.defineProperty(globalThis, name, {value: value, writable: true, configurable: true});
}
Object.defineProperty(globalThis, 'location', {get: function () { return __loc; },
                                               set: function (u) { __out.href = String(u); },
                                               configurable: true});
__global('document', __doc);
__global('window', globalThis); __global('self', globalThis); __global('top', globalThis);
__global('parent', globalThis);
__global('navigator', {userAgent: %(ua)s, appVersion: %(ua)s, language: 'zh-CN', languages: ['zh-CN', 'zh'],
                       platform: 'Win32', cookieEnabled: true, webdriver: false, plugins: []});
__global('screen', {width: 1920, height: 1080, availWidth: 1920, availHeight: 1040, colorDepth: 24});
__global('setTimeout', function (f) { __timers.push(f); return __timers.length; });
__global('setInterval', function (f) { __timers.push(f); return __timers.length; });
__global('clearTimeout', function (id) { if (id > 0 && id <= __timers.length) { __timers[id - 1] = null; } });
__global('clearInterval', globalThis.clearTimeout);
__global('addEventListener', function () {});
__global('__runTimers', function () {
  for (var i = 0; i < __timers.length && i < 100; i++) {
    var f = __timers[i]; __timers[i] = null;
    try { if (typeof f === 'function') { f(); } else if (f !== null) { (0, eval)(String(f)); } }
    catch (e) { __out.errors.push('timer: ' + e); }
  }
});
"""


def _cookie_assignment(text: str) -> ScriptCookie | None:
    pairs = [p.strip() for p in text.split(";")]
    name, eq, value = pairs[0].partition("=")
    if not eq or not name.strip():
        return None
    cookie = ScriptCookie(name.strip(), value.strip())
    for attr in pairs[1:]:
        key, _, val = attr.partition("=")
        key = key.strip().lower()
        if key == "path":
            cookie.path = val.strip() or None
        elif key == "max-age":
            with contextlib.suppress(ValueError):
                cookie.expired = int(val.strip()) <= 0
    return cookie


def run_page_scripts(scripts: Iterable[str], url: str, cookies: dict[str, str], user_agent: str = "",
                     timeout: float = 5.0, max_memory: int = 64 * 1024 * 1024) -> ScriptOutcome:
    """Run a page's inline scripts in V8, in order, as a browser at ``url`` holding ``cookies`` would,
    then its timers; return the cookies they set and where they navigated. Never raises on bad script."""
    from py_mini_racer import MiniRacer
    from py_mini_racer._exc import MiniRacerBaseException

    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    location = {
        "href": url, "protocol": f"{parts.scheme}:", "host": parts.netloc, "hostname": parts.hostname or "",
        "port": str(parts.port or ""), "pathname": parts.path or "/",
        "search": f"?{parts.query}" if parts.query else "", "hash": f"#{parts.fragment}" if parts.fragment else "",
        "origin": origin,
    }
    harness = _HARNESS % {"cookies": json.dumps(cookies), "url": json.dumps(location), "ua": json.dumps(user_agent)}
    outcome = ScriptOutcome()
    with MiniRacer() as js:
        js.eval(harness)
        for script in scripts:
            try:
                js.eval(script, timeout_sec=timeout, max_memory=max_memory)
            except MiniRacerBaseException as e:
                outcome.errors.append(_first_line(e))
        try:
            js.eval("__runTimers()", timeout_sec=timeout, max_memory=max_memory)
            raw = js.eval("JSON.stringify(__out)", timeout_sec=timeout)
        except MiniRacerBaseException as e:
            outcome.errors.append(_first_line(e))
            return outcome
    out = json.loads(str(raw))
    outcome.cookies = [c for c in (_cookie_assignment(str(v)) for v in out["cookies"]) if c is not None]
    outcome.navigate = out["href"]
    outcome.reload = bool(out["reload"])
    outcome.errors += [str(e) for e in out["errors"]]
    return outcome


def _first_line(error: Exception) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    # V8 messages put the error itself after the source excerpt: keep the line naming it.
    named = [line for line in lines if re.match(r"^\w*Error\b|^Uncaught", line.strip())]
    return (named or lines or [type(error).__name__])[0].strip()


# --- reading responses ---------------------------------------------------------------------------------
def retry_after_seconds(value: str, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP date; ``now`` in Unix time),
    None when it is neither."""
    value = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def inline_scripts(response: TextResponse) -> list[str]:
    """The text of each inline JavaScript ``<script>`` of a page, in page order."""
    scripts = []
    for script in response.xpath("//script[not(@src)]"):
        kind = (script.attrib.get("type") or "").strip().lower()
        if kind not in _JS_TYPES:
            continue
        text = "".join(script.xpath("text()").getall())
        if text.strip():
            scripts.append(text)
    return scripts


def _is_html(response: Response) -> bool:
    if isinstance(response, HtmlResponse):
        return True
    kind = response.headers.get(b"Content-Type", b"") or b""
    return isinstance(response, TextResponse) and b"html" in kind.lower()


def request_cookies(request: Request) -> dict[str, str]:
    """Cookies a request carries in its ``Cookie`` header(s)."""
    found: dict[str, str] = {}
    for header in request.headers.getlist(b"Cookie"):
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header.decode("latin-1"))
        except Exception:
            continue
        found.update({name: morsel.value for name, morsel in jar.items()})
    return found


def set_cookies(response: Response) -> dict[str, str]:
    """name -> value of each ``Set-Cookie`` of a response."""
    found: dict[str, str] = {}
    for header in response.headers.getlist(b"Set-Cookie"):
        name, eq, rest = header.decode("latin-1").partition("=")
        if eq and name.strip():
            found[name.strip()] = rest.partition(";")[0].strip()
    return found


# --- the middleware ------------------------------------------------------------------------------------
class DefencesMiddleware:
    """Downloader middleware: passes JS challenges and ``_dsign``, honours Retry-After, drops block and
    login pages, and stops the crawl as "blocked" when a defence cannot be passed."""

    def __init__(
        self,
        *,
        stats: Stats,
        stop: Callable[[], None],
        challenge_tries: int = 3,
        challenge_statuses: Iterable[int] = (521,),
        js_timeout: float = 5.0,
        script_page_max_bytes: int = 64 * 1024,
        block_limit: int = 5,
        block_markers: Iterable[str] = DEFAULT_BLOCK_MARKERS,
        login_markers: Iterable[str] = DEFAULT_LOGIN_MARKERS,
        content_selectors: Iterable[str] = DEFAULT_CONTENT_SELECTORS,
        retry_after_statuses: Iterable[int] = (429, 503),
        retry_after_max: float = 600.0,
        retry_after_times: int = 5,
        cookies_enabled: bool = True,
        user_agent: str = "",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        hold_slot: Callable[[Request, float], None] | None = None,
    ) -> None:
        self.stats = stats
        self.stop = stop
        self.challenge_tries = challenge_tries
        self.challenge_statuses = frozenset(challenge_statuses)
        self.js_timeout = js_timeout
        self.script_page_max_bytes = script_page_max_bytes
        self.block_limit = block_limit
        self.block_markers = tuple(block_markers)
        self.login_markers = tuple(login_markers)
        self.content_selectors = tuple(content_selectors)
        self.retry_after_statuses = frozenset(retry_after_statuses)
        self.retry_after_max = retry_after_max
        self.retry_after_times = retry_after_times
        self.cookies_enabled = cookies_enabled
        self.user_agent = user_agent
        self.sleep = sleep
        self.clock = clock
        self.wall_clock = wall_clock
        self.hold_slot = hold_slot
        self.blocked_by: str | None = None
        self.consecutive_blocks = 0
        self.resume_at: dict[str, float] = {}
        """Host -> ``clock()`` time before which no request goes to it (Retry-After)."""
        self.host_cookies: dict[str, dict[str, str]] = {}
        """Host -> cookies the defences handed out, sent by us when Scrapy's cookie jar is off."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DefencesMiddleware:
        s = crawler.settings
        if not s.getbool("DEFENCES_ENABLED", True):
            raise NotConfigured("DEFENCES_ENABLED is off: challenge, block and login pages go to callbacks")
        for name in ("DEFENCES_CHALLENGE_TRIES", "DEFENCES_BLOCK_LIMIT", "RETRY_AFTER_TIMES"):
            if s.getint(name, 1) < 1:
                raise ValueError(f"{name}={s.get(name)!r} must be 1 or more, e.g. -s {name}=3")
        if s.getfloat("RETRY_AFTER_MAX", 600) < 0:
            raise ValueError(f"RETRY_AFTER_MAX={s.get('RETRY_AFTER_MAX')!r} must be seconds >= 0, "
                             "e.g. -s RETRY_AFTER_MAX=600")
        if not is_asyncio_available():
            raise ValueError("DefencesMiddleware waits and runs scripts on asyncio: set TWISTED_REACTOR="
                             "twisted.internet.asyncioreactor.AsyncioSelectorReactor")
        assert crawler.stats is not None

        closing: list[Any] = []  # keeps the closing Deferred referenced until it fires

        def stop() -> None:
            assert crawler.engine is not None
            d = deferred_from_coro(crawler.engine.close_spider_async(reason="blocked"))
            d.addErrback(lambda f: logger.error("could not close the spider as blocked: %s", f.value))
            closing.append(d)

        def hold_slot(request: Request, until: float) -> None:
            # Requests already queued in Scrapy's downloader slot passed process_request: moving the
            # slot's last-seen time ahead holds them too (Scrapy waits lastseen + delay, when delay > 0).
            if crawler.engine is None:
                return
            downloader = crawler.engine.downloader
            slot = downloader.slots.get(downloader.get_slot_key(request))
            if slot is not None:
                slot.lastseen = max(slot.lastseen, until)

        return cls(
            stats=crawler.stats,
            stop=stop,
            challenge_tries=s.getint("DEFENCES_CHALLENGE_TRIES", 3),
            challenge_statuses=[int(x) for x in s.getlist("DEFENCES_CHALLENGE_STATUSES", [521])],
            js_timeout=s.getfloat("DEFENCES_JS_TIMEOUT", 5.0),
            script_page_max_bytes=s.getint("DEFENCES_SCRIPT_PAGE_MAX_BYTES", 64 * 1024),
            block_limit=s.getint("DEFENCES_BLOCK_LIMIT", 5),
            block_markers=s.getlist("DEFENCES_BLOCK_MARKERS", list(DEFAULT_BLOCK_MARKERS)),
            login_markers=s.getlist("DEFENCES_LOGIN_MARKERS", list(DEFAULT_LOGIN_MARKERS)),
            content_selectors=s.getlist("DEFENCES_CONTENT_SELECTORS", list(DEFAULT_CONTENT_SELECTORS)),
            retry_after_statuses=[int(x) for x in s.getlist("RETRY_AFTER_STATUSES", [429, 503])],
            retry_after_max=s.getfloat("RETRY_AFTER_MAX", 600.0),
            retry_after_times=s.getint("RETRY_AFTER_TIMES", 5),
            cookies_enabled=s.getbool("COOKIES_ENABLED", True),
            user_agent=s.get("USER_AGENT") or "",
            hold_slot=hold_slot,
        )

    # --- requests ---
    @staticmethod
    def host(request: Request) -> str:
        return urlparse_cached(request).hostname or ""

    async def process_request(self, request: Request) -> None:
        if self.blocked_by is not None:
            raise IgnoreRequest(f"not sent: the crawl is stopping, blocked by {self.blocked_by}")
        host = self.host(request)
        while (wait := self.resume_at.get(host, 0.0) - self.clock()) > 0:
            await self.sleep(wait)
        if not self.cookies_enabled and self.host_cookies.get(host):
            cookies = {**request_cookies(request), **self.host_cookies[host]}
            request.headers[b"Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())

    # --- responses ---
    def classify(self, response: Response) -> str | None:
        """The defence a response is, or None when it is the site's own answer."""
        if response.status in self.retry_after_statuses and response.headers.get(b"Retry-After"):
            value = (response.headers.get(b"Retry-After") or b"").decode("latin-1")
            if retry_after_seconds(value, self.wall_clock()) is not None:
                return RATE_LIMIT
        if not _is_html(response):
            return None
        assert isinstance(response, TextResponse)
        if response.status in self.challenge_statuses and inline_scripts(response):
            return JS_CHALLENGE
        if any(response.css(selector) for selector in self.content_selectors):
            return None
        visible = " ".join(response.xpath(_VISIBLE_TEXT).getall())
        title = " ".join(response.xpath("//title//text()").getall())
        if any(marker in visible or marker in title for marker in self.login_markers):
            return LOGIN_WALL
        if any(marker in visible or marker in title for marker in self.block_markers):
            return WAF_BLOCK
        if (not visible.strip() and len(response.body) <= self.script_page_max_bytes
                and inline_scripts(response)):
            return DSIGN
        return None

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        name = self.classify(response)
        if name is None:
            self.consecutive_blocks = 0
            passed = request.meta.get("defences_pending") or []
            for defence in passed:
                self.stats.inc_value(f"defences/{defence}/passed")
            if passed:
                request.meta["defences_passed"] = list(passed)
            return response
        request.meta["defence"] = name
        self.stats.inc_value(f"defences/{name}/met")
        if name == RATE_LIMIT:
            return self._wait_and_retry(request, response)
        if name in (JS_CHALLENGE, DSIGN):
            return await self._solve(name, request, response)
        self._refuse(name, request, response)

    def _retry(self, name: str, request: Request, url: str | None = None,
               cookies: dict[str, str] | None = None, paths: dict[str, str | None] | None = None) -> Request:
        meta = {k: v for k, v in request.meta.items() if k not in ("defence", "defences_passed")}
        tries = dict(meta.get("defences_tries") or {})
        tries[name] = tries.get(name, 0) + 1
        meta["defences_tries"] = tries
        meta["defences_pending"] = sorted({*(meta.get("defences_pending") or []), name})
        changes: dict[str, Any] = {"meta": meta, "dont_filter": True}
        if url is not None and url != request.url:
            changes["url"] = url
            # Where the crawl meant to go, for whoever keys on URLs (dedupe, state) after a _dsign detour.
            meta.setdefault("defences_original_url", request.url)
        if cookies and self.cookies_enabled:
            changes["cookies"] = _merged_cookies(request.cookies, cookies, paths or {})
        retry: Request = request.replace(**changes)
        return retry

    def _tries(self, name: str, request: Request) -> int:
        return int((request.meta.get("defences_tries") or {}).get(name, 0))

    async def _solve(self, name: str, request: Request, response: Response) -> Request:
        assert isinstance(response, TextResponse)
        tries = self._tries(name, request)
        if tries >= self.challenge_tries:
            self._give_up(name, request, f"{response.url} still answers with a {name} page after {tries} "
                                         f"solved tries (DEFENCES_CHALLENGE_TRIES={self.challenge_tries})")
        host = self.host(request)
        held = {**request_cookies(request), **set_cookies(response)}
        # The script sees the user agent the request went out with (challenges may hash it).
        sent_agent = (request.headers.get(b"User-Agent") or b"").decode("latin-1") or self.user_agent
        outcome = await asyncio.to_thread(run_page_scripts, inline_scripts(response), response.url, held,
                                          sent_agent, self.js_timeout)
        if outcome.errors:
            logger.warning("%s script of %s failed (try %d of %d): %s", name, response.url, tries + 1,
                           self.challenge_tries, "; ".join(outcome.errors))
        target = urljoin(response.url, outcome.navigate) if outcome.navigate is not None else None
        if target is not None and urlsplit(target).hostname != urlsplit(response.url).hostname:
            self._give_up(name, request, f"the {name} script of {response.url} navigates off-site to {target}")
        cookies = {c.name: c.value for c in outcome.cookies if not c.expired}
        paths = {c.name: c.path for c in outcome.cookies if not c.expired}
        if not outcome.did_something:
            logger.warning("%s script of %s set no cookie and went nowhere (try %d of %d)", name,
                           response.url, tries + 1, self.challenge_tries)
        # The site's own cookies (__jsluid) travel with the solved one, as in a browser.
        self.host_cookies.setdefault(host, {}).update({**set_cookies(response), **cookies})
        logger.info("%s at %s: script set %s, going to %s", name, response.url, sorted(cookies) or "no cookie",
                    target or request.url)
        return self._retry(name, request, url=target, cookies=cookies, paths=paths)

    def _wait_and_retry(self, request: Request, response: Response) -> Request:
        value = (response.headers.get(b"Retry-After") or b"").decode("latin-1")
        wait = retry_after_seconds(value, self.wall_clock())
        assert wait is not None
        tries = self._tries(RATE_LIMIT, request)
        if wait > self.retry_after_max:
            self._give_up(RATE_LIMIT, request, f"{response.url} answered {response.status} with Retry-After: {value} "
                                               f"({wait:.0f}s), more than RETRY_AFTER_MAX={self.retry_after_max:g}s; "
                                               "raise it with -s RETRY_AFTER_MAX=SECONDS to wait")
        if tries >= self.retry_after_times:
            self._give_up(RATE_LIMIT, request, f"{response.url} still answers {response.status} after {tries} "
                                               f"waits (RETRY_AFTER_TIMES={self.retry_after_times})")
        host = self.host(request)
        until = max(self.resume_at.get(host, 0.0), self.clock() + wait)
        self.resume_at[host] = until
        if self.hold_slot is not None:
            self.hold_slot(request, until)
        waited = f"defences/{RATE_LIMIT}/waited_seconds"
        self.stats.set_value(waited, round(float(self.stats.get_value(waited, 0)) + wait, 3))
        logger.info("%s answered %d, Retry-After: %s: holding requests to %s for %.1fs", response.url,
                    response.status, value, host, wait)
        return self._retry(RATE_LIMIT, request)

    def _refuse(self, name: str, request: Request, response: Response) -> NoReturn:
        self.stats.inc_value(f"defences/{name}/failed")
        self.consecutive_blocks += 1
        if self.consecutive_blocks >= self.block_limit:
            self._block_run(name, f"{self.consecutive_blocks} {name} pages in a row, the last {response.url} "
                                  f"(DEFENCES_BLOCK_LIMIT={self.block_limit})")
        logger.warning("%s page instead of content at %s: not parsed", name, response.url)
        raise IgnoreRequest(f"{name} page instead of content: {response.url}")

    def _give_up(self, name: str, request: Request, why: str) -> NoReturn:
        self.stats.inc_value(f"defences/{name}/failed")
        self._block_run(name, why)
        raise IgnoreRequest(f"{name}: {why}")

    def _block_run(self, name: str, why: str) -> None:
        if self.blocked_by is not None:
            return
        self.blocked_by = name
        self.stats.set_value("run/blocked_by", name)
        logger.error("Blocked by %s: %s. Stopping the crawl with outcome 'blocked'.", name, why)
        self.stop()


def _merged_cookies(existing: Any, new: dict[str, str], paths: dict[str, str | None]) -> list[dict[str, str]]:
    """``Request.cookies`` (a dict or a list of dicts) with ``new`` set over it, as a list of dicts."""
    if isinstance(existing, dict):
        merged = [{"name": str(k), "value": str(v)} for k, v in existing.items()]
    else:
        merged = [dict(c) for c in existing or []]
    merged = [c for c in merged if c.get("name") not in new]
    for name, value in new.items():
        cookie = {"name": name, "value": value}
        if paths.get(name):
            cookie["path"] = str(paths[name])
        merged.append(cookie)
    return merged
