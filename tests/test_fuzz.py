"""Property-based tests: no query and no front matter crashes newsearch.

Sizes of one run: 400 generated queries against a real index, 400 generated
front matters through the parser, 150 generated JSONL lines, 300 generated
texts segmented by newsearch and by jieba itself and 300 run through jieba's
HMM for unknown words (the words must agree); each example
is also checked for what must always hold (highlights inside the snippet
text, an article or a one-line reason for every file).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SEEDS, write_post
from newsearch import NewsIndex
from newsearch.errors import IngestError, InvalidArgumentError
from newsearch.ingest import parse_bytes

QUERY_EXAMPLES = 400
FRONT_MATTER_EXAMPLES = 400
JSONL_EXAMPLES = 150
SEGMENT_EXAMPLES = 300

# Pieces a hostile or clumsy user types: operators, fields (real and not),
# quotes and brackets, date syntax, scripts, emoji, control characters.
QUERY_PIECES = [
    "AND", "OR", "NOT", "-", "+", "(", ")", '"', "“", "”", "「", "」", ":", "：",
    "title:", "body:", "tag:", "tags:", "category:", "date:", "标题:", "foo:", "date:[", "TO", "]",
    "2021", "2021-13-45", "2021年12月", "[2021-01-01 TO]", "..", "*", "?", "~", "^2", "\\",
    "客服", "智能", "港股", "人民币", "臺灣", "ＡＩ", "AI", "ai", "6.3512", "双11", "ωμέγα", "カメラ", "한국",
    "😀", "🇨🇳", "\u200b", "\ufeff", "\x00", "\x07", "\t", "\n", " ", "　", "。", "，", "！", "、",
]


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> NewsIndex:
    root = tmp_path_factory.mktemp("fuzz")
    posts = root / "posts"
    write_post(posts, "a.md", "智能客服走进银行", "银行网点引入客服机器人，回答常见问题。AI客服“双11”很忙。",
               categories="[tech, finance]", tags="[AI, 客服]")
    write_post(posts, "b.md", "离岸人民币兑美元升至6.3512", "港股收涨，臺灣加权指数上涨。😀", date="2021-12-08 10:46")
    ix = NewsIndex.create(root / "index")
    ix.update([posts, SEEDS])
    return ix


queries = st.one_of(
    st.lists(st.sampled_from(QUERY_PIECES), max_size=12).map("".join),
    st.lists(st.sampled_from(QUERY_PIECES), max_size=12).map(" ".join),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=10).map(lambda s: s * 1000),  # long
)


@settings(max_examples=QUERY_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=queries, sort=st.sampled_from(["relevance", "-date", "date", "recent"]))
def test_no_query_crashes_search(small_index: NewsIndex, q: str, sort: str) -> None:
    try:
        results = small_index.search(q, sort=sort, limit=5)
    except InvalidArgumentError as exc:  # the one refusal: too many terms, said in one line
        assert exc.argument == "QUERY" and "at most 64" in exc.message and "\n" not in exc.message
        return
    assert results.total >= len(results.hits)
    for hit in results.hits:
        for passage in hit.snippet.passages:
            for start, end in passage.highlights:
                assert 0 <= start < end <= len(passage.text)
        hit.snippet.html()
    assert small_index.explain(q)


# --------------------------------------------------------------------------- front matter

KEYS = ["title", "date", "categories", "category", "tags", "id", "url", "author", "layout", "标题", "", " ", "title:"]
VALUES = [
    "普通标题", "比赛: 结果", '"未闭合', "'单引号'", "[a, b", "[AI, 客服]", "- 列表", "{a: 1}", "a\tb", "|", ">", "&anchor",
    "*alias", "!!binary", "2021-12-25", "2021-13-45", "2021/12/25", "2021年12月25日", "1640390400", "2021-12-25T10:00:00-05:00",
    "0000-00-00", "null", "~", "true", "1e400", "-", "---", "...", "😀", "\x00", "\u2028", "",
]


@st.composite
def post_files(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        key = draw(st.sampled_from(KEYS))
        value = draw(st.one_of(st.sampled_from(VALUES), st.text(max_size=15)))
        indent = draw(st.sampled_from(["", " ", "  ", "\t"]))
        lines.append(f"{indent}{key}: {value}")
    opening = draw(st.sampled_from(["---\n", "---\r\n", "\ufeff---\n", "--- \n", ""]))
    closing = draw(st.sampled_from(["---\n", "...\n", "", "--\n"]))
    body = draw(st.one_of(st.text(max_size=60), st.sampled_from(["", "正文。", "<p>正文<script>x</script>", "# 标题\n\n正文"])))
    text = opening + "\n".join(lines) + ("\n" if lines else "") + closing + body
    encoding = draw(st.sampled_from(["utf-8", "gb18030", "utf-16"]))
    return text.encode(encoding, errors="replace")


@settings(max_examples=FRONT_MATTER_EXAMPLES, deadline=None)
@given(data=post_files(), suffix=st.sampled_from([".md", ".html", ".txt"]))
def test_no_front_matter_crashes_the_parser(data: bytes, suffix: str) -> None:
    try:
        parsed = parse_bytes(data, Path(f"/archive/post{suffix}"))
    except IngestError as exc:
        assert exc.path == f"/archive/post{suffix}" and exc.reason and "\n" not in exc.reason
        return
    assert len(parsed.articles) == 1
    article = parsed.articles[0]
    assert article.id and isinstance(article.title, str) and isinstance(article.body, str)
    assert all("\n" not in w for w in parsed.warnings)


@settings(max_examples=JSONL_EXAMPLES, deadline=None)
@given(lines=st.lists(st.one_of(
    st.text(max_size=30),
    st.dictionaries(st.sampled_from(["title", "date", "body", "content", "tags", "id"]),
                    st.one_of(st.text(max_size=10), st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=3)),
                    max_size=4).map(lambda d: __import__("json").dumps(d, ensure_ascii=False)),
), max_size=5))
def test_no_jsonl_line_crashes_the_parser(lines: list[str]) -> None:
    data = "\n".join(lines).encode("utf-8")
    try:
        parsed = parse_bytes(data, Path("/archive/feed.jsonl"))
    except IngestError:
        return
    for error in parsed.errors:
        assert error.line is not None and "\n" not in error.reason


HOSTILE = [
    "", "   ", "。，！？", '"unbalanced', "(open", "close)", "NOT", "OR", "-", "AND AND", "nosuchfield:客服",
    "title:", "date:2021-13-45", "客服" * 5000, "a " * 5000, "\x00\x01\x1b[31m", "😀🇨🇳", "ωμέγα カメラ 한국 客服",
]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_no_query_crashes_the_cli(small_index: NewsIndex, query: str) -> None:
    from typer.testing import CliRunner

    from newsearch.cli import EXIT_USAGE, app

    for extra in ([], ["--json"]):
        result = CliRunner().invoke(app, ["search", query, "--index", str(small_index.path), *extra])
        assert result.exit_code in (0, EXIT_USAGE), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        if result.exit_code == EXIT_USAGE:
            assert result.output.count("\n") == 1 and result.output.startswith("Error: Invalid value for QUERY")


# Text that exercises jieba's route and its HMM: common and rare characters,
# dictionary words, letters, digits and the symbols jieba keeps inside words.
TEXT_PIECES = list("的一是了我不人在他有这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单亲")
TEXT_PIECES += ["晓多科技", "人民币", "中华人民共和国", "iPhone13", "3.5%", "C++", "c#", ".net", "-", "_", "&", " ", "\n", "\r\n",
                "。", "，", "“", "”", "😀", "𠮷", "ＡＩ", "臺灣", "한국", "カメラ", "a-b", "x_y", "100%"]


@settings(max_examples=SEGMENT_EXAMPLES, deadline=None)
@given(text=st.one_of(st.lists(st.sampled_from(TEXT_PIECES), max_size=60).map("".join), st.text(max_size=60)))
def test_words_are_jiebas_own(text: str) -> None:
    from newsearch.analysis import normalize
    from newsearch.segmenter import segmenter

    assert segmenter((), normalize).get().cut(text) == list(_jieba().cut(text, HMM=True))


@functools.lru_cache(maxsize=1)
def _jieba():  # type: ignore[no-untyped-def]
    import jieba

    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


@settings(max_examples=SEGMENT_EXAMPLES, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("的一是了人在有中大来上国个到说们为子和你地出鿏龘爨齉靐丶丿乂亍冫冖凵卩厶廴彐彳忄扌氵灬爫犭疒礻衤讠辶钅阝飠骉鱻a1.% ")), max_size=40))
def test_unknown_words_are_cut_as_jiebas_hmm_cuts_them(text: str) -> None:
    # Rare characters have no emission probability: many exact ties to break as jieba does.
    from jieba import finalseg

    from newsearch.analysis import normalize
    from newsearch.segmenter import segmenter

    words: list[str] = []
    segmenter((), normalize).get()._hmm.cut(text, words)
    assert words == list(finalseg.cut(text))
