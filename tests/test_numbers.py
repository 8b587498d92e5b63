"""Numbers keep their signs and decimals stay whole: ``14%`` is not every article
with 14, and ``65亿`` is not found inside ``1.65亿``."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_post

from newsearch import NewsIndex
from newsearch.analysis import normalize, signed_numbers, units

POSTS = {
    "pct": ("利率", "一年期贷款利率下调至14%，市场反应平淡。"),
    "pct_wide": ("指数", "上证指数上涨１４％，创下新高。"),
    "plain14": ("会议", "第14次会议在北京召开，有14位代表发言。"),
    "pct_dec": ("通胀", "居民消费价格同比上涨1.5%，低于预期。"),
    "pct_other": ("增长", "全年增长11.5%，其中第四季度增长5%。"),
    "yi_dec": ("营收", "公司营收达到1.65亿元，同比增长。"),
    "yi": ("利润", "公司利润为65亿元，创历史新高。"),
    "kb_dec": ("文件", "压缩后的文件只有1.5kb大小。"),
    "kb": ("图片", "这张图片大小是5KB，加载很快。"),
    "yuan": ("价格", "门票价格为￥100，学生半价。"),
    "hundred": ("人数", "现场来了100多位观众。"),
    "temp": ("天气", "明天最高气温30℃，注意防暑。"),
    "dotted": ("日程", "会议定于2021.12.08召开。"),
}


@pytest.fixture(scope="module")
def ix(tmp_path_factory: pytest.TempPathFactory) -> NewsIndex:
    root = tmp_path_factory.mktemp("numbers")
    for name, (title, body) in POSTS.items():
        write_post(root / "posts", f"{name}.md", title, body)
    index = NewsIndex.create(root / "index")
    index.update([root / "posts"])
    return index


def found(ix: NewsIndex, query: str) -> set[str]:
    return {hit.id for hit in ix.search(query, exact=True, limit=None, collapse=False).hits}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("14%", {"pct", "pct_wide"}),
        ("１４％", {"pct", "pct_wide"}),
        ("14", {"pct", "pct_wide", "plain14"}),
        ("1.5%", {"pct_dec"}),
        ("5%", {"pct_other"}),
        ("11.5%", {"pct_other"}),
        ('"增长11.5%"', {"pct_other"}),
        ("65亿", {"yi"}),
        ("1.65亿", {"yi_dec"}),
        ("5kb", {"kb"}),
        ("1.5kb", {"kb_dec"}),
        ("¥100", {"yuan"}),
        ("100", {"yuan", "hundred"}),
        ("30℃", {"temp"}),
        ("2021.12.08", {"dotted"}),
    ],
)
def test_a_number_is_found_with_its_sign_and_whole(ix: NewsIndex, query: str, expected: set[str]) -> None:
    assert found(ix, query) == expected


def test_the_highlight_covers_the_sign(ix: NewsIndex) -> None:
    hit = ix.search("14%", exact=True).hits[0]
    marked = [p.text[a:b] for p in hit.snippet.passages for a, b in p.highlights]
    assert marked and set(marked) <= {"14%", "１４％"}


def test_units_and_signed_numbers() -> None:
    text = normalize("增长１４％，达到1.65亿元，价格￥100")
    assert units(text) == ["增", "长", "14", "%", "达", "到", "1.65", "亿", "元", "价", "格", "¥", "100"]
    assert signed_numbers(text) == {"14%", "¥100"}
    # Several dots make one run as well: a version or a dotted date is one number.
    assert units("v2.0.1 www.163.com") == ["v2.0.1", "www", "163", "com"]


def test_an_index_of_the_earlier_format_asks_for_a_rebuild(tmp_path: Path) -> None:
    import json

    from newsearch.errors import SchemaMismatchError

    write_post(tmp_path / "posts", "a.md", "标题", "正文14%")
    index = NewsIndex.create(tmp_path / "index")
    index.update([tmp_path / "posts"])
    manifest = tmp_path / "index" / "newsearch.json"
    data = json.loads(manifest.read_text())
    data["schema_version"] -= 1
    manifest.write_text(json.dumps(data))
    with pytest.raises(SchemaMismatchError, match="rebuild"):
        NewsIndex.open(tmp_path / "index").search("14%")


def test_a_number_with_its_sign_lists_no_related_articles(ix: NewsIndex) -> None:
    # Without exact=True too: 14% asks for that figure, not for every article with 14.
    results = ix.search("14%", limit=None, collapse=False)
    assert {hit.id for hit in results.hits} == {"pct", "pct_wide"}
    assert results.total == results.exact_total == 2
    assert {hit.match for hit in results.hits} == {"exact"}
    assert {hit.id for hit in ix.search("利率 14%", limit=None).hits} == {"pct"}
