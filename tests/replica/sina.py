"""Sina Finance on 127.0.0.1: the roll list API and article pages in Sina's layouts (see shared SINA.md).

The site is a list of ``SinaArticle`` values and a clock: tests add articles (``add_article``), move the
clock (``now``) and switch faults on (``roll_faults``, per-article ``status``, ``with_body``,
``invalid_bytes``). Article pages are of our own making, with the noise Sina serves inside ``#artibody``;
``article_from_hexo`` builds one whose body is a golden Hexo post's body as Sina would have served it, and
``add_saved_pages`` serves saved real pages at their own paths.
"""

from __future__ import annotations

import html
import json
import random
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.replica.server import Request, Response

BEIJING = timezone(timedelta(hours=8))
CANONICAL_BASE = "https://finance.sina.com.cn"
DEFAULT_LIST = "155:1686"
QR_IMAGE = "https://n.sinaimg.cn/finance/cece9e13/20200514/343233024.png"
# The 2020+ end-of-article QR advert, exactly as Sina's template serves it.
QR_ADVERT = f"""<!-- 文末二维码 start -->


            <!-- 文末二维码 start -->
            <style>
            .appendQr_wrap{{border:1px solid #E6E6E6;padding:8px;}}
            .appendQr_normal{{float:left;}}
            .appendQr_normal img{{width:74px;}}
            .appendQr_normal_txt{{float:left;font-size:20px;line-height:74px;padding-left:20px;color:#333;}}
            </style>
            <div class="clearfix appendQr_wrap">
                <div class="appendQr_normal"><img src="{QR_IMAGE}"></div>
                <div class="appendQr_normal_txt">海量资讯、精准解读，尽在新浪财经APP</div>
            </div>
            <!-- 文末二维码 start -->

            <!-- 文末二维码 start -->
"""
_LEAD = "\n\n\t\t\t<!-- 秒拍begin -->\n\n\t\t\t<!-- 秒拍end -->\n\n\t\t\t<!-- 视频播放器start -->\n\n"
_WORDS = (
    "央行", "降准", "流动性", "货币政策", "财政", "专项债", "基建", "消费", "出口", "制造业", "利率", "汇率",
    "通胀", "就业", "股市", "债市", "基金", "银行", "保险", "券商", "监管", "改革", "开放", "投资", "融资",
    "风险", "稳定", "增长", "企业", "市场", "资金", "政策", "经济", "数据", "分析",
)  # fmt: skip


def beijing(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, BEIJING)


def epoch_of(moment: datetime) -> int:
    return int(moment.timestamp())


@dataclass
class SinaArticle:
    """One article (or slide/video page) the replica serves and lists."""

    id: str
    """The id of ``doc-i{id}.shtml`` and ``comos:{id}``."""
    title: str
    intime: int
    """Epoch seconds the article entered the roll list (the API's ``intime``)."""
    layout: str = "2017"
    """``2017``, ``2014``, ``old`` (GB2312), ``mobile``, ``slide``, ``video`` or ``saved`` (a real page)."""
    body: str | None = None
    """``#artibody`` inner HTML exactly as served; None: generated from ``paragraphs`` with Sina's noise."""
    paragraphs: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    """Protocol-relative image URLs (``//n.sinaimg.cn/…``), placed after every second paragraph."""
    source: str = "新浪财经"
    editor: str | None = "李明"
    keywords: list[str] = field(default_factory=list)
    lists: tuple[str, ...] = (DEFAULT_LIST,)
    path: str | None = None
    """Path the page is served at; None: the layout's usual one (``/roll/{date}/doc-i{id}.shtml``)."""
    canonical: str | None = None
    """``link[rel=canonical]``; None: ``https://finance.sina.com.cn`` + path."""
    page_delay: int = -40
    """The page's own time minus ``intime``: the two sources disagree by seconds to a minute."""
    api_img: dict[str, Any] | None = None
    """The API's ``img`` (``{u,w,h}``); None: ``[]``."""
    api_title: str | None = None
    """Title in the API when it differs from the page's."""
    status: int = 200
    with_body: bool = True
    """False: the page has everything but ``#artibody`` (a deleted or broken article)."""
    invalid_bytes: bool = False
    """Splice bytes that are not GB2312 into the first paragraph (``old`` layout)."""
    raw_page: bytes | None = None
    """A saved real page, served as is."""
    content_type: str | None = None

    def __post_init__(self) -> None:
        if self.path is None:
            day = beijing(self.intime).strftime("%Y-%m-%d")
            self.path = {
                "mobile": f"/{day}/detail-i{self.id}.d.html",
                "slide": f"/s/slide_1_{zlib.crc32(self.id.encode()) % 90000 + 10000}_{self.id}.html",
                "video": f"/p/finance/{day}/detail-i{self.id}.d.html",
            }.get(self.layout, f"/roll/{day}/doc-i{self.id}.shtml")
        if self.canonical is None:
            self.canonical = CANONICAL_BASE + self.path

    @property
    def published(self) -> datetime:
        return beijing(self.intime + self.page_delay)

    @property
    def charset(self) -> str:
        return "gb2312" if self.layout == "old" else "utf-8"


# --- articles ---------------------------------------------------------------------------------------------
def sentence(rng: random.Random) -> str:
    words = "".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 14)))
    return words + rng.choice("。；，") + "市场人士表示。"


def generated_article(
    id: str, intime: int, layout: str = "2017", seed: int = 0, paragraphs: int = 5, images: int = 2, **kw: Any
) -> SinaArticle:
    """An article of our own making in ``layout``, deterministic for a seed; the API thumbnail is its
    first image, as Sina's is, unless ``api_img`` says otherwise."""
    rng = random.Random(f"{id}-{seed}")
    title = kw.pop("title", None) or f"{rng.choice(_WORDS)}{rng.choice(_WORDS)}：{sentence(rng)[:18]}"
    sources = [f"//n.sinaimg.cn/finance/crawl/{rng.randint(10, 99)}/w550h{300 + i}/{id}-{i}.jpg"
               for i in range(images)]  # fmt: skip
    kw.setdefault("api_img", {"u": sources[0], "w": 550, "h": 300} if sources else None)
    return SinaArticle(
        id=id,
        title=title,
        intime=intime,
        layout=layout,
        paragraphs=[sentence(rng) + sentence(rng) for _ in range(paragraphs)],
        images=sources,
        keywords=kw.pop("keywords", None) or rng.sample(_WORDS, 3),
        **kw,
    )


def hexo_body_of(post: str) -> str:
    """The body of a post in the golden Hexo format, braces unescaped."""
    _, sep, rest = post.partition("\n---\n\n<div>   \n")
    body, sep2, _ = rest.rpartition("  \n</div>\n            ")
    if not sep or not sep2:
        raise ValueError("not a post in the golden Hexo format (no '<div>   ' … '</div>' wrapper)")
    return body.replace("&#123;", "{").replace("&#125;", "}")


_VALUE = r"""\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)"""
_NAME = r"""[^\s"'=<>/]+"""
_START_TAG = re.compile(rf"<([a-zA-Z][^\s/>]*)((?:\s+{_NAME}(?:{_VALUE})?)*)\s*>")
_ATTRIBUTE = re.compile(rf"(\s+)({_NAME})({_VALUE})?")


def _sina_start_tag(match: re.Match[str]) -> str:
    """A start tag as Sina's CMS writes it: empty attributes as ``=""``, no referrerpolicy on images."""
    attributes = []
    for attr in _ATTRIBUTE.finditer(match.group(2)):
        space, name, value = attr.groups()
        if match.group(1) == "img" and name == "referrerpolicy":
            continue
        attributes.append(f'{space}{name}{value if value is not None else "=" + chr(34) * 2}')
    return f"<{match.group(1)}{''.join(attributes)}>"


def served_from_hexo(post: str) -> str:
    """``#artibody`` inner HTML as Sina would have served the body of a golden post: images on
    ``//n.sinaimg.cn`` without ``referrerpolicy``, empty attributes written ``=""``, Sina's usual leading
    comments and whitespace, and a script after the first paragraph (the generator dropped both)."""
    body = _START_TAG.sub(_sina_start_tag, hexo_body_of(post))
    body = body.replace('src="https://n.sinaimg.cn/', 'src="//n.sinaimg.cn/')
    body = body.replace("</p>", "</p><script>SINA_TEXT_PAGE_INFO.para = 1;</script>", 1)
    return _LEAD + body


def article_from_hexo(post: str, id: str, title: str, intime: int, **kw: Any) -> SinaArticle:
    """A 2017-layout article whose ``#artibody`` holds a golden post's body as Sina would have served it."""
    return SinaArticle(id=id, title=title, intime=intime, body=served_from_hexo(post), **kw)


#: The paragraph with a stock tag, and what a reader sees of it once the quote script is gone.
STOCK_PARAGRAPH = (
    '<p cms-style="font-L">　　受此影响，<span id="stock_sh600036"><a '
    'href="https://finance.sina.com.cn/realstock/company/sh600036/nc.shtml" class="keyword" '
    'target="_blank" data-sudaclick="content_marketkeywords_p">招商银行</a></span>'
    '<span id="quote_sh600036"></span>早盘上涨。</p>\n'
    '<script type="text/javascript">SINA_QUOTE.fill("quote_sh600036", "sh600036");</script>\n'
)
STOCK_PARAGRAPH_TEXT = "受此影响，招商银行早盘上涨。"


def generated_body(article: SinaArticle) -> str:
    """``#artibody`` inner HTML with the noise SINA.md lists around the article's paragraphs and images."""
    parts = [_LEAD]
    if article.layout == "old":
        parts.append(
            "<!--新增众测推广文案-->\n<style>\n.tech-quotation{padding:20px;background:#f4f4f4;}\n</style>\n"
            '<div class="tech-quotation clearfix"><div class="tech-con"><p>　　新酷产品第一时间免费试玩，快来'
            '<a href="http://zhongce.sina.com.cn?frompage=techdoc" target="_blank">新浪众测</a>。</p></div>'
            "</div>\n<!--新增众测推广文案end-->\n"
        )
    parts.append(
        '<div class="video-2017" id="videoList0"></div>\n'
        "<script>SINA_TEXT_PAGE_INFO['videoDatas0'] = [{video_id: 313349053, pid: '1'}];</script>\n"
        "<!--/video-list-->\n"
    )
    images = list(article.images)
    for i, text in enumerate(article.paragraphs):
        parts.append(f'<p cms-style="font-L">　　{html.escape(text)}</p>\n')
        if i == 1:
            parts.append(STOCK_PARAGRAPH)
        if i % 2 == 0 and images:
            src = images.pop(0)
            parts.append(f'<div class="img_wrapper"><img src="{src}" alt=""><span class="img_descr">'
                         f"图{i + 1}</span></div>\n")  # fmt: skip
    parts.extend(
        f'<div class="img_wrapper"><img src="{src}" alt=""><span class="img_descr"></span></div>\n'
        for src in images
    )
    parts.append(
        '<div id="left_hzh_ad"><ins class="sinaads" data-ad-pdps="PDPS000000057100"></ins>'
        "<script>(sinaads = window.sinaads || []).push({});</script></div>\n"
        '<div class="app-kaihu-qr"><img src="//n.sinaimg.cn/finance/kaihu/app-qr.png" alt="">'
        "<span>扫码下载新浪财经APP，开户领好礼</span></div>\n"
        "<!-- news_keyword_pub,stock,sh600036 -->\n\n\n\n"
        "\t\t\t<!-- 正文下iframe -->\n\n\n\t\t\t<!-- 正文下iframe -->\n\n"
        "\t\t\t<!-- 总声明-->\n\n\n\t\t\t<!-- 总声明-->\n\n"
    )
    if article.layout in ("2017", "2014"):
        parts.append(QR_ADVERT)
    if article.editor is not None:
        parts.append(
            "\n<!-- 编辑姓名及工作代码 -->\n\n"
            f'<p class="article-editor">责任编辑：{html.escape(article.editor)} </p>'
            "\n<!-- 编辑姓名及工作代码-->\n\n"
        )
    return "".join(parts)


# --- pages ------------------------------------------------------------------------------------------------
def _head(article: SinaArticle, title: str) -> str:
    when = article.published
    keywords = ",".join(article.keywords)
    return f"""<!DOCTYPE html>
<html>
<head>
<meta http-equiv="Content-type" content="text/html; charset={article.charset}">
<title>{title}_新浪财经_新浪网</title>
<meta name="keywords" content="{html.escape(keywords)}">
<meta property="og:type" content="news">
<meta property="og:title" content="{title}">
<meta property="og:url" content="{html.escape(article.canonical or '')}">
<link rel="canonical" href="{html.escape(article.canonical or '')}">
<meta name="publishid" content="{article.id}">
<meta name="comment" content="cj:comos-{article.id}">
<meta property="article:published_time" content="{when.isoformat()}">
<meta property="article:author" content="{html.escape(article.source)}">
<script type="text/javascript">var SINA_TEXT_PAGE_INFO = {{}};
var SINA_QUOTE = {{fill: function () {{}}}};</script>
</head>
"""


def _keyword_block(article: SinaArticle) -> str:
    links = " ".join(
        f'<a href="http://tags.finance.sina.com.cn/{html.escape(k)}" target="_blank">{html.escape(k)}</a>'
        for k in article.keywords
    )
    return (
        '<div class="article-bottom clearfix" id="article-bottom">'
        '<div class="keywords" data-sudaclick="content_keywords_p">'
        f"<label>文章关键词：</label>{links}</div></div>"
    )


def render_page(article: SinaArticle) -> str:
    """The whole page of an article in its layout."""
    title = html.escape(article.title)
    body = article.body if article.body is not None else generated_body(article)
    when = article.published
    shown = f"{when:%Y年%m月%d日 %H:%M}"
    source = html.escape(article.source)
    head = _head(article, title)
    if article.layout == "2017":
        artibody = f'<div class="article" id="artibody">{body}</div>' if article.with_body else ""
        return f"""{head}<body>
<div class="main-content w1240">
<h1 class="main-title">{title}</h1>
<div class="top-bar-wrap"><div class="date-source" data-sudaclick="content_media_p">
<span class="date">{shown}</span>
<a href="http://www.example-media.cn/" target="_blank" class="source ent-source"
 rel="nofollow">{source}</a></div></div>
<div class="article-content clearfix" id="article_content"><div class="article-content-left">
<div class="ad top-ad"><ins class="sinaads" data-ad-pdps="PDPS000000060745"></ins></div>
<!-- 正文 start -->
{artibody}
{_keyword_block(article)}
</div></div></div>
</body>
</html>
"""
    if article.layout == "2014":
        artibody = f'<div class="article article_16" id="artibody">{body}</div>' if article.with_body else ""
        return f"""{head}<body>
<div class="wrap-inner">
<div class="page-header"><h1 id="artibodyTitle" docid="{article.id}">{title}</h1>
<div class="page-info"><span class="time-source" id="navtimeSource">{shown}\t<span>
<span data-sudaclick="media_name"><a href="http://www.example-media.cn/" target="_blank"
 rel="nofollow">{source}</a></span></span></span></div></div>
<div class="page-content clearfix">
{artibody}
{_keyword_block(article)}
</div></div>
</body>
</html>
"""
    if article.layout == "old":
        old_keywords = "".join(
            f'<a href="http://tags.tech.sina.com.cn/{html.escape(k)}" target="_blank">{html.escape(k)}</a>'
            for k in article.keywords
        )
        artibody = (f'<div class="BSHARE_POP blkContainerSblkCon clearfix blkContainerSblkCon_14" '
                    f'id="artibody">{body}</div>') if article.with_body else ""  # fmt: skip
        return f"""{head}<body>
<div class="blkContainer"><div class="blkContainerPblk" id="J_Article_Wrap"><div class="blkContainerSblk">
<h1 id="artibodyTitle" docid="{article.id}">{title}</h1>
<div class="artInfo" id="blk_n001_003"><div><span id="pub_date">{when:%Y年%m月%d日%H:%M}</span>&nbsp;&nbsp;
<span id="media_name"><a href="http://finance.sina.com.cn/" target="_blank">{source}</a></span></div></div>
{artibody}
<p class="art_keywords"><span class="art_keywords_tt">文章关键词：</span>{old_keywords}</p>
</div></div></div>
</body>
</html>
"""
    if article.layout == "mobile":
        paragraphs = "".join(f'<p class="art_p">　　{html.escape(p)}</p>\n' for p in article.paragraphs)
        images = "".join(
            f'<div class="m_img_wrap"><img class="art_img_mini_img" src="{src}" alt=""></div>\n'
            for src in article.images
        )
        editor = f'<p class="art_p">责任编辑：{html.escape(article.editor)}</p>\n' if article.editor else ""
        content = ""
        if article.with_body:
            content = (
                f'<section class="art_pic_card art_content">\n{paragraphs}{images}{editor}'
                "<script>window.__sinaArticleReady = true;</script>\n</section>"
            )
        return f"""{head}<body>
<main class="j_main_art"><section class="art_main_card j_main_art">
<h1 class="art_tit_h1">{title}</h1>
<article class="art_box"><cite class="art_cite">{source}</cite>
<time class="art_time">{when:%Y-%m-%d %H:%M}</time></article>
{content}
</section></main>
</body>
</html>
"""  # fmt: skip
    if article.layout == "slide":
        items = "".join(
            f"<dl><dt>{title}</dt><dd>{src}</dd><dd>{html.escape(p)}</dd></dl>"
            for src, p in zip(article.images, article.paragraphs, strict=False)
        )
        return f"""{head.replace('content="news"', 'content="slide"')}<body>
<div id="wrapOuter"><h2 id="d_title">{title}</h2><div id="eData" style="display:none;">{items}</div></div>
</body>
</html>
"""
    if article.layout == "video":
        return f"""{head.replace('content="news"', 'content="video"')}<body>
<div class="video_box"><h1 class="video_title">{title}</h1><div id="J_Video_Player"></div>
<script>var videoInfo = {{video_id: 313349053}};</script></div>
</body>
</html>
"""
    raise ValueError(f"layout {article.layout!r} is not one of 2017, 2014, old, mobile, slide, video, saved")


def page_bytes(article: SinaArticle) -> bytes:
    if article.raw_page is not None:
        return article.raw_page
    data = render_page(article).encode(article.charset)
    if article.invalid_bytes:
        # Bytes no GB2312 (or GB18030) decoder accepts, inside the first paragraph's text.
        first = ("　　" + article.paragraphs[0][:4]).encode(article.charset)
        at = data.index(first) + len(first)
        data = data[:at] + b"\x80\xff" + data[at:]
    return data


# --- saved real pages -------------------------------------------------------------------------------------
def saved_article(path: Path) -> SinaArticle:
    """A saved real page, served at its own path (from ``og:url``) and listed at its own time."""
    raw = path.read_bytes()
    head = raw[:4096].decode("ascii", "replace")
    charset_match = re.search(r"charset=[\"']?([\w-]+)", head, re.I)
    charset = charset_match.group(1).lower() if charset_match else "utf-8"
    text = raw.decode(charset, "replace")

    def meta(name: str) -> str | None:
        m = re.search(rf'<meta[^>]+(?:property|name)="{re.escape(name)}"[^>]+content="([^"]*)"', text)
        return html.unescape(m.group(1)) if m else None

    url = meta("og:url")
    if not url:
        raise ValueError(f"{path}: no og:url, so its own path is unknown; save the page with its head")
    published = meta("article:published_time")
    moment = datetime.fromisoformat(published) if published else datetime(2019, 1, 1, tzinfo=UTC)
    docid = meta("publishid")
    if not docid:
        in_url = re.search(r"doc-i(\w+)\.shtml", url)
        docid = in_url.group(1) if in_url else path.stem
    return SinaArticle(
        id=docid,
        title=meta("og:title") or path.stem,
        intime=epoch_of(moment),
        layout="saved",
        path=urlsplit(url).path,
        canonical=url,
        source=meta("article:author") or "新浪财经",
        keywords=[k for k in (meta("keywords") or "").split(",") if k],
        raw_page=raw,
        content_type=f"text/html; charset={charset}",
    )


# --- the site ---------------------------------------------------------------------------------------------
class SinaSite:
    """Serves the roll API at ``/api/roll/get`` and every article at its path."""

    API_PATH = "/api/roll/get"

    def __init__(
        self,
        articles: Iterable[SinaArticle] = (),
        now: int | None = None,
        roll_faults: dict[str, str] | None = None,
    ) -> None:
        self.articles: list[SinaArticle] = []
        self.now = now
        """The site's clock (epoch seconds): the API lists articles with ``intime <= now``; None lists all."""
        self.roll_faults: dict[str, str] = dict(roll_faults or {})
        """``"pageid:lid"`` or ``"pageid:lid:page"`` -> ``status`` (code 1), ``truncated`` (JSON cut in
        half), ``html`` (an HTML error page with status 200) or ``http500``."""
        self.api_referers: list[str | None] = []
        """The ``Referer`` of every roll API request, in order."""
        for article in articles:
            self.add_article(article)

    def add_article(self, article: SinaArticle) -> SinaArticle:
        if any(a.path == article.path for a in self.articles):
            raise ValueError(f"an article is already served at {article.path}; give this one another id")
        self.articles.append(article)
        return article

    def add_saved_pages(self, folder: Path) -> list[SinaArticle]:
        """Serve every ``*.html`` of ``folder`` at its own path and list it in the API."""
        pages = sorted(folder.glob("*.html"))
        if not pages:
            raise ValueError(f"{folder} holds no *.html pages; point --sina-pages at saved article pages")
        return [self.add_article(saved_article(page)) for page in pages]

    def listed(self, key: str) -> list[SinaArticle]:
        """The articles of list ``key`` the API shows now, newest first."""
        shown = [a for a in self.articles if key in a.lists and (self.now is None or a.intime <= self.now)]
        return sorted(shown, key=lambda a: (a.intime, a.id), reverse=True)

    def handle(self, request: Request) -> Response | None:
        if request.path == self.API_PATH:
            return self.roll(request)
        article = next((a for a in self.articles if a.path == request.path), None)
        if article is None:
            return None
        if article.status != 200:
            body = "<html><head><title>页面没有找到</title></head><body>404 页面没有找到</body></html>"
            return Response(article.status, body.encode(), [("Content-Type", "text/html; charset=utf-8")])
        content_type = article.content_type or f"text/html; charset={article.charset}"
        return Response(200, page_bytes(article), [("Content-Type", content_type)])

    def entry(self, article: SinaArticle, base: str, lid: str) -> dict[str, Any]:
        """One API item, in the shape of the real API's items."""
        intro = (article.paragraphs[0] if article.paragraphs else article.title)[:60]
        return {
            "docid": f"comos:{article.id}",
            "title": article.api_title if article.api_title is not None else article.title,
            "intro": intro,
            "keywords": ",".join(article.keywords),
            "lids": lid,
            "media_name": article.source,
            "author": "",
            "url": base + (article.path or ""),
            "wapurl": f"{base}/{beijing(article.intime):%Y-%m-%d}/detail-i{article.id}.d.html",
            "ctime": str(article.intime - 17),
            "mtime": str(article.intime + 31),
            "intime": str(article.intime),
            "img": article.api_img if article.api_img is not None else [],
            "images": [article.api_img] if article.api_img else [],
        }

    def roll(self, request: Request) -> Response:
        def arg(name: str, default: str = "") -> str:
            return (request.query.get(name) or [default])[0]

        self.api_referers.append(request.headers.get("referer"))
        pageid, lid = arg("pageid"), arg("lid")
        try:
            num = min(max(int(arg("num", "50") or 50), 1), 100)
            page = max(int(arg("page", "1") or 1), 1)
        except ValueError:
            num, page = 50, 1
        key = f"{pageid}:{lid}"
        fault = self.roll_faults.get(f"{key}:{page}") or self.roll_faults.get(key)
        if fault == "html":
            body = "<!DOCTYPE html><html><head><title>新浪网</title></head><body><p>系统繁忙</p></body>"
            return Response(200, body.encode(), [("Content-Type", "text/html; charset=utf-8")])
        if fault == "http500":
            return Response(500, b"Internal Server Error", [("Content-Type", "text/plain")])
        base = f"http://{request.headers.get('host', '127.0.0.1')}"
        listed = self.listed(key)
        result: dict[str, Any] = {
            "status": {"code": 0, "msg": "succ"},
            "timestamp": f"{beijing(self.now or 0):%a %b %d %H:%M:%S +0800 %Y}",
            "top": [],
            "lid": lid,
            "total": len(listed),
            "data": [self.entry(a, base, lid) for a in listed[(page - 1) * num : page * num]],
        }
        if fault == "status":
            result.update(status={"code": 1, "msg": "lid参数错误"}, total=0, data=[])
        text = json.dumps({"result": result})
        if fault == "truncated":
            text = text[: len(text) // 2]
        callback = arg("callback")
        if callback and re.fullmatch(r"[\w$.]+", callback):
            return Response(200, f"try{{{callback}({text});}}catch(e){{}};".encode(),
                            [("Content-Type", "application/javascript; charset=utf-8")])  # fmt: skip
        return Response(200, text.encode(), [("Content-Type", "application/json; charset=utf-8")])


def demo_articles(start: int = 1_626_259_040) -> list[SinaArticle]:
    """A small roll list of our own making: every layout, newest first from ``start`` (epoch seconds)."""
    layouts = ["2017", "2014", "old", "mobile", "2017", "slide", "video", "2017"]
    return [
        generated_article(f"kqcfnca{6738292 - i:07d}", start - 600 * i, layout=layout)
        for i, layout in enumerate(layouts)
    ]
