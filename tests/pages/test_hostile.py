"""Property tests: every Discuz page function, fed mutated, truncated and re-encoded pages, returns valid
results or drop reasons and never raises.

Seeds are the fixture pages and the replica's own rendering of a forum (index, listings, thread pages);
mutations cut them short, flip bytes, delete and duplicate tags and regions, inject garbage attributes
and text (huge numbers, non-ASCII digits, broken markup), and re-encode or mislabel the charset.
(Sina's page functions are not covered here: crawler/pages/sina.py is another branch's work.)
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scrapy.http import HtmlResponse

from crawler.pages import discuz
from tests.replica.discuz import DiscuzSite, generated_board
from tests.replica.server import Request

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "discuz"
BASE = "https://bbs.51credit.com/"


def _rendered() -> list[tuple[str, bytes]]:
    board = generated_board(forums=2, threads_per_forum=3, max_posts=25, seed=3)
    board.floor_names = True
    site = DiscuzSite(board)
    multi = next(t for t in board.threads.values() if t.pages > 1)
    paths = ["/forum.php", f"/forum-{board.forums[0].fid}-1.html", f"/thread-{multi.tid}-1-1.html",
             f"/thread-{multi.tid}-2-1.html"]
    pages = []
    for path in paths:
        answer = site.handle(Request("GET", path, {}, path, {"host": "bbs.51credit.com"}, "127.0.0.1"))
        assert answer is not None and answer.status == 200
        pages.append((BASE + path.lstrip("/"), answer.body))
    return pages


SEEDS: list[tuple[str, bytes]] = [
    (BASE + "forum.php", (FIXTURES / "forum-index.html").read_bytes()),
    (BASE + "forum-290-1.html", (FIXTURES / "listing-sticky.html").read_bytes()),
    (BASE + "thread-4214443-1-1.html", (FIXTURES / "thread-cases.html").read_bytes()),
    (BASE + "thread-4214443-1-1.html", (FIXTURES / "thread-floor-names.html").read_bytes()),
    *_rendered(),
]
URLS = [BASE + "thread-1-1-1.html", BASE + "forum-290-2.html", BASE + "forum.php", BASE + "thread-x-y-z.html",
        BASE + "thread-" + "9" * 5000 + "-1-1.html", BASE + "thread-4214443-1-1.html?_dsign=ab12cd34"]
GARBAGE = [
    'id="post_²"', 'id="post_"', 'id="post_99999999999999999999999999"', 'id="normalthread_x"',
    'id="stickthread_٣"', 'id="postlist"', 'class="pg"', 'class="t_f"', 'title="共 ' + "9" * 5000 + ' 页"',
    'title="共 ² 页"', 'title="2018-13-45 99:99:99"', 'href="thread-' + "1" * 5000 + '-1-1.html"',
    'href="forum-²-1.html"', 'href="space-uid-.html"', 'href="javascript:alert(1)"', 'href="http://[::1"',
    'href=""', "href", 'id="authorposton1"', 'id="postnum1"', "onclick='\"'", 'class="xst s"',
]
INJECTED = [
    "<strong>²</strong>", "<strong>" + "7" * 5000 + "</strong>", "<em>³</em><sup>#</sup>", "<a>" + "8" * 5000 + "</a>",
    '<span title="共 ٣ 页">', "<div id='postlist'>", "</div></div></div>", "<![CDATA[", "<!--", "<script>",
    "<td class='by'><em>", "发表于 ٢٠١٨-١-٢ ١٠:١١", "<dt>注册时间</dt><dd>" + "9" * 5000 + "-1-1</dd>",
    "\x00", "\ufffd", "&#0;", "&#xD800;", "&#99999999;", "<tbody id='normalthread_123'>", "<a class='xst'>",
]
CHARSETS = ["gbk", "gb18030", "utf-8", "utf-16", "big5", "latin-1", "bogus-charset", ""]
CODECS = ["utf-8", "utf-16", "big5", "shift_jis", "latin-1", "gb18030"]
_TAG = re.compile(rb"<[^<>]{0,300}>")


@st.composite
def mutated_page(draw: st.DrawFn) -> HtmlResponse:
    url, body = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "bytes", "delete-tag", "duplicate", "attribute", "inject",
                                     "re-encode"]))
        if kind == "truncate":
            body = body[: draw(st.integers(0, len(body)))]
        elif kind == "bytes":
            for _ in range(draw(st.integers(1, 20))):
                at = draw(st.integers(0, max(0, len(body) - 1)))
                body = body[:at] + draw(st.binary(min_size=1, max_size=4)) + body[at + 1 :]
        elif kind in ("delete-tag", "attribute"):
            tags = list(_TAG.finditer(body))
            if not tags:
                continue
            tag = tags[draw(st.integers(0, len(tags) - 1))]
            if kind == "delete-tag":
                body = body[: tag.start()] + body[tag.end() :]
            else:
                garbage = draw(st.sampled_from(GARBAGE) | st.text(max_size=30).map(lambda t: f'x="{t}"'))
                inside = tag.end() - 1 if body[tag.end() - 2 : tag.end() - 1] != b"/" else tag.end() - 2
                body = body[:inside] + b" " + garbage.encode("gb18030") + body[inside:]
        elif kind == "duplicate":
            start = draw(st.integers(0, len(body)))
            end = draw(st.integers(start, min(len(body), start + 4000)))
            at = draw(st.integers(0, len(body)))
            body = body[:at] + body[start:end] * draw(st.integers(1, 3)) + body[at:]
        elif kind == "inject":
            text = draw(st.sampled_from(INJECTED) | st.text(max_size=40))
            at = draw(st.integers(0, len(body)))
            body = body[:at] + text.encode(draw(st.sampled_from(["gb18030", "utf-8"]))) + body[at:]
        else:
            codec = draw(st.sampled_from(CODECS))
            body = body.decode("gb18030", errors="replace").encode(codec, errors="replace")
    url = draw(st.sampled_from([url, url, *URLS]))
    charset = draw(st.sampled_from(CHARSETS))
    headers = {"Content-Type": f"text/html; charset={charset}" if charset else "text/html"}
    return HtmlResponse(url=url, body=body, headers=headers)


_YNJ = re.compile(r"^\d{4,}-\d{1,}-\d{1,}$", re.ASCII)
_ISO_SECOND = re.compile(r"^\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$", re.ASCII)
_ISO_MINUTE = re.compile(r"^\d{4,}-\d\d-\d\dT\d\d:\d\d$", re.ASCII)


def _digits(value: str | None) -> bool:
    return value is not None and value.isascii() and value.isdigit()


def check_thread(response: HtmlResponse) -> None:
    page = discuz.thread_page(response)
    assert page.tid is None or _digits(page.tid)
    assert isinstance(page.page, int) and isinstance(page.total_pages, int) and page.total_pages >= 0
    assert page.fid is None or _digits(page.fid)
    assert page.posts or page.drops, "a thread page without posts must say why"
    assert all(isinstance(d, str) and d for d in page.drops)
    for post in page.posts:
        assert _digits(post.pid), post.pid
        assert post.floor is None or _digits(post.floor), post.floor
        assert post.posted_at is None or _ISO_SECOND.match(post.posted_at), post.posted_at
        assert post.poster_registered is None or _YNJ.match(post.poster_registered), post.poster_registered
        assert post.poster_url is None or "space-uid-" in post.poster_url
        assert post.content is None or not set(post.content) & {"\r", "\n", "\t"}


def check_listing(response: HtmlResponse) -> None:
    listing = discuz.listing_page(response)
    assert isinstance(listing.total_pages, int) and listing.total_pages >= 0
    assert listing.threads or listing.drops, "a listing without threads must say why"
    for ref in listing.threads:
        assert _digits(ref.tid), ref.tid
        assert ref.url.startswith("http")
        assert ref.created is None or _YNJ.match(ref.created), ref.created
        assert ref.last_reply is None or _ISO_MINUTE.match(ref.last_reply), ref.last_reply
        assert ref.replies is None or ref.replies >= 0


def check_everything(response: HtmlResponse) -> None:
    """Every page function of crawler/pages/discuz.py on one page, whatever kind it was meant to be."""
    fids = discuz.forum_ids(response)
    assert all(_digits(f) for f in fids) and len(fids) == len(set(fids))
    pages = discuz.total_pages(response)
    assert isinstance(pages, int) and pages >= 0
    current = discuz.current_page(response)
    assert current is None or (isinstance(current, int) and current >= 0)
    group, forum, fid = discuz.breadcrumb(response)
    assert all(v is None or (isinstance(v, str) and v) for v in (group, forum))
    assert fid is None or _digits(fid)
    for body in response.css("td.t_f"):
        content = discuz.post_content(body)
        assert content is None or not set(content) & {"\r", "\n", "\t"}
    check_listing(response)
    check_thread(response)


HOSTILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_seeds_are_valid_pages() -> None:
    for url, body in SEEDS:
        check_everything(HtmlResponse(url=url, body=body, headers={"Content-Type": "text/html; charset=gbk"}))
    responses = [HtmlResponse(url=u, body=b, encoding="gbk") for u, b in SEEDS]
    # The seeds hold each kind of page, valid to start with: what the mutations break is real markup.
    assert sum(len(discuz.forum_ids(r)) >= 2 and "forum.php" in r.url for r in responses) == 2
    assert sum(bool(discuz.listing_page(r).threads) for r in responses) == 2
    assert sum(bool(discuz.thread_page(r).posts) for r in responses) == 4


@HOSTILE
@given(mutated_page())
def test_page_functions_never_raise_on_mutated_pages(response: HtmlResponse) -> None:
    check_everything(response)


def _page(body: str, url: str = BASE + "thread-1-1-1.html") -> HtmlResponse:
    return HtmlResponse(url=url, body=body.encode("utf-8"), encoding="utf-8")


@HOSTILE
@given(st.text(max_size=300), st.sampled_from(URLS))
@example('<div class="pg"><strong>²</strong><a>3</a></div>', URLS[0])
@example('<div class="pg"><label><span title="共 ' + "9" * 5000 + ' 页"></span></label></div>', URLS[0])
@example('<div class="pg"><a>' + "9" * 5000 + "</a></div>", URLS[0])
@example("<table id='threadlisttableid'><tbody id='normalthread_²'><tr><th><a class='xst' href='x'>t</a></th>"
         "<td class='num'><a class='xi2'>²</a></td></tr></tbody></table>", URLS[1])
@example("<div id='postlist'><div id='post_²'><td class='plc'><strong><a id='postnum²'>x</a></strong></td>"
         "</div></div>", URLS[0])
def test_page_functions_never_raise_on_arbitrary_text(markup: str, url: str) -> None:
    check_everything(_page(markup, url))
