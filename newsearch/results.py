"""Plain value objects that leave the library: hits, snippets, reports and stats.

They hold copies of what was read from the index, never Whoosh objects, so
they stay valid after the searcher is closed.  ``to_dict()`` gives the one
JSON shape that the CLI (``--json``) and any server print.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .documents import iso_date

__all__ = [
    "CheckReport",
    "CompactReport",
    "DateHistogram",
    "Facets",
    "FileFailure",
    "Hit",
    "IndexReport",
    "IndexStats",
    "Passage",
    "SearchResults",
    "Snippet",
    "Suggestion",
    "Topic",
    "Version",
    "counted",
]

ELLIPSIS = "…"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 article``, ``2 articles``."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


@dataclass(frozen=True)
class Passage:
    """One excerpt of an article with the character ranges that matched the query."""

    text: str
    highlights: tuple[tuple[int, int], ...] = ()
    start: int = 0
    """Offset of ``text`` in the article body."""
    truncated_left: bool = False
    truncated_right: bool = False

    def render(self, before: str, after: str, escape: Any = None) -> str:
        """The passage with every highlight wrapped in ``before``/``after``."""
        esc = escape or (lambda s: s)
        parts: list[str] = [ELLIPSIS] if self.truncated_left else []
        cursor = 0
        for start, end in self.highlights:
            parts.append(esc(self.text[cursor:start]))
            parts.append(before + esc(self.text[start:end]) + after)
            cursor = end
        parts.append(esc(self.text[cursor:]))
        if self.truncated_right:
            parts.append(ELLIPSIS)
        return "".join(parts)


@dataclass(frozen=True)
class Snippet:
    """The best one to three passages of an article for a query."""

    passages: tuple[Passage, ...] = ()
    separator: str = " … "

    @property
    def text(self) -> str:
        """The snippet without any highlight markers."""
        return self.render("", "")

    def render(self, before: str, after: str) -> str:
        return self.separator.join(p.render(before, after) for p in self.passages)

    def html(self) -> str:
        """HTML-escaped text with ``<mark>`` around every match."""
        return self.separator.join(
            p.render("<mark>", "</mark>", escape=lambda s: html.escape(s, quote=False))
            for p in self.passages
        )

    def __str__(self) -> str:
        return self.render("**", "**")

    def to_dict(self) -> list[dict[str, Any]]:
        return [
            {"text": p.text, "start": p.start, "highlights": [list(h) for h in p.highlights]}
            for p in self.passages
        ]


@dataclass(frozen=True)
class Topic:
    """A keyword that sets a selection of the archive apart from the whole."""

    keyword: str
    articles: int
    """Selected articles that have it."""
    archive: int
    """Articles of the whole archive that have it."""
    score: float
    """Significance: (fg − bg) · fg / bg of the shares in the selection and in the archive."""

    def to_dict(self) -> dict[str, Any]:
        return {"keyword": self.keyword, "articles": self.articles, "archive": self.archive, "score": round(self.score, 4)}


@dataclass(frozen=True)
class Suggestion:
    """A completion of a partial query: a word or phrase of the index's titles, or a keyword."""

    text: str
    articles: int
    """How many articles have it in their title, or as a keyword (the larger count)."""

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "articles": self.articles}


@dataclass(frozen=True)
class Version:
    """A near-duplicate of a hit: the same story published again with small edits."""

    id: str
    title: str
    date: datetime | None
    utcoffset_minutes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "date": iso_date(self.date, self.utcoffset_minutes)}


@dataclass(frozen=True)
class Hit:
    """One matching article, copied out of the index."""

    id: str
    title: str
    path: str
    date: datetime | None
    categories: list[str]
    tags: list[str]
    url: str | None
    score: float
    snippet: Snippet
    utcoffset_minutes: int | None = None
    versions: tuple[Version, ...] = ()
    """Near-duplicates of this article among the matches, hidden behind it (best match first)."""
    match: str = "exact"
    """``exact`` when the article holds every term of the query as typed; ``related`` when
    it holds enough of the query's words (or carries them as tags) but not every term."""
    explanation: dict[str, Any] | None = None
    """With ``explain=True``: how the score was made (its parts, per query word)."""
    title_highlights: tuple[tuple[int, int], ...] = ()
    """Character ranges of ``title`` that matched the query."""

    def title_render(self, before: str, after: str, escape: Any = None) -> str:
        """The title with every match wrapped in ``before``/``after``."""
        return Passage(self.title, self.title_highlights).render(before, after, escape)

    def title_html(self) -> str:
        """The HTML-escaped title with ``<mark>`` around every match."""
        return self.title_render("<mark>", "</mark>", escape=lambda s: html.escape(s, quote=False))

    def why(self) -> str:
        """The explanation as one line of text (empty without ``explain=True``)."""
        why = self.explanation
        if not why:
            return ""
        if "words" not in why:
            return f"score {why['score']:g} (the query as written: occurrences and the words they form)"
        parts = []
        for word, w in why["words"].items():
            where = [f"{n} in the {field}" for field in ("title", "body") if (n := w[field])]
            if w["tag"]:
                where.append("a tag or keyword")
            if w["held"] == "part":
                where.append("in part")
            if w["inside_words"]:
                where.append(f"{w['inside_words']:.0%} inside longer words")
            parts.append(f"{word} {w['score']:g} ({', '.join(where) or 'absent'})")
        return (
            f"score {why['score']:g} = [{' + '.join(parts)}] × words held {why['coverage']:g}"
            f" × proximity {why['proximity']:g}" + (" × every term as typed" if why["exact"] else "")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "title_highlights": [list(h) for h in self.title_highlights],
            "date": iso_date(self.date, self.utcoffset_minutes),
            "categories": list(self.categories),
            "tags": list(self.tags),
            "path": self.path,
            "url": self.url,
            "score": round(self.score, 4),
            "snippet": self.snippet.html(),
            "passages": self.snippet.to_dict(),
            "versions": [v.to_dict() for v in self.versions],
            "match": self.match,
            **({"explain": self.explanation} if self.explanation is not None else {}),
        }


@dataclass(frozen=True)
class DateHistogram:
    """How many matches fall in each year, month or day (the unit depends on the
    span of the matches), oldest first, empty buckets included."""

    unit: str  # "year", "month" or "day"
    buckets: list[tuple[str, int]] = field(default_factory=list)
    """(``2021``, ``2021-12`` or ``2021-12-25``; count) for every bucket of the span."""
    undated: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "buckets": [{"key": key, "count": count} for key, count in self.buckets],
            "undated": self.undated,
        }


@dataclass(frozen=True)
class Facets:
    """Counts over every match of a search, not only the page shown."""

    categories: list[tuple[str, int]] = field(default_factory=list)
    tags: list[tuple[str, int]] = field(default_factory=list)
    dates: DateHistogram = field(default_factory=lambda: DateHistogram("year"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "categories": [{"value": value, "count": count} for value, count in self.categories],
            "tags": [{"value": value, "count": count} for value, count in self.tags],
            "dates": self.dates.to_dict(),
        }


@dataclass(frozen=True)
class ShardFailure:
    """A shard of a cluster that did not answer a search, and why."""

    shard: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"shard": self.shard, "reason": self.reason}


@dataclass(frozen=True)
class ShardsReport:
    """Which shards of a cluster answered a search (as Elasticsearch's ``_shards``)."""

    total: int
    successful: int
    failed: list[ShardFailure] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        """Whether the results lack some shards' articles."""
        return self.successful < self.total

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "successful": self.successful, "failed": [f.to_dict() for f in self.failed]}


@dataclass(frozen=True)
class SearchResults:
    """A page of hits plus the total number of matching articles."""

    query: str
    total: int
    hits: list[Hit]
    offset: int = 0
    limit: int | None = 10
    sort: str = "relevance"
    suggestion: str | None = None
    """When nothing matched: a corrected or shorter query that does match."""
    facets: Facets | None = None
    """Category, tag and date counts over all the matches (None when not asked for)."""
    collapsed: bool = False
    """Whether near-duplicates are folded into the hit they resemble (``Hit.versions``)."""
    explain: str | None = None
    """How the query was read, when the request asked (``explain=True``)."""
    exact_total: int | None = None
    """How many of the ``total`` matches hold every term as typed (the others are related)."""
    shards: ShardsReport | None = None
    """For a cluster: which shards answered (None for one index)."""

    @property
    def page(self) -> int:
        """1-based page number implied by ``offset`` and ``limit``."""
        if not self.limit:
            return 1
        return self.offset // self.limit + 1

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "limit": self.limit,
            "sort": self.sort,
            "suggestion": self.suggestion,
            "facets": self.facets.to_dict() if self.facets is not None else None,
            "collapsed": self.collapsed,
            "exact": self.total if self.exact_total is None else self.exact_total,
            "hits": [h.to_dict() for h in self.hits],
        }
        if self.explain is not None:
            data["explain"] = self.explain
        if self.shards is not None:
            data["shards"] = self.shards.to_dict()
        return data


@dataclass(frozen=True)
class FileFailure:
    """A source file (or JSONL line) that was skipped, and why."""

    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


@dataclass
class IndexReport:
    """What an indexing run did, counted in source files."""

    indexed: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[FileFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    articles_added: int = 0
    articles_removed: int = 0
    reanalyzed: int = 0
    """Articles analyzed again because the jieba user dictionaries changed."""
    notes: list[str] = field(default_factory=list)
    """What the run decided on its own (re-analysis, settings that changed)."""
    seconds: float = 0.0
    segments_merged: int = 0
    """The segments the index had after the run, when merges followed (see :mod:`newsearch.merge`) ..."""
    merged_into: int = 0
    """... and the segments it has after them."""
    merge_seconds: float = 0.0
    """Of ``seconds``, the time the merges took."""

    def summary(self) -> str:
        """``3 indexed, 0 unchanged, 0 removed, 0 failed (1 article added, 0 removed) in 0.8s``:
        counts of files, then of articles (and the merges after the run, if any)."""
        merged = (
            f"; merged {counted(self.segments_merged, 'segment')} into {self.merged_into} in {self.merge_seconds:.1f}s"
            if self.segments_merged else ""
        )
        return (
            f"{self.indexed} indexed, {self.unchanged} unchanged, {self.removed} removed, "
            f"{len(self.failed)} failed ({counted(self.articles_added, 'article')} added, "
            f"{self.articles_removed} removed) in {self.seconds:.1f}s{merged}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "indexed": self.indexed,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": [
                {"path": f.path, "line": f.line, "reason": f.reason} for f in self.failed
            ],
            "warnings": list(self.warnings),
            "articles_added": self.articles_added,
            "articles_removed": self.articles_removed,
            "reanalyzed": self.reanalyzed,
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
            "merge": {"segments": self.segments_merged, "into": self.merged_into,
                      "seconds": round(self.merge_seconds, 3)},
        }


@dataclass(frozen=True)
class IndexStats:
    """A summary of an index's contents."""

    path: str
    articles: int
    first_date: datetime | None
    last_date: datetime | None
    categories: list[tuple[str, int]]
    tags: list[tuple[str, int]]
    size_bytes: int
    sources: int
    segments: int = 0
    """Segments the latest commit reads: each indexing job adds one."""
    deleted: int = 0
    """Documents still in segments but deleted or replaced by a newer version of their article."""

    @property
    def deleted_share(self) -> float:
        """Deleted documents as a share of all documents the segments hold."""
        total = self.articles + self.deleted
        return self.deleted / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "articles": self.articles,
            "sources": self.sources,
            "first_date": iso_date(self.first_date, None),
            "last_date": iso_date(self.last_date, None),
            "categories": dict(self.categories),
            "tags": dict(self.tags),
            "size_bytes": self.size_bytes,
            "segments": self.segments,
            "deleted": self.deleted,
            "deleted_share": round(self.deleted_share, 4),
        }


@dataclass(frozen=True)
class CompactReport:
    """What :meth:`~newsearch.NewsIndex.compact` did."""

    segments_before: int
    segments: int
    purged: int
    """Deleted or replaced documents whose space was given back."""
    seconds: float

    def summary(self) -> str:
        return (
            f"Merged {counted(self.segments_before, 'segment')} into {self.segments}, purging "
            f"{counted(self.purged, 'deleted document')}, in {self.seconds:.1f}s"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"segments_before": self.segments_before, "segments": self.segments, "purged": self.purged,
                "seconds": round(self.seconds, 3)}


@dataclass
class CheckReport:
    """What ``newsearch check`` found: damage to the index, and how it differs from the sources."""

    path: str
    segments: int = 0
    articles: int = 0
    damage: list[str] = field(default_factory=list)
    """Files of the index that are missing, truncated or unreadable (rebuild the index)."""
    up_to_date: int = 0
    """Source files whose indexed version is the one on disk."""
    changed: list[str] = field(default_factory=list)
    """Source files edited since they were indexed (run ``newsearch index``)."""
    missing: list[str] = field(default_factory=list)
    """Source files of indexed articles that are gone (``newsearch index`` removes their articles)."""
    not_indexed: list[str] = field(default_factory=list)
    """Files under the checked folders that the index does not have (new, or failed to index)."""

    @property
    def damaged(self) -> bool:
        return bool(self.damage)

    @property
    def current(self) -> bool:
        """True when the index holds exactly the source files as they are now."""
        return not (self.changed or self.missing or self.not_indexed)

    def summary(self, shown_path: str | None = None) -> str:
        """One line; ``shown_path`` names the index as the reader knows it (default: its path)."""
        where = shown_path or self.path
        if self.damaged:
            return f"The index at {where} is damaged ({counted(len(self.damage), 'problem')})"
        return (
            f"The index at {where} is intact: {counted(self.articles, 'article')} in {counted(self.segments, 'segment')}. "
            f"Sources: {self.up_to_date} up to date, {len(self.changed)} changed, "
            f"{len(self.missing)} missing, {len(self.not_indexed)} not indexed"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "segments": self.segments,
            "articles": self.articles,
            "damage": self.damage,
            "up_to_date": self.up_to_date,
            "changed": self.changed,
            "missing": self.missing,
            "not_indexed": self.not_indexed,
        }
