"""What an index holds: articles, source files, date range, categories and tags.

Counted over the live (not deleted) articles of one searcher, from columns and
keyword postings, without reading any article.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from .fields import CATEGORIES, DATE, PATH, TAGS
from .results import IndexStats

__all__ = ["collect_stats"]


def collect_stats(searcher: Any, path: str, size_bytes: int, top: int | None = None) -> IndexStats:
    """Counts over the live (not deleted) documents of one searcher."""
    reader = searcher.reader()
    categories: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    first = last = None
    paths: set[str] = set()
    if reader.doc_count():
        dates = reader.column_reader(DATE)
        path_col = reader.column_reader(PATH)
        for docnum in reader.all_doc_ids():
            paths.add(path_col[docnum])
            value = dates[docnum]
            if value is None or value == datetime.min:
                continue
            if first is None or value < first:
                first = value
            if last is None or value > last:
                last = value
        for field, counter in ((CATEGORIES, categories), (TAGS, tags)):
            for raw in reader.lexicon(field):
                term = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                n = sum(1 for _ in reader.postings(field, raw).all_ids())
                if n:
                    counter[term] = n
    return IndexStats(
        path=path,
        articles=reader.doc_count(),
        first_date=first,
        last_date=last,
        categories=categories.most_common(top),
        tags=tags.most_common(top),
        size_bytes=size_bytes,
        sources=len(paths),
        segments=len(reader.leaf_readers()) if reader.doc_count_all() else 0,
        deleted=reader.doc_count_all() - reader.doc_count(),
    )
