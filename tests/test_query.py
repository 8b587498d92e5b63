"""newsearch.query: query text → syntax tree (with a keyword fallback) → needles → Whoosh queries.

Matching is "contains the string": a text term becomes a :class:`Needle`, whose
candidates come from the ``units`` field and whose pattern is verified on the
normalized ``ntitle``/``nbody`` columns by :class:`newsearch.matching.Contains`.

The ``units`` field also holds every pair of adjacent CJK characters (kana,
hangul syllables), rare ones included, and every pair of CJK characters that 1
to 8 spaces or punctuation marks separate (joined by ``\x1f``).  A Latin word or
a number never pairs with its CJK neighbour.  An unquoted term asks for its
pairs (sorted by code point), then for the units no pair covers, at most 24
terms; two CJK characters are found by their pair alone.  A quoted phrase asks,
for each two neighbouring characters, for their pair adjacent or apart, then
for its other units.  The pairs in the expectations below are written out by
hand.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path

import pytest
from whoosh import query as wq
from whoosh.filedb.filestore import RamStorage

from conftest import write_post
from newsearch import NewsIndex
from newsearch.analysis import WORD_CHAR, longest_words, normalize
from newsearch.documents import Article
from newsearch.compiler import IndexVocabulary, compile_filters, compile_query, keyword_key
from newsearch.fields import article_document
from newsearch.matching import Contains
from newsearch.query import And, DateRange, Needle, Not, Or, ParsedQuery, Text, needle_pattern, parse
from newsearch.schema import build_schema
from newsearch.synonyms import NO_SYNONYMS, Synonyms

DEC_START = datetime(2021, 12, 1)
DEC_END = datetime(2021, 12, 31, 23, 59, 59, 999999)

KEYWORDS = {
    "tags": {"声援岳昕": ["声援岳昕"], "ai": ["AI", "ai"], "每日经济新闻新闻": ["每日经济新闻新闻"]},
    "categories": {"emnews": ["emnews"], "meirijingjixinwen": ["meirijingjixinwen"]},
}


class FakeVocab:
    """A Vocabulary without an index: fixed keyword terms, and the given words (greedy, longest first)."""

    def __init__(self, words: tuple[str, ...] = ()) -> None:
        self.known = set(words)
        self.calls: list[tuple[str, ...]] = []

    def keywords(self, field: str, value: str) -> list[str]:
        self.calls.append(("keywords", field, value))
        return list(KEYWORDS[field].get(keyword_key(value), []))

    def words(self, text: str) -> list[str]:
        self.calls.append(("words", text))
        return longest_words(text, self.known.__contains__, longest=len(text))


NO_WORDS = FakeVocab()
WORDS = ("客服", "机器人", "智能", "离岸", "人民币")


def T(text: str, field: str | None = None, quoted: bool = False) -> Text:
    return Text(text, field, quoted)


def compiled(text: str, vocab=NO_WORDS, synonyms: Synonyms = NO_SYNONYMS) -> wq.Query:
    return compile_query(parse(text), vocab=vocab, title_boost=3.0, synonyms=synonyms)


# The normalized-text columns a Contains verifies, with their weights.
ANY = (("ntitle", 3.0), ("nbody", 1.0))
IN_TITLE = (("ntitle", 1.0),)
IN_BODY = (("nbody", 1.0),)
GAP = r"[\W_]{0,8}?"
WGAP = r"[\W_]{1,8}?"  # between two word units: at least one separator
B, E = f"(?<!{WORD_CHAR})", f"(?!{WORD_CHAR})"  # word units do not continue a longer word
DB, DE = r"(?<!\d\.)" + B, E + r"(?!\.\d)"  # nor a number a decimal: 65 is not in 1.65


def _term(field: str, t: str | tuple[str, str]) -> wq.Query:
    if isinstance(t, tuple):  # a phrase's neighbouring characters: adjacent or apart
        return wq.Or([wq.Term(field, t[0] + t[1]), wq.Term(field, t[0] + "\x1f" + t[1])])
    return wq.Term(field, t)


def cands(*terms: str | tuple[str, str]) -> wq.Query:
    """Candidates holding every one of ``terms`` of the units field: pairs of adjacent
    characters (sorted) first, then the units that no pair covers."""
    queries = [_term("units", t) for t in terms]
    return queries[0] if len(queries) == 1 else wq.And(queries)


def has(regex: str, *terms: str | tuple[str, str], columns=ANY) -> Contains:
    """The match of one needle: candidates holding ``terms``, verified with ``regex``."""
    return Contains(cands(*terms), re.compile(regex), columns)


def scored(match: wq.Query, *words: str, title_boost: float = 3.0, fields=("title", "body")) -> wq.Query:
    """``match`` ranked by index words, as compile_query wraps it."""
    terms = []
    for w in words:
        if "title" in fields:
            terms.append(wq.Term("title", w, boost=title_boost))
        if "body" in fields:
            terms.append(wq.Term("body", w))
    return wq.AndMaybe(match, terms[0] if len(terms) == 1 else wq.Or(terms))


def exact(term: str, title_boost: float = 3.0) -> wq.Query:
    """An unrestricted needle found by one units term; holding it in the title ranks higher."""
    return wq.AndMaybe(wq.Term("units", term), wq.Term("tunits", term, boost=title_boost))


def tcands(*terms: str | tuple[str, str]) -> wq.Query:
    """Candidates of a title-restricted needle: the same terms, in the title's own units field."""
    queries = [_term("tunits", t) for t in terms]
    return queries[0] if len(queries) == 1 else wq.And(queries)


def exact_scored(term: str, *words: str, title_boost: float = 3.0) -> wq.Query:
    """:func:`exact`, also ranked by index words."""
    ranking = [wq.Term("tunits", term, boost=title_boost)]
    for w in words:
        ranking += [wq.Term("title", w, boost=title_boost), wq.Term("body", w)]
    return wq.AndMaybe(wq.Term("units", term), wq.Or(ranking))


KEFU = exact("客服")  # two characters: their pair is the match
JIQIREN = has("机器人", "器人", "机器")  # every unit is inside a pair


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
    assert (parsed.text, parsed.node, parsed.fallback_reason) == (text, node, None)
    # Words alone are what people type (searched for their meaning); anything else uses operators.
    assert parsed.operators == any(_operator(token) for token in text.split())


def _operator(token: str) -> bool:
    from newsearch.query import FIELD_ALIASES

    fields = tuple(f"{name}{colon}" for name in FIELD_ALIASES for colon in ":：")
    return (
        token in ("AND", "OR", "NOT", "&&", "||", "|", "&", "+")
        or token.startswith("-")
        or any(c in token for c in '()"“”「」『』')
        or token.lower().startswith(fields)
    )


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


ODD_QUERIES = [
    '"', "“", "(", ")", ")(", "((", "-", "--", "- -", "+", "&&", "|", "NOT NOT", "OR OR", "AND",
    "date:[", "date:]", "date:[]", "date:[TO]", "title:", "标题：", "tags:", ':', "：", "-(", '-"', "NOT (",
    '"" ()', "title:()", "category:(a OR", "。，！", "\x00", "date:[2021-13-01 TO 2021-12-31]",
    '"。，"', "title:。", "-。", "カメラ", "(?<!a)", "\\", ".*", "[", "a" * 300, "客" * 300,
]


@pytest.mark.parametrize("text", ODD_QUERIES)
def test_odd_queries_never_raise(text: str) -> None:
    parsed = parse(text)
    assert parsed.text == text
    parsed.explain()
    for pattern in parsed.highlight_patterns():
        pattern.findall(normalize(text))
    q = compile_query(parsed, vocab=FakeVocab(WORDS), title_boost=3.0)
    assert isinstance(q, wq.Query)


def test_operators_only_match_nothing_and_say_so() -> None:
    for text in ("NOT", "OR", "-", "()"):
        parsed = parse(text)
        assert parsed.node is None and parsed.fallback_reason
        assert compile_query(parsed, vocab=NO_WORDS, title_boost=3.0) is wq.NullQuery
        assert parsed.explain().startswith("(nothing)  [read as plain keywords: ")


# --------------------------------------------------------------------------- explain


@pytest.mark.parametrize(
    ("text", "explained"),
    [
        ("客服", "客服"),
        ("客服 机器人", "(客服 AND 机器人)"),
        ("客服 OR 机器人 -电商", "(客服 OR (机器人 AND NOT 电商))"),
        ("AI客服", "ai客服"),  # unquoted: the normalized string, not jieba words
        ("ＡＩ客服", "ai客服"),
        ("臺灣電腦", "台湾电脑"),  # traditional folds to simplified
        ("#客服#", "客服"),  # punctuation at the edges is not part of the string
        ("COVID-19", "covid-19"),  # inside, it is
        ("4.6万", "4.6万"),
        ('"客服"', '"客 服"'),  # quoted: its match units
        ("“智能客服”", '"智 能 客 服"'),
        ('"ＡＩ 客服"', '"ai 客 服"'),
        ('"iPhone 13，华为P50"', '"iphone 13 华 为 p50"'),
        ("标题：晓多科技", "title:晓多科技"),
        ('title:"智能 客服"', 'title:"智 能 客 服"'),
        ("body:客服", "body:客服"),
        ("tags:声援岳昕", "tags:声援岳昕"),  # keyword fields show the raw value
        ("tags:ＡＩ", "tags:ＡＩ"),
        ("category:EMNEWS", "categories:EMNEWS"),
        ("-title:晓多", "NOT title:晓多"),
        ("date:2021-12", "date:[2021-12-01T00:00:00 TO 2021-12-31T23:59:59]"),
        ("date:[2021-12-01 TO]", "date:[2021-12-01T00:00:00 TO *]"),
        ("date:[TO 2021-12-31]", "date:[* TO 2021-12-31T23:59:59]"),
        ("。，", "∅"),
        ('title:"。"', "title:∅"),
        ('"客服', "客服  [read as plain keywords: a quote is not closed]"),
        ('"智能 客服', "(智能 AND 客服)  [read as plain keywords: a quote is not closed]"),
    ],
)
def test_explain(text: str, explained: str) -> None:
    assert parse(text).explain() == explained


# --------------------------------------------------------------------------- needles


@pytest.mark.parametrize(
    ("node", "needle"),
    [
        (T("客服"), Needle(("客", "服"), "客服")),
        (T("ＡＩ客服"), Needle(("ai", "客", "服"), "ai客服")),
        (T("華為P50"), Needle(("华", "为", "p50"), "华为p50")),
        (T("6.3512"), Needle(("6.3512",), "6.3512")),  # a decimal is one unit
        (T("#客服。"), Needle(("客", "服"), "客服")),  # edge punctuation stripped
        (T("“客服”"), Needle(("客", "服"), "客服")),
        (T("c++"), Needle(("c",), "c")),
        (T("客服", "title"), Needle(("客", "服"), "客服")),
        (T("智能 客服", quoted=True), Needle(("智", "能", "客", "服"), None)),
        (T("客服", quoted=True), Needle(("客", "服"), None)),
        (T("iPhone 13", quoted=True), Needle(("iphone", "13"), None)),
        (T("智能\u2002客服"), Needle(("智", "能", "客", "服"), None)),  # a space after normalization: a phrase
    ],
)
def test_needle_of_a_text_node(node: Text, needle: Needle) -> None:
    assert Needle.of(node) == needle


@pytest.mark.parametrize("text", ["。，", "", "---", "!!", "😀"])
def test_no_units_no_needle(text: str) -> None:
    assert Needle.of(T(text)) is None
    assert Needle.of(T(text, quoted=True)) is None
    assert Needle.alternatives(T(text), Synonyms([(text or "x", "客服")])) == []


def test_needle_of_another_text_keeps_the_quoting_of_the_node() -> None:
    assert Needle.of(T("x"), "双 11") == Needle(("双", "11"), None)
    assert Needle.of(T("x"), "双11") == Needle(("双", "11"), "双11")
    assert Needle.of(T("x", quoted=True), "双11") == Needle(("双", "11"), None)


@pytest.mark.parametrize(
    ("node", "exact"),
    [
        (T("ai"), True),
        (T("ＡＩ"), True),
        (T("客"), True),
        (T("2021"), True),
        (T("#ai#"), True),
        (T("客服"), True),  # two CJK characters: the indexed pair is the string
        (T("中国"), True),
        (T("中國"), True),  # normalized first
        (T("#北大。"), True),  # edge punctuation is not part of the string
        (T("客客"), True),
        (T("晓多"), True),  # every two adjacent characters are a pair, rare ones too
        (T("琥珀"), True),
        (T("台湾"), True),
        (T("\u3400\u3401"), True),  # CJK extension A
        (T("カメ"), True),  # kana pair like CJK characters
        (T("人民币"), False),  # two pairs do not make three characters adjacent
        (T("中国人"), False),
        (T("中,国"), False),
        (T("ai客服"), False),
        (T("客a"), False),
        (T("6.3512"), True),  # a decimal is one unit
        (T("ai", quoted=True), False),
        (T("客服", quoted=True), False),  # a phrase: punctuation may separate 客 and 服
        (T("中国", quoted=True), False),
        (T("中 国"), False),  # a space: a phrase
    ],
)
def test_needle_exact_by_units(node: Text, exact: bool) -> None:
    needle = Needle.of(node)
    assert needle is not None
    assert needle.exact_by_units is exact


@pytest.mark.parametrize(
    ("node", "pairs"),
    [
        (T("客服"), {"客服"}),
        (T("中國"), {"中国"}),
        (T("人民币"), {"人民", "民币"}),  # every adjacent pair, rare characters too
        (T("离岸人民币"), {"离岸", "岸人", "人民", "民币"}),
        (T("客服机器人"), {"客服", "服机", "机器", "器人"}),
        (T("中华民国"), {"中华", "华民", "民国"}),
        (T("客客客"), {"客客"}),
        (T("中国，人民"), {"中国", "人民"}),  # punctuation breaks a run
        (T("ai中国2021"), {"中国"}),  # a Latin word or a number pairs with nothing
        (T("ai客"), set()),
        (T("晓多科技"), {"晓多", "多科", "科技"}),
        (T("琥珀"), {"琥珀"}),
        (T("臺灣"), {"台湾"}),  # normalized first
        (T("ai"), set()),
        (T("客"), set()),
        (T("中国", quoted=True), set()),  # phrases never use pairs
        (T("客服机器人", quoted=True), set()),
        (T("中国 人民"), set()),
    ],
)
def test_needle_pairs(node: Text, pairs: set[str]) -> None:
    needle = Needle.of(node)
    assert needle is not None
    assert needle.pairs == pairs


def test_needle_pattern_is_the_matching_pattern() -> None:
    needle = Needle(("ai", "客", "服"), "ai客服")
    assert needle.pattern() == needle_pattern(["ai", "客", "服"], phrase=False, literal="ai客服")
    assert needle.pattern().pattern == rf"{B}ai客服"
    phrase = Needle(("ai", "客", "服"), None)
    assert phrase.pattern() == needle_pattern(["ai", "客", "服"], phrase=True)
    assert phrase.pattern().pattern == f"{B}ai{GAP}客{GAP}服"


def test_needle_alternatives_follow_the_synonym_group() -> None:
    syn = Synonyms([("双十一", "双11", "光棍节")])
    assert Needle.alternatives(T("双11"), syn) == [
        Needle(("双", "11"), "双11"),
        Needle(("双", "十", "一"), "双十一"),
        Needle(("光", "棍", "节"), "光棍节"),
    ]
    assert Needle.alternatives(T("双 十一", quoted=True), syn) == [  # the key of a phrase: its units joined
        Needle(("双", "十", "一"), None),
        Needle(("双", "11"), None),
        Needle(("光", "棍", "节"), None),
    ]
    assert Needle.alternatives(T("双十二"), syn) == [Needle(("双", "十", "二"), "双十二")]
    assert Needle.alternatives(T("双11"), NO_SYNONYMS) == [Needle(("双", "11"), "双11")]


# --------------------------------------------------------------------------- matching.needle_pattern


def _found(parsed: ParsedQuery, text: str, synonyms: Synonyms = NO_SYNONYMS) -> list[str]:
    """The pieces of ``text`` (as written) that the query's highlight patterns match."""
    norm = normalize(text)
    spans = sorted((m.start(), m.end()) for p in parsed.highlight_patterns(synonyms) for m in p.finditer(norm))
    return [text[s:e] for s, e in spans]


@pytest.mark.parametrize(
    ("query", "text", "found"),
    [
        ("北大", "华北大地，北大校园", ["北大", "北大"]),  # a substring, wherever jieba cuts
        ("学友", "张学友的演唱会", ["学友"]),
        ("ai", "He said AI客服, main ai_bot, 5ai, aid", ["AI", "ai"]),  # whole Latin words only
        ("AI客服", "AI客服、ＡＩ客服、Ai 客服、MAI客服", ["AI客服", "ＡＩ客服"]),
        ("35", "3512 35% 1350 ３５", ["35", "３５"]),
        ("6.3512", "6.3512 16.3512 6.35123 6,3512", ["6.3512"]),
        ("P50", "华为P50、P500、xP50、P50Pro", ["P50"]),
        ("华为P50", "华为P50Pro 华为P50 Pro", ["华为P50"]),
        ("双11", "双11、双111、双十一", ["双11"]),
        ("COVID-19", "COVID-19, covid 19, COVID-190", ["COVID-19"]),
        ("台湾", "臺灣的台湾", ["臺灣", "台湾"]),
        ("臺灣", "台湾", ["台湾"]),
        ("智能客服", "智能客服、智能，客服、智能 客服", ["智能客服"]),  # unquoted: exactly as typed
        ('"智能 客服"', "智能客服、智能，客服、智能 — 客服、智能化客服", ["智能客服", "智能，客服", "智能 — 客服"]),
        ('"智能客服"', "智能_客服、智能a客服", ["智能_客服"]),  # only spaces and punctuation in between
        ('"客服 智能"', "智能，客服", []),  # order matters
        ('"智能 客服"', "智能" + "，" * 8 + "客服", ["智能" + "，" * 8 + "客服"]),
        ('"智能 客服"', "智能" + "，" * 9 + "客服", []),  # at most 8 between units
        ('"ai 客服"', "专注ＡＩ客服，Ai 客服，said客服", ["ＡＩ客服", "Ai 客服"]),
        ('"iPhone 13"', "iPhone 13、iPhone-13、iPhone 135", ["iPhone 13", "iPhone-13"]),
        ("#客服#", "客服#", ["客服"]),  # edge punctuation is not required
        ("4.6万", "4x6万 4.6万 14.6万", ["4.6万"]),  # regex-safe
    ],
)
def test_what_a_needle_matches(query: str, text: str, found: list[str]) -> None:
    assert _found(parse(query), text) == found


@pytest.mark.parametrize(
    ("units", "phrase", "literal", "regex"),
    [
        (["客", "服"], False, "客服", "客服"),
        (["ai"], False, "ai", rf"{B}ai{E}"),
        (["ai", "客", "服"], False, "ai客服", rf"{B}ai客服"),
        (["客", "服", "ai"], False, "客服ai", rf"客服ai{E}"),
        (["6.3512"], False, "6.3512", rf"{DB}6\.3512{DE}"),
        (["客", "服"], True, None, f"客{GAP}服"),
        (["iphone", "13"], True, None, rf"{B}iphone{WGAP}13{DE}"),
        (["客", "服"], True, "客服", f"客{GAP}服"),  # phrase wins over the literal
        (["客", "服"], False, None, f"客{GAP}服"),  # no literal: a phrase
    ],
)
def test_needle_pattern_source(units: list[str], phrase: bool, literal: str | None, regex: str) -> None:
    assert needle_pattern(units, phrase=phrase, literal=literal).pattern == regex


# --------------------------------------------------------------------------- highlight patterns


def test_highlight_patterns_are_the_needle_patterns() -> None:
    patterns = parse("客服 OR 机器人 -电商").highlight_patterns()
    assert [p.pattern for p in patterns] == ["客服", "机器人"]
    assert all(isinstance(p, re.Pattern) for p in patterns)
    parsed = parse('ＡＩ客服 "智能 客服" 6.3512')
    assert parsed.highlight_patterns() == [
        re.compile(rf"{B}ai客服"),
        re.compile(f"智{GAP}能{GAP}客{GAP}服"),
        re.compile(rf"{DB}6\.3512{DE}"),
    ]


def test_full_width_query_highlights_the_text_as_written() -> None:
    text = "专注AI客服机器人领域，ａｉ 客服也行"
    assert _found(parse("ＡＩ客服"), text) == ["AI客服"]
    assert _found(parse("ai客服"), text) == ["AI客服"]
    assert _found(parse('"ＡＩ 客服"'), text) == ["AI客服", "ａｉ 客服"]


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


def test_highlight_patterns_are_deduplicated_by_source_and_regex_safe() -> None:
    parsed = parse("客服 OR 客服 title:客服 #客服 body:“客服” 4.6万")
    assert [p.pattern for p in parsed.highlight_patterns()] == ["客服", f"客{GAP}服", rf"{DB}4\.6万"]
    assert _found(parsed, "4x6万 4.6万") == ["4.6万"]


def test_highlight_patterns_include_synonyms() -> None:
    syn = Synonyms([("双十一", "双11")])
    parsed = parse("双十一 -光棍节")
    assert [p.pattern for p in parsed.highlight_patterns(syn)] == ["双十一", f"双11{DE}"]
    assert [p.pattern for p in parsed.highlight_patterns()] == ["双十一"]
    assert _found(parsed, "双11和双十一，双111", syn) == ["双11", "双十一"]
    assert parse("-双十一").highlight_patterns(syn) == []


def test_fallback_queries_still_highlight_their_words() -> None:
    assert _found(parse('"智能客服'), "这背后离不开智能客服的功劳") == ["智能客服"]
    assert _found(parse('"智能 客服'), "智能，客服") == ["智能", "客服"]  # two terms, no longer a phrase


def _contains_patterns(q: wq.Query) -> list[re.Pattern[str] | str]:
    """What every needle of a compiled query matches, in order (ranking clauses left out):
    the pattern of a Contains, or the text of a units (or, restricted to the title,
    tunits) term that is the match itself."""
    if isinstance(q, Contains):
        return [q.pattern]
    if isinstance(q, wq.Term) and q.fieldname in ("units", "tunits"):
        return [q.text]
    if isinstance(q, wq.AndMaybe):
        return _contains_patterns(q.a)
    return [p for child in q.children() for p in _contains_patterns(child)]


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("客服", 0),
        ("北大 ai 人民币", 0),
        ('"智能 客服" 6.3512', 0),
        ("title:晓多 OR body:AI客服", 0),
        ("title:晓多科技 body:人民币", 0),
        ("双十一 華為", 0),
        ('"ai 客服" -机器人', 1),
        ("中国 -客服", 1),
    ],
)
def test_searching_and_highlighting_use_the_same_patterns(text: str, negated: int) -> None:
    syn = Synonyms([("双十一", "双11")])
    parsed = parse(text)
    searched = _contains_patterns(compile_query(parsed, vocab=FakeVocab(WORDS), title_boost=3.0, synonyms=syn))
    searched = searched[: len(searched) - negated]
    highlighted = parsed.highlight_patterns(syn)
    assert len(searched) == len(highlighted)
    for match, pattern in zip(searched, highlighted):
        if isinstance(match, str):  # a units term: the highlight finds exactly that string
            assert pattern.fullmatch(match), (match, pattern)
            assert pattern.pattern.replace(DB, "").replace(DE, "").replace(B, "").replace(E, "") == re.escape(match)
        else:
            assert match == pattern


# --------------------------------------------------------------------------- compile_query: structure


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # unrestricted single units: the candidates are the match
        ("ai", exact("ai")),
        ("ＡＩ", exact("ai")),
        ("#AI#", exact("ai")),
        ("客", exact("客")),
        ("2021", exact("2021")),
        # unrestricted pairs of characters: the pair is the match
        ("客服", exact("客服")),
        ("中国", exact("中国")),
        ("中國", exact("中国")),
        ("#北大#", exact("北大")),
        ("客客", exact("客客")),
        ("琥琥", exact("琥琥")),
        ("琥珀", exact("琥珀")),  # rare characters pair too
        ("晓多", exact("晓多")),
        ("臺灣", exact("台湾")),
        # everything else is verified on the normalized text
        ("琥，琥", has("琥,琥", "琥")),  # a unit is asked for once
        ("客客客", has("客客客", "客客")),  # and a pair too
        ("人民币", has("人民币", "人民", "民币")),  # the pairs cover every unit: no unit asked for
        ("中国人", has("中国人", "中国", "国人")),
        ("中国，人民", has("中国,人民", "中国", "人民")),  # pairs do not cross punctuation
        ("中国，人", has("中国,人", "中国", "人")),  # pairs first, then the units outside them
        ("AI客服", has(rf"{B}ai客服", "客服", "ai")),  # a Latin word pairs with nothing
        ("ai中国2021", has(rf"{B}ai中国2021{DE}", "中国", "ai", "2021")),
        ("客服机器人", has("客服机器人", "器人", "客服", "服机", "机器")),  # sorted pairs
        ("离岸人民币", has("离岸人民币", "人民", "岸人", "民币", "离岸")),
        ("6.3512", exact("6.3512")),  # a decimal is one unit
        ("COVID-19", has(rf"{B}covid\-19{DE}", "covid", "19")),
        ('"ai"', has(rf"{B}ai{E}", "ai")),  # a phrase is never exact by units
        ('"智能 客服"', has(f"智{GAP}能{GAP}客{GAP}服", ("智", "能"), ("能", "客"), ("客", "服"))),
        ("“iPhone 13”", has(rf"{B}iphone{WGAP}13{DE}", "iphone", "13")),
        # a quoted phrase never asks for an adjacent pair alone: punctuation may separate any two units
        ('"客服"', has(f"客{GAP}服", ("客", "服"))),
        ('"中国"', has(f"中{GAP}国", ("中", "国"))),
        ("“人民币”", has(f"人{GAP}民{GAP}币", ("人", "民"), ("民", "币"))),
        ('"ai 客服"', has(f"{B}ai{GAP}客{GAP}服", ("客", "服"), "ai")),  # then the units outside them
        ('"客服机器人"', has(f"客{GAP}服{GAP}机{GAP}器{GAP}人", ("客", "服"), ("服", "机"), ("机", "器"), ("器", "人"))),
        ("中\u2002国", has(f"中{GAP}国", ("中", "国"))),  # a space after normalization makes a phrase
        # fields: only that column, no title boost
        ("title:晓多", tcands("晓多")),  # exact by the title's pair
        ("标题：晓多科技", Contains(tcands("多科", "晓多", "科技"), re.compile("晓多科技"), IN_TITLE)),
        ("title:ai", tcands("ai")),  # exact by the title's units
        ("body:客", has("客", "客", columns=IN_BODY)),
        ("正文:客服", has("客服", "客服", columns=IN_BODY)),  # a pair, still verified on one column
        ("title:中国", tcands("中国")),  # exact by the title's pair
        ("title:人民币", Contains(tcands("人民", "民币"), re.compile("人民币"), IN_TITLE)),
        ('title:"中国"', Contains(tcands(("中", "国")), re.compile(f"中{GAP}国"), IN_TITLE)),
        ('title:"智能 客服"', Contains(tcands(("智", "能"), ("能", "客"), ("客", "服")), re.compile(f"智{GAP}能{GAP}客{GAP}服"), IN_TITLE)),
        # operators
        ("客服 机器人", wq.And([KEFU, JIQIREN])),
        ("客服 OR 机器人", wq.Or([KEFU, JIQIREN])),
        ("客服 -机器人", wq.And([KEFU, wq.Not(JIQIREN)])),
        ("-客服", wq.And([wq.Every(), wq.Not(KEFU)])),
        ('-"智能 客服"', wq.And([wq.Every(), wq.Not(has(f"智{GAP}能{GAP}客{GAP}服", ("智", "能"), ("能", "客"), ("客", "服")))])),
        ("NOT 客服 NOT 机器人", wq.And([wq.Every(), wq.Not(KEFU), wq.Not(JIQIREN)])),
        ("(客服 OR ai) -机器人", wq.And([wq.Or([KEFU, exact("ai")]), wq.Not(JIQIREN)])),
        ("中国 -人民币", wq.And([exact("中国"), wq.Not(has("人民币", "人民", "民币"))])),
        # keyword fields
        ("tags:声援岳昕", wq.Term("tags", "声援岳昕")),
        ("tags:ＡＩ", wq.Or([wq.Term("tags", "AI"), wq.Term("tags", "ai")])),
        ("category:EMNEWS", wq.Term("categories", "emnews")),
        ("tags:nope", wq.NullQuery),
        ("tags:nope 客服", wq.NullQuery),  # AND with an impossible part
        ("客服 OR tags:nope", KEFU),  # OR drops it
        ("tags:nope OR category:nope", wq.NullQuery),
        ("。，", wq.NullQuery),
        ('"。，"', wq.NullQuery),
        ("客服 。，", wq.NullQuery),
        ("客服 OR 。，", KEFU),
        ("客服 -。，", wq.And([KEFU, wq.Not(wq.NullQuery)])),
        # dates
        ("date:2021-12", wq.DateRange("date", DEC_START, DEC_END)),
        ("date:[2021-12-01 TO]", wq.DateRange("date", DEC_START, None)),
        ("date:[TO 2021-12-31]", wq.DateRange("date", None, DEC_END)),
        ("客服 date:2021-12", wq.And([KEFU, wq.DateRange("date", DEC_START, DEC_END)])),
        ("", wq.Every()),
    ],
)
def test_compile_query(text: str, expected: wq.Query) -> None:
    q = compiled(text)
    assert type(q) is type(expected)
    assert q == expected


def test_candidates_use_at_most_24_distinct_units_but_the_pattern_all() -> None:
    chars = [chr(0x3400 + i) for i in range(30)]  # CJK extension A
    text = ",".join(chars)  # commas keep every two characters apart: no pairs, 30 units
    q = compiled(text)
    assert q == Contains(wq.And([wq.Term("units", ch) for ch in chars[:24]]), re.compile(text), ANY)


def test_candidates_use_at_most_24_terms_pairs_first() -> None:
    # U+4E00...U+4E1D, commas between all but 三上下, 不与 and 专且
    text = "一,丁,丂,七,丄,丅,丆,万,丈,三上下,丌,不与,丏,丐,丑,丒,专且,丕,世,丗,丘,丙,业,丛,东,丝"
    expected = (
        ["三上", "上下", "不与", "专且"]  # its only pairs of adjacent characters, sorted
        + ["一", "丁", "丂", "七", "丄", "丅", "丆", "万", "丈", "丌", "丏", "丐", "丑", "丒", "丕", "世"]
        + ["丗", "丘", "丙", "业"]  # the 24th term: 丛东丝 are left out
    )
    assert compiled(text) == Contains(wq.And([wq.Term("units", t) for t in expected]), re.compile(text), ANY)


def test_a_long_string_asks_for_24_of_its_pairs_only() -> None:
    text = "中国人民大学生活动会议主要成员都来到这里进行工作上面说明天下"  # 30 characters, 29 pairs
    expected = [
        "上面", "中国", "主要", "人民", "会议", "作上", "到这", "动会", "员都", "国人", "大学", "天下",
        "学生", "工作", "成员", "明天", "来到", "民大", "活动", "生活", "行工", "要成", "议主", "说明",
    ]  # the first 24 pairs in code point order (进行 这里 都来 里进 面说 are left out), no units
    assert compiled(text) == Contains(wq.And([wq.Term("units", t) for t in expected]), re.compile(text), ANY)


def test_compile_query_uses_the_title_boost() -> None:
    q = compile_query(parse("晓多科技"), vocab=NO_WORDS, title_boost=5.5)
    assert q == has("晓多科技", "多科", "晓多", "科技", columns=(("ntitle", 5.5), ("nbody", 1.0)))
    q = compile_query(parse("客服机器人"), vocab=FakeVocab(WORDS), title_boost=5.5)
    assert q == scored(
        has("客服机器人", "器人", "客服", "服机", "机器", columns=(("ntitle", 5.5), ("nbody", 1.0))),
        "客服", "机器人", title_boost=5.5,
    )
    assert [t.boost for t in q.b.subqueries] == [5.5, 1.0, 5.5, 1.0]
    # an exact pair: the title's units field carries the title boost, then the words
    assert compile_query(parse("晓多"), vocab=NO_WORDS, title_boost=5.5) == exact("晓多", title_boost=5.5)
    q = compile_query(parse("客服"), vocab=FakeVocab(WORDS), title_boost=5.5)
    assert q == exact_scored("客服", "客服", title_boost=5.5)
    assert [t.boost for t in q.b.subqueries] == [5.5, 5.5, 1.0]


def test_compile_query_needs_a_vocabulary_not_an_expand_callback() -> None:
    with pytest.raises(TypeError):
        compile_query(parse("客服"), title_boost=3.0, expand=lambda f, v: [])  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        compile_filters(tags=["ai"], expand=lambda f, v: [])  # type: ignore[call-arg]


# --------------------------------------------------------------------------- compile_query: ranking words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("客服", exact_scored("客服", "客服")),
        ("智能客服", scored(has("智能客服", "客服", "智能", "能客"), "智能", "客服")),
        ('"智能 客服"', scored(has(f"智{GAP}能{GAP}客{GAP}服", ("智", "能"), ("能", "客"), ("客", "服")), "智能", "客服")),
        ("客服机器人", scored(has("客服机器人", "器人", "客服", "服机", "机器"), "客服", "机器人")),
        ("离岸人民币", scored(has("离岸人民币", "人民", "岸人", "民币", "离岸"), "离岸", "人民币")),
        ("title:客服", scored(tcands("客服"), "客服", title_boost=1.0, fields=("title",))),
        ("body:客服", scored(has("客服", "客服", columns=IN_BODY), "客服", fields=("body",))),
        ("ai", exact("ai")),  # no known word: ranked by the title only
        ("晓多", exact("晓多")),  # an exact pair and no known word, like ai
        ("晓多科技", has("晓多科技", "多科", "晓多", "科技")),  # no known word, verified: no ranking clause
        ("客服 -机器人", wq.And([exact_scored("客服", "客服"), wq.Not(scored(JIQIREN, "机器人"))])),
        ("tags:ai", wq.Or([wq.Term("tags", "AI"), wq.Term("tags", "ai")])),
    ],
)
def test_known_words_rank_but_do_not_select(text: str, expected: wq.Query) -> None:
    q = compiled(text, vocab=FakeVocab(WORDS))
    assert type(q) is type(expected)
    assert q == expected


def test_exact_unit_match_is_still_ranked_by_words() -> None:
    q = compiled("人", vocab=FakeVocab(("人",)))
    assert q == exact_scored("人", "人")


def test_compile_query_asks_the_vocabulary_for_keywords_and_words() -> None:
    vocab = FakeVocab(WORDS)
    compile_query(
        parse('客服 tags:ＡＩ 标签:声援岳昕 category:emnews title:ＡＩ客服 "智能，客服" -body:x 。'),
        vocab=vocab,
        title_boost=3.0,
    )
    assert vocab.calls == [
        ("words", "客服"),
        ("keywords", "tags", "ＡＩ"),
        ("keywords", "tags", "声援岳昕"),
        ("keywords", "categories", "emnews"),
        ("words", "ai客服"),  # the normalized string
        ("words", "智能客服"),  # a phrase: its units joined
        ("words", "x"),
    ]


# --------------------------------------------------------------------------- compile_query: synonyms

SYNONYMS = Synonyms([("双十一", "双11", "光棍节"), ("人工智能", "AI")])
SHUANG_SHI_YI = has("双十一", "十一", "双十")
SHUANG_11 = has(f"双11{DE}", "双", "11")
GUANG_GUN_JIE = has("光棍节", "光棍", "棍节")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("双十一", wq.Or([SHUANG_SHI_YI, SHUANG_11, GUANG_GUN_JIE])),
        ("双11", wq.Or([SHUANG_11, SHUANG_SHI_YI, GUANG_GUN_JIE])),
        ("ＡＩ", wq.Or([exact("ai"), has("人工智能", "人工", "工智", "智能")])),
        ("人工智能", wq.Or([has("人工智能", "人工", "工智", "智能"), exact("ai")])),
        (
            '"双 十一"',
            wq.Or([
                has(f"双{GAP}十{GAP}一", ("双", "十"), ("十", "一")),
                has(f"双{GAP}11{DE}", "双", "11"),
                has(f"光{GAP}棍{GAP}节", ("光", "棍"), ("棍", "节")),
            ]),
        ),
        (
            "title:光棍节",
            wq.Or([
                Contains(tcands("光棍", "棍节"), re.compile("光棍节"), IN_TITLE),
                Contains(tcands("十一", "双十"), re.compile("双十一"), IN_TITLE),
                Contains(tcands("双", "11"), re.compile(f"双11{DE}"), IN_TITLE),
            ]),
        ),
        ("-双十一", wq.And([wq.Every(), wq.Not(wq.Or([SHUANG_SHI_YI, SHUANG_11, GUANG_GUN_JIE]))])),
        ("双十二", has("双十二", "十二", "双十")),
        ("中国", exact("中国")),  # no synonyms: the pair alone
        ("tags:双十一", wq.NullQuery),  # keyword values are not expanded
    ],
)
def test_synonyms_are_alternatives(text: str, expected: wq.Query) -> None:
    q = compiled(text, synonyms=SYNONYMS)
    assert type(q) is type(expected)
    assert q == expected


# --------------------------------------------------------------------------- compile_filters


def test_no_filter_options_no_filter() -> None:
    assert compile_filters(vocab=NO_WORDS) is None


def test_categories_are_any_of_tags_are_all_of() -> None:
    flt = compile_filters(categories=["emnews", "meirijingjixinwen"], tags=["声援岳昕", "ai"], vocab=NO_WORDS)
    assert flt == wq.And(
        [
            wq.Or([wq.Term("categories", "emnews"), wq.Term("categories", "meirijingjixinwen")]),
            wq.Or([wq.Term("tags", "声援岳昕")]),
            wq.Or([wq.Term("tags", "AI"), wq.Term("tags", "ai")]),
        ]
    )


def test_unknown_categories_are_skipped_but_none_known_matches_nothing() -> None:
    assert compile_filters(categories=["nope", "emnews"], vocab=NO_WORDS) == wq.Or([wq.Term("categories", "emnews")])
    assert compile_filters(categories=["nope"], vocab=NO_WORDS) is wq.NullQuery


def test_an_unknown_tag_matches_nothing() -> None:
    flt = compile_filters(tags=["ai", "nope"], vocab=NO_WORDS)
    assert flt == wq.And([wq.Or([wq.Term("tags", "AI"), wq.Term("tags", "ai")]), wq.NullQuery])


def test_date_filters() -> None:
    assert compile_filters(since=DEC_START, vocab=NO_WORDS) == wq.DateRange("date", DEC_START, None)
    assert compile_filters(until=DEC_END, vocab=NO_WORDS) == wq.DateRange("date", None, DEC_END)
    flt = compile_filters(categories=["emnews"], since=DEC_START, until=DEC_END, vocab=NO_WORDS)
    assert flt == wq.And([wq.Or([wq.Term("categories", "emnews")]), wq.DateRange("date", DEC_START, DEC_END)])


def test_compile_filters_asks_the_vocabulary_for_keyword_terms_only() -> None:
    vocab = FakeVocab(WORDS)
    compile_filters(categories=["ＥＭＮＥＷＳ"], tags=["ai", "客服"], since=DEC_START, vocab=vocab)
    assert vocab.calls == [("keywords", "categories", "ＥＭＮＥＷＳ"), ("keywords", "tags", "ai"), ("keywords", "tags", "客服")]


def test_keyword_key_folds_case_width_and_space() -> None:
    assert keyword_key("  ＥＭＮews ") == "emnews"
    assert keyword_key("臺灣") == "台湾"


# --------------------------------------------------------------------------- compiled queries against a real index

ARTICLES = [
    Article("a", "晓多科技", "这背后离不开智能客服的功劳，离岸人民币汇率走高。", "a.md",
            date=datetime(2021, 12, 25), categories=("emnews",), tags=("AI",)),
    Article("b", "客服机器人", "智能，其实客服也忙。机器人代替人工回复。", "b.md",
            date=datetime(2021, 11, 3), categories=("emnews",), tags=("声援岳昕",)),
    Article("c", "元宇宙", "元宇宙概念产物层出不穷，元宇宙公司很多。人民币。", "c.md",
            date=datetime(2022, 1, 1), categories=("meirijingjixinwen",), tags=("每日经济新闻新闻",)),
    Article("d", "华北大地", "秋收。He said the main problem was obvious. 汇率6.3512。", "d.md"),
    Article("e", "臺灣電腦展", "ＡＩ晶片成為焦點；智能，客服也來了。", "e.md", date=datetime(2021, 12, 2)),
]


def _index(articles: list[Article]):
    ix = RamStorage().create_index(build_schema())
    with ix.writer() as w:
        for article in articles:
            w.add_document(**article_document(article, b"0:0:x"))
    return ix


@pytest.fixture(scope="module")
def searcher():
    with _index(ARTICLES).searcher() as s:
        yield s


def _ids(searcher, text: str, synonyms: Synonyms = NO_SYNONYMS, **filters) -> list[str]:
    vocab = IndexVocabulary(searcher)
    flt = compile_filters(vocab=vocab, **filters) if filters else None
    q = compile_query(parse(text), vocab=vocab, title_boost=3.0, synonyms=synonyms)
    hits = searcher.search(q, limit=None, filter=flt)
    return sorted(hit["id"] for hit in hits)


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("客服", ["a", "b", "e"]),
        ("人民币", ["a", "c"]),  # inside 离岸人民币 and on its own
        ("人民", ["a", "c"]),
        ("人", ["a", "b", "c"]),  # a single character
        ("北大", ["d"]),  # inside 华北大地: a substring, wherever jieba cuts
        ("华北大", ["d"]),
        ("学友", []),
        ("能客", ["a"]),  # a pair term: 智能客服, not 智能，客服
        ("服也", ["b", "e"]),  # inside no word: 客服也忙, 客服也來了
        ("其实", ["b"]),
        ("客服的", ["a"]),
        ("技这", []),  # 晓多科技 + 这背后: no pair across the title and the body
        ("元宇宙公司", ["c"]),  # across word boundaries
        ('"离岸 人民币"', ["a"]),
        ("离岸人民币汇率", ["a"]),
        ("智能客服", ["a"]),  # unquoted: exactly as typed, so not 智能，客服
        ('"智能 客服"', ["a", "e"]),  # quoted: spaces and punctuation between allowed, not 其实
        ('"客服 智能"', []),  # order matters
        ("客服 机器人", ["b"]),
        ("客服 OR 元宇宙", ["a", "b", "c", "e"]),
        ("客服 -机器人", ["a", "e"]),
        ('客服 -"智能 客服"', ["b"]),
        ("-(客服 OR 元宇宙)", ["d"]),
        ("-元宇宙", ["a", "b", "d", "e"]),
        ("ai", ["e"]),  # ＡＩ晶片, but not 'said' or 'main', nor the tag
        ("AI晶片", ["e"]),
        ('"ai 晶片"', ["e"]),
        ("said", ["d"]),
        ("Main Problem", ["d"]),
        ("6.3512", ["d"]),
        ("3512", []),  # a decimal is one number
        ("35", []),  # numbers match whole
        ("6.35", []),
        ("台湾", ["e"]),  # traditional and simplified are one
        ("臺灣", ["e"]),
        ("電腦", ["e"]),
        ("电脑展", ["e"]),
        ("title:客服", ["b"]),
        ("body:客服", ["a", "b", "e"]),
        ("title:北大", ["d"]),
        ("body:北大", []),
        ("title:ai", []),
        ("body:ai", ["e"]),
        ("标题：晓多", ["a"]),
        ("title:元宇宙 body:人民币", ["c"]),
        ("tags:ai", ["a"]),
        ("tags:ＡＩ", ["a"]),
        ("category:emnews -tags:声援岳昕", ["a"]),
        ("date:2021-12", ["a", "e"]),
        ("date:[2021-11-01 TO]", ["a", "b", "c", "e"]),
        ("date:[TO 2021-12-24]", ["b", "e"]),
        ("", ["a", "b", "c", "d", "e"]),
        ("客服 - 机器人", ["b"]),  # read as keywords: both words
        ("。，", []),
    ],
)
def test_compiled_queries_find_the_right_articles(searcher, text: str, ids: list[str]) -> None:
    assert _ids(searcher, text) == ids


def test_the_units_field_holds_every_adjacent_pair_and_the_gapped_pairs(searcher) -> None:
    terms = {t.decode("utf-8") for t in searcher.reader().lexicon("units")}
    assert {"客", "服", "ai", "6.3512", "客服", "能客", "服的", "人民", "北大", "华北", "大地"} <= terms
    assert {"智能", "民币", "离岸", "岸人", "宇宙", "元宇", "晓多", "台湾", "电脑", "晶片"} <= terms  # rare characters too
    # characters that 1 to 8 spaces or punctuation marks separate: 智能，客服 功劳，离岸 忙。机器人
    assert {"能\x1f客", "劳\x1f离", "忙\x1f机"} <= terms
    assert not {"能，", "能,", "服也来"} & terms  # no punctuation, no runs of three
    # a Latin word or a number pairs with nothing, adjacent or apart: ＡＩ晶片 汇率6.3512 秋收。He obvious. 汇率
    assert not {"ai晶", "率6", "收\x1fh", "s\x1f汇"} & terms
    assert "技这" not in terms  # the title and the body are not one text


@pytest.mark.parametrize("text", ODD_QUERIES)
def test_odd_queries_search_without_raising(searcher, text: str) -> None:
    assert set(_ids(searcher, text)) <= set("abcde")


def test_synonyms_find_the_other_members(searcher) -> None:
    syn = Synonyms([("虚拟世界", "元宇宙"), ("计算机", "电脑")])
    assert _ids(searcher, "虚拟世界") == []
    assert _ids(searcher, "虚拟世界", synonyms=syn) == ["c"]
    assert _ids(searcher, "計算機", synonyms=syn) == ["e"]  # normalized before the lookup
    assert _ids(searcher, "title:虚拟世界", synonyms=syn) == ["c"]
    assert _ids(searcher, "-虚拟世界", synonyms=syn) == ["a", "b", "d", "e"]


def test_compiled_filters_narrow_the_search(searcher) -> None:
    assert _ids(searcher, "", categories=["emnews"]) == ["a", "b"]
    assert _ids(searcher, "", categories=["EMNEWS"], tags=["声援岳昕"]) == ["b"]
    assert _ids(searcher, "", tags=["ai"]) == ["a"]
    assert _ids(searcher, "客服", since=datetime(2021, 12, 1)) == ["a", "e"]
    assert _ids(searcher, "", until=DEC_END) == ["a", "b", "e"]
    assert _ids(searcher, "客服", tags=["nope"]) == []


def test_the_index_vocabulary_gives_ranking_words(searcher) -> None:
    vocab = IndexVocabulary(searcher)
    q = compile_query(parse("智能客服"), vocab=vocab, title_boost=3.0)
    assert q == scored(has("智能客服", "客服", "智能", "能客"), "智能", "客服")
    assert compile_query(parse("客服"), vocab=vocab, title_boost=3.0) == exact_scored("客服", "客服")
    assert compile_query(parse("ai"), vocab=vocab, title_boost=3.0) == exact_scored("ai", "ai")
    assert compile_query(parse("6.3512"), vocab=vocab, title_boost=3.0) == exact_scored("6.3512", "6.3512")
    assert compile_query(parse("電腦展"), vocab=vocab, title_boost=3.0) == scored(has("电脑展", "电脑", "脑展"), "电脑", "展")
    # nothing of the string is an index word: no ranking clause
    assert compile_query(parse("6.35"), vocab=vocab, title_boost=3.0) == exact("6.35")


def test_title_matches_rank_first(searcher) -> None:
    vocab = IndexVocabulary(searcher)
    hits = searcher.search(compile_query(parse("客服"), vocab=vocab, title_boost=3.0), limit=None)
    assert hits[0]["id"] == "b"


def test_contains_scores_weighted_occurrences_per_column(searcher) -> None:
    def scores(q: wq.Query) -> dict[str, float]:
        return {hit["id"]: hit.score for hit in searcher.search(q, limit=None)}

    kefu = re.compile("客服")
    assert scores(Contains(wq.Term("units", "客"), kefu, ANY)) == pytest.approx({"a": 1.0, "b": 4.0, "e": 1.0})
    assert scores(Contains(wq.Term("units", "客"), kefu, ANY, boost=2.0)) == pytest.approx({"a": 2.0, "b": 8.0, "e": 2.0})
    assert scores(Contains(wq.Term("units", "客"), kefu, IN_TITLE)) == pytest.approx({"b": 1.0})
    yuan = re.compile("元宇宙")
    assert scores(Contains(wq.Term("units", "元"), yuan, IN_BODY)) == pytest.approx({"c": 1.0 + math.log(2)})
    assert scores(Contains(wq.Term("units", "元"), yuan, ANY)) == pytest.approx({"c": 3.0 + 1.0 + math.log(2)})
    # candidates that do not contain the string are dropped
    assert scores(Contains(wq.Term("units", "人"), re.compile("人民币"), ANY)) == pytest.approx({"a": 1.0, "c": 1.0})


def test_contains_only_sees_its_candidates(searcher) -> None:
    found = searcher.search(Contains(wq.Term("units", "离"), re.compile("客服"), ANY), limit=None)
    assert [hit["id"] for hit in found] == ["a"]  # b and e contain 客服 but not 离
    assert len(searcher.search(Contains(wq.Term("units", "zzz"), re.compile("客服"), ANY), limit=None)) == 0


def test_contains_equality_repr_and_boost() -> None:
    a = Contains(wq.Term("units", "客"), re.compile("客服"), ANY)
    assert a == Contains(wq.Term("units", "客"), re.compile("客服"), ANY)
    assert hash(a) == hash(Contains(wq.Term("units", "客"), re.compile("客服"), ANY))
    assert a != Contains(wq.Term("units", "服"), re.compile("客服"), ANY)
    assert a != Contains(wq.Term("units", "客"), re.compile("客"), ANY)
    assert a != Contains(wq.Term("units", "客"), re.compile("客服"), IN_BODY)
    assert a != Contains(wq.Term("units", "客"), re.compile("客服"), ANY, boost=2.0)
    assert a.with_boost(2.0) == Contains(wq.Term("units", "客"), re.compile("客服"), ANY, boost=2.0)
    assert repr(a) == "Contains('客服' in ntitle/nbody)"
    assert a.estimate_min_size(None) == 0


def test_a_compiled_query_can_search_a_newer_reader() -> None:
    storage_ix = _index(ARTICLES[:2])
    with storage_ix.searcher() as s:
        q = compile_query(parse("客服"), vocab=IndexVocabulary(s), title_boost=3.0)
        assert sorted(h["id"] for h in s.search(q, limit=None)) == ["a", "b"]
        assert sorted(h["id"] for h in s.search(q, limit=None)) == ["a", "b"]  # searched twice: same answer
    with storage_ix.writer() as w:
        w.add_document(**article_document(ARTICLES[4], b"0:0:x"))
    with storage_ix.searcher() as s:
        assert sorted(h["id"] for h in s.search(q, limit=None)) == ["a", "b", "e"]


# --------------------------------------------------------------------------- pairs of characters, end to end


@pytest.fixture(scope="module")
def pairs_index(tmp_path_factory: pytest.TempPathFactory) -> NewsIndex:
    folder: Path = tmp_path_factory.mktemp("pairs") / "posts"
    write_post(folder, "huabei.md", "秋收", "秋收时节，华北大地一片金黄。")
    write_post(folder, "beida.md", "北京大学", "北京大学的校名里有北、大两个字。")  # 北 and 大, never 北大
    write_post(folder, "zhongguoren.md", "我是中国人", "我们都是中国人。")
    write_post(folder, "minguo.md", "民国史", "中华民国成立于一九一二年。")  # 中 and 国, never 中国
    write_post(folder, "guozhong.md", "国中之国", "所谓国中之国，说的是一种格局。")
    write_post(folder, "yangshi.md", "央视", "中国中央电视台。")  # both 中国 and 国中
    write_post(folder, "hupo.md", "琥珀", "一块琥珀。")
    write_post(folder, "pohu.md", "珀与琥", "珀与琥，字序相反。")  # 琥 and 珀, never 琥珀
    ix = NewsIndex.create(tmp_path_factory.mktemp("pairs") / "index")
    report = ix.update([folder])
    assert (report.indexed, report.failed) == (8, [])
    return ix


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("北大", ["huabei"]),  # the pair inside 华北大地, wherever jieba cuts
        ("北京", ["beida"]),
        ('"北大"', ["beida", "huabei"]),  # a phrase: 北、大 too
        ('"北 大"', ["beida", "huabei"]),
        ("中国", ["yangshi", "zhongguoren"]),  # not 中华民国
        ("中國", ["yangshi", "zhongguoren"]),
        ("中国人", ["zhongguoren"]),
        ("国中", ["guozhong", "yangshi"]),  # 国中 is a pair too: not 中国人 nor 中华民国
        ("中华民国", ["minguo"]),
        ("民国", ["minguo"]),
        ("中国 -国中", ["zhongguoren"]),
        ("中国 OR 国中", ["guozhong", "yangshi", "zhongguoren"]),
        ("title:中国", ["zhongguoren"]),  # a pair restricted to the title: verified there
        ("body:中国", ["yangshi", "zhongguoren"]),
        ("title:国中", ["guozhong"]),
        ("body:国中", ["guozhong", "yangshi"]),
        ("琥珀", ["hupo"]),  # rare characters are a pair too: not 珀与琥
        ("琥", ["hupo", "pohu"]),
        ("中央", ["yangshi"]),
        ("央中", []),
        ("国国", []),
    ],
)
def test_pairs_find_exactly_the_string(pairs_index: NewsIndex, text: str, ids: list[str]) -> None:
    results = pairs_index.search(text, limit=None, exact=True)
    assert sorted(hit.id for hit in results.hits) == ids
    assert results.total == len(ids)


def test_a_pair_match_is_highlighted(pairs_index: NewsIndex) -> None:
    (hit,) = pairs_index.search("北大").hits
    assert "华<mark>北大</mark>地" in hit.snippet.html()
    hits = pairs_index.search("国中", limit=None).hits
    assert {hit.id for hit in hits} == {"guozhong", "yangshi"}
    for hit in hits:
        marked = [p.text[start:end] for p in hit.snippet.passages for start, end in p.highlights]
        assert marked and set(marked) == {"国中"}, hit.id
