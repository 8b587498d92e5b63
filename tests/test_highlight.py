"""newsearch.highlight and the rendering of newsearch.results: passages with exact highlights."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from newsearch.analysis import normalize
from newsearch.config import SnippetConfig
from newsearch.highlight import find_spans, make_snippet
from newsearch.ingest import read_file
from newsearch.query import parse
from newsearch.results import Passage, Snippet
from newsearch.synonyms import Synonyms

REPO = Path(__file__).resolve().parents[1]
SEED_FILE = REPO / "seeds" / "000_7382423e0577ef0c.txt"

DEFAULT = SnippetConfig()
TINY = SnippetConfig(max_passages=1, passage_chars=20)

ZWJ = "\u200d"
FAMILY = "\U0001f468" + ZWJ + "\U0001f469" + ZWJ + "\U0001f467"


@pytest.fixture(scope="module")
def body() -> str:
    return read_file(SEED_FILE).articles[0].body


def snippet(text: str, query: str, config: SnippetConfig = DEFAULT) -> Snippet:
    return make_snippet(text, parse(query).highlight_patterns(), config)


# Where sentences start and end, computed independently of highlight.py.
_END_RE = re.compile(r"[。！？；!?;]+[”’」』）)】\"']*")


def _sentence_bounds(text: str) -> tuple[set[int], set[int]]:
    starts, ends = set(), {len(text.rstrip())}
    cuts = [m.end() for m in _END_RE.finditer(text)] + [m.start() for m in re.finditer(r"\n", text)]
    for cut in cuts:
        end = cut
        while end > 0 and text[end - 1].isspace():
            end -= 1
        ends.add(end)
        start = cut
        while start < len(text) and text[start].isspace():
            start += 1
        starts.add(start)
    starts.add(len(text) - len(text.lstrip()))
    return starts, ends


def check_snippet(text: str, query: str, config: SnippetConfig) -> Snippet:
    """Everything that must hold of any snippet: exact text, exact highlights, honest flags."""
    patterns = parse(query).highlight_patterns()
    sn = make_snippet(text, patterns, config)
    spans = find_spans(text, patterns)
    norm = normalize(text)
    matches = [(m.start(), m.end()) for pat in patterns for m in pat.finditer(norm)]
    starts, ends = _sentence_bounds(text)
    assert 1 <= len(sn.passages) <= config.max_passages
    previous_end = -1
    for p in sn.passages:
        end = p.start + len(p.text)
        assert text[p.start : end] == p.text
        assert p.start >= previous_end  # reading order, no overlap
        previous_end = end
        assert p.text == p.text.strip()
        assert len(p.text) <= config.passage_chars
        assert p.truncated_left == (p.start not in starts)
        assert p.truncated_right == (end not in ends)
        inside = [(s - p.start, e - p.start) for s, e in spans if s < end and e > p.start]
        assert list(p.highlights) == [(max(s, 0), min(e, len(p.text))) for s, e in inside]
        if spans:
            assert p.highlights, "a chosen passage holds a match"
        for s, e in p.highlights:
            assert 0 <= s < e <= len(p.text)
        for s, e in spans:  # each span is a run of touching or overlapping matches
            assert any(ms == s for ms, _ in matches) and any(me == e for _, me in matches)
            assert all(any(ms <= i < me for ms, me in matches) for i in range(s, e))
    return sn


# --------------------------------------------------------------------------- find_spans


def test_find_spans_on_the_seed(body: str) -> None:
    spans = find_spans(body, parse("江岭").highlight_patterns())
    assert spans == [(372, 374), (602, 604), (654, 656), (712, 714), (743, 745)]
    assert {body[s:e] for s, e in spans} == {"江岭"}


def test_find_spans_works_on_normalized_text_with_original_offsets() -> None:
    text = "专注ＡＩ客服机器人，Ai 客服"
    spans = find_spans(text, parse("ai客服").highlight_patterns())  # unquoted: exactly the string
    assert spans == [(2, 6)]
    assert [text[s:e] for s, e in spans] == ["ＡＩ客服"]
    spans = find_spans(text, parse('"ai 客服"').highlight_patterns())  # quoted: spaces allowed between
    assert spans == [(2, 6), (10, 15)]
    assert [text[s:e] for s, e in spans] == ["ＡＩ客服", "Ai 客服"]


@pytest.mark.parametrize(
    ("query", "text", "marked"),
    [
        ("智能", "人工智能技术", ["智能"]),  # inside a longer word
        ("北大", "华北大地", ["北大"]),
        ("的演唱", "张学友的演唱会", ["的演唱"]),  # across word boundaries
        ("台湾", "臺灣的電腦展", ["臺灣"]),  # traditional text, highlighted as written
        ("电脑展", "臺灣的電腦展", ["電腦展"]),
        ("臺灣", "台湾", ["台湾"]),
        ("ai", "He said AI客服 and ＡＩ晶片; main.", ["AI", "ＡＩ"]),  # whole Latin words only
        ("35", "3512 与 35%", ["35"]),
        ("6.3512", "升至6.3512，而非16.3512", ["6.3512"]),
        ("智能客服", "智能，客服", []),
        ('"智能 客服"', "智能，客服与智能客服", ["智能，客服", "智能客服"]),
        ("title:江岭 body:客服 tags:江岭", "江岭说客服好", ["江岭", "客服"]),
    ],
)
def test_find_spans_marks_exactly_what_matched(query: str, text: str, marked: list[str]) -> None:
    spans = find_spans(text, parse(query).highlight_patterns())
    assert [text[s:e] for s, e in spans] == marked


def test_synonyms_are_highlighted() -> None:
    syn = Synonyms([("双十一", "双11")])
    text = "今年双11，双十一与双111。"
    spans = find_spans(text, parse("双十一").highlight_patterns(syn))
    assert [text[s:e] for s, e in spans] == ["双11", "双十一"]
    assert [text[s:e] for s, e in find_spans(text, parse("双十一").highlight_patterns())] == ["双十一"]


def test_find_spans_merges_overlapping_and_touching_matches() -> None:
    patterns = [re.compile("客服"), re.compile("客服机器"), re.compile("机器人"), re.compile("领域")]
    assert find_spans("AI客服机器人领域，客服", patterns) == [(2, 9), (10, 12)]


def test_find_spans_uses_the_given_normalized_text_and_ignores_empty_matches() -> None:
    assert find_spans("ABCD", [re.compile("bc")], normalized="abcd") == [(1, 3)]
    assert find_spans("ABCD", [re.compile("bc")], normalized="ABCD") == []
    assert find_spans("bbb", [re.compile("a*")]) == []
    assert find_spans("", [re.compile("a")]) == []
    assert find_spans("abc", []) == []


# --------------------------------------------------------------------------- make_snippet on the seed


def test_passages_are_whole_sentences_when_they_fit(body: str) -> None:
    sn = check_snippet(body, "江岭", DEFAULT)
    assert sn.passages == (
        Passage("总结七年多以来的发展，晓多科技创始人江岭曾表示。", ((18, 20),), 354),
        # two neighbouring sentences become one passage
        Passage(
            "2012年，人工智能专业出身的江岭看到了行业中普遍存在的这个痛点，于是萌生了开发一款机器人，"
            "以此应对客服巨大工作量的想法。短短一年后，江岭做出了自己的产品，并把它放到了服务市场上。",
            ((15, 17), (67, 69)),
            587,
        ),
    )
    assert str(sn) == (
        "总结七年多以来的发展，晓多科技创始人**江岭**曾表示。 … 2012年，人工智能专业出身的**江岭**看到了"
        "行业中普遍存在的这个痛点，于是萌生了开发一款机器人，以此应对客服巨大工作量的想法。短短一年后，"
        "**江岭**做出了自己的产品，并把它放到了服务市场上。"
    )


def test_sentences_with_more_query_parts_come_first(body: str) -> None:
    sn = check_snippet(body, "客服 机器人", SnippetConfig(max_passages=1))
    (p,) = sn.passages
    assert p.start == 924
    assert p.text.startswith("公开数据显示，2020年“6·18”当天") and p.text.endswith("其中辅助成单占比52%。")
    assert [p.text[s:e] for s, e in p.highlights] == ["客服", "机器人", "客服"]
    assert (p.truncated_left, p.truncated_right) == (False, False)


def test_chosen_passages_are_shown_in_reading_order(body: str) -> None:
    sn = check_snippet(body, "客服 机器人", DEFAULT)
    assert [p.start for p in sn.passages] == [464, 587, 924]
    assert [[p.text[s:e] for s, e in p.highlights] for p in sn.passages] == [
        ["客服", "客服机器人"],
        ["机器人", "客服"],
        ["客服", "机器人", "客服"],
    ]
    assert all(p.text.endswith("。") for p in sn.passages)


def test_full_width_query_highlights_the_article_text(body: str) -> None:
    sn = check_snippet(body, "ＡＩ客服", DEFAULT)
    assert [(p.start, p.highlights) for p in sn.passages] == [(464, ((45, 49),)), (743, ((18, 22),))]
    assert [p.text[s:e] for p in sn.passages for s, e in p.highlights] == ["AI客服", "AI客服"]


def test_a_phrase_is_one_highlight(body: str) -> None:
    sn = check_snippet(body, '"人工智能 技术"', DEFAULT)
    assert [p.text[s:e] for p in sn.passages for s, e in p.highlights] == ["人工智能技术"] * 3


def test_a_substring_of_words_is_highlighted_in_the_seed(body: str) -> None:
    sn = check_snippet(body, "智能客", DEFAULT)  # no jieba word: 智能 + the first character of 客服
    marks = [p.text[s:e] for p in sn.passages for s, e in p.highlights]
    assert marks and set(marks) == {"智能客"}
    assert find_spans(body, parse("智能客").highlight_patterns()) == [
        (m.start(), m.end()) for m in re.finditer("智能客", body)
    ]


def test_latin_words_are_highlighted_whole_in_the_seed(body: str) -> None:
    assert {body[s:e] for s, e in find_spans(body, parse("ai").highlight_patterns())} == {"AI"}
    assert "TOB" in body and "CTO" in body
    assert find_spans(body, parse("to").highlight_patterns()) == []  # only inside TOB, TOC, CTO
    assert {body[s:e] for s, e in find_spans(body, parse("tob").highlight_patterns())} == {"TOB"}
    assert "6544" in body and find_spans(body, parse("65").highlight_patterns()) == []


def test_negated_words_are_not_highlighted(body: str) -> None:
    sn = check_snippet(body, "江岭 -机器人", DEFAULT)
    assert {p.text[s:e] for p in sn.passages for s, e in p.highlights} == {"江岭"}


def test_short_passages_are_cut_around_the_match_with_ellipses(body: str) -> None:
    sn = check_snippet(body, "江岭", TINY)
    assert sn.passages == (Passage("技创始人江岭曾表示。", ((4, 6),), 368, truncated_left=True),)
    assert str(sn) == "…技创始人**江岭**曾表示。"

    sn = check_snippet(body, "客服 机器人", TINY)
    assert sn.passages == (
        Passage("为13万客服服务，机器人代替人工回复65", ((4, 6), (9, 12)), 951, truncated_left=True, truncated_right=True),
    )
    assert str(sn) == "…为13万**客服**服务，**机器人**代替人工回复65…"


def test_a_window_starts_after_a_clause_break_when_one_is_near(body: str) -> None:
    sn = check_snippet(body, "元宇宙", SnippetConfig(max_passages=2, passage_chars=40))
    assert sn.passages == (
        Passage("元宇宙、人工智能火爆，游戏、社交、短视频……元宇宙概念产物层出不穷，无数公司和资", ((0, 3), (22, 25)), 1453, True, True),
        Passage("但是面对元宇宙的火爆，黄鹏强调，晓多科技暂时不会涉及元宇宙相关的内容。", ((4, 7), (26, 29)), 1685, True, False),
    )
    assert body[1452] == "，"
    assert str(sn) == (
        "…**元宇宙**、人工智能火爆，游戏、社交、短视频……**元宇宙**概念产物层出不穷，无数公司和资… … "
        "…但是面对**元宇宙**的火爆，黄鹏强调，晓多科技暂时不会涉及**元宇宙**相关的内容。"
    )


@pytest.mark.parametrize("max_passages", [1, 2, 3, 5, 10])
@pytest.mark.parametrize("passage_chars", [20, 45, 120, 300])
@pytest.mark.parametrize(
    "query", ["客服", "晓多科技 人工智能", "元宇宙 OR 江岭", '"智能 客服"', "双11", "6·18", "ＣＴＯ", "智能客", '"ai 客服"', "to"]
)
def test_snippet_invariants_on_the_seed(body: str, query: str, max_passages: int, passage_chars: int) -> None:
    check_snippet(body, query, SnippetConfig(max_passages=max_passages, passage_chars=passage_chars))


# --------------------------------------------------------------------------- no match: the lead


def test_no_match_gives_the_lead_of_the_article(body: str) -> None:
    sn = check_snippet(body, "不存在的词", DEFAULT)
    lead = body[: body.index("巨大机遇。") + len("巨大机遇。")]
    assert lead.startswith("一切都在快速变化中。") and "\n\n当下，" in lead and len(lead) <= 120
    assert sn.passages == (Passage(lead, (), 0),)
    assert make_snippet(body, [], DEFAULT) == sn


def test_a_short_lead_is_the_first_sentence(body: str) -> None:
    sn = check_snippet(body, "不存在的词", TINY)
    assert sn.passages == (Passage("一切都在快速变化中。", (), 0),)


def test_a_long_first_sentence_is_cut_with_an_ellipsis() -> None:
    text = "甲" * 50 + "。乙。"
    sn = make_snippet(text, [], TINY)
    assert sn.passages == (Passage("甲" * 20, (), 0, truncated_right=True),)
    assert sn.text == "甲" * 20 + "…"


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n"])
def test_nothing_to_show(text: str) -> None:
    assert make_snippet(text, parse("客服").highlight_patterns(), DEFAULT) == Snippet()
    assert Snippet().html() == "" and Snippet().text == ""


# --------------------------------------------------------------------------- merging neighbours


def test_merged_neighbours_keep_the_first_ones_left_ellipsis() -> None:
    text = "甲" * 40 + "江岭说。" + "江岭好。"
    sn = make_snippet(text, parse("江岭").highlight_patterns(), SnippetConfig(max_passages=2, passage_chars=30))
    assert sn.passages == (
        Passage("甲甲甲甲甲甲甲江岭说。江岭好。", ((7, 9), (11, 13)), 33, truncated_left=True, truncated_right=False),
    )
    assert str(sn) == "…甲甲甲甲甲甲甲**江岭**说。**江岭**好。"


def test_neighbours_too_long_together_stay_apart() -> None:
    text = "江岭" + "甲" * 15 + "。" + "乙" * 15 + "江岭。"
    sn = make_snippet(text, parse("江岭").highlight_patterns(), SnippetConfig(max_passages=2, passage_chars=20))
    assert sn.passages == (
        Passage("江岭" + "甲" * 15 + "。", ((0, 2),), 0),
        Passage("乙" * 15 + "江岭。", ((15, 17),), 18),
    )


def test_sentences_in_different_paragraphs_are_not_merged() -> None:
    text = "江岭说。\n\n江岭好。"
    sn = make_snippet(text, parse("江岭").highlight_patterns(), DEFAULT)
    assert sn.passages == (Passage("江岭说。", ((0, 2),), 0), Passage("江岭好。", ((0, 2),), 6))


# --------------------------------------------------------------------------- never split a character


def _splits_a_character(text: str, i: int) -> bool:
    if not 0 < i < len(text):
        return False
    ch = text[i]
    return bool(
        unicodedata.combining(ch)
        or ch in "\u200d\ufe0e\ufe0f"
        or "\U0001f3fb" <= ch <= "\U0001f3ff"
        or text[i - 1] == ZWJ
        or "\ud800" <= ch <= "\udfff"
    )


@pytest.mark.parametrize("pad", range(12))
def test_cuts_never_split_an_emoji_sequence(pad: int) -> None:
    text = FAMILY * 5 + "前前江岭" + "后" * pad + FAMILY * 6 + "。"
    (p,) = make_snippet(text, parse("江岭").highlight_patterns(), TINY).passages
    assert p.truncated_left and p.truncated_right
    assert text[p.start : p.start + len(p.text)] == p.text
    assert not _splits_a_character(text, p.start)
    assert not _splits_a_character(text, p.start + len(p.text))
    assert "江岭" in p.text and len(p.text) <= 20


def test_an_emoji_sequence_at_the_cut_is_left_out_whole() -> None:
    text = FAMILY * 5 + "前前江岭" + FAMILY * 6 + "。"
    sn = make_snippet(text, parse("江岭").highlight_patterns(), TINY)
    assert sn.passages == (Passage("前前江岭" + FAMILY * 2, ((2, 4),), 25, truncated_left=True, truncated_right=True),)


@pytest.mark.parametrize("pad", range(4))
def test_cuts_never_split_combining_marks(pad: int) -> None:
    text = "e\u0301" * 30 + "前" * pad + "江岭" + "a\u0308" * 30 + "。"
    (p,) = make_snippet(text, parse("江岭").highlight_patterns(), TINY).passages
    assert not unicodedata.combining(p.text[0])
    assert not _splits_a_character(text, p.start)
    assert not _splits_a_character(text, p.start + len(p.text))
    assert p.text[p.highlights[0][0] : p.highlights[0][1]] == "江岭"
    assert len(p.text) <= 20 and p.truncated_left and p.truncated_right


def test_characters_outside_the_bmp_are_whole() -> None:
    text = "𠮷" * 30 + "江岭" + "𠮷" * 30 + "。"
    sn = make_snippet(text, parse("江岭").highlight_patterns(), TINY)
    assert sn.passages == (Passage("𠮷" * 4 + "江岭" + "𠮷" * 14, ((4, 6),), 26, True, True),)
    assert not any("\ud800" <= ch <= "\udfff" for ch in sn.passages[0].text)
    assert sn.html().encode("utf-8") == ("…" + "𠮷" * 4 + "<mark>江岭</mark>" + "𠮷" * 14 + "…").encode("utf-8")


# --------------------------------------------------------------------------- rendering


def test_passage_render_wraps_every_highlight() -> None:
    p = Passage("晓多科技的AI客服机器人", ((0, 4), (7, 9)), start=10)
    assert p.render("[", "]") == "[晓多科技]的AI[客服]机器人"
    assert p.render("<b>", "</b>", escape=str.upper) == "<b>晓多科技</b>的AI<b>客服</b>机器人"


def test_passage_render_adds_ellipses_for_truncated_ends() -> None:
    p = Passage("客服机器人", ((0, 2),), truncated_left=True, truncated_right=True)
    assert p.render("*", "*") == "…*客服*机器人…"
    assert Passage("客服", truncated_left=True).render("*", "*") == "…客服"
    assert Passage("客服", truncated_right=True).render("*", "*") == "客服…"
    assert Passage("客服").render("*", "*") == "客服"


def test_snippet_text_str_and_dict() -> None:
    sn = Snippet((Passage("江岭说。", ((0, 2),), 0), Passage("它好", ((1, 2),), 9, truncated_right=True)))
    assert sn.text == "江岭说。 … 它好…"
    assert str(sn) == "**江岭**说。 … 它**好**…"
    assert sn.render("<", ">") == "<江岭>说。 … 它<好>…"
    assert Snippet(sn.passages, separator=" | ").text == "江岭说。 | 它好…"
    assert sn.to_dict() == [
        {"text": "江岭说。", "start": 0, "highlights": [[0, 2]]},
        {"text": "它好", "start": 9, "highlights": [[1, 2]]},
    ]


def test_html_escapes_the_article_and_marks_the_matches() -> None:
    text = "<script>alert('江岭')</script>江岭 & 客服。"
    sn = snippet(text, "江岭")
    assert sn.passages == (Passage(text, ((15, 17), (28, 30)), 0),)
    assert sn.html() == "&lt;script&gt;alert('<mark>江岭</mark>')&lt;/script&gt;<mark>江岭</mark> &amp; 客服。"
    assert "<script>" not in sn.html()


def test_html_escapes_inside_a_match() -> None:
    sn = snippet("请看<b>与</b>标签。", '"b 与 b"')
    assert sn.html() == "请看&lt;<mark>b&gt;与&lt;/b</mark>&gt;标签。"


def test_html_of_script_in_a_real_article(body: str) -> None:
    at = body.index("自2014年")
    text = body[:at] + "<script>alert(1)</script>江岭说：“A&B”。" + body[at:]
    sn = snippet(text, "江岭", SnippetConfig(max_passages=1, passage_chars=40))
    assert sn.passages == (Passage("<script>alert(1)</script>江岭说：“A&B”。", ((25, 27),), at),)
    assert sn.html() == "&lt;script&gt;alert(1)&lt;/script&gt;<mark>江岭</mark>说：“A&amp;B”。"

    sn = snippet(text, "江岭", SnippetConfig(max_passages=1, passage_chars=20))
    assert sn.passages == (Passage("ipt>江岭说：“A&B”。", ((4, 6),), at + 21, truncated_left=True),)
    assert sn.html() == "…ipt&gt;<mark>江岭</mark>说：“A&amp;B”。"  # a cut tag is escaped text too


def test_a_sentence_the_source_repeats_is_shown_once() -> None:
    text = "疫苗上市前要经过三期试验。\n\n其他内容。\n\n疫苗上市前要经过三期试验。\n\n疫苗的价格由企业决定。"
    passages = snippet(text, "疫苗", SnippetConfig(max_passages=3, passage_chars=80)).passages
    texts = [p.text for p in passages]
    assert len(texts) == len(set(texts)) == 2
    assert texts == ["疫苗上市前要经过三期试验。", "疫苗的价格由企业决定。"]


def test_the_title_is_highlighted_in_hits(tmp_path: Path) -> None:
    from conftest import write_post

    from newsearch import NewsIndex

    write_post(tmp_path / "posts", "a.md", "疫苗之王：<长生>的疫苗", "这篇报道讲的是一家企业。")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([tmp_path / "posts"])
    hit = ix.search("疫苗").hits[0]
    assert [hit.title[a:b] for a, b in hit.title_highlights] == ["疫苗", "疫苗"]
    assert hit.title_html() == "<mark>疫苗</mark>之王：&lt;长生&gt;的<mark>疫苗</mark>"
    assert hit.title_render("[", "]") == "[疫苗]之王：<长生>的[疫苗]"
    assert hit.to_dict()["title_highlights"] == [[0, 2], [10, 12]]
    # The snippet is the article's lead, with nothing marked: the match was in the title.
    assert hit.snippet.passages[0].highlights == ()
