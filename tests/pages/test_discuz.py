"""Discuz page functions against our own fixture pages, and against hostile input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import HtmlResponse

from crawler.pages import discuz

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "discuz"


def gbk_response(url: str, body: bytes) -> HtmlResponse:
    return HtmlResponse(url=url, body=body, headers={"Content-Type": "text/html; charset=gbk"})


def fixture(name: str) -> tuple[HtmlResponse, Any]:
    case = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return gbk_response(case["url"], (FIXTURES / f"{name}.html").read_bytes()), case["expected"]


@pytest.mark.parametrize("name", ["thread-cases", "thread-floor-names"])
def test_thread_page_matches_expected(name: str) -> None:
    response, expected = fixture(name)
    assert dataclasses.asdict(discuz.thread_page(response)) == expected


def test_listing_matches_expected() -> None:
    response, expected = fixture("listing-sticky")
    assert dataclasses.asdict(discuz.listing_page(response)) == expected


def test_forum_index() -> None:
    response, expected = fixture("forum-index")
    assert discuz.forum_ids(response) == expected


def posts_by_floor() -> dict[str | None, discuz.PagePost]:
    response, _ = fixture("thread-cases")
    return {p.floor: p for p in discuz.thread_page(response).posts}


def test_markup_cases_individually() -> None:
    posts = posts_by_floor()
    # The first post of the page starts with an inline ad script, and guests see a login tip: neither is content.
    assert posts["1"].content == "一则消息，央行要求关闭比特币矿场。"
    assert "马上注册" not in "".join(p.content or "" for p in posts.values())
    assert posts["2"].content is not None and posts["2"].content.startswith(" 本帖最后由 用户1 于")
    assert posts["3"].content == "芝士就是奶酪 发表于 2018-9-12 10:11一则消息同意楼主**的看法"
    assert posts["4"].content == "看图：9001abc.jpg (45.2 KB, 下载次数: 0)"
    assert posts["5"].content is None  # image-only post
    assert posts["6"].poster_registered is None
    assert (posts["7"].poster, posts["7"].poster_url) == ("用户6", None)  # deleted user
    assert posts["8"].content is None and posts["8"].hidden == "提示: 作者被禁止或删除 内容自动屏蔽"
    assert (posts["9"].poster, posts["9"].poster_url) == ("匿名", None)
    # A TAB inside a value becomes a space; U+3000 and U+00A0 are kept.
    assert posts["10"].content == "制表 符与<尖括号>\u3000全角空格 和\u00a0不换行空格"
    # The relative "3 小时前" time is read from its title.
    assert posts["10"].posted_at == "2018-09-14T09:00:00+08:00"


def test_registration_date_found_at_any_sidebar_position() -> None:
    response, _ = fixture("thread-cases")
    posts = discuz.thread_page(response).posts
    orders = [response.css(f"#favatar{p.pid} dl.pil dt::text").getall().index("注册时间")
              for p in posts if p.poster_registered]
    assert len(set(orders)) >= 3
    assert all(p.poster_registered for p in posts if p.floor in {"1", "2", "3", "4"})


def test_thread_page_without_post_list_is_dropped_with_reason() -> None:
    response = gbk_response("https://bbs.51credit.com/thread-1-1-1.html",
                            "<html><body><h1>系统繁忙</h1></body></html>".encode("gbk"))
    page = discuz.thread_page(response)
    assert page.posts == []
    assert page.drops == ["thread page without a post list"]


def test_garbage_listing_yields_no_threads_and_a_reason() -> None:
    body = b"\x00\xff<table id='threadlisttableid'><tbody id='normalthread_abc'><tr><th>x</th></tr></tbody>" * 50
    page = discuz.listing_page(gbk_response("https://bbs.51credit.com/forum-290-1.html", body))
    assert page.threads == []
    assert page.drops and all("listing" in d for d in page.drops)


def test_invalid_gbk_bytes_decode_with_replacement_characters() -> None:
    response, _ = fixture("thread-cases")
    broken = response.body.replace("一则消息".encode("gbk"), b"\x81\x20\xfe\xff", 1)
    page = discuz.thread_page(gbk_response(response.url, broken))
    first = page.posts[0]
    assert first.content is not None and "\ufffd" in first.content
    assert len(page.posts) == 10


def test_gbk_is_decoded_as_gb18030() -> None:
    # U+20AC (€) is 0x80 in Windows-936 but only gb18030 maps four-byte sequences such as this one.
    body = ('<div id="postlist"><div id="post_1"><table><tr><td class="plc"><div class="pct">'
            '<td class="t_f" id="postmessage_1">')
    raw = body.encode("ascii") + "𠀀".encode("gb18030") + b"</td></div></td></tr></table></div></div>"
    page = discuz.thread_page(gbk_response("https://bbs.51credit.com/thread-9-1-1.html", raw))
    assert page.posts[0].content == "𠀀"
