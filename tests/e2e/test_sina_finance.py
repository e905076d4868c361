"""``scrapy crawl sina_finance`` against the Sina replica on 127.0.0.1: Hexo posts, TSV rows, stats, logs."""

from __future__ import annotations

import calendar
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.replica.server import Replica, ReplicaServer, serving
from tests.replica.sina import (
    STOCK_PARAGRAPH_TEXT,
    SinaArticle,
    SinaSite,
    article_from_hexo,
    generated_article,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / ".." / "shared"
CATEGORIES = ["金融", "新浪财经", "新浪财经－国內"]
FOLDER = "金融/新浪财经/新浪财经－国內"
FAST = [
    "ROBOTSTXT_OBEY=False", "AUTOTHROTTLE_ENABLED=False", "DOWNLOAD_DELAY=0",
    "CONCURRENT_REQUESTS_PER_DOMAIN=8", "LOG_LEVEL=INFO", "TSV_FSYNC=False", "HEXO_FSYNC=False",
    "TELNETCONSOLE_ENABLED=False",
]  # fmt: skip


def epoch(iso: str) -> int:
    return calendar.timegm(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").timetuple())


@dataclass
class Crawl:
    """What one ``scrapy crawl`` left behind."""

    returncode: int
    log: str
    data_dir: Path

    @property
    def stats(self) -> dict[str, int]:
        return {k: int(v) for k, v in re.findall(r"'((?:sina|hexo|tsv|clean)/[^']+)': (\d+)", self.log)}

    def post(self, name: str, folder: str = FOLDER) -> Path:
        return self.data_dir / "hexo" / folder / name

    def posts(self) -> dict[str, str]:
        """Every Hexo post, by path relative to ``DATA_DIR/hexo``."""
        root = self.data_dir / "hexo"
        return {
            str(p.relative_to(root)): p.read_text(encoding="utf-8")
            for p in root.rglob("*.md")
        }

    def tsv_rows(self) -> list[list[str]]:
        files = sorted((self.data_dir / "tsv" / "sina_finance").glob("*.tsv"))
        lines = [line for f in files for line in f.read_text(encoding="utf-8").splitlines()]
        return [line.split("\t") for line in lines]


@dataclass
class Run:
    """A crawl and the replica it crawled."""

    crawl: Crawl
    site: SinaSite
    replica: Replica


def crawl(server: ReplicaServer, data_dir: Path, *settings: str, api_query: str = "") -> Crawl:
    command = [
        sys.executable, "-m", "scrapy", "crawl", "sina_finance",
        "-s", f"SINA_ROLL_API_URL={server.base_url}api/roll/get{api_query}", "-s", f"DATA_DIR={data_dir}",
    ]  # fmt: skip
    for setting in (*FAST, *settings):
        command += ["-s", setting]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )  # fmt: skip
    return Crawl(done.returncode, done.stdout + done.stderr, data_dir)


def lists_setting(lists: dict[str, list[str]]) -> str:
    return "SINA_ROLL_LISTS=" + json.dumps(lists, ensure_ascii=False)


# --- raw mode: the three real posts, byte for byte ----------------------------------------------------------
GOLDEN = {
    # file under ../shared: (id, API title, API intime, file name the post must get)
    "reference/sina/hexo/rock-candy-tea_wakuang_20210714.md": (
        "kqcfnca6738292", "全国各地相继禁止“挖矿”后 加密货币、区块链下一步走向何方？", "2021-07-14T10:37:20Z",
        "全国各地相继禁止_挖矿_后 加密货币、区块链下一步走向何方？.md",
    ),
    "reference/sina/hexo/rock-candy-tea_100zhong_20211228.md": (
        "kyakumx6774120", '"100种方法刑事你"的女书记登门道歉，当事人：没诚意', "2021-12-28T03:54:01Z",
        '"100种方法刑事你"的女书记登门道歉，当事人：没诚意.md',
    ),
    "reference/sina/hexo/rock-candy-tea_ai-lanqiu_20220731.md": (
        "mxzufhy6093741", "AI 篮球裁判火了，走步算得特别准，就问哈登慌不慌", "2022-07-31T06:13:25Z",
        "AI 篮球裁判火了，走步算得特别准，就问哈登慌不慌.md",
    ),
}  # fmt: skip
SAVED_LIST = "155:1690"
SAVED_CATEGORIES = ["金融", "新浪财经", "新浪财经－金融新闻"]


def golden_articles(names: list[str]) -> list[SinaArticle]:
    articles = []
    for name in names:
        path = SHARED / name
        if not path.exists():
            pytest.skip(f"../shared absent: {name}")
        docid, title, intime, _ = GOLDEN_ALL[name]
        articles.append(article_from_hexo(path.read_text(encoding="utf-8"), docid, title, epoch(intime)))
    return articles


GOLDEN_ALL = dict(GOLDEN)
GOLDEN_ALL["formats/sina-article.md"] = GOLDEN["reference/sina/hexo/rock-candy-tea_wakuang_20210714.md"]


@pytest.fixture(scope="module")
def raw_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Raw mode, one API item a page: the three golden articles, an older one past SINA_ROLL_MAX_PAGES,
    and the saved real pages on a second list."""
    site = SinaSite(golden_articles(sorted(GOLDEN)))
    site.add_article(generated_article("older000000001", epoch("2021-07-01T00:00:00Z")))
    saved = SHARED / "reference" / "sina" / "pages"
    if saved.is_dir():
        for article in site.add_saved_pages(saved):
            article.lists = (SAVED_LIST,)
    replica = Replica([site])
    with serving(replica) as server:
        result = crawl(
            server, tmp_path_factory.mktemp("raw"), "HEXO_RAW_BODY=True", "SINA_ROLL_PAGE_SIZE=1",
            "SINA_ROLL_MAX_PAGES=3", lists_setting({"155:1686": CATEGORIES, SAVED_LIST: SAVED_CATEGORIES}),
        )  # fmt: skip
        yield Run(result, site, replica)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_raw_mode_reproduces_the_real_posts_byte_for_byte(name: str, raw_crawl: Run) -> None:
    result = raw_crawl.crawl
    assert result.returncode == 0, result.log[-3000:]
    post = result.post(GOLDEN[name][3])
    assert post.exists(), sorted(result.posts())
    assert post.read_bytes() == (SHARED / name).read_bytes()


def test_roll_pages_are_read_up_to_the_page_limit_with_the_sina_referer(raw_crawl: Run) -> None:
    result = raw_crawl.crawl
    assert result.returncode == 0, result.log[-3000:]
    requested = raw_crawl.replica.requested()
    pages = sorted(re.search(r"&page=(\d+)", t)[1] for t in requested if "lid=1686&k=&num=1&" in t)  # type: ignore[index]
    assert pages == ["1", "2", "3"]
    assert not any("older000000001" in target for target in requested)
    assert set(raw_crawl.site.api_referers) == {"https://finance.sina.com.cn/"}
    assert result.stats["sina/roll/entries"] == 6


def test_saved_real_pages_are_crawled_from_the_api(raw_crawl: Run) -> None:
    result = raw_crawl.crawl
    saved = [a for a in raw_crawl.site.articles if a.layout == "saved"]
    if not saved:
        pytest.skip("../shared absent: reference/sina/pages")
    folder = "/".join(SAVED_CATEGORIES)
    posts = {path: text for path, text in result.posts().items() if path.startswith(folder)}
    assert len(posts) == len(saved) == 3
    assert f"{folder}/60万\"12306账号\"外泄_ 中铁总辟谣称消息不实.md" in posts
    rows = {row[0]: row for row in result.tsv_rows()}
    assert rows["hqfskcn2160999"][6:10] == ["新京报", "霍琦", "辟谣,外泄,账号", SAVED_LIST]


# --- raw mode: sina-article.md over JSONP, and hostile titles -----------------------------------------------
HOSTILE = {
    "hostile0000001": ("../../x", "__x.md"),
    "hostile0000002": ("/", "_.md"),
    "hostile0000003": ("控制\x01字符\x1f", "控制字符.md"),
    "hostile0000004": ("长" * 300, "长" * 66 + ".md"),
    "hostile0000005": ("", "hostile0000005.md"),
}
COLLIDING = {"hostile0000006": "A:B", "hostile0000007": "A?B"}


@pytest.fixture(scope="module")
def hostile_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    site = SinaSite(golden_articles(["formats/sina-article.md"]))
    titles = {docid: title for docid, (title, _) in HOSTILE.items()} | COLLIDING
    for i, (docid, title) in enumerate(titles.items()):
        site.add_article(generated_article(docid, epoch("2021-07-14T09:00:00Z") - 60 * i))
        site.articles[-1].title = title
    replica = Replica([site])
    with serving(replica) as server:
        data_dir = tmp_path_factory.mktemp("hostile")
        yield Run(crawl(server, data_dir, "HEXO_RAW_BODY=True", api_query="?callback=cb"), site, replica)


def test_raw_mode_reproduces_the_golden_file_from_a_jsonp_roll(hostile_crawl: Run) -> None:
    result = hostile_crawl.crawl
    assert result.returncode == 0, result.log[-3000:]
    name = GOLDEN_ALL["formats/sina-article.md"][3]
    assert result.post(name).read_bytes() == (SHARED / "formats" / "sina-article.md").read_bytes()
    assert hostile_crawl.replica.requested("/api/roll/get?callback=cb&pageid=155&lid=1686")
    assert result.stats["sina/roll/entries"] == 1 + len(HOSTILE) + len(COLLIDING)


def test_hostile_titles_never_leave_the_hexo_folder_nor_collide_silently(hostile_crawl: Run) -> None:
    result = hostile_crawl.crawl
    assert result.returncode == 0, result.log[-3000:]
    everything = sorted(str(p.relative_to(result.data_dir)) for p in result.data_dir.rglob("*"))
    # Only the crawl's own outputs sit in DATA_DIR; every post is under hexo/.
    outputs = ("hexo", "tsv", "warc", "runs", "locks", "state.sqlite")
    assert [p for p in everything if not p.startswith(outputs)] == []
    assert [p for p in everything if p.endswith(".md") and not p.startswith("hexo/")] == []
    folder = result.data_dir / "hexo" / FOLDER
    names = {p.name for p in folder.iterdir()}
    # A:B and A?B sanitize alike; whichever was written second carries its docid.
    collided = re.search(
        r"Hexo title collision: \S*A_B\.md belongs to (hostile000000[67]); "
        r"article (hostile000000[67]) is written with its docid appended",
        result.log,
    )
    assert collided and collided[1] != collided[2]
    expected = {name for _, name in HOSTILE.values()} | {GOLDEN_ALL["formats/sina-article.md"][3], "A_B.md"}
    assert names == expected | {f"A_B-{collided[2]}.md"}
    assert result.stats["hexo/title_collisions"] == 1
    assert result.stats["hexo/untitled"] == 1
    assert "title: '长" in (folder / ("长" * 66 + ".md")).read_text(encoding="utf-8")


# --- default (cleaned) mode, every layout, and every kind of bad input -------------------------------------
GOOD = {
    "2017": "clean000002017", "2014": "clean000002014", "old": "clean00000old1", "mobile": "clean000mobile",
}  # fmt: skip
NO_IMAGE_THUMB: dict[str, Any] = {"u": "//n.sinaimg.cn/finance/thumb/no-image.jpg", "w": 200, "h": 150}
FAULT_LISTS = {"155:1687": "status", "155:1688": "truncated", "155:1689": "html", "155:1691": "http500"}
START = epoch("2021-07-14T10:00:00Z")


@pytest.fixture(scope="module")
def cleaned_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    site = SinaSite(roll_faults=FAULT_LISTS)
    for i, (layout, docid) in enumerate(GOOD.items()):
        site.add_article(generated_article(docid, START - 60 * i, layout=layout, images=3))
    site.add_article(generated_article("fault00invalid", START - 300, layout="old", invalid_bytes=True))
    site.add_article(generated_article("clean00noimage", START - 330, images=0, api_img=NO_IMAGE_THUMB))
    site.add_article(generated_article("fault00000gone", START - 360, status=404))
    site.add_article(generated_article("fault00no0body", START - 420, with_body=False))
    site.add_article(generated_article("skip000000side", START - 480, layout="slide"))
    site.add_article(generated_article("skip00000video", START - 540, layout="video"))
    for key in FAULT_LISTS:
        site.add_article(generated_article(f"list{key.replace(':', '')}x", START - 600, lists=(key,)))
    lists = {"155:1686": CATEGORIES, **{key: ["金融", "新浪财经", f"坏列表{key[4:]}"] for key in FAULT_LISTS}}
    replica = Replica([site])
    with serving(replica) as server:
        data_dir = tmp_path_factory.mktemp("cleaned")
        settings = ("SINA_ROLL_PAGE_SIZE=4", "RETRY_TIMES=1", lists_setting(lists))
        yield Run(crawl(server, data_dir, *settings), site, replica)


def test_bad_input_is_logged_and_counted_and_the_crawl_goes_on(cleaned_crawl: Run) -> None:
    result = cleaned_crawl.crawl
    assert result.returncode == 0, result.log[-3000:]
    prefix = "sina/dropped/"
    dropped = {k.removeprefix(prefix): v for k, v in result.stats.items() if k.startswith(prefix)}
    assert dropped == {
        "roll_status": 1, "roll_bad_json": 1, "roll_html": 1, "roll_http_500": 1,
        "http_404": 1, "no_body": 1, "slide": 1, "video": 1,
    }  # fmt: skip
    assert result.stats["sina/warnings/invalid_bytes"] == 1
    for reason, where in [
        ("roll_status", "lid=1687"), ("roll_bad_json", "lid=1688"), ("roll_html", "lid=1689"),
        ("roll_http_500", "lid=1691"), ("http_404", "doc-ifault00000gone"),
        ("no_body", "doc-ifault00no0body"),
        ("slide", "skip000000side"), ("video", "detail-iskip00000video"),
    ]:  # fmt: skip
        assert re.search(rf"Dropped \S*{re.escape(where)}\S* \({reason}\)", result.log), reason
    assert re.search(r"Kept \S*doc-ifault00invalid\.shtml despite a problem: invalid_bytes", result.log)
    assert "status code 1, msg 'lid参数错误'" in result.log
    assert result.stats["hexo/posts_written"] == 6
    assert result.stats["tsv/rows_written"] == 6
    assert result.stats["clean/bodies_cleaned"] == 6


NOISE = (
    "<script", "<style", "<!--", "appendQr", "left_hzh_ad", "sinaads", "app-kaihu-qr", "扫码", "video-2017",
    "quote_", "stock_", "tech-quotation", "众测", "article-editor", "责任编辑", "343233024", "onclick",
)  # fmt: skip


def test_cleaned_posts_keep_every_paragraph_and_image_and_lose_the_noise(cleaned_crawl: Run) -> None:
    result, site = cleaned_crawl.crawl, cleaned_crawl.site
    posts = {path: text for path, text in result.posts().items() if path.startswith(FOLDER)}
    assert len(posts) == 6
    by_title = {a.title: a for a in site.articles}
    for path, text in posts.items():
        article = by_title[Path(path).stem]
        body = text.split("<div>   \n", 1)[1]
        for noise in NOISE:
            assert noise not in body, (path, noise)
        for paragraph in article.paragraphs:
            if article.invalid_bytes and paragraph is article.paragraphs[0]:
                paragraph = paragraph[4:]  # the invalid bytes sit after its first four characters
            assert paragraph in body, (path, paragraph)
        for src in article.images:
            assert f'src="https:{src}" alt referrerpolicy="no-referrer">' in body, (path, src)
        if article.layout != "mobile":
            assert STOCK_PARAGRAPH_TEXT in body
        # The first image of the cleaned body, else the API thumbnail (made https:).
        first = f"https:{(article.images or [NO_IMAGE_THUMB['u']])[0]}"
        assert f"headimg: '{first}'\n" in text and f"thumbnail: '{first}'\n" in text


def test_article_rows_are_written_in_the_documented_columns(cleaned_crawl: Run) -> None:
    result, site = cleaned_crawl.crawl, cleaned_crawl.site
    rows = {row[0]: row for row in result.tsv_rows()}
    assert set(rows) == {*GOOD.values(), "fault00invalid", "clean00noimage"}
    article = next(a for a in site.articles if a.id == "clean000002014")
    row = rows["clean000002014"]
    assert len(row) == 15 and row[-1] == ""  # 14 values, each followed by a TAB
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/roll/2021-07-14/doc-iclean000002014\.shtml", row[1])
    assert row[:1] + row[2:10] == [
        "clean000002014",
        "https://finance.sina.com.cn/roll/2021-07-14/doc-iclean000002014.shtml",
        article.title,
        "2021-07-14T09:59:00Z",
        "2021-07-14T17:58:00+08:00",
        "新浪财经",
        "李明",
        ",".join(article.keywords),
        "155:1686",
    ]
    assert row[10:12] == ["3", f"https:{article.images[0]}"]
    assert row[12].startswith(article.paragraphs[0]) and "责任编辑" not in row[12]

