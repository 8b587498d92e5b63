"""Text → index terms: normalization, match units and jieba word segmentation.

The only module that imports jieba and OpenCC.  Two promises hold for
everything it produces, because matching and highlighting depend on them:

* :func:`normalize` maps every character to exactly one character, so an
  offset in normalized text is the same offset in the original;
* every token carries exact ``startchar``/``endchar`` offsets into the text it
  came from, and positions count words 0, 1, 2... in reading order.  The extra
  sub-words of search-granularity segmentation (``人民`` inside ``人民币``)
  share the position of the word they come from, so a phrase of words still
  matches consecutive positions.
"""

from __future__ import annotations

import io
import logging
import math
import re
import threading
import unicodedata
from collections.abc import Iterator
from operator import add
from pathlib import Path
from typing import Any

from whoosh.analysis import Token, Tokenizer

__all__ = [
    "JiebaTokenizer",
    "SUBWORD_WEIGHT",
    "WordToken",
    "bigrams",
    "gapped_bigrams",
    "normalize",
    "query_words",
    "units",
    "word_analyzer",
    "word_tokens",
    "word_weights",
]

WordToken = tuple[str, int, int, int]
"""(term text, position, start char, end char)."""


# --------------------------------------------------------------------------- normalization


_CJK_CHAR_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
_SYLLABIC_RANGES = "\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af"  # kana, hangul syllables
_SINGLE_CHAR_UNITS = _CJK_CHAR_RANGES + _SYLLABIC_RANGES


class _FoldTable(dict[int, str]):
    """``str.translate`` table built lazily, one character for one: NFKC compatibility
    folding, lower case, and OpenCC's traditional → simplified character table.

    Characters are converted one at a time, never by OpenCC's phrase rules, so
    that ``normalize(s)[i] == normalize(s[i])``: a substring of the text always
    normalizes to a substring of the normalized text, which exact matching needs.
    """

    def __init__(self) -> None:
        super().__init__()
        self._t2s: Any = None

    def _simplified(self, char: str) -> str:
        if self._t2s is None:
            import opencc

            self._t2s = opencc.OpenCC("t2s").convert
        converted = self._t2s(char)
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


_LAST_NORMALIZED: list[tuple[str | None, str]] = [(None, "")]


# --------------------------------------------------------------------------- match units

WORD_CHAR = f"[^\\W_{_SINGLE_CHAR_UNITS}]"
"""A regex class for the characters of word units (letters and digits of alphabetic scripts)."""
_UNIT_RE = re.compile(f"[{_SINGLE_CHAR_UNITS}]|{WORD_CHAR}+")
GAP_CHAR = f"(?:(?![{_SINGLE_CHAR_UNITS}])[\\W_])"
"""A regex for a character that is part of no unit: space, punctuation, symbols.  (Not
plain ``[\\W_]``: Python does not count every CJK character as a word character.)"""


_PAIR_RUN = re.compile(f"[{_SINGLE_CHAR_UNITS}]{{2,}}")


def bigrams(normalized: str) -> set[str]:
    """Every pair of adjacent CJK characters (or kana, hangul syllables) in normalized text.

    Indexed beside the units, they make the candidates of a string nearly
    exact: ``室友`` is one term holding exactly the articles that contain it,
    not the intersection of ``室`` and ``友`` (fifteen times as many articles
    at 100,000), each then checked by reading its text.
    """
    pairs: set[str] = set()
    for run in _PAIR_RUN.findall(normalized):
        pairs.update(map(add, run, run[1:]))  # C-level: each character joined to the next
    return pairs


PAIR_GAP = "\x1f"
"""Joins the two characters of a pair that punctuation or spaces separate in the text."""

_GAPPED_PAIR = re.compile(f"(?=([{_SINGLE_CHAR_UNITS}])[\\W_]{{1,8}}([{_SINGLE_CHAR_UNITS}]))")


def gapped_bigrams(normalized: str) -> set[str]:
    """Pairs of CJK characters with 1 to 8 spaces or punctuation marks between them,
    as ``a + PAIR_GAP + b``: with the adjacent pairs, the candidates of a quoted phrase,
    whose units may be separated that way."""
    return {a + PAIR_GAP + b for a, b in _GAPPED_PAIR.findall(normalized)}


def units(normalized: str) -> list[str]:
    """The match units of normalized text: each CJK character, kana or hangul syllable,
    and each run of other letters and digits (``iphone``, ``13``, ``ωμέγα``).  An article
    contains a query string only if it holds all its units, so the units index gives
    exact candidates regardless of word segmentation."""
    return _UNIT_RE.findall(normalized)


# --------------------------------------------------------------------------- segmentation


class _Segmenter:
    """A lazily initialised jieba segmenter (loading its dictionary takes a while)."""

    def __init__(self, user_dicts: tuple[str, ...] = ()) -> None:
        self.user_dicts = user_dicts
        self._cutter: _Cutter | None = None
        self._lock = threading.Lock()

    def get(self) -> _Cutter:
        if self._cutter is None:
            with self._lock:
                if self._cutter is None:
                    import jieba

                    jieba.setLogLevel(logging.WARNING)
                    tokenizer = jieba.Tokenizer()
                    tokenizer.initialize()
                    for path in self.user_dicts:
                        _load_user_dict(tokenizer, path)
                    self._cutter = _Cutter(tokenizer)
        return self._cutter


_NOT_A_PREFIX = object()


class _Cutter:
    """jieba's accurate mode with its HMM for unknown words: the same words as
    ``jieba.Tokenizer.cut(text, HMM=True)``, in about half the time.

    jieba looks each fragment up twice, takes a logarithm per candidate word and
    builds a dictionary of candidates per character before choosing a route; here
    each dictionary word carries its log-probability, precomputed, and the route
    is chosen in the same loop that finds the candidates.  Floating-point steps
    and tie-breaking are jieba's own, so the routes are identical.
    """

    def __init__(self, tokenizer: Any) -> None:
        from jieba import finalseg, re_han_default, re_skip_default

        logtotal = math.log(tokenizer.total)
        # A word's log-probability; None for a mere prefix of longer words.
        self.logp: dict[str, float | None] = {
            word: math.log(freq) - logtotal if freq else None for word, freq in tokenizer.FREQ.items()
        }
        self._unknown = math.log(1) - logtotal
        self._hmm = _Hmm(finalseg)
        self._han = re_han_default
        self._skip = re_skip_default

    def is_word(self, text: str) -> bool:
        """Whether ``text`` is a dictionary word (not merely the prefix of one)."""
        return self.logp.get(text) is not None

    def cut(self, text: str) -> list[str]:
        """The words of ``text``, spaces and punctuation included, in order."""
        words: list[str] = []
        han, skip = self._han, self._skip
        for block in han.split(text):
            if not block:
                continue
            if han.match(block):
                self._cut_block(block, words)
            else:
                for piece in skip.split(block):
                    if skip.match(piece):
                        words.append(piece)
                    else:
                        words.extend(piece)
        return words

    def _route(self, block: str) -> list[int]:
        """For each character, the index of the last character of the word that
        starts there on the most probable route (jieba's ``get_DAG`` and ``calc``)."""
        lookup = self.logp.get
        n = len(block)
        score = [0.0] * (n + 1)
        last = list(range(n))
        unknown = self._unknown
        for start in range(n - 1, -1, -1):
            best: float | None = None
            end = start
            fragment = block[start]
            while True:
                logp = lookup(fragment, _NOT_A_PREFIX)
                if logp is _NOT_A_PREFIX:
                    break
                if logp is not None:
                    total = logp + score[end + 1]  # type: ignore[operator]
                    if best is None or total >= best:  # ties: the longer word, as jieba's max()
                        best = total
                        last[start] = end
                end += 1
                if end == n:
                    break
                fragment = block[start : end + 1]
            score[start] = unknown + score[start + 1] if best is None else best
        return last

    def _cut_block(self, block: str, words: list[str]) -> None:
        """jieba's ``__cut_DAG``: runs of single characters go to the HMM unless the
        run is itself a dictionary word."""
        last = self._route(block)
        n = len(block)
        run = 0  # start of the current run of single characters
        i = 0
        while i < n:
            stop = last[i] + 1
            if stop - i > 1:
                if run < i:
                    self._flush(block[run:i], words)
                words.append(block[i:stop])
                run = stop
            i = stop
        if run < n:
            self._flush(block[run:n], words)

    def _flush(self, run: str, words: list[str]) -> None:
        if len(run) == 1:
            words.append(run)
        elif self.logp.get(run) is None:
            self._hmm.cut(run, words)
        else:
            words.extend(run)


class _Hmm:
    """jieba's hidden Markov model for words missing from the dictionary
    (``jieba.finalseg.cut``), with the same results: the same sums in the same
    order and the same tie-breaking, without building lists, dicts and copied
    paths at every character."""

    def __init__(self, finalseg: Any) -> None:
        self._finalseg = finalseg
        self._han = finalseg.re_han
        self._skip = finalseg.re_skip
        emit = finalseg.emit_P
        self._emit = (emit["B"].get, emit["M"].get, emit["S"].get, emit["E"].get)
        start, trans = finalseg.start_P, finalseg.trans_P
        self._start = (start["B"], start["M"], start["S"], start["E"])
        self._trans = (
            trans["E"]["B"], trans["S"]["B"],  # into B, from E or S
            trans["M"]["M"], trans["B"]["M"],  # into M, from M or B
            trans["S"]["S"], trans["E"]["S"],  # into S, from S or E
            trans["B"]["E"], trans["M"]["E"],  # into E, from B or M
        )
        self._min = finalseg.MIN_FLOAT

    def cut(self, text: str, words: list[str]) -> None:
        """Append the words of ``text`` to ``words``."""
        han, skip = self._han, self._skip
        forced = self._finalseg.Force_Split_Words
        for block in han.split(text):
            if han.match(block):
                for word in self._words(block):
                    if word in forced:
                        words.extend(word)
                    else:
                        words.append(word)
            else:
                words.extend(piece for piece in skip.split(block) if piece)

    def _words(self, block: str) -> list[str]:
        states = self._states(block)
        words = []
        begin = following = 0
        for i, state in enumerate(states):
            if state == "B":
                begin = i
            elif state == "E":
                words.append(block[begin : i + 1])
                following = i + 1
            elif state == "S":
                words.append(block[i])
                following = i + 1
        if following < len(block):
            words.append(block[following:])
        return words

    def _states(self, block: str) -> str:
        """The most probable B/M/S/E state of each character (jieba's ``viterbi``).

        Ties go where jieba's ``max`` over (probability, state) tuples sends them:
        to the state that sorts last (S > M > E > B)."""
        emit_b, emit_m, emit_s, emit_e = self._emit
        eb_b, sb_b, mm_m, bm_m, ss_s, es_s, be_e, me_e = self._trans
        low = self._min
        first = block[0]
        start_b, start_m, start_s, start_e = self._start
        b = start_b + emit_b(first, low)
        m = start_m + emit_m(first, low)
        s = start_s + emit_s(first, low)
        e = start_e + emit_e(first, low)
        back: list[str] = []  # per character after the first: the previous state of B, M, S, E
        for char in block[1:]:
            em = emit_b(char, low)
            x, y = e + eb_b + em, s + sb_b + em
            nb, pb = (y, "S") if y >= x else (x, "E")
            em = emit_m(char, low)
            x, y = m + mm_m + em, b + bm_m + em
            nm, pm = (x, "M") if x >= y else (y, "B")
            em = emit_s(char, low)
            x, y = s + ss_s + em, e + es_s + em
            ns, ps = (x, "S") if x >= y else (y, "E")
            em = emit_e(char, low)
            x, y = b + be_e + em, m + me_e + em
            ne, pe = (y, "M") if y >= x else (x, "B")
            back.append(pb + pm + ps + pe)
            b, m, s, e = nb, nm, ns, ne
        state = "S" if s >= e else "E"
        path = [state]
        for previous in reversed(back):
            state = previous["BMSE".index(state)]
            path.append(state)
        return "".join(reversed(path))


def _load_user_dict(tokenizer: Any, path: str) -> None:
    """Load a jieba user dictionary with its words normalized like the text they meet."""
    from .errors import ConfigError

    try:
        raw = Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(path, "jieba user dictionary not found (check analysis.user_dicts).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read the jieba user dictionary: {exc}.") from None
    lines = []
    for line in raw.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word:
            lines.append(f"{normalize(word)} {rest}".rstrip())
    try:
        tokenizer.load_userdict(io.BytesIO("\n".join(lines).encode("utf-8")))
    except ValueError as exc:
        raise ConfigError(path, f"cannot load the jieba user dictionary: {exc}.") from None


_SEGMENTERS: dict[tuple[str, ...], _Segmenter] = {}


def _segmenter(user_dicts: tuple[str, ...]) -> _Segmenter:
    found = _SEGMENTERS.get(user_dicts)
    if found is None:
        found = _SEGMENTERS.setdefault(user_dicts, _Segmenter(user_dicts))
    return found


_DROPPED_EDGES = "._-&%+#"
_HAS_ALNUM = re.compile(r"[^\W_]").search  # a letter or digit: str.isalnum() of some character


def _segment(text: str, search: bool, user_dicts: tuple[str, ...]) -> Iterator[tuple[str, int, int, int, bool]]:
    """(term, position, start, end, is a sub-word) for each word of ``text``, normalized."""
    cutter = _segmenter(user_dicts).get()
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
    return [(term, pos, start, end) for term, pos, start, end, _ in _segment(text, search, user_dicts)]


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
    return result  # type: ignore[no-any-return]


def _word_weights(text: str, user_dicts: tuple[str, ...]) -> tuple[dict[str, float], int]:
    weights: dict[str, float] = {}
    get = weights.get
    tokens = 0
    for term, _pos, _start, _end, sub in _segment(text, True, user_dicts):
        weights[term] = get(term, 0.0) + (SUBWORD_WEIGHT if sub else 1.0)
        tokens += 1
    return weights, tokens


def query_words(text: str) -> list[str]:
    """The words of a query string, segmented as precisely as jieba can (no sub-words)."""
    return [term for term, _, _, _ in word_tokens(text, search=False)]


# --------------------------------------------------------------------------- Whoosh analyzer


SUBWORD_WEIGHT = 0.5
"""How much a sub-word occurrence (人民币 inside 离岸人民币) counts against a whole word."""


class JiebaTokenizer(Tokenizer):  # type: ignore[misc]
    """A Whoosh tokenizer over :func:`word_tokens` that honours Whoosh's tokenizer contract.

    Sub-words get ``SUBWORD_WEIGHT`` as their boost, so an article where a word stands
    on its own ranks above one where it only appears inside a longer word.
    """

    def __init__(self, search: bool = True, user_dicts: tuple[str, ...] = ()) -> None:
        self.search = search
        self.user_dicts = tuple(user_dicts)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("user_dicts", ())

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and other.search == self.search  # type: ignore[attr-defined]
            and other.user_dicts == self.user_dicts  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.search, self.user_dicts))

    def __call__(  # type: ignore[override]
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = normalize(value)
            token.boost = 1.0
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar = start_char
                token.endchar = start_char + len(value)
            yield token
            return
        search = self.search and mode != "query"
        for term, pos, start, end, sub in _segment(value, search, self.user_dicts):
            token.text = term
            # Sub-words come before the word they are part of, at the same position.
            token.boost = SUBWORD_WEIGHT if sub else 1.0
            token.stopped = False
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


def word_analyzer(user_dicts: tuple[str, ...] = ()) -> JiebaTokenizer:
    """The analyzer of the title and body word fields."""
    return JiebaTokenizer(search=True, user_dicts=user_dicts)
