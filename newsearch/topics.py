"""The keywords that characterize a selection of the archive (a period, a section)
against the whole archive: a significant-terms ranking, not raw frequency.

A keyword's score is Elasticsearch's JLH: ``(fg − bg) · fg / bg``, where fg is
the share of the selected articles that have it and bg the share of all
articles.  A keyword frequent everywhere scores low however often the selection
uses it; one that is rare elsewhere but common in the selection scores high.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from . import execute
from .compiler import IndexVocabulary, every_article, matches_nothing, selection_filter
from .errors import InvalidArgumentError
from .facets import keyword_lists
from .fields import KEYWORDS
from .readers import reader_cache
from .request import Selection
from .results import Topic

__all__ = ["significant_keywords"]


def significant_keywords(searcher: Any, selection: Selection, limit: int = 20) -> list[Topic]:
    """See :meth:`newsearch.NewsIndex.topics`."""
    if not selection.selects:
        raise InvalidArgumentError(
            "the selection",
            "nothing selected; topics compare some articles with the whole archive: give a period "
            "(--since/--until), a category or a tag.",
        )
    flt = selection_filter(selection, IndexVocabulary(searcher))
    if matches_nothing(flt):
        return []
    chosen: Counter[str | None] = Counter()
    everywhere: Counter[str | None] = Counter()
    selected = 0

    def count(reader: Any, scores: dict[int, float]) -> None:
        nonlocal selected
        selected += len(scores)
        keyword_lists(reader, KEYWORDS).count(scores, chosen)

    execute.search(searcher, every_article(), flt, limit=0, each_segment=count)
    for leaf, _base in searcher.leaf_searchers():
        everywhere.update(_all_counts(leaf.reader()))
    articles = searcher.doc_count()
    if not selected or not articles:
        return []
    minimum = 2 if selected >= 20 else 1
    topics = []
    for keyword, n in chosen.items():
        if keyword is None or n < minimum:
            continue
        fg, bg = n / selected, everywhere[keyword] / articles
        if fg > bg:
            topics.append(Topic(keyword, n, everywhere[keyword], (fg - bg) * fg / bg))
    topics.sort(key=lambda t: (-t.score, t.keyword))
    return topics[:limit]


def _all_counts(reader: Any) -> Counter[str | None]:
    """Keyword counts over a segment's live articles, kept with its reader."""
    cache = reader_cache(reader)
    found = cache.get("keyword_counts")
    if found is None:
        found = Counter()
        keyword_lists(reader, KEYWORDS).count(list(reader.all_doc_ids()), found)
        cache["keyword_counts"] = found
    return found
