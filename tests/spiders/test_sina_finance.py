"""The sina_finance spider: settings checked at start, roll paging, drops counted, items labelled."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawler import settings as crawler_settings
from crawler.items import Article
from crawler.pages.sina import RollEntry
from crawler.spiders.sina_finance import SinaFinanceSpider, roll_lists

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "sina"
CATEGORIES = ["金融", "新浪财经", "新浪财经－国內"]


def spider(**settings: Any) -> SinaFinanceSpider:
    """The spider as ``scrapy crawl`` builds it: the project's settings, then ``settings`` over them."""
    project = {name: getattr(crawler_settings, name) for name in dir(crawler_settings) if name.isupper()}
    crawler = get_crawler(SinaFinanceSpider, settings_dict={**project, **settings})
    made = SinaFinanceSpider.from_crawler(crawler)
    crawler.spider = made
    return made


def stats(of: SinaFinanceSpider) -> dict[str, Any]:
    assert of.crawler.stats is not None
    return of.crawler.stats.get_stats()


def roll_answer(url: str, count: int, total: int) -> TextResponse:
    data = [
        {"docid": f"comos:id{i}", "title": f"t{i}", "url": f"http://127.0.0.1/roll/doc-iid{i}.shtml",
         "intime": str(1_626_259_040 - i)}
        for i in range(count)
    ]  # fmt: skip
    body = json.dumps({"result": {"status": {"code": 0, "msg": "succ"}, "total": total, "data": data}})
    return TextResponse(url=url, body=body.encode(), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "SINA_ROLL_LISTS is empty"),
        ({"1686": CATEGORIES}, "'1686' is not a 'pageid:lid' pair"),
        ({"155:1686": "金融"}, "give a list of three category names"),
        ({"155:1686": ["金融", "新浪财经"]}, "must be exactly three names"),
        ({"155:1686": ["金融", "..", "x"]}, "cannot be a folder name"),
    ],
)
def test_roll_lists_name_the_bad_value_and_the_fix(value: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        roll_lists(value)


def test_settings_from_the_command_line_are_json() -> None:
    lists = json.dumps({"155:1687": ["金融", "新浪财经", "宏观"]})
    made = spider(SINA_ROLL_LISTS=lists, SINA_ROLL_MAX_PAGES="2")
    assert made.lists == {"155:1687": ["金融", "新浪财经", "宏观"]}
    assert made.max_pages == 2
    with pytest.raises(ValueError, match="SINA_ROLL_LISTS"):
        spider(SINA_ROLL_LISTS="155:1686")


def test_start_asks_page_one_of_every_list_with_the_referer() -> None:
    made = spider(SINA_ROLL_LISTS={"155:1686": CATEGORIES, "155:1687": CATEGORIES}, SINA_ROLL_PAGE_SIZE=20)

    async def started() -> list[Request]:
        return [request async for request in made.start()]

    requests = asyncio.run(started())
    assert [r.url for r in requests] == [
        "https://feed.mix.sina.com.cn/api/roll/get?pageid=155&lid=1686&k=&num=20&page=1",
        "https://feed.mix.sina.com.cn/api/roll/get?pageid=155&lid=1687&k=&num=20&page=1",
    ]
    assert all(r.headers.get("Referer") == b"https://finance.sina.com.cn/" for r in requests)


def test_roll_pages_follow_every_url_and_stop_when_the_list_runs_out() -> None:
    made = spider(SINA_ROLL_PAGE_SIZE=2)
    page1 = list(made.parse_roll(roll_answer("http://127.0.0.1/api?page=1", 2, 5), key="155:1686", page=1))
    assert [r.url for r in page1] == [
        "http://127.0.0.1/roll/doc-iid0.shtml", "http://127.0.0.1/roll/doc-iid1.shtml",
        "https://feed.mix.sina.com.cn/api/roll/get?pageid=155&lid=1686&k=&num=2&page=2",
    ]  # fmt: skip
    assert page1[0].cb_kwargs["entry"].intime == 1_626_259_040
    last = list(made.parse_roll(roll_answer("http://127.0.0.1/api?page=3", 1, 5), key="155:1686", page=3))
    assert len(last) == 1  # 3 pages of 2 cover the 5 the API has
    empty = list(made.parse_roll(roll_answer("http://127.0.0.1/api?page=1", 0, 0), key="155:1686", page=1))
    assert empty == []


def test_max_pages_stops_the_roll() -> None:
    made = spider(SINA_ROLL_PAGE_SIZE=2, SINA_ROLL_MAX_PAGES=1)
    requests = list(made.parse_roll(roll_answer("http://127.0.0.1/api", 2, 100), key="155:1686", page=1))
    assert len(requests) == 2


def test_a_roll_answer_that_cannot_be_read_is_counted() -> None:
    made = spider()
    answer = TextResponse(url="http://127.0.0.1/api", body=b'{"result": {"st')
    assert list(made.parse_roll(answer, key="155:1686", page=1)) == []
    assert stats(made)["sina/dropped/roll_bad_json"] == 1


def test_articles_are_labelled_with_their_list_and_drops_are_counted() -> None:
    made = spider()
    entry = RollEntry(docid="narqxyz1234567", url="http://127.0.0.1/a", title="标题", intime=1_713_233_100)
    page = HtmlResponse(url="http://127.0.0.1/a", body=(FIXTURES / "layout-2017.html").read_bytes())
    (item,) = made.parse_article(page, entry=entry, key="155:1686")
    assert isinstance(item, Article)
    assert (item.lids, item.categories, item.title) == ("155:1686", CATEGORIES, "标题")
    slide_page = (FIXTURES / "slide.html").read_bytes()
    slide = HtmlResponse(url="http://127.0.0.1/s/slide_1_1_x.html", body=slide_page)
    assert list(made.parse_article(slide, entry=entry, key="155:1686")) == []
    assert stats(made)["sina/dropped/slide"] == 1


def failure(error: BaseException, request: Request) -> Failure:
    """What Scrapy hands an errback: the error, with the request that met it."""
    made = Failure(error)  # type: ignore[no-untyped-call]
    made.request = request  # type: ignore[attr-defined]
    return made


def test_http_errors_are_counted_by_status() -> None:
    made = spider()
    article = Request("http://127.0.0.1/gone", cb_kwargs={"entry": None, "key": "155:1686"})
    made.failed(failure(HttpError(HtmlResponse(url=article.url, status=404, request=article)), article))
    roll = made.roll_request("155:1686", 1)
    made.failed(failure(HttpError(HtmlResponse(url=roll.url, status=503, request=roll)), roll))
    made.failed(failure(ConnectionRefusedError("refused"), roll))
    values = stats(made)
    assert (values["sina/dropped/http_404"], values["sina/dropped/roll_http_503"]) == (1, 1)
    assert values["sina/dropped/roll_download_error"] == 1
