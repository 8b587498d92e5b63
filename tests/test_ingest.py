"""newsearch.ingest and newsearch.documents: real files written to tmp_path, and the real corpora."""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import json
import re
import unicodedata
from datetime import date, datetime
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsearch.documents import Article, content_hash, id_from_path, iso_date
from newsearch.errors import IngestError, NewsearchError
from newsearch.ingest import (
    SUPPORTED_SUFFIXES,
    ParsedFile,
    html_to_text,
    markdown_text,
    markdown_to_html,
    iter_source_files,
    parse_bytes,
    read_bytes,
    read_file,
)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        path.write_bytes(content)
    return path


def parse_one(path: Path) -> Article:
    """Read a post that must give exactly one article, no line errors and no warnings."""
    parsed = read_file(path)
    assert parsed.errors == []
    assert parsed.warnings == []
    assert len(parsed.articles) == 1
    return parsed.articles[0]


def post(front_matter: str, body: str = "正文。\n") -> str:
    return f"---\n{front_matter.strip()}\n---\n{body}"


# --------------------------------------------------------------------------- front matter: titles


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ('title: "瞄准智能化服务赛道 晓多科技用AI和大数据解放人工客服"', "瞄准智能化服务赛道 晓多科技用AI和大数据解放人工客服"),
        ("title: '离岸人民币兑美元升至2018年以来最高水平'", "离岸人民币兑美元升至2018年以来最高水平"),
        ("title: 自我审视 | 一个北大既得利益者的自述", "自我审视 | 一个北大既得利益者的自述"),
        ('title: "他说：\\"好\\""', "他说：\"好\""),
        ("title:    前后有空格   ", "前后有空格"),
        ("title: 2021", "2021"),
        ('title: "两行\n  标题"', "两行 标题"),
    ],
)
def test_title_from_front_matter(tmp_path: Path, line: str, title: str) -> None:
    article = parse_one(write(tmp_path, "post.md", post(line, "# 正文里的标题\n\n正文。\n")))
    assert article.title == title
    # With a front-matter title, a heading in the body stays part of the text.
    assert article.body == "【正文里的标题】\n\n正文。"  # a heading in the body stays one


def test_front_matter_that_is_not_yaml_is_read_line_by_line(tmp_path: Path) -> None:
    # An unquoted colon in the title is invalid YAML; the article is kept anyway.
    text = post(
        """
title: 港股收评: 恒指涨1.2%
date: 2021-12-08 16:10
categories: "emnews"
keywords: [恒指, "科技股"]
series: []
tags:
  - 港股
  - '恒指'
"""
    )
    parsed = read_file(write(tmp_path, "2021-12-08-hk.md", text))
    assert parsed.errors == []
    assert parsed.warnings == [
        "front matter is not valid YAML (mapping values are not allowed in this context); read it line by line"
    ]
    [article] = parsed.articles
    assert article.title == "港股收评: 恒指涨1.2%"
    assert article.date == datetime(2021, 12, 8, 16, 10)
    assert article.categories == ("emnews",)
    assert article.tags == ("港股", "恒指")
    assert article.extra == {"keywords": ["恒指", "科技股"], "series": []}
    assert article.body == "正文。"


def test_flow_lists_survive_line_by_line_reading(tmp_path: Path) -> None:
    text = post('title: 收评: 大涨\ncategories: [新闻, "财经 要闻"]\ntags: [甲, 乙]')
    parsed = read_file(write(tmp_path, "post.md", text))
    assert len(parsed.warnings) == 1
    assert parsed.articles[0].categories == ("新闻", "财经 要闻")
    assert parsed.articles[0].tags == ("甲", "乙")


# --------------------------------------------------------------------------- front matter: dates


@pytest.mark.parametrize(
    ("line", "when", "offset", "iso"),
    [
        ("date: 2021-12-25 14:03:27 +0800", datetime(2021, 12, 25, 14, 3, 27), 480, "2021-12-25T14:03:27+08:00"),
        ("date: 2021-12-25 14:03:27 +08:00", datetime(2021, 12, 25, 14, 3, 27), 480, "2021-12-25T14:03:27+08:00"),
        ("date: 2021-12-25T06:03:27Z", datetime(2021, 12, 25, 6, 3, 27), 0, "2021-12-25T06:03:27+00:00"),
        ("date: 2021-12-08 10:46:18", datetime(2021, 12, 8, 10, 46, 18), None, "2021-12-08T10:46:18"),
        ("date: 2018-05-12 22:51", datetime(2018, 5, 12, 22, 51), None, "2018-05-12T22:51:00"),
        ("date: 2018-05-12", datetime(2018, 5, 12), None, "2018-05-12T00:00:00"),
        ("date:   2016-01-01  +0800", datetime(2016, 1, 1), 480, "2016-01-01T00:00:00+08:00"),
        ('date: "2021年12月25日 14:03"', datetime(2021, 12, 25, 14, 3), None, "2021-12-25T14:03:00"),
        ("date: 1640412207", datetime(2021, 12, 25, 6, 3, 27), 0, "2021-12-25T06:03:27+00:00"),
    ],
)
def test_date_from_front_matter(tmp_path: Path, line: str, when: datetime, offset: int | None, iso: str) -> None:
    # The file name's date is different: the front matter wins.
    article = parse_one(write(tmp_path, "2020-01-01-post.md", post(f"title: 标题\n{line}")))
    assert article.date == when
    assert article.date.tzinfo is None
    assert article.utcoffset_minutes == offset
    assert article.date_iso() == iso


@pytest.mark.parametrize("date_line", ["", "date:", 'date: ""'])
def test_missing_date_comes_from_the_file_name(tmp_path: Path, date_line: str) -> None:
    article = parse_one(write(tmp_path, "2018-05-12-slug.md", post(f"title: 标题\n{date_line}")))
    assert article.date == datetime(2018, 5, 12)
    assert article.utcoffset_minutes is None
    assert article.date_iso() == "2018-05-12T00:00:00"


@pytest.mark.parametrize("name", ["slug.md", "2021-02-30-slug.md", "20211208-slug.md"])
def test_missing_date_without_a_valid_file_name_date_is_undated(tmp_path: Path, name: str) -> None:
    article = parse_one(write(tmp_path, name, post("title: 标题")))
    assert article.date is None
    assert article.utcoffset_minutes is None
    assert article.date_iso() is None


def test_unreadable_date_warns_and_falls_back_to_the_file_name(tmp_path: Path) -> None:
    # An impossible date only loses the date: the rest of the front matter is still YAML.
    text = post("title: 标题\ndate: 2021-13-45 10:00:00\ntags: [甲, 乙]\nupdated: 2021-12-09")
    parsed = read_file(write(tmp_path, "2021-12-08-slug.md", text))
    assert parsed.warnings == ["impossible date '2021-13-45 10:00:00'; dated by the file name instead"]
    assert parsed.articles[0].date == datetime(2021, 12, 8)
    assert parsed.articles[0].utcoffset_minutes is None
    assert parsed.articles[0].tags == ("甲", "乙")
    assert parsed.articles[0].extra == {"updated": "2021-12-09"}

    parsed = read_file(write(tmp_path, "slug.md", post("title: 标题\ndate: 下周一")))
    assert parsed.warnings == ["unrecognised date '下周一'; left undated"]
    assert parsed.articles[0].date is None


def test_an_int_that_is_no_timestamp_is_not_a_1970_date(tmp_path: Path) -> None:
    parsed = read_file(write(tmp_path, "2021-12-25-slug.md", post("title: 标题\ndate: 20211225")))
    assert parsed.warnings == ["not a Unix timestamp: 20211225; dated by the file name instead"]
    assert parsed.articles[0].date == datetime(2021, 12, 25)


# --------------------------------------------------------------------------- front matter: categories and tags


@pytest.mark.parametrize(
    ("lines", "categories", "tags"),
    [
        ("categories: emnews\ntags: 东财滚动新闻", ("emnews",), ("东财滚动新闻",)),
        ("category: Archive\ntags: 声援岳昕", ("Archive",), ("声援岳昕",)),
        ("categories: news finance\ntags: 汇率 央行  人民币", ("news", "finance"), ("汇率", "央行", "人民币")),
        ("categories: [tech, finance]\ntags: [AI, 客服]", ("tech", "finance"), ("AI", "客服")),
        ("categories:\n  - 新闻\n  - 财经\ntags:\n  - MeToo\n  - 高校反性骚扰", ("新闻", "财经"), ("MeToo", "高校反性骚扰")),
        ("categories: 新闻,财经\ntags: 香港，台湾、澳门", ("新闻", "财经"), ("香港", "台湾", "澳门")),
        ("categories: [a, b, a]\ntags: x y x", ("a", "b"), ("x", "y")),
        ("categories: [2021, [nested, 2021]]\ntag: 单数", ("2021", "nested"), ("单数",)),
        ("categories: a\ncategory: b\ntags: []", ("a",), ()),
        ('categories: ""\ncategory: b', ("b",), ()),
        ("categories:\ntags:", (), ()),
        ("", (), ()),
    ],
)
def test_categories_and_tags(tmp_path: Path, lines: str, categories: tuple, tags: tuple) -> None:
    article = parse_one(write(tmp_path, "post.md", post(f"title: 标题\n{lines}")))
    assert article.categories == categories
    assert article.tags == tags


def test_terms_are_nfc_normalized(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Café")
    article = parse_one(write(tmp_path, "post.md", post(f"title: 标题\ntags: {decomposed}")))
    assert decomposed != "Café"
    assert article.tags == ("Café",)


# --------------------------------------------------------------------------- front matter: layout


def test_blank_lines_inside_front_matter(tmp_path: Path) -> None:
    # The layout of the terminus2049 archive: a blank line between every key.
    text = (
        "---\n\nlayout: post\n\ntitle: 自我审视 | 一个北大既得利益者的自述\n\ndate: 2016-12-01\n\n"
        "categories: Archive\n\ntags: 声援岳昕\n\ndescription: 我实在没有理由不向前走。\n\n---\n\n作者：木田无花\n"
    )
    article = parse_one(write(tmp_path, "2016-12-01-YueXin-zishu-2016.md", text))
    assert article.id == "2016-12-01-YueXin-zishu-2016"
    assert article.title == "自我审视 | 一个北大既得利益者的自述"
    assert article.date == datetime(2016, 12, 1)
    assert article.categories == ("Archive",)
    assert article.tags == ("声援岳昕",)
    assert article.extra == {"layout": "post", "description": "我实在没有理由不向前走。"}
    assert article.body == "作者：木田无花"


def test_crlf_front_matter_and_body(tmp_path: Path) -> None:
    text = "---\r\ntitle: 标题\r\ndate: 2018-05-12 22:51\r\ntags: [甲, 乙]\r\n---\r\n\r\n第一段\r\n\r\n第二段\r\n"
    article = parse_one(write(tmp_path, "post.md", text))
    assert (article.title, article.date, article.tags) == ("标题", datetime(2018, 5, 12, 22, 51), ("甲", "乙"))
    assert article.body == "第一段\n\n第二段"


def test_front_matter_after_leading_blank_line_and_with_yaml_end_marker(tmp_path: Path) -> None:
    article = parse_one(write(tmp_path, "a.md", "\n---\ntitle: 前面有空行\n---\n正文\n"))
    assert (article.title, article.body) == ("前面有空行", "正文")
    article = parse_one(write(tmp_path, "b.md", "---\ntitle: 以三点结束\n...\n正文\n"))
    assert (article.title, article.body) == ("以三点结束", "正文")


def test_empty_front_matter(tmp_path: Path) -> None:
    article = parse_one(write(tmp_path, "2021-12-01-x.md", "---\n---\n# 正文标题\n\n正文。\n"))
    assert (article.title, article.body, article.date, article.extra) == ("正文标题", "正文。", datetime(2021, 12, 1), {})


def test_extra_keys_are_kept(tmp_path: Path) -> None:
    text = post(
        """
layout: post
title: 标题
date: 2021-12-25
description: 一句话简介
permalink: /2021/12/25/slug/
image: /assets/img/cover.jpg
image_feature: cover.png
updated: 2021-12-26 10:00:00 +08:00
author:
  name: 木田无花
  links: [a, b]
draft: false
weight: 3
source: 新华社
url: https://example.com/news/1
"""
    )
    article = parse_one(write(tmp_path, "post.md", text))
    assert article.extra == {
        "layout": "post",
        "description": "一句话简介",
        "permalink": "/2021/12/25/slug/",
        "image": "/assets/img/cover.jpg",
        "image_feature": "cover.png",
        "updated": "2021-12-26T10:00:00+08:00",
        "author": {"name": "木田无花", "links": ["a", "b"]},
        "draft": False,
        "weight": 3,
        "source": "新华社",  # not a link: it names the source, and must not be lost
    }
    assert article.url == "https://example.com/news/1"
    json.dumps(article.extra)  # JSON-ready, as the index stores it


def test_id_from_front_matter(tmp_path: Path) -> None:
    assert parse_one(write(tmp_path, "a.md", post("id: news-42\ntitle: t"))).id == "news-42"
    assert parse_one(write(tmp_path, "b.md", post("id: 12345\ntitle: t"))).id == "12345"
    assert parse_one(write(tmp_path, "c.md", post('id: "  padded "\ntitle: t'))).id == "padded"
    assert parse_one(write(tmp_path, "2021-12-08-d.md", post('id: ""\ntitle: t'))).id == "2021-12-08-d"


def test_toml_front_matter(tmp_path: Path) -> None:
    text = (
        '+++\ntitle = "Hugo 文章"\ndate = 2021-12-25T14:03:27+08:00\ncategories = ["新闻"]\n'
        'tags = ["甲", "乙"]\nid = "hugo-1"\ndescription = "简介"\n\n[params]\nsource = "x"\n+++\n\n正文。\n'
    )
    article = parse_one(write(tmp_path, "post.md", text))
    assert article.id == "hugo-1"
    assert article.title == "Hugo 文章"
    assert (article.date, article.utcoffset_minutes) == (datetime(2021, 12, 25, 14, 3, 27), 480)
    assert article.categories == ("新闻",)
    assert article.tags == ("甲", "乙")
    assert article.extra == {"description": "简介", "params": {"source": "x"}}
    assert article.body == "正文。"


def test_toml_front_matter_with_a_plain_date(tmp_path: Path) -> None:
    article = parse_one(write(tmp_path, "post.md", '+++\ntitle = "t"\ndate = 2018-05-12\n+++\nx\n'))
    assert (article.date, article.utcoffset_minutes) == (datetime(2018, 5, 12), None)


# --------------------------------------------------------------------------- broken front matter


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("list.md", "---\n- a\n- b\n---\n正文\n", "front matter is a list, not a set of 'key: value' lines"),
        ("scalar.md", "---\n只是一句话\n---\n正文\n", "front matter is a str, not a set of 'key: value' lines"),
        ("number.md", "---\n42\n---\n正文\n", "front matter is a int, not a set of 'key: value' lines"),
        ("unclosed.md", "---\ntitle: 标题\ndate: 2021-12-25\n\n正文没有结束线\n", "front matter starts with '---' but has no closing '---' line"),
        ("unclosed-crlf.md", "---\r\ntitle: 标题\r\n\r\n正文\r\n", "front matter starts with '---' but has no closing '---' line"),
        ("unclosed.html", "---\ntitle: 标题\n<p>正文</p>\n", "front matter starts with '---' but has no closing '---' line"),
        ("unclosed-toml.md", "+++\ntitle = \"标题\"\n\n正文没有结束线\n", "front matter starts with '+++' but has no closing '+++' line"),
    ],
)
def test_broken_front_matter_raises_with_the_path(tmp_path: Path, name: str, text: str, reason: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(IngestError) as info:
        read_file(path)
    assert info.value.path == str(path)
    assert info.value.reason == reason
    assert info.value.line is None
    assert str(info.value) == f"{path}: {reason}"
    assert isinstance(info.value, NewsearchError)


def test_invalid_toml_front_matter_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.md", '+++\ntitle = "未闭合\n+++\n正文\n')
    with pytest.raises(IngestError) as info:
        read_file(path)
    assert info.value.reason.startswith("front matter is not valid TOML (")
    assert str(info.value).startswith(f"{path}: front matter is not valid TOML")


def test_no_title_and_no_text_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "2021-12-01-empty.md", "---\ndate: 2021-12-01\nlayout: post\n---\n\n<script>x()</script>\n")
    with pytest.raises(IngestError) as info:
        read_file(path)
    assert str(info.value) == f"{path}: no title and no text"


# --------------------------------------------------------------------------- titles without front matter


def test_title_from_markdown_heading_which_leaves_the_body(tmp_path: Path) -> None:
    article = parse_one(write(tmp_path, "post.md", "开头的一段话。\n\n# 真正的 **标题**\n\n正文第一段。\n\n## 小标题\n\n正文第二段。\n"))
    assert article.title == "真正的 标题"
    assert article.body == "开头的一段话。\n\n正文第一段。\n\n【小标题】\n\n正文第二段。"
    assert (article.date, article.categories, article.tags, article.url, article.extra) == (None, (), (), None, {})


def test_title_from_h1_in_html(tmp_path: Path) -> None:
    html = "<html><head><title>网站名</title></head><body><h1>新闻 标题</h1><p>第一段。</p><p>第二段。</p></body></html>"
    article = parse_one(write(tmp_path, "page.html", html))
    assert article.title == "新闻 标题"
    assert article.body == "第一段。\n\n第二段。"


def test_title_from_html_title_element(tmp_path: Path) -> None:
    html = "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>\n  页面 标题\n</title></head>\n<body><h2>小标题</h2><p>正文。</p></body></html>"
    article = parse_one(write(tmp_path, "page.htm", html))
    assert article.title == "页面 标题"
    assert article.body == "【小标题】\n\n正文。"


def test_empty_h1_is_not_a_title(tmp_path: Path) -> None:
    article = parse_one(write(tmp_path, "page.html", "<head><title>用这个</title></head><h1> </h1><p>正文。</p>"))
    assert article.title == "用这个"
    assert article.body == "正文。"


@pytest.mark.parametrize(
    ("name", "text", "title", "body"),
    [
        ("plain.txt", "第一行是标题\n第二行\n\n第三段\n", "第一行是标题", "第二行\n\n第三段"),
        ("plain.md", "\n\n**加粗的** 第一行\n\n正文。\n", "加粗的 第一行", "正文。"),
        ("only-title.txt", "只有一行\n", "只有一行", ""),
        ("page.html", "<p>第一段当标题</p>\n<p>第二段。</p>\n", "第一段当标题", "第二段。"),
    ],
)
def test_title_from_first_line(tmp_path: Path, name: str, text: str, title: str, body: str) -> None:
    article = parse_one(write(tmp_path, name, text))
    assert (article.title, article.body) == (title, body)


# --------------------------------------------------------------------------- body text


def test_html_body_becomes_clean_text(tmp_path: Path) -> None:
    html = (
        "<html><head><title>t</title><style>p { color: red }</style>"
        "<script>var secret = 'SCRIPT_TEXT';</script></head><body>"
        "<div class='post'><p>A &amp; B&nbsp;C &lt;不是标签&gt;</p>"
        "<p>　　中文段落的第一行\n第二行</p>"
        "<script type='text/javascript'>document.write('MORE_SCRIPT')</script>"
        "<ul><li>项一</li><li>项二</li></ul>"
        "<noscript>NOSCRIPT_TEXT</noscript><style>.x{}</style>"
        "<table><tr><td>单元一</td><td>单元二</td></tr></table>"
        "<p>English <b>bold</b>\nand <a href='http://x.y/'>link</a><!-- COMMENT --></p>"
        "<iframe src='http://x.y/'>IFRAME_TEXT</iframe></div></body></html>"
    )
    article = parse_one(write(tmp_path, "page.html", html))
    assert article.title == "t"
    assert article.body == (
        "A & B C <不是标签>\n\n中文段落的第一行第二行\n\n• 项一\n\n• 项二\n\n单元一\n\n单元二\n\nEnglish bold and link"
    )


def test_html_inside_markdown_post(tmp_path: Path) -> None:
    # How finews posts are written: HTML paragraphs in a .md file.
    body = (
        "<p>一切都在快速变化中。</p>\n <p>当下，<strong>移动互联网</strong>红利已经见顶。</p><p>紧握电商契机</p>\n"
        "<script>track('x')</script>\n<style>.a{b:c}</style>\n"
        ' <p class="em_media">（文章来源：每日经济新闻）</p>\n'
    )
    article = parse_one(write(tmp_path, "post.md", post("title: t", body)))
    assert article.body == "一切都在快速变化中。\n\n当下，移动互联网红利已经见顶。\n\n紧握电商契机\n\n（文章来源：每日经济新闻）"


def test_markdown_is_rendered_then_cleaned(tmp_path: Path) -> None:
    body = (
        "文章来自微信公号「木田无花」：~~[自我审视 \\| 一个北大既得利益者的自述](https://mp.weixin.qq.com/s/x)~~\n\n"
        "作者：*木田无花*\n\n"
        "这是第一段，\n接着同一段的第二行。\n\n"
        "- 项一\n- 项二\n\n"
        "> 引用的话\n\n"
        "| 表头 | 值 |\n|---|---|\n| 甲 | 1 |\n\n"
        "```\nprint(1 < 2)\n```\n\n"
        "![图片说明](/img/a.png)\n\n"
        "用 `<center>图注</center>` 居中。\n\n"
        "English line one\nline two.\n"
    )
    article = parse_one(write(tmp_path, "post.md", post("title: t", body)))
    assert article.body == (
        "文章来自微信公号「木田无花」：自我审视 | 一个北大既得利益者的自述\n\n"
        "作者：木田无花\n\n"
        "这是第一段，接着同一段的第二行。\n\n"
        "• 项一\n\n• 项二\n\n"
        "引用的话\n\n"
        "表头\n\n值\n\n甲\n\n1\n\n"
        "print(1 < 2)\n\n"
        "用 <center>图注</center> 居中。\n\n"
        "English line one line two."
    )


def test_paragraph_breaks_are_single_blank_lines(tmp_path: Path) -> None:
    article = parse_one(write(tmp_path, "post.md", post("title: t", "\n\n\n第一段\n\n\n\n\n第二段\n\n\n")))
    assert article.body == "第一段\n\n第二段"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>一</p><p>二</p>", "一\n\n二"),
        ("<div>外<div>内</div>尾</div>", "外\n\n内\n\n尾"),
        ("<p>甲<br>乙</p>", "甲乙"),
        ("<title>不显示</title><p>正文</p>", "正文"),
        ("<html><head><title>t</title><meta charset='utf-8'></head><body><p>正文</p></body></html>", "正文"),
        ("<p>one<br/>two</p>", "one two"),
        ("<p>  多个   空格\t和\n换行  </p>", "多个 空格 和换行"),
        ("<script>only()</script><style>x{}</style>", ""),
        ("纯文本", "纯文本"),
        ("<p></p><p> </p><p>有</p>", "有"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


# --------------------------------------------------------------------------- source links


def test_trailing_source_link_becomes_the_url(tmp_path: Path) -> None:
    text = post(
        "title: 离岸人民币兑美元升至2018年以来最高水平\ndate: 2021-12-08 10:46:18",
        "\n离岸人民币兑美元升至6.3512，为2018年以来最高水平。\n\n"
        "<http://finance.eastmoney.com/news/11060,202112082206672930.html>\n\n"
        "[返回东财滚动新闻](../emnews/)\n[返回首页](../)\n",
    )
    article = parse_one(write(tmp_path, "2021-12-08-202112082206672930.md", text))
    assert article.url == "http://finance.eastmoney.com/news/11060,202112082206672930.html"
    assert article.body == "离岸人民币兑美元升至6.3512，为2018年以来最高水平。"


def test_trailing_link_with_protocol_relative_navigation(tmp_path: Path) -> None:
    text = post(
        "title: t",
        "<p>正文。</p>\n\n<https://finews.example/NewsShare.html?infoCode=NW1>\n\n"
        "[返回每日经济新闻新闻](//finews.example/category/x.html)｜[返回首页](//finews.example/)\n",
    )
    article = parse_one(write(tmp_path, "post.md", text))
    assert article.url == "https://finews.example/NewsShare.html?infoCode=NW1"
    assert article.body == "正文。"


def test_last_of_several_trailing_links_is_the_url(tmp_path: Path) -> None:
    text = post("title: t", "正文。\n\n<http://first.example/a>\n<https://last.example/b>\n\n[返回首页](../)\n")
    article = parse_one(write(tmp_path, "post.md", text))
    assert article.url == "https://last.example/b"
    assert article.body == "正文。"


def test_empty_trailing_link_gives_no_url(tmp_path: Path) -> None:
    text = post("title: t", "正文。(东方财富Choice数据)\n\n<>\n\n[返回东财滚动新闻](../emnews/)\n[返回首页](../)\n")
    article = parse_one(write(tmp_path, "post.md", text))
    assert article.url is None
    assert article.body == "正文。(东方财富Choice数据)"


def test_front_matter_url_wins_over_trailing_link(tmp_path: Path) -> None:
    text = post("title: t\nurl: https://source.example/a", "正文。\n\n<http://trailer.example/b>\n")
    article = parse_one(write(tmp_path, "post.md", text))
    assert article.url == "https://source.example/a"
    assert article.body == "正文。"


@pytest.mark.parametrize("key", ["link", "source_url", "source"])
def test_other_url_keys(tmp_path: Path, key: str) -> None:
    article = parse_one(write(tmp_path, "post.md", post(f"title: t\n{key}: http://a.example/x ")))
    assert article.url == "http://a.example/x"
    assert article.extra == {}


def test_relative_url_in_front_matter_is_not_the_source(tmp_path: Path) -> None:
    text = post("title: t\nurl: /2021/12/25/slug.html", "正文。\n\n<https://trailer.example/b>\n")
    article = parse_one(write(tmp_path, "post.md", text))
    assert article.url == "https://trailer.example/b"


def test_link_inside_the_text_is_not_the_url(tmp_path: Path) -> None:
    text = post("title: t", "见 <http://inline.example/a> 原文。\n\n<http://middle.example/b>\n\n最后一段。\n")
    article = parse_one(write(tmp_path, "post.md", text))
    assert article.url is None
    assert article.body == "见 http://inline.example/a 原文。\n\nhttp://middle.example/b\n\n最后一段。"


def test_canonical_link_of_html_page(tmp_path: Path) -> None:
    html = "<head><title>t</title><link rel='canonical' href='https://news.example/a'></head><p>正文</p>"
    assert parse_one(write(tmp_path, "a.html", html)).url == "https://news.example/a"
    html = "<head><title>t</title><meta property='og:url' content='https://news.example/b'></head><p>正文</p>"
    assert parse_one(write(tmp_path, "b.html", html)).url == "https://news.example/b"
    html = "<head><title>t</title><link rel='canonical' href='/relative'></head><p>正文</p>"
    assert parse_one(write(tmp_path, "c.html", html)).url is None


# --------------------------------------------------------------------------- JSON Lines


def test_jsonl_one_article_per_line(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "id": "fin-1",
                "title": "港股收评",
                "date": "2021-12-08 16:10:00 +0800",
                "categories": ["市场", "港股"],
                "tags": "恒指 科技股",
                "url": "https://news.example/1",
                "body": "恒指涨1.2%。\n\n科技股领涨。",
                "author": "记者",
            },
            ensure_ascii=False,
        ),
        "",
        json.dumps({"title": "只有标题"}, ensure_ascii=False),
        json.dumps({"body": "<p>只有正文</p>", "date": 1640412207}, ensure_ascii=False),
    ]
    path = write(tmp_path, "feed.jsonl", "\n".join(lines) + "\n")
    parsed = read_file(path)
    assert (parsed.errors, parsed.warnings, parsed.encoding, parsed.path) == ([], [], "utf-8", str(path))
    first, second, third = parsed.articles
    assert first == Article(
        id="fin-1",
        title="港股收评",
        body="恒指涨1.2%。\n\n科技股领涨。",
        path=str(path),
        date=datetime(2021, 12, 8, 16, 10),
        categories=("市场", "港股"),
        tags=("恒指", "科技股"),
        url="https://news.example/1",
        content_hash=content_hash(lines[0].encode("utf-8")),
        utcoffset_minutes=480,
    )
    assert first.extra == {"author": "记者"}
    assert (second.id, second.title, second.body, second.date) == ("feed-3", "只有标题", "", None)
    assert (third.id, third.title, third.body) == ("feed-4", "只有正文", "")
    assert (third.date, third.utcoffset_minutes) == (datetime(2021, 12, 25, 6, 3, 27), 0)
    assert len({first.content_hash, second.content_hash, third.content_hash}) == 3


def test_jsonl_bad_lines_are_reported_and_others_still_parse(tmp_path: Path) -> None:
    lines = [
        '{"title": "第一条", "body": "正文一"}',
        '{"title": "缺引号, "body": "x"}',
        '{"id": "x", "date": "2021-12-08"}',
        '["not", "an", "object"]',
        '{"title": "", "body": ""}',
        '{"title": "第六条"}',
        '{"body": "   "}',
        "not json at all",
        '{"title": "第九条", "date": "2021-13-45"}',
    ]
    path = write(tmp_path, "2021-12-08-feed.jsonl", "\n".join(lines))
    parsed = read_file(path)
    assert [a.title for a in parsed.articles] == ["第一条", "第六条", "第九条"]
    assert [a.id for a in parsed.articles] == ["2021-12-08-feed-1", "2021-12-08-feed-6", "2021-12-08-feed-9"]
    assert [(e.line, e.path) for e in parsed.errors] == [(n, str(path)) for n in (2, 3, 4, 5, 7, 8)]
    reasons = [e.reason for e in parsed.errors]
    assert reasons[0].startswith("not valid JSON (")
    assert reasons[1:5] == [
        "record has neither 'title' nor 'body'",
        "expected a JSON object, got list",
        "record has neither 'title' nor 'body'",
        "no title and no text",
    ]
    assert reasons[5] == "not valid JSON (Expecting value at column 1)"
    assert str(parsed.errors[1]) == f"{path}:3: record has neither 'title' nor 'body'"
    assert parsed.warnings == ["line 9: impossible date '2021-13-45'; dated by the file name instead"]
    assert parsed.articles[2].date == datetime(2021, 12, 8)


def test_jsonl_text_may_hold_unicode_line_separators(tmp_path: Path) -> None:
    # json.dumps(ensure_ascii=False) leaves U+2028, U+2029 and U+0085 raw inside strings.
    records = [
        {"title": "段落\u2028分隔", "body": "第一行\u2028第二行\u2029第二段\x85完"},
        {"title": "第二条", "body": "正文"},
    ]
    path = write(tmp_path, "feed.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    parsed = read_file(path)
    assert parsed.errors == []
    assert [a.id for a in parsed.articles] == ["feed-1", "feed-2"]
    assert parsed.articles[1].title == "第二条"


def test_jsonl_crlf_and_bom(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + '{"title": "一"}\r\n{"title": "二"}\r\n'.encode("utf-8")
    parsed = read_file(write(tmp_path, "feed.jsonl", data))
    assert parsed.errors == []
    assert [(a.id, a.title) for a in parsed.articles] == [("feed-1", "一"), ("feed-2", "二")]


def test_jsonl_ids_are_stable_and_hashes_follow_each_line(tmp_path: Path) -> None:
    path = write(tmp_path, "feed.jsonl", '{"title": "一"}\n{"title": "二"}\n')
    before = read_file(path).articles
    assert read_file(path).articles == before
    write(tmp_path, "feed.jsonl", '{"title": "一"}\n{"title": "二（更正）"}\n')
    after = read_file(path).articles
    assert [a.id for a in after] == ["feed-1", "feed-2"]
    assert after[0].content_hash == before[0].content_hash
    assert after[1].content_hash != before[1].content_hash


# --------------------------------------------------------------------------- ids and content hashes


def test_same_file_gives_the_same_article_every_time(tmp_path: Path) -> None:
    path = write(tmp_path, "2021-12-08-202112082206672930.md", post("title: t\ndate: 2021-12-08", "正文。\n"))
    first = read_file(path).articles[0]
    again = read_file(path).articles[0]
    assert again == first
    assert first.id == "2021-12-08-202112082206672930"
    assert first.content_hash == hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{32}", first.content_hash)
    # A copy elsewhere with the same name and bytes has the same id and hash.
    copy = write(tmp_path / "copy", path.name, path.read_bytes())
    other = read_file(copy).articles[0]
    assert (other.id, other.content_hash) == (first.id, first.content_hash)
    assert other.path == str(copy) != first.path


def test_content_hash_changes_with_the_content(tmp_path: Path) -> None:
    path = write(tmp_path, "post.md", post("title: t", "正文。\n"))
    before = read_file(path).articles[0]
    write(tmp_path, "post.md", post("title: t", "正文！\n"))
    after = read_file(path).articles[0]
    assert after.id == before.id == "post"
    assert after.content_hash != before.content_hash
    # Front matter counts too, even when the text stays the same.
    write(tmp_path, "post.md", post("title: t\ntags: 新", "正文。\n"))
    assert read_file(path).articles[0].content_hash not in (before.content_hash, after.content_hash)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("_posts/2021-12-08-202112082206672930.md", "2021-12-08-202112082206672930"),
        ("seeds/000_7382423e0577ef0c.txt", "000_7382423e0577ef0c"),
        ("feed.tar.jsonl", "feed.tar"),
        ("content/post/my-slug/index.md", "my-slug"),
        ("content/post/my-slug/_index.md", "my-slug"),
        ("content/post/my-slug/INDEX.html", "my-slug"),
        ("index.md", "index"),
        ("indexes.md", "indexes"),
        (unicodedata.normalize("NFD", "café/é.md"), "é"),
    ],
)
def test_id_from_path(path: str, expected: str) -> None:
    assert id_from_path(PurePosixPath(path)) == expected
    assert id_from_path(path) == expected


def test_id_of_page_bundle(tmp_path: Path) -> None:
    article = parse_one(write(tmp_path, "post/金融新闻/index.md", post("title: t")))
    assert article.id == "金融新闻"


def test_content_hash() -> None:
    assert content_hash(b"") == "cae66941d9efbd404e4d88758ea67670"
    assert content_hash("新闻".encode()) == hashlib.blake2b("新闻".encode(), digest_size=16).hexdigest()
    assert content_hash(b"a") != content_hash(b"b")


# --------------------------------------------------------------------------- Article


def test_article_is_frozen_and_compares_without_extra() -> None:
    a = Article(id="x", title="t", body="b", path="p", extra={"layout": "post"})
    b = Article(id="x", title="t", body="b", path="p", extra={"layout": "page"})
    assert a == b
    assert hash(a) == hash(b)
    assert a != dataclasses.replace(a, tags=("新",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.title = "changed"  # type: ignore[misc]
    assert (a.date, a.categories, a.tags, a.url, a.content_hash, a.utcoffset_minutes) == (None, (), (), None, "", None)
    assert Article(id="y", title="t", body="b", path="p").extra == {}


@pytest.mark.parametrize(
    ("moment", "offset", "iso"),
    [
        (None, None, None),
        (None, 480, None),
        (datetime(2021, 12, 25, 14, 3, 27), None, "2021-12-25T14:03:27"),
        (datetime(2021, 12, 25, 14, 3, 27, 999999), None, "2021-12-25T14:03:27"),
        (datetime(2021, 12, 25, 14, 3, 27), 480, "2021-12-25T14:03:27+08:00"),
        (datetime(2021, 12, 25, 14, 3, 27), 0, "2021-12-25T14:03:27+00:00"),
        (datetime(2021, 12, 25, 14, 3, 27), -330, "2021-12-25T14:03:27-05:30"),
        (datetime(2021, 12, 25, 14, 3, 27), 345, "2021-12-25T14:03:27+05:45"),
    ],
)
def test_iso_date(moment: datetime | None, offset: int | None, iso: str | None) -> None:
    assert iso_date(moment, offset) == iso
    assert Article(id="x", title="t", body="", path="p", date=moment, utcoffset_minutes=offset).date_iso() == iso


# --------------------------------------------------------------------------- encodings

ENCODED_POST = "---\ntitle: 人民币汇率\ndate: 2021-12-08\ntags: [汇率, 央行]\n---\n离岸人民币兑美元升至6.3512。\n\n第二段。\n"


def check_encoded_post(article: Article) -> None:
    assert article.title == "人民币汇率"
    assert article.date == datetime(2021, 12, 8)
    assert article.tags == ("汇率", "央行")
    assert article.body == "离岸人民币兑美元升至6.3512。\n\n第二段。"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (ENCODED_POST.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + ENCODED_POST.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + ENCODED_POST.replace("\n", "\r\n").encode("utf-8"), "utf-8"),
        (ENCODED_POST.replace("\n", "\r").encode("utf-8"), "utf-8"),
        (ENCODED_POST.encode("gb18030"), "gb18030"),
        (ENCODED_POST.replace("\n", "\r\n").encode("gb18030"), "gb18030"),
        (ENCODED_POST.encode("utf-16"), "utf-16"),
        (codecs.BOM_UTF16_LE + ENCODED_POST.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + ENCODED_POST.encode("utf-16-be"), "utf-16"),
        (codecs.BOM_UTF16_LE + ENCODED_POST.replace("\n", "\r\n").encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + ENCODED_POST.replace("\n", "\r").encode("utf-16-be"), "utf-16"),
    ],
    ids=["utf8", "utf8-bom", "utf8-bom-crlf", "utf8-cr", "gb18030", "gb18030-crlf", "utf16", "utf16le", "utf16be", "utf16le-crlf", "utf16be-cr"],
)
def test_encodings(tmp_path: Path, data: bytes, encoding: str) -> None:
    path = write(tmp_path, "post.md", data)
    parsed = read_file(path)
    notes = ["not UTF-8: decoded as GB18030 (GBK)"] if encoding == "gb18030" else []
    assert (parsed.encoding, parsed.warnings, parsed.errors) == (encoding, notes, [])
    [article] = parsed.articles
    check_encoded_post(article)
    assert article.content_hash == content_hash(data)


def test_gb18030_html_and_jsonl(tmp_path: Path) -> None:
    parsed = read_file(write(tmp_path, "page.html", "<title>中文网页</title><p>国内新闻。</p>".encode("gb18030")))
    assert parsed.encoding == "gb18030"
    assert (parsed.articles[0].title, parsed.articles[0].body) == ("中文网页", "国内新闻。")
    parsed = read_file(write(tmp_path, "feed.jsonl", '{"title": "港股收评"}\n'.encode("gb18030")))
    assert parsed.encoding == "gb18030"
    assert parsed.articles[0].title == "港股收评"


def test_undecodable_bytes_are_replaced_with_a_warning(tmp_path: Path) -> None:
    data = "---\ntitle: 标题\n---\n好的".encode("utf-8") + b"\xff\xfe\x80" + "结尾\n".encode("utf-8")
    parsed = read_file(write(tmp_path, "post.md", data))
    offset = data.index(b"\xff")
    assert parsed.encoding == "utf-8"
    assert parsed.warnings == [f"invalid UTF-8 at byte {offset}; undecodable bytes replaced with U+FFFD"]
    assert parsed.articles[0].title == "标题"
    assert parsed.articles[0].body == "好的\ufffd\ufffd\ufffd结尾"


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
        "---\ntitle: t\n---\n正文".encode("utf-8") + b"\x00\x01\x02",
        "title: 无 BOM 的 UTF-16".encode("utf-16-le"),
    ],
    ids=["png", "nul-in-text", "utf16-without-bom"],
)
def test_binary_file_raises(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "binary.md", data)
    with pytest.raises(IngestError) as info:
        read_file(path)
    assert str(info.value) == f"{path}: binary file (contains NUL bytes), not text"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\r\n\t", "empty file"),
        (codecs.BOM_UTF8 + b"\n", "no title and no text"),
        ("\u3000\n".encode("utf-8"), "no title and no text"),
    ],
)
def test_empty_file_raises(tmp_path: Path, data: bytes, reason: str) -> None:
    path = write(tmp_path, "empty.md", data)
    with pytest.raises(IngestError) as info:
        read_file(path)
    assert str(info.value) == f"{path}: {reason}"


def test_parse_bytes_needs_no_file(tmp_path: Path) -> None:
    parsed = parse_bytes(post("title: 内存里的").encode("utf-8"), "somewhere/2021-12-08-mem.md")
    assert isinstance(parsed, ParsedFile)
    assert parsed.path == str(Path("somewhere/2021-12-08-mem.md"))
    [article] = parsed.articles
    assert (article.id, article.title, article.date) == ("2021-12-08-mem", "内存里的", datetime(2021, 12, 8))


# --------------------------------------------------------------------------- reading files


def test_read_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "gone.md"
    with pytest.raises(IngestError) as info:
        read_file(path)
    assert str(info.value) == f"{path}: file disappeared while indexing"


def test_read_directory(tmp_path: Path) -> None:
    folder = tmp_path / "folder.md"
    folder.mkdir()
    with pytest.raises(IngestError) as info:
        read_bytes(folder)
    assert str(info.value) == f"{folder}: is a directory"


def test_read_file_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "big.md", post("title: t", "长" * 600_000))
    size = path.stat().st_size
    with pytest.raises(IngestError) as info:
        read_file(path, max_bytes=1_000_000)
    assert str(info.value) == (
        f"{path}: file is {size / 1e6:.1f} MB, over the 1.0 MB limit "
        "(raise indexing.max_file_mb in newsearch.toml to index it)"
    )
    assert read_bytes(path, max_bytes=size) == path.read_bytes()
    assert read_file(path).articles[0].body == "长" * 600_000


# --------------------------------------------------------------------------- walking folders


def test_iter_source_files(tmp_path: Path) -> None:
    root = tmp_path / "site"
    wanted = [
        "a.md", "b.jsonl", "c.txt", "d.html", "e.htm", "f.markdown", "g.MD",
        "_posts/2021-12-08-x.md", "_posts/2021-12-09-y.md",
        "sub/2021-01-01-p.md", "sub/deeper/q.html",
    ]  # fmt: skip
    unwanted = [
        "notes.pdf", "image.png", "data.json", "script.py", "noext",
        "README.md", "readme.txt", "README.zh.md", "LICENSE.md", "CHANGELOG.md", "CONTRIBUTING.md",
        ".hidden.md", ".git/HEAD.md", ".github/x.md", "_site/index.html", "_site/2021/x.md",
        "_layouts/post.html", "_includes/head.html", "_sass/x.md", "_data/x.jsonl",
        "node_modules/pkg/README.md", "node_modules/pkg/y.md", "__pycache__/z.txt",
        "sub/README.md", "sub/.drafts/d.md",
    ]  # fmt: skip
    for name in wanted + unwanted:
        write(root, name, "x")
    found = list(iter_source_files([root]))
    assert found == [root / name for name in wanted]
    assert all(isinstance(p, Path) for p in found)
    assert {p.suffix.lower() for p in found} <= SUPPORTED_SUFFIXES


def test_iter_source_files_takes_files_as_given_and_keeps_order(tmp_path: Path) -> None:
    readme = write(tmp_path, "README.md", "x")
    other = write(tmp_path, "notes.pdf", "x")
    folder = tmp_path / "posts"
    post_path = write(folder, "a.md", "x")
    assert list(iter_source_files([str(readme), folder, other])) == [readme, post_path, other]
    assert list(iter_source_files([])) == []


def test_iter_source_files_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert list(iter_source_files([tmp_path / "empty"])) == []


def test_iter_source_files_missing_path_raises(tmp_path: Path) -> None:
    write(tmp_path, "ok/a.md", "x")
    missing = tmp_path / "nope"
    walker = iter_source_files([tmp_path / "ok", missing])
    assert next(walker) == tmp_path / "ok" / "a.md"
    with pytest.raises(IngestError) as info:
        next(walker)
    assert str(info.value) == f"{missing}: no such file or directory"


# --------------------------------------------------------------------------- the real corpora

TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
CODE_SPAN_RE = re.compile(r"`[^`\n]+`")
DATE_LINE_RE = re.compile(r"^date:\s*(\d{4})-(\d{2})-(\d{2})", re.M)
TRAILING_LINK_RE = re.compile(r"^<(https?://[^>\s]+)>\s*$", re.M)


@pytest.fixture(scope="module")
def real_corpus(corpus: Path) -> Path:
    return corpus


@pytest.fixture(scope="module")
def real_posts(real_corpus: Path) -> dict[Path, ParsedFile]:
    return {path: read_file(path) for path in iter_source_files([real_corpus])}


def test_corpus_files_found(real_corpus: Path, real_posts: dict[Path, ParsedFile]) -> None:
    expected = sorted(
        [*(real_corpus / "terminus2049" / "_posts").iterdir(), *(real_corpus / "finews" / "_posts").iterdir(),
         *(real_corpus / "seed").iterdir()]
    )  # fmt: skip
    assert sorted(real_posts) == expected
    counts = {name: sum(1 for p in real_posts if p.is_relative_to(real_corpus / name)) for name in ("terminus2049", "finews", "seed")}
    assert counts == {"terminus2049": 334, "finews": 60, "seed": 1}
    assert real_corpus / "README.md" not in real_posts


def test_every_corpus_post_parses_with_title_and_date(real_posts: dict[Path, ParsedFile]) -> None:
    assert len(real_posts) > 300
    problems = []
    for path, parsed in real_posts.items():
        if parsed.errors or parsed.warnings or len(parsed.articles) != 1:
            problems.append((path.name, parsed.errors, parsed.warnings, len(parsed.articles)))
            continue
        article = parsed.articles[0]
        source = path.read_text(encoding="utf-8")
        m = DATE_LINE_RE.search(source)
        expected_day = date(int(m[1]), int(m[2]), int(m[3])) if m else None
        if not article.title.strip() or article.title != article.title.strip() or article.title[0] in "\"'":
            problems.append((path.name, "title", article.title))
        if article.date is None or article.date.date() != expected_day:
            problems.append((path.name, "date", article.date, expected_day))
        if article.id != path.stem:
            problems.append((path.name, "id", article.id))
        if not article.body:
            problems.append((path.name, "empty body"))
        if article.content_hash != content_hash(path.read_bytes()):
            problems.append((path.name, "hash"))
    assert problems == []


def test_corpus_bodies_have_no_html_left(real_posts: dict[Path, ParsedFile]) -> None:
    assert len(real_posts) > 300
    problems = []
    for path, parsed in real_posts.items():
        source = path.read_text(encoding="utf-8")
        # Tags shown as code in the source (`<center>图注</center>`) are text, not markup.
        shown = set(TAG_RE.findall(" ".join(CODE_SPAN_RE.findall(source))))
        for article in parsed.articles:
            left = set(TAG_RE.findall(article.body + "\n" + article.title)) - shown
            if left or "<script" in article.body or "<style" in article.body:
                problems.append((path.name, sorted(left)))
            if "\n\n\n" in article.body or article.body != article.body.strip():
                problems.append((path.name, "paragraph breaks"))
    assert problems == []


def test_corpus_source_links(real_corpus: Path, real_posts: dict[Path, ParsedFile]) -> None:
    finews = {p: parsed for p, parsed in real_posts.items() if p.is_relative_to(real_corpus / "finews")}
    assert len(finews) == 60
    without_url = []
    for path, parsed in finews.items():
        article = parsed.articles[0]
        links = TRAILING_LINK_RE.findall(path.read_text(encoding="utf-8"))
        if links:
            assert article.url == links[-1], path.name
            assert links[-1] not in article.body, path.name
        else:
            without_url.append(path.name)
            assert article.url is None
        assert "返回首页" not in article.body, path.name
    # One post's source link is empty (a bare "<>" line); every other one has a url.
    assert without_url == ["2021-12-08-202112082206870651.md"]
    assert "\n<>\n" in (real_corpus / "finews" / "_posts" / without_url[0]).read_text(encoding="utf-8")


def test_corpus_spot_checks(real_corpus: Path, real_posts: dict[Path, ParsedFile]) -> None:
    [seed] = real_posts[real_corpus / "seed" / "000_7382423e0577ef0c.txt"].articles
    assert seed.id == "000_7382423e0577ef0c"
    assert seed.title == "瞄准智能化服务赛道 晓多科技用AI和大数据解放人工客服"
    assert (seed.date, seed.utcoffset_minutes) == (datetime(2021, 12, 25, 14, 3, 27), 480)
    assert (seed.categories, seed.tags) == (("meirijingjixinwen",), ("每日经济新闻新闻",))
    assert seed.url == "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202112252225891863"
    assert seed.extra == {"layout": "post"}
    assert seed.body.startswith("一切都在快速变化中。2020年在疫情防控中构筑科技保护伞的人工智能，在2021年迎来了爆发。\n\n当下，")
    assert seed.body.endswith("\n\n（文章来源：每日经济新闻）")

    [fin] = real_posts[real_corpus / "finews" / "_posts" / "2021-12-08-202112082206672930.md"].articles
    assert fin.title == "离岸人民币兑美元升至2018年以来最高水平"
    assert (fin.date, fin.utcoffset_minutes) == (datetime(2021, 12, 8, 10, 46, 18), None)
    assert (fin.categories, fin.tags) == (("emnews",), ("东财滚动新闻",))
    assert fin.body == "离岸人民币兑美元升至6.3512，为2018年以来最高水平。"
    assert fin.url == "http://finance.eastmoney.com/news/11060,202112082206672930.html"

    [yue] = real_posts[real_corpus / "terminus2049" / "_posts" / "2016-12-01-YueXin-zishu-2016.md"].articles
    assert yue.title == "自我审视 | 一个北大既得利益者的自述"
    assert yue.date == datetime(2016, 12, 1)
    assert (yue.categories, yue.tags) == (("Archive",), ("声援岳昕",))
    assert yue.extra["description"] == "我实在没有理由不向前走；我实在没有理由仅为自己而向前走。"
    assert yue.body.startswith("文章来自微信公号「木田无花」：自我审视 | 一个北大既得利益者的自述\n\n作者：木田无花")

    [howto] = real_posts[real_corpus / "terminus2049" / "_posts" / "2018-04-01-how-to-participate-in-terminus.md"].articles
    assert "图注用 <center>图注</center> 居中" in howto.body


# --------------------------------------------------------------------------- Markdown text from tokens

MARKDOWN_CASES = [
    "第一段**粗体**和*斜体*和[链接](http://example.com)和`代码`。\n\n第二段",
    "软换行\n接着写\nthen English\nwords",
    "硬换行  \n下一行\n\n反斜杠硬换行\\\n下一行",
    "- 列表一\n- 列表二\n  - 子项\n\n1. 有序\n2. 列表\n\n- 松散\n\n- 列表",
    "| 甲 | 乙 |\n|---|---|\n| 一 | 二 |\n| 三 | 四 |",
    "```python\nprint('代码块')\n\nx = 1\n```\n\n    缩进代码\n    第二行\n\n段落",
    "> 引用 &amp; 实体 &copy; &#x4e2d;\n>\n> > 嵌套引用",
    "![图片说明](a.png) 图后文字\n\n---\n\n分隔线之后\n\n***",
    "## 二级标题\n\n正文\n\n标题下划线\n========\n\n第三",
    "转义 \\* 星号 \\_ 下划线 \\# 井号 ~~删除线~~",
    "全角　空格　和\t制表符   多个空格",
    "",
    "   \n\n  ",
    "[空链接]()和<https://example.com/auto>自动链接和 www 网址",
    # Plain paragraphs, read without markdown-it: escapes, and what only looks like syntax.
    "\\-\\-\\- 原文来自\\~\\~\\[标题\\]\\(链接\\)\\~\\~ 作者 \\-\\-\\-\n\n邮件正文：【\\*\\*重点\\*\\*】\\&amp; \\\\ \\中",
    "2018.5亿元\n第二行接着\nEnglish words\n\n\n　　全角空格开头的段落\n\t\n最后一段",
    "1.5倍的增长\n2019年以来\n\n3)不是列表吗\n\n3) 是列表",
    "a \\| b\n:--\n\n标题\n\\=\\=\\=",
    "  - 缩进的列表\n\n   # 缩进的标题\n\n  1. 缩进的编号",
]


@pytest.mark.parametrize("source", MARKDOWN_CASES)
def test_markdown_text_equals_the_text_of_the_rendered_html(source: str) -> None:
    assert markdown_text(source) == html_to_text(markdown_to_html(source))


MARKDOWN_PIECES = [
    "新闻", "报道。", "，", "　", " ", "  ", "\t", "\n", "\n", "\n\n", "\n  \n", "\xa0", "abc", "2018", "1.", "1)", ".", ")",
    "-", "+", "#", "=", ":", "!", "(", "'", '"', "\\", "\\-", "\\*", "\\\n", "\\中", "*", "_", "[", "]", "|", "`", "&", "&amp;",
    "~", "<", ">", "---\n", "|-", ":--", "    ",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(MARKDOWN_PIECES), max_size=30).map("".join))
def test_markdown_text_equals_the_text_of_the_rendered_html_for_any_text(source: str) -> None:
    # Plain paragraphs are read without markdown-it, the rest from its tokens:
    # both must give what the rendered HTML gives.
    fast = markdown_text(source)
    assert fast is None or fast == html_to_text(markdown_to_html(source))


@pytest.mark.parametrize("source", ["正文<br>换行", "<div>块</div>\n\n正文", "正文 <span>行内</span> HTML"])
def test_markdown_text_leaves_embedded_html_to_the_html_parser(source: str) -> None:
    assert markdown_text(source) is None


def test_markdown_text_equals_the_rendered_text_on_every_real_post(corpus: Path) -> None:
    checked = 0
    for path in sorted((corpus / "terminus2049" / "_posts").glob("*.md")):
        body = path.read_text(encoding="utf-8").split("\n---", 2)[-1]
        fast = markdown_text(body)
        if fast is not None:
            checked += 1
            assert fast == html_to_text(markdown_to_html(body)), path.name
    assert checked >= 150  # most posts are plain Markdown


# Traditional-script news as a Taiwanese or Hong Kong archive keeps it, in Big5.
BIG5_POST = """---
title: 臺灣證券交易所今日開盤
date: 2021-12-25
tags: [股市, 臺灣]
---

臺灣加權指數今日開盤上漲，電子類股領漲，外資買超新臺幣五十億元。

分析師認為，市場對於央行升息的預期已經反映在股價之中。
"""


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (BIG5_POST, "big5"),
        (BIG5_POST.replace("\n", "\r\n"), "big5"),
        ("---\ntitle: 臺灣新聞\n---\n\n股市上漲。\n", "big5"),  # a few characters only
        (ENCODED_POST, "gbk"),  # GBK is the two-byte part of GB18030
        ("---\ntitle: 港股收评\n---\n\n恒指收涨。\n", "gbk"),
    ],
    ids=["big5", "big5-crlf", "big5-short", "gbk", "gbk-short"],
)
def test_big5_and_gbk_are_told_apart(tmp_path: Path, text: str, encoding: str) -> None:
    data = text.encode(encoding)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    parsed = read_file(write(tmp_path, "post.md", data))
    assert parsed.encoding == ("gb18030" if encoding == "gbk" else encoding)
    name = "GB18030 (GBK)" if encoding == "gbk" else "Big5"
    assert parsed.warnings == [f"not UTF-8: decoded as {name}"] and parsed.errors == []
    [article] = parsed.articles
    assert article.title == text.split("title: ", 1)[1].split("\n", 1)[0].strip()
    assert article.body == text.replace("\r\n", "\n").split("---\n", 2)[2].strip()


def test_a_big5_article_is_found_by_its_simplified_words(tmp_path: Path) -> None:
    from newsearch import NewsIndex

    write(tmp_path / "posts", "tw.md", BIG5_POST.encode("big5"))
    ix = NewsIndex.create(tmp_path / "index")
    report = ix.update([tmp_path / "posts"])
    assert report.failed == []
    assert [h.id for h in ix.search("台湾加权指数").hits] == ["tw"]  # simplified query, traditional text
    assert [h.id for h in ix.search("外資買超").hits] == ["tw"]


def test_html_text_of_deep_and_long_pages() -> None:
    # 3,000 nested blocks: no recursion limit; 30,000 sibling paragraphs: read in one pass.
    assert html_to_text("<div>" * 3000 + "深层" + "</div>" * 3000) == "深层"
    page = "".join(f"<p>第{i}段</p>" for i in range(30_000))
    text = html_to_text(page)
    assert text.count("\n\n") == 29_999 and text.endswith("第29999段")
    # Comments are not text; CDATA is, as BeautifulSoup's get_text() has it.
    assert html_to_text("<p>甲<p>乙<div>丙<!-- 注释 --></div>") == "甲\n\n乙\n\n丙"


@pytest.mark.parametrize(
    ("raw_id", "warning"),
    [
        ("   ", "is blank"),
        ("\t\u3000", "is blank"),
        ("a\nb", "holds control characters or line breaks"),
        ("a\u2028b", "holds control characters or line breaks"),
        ("x\x00y", "holds control characters or line breaks"),
        ("bell\x07", "holds control characters or line breaks"),
        (["a", "b"], "is a list, not a string"),
        ({"k": 1}, "is a dict, not a string"),
        (True, "is a bool, not a string"),
    ],
)
def test_an_id_no_one_could_name_falls_back_to_file_and_line(tmp_path: Path, raw_id: object, warning: str) -> None:
    lines = [json.dumps({"id": "ok", "title": "一"}), json.dumps({"id": raw_id, "title": "二"}, ensure_ascii=False)]
    parsed = read_file(write(tmp_path, "feed.jsonl", "\n".join(lines)))
    assert [a.id for a in parsed.articles] == ["ok", "feed-2"]
    [said] = parsed.warnings
    assert said.startswith("line 2: id ") and warning in said and said.endswith("using 'feed-2'")


def test_a_blank_front_matter_id_falls_back_to_the_file_name(tmp_path: Path) -> None:
    parsed = read_file(write(tmp_path, "2021-12-08-post.md", post("title: t\nid: '  '")))
    assert [a.id for a in parsed.articles] == ["2021-12-08-post"]
    assert parsed.warnings == ["id '  ' is blank; using '2021-12-08-post'"]
    assert read_file(write(tmp_path, "n.md", post("title: t\nid: 42"))).articles[0].id == "42"


# --------------------------------------------------------------------------- hostile front matter

# 9 lists of 9 aliases of the one before: 9**7 values from under 300 bytes.
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdef", "bcdefg")
)


def test_a_yaml_alias_bomb_is_not_expanded(tmp_path: Path) -> None:
    parsed = read_file(write(tmp_path, "bomb.md", post("title: 炸弹\ndate: 2021-12-08\n" + ALIAS_BOMB, "炸弹的正文。\n")))
    [article] = parsed.articles
    assert (article.title, article.body, article.date) == ("炸弹", "炸弹的正文。", datetime(2021, 12, 8))
    assert len(json.dumps(article.extra)) < 1_000
    assert parsed.warnings == [
        "front matter is too big to read as YAML (it expands to more than 50,000 values (YAML aliases)); "
        "read it line by line"
    ]
    # Aliases used a reasonable number of times are read as YAML.
    fine = read_file(write(tmp_path, "ok.md", post("title: t\nbase: &b {x: 1}\nthen: [*b, *b]"))).articles[0]
    assert fine.extra == {"base": {"x": 1}, "then": [{"x": 1}, {"x": 1}]}


def test_deeply_nested_yaml_is_not_built(tmp_path: Path) -> None:
    parsed = read_file(write(tmp_path, "deep.md", post("title: 深\nx: " + "[" * 200 + "]" * 200)))
    assert parsed.articles[0].title == "深" and len(json.dumps(parsed.articles[0].extra)) < 20_000
    assert "nests deeper than 64 levels" in parsed.warnings[0]


def test_deeply_nested_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="nested too deeply"):
        read_file(write(tmp_path, "deep.md", "+++\ntitle = 't'\nx = " + "[" * 5_000 + "]" * 5_000 + "\n+++\n正文\n"))


def test_huge_and_deep_extra_values_are_not_kept(tmp_path: Path) -> None:
    lines = [
        json.dumps({"title": "大", "author": "记者", "blob": "x" * 100_000, "after": 1}),
        json.dumps({"title": "深", "tree": json.loads("[" * 500 + "]" * 500), "ok": True}),
        "[" * 100_000 + "]" * 100_000,
    ]
    parsed = read_file(write(tmp_path, "feed.jsonl", "\n".join(lines)))
    big, deep = parsed.articles
    assert big.extra == {"author": "记者", "after": 1} and deep.extra == {"ok": True}
    assert parsed.warnings == [
        "line 1: front matter 'blob' not kept: nested deeper than 64 levels or over the 64 kB kept per article",
        "line 2: front matter 'tree' not kept: nested deeper than 64 levels or over the 64 kB kept per article",
    ]
    assert [(e.line, e.reason) for e in parsed.errors] == [(3, "JSON nested too deeply")]
    toml = read_file(write(tmp_path, "t.md", f"+++\ntitle = 't'\nblob = '{'y' * 70_000}'\n+++\n正文\n"))
    assert toml.articles[0].extra == {} and "'blob' not kept" in toml.warnings[0]


# --------------------------------------------------------------------------- structure kept in the text

STRUCTURED = (
    "## 1\n\n第一节正文。\n\n### 二、原因\n\n- 甲方\n- 乙方\n  1. 子项\n\n"
    "3. 第三\n4. 第四\n\n- 松散的项\n\n  第二段\n\n-\n\n尾段。\n"
)
STRUCTURED_TEXT = (
    "【1】\n\n第一节正文。\n\n【二、原因】\n\n• 甲方\n\n• 乙方\n\n1. 子项\n\n"
    "3. 第三\n\n4. 第四\n\n• 松散的项\n\n第二段\n\n尾段。"
)


def test_headings_and_list_items_stay_readable_in_the_text(tmp_path: Path) -> None:
    assert markdown_text(STRUCTURED) == STRUCTURED_TEXT  # from markdown-it's tokens
    assert html_to_text(markdown_to_html(STRUCTURED)) == STRUCTURED_TEXT  # from the HTML
    assert parse_one(write(tmp_path, "p.md", post("title: t", STRUCTURED))).body == STRUCTURED_TEXT
    page = "<title>t</title><h2>小标题</h2><ol start='7'><li>七</li><li><p>八</p><p>续</p></li></ol><ul><li></li></ul><p>完</p>"
    assert parse_one(write(tmp_path, "p.html", page)).body == "【小标题】\n\n7. 七\n\n8. 八\n\n续\n\n完"
    # A heading already in brackets is not bracketed twice.
    assert markdown_text("## 【快讯】\n\n正文") == "【快讯】\n\n正文"


@pytest.mark.parametrize(
    ("source", "text"),
    [
        # markdown-it; a single _ inside words is no emphasis to CommonMark, nor a highlight
        ("第一段**粗体**和__粗体__和*斜体*和_斜体_。", "第一段粗体和粗体和斜体和_斜体_。"),
        ("邮件正文：【\\*\\*重点\\*\\*】和 \\_\\_下划\\_\\_", "邮件正文：【重点】和 下划"),  # escaped: the plain path
        ("<p>当下，**移动互联网**红利已经见顶，__再__说。</p>", "当下，移动互联网红利已经见顶，再说。"),  # HTML blocks
        ("填空：____，snake_case_name 与 a__b", "填空：____，snake_case_name 与 a__b"),  # not emphasis
    ],
)
def test_emphasis_marks_do_not_reach_the_text(tmp_path: Path, source: str, text: str) -> None:
    assert parse_one(write(tmp_path, "p.md", post("title: t", source))).body == text
    assert parse_one(write(tmp_path, "p.html", f"<p>{source}</p>")).body.count("**") == 0
