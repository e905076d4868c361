"""Sina page functions: the roll API, the three article layouts and mobile pages, skips, and cleaning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import HtmlResponse, Response, TextResponse

from crawler import html5
from crawler.items import Article
from crawler.pages.sina import (
    RollEntry,
    article_id,
    article_page,
    beijing_iso,
    clean_body,
    roll_page,
    roll_url,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "sina"
SHARED_PAGES = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "sina" / "pages"
API = "https://feed.mix.sina.com.cn/api/roll/get?pageid=155&lid=1686&k=&num=50&page=1"


def paragraphs(article: Article) -> list[str]:
    """Texts of the non-empty ``<p>`` of the cleaned body."""
    body = html5.parse_body(clean_body(article.body_html, article.canonical_url or article.url))
    texts = [html5.text_content(p).strip() for p in html5.iter_elements(body) if p.tag == "p"]
    return [t for t in texts if t]


def page(path: Path, url: str, content_type: str | None = None) -> HtmlResponse:
    headers = {"Content-Type": content_type} if content_type else {}
    return HtmlResponse(url=url, body=path.read_bytes(), headers=headers)


# --- our own fixtures, one per layout and skip case --------------------------------------------------------
CASES = sorted(p.stem for p in FIXTURES.glob("*.json"))


@pytest.mark.parametrize("case", CASES)
def test_fixture_page(case: str) -> None:
    expected: dict[str, Any] = json.loads((FIXTURES / f"{case}.json").read_text(encoding="utf-8"))
    result = article_page(page(FIXTURES / f"{case}.html", expected["url"], expected.get("content_type")))
    if "dropped" in expected:
        assert result.article is None
        assert result.dropped == expected["dropped"]
        return
    article = result.article
    assert article is not None, result
    for name in ("layout", "docid", "canonical_url", "title", "published", "source", "editor", "keywords"):
        assert getattr(article, name) == expected[name], name
    assert article.images == expected["images"]
    assert article.image_count == len(expected["images"])
    assert article.first_image == (expected["images"] or [None])[0]
    found = paragraphs(article)
    assert (found[0], found[-1], len(found)) == (
        expected["first_paragraph"], expected["last_paragraph"], expected["paragraphs"]
    )  # fmt: skip
    assert article.body_text is not None
    lines = article.body_text.split("\n")
    assert lines[0] == expected["first_paragraph"]
    for text in expected["text_contains"]:
        assert text in article.body_text
    for text in expected["text_lacks"]:
        assert text not in article.body_text
    assert result.warnings == []


def test_fixtures_cover_every_layout_and_skip() -> None:
    layouts = set()
    for case in CASES:
        expected = json.loads((FIXTURES / f"{case}.json").read_text(encoding="utf-8"))
        layouts.add(expected.get("layout") or expected["dropped"])
    assert layouts == {"2017", "2014", "old", "mobile", "slide", "video", "no_body"}


def test_entry_values_win_where_the_format_asks_for_them() -> None:
    entry = RollEntry(
        docid="narqxyz1234567", url="http://127.0.0.1/x", title="API 的标题", intime=1_713_233_100,
        media_name="API媒体", keywords="甲,乙", img="https://n.sinaimg.cn/thumb.jpg",
    )  # fmt: skip
    response = page(FIXTURES / "layout-2017.html", "http://127.0.0.1/roll/x/doc-iother.shtml")
    result = article_page(response, entry)
    article = result.article
    assert article is not None
    assert (article.docid, article.title) == ("narqxyz1234567", "API 的标题")
    assert article.intime == "2024-04-16T02:05:00Z"
    assert article.published == "2024-04-16T10:05:00+08:00"  # the page's own time is kept too
    assert article.source == "第一财经"  # the page names the source; the API's media_name is a fallback
    assert article.api_img == "https://n.sinaimg.cn/thumb.jpg"
    assert article.url == "http://127.0.0.1/roll/x/doc-iother.shtml"
    assert article.canonical_url == "https://finance.sina.com.cn/roll/2024-04-16/doc-inarqxyz1234567.shtml"


def test_gb2312_page_with_invalid_bytes_is_kept_with_a_warning() -> None:
    raw = (FIXTURES / "layout-old-gb2312.html").read_bytes()
    at = raw.index("新浪财经讯".encode("gb2312"))
    broken = raw[:at] + b"\x80\xff" + raw[at:]
    response = HtmlResponse(
        url="http://finance.sina.com.cn/stock/2013-07-07/doc-icxzpkfa1234567.shtml",
        body=broken,
        headers={"Content-Type": "text/html; charset=gb2312"},
    )
    result = article_page(response)
    assert result.warnings == ["invalid_bytes"]
    assert result.article is not None
    assert result.article.title == "沪深两市成交额突破万亿元"
    assert "\ufffd" in paragraphs(result.article)[0]


def test_binary_answer_is_not_an_article() -> None:
    response = Response(url="https://finance.sina.com.cn/x.pdf", body=b"%PDF-1.4")
    assert article_page(response).dropped == "not_html"


# --- the real pages under ../shared (expected values written by hand) ---------------------------------------
# Paragraphs are pinned by their opening and closing words and their length, so that no real text is
# copied into the project.
REAL: dict[str, dict[str, Any]] = {
    "finance-roll-2018-12-28-doc-ihqfskcn2160999.html": {
        "docid": "hqfskcn2160999",
        "title": '60万"12306账号"外泄? 中铁总辟谣称消息不实',
        "published": "2018-12-28T19:55:00+08:00",
        "source": "新京报",
        "editor": "霍琦",
        "keywords": "辟谣,外泄,账号",
        "first": ("新京报快讯（记者", "网低价出售。", 62),  # opening words, closing words, length
        "last": ("铁路部门提醒广大", "带来的风险。", 102),  # opening words, closing words, length
        "paragraphs": 3,
        "images": 0,
    },
    "news-2019-11-25-doc-iihnzahi3275702.html": {
        "docid": "ihnzahi3275702",
        "title": "中国人习以为常的地方 为何老外却说“了不得”？",
        "published": "2019-11-25T18:57:00+08:00",
        "source": "参考消息",
        "editor": "张迪",
        "keywords": "公园",
        "first": ("原标题：视界丨这", "“了不得”？", 32),  # opening words, closing words, length
        "last": ("BBC称，不只是", "运动的公园。", 43),  # opening words, closing words, length
        "paragraphs": 23,
        "images": 7,
    },
    "tech-2019-09-11-doc-iicezzrq4972166-old-template.html": {
        "docid": "icezzrq4972166",
        "title": "苹果发布新iPhone 11：64GB售5499元 256GB售6799元",
        "published": "2019-09-11T01:53:00+08:00",
        "source": "新浪科技",
        "editor": None,
        "keywords": "苹果,新品,新iPhone",
        "first": ("相关新闻：", "相关新闻：", 5),  # opening words, closing words, length
        "last": ("目前，天猫作为苹", "e。(李楠)", 158),  # opening words, closing words, length
        "paragraphs": 14,
        "images": 3,
    },
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_page(name: str) -> None:
    path = SHARED_PAGES / name
    if not path.exists():
        pytest.skip(f"../shared absent: reference/sina/pages/{name}")
    expected = REAL[name]
    # Served from a mirror: the id, canonical URL and absolute URLs still come from the page itself.
    result = article_page(page(path, f"http://127.0.0.1:8000/mirror/{name}"))
    article = result.article
    assert article is not None, result
    for key in ("docid", "title", "published", "source", "editor", "keywords"):
        assert getattr(article, key) == expected[key], key
    found = paragraphs(article)
    assert len(found) == expected["paragraphs"]
    for text, (opening, closing, length) in ((found[0], expected["first"]), (found[-1], expected["last"])):
        assert (text[: len(opening)], text[-len(closing) :], len(text)) == (opening, closing, length)
    assert article.image_count == expected["images"]
    assert all(src.startswith("https://n.sinaimg.cn/") for src in article.images)
    assert article.canonical_url is not None and article.canonical_url.startswith("https://")
    assert article.canonical_url.endswith(f"/doc-i{article.docid}.shtml")


# --- the roll API ------------------------------------------------------------------------------------------
def api(body: str | bytes, content_type: str = "application/json; charset=utf-8") -> TextResponse:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return TextResponse(url=API, body=data, headers={"Content-Type": content_type})


ITEM = {
    "docid": "comos:kqcfnca6738292",
    "title": "全国各地相继禁止“挖矿”后",
    "keywords": "挖矿,区块链",
    "media_name": "第一财经",
    "url": "http://finance.sina.com.cn/roll/2021-07-14/doc-ikqcfnca6738292.shtml",
    "ctime": "1626259023",
    "mtime": "1626259071",
    "intime": "1626259040",
    "img": {"u": "//n.sinaimg.cn/finance/crawl/26/w550h276/x.jpg", "w": 550, "h": 276},
}
ANSWER = {"result": {"status": {"code": 0, "msg": "succ"}, "total": 2, "data": [ITEM, dict(ITEM, img=[], url="")]}}


def test_roll_json_answer() -> None:
    listing = roll_page(api(json.dumps(ANSWER)))
    assert listing.problem is None
    assert listing.total == 2
    assert listing.entries == [
        RollEntry(
            docid="kqcfnca6738292", url=ITEM["url"], title="全国各地相继禁止“挖矿”后", intime=1626259040,  # type: ignore[arg-type]
            ctime=1626259023, mtime=1626259071, media_name="第一财经", keywords="挖矿,区块链",
            img="https://n.sinaimg.cn/finance/crawl/26/w550h276/x.jpg",
        )
    ]  # fmt: skip
    assert listing.skipped == [("roll_entry_no_url", "docid 'comos:kqcfnca6738292' has no url")]


def test_roll_jsonp_answer() -> None:
    text = f"try{{jQuery1124_1626259040({json.dumps(ANSWER, ensure_ascii=False)});}}catch(e){{}};"
    listing = roll_page(api(text, "application/javascript"))
    assert listing.problem is None
    assert [e.docid for e in listing.entries] == ["kqcfnca6738292"]


@pytest.mark.parametrize(
    ("body", "content_type", "problem"),
    [
        (json.dumps({"result": {"status": {"code": 1, "msg": "lid错误"}, "data": []}}), None, "roll_status"),
        (json.dumps(ANSWER)[:80], None, "roll_bad_json"),
        ("<!DOCTYPE html><html><body>系统繁忙</body></html>", "text/html; charset=utf-8", "roll_html"),
        (json.dumps({"data": []}), None, "roll_bad_shape"),
        (json.dumps({"result": {"status": {"code": 0}, "data": {"a": 1}}}), None, "roll_bad_shape"),
    ],
)
def test_roll_answers_that_cannot_be_read(body: str, content_type: str | None, problem: str) -> None:
    listing = roll_page(api(body, content_type or "application/json"))
    assert listing.problem == problem
    assert listing.entries == []
    assert listing.detail


def test_roll_status_detail_names_code_and_message() -> None:
    listing = roll_page(api(json.dumps({"result": {"status": {"code": 1, "msg": "lid参数错误"}}})))
    assert listing.detail == "status code 1, msg 'lid参数错误'"


def test_roll_url() -> None:
    assert roll_url("https://feed.mix.sina.com.cn/api/roll/get", "155", "1686", 50, 2) == (
        "https://feed.mix.sina.com.cn/api/roll/get?pageid=155&lid=1686&k=&num=50&page=2"
    )
    assert roll_url("http://127.0.0.1:1/api?x=1", "155", "1686", 10, 1).startswith("http://127.0.0.1:1/api?x=1&pageid=")


# --- small readers -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "docid"),
    [
        ("https://finance.sina.com.cn/roll/2018-12-28/doc-ihqfskcn2160999.shtml", "hqfskcn2160999"),
        ("https://news.sina.com.cn/c/2019-11-25/doc-iihnzahi3275702.shtml", "ihnzahi3275702"),
        ("https://finance.sina.cn/2021-07-14/detail-ikqcfnca6738292.d.html", "kqcfnca6738292"),
        ("https://finance.sina.com.cn/stock/", None),
    ],
)
def test_article_id(url: str, docid: str | None) -> None:
    assert article_id(url) == docid


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2018年12月28日 19:55", "2018-12-28T19:55:00+08:00"),
        ("2019年09月11日01:53", "2019-09-11T01:53:00+08:00"),
        ("2016年03月08日 09:12\t", "2016-03-08T09:12:00+08:00"),
        ("2021-07-14 18:37:05", "2021-07-14T18:37:05+08:00"),
        ("2018-12-28T19:56:29+08:00", "2018-12-28T19:56:29+08:00"),
        ("2019年02月30日 10:00", None),
        ("昨天", None),
    ],
)
def test_beijing_iso(text: str, iso: str | None) -> None:
    assert beijing_iso(text) == iso


# --- cleaning ----------------------------------------------------------------------------------------------
def test_clean_body_removes_the_noise_and_keeps_the_article() -> None:
    result = article_page(page(FIXTURES / "layout-2017.html", "http://127.0.0.1/a"))
    assert result.article is not None
    served = result.article.body_html
    for noise in ("<script", "<style", "<!--", "appendQr_wrap", "left_hzh_ad", "app-kaihu-qr", "video-2017",
                  'id="quote_sh601318"', "article-editor"):  # fmt: skip
        assert noise in served, noise  # the fixture does carry each kind of noise
    cleaned = clean_body(served, "https://finance.sina.com.cn/roll/2024-04-16/doc-inarqxyz1234567.shtml")
    for noise in ("<script", "<style", "<!--", "appendQr", "left_hzh_ad", "sinaads", "app-kaihu-qr", "扫码",
                  "video-2017", "quote_", "stock_", "article-editor", "责任编辑", "343233024"):  # fmt: skip
        assert noise not in cleaned, noise
    assert "中国平安" in cleaned  # the stock tag keeps its text
    assert cleaned.count("<p") == 5
    assert cleaned.count("<img") == 2
    src = "https://n.sinaimg.cn/finance/crawl/20/w550h350/20240416/a1b2-gdp.jpg"
    attributes = 'alt="一季度GDP数据" data-mce-attachid="1" referrerpolicy="no-referrer"'
    assert f'<img src="{src}" {attributes}>' in cleaned
    assert "\n\n" not in cleaned
