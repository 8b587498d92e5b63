"""A search's filters in words, and why a filtered search found nothing.

``newsearch search 学生 --tag MeToo --tag 朱军`` that finds nothing should say
which filters were on, how many articles the query finds without them, and
when a category or tag is not in the index at all, the nearest one that is::

    >>> report = no_match_report(ix, SearchRequest("学生", tags=["MeTo"]))
    >>> report.filters, report.without_filters
    (['tag "MeTo"'], 199)
    >>> str(report.missing[0])
    'no tag "MeTo" in the index; did you mean "MeToo"?'

Category and tag values compare as the search compares them (letter case and
full-width forms folded, spaces trimmed), so ``metoo`` *is* the tag ``MeToo``.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .analysis import normalize
from .request import SearchRequest, Selection

if TYPE_CHECKING:
    from .index import NewsIndex

__all__ = ["MissingValue", "NoMatch", "describe_filters", "missing_values", "nearest_value", "no_match_report"]

_CUTOFF = 0.5  # difflib similarity a value needs to be offered as "did you mean"


@dataclass(frozen=True)
class MissingValue:
    """A category or tag asked for that no article of the index has."""

    kind: str
    """``category`` or ``tag``."""
    value: str
    nearest: str | None
    """The most similar value the index has, if any is similar enough."""

    def __str__(self) -> str:
        text = f'no {self.kind} "{self.value}" in the index'
        return text + (f'; did you mean "{self.nearest}"?' if self.nearest else "")


@dataclass(frozen=True)
class NoMatch:
    """Why a search with filters found nothing."""

    filters: list[str]
    """The active filters in words (:func:`describe_filters`)."""
    without_filters: int
    """How many articles the query finds with no filter at all."""
    missing: list[MissingValue]
    """Categories and tags asked for that the index does not have."""


def describe_filters(selection: Selection) -> list[str]:
    """The filters of ``selection`` in words, one string each: ``category "a" or "b"``,
    ``tag "x"`` (one per tag: all are required), ``since 2021-12``, ``until 2022``."""
    words: list[str] = []
    if selection.category:
        words.append("category " + " or ".join(f'"{c}"' for c in selection.category))
    words += [f'tag "{t}"' for t in selection.tags]
    for name, value in (("since", selection.since), ("until", selection.until)):
        if value is not None and value != "":
            words.append(f"{name} {value.isoformat() if not isinstance(value, str) else value}")
    return words


def nearest_value(value: str, existing: Iterable[str]) -> str | None:
    """The value of ``existing`` most like ``value``: an equal one (as filters compare
    them), else the most similar by difflib's ratio, else one that contains it or
    that it contains; None when nothing is close."""
    by_key: dict[str, str] = {}
    for name in existing:
        by_key.setdefault(_key(name), name)
    key = _key(value)
    if not key:
        return None
    if key in by_key:
        return by_key[key]
    close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=_CUTOFF)
    if close:
        return by_key[close[0]]
    around = sorted((k for k in by_key if key in k or k in key), key=lambda k: (abs(len(k) - len(key)), k))
    return by_key[around[0]] if around else None


def missing_values(selection: Selection, categories: Iterable[str], tags: Iterable[str]) -> list[MissingValue]:
    """The categories and tags of ``selection`` that are not among ``categories`` and
    ``tags`` (the index's values), each with the nearest value there is."""
    missing: list[MissingValue] = []
    for kind, wanted, existing in (("category", selection.category, list(categories)), ("tag", selection.tags, list(tags))):
        keys = {_key(name) for name in existing}
        for value in wanted:
            if _key(value) not in keys:
                missing.append(MissingValue(kind, value, nearest_value(value, existing)))
    return missing


def no_match_report(index: NewsIndex, request: SearchRequest) -> NoMatch:
    """Why ``request`` found nothing: its filters, the count of the query without them,
    and the categories and tags it names that the index does not have."""
    unfiltered = dataclasses.replace(
        request, category=(), tags=(), since=None, until=None, limit=1, offset=0, facets=False, explain=False
    )
    without = index.search(unfiltered).total if request.selects else 0
    missing: list[MissingValue] = []
    if request.category or request.tags:
        everything = index.search(SearchRequest("", limit=1, facets=True, facet_limit=None, collapse=False))
        facets = everything.facets
        if facets is not None:
            missing = missing_values(request, _values(facets.categories), _values(facets.tags))
    return NoMatch(describe_filters(request), without, missing)


def _values(counts: Sequence[tuple[str, int]]) -> list[str]:
    return [value for value, _ in counts]


def _key(value: str) -> str:
    return normalize(value.strip())
