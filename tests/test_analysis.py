"""newsearch.analysis: one-for-one normalization (width, case, traditional script), match units,
and jieba tokens with exact offsets and sub-word weights."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from whoosh import fields
from whoosh.analysis import Token
from whoosh.filedb.filestore import RamStorage

from newsearch.analysis import (
    CURRENCY_SIGNS,
    NUMBER_SUFFIXES,
    SUBWORD_WEIGHT,
    longest_words,
    normalize,
    query_words,
    units,
    word_tokens,
)
from newsearch.errors import ConfigError
from newsearch.ingest import read_file
from newsearch.schema import JiebaTokenizer
from newsearch.segmenter import load_user_dict, segmenter

REPO = Path(__file__).resolve().parents[1]
SEED_FILE = REPO / "seeds" / "000_7382423e0577ef0c.txt"


@pytest.fixture(scope="module")
def body() -> str:
    return read_file(SEED_FILE).articles[0].body


def _tokens(tokens) -> list[tuple[str, int, int, int]]:  # Whoosh reuses one Token: copy as we go
    return [(t.text, t.pos, t.startchar, t.endchar) for t in tokens]


def _main_words(tokens):
    """The last token at each position: the word itself (sub-words come before it)."""
    by_pos = {}
    for tok in tokens:
        by_pos[tok[1]] = tok
    return [by_pos[p] for p in sorted(by_pos)]


# --------------------------------------------------------------------------- normalize


def test_normalize_folds_full_width_digits_and_latin() -> None:
    assert normalize("ＡＩ２０２１") == "ai2021"


def test_normalize_lower_cases_latin_and_folds_punctuation_and_spaces() -> None:
    assert normalize("Ｈｅｌｌｏ　ＷＯＲＬＤ！，CTO") == "hello world!,cto"
    assert normalize("你好，世界！（文章来源：新闻）") == "你好,世界!(文章来源:新闻)"


def test_normalize_leaves_chinese_and_ideographic_full_stop_alone() -> None:
    assert normalize("晓多科技。人工智能") == "晓多科技。人工智能"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ﬁ", "ﬁ"),  # NFKC would give two characters: kept as is
        ("㈠", "㈠"),  # NFKC gives "(一)": kept
        ("İ", "İ"),  # lower() gives two characters: kept
        ("①", "1"),
        ("Ω", "ω"),  # OHM SIGN → omega
        ("e\u0301", "e\u0301"),  # a combining mark stays its own character
        ("𠮷", "𠮷"),  # outside the BMP: one character
    ],
)
def test_normalize_maps_one_character_to_one(text: str, expected: str) -> None:
    assert normalize(text) == expected
    assert len(normalize(text)) == len(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("臺灣", "台湾"),
        ("電腦", "电脑"),
        ("臺灣電腦展覽開幕", "台湾电脑展览开幕"),
        ("後天", "后天"),
        ("頭髮", "头发"),
        ("乾淨", "干净"),
        ("人民幣", "人民币"),
        ("ＡＩ晶片成為焦點", "ai晶片成为焦点"),  # width, case and script in one pass
        ("臺灣，ＣＴＯ！", "台湾,cto!"),
        ("台湾电脑", "台湾电脑"),  # simplified text is left alone
        ("晓多科技的智能客服", "晓多科技的智能客服"),
        ("said Hello", "said hello"),
    ],
)
def test_normalize_folds_traditional_to_simplified(text: str, expected: str) -> None:
    assert normalize(text) == expected
    assert len(normalize(text)) == len(text)
    assert normalize(normalize(text)) == normalize(text)


def test_normalize_is_idempotent_on_every_character() -> None:
    # Exact matching compares normalized queries with normalized text, and the
    # stored body is rebuilt from the characters normalization changes: a
    # character whose normal form normalizes again (OpenCC: 薴 → 苧 → 苎) breaks both.
    assert normalize("薴苧苎") == "苎苎苎"
    chars = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    once = normalize(chars)
    assert len(once) == len(chars)
    assert [chars[i] for i in range(len(chars)) if normalize(once[i]) != once[i]] == []


def test_simplification_is_per_character_not_per_phrase() -> None:
    """OpenCC's phrase rules would turn 沈思 into 沉思 and keep 乾隆; converting one
    character at a time keeps every substring of the text a substring of its normal form."""
    text = "记者沈思远报道，乾隆年间的臺灣"
    norm = normalize(text)
    assert norm == "记者沈思远报道,干隆年间的台湾"
    assert all(norm[i] == normalize(ch) for i, ch in enumerate(text))
    assert normalize("沈") in norm and normalize("乾隆") in norm


def test_normalize_is_per_character_on_the_seed(body: str) -> None:
    norm = normalize(body)
    assert len(norm) == len(body)
    assert all(norm[i] == normalize(ch) for i, ch in enumerate(body))
    assert "AI" in body and "AI" not in norm and "ai" in norm
    assert "（" in body and "（" not in norm


# --------------------------------------------------------------------------- units


def test_units_are_cjk_characters_and_ascii_runs() -> None:
    assert units(normalize("华为P50和iPhone 13，6.3512")) == ["华", "为", "p50", "和", "iphone", "13", "6.3512"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("客服", ["客", "服"]),
        ("ＡＩ客服", ["ai", "客", "服"]),
        ("臺灣", ["台", "湾"]),
        ("COVID-19", ["covid", "19"]),
        ("ai_bot", ["ai", "bot"]),  # '_' separates
        ("said", ["said"]),  # one run: 'ai' is not a unit of 'said'
        ("双11", ["双", "11"]),
        ("𠮷野家", ["𠮷", "野", "家"]),  # outside the BMP
        ("①②", ["12"]),
        ("café", ["café"]),  # letters of any alphabet make word units
        ("Ωμέγα 字母", ["ωμέγα", "字", "母"]),
        ("ソニーのカメラ", ["ソ", "ニ", "ー", "の", "カ", "メ", "ラ"]),  # kana are single-character units
        ("서울", ["서", "울"]),
        ("。，！ …", []),
        ("", []),
    ],
)
def test_units(text: str, expected: list[str]) -> None:
    assert units(normalize(text)) == expected


def test_units_expect_normalized_text() -> None:
    assert units("ＡＩ") == ["ＡＩ"] and units(normalize("ＡＩ")) == ["ai"]
    assert units("AI客服") == ["AI", "客", "服"]


def test_units_of_the_seed_cover_its_text(body: str) -> None:
    norm = normalize(body)
    found = units(norm)
    signs = CURRENCY_SIGNS + NUMBER_SUFFIXES
    kept = "".join(ch for ch in norm if ch.isascii() and ch.isalnum() or "\u4e00" <= ch <= "\u9fff" or ch in signs)
    assert "".join(found).replace(".", "") == kept
    assert "ai" in found and "2020" in found and "客" in found


# --------------------------------------------------------------------------- word_tokens


def test_search_sub_words_share_the_position_of_their_word() -> None:
    assert word_tokens("离岸人民币") == [("离岸", 0, 0, 2), ("人民", 1, 2, 4), ("人民币", 1, 2, 5)]
    assert word_tokens("人民币汇率") == [("人民", 0, 0, 2), ("人民币", 0, 0, 3), ("汇率", 1, 3, 5)]


def test_query_mode_has_no_sub_words() -> None:
    assert word_tokens("离岸人民币", search=False) == [("离岸", 0, 0, 2), ("人民币", 1, 2, 5)]
    assert query_words("离岸人民币") == ["离岸", "人民币"]
    assert query_words("人民币汇率") == ["人民币", "汇率"]


def test_full_width_latin_is_one_normalized_term() -> None:
    assert word_tokens("ＡＩ客服") == [("ai", 0, 0, 2), ("客服", 1, 2, 4)]
    assert query_words("ＡＩ客服") == query_words("AI客服") == ["ai", "客服"]


def test_traditional_text_is_segmented_as_simplified() -> None:
    assert word_tokens("臺灣電腦") == [("台湾", 0, 0, 2), ("电脑", 1, 2, 4)]
    assert query_words("人民幣匯率") == query_words("人民币汇率") == ["人民币", "汇率"]


def test_punctuation_and_spaces_are_dropped_but_offsets_stay_exact() -> None:
    text = "Hello, World! 2021年"
    assert word_tokens(text) == [("hello", 0, 0, 5), ("world", 1, 7, 12), ("2021", 2, 14, 18), ("年", 3, 18, 19)]


def test_symbols_around_words_are_trimmed_with_their_offsets() -> None:
    text = "6·18 4.6万 52% _abc_ #tag"
    assert word_tokens(text) == [
        ("6", 0, 0, 1),
        ("18", 1, 2, 4),
        ("4.6", 2, 5, 8),
        ("万", 3, 8, 9),
        ("52", 4, 10, 12),
        ("abc", 5, 15, 18),
        ("tag", 6, 21, 24),
    ]


@pytest.mark.parametrize("text", ["", "   ", "，。！？ …… “”", "\n\n"])
def test_no_words_no_tokens(text: str) -> None:
    assert word_tokens(text) == []
    assert query_words(text) == []


def test_first_sentence_of_the_seed(body: str) -> None:
    first = body[: body.index("，") + 1]
    assert first == "一切都在快速变化中。2020年在疫情防控中构筑科技保护伞的人工智能，"
    assert word_tokens(first) == [
        ("一切", 0, 0, 2),
        ("一切都在", 0, 0, 4),
        ("快速", 1, 4, 6),
        ("变化", 2, 6, 8),
        ("中", 3, 8, 9),
        ("2020", 4, 10, 14),
        ("年", 5, 14, 15),
        ("在", 6, 15, 16),
        ("疫情", 7, 16, 18),
        ("防控", 8, 18, 20),
        ("中", 9, 20, 21),
        ("构筑", 10, 21, 23),
        ("科技", 11, 23, 25),
        ("保护", 12, 25, 27),
        ("保护伞", 12, 25, 28),
        ("的", 13, 28, 29),
        ("人工", 14, 29, 31),
        ("智能", 14, 31, 33),
        ("人工智能", 14, 29, 33),
    ]


def test_every_token_of_the_seed_points_at_its_own_text(body: str) -> None:
    tokens = word_tokens(body)
    assert len(tokens) > 1000
    for term, _pos, start, end in tokens:
        assert 0 <= start < end <= len(body)
        assert normalize(body[start:end]) == term
        assert any(ch.isalnum() for ch in term)


def test_positions_count_words_in_reading_order(body: str) -> None:
    tokens = word_tokens(body)
    positions = [pos for _, pos, _, _ in tokens]
    assert positions == sorted(positions)
    words = _main_words(tokens)
    assert [pos for _, pos, _, _ in words] == list(range(len(words)))
    starts = [start for _, _, start, _ in words]
    assert all(a < b for a, b in zip(starts, starts[1:]))
    ends = [end for _, _, _, end in words]
    assert all(end <= nxt for end, nxt in zip(ends, starts[1:]))  # words never overlap


def test_sub_words_lie_inside_the_word_they_come_from(body: str) -> None:
    tokens = word_tokens(body)
    words = {pos: tok for pos, tok in ((t[1], t) for t in _main_words(tokens))}
    subs = [t for t in tokens if t != words[t[1]]]
    assert subs, "the seed has long words with dictionary sub-words"
    for term, pos, start, end in subs:
        word, _, wstart, wend = words[pos]
        assert wstart <= start < end <= wend
        assert len(term) in (2, 3) and len(word) > len(term)
        assert word[start - wstart : end - wstart] == term


def test_query_mode_gives_exactly_the_words_of_search_mode(body: str) -> None:
    assert word_tokens(body, search=False) == _main_words(word_tokens(body))
    assert query_words(body) == [term for term, _, _, _ in _main_words(word_tokens(body))]


def test_seed_words_found_inside_longer_words(body: str) -> None:
    tokens = word_tokens(body)
    at_29 = [t for t in tokens if t[1] == 14]
    assert at_29 == [("人工", 14, 29, 31), ("智能", 14, 31, 33), ("人工智能", 14, 29, 33)]
    hulianwang = body.index("互联网")
    assert [t for t in tokens if t[2] >= hulianwang and t[3] <= hulianwang + 3] == [
        ("互联", 23, 53, 55),
        ("联网", 23, 54, 56),
        ("互联网", 23, 53, 56),
    ]
    assert hulianwang == 53


# --------------------------------------------------------------------------- the Whoosh tokenizer


def test_whoosh_tokenizer_yields_the_same_tokens(body: str) -> None:
    tokens = _tokens(JiebaTokenizer()(body, positions=True, chars=True))
    assert tokens == word_tokens(body)


def test_whoosh_tokenizer_query_mode_has_no_sub_words(body: str) -> None:
    assert _tokens(JiebaTokenizer()(body, positions=True, chars=True, mode="query")) == word_tokens(body, search=False)
    assert _tokens(JiebaTokenizer(search=False)("离岸人民币", positions=True, chars=True)) == [
        ("离岸", 0, 0, 2),
        ("人民币", 1, 2, 5),
    ]


def test_whoosh_tokenizer_offsets_and_original() -> None:
    out = [
        (t.text, t.pos, t.startchar, t.endchar, t.original, t.boost, t.stopped)
        for t in JiebaTokenizer()("ＡＩ离岸人民币", positions=True, chars=True, keeporiginal=True, start_pos=10, start_char=100)
    ]
    assert out == [
        ("ai", 10, 100, 102, "ＡＩ", 1.0, False),
        ("离岸", 11, 102, 104, "离岸", 1.0, False),
        ("人民", 12, 104, 106, "人民", SUBWORD_WEIGHT, False),
        ("人民币", 12, 104, 107, "人民币", 1.0, False),
    ]


def test_sub_words_weigh_half_whole_words_one() -> None:
    assert SUBWORD_WEIGHT == 0.5
    out = [(t.text, t.pos, t.boost) for t in JiebaTokenizer()("离岸人民币汇率中华人民共和国", positions=True)]
    assert out == [
        ("离岸", 0, 1.0),
        ("人民", 1, 0.5),
        ("人民币", 1, 1.0),
        ("汇率", 2, 1.0),
        ("中华", 3, 0.5),
        ("华人", 3, 0.5),
        ("人民", 3, 0.5),
        ("共和", 3, 0.5),
        ("共和国", 3, 0.5),
        ("中华人民共和国", 3, 1.0),
    ]


def test_seed_tokens_are_weighted_by_whether_they_are_sub_words(body: str) -> None:
    tokens = word_tokens(body)
    whole = set(_main_words(tokens))
    boosts = [t.boost for t in JiebaTokenizer()(body, positions=True, chars=True)]
    assert len(boosts) == len(tokens)
    assert boosts == [1.0 if tok in whole else SUBWORD_WEIGHT for tok in tokens]
    assert boosts.count(SUBWORD_WEIGHT) == len(tokens) - len(whole) > 0
    # query mode has whole words only
    assert {t.boost for t in JiebaTokenizer()(body, mode="query")} == {1.0}
    assert {t.boost for t in JiebaTokenizer(search=False)(body)} == {1.0}


def test_sub_word_weights_reach_the_index() -> None:
    schema = fields.Schema(body=fields.TEXT(analyzer=JiebaTokenizer(), phrase=False))
    ix = RamStorage().create_index(schema)
    with ix.writer() as w:
        w.add_document(body="离岸人民币")
        w.add_document(body="人民币，人民")
    with ix.searcher() as s:

        def weights(term: str) -> list[tuple[int, float]]:
            m, out = s.reader().postings("body", term), []
            while m.is_active():
                out.append((m.id(), m.weight()))
                m.next()
            return out

        assert weights("人民") == [(0, SUBWORD_WEIGHT), (1, SUBWORD_WEIGHT + 1.0)]  # inside 人民币, then also alone
        assert weights("人民币") == [(0, 1.0), (1, 1.0)]


def test_whoosh_tokenizer_without_positions_gives_terms_only() -> None:
    texts = []
    for t in JiebaTokenizer()("智能客服机器人"):
        assert isinstance(t, Token)
        assert (t.positions, t.chars) == (False, False)
        assert not hasattr(t, "pos") and not hasattr(t, "startchar")
        texts.append(t.text)
    assert texts == ["智能", "客服", "机器", "机器人"]


def test_whoosh_tokenizer_untokenized_value_is_one_normalized_token() -> None:
    out = [
        (t.text, t.pos, t.startchar, t.endchar)
        for t in JiebaTokenizer()("ＡＢ c", positions=True, chars=True, tokenize=False, start_pos=3, start_char=7)
    ]
    assert out == [("ab c", 3, 7, 11)]
    (token,) = JiebaTokenizer()("臺灣", tokenize=False)
    assert (token.text, token.boost) == ("台湾", 1.0)


def test_tokenizer_equality_and_the_field_analyzer() -> None:
    assert JiebaTokenizer() == JiebaTokenizer(search=True) == JiebaTokenizer()
    assert JiebaTokenizer() != JiebaTokenizer(search=False)
    assert hash(JiebaTokenizer()) == hash(JiebaTokenizer())
    field = fields.TEXT(analyzer=JiebaTokenizer(), phrase=True)
    assert list(field.process_text("离岸人民币")) == ["离岸", "人民", "人民币"]
    assert list(field.process_text("离岸人民币", mode="query")) == ["离岸", "人民币"]


# --------------------------------------------------------------------------- user dictionaries


@pytest.fixture()
def user_dict(tmp_path: Path) -> str:
    path = tmp_path / "words.txt"
    path.write_text("晓多科技 50 nz\n", encoding="utf-8")
    return str(path)


def test_user_dictionary_words_are_whole_words(user_dict: str) -> None:
    assert word_tokens("晓多科技发布") == [("晓多", 0, 0, 2), ("科技", 1, 2, 4), ("发布", 2, 4, 6)]
    assert word_tokens("晓多科技发布", user_dicts=(user_dict,)) == [
        ("科技", 0, 2, 4),
        ("晓多科技", 0, 0, 4),
        ("发布", 1, 4, 6),
    ]
    out = [(t.text, t.pos, t.boost) for t in JiebaTokenizer(user_dicts=(user_dict,))("晓多科技发布", positions=True)]
    assert out == [("科技", 0, SUBWORD_WEIGHT), ("晓多科技", 0, 1.0), ("发布", 1, 1.0)]
    assert [t.text for t in JiebaTokenizer(user_dicts=(user_dict,))("晓多科技发布", mode="query")] == ["晓多科技", "发布"]
    # the default tokenizer is not changed by another one's dictionary
    assert [t.text for t in JiebaTokenizer()("晓多科技发布")] == ["晓多", "科技", "发布"]


def test_tokenizers_with_different_dictionaries_differ(user_dict: str) -> None:
    with_dict = JiebaTokenizer(user_dicts=[user_dict])  # type: ignore[arg-type]
    assert with_dict.user_dicts == (user_dict,)
    assert with_dict == JiebaTokenizer(user_dicts=(user_dict,)) == JiebaTokenizer(user_dicts=(user_dict,))
    assert hash(with_dict) == hash(JiebaTokenizer(user_dicts=(user_dict,)))
    assert with_dict != JiebaTokenizer()
    assert with_dict != JiebaTokenizer(search=False, user_dicts=(user_dict,))


def test_a_missing_user_dictionary_is_a_config_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.txt")
    with pytest.raises(ConfigError, match="nope.txt"):
        word_tokens("晓多科技", user_dicts=(missing,))
    with pytest.raises(ConfigError, match="nope.txt"):
        list(JiebaTokenizer(user_dicts=(missing,))("晓多科技"))


# --------------------------------------------------------------------------- jieba's own words


@functools.lru_cache(maxsize=4)
def _jieba(user_dicts: tuple[str, ...]) -> Any:
    """jieba's own tokenizer, with ``user_dicts`` (made once: loading its dictionary takes seconds)."""
    import jieba

    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for path in user_dicts:
        load_user_dict(tokenizer, path, normalize)
    return tokenizer


def _jieba_words(text: str, user_dicts: tuple[str, ...] = ()) -> list[str]:
    """What jieba itself cuts ``text`` into (accurate mode, HMM on)."""
    return list(_jieba(user_dicts).cut(text, HMM=True))


@pytest.fixture(scope="module")
def one_user_dict(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The user dictionary of :func:`user_dict`, one file for the module's tests."""
    path = tmp_path_factory.mktemp("dict") / "words.txt"
    path.write_text("晓多科技 50 nz\n", encoding="utf-8")
    return str(path)


@pytest.mark.slow  # every real post segmented twice, 15 s; the cached lexicon's test compares real sentences in the default run: CI runs it with -m slow
def test_words_are_jiebas_own_on_every_real_post(corpus: Path) -> None:
    cutter = segmenter((), normalize).get()
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix in {".md", ".txt", ".html", ".markdown"})
    assert len(files) > 300
    text = "\n".join(normalize(p.read_text(encoding="utf-8", errors="replace")) for p in files)
    assert cutter.cut(text) == _jieba_words(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "的",
        "他来到了网易杭研大厦",  # unknown word: the HMM
        "小明硕士毕业于中国科学院计算所，后在日本京都大学深造",
        "iPhone13 售价5999元，涨幅3.5%；C++ 与 c# 和 .net",
        "王小二张三李四赵五钱六孙七",
        "\r\n 中文\t\u3000混排 English text 123 ",
        "中华人民共和国中华人民共和国中华人民共和国",
        "长江长江长江大桥长江大桥",
        "𠮷野家和鿏字",
    ],
)
def test_words_are_jiebas_own(text: str, one_user_dict: str) -> None:
    assert segmenter((), normalize).get().cut(text) == _jieba_words(text)
    assert segmenter((one_user_dict,), normalize).get().cut(text) == _jieba_words(text, (one_user_dict,))


def test_unknown_words_are_cut_as_jiebas_hmm_cuts_them() -> None:
    # Rare characters have no emission probability, so the model meets many exact
    # ties; 20,000 seeded strings reach the rare ones that change a cut.
    import random

    from jieba import finalseg

    hmm = segmenter((), normalize).get()._hmm
    alphabet = "的一是了人在有中大来上国个到说们为子和你地出鿏龘爨齉靐丶丿乂亍冫冖凵卩厶廴彐彳忄扌氵灬爫犭疒礻衤讠辶钅阝飠骉鱻"
    rng = random.Random(2)
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        words: list[str] = []
        hmm.cut(text, words)
        assert words == list(finalseg.cut(text)), text


# --------------------------------------------------------------------------- an index's own words


def test_longest_words_cuts_greedily_over_a_vocabulary() -> None:
    vocabulary = {"晓多", "晓多科技", "科技", "客服"}
    known = vocabulary.__contains__
    assert longest_words("晓多科技的客服", known) == ["晓多科技", "客服"]  # 的 begins no word: dropped
    assert longest_words("晓多科技的客服", known, keep_unknown=True) == ["晓多科技", "的", "客服"]
    assert longest_words("晓多科技", known, longest=3) == ["晓多", "科技"]  # 晓多科技 is too long to try
    assert longest_words("", known) == [] and longest_words("的了", known) == []
