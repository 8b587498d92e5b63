"""Text → index terms: normalization, match units and words.

The only module that imports OpenCC; jieba's segmentation itself is in
:mod:`newsearch.segmenter`.  Two promises hold for everything it produces,
because matching and highlighting depend on them:

* :func:`normalize` maps every character to exactly one character, so an
  offset in normalized text is the same offset in the original;
* every token carries exact ``startchar``/``endchar`` offsets into the text it
  came from, and positions count words 0, 1, 2... in reading order.  The extra
  sub-words of search-granularity segmentation (``人民`` inside ``人民币``)
  share the position of the word they come from, so a phrase of words still
  matches consecutive positions.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterator
from operator import add
from pathlib import Path
from typing import Any

from .files import write_bytes
from .segmenter import cache_path, own_file, segmenter

__all__ = [
    "SUBWORD_WEIGHT",
    "WordToken",
    "bigrams",
    "gapped_bigrams",
    "dictionary_parts",
    "keyword_key",
    "word_lookup",
    "longest_words",
    "normalize",
    "query_words",
    "segment_words",
    "signed_numbers",
    "units",
    "word_tokens",
    "word_weights",
]

WordToken = tuple[str, int, int, int]
"""(term text, position, start char, end char)."""


# --------------------------------------------------------------------------- normalization


_CJK_RANGES = (("\u3400", "\u4dbf"), ("\u4e00", "\u9fff"), ("\uf900", "\ufaff"), ("\U00020000", "\U0003ffff"))
_SYLLABIC = (("\u3040", "\u30ff"), ("\u31f0", "\u31ff"), ("\uac00", "\ud7af"))  # kana, hangul syllables
_CJK_CHAR_RANGES = "".join(f"{low}-{high}" for low, high in _CJK_RANGES)
_SYLLABIC_RANGES = "".join(f"{low}-{high}" for low, high in _SYLLABIC)
_SINGLE_CHAR_UNITS = _CJK_CHAR_RANGES + _SYLLABIC_RANGES
_SINGLE_UNIT_RANGES = _CJK_RANGES + _SYLLABIC


class _FoldTable(dict[int, str]):
    """``str.translate`` table built lazily, one character for one: NFKC compatibility
    folding, lower case, and OpenCC's traditional → simplified character table.

    Characters are converted one at a time, never by OpenCC's phrase rules, so
    that ``normalize(s)[i] == normalize(s[i])``: a substring of the text always
    normalizes to a substring of the normalized text, which exact matching needs.
    OpenCC's answers for the CJK blocks are read from :func:`_t2s_table`, so a
    process does not load OpenCC to normalize a query.
    """

    def __init__(self) -> None:
        super().__init__()
        self._t2s: Any = None
        self._table: dict[str, str] | None = None

    def _simplified(self, char: str) -> str:
        if char < _T2S_END:
            if self._table is None:
                self._table = _t2s_table(self._opencc)
            return self._table.get(char, char)
        return self._opencc(char)

    def _opencc(self, char: str) -> str:
        if self._t2s is None:
            import opencc

            self._t2s = opencc.OpenCC("t2s").convert
        converted: str = self._t2s(char)
        return converted if len(converted) == 1 else char

    def __missing__(self, codepoint: int) -> str:
        char = chr(codepoint)
        folded = self._fold(char)
        for _ in range(3):  # until stable (OpenCC maps 薴 to 苧 and 苧 to 苎): normalize is idempotent
            again = self._fold(folded)
            if again == folded:
                break
            folded = again
        self[codepoint] = folded
        return folded

    def _fold(self, char: str) -> str:
        folded = unicodedata.normalize("NFKC", char)
        if len(folded) != 1:
            folded = char
        lowered = folded.lower()
        if len(lowered) == 1:
            folded = lowered
        if "\u3400" <= folded <= "\u9fff" or "\uf900" <= folded <= "\ufaff" or folded >= "\U00020000":
            folded = self._simplified(folded)
        return folded


_FOLD = _FoldTable()


_T2S_RANGES = ((0x3400, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF))
"""The characters whose simplified form :func:`_t2s_table` keeps: every character
``_FoldTable`` asks OpenCC about below ``_T2S_END``."""
_T2S_END = chr(_T2S_RANGES[-1][1] + 1)
_T2S_FORMAT = 1


def _t2s_table(convert: Callable[[str], str]) -> dict[str, str]:
    """Each character of ``_T2S_RANGES`` that ``convert`` (OpenCC's t2s, one character for
    one) changes, with its simplified form: about 5,000 of them, cached in the temporary
    folder keyed by OpenCC's files, and built with ``convert`` when missing."""
    cache = cache_path(f"t2s-{_opencc_key()}.marshal")
    try:
        with open(cache, "rb") as fh:
            own_file(fh.fileno())
            table = marshal.loads(fh.read())
        if isinstance(table, dict):
            return table
    except (OSError, EOFError, ValueError, TypeError):
        pass
    table = {}
    for low, high in _T2S_RANGES:
        for codepoint in range(low, high + 1):
            char = chr(codepoint)
            simplified = convert(char)
            if simplified != char:
                table[char] = simplified
    try:
        write_bytes(cache, marshal.dumps(table))
    except OSError:
        pass  # a read-only temporary folder: the next process builds it again
    return table


def _opencc_key() -> str:
    """What OpenCC's answers depend on: its code and its dictionaries (found without
    importing it)."""
    spec = importlib.util.find_spec("opencc")
    home = Path(spec.origin).parent if spec is not None and spec.origin else Path("opencc-missing")
    parts = [str(_T2S_FORMAT), str(_T2S_RANGES), str(marshal.version)]
    for folder in (home, home / "clib", home / "clib" / "share" / "opencc"):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            parts.append(f"{folder}:missing")
            continue
        for name in names:
            try:
                info = os.stat(folder / name)
            except OSError:
                continue
            if not stat.S_ISDIR(info.st_mode):
                parts.append(f"{folder / name}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha1("\n".join(parts).encode("utf-8")).hexdigest()[:16]


def normalize(text: str) -> str:
    """Fold full-width forms, compatibility characters, letter case and traditional
    characters, one character for one.

    ``normalize("ＡＩ２０２１")`` is ``"ai2021"``, ``normalize("臺灣")`` is ``"台湾"``;
    ``len(normalize(s)) == len(s)`` and ``normalize(normalize(s)) == normalize(s)`` always.
    """
    last_text, last_normalized = _LAST_NORMALIZED[0]
    if text is last_text:  # indexing normalizes a body, then segments it
        return last_normalized
    normalized = text.translate(_FOLD)
    _LAST_NORMALIZED[0] = (text, normalized)
    return normalized


def keyword_key(value: str) -> str:
    """How category and tag values compare: normalized (case, width) and trimmed."""
    return normalize(value.strip())


_LAST_NORMALIZED: list[tuple[str | None, str]] = [(None, "")]


# --------------------------------------------------------------------------- match units


class _Lazy:
    """A regular expression compiled on first use.  Compiling the patterns below,
    with their large Unicode classes, takes tens of milliseconds: more than a
    new search process spends on most of them, or needs some of them at all."""

    __slots__ = ("_source", "_compiled")

    def __init__(self, source: str) -> None:
        self._source = source
        self._compiled: re.Pattern[str] | None = None

    def __call__(self) -> re.Pattern[str]:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self._source)
        return compiled


WORD_CHAR = f"[^\\W_{_SINGLE_CHAR_UNITS}]"
"""A regex class for the characters of word units (letters and digits of alphabetic scripts)."""
CURRENCY_SIGNS = "$¢£¥€₩₹"
"""Signs written before a number; after normalization (``￥`` is ``¥``)."""
NUMBER_SUFFIXES = "%‰°℃℉"
"""Signs written after a number; ``％`` normalizes to ``%``."""
_SIGNS = CURRENCY_SIGNS + NUMBER_SUFFIXES
_WORD_UNIT = f"{WORD_CHAR}+(?:(?<=\\d)\\.(?=\\d){WORD_CHAR}+)*"
# A run of letters and digits; a dot between two digits continues it, so that a
# decimal (1.65, 1.5kb) is one number and 65 is not found inside it.
_UNIT_RE = _Lazy(f"[{_SINGLE_CHAR_UNITS}]|{_WORD_UNIT}|[{re.escape(_SIGNS)}]")
GAP_CHAR = f"(?:(?![{_SINGLE_CHAR_UNITS}{re.escape(_SIGNS)}])[\\W_])"
"""A regex for a character that is part of no unit: space, punctuation, symbols.  (Not
plain ``[\\W_]``: Python does not count every CJK character as a word character.)"""
_SIGNED_RE = _Lazy(
    f"[{re.escape(CURRENCY_SIGNS)}](?=\\d){_WORD_UNIT}"
    f"|(?<!{WORD_CHAR})(?<!\\d\\.){_WORD_UNIT}(?<=\\d)[{re.escape(NUMBER_SUFFIXES)}]"
)


def signed_numbers(normalized: str) -> set[str]:
    """Numbers written with their sign, as one string each: ``14%``, ``1.5‰``, ``¥100``,
    ``30℃``.  Indexed beside the units, so that ``14%`` selects the articles that
    write it, not every article with the number 14."""
    if not any(sign in normalized for sign in _SIGNS):
        return set()  # most text, and most queries: no need to compile the pattern
    return set(_SIGNED_RE().findall(normalized))


_PAIR_RUN = _Lazy(f"[{_SINGLE_CHAR_UNITS}]{{2,}}")


def bigrams(normalized: str) -> set[str]:
    """Every pair of adjacent CJK characters (or kana, hangul syllables) in normalized text.

    Indexed beside the units, they make the candidates of a string nearly
    exact: ``室友`` is one term holding exactly the articles that contain it,
    not the intersection of ``室`` and ``友`` (fifteen times as many articles
    at 100,000), each then checked by reading its text.
    """
    if _single_units(normalized):
        return set(map(add, normalized, normalized[1:]))
    pairs: set[str] = set()
    for run in _PAIR_RUN().findall(normalized):
        pairs.update(map(add, run, run[1:]))  # C-level: each character joined to the next
    return pairs


PAIR_GAP = "\x1f"
"""Joins the two characters of a pair that punctuation or spaces separate in the text."""

_GAPPED_PAIR = _Lazy(f"(?=([{_SINGLE_CHAR_UNITS}])[\\W_]{{1,8}}([{_SINGLE_CHAR_UNITS}]))")


def gapped_bigrams(normalized: str) -> set[str]:
    """Pairs of CJK characters with 1 to 8 spaces or punctuation marks between them,
    as ``a + PAIR_GAP + b``: with the adjacent pairs, the candidates of a quoted phrase,
    whose units may be separated that way."""
    return {a + PAIR_GAP + b for a, b in _GAPPED_PAIR().findall(normalized)}


def units(normalized: str) -> list[str]:
    """The match units of normalized text: each CJK character, kana or hangul syllable,
    each run of other letters and digits (``iphone``, ``13``, ``ωμέγα``; a decimal such
    as ``1.65`` is one run), and each percent, degree or currency sign.  An article
    contains a query string only if it holds all its units, so the units index gives
    exact candidates regardless of word segmentation."""
    if _single_units(normalized):
        return list(normalized)
    return _UNIT_RE().findall(normalized)


_SHORT = 64


def _single_units(text: str) -> bool:
    """Whether ``text`` is short and all characters that are units of their own (a query
    in Chinese, most often): its units and pairs are then found without compiling the
    patterns above, which takes longer than a new search process spends on the rest
    of its query."""
    if len(text) > _SHORT:
        return False
    for char in text:
        for low, high in _SINGLE_UNIT_RANGES:
            if low <= char <= high:
                break
        else:
            return False
    return True


# --------------------------------------------------------------------------- segmentation


_DROPPED_EDGES = "._-&%+#"
_HAS_ALNUM = re.compile(r"[^\W_]").search  # a letter or digit: str.isalnum() of some character


def segment_words(text: str, search: bool, user_dicts: tuple[str, ...]) -> Iterator[tuple[str, int, int, int, bool]]:
    """(term, position, start, end, is a sub-word) for each word of ``text``, normalized.

    Sub-words (with ``search``) come before the word they are part of, at its position."""
    cutter = segmenter(user_dicts, normalize).get()
    is_word = cutter.is_word
    pos = -1
    offset = 0
    for word in cutter.cut(normalize(text)):
        start = offset
        offset = end = start + len(word)
        if len(word) == 1:
            if not word.isalnum():
                continue
        elif not _HAS_ALNUM(word):
            continue
        else:
            stripped = word.strip(_DROPPED_EDGES)
            if stripped != word:
                start += word.index(stripped)
                end = start + len(stripped)
                word = stripped
        pos += 1
        if search and len(word) > 2 and _is_cjk_word(word):
            for n in (2, 3):
                if len(word) <= n:
                    break
                for i in range(len(word) - n + 1):
                    gram = word[i : i + n]
                    if is_word(gram):
                        yield gram, pos, start + i, start + i + n, True
        yield word, pos, start, end, False


def _is_cjk_word(text: str) -> bool:
    return "\u3400" <= text[0] <= "\u9fff" or "\uf900" <= text[0] <= "\ufaff" or text[0] >= "\U00020000"


def word_tokens(text: str, *, search: bool = True, user_dicts: tuple[str, ...] = ()) -> list[WordToken]:
    """Segment ``text`` into (term, position, startchar, endchar) tuples.

    Terms are normalized; punctuation and spaces are dropped.  With
    ``search`` (index time) the dictionary sub-words of longer words are added
    at the same position, as jieba's ``cut_for_search`` does, so that
    ``人民币`` is found inside ``离岸人民币``.
    """
    return [(term, pos, start, end) for term, pos, start, end, _ in segment_words(text, search, user_dicts)]


SUBWORD_WEIGHT = 0.5
"""How much a sub-word occurrence (人民币 inside 离岸人民币) counts against a whole word."""

_LAST_WEIGHTS: list[Any] = [(None, (), ({}, 0))] * 2  # (text, user dicts, result) of the last two calls


def word_weights(text: str, *, user_dicts: tuple[str, ...] = ()) -> tuple[dict[str, float], int]:
    """Each word of ``text`` (sub-words included) with its weight, the number of its
    occurrences where a sub-word counts ``SUBWORD_WEIGHT``; and the number of
    tokens.  What the word fields index, without building a token per word.

    The last two results are remembered (do not modify them): choosing an
    article's keywords and indexing its title and body segment each text once."""
    for last_text, last_dicts, result in _LAST_WEIGHTS:
        if last_text is text and last_dicts == user_dicts:
            return result  # type: ignore[no-any-return]
    result = _word_weights(text, user_dicts)
    _LAST_WEIGHTS[:] = [_LAST_WEIGHTS[1], (text, user_dicts, result)]
    return result


def _word_weights(text: str, user_dicts: tuple[str, ...]) -> tuple[dict[str, float], int]:
    weights: dict[str, float] = {}
    get = weights.get
    tokens = 0
    for term, _pos, _start, _end, sub in segment_words(text, True, user_dicts):
        weights[term] = get(term, 0.0) + (SUBWORD_WEIGHT if sub else 1.0)
        tokens += 1
    return weights, tokens


def query_words(text: str, *, user_dicts: tuple[str, ...] = ()) -> list[str]:
    """The words of a query string, segmented as precisely as jieba can (no sub-words)."""
    return [term for term, _, _, _ in word_tokens(text, search=False, user_dicts=user_dicts)]


def word_lookup(user_dicts: tuple[str, ...] = ()) -> Callable[[str], bool]:
    """Whether a string is a word of jieba's dictionary (with ``user_dicts``)."""
    return segmenter(user_dicts, normalize).is_word


def dictionary_parts(word: str, user_dicts: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The shorter dictionary words, two characters or more each, that make up a
    Chinese word exactly (网络安全: 网络, 安全); empty when there are none."""
    if len(word) < 4 or not all("\u3400" <= c <= "\u9fff" for c in word):
        return ()
    is_word = word_lookup(user_dicts)
    parts = longest_words(word, lambda w: w != word and is_word(w), longest=len(word) - 1)
    if len(parts) < 2 or "".join(parts) != word or any(len(p) < 2 for p in parts):
        return ()
    return tuple(parts)


def longest_words(text: str, is_word: Callable[[str], bool], *, longest: int = 8, keep_unknown: bool = False) -> list[str]:
    """Greedy longest-first cut of ``text`` into words for which ``is_word`` holds (an
    index's own vocabulary, not jieba's), trying at most ``longest`` characters.  A
    character that begins no word is a word of its own with ``keep_unknown``, else
    dropped."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        for j in range(min(n, i + longest), i, -1):
            if is_word(text[i:j]) or (keep_unknown and j - i == 1):
                out.append(text[i:j])
                i = j
                break
        else:
            i += 1
    return out
