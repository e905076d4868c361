"""Pure extraction for Discuz! X3 pages (bbs.51credit.com): forum index, listings, thread pages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from parsel import Selector, SelectorList
from scrapy.http import TextResponse

from crawler.processors import one_line, ynj_date

#: Discuz's default floor names, printed instead of numbers on some boards.
FLOOR_NAMES = {"楼主": 1, "沙发": 2, "板凳": 3, "地板": 4}
LOGIN_TIP_MARK = "马上注册，结交更多好友"
_FORUM_HREF = re.compile(r"(?:^|/)forum-([0-9]+)-1\.html$")
_THREAD_HREF = re.compile(r"thread-([0-9]+)-([0-9]+)-[0-9]+\.html")
_PAGES_TITLE = re.compile(r"共\s*([0-9]+)\s*页")
_POST_TIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?")
_UID = re.compile(r"space-uid-([0-9]+)\.html")
# Text inside the post body that is not post content: scripts, styles and the guest login tip.
_CONTENT_TEXT = (
    ".//text()[not(ancestor::script) and not(ancestor::style)"
    " and not(ancestor::*[contains(concat(' ', normalize-space(@class), ' '), ' attach_nopermission ')])]"
)


@dataclass
class ThreadRef:
    """One listing row: what the listing knows about a thread."""

    tid: str
    url: str
    title: str | None
    author: str | None
    author_url: str | None
    created: str | None
    """Creation date, ``Y-n-j``."""
    last_reply: str | None
    """Last reply time, ``YYYY-MM-DDTHH:MM`` (Beijing time): what tells a recrawl the thread changed."""
    replies: int | None
    sticky: bool


@dataclass
class ListingPage:
    fid: str | None
    page: int
    total_pages: int
    threads: list[ThreadRef] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    """Reasons rows or the page were dropped."""


@dataclass
class PagePost:
    """One post as the thread page shows it."""

    pid: str
    poster: str | None
    poster_url: str | None
    poster_registered: str | None
    floor: str | None
    content: str | None
    posted_at: str | None
    hidden: str | None = None
    """Why the body is not shown (banned author, moderated, deleted floor), if so."""


@dataclass
class ThreadPage:
    tid: str | None
    page: int
    total_pages: int
    title: str | None
    forum_group: str | None
    forum: str | None
    fid: str | None
    posts: list[PagePost] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)


def _count(text: str | None) -> int | None:
    """A page number or count as printed: ASCII digits, at most 9 of them (hostile pages print others)."""
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def _is_id(text: str) -> bool:
    """Discuz ids (tid, pid, fid) are ASCII digits; ``str.isdigit`` alone also takes ``²`` and ``٣``."""
    return text.isascii() and text.isdigit()


def _attr(sel: SelectorList[Selector] | Selector, name: str) -> str | None:
    """An attribute of the (first) element. Not ``.attrib``: lxml raises building that dict when a hostile
    page gives an element an attribute name with control characters."""
    if isinstance(sel, SelectorList):
        if not sel:
            return None
        sel = sel[0]
    value = sel.xpath(f"@{name}").get()
    return str(value) if value is not None else None


def _text(sel: SelectorList[Selector] | Selector, query: str = "string()") -> str | None:
    value = sel.xpath(query).get()
    if value is None:
        return None
    value = value.strip()
    return value or None


def forum_ids(response: TextResponse) -> list[str]:
    """Forum ids linked from the forum index (``forum.php``), in page order, each once."""
    seen: list[str] = []
    for href in response.css("#ct a::attr(href), #wp a::attr(href)").getall():
        m = _FORUM_HREF.search(href.strip())
        if m and m.group(1) not in seen:
            seen.append(m.group(1))
    return seen


def total_pages(sel: Selector | TextResponse) -> int:
    """The page count of a Discuz pager (``共 N 页``, else the highest page linked); 1 without a pager."""
    pager = sel.css("div.pg")
    if not pager:
        return 1
    for title in pager.css("label span::attr(title)").getall():
        m = _PAGES_TITLE.search(title)
        if m and (count := _count(m.group(1))) is not None:
            return count
    texts = re.findall(r"[0-9]+", " ".join(pager[0].css("a::text, strong::text").getall()))
    numbers = [n for n in map(_count, texts) if n is not None]
    return max(numbers, default=1)


def current_page(sel: Selector | TextResponse) -> int | None:
    strong = sel.css("div.pg strong::text").get()
    return _count(strong)


def breadcrumb(response: TextResponse) -> tuple[str | None, str | None, str | None]:
    """(group, forum, fid) from the breadcrumb in ``div#pt`` (never a global ``div.z``)."""
    crumbs = response.css("div#pt div.z a")
    group = None
    forum = fid = None
    for a in crumbs:
        href = _attr(a, "href") or ""
        if "gid=" in href:
            group = _text(a)
        m = re.search(r"forum-([0-9]+)-[0-9]+\.html", href) or re.search(r"[?&]fid=([0-9]+)", href)
        if m:
            # A sub-forum puts its parent first: the last forum link is the forum itself.
            forum, fid = _text(a), m.group(1)
    return group, forum, fid


def _shown_date(em: SelectorList[Selector]) -> str | None:
    """A Discuz date cell: the ``title`` of a relative date (``3 天前``), else the text."""
    titled = em.css("span[title]::attr(title)").get()
    return titled.strip() if titled else _text(em)


def _iso_minute(text: str | None) -> str | None:
    if not text:
        return None
    m = _POST_TIME.search(text)
    if not m:
        return None
    y, mo, d, h, mi, _ = m.groups()
    return f"{int(y):04d}-{int(mo):02d}-{int(d):02d}T{int(h):02d}:{int(mi):02d}"


def listing_page(response: TextResponse) -> ListingPage:
    """Thread rows of a forum listing ``forum-{fid}-{page}.html``, sticky rows included."""
    _group, _forum, fid = breadcrumb(response)
    page = ListingPage(fid=fid, page=current_page(response) or 1, total_pages=total_pages(response))
    table = response.css("table#threadlisttableid")
    if not table:
        page.drops.append("listing without a thread table")
        return page
    for row in table.css("tbody[id^=normalthread_], tbody[id^=stickthread_]"):
        row_id = _attr(row, "id") or ""
        tid = row_id.rpartition("_")[2]
        link = row.css("th a.xst, th a.s")
        href = _attr(link, "href") if link else None
        if not _is_id(tid) or not href:
            page.drops.append("listing row without a thread id or link")
            continue
        by = row.css("td.by")
        author_a = by[0].css("cite a") if by else None
        author = _text(author_a) if author_a else (_text(by[0].css("cite")) if by else None)
        author_href = _attr(author_a, "href") if author_a else None
        last_em = by[1].css("em") if len(by) > 1 else None
        replies = row.css("td.num a.xi2::text").get()
        page.threads.append(
            ThreadRef(
                tid=tid,
                url=response.urljoin(href),
                title=_text(link),
                author=author,
                author_url=response.urljoin(author_href) if author_href else None,
                created=ynj_date(_shown_date(by[0].css("em"))) if by else None,
                last_reply=_iso_minute(_shown_date(last_em)) if last_em else None,
                replies=_count(replies),
                sticky=row_id.startswith("stickthread_"),
            )
        )
    if not page.threads and not page.drops:
        page.drops.append("listing without thread rows")
    return page


def _floor(plc: Selector, pid: str) -> str | None:
    num = plc.css(f"#postnum{pid}")
    if not num:
        return None
    digits = _text(num.css("em"))
    if digits and _is_id(digits):
        return digits
    label = (_text(num) or "").replace("#", "").strip()
    if label in FLOOR_NAMES:
        return str(FLOOR_NAMES[label])
    m = re.search(r"([0-9]+)", label)
    return m.group(1) if m else None


def _registered(post: Selector) -> str | None:
    for dt in post.css("dl.pil dt"):
        if (_text(dt) or "").startswith("注册时间"):
            return ynj_date(_text(dt.xpath("following-sibling::dd[1]")))
    return None


def _posted_at(post: Selector, pid: str) -> str | None:
    em = post.css(f"em#authorposton{pid}")
    if not em:
        return None
    text = em.css("span[title]::attr(title)").get() or _text(em)
    m = _POST_TIME.search(text or "")
    if not m:
        return None
    y, mo, d, h, mi, s = m.groups()
    return f"{int(y):04d}-{int(mo):02d}-{int(d):02d}T{int(h):02d}:{int(mi):02d}:{int(s or 0):02d}+08:00"


def post_content(body: Selector) -> str | None:
    """All visible text of a post body on one line: scripts, styles and the login tip dropped."""
    text = one_line("".join(body.xpath(_CONTENT_TEXT).getall()))
    if not text or not text.strip():
        return None
    return text.replace("\t", " ")


def _post(response: TextResponse, div: Selector, pid: str) -> PagePost:
    authi = div.css("td.pls div.pi div.authi")
    link = authi.css("a.xw1") or authi.css("a[href*=space-uid]")
    if link:
        poster: str | None = _text(link)
        href = _attr(link, "href")
        poster_url = response.urljoin(href) if href and _UID.search(href) else None
    else:
        # Deleted users show their name and "该用户已被删除"; anonymous posts show 匿名.
        poster = _text(authi, "normalize-space(text())") or _text(authi)
        poster_url = None
    plc = div.css("td.plc")
    body = div.css(f"td.t_f#postmessage_{pid}")
    hidden = None
    if not body:
        locked = _text(div.css("div.locked"))
        hidden = locked or "post without a body"
    return PagePost(
        pid=pid,
        poster=poster,
        poster_url=poster_url,
        poster_registered=_registered(div),
        floor=_floor(plc[0], pid) if plc else None,
        content=post_content(body[0]) if body else None,
        posted_at=_posted_at(div, pid),
        hidden=hidden,
    )


def thread_page(response: TextResponse) -> ThreadPage:
    """Posts of a thread page ``thread-{tid}-{page}-1.html`` in page order, with the thread's place."""
    group, forum, fid = breadcrumb(response)
    m = _THREAD_HREF.search(response.url)
    page = ThreadPage(
        tid=m.group(1) if m else None,
        page=current_page(response) or (_count(m.group(2)) if m else None) or 1,
        total_pages=total_pages(response),
        title=_text(response.css("h1.ts span#thread_subject")),
        forum_group=group,
        forum=forum,
        fid=fid,
    )
    postlist = response.css("div#postlist")
    if not postlist:
        page.drops.append("thread page without a post list")
        return page
    for div in postlist.xpath("./div[starts-with(@id, 'post_')]"):
        pid = (_attr(div, "id") or "")[len("post_"):]
        if not _is_id(pid):
            continue  # post_new, postlistreply and friends
        page.posts.append(_post(response, div, pid))
    if not page.posts:
        page.drops.append("thread page without posts")
    return page
