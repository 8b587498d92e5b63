"""``NewsIndex``: the library's front door.

    >>> from newsearch import NewsIndex
    >>> ix = NewsIndex.create("index")
    >>> report = ix.update(["_posts"])
    >>> for hit in ix.search("智能客服", since="2021-01"):
    ...     print(hit.title, hit.snippet)

The CLI and any server are thin layers over this class.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pickle
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .compiler import IndexVocabulary, compile_plan
from .config import Config
from .documents import Article
from .errors import ArticleNotFoundError, IndexDamagedError, InvalidArgumentError, NewsearchError
from .indexer import ProgressCallback, merge_segments, reanalyze, update_index
from .query import parse
from .results import CheckReport, CompactReport, IndexReport, IndexStats, SearchResults, Suggestion, Topic
from .fields import ID, NBODY, stored_to_article
from .files import requests
from .highlight import find_spans
from .request import DateLike, SearchRequest, Selection, check_limit
from .search import highlight_patterns, run_search
from .stats import collect_stats
from .similar import similar_articles
from .suggest import CompletionCache, completions_for, index_state, prepare_aside
from .topics import significant_keywords
from .store import Manifest, Store, open_searcher
from .synonyms import Synonyms, load_synonyms
from .understand import plan as understand

if TYPE_CHECKING:
    from .cluster import ClusterIndex

__all__ = ["NewsIndex"]

_T = TypeVar("_T")

# What reading files of the index that were changed under it can raise.  The first
# are decoding errors whatever the files' sizes; the others count as damage only
# when a file is missing or not the size it was written with.
_DECODE_ERRORS = (struct.error, EOFError, zlib.error, pickle.UnpicklingError, UnicodeDecodeError, OSError)
_READ_ERRORS = (*_DECODE_ERRORS, ValueError, IndexError, KeyError)


class NewsIndex:
    """A newsearch index folder, opened for searching and updating.

    Get one with :meth:`open` or :meth:`create`, not the constructor.  Every
    method reads the latest committed state, also when another process updates
    the index: the searcher is kept between calls and renewed after a commit.
    """

    def __init__(self, store: Store, manifest: Manifest, config: Config, *, published: bool) -> None:
        self._store = store
        self._manifest = manifest
        self._config = config
        self._published = published
        self._ix: Any = None
        self._synonyms: Synonyms | None = None
        self._cached_searcher: Any = None
        self._manifest_mtime: int | None = None
        self._completions = CompletionCache(lambda: prepare_aside(store.path))

    # ------------------------------------------------------------------ opening

    @staticmethod
    def exists(path: str | Path) -> bool:
        """Whether ``path`` holds a newsearch index (of any version)."""
        return Store(path).exists()

    @overload
    @classmethod
    def open(cls, path: str | Path, *, config: Config | str | Path | None = None) -> NewsIndex: ...

    @overload
    @classmethod
    def open(cls, path: str | Path, *, config: Config | str | Path | None = None, cluster: str) -> ClusterIndex: ...

    @classmethod
    def open(cls, path: str | Path, *, config: Config | str | Path | None = None, cluster: str | None = None) -> NewsIndex | ClusterIndex:
        """Open an existing index.

        Raises :class:`IndexNotFoundError` when there is none at ``path`` and
        :class:`SchemaMismatchError` when it was built by an incompatible
        version (rebuild it then).

        With ``cluster`` (a Dask scheduler's address, ``tcp://HOST:PORT``), ``path``
        holds the manifest of an archive in shards on that cluster: the object
        returned has the same ``search``, ``get``, ``similar``, ``suggest``,
        ``topics`` and ``stats`` (see :mod:`newsearch.cluster`).
        """
        if cluster is not None:
            from .cluster import ClusterIndex

            return ClusterIndex.open(path, cluster, config=config, index_class=cls)
        store = Store(path)
        manifest = store.read_manifest()
        return cls(store, manifest, _config(path, config), published=True)

    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        config: Config | str | Path | None = None,
        replace: bool = False,
        shard: tuple[int, int] | None = None,
    ) -> NewsIndex:
        """Create an empty index at ``path``.

        If an index is already there, ``replace=False`` opens it unchanged
        (when compatible) and ``replace=True`` starts a new one beside it: the
        old index stays searchable until the first :meth:`update` of the new
        one completes, then the new one takes its place.

        ``shard=(k, n)`` makes it shard ``k`` of a cluster of ``n`` (see
        :mod:`newsearch.cluster`): it keeps only the articles whose id key
        (:func:`newsearch.fields.id_key`) is ``k`` modulo ``n``.
        """
        store = Store(path)
        store.check_folder()
        cfg = _config(path, config)
        if store.exists() and not replace:
            return cls(store, store.read_manifest(), cfg, published=True)
        if shard is not None and not 0 <= shard[0] < shard[1]:
            raise InvalidArgumentError("shard", f"{shard} is not (k, n) with 0 <= k < n.")
        manifest = Manifest.new(cfg.analysis.fingerprint(), shard)
        with store.write_lock():
            store.create_generation(manifest)
            if not store.exists():
                store.write_manifest(manifest)
                return cls(store, manifest, cfg, published=True)
        return cls(store, manifest, cfg, published=False)

    # ------------------------------------------------------------------ properties

    @property
    def path(self) -> Path:
        """The index folder."""
        return self._store.path

    @property
    def config(self) -> Config:
        """The settings this index object uses."""
        return self._config

    def _whoosh(self) -> Any:
        if self._ix is None:
            self._ix = self._store.open_generation(self._manifest)
        return self._ix

    @contextlib.contextmanager
    def _searcher(self) -> Iterator[Any]:
        """A searcher on the latest committed state, reused between calls.

        Reusing it keeps segment readers (and what was read from them) open;
        when another writer committed, only the segments that changed are
        reopened.  What reading raises when files of the index were damaged
        under it (truncated, overwritten) becomes :class:`IndexDamagedError`.
        """
        self._follow_manifest()
        requests.tick()  # memory-mapped columns check their files again
        searcher = self._cached_searcher
        if searcher is None or not searcher.up_to_date():
            searcher = open_searcher(self._whoosh(), searcher)
        self._cached_searcher = searcher
        try:
            yield searcher
        except NewsearchError:
            raise
        except _READ_ERRORS as exc:
            problems = self._file_problems()
            if not problems and not isinstance(exc, _DECODE_ERRORS):
                raise  # nothing wrong with the files: a bug, not damage
            # Reopened on the next call, which checks the files again (and follows a rebuild).
            self.close()
            raise IndexDamagedError(self.path, problems or [f"reading it failed ({type(exc).__name__}: {exc})"]) from exc

    def _file_problems(self) -> list[str]:
        try:
            problems: list[str] = self._whoosh().file_problems()
            return problems
        except IndexDamagedError as exc:
            return exc.problems

    def verify(self) -> None:
        """Raise :class:`IndexDamagedError` when a file of the index is missing or not the
        size it was written with; :class:`IndexNotFoundError` when the index is gone.
        Cheap (the files' sizes, not their contents; :meth:`check` reads everything),
        for a health check."""
        self._follow_manifest()
        problems = self._file_problems()
        if problems:
            raise IndexDamagedError(self.path, problems)

    def _follow_manifest(self, *, force: bool = False) -> None:
        """Switch to the generation the manifest names, should another process have
        published a rebuild.  Unless ``force``, the manifest is read only when its
        mtime changed."""
        if not self._published:
            return
        mtime = self._store.manifest_mtime()
        if not force and mtime == self._manifest_mtime:
            return
        current = self._store.read_manifest()
        if current.generation != self._manifest.generation:
            self.close()
        self._manifest, self._manifest_mtime = current, mtime

    # ------------------------------------------------------------------ updating

    def update(
        self, paths: Iterable[str | Path], *, progress: ProgressCallback | None = None, strict: bool = False
    ) -> IndexReport:
        """Index the files and folders in ``paths`` incrementally and return what was done.

        New and changed files are (re)indexed, unchanged ones are skipped
        without being analyzed, and articles whose files disappeared from
        under ``paths`` are removed.  Files that cannot be parsed are listed
        in ``report.failed``; they never stop the run, unless ``strict``:
        then the first one raises :class:`StrictIndexingError` and the index
        stays as it was.
        """
        paths = list(paths)
        with self._store.write_lock():
            self._follow_manifest(force=True)
            notes, reanalyzed = self._apply_analysis_changes()
            report = update_index(self._whoosh(), paths, self._config, progress=progress, strict=strict)
            report.notes[:0] = notes
            report.reanalyzed = reanalyzed
            if not self._published:
                self._store.write_manifest(self._manifest)
                self._published = True
            self._store.remove_other_generations({self._manifest.generation})
        return report

    def _apply_analysis_changes(self) -> tuple[list[str], int]:
        """Re-analyze everything if the jieba user dictionaries changed since the index was
        built; record changed synonyms (they need no re-analysis).  Holds the write lock."""
        wanted = self._config.analysis.fingerprint()
        recorded = self._manifest.analysis
        notes: list[str] = []
        reanalyzed = 0
        if recorded.get("user_dicts", []) != wanted["user_dicts"]:
            change = _describe_change(recorded.get("user_dicts") or [], wanted["user_dicts"])
            fresh = Manifest.new(wanted, self._manifest.shard)
            target = self._store.create_generation(fresh)
            reanalyzed = reanalyze(self._whoosh(), target, self._config)
            notes.append(
                f"The jieba user dictionaries changed ({change}): re-analyzed all {reanalyzed} "
                "articles from the index's stored text."
            )
            if self._published:
                self._store.write_manifest(fresh)
            self.close()
            self._manifest, self._ix = fresh, target
        elif recorded.get("synonyms") != wanted["synonyms"]:
            notes.append("The synonyms file changed; synonyms apply at query time, so nothing is re-analyzed.")
            self._manifest = dataclasses.replace(self._manifest, analysis=wanted)
            if self._published:
                self._store.write_manifest(self._manifest)
        return notes, reanalyzed

    # ------------------------------------------------------------------ reading

    def search(self, query: str | SearchRequest = "", **options: Any) -> SearchResults:
        """Articles matching ``query``, best first unless sorted otherwise.

        ``options`` are the fields of :class:`~newsearch.SearchRequest`, which says
        what each means: ``category`` (any of), ``tags`` (all of), ``since`` and
        ``until`` (inclusive: ``2021``, ``2021-12``, ``2021-12-25``, ``2021年12月`` or
        a date), ``sort`` (``relevance``, ``-date``, ``date`` or ``recent``),
        ``half_life_days``, ``limit`` (None: every match), ``offset``, ``facets``,
        ``facet_limit``, ``collapse`` and ``explain``.  Or pass a ``SearchRequest``
        itself.  A bad value raises :class:`InvalidArgumentError` naming it.

        ``total`` always counts every match exactly (never an estimate: only the
        scoring of matches that cannot reach the page is skipped, see
        :mod:`newsearch.ranking`), and the facets (unless turned off) count
        categories, tags and dates over all of them, exactly.  With ``collapse``,
        near-duplicates of a hit (the same story republished with small edits) are
        not listed on their own but in its ``versions``.
        """
        if isinstance(query, SearchRequest):
            request = dataclasses.replace(query, **options) if options else query
        else:
            request = SearchRequest(query, **options)
        if self._synonyms is None:
            self._synonyms = load_synonyms(self._config.analysis.synonyms)
        with self._searcher() as searcher:
            return run_search(searcher, self._config, request, self._synonyms)

    def _read(self, work: Callable[[Any, Config, Synonyms], _T]) -> _T:
        """``work(searcher, config, synonyms)`` on the latest committed state: how a shard
        of a cluster (:mod:`newsearch.gather`) reads this index."""
        if self._synonyms is None:
            self._synonyms = load_synonyms(self._config.analysis.synonyms)
        with self._searcher() as searcher:
            return work(searcher, self._config, self._synonyms)

    def explain(self, query: str) -> str:
        """How ``query`` is read: its syntax tree after parsing and segmentation."""
        return parse(query).explain()

    def highlight(self, text: str, query: str) -> list[tuple[int, int]]:
        """Character ranges of ``text`` (an article's title or body) that a search for
        ``query`` highlights: what its hits' snippets mark, found the same way, so a
        page can mark the whole article a search led to."""
        if not text or not query.strip():
            return []
        if self._synonyms is None:
            self._synonyms = load_synonyms(self._config.analysis.synonyms)
        parsed = parse(query)
        plan = understand(parsed, self._config.analysis.user_dicts)
        compiled = None
        if plan is not None:
            ranking = self._config.ranking
            with self._searcher() as searcher:
                compiled = compile_plan(
                    plan,
                    vocab=IndexVocabulary(searcher),
                    title_boost=ranking.title_boost,
                    compound_gap=ranking.compound_gap,
                    synonyms=self._synonyms,
                )
        return find_spans(text, highlight_patterns(parsed, self._synonyms, compiled))

    def get(self, article_id: str) -> Article:
        """The article with id ``article_id`` (:class:`ArticleNotFoundError` if none)."""
        if not article_id:
            raise InvalidArgumentError("ID", "an article id cannot be empty.")
        with self._searcher() as searcher:
            docnum = searcher.document_number(**{ID: article_id})
            if docnum is None:
                raise ArticleNotFoundError(article_id)
            reader = searcher.reader()
            nbody = reader.column_reader(NBODY, translate=False)[docnum].decode("utf-8")
            return stored_to_article(reader.stored_fields(docnum), nbody)

    def similar(self, article_id: str, *, limit: int = 10) -> SearchResults:
        """The ``limit`` articles most related to article ``article_id`` by content: its
        key terms (tf·idf in this index) searched as one query, leaving out the
        article itself, its near-duplicates, and further versions of any story
        listed (they are in each hit's ``versions``).  :class:`ArticleNotFoundError`
        if there is no such article."""
        if not article_id:
            raise InvalidArgumentError("ID", "an article id cannot be empty.")
        check_limit(limit)
        with self._searcher() as searcher:
            return similar_articles(searcher, self._config, article_id, limit)

    def topics(
        self,
        *,
        category: str | Sequence[str] = (),
        tags: str | Sequence[str] = (),
        since: DateLike | None = None,
        until: DateLike | None = None,
        limit: int = 20,
    ) -> list[Topic]:
        """The keywords that set the selected articles (a period, categories, tags)
        apart from the whole archive, most significant first; not merely the most
        frequent ones.  At least one of the filters is required."""
        selection = Selection(category=category, tags=tags, since=since, until=until)
        check_limit(limit)
        with self._searcher() as searcher:
            return significant_keywords(searcher, selection, limit)

    def suggest(self, prefix: str, *, limit: int = 10, stale_ok: bool = False) -> list[Suggestion]:
        """Completions of a partial query: the words of the index's titles that begin
        with ``prefix``, typed as characters, full pinyin (``xiaoduo``) or pinyin
        initials (``xdkj``), most frequent first.  The first call after the index
        changed prepares them (about 40 s for 100,000 articles the first time, less
        after a commit); later ones take well under a millisecond.

        With ``stale_ok``, a call after the index changed answers at once from the
        completions prepared before, while those of the new state are prepared by
        another process (for a server, which must not hold up its searches while an
        index run commits); only a first call ever waits."""
        check_limit(limit)
        with self._searcher() as searcher:
            return self._completions.complete(
                index_state(searcher), lambda: completions_for(searcher, self._store.path), prefix, limit, stale_ok=stale_ok
            )

    def __len__(self) -> int:
        with self._searcher() as searcher:
            return int(searcher.doc_count())

    def stats(self, *, top: int | None = None) -> IndexStats:
        """Number of articles and files, date range, category and tag counts, size on disk."""
        size = self._store.size_bytes(self._manifest.generation)
        with self._searcher() as searcher:
            return collect_stats(searcher, str(self.path), size, top=top)

    def compact(self) -> CompactReport:
        """Merge every segment into one and purge deleted articles: for an archive that no
        longer changes, whose searches then read one segment (an index larger than
        ``[indexing] merge_max_mb`` keeps one segment per that much).  Searches see the
        old segments until the merged one is committed; a run killed before that leaves
        the index as it was (the next writer removes the unfinished files)."""
        started = time.monotonic()
        with self._store.write_lock():
            self._follow_manifest(force=True)
            before = self.stats()
            merge_segments(self._whoosh(), self._config, everything=True)
            self._store.remove_other_generations({self._manifest.generation})  # and what killed writers left
        after = self.stats()
        return CompactReport(before.segments, after.segments, before.deleted - after.deleted, time.monotonic() - started)

    def check(self, paths: Iterable[str | Path] = ()) -> CheckReport:
        """Read the whole index to find damaged files, and compare it with the source
        files: changed or missing ones, and files under ``paths`` it does not have."""
        from .check import check_index

        self._follow_manifest()
        return check_index(self._whoosh(), paths)

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Release the index files (searches reopen them as needed)."""
        if self._cached_searcher is not None:
            self._cached_searcher.close()
            self._cached_searcher = None
        self._ix = None

    def __enter__(self) -> NewsIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NewsIndex({str(self.path)!r})"


def _describe_change(before: list[list[str]], after: list[list[str]]) -> str:
    old = {path: digest for path, digest in before}
    new = {path: digest for path, digest in after}
    parts = [f"+{Path(p).name}" for p in new if p not in old]
    parts += [f"-{Path(p).name}" for p in old if p not in new]
    parts += [f"{Path(p).name} edited" for p in new if p in old and old[p] != new[p]]
    return ", ".join(parts) or "order changed"


def _config(path: str | Path, config: Config | str | Path | None) -> Config:
    if isinstance(config, Config):
        return config
    return Config.for_index(path, config)
