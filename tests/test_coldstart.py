"""A cold ``newsearch search``: what a new process loads before it prints the first result.

Timing belongs to the benchmarks (``bench/run.py``); these tests check what makes a
cold search quick and keep it from coming back unnoticed: the process reads jieba's
dictionary from the compact lexicon cached in the temporary folder, a character
at a time, instead of importing jieba and loading its whole dictionary; it reads
OpenCC's simplified forms from a cached table instead of loading OpenCC; and it
imports neither the web server nor the readers of Markdown, HTML and YAML.  The
lexicon and the table must give exactly what jieba and OpenCC give, which the
first tests check on real posts and on every character.
"""

from __future__ import annotations

import marshal
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, write_post
from newsearch import NewsIndex, analysis
from newsearch.analysis import normalize
from newsearch.segmenter import Cutter, Lexicon, Segmenter, cache_path, load_user_dict

# --------------------------------------------------------------------------- the lexicon is jieba's dictionary


def _jieba(user_dicts: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    import jieba

    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for path in user_dicts:
        load_user_dict(tokenizer, path, normalize)
    return tokenizer


def _sentences(corpus: Path, limit: int) -> list[str]:
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix in {".md", ".txt", ".html", ".markdown"})
    found: list[str] = []
    for path in files:
        text = normalize(path.read_text(encoding="utf-8", errors="replace"))
        found += (s for s in re.split(r"[。！？!?\n]+", text) if s.strip())
        if len(found) >= limit:
            break
    return found[:limit]


def test_the_cached_lexicon_cuts_real_sentences_as_jieba_does(corpus: Path) -> None:
    segmenter = Segmenter((), normalize)
    segmenter.get()  # builds the cache file when it is missing
    path = segmenter.cache_path()
    assert path.is_file()
    cutter = Cutter(Lexicon.open(path))  # read back from the file, as a new process does
    tokenizer = _jieba()
    sentences = _sentences(corpus, 20_000)
    assert len(sentences) == 20_000
    for sentence in sentences:
        # Sentence by sentence, as queries are cut: each starts from a fresh route.
        assert cutter.cut(sentence) == list(tokenizer.cut(sentence, HMM=True)), sentence


def test_the_cached_lexicon_holds_every_word_of_jiebas_dictionary_exactly() -> None:
    segmenter = Segmenter((), normalize)
    segmenter.get()
    cutter = Cutter(Lexicon.open(segmenter.cache_path()))
    tokenizer = _jieba()
    logtotal = math.log(tokenizer.total)
    for word, freq in tokenizer.FREQ.items():
        expected = math.log(freq) - logtotal if freq else None
        assert cutter.logp(word) == expected, word  # the same float, bit for bit
    assert not cutter.is_word("") and not cutter.is_word("晓多科技") and cutter.is_word("人民币")


def test_a_changed_user_dictionary_is_not_read_from_a_stale_cache(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("晓多科技 50 nz\n", encoding="utf-8")
    first = Segmenter((str(words),), normalize)
    assert first.get().cut("晓多科技发布") == ["晓多科技", "发布"]
    first_cache = first.cache_path()
    words.write_text("科技发 80 nz\n", encoding="utf-8")
    os.utime(words, ns=(time.time_ns(), time.time_ns() + 10**9))  # later, whatever the clock's resolution
    second = Segmenter((str(words),), normalize)
    assert second.cache_path() != first_cache
    assert second.get().cut("晓多科技发布") == list(_jieba((str(words),)).cut("晓多科技发布", HMM=True))
    assert not second.get().is_word("晓多科技") and second.get().is_word("科技发")


def test_a_damaged_cache_is_built_again(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("晓多科技 50 nz\n", encoding="utf-8")
    segmenter = Segmenter((str(words),), normalize)
    segmenter.get()
    path = segmenter.cache_path()
    data = path.read_bytes()
    damaged = tmp_path / "damaged.bin"
    damaged.write_bytes(data[: len(data) // 2])  # cut short
    damaged.replace(path)  # a new file, as newsearch writes them: the mapped one stays whole
    with pytest.raises(ValueError):
        Lexicon.open(path)
    for short in (data[:10], data[:30], b""):  # not even a whole header
        with pytest.raises(ValueError):
            Lexicon(short)
    again = Segmenter((str(words),), normalize)
    assert again.get().cut("晓多科技发布") == ["晓多科技", "发布"]
    assert path.read_bytes() == data
    try:
        path.unlink()  # a test's own dictionary: leave no cache behind
    except OSError:
        pass


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="making a file of another user needs root")
def test_a_cache_file_of_another_user_is_never_read(tmp_path: Path) -> None:
    segmenter = Segmenter((), normalize)
    segmenter.get()
    planted = tmp_path / "lexicon.bin"
    planted.write_bytes(segmenter.cache_path().read_bytes())
    Lexicon.open(planted)  # a file of our own is read
    os.chown(planted, 65534, 65534)
    with pytest.raises(ValueError, match="another user"):
        Lexicon.open(planted)
    assert f"-{os.getuid()}-" in segmenter.cache_path().name  # each user builds a cache of their own


# --------------------------------------------------------------------------- the simplified forms are OpenCC's


def test_the_cached_simplified_forms_are_openccs_own() -> None:
    import opencc

    convert = opencc.OpenCC("t2s").convert
    normalize("臺灣")  # caches the table when it is missing
    cached = marshal.loads(cache_path(f"t2s-{analysis._opencc_key()}.marshal").read_bytes())
    expected = {}
    for low, high in analysis._T2S_RANGES:
        for codepoint in range(low, high + 1):
            char = chr(codepoint)
            simplified = convert(char)
            if simplified != char and len(simplified) == 1:
                expected[char] = simplified
    assert cached == expected and len(expected) > 4000


class _AskingOpenCC(analysis._FoldTable):
    """The fold table as it was: OpenCC asked about every CJK character."""

    def _simplified(self, char: str) -> str:
        return self._opencc(char)


def test_normalize_folds_every_character_as_opencc_does() -> None:
    asking = _AskingOpenCC()
    for codepoint in range(0x40100):
        if 0xD800 <= codepoint <= 0xDFFF:
            continue  # surrogates are not characters
        char = chr(codepoint)
        assert normalize(char) == char.translate(asking), hex(codepoint)


# --------------------------------------------------------------------------- units without their patterns


def test_units_and_pairs_of_short_chinese_text_are_the_patterns_own() -> None:
    # The short texts that are all CJK characters, kana or hangul (queries) skip the
    # patterns: the results must be the same, at the edges of every range too.
    import random

    edges = []
    for low, high in analysis._SINGLE_UNIT_RANGES:
        edges += [chr(ord(low) - 1), low, chr(ord(low) + 1), chr(ord(high) - 1), high, chr(ord(high) + 1)]
    inside = [c for c in edges if any(low <= c <= high for low, high in analysis._SINGLE_UNIT_RANGES)]
    inside += list("台风人工智能ナカ한국\u30fc")
    alphabet = edges + inside + list("ab1.5%¥ ，-_") + ["\U00040000", "\u3000"]
    rng = random.Random(7)
    shortcuts = 0
    for _ in range(20_000):
        chars = rng.choice((alphabet, edges, inside))
        text = "".join(rng.choice(chars) for _ in range(rng.randint(0, 70)))
        shortcuts += analysis._single_units(text)
        assert analysis.units(text) == analysis._UNIT_RE().findall(text), text
        pairs = {a + b for run in analysis._PAIR_RUN().findall(text) for a, b in zip(run, run[1:])}
        assert analysis.bigrams(text) == pairs, text
    assert shortcuts > 5_000  # the short way was taken often enough to be tested


# --------------------------------------------------------------------------- what a search process loads


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    posts = tmp_path_factory.mktemp("cold") / "_posts"
    write_post(posts, "2021-06-15-ai.md", "人工智能走进银行", "银行网点引入智能客服机器人，台风天也能办业务。",
               date="2021-06-15", categories="tech", tags="[AI, 客服]")
    write_post(posts, "2022-01-10-storm.md", "台风怎样形成", "台风在温暖的海面上形成，新能源汽车销量上升。",
               date="2022-01-10", categories="science")
    folder = posts.parent / "index"
    NewsIndex.create(folder).update([posts])  # also caches the lexicon a search reads
    return folder


def _imported(*args: str) -> set[str]:
    """The modules a new ``newsearch`` process imports to run ``args``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "newsearch", *args],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert re.match(r"\d+ articles? match", done.stdout), done.stdout  # it found and printed hits
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("query", ["台风", "人工智能", "台风怎样形成"])
def test_a_search_process_reads_the_lexicon_without_importing_jieba(small_index: Path, query: str) -> None:
    modules = _imported("search", query, "--limit", "1", "--index", str(small_index))
    assert "newsearch.segmenter" in modules  # the query was segmented (or looked up)...
    assert "jieba" not in modules and "jieba.finalseg" not in modules  # ...without jieba
    assert "pkg_resources" not in modules
    assert "opencc" not in modules  # the query was normalized with the cached simplified forms
    unneeded = {"fastapi", "starlette", "uvicorn", "jinja2", "pypinyin", "markdown_it", "bs4", "yaml"}
    assert not unneeded & modules


_DRIVER = """
import sys
from newsearch import NewsIndex, analysis
NewsIndex.open(sys.argv[1]).search(sys.argv[2], limit=1)
print(" ".join(name for name in ("_UNIT_RE", "_SIGNED_RE", "_PAIR_RUN", "_GAPPED_PAIR")
               if getattr(analysis, name)._compiled is not None))
"""


@pytest.mark.parametrize(("query", "compiled"), [
    ("台风", set()),  # Chinese only: units and pairs are its characters
    ("台风怎样形成", set()),
    ("银行 AI", {"_UNIT_RE", "_PAIR_RUN"}),
    ("涨幅14%", {"_UNIT_RE", "_PAIR_RUN", "_SIGNED_RE"}),  # a signed number needs its pattern
])
def test_a_search_compiles_only_the_patterns_its_query_needs(small_index: Path, query: str, compiled: set[str]) -> None:
    # Each of analysis' patterns takes milliseconds to compile: a new process compiles
    # one when it first needs it, not when it imports the module, and a query in
    # Chinese needs none.
    done = subprocess.run([sys.executable, "-c", _DRIVER, str(small_index), query],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == compiled
