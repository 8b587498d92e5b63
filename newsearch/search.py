"""A search request → ranked hits with snippets and facets, read from one searcher.

Everything returned is copied out of the index (:mod:`newsearch.results`),
so results stay valid after the searcher is closed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field as _field
from typing import Any

from . import execute
from .analysis import normalize, word_lookup
from .compiler import CompiledPlan, IndexVocabulary, compile_plan, compile_query, matches_everything, matches_nothing, selection_filter
from .config import Config
from .dupes import Groups
from .facets import FacetCounter, day_numbers
from .fields import (
    BODY,
    BODY_DIFF,
    CATEGORIES,
    DATE,
    DUP_SKETCH,
    DUP_WORDS,
    KEYWORD_FIELDS,
    NBODY,
    NTITLE,
    PATH,
    TAGS,
    TITLE,
    UTCOFFSET,
    restore_body,
)
from .highlight import find_spans, make_snippet
from .query import And, ParsedQuery, Text, parse
from .ranking import RelaxedSearch
from .statistics import Statistics, local_statistics
from .readers import column_reader, id_keys
from .request import SearchRequest
from .results import Hit, SearchResults, Snippet, Version
from .synonyms import NO_SYNONYMS, Synonyms
from .understand import STOPWORDS
from .understand import plan as understand

__all__ = ["Prepared", "collapse_fetch", "group_leaders", "make_hit", "matches_sink", "normalized_text", "prepare", "run_search", "short_item_groups", "suggest_query", "version_of"]


@dataclass
class Prepared:
    """A request read against an index: what every way of answering it starts from."""

    parsed: ParsedQuery
    flt: Any
    q: Any
    sort: str
    half_life_days: float
    compiled: CompiledPlan | None = None
    relaxed: RelaxedSearch | None = None
    patterns: list[re.Pattern[str]] = _field(default_factory=list)
    nothing: bool = False  # known to match no article


def prepare(
    searcher: Any, config: Config, request: SearchRequest, synonyms: Synonyms, statistics: Statistics | None
) -> Prepared:
    half_life_days = request.half_life_days or config.ranking.half_life_days
    vocab = IndexVocabulary(searcher, statistics)
    flt = selection_filter(request, vocab)
    parsed = parse(request.query)
    user_dicts = config.analysis.user_dicts
    plan = None if request.exact else understand(parsed, user_dicts)
    q = compile_query(parsed, vocab=vocab, title_boost=config.ranking.title_boost, synonyms=synonyms)
    prepared = Prepared(parsed, flt, q, request.sort, half_life_days)
    if matches_nothing(flt) or (plan is None and matches_nothing(q)):
        prepared.nothing = True
        return prepared
    if matches_everything(q) and prepared.sort != "date":
        prepared.sort = "-date"  # nothing to rank by: newest first
    if plan is not None:
        prepared.compiled = compile_plan(
            plan, vocab=vocab, title_boost=config.ranking.title_boost, compound_gap=config.ranking.compound_gap, synonyms=synonyms
        )
        prepared.relaxed = RelaxedSearch(
            searcher,
            prepared.compiled,
            flt,
            config.ranking,
            sort=prepared.sort,
            half_life_days=half_life_days,
            is_word=word_lookup(user_dicts),
            statistics=statistics,
        )
    prepared.patterns = highlight_patterns(parsed, synonyms, prepared.compiled)
    return prepared


def run_search(
    searcher: Any,
    config: Config,
    request: SearchRequest,
    synonyms: Synonyms = NO_SYNONYMS,
    statistics: Statistics | None = None,
) -> SearchResults:
    """Run ``request`` with ``searcher``; see :meth:`newsearch.NewsIndex.search`.
    ``statistics``: the archive's, when the searcher's index is a shard of it."""
    limit, offset = request.limit, request.offset
    prepared = prepare(searcher, config, request, synonyms, statistics)
    parsed, flt, q, sort, relaxed = prepared.parsed, prepared.flt, prepared.q, prepared.sort, prepared.relaxed
    explain = parsed.explain() if request.explain else None
    counter = FacetCounter() if request.facets else None
    if prepared.nothing:
        facets = counter.facets(request.facet_limit) if counter else None
        return SearchResults(parsed.text, 0, [], offset, limit, sort, facets=facets, collapsed=request.collapse, explain=explain)

    groups = short_item_groups() if request.collapse else None

    each_segment = matches_sink(counter, groups)
    wants_matches = each_segment is not None

    def ranked(count: int | None, start: int, first: bool) -> tuple[int, list[execute.Match]]:
        first = first and wants_matches
        if relaxed is not None:
            return relaxed.ranked(count, start, each_segment if first else None)
        return execute.search(
            searcher,
            q,
            flt,
            sort=sort,
            limit=count,
            offset=start,
            half_life_days=prepared.half_life_days,
            each_segment=each_segment if first else None,
            statistics=statistics,
        )

    versions: list[list[tuple[Any, int]]] = []
    if groups is None:
        total, matches = ranked(limit, offset, True)
    else:
        total, matches, versions = _collapsed_page(ranked, groups, offset, limit)
    hits = [
        make_hit(match, prepared.patterns, config, versions[number] if versions else (), explain=request.explain)
        for number, match in enumerate(matches)
    ]
    suggestion = None
    if total == 0:
        suggestion = suggest_query(searcher, config, parsed, flt, synonyms, statistics)
    return SearchResults(
        parsed.text,
        total,
        hits,
        offset,
        limit,
        sort,
        suggestion,
        counter.facets(request.facet_limit) if counter else None,
        collapsed=request.collapse,
        explain=explain,
        exact_total=relaxed.exact_total if relaxed is not None else total,
    )


def matches_sink(counter: FacetCounter | None, groups: Groups | None) -> Callable[[Any, Collection[int]], None] | None:
    """What sees every segment's matches: the facet counts and the near-duplicate
    groups a search asks for (None when it asks for neither)."""
    if counter is None and groups is None:
        return None

    def each_segment(reader: Any, scores: Collection[int]) -> None:
        if counter is not None:
            counter.add(reader, scores)
        if groups is not None:
            groups.add(reader, scores)

    return each_segment


def suggest_query(
    searcher: Any, config: Config, parsed: ParsedQuery, flt: Any, synonyms: Synonyms, statistics: Statistics | None
) -> str | None:
    """A query like ``parsed`` that has matches (see :func:`_suggest`), for a search that had none."""
    vocab = IndexVocabulary(searcher, statistics)
    found = statistics if statistics is not None else local_statistics(searcher)
    scope = repr(flt)

    def count(text: str) -> int:
        q = compile_query(parse(text), vocab=vocab, title_boost=config.ranking.title_boost, synonyms=synonyms)
        return 0 if matches_nothing(q) else found.total(("count", repr(q), scope), lambda: execute.count(searcher, q, flt))

    def fixes(field: str, literal: str) -> list[str]:
        # The first character is kept: Whoosh compares every term that starts
        # with it (without that, every term of the field, pure Python, ~1 s at 20k).
        return found.union(("fixes", field, literal), lambda: searcher.suggest(field, literal, limit=3, maxdist=1, prefix=1))

    return _suggest(vocab, parsed, count, fixes)


def _collapsed_page(
    ranked: Any, groups: Groups, offset: int, limit: int | None
) -> tuple[int, list[execute.Match], list[list[tuple[Any, int]]]]:
    """(total, the page's group leaders, the near-duplicates of each), reading the
    ranked matches in growing batches until the page is full."""
    wanted = None if limit is None else offset + limit
    fetch = collapse_fetch(wanted)
    total, batch = ranked(fetch, 0, True)
    matches, versions = group_leaders(
        batch, groups.representatives, lambda end, seen: ranked(None if end is None else end - seen, seen, False)[1], total, wanted, fetch
    )
    return total, matches[offset:], versions[offset:]


def collapse_fetch(wanted: int | None) -> int | None:
    """How many of the ranked matches a collapsed page of ``wanted`` reads first."""
    return None if wanted is None else 2 * wanted + 10  # near-duplicates are few: rarely a second batch


def group_leaders(
    batch: Sequence[Any],
    representatives: Callable[[Sequence[Any]], Iterable[tuple[Any, Any]]],
    more: Callable[[int | None, int], Sequence[Any]],
    total: int,
    wanted: int | None,
    fetch: int | None,
) -> tuple[list[Any], list[Any]]:
    """The first ``wanted`` group leaders of the ranked matches and their groups:
    ``batch`` is the first ``fetch`` of the ``total``, ``more(end, seen)`` the matches
    from ``seen`` up to a larger ``end`` (four times as many; None: all), read when the
    groups took too many (one index's segments and a cluster's shards walk alike)."""
    leaders: list[Any] = []
    groups: list[Any] = []
    seen = 0
    while True:
        for item, group in representatives(batch):
            leaders.append(item)
            groups.append(group)
            if wanted is not None and len(leaders) == wanted:
                break
        seen += len(batch)
        if (wanted is not None and len(leaders) == wanted) or seen >= total:
            break
        fetch = None if fetch is None or fetch * 4 >= total else fetch * 4
        batch = more(fetch, seen)
    return leaders, groups


def highlight_patterns(parsed: ParsedQuery, synonyms: Synonyms, compiled: CompiledPlan | None) -> list[re.Pattern[str]]:
    """What a search's hits mark: the query's strings as typed, and the words that a
    related match may hold instead (``compiled``, when the query was understood)."""
    patterns = parsed.highlight_patterns(synonyms)
    if compiled is not None:
        patterns += [pattern for concept in compiled.concepts for pattern in concept.patterns]
    return patterns


def short_item_groups() -> Groups:
    """Near-duplicate groups, rewordings of short items included (:mod:`newsearch.dupes`)."""
    return Groups(DUP_SKETCH, column_reader, words=DUP_WORDS, text=normalized_text, day=_day, tie=_tie)


def normalized_text(reader: Any, docnum: int) -> str:
    """An article's normalized title and body."""
    title: bytes = column_reader(reader, NTITLE)[docnum]
    body: bytes = column_reader(reader, NBODY)[docnum]
    return title.decode("utf-8") + "\n" + body.decode("utf-8")


def _tie(reader: Any, docnum: int) -> int:
    return id_keys(reader)[docnum]


def _day(reader: Any, docnum: int) -> int:
    return day_numbers(reader)[docnum]


def make_hit(match: execute.Match, patterns: list[Any], config: Config, versions: Any = (), *, explain: bool = False) -> Hit:
    """A hit copied out of the index, its snippet highlighting ``patterns``; ``versions``
    are (segment reader, docnum) of its near-duplicates; with ``explain``, how its
    score was made."""
    reader = match.reader
    stored = reader.stored_fields(match.docnum)
    nbody = column_reader(reader, NBODY)[match.docnum].decode("utf-8")
    body = restore_body(nbody, stored.get(BODY_DIFF))
    title = stored.get("title", "")
    return Hit(
        id=stored["id"],
        title=title,
        title_highlights=tuple(find_spans(title, patterns)),
        path=stored.get(PATH, ""),
        date=stored.get(DATE),
        categories=list(stored.get(CATEGORIES) or ()),
        tags=list(stored.get(TAGS) or ()),
        url=stored.get("url"),
        score=match.score,
        snippet=make_snippet(body, patterns, config.snippets, normalized=nbody) if body else Snippet(),
        utcoffset_minutes=stored.get(UTCOFFSET),
        versions=tuple(version_of(r, d) for r, d in versions),
        match="related" if match.related else "exact",
        explanation=(match.explanation or {"score": round(match.score, 4)}) if explain else None,
    )


def version_of(reader: Any, docnum: int) -> Version:
    """A document as a near-duplicate of a hit."""
    stored = reader.stored_fields(docnum)
    return Version(stored["id"], stored.get(TITLE, ""), stored.get(DATE), stored.get(UTCOFFSET))


_MAX_SUGGESTION_TRIES = 12


def _most_common_first(terms: list[str], count: Callable[[str], int]) -> list[str]:
    """``terms`` in the order to drop them: those no article holds, then from the one the
    most articles hold to the rarest."""
    counts = {term: count(term) for term in terms}
    return sorted(terms, key=lambda term: (counts[term] > 0, -counts[term], terms.index(term)))
_MAX_SPELLED = 16  # longer terms are not spelling-corrected


def _suggest(
    vocab: IndexVocabulary, parsed: ParsedQuery, count: Callable[[str], int], fixes_of: Callable[[str, str], list[str]]
) -> str | None:
    """A query close to ``parsed`` that has matches, from the index's own vocabulary:
    a spelling correction of a term, then the term split into the index's words, then
    the query without its most common words, never without its rarest one."""
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
        fixes = {fix for field in (TITLE, BODY) for fix in fixes_of(field, literal)}
        # A substituted character (人民比 → 人民币) before an added or dropped one.
        for fix in sorted(fixes - {literal}, key=lambda f: (len(f) != len(literal), f))[:2]:
            candidates.append(rewrite(text, [fix]))
    for text in texts:
        # The term as the index's words, function words left out; then without its
        # most common words, one at a time, never without its rarest.
        words = [w for w in vocab.words(normalize(text.text)) if w not in STOPWORDS]
        if len(words) > 1:
            candidates.append(rewrite(text, words))
            for word in _most_common_first(words, count)[:-1]:
                candidates.append(rewrite(text, [w for w in words if w != word]))
    if len(texts) > 1:
        # Without its most common terms, one at a time; never without its rarest.
        by_frequency = _most_common_first([text.to_query() for text in texts], count)
        for dropped in by_frequency[:-1]:
            candidates.append(rewrite(next(t for t in texts if t.to_query() == dropped), []))
        candidates.append(by_frequency[-1])
    tried = 0
    for candidate in dict.fromkeys(c for c in candidates if c and c != parsed.text):
        if tried == _MAX_SUGGESTION_TRIES:
            break
        tried += 1
        if count(candidate):
            return candidate
    return None
