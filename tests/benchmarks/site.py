"""The benchmark's sites: replica pages rendered once to static files at their URL paths, for nginx to serve.

A site on a 2-core machine must cost next to nothing to serve, or the crawler is measured against its own
server: so every page is rendered ahead by the replica's own ``handle`` (same bytes, same headers as in the
tests) and written where nginx finds it. A path whose answer depends on its query string (Sina's roll API)
is a :class:`QueryRoute`: the file is named by the values of the arguments that matter, and nginx picks it
with ``$arg_…`` in ``try_files``.
"""

from __future__ import annotations

import importlib
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.replica.server import Request, Response, Site


class SiteUnavailable(RuntimeError):
    """A site's replica is not in this checkout yet (e.g. ``tests/replica/sina.py`` before it is merged)."""


@dataclass(frozen=True)
class QueryRoute:
    """A path answered by a file chosen by some query arguments, e.g. ``/api/roll/get`` by pageid, lid, page."""

    path: str
    args: tuple[str, ...]
    content_type: str
    """The whole ``Content-Type`` of every answer on this path."""

    def file_for(self, query: dict[str, list[str]]) -> str:
        missing = [a for a in self.args if not query.get(a)]
        if missing:
            raise ValueError(f"{self.path}?… lacks {missing}: a QueryRoute picks its file by {self.args}")
        return f"{self.path}.d/" + "-".join(query[a][0] for a in self.args)

    def try_files(self) -> str:
        return f"{self.path}.d/" + "-".join(f"$arg_{a}" for a in self.args)


def _split_type(value: str) -> tuple[str, str | None]:
    mime, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, val = param.strip().partition("=")
        if name.lower() == "charset" and val:
            charset = val.strip().strip('"')
    return mime.strip(), charset


@dataclass
class StaticSite:
    """One site's files under ``root``, served at ``base_url`` (``http://127.0.0.1:PORT/``)."""

    root: Path
    port: int
    query_routes: list[QueryRoute] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    """Every request target written (path, and query for a QueryRoute), in the order rendered."""
    bytes_written: int = 0
    mime_by_extension: dict[str, str] = field(default_factory=dict)
    charset_by_path: dict[str, str | None] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def pages(self) -> int:
        return len(self.targets)

    def default_charset(self) -> str | None:
        counts: dict[str | None, int] = {}
        for charset in self.charset_by_path.values():
            counts[charset] = counts.get(charset, 0) + 1
        return max(counts, key=lambda c: counts[c]) if counts else None

    def add(self, target: str, response: Response) -> None:
        """Write the answer to ``target`` where nginx will find it."""
        if response.status != 200 or response.gzip or response.chunked:
            raise ValueError(f"{target}: a benchmark site serves plain 200 answers, got {response.status} "
                             f"(gzip={response.gzip}, chunked={response.chunked})")
        parts = urlsplit(target)
        content_type = next((v for k, v in response.headers if k.lower() == "content-type"), "text/html")
        route = next((r for r in self.query_routes if r.path == parts.path), None)
        if route is not None:
            if content_type != route.content_type:
                raise ValueError(f"{target}: Content-Type {content_type!r}, but its route serves "
                                 f"{route.content_type!r}")
            relative = route.file_for(parse_qs(parts.query, keep_blank_values=True))
        else:
            if parts.query:
                raise ValueError(f"{target} has a query string: add a QueryRoute for {parts.path}")
            relative = parts.path
            if relative.endswith("/"):
                raise ValueError(f"{target}: a directory URL; give the page a file name")
            mime, charset = _split_type(content_type)
            ext = Path(relative).suffix.lstrip(".")
            if not ext:
                raise ValueError(f"{target}: nginx picks the type by extension; this path has none")
            known = self.mime_by_extension.setdefault(ext, mime)
            if known != mime:
                raise ValueError(f"{target}: .{ext} served as both {known} and {mime}")
            self.charset_by_path[parts.path] = charset
        path = self.root / relative.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(response.body)
        self.bytes_written += len(response.body)
        self.targets.append(target)

    def render(self, site: Site, targets: Iterable[str]) -> int:
        """Ask ``site`` for each target as nginx's clients will (same Host), write each answer; how many."""
        host = f"127.0.0.1:{self.port}"
        count = 0
        for target in targets:
            parts = urlsplit(target)
            request = Request("GET", parts.path, parse_qs(parts.query, keep_blank_values=True), target,
                              {"host": host}, "127.0.0.1")
            answer = site.handle(request)
            if answer is None:
                raise ValueError(f"{target}: the replica does not serve this path")
            self.add(target, answer)
            count += 1
        return count

    def url(self, target: str) -> str:
        return self.base_url + target.lstrip("/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- the sites -----------------------------------------------------------------------------------------------
def discuz_site(static: StaticSite, threads: int, forums: int = 6, max_posts: int = 100, seed: int = 51) -> None:
    """bbs.51credit.com: ``threads`` threads over ``forums`` forums, about 3 pages each at max_posts=100.

    Every page our spider and wget reach: robots.txt, forum.php, each listing page, each thread page.
    """
    from tests.replica.discuz import DiscuzSite, generated_board

    board = generated_board(forums=forums, threads_per_forum=max(1, threads // forums), max_posts=max_posts,
                            seed=seed)
    site = DiscuzSite(board)
    static.render(site, ["/robots.txt", "/forum.php"])
    host = f"127.0.0.1:{static.port}"
    for forum in board.forums:
        page = 1
        while True:
            target = f"/forum-{forum.fid}-{page}.html"
            answer = site.handle(Request("GET", target, {}, target, {"host": host}, "127.0.0.1"))
            if answer is None or answer.status == 404:
                break
            static.add(target, answer)
            page += 1
    static.render(site, (f"/thread-{t.tid}-{p}-1.html" for t in board.threads.values()
                         for p in range(1, t.pages + 1)))


SINA_ROLL = QueryRoute("/api/roll/get", ("pageid", "lid", "page"), "application/json; charset=utf-8")
SINA_LIST = ("155", "1686")
SINA_PAGE_SIZE = 50


def sina_site(static: StaticSite, articles: int, seed: int = 51) -> None:
    """Sina Finance: ``articles`` articles on one roll list (155:1686), the roll API pages that list them.

    Needs ``tests/replica/sina.py``; the spider reads ``SINA_ROLL_API_URL`` with ``num=SINA_PAGE_SIZE``.
    """
    try:
        sina: Any = importlib.import_module("tests.replica.sina")
    except ImportError as exc:
        raise SiteUnavailable("tests/replica/sina.py is not in this checkout yet") from exc
    if SINA_ROLL not in static.query_routes:
        static.query_routes.append(SINA_ROLL)
    start = 1_626_259_040
    layouts = ["2017", "2014", "2017", "old", "2017", "mobile"]
    site = sina.SinaSite(
        sina.generated_article(f"kqcfnca{9_000_000 - i:07d}", start - 60 * i, layout=layouts[i % len(layouts)],
                               seed=seed)
        for i in range(articles)
    )
    # The roll API and the articles live on two hosts in real life; here one robots.txt allows both.
    static.add("/robots.txt", Response(200, b"User-agent: *\nDisallow:\n", [("Content-Type", "text/plain")]))
    pageid, lid = SINA_LIST
    pages = max(1, (articles + SINA_PAGE_SIZE - 1) // SINA_PAGE_SIZE)
    # The query exactly as crawler.pages.sina.roll_url writes it, so wget fetches the very same URLs.
    static.render(site, (f"{SINA_ROLL.path}?pageid={pageid}&lid={lid}&k=&num={SINA_PAGE_SIZE}&page={n}"
                         for n in range(1, pages + 1)))
    static.render(site, (a.path for a in site.articles if a.path))
