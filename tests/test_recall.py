"""Find every article that contains what the user typed, rank it sensibly, highlight it exactly.

Fixture articles are written by the tests; the real-corpus checks compare with
a brute-force scan of the same extracted text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import write_post
from typer.testing import CliRunner

from newsearch import ConfigError, NewsIndex
from newsearch.analysis import normalize
from newsearch.cli import app
from newsearch.ingest import iter_source_files, read_file

FIXTURES = {
    "singer": ("歌手专访", "张学友的演唱会一票难求。"),
    "greece": ("古希腊的哲学", "古希腊哲学家讨论了城邦。"),
    "amber": ("琥珀里的昆虫", "这块琥珀保存了一只远古昆虫。"),
    "fx": ("汇率快讯", "离岸人民币兑美元升至6.3512，为2021年以来最高水平。"),
    "shop": ("双11战报", "今年双11，华为P50和iPhone 13销量领先；5G手机占比过半。"),
    "health": ("健康提示", "补充维生素A有助于视力。COVID-19疫情期间要多锻炼。"),
    "bot": ("AI客服上岗", "智能，客服机器人回答问题。A股公司纷纷采用。"),
    "taxi": ("出行", "他打的士去机场，路上很堵。"),
    "peace": ("和平宣言", "世界需要和平与发展。"),
    "trad": ("臺灣電腦展", "臺灣的電腦展覽今天開幕，ＡＩ晶片成為焦點。"),
    "gb": ("全角数字", "２０２１年，ＡＢＣ公司发布了新产品。"),
    "said": ("English", "He said the main problem was obvious."),
}


@pytest.fixture(scope="module")
def ix(tmp_path_factory: pytest.TempPathFactory) -> NewsIndex:
    root = tmp_path_factory.mktemp("recall")
    for name, (title, body) in FIXTURES.items():
        write_post(root / "posts", f"{name}.md", title, body)
    index = NewsIndex.create(root / "index")
    assert index.update([root / "posts"]).failed == []
    return index


def found(ix: NewsIndex, query: str) -> set[str]:
    """What an exact search finds: every article that holds the query as typed, no other."""
    return {h.id for h in ix.search(query, limit=None, collapse=False, exact=True).hits}


def exact_hits(ix: NewsIndex, query: str) -> set[str]:
    """The hits a default search marks exact (it may list related articles besides)."""
    results = ix.search(query, limit=None, collapse=False)
    exact = {h.id for h in results.hits if h.match == "exact"}
    assert results.exact_total == len(exact)
    return exact


def marked(ix: NewsIndex, query: str) -> set[str]:
    return {p.text[s:e] for h in ix.search(query, limit=None, collapse=False).hits for p in h.snippet.passages for s, e in p.highlights}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("学友", {"singer"}),  # inside 张学友
        ("希腊", {"greece"}),  # inside 古希腊
        ("珀", {"amber"}),  # a single character
        ("虫", {"amber"}),
        ("演唱会一票", {"singer"}),  # crosses word boundaries
        ("的演唱", {"singer"}),
        ("6.3512", {"fx"}),
        ("3512", set()),  # a decimal is one number
        ("2021年", {"fx", "gb"}),
        ("2021", {"fx", "gb"}),
        ("双11", {"shop"}),
        ("5G", {"shop"}),
        ("COVID-19", {"health"}),
        ("covid", {"health"}),
        ("iPhone 13", {"shop"}),
        ("华为P50", {"shop"}),
        ("P50", {"shop"}),
        ("AI客服", {"bot"}),
        ("A股", {"bot"}),
        ("维生素A", {"health"}),
        ("的士", {"taxi"}),  # not swallowed as stop words
        ("和平", {"peace"}),
        ("A", {"health", "bot"}),  # 维生素A, A股: a whole Latin word
        ("ai", {"bot", "trad"}),  # not inside "said" or "main"
    ],
)
def test_every_article_containing_the_string_is_found(ix: NewsIndex, query: str, expected: set[str]) -> None:
    assert found(ix, query) == expected
    assert exact_hits(ix, query) == expected  # the default search finds them too, marked exact


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("臺灣", {"trad"}),
        ("台湾", {"trad"}),
        ("電腦", {"trad"}),
        ("电脑展览", {"trad"}),
        ("ＡＩ晶片", {"trad"}),
        ("２０２１年", {"fx", "gb"}),
        ("abc", {"gb"}),
    ],
)
def test_traditional_simplified_width_and_case_are_folded(ix: NewsIndex, query: str, expected: set[str]) -> None:
    assert found(ix, query) == expected


def test_highlights_mark_exactly_the_matched_characters(ix: NewsIndex) -> None:
    assert marked(ix, "学友") == {"学友"}
    assert marked(ix, "6.3512") == {"6.3512"}
    assert marked(ix, "台湾") == {"臺灣"}  # highlighted as written
    assert marked(ix, "ai") == {"ＡＩ"}  # AI客服 is in a title; snippets show the body
    assert marked(ix, "的士") == {"的士"}
    hits = ix.search("演唱会一票").hits
    assert [hit.id for hit in hits] == ["singer"]
    for hit in hits:
        passage = hit.snippet.passages[0]
        (start, end), = passage.highlights
        assert passage.text[start:end] == "演唱会一票"
        assert passage.text[start - 3 : start] == "张学友的"[-3:]


def test_quoted_phrase_ignores_only_spaces_and_punctuation(ix: NewsIndex) -> None:
    assert found(ix, '"智能 客服"') == {"bot"}  # the text has 智能，客服
    assert found(ix, "智能客服") == set()  # unquoted: exactly as typed
    assert found(ix, '"客服 智能"') == set()  # order matters
    assert found(ix, '"离岸 人民币 兑 美元"') == {"fx"}
    assert found(ix, 'title:"AI 客服"') == {"bot"}
    assert found(ix, 'body:"AI 客服"') == set()
    assert marked(ix, '"智能 客服"') == {"智能，客服"}


def test_and_or_not_and_fields(ix: NewsIndex) -> None:
    assert found(ix, "双11 华为") == {"shop"}
    assert found(ix, "琥珀 OR 希腊") == {"amber", "greece"}
    assert found(ix, "2021年 -人民币") == {"gb"}
    assert found(ix, "2021年 NOT 人民币") == {"gb"}
    assert found(ix, "(琥珀 OR 希腊) 哲学") == {"greece"}
    assert found(ix, "title:琥珀") == {"amber"}
    assert found(ix, "title:昆虫") == {"amber"}
    assert found(ix, "title:远古") == set()
    assert found(ix, "标题：琥珀") == {"amber"}


def test_whole_words_titles_and_frequent_mentions_rank_first(tmp_path: Path) -> None:
    folder = tmp_path / "rank"
    write_post(folder, "inside.md", "新闻一", "离岸人民币走强。")
    write_post(folder, "whole.md", "新闻二", "人民币走强。")
    write_post(folder, "title.md", "人民币", "今日走强。")
    write_post(folder, "often.md", "新闻三", "人民币走强。人民币需求旺。人民币回流。")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([folder])
    order = [h.id for h in ix.search("人民币", collapse=False).hits]  # short items: rewordings of one another
    assert order[0] == "title"
    assert order.index("often") < order.index("whole") < order.index("inside")
    # A string that is no word of its own: more occurrences still rank higher.
    write_post(folder, "twice.md", "新闻四", "演唱会一票难求，演唱会一票都没有。")
    write_post(folder, "once.md", "新闻五", "演唱会一票难求。")
    ix.update([folder])
    assert [h.id for h in ix.search("演唱会一票", collapse=False).hits] == ["twice", "once"]


def test_query_language_dates(ix: NewsIndex, tmp_path: Path) -> None:
    folder = tmp_path / "dated"
    write_post(folder, "nov.md", "十一月", "消息A", date="2021-11-30 23:00")
    write_post(folder, "dec.md", "十二月", "消息B", date="2021-12-15")
    write_post(folder, "jan.md", "一月", "消息C", date="2022-01-01")
    dated = NewsIndex.create(tmp_path / "index")
    dated.update([folder])
    assert found(dated, "date:2021-12") == {"dec"}
    assert found(dated, "date:[2021-12-01 TO 2021-12-31]") == {"dec"}
    assert found(dated, "date:[2021-12-01 TO]") == {"dec", "jan"}
    assert found(dated, "date:[TO 2021-12-01]") == {"nov"}
    assert found(dated, "消息 日期:2022") == {"jan"}
    assert {h.id for h in dated.search("消息", since="2021年12月", until="2021年12月").hits} == {"dec"}


def test_a_word_of_the_index_is_not_corrected_when_a_filter_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "_posts"
    write_post(folder, "a.md", "琥珀", "一块琥珀。", date="2021-05-01")
    write_post(folder, "b.md", "琥珠", "一颗琥珠。", date="2022-05-01")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([folder])
    nothing = ix.search("琥珀", since="2022")
    assert nothing.total == 0 and nothing.suggestion is None  # not 琥珠: 琥珀 is spelled right
    typo = ix.search("琥拍", since="2022")
    assert typo.total == 0 and typo.suggestion == "琥珠"


def test_no_hits_suggests_a_query_that_has_some(ix: NewsIndex) -> None:
    typo = ix.search("琥拍")
    assert typo.total == 0 and typo.suggestion == "琥珀"
    # Two words where one is nowhere: the default search lists the other's article as
    # related; asked for exact matches, it suggests the query without the missing word.
    related = ix.search("琥珀 火星")
    assert (related.total, related.exact_total, [h.match for h in related.hits]) == (1, 0, ["related"])
    too_long = ix.search("琥珀 火星", exact=True)
    assert too_long.total == 0 and too_long.suggestion == "琥珀"
    assert ix.search(too_long.suggestion).total == 1
    assert ix.search("琥珀").suggestion is None
    assert ix.search("zzzzqqq").suggestion is None


def test_user_dictionary_and_synonyms_from_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    write_post(folder, "a.md", "晓多科技发布", "晓多科技在双11期间服务了五万家企业。")
    write_post(folder, "b.md", "晓得", "多科技公司都知道。")
    index_dir = tmp_path / "index"
    runner = CliRunner()
    first = runner.invoke(app, ["index", str(folder), "--index", str(index_dir)])
    assert first.exit_code == 0, first.output
    (index_dir / "words.txt").write_text("晓多科技 50 nz\n", encoding="utf-8")
    (index_dir / "synonyms.txt").write_text("# 同义词\n双十一 = 双11 = 光棍节\n", encoding="utf-8")
    (index_dir / "newsearch.toml").write_text(
        '[analysis]\nuser_dicts = ["words.txt"]\nsynonyms = "synonyms.txt"\n', encoding="utf-8"
    )
    second = runner.invoke(app, ["index", str(folder), "--index", str(index_dir)])
    assert second.exit_code == 0, second.output
    assert "user dictionaries changed (+words.txt): re-analyzed all 2 articles" in second.output
    assert "0 indexed, 2 unchanged" in second.output
    manifest = json.loads((index_dir / "newsearch.json").read_text(encoding="utf-8"))
    assert [Path(p).name for p, _ in manifest["analysis"]["user_dicts"]] == ["words.txt"]
    ix = NewsIndex.open(index_dir)
    # The dictionary word is now one word of the index; recall is unchanged.
    with ix._searcher() as searcher:  # noqa: SLF001 - looking at the analyzed terms
        assert ("body", "晓多科技") in searcher.reader()
    assert {h.id for h in ix.search("晓多科技", exact=True).hits} == {"a"}
    assert {h.id for h in ix.search("多科技", exact=True).hits} == {"a", "b"}
    assert {h.id for h in ix.search("光棍节", exact=True).hits} == {"a"}
    assert {p.text[s:e] for h in ix.search("双十一").hits for p in h.snippet.passages for s, e in p.highlights} == {"双11"}
    # Synonyms apply at query time: editing them needs no re-analysis.
    (index_dir / "synonyms.txt").write_text("双十一 = 双11\n", encoding="utf-8")
    third = runner.invoke(app, ["index", str(folder), "--index", str(index_dir)])
    assert "synonyms apply at query time" in third.output and "re-analyzed all" not in third.output
    assert NewsIndex.open(index_dir).search("光棍节", exact=True).total == 0


def test_a_missing_dictionary_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "newsearch.toml").write_text('[analysis]\nuser_dicts = ["nope.txt"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="nope.txt"):
        NewsIndex.create(tmp_path / "index")


# --------------------------------------------------------------------------- real articles


@pytest.fixture(scope="module")
def texts(corpus: Path) -> dict[str, str]:
    return {
        a.id: normalize(a.title + "\n" + a.body)
        for p in iter_source_files([corpus])
        for a in read_file(p).articles
    }


def brute_force(texts: dict[str, str], needle: str) -> set[str]:
    body = re.escape(normalize(needle))
    if re.match(r"[0-9a-z]", normalize(needle)[0]):
        body = r"(?<![0-9a-z])" + body
    if re.match(r"[0-9a-z]", normalize(needle)[-1]):
        body += r"(?![0-9a-z])"
    return {doc for doc, text in texts.items() if re.search(body, text)}


@pytest.mark.parametrize(
    "query",
    ["学友", "希腊", "北大", "华北大", "5G", "iPhone", "2017年", "２０１７年", "6.3512", "双11", "A股", "AI客服",
     "维生素", "的士", "和平", "人民幣", "电脑", "電腦", "台湾", "士气", "人", "珀", "最高水平"],
)
def test_real_articles_match_a_brute_force_scan(corpus_index: NewsIndex, texts: dict[str, str], query: str) -> None:
    expected = brute_force(texts, query)
    assert expected, f"{query} should occur in the corpus"
    assert {h.id for h in corpus_index.search(query, limit=None, collapse=False, exact=True).hits} == expected
    assert exact_hits(corpus_index, query) == expected


def test_normalization_is_context_free_and_other_scripts_are_searchable(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    write_post(folder, "shen.md", "报道", "记者沈思远报道。")
    write_post(folder, "sony.md", "カメラ", "ソニーのカメラ。Ωμέγα 字母。")
    write_post(folder, "phone.md", "新机", "iPhone13发布。")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([folder])
    assert found(ix, "沈") == {"shen"}  # OpenCC's phrase rule would have made it 沉思
    assert found(ix, "沈思远") == {"shen"}
    assert found(ix, "ソニー") == {"sony"}
    assert found(ix, "Ωμέγα") == {"sony"}
    assert found(ix, "ωμεγα") == set()  # accents are kept
    assert found(ix, "iPhone13") == {"phone"}
    assert found(ix, '"iPhone 13"') == set()  # the text holds one word, not two
    assert marked(ix, "ソニー") == {"ソニー"}


def test_phrase_synonyms_and_dictionary_entries_are_normalized(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    write_post(folder, "apple.md", "新机", "苹果13今天开售。")
    write_post(folder, "bot.md", "客服", "ＡＩ客服上线了。")
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    (index_dir / "syn.txt").write_text("iPhone 13 = 苹果13\n", encoding="utf-8")
    (index_dir / "dict.txt").write_text("AI客服 50 nz\n", encoding="utf-8")
    (index_dir / "newsearch.toml").write_text(
        '[analysis]\nsynonyms = "syn.txt"\nuser_dicts = ["dict.txt"]\n', encoding="utf-8"
    )
    ix = NewsIndex.create(index_dir)
    ix.update([folder])
    assert found(ix, '"iPhone 13"') == {"apple"}
    assert found(ix, "iphone 13") == set()  # two unquoted terms: both must occur
    with ix._searcher() as searcher:  # noqa: SLF001 - looking at the analyzed terms
        assert ("body", "ai客服") in searcher.reader()


def test_title_matches_rank_first_also_for_strings_found_by_one_term(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    write_post(folder, "1-body.md", "杂谈", "说起华北大地，秋收在即。")  # 北大 is no word here
    write_post(folder, "2-title.md", "华北大地", "秋收在即。")
    write_post(folder, "3-char.md", "人", "秋收。")
    write_post(folder, "4-char-body.md", "秋", "一个人。")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([folder])
    assert [h.id for h in ix.search("北大").hits] == ["2-title", "1-body"]
    assert [h.id for h in ix.search("人").hits] == ["3-char", "4-char-body"]
    assert found(ix, "title:北大") == {"2-title"}
    assert found(ix, "title:人") == {"3-char"}


def test_phrase_units_may_be_apart_by_up_to_eight_marks(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    write_post(folder, "near.md", "一", "智能，“客服”上线。")
    write_post(folder, "eight.md", "二", "智能" + "，" * 8 + "客服上线。")
    write_post(folder, "nine.md", "三", "智能" + "，" * 9 + "客服上线。")
    write_post(folder, "apart.md", "四", "智能的客服上线。")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([folder])
    assert found(ix, '"智能客服"') == {"near", "eight"}
    assert found(ix, '"智能 客服 上线"') == {"near", "eight"}
    assert marked(ix, '"智能客服"') == {"智能，“客服", "智能" + "，" * 8 + "客服"}


def test_a_phrase_counts_every_occurrence_with_or_without_gaps(tmp_path: Path) -> None:
    # Articles without gapped pairs are counted on their plain bytes, the others
    # with the pattern: both must give the same counts, so the same scores.
    folder = tmp_path / "p"
    write_post(folder, "plain.md", "甲", "一个问题。另一段。一个问题。")
    write_post(folder, "mixed.md", "乙", "一个问题。另一段。一个，问题。")
    write_post(folder, "gapped.md", "丙", "一个，问题。另一段。没有了。")
    write_post(folder, "spaced.md", "丁", "一个问 题。另一段。没有了。")
    write_post(folder, "apart.md", "戊", "一个小问题。另一段。没有了。")
    write_post(folder, "pairs.md", "己", "这一个，那个问题。另一段。")  # gapped pairs, no match
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([folder])
    scores = {h.id: h.score for h in ix.search('"一个问题"', limit=None, collapse=False).hits}
    assert set(scores) == {"plain", "mixed", "gapped", "spaced"}
    assert scores["plain"] == pytest.approx(scores["mixed"])  # same words, two occurrences each
    assert scores["gapped"] < scores["plain"] and scores["spaced"] < scores["plain"]
    assert marked(ix, '"一个问题"') == {"一个问题", "一个，问题", "一个问 题"}


@pytest.mark.parametrize("phrase", ["一个问题", "中国人", "公司表示", "记者", "人民", "的"])
def test_real_articles_match_a_phrase_scan(corpus_index: NewsIndex, texts: dict[str, str], phrase: str) -> None:
    gap = r"(?:(?![\u3400-\u9fff])[\W_]){0,8}?"
    pattern = re.compile(gap.join(re.escape(c) for c in phrase))
    expected = {doc for doc, text in texts.items() if pattern.search(text)}
    assert expected, f"{phrase} should occur in the corpus"
    assert found(corpus_index, f'"{phrase}"') == expected
