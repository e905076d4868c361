"""The clean pipeline: cleans article bodies by default, steps aside in raw mode, passes other items."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.items import Article, ForumPost
from crawler.pipelines.clean import CleanBodyPipeline

SERVED = (
    "\n<!-- 秒拍begin -->\n<p>　　正文第一段。</p><script>x()</script>\n"
    '<div class="img_wrapper"><img src="//n.sinaimg.cn/a.jpg" alt=""><span class="img_descr"></span></div>\n'
    '<!-- news_keyword_pub,stock, -->\n<style>.appendQr_wrap{}</style>\n<div class="clearfix appendQr_wrap">'
    '<img src="https://n.sinaimg.cn/finance/cece9e13/20200514/343233024.png"></div>\n'
    '<p class="article-editor">责任编辑：陈志杰 </p>\n\n'
)


def test_article_bodies_are_cleaned_with_absolute_urls(tmp_path: Path) -> None:
    pipeline = CleanBodyPipeline.from_crawler(get_crawler(settings_dict={"DATA_DIR": str(tmp_path)}))
    item = Article(
        docid="kqcfnca6738292", url="http://127.0.0.1:8000/roll/2021-07-14/doc-ikqcfnca6738292.shtml",
        canonical_url="https://finance.sina.com.cn/roll/2021-07-14/doc-ikqcfnca6738292.shtml", title="t",
        body_html=SERVED,
    )  # fmt: skip
    assert pipeline.process_item(item) is item
    assert item.body_html == (
        "<p>　　正文第一段。</p>\n"
        '<div class="img_wrapper"><img src="https://n.sinaimg.cn/a.jpg" alt referrerpolicy="no-referrer">'
        '<span class="img_descr"></span></div>\n'
    )


def test_raw_mode_switches_the_pipeline_off() -> None:
    with pytest.raises(NotConfigured, match="HEXO_RAW_BODY"):
        CleanBodyPipeline.from_crawler(get_crawler(settings_dict={"HEXO_RAW_BODY": True}))


def test_other_items_pass_through_untouched() -> None:
    post = ForumPost(
        tid="1", forum_group=None, forum=None, title="t", thread_url="u", author=None, author_url=None,
        thread_date=None, pid="2", poster=None, poster_url=None, poster_registered=None, floor=None,
        content="<script>kept as is</script>",
    )  # fmt: skip
    assert CleanBodyPipeline().process_item(post) is post
    assert post.content == "<script>kept as is</script>"
