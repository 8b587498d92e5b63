"""newsearch.query: query text → syntax tree (with a keyword fallback) → Whoosh queries."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from whoosh import fields
from whoosh import query as wq
from whoosh.filedb.filestore import RamStorage

from newsearch.analysis import normalize, word_analyzer
from newsearch.query import (
    And,
    DateRange,
    Not,
    Or,
    ParsedQuery,
    Text,
    compile_filters,
    compile_query,
    keyword_key,
    parse,
)

DEC_START = datetime(2021, 12, 1)
DEC_END = datetime(2021, 12, 31, 23, 59, 59, 999999)

KEYWORDS = {
    "tags": {"声援岳昕": ["声援岳昕"], "ai": ["AI", "ai"], "每日经济新闻新闻": ["每日经济新闻新闻"]},
    "categories": {"emnews": ["emnews"], "meirijingjixinwen": ["meirijingjixinwen"]},
}


def expand(field: str, value: str) -> list[str]:
    return list(KEYWORDS[field].get(keyword_key(value), []))


def T(text: str, field: str | None = None, quoted: bool = False) -> Text:
    return Text(text, field, quoted)


def compiled(text: str) -> wq.Query:
    return compile_query(parse(text), title_boost=3.0, expand=expand)


def both(word: str) -> wq.Query:
    return wq.Or([wq.Term("title", word, boost=3.0), wq.Term("body", word)])


# --------------------------------------------------------------------------- parse: the tree


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("客服", T("客服")),
        ("客服 机器人", And((T("客服"), T("机器人")))),
        ("客服　机器人", And((T("客服"), T("机器人")))),  # ideographic space
        ("客服 AND 机器人", And((T("客服"), T("机器人")))),
        ("客服 && 机器人", And((T("客服"), T("机器人")))),
        ("客服 OR 机器人", Or((T("客服"), T("机器人")))),
        ("客服 | 机器人", Or((T("客服"), T("机器人")))),
        ("客服 -机器人", And((T("客服"), Not(T("机器人"))))),
        ("客服 NOT 机器人", And((T("客服"), Not(T("机器人"))))),
        ("NOT 客服", Not(T("客服"))),
        ("+客服", T("客服")),
        ("COVID-19", T("COVID-19")),  # a hyphen inside a word is not NOT
        ("a OR b c", Or((T("a"), And((T("b"), T("c")))))),  # AND binds tighter than OR
        ("(客服 OR 机器人) 晓多", And((Or((T("客服"), T("机器人"))), T("晓多")))),
        ("晓多 (客服 OR (机器人 -电商))", And((T("晓多"), Or((T("客服"), And((T("机器人"), Not(T("电商"))))))))),
        ('"智能 客服"', T("智能 客服", quoted=True)),
        ("“智能客服”", T("智能客服", quoted=True)),
        ("「智能客服」", T("智能客服", quoted=True)),
        ('晓多 "智能 客服" 机器人', And((T("晓多"), T("智能 客服", quoted=True), T("机器人")))),
        ('-"智能 客服"', Not(T("智能 客服", quoted=True))),
        ("-“智能客服”", Not(T("智能客服", quoted=True))),
        ("-(客服 OR 机器人)", Not(Or((T("客服"), T("机器人"))))),
        ("晓多 -(客服 OR 机器人)", And((T("晓多"), Not(Or((T("客服"), T("机器人"))))))),
        ("title:晓多", T("晓多", "title")),
        ("Title:晓多", T("晓多", "title")),
        ("body:客服", T("客服", "body")),
        ("正文:客服", T("客服", "body")),
        ("tags:声援岳昕", T("声援岳昕", "tags")),
        ("标签:声援岳昕", T("声援岳昕", "tags")),
        ("category:emnews", T("emnews", "categories")),
        ("分类：emnews", T("emnews", "categories")),
        ("标题:晓多", T("晓多", "title")),
        ("标题：晓多", T("晓多", "title")),  # full-width colon
        ("标题：“晓多科技”", T("晓多科技", "title", quoted=True)),
        ('title:"智能 客服"', T("智能 客服", "title", quoted=True)),
        ("-title:晓多", Not(T("晓多", "title"))),
        ("title:(晓多 OR 科技)", Or((T("晓多", "title"), T("科技", "title")))),
        ("title:(晓多 -科技)", And((T("晓多", "title"), Not(T("科技", "title"))))),
        (
            "title:晓多 tags:声援岳昕 category:emnews body:客服",
            And((T("晓多", "title"), T("声援岳昕", "tags"), T("emnews", "categories"), T("客服", "body"))),
        ),
        ("foo:bar", T("foo:bar")),  # not a field: a plain word
        ("date:2021-12", DateRange(DEC_START, DEC_END)),
        ("日期：2021年12月", DateRange(DEC_START, DEC_END)),
        ("date:2021", DateRange(datetime(2021, 1, 1), datetime(2021, 12, 31, 23, 59, 59, 999999))),
        ("date:2021-12-25", DateRange(datetime(2021, 12, 25), datetime(2021, 12, 25, 23, 59, 59, 999999))),
        ("date:[2021-12-01 TO 2021-12-31]", DateRange(DEC_START, DEC_END)),
        ("日期：[2021-12-01 to 2021-12-31]", DateRange(DEC_START, DEC_END)),
        ("date:[2021-12-01 TO]", DateRange(DEC_START, None)),
        ("date:[2021-12-01 TO *]", DateRange(DEC_START, None)),
        ("date:[TO 2021-12-31]", DateRange(None, DEC_END)),
        ("date:[* TO 2021-12]", DateRange(None, DEC_END)),
        ("date:(2021-11 OR 2021-12)", Or((DateRange(datetime(2021, 11, 1), datetime(2021, 11, 30, 23, 59, 59, 999999)), DateRange(DEC_START, DEC_END)))),
        ("晓多 date:[2021-12-01 TO]", And((T("晓多"), DateRange(DEC_START, None)))),
    ],
)
def test_parse_tree(text: str, node) -> None:
    parsed = parse(text)
    assert parsed == ParsedQuery(text, node, None)


@pytest.mark.parametrize("text", ["", "   ", "\u3000\n"])
def test_empty_query_has_no_tree(text: str) -> None:
    parsed = parse(text)
    assert parsed.node is None
    assert parsed.fallback_reason is None
    assert parsed.explain() == "(all articles)"
    assert parsed.highlight_patterns() == []
    assert compiled(text) == wq.Every()


def test_none_is_an_empty_query() -> None:
    assert parse(None) == ParsedQuery("", None, None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- parse: the fallback


@pytest.mark.parametrize(
    ("text", "node", "reason"),
    [
        ('"客服', T("客服"), "a quote is not closed"),
        ("“智能 客服", And((T("智能"), T("客服"))), "a quote is not closed"),
        ('晓多 "智能 客服', And((T("晓多"), T("智能"), T("客服"))), "a quote is not closed"),
        ("(客服", T("客服"), "a '(' is not closed"),
        ("(客服 OR 机器人", And((T("客服"), T("机器人"))), "a '(' is not closed"),
        ("客服)", T("客服"), "a ')' has no matching '('"),
        ("()", None, "empty parentheses"),
        ("NOT", None, "the query ends where a term was expected"),
        ("OR", None, "unexpected OR"),
        ("-", None, "a '-' must be written right before what it excludes"),
        ("客服 - 机器人", And((T("客服"), T("机器人"))), "a '-' must be written right before what it excludes"),
        ("客服 OR", T("客服"), "the query ends where a term was expected"),
        ("客服 NOT", T("客服"), "the query ends where a term was expected"),
        ("a OR OR b", And((T("a"), T("b"))), "unexpected OR"),
        ("title:", None, "the query ends where a term was expected"),
        ("title:(晓多", T("晓多"), "a '(' is not closed"),  # the field name is not a keyword
        ("date:", None, "date: needs a value such as 2021-12 or [2021-12-01 TO 2021-12-31]"),
        ("title:[2021 TO 2022]", And((T("2021"), T("TO"), T("2022"))), "a '[... TO ...]' range works only with date:"),
        ("date:[2021-12-01 2021-12-31]", And((T("2021-12-01"), T("2021-12-31"))), "a date range is written [START TO END]"),
        ("date:[2021-12-01 TO 2021-12-31", And((T("2021-12-01"), T("TO"), T("2021-12-31"))), "a date range '[' is not closed with ']'"),
        ("title:(a title:b)", And((T("a"), T("b"))), "a field prefix inside another field"),
    ],
)
def test_syntax_errors_fall_back_to_keywords(text: str, node, reason: str) -> None:
    parsed = parse(text)
    assert parsed == ParsedQuery(text, node, reason)
    assert parsed.explain().endswith(f"  [read as plain keywords: {reason}]")


def test_bad_dates_fall_back_with_the_reason() -> None:
    parsed = parse("date:foo")
    assert parsed.node == T("foo")
    assert parsed.fallback_reason is not None
    assert parsed.fallback_reason.startswith("date:foo — ")
    parsed = parse("date:2021-13")
    assert parsed.node == T("2021-13")
    assert parsed.fallback_reason is not None and "2021-13" in parsed.fallback_reason


@pytest.mark.parametrize(
    "text",
    [
        '"', "“", "(", ")", ")(", "((", "-", "--", "- -", "+", "&&", "|", "NOT NOT", "OR OR", "AND",
        "date:[", "date:]", "date:[]", "date:[TO]", "title:", "标题：", "tags:", ':', "：", "-(", '-"', "NOT (",
        '"" ()', "title:()", "category:(a OR", "。，！", "\x00", "date:[2021-13-01 TO 2021-12-31]",
    ],
)
def test_odd_queries_never_raise(text: str) -> None:
    parsed = parse(text)
    assert parsed.text == text
    parsed.explain()
    parsed.highlight_patterns()
    q = compile_query(parsed, title_boost=3.0, expand=expand)
    assert isinstance(q, wq.Query)


def test_operators_only_match_nothing_and_say_so() -> None:
    for text in ("NOT", "OR", "-", "()"):
        parsed = parse(text)
        assert parsed.node is None and parsed.fallback_reason
        assert compile_query(parsed, title_boost=3.0, expand=expand) is wq.NullQuery
        assert parsed.explain().startswith("(nothing)  [read as plain keywords: ")


# --------------------------------------------------------------------------- explain


@pytest.mark.parametrize(
    ("text", "explained"),
    [
        ("客服", "客服"),
        ("客服 机器人", "(客服 AND 机器人)"),
        ("客服 OR 机器人 -电商", "(客服 OR (机器人 AND NOT 电商))"),
        ("AI客服", '"ai 客服"'),  # written without a space: a phrase of its words
        ("ＡＩ客服", '"ai 客服"'),
        ('"客服"', '"客服"'),
        ("“智能客服”", '"智能 客服"'),
        ("标题：晓多科技", 'title:"晓多 科技"'),
        ("tags:声援岳昕", "tags:声援岳昕"),  # keyword fields are not segmented
        ("-title:晓多", "NOT title:晓多"),
        ("date:2021-12", "date:[2021-12-01T00:00:00 TO 2021-12-31T23:59:59]"),
        ("date:[2021-12-01 TO]", "date:[2021-12-01T00:00:00 TO *]"),
        ("date:[TO 2021-12-31]", "date:[* TO 2021-12-31T23:59:59]"),
        ("。，", "∅"),
        ('"客服', "客服  [read as plain keywords: a quote is not closed]"),
    ],
)
def test_explain(text: str, explained: str) -> None:
    assert parse(text).explain() == explained


# --------------------------------------------------------------------------- highlight patterns


def _found(parsed: ParsedQuery, text: str) -> list[str]:
    norm = normalize(text)
    spans = sorted((m.start(), m.end()) for p in parsed.highlight_patterns() for m in p.finditer(norm))
    return [text[s:e] for s, e in spans]


def test_highlight_patterns_are_the_query_words() -> None:
    patterns = parse("客服 OR 机器人 -电商").highlight_patterns()
    assert [p.pattern for p in patterns] == ["客服", "机器人"]
    assert all(isinstance(p, re.Pattern) for p in patterns)


def test_full_width_query_highlights_the_text_as_written() -> None:
    text = "专注AI客服机器人领域，ａｉ 客服也行"
    assert _found(parse("ＡＩ客服"), text) == ["AI客服", "ａｉ 客服"]
    assert _found(parse("ai客服"), text) == ["AI客服", "ａｉ 客服"]


def test_phrase_patterns_allow_punctuation_between_words() -> None:
    text = "智能客服、智能，客服、智能 — 客服、智能化客服"
    assert _found(parse('"智能 客服"'), text) == ["智能客服", "智能，客服", "智能 — 客服"]


def test_negated_terms_are_not_highlighted() -> None:
    text = "晓多科技的智能客服机器人"
    assert _found(parse("客服 -机器人"), text) == ["客服"]
    assert _found(parse("客服 NOT 机器人"), text) == ["客服"]
    assert _found(parse('客服 -"晓多 科技"'), text) == ["客服"]
    assert _found(parse("客服 -(晓多 OR 机器人)"), text) == ["客服"]
    assert _found(parse("NOT NOT 机器人"), text) == ["机器人"]  # twice negated is positive
    assert parse("-客服").highlight_patterns() == []


def test_keyword_and_date_fields_are_not_highlighted_but_text_fields_are() -> None:
    parsed = parse("tags:客服 category:客服 date:2021-12 title:晓多 body:机器人")
    assert [p.pattern for p in parsed.highlight_patterns()] == ["晓多", "机器人"]


def test_highlight_patterns_are_deduplicated_and_regex_safe() -> None:
    parsed = parse("客服 OR 客服 title:客服 4.6万")
    assert [p.pattern for p in parsed.highlight_patterns()] == ["客服", r"4\.6(?:[^\w]|_){0,8}万"]
    assert _found(parsed, "4x6万 4.6万") == ["4.6万"]


def test_fallback_queries_still_highlight_their_words() -> None:
    assert _found(parse('"智能客服'), "这背后离不开智能客服的功劳") == ["智能客服"]


# --------------------------------------------------------------------------- compile_query


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("客服", both("客服")),
        ("ＡＩ", both("ai")),
        ("客服 机器人", wq.And([both("客服"), both("机器人")])),
        ("客服 OR 机器人", wq.Or([both("客服"), both("机器人")])),
        ("客服 -机器人", wq.And([both("客服"), wq.Not(both("机器人"))])),
        ("-客服", wq.And([wq.Every(), wq.Not(both("客服"))])),
        ('-"智能 客服"', wq.And([wq.Every(), wq.Not(wq.Or([wq.Phrase("title", ["智能", "客服"], boost=3.0), wq.Phrase("body", ["智能", "客服"])]))])),
        ("NOT 客服 NOT 机器人", wq.And([wq.Every(), wq.Not(both("客服")), wq.Not(both("机器人"))])),
        ("AI客服", wq.Or([wq.Phrase("title", ["ai", "客服"], boost=3.0), wq.Phrase("body", ["ai", "客服"])])),
        ('"智能 客服"', wq.Or([wq.Phrase("title", ["智能", "客服"], boost=3.0), wq.Phrase("body", ["智能", "客服"])])),
        ("离岸人民币", wq.Or([wq.Phrase("title", ["离岸", "人民币"], boost=3.0), wq.Phrase("body", ["离岸", "人民币"])])),
        ("title:晓多", wq.Term("title", "晓多")),  # no boost on an explicit field
        ("标题：晓多科技", wq.Phrase("title", ["晓多", "科技"])),
        ("body:客服", wq.Term("body", "客服")),
        ("tags:声援岳昕", wq.Term("tags", "声援岳昕")),
        ("tags:ＡＩ", wq.Or([wq.Term("tags", "AI"), wq.Term("tags", "ai")])),
        ("category:EMNEWS", wq.Term("categories", "emnews")),
        ("tags:nope", wq.NullQuery),
        ("tags:nope 客服", wq.NullQuery),  # AND with an impossible part
        ("客服 OR tags:nope", both("客服")),  # OR drops it
        ("tags:nope OR category:nope", wq.NullQuery),
        ("。，", wq.NullQuery),
        ("date:2021-12", wq.DateRange("date", DEC_START, DEC_END)),
        ("date:[2021-12-01 TO]", wq.DateRange("date", DEC_START, None)),
        ("date:[TO 2021-12-31]", wq.DateRange("date", None, DEC_END)),
        ("客服 date:2021-12", wq.And([both("客服"), wq.DateRange("date", DEC_START, DEC_END)])),
        ("", wq.Every()),
    ],
)
def test_compile_query(text: str, expected: wq.Query) -> None:
    q = compiled(text)
    assert type(q) is type(expected)
    assert q == expected


def test_compile_query_uses_the_title_boost() -> None:
    q = compile_query(parse("客服"), title_boost=5.5, expand=expand)
    assert q == wq.Or([wq.Term("title", "客服", boost=5.5), wq.Term("body", "客服")])
    assert q.subqueries[0].boost == 5.5 and q.subqueries[1].boost == 1.0


def test_compile_query_asks_expand_for_keyword_values_only() -> None:
    calls: list[tuple[str, str]] = []

    def recording(field: str, value: str) -> list[str]:
        calls.append((field, value))
        return expand(field, value)

    compile_query(parse("客服 tags:ＡＩ 标签:声援岳昕 category:emnews title:x"), title_boost=3.0, expand=recording)
    assert calls == [("tags", "ＡＩ"), ("tags", "声援岳昕"), ("categories", "emnews")]


# --------------------------------------------------------------------------- compile_filters


def test_no_filter_options_no_filter() -> None:
    assert compile_filters(expand=expand) is None


def test_categories_are_any_of_tags_are_all_of() -> None:
    flt = compile_filters(categories=["emnews", "meirijingjixinwen"], tags=["声援岳昕", "ai"], expand=expand)
    assert flt == wq.And(
        [
            wq.Or([wq.Term("categories", "emnews"), wq.Term("categories", "meirijingjixinwen")]),
            wq.Or([wq.Term("tags", "声援岳昕")]),
            wq.Or([wq.Term("tags", "AI"), wq.Term("tags", "ai")]),
        ]
    )


def test_unknown_categories_are_skipped_but_none_known_matches_nothing() -> None:
    assert compile_filters(categories=["nope", "emnews"], expand=expand) == wq.Or([wq.Term("categories", "emnews")])
    assert compile_filters(categories=["nope"], expand=expand) is wq.NullQuery


def test_an_unknown_tag_matches_nothing() -> None:
    flt = compile_filters(tags=["ai", "nope"], expand=expand)
    assert flt == wq.And([wq.Or([wq.Term("tags", "AI"), wq.Term("tags", "ai")]), wq.NullQuery])


def test_date_filters() -> None:
    assert compile_filters(since=DEC_START, expand=expand) == wq.DateRange("date", DEC_START, None)
    assert compile_filters(until=DEC_END, expand=expand) == wq.DateRange("date", None, DEC_END)
    flt = compile_filters(categories=["emnews"], since=DEC_START, until=DEC_END, expand=expand)
    assert flt == wq.And([wq.Or([wq.Term("categories", "emnews")]), wq.DateRange("date", DEC_START, DEC_END)])


def test_keyword_key_folds_case_width_and_space() -> None:
    assert keyword_key("  ＥＭＮews ") == "emnews"


# --------------------------------------------------------------------------- compiled queries against a real index


@pytest.fixture(scope="module")
def searcher():
    schema = fields.Schema(
        id=fields.ID(stored=True),
        title=fields.TEXT(analyzer=word_analyzer(), phrase=True),
        body=fields.TEXT(analyzer=word_analyzer(), phrase=True),
        tags=fields.KEYWORD(commas=True),
        categories=fields.KEYWORD(commas=True),
        date=fields.DATETIME(),
    )
    ix = RamStorage().create_index(schema)
    with ix.writer() as w:
        w.add_document(id="a", title="晓多科技", body="这背后离不开智能客服的功劳，离岸人民币汇率走高。", tags="AI", categories="emnews", date=datetime(2021, 12, 25))
        w.add_document(id="b", title="客服机器人", body="智能，其实客服也忙。机器人代替人工回复。", tags="声援岳昕", categories="emnews", date=datetime(2021, 11, 3))
        w.add_document(id="c", title="元宇宙", body="元宇宙概念产物层出不穷，人民币。", tags="每日经济新闻新闻", categories="meirijingjixinwen", date=datetime(2022, 1, 1))
    with ix.searcher() as s:
        yield s


def _ids(searcher, text: str, **filters) -> list[str]:
    flt = compile_filters(expand=expand, **filters) if filters else None
    hits = searcher.search(compiled(text), limit=None, filter=flt)
    return sorted(hit["id"] for hit in hits)


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("客服", ["a", "b"]),
        ("人民币", ["a", "c"]),  # a sub-word of 离岸人民币 and a word of its own
        ("人民", ["a", "c"]),
        ('"离岸 人民币"', ["a"]),
        ("离岸人民币汇率", ["a"]),  # a phrase over consecutive positions
        ('"智能 客服"', ["a"]),  # "智能，其实客服" is not the phrase
        ("客服 -机器人", ["a"]),
        ('客服 -"智能 客服"', ["b"]),
        ("-(客服 OR 元宇宙)", []),
        ("-元宇宙", ["a", "b"]),
        ("title:客服", ["b"]),
        ("标题：晓多", ["a"]),
        ("tags:ai", ["a"]),
        ("category:emnews -tags:声援岳昕", ["a"]),
        ("date:2021-12", ["a"]),
        ("date:[2021-11-01 TO]", ["a", "b", "c"]),
        ("date:[TO 2021-12-24]", ["b"]),
        ("", ["a", "b", "c"]),
        ("客服 - 机器人", ["b"]),  # read as keywords: both words
    ],
)
def test_compiled_queries_find_the_right_articles(searcher, text: str, ids: list[str]) -> None:
    assert _ids(searcher, text) == ids


def test_compiled_filters_narrow_the_search(searcher) -> None:
    assert _ids(searcher, "", categories=["emnews"]) == ["a", "b"]
    assert _ids(searcher, "", categories=["emnews"], tags=["声援岳昕"]) == ["b"]
    assert _ids(searcher, "客服", since=datetime(2021, 12, 1)) == ["a"]
    assert _ids(searcher, "", until=DEC_END) == ["a", "b"]
