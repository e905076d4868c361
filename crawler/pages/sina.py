"""Sina Finance extraction: roll API pages to entries, article pages to ``Article`` items or drop reasons.

Pure functions: a response (and the roll entry that led to it) in; entries, items and drop reasons out.
No requests, no settings, no I/O. The markup each function reads is described in the shared ``SINA.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from scrapy.http import Response, TextResponse
from scrapy.selector import Selector

from crawler import html5
from crawler.html5 import Element
from crawler.items import Article

# --- roll list API -----------------------------------------------------------------------------------------
_JSONP = re.compile(
    r"^\s*(?:try\s*\{\s*)?[A-Za-z_$][\w$.]*\s*\((?P<json>.*)\)\s*;?\s*"
    r"(?:\}\s*catch\s*\(\s*\w*\s*\)\s*\{\s*\}\s*;?\s*)?$",
    re.S,
)


@dataclass(frozen=True, kw_only=True)
class RollEntry:
    """One item of a roll API answer, with the values normalized."""

    docid: str | None
    """``comos:`` stripped: ``kqcfnca6738292``; None when the entry has no usable docid."""
    url: str
    """The article URL exactly as the API gives it (may be ``http:``)."""
    title: str
    intime: int | None
    """Epoch seconds (UTC) the article entered the list."""
    ctime: int | None = None
    mtime: int | None = None
    media_name: str | None = None
    keywords: str | None = None
    img: str | None = None
    """``img.u`` made absolute ``https:``."""


@dataclass(kw_only=True)
class RollPage:
    """What one roll API answer holds: entries, or the reason it could not be read."""

    entries: list[RollEntry] = field(default_factory=list)
    total: int | None = None
    problem: str | None = None
    """Drop reason for the whole answer: ``roll_status``, ``roll_html``, ``roll_bad_json``,
    ``roll_bad_shape``, ``roll_not_text``."""
    detail: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(reason, detail) of entries that could not be used, e.g. ``roll_entry_no_url``."""


def roll_url(api_url: str, pageid: str, lid: str, num: int, page: int) -> str:
    """The roll API URL of one page of one list."""
    query = urlencode({"pageid": pageid, "lid": lid, "k": "", "num": num, "page": page})
    return f"{api_url}{'&' if '?' in api_url else '?'}{query}"


def https_url(url: str | None) -> str | None:
    """``//host/x`` and ``http://host/x`` as ``https://host/x``; other values unchanged; '' -> None."""
    if not url:
        return None
    if url.startswith("//"):
        return "https:" + url
    if url.startswith("http://"):
        return "https://" + url[len("http://") :]
    return url


def _epoch(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def roll_json(text: str) -> Any:
    """Decode a roll API answer, JSON or JSONP (``try{cb({...});}catch(e){};``); raises ValueError."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        return json.loads(stripped)
    match = _JSONP.match(stripped)
    if not match:
        raise ValueError("neither JSON nor JSONP")
    return json.loads(match.group("json"))


def roll_entry(data: dict[str, Any]) -> RollEntry | tuple[str, str]:
    """One API item as a ``RollEntry``, or (reason, detail) when it cannot be followed."""
    url = _text(data.get("url"))
    if not url:
        return ("roll_entry_no_url", f"docid {data.get('docid')!r} has no url")
    docid = _text(data.get("docid"))
    if docid and docid.startswith("comos:"):
        docid = docid[len("comos:") :] or None
    img = data.get("img")
    return RollEntry(
        docid=docid,
        url=url,
        title=_text(data.get("title")) or "",
        intime=_epoch(data.get("intime")),
        ctime=_epoch(data.get("ctime")),
        mtime=_epoch(data.get("mtime")),
        media_name=_text(data.get("media_name")),
        keywords=_text(data.get("keywords")),
        img=https_url(_text(img.get("u"))) if isinstance(img, dict) else None,
    )


def roll_page(response: Response) -> RollPage:
    """Read one roll API answer."""
    if not isinstance(response, TextResponse):
        return RollPage(problem="roll_not_text", detail=f"binary answer ({len(response.body)} bytes)")
    text = response.text
    try:
        data = roll_json(text)
    except ValueError as exc:
        head = text.lstrip()[:60]
        reason = "roll_html" if head.startswith("<") else "roll_bad_json"
        return RollPage(problem=reason, detail=f"{exc}; answer starts {head!r}")
    result = data.get("result") if isinstance(data, dict) else None
    status = result.get("status") if isinstance(result, dict) else None
    if not isinstance(result, dict) or not isinstance(status, dict):
        return RollPage(problem="roll_bad_shape", detail="no result.status in the answer")
    if str(status.get("code")) != "0":
        return RollPage(
            problem="roll_status", detail=f"status code {status.get('code')!r}, msg {status.get('msg')!r}"
        )
    items = result.get("data")
    if items is None:
        items = []
    if not isinstance(items, list):
        return RollPage(problem="roll_bad_shape", detail=f"result.data is a {type(items).__name__}")
    page = RollPage(total=_epoch(result.get("total")))
    for item in items:
        entry = roll_entry(item) if isinstance(item, dict) else ("roll_bad_entry", repr(item)[:80])
        if isinstance(entry, RollEntry):
            page.entries.append(entry)
        else:
            page.skipped.append(entry)
    return page


# --- article pages -----------------------------------------------------------------------------------------
_ID_IN_URL = re.compile(r"/(?:doc|detail)-i([0-9A-Za-z]+)\.(?:shtml|d\.html|html)")
_CN_TIME = re.compile(
    r"(\d{4})\s*[年/-]\s*(\d{1,2})\s*[月/-]\s*(\d{1,2})\s*日?\s*(?:T|\s)*(\d{1,2}):(\d{2})(?::(\d{2}))?"
)
_EDITOR_LABEL = re.compile(r"^\s*责任编辑\s*[：:]\s*")
_STOCK_WRAPPER = re.compile(r"^(?:us|hk)?stock_")
_SLIDE_PATH = re.compile(r"/slide_\d")
_AD_IDS = frozenset({"left_hzh_ad"})
_AD_CLASSES = ("appendQr_wrap", "app-kaihu-qr", "tech-quotation", "sinaads")
#: Video players: ``div.video-2017`` is served empty and filled by script (browser-saved pages hold the
#: filled player); ``.artical-player-wrap`` is the old template's player with its own buttons and labels.
_PLAYER_CLASSES = ("video-2017", "artical-player-wrap")
_MEDIA_TAGS = frozenset({"img", "video", "iframe", "embed", "object", "audio"})
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "center", "dd", "details", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip


@dataclass(kw_only=True)
class ArticlePage:
    """What an article page gave: an item, or the reason it gave none; warnings for kept items."""

    article: Article | None = None
    dropped: str | None = None
    """``slide``, ``video``, ``no_body``, ``no_docid``, ``not_html``."""
    detail: str = ""
    warnings: list[str] = field(default_factory=list)
    """Reasons an item was kept despite a problem: ``invalid_bytes``."""


def article_id(url: str) -> str | None:
    """The id in ``…/doc-i{id}.shtml`` or ``…/detail-i{id}.d.html`` (exactly ``doc-i`` dropped)."""
    match = _ID_IN_URL.search(urlsplit(url).path)
    return match.group(1) if match else None


def beijing_iso(text: str | None) -> str | None:
    """``2018年12月28日 19:55``, ``2019年09月11日01:53`` or ``2021-07-14 18:37:05`` (Beijing time) as
    ``2018-12-28T19:55:00+08:00``; an ISO value with an offset is normalized as is; None if unreadable."""
    if not text:
        return None
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is not None:
        return moment.isoformat()
    match = _CN_TIME.search(text)
    if not match:
        return None
    y, mo, d, h, mi = (int(g) for g in match.groups()[:5])
    s = int(match.group(6) or 0)
    try:
        return datetime(y, mo, d, h, mi, s).isoformat() + "+08:00"
    except ValueError:
        return None


def utc_iso(epoch: int | None) -> str | None:
    """Epoch seconds as ``2021-07-14T10:37:20Z``."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _first(sel: Selector, *queries: str) -> str | None:
    """The first non-empty whitespace-trimmed string value of the CSS queries, in order."""
    for query in queries:
        for value in sel.css(query):
            text = " ".join(t.strip() for t in value.xpath("string()").getall() if t.strip())
            if text:
                return text
    return None


def _meta(sel: Selector, *queries: str) -> str | None:
    """The first non-empty trimmed attribute value the queries (ending in ``::attr(…)``) find."""
    for query in queries:
        for value in sel.css(query).getall():
            if value.strip():
                return value.strip()
    return None


def _layout(sel: Selector) -> str | None:
    if sel.css("h1.main-title"):
        return "2017"
    if sel.css("#navtimeSource"):
        return "2014"
    if sel.css("h1#artibodyTitle"):
        return "old"
    if sel.css("h1.art_tit_h1, p.art_p"):
        return "mobile"
    return None


def _body_element(root: Element) -> Element | None:
    body = html5.find_first(root, lambda el: el.get("id") == "artibody")
    if body is None:  # news.sina.com.cn: div.article#article
        body = html5.find_first(root, lambda el: el.get("id") == "article" and html5.has_class(el, "article"))
    if body is None:  # mobile: section.art_content, else whatever holds the p.art_p paragraphs
        body = html5.find_first(root, lambda el: el.tag == "section" and html5.has_class(el, "art_content"))
    if body is None:
        for parent in root.iter():
            if any(html5.is_element(c) and c.tag == "p" and html5.has_class(c, "art_p") for c in parent):
                return parent
    return body


def _skipped_kind(url: str, sel: Selector, looked_at_page: bool) -> str | None:
    """``slide`` or ``video`` for pages that hold no article; the URL decides first, then the markup."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host.startswith("slide.") or _SLIDE_PATH.search(parts.path):
        return "slide"
    if host.startswith("video."):
        return "video"
    if not looked_at_page:
        return None
    og_type = (sel.css('meta[property="og:type"]::attr(content)').get() or "").strip().lower()
    if og_type == "slide" or sel.css("#eData"):
        return "slide"
    if og_type == "video" or sel.css("#J_Video_Player, .video_player"):
        return "video"
    return None


def _editor_line(el: Element) -> bool:
    if not html5.is_element(el) or el.tag != "p":
        return False
    if html5.has_class(el, "article-editor") or html5.has_class(el, "show_author"):
        return True
    return bool(_EDITOR_LABEL.match(html5.text_content(el)))


def _empty(el: Element) -> bool:
    if html5.text_content(el).strip():
        return False
    return not any(html5.local_name(d) in _MEDIA_TAGS for d in html5.iter_elements(el))


def _noise(node: Element) -> bool:
    if html5.is_comment(node):
        return True
    if not html5.is_element(node):
        return False
    tag = html5.local_name(node)
    if tag in ("script", "style", "link", "meta"):
        return True
    if node.get("id") in _AD_IDS or any(html5.has_class(node, c) for c in _AD_CLASSES):
        return True
    if any(html5.has_class(node, c) for c in _PLAYER_CLASSES):
        return True
    if tag == "span" and (node.get("id") or "").startswith("quote_") and _empty(node):
        return True
    return _editor_line(node)


def _stock_wrapper(node: Element) -> bool:
    return html5.is_element(node) and node.tag == "span" and bool(_STOCK_WRAPPER.match(node.get("id") or ""))


def clean_tree(body: Element) -> None:
    """Remove Sina's noise from a parsed body in place: scripts, styles, comments, QR and app adverts,
    empty video placeholders and quote spans, the editor line; stock-tag wrappers become their text."""
    html5.remove_matching(body, _noise)
    for parent in list(body.iter()):
        for child in list(parent):
            if _stock_wrapper(child):
                html5.replace_with_text(parent, child, html5.text_content(child))
    html5.remove_scripts(body)
    html5.collapse_blank_runs(body)


def clean_body(markup: str, base_url: str) -> str:
    """The cleaned body: ``clean_tree``, then URLs made absolute against ``base_url`` (the canonical
    ``https://`` URL) and ``referrerpolicy="no-referrer"`` on every image; HTML5-serialized."""
    body = html5.parse_body(markup)
    clean_tree(body)
    html5.make_urls_absolute(body, base_url)
    html5.add_no_referrer(body)
    return html5.inner_html(body)


def body_text(body: Element) -> str | None:
    """Visible text of a (cleaned) body: one line per block, whitespace runs collapsed, lines trimmed."""
    parts: list[str] = []

    def inline(text: str | None) -> None:
        if text:
            parts.append(re.sub(r"[ \t\r\n\f]+", " ", text))

    def walk(el: Element) -> None:
        block = html5.local_name(el) in _BLOCKS
        if block:
            parts.append("\n")
        if html5.is_element(el):
            inline(el.text)
        for child in el:
            walk(child)
            inline(child.tail)
        if block:
            parts.append("\n")

    walk(body)
    lines = [line.strip() for line in "".join(parts).split("\n")]
    text = "\n".join(line for line in lines if line)
    return text or None


def _keywords(sel: Selector, entry: RollEntry | None) -> str | None:
    candidates = [
        sel.css("div.keywords a::text, p.art_keywords a::text").getall(),
        (sel.css("#keywords::attr(data-wbkey)").get() or "").split(","),
        (sel.css('meta[name="keywords"]::attr(content)').get() or "").split(","),
        re.split(r"[,，]", entry.keywords or "") if entry else [],
    ]
    for words in candidates:
        seen: list[str] = []
        for word in (w.strip() for w in words):
            if word and word not in seen:
                seen.append(word)
        if seen:
            return ",".join(seen)
    return None


_TITLE = {
    "2017": ("h1.main-title",),
    "2014": ("h1#artibodyTitle",),
    "old": ("h1#artibodyTitle",),
    "mobile": ("h1.art_tit_h1",),
}
_TIME = {
    "2017": (".date-source span.date", ".date-source .date"),
    "2014": ("#navtimeSource",),
    "old": ("#pub_date",),
    "mobile": ("time.art_time", ".art_time"),
}
_SOURCE = {
    "2017": (".date-source .source",),
    "2014": ('#navtimeSource [data-sudaclick="media_name"]', '[data-sudaclick="media_name"]'),
    "old": ("#media_name",),
    "mobile": (".art_cite", "h2.weibo_user"),
}


def _page_time(sel: Selector, layout: str) -> str | None:
    for query in _TIME.get(layout, ()):
        # The 2014 layout nests the source inside the time span: only the span's own text is the time.
        for value in sel.css(query):
            when = beijing_iso(" ".join(value.xpath("./text()").getall()) or value.xpath("string()").get())
            if when:
                return when
    return beijing_iso(_meta(sel, 'meta[property="article:published_time"]::attr(content)'))


def article_page(response: Response, entry: RollEntry | None = None) -> ArticlePage:
    """Read an article page of any of the three desktop layouts, or a mobile page.

    ``entry`` is the roll API item that led here: its title, intime, media name and thumbnail are
    preferred where the format asks for them (the Hexo post takes the API's title and time).
    """
    url = response.url
    if not isinstance(response, TextResponse):
        return ArticlePage(dropped="not_html", detail=f"{response.headers.get('Content-Type')!r}")
    sel = response.selector
    kind = _skipped_kind(url, sel, looked_at_page=False)
    if kind:
        return ArticlePage(dropped=kind, detail="not an article page")
    text = response.text
    root = html5.parse_document(text)
    body_el = _body_element(root)
    if body_el is None:
        kind = _skipped_kind(url, sel, looked_at_page=True)
        return ArticlePage(dropped=kind or "no_body", detail="no #artibody, #article or mobile body")
    docid = (entry.docid if entry else None) or sel.css('meta[name="publishid"]::attr(content)').get()
    docid = (docid or "").strip() or article_id(url)
    if not docid:
        return ArticlePage(dropped="no_docid", detail="no comos: docid, publishid meta or doc-i URL")
    layout = _layout(sel) or "2017"
    page_title = _first(sel, *_TITLE[layout]) or _meta(sel, 'meta[property="og:title"]::attr(content)')
    canonical = _meta(sel, 'link[rel="canonical"]::attr(href)', 'meta[property="og:url"]::attr(content)')
    if canonical and canonical.startswith("//"):
        canonical = "https:" + canonical
    base = canonical or url

    body_html = html5.inner_html(body_el)
    cleaned = html5.parse_body(body_html)
    clean_tree(cleaned)
    images = [
        "https:" + src if src.startswith("//") else urljoin(base, src)
        for el in html5.iter_elements(cleaned)
        if el.tag == "img" and (src := (el.get("src") or "").strip()) and not src.startswith("data:")
    ]
    editor = _first(sel, "p.article-editor", "p.show_author")
    if editor is None:
        line = html5.find_first(body_el, _editor_line)
        editor = html5.text_content(line).strip() if line is not None else None
    if editor is not None:
        editor = _EDITOR_LABEL.sub("", editor).strip() or None
    source = (
        _first(sel, *_SOURCE[layout])
        or _meta(sel, 'meta[property="article:author"]::attr(content)')
        or (entry.media_name if entry else None)
    )
    article = Article(
        docid=docid,
        url=url,
        canonical_url=canonical,
        title=(entry.title if entry and entry.title else None) or page_title or "",
        intime=utc_iso(entry.intime) if entry else None,
        published=_page_time(sel, layout),
        source=source,
        editor=editor,
        keywords=_keywords(sel, entry),
        layout=layout,
        body_html=body_html,
        body_text=body_text(cleaned),
        images=images,
        api_img=entry.img if entry else None,
    )
    warnings = ["invalid_bytes"] if "\ufffd" in text else []
    return ArticlePage(article=article, warnings=warnings)

