"""Defences the real forum puts up, as replica sites placed before ``DiscuzSite``: each answers or passes on.

``Replica([JsChallenge(), Dsign(views=3), DiscuzSite(board)])``: a defence returns its own page for the
requests it stops and None for the ones it lets through, so the forum behind it answers those. Each
keeps a record of what it did (``challenged``, ``passed``, ...) for the tests to compare with the crawl.

The JS challenge and ``_dsign`` scripts compute their value (an FNV-1a hash over a per-issue nonce, in a
loop whose length is itself computed) so only running the script can pass them: the value is never in
the page, and it differs per client and per seed.
"""

from __future__ import annotations

import html
import math
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from email.utils import formatdate
from http.cookies import SimpleCookie

from tests.replica.server import Request, Response, Site

#: The defence names of the crawl's stats (``defences/<name>/met``) and of ``run/blocked_by``.
NAMES = ("js-challenge", "dsign", "waf-block", "login-wall", "rate-limit")
_THREAD = re.compile(r"^/thread-(\d+)-(\d+)-\d+\.html$")
_FNV_JS = (
    "function _0x5e(s,n){var h=0x811c9dc5;for(var r=0;r<n;r++){for(var i=0;i<s.length;i++)"
    "{h^=s.charCodeAt(i);h=Math.imul(h,0x01000193)>>>0;}}return ('0000000'+h.toString(16)).slice(-8);}"
)


def fnv_rounds(text: str, rounds: int) -> str:
    """FNV-1a (32 bit) of ``text`` repeated ``rounds`` times, 8 hex digits: what the scripts compute."""
    h = 0x811C9DC5
    for _ in range(rounds):
        for ch in text:
            h ^= ord(ch)
            h = (h * 0x01000193) & 0xFFFFFFFF
    return f"{h:08x}"


def _cookies(request: Request) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(request.headers.get("cookie", ""))
    except Exception:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


class _Obfuscator:
    """Writes strings and numbers the way obfuscated challenge scripts do: XOR-ed char codes, sums."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.key = rng.randint(17, 250)

    def prelude(self) -> str:
        return (f"var _0x6b={self.key};var _0xd=function(a){{return String.fromCharCode.apply(null,"
                f"a.map(function(x){{return x^_0x6b;}}));}};")

    def string(self, text: str) -> str:
        return "_0xd([" + ",".join(str(ord(c) ^ self.key) for c in text) + "])"

    def number(self, value: int) -> str:
        a = self.rng.randint(1, 97)
        b = value // a
        return f"({a}*{b}+{value - a * b})"


class JsChallenge:
    """HTTP 521 and a 加速乐-style script computing ``__jsl_clearance`` until the client sends it back.

    ``mode``: ``solvable``; ``wrong-cookie`` (the script sets a cookie the server never accepts);
    ``throws`` (the script fails before it sets any cookie). ``paths``: a regex of paths to guard
    (default: every path, robots.txt included, as on the real site).
    """

    def __init__(self, seed: int = 521, mode: str = "solvable", paths: str = "") -> None:
        if mode not in ("solvable", "wrong-cookie", "throws"):
            raise ValueError(f"JsChallenge mode {mode!r}: use solvable, wrong-cookie or throws")
        self.rng = random.Random(seed)
        self.mode = mode
        self.paths = re.compile(paths)
        self.expected: dict[str, str] = {}
        """``__jsluid_h`` -> the ``__jsl_clearance`` that passes with it."""
        self.challenged: list[str] = []
        self.passed: list[str] = []
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response | None:
        if not self.paths.search(request.path):
            return None
        cookies = _cookies(request)
        with self._lock:
            uid, clearance = cookies.get("__jsluid_h"), cookies.get("__jsl_clearance")
            if uid and clearance and self.expected.get(uid) == clearance:
                self.passed.append(request.raw_target)
                return None
            self.challenged.append(request.raw_target)
            uid = f"{self.rng.getrandbits(128):032x}"
            script, clearance = self.script(uid)
            self.expected[uid] = clearance
        body = f"<html><body><script>{script}</script></body></html>".encode()
        return Response(521, body, [
            ("Content-Type", "text/html"),
            ("Set-Cookie", f"__jsluid_h={uid}; max-age=31536000; path=/; HttpOnly"),
        ], reason="Origin Down")

    def script(self, uid: str) -> tuple[str, str]:
        """The challenge script for one issue, and the clearance value the server will accept."""
        rng, o = self.rng, _Obfuscator(self.rng)
        salt = "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(16))
        rounds = rng.randint(40, 160)
        stamp = f"{int(time.time())}.{rng.randint(100, 999)}"
        token = fnv_rounds(uid + salt, rounds) + fnv_rounds(salt + uid, rounds + 7)
        expected = f"{stamp}|0|{token}"
        if self.mode == "wrong-cookie":
            expected = f"{stamp}|0|{fnv_rounds(uid + salt[::-1], rounds)}{token[8:]}"
        fail = "_0x9f(_0x1c);" if self.mode == "throws" else ""
        navigate = rng.choice([
            "setTimeout('location.href=location.pathname+location.search.replace(/[\\\\?|&]captcha-challenge/,\\'\\')',1500);",
            "location.reload();",
            "window.location.href=location.pathname+location.search;",
        ])
        script = (
            f"{o.prelude()}{_FNV_JS}"
            f"var _0x1c=document.cookie.match(new RegExp({o.string('__jsluid_h')}+'=([0-9a-f]+)'))[1];"
            f"var _0x2a={o.string(salt)};var _0x3f={o.number(rounds)};"
            f"var _0x47=[{o.number(int(stamp.split('.')[0]))},{o.number(int(stamp.split('.')[1]))}].join('.');"
            f"{fail}"
            f"document.cookie={o.string('__jsl_clearance')}+'='+_0x47+'|0|'+_0x5e(_0x1c+_0x2a,_0x3f)"
            f"+_0x5e(_0x2a+_0x1c,_0x3f+7)+';max-age=3600;path=/';"
            f"{navigate}"
        )
        return script, expected


class Dsign:
    """Discuz anti-leech: after ``views`` page-1 thread views from one client, a 200 page of script
    that sends the browser to the same URL plus ``_dsign=<computed>``; the page serves with a valid one.

    ``mode``: ``solvable`` or ``unsolvable`` (the script computes a value the server never accepts).
    """

    def __init__(self, views: int = 3, seed: int = 7, mode: str = "solvable") -> None:
        if mode not in ("solvable", "unsolvable"):
            raise ValueError(f"Dsign mode {mode!r}: use solvable or unsolvable")
        self.limit = views
        self.rng = random.Random(seed)
        self.mode = mode
        self.views: Counter[str] = Counter()
        self.issued: dict[str, set[str]] = {}
        self.challenged: list[str] = []
        self.passed: list[str] = []
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response | None:
        m = _THREAD.match(request.path)
        if not m or m.group(2) != "1":
            return None
        sign = request.query.get("_dsign", [""])[0]
        with self._lock:
            if sign and sign in self.issued.get(request.client, set()):
                self.passed.append(request.raw_target)
                return None
            self.views[request.client] += 1
            if self.views[request.client] <= self.limit:
                return None
            self.challenged.append(request.raw_target)
            script, sign = self.script()
            self.issued.setdefault(request.client, set()).add(sign)
        page = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk" /></head>'
                f'<body><script type="text/javascript">{script}</script></body></html>')
        return Response(200, page.encode("gbk"), [("Content-Type", "text/html; charset=gbk")])

    def script(self) -> tuple[str, str]:
        rng, o = self.rng, _Obfuscator(self.rng)
        nonce = f"{rng.getrandbits(64):016x}"
        rounds = rng.randint(20, 90)
        sign = fnv_rounds(nonce, rounds)
        if self.mode == "unsolvable":
            sign = fnv_rounds(nonce[::-1], rounds)
        script = (
            f"{o.prelude()}{_FNV_JS}"
            f"var _0x11=location.href.replace(/[\\?&]_dsign=[^&]*/,'');"
            f"var _0x12={o.string('_dsign')};var _0x13=_0x5e({o.string(nonce)},{o.number(rounds)});"
            "location.replace(_0x11+(_0x11.indexOf('?')<0?'?':'&')+_0x12+'='+_0x13);"
        )
        return script, sign


WAF_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>访问被拒绝</title></head>
<body><div class="wrap"><img src="https://errors.aliyun.com/images/TB1TpamHpXXXXaJXXXXeB7nYVXX-104-162.png" alt="">
<h1>很抱歉，由于您访问的URL有可能对网站造成安全威胁，您的访问被阻断。</h1>
<p>您的请求ID是: <strong>{request_id}</strong></p>
<p>如果您是网站管理员，请登录阿里云WAF控制台确认是否为误拦截。</p></div></body></html>
"""


class WafBlock:
    """An Alibaba Cloud WAF block page (status 200 by default) for paths matching ``paths``,
    once ``after`` requests have gone through (so a crawl can be let in, then shut out)."""

    def __init__(self, paths: str = "", after: int = 0, status: int = 200) -> None:
        self.paths = re.compile(paths)
        self.after = after
        self.status = status
        self.seen = 0
        self.blocked: list[str] = []
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response | None:
        with self._lock:
            self.seen += 1
            if self.seen <= self.after or not self.paths.search(request.path):
                return None
            self.blocked.append(request.raw_target)
            request_id = f"{len(self.blocked):04d}{self.seen:08x}"
        body = WAF_PAGE.format(request_id=request_id).encode()
        return Response(self.status, body, [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Set-Cookie", f"acw_tc={request_id}; path=/; HttpOnly; Max-Age=1800"),
        ])


LOGIN_PAGE = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head>
<meta http-equiv="Content-Type" content="text/html; charset=gbk" />
<title>提示信息 -  我爱卡论坛 -  Powered by Discuz!</title></head>
<body id="nv_forum" class="pg_viewthread">
<div id="toptb" class="cl"><div class="wp"><div class="y"><a href="member.php?mod=logging&amp;action=login">登录</a><a href="member.php?mod=register">立即注册</a></div></div></div>
<div id="wp" class="wp"><div id="pt" class="bm cl"><div class="z"><a href="./" class="nvhm" title="首页">我爱卡论坛</a><em>&raquo;</em>提示信息</div></div>
<div id="ct" class="wp cl w"><div class="nfl"><div class="f_c altw">
<div id="messagetext" class="alert_info"><p>您无权进行当前操作，原因如下：</p><p>{reason}</p></div>
<div id="messagelogin"></div>
<script type="text/javascript">ajaxget('member.php?mod=logging&action=login&infloat=yes&frommessage', 'messagelogin');</script>
</div></div></div></div></body></html>
"""


class LoginWall:
    """Discuz's "您无权进行当前操作" message page (status 200) for every page of the given threads
    (None: every thread whose id is a multiple of 5)."""

    def __init__(self, tids: set[int] | None = None, reason: str = "对不起，您所在的用户组(游客)无法进行此操作。") -> None:
        self.tids = tids
        self.reason = reason
        self.walled: list[str] = []
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response | None:
        m = _THREAD.match(request.path)
        tid = int(m.group(1)) if m else 0
        if not m or (tid not in self.tids if self.tids is not None else tid % 5):
            return None
        with self._lock:
            self.walled.append(request.raw_target)
        body = LOGIN_PAGE.format(reason=html.escape(self.reason)).encode("gbk")
        return Response(200, body, [("Content-Type", "text/html; charset=gbk")])


class RateLimit:
    """``status`` (429 or 503) with ``Retry-After`` for the first ``first`` requests of each path matching
    ``paths``: ``seconds`` as a number, or with ``http_date`` as an HTTP date at least that far ahead."""

    def __init__(self, paths: str, first: int = 1, seconds: float = 1, status: int = 429,
                 http_date: bool = False) -> None:
        self.paths = re.compile(paths)
        self.first = first
        self.seconds = seconds
        self.status = status
        self.http_date = http_date
        self.counts: Counter[str] = Counter()
        self.limited: list[tuple[float, str, float]] = []
        """(``time.monotonic()`` when answered, request target, seconds the client was told to wait)."""
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response | None:
        if not self.paths.search(request.path):
            return None
        with self._lock:
            self.counts[request.path] += 1
            if self.counts[request.path] > self.first:
                return None
            now, wall = time.monotonic(), time.time()
            if self.http_date:
                # HTTP dates have whole seconds: round up, so the date is never earlier than promised.
                until = math.ceil(wall + self.seconds)
                value, wait = formatdate(until, usegmt=True), until - wall
            else:
                value, wait = f"{self.seconds:g}", self.seconds
            self.limited.append((now, request.raw_target, wait))
        reason = "Too Many Requests" if self.status == 429 else "Service Unavailable"
        return Response(self.status, f"<html><body><h1>{self.status} {reason}</h1></body></html>".encode(),
                        [("Content-Type", "text/html"), ("Retry-After", value)], reason=reason)


def robots_disallowing(*prefixes: str) -> str:
    """A robots.txt that disallows the given path prefixes (plus what the forum always disallows)."""
    lines = ["User-agent: *", "Disallow: /api/", "Disallow: /home.php", *(f"Disallow: {p}" for p in prefixes)]
    return "\n".join(lines) + "\n"


#: Each defence by its stats name, with replica defaults (for ``python -m tests.replica --defence NAME``).
BUILDERS: dict[str, Callable[[], Site]] = {
    "js-challenge": JsChallenge,
    "dsign": Dsign,
    "waf-block": lambda: WafBlock(paths=r"^/thread-", after=20),
    "login-wall": LoginWall,
    "rate-limit": lambda: RateLimit(paths=r"^/(forum|thread)-", seconds=2),
}


def defence_sites(names: list[str]) -> list[Site]:
    """The defences named (in the order given), to place before the forum: ``Replica([*sites, forum])``."""
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        raise ValueError(f"unknown defence {unknown!r}: use any of {', '.join(BUILDERS)}")
    return [BUILDERS[n]() for n in names]
