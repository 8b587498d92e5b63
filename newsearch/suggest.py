"""Completing a partial query from the words of the index's titles and the articles'
keywords, typed as characters, as full pinyin (``xiaoduo``) or as pinyin
initials (``xdkj``).

The completions are the keywords, the title words of two characters or more, and the
phrases of two or three adjacent title words that begin at least two titles
(every phrase when the index holds fewer than 2,000 articles), such as
晓多科技 made of 晓多 and 科技.  For one index state (its segments and their
deletions) they form a sorted list of keys — each completion, its pinyin
without tones and its initials, in context (重庆: chongqing) and with every
reading of a character that has several (also zhongqing) — built once and saved beside the index as
``suggest-<state>.json``.  A completion is then a binary search and a
pick of the most frequent words in the range, well under a millisecond.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import re
import subprocess
import sys
import threading
from array import array
from bisect import bisect_left
from collections import Counter
from itertools import islice, product
from pathlib import Path
from typing import Any

from .analysis import longest_words, normalize
from .errors import NewsearchError
from .files import write_json
from .readers import column_reader, reader_cache
from .results import Suggestion
from .fields import KEYWORDS, NTITLE, TITLE
from .store import Store

__all__ = ["CompletionCache", "Completions", "completions_for", "prepare_completions"]

_MAX_READINGS = 8  # pinyin combinations kept for a word whose characters have several readings
_MAX_WORD = 8  # longest title word looked up when cutting a title into the index's words
_SMALL_INDEX = 2000  # below this many articles, phrases of one title are completions too
_RUN = re.compile(r"[^\W_]+")
_FILE = "suggest-{}.json"


class Completions:
    """Sorted completion keys of one index state, each pointing at a title word."""

    def __init__(self, words: list[str], counts: list[int], keys: list[str], owners: list[int]) -> None:
        self.words = words
        self.counts = counts  # articles whose title holds the word
        self.keys = keys
        self.owners = array("I", owners)

    @classmethod
    def build(cls, searcher: Any, previous: Completions | None = None) -> Completions:
        """From the title words of every segment of ``searcher``; the pinyin of words
        that ``previous`` (an earlier state's completions) knows is taken from it."""
        from pypinyin import Style, pinyin

        known: dict[str, list[str]] = {}
        if previous is not None:
            for key, number in zip(previous.keys, previous.owners):
                known.setdefault(previous.words[number], []).append(key)

        counts: Counter[str] = Counter()
        vocabulary: set[str] = set()
        keyword_counts: Counter[str] = Counter()
        for leaf, _base in searcher.leaf_searchers():
            reader = leaf.reader()
            for term, info in reader.iter_field(TITLE):
                word = term.decode("utf-8") if isinstance(term, bytes) else term
                vocabulary.add(word)
                if len(word) > 1:
                    counts[word] += info.doc_frequency()
            for term, info in reader.iter_field(KEYWORDS):
                keyword_counts[term.decode("utf-8") if isinstance(term, bytes) else term] += info.doc_frequency()
        for word, n in keyword_counts.items():  # an article's keyword is often in its title too
            counts[word] = max(counts[word], n)
        parts_of: dict[str, tuple[str, ...]] = {word: (word,) for word in counts}
        for parts, n in _phrases(searcher, vocabulary).items():
            text = "".join(parts)
            if text not in parts_of:  # a phrase that is also a word counts as the word
                parts_of[text] = parts
                counts[text] = n
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

        entries: list[tuple[str, int]] = []
        for number, word in enumerate(words):
            entries.append((word, number))
            if word.isascii():
                continue
            if word in known:
                entries.extend((key, number) for key in known[word])
                continue
            # The reading in context (重庆: chong qing) first, then every reading of each
            # character (zhong qing too), for names whose reading a user may not know.
            in_words = [r for part in parts_of[word] for r in context_readings(part)]
            per_char = [char_readings(c) for c in word]
            combos = [*islice(product(*in_words), _MAX_READINGS), *islice(product(*per_char), _MAX_READINGS)]
            for combo in combos:
                syllables = [p.lower() for p in combo if p.strip()]
                full, initials = "".join(syllables), "".join(p[0] for p in syllables)
                if full.isascii() and full.isalnum():
                    entries.append((full, number))
                    entries.append((initials, number))
        entries = sorted(set(entries))
        return cls(words, [counts[w] for w in words], [k for k, _ in entries], [n for _, n in entries])

    def complete(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        """The ``limit`` most frequent title words that ``prefix`` begins (as characters or pinyin)."""
        text = normalize(prefix).strip()
        if not text:
            return []
        found: set[int] = set()
        for key in {text, re.sub(r"[\s']+", "", text)}:
            i = bisect_left(self.keys, key)
            j = bisect_left(self.keys, key + "\U0010ffff")
            found.update(self.owners[i:j])
        best = heapq.nsmallest(limit, found, key=lambda n: (-self.counts[n], len(self.words[n]), self.words[n]))
        return [Suggestion(self.words[n], self.counts[n]) for n in best]

    def save(self, path: Path) -> None:
        write_json(path, {"words": self.words, "counts": self.counts, "keys": self.keys, "owners": self.owners.tolist()})

    @classmethod
    def load(cls, path: Path) -> Completions:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["words"], data["counts"], data["keys"], data["owners"])


def _phrases(searcher: Any, vocabulary: set[str]) -> Counter[tuple[str, ...]]:
    """Phrases of two or three adjacent title words, the first and last of two
    characters or more, with the number of titles that hold them; those of a
    single title only in a small index."""
    found: Counter[tuple[str, ...]] = Counter()
    for leaf, _base in searcher.leaf_searchers():
        reader = leaf.reader()
        titles = column_reader(reader, NTITLE)
        for docnum in reader.all_doc_ids():
            phrases: set[tuple[str, ...]] = set()
            for run in _RUN.findall(titles[docnum].decode("utf-8")):
                words = longest_words(run, vocabulary.__contains__, longest=_MAX_WORD, keep_unknown=True)
                for n in (2, 3):
                    for i in range(len(words) - n + 1):
                        if len(words[i]) > 1 and len(words[i + n - 1]) > 1:  # not 晓多科技用
                            phrases.add(tuple(words[i : i + n]))
            found.update(phrases)
    if searcher.doc_count() >= _SMALL_INDEX:
        found = Counter({phrase: n for phrase, n in found.items() if n > 1})
    return found


def index_state(searcher: Any) -> str:
    """A name for the searcher's index state: its segments and their deleted
    documents (worked out once per reader: it is asked on every completion)."""
    cache = reader_cache(searcher.reader())
    found = cache.get("index_state")
    if found is None:
        parts = []
        for leaf, _base in searcher.leaf_searchers():
            reader = leaf.reader()
            segment = reader.segment()
            parts.append(f"{segment.segment_id() if segment else '-'}:{reader.doc_count_all() - reader.doc_count()}")
        found = cache["index_state"] = hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]
    return found


def prepare_completions(index_path: str | Path) -> None:
    """Prepare and save the completions of the index at ``index_path`` as it is now
    (what :class:`CompletionCache` runs in a process of its own)."""
    searcher = Store(index_path).searcher()
    try:
        completions_for(searcher, Path(index_path))
    finally:
        searcher.close()


class CompletionCache:
    """The newest completions of one index folder, kept between index states.

    ``complete(..., stale_ok=True)`` never makes a search wait for them: after
    the index changed, it answers from the completions of an earlier state
    while another process prepares (and saves) those of the new one.  Not a
    thread of this process: preparing is seconds of Python, and a search here
    would wait for the interpreter lock at every file read.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._newest: tuple[str, Completions] | None = None  # (index state, completions)
        self._preparing: threading.Thread | None = None

    def complete(self, searcher: Any, prefix: str, limit: int, *, stale_ok: bool = False) -> list[Suggestion]:
        """Completions of ``prefix`` in the searcher's index state (see
        :meth:`newsearch.NewsIndex.suggest`)."""
        newest = self._newest
        if stale_ok and newest is not None:
            if newest[0] != index_state(searcher):
                self._prepare_in_background()
            return newest[1].complete(prefix, limit)
        found = completions_for(searcher, self._folder)
        self._newest = (index_state(searcher), found)
        return found.complete(prefix, limit)

    def _prepare_in_background(self) -> None:
        if self._preparing is not None and self._preparing.is_alive():
            return
        self._preparing = threading.Thread(target=self._prepare, name="newsearch-completions", daemon=True)
        self._preparing.start()

    def _prepare(self) -> None:
        code = f"import sys; from {__name__} import prepare_completions; prepare_completions(sys.argv[1])"
        done = subprocess.run([sys.executable, "-c", code, str(self._folder)], stdin=subprocess.DEVNULL, check=False)
        if done.returncode != 0:
            return  # the index went away or is damaged: searches say so
        try:
            searcher = Store(self._folder).searcher()
        except NewsearchError:
            return
        try:
            self._newest = (index_state(searcher), completions_for(searcher, self._folder))
        finally:
            searcher.close()


def completions_for(searcher: Any, folder: Path) -> Completions:
    """The completions of the searcher's index state: from memory, from the file saved
    in ``folder``, or built (and saved, replacing those of older states)."""
    cache = reader_cache(searcher.reader())
    found = cache.get("completions")
    if found is not None:
        return found  # type: ignore[no-any-return]
    path = folder / _FILE.format(index_state(searcher))
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
        found = Completions.build(searcher, previous)
        try:
            found.save(path)
            for old in folder.glob(_FILE.format("*")):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only index folder: keep them in memory only
    cache["completions"] = found
    return found
