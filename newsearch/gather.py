"""A search over the shards of an archive, answered as one index of the whole archive
would answer it: the same ids in the same order, the same scores, totals and facets.

Each shard is an ordinary index holding part of the articles.  A search runs as
Elasticsearch's ``dfs_query_then_fetch`` does:

1. **Statistics.**  Every shard runs the search with the archive's statistics known
   so far (:class:`~newsearch.statistics.SharedStatistics`) and reports what it had to
   answer from its own part.  The coordinator adds the shards' values up
   (:func:`~newsearch.statistics.combine`) and asks again, until no shard lacks any:
   usually two rounds, the first with nothing known (see ``_MATCHES``).
2. **Query.**  The last round's answers hold each shard's total, facet counts and
   best matches (:class:`~newsearch.execute.Candidate`), which are merged in the order
   one index gives (:func:`~newsearch.ranking.merge_candidates`).
3. **Fetch.**  The shards that hold the page's articles make their hits, snippets
   included: only those.

The calls to the shards go through a ``FanOut``, which calls one method on every
shard at once and returns each one's answer or the exception it raised: in this
process (:func:`local_fan_out`), or on the workers of a cluster
(:mod:`newsearch.cluster`).  A shard that fails is left out and named in the
results (``shards.failed``): the others' results are returned, flagged as partial.

What answers as a shard may be several shards read as one index of all their segments
(:class:`Joined`, ``parts=``): those that one worker holds.  Nothing else changes: any
index of part of the archive answers its share of a search the same way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
import dataclasses
import hashlib
import heapq
import math
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, TypeVar

from . import execute
from .config import Config
from .errors import ArticleNotFoundError, NewsearchError
from .facets import FacetCounter
from .highlight import find_spans
from .query import parse
from .ranking import Placed, RelaxedSearch, merge_candidates
from .request import SearchRequest, Selection
from .results import Hit, SearchResults, ShardFailure, ShardsReport, Topic, Version
from .dupes import Groups, Short, SketchTable, Walk
from .fields import BODY, ID, TITLE, shard_of
from .search import Prepared, collapse_fetch, group_leaders, make_hit, matches_sink, normalized_text, prepare, short_item_groups, suggest_query, version_of
from .similar import key_terms, similar_fetch, similar_query
from .readers import segment_state
from .store import joined_searcher
from .statistics import SharedStatistics, Statistics, StatisticsTable, combine
from .synonyms import Synonyms
from .topics import significant_keywords

_T = TypeVar("_T")

__all__ = ["Agreed", "FanOut", "Joined", "Readable", "Shard", "StatisticsCache", "gather_similar", "gather_topics", "shard_highlight", "shard_topics", "ShardPage", "gather", "local_fan_out", "shard_hits", "shard_page", "shard_state", "shard_values"]

MAX_ROUNDS = 12
"""Rounds of the statistics phase at most: each one adds at least one value."""

FanOut = Callable[[str, dict[int, tuple[Any, ...]]], dict[int, Any]]
"""``fan_out(method, calls)`` calls ``method(*calls[i])`` on shard ``i`` for each ``i``
of ``calls``, at once, and returns each one's answer, or the exception it raised."""

_PRIMITIVE = ("docs", "docs_all", "df", "length", "word", "term", "keywords")  # any shard can say its own
_MATCHES = "matches"
"""The archive's total of a query's matches, which a shard asks for once its ranking had
every other statistic, to suggest another query when it is 0.  When it is not, the
answers that asked for it are final: another round would only learn that no shard
suggests anything."""


class ShardChangedError(NewsearchError):
    """A shard committed between the phases of a search (its matches are numbered anew)."""


@dataclass
class ShardPage:
    """A shard's answer to the query phase."""

    total: int
    exact_total: int
    counter: FacetCounter | None
    candidates: list[execute.Candidate]
    sort: str
    relaxed: bool
    suggestion: str | None
    missing: StatisticsTable
    state: tuple[str, ...]
    near: dict[tuple[int, int], tuple[bytes, Short | None]] = field(default_factory=dict)
    """For collapsing: each candidate's sketch, and what a short item is compared on."""
    own: tuple[int, int] | None = None
    """For a :class:`SimilarRequest`: where the article itself is, on the shard that holds it."""
    hits: dict[tuple[int, int], Hit] = field(default_factory=dict)
    """The hits of its first candidates, made at once for a first page (saving the fetch
    phase's round trip when the page is theirs); the coordinator sets their scores."""


@dataclass(frozen=True)
class SimilarRequest:
    """What the shards are asked for the articles like one (``article_id``): its key
    terms as the archive weighs them, searched as one query (:mod:`newsearch.similar`)."""

    article_id: str
    terms: tuple[tuple[str, float], ...]
    facets: bool = False
    collapse: bool = True
    explain: bool = False


@dataclass(frozen=True)
class ShardSearch:
    """One search as each of its rounds tells a shard: the request, the archive's
    statistics gathered so far, how far down the order it goes (``end``), the
    coordinator's token for it (what the shard kept of it is found by), how many of
    the ranking's head the shard reads from their text at once (``read``), and, after
    the query round, the state of the shard that round read (the later rounds must
    find the same)."""

    request: SearchRequest | SimilarRequest
    table: StatisticsTable
    end: int | None
    token: str = ""
    read: int | None = None
    state: tuple[str, ...] = ()


class _Kept(NamedTuple):
    """What a shard keeps of a search's query round for the later rounds: the state it
    read, its near-duplicate lookup (to collapse), its ranking (to read more of its
    head) and the patterns its snippets highlight; and its number of matches, which
    its memory grows with."""

    state: tuple[str, ...]
    groups: Groups | None
    relaxed: RelaxedSearch | None
    patterns: list[Any]
    matches: int


def _prepared(
    searcher: Any, config: Config, request: SearchRequest | SimilarRequest, synonyms: Synonyms, statistics: Statistics
) -> Prepared:
    if isinstance(request, SearchRequest):
        return prepare(searcher, config, request, synonyms, statistics)
    q, patterns = similar_query(list(request.terms), config)
    return Prepared(parse(""), None, q, "relevance", config.ranking.half_life_days, patterns=patterns)


def shard_state(searcher: Any) -> tuple[str, ...]:
    """What identifies the committed state a shard's searcher reads: its segments and
    their deletions."""
    return tuple(segment_state(reader) for reader, _base in searcher.reader().leaf_readers())


def shard_page(
    searcher: Any,
    config: Config,
    request: SearchRequest | SimilarRequest,
    synonyms: Synonyms,
    table: StatisticsTable,
    end: int | None,
    ahead: int = 0,
    read: int | None = None,
) -> tuple[ShardPage, _Kept | None]:
    """The query phase on one shard, with the archive's statistics in ``table``: its
    matches up to ``end``, and what the later rounds read of it (None for a round
    that lacked some statistics); the hits of its best ``ahead`` matches too (the
    page's, likely).  Of the ranking's head, only the best ``read`` are read from their
    text (None: all of it)."""
    statistics = SharedStatistics(searcher.reader(), table)
    prepared = _prepared(searcher, config, request, synonyms, statistics)
    # A round whose query already lacks some of the archive's statistics will be asked
    # again with them: it only has to learn what else the ranking reads, so it reads
    # none of the head from its text, counts no facets and groups no near-duplicates.
    gathering = bool(statistics.missing)
    if gathering:
        read = 0
    if read is not None and prepared.relaxed is not None:
        prepared.relaxed.read_first(read)
    counter = FacetCounter() if request.facets and not gathering else None
    groups = short_item_groups() if request.collapse and not gathering else None

    each = matches_sink(counter, groups)

    total, exact = 0, 0
    found: list[execute.Candidate] = []
    if prepared.nothing:
        pass
    elif prepared.relaxed is not None:
        total, found = prepared.relaxed.candidates(end, each)
        exact = prepared.relaxed.exact_total
    else:
        total, found = execute.candidates(
            searcher,
            prepared.q,
            prepared.flt,
            sort=prepared.sort,
            end=end,
            half_life_days=prepared.half_life_days,
            each_segment=each,
            statistics=statistics,
        )
        exact = total
    if gathering and not prepared.nothing:
        # A shard where no title (say) holds a word of the query reads no document
        # frequency of it there; the coordinator would ask in a round of its own for
        # what some shards read and others did not.  Every shard reads them all here.
        for field, text in prepared.q.iter_all_terms():
            if field in (TITLE, BODY):
                statistics.doc_frequency(field, text)
        for field in (TITLE, BODY):
            statistics.avg_field_length(field)
    suggestion = None
    # The ranking had every statistic it needed from the archive: these are the shard's
    # final matches (the archive's total of them is asked next, see _MATCHES).
    complete = not statistics.missing
    # Only once everything before is the archive's: then every shard asks for the same total.
    matches = (_MATCHES, _digest(repr((prepared.q, prepared.flt, prepared.compiled))))
    if complete and statistics.total(matches, lambda: total) == 0 and not prepared.nothing:
        suggestion = suggest_query(searcher, config, prepared.parsed, prepared.flt, synonyms, statistics)
    page = ShardPage(
        total, exact, counter, found, prepared.sort, prepared.relaxed is not None, suggestion, statistics.missing, shard_state(searcher)
    )
    if isinstance(request, SimilarRequest):
        page.own = _located(searcher, request.article_id)
    elif complete and ahead:
        leaves = searcher.leaf_searchers()
        for c in found[:ahead]:
            match = execute.Match(c.score, leaves[c.ref[0]][0].reader(), c.ref[1], c.related, c.explanation)
            page.hits[c.ref] = make_hit(match, prepared.patterns, config, (), explain=request.explain)
    if groups is not None and complete:
        leaves = searcher.leaf_searchers()
        for number, docnum in [c.ref for c in found] + ([page.own] if page.own is not None else []):
            reader = leaves[number][0].reader()
            page.near[(number, docnum)] = (groups.sketch(reader, docnum), groups.short(reader, docnum))
    return page, None if gathering else _Kept(page.state, groups, prepared.relaxed, prepared.patterns, total)


def _located(searcher: Any, article_id: str) -> tuple[int, int] | None:
    """(segment number, docnum) of an article in a searcher, or None."""
    docnum = searcher.document_number(**{ID: article_id})
    if docnum is None:
        return None
    for number, (leaf, base) in enumerate(searcher.leaf_searchers()):
        if base <= docnum < base + leaf.reader().doc_count_all():
            return number, docnum - base
    return None


def shard_similar_terms(searcher: Any, config: Config, article_id: str, table: StatisticsTable) -> Agreed:
    """An article's key terms as the archive weighs them (None: no such article here)."""
    statistics = SharedStatistics(searcher.reader(), table)
    docnum = searcher.document_number(**{ID: article_id})
    if docnum is None:
        return Agreed(None, {}, shard_state(searcher))
    text = normalized_text(searcher.reader(), docnum)
    terms = key_terms(searcher, text, config.analysis.user_dicts, statistics=statistics)
    return Agreed(tuple(terms), statistics.missing, shard_state(searcher))


def shard_alike(
    searcher: Any, groups: Groups, leaders: Sequence[tuple[bytes, str | None]]
) -> list[list[tuple[float, int, tuple[int, int], Version]]]:
    """For each (sketch, text of a short item) of ``leaders``: its near-duplicates among
    the shard's matches (``groups``), as (similarity, id key, (segment number, docnum),
    the near-duplicate as a hit's version)."""
    numbers = {id(leaf.reader()): number for number, (leaf, _base) in enumerate(searcher.leaf_searchers())}
    versions: dict[tuple[int, int], Version] = {}  # (a match alike several leaders is read once)

    def version(reader: Any, docnum: int) -> Version:
        key = (numbers[id(reader)], docnum)
        found = versions.get(key)
        if found is None:
            found = versions[key] = version_of(reader, docnum)
        return found

    return [
        [(score, tie, (numbers[id(reader)], docnum), version(reader, docnum)) for score, tie, reader, docnum in found]
        for found in groups.alike_sketches(leaders)
    ]


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def shard_values(searcher: Any, keys: Sequence[tuple[Any, ...]]) -> StatisticsTable:
    """A shard's own values of statistics any shard can compute without a query."""
    statistics = SharedStatistics(searcher.reader(), {})
    return {key: statistics.local(key) for key in keys}


Pick = tuple[tuple[int, int], float, bool, dict[str, Any] | None]
"""A match to make a hit of: (segment number, docnum), score, related, explanation."""


def shard_hits(
    searcher: Any, config: Config, synonyms: Synonyms, search: ShardSearch, picks: list[Pick], patterns: list[Any] | None = None
) -> list[Hit]:
    """The fetch phase of ``search`` on one shard: hits of its matches ``picks``
    ((segment number, docnum), score, related, explanation), with snippets that
    highlight ``patterns`` (the query's, prepared again when not given)."""
    if shard_state(searcher) != search.state:
        raise ShardChangedError("the shard committed during the search")
    if patterns is None:
        patterns = _prepared(searcher, config, search.request, synonyms, SharedStatistics(searcher.reader(), search.table)).patterns
    leaves = searcher.leaf_searchers()
    hits = []
    for (number, docnum), score, related, explanation in picks:
        match = execute.Match(score, leaves[number][0].reader(), docnum, related, explanation)
        hits.append(make_hit(match, patterns, config, (), explain=search.request.explain))
    return hits


class Readable(Protocol):
    """An index that runs ``work(searcher, config, synonyms)`` on its latest committed
    state (:class:`newsearch.NewsIndex`)."""

    def _read(self, work: Callable[[Any, Config, Synonyms], _T]) -> _T: ...


class Joined:
    """Shards that one worker holds, read as one index of all their segments: a search
    on them then compiles its query, reads its statistics and the ranking's head and
    makes its page's hits once for them all, not once per shard.  (A shard is an
    ordinary index, and an index of several segments already answers as the
    archive's part that they hold together.)"""

    def __init__(self, indexes: Sequence[Readable]) -> None:
        self.indexes = list(indexes)
        self._joined: tuple[tuple[Any, ...], Any] | None = None  # (the shards' searchers, their joined searcher)

    def _read(self, work: Callable[[Any, Config, Synonyms], _T]) -> _T:
        searchers: list[Any] = []

        def each(searcher: Any, config: Config, synonyms: Synonyms) -> _T:
            searchers.append(searcher)
            if len(searchers) < len(self.indexes):
                return self.indexes[len(searchers)]._read(each)  # noqa: SLF001
            return work(self._searcher(tuple(searchers)), config, synonyms)

        return self.indexes[0]._read(each)  # noqa: SLF001

    def _searcher(self, searchers: tuple[Any, ...]) -> Any:
        """One searcher over the segments of ``searchers`` (kept while they are the shards' latest)."""
        joined = self._joined
        if joined is None or any(a is not b for a, b in zip(joined[0], searchers)):
            joined = self._joined = (searchers, joined_searcher(searchers))
        return joined[1]


class Shard:
    """One shard's side of :func:`gather`: an ordinary index of part of the archive.

    It keeps what the later rounds of its last searches read of their query round (by
    the token the coordinator gives each search): the near-duplicate lookup that
    collapsing asks for, the ranking, the patterns to highlight.  One that is gone (the
    shard restarted, or more searches came between) is made again."""

    _KEPT = 64
    """Searches whose lookups are kept: more than a server has in flight (its 40 request
    threads).  Under load every search's query phase reaches a shard before the first
    near-duplicate round does; with 16 kept, 20 clients at once made 584 of 600 lookups
    again."""
    _KEPT_MATCHES = 2_000_000
    """And the matches of the searches kept, at most, but for the last one: a search
    keeps 130 to 800 bytes a match of this shard (at 50,000 articles a shard, 0.05 to
    1 MB for most queries, 7 MB for one that every article matches), so that the kept
    searches stay within about 0.3 to 1.6 GB however large the shard."""

    def __init__(self, index: Readable) -> None:
        self.index = index
        self._kept: OrderedDict[str, _Kept] = OrderedDict()  # per search (its token)

    def page(self, search: ShardSearch, ahead: int = 0) -> ShardPage:
        """The query round of ``search`` (see :func:`shard_page`)."""

        def work(searcher: Any, config: Config, synonyms: Synonyms) -> ShardPage:
            page, kept = shard_page(searcher, config, search.request, synonyms, search.table, search.end, ahead, search.read)
            if search.token and kept is not None:
                self._keep(search.token, kept)
            return page

        return self.index._read(work)  # noqa: SLF001

    def _keep(self, token: str, kept: _Kept) -> None:
        self._kept[token] = kept
        self._kept.move_to_end(token)
        while len(self._kept) > 1 and (
            len(self._kept) > self._KEPT or sum(each.matches for each in self._kept.values()) > self._KEPT_MATCHES
        ):
            self._kept.popitem(last=False)

    def _kept_for(self, search: ShardSearch) -> _Kept | None:
        """What the query round of ``search`` kept, if it is still here."""
        kept = self._kept.get(search.token)
        return kept if kept is not None and kept.state == search.state else None

    def _search(self, searcher: Any, config: Config, synonyms: Synonyms, search: ShardSearch) -> _Kept:
        """What the query round of ``search`` kept (made again when it is gone)."""
        if shard_state(searcher) != search.state:
            raise ShardChangedError("the shard committed during the search")
        kept = self._kept_for(search)
        if kept is None:
            _page, kept = shard_page(searcher, config, search.request, synonyms, search.table, search.end, 0, search.read)
            assert kept is not None  # (the statistics of a later round are complete)
            self._keep(search.token, kept)
        return kept

    def read(self, search: ShardSearch, refs: list[tuple[int, int]]) -> list[tuple[float, dict[str, Any] | None]]:
        """The scores read from the text of matches ``refs`` that the query round left
        unread (see :meth:`newsearch.ranking.RelaxedSearch.read_first`)."""

        def work(searcher: Any, config: Config, synonyms: Synonyms) -> list[tuple[float, dict[str, Any] | None]]:
            relaxed = self._search(searcher, config, synonyms, search).relaxed
            assert relaxed is not None
            return relaxed.read(refs)

        return self.index._read(work)  # noqa: SLF001

    def alike(
        self, search: ShardSearch, leaders: Sequence[tuple[bytes, str | None]], picks: list[Pick] | None = None
    ) -> tuple[list[list[tuple[float, int, tuple[int, int], Version]]], list[Hit]]:
        """The near-duplicates of ``leaders`` among the matches of ``search``, and the
        hits of its matches ``picks`` (the page's leaders this shard holds: the
        near-duplicate round is their fetch phase too)."""

        def work(searcher: Any, config: Config, synonyms: Synonyms) -> tuple[list[list[tuple[float, int, tuple[int, int], Version]]], list[Hit]]:
            kept = self._search(searcher, config, synonyms, search)
            assert kept.groups is not None
            found = shard_alike(searcher, kept.groups, leaders)
            hits = shard_hits(searcher, config, synonyms, search, picks, kept.patterns) if picks else []
            return found, hits

        return self.index._read(work)  # noqa: SLF001

    def values(self, keys: Sequence[tuple[Any, ...]]) -> StatisticsTable:
        return self.index._read(lambda searcher, _config, _synonyms: shard_values(searcher, keys))  # noqa: SLF001

    def topics(self, selection: Selection, limit: int, table: StatisticsTable) -> Agreed:
        return self.index._read(lambda searcher, _config, _synonyms: shard_topics(searcher, selection, limit, table))  # noqa: SLF001

    def similar_terms(self, article_id: str, table: StatisticsTable) -> Agreed:
        return self.index._read(  # noqa: SLF001
            lambda searcher, config, _synonyms: shard_similar_terms(searcher, config, article_id, table)
        )

    def hits(self, search: ShardSearch, picks: list[Pick]) -> list[Hit]:
        """The fetch round of ``search``: the hits of its matches ``picks`` (see :func:`shard_hits`)."""

        def work(searcher: Any, config: Config, synonyms: Synonyms) -> list[Hit]:
            kept = self._kept_for(search)
            return shard_hits(searcher, config, synonyms, search, picks, kept.patterns if kept is not None else None)

        return self.index._read(work)  # noqa: SLF001


@dataclass
class Agreed:
    """A shard's answer computed from the archive's statistics (``missing``: those it lacked)."""

    value: Any
    missing: StatisticsTable
    state: tuple[str, ...]


def shard_topics(searcher: Any, selection: Selection, limit: int, table: StatisticsTable) -> Agreed:
    """:meth:`newsearch.NewsIndex.topics` on a shard, every count the archive's."""
    statistics = SharedStatistics(searcher.reader(), table)
    found = significant_keywords(searcher, selection, limit, statistics)
    return Agreed(found, statistics.missing, shard_state(searcher))


def gather_topics(
    fan_out: FanOut, shards: int, selection: Selection, limit: int, *, cache: StatisticsCache | None = None
) -> list[Topic]:
    """:meth:`newsearch.NewsIndex.topics` of the archive the shards hold: every shard
    finds the same once they agree on the counts.  Every shard must answer."""
    coordinator = _Coordinator(fan_out, shards, False, cache, ("topics", selection.category, selection.tags, selection.start, selection.end))
    answers = coordinator._agree("topics", lambda table: {i: (selection, limit, table) for i in coordinator.live})  # noqa: SLF001
    found: list[Topic] = answers[min(answers)].value
    return found


def shard_highlight(
    searcher: Any, config: Config, synonyms: Synonyms, text: str, query: str, table: StatisticsTable
) -> list[tuple[int, int]]:
    """:meth:`newsearch.NewsIndex.highlight` on a shard, with the archive's statistics
    in ``table`` (those it lacks, the shard's own)."""
    if not text or not query.strip():
        return []
    prepared = prepare(searcher, config, SearchRequest(query), synonyms, SharedStatistics(searcher.reader(), table))
    return find_spans(text, prepared.patterns)


def local_fan_out(shards: Sequence[Any]) -> FanOut:
    """A :data:`FanOut` over objects in this process (one call after another)."""

    def fan_out(method: str, calls: dict[int, tuple[Any, ...]]) -> dict[int, Any]:
        out: dict[int, Any] = {}
        for shard, arguments in calls.items():
            try:
                out[shard] = getattr(shards[shard], method)(*arguments)
            except Exception as exc:  # noqa: BLE001 - reported as that shard's failure
                out[shard] = exc
        return out

    return fan_out


@dataclass
class StatisticsCache:
    """The archive's statistics that earlier searches gathered, per query (what a
    request's statistics depend on: its words and filters), while no shard changed:
    a query asked again needs no statistics round, and ships only its own.  Searches
    in several threads share one."""

    states: tuple[str, ...] = ()
    tables: OrderedDict[Any, StatisticsTable] = field(default_factory=OrderedDict)
    most: int = 10_000  # queries kept at most, the least recently asked dropped first
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def table(self, query: Any) -> StatisticsTable:
        """The statistics kept for ``query`` (a new table, kept, when there are none)."""
        with self._lock:
            found = self.tables.get(query)
            if found is None:
                found = self.tables[query] = {}
                while len(self.tables) > self.most:
                    self.tables.popitem(last=False)
            else:
                self.tables.move_to_end(query)
            return found

    def kept(self, request: SearchRequest) -> StatisticsTable:
        """A copy of the statistics kept for ``request``'s query (empty when none are)."""
        with self._lock:
            return dict(self.tables.get(_query_of(request), {}))

    def renew(self, states: tuple[str, ...]) -> bool:
        """Forget every table if the shards' ``states`` (the segments they read) are not
        those they were made in; whether they were forgotten."""
        with self._lock:
            if self.states == states:
                return False
            self.states = states
            self.tables.clear()
            return True


HEAD_MISS = 0.02
"""How often at most a search's head may need a round of its own (:func:`head_share`)."""


def head_share(depth: int, shards: int, miss: float = HEAD_MISS, share: float | None = None) -> int | None:
    """Of the ranking's head (its best ``depth``, read from their text), how many each of
    ``shards`` shards reads with its page; None (all) for one shard.  ``share``: the
    largest part of the archive one of them holds (an even share if not given).

    An article is in a shard by a hash, so a shard's part of the head is a binomial
    draw (``depth`` trials of 1/``shards``).  Each shard reads the fewest that leave
    the head short on some shard in at most a ``miss`` fraction of searches (those read
    the rest in one more round): at 2 shards 21 of 30, at 4 shards 14, at 8 shards 10.
    Reading more costs every search; at 100,000 articles in 2 shards, reading 25
    instead of 21 cost each shard's query round about 1 ms."""
    if shards <= 1:
        return None
    p = 1 / shards if share is None else share
    above = 0.0  # P(a shard holds more than k of the head), for k from depth down
    for k in range(depth, -1, -1):
        beyond = above + math.comb(depth, k) * p**k * (1 - p) ** (depth - k)  # more than k - 1
        if shards * beyond > miss:  # (the union bound over the shards)
            return k
        above = beyond
    return 0


def _query_of(request: SearchRequest) -> tuple[Any, ...]:
    """What a search's statistics depend on."""
    return ("search", request.query, request.exact, request.category, request.tags, request.start, request.end)


def gather(
    fan_out: FanOut,
    shards: int,
    request: SearchRequest,
    config: Config,
    *,
    partial: bool = True,
    cache: StatisticsCache | None = None,
    parts: Sequence[tuple[int, ...]] | None = None,
) -> SearchResults:
    """``request`` answered by ``shards`` shards through ``fan_out`` (the methods of
    :class:`Shard`).  A shard that fails is left out, unless ``partial`` is false: then
    its error is raised.  ``cache`` keeps statistics between searches.  ``parts``: the
    shards of the archive that each one answers for, when some answer for several
    (:class:`Joined`); its results report those."""
    for _attempt in range(3):
        try:
            return _Search(fan_out, shards, request, config, partial, cache, parts).run()
        except ShardChangedError:
            continue  # a shard committed between the phases: search again
    return _Search(fan_out, shards, request, config, partial, cache, parts).run()


Key = tuple[int, tuple[int, int]]  # (shard, (segment number, docnum))


class _Coordinator:
    """Calls to the shards, and the statistics they agree on (see the module docstring)."""

    def __init__(
        self,
        fan_out: FanOut,
        shards: int,
        partial: bool,
        cache: StatisticsCache | None,
        query: Any,
        parts: Sequence[tuple[int, ...]] | None = None,
    ) -> None:
        self.fan_out = fan_out
        self.parts = [tuple(p) for p in parts] if parts is not None else [(i,) for i in range(shards)]
        self.cache = cache
        self.query = query
        self.partial = partial
        self.live = list(range(shards))
        self.failed: dict[int, str] = {}
        self.table: StatisticsTable = dict(cache.table(query)) if cache is not None else {}
        self.pages: dict[int, Any] = {}

    @property
    def report(self) -> ShardsReport:
        """Which of the archive's shards answered (those of each part that did)."""
        failed = sorted((k, why) for i, why in self.failed.items() for k in self.parts[i])
        return ShardsReport(sum(map(len, self.parts)), sum(len(self.parts[i]) for i in self.live), [ShardFailure(k, why) for k, why in failed])

    def _agree(self, method: str, calls: Callable[[StatisticsTable], dict[int, tuple[Any, ...]]]) -> dict[int, Any]:
        """Ask ``method`` of the shards (``calls(table)``: each one's arguments) again
        and again, with the archive's statistics gathered so far in ``self.table``,
        until no shard lacks any; the last answers (each with ``missing`` and ``state``)."""
        for _round in range(MAX_ROUNDS):
            answers = self._ask(method, calls(self.table))
            # The segments the shards read, in whichever parts they answered.
            states = tuple(sorted(s for answer in answers.values() for s in answer.state if s != "-"))
            cache = self.cache
            if cache is not None and len(answers) == len(self.live) + len(self.failed) and cache.renew(states):
                seeded = bool(self.table)
                self.table = {}
                if seeded:  # values of another state of the shards: ask again without them
                    continue
            missing: dict[tuple[Any, ...], dict[int, Any]] = {}
            for shard, answer in answers.items():
                for key, value in answer.missing.items():
                    missing.setdefault(key, {})[shard] = value
            if not missing:
                return answers
            lacking: dict[int, list[tuple[Any, ...]]] = {}
            for key, values in missing.items():
                if key[0] in _PRIMITIVE:
                    for shard in self.live:
                        if shard not in values:
                            lacking.setdefault(shard, []).append(key)
            if lacking:
                for shard, found in self._ask("values", {i: (keys,) for i, keys in lacking.items()}).items():
                    for key, value in found.items():
                        missing[key][shard] = value
            for key, values in missing.items():
                if set(self.live) <= values.keys():  # a count a query makes is known when every shard made it
                    self.table[key] = value = combine(key, [values[shard] for shard in self.live])
                    if cache is not None and not self.failed:  # (a partial table is not the archive's)
                        cache.table(self.query)[key] = value
            if all(key[:2] == ("total", _MATCHES) and self.table.get(key, 0) > 0 for key in missing):
                return answers
        raise NewsearchError(f"the shards did not agree on the archive's statistics in {MAX_ROUNDS} rounds")

    def _ask(self, method: str, calls: dict[int, tuple[Any, ...]]) -> dict[int, Any]:
        """Each shard's answer to ``method``; a shard that fails leaves the search."""
        asked = {i: calls[i] for i in self.live if i in calls}
        out: dict[int, Any] = {}
        for shard, answer in (self.fan_out(method, asked) if asked else {}).items():
            if isinstance(answer, ShardChangedError):
                raise answer
            if isinstance(answer, BaseException):
                if not self.partial:
                    raise answer
                self.failed[shard] = f"{type(answer).__name__}: {answer}"
                self.live.remove(shard)
                self.pages.pop(shard, None)
                continue
            out[shard] = answer
        if not self.live:
            raise NewsearchError("no shard answered: " + "; ".join(f"shard {i}: {why}" for i, why in sorted(self.failed.items())))
        return out

class _Search(_Coordinator):
    """One search over the shards (see the module docstring)."""

    def __init__(
        self,
        fan_out: FanOut,
        shards: int,
        request: SearchRequest,
        config: Config,
        partial: bool,
        cache: StatisticsCache | None,
        parts: Sequence[tuple[int, ...]] | None = None,
    ) -> None:
        super().__init__(fan_out, shards, partial, cache, _query_of(request), parts)
        self.request = request
        self.config = config
        self.token = secrets.token_hex(8)
        self.versions: dict[Key, Version] = {}  # near-duplicates looked up, as versions
        self.ready: dict[Key, Hit] = {}  # hits the shards made with their pages
        wanted = None if request.limit is None else request.offset + request.limit
        self.wanted = wanted
        self.read: int | None = None  # of the ranking's head, how many each shard reads first
        self.heads: dict[Key, tuple[float, dict[str, Any] | None]] = {}  # matches of the head read later
        # Collapsing reads matches in growing batches, as one index does (search.group_leaders).
        self.end = collapse_fetch(wanted) if request.collapse else wanted

    # ------------------------------------------------------------------ phases

    def run(self) -> SearchResults:
        self._statistics()
        request = self.request
        first = next(iter(self.pages.values()))
        total = sum(p.total for p in self.pages.values())
        versions: dict[Key, list[Key]] = {}
        if request.collapse:
            placed, versions = self._collapsed(total)
        else:
            placed = self._placed()[request.offset :]
        hits = self._hits(placed, versions)
        counter = FacetCounter() if request.facets else None
        if counter is not None:
            for shard in self.live:
                found = self.pages[shard].counter
                if found is not None:
                    counter.absorb(found)
        pages = [self.pages[i] for i in self.live]
        parsed = parse(request.query)
        return SearchResults(
            parsed.text,
            sum(p.total for p in pages),
            hits,
            request.offset,
            request.limit,
            first.sort,
            next((p.suggestion for p in pages if p.suggestion), None),
            counter.facets(request.facet_limit) if counter is not None else None,
            collapsed=request.collapse,
            explain=parsed.explain() if request.explain else None,
            exact_total=sum(p.exact_total for p in pages),
            shards=self.report,
        )

    def _statistics(self) -> None:
        """Query rounds until no shard lacks any of the archive's statistics."""
        limit = self.request.limit or 0
        # Each shard makes the hits of a share of a first page with its answer, a little
        # more than its even share: most pages then need no fetch round.  (Collapsing
        # fetches the page's leaders with their near-duplicates, in the next round.)
        first = self.request.offset == 0 and not self.request.collapse
        ahead = -(-limit * 3 // (2 * len(self.live))) if first else 0
        held = [len(self.parts[i]) for i in self.live]
        self.read = head_share(self.config.ranking.rerank_depth, len(self.live), share=max(held) / sum(held))
        self.pages = self._agree("page", lambda table: {i: (self._told(table=table), ahead) for i in self.live})
        self._keep_hits()

    def _told(self, shard: int | None = None, table: StatisticsTable | None = None) -> ShardSearch:
        """This search as a round tells it to ``shard`` (the state its query round read),
        with the statistics ``table`` (the archive's gathered so far)."""
        state = self.pages[shard].state if shard is not None else ()
        return ShardSearch(self.request, self.table if table is None else table, self.end, self.token, self.read, state)

    def _keep_hits(self) -> None:
        for shard, page in self.pages.items():
            self.ready.update(((shard, ref), hit) for ref, hit in page.hits.items())

    def _placed(self) -> list[Placed]:
        """The shards' candidates in the order one index gives, up to ``self.end``."""
        shards = [i for i in self.live if i in self.pages]
        lists = [self.pages[i].candidates for i in shards]
        first = self.pages[shards[0]]
        if first.relaxed:
            if first.sort not in ("-date", "date"):  # (the orders by date have no head)
                lists = self._read_head(shards, lists)
                if any(i not in self.live for i in shards):  # a shard failed as it read
                    return self._placed()
            placed = merge_candidates(
                lists,
                sort=first.sort,
                depth=self.config.ranking.rerank_depth,
                end=self.end,
                half_life_days=self.request.half_life_days or self.config.ranking.half_life_days,
            )
        else:
            every = sorted(((n, c) for n, found in enumerate(lists) for c in found), key=lambda item: item[1].key, reverse=True)
            placed = [(n, c, c.score, False) for n, c in every[: self.end]]
        return [(shards[n], c, score, in_head) for n, c, score, in_head in placed]

    def _read_head(self, shards: list[int], lists: list[list[execute.Candidate]]) -> list[list[execute.Candidate]]:
        """The candidates, with those of the archive's head that their shard did not read
        (it read only its likely share) read now, in one round."""
        depth = self.config.ranking.rerank_depth
        top = heapq.nlargest(depth, ((n, c) for n, found in enumerate(lists) for c in found), key=lambda item: item[1].key)
        unread: dict[int, list[tuple[int, int]]] = {}
        for n, c in top:
            if c.head is None and (shards[n], c.ref) not in self.heads:
                unread.setdefault(shards[n], []).append(c.ref)
        if unread:
            calls = {shard: (self._told(shard), refs) for shard, refs in unread.items()}
            for shard, found in self._ask("read", calls).items():
                self.heads.update(((shard, ref), value) for ref, value in zip(unread[shard], found))
        return [
            [
                c._replace(head=self.heads[(shard, c.ref)][0], explanation=self.heads[(shard, c.ref)][1])
                if c.head is None and (shard, c.ref) in self.heads
                else c
                for c in found
            ]
            for shard, found in zip(shards, lists)
        ]

    def _collapsed(self, total: int) -> tuple[list[Placed], dict[Key, list[Key]]]:
        """The page's group leaders and their near-duplicates, walked as one index walks
        them (search.group_leaders): batches of the order, each one's near-duplicates
        looked up on every shard at once."""
        alike: dict[Key, list[Key]] = {}
        near: dict[Key, tuple[bytes, Short | None]] = {}

        def looked_up(key: Key) -> list[Key]:
            if key not in alike:  # (not foreseen: asked now)
                self._look_up(alike, near, [key])
            return alike[key]

        walk = Walk(looked_up, lambda key: near[key][1])
        led = 0

        def representatives(batch: Sequence[Placed]) -> Iterator[tuple[Placed, list[Key]]]:
            nonlocal led
            for shard, page in self.pages.items():
                near.update(((shard, ref), data) for ref, data in page.near.items())
            keyed = [((p[0], p[1].ref), p) for p in batch]
            # Which matches the walk will ask about: it asks about each one no earlier
            # leader claimed, and whether one claims another among the matches at hand
            # is told by their sketches.  Only those are looked up on the shards, and
            # those past the offset fetched: they are the page's leaders (but for a
            # rewording that joins an earlier group, which shifts them by one).
            foreseen = _foreseen(walk, keyed, near, None if self.wanted is None else self.wanted - led)
            shown = set(foreseen[max(0, self.request.offset - led) :])
            self._look_up(alike, near, foreseen, {key: item for key, item in keyed if key in shown})
            for found in walk.representatives(keyed):
                led += 1
                yield found

        def more(end: int | None, seen: int) -> list[Placed]:
            self.end = end
            self.pages = self._ask("page", {i: (self._told(),) for i in self.live})
            self._keep_hits()
            return self._placed()[seen:]

        leaders, groups = group_leaders(self._placed(), representatives, more, total, self.wanted, self.end)
        offset = self.request.offset
        return leaders[offset:], {(p[0], p[1].ref): group for p, group in zip(leaders[offset:], groups[offset:])}

    def _look_up(
        self,
        alike: dict[Key, list[Key]],
        near: dict[Key, tuple[bytes, Short | None]],
        keys: list[Key],
        shown: dict[Key, Placed] | None = None,
    ) -> None:
        """Each shard's near-duplicates of the matches ``keys``, merged most alike first;
        the hits of those of ``shown`` (the page's leaders) made in the same round."""
        keys = [key for key in keys if key not in alike]
        if not keys:
            return
        leaders = [(sketch, short[2] if short is not None else None) for sketch, short in (near[key] for key in keys)]
        picks: dict[int, list[tuple[Key, Pick]]] = {}
        for key in keys:
            item = shown.get(key) if shown is not None else None
            if item is not None and key not in self.ready:
                _shard, c, score, in_head = item
                picks.setdefault(key[0], []).append((key, (c.ref, score, c.related, c.explanation if in_head else None)))
        calls = {i: (self._told(i), leaders, [pick for _, pick in picks.get(i, [])]) for i in self.live}
        found: list[list[tuple[float, int, Key]]] = [[] for _ in keys]
        for shard, (answers, made) in self._ask("alike", calls).items():
            self.ready.update((key, hit) for (key, _pick), hit in zip(picks.get(shard, []), made))
            for into, answer in zip(found, answers):
                for score, tie, ref, version in answer:
                    into.append((score, tie, (shard, ref)))
                    self.versions[(shard, ref)] = version
        for key, into in zip(keys, found):
            into.sort(key=lambda item: (-item[0], item[1]))
            alike[key] = [other for _score, _tie, other in into]

    def _hits(self, placed: list[Placed], versions: dict[Key, list[Key]]) -> list[Hit]:
        """The fetch phase: each shard makes the hits that it holds and did not make with
        its page (none, for a first page the shards' own best fill)."""
        explain = self.request.explain
        hits: list[Hit | None] = [None] * len(placed)
        picks: dict[int, list[tuple[int, Placed]]] = {}
        for position, item in enumerate(placed):
            shard, c, score, in_head = item
            ready = self.ready.get((shard, c.ref))
            if ready is None:
                picks.setdefault(shard, []).append((position, item))
                continue
            explanation = c.explanation if in_head else None
            hits[position] = dataclasses.replace(
                ready, score=score, explanation=(explanation or {"score": round(score, 4)}) if explain else None
            )
        calls = {
            shard: (self._told(shard), [(c.ref, score, c.related, c.explanation if in_head else None) for _, (_, c, score, in_head) in found])
            for shard, found in picks.items()
        }
        for shard, made in (self._ask("hits", calls) if calls else {}).items():
            for (position, _item), hit in zip(picks[shard], made):
                hits[position] = hit
        out = []
        for item, hit in zip(placed, hits):
            if hit is None:
                continue  # its shard failed since the query phase
            group = versions.get((item[0], item[1].ref))
            if group:
                hit = dataclasses.replace(hit, versions=tuple(self.versions[key] for key in group if key in self.versions))
            out.append(hit)
        return out


def _foreseen(walk: Walk, keyed: list[tuple[Key, Placed]], near: dict[Key, tuple[bytes, Short | None]], leaders: int | None) -> list[Key]:
    """The matches of ``keyed`` that ``walk`` will look up to find its next ``leaders``
    group leaders (None: all), foreseen from the sketches in ``near`` of the matches at
    hand (what claims them is among them: they rank first)."""
    known = SketchTable([(key, sketch, short[2] if short is not None else None) for key, (sketch, short) in near.items()])
    asked: list[Key] = []

    def alike(key: Key) -> list[Key]:
        asked.append(key)
        sketch, short = near[key]
        return known.alike(sketch, short[2] if short is not None else None)

    if leaders is None or leaders > 0:
        for count, _found in enumerate(walk.fork(alike).representatives(keyed), 1):
            if count == leaders:
                break
    return asked


def gather_similar(
    fan_out: FanOut, shards: int, article_id: str, limit: int, config: Config, *, cache: StatisticsCache | None = None
) -> SearchResults:
    """:meth:`newsearch.NewsIndex.similar` over the shards: the article's key terms from
    the shard that holds it, weighed by the archive, searched on every shard; its
    near-duplicates and further versions of a story grouped across shards.  Every
    shard must answer."""
    owner = shard_of(article_id, shards)
    fetch = similar_fetch(limit)
    search = _Search(fan_out, shards, SearchRequest("", limit=fetch, facets=False), config, False, None)
    search.cache, search.query = cache, ("similar", article_id)
    search.table = dict(cache.table(search.query)) if cache is not None else {}
    terms = search._agree("similar_terms", lambda table: {owner: (article_id, table)})[owner].value  # noqa: SLF001
    if terms is None:
        raise ArticleNotFoundError(article_id)
    label = f"similar:{article_id}"
    if not terms:
        return SearchResults(label, 0, [], 0, limit, "relevance", collapsed=True, shards=search.report)
    request = SimilarRequest(article_id, terms)
    search.request = request  # type: ignore[assignment]
    search.end = fetch
    search.pages = search._agree("page", lambda table: {i: (search._told(table=table),) for i in search.live})  # noqa: SLF001
    own = search.pages[owner].own
    if own is None:
        raise ShardChangedError("the article left its shard during the search")
    near: dict[Key, tuple[bytes, Short | None]] = {}
    for shard, page in search.pages.items():
        near.update(((shard, ref), data) for ref, data in page.near.items())
    placed = search._placed()  # noqa: SLF001
    own_key = (owner, own)
    alike: dict[Key, list[Key]] = {}
    search._look_up(alike, near, [own_key, *((p[0], p[1].ref) for p in placed)])  # noqa: SLF001
    walk = Walk(alike.__getitem__, lambda key: near[key][1])
    # The article leads its own group first, so its near-duplicates are claimed by it.
    order = [(own_key, None), *(((p[0], p[1].ref), p) for p in placed if (p[0], p[1].ref) != own_key)]
    chosen: list[tuple[Placed, list[Key]]] = []
    for item, group in walk.representatives(order):
        if item is None:
            continue
        chosen.append((item, group))
        if len(chosen) == limit:
            break
    hits = search._hits([item for item, _ in chosen], {(p[0], p[1].ref): group for p, group in chosen})  # noqa: SLF001
    total = sum(page.total for page in search.pages.values())
    return SearchResults(label, max(0, total - 1), hits, 0, limit, "relevance", collapsed=True, shards=search.report)
