"""Each article's keywords, chosen at index time by tf·idf with an idf drawn from the
archive being indexed, and the terms that set a period or section apart.

The idf comes from document frequencies counted over a seeded sample of up to
500 articles of the archive (of the index, or of the files being indexed when
the index is still small), saved as ``keywords-idf.json`` in the index folder
and counted again when the index has grown by a quarter.  A sample of a few
hundred articles is enough to tell the words every article uses (``我们``,
``表示``) from the words of one story, which is what keywords need; jieba's own
idf table describes other text.

A word that the article only ever writes inside the same longer name gives way
to it: jieba cuts 杨伟民 into 杨 and 伟民, and the keyword is 杨伟民, not 伟民.
Keywords are normalized (searched and counted as such); :func:`as_written` gives
them as the article writes them most often (``iPhone``, ``MeToo``), for display.
"""

from __future__ import annotations

import heapq
import json
import math
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from operator import mul
from pathlib import Path
from typing import Any

from .analysis import normalize, segment_words, word_weights
from .files import write_json

__all__ = ["KEYWORDS_PER_ARTICLE", "IdfTable", "as_written", "choose", "current", "in_use", "prepare_idf", "seeded_sample"]

KEYWORDS_PER_ARTICLE = 8
SAMPLE = 500
_REFRESH_GROWTH = 1.25
_FILE = "keywords-idf.json"
_TITLE_WEIGHT = 3.0  # a title word counts like three occurrences in the body


@dataclass(frozen=True)
class IdfTable:
    """Document frequencies of words in a sample of the archive."""

    articles: int  # articles in the archive when the sample was taken
    sampled: int
    df: dict[str, int]
    _idf: dict[str, float] = field(init=False, repr=False, compare=False)
    rare: float = field(init=False, repr=False, compare=False)  # the idf of a word the sample lacks
    idf_of: Any = field(init=False, repr=False, compare=False)  # idf_of(word, rare): a C-level lookup

    def __post_init__(self) -> None:
        # Computed once per sampled word: ``choose`` asks for hundreds per article.
        base = self.sampled + 1
        object.__setattr__(self, "_idf", {word: math.log(base / (n + 0.5)) for word, n in self.df.items()})
        object.__setattr__(self, "rare", math.log(base / 0.5))
        object.__setattr__(self, "idf_of", self._idf.get)

    def idf(self, word: str) -> float:
        return self._idf.get(word, self.rare)

    @classmethod
    def count(cls, texts: Iterable[str], articles: int, user_dicts: tuple[str, ...]) -> IdfTable:
        df: Counter[str] = Counter()
        sampled = 0
        for text in texts:
            df.update(word_weights(text, user_dicts=user_dicts)[0].keys())
            sampled += 1
        return cls(articles, sampled, dict(df))

    def save(self, folder: Path) -> None:
        write_json(folder / _FILE, {"articles": self.articles, "sampled": self.sampled, "df": self.df})

    @classmethod
    def load(cls, folder: Path) -> IdfTable | None:
        try:
            data = json.loads((folder / _FILE).read_text(encoding="utf-8"))
            return cls(int(data["articles"]), int(data["sampled"]), dict(data["df"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


_UNIFORM = IdfTable(0, 0, {})
_active: IdfTable = _UNIFORM


def current() -> IdfTable:
    """The table that :func:`choose` uses in this process."""
    return _active


@contextmanager
def in_use(table: IdfTable) -> Iterator[None]:
    """Choose keywords with ``table`` here (and in workers forked meanwhile)."""
    global _active
    previous, _active = _active, table
    try:
        yield
    finally:
        _active = previous


def choose(title: str, body: str, user_dicts: tuple[str, ...], count: int = KEYWORDS_PER_ARTICLE) -> list[str]:
    """The ``count`` words of an article with the highest tf·idf: words of two
    characters or more, not numbers alone, none inside another chosen one."""
    # The body first: it was normalized last (normalize remembers it); indexing the
    # title and body then finds their words remembered (word_weights).
    weights = dict(word_weights(body, user_dicts=user_dicts)[0])
    title_weights = word_weights(title, user_dicts=user_dicts)[0]
    for word, weight in title_weights.items():
        weights[word] = weights.get(word, 0.0) + weight * _TITLE_WEIGHT
    text = normalize(f"{title}\n{body}")
    chosen: list[str] = []
    for _, word in sorted(_best_words(weights, 4 * count), key=lambda item: (-item[0], item[1])):
        word = _whole(word, text, user_dicts)
        if _is_number(word) or any(word in longer for longer in chosen):  # not 智能 beside 人工智能
            continue
        chosen = [shorter for shorter in chosen if shorter not in word]  # 伟民 grew into 杨伟民
        chosen.append(word)
        if len(chosen) == count:
            break
    return chosen


_CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile("[a-z]")
_WINDOW = 8  # characters either side of an occurrence cut again to find its neighbours


def _whole(word: str, text: str, user_dicts: tuple[str, ...]) -> str:
    """``word``, or the longer name it always stands in: when every one of its two or
    more occurrences in ``text`` has the same character beside it, and jieba cut that
    character off as a word of its own (杨 of 杨伟民), not as part of a longer word."""
    if not _CJK.match(word):
        return word
    starts = [m.start() for m in re.finditer(re.escape(word), text)]
    if len(starts) < 2:
        return word
    longer = word
    for side in (-1, 1):
        at = [s - 1 if side < 0 else s + len(word) for s in starts]
        beside = {text[i] if 0 <= i < len(text) else "" for i in at}
        if len(beside) != 1:
            continue
        char = beside.pop()
        if char and _CJK.match(char) and _cut_off(text, at[0], word, side, user_dicts):
            longer = char + longer if side < 0 else longer + char
    return longer


def _cut_off(text: str, i: int, word: str, side: int, user_dicts: tuple[str, ...]) -> bool:
    """Whether jieba cuts ``text[i]``, beside an occurrence of ``word``, as a one-character word."""
    low = max(0, i - _WINDOW)
    window = text[low : i + _WINDOW + len(word)]
    spans = {(start + low, end + low) for _, _, start, end, _ in segment_words(window, False, user_dicts)}
    word_span = (i + 1, i + 1 + len(word)) if side < 0 else (i - len(word), i)
    return (i, i + 1) in spans and word_span in spans


def as_written(keywords: list[str], title: str, body: str) -> list[str]:
    """``keywords`` (normalized, as :func:`choose` gives them) with their letters as the
    article writes them most often: ``iPhone``, ``MeToo``; other keywords as they are."""
    original = f"{title}\n{body}"
    text = normalize(original)  # one character for one: offsets hold in both
    return [_as_written(word, text, original) if _LATIN.search(word) else word for word in keywords]


def _as_written(word: str, text: str, original: str) -> str:
    pattern = re.compile(f"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])")  # whole words of letters
    forms = Counter(unicodedata.normalize("NFKC", original[m.start() : m.end()]) for m in pattern.finditer(text))
    for form, _ in forms.most_common():
        if normalize(form) == word:
            return form
    return word


def _best_words(weights: dict[str, float], n: int) -> list[tuple[float, str]]:
    """The ``n`` words of two characters or more with the highest weight·idf, as
    (score, word) and as ``heapq.nlargest`` ranks them; scored with C-level maps,
    since an article has hundreds of words and needs only a few."""
    scores = map(mul, weights.values(), map(_active.idf_of, weights, repeat(_active.rare)))
    top = [item for item in heapq.nlargest(2 * n, zip(scores, weights)) if len(item[1]) > 1]
    if len(top) >= n or len(top) == sum(len(word) > 1 for word in weights):
        return top[:n]
    idf = _active.idf  # single characters crowd the top: rank the longer words alone
    return heapq.nlargest(n, ((weight * idf(word), word) for word, weight in weights.items() if len(word) > 1))


def _is_number(word: str) -> bool:
    return all(c.isdigit() or c in ".,%" for c in word)


def prepare_idf(
    folder: Path, indexed: int, adding: int, sample_index: Any, sample_files: Any, user_dicts: tuple[str, ...]
) -> IdfTable:
    """The idf table for a run that adds up to ``adding`` files to an index of
    ``indexed`` articles: the saved one while that leaves the archive within a
    quarter of the size it was sampled at, else a new sample, saved.
    ``sample_index(n)`` and ``sample_files(n)`` yield up to n texts."""
    expected = indexed + adding
    saved = IdfTable.load(folder)
    if saved is not None and saved.sampled and expected <= saved.articles * _REFRESH_GROWTH:
        return saved
    texts = list(sample_index(SAMPLE)) if indexed else []
    if len(texts) < SAMPLE:
        texts += list(sample_files(SAMPLE - len(texts)))
    table = IdfTable.count(texts, max(expected, len(texts)), user_dicts)
    try:
        table.save(folder)
    except OSError:
        pass
    return table


def seeded_sample(population: int, n: int) -> list[int]:
    """``n`` of ``range(population)``, the same ones for the same sizes."""
    return sorted(random.Random(population).sample(range(population), min(n, population)))

