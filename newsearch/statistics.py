"""What a search reads of the whole archive, not of the articles it ranks: the number
of articles, each term's document frequency, the fields' total lengths, whether a word
or a tag is in the archive's vocabulary, and counts that a query needs over every
article (how many hold each of its words, how many a stage of matching keeps).

One index answers from its own searcher (:class:`Statistics`).  A shard of a cluster
holds part of the archive: it answers from the cluster's totals
(:class:`SharedStatistics`), gathered from every shard before it ranks, as
Elasticsearch's ``dfs_query_then_fetch`` does, so that each shard scores and chooses
exactly as one index of the whole archive would.  What it is asked and does not find
there it answers from its own part, and records (:attr:`SharedStatistics.missing`):
the coordinator then gathers those values from every shard, combines them
(:func:`combine`) and asks again.

Every value has a key: a tuple whose first item says how the shards' values combine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from .analysis import keyword_key
from .fields import BODY, TITLE
from .readers import reader_cache

__all__ = ["SharedStatistics", "Statistics", "StatisticsTable", "combine", "local_statistics"]

StatisticsTable = dict[tuple[Any, ...], Any]
"""Values of the whole archive by key (see :func:`combine`)."""

# How each kind of key's values from the shards combine into the archive's.
_SUM = ("docs", "docs_all", "df", "length", "total")
_ANY = ("word", "term")
_UNION = ("keywords", "union")


class Statistics:
    """The statistics of one index, read from its reader."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        cache = reader_cache(self._reader)
        # Keyword maps and known words last as long as the reader, not one search.
        self._maps: dict[str, dict[str, list[str]]] = cache.setdefault("keyword_maps", {})
        self._known: dict[str, bool] = cache.setdefault("known_words", {})

    # ------------------------------------------------------------------ what ranking reads

    def doc_count(self) -> int:
        """Articles (deleted ones not counted)."""
        return int(self._get(("docs",)))

    def doc_count_all(self) -> int:
        """Documents, deleted ones counted: Whoosh's BM25 counts them."""
        return int(self._get(("docs_all",)))

    def doc_frequency(self, field: str, text: str) -> int:
        """Documents whose ``field`` holds the term ``text``."""
        return int(self._get(("df", field, text)))

    def field_length(self, field: str) -> int:
        """The total length of ``field`` in words, over every document."""
        return int(self._get(("length", field)))

    def avg_field_length(self, field: str) -> float:
        """As Whoosh's searcher computes it."""
        return self.field_length(field) / (self.doc_count_all() or 1)

    def idf(self, field: str, text: str) -> float:
        """BM25's inverse document frequency, as Whoosh's weighting computes it."""
        return math.log(self.doc_count_all() / (self.doc_frequency(field, text) + 1)) + 1

    def has_word(self, word: str) -> bool:
        """Whether ``word`` is a term of the title or body field."""
        return bool(self._get(("word", word)))

    def has_term(self, field: str, text: str) -> bool:
        """Whether ``text`` is a term of ``field``."""
        return bool(self._get(("term", field, text)))

    def keywords(self, field: str, key: str) -> list[str]:
        """The category or tag terms whose :func:`~newsearch.readers.keyword_key` is ``key``."""
        return list(self._get(("keywords", field, key)))

    def total(self, key: tuple[Any, ...], count: Callable[[], int]) -> int:
        """A count over every article that a query needs, ``count()`` of this index's."""
        return int(self._get(("total", *key), count))

    def union(self, key: tuple[Any, ...], values: Callable[[], Iterable[str]]) -> list[str]:
        """Strings found anywhere in the archive (sorted), ``values()`` of this index's."""
        return list(self._get(("union", *key), lambda: sorted(set(values()))))

    # ------------------------------------------------------------------ this index's values

    def _get(self, key: tuple[Any, ...], compute: Callable[[], Any] | None = None) -> Any:
        return compute() if compute is not None else self.local(key)

    def local(self, key: tuple[Any, ...]) -> Any:
        """This index's own value for ``key`` (not one computed by a query)."""
        kind = key[0]
        if kind == "docs":
            return int(self._reader.doc_count())
        if kind == "docs_all":
            return int(self._reader.doc_count_all())
        if kind == "df":
            return int(self._reader.doc_frequency(key[1], key[2]))
        if kind == "length":
            return int(self._reader.field_length(key[1]))
        if kind == "word":
            known = self._known.get(key[1])
            if known is None:
                known = self._known[key[1]] = (TITLE, key[1]) in self._reader or (BODY, key[1]) in self._reader
            return known
        if kind == "term":
            return (key[1], key[2]) in self._reader
        if kind == "keywords":
            return list(self._map(key[1]).get(key[2], ()))
        raise KeyError(f"no local value for {key!r}: it is computed by a query")

    def _map(self, field: str) -> dict[str, list[str]]:
        found = self._maps.get(field)
        if found is None:
            # Each segment's terms in turn: merging the segments' lexicons in order costs
            # far more, and the order does not matter here.
            reader = self._reader
            leaves = [leaf for leaf, _ in reader.leaf_readers()] if not reader.is_atomic() else [reader]
            terms: set[str] = set()
            for leaf in leaves:
                terms.update(raw.decode("utf-8") if isinstance(raw, bytes) else raw for raw in leaf.lexicon(field))
            found = {}
            for term in sorted(terms):
                found.setdefault(keyword_key(term), []).append(term)
            self._maps[field] = found
        return found


class SharedStatistics(Statistics):
    """A shard's statistics: the archive's values in ``table``, and for a key the table
    lacks, the shard's own value, recorded in :attr:`missing`.  A search that recorded
    any must be run again with the archive's values of those keys."""

    def __init__(self, reader: Any, table: StatisticsTable) -> None:
        super().__init__(reader)
        self.table = table
        self.missing: StatisticsTable = {}

    def _get(self, key: tuple[Any, ...], compute: Callable[[], Any] | None = None) -> Any:
        if key in self.table:
            return self.table[key]
        if key not in self.missing:
            self.missing[key] = compute() if compute is not None else self.local(key)
        return self.missing[key]


def combine(key: tuple[Any, ...], values: Iterable[Any]) -> Any:
    """The archive's value for ``key`` from the shards' values."""
    kind = key[0]
    if kind in _SUM:
        return sum(values)
    if kind in _ANY:
        return any(values)
    if kind in _UNION:
        return sorted(set().union(*values))
    raise KeyError(f"unknown kind of statistic: {key!r}")


def local_statistics(searcher: Any) -> Statistics:
    """The statistics of ``searcher``'s index, made once per reader."""
    reader = searcher.reader()
    cache = reader_cache(reader)
    found: Statistics | None = cache.get("statistics")
    if found is None:
        found = cache["statistics"] = Statistics(reader)
    return found
