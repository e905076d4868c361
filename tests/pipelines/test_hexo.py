"""The Hexo writer: the golden format byte for byte, front-matter rules, and hostile titles."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler.items import Article, ForumPost
from crawler.pipelines.hexo import (
    HexoWriterPipeline,
    file_stem,
    hexo_body,
    hexo_date,
    hexo_title,
    yaml_title,
)
from tests.replica.sina import served_from_hexo

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CATEGORIES = ["金融", "新浪财经", "新浪财经－国內"]
FOLDER = "金融/新浪财经/新浪财经－国內"

#: Each golden post, with what the roll API said about it (titles and times written by hand).
GOLDEN = {
    "reference/sina/hexo/rock-candy-tea_wakuang_20210714.md": (
        "全国各地相继禁止“挖矿”后 加密货币、区块链下一步走向何方？", "2021-07-14T10:37:20Z",
        "全国各地相继禁止_挖矿_后 加密货币、区块链下一步走向何方？.md",
    ),
    "reference/sina/hexo/rock-candy-tea_100zhong_20211228.md": (
        '"100种方法刑事你"的女书记登门道歉，当事人：没诚意', "2021-12-28T03:54:01Z",
        '"100种方法刑事你"的女书记登门道歉，当事人：没诚意.md',
    ),
    "reference/sina/hexo/rock-candy-tea_ai-lanqiu_20220731.md": (
        "AI 篮球裁判火了，走步算得特别准，就问哈登慌不慌", "2022-07-31T06:13:25Z",
        "AI 篮球裁判火了，走步算得特别准，就问哈登慌不慌.md",
    ),
    "formats/sina-article.md": (
        "全国各地相继禁止“挖矿”后 加密货币、区块链下一步走向何方？", "2021-07-14T10:37:20Z",
        "全国各地相继禁止_挖矿_后 加密货币、区块链下一步走向何方？.md",
    ),
}  # fmt: skip


class Stats:
    def __init__(self) -> None:
        self.values: Counter[str] = Counter()

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] += count


def article(docid: str, title: str, body: str = "<p>正文</p>", **kw: object) -> Article:
    values: dict[str, object] = {
        "url": f"http://127.0.0.1:8000/roll/2021-07-14/doc-i{docid}.shtml",
        "canonical_url": f"https://finance.sina.com.cn/roll/2021-07-14/doc-i{docid}.shtml",
        "intime": "2021-07-14T10:37:20Z",
        "categories": list(CATEGORIES),
    }
    values.update(kw)
    return Article(docid=docid, title=title, body_html=body, **values)  # type: ignore[arg-type]


def writer(root: Path, stats: Stats | None = None) -> HexoWriterPipeline:
    return HexoWriterPipeline(root / "hexo", fsync=False, stats=stats,
                              clock=lambda: datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))  # fmt: skip


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_raw_body_reproduces_the_golden_post(name: str, tmp_path: Path) -> None:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"../shared absent: {name}")
    golden = path.read_bytes()
    title, intime, file_name = GOLDEN[name]
    served = served_from_hexo(golden.decode("utf-8"))
    assert "alt referrerpolicy" not in served and "//n.sinaimg.cn/" in served  # really as Sina served it
    written = writer(tmp_path).write(article("kqcfnca6738292", title, served, intime=intime))
    assert written == tmp_path / "hexo" / FOLDER / file_name
    assert written.read_bytes() == golden


def test_hexo_body_makes_urls_absolute_against_the_canonical_url_and_drops_scripts() -> None:
    body = hexo_body(
        '\n<!-- lead --><p onclick="x()">a<script>b()</script></p><img src="//n.sinaimg.cn/a.jpg" alt="">'
        '<a href="/roll/b.shtml">b</a><a href="http://tousu.sina.com.cn/">c</a>',
        "https://finance.sina.com.cn/roll/2021-07-14/doc-ikqcfnca6738292.shtml",
    )
    assert body == (
        '<p>a</p><img src="https://n.sinaimg.cn/a.jpg" alt referrerpolicy="no-referrer">'
        '<a href="https://finance.sina.com.cn/roll/b.shtml">b</a><a href="http://tousu.sina.com.cn/">c</a>'
    )


# --- front matter ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("a: b/c\\d?e*f“g”h<i>j|k[l]m", "a_ b_c_d_e_f_g_h_i_j_k_l_m"),
        ("全角：？和\"引号\"不变", "全角：？和\"引号\"不变"),
        ("两行\n标题\r\n三行\r四", "两行 标题 三行 四"),
        ("控制\x00字\x1f符\x7f", "控制字符"),
    ],
)  # fmt: skip
def test_hexo_title(title: str, expected: str) -> None:
    assert hexo_title(title) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ('"100种方法刑事你"的女书记', "'\"100种方法刑事你\"的女书记'"),
        ("It's 新浪", '"It\'s 新浪"'),
        ("It's \"both\"", '"It\'s \\"both\\""'),
    ],
)
def test_yaml_title(title: str, expected: str) -> None:
    assert yaml_title(title) == expected


def test_date_is_rfc1123_gmt_with_a_zero_padded_day() -> None:
    assert hexo_date(datetime(2021, 8, 4, 18, 37, 20, tzinfo=UTC)) == "Wed, 04 Aug 2021 18:37:20 GMT"


def test_date_falls_back_to_the_page_time_then_the_clock(tmp_path: Path) -> None:
    hexo = writer(tmp_path)
    paged = hexo.write(article("a1", "有页面时间", intime=None, published="2021-08-04T18:37:20+08:00"))
    assert "\ndate: Wed, 04 Aug 2021 10:37:20 GMT\n" in paged.read_text(encoding="utf-8")
    undated = hexo.write(article("a2", "没有时间", intime=None, published=None))
    assert "\ndate: Tue, 02 Jan 2024 03:04:05 GMT\n" in undated.read_text(encoding="utf-8")


def test_headimg_is_the_first_body_image_else_the_api_thumbnail_else_empty(tmp_path: Path) -> None:
    hexo = writer(tmp_path)
    body = '<p>x</p><img src="//n.sinaimg.cn/1.jpg"><img src="/2.jpg">'
    with_image = hexo.write(article("b1", "有图", body, api_img="https://n.sinaimg.cn/api.jpg"))
    assert "headimg: 'https://n.sinaimg.cn/1.jpg'\n" in with_image.read_text(encoding="utf-8")
    api_only = hexo.write(article("b2", "接口图", "<p>x</p>", api_img="https://n.sinaimg.cn/api.jpg"))
    text = api_only.read_text(encoding="utf-8")
    assert "headimg: 'https://n.sinaimg.cn/api.jpg'\n" in text
    assert "thumbnail: 'https://n.sinaimg.cn/api.jpg'\n" in text
    none = hexo.write(article("b3", "无图", "<p>x</p>"))
    assert "headimg: ''\nauthor: 新浪财经\n" in none.read_text(encoding="utf-8")


def test_braces_are_escaped_everywhere(tmp_path: Path) -> None:
    post = writer(tmp_path).write(article("c1", "模板{{ x }}", "<p>{% raw %}</p><style>.a{b:c}</style>"))
    text = post.read_text(encoding="utf-8")
    assert "{" not in text and "}" not in text
    assert "title: '模板&#123;&#123; x &#125;&#125;'" in text
    assert "<p>&#123;% raw %&#125;</p><style>.a&#123;b:c&#125;</style>" in text


# --- hostile titles ----------------------------------------------------------------------------------------
HOSTILE = {
    "d1": ("../../x", "__x.md"),
    "d2": ("/", "_.md"),
    "d3": ("..", "d3.md"),
    "d4": ("a\x00b\x1fc\x7f#.", "abc.md"),
    "d5": ("", "d5.md"),
    "d6": ("长" * 300, "长" * 66 + ".md"),
    "d7": ("x\ny\r\nz", "xyz.md"),
}


def test_hostile_titles_stay_inside_the_hexo_folder(tmp_path: Path) -> None:
    stats = Stats()
    hexo = writer(tmp_path, stats)
    root = (tmp_path / "hexo").resolve()
    for docid, (title, name) in HOSTILE.items():
        post = hexo.write(article(docid, title))
        assert post.resolve().is_relative_to(root)
        assert post == tmp_path / "hexo" / FOLDER / name, docid
        assert len(post.name.encode("utf-8")) <= 255
    written = sorted(p.name for p in (tmp_path / "hexo" / FOLDER).iterdir())
    assert written == sorted(name for _, name in HOSTILE.values())
    everything = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    expected = [f"hexo/{FOLDER}/{name}" for _, name in HOSTILE.values()] + ["hexo/.docids.tsv"]
    assert everything == sorted(expected)
    assert stats.values["hexo/untitled"] == 2  # ".." and "" have no usable name
    assert stats.values["hexo/posts_written"] == len(HOSTILE)


def test_file_stem_cuts_long_titles_on_a_character_boundary() -> None:
    stem = file_stem("长" * 300)
    assert len(stem.encode("utf-8")) <= 200
    assert stem == "长" * 66


def test_two_articles_with_one_sanitized_title_never_share_a_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stats = Stats()
    hexo = writer(tmp_path, stats)
    first = hexo.write(article("e1", "A:B", "<p>first</p>"))
    with caplog.at_level(logging.WARNING):
        second = hexo.write(article("e2", "A?B", "<p>second</p>"))
    assert first.name == "A_B.md"
    assert second.name == "A_B-e2.md"
    assert "<p>first</p>" in first.read_text(encoding="utf-8")
    assert "<p>second</p>" in second.read_text(encoding="utf-8")
    assert stats.values["hexo/title_collisions"] == 1
    assert "Hexo title collision" in caplog.text and "e2" in caplog.text

    # The same docids again, in this run and in the next one: each overwrites its own file.
    hexo.write(article("e1", "A:B", "<p>first, edited</p>"))
    again = writer(tmp_path, stats)
    again.write(article("e2", "A?B", "<p>second, edited</p>"))
    again.write(article("e1", "A:B", "<p>first, edited twice</p>"))
    files = sorted(p.name for p in first.parent.iterdir())
    assert files == ["A_B-e2.md", "A_B.md"]
    assert "<p>first, edited twice</p>" in first.read_text(encoding="utf-8")
    assert "<p>second, edited</p>" in second.read_text(encoding="utf-8")
    assert stats.values["hexo/title_collisions"] == 2  # once per article that had to take a suffix


def test_a_file_this_crawler_did_not_write_is_never_overwritten(tmp_path: Path) -> None:
    folder = tmp_path / "hexo" / FOLDER
    folder.mkdir(parents=True)
    (folder / "标题.md").write_text("hand-written post", encoding="utf-8")
    post = writer(tmp_path).write(article("f1", "标题"))
    assert post.name == "标题-f1.md"
    assert (folder / "标题.md").read_text(encoding="utf-8") == "hand-written post"


def test_a_retitled_article_moves_its_post(tmp_path: Path) -> None:
    hexo = writer(tmp_path)
    old = hexo.write(article("g1", "旧标题"))
    new = writer(tmp_path).write(article("g1", "新标题"))
    assert not old.exists() and new.exists()
    assert sorted(p.name for p in new.parent.iterdir()) == ["新标题.md"]


def test_a_category_folder_linking_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "hexo" / "金融" / "新浪财经").mkdir(parents=True)
    (tmp_path / "hexo" / "金融" / "新浪财经" / "新浪财经－国內").symlink_to(outside)
    with pytest.raises(DropItem, match="would leave"):
        writer(tmp_path).write(article("h1", "标题"))
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    "categories", [["金融", "新浪财经"], ["金融", "..", "x"], ["金融", "a/b", "c"], ["", "b", "c"]]
)
def test_unusable_categories_drop_the_item_with_the_reason(categories: list[str], tmp_path: Path) -> None:
    with pytest.raises(DropItem, match="SINA_ROLL_LISTS"):
        writer(tmp_path).write(article("i1", "标题", categories=categories))


def test_other_items_pass_through_untouched(tmp_path: Path) -> None:
    post = ForumPost(
        tid="1", forum_group=None, forum=None, title="t", thread_url="u", author=None, author_url=None,
        thread_date=None, pid="2", poster=None, poster_url=None, poster_registered=None, floor=None,
        content=None,
    )  # fmt: skip
    hexo = writer(tmp_path)
    assert hexo.process_item(post) is post
    assert not (tmp_path / "hexo").exists()


def test_from_crawler_writes_under_data_dir(tmp_path: Path) -> None:
    crawler = get_crawler(settings_dict={"DATA_DIR": str(tmp_path / "data"), "HEXO_FSYNC": False})
    hexo = HexoWriterPipeline.from_crawler(crawler)
    assert hexo.root == tmp_path / "data" / "hexo"
    assert hexo.fsync is False
    assert hexo.process_item(article("j1", "标题")) is not None
    assert (tmp_path / "data" / "hexo" / FOLDER / "标题.md").exists()
