"""Articles related to a given one: its key terms, weighted by how distinctive they
are in this index, searched as one ranked query.

An article's key terms are its words of two characters or more (and its
Latin/number words), weighted by tf·idf: the word's weight in the article (as
the word fields index it) times its inverse document frequency in the index.
The best of them form an OR query over titles and bodies; the article itself
and its near-duplicates are left out, and so are further versions of any story
already listed.
"""

from __future__ import annotations

import math
from typing import Any

from . import execute
from .analysis import normalize, word_weights
from .compiler import any_of_terms
from .config import Config
from .errors import ArticleNotFoundError
from .query import parse
from .results import SearchResults
from .fields import BODY, ID, TITLE
from .search import make_hit, normalized_text, short_item_groups
from .statistics import Statistics, local_statistics

__all__ = ["key_terms", "similar_articles", "similar_fetch", "similar_query"]

KEY_TERMS = 20
_CANDIDATES = 60  # words with the largest weights in the article, before idf is looked up


def key_terms(
    searcher: Any, text: str, user_dicts: tuple[str, ...], count: int = KEY_TERMS, statistics: Statistics | None = None
) -> list[tuple[str, float]]:
    """The ``count`` words of normalized ``text`` with the highest tf·idf in this index
    (with ``statistics``, in the archive a shard is part of)."""
    stats = statistics if statistics is not None else local_statistics(searcher)
    weights, _ = word_weights(text, user_dicts=user_dicts)
    words = [(w, tf) for w, tf in weights.items() if len(w) > 1 or (w.isascii() and w.isalnum())]
    words.sort(key=lambda item: (-item[1], item[0]))
    total = max(1, stats.doc_count())
    scored = []
    for word, tf in words[:_CANDIDATES]:
        df = stats.doc_frequency(BODY, word) + stats.doc_frequency(TITLE, word)
        if df:
            scored.append((word, tf * math.log(1 + total / df)))
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:count]


def similar_articles(searcher: Any, config: Config, article_id: str, limit: int = 10) -> SearchResults:
    """See :meth:`newsearch.NewsIndex.similar`."""
    docnum = searcher.document_number(**{ID: article_id})
    if docnum is None:
        raise ArticleNotFoundError(article_id)
    reader = searcher.reader()
    text = normalized_text(reader, docnum)
    terms = key_terms(searcher, text, config.analysis.user_dicts)
    label = f"similar:{article_id}"
    if not terms:
        return SearchResults(label, 0, [], 0, limit, "relevance", collapsed=True)
    q, patterns = similar_query(terms, config)
    groups = short_item_groups()
    fetch = similar_fetch(limit)
    total, ranked = execute.search(searcher, q, None, limit=fetch, each_segment=groups.add)
    # The article leads its own group first, so its near-duplicates are claimed by it.
    own = _locate(searcher, docnum)
    order = [own, *(m for m in ranked if (id(m.reader), m.docnum) != (id(own.reader), own.docnum))]
    chosen = []
    for match, versions in groups.representatives(order):
        if match is own:
            continue
        chosen.append((match, versions))
        if len(chosen) == limit:
            break
    hits = [make_hit(match, patterns, config, versions) for match, versions in chosen]
    return SearchResults(label, max(0, total - 1), hits, 0, limit, "relevance", collapsed=True)


def similar_query(terms: list[tuple[str, float]], config: Config) -> tuple[Any, list[Any]]:
    """The query that finds articles like one with key ``terms``, and what its hits mark."""
    top = terms[0][1]
    fields = ((BODY, 1.0), (TITLE, config.ranking.title_boost))
    q = any_of_terms((field, word, weight / top * boost) for word, weight in terms for field, boost in fields)
    return q, parse(" OR ".join(normalize(word) for word, _ in terms)).highlight_patterns()


def similar_fetch(limit: int) -> int:
    """How many of the best matches the related articles are chosen from."""
    return limit * 3 + 10


def _locate(searcher: Any, docnum: int) -> execute.Match:
    """The segment reader and local number of the searcher's document ``docnum``."""
    for leaf, base in searcher.leaf_searchers():
        reader = leaf.reader()
        if base <= docnum < base + reader.doc_count_all():
            return execute.Match(0.0, reader, docnum - base)
    raise ArticleNotFoundError(str(docnum))
