"""Text → index terms: normalization and jieba word segmentation.

The only module that imports jieba.  Two promises hold for everything it
produces, because highlighting and phrase search depend on them:

* :func:`normalize` maps every character to exactly one character, so an
  offset in normalized text is the same offset in the original;
* every token carries exact ``startchar``/``endchar`` offsets into the text it
  came from, and positions count words 0, 1, 2... in reading order.  The extra
  sub-words of search-granularity segmentation (``人民`` inside ``人民币``)
  share the position of the word they come from, so a phrase of words still
  matches consecutive positions.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from collections.abc import Iterator
from typing import Any

from whoosh.analysis import Token, Tokenizer

__all__ = [
    "JiebaTokenizer",
    "WordToken",
    "normalize",
    "query_words",
    "word_analyzer",
    "word_tokens",
]

WordToken = tuple[str, int, int, int]
"""(term text, position, start char, end char)."""


# --------------------------------------------------------------------------- normalization


class _FoldTable(dict[int, str]):
    """``str.translate`` table built lazily: NFKC compatibility folding plus lower case,
    restricted to mappings that keep one character as one character."""

    def __missing__(self, codepoint: int) -> str:
        char = chr(codepoint)
        folded = unicodedata.normalize("NFKC", char)
        if len(folded) != 1:
            folded = char
        lowered = folded.lower()
        if len(lowered) == 1:
            folded = lowered
        self[codepoint] = folded
        return folded


_FOLD = _FoldTable()


def normalize(text: str) -> str:
    """Fold full-width forms, compatibility characters and letter case, one character for one.

    ``normalize("ＡＩ２０２１")`` is ``"ai2021"``; ``len(normalize(s)) == len(s)`` always.
    """
    return text.translate(_FOLD)


# --------------------------------------------------------------------------- segmentation


class _Segmenter:
    """A lazily initialised jieba tokenizer (loading its dictionary takes a while)."""

    def __init__(self) -> None:
        self._jieba: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._jieba is None:
            with self._lock:
                if self._jieba is None:
                    import jieba

                    jieba.setLogLevel(logging.WARNING)
                    tokenizer = jieba.Tokenizer()
                    tokenizer.initialize()
                    self._jieba = tokenizer
        return self._jieba


_SEGMENTER = _Segmenter()


def _is_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _is_cjk_word(text: str) -> bool:
    return "\u3400" <= text[0] <= "\u9fff" or "\uf900" <= text[0] <= "\ufaff" or text[0] >= "\U00020000"


def word_tokens(text: str, *, search: bool = True) -> list[WordToken]:
    """Segment ``text`` into (term, position, startchar, endchar) tuples.

    Terms are normalized; punctuation and spaces are dropped.  With
    ``search`` (index time) the dictionary sub-words of longer words are added
    at the same position, as jieba's ``cut_for_search`` does, so that
    ``人民币`` is found inside ``离岸人民币``.
    """
    jieba = _SEGMENTER.get()
    freq = jieba.FREQ
    norm = normalize(text)
    out: list[WordToken] = []
    pos = -1
    for word, start, end in jieba.tokenize(norm, HMM=True):
        if not _is_word(word):
            continue
        stripped = word.strip("._-&%+#")
        if not stripped:
            continue
        if stripped != word:
            offset = word.index(stripped)
            start += offset
            end = start + len(stripped)
            word = stripped
        pos += 1
        if search and len(word) > 2 and _is_cjk_word(word):
            for n in (2, 3):
                if len(word) <= n:
                    break
                for i in range(len(word) - n + 1):
                    gram = word[i : i + n]
                    if freq.get(gram):
                        out.append((gram, pos, start + i, start + i + n))
        out.append((word, pos, start, end))
    return out


def query_words(text: str) -> list[str]:
    """The words of a query string, segmented as precisely as jieba can (no sub-words)."""
    return [term for term, _, _, _ in word_tokens(text, search=False)]


# --------------------------------------------------------------------------- Whoosh analyzer


class JiebaTokenizer(Tokenizer):  # type: ignore[misc]
    """A Whoosh tokenizer over :func:`word_tokens` that honours Whoosh's tokenizer contract."""

    def __init__(self, search: bool = True) -> None:
        self.search = search

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.search == self.search  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.search))

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
        for term, pos, start, end in word_tokens(value, search=search):
            token.text = term
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


def word_analyzer() -> JiebaTokenizer:
    """The analyzer of the title and body word fields."""
    return JiebaTokenizer(search=True)
