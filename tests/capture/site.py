"""A replica site serving one case per path: framing, reason phrases, raw header bytes, errors, big bodies."""

from __future__ import annotations

import gzip
from urllib.parse import unquote

from tests.replica.server import Request, Response

HTML = "text/html; charset=utf-8"
CHUNKED_BODY = b"".join(b"<p>chunk line %05d</p>\n" % n for n in range(600))
#: Over archive.writer.DEDUP_MIN_PAYLOAD, so that a second crawl writes it as a revisit.
LENGTH_BODY = b"<html><body>" + b"<p>a body framed by Content-Length</p>" * 16 + b"</body></html>"
GZIP_BODY = b"<html><body>" + b"<p>compressible text, repeated</p>" * 50 + b"</body></html>"
#: What the replica sends for ``/gzip`` (it compresses with mtime=0, so the bytes are fixed).
GZIP_WIRE = gzip.compress(GZIP_BODY, mtime=0)
BIG_BODY = b"".join(b"%07d\n" % n for n in range(8192))  # 64 KiB
BIG_MAXSIZE = 20_000
REASON = "Very OK Indeed"
GBK_FORUM = "信用卡论坛"
ROBOTS = b"User-agent: *\nDisallow: /private\n"
CHINESE_PATH = "/论坛/帖子.html"
#: Ids the GBK page's item carries.
GBK_PAGE_TID = "1234"
GBK_PAGE_PID = "43706324"
#: One character only GB18030 has (four bytes), and one byte no GBK decoder accepts: decoded as
#: gb18030 the page holds exactly one U+FFFD; decoded as gbk it would hold three.
GBK_PAGE = (
    b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk">'
    b"<title>" + "信用卡 \U00020000".encode("gb18030") + b"</title></head><body>"
    b"<p>" + "办卡经验分享".encode("gbk") + b" \xff</p>"
    b'<a href="/length">length</a> <a href="/outlink-only?x=1">more</a>'
    b"</body></html>"
)
GBK_PAGE_REPLACEMENTS = 1


class CaptureSite:
    """Answers the paths the capture spider requests; None for others (the replica then says 404)."""

    def handle(self, request: Request) -> Response | None:
        path = unquote(request.path)
        if path == "/robots.txt":
            return Response(200, ROBOTS, [("Content-Type", "text/plain")])
        if path == "/chunked":
            return Response(200, CHUNKED_BODY, [("Content-Type", HTML)], chunked=True)
        if path in ("/length", "/redirect-target"):
            return Response(200, LENGTH_BODY, [("Content-Type", HTML)])
        if path == "/reason":
            return Response(200, LENGTH_BODY, [("Content-Type", HTML)], reason=REASON)
        if path == "/gbk-header":
            # send_header writes str as latin-1: these are the GBK bytes on the wire.
            raw = GBK_FORUM.encode("gbk").decode("latin-1")
            return Response(200, LENGTH_BODY, [("Content-Type", HTML), ("X-Forum", raw)])
        if path == "/gzip":
            return Response(200, GZIP_BODY, [("Content-Type", HTML)], gzip=True)
        if path == "/search":
            return Response(200, b"<html><body>results</body></html>", [("Content-Type", HTML)])
        if path == CHINESE_PATH:
            return Response(200, "<html><body>帖子</body></html>".encode(), [("Content-Type", HTML)])
        if path == "/redirect":
            return Response(302, b"", [("Location", "/redirect-target")])
        if path == "/error":
            return Response(500, b"<html><body>boom</body></html>", [("Content-Type", HTML)])
        if path == "/big-chunked":
            return Response(200, BIG_BODY, [("Content-Type", "text/plain")], chunked=True)
        if path == "/big-length":
            return Response(200, BIG_BODY, [("Content-Type", "text/plain")])
        if path == "/page-gbk.html":
            return Response(200, GBK_PAGE, [("Content-Type", "text/html; charset=GBK")])
        return None
