"""A parsed query + filters → ranked hits with snippets, read from one Whoosh searcher.

Everything returned is copied out of the index (:mod:`newsearch.results`),
so results stay valid after the searcher is closed.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from whoosh import query as wq
from whoosh.searching import Searcher

from .config import Config
from .dates import parse_bound
from .errors import InvalidArgumentError
from .dupes import Groups
from .facets import FacetCounter
from .highlight import make_snippet
from . import execute
from .readers import column_reader, reader_cache, term_postings
from .analysis import normalize
from .query import And, ParsedQuery, Text, compile_filters, compile_query, keyword_key, parse
from .results import Hit, IndexStats, SearchResults, Snippet, Version
from .schema import (
    BODY,
    BODY_DIFF,
    CATEGORIES,
    DATE,
    DUP_BANDS,
    DUP_SKETCH,
    KEYWORD_FIELDS,
    NBODY,
    PATH,
    TAGS,
    TITLE,
    UTCOFFSET,
    restore_body,
)
from .synonyms import NO_SYNONYMS, Synonyms

__all__ = ["SORTS", "IndexVocabulary", "check_limit", "collect_stats", "make_hit", "run_search", "selection_filter"]

SORTS = ("relevance", "-date", "date", "recent")
"""Best first; newest first; oldest first; relevance weighed down by age (``ranking.half_life_days``)."""
DateLike = str | date | datetime


class IndexVocabulary:
    """The :class:`~newsearch.query.Vocabulary` of one searcher's index."""

    MAX_WORD = 8  # longest word looked up when segmenting a query string
    MAX_TEXT = 64  # query strings are segmented for scoring up to this length

    def __init__(self, searcher: Searcher) -> None:
        self._reader = searcher.reader()
        # Keyword maps and known words last as long as the reader, not one search.
        cache = reader_cache(self._reader)
        self._maps: dict[str, dict[str, list[str]]] = cache.setdefault("keyword_maps", {})
        self._known: dict[str, bool] = cache.setdefault("known_words", {})

    def _map(self, field: str) -> dict[str, list[str]]:
        found = self._maps.get(field)
        if found is None:
            found = {}
            for raw in self._reader.lexicon(field):
                term = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                found.setdefault(keyword_key(term), []).append(term)
            self._maps[field] = found
        return found

    def keywords(self, field: str, value: str) -> list[str]:
        return list(self._map(field).get(keyword_key(value), ()))

    def has(self, word: str) -> bool:
        """Whether ``word`` is a term of the title or body field."""
        known = self._known.get(word)
        if known is None:
            reader = self._reader
            known = self._known[word] = (TITLE, word) in reader or (BODY, word) in reader
        return known

    def words(self, text: str) -> list[str]:
        """Greedy longest-first segmentation of ``text`` over the index's own words."""
        text = text[: self.MAX_TEXT]
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            for j in range(min(n, i + self.MAX_WORD), i, -1):
                if self.has(text[i:j]):
                    out.append(text[i:j])
                    i = j
                    break
            else:
                i += 1
        return out


def _bound(name: str, value: DateLike | None, *, end: bool) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_bound(value, end=end)
    except ValueError as exc:
        raise InvalidArgumentError(name, f"{exc}.") from None


def _as_list(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def selection_filter(
    vocab: IndexVocabulary,
    *,
    category: str | list[str] | tuple[str, ...] | None = None,
    tags: str | list[str] | tuple[str, ...] | None = None,
    since: DateLike | None = None,
    until: DateLike | None = None,
) -> Any:
    """The Whoosh filter of categories (any), tags (all) and an inclusive date range;
    None when nothing is filtered, NullQuery when nothing can match."""
    start = _bound("since", since, end=False)
    stop = _bound("until", until, end=True)
    if start is not None and stop is not None and start > stop:
        raise InvalidArgumentError("since", f"{since} is after the end of the range, {until}.")
    return compile_filters(categories=_as_list(category), tags=_as_list(tags), since=start, until=stop, vocab=vocab)


def check_limit(limit: int) -> None:
    """A count of results asked for must be a positive int."""
    if not isinstance(limit, int) or limit < 1:
        raise InvalidArgumentError("limit", f"{limit!r}; it must be a positive number.")


def check_paging(sort: str, limit: int | None, offset: int) -> None:
    if sort not in SORTS:
        raise InvalidArgumentError("sort", f"{sort!r}; choose one of {', '.join(SORTS)} (-date: newest first).")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise InvalidArgumentError("limit", f"{limit!r}; it must be a positive number (or None for all).")
    if not isinstance(offset, int) or offset < 0:
        raise InvalidArgumentError("offset", f"{offset!r}; it must be zero or positive.")


def run_search(
    searcher: Searcher,
    config: Config,
    query: str | ParsedQuery,
    *,
    category: str | list[str] | tuple[str, ...] | None = None,
    tags: str | list[str] | tuple[str, ...] | None = None,
    since: DateLike | None = None,
    until: DateLike | None = None,
    sort: str = "relevance",
    limit: int | None = 10,
    offset: int = 0,
    synonyms: Synonyms = NO_SYNONYMS,
    suggest: bool = True,
    facets: bool = True,
    facet_limit: int | None = 20,
    half_life_days: float | None = None,
    collapse: bool = True,
) -> SearchResults:
    """Search with ``searcher``; see :meth:`newsearch.NewsIndex.search`."""
    check_paging(sort, limit, offset)
    if half_life_days is None:
        half_life_days = config.ranking.half_life_days
    elif not (isinstance(half_life_days, (int, float)) and half_life_days > 0):
        raise InvalidArgumentError("half_life_days", f"{half_life_days!r}; it must be a positive number of days.")
    vocab = IndexVocabulary(searcher)
    flt = selection_filter(vocab, category=category, tags=tags, since=since, until=until)
    parsed = query if isinstance(query, ParsedQuery) else parse(query)
    q = compile_query(parsed, vocab=vocab, title_boost=config.ranking.title_boost, synonyms=synonyms)
    counter = FacetCounter() if facets else None
    if flt is wq.NullQuery or q is wq.NullQuery:
        return SearchResults(
            parsed.text, 0, [], offset, limit, sort, facets=counter.facets(facet_limit) if counter else None, collapsed=collapse
        )

    if isinstance(q, wq.Every) and sort != "date":
        sort = "-date"  # nothing to rank by: newest first
    groups = Groups(DUP_BANDS, DUP_SKETCH, term_postings, column_reader) if collapse else None

    def each_segment(reader: Any, scores: dict[int, float]) -> None:
        if counter is not None:
            counter.add(reader, scores)
        if groups is not None:
            groups.add(reader, scores)

    def ranked(count: int | None, start: int, first: bool) -> tuple[int, list[execute.Match]]:
        return execute.search(
            searcher,
            q,
            flt,
            sort=sort,
            limit=count,
            offset=start,
            half_life_days=half_life_days,
            each_segment=each_segment if first else None,
        )

    versions: list[list[tuple[Any, int]]] = []
    if groups is None:
        total, matches = ranked(limit, offset, True)
    else:
        total, matches, versions = _collapsed_page(ranked, groups, offset, limit)
    patterns = parsed.highlight_patterns(synonyms)
    hits = [
        make_hit(match, patterns, config, versions[number] if versions else ()) for number, match in enumerate(matches)
    ]
    suggestion = None
    if total == 0 and suggest and flt is not wq.NullQuery:
        suggestion = _suggest(searcher, vocab, parsed, flt, lambda text: _count(searcher, config, text, flt, vocab, synonyms))
    return SearchResults(
        parsed.text,
        total,
        hits,
        offset,
        limit,
        sort,
        suggestion,
        counter.facets(facet_limit) if counter else None,
        collapsed=collapse,
    )


def _collapsed_page(
    ranked: Any, groups: Groups, offset: int, limit: int | None
) -> tuple[int, list[execute.Match], list[list[tuple[Any, int]]]]:
    """(total, the page's group leaders, the near-duplicates of each), reading the
    ranked matches in growing batches until the page is full."""
    matches: list[execute.Match] = []
    versions: list[list[tuple[Any, int]]] = []
    wanted = None if limit is None else offset + limit
    fetch = None if wanted is None else 2 * wanted + 10  # near-duplicates are few: rarely a second batch
    total, batch = ranked(fetch, 0, True)
    seen = 0
    while True:
        for match, group in groups.representatives(batch):
            matches.append(match)
            versions.append(group)
            if wanted is not None and len(matches) == wanted:
                break
        seen += len(batch)
        if (wanted is not None and len(matches) == wanted) or seen >= total:
            break
        fetch = None if fetch is None or fetch * 4 >= total else fetch * 4
        _, batch = ranked(None if fetch is None else fetch - seen, seen, False)
    return total, matches[offset:], versions[offset:]


def make_hit(match: execute.Match, patterns: list[Any], config: Config, versions: Any = ()) -> Hit:
    """A hit copied out of the index, its snippet highlighting ``patterns``; ``versions``
    are (segment reader, docnum) of its near-duplicates."""
    reader = match.reader
    stored = reader.stored_fields(match.docnum)
    nbody = column_reader(reader, NBODY)[match.docnum].decode("utf-8")
    body = restore_body(nbody, stored.get(BODY_DIFF))
    return Hit(
        id=stored["id"],
        title=stored.get("title", ""),
        path=stored.get(PATH, ""),
        date=stored.get(DATE),
        categories=list(stored.get(CATEGORIES) or ()),
        tags=list(stored.get(TAGS) or ()),
        url=stored.get("url"),
        score=match.score,
        snippet=make_snippet(body, patterns, config.snippets, normalized=nbody) if body else Snippet(),
        utcoffset_minutes=stored.get(UTCOFFSET),
        versions=tuple(_version(r, d) for r, d in versions),
    )


def _version(reader: Any, docnum: int) -> Version:
    stored = reader.stored_fields(docnum)
    return Version(stored["id"], stored.get(TITLE, ""), stored.get(DATE), stored.get(UTCOFFSET))


def _count(searcher: Searcher, config: Config, text: str, flt: wq.Query | None, vocab: IndexVocabulary, synonyms: Synonyms) -> int:
    q = compile_query(parse(text), vocab=vocab, title_boost=config.ranking.title_boost, synonyms=synonyms)
    if q is wq.NullQuery:
        return 0
    return execute.count(searcher, q, flt)


_MAX_SUGGESTION_TRIES = 12
_MAX_SPELLED = 16  # longer terms are not spelling-corrected


def _suggest(
    searcher: Searcher, vocab: IndexVocabulary, parsed: ParsedQuery, flt: wq.Query | None, count: Any
) -> str | None:
    """A query close to ``parsed`` that has matches, from the index's own vocabulary:
    a spelling correction of a term, then the term split into known words, then the
    query without one of its terms."""
    node = parsed.node
    items = list(node.items) if isinstance(node, And) else [node] if node is not None else []
    texts = [i for i in items if isinstance(i, Text) and i.field not in KEYWORD_FIELDS]
    if not texts:
        return None
    candidates: list[str] = []

    def rewrite(old: Text, new_terms: list[str]) -> str:
        parts = [" ".join(new_terms) if i is old else i.to_query() if isinstance(i, Text) else None for i in items]
        if any(p is None for p in parts):  # date ranges, NOT... keep the simple cases only
            return ""
        return " ".join(p for p in parts if p)

    for text in texts:
        literal = normalize(text.text)
        if len(literal) > _MAX_SPELLED or vocab.has(literal):
            continue  # a word of the index is no misspelling: the other terms or the filter found nothing
        # The first character is kept: Whoosh compares every term that starts
        # with it (without that, every term of the field, pure Python, ~1 s at 20k).
        fixes = {
            fix for field in (TITLE, BODY) for fix in searcher.suggest(field, literal, limit=3, maxdist=1, prefix=1)
        }
        # A substituted character (人民比 → 人民币) before an added or dropped one.
        for fix in sorted(fixes - {literal}, key=lambda f: (len(f) != len(literal), f))[:2]:
            candidates.append(rewrite(text, [fix]))
    for text in texts:
        words = vocab.words(normalize(text.text))
        if len(words) > 1:
            candidates.append(rewrite(text, words))
            candidates.extend(rewrite(text, words[:i] + words[i + 1 :]) for i in range(len(words)))
    if len(texts) > 1:
        candidates.extend(rewrite(text, []) for text in texts)
        candidates.extend(text.to_query() for text in texts)
    tried = 0
    for candidate in dict.fromkeys(c for c in candidates if c and c != parsed.text):
        if tried == _MAX_SUGGESTION_TRIES:
            break
        tried += 1
        if count(candidate):
            return candidate
    return None


def collect_stats(searcher: Searcher, path: str, size_bytes: int, top: int | None = None) -> IndexStats:
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
    )
