"""The HTML5 serializer over html5lib's tree, and the tree helpers the Hexo and clean steps use."""

from __future__ import annotations

import pytest

from crawler import html5


def roundtrip(markup: str) -> str:
    return html5.inner_html(html5.parse_body(markup))


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ('<img src="a.jpg" alt="">', '<img src="a.jpg" alt>'),
        ('<div class="video-2017" style=""></div>', '<div class="video-2017" style></div>'),
        ("<br/><hr /><input disabled>", "<br><hr><input disabled>"),
        ('<p title="a &amp; &quot;b&quot; &lt;c&gt;&nbsp;">x &amp; y &lt; z &gt; w\xa0v</p>',
         '<p title="a &amp; &quot;b&quot; <c>&nbsp;">x &amp; y &lt; z &gt; w&nbsp;v</p>'),
        ("<p>k</p><style>.a{b:c} p > a {x:'&'}</style>", "<p>k</p><style>.a{b:c} p > a {x:'&'}</style>"),
        ("<p>a</p><!-- news_keyword_pub,stock, --><p>b</p>",
         "<p>a</p><!-- news_keyword_pub,stock, --><p>b</p>"),
        ("<p>x</p><script>if (a < b && c) {}</script>", "<p>x</p><script>if (a < b && c) {}</script>"),
        ("<pre>\n\nkeep</pre>", "<pre>\n\nkeep</pre>"),
        ('<svg viewBox="0 0 1 1"><use xlink:href="#a"></use></svg>',
         '<svg viewBox="0 0 1 1"><use xlink:href="#a"></use></svg>'),
        ('<a href="http://tags.sina.com.cn/辟谣">辟谣</a>', '<a href="http://tags.sina.com.cn/辟谣">辟谣</a>'),
        ("<p>unclosed<p>next", "<p>unclosed</p><p>next</p>"),
    ],
)  # fmt: skip
def test_serialization_is_the_html5_algorithm_with_bare_empty_attributes(markup: str, expected: str) -> None:
    assert roundtrip(markup) == expected


def test_reparse_drops_leading_whitespace_comments_and_head_elements_but_keeps_the_rest() -> None:
    markup = "\n\t<!-- 秒拍begin -->\n<style>.x{}</style>\n<!-- b -->\n<p>one</p>\n<!-- c -->\n"
    markup += "<style>.y{}</style>\n\n"
    assert roundtrip(markup) == "<p>one</p>\n<!-- c -->\n<style>.y{}</style>\n\n"


def test_attribute_order_is_kept_and_referrerpolicy_goes_last_or_in_place() -> None:
    body = html5.parse_body(
        '<img id="0" src="//n.sinaimg.cn/a.jpg" alt=""><img referrerpolicy="origin" src="b.png">'
    )
    html5.make_urls_absolute(body, "https://finance.sina.com.cn/roll/2021-07-14/doc-ikqcfnca6738292.shtml")
    html5.add_no_referrer(body)
    assert html5.inner_html(body) == (
        '<img id="0" src="https://n.sinaimg.cn/a.jpg" alt referrerpolicy="no-referrer">'
        '<img referrerpolicy="no-referrer" src="https://finance.sina.com.cn/roll/2021-07-14/b.png">'
    )


def test_absolute_urls_stay_exactly_as_written() -> None:
    body = html5.parse_body('<a href="http://tousu.sina.com.cn/">投诉</a><a href="/x?a=1&amp;b=2">x</a>')
    html5.make_urls_absolute(body, "https://finance.sina.com.cn/roll/a.shtml")
    assert html5.inner_html(body) == (
        '<a href="http://tousu.sina.com.cn/">投诉</a><a href="https://finance.sina.com.cn/x?a=1&amp;b=2">x</a>'
    )


def test_removing_scripts_keeps_the_text_around_them_and_drops_event_handlers() -> None:
    body = html5.parse_body(
        '<p>a<script>x()</script>b</p>\n<script>y()</script>\n<img src="a" onerror="z()" onload="w()">'
    )
    html5.remove_scripts(body)
    assert html5.inner_html(body) == '<p>ab</p>\n\n<img src="a">'


def test_replace_with_text_and_collapse_blank_runs() -> None:
    body = html5.parse_body(
        '<p>向<span id="stock_sh603883"><a href="#">老百姓</a></span>“耍横”</p>\n\n\n  \n<p>b</p>'
    )
    span = html5.find_first(body, lambda el: el.get("id") == "stock_sh603883")
    paragraph = html5.find_first(body, lambda el: el.tag == "p")
    assert span is not None and paragraph is not None
    html5.replace_with_text(paragraph, span, html5.text_content(span))
    html5.collapse_blank_runs(body)
    assert html5.inner_html(body) == "<p>向老百姓“耍横”</p>\n<p>b</p>"
