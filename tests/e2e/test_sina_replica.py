"""The Sina replica itself, over HTTP on 127.0.0.1: roll API paging, clock, JSONP, faults, pages, charsets."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.replica.server import Replica, serving
from tests.replica.sina import SinaSite, article_from_hexo, generated_article, hexo_body_of, served_from_hexo

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
T0 = 1_626_259_040


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def roll(base: str, query: str) -> dict[str, Any]:
    status, _, body = fetch(f"{base}api/roll/get?{query}")
    assert status == 200
    result: dict[str, Any] = json.loads(body)["result"]
    return result


def test_roll_pages_newest_first_and_the_clock_hides_later_articles() -> None:
    site = SinaSite([generated_article(f"roll{i:010d}", T0 + 60 * i) for i in range(5)], now=T0 + 180)
    with serving(Replica([site])) as server:
        first = roll(server.base_url, "pageid=155&lid=1686&num=2&page=1")
        second = roll(server.base_url, "pageid=155&lid=1686&num=2&page=2")
        assert first["status"] == {"code": 0, "msg": "succ"}
        assert first["total"] == 4
        assert [item["docid"] for item in first["data"] + second["data"]] == [
            "comos:roll0000000003", "comos:roll0000000002", "comos:roll0000000001", "comos:roll0000000000",
        ]  # fmt: skip
        item = first["data"][0]
        assert (item["intime"], item["ctime"], item["mtime"]) == (str(T0 + 180), str(T0 + 163), str(T0 + 211))
        assert item["url"] == f"{server.base_url}roll/2021-07-14/doc-iroll0000000003.shtml"
        assert set(item["img"]) == {"u", "w", "h"} and item["img"]["u"].startswith("//n.sinaimg.cn/")

        site.now = T0 + 240
        site.add_article(generated_article("rollnewest0001", T0 + 230, images=0))
        newest = roll(server.base_url, "pageid=155&lid=1686&num=2&page=1")["data"]
        assert [item["docid"] for item in newest] == ["comos:roll0000000004", "comos:rollnewest0001"]
        assert newest[1]["img"] == []
        assert roll(server.base_url, "pageid=155&lid=1687&num=2&page=1")["data"] == []


def test_jsonp_and_faults() -> None:
    faults = {"155:1686:2": "status", "155:1687": "html"}
    site = SinaSite([generated_article("fault00000001", T0)], roll_faults=faults)
    with serving(Replica([site])) as server:
        api = f"{server.base_url}api/roll/get"
        status, content_type, body = fetch(f"{api}?pageid=155&lid=1686&page=1&callback=cb")
        text = body.decode()
        assert content_type.startswith("application/javascript")
        assert text.startswith("try{cb({") and text.endswith("});}catch(e){};")
        failed = roll(server.base_url, "pageid=155&lid=1686&page=2")
        assert failed["status"] == {"code": 1, "msg": "lid参数错误"}
        status, content_type, body = fetch(f"{api}?pageid=155&lid=1687")
        assert (status, content_type) == (200, "text/html; charset=utf-8")
        assert body.startswith(b"<!DOCTYPE html>")
        site.roll_faults["155:1686"] = "truncated"
        _, _, body = fetch(f"{api}?pageid=155&lid=1686&page=1")
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)


def test_layouts_charsets_and_broken_pages() -> None:
    old = generated_article("oldlayout00001", T0, layout="old")
    broken = generated_article("oldlayout00002", T0 - 60, layout="old", invalid_bytes=True)
    gone = generated_article("gone0000000001", T0 - 120, status=404)
    with serving(Replica([SinaSite([old, broken, gone])])) as server:
        status, content_type, body = fetch(f"{server.base_url}{(old.path or '').lstrip('/')}")
        assert (status, content_type) == (200, "text/html; charset=gb2312")
        text = body.decode("gb2312")
        assert 'charset=gb2312' in text and 'id="artibody"' in text and old.paragraphs[0] in text
        _, _, body = fetch(f"{server.base_url}{(broken.path or '').lstrip('/')}")
        with pytest.raises(UnicodeDecodeError):
            body.decode("gb18030")
        status, _, _ = fetch(f"{server.base_url}{(gone.path or '').lstrip('/')}")
        assert status == 404


def test_golden_post_is_served_as_sina_wrote_it() -> None:
    path = SHARED / "reference" / "sina" / "hexo" / "rock-candy-tea_100zhong_20211228.md"
    if not path.exists():
        pytest.skip("../shared absent: reference/sina/hexo/rock-candy-tea_100zhong_20211228.md")
    post = path.read_text(encoding="utf-8")
    served = served_from_hexo(post)
    assert 'referrerpolicy="no-referrer"' in hexo_body_of(post) and "referrerpolicy" not in served
    assert '<div class="video-2017" id="videoList0" style=""></div>' in served
    assert 'src="https://n.sinaimg.cn/' not in served and 'src="//n.sinaimg.cn/finance/cece9e13/' in served
    assert "&#123;" not in served and ".appendQr_wrap{border" in served
    article = article_from_hexo(post, "kyakumx6774120", "标题", T0)
    with serving(Replica([SinaSite([article])])) as server:
        _, _, body = fetch(f"{server.base_url}roll/2021-07-14/doc-ikyakumx6774120.shtml")
        page = body.decode()
        assert f'<div class="article" id="artibody">{served}</div>' in page
        canonical = "https://finance.sina.com.cn/roll/2021-07-14/doc-ikyakumx6774120.shtml"
        assert f'<link rel="canonical" href="{canonical}">' in page


def test_saved_pages_are_served_at_their_own_paths() -> None:
    folder = SHARED / "reference" / "sina" / "pages"
    if not folder.is_dir():
        pytest.skip("../shared absent: reference/sina/pages")
    site = SinaSite()
    saved = site.add_saved_pages(folder)
    assert sorted(a.path or "" for a in saved) == [
        "/c/2019-11-25/doc-iihnzahi3275702.shtml",
        "/roll/2018-12-28/doc-ihqfskcn2160999.shtml",
        "/t/2019-09-11/doc-iicezzrq4972166.shtml",
    ]
    with serving(Replica([site])) as server:
        items = roll(server.base_url, "pageid=155&lid=1686")["data"]
        assert [item["docid"] for item in items] == ["comos:ihnzahi3275702", "comos:icezzrq4972166",
                                                     "comos:hqfskcn2160999"]  # fmt: skip
        _, _, body = fetch(items[2]["url"])
        assert body == (folder / "finance-roll-2018-12-28-doc-ihqfskcn2160999.html").read_bytes()
