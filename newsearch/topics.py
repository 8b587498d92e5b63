"""The keywords that characterize a selection of the archive (a period, a section)
against the whole archive: a significant-terms ranking, not raw frequency.

A keyword's score is Elasticsearch's JLH: ``(fg − bg) · fg / bg``, where fg is
the share of the selected articles that have it and bg the share of all
articles.  A keyword frequent everywhere scores low however often the selection
uses it; one that is rare elsewhere but common in the selection scores high.

Function words are never topics, even where an article repeats one enough to make
it a keyword: those of the query vocabulary (``那个``, ``它们``, see
:data:`newsearch.understand.STOPWORDS`), and any word that the archive writes in
far more articles than it is a keyword of (``这件``, ``以来``: written in 91 and 85
of 395 real articles, a keyword of 2 and 4), which says how articles are written,
not what they are about.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from . import execute
from .analysis import normalize
from .compiler import IndexVocabulary, every_article, matches_nothing, selection_filter
from .errors import InvalidArgumentError
from .facets import keyword_lists
from .fields import BODY, KEYWORDS, TITLE
from .readers import reader_cache
from .statistics import Statistics, local_statistics
from .request import Selection
from .results import Topic
from .understand import STOPWORDS

__all__ = ["significant_keywords"]

WRITTEN_PER_KEYWORD = 16
"""A keyword written in more than this many times as many articles as have it as a
keyword is a way of writing, not a topic (content words: 1 to 10 in the real archive)."""


def significant_keywords(searcher: Any, selection: Selection, limit: int = 20, statistics: Statistics | None = None) -> list[Topic]:
    """See :meth:`newsearch.NewsIndex.topics`.  ``statistics``: the archive's, when the
    searcher's index is a shard of it (then every count is the archive's)."""
    if not selection.selects:
        raise InvalidArgumentError(
            "the selection",
            "nothing selected; topics compare some articles with the whole archive: give a period "
            "(--since/--until), a category or a tag.",
        )
    stats = statistics if statistics is not None else local_statistics(searcher)
    flt = selection_filter(selection, IndexVocabulary(searcher, statistics))
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
    scope = repr(flt)
    selected = stats.total(("selected", scope), lambda: selected)
    articles = stats.doc_count()
    if not selected or not articles:
        return []
    minimum = 2 if selected >= 20 else 1
    topics = []
    for keyword in stats.union(("chosen", scope), lambda: (k for k in chosen if k is not None)):
        n = stats.total(("chosen", scope, keyword), lambda: chosen[keyword])  # noqa: B023 - called at once
        if n < minimum or keyword in STOPWORDS:
            continue
        held = stats.total(("keyword", keyword), lambda: everywhere[keyword])  # noqa: B023 - called at once
        fg, bg = n / selected, held / articles
        if fg > bg > 0 and not _a_way_of_writing(stats, keyword, held):  # (bg is 0 only in a shard's first round)
            topics.append(Topic(keyword, n, held, (fg - bg) * fg / bg))
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


def _a_way_of_writing(statistics: Statistics, keyword: str, as_keyword: int) -> bool:
    """Whether the archive writes ``keyword`` in far more articles than it is a keyword of."""
    word = normalize(keyword)
    written = max(statistics.doc_frequency(BODY, word), statistics.doc_frequency(TITLE, word))
    return bool(written > WRITTEN_PER_KEYWORD * as_keyword)
