"""Completing a partial query from the words of the index's titles and the articles'
keywords, typed as characters, as full pinyin (``xiaoduo``) or as pinyin
initials (``xdkj``).

The completions are the keywords, the title words of two characters or more, and the
phrases of two or three adjacent title words that begin at least two titles
(every phrase when the index holds fewer than 2,000 articles), such as
晓多科技 made of 晓多 and 科技.  A phrase is made of the words jieba cuts the
title into, so it starts and ends where words do (北大一二九, never 北大一二),
and does not start or end with a function word.

They are ranked by how much they say about the archive, not only by how often
titles use them: the articles that have a completion in their title, plus those
that have it as a keyword or a tag, so a topic (疫苗, a keyword and a tag) comes
before a word that titles merely use (说明).  Words that match a prefix only by
a rare reading of a character (说 read yue) come after those that match by their
reading in context, and function words (它们, 这个) come last.  For one index state (its segments and their
deletions) they form a sorted list of keys — each completion, its pinyin
without tones and its initials, in context (重庆: chongqing) and with every
reading of a character that has several (also zhongqing) — built once and saved beside the index as
``suggest-<state>.bin``.  A completion is then a binary search and a
pick of the most frequent words in the range, well under a millisecond.

What they are made of (:class:`TitleCounts`: the articles that hold each title
word, keyword, tag and phrase) adds up across indexes, so an archive in shards
makes the completions of one index of its articles (:mod:`newsearch.cluster`).

The keys and words are kept as one UTF-8 string each with the offsets where
each one starts, read from the file as they are: 2 million keys as Python
strings took 180 MB of a server's memory at 300,000 articles.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, islice, product
from pathlib import Path
from typing import Any

from .analysis import normalize, query_words
from .errors import NewsearchError
from .files import write_bytes
from .readers import column_reader, reader_cache, segment_state
from .results import Suggestion
from .fields import KEYWORDS, NTITLE, TAGS, TITLE
from .store import Store
from .understand import STOPWORDS

__all__ = [
    "CompletionCache", "Completions", "TitleCounts", "completions_for", "index_state", "joined_state", "prepare_aside", "prepare_completions",
    "prepare_counts_aside", "prepare_from_counts", "saved_completions", "title_counts_of",
]

_MAX_READINGS = 8  # pinyin combinations kept for a word whose characters have several readings
_IN_CONTEXT, _OTHER_READING, _FUNCTION_WORD = 0, 1, 2  # how well a key matches: better first
_SMALL_INDEX = 2000  # below this many articles, phrases of one title are completions too
_RUN = re.compile(r"[^\W_]+")
_FILE = "suggest-{}.bin"
_COUNTS_FILE = "titles-{}.counts"  # a segment's TitleCounts, beside the index
_COUNTS_FORMAT = "title counts 1"
_OLD_FILES = "suggest-*.json"  # what earlier versions saved
_MAGIC = b"NSCOMPLETIONS 2\n"
_HEADER_LENGTH = struct.Struct("<Q")


class _Strings(Sequence[str]):
    """Strings held as one UTF-8 byte string and the offset where each starts."""

    __slots__ = ("blob", "offsets")

    def __init__(self, blob: bytes, offsets: array[int]) -> None:
        if not offsets or offsets[0] != 0 or offsets[-1] != len(blob):
            raise ValueError("the offsets of the strings do not match them")
        self.blob = blob
        self.offsets = offsets

    @classmethod
    def of(cls, items: Iterable[str]) -> _Strings:
        encoded = [item.encode("utf-8") for item in items]
        blob = b"".join(encoded)
        return cls(blob, array("I" if len(blob) < 2**32 else "Q", accumulate(map(len, encoded), initial=0)))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        return self.blob[self.offsets[i] : self.offsets[i + 1]].decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        blob, offsets = self.blob, self.offsets
        for i in range(len(offsets) - 1):
            yield blob[offsets[i] : offsets[i + 1]].decode("utf-8")


class Completions:
    """Sorted completion keys of one index state, each pointing at a title word."""

    def __init__(
        self,
        words: Sequence[str],
        counts: Sequence[int],
        keys: Sequence[str],
        owners: Sequence[int],
        weights: Sequence[int] | None = None,
        kinds: Sequence[int] | None = None,
        lengths: array[int] | None = None,
    ) -> None:
        self.words = words if isinstance(words, _Strings) else _Strings.of(words)
        self.counts = _numbers(counts)  # articles whose title holds the word, or that have it as a keyword
        self.keys = keys if isinstance(keys, _Strings) else _Strings.of(keys)  # sorted
        self.owners = owners if isinstance(owners, array) else array("I", owners)
        self.weights = _numbers(weights) if weights is not None else self.counts  # how much the word says: see the module
        self.kinds = kinds if isinstance(kinds, array) else array("B", kinds if kinds is not None else bytes(len(self.keys)))  # _IN_CONTEXT...
        self.lengths = lengths if lengths is not None else array("H", (min(len(w), 0xFFFF) for w in self.words))
        self.state = ""  # the index state they are of, when known (:func:`index_state`)
        if len(self.counts) != len(self.words) or len(self.weights) != len(self.words) or len(self.lengths) != len(self.words):
            raise ValueError("completions: a count or weight for each word")
        if len(self.owners) != len(self.keys) or len(self.kinds) != len(self.keys):
            raise ValueError("completions: an owner and a kind for each key")

    @classmethod
    def of_counts(cls, found: TitleCounts, previous: Completions | None = None) -> Completions:
        """From what the titles of an index hold (:class:`TitleCounts`; of several, added
        up: the same completions as one index of their articles); the pinyin of words
        that ``previous`` (an earlier state's completions) knows is taken from it."""
        from pypinyin import Style, pinyin

        known: dict[str, list[tuple[str, int]]] = {}
        if previous is not None:
            for key, number, kind in zip(previous.keys, previous.owners, previous.kinds):
                known.setdefault(previous.words[number], []).append((key, kind))

        counts: Counter[str] = Counter(found.titles)
        keyword_counts: Counter[str] = Counter(found.keywords)
        tag_counts: Counter[str] = found.tags
        # Keywords keep the case the articles write (iPhone): completed as typed in any
        # case, shown as most of the articles write them, counted with the title word.
        shown: dict[str, str] = {}
        for term, n in sorted(keyword_counts.items(), key=lambda item: (-item[1], item[0])):
            folded = normalize(term)
            if folded != term:
                shown.setdefault(folded, term)
                keyword_counts[folded] += keyword_counts.pop(term)
        titles = Counter(counts)
        for word, n in keyword_counts.items():  # an article's keyword is often in its title too
            counts[word] = max(counts[word], n)
        parts_of: dict[str, tuple[str, ...]] = {word: (word,) for word in counts}
        for text, (parts, n) in _phrase_texts(found).items():
            if text not in parts_of:  # a phrase that is also a word counts as the word
                parts_of[text] = parts
                counts[text] = titles[text] = n
        words = sorted(counts)

        # Readings are looked up once per word and once per character: a phrase's
        # reading in context is its words' (pypinyin per phrase took ten times longer).
        in_context: dict[str, list[list[str]]] = {}
        each: dict[str, list[str]] = {}

        def context_readings(word: str) -> list[list[str]]:
            found = in_context.get(word)
            if found is None:
                found = in_context[word] = pinyin(word, style=Style.NORMAL, heteronym=True, errors="default")
            return found

        def char_readings(char: str) -> list[str]:
            found = each.get(char)
            if found is None:
                found = each[char] = pinyin(char, style=Style.NORMAL, heteronym=True, errors="default")[0]
            return found

        entries: dict[tuple[str, int], int] = {}  # (key, word number) -> kind, the best one

        def add(key: str, number: int, kind: int) -> None:
            entries[key, number] = min(kind, entries.get((key, number), kind))

        for number, word in enumerate(words):
            base = _FUNCTION_WORD if word in STOPWORDS else _IN_CONTEXT
            add(word, number, base)
            if word.isascii():
                continue
            if word in known:
                for key, kind in known[word]:
                    add(key, number, kind)
                continue
            # The reading in context (重庆: chong qing) first, then every reading of each
            # character (zhong qing too), for names whose reading a user may not know.
            in_words = [r for part in parts_of[word] for r in context_readings(part)]
            per_char = [char_readings(c) for c in word]
            # The first reading in context is how the word is read (说明: shuo ming); the
            # others (yue ming) rank after every word that a prefix matches that way.
            usual = _syllables([readings[0] for readings in in_words if readings])
            combos = [*islice(product(*in_words), _MAX_READINGS), *islice(product(*per_char), _MAX_READINGS)]
            for combo in combos:
                syllables = _syllables(combo)
                kind = base if syllables == usual else max(base, _OTHER_READING)
                full, initials = "".join(syllables), "".join(p[0] for p in syllables)
                if full.isascii() and full.isalnum():
                    add(full, number, kind)
                    add(initials, number, kind)
        ordered = sorted(entries.items())
        weights = [titles[w] + keyword_counts[w] + tag_counts[w] for w in words]
        return cls(
            [shown.get(w, w) for w in words],
            [counts[w] for w in words],
            [key for (key, _), _ in ordered],
            [number for (_, number), _ in ordered],
            weights,
            [kind for _, kind in ordered],
        )

    def complete(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        """The ``limit`` best completions that ``prefix`` begins (as characters or pinyin):
        by how well they match, then by how much they say (see the module)."""
        text = normalize(prefix).strip()
        if not text:
            return []
        found: dict[int, int] = {}
        kinds, owners = self.kinds, self.owners
        for key in {text, re.sub(r"[\s']+", "", text)}:
            i = bisect_left(self.keys, key)
            j = bisect_left(self.keys, key + "\U0010ffff")
            for k in range(i, j):
                number, kind = owners[k], kinds[k]
                if kind < found.get(number, 3):
                    found[number] = kind
        weights, words, lengths = self.weights, self.words, self.lengths

        def rank(n: int) -> tuple[int, int, int]:
            return found[n], -weights[n], lengths[n]

        # The best by match, weight and length; among equals, alphabetically (the only
        # part that needs the words themselves, decoded for the few that tie).
        pool: Iterable[int] = found
        if len(found) > limit:
            edge = rank(heapq.nsmallest(limit, found, key=rank)[-1])
            pool = [n for n in found if rank(n) <= edge]
        best = sorted(pool, key=lambda n: (*rank(n), words[n]))[:limit]
        return [Suggestion(words[n], self.counts[n]) for n in best]

    def _parts(self) -> list[tuple[str, str, bytes]]:
        """(name, array type code or "" for bytes, bytes) of what is saved."""
        return [
            (name, getattr(value, "typecode", ""), value if isinstance(value, bytes) else value.tobytes())
            for name, value in (
                ("words", self.words.blob), ("word_offsets", self.words.offsets),
                ("keys", self.keys.blob), ("key_offsets", self.keys.offsets),
                ("counts", self.counts), ("weights", self.weights), ("owners", self.owners), ("kinds", self.kinds),
                ("lengths", self.lengths),
            )
        ]

    def save(self, path: Path) -> None:
        parts = self._parts()
        header = json.dumps({"byteorder": sys.byteorder, "parts": [[name, code, len(data)] for name, code, data in parts]})
        head = header.encode("utf-8")
        write_bytes(path, b"".join([_MAGIC, _HEADER_LENGTH.pack(len(head)), head, *(data for _, _, data in parts)]))

    @classmethod
    def load(cls, path: Path) -> Completions:
        """Completions saved by :meth:`save`; ValueError when the file is not such a file."""
        data = path.read_bytes()
        try:
            return cls._from_bytes(data, path)
        except (TypeError, AttributeError, KeyError, struct.error) as exc:
            raise ValueError(f"{path} does not hold completions ({exc})") from None

    @classmethod
    def _from_bytes(cls, data: bytes, path: Path) -> Completions:
        if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + _HEADER_LENGTH.size:
            raise ValueError(f"{path} does not hold completions")
        at = len(_MAGIC) + _HEADER_LENGTH.size
        (length,) = _HEADER_LENGTH.unpack_from(data, len(_MAGIC))
        header = json.loads(data[at : at + length].decode("utf-8"))
        if header.get("byteorder") != sys.byteorder:
            raise ValueError(f"{path} was saved on a machine of another byte order")
        at += length
        found: dict[str, Any] = {}
        for name, code, size in header["parts"]:
            chunk = data[at : at + size]
            if len(chunk) != size:
                raise ValueError(f"{path} is cut short")
            at += size
            if code:
                values = array(code)
                values.frombytes(chunk)
                found[name] = values
            else:
                found[name] = chunk
        return cls(
            _Strings(found["words"], found["word_offsets"]), found["counts"],
            _Strings(found["keys"], found["key_offsets"]), found["owners"], found["weights"], found["kinds"],
            found["lengths"],
        )


def _numbers(values: Sequence[int]) -> array[int]:
    return values if isinstance(values, array) else array("q", values)


_NUMERALS = frozenset("〇零一二三四五六七八九十百千万亿两0123456789")


def _counts_something(word: str) -> bool:
    """A number (一二, 2021) or a number and a measure word (两个): the start of a count,
    whose phrase runs on to what it counts (两个交换项目), not a phrase of its own."""
    return all(c in _NUMERALS for c in word) or (len(word) == 2 and word[0] in _NUMERALS and word[1] in STOPWORDS)


def _syllables(readings: Iterable[str]) -> list[str]:
    return [p.lower() for p in readings if p.strip()]


def _phrases(reader: Any, user_dicts: tuple[str, ...]) -> Counter[tuple[str, ...]]:
    """Phrases of two or three adjacent title words as jieba cuts the title, the first
    and last of two characters or more and not function words, with the number of
    titles of the segment ``reader`` that hold them (those of a single title too: see
    :func:`_phrase_texts`)."""
    found: Counter[tuple[str, ...]] = Counter()
    titles = column_reader(reader, NTITLE)
    for docnum in reader.all_doc_ids():
        phrases: set[tuple[str, ...]] = set()
        for run in _RUN.findall(titles[docnum].decode("utf-8")):
            words = query_words(run, user_dicts=user_dicts)
            for n in (2, 3):
                for i in range(len(words) - n + 1):
                    first, last = words[i], words[i + n - 1]
                    if (
                        len(first) > 1
                        and len(last) > 1
                        and first not in STOPWORDS  # not 人们还有
                        and last not in STOPWORDS
                        and not any(map(_counts_something, words[i : i + n]))  # not 北大一二(〇)
                    ):
                        phrases.add(tuple(words[i : i + n]))  # not 晓多科技用
        found.update(phrases)
    return found


def _phrase_texts(found: TitleCounts) -> dict[str, tuple[tuple[str, ...], int]]:
    """The phrases that are completions, by their text: the words of the cut most
    titles make of it, and the titles that hold it however cut; those of a single
    title only in a small index."""
    texts: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for parts, n in found.phrases.items():
        texts.setdefault("".join(parts), []).append((n, parts))
    out: dict[str, tuple[tuple[str, ...], int]] = {}
    for text, cuts in sorted(texts.items()):
        n = sum(count for count, _ in cuts)
        if n > 1 or found.articles < _SMALL_INDEX:
            out[text] = (min(cuts, key=lambda cut: (-cut[0], cut[1]))[1], n)
    return out


@dataclass
class TitleCounts:
    """What completions are made of, read from an index: its number of articles, the
    articles that hold each title word (of two characters or more), keyword and tag,
    and the titles that hold each phrase (:func:`_phrases`).  Those of several indexes
    add up (an archive's shards): their completions are one index's of the articles."""

    articles: int = 0
    titles: Counter[str] = field(default_factory=Counter)
    keywords: Counter[str] = field(default_factory=Counter)
    tags: Counter[str] = field(default_factory=Counter)
    phrases: Counter[tuple[str, ...]] = field(default_factory=Counter)
    state: str = ""  # the index state they were read from (:func:`index_state`)

    @classmethod
    def read(cls, searcher: Any, user_dicts: tuple[str, ...] = (), folder: Path | None = None) -> TitleCounts:
        """The counts of every segment of ``searcher`` (``user_dicts``: the jieba
        dictionaries the index's words were cut with).  Each segment's are kept in
        ``folder`` (the index's) when given, so that after a commit only the new
        segments' titles are cut again; those of segments gone are removed."""
        names = []
        parts = []
        for leaf, _base in searcher.leaf_searchers():
            name, counts = _segment_counts(leaf.reader(), user_dicts, folder)
            names.append(name)
            parts.append(counts)
        found = cls.added(parts)
        found.state = index_state(searcher)
        if folder is not None:
            for old in folder.glob(_COUNTS_FILE.format("*")):
                if old.name not in names:
                    old.unlink(missing_ok=True)
        return found

    @classmethod
    def of_segment(cls, reader: Any, user_dicts: tuple[str, ...]) -> TitleCounts:
        """The counts of one segment (``reader``)."""
        found = cls(reader.doc_count())
        for term, info in reader.iter_field(TITLE):
            word = term.decode("utf-8") if isinstance(term, bytes) else term
            if len(word) > 1:
                found.titles[word] += info.doc_frequency()
        for name, into in ((KEYWORDS, found.keywords), (TAGS, found.tags)):
            for term, info in reader.iter_field(name):
                into[term.decode("utf-8") if isinstance(term, bytes) else term] += info.doc_frequency()
        found.phrases = _phrases(reader, user_dicts)
        return found

    def to_bytes(self) -> bytes:
        """The counts as JSON (read back by :meth:`from_bytes`)."""
        data = {
            "format": _COUNTS_FORMAT, "articles": self.articles, "state": self.state,
            "titles": self.titles, "keywords": self.keywords, "tags": self.tags,
            "phrases": [[*parts, n] for parts, n in self.phrases.items()],
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> TitleCounts:
        """Counts saved by :meth:`to_bytes`; ValueError when ``data`` is not such counts."""
        try:
            found = json.loads(data.decode("utf-8"))
            if found.get("format") != _COUNTS_FORMAT:
                raise ValueError("not title counts of this version")
            return cls(
                int(found["articles"]), Counter(found["titles"]), Counter(found["keywords"]), Counter(found["tags"]),
                Counter({tuple(item[:-1]): int(item[-1]) for item in found["phrases"]}), str(found["state"]),
            )
        except (AttributeError, KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
            raise ValueError(f"not title counts ({exc})") from None

    @classmethod
    def added(cls, parts: Sequence[TitleCounts]) -> TitleCounts:
        """The counts of ``parts`` added up; their state names theirs together."""
        total = cls(sum(part.articles for part in parts))
        for part in parts:
            total.titles.update(part.titles)
            total.keywords.update(part.keywords)
            total.tags.update(part.tags)
            total.phrases.update(part.phrases)
        total.state = joined_state([part.state for part in parts])
        return total


def joined_state(states: Sequence[str]) -> str:
    """A name for the state of several indexes (an archive's shards, in order)."""
    return hashlib.sha1("|".join(states).encode()).hexdigest()[:16]


def _segment_counts(reader: Any, user_dicts: tuple[str, ...], folder: Path | None) -> tuple[str, TitleCounts]:
    """The name of the file that keeps the counts of the segment ``reader`` (its
    segment and deletions), and the counts: read from it in ``folder``, or counted
    (and saved there when it can be written)."""
    name = _COUNTS_FILE.format(segment_state(reader).replace(":", "-"))
    if folder is None or reader.segment() is None:
        return name, TitleCounts.of_segment(reader, user_dicts)
    try:
        return name, TitleCounts.from_bytes((folder / name).read_bytes())
    except (OSError, ValueError):
        pass
    found = TitleCounts.of_segment(reader, user_dicts)
    try:
        write_bytes(folder / name, found.to_bytes())
    except OSError:
        pass  # a read-only index folder: counted again next time
    return name, found


def title_counts_of(index_path: str | Path) -> TitleCounts:
    """The :class:`TitleCounts` of the index at ``index_path`` as it is now (what a
    shard's worker reads for the completions of a cluster)."""
    store = Store(index_path)
    searcher = store.searcher()
    try:
        return TitleCounts.read(searcher, store.read_manifest().user_dicts(), Path(index_path))
    finally:
        searcher.close()


def index_state(searcher: Any) -> str:
    """A name for the searcher's index state: its segments and their deleted
    documents (worked out once per reader: it is asked on every completion)."""
    cache = reader_cache(searcher.reader())
    found = cache.get("index_state")
    if found is None:
        parts = [segment_state(leaf.reader()) for leaf, _base in searcher.leaf_searchers()]
        found = cache["index_state"] = hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]
    return found


def prepare_completions(index_path: str | Path) -> None:
    """Prepare and save the completions of the index at ``index_path`` as it is now
    (what :func:`prepare_aside` runs in a process of its own)."""
    searcher = Store(index_path).searcher()
    try:
        completions_for(searcher, Path(index_path))
    finally:
        searcher.close()


def prepare_from_counts(counts_path: str | Path, folder: str | Path) -> None:
    """Make the completions of the counts saved in ``counts_path`` and save them in
    ``folder`` (what a cluster index runs in a process of its own)."""
    found = TitleCounts.from_bytes(Path(counts_path).read_bytes())
    saved_completions(Path(folder), found.state, lambda: found)


def _in_another_process(function: str, *args: str) -> bool:
    """Run this module's ``function`` on ``args`` in a Python process of its own: preparing
    is seconds of Python, and a search here would wait for the interpreter lock at every
    file read.  Whether it succeeded."""
    code = f"import sys; from {__name__} import {function}; {function}(*sys.argv[1:])"
    done = subprocess.run([sys.executable, "-c", code, *args], stdin=subprocess.DEVNULL, check=False)
    return done.returncode == 0


def prepare_aside(folder: Path) -> Completions | None:
    """The completions of the index in ``folder`` as it is now, prepared by another
    process (None: the index went away or is damaged; searches say so)."""
    if not _in_another_process("prepare_completions", str(folder)):
        return None
    try:
        searcher = Store(folder).searcher()
    except NewsearchError:
        return None
    try:
        return completions_for(searcher, folder)  # (read from the file it saved)
    finally:
        searcher.close()


def prepare_counts_aside(found: TitleCounts, folder: Path) -> Completions:
    """The completions of ``found``, made by another process and saved in ``folder``
    (here, when the folder cannot be written)."""
    counts_path = folder / f".suggest-counts-{found.state}-{os.getpid()}.json"
    try:
        write_bytes(counts_path, found.to_bytes())
        _in_another_process("prepare_from_counts", str(counts_path), str(folder))
    except OSError:
        pass
    finally:
        counts_path.unlink(missing_ok=True)
    return saved_completions(folder, found.state, lambda: found)


class CompletionCache:
    """The newest completions of an index (a folder's, or a cluster's), kept between
    index states.

    ``complete(..., stale_ok=True)`` never makes a search wait for them: after
    the index changed, it answers from the completions of an earlier state
    while ``prepare`` makes those of the new one (in another process: see
    :func:`prepare_aside`) on a thread of its own.
    """

    def __init__(self, prepare: Callable[[], Completions | None]) -> None:
        self._prepare_new = prepare
        self._newest: tuple[str, Completions] | None = None  # (index state, completions)
        self._preparing: threading.Thread | None = None
        self._started = 0.0  # (time.monotonic() when preparing last started)

    @property
    def newest(self) -> tuple[str, Completions] | None:
        """The newest state whose completions were made, and those completions."""
        return self._newest

    def complete(
        self, state: str, made: Callable[[], Completions], prefix: str, limit: int, *, stale_ok: bool = False
    ) -> list[Suggestion]:
        """Completions of ``prefix`` in index state ``state``, whose completions ``made()``
        reads or makes (see :meth:`newsearch.NewsIndex.suggest`)."""
        newest = self._newest
        if newest is not None and (newest[0] == state or stale_ok):
            if newest[0] != state:
                self._prepare_in_background()
            return newest[1].complete(prefix, limit)
        found = made()
        self._newest = (found.state or state, found)
        return found.complete(prefix, limit)

    def refresh(self, every: float) -> None:
        """Run ``prepare`` on a thread of its own, at most once every ``every`` seconds
        (for an index whose state is costly to ask: ``prepare`` asks it, and returns None
        when the newest completions are still its state's)."""
        if time.monotonic() - self._started >= every:
            self._prepare_in_background()

    def _prepare_in_background(self) -> None:
        if self._preparing is not None and self._preparing.is_alive():
            return
        self._started = time.monotonic()
        self._preparing = threading.Thread(target=self._prepare, name="newsearch-completions", daemon=True)
        self._preparing.start()

    def _prepare(self) -> None:
        try:
            found = self._prepare_new()
        except Exception:  # noqa: BLE001 - a shard that did not answer, a client closed: the next call tries again
            return
        if found is not None:
            self._newest = (found.state, found)


def saved_completions(folder: Path, state: str, counts: Callable[[], TitleCounts]) -> Completions:
    """The completions of index state ``state``: read from the file saved in ``folder``,
    or made of ``counts()`` (and saved, replacing those of older states)."""
    path = folder / _FILE.format(state)
    try:
        found = Completions.load(path)
    except (OSError, ValueError, KeyError):
        previous = None
        for old in folder.glob(_FILE.format("*")):
            try:
                previous = Completions.load(old)
                break
            except (OSError, ValueError, KeyError):
                continue
        made = counts()
        found = Completions.of_counts(made, previous)
        state = made.state or state
        path = folder / _FILE.format(state)
        try:
            found.save(path)
            for old in [*folder.glob(_FILE.format("*")), *folder.glob(_OLD_FILES)]:
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only index folder: keep them in memory only
    found.state = state
    return found


def completions_for(searcher: Any, folder: Path) -> Completions:
    """The completions of the searcher's index state: from memory, from the file saved
    in ``folder``, or built (and saved, replacing those of older states)."""
    cache = reader_cache(searcher.reader())
    found = cache.get("completions")
    if found is not None:
        return found  # type: ignore[no-any-return]

    def counts() -> TitleCounts:
        try:
            user_dicts = Store(folder).read_manifest().user_dicts()
        except NewsearchError:
            user_dicts = ()
        return TitleCounts.read(searcher, user_dicts, folder)

    found = cache["completions"] = saved_completions(folder, index_state(searcher), counts)
    return found
