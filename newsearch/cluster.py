"""An archive split into shards on a Dask cluster, searched as one index.

    >>> from newsearch import NewsIndex
    >>> ix = NewsIndex.open("index", cluster="tcp://127.0.0.1:8786")
    >>> ix.search("智能客服").shards.successful

**Layout.**  The folder given as the index (``DIR``) holds the cluster's manifest,
``cluster.json``: the number of shards, each shard's index folder and the worker that
owns it, and the format's version.  Each shard is an ordinary newsearch index
(:class:`~newsearch.NewsIndex` with ``shard=(k, n)``), in ``DIR/shards/shard-K`` as
the worker that owns it sees that path: on a shared filesystem (the usual Dask
setup) any worker can open it; on a worker's own disk, only a worker on that host.
An article belongs to shard ``shard_of(id, n)`` (:func:`newsearch.fields.shard_of`).

**Indexing.**  Each shard's owner runs an ordinary incremental update of the paths
it is given, keeping its own articles: the workers read the source files themselves,
so the paths must be the same on every worker (a shared filesystem).  A path a
worker cannot read fails that shard's run with the path named; the run exits
non-zero, and so does one whose worker is lost.  Each shard commits job by job as
one index does, so a lost worker loses only its uncommitted job, and running the
same command again completes it.

**Searching.**  A Dask actor on each worker keeps the shards it owns open; the
client calls the actors directly, not through the scheduler, one call per worker in
each round (:mod:`newsearch.gather` says how a search runs).  A search's rounds ask
the shards that one worker holds as one index of their segments
(:class:`~newsearch.gather.Joined`), so that a worker with several shards compiles the
query, reads the ranking's head and makes the page's hits once, not once per
shard; the results report each shard.  A shard that does not
answer within ``[cluster] timeout`` is left out and named in
``results.shards.failed``; it is opened again on a worker that can open it (its
owner, when it comes back) at the next search.

**Completions** are one index's: each shard's worker counts the words and phrases
of its titles (a task beside its actor; each segment's counts are kept beside the
shard, so after a commit only the new segments are counted), and the client adds the counts up and
makes the completions of the archive (pinyin included), saved in ``DIR`` beside
the manifest for the shards' current states.  A completion then asks each shard
its state (one round) and looks the prefix up on the client; a server's
(``stale_ok``) answers from the completions it holds and asks the states on a
thread of its own, and new completions are made in a process of its own.

Dask is imported here only, and only when a cluster is used.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .config import ClusterConfig, Config
from .documents import Article
from .errors import IndexNotFoundError, InvalidArgumentError, NewsearchError
from .fields import shard_of
from .files import write_json
from .gather import FanOut, Joined, Shard, StatisticsCache, gather, gather_similar, gather_topics, shard_highlight
from .statistics import StatisticsTable
from .request import DateLike, SearchRequest, Selection, check_limit
from .results import FileFailure, IndexReport, IndexStats, SearchResults, Suggestion, Topic
from .suggest import CompletionCache, Completions, TitleCounts, index_state, joined_state, prepare_counts_aside, saved_completions, title_counts_of

__all__ = ["MANIFEST", "ClusterError", "ClusterIndex", "ClusterManifest", "ShardActor"]

MANIFEST = "cluster.json"
FORMAT = "news-cluster"
FORMAT_VERSION = 1
_REATTACH_SECONDS = 1.0  # a lost shard is opened again at most this often
_STATE_SECONDS = 1.0  # a server's completions ask the shards' states at most this often


class ClusterError(NewsearchError):
    """The cluster cannot be reached, or a shard failed (named, with its worker);
    ``report`` holds what the other shards did, when an indexing run failed."""

    def __init__(self, message: str, *, report: IndexReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class ClusterManifest:
    """What ``DIR/cluster.json`` records: the shards and who holds them."""

    shards: int
    paths: list[str]
    """Each shard's index folder, as its owner sees it."""
    owners: list[str]
    """The host of the worker that holds each shard (its worker's name when it has one)."""
    created: str = ""
    format: str = FORMAT
    version: int = FORMAT_VERSION

    @classmethod
    def read(cls, folder: Path) -> ClusterManifest:
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexNotFoundError(folder, f"No cluster manifest at {path}: index there with --cluster and --shards first.") from None
        except (OSError, ValueError) as exc:
            raise ClusterError(f"Cannot read the cluster manifest {path}: {exc}.") from None
        if data.get("format") != FORMAT or data.get("version") != FORMAT_VERSION:
            raise ClusterError(f"{path} is not a cluster manifest of this version ({FORMAT} {FORMAT_VERSION}).")
        return cls(int(data["shards"]), list(data["paths"]), list(data["owners"]), str(data.get("created", "")))

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / MANIFEST, asdict(self), indent=2)


def is_cluster(folder: str | Path) -> bool:
    """Whether ``folder`` holds a cluster manifest."""
    return (Path(folder) / MANIFEST).is_file()


# --------------------------------------------------------------------------- on the workers


class ShardActor:
    """The shards of an archive that one worker keeps open, as a Dask actor: the
    methods of :class:`~newsearch.gather.Shard`, and what a cluster index asks of a
    shard.  ``index_class`` is :class:`~newsearch.NewsIndex` (given, not imported: it
    opens clusters with this module).

    One actor per worker, not per shard, so that a round of a search is one call to
    each worker whatever the number of its shards: at 100,000 articles in 4 shards
    on 2 workers, a bare round to an actor per shard took 4.7 ms at p50, to an actor
    per worker 2.1 ms.  The client calls it through :meth:`call`, a coroutine, which
    Dask runs on the worker's event loop: a search on a shard takes milliseconds, and
    a hop to the actor's thread and back cost a search over two shards about 1.5 ms
    more per round.  Calls run one at a time either way."""

    SHARD_CALLS = frozenset({"page", "alike", "hits", "read", "values", "topics", "similar_terms"})
    """The calls :meth:`call` passes to a shard's :class:`~newsearch.gather.Shard`."""
    OWN_CALLS = frozenset({"ping", "get", "stats", "state", "highlight"})
    """The calls :meth:`call` answers from a shard's index itself."""

    def __init__(self, index_class: Any, config: Config) -> None:
        self.index_class = index_class
        self.config = config
        self.shards: dict[int, Shard] = {}
        self._joined: dict[tuple[int, ...], tuple[tuple[Shard, ...], Shard]] = {}  # shards answered together

    def open(self, path: str, shard: tuple[int, int]) -> int:
        """Open shard ``shard`` (k of n) from ``path``, unless it is open; its articles.
        Opened, never created: a worker that does not see the shard's files (another
        machine's disk) must fail, not serve an empty shard."""
        k = shard[0]
        if k not in self.shards:
            index = self.index_class.open(path, config=self.config)
            if index._manifest.shard != shard:  # noqa: SLF001
                raise ClusterError(f"{path} is not shard {k} of {shard[1]}")
            self.shards[k] = Shard(index)
        return _OwnCalls(self.shards[k].index).ping()

    def _shard(self, key: int | tuple[int, ...]) -> Shard | None:
        """Shard ``key``, or the shards of a tuple as one (:class:`~newsearch.gather.Joined`);
        None when one is not open here."""
        ks = key if isinstance(key, tuple) else (key,)
        opened = tuple(shard for shard in (self.shards.get(k) for k in ks) if shard is not None)
        if not ks or len(opened) < len(ks):
            return None
        if len(ks) == 1:
            return opened[0]
        joined = self._joined.get(ks)
        if joined is None or any(a is not b for a, b in zip(joined[0], opened)):
            for stale in [p for p, (held, _s) in self._joined.items() if any(self.shards.get(k) is not h for k, h in zip(p, held))]:
                del self._joined[stale]  # (a shard of it was opened again)
            joined = self._joined[ks] = (opened, Shard(Joined([shard.index for shard in opened])))
        return joined[1]

    async def call(self, method: str, payload: bytes) -> bytes:
        """``method`` (one of :attr:`SHARD_CALLS` and :attr:`OWN_CALLS`) on each shard of
        ``payload``, a pickled dict of each shard's arguments; a pickled dict of each
        shard's outcome: ``("ok", answer)``, ``("error", exception)``, or ``("closed",
        why)`` for a shard not open here.  A key may be a tuple of shards, which answer
        a shard's calls together, as one index of their segments (a search then does
        its work once for the worker, not once per shard).  One bytes object each way: Dask serializes
        each argument of a call, each item of a list or dict, and each bytes object
        within them, as a frame of its own, which cost a search over two shards 1.5 ms
        on its query round and 4 ms on its near-duplicate round (measured on 100,000
        articles), more than pickling costs."""
        if method not in self.SHARD_CALLS | self.OWN_CALLS:
            raise ClusterError(f"a shard has no call {method!r}")
        out: dict[int | tuple[int, ...], tuple[str, Any]] = {}
        for k, args in pickle.loads(payload).items():
            shard = self._shard(k)
            if shard is None:
                gone = [each for each in (k if isinstance(k, tuple) else (k,)) if each not in self.shards]
                out[k] = ("closed", f"shard {gone[0] if gone else k} is not open on this worker")
                continue
            try:
                if method in self.OWN_CALLS and isinstance(shard.index, Joined):
                    raise ClusterError(f"{method!r} is a call of one shard")
                target = shard if method in self.SHARD_CALLS else _OwnCalls(shard.index)
                out[k] = ("ok", getattr(target, method)(*args))
            except Exception as exc:  # noqa: BLE001 - that shard's answer (the others' still count)
                if not isinstance(exc, NewsearchError):
                    for each in k if isinstance(k, tuple) else (k,):
                        self.shards.pop(each, None)  # (not a failure foreseen: the client opens it afresh)
                try:
                    pickle.dumps(exc)
                except Exception:  # noqa: BLE001 - an exception that does not pickle
                    exc = ClusterError(f"{type(exc).__name__}: {exc}")
                out[k] = ("error", exc)
        return pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)


class _OwnCalls:
    """What a cluster index asks of a shard's index beyond :class:`~newsearch.gather.Shard`."""

    def __init__(self, index: Any) -> None:
        self.index = index

    def ping(self) -> int:
        return len(self.index)

    def get(self, article_id: str) -> Article:
        article: Article = self.index.get(article_id)
        return article

    def stats(self) -> IndexStats:
        stats: IndexStats = self.index.stats()
        return stats

    def state(self) -> str:
        """The shard's committed state (:func:`~newsearch.suggest.index_state`): the
        archive's completions are made again when a shard's changes."""
        found: str = self.index._read(lambda searcher, _config, _synonyms: index_state(searcher))  # noqa: SLF001
        return found

    def highlight(self, text: str, query: str, table: StatisticsTable) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = self.index._read(  # noqa: SLF001
            lambda searcher, config, synonyms: shard_highlight(searcher, config, synonyms, text, query, table)
        )
        return spans


def update_shard(
    index_class: Any, path: str, config: Config, shard: tuple[int, int], paths: list[str], strict: bool
) -> IndexReport:
    """Index ``paths`` into one shard (a task on its owner, beside the shard's actor)."""
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise ClusterError(f"cannot read {missing[0]} on this worker (the source files must be on every worker)")
    if multiprocessing.current_process().daemon and config.indexing.workers != 1:
        # A worker's process cannot start processes of its own: one analysis process per shard.
        config = replace(config, indexing=replace(config.indexing, workers=1))
    index = index_class.create(path, config=config, shard=shard)
    try:
        report: IndexReport = index.update(paths, strict=strict)
        return report
    finally:
        index.close()


# --------------------------------------------------------------------------- on the client


def _uses_tls(address: str, cfg: ClusterConfig) -> bool:
    """Whether ``address`` is a TLS scheduler, once its settings are checked: a
    ``tls://`` address needs the three files, which are only for one."""
    names = ("tls_ca_file", "tls_cert", "tls_key")
    given = [name for name in names if getattr(cfg, name)]
    if not address.startswith("tls://"):
        if given:
            raise ClusterError(f"[cluster] {given[0]} is set, but {address} is not a TLS scheduler: give its tls:// address.")
        return False
    if len(given) < len(names):
        raise ClusterError(
            f"{address} is a TLS scheduler: set [cluster] tls_ca_file, tls_cert and tls_key in newsearch.toml "
            "(the cluster's certificate authority, and this client's certificate and key)."
        )
    for name in names:
        path = getattr(cfg, name)
        if not os.access(path, os.R_OK) or not os.path.isfile(path):
            raise ClusterError(f"[cluster] {name}: cannot read {path}")
    return True


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError("--cluster needs Dask distributed: pip install 'newsearch[cluster]'.") from None
    return distributed


class ClusterIndex:
    """The shards of an archive on a Dask cluster, with the methods of :class:`NewsIndex`
    that read it, and :meth:`update`.  Get one with :meth:`NewsIndex.open` and
    ``cluster=``, or :meth:`create`."""

    def __init__(self, folder: Path, manifest: ClusterManifest, address: str, config: Config, index_class: Any) -> None:
        self.path = folder
        self._index_class = index_class
        self.manifest = manifest
        self.address = address
        self.config = config
        self._client: Any = None
        self._actors: dict[str, Any] = {}  # worker -> its actor
        self._where: dict[int, str] = {}  # shard -> the worker whose actor has it open
        self._lost: dict[int, float] = {}  # shard -> when it was last found gone
        self._lock = threading.RLock()  # (searches may run in several threads at once)
        self._opening: dict[int, threading.Lock] = {}  # shard -> held while it is being opened
        self._making: dict[str, threading.Lock] = {}  # worker -> held while its actor is being made
        self._statistics = StatisticsCache()
        self._completions = CompletionCache(self._new_completions)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | Path, address: str, *, config: Config | str | Path | None = None, index_class: Any) -> ClusterIndex:
        """The cluster index whose manifest is in ``path``, on the scheduler at ``address``."""
        folder = Path(path).absolute()
        cfg = config if isinstance(config, Config) else Config.for_index(folder, config)
        return cls(folder, ClusterManifest.read(folder), address or cfg.cluster.address, cfg, index_class)

    @classmethod
    def create(
        cls, path: str | Path, address: str, shards: int, *, config: Config | str | Path | None = None, index_class: Any
    ) -> ClusterIndex:
        """Open the cluster index in ``path``, or make a new one of ``shards`` shards, each
        given to a worker of the cluster in turn."""
        folder = Path(path).absolute()
        cfg = config if isinstance(config, Config) else Config.for_index(folder, config)
        if is_cluster(folder):
            found = cls.open(folder, address, config=cfg, index_class=index_class)
            if shards and shards != found.manifest.shards:
                raise InvalidArgumentError(
                    "--shards", f"{folder} holds {found.manifest.shards} shards, not {shards} (index into a new folder to reshard)."
                )
            return found
        if shards < 1:
            raise InvalidArgumentError("--shards", "a new cluster index needs the number of shards (--shards N, at least 1).")
        if index_class.exists(folder):
            raise InvalidArgumentError("--index", f"{folder} holds an index of one machine; give the cluster index a folder of its own.")
        index = cls(folder, ClusterManifest(shards, [], []), address or cfg.cluster.address, cfg, index_class)
        workers = index._workers()
        if not workers:
            raise ClusterError(f"no worker is connected to the scheduler at {index.address}.")
        names = sorted(workers, key=lambda a: (str(workers[a].get("name")), a))
        owners = [_owner(workers[names[k % len(names)]]) for k in range(shards)]
        paths = [str(folder / "shards" / f"shard-{k}") for k in range(shards)]
        index.manifest = ClusterManifest(shards, paths, owners, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        index.manifest.write(folder)
        return index

    def _connect(self) -> Any:
        with self._lock:
            return self._client or self._new_client()

    def _new_client(self) -> Any:
        distributed = _distributed()
        if not self.address:
            raise InvalidArgumentError("--cluster", "give the scheduler's address (tcp://HOST:PORT), or [cluster] address.")
        security = None
        if _uses_tls(self.address, self.config.cluster):
            cfg = self.config.cluster
            security = distributed.Security(
                tls_ca_file=cfg.tls_ca_file, tls_client_cert=cfg.tls_cert, tls_client_key=cfg.tls_key, require_encryption=True
            )
        try:
            self._client = distributed.Client(
                self.address,
                timeout=self.config.cluster.timeout,
                security=security,
                set_as_default=False,
                direct_to_workers=self.config.cluster.direct,  # (Dask's default relays an actor's calls through the scheduler)
            )
        except Exception as exc:  # noqa: BLE001 - unreachable, refused, a handshake that failed: all the same to the user
            raise ClusterError(f"cannot reach the scheduler at {self.address}: {type(exc).__name__}: {exc}") from None
        return self._client

    def _workers(self) -> dict[str, dict[str, Any]]:
        """The workers connected to the scheduler, asked of it now.  (Not through
        ``Client.scheduler_info``, whose answer the client's periodic refresh, which
        leaves the workers out, may replace before it is read.)"""
        client = self._connect()
        info: dict[str, dict[str, Any]] = client.sync(client.scheduler.identity, n_workers=-1)["workers"]
        return info

    def _worker_for(self, k: int, workers: dict[str, dict[str, Any]] | None = None) -> str | None:
        """The worker that should hold shard ``k``: its owner (by name, then host), else
        any worker (a shared filesystem)."""
        workers = self._workers() if workers is None else workers
        owner = self.manifest.owners[k]
        for test in (lambda w: str(w.get("name")) == owner, lambda w: w.get("host") == owner):
            found = sorted(address for address, w in workers.items() if test(w))
            if found:
                return found[0]
        return sorted(workers)[k % len(workers)] if workers else None

    # ------------------------------------------------------------------ the shards' actors

    def _actor(self, k: int) -> tuple[str, Any]:
        """The worker that has shard ``k`` open, and its actor: the shard is opened
        there first if it is not open anywhere.

        One thread opens a shard while the others go on: a search that finds a lost
        shard being opened again leaves it out at once, instead of waiting up to the
        timeout for a worker that may not answer (a search waits for a shard's first
        opening only)."""
        held, lost = self._held(k)
        if held is not None:
            return held
        with self._lock:
            opening = self._opening.setdefault(k, threading.Lock())
        if lost is not None:
            if not opening.acquire(blocking=False):
                raise ClusterError(f"shard {k} is unavailable (being opened again since its worker was lost)")
        elif not opening.acquire(timeout=3 * self.config.cluster.timeout):  # (the actor made, the shard opened)
            raise ClusterError(f"shard {k} did not open within the timeout")
        try:
            held, _lost = self._held(k)  # (opened, or found lost, by the thread that held it)
            return held if held is not None else self._open(k)
        finally:
            opening.release()

    def _held(self, k: int) -> tuple[tuple[str, Any] | None, float | None]:
        """The worker that has shard ``k`` open and its actor, or None and when the
        shard was last found lost (None: never); an error if that was a moment ago."""
        with self._lock:
            worker = self._where.get(k)
            if worker is not None and worker in self._actors:
                return (worker, self._actors[worker]), None
            lost = self._lost.get(k)
            if lost is not None and time.monotonic() - lost < _REATTACH_SECONDS:
                raise ClusterError(f"shard {k} is unavailable (its worker was lost)")
            return None, lost

    def _open(self, k: int) -> tuple[str, Any]:
        """Open shard ``k`` on the worker that should hold it (see :meth:`_actor`)."""
        client = self._connect()
        worker = self._worker_for(k)
        if worker is None:
            with self._lock:
                self._lost[k] = time.monotonic()
            raise ClusterError(f"shard {k}: no worker is connected to the scheduler")
        timeout = self.config.cluster.timeout
        try:
            with self._lock:
                making = self._making.setdefault(worker, threading.Lock())
            with making:  # (one actor a worker, whichever of its shards is opened first)
                with self._lock:
                    actor = self._actors.get(worker)
                if actor is None:
                    with client.as_current():  # (an actor finds its client as the current one)
                        future = client.submit(
                            ShardActor, self._index_class, self.config,
                            actor=True, workers=[worker], allow_other_workers=False, pure=False,
                        )
                        try:
                            actor = future.result(timeout=timeout)
                        except Exception:
                            future.cancel()
                            raise
                    with self._lock:
                        self._actors[worker] = actor
            with client.as_current():
                actor.open(self.manifest.paths[k], (k, self.manifest.shards)).result(timeout=timeout)
        except Exception as exc:
            with self._lock:
                self._lost[k] = time.monotonic()
            raise ClusterError(f"shard {k} cannot be opened on {worker}: {type(exc).__name__}: {exc}") from None
        with self._lock:
            self._actors[worker] = actor  # (again, if the worker was forgotten meanwhile)
            self._where[k] = worker
            self._lost.pop(k, None)
        return worker, actor

    def _forget(self, shards: Iterable[int], worker: str | None = None) -> None:
        """Open ``shards`` again before their next call (on whichever worker should
        hold them then), and make ``worker``'s actor again (it is gone)."""
        with self._lock:
            now = time.monotonic()
            for k in shards:
                self._where.pop(k, None)
                self._lost[k] = now
            if worker is not None:
                self._actors.pop(worker, None)
                for k in [k for k, w in self._where.items() if w == worker]:
                    self._where.pop(k)
                    self._lost[k] = now

    def _fan_out(self, method: str, calls: dict[int, tuple[Any, ...]]) -> dict[int, Any]:
        """Call ``method`` on the shards at once, one call to each worker's actor; each
        shard's answer or error, within the timeout."""
        return {k[0]: answer for k, answer in self._call(method, {(k,): args for k, args in calls.items()}).items()}

    def _parts(self) -> tuple[list[tuple[int, ...]], dict[tuple[int, ...], Exception]]:
        """The shards grouped by the worker that has them open (opened first where they
        are not): each group answers a search as one index.  A shard that cannot be
        opened now is a part of its own, with why (its failure in the search)."""
        held: dict[str, list[int]] = {}
        failed: dict[tuple[int, ...], Exception] = {}
        for k in range(self.manifest.shards):
            try:
                worker, _actor = self._actor(k)
            except Exception as exc:  # noqa: BLE001 - that shard's failure
                failed[(k,)] = exc
                continue
            held.setdefault(worker, []).append(k)
        return sorted([tuple(ks) for ks in held.values()] + list(failed)), failed

    def _part_fan_out(self, parts: list[tuple[int, ...]], failed: dict[tuple[int, ...], Exception]) -> FanOut:
        """A fan-out over ``parts`` (numbered as in the list), for :func:`gather`; those
        of ``failed`` fail with their error, uncalled."""

        def fan_out(method: str, calls: dict[int, tuple[Any, ...]]) -> dict[int, Any]:
            answers = self._call(method, {parts[i]: args for i, args in calls.items() if parts[i] not in failed})
            return {i: failed[parts[i]] if parts[i] in failed else answers[parts[i]] for i in calls}

        return fan_out

    def _call(self, method: str, calls: dict[tuple[int, ...], tuple[Any, ...]]) -> dict[tuple[int, ...], Any]:
        """Call ``method`` on each part (shards of one worker, answering as one index) at
        once, one call to each worker's actor; each part's answer or error, within the
        timeout."""
        client = self._connect()  # (no scheduler: an error of the whole call, not of each shard)
        out: dict[tuple[int, ...], Any] = {}
        batches: dict[str, tuple[Any, dict[tuple[int, ...], tuple[Any, ...]]]] = {}
        for part, args in calls.items():
            try:
                opened = [self._actor(k) for k in part]
            except Exception as exc:  # noqa: BLE001 - that shard's failure (unavailable for now)
                out[part] = exc
                continue
            worker, actor = opened[0]
            if any(other != worker for other, _actor in opened):  # (moved since the parts were made)
                out[part] = ClusterError(f"shards {_named(part)} are no longer on one worker")
                continue
            batches.setdefault(worker, (actor, {}))[1][part] = args
        if not batches:
            return out
        sent = {worker: pickle.dumps(payloads, protocol=pickle.HIGHEST_PROTOCOL) for worker, (_a, payloads) in batches.items()}  # (see ShardActor.call)
        timeout = self.config.cluster.timeout

        async def answers() -> list[Any]:
            import asyncio

            async def one(actor: Any, payload: bytes) -> Any:
                # What ``actor.call(method, payload)`` sends, sent as it is: the actor's
                # proxy pickles each argument as a frame of its own and answers through a
                # future of its own, which cost a search over two shards 1.2 to 1.4 ms
                # more per round (20,000 articles, warm).  The connection is the one the
                # proxy would take (to the worker, or through the scheduler).
                with client.as_current():
                    connection = actor._worker_rpc  # noqa: SLF001
                answer = await connection.actor_execute(actor=actor.key, function="call", args=[method, payload], kwargs={})
                if answer.get("status") != "OK":
                    error = answer.get("exception")
                    raise error if isinstance(error, BaseException) else ClusterError(str(answer.get("exception_text", answer)))
                return answer["result"]

            return await asyncio.gather(
                *(asyncio.wait_for(one(actor, sent[worker]), timeout) for worker, (actor, _p) in batches.items()), return_exceptions=True
            )

        try:  # all in one trip to the client's event loop
            found_answers = client.sync(answers)
        except Exception as exc:  # noqa: BLE001 - the client itself failed: every shard did
            found_answers = [exc] * len(batches)
        for worker, answer in zip(batches, found_answers):
            keys = list(batches[worker][1])
            if isinstance(answer, NewsearchError):  # the actor refused the call
                out.update(dict.fromkeys(keys, answer))
            elif isinstance(answer, BaseException):  # lost (its actor's worker gone), timed out: its shards' failure
                self._forget([k for part in keys for k in part], worker)
                why = "no answer within the timeout" if isinstance(answer, TimeoutError) else f"{type(answer).__name__}: {answer}"
                out.update((part, ClusterError(f"shard {_named(part)} did not answer ({why})")) for part in keys)
            else:
                for part, (outcome, value) in pickle.loads(answer).items():
                    if outcome == "ok":
                        out[part] = value
                    elif outcome == "error" and isinstance(value, NewsearchError):
                        out[part] = value  # the shard answered: an error of newsearch's, not a lost shard
                    else:
                        self._forget(part)
                        why = value if outcome == "closed" else f"{type(value).__name__}: {value}"
                        out[part] = ClusterError(f"shard {_named(part)} did not answer ({why})")
        return out

    # ------------------------------------------------------------------ reading

    def search(self, query: str | SearchRequest = "", *, partial: bool = True, **options: Any) -> SearchResults:
        """As :meth:`NewsIndex.search`, over every shard.  A shard that does not answer is
        left out and named in ``results.shards``; with ``partial=False`` that is an error."""
        if isinstance(query, SearchRequest):
            request = replace(query, **options) if options else query
        else:
            request = SearchRequest(query, **options)
        try:
            parts, failed = self._parts()
            return gather(
                self._part_fan_out(parts, failed), len(parts), request, self.config, partial=partial, cache=self._statistics, parts=parts
            )
        except ClusterError:
            raise
        except NewsearchError:
            raise
        except Exception as exc:  # a shard's own failure, with partial=False
            raise ClusterError(str(exc)) from None

    def get(self, article_id: str) -> Article:
        """The article with id ``article_id``, from the shard that holds it."""
        if not article_id:
            raise InvalidArgumentError("ID", "an article id cannot be empty.")
        k = shard_of(article_id, self.manifest.shards)
        answer = self._fan_out("get", {k: (article_id,)})[k]
        if isinstance(answer, BaseException):
            raise answer
        article: Article = answer
        return article

    def stats(self, *, top: int | None = None) -> IndexStats:
        """What the shards hold, added up (segments: all the shards' together)."""
        answers = self._every("stats", ())
        stats = list(answers.values())
        categories: dict[str, int] = {}
        tags: dict[str, int] = {}
        for s in stats:
            for name, n in s.categories:
                categories[name] = categories.get(name, 0) + n
            for name, n in s.tags:
                tags[name] = tags.get(name, 0) + n

        def ranked(counts: dict[str, int]) -> list[tuple[str, int]]:
            found = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            return found if top is None else found[:top]

        firsts = [s.first_date for s in stats if s.first_date is not None]
        lasts = [s.last_date for s in stats if s.last_date is not None]
        return IndexStats(
            str(self.path),
            sum(s.articles for s in stats),
            min(firsts) if firsts else None,
            max(lasts) if lasts else None,
            ranked(categories),
            ranked(tags),
            sum(s.size_bytes for s in stats),
            sum(s.sources for s in stats),  # (a feed whose articles went to several shards counts in each)
            sum(s.segments for s in stats),
            sum(s.deleted for s in stats),
        )

    def suggest(self, prefix: str, *, limit: int = 10, stale_ok: bool = False) -> list[Suggestion]:
        """As :meth:`NewsIndex.suggest`: the completions of one index of the archive, made
        on this machine of what each shard's titles hold (counted by the shard's worker)
        and saved in the cluster's folder.  A call asks each shard its state first; with
        ``stale_ok`` (a server), it answers at once from those made before while the
        shards are asked on a thread of its own (at most once a second), and new ones
        made when they changed.  While a shard does not answer, those made before
        answer; with none made yet, that is an error (with ``stale_ok``, there are no
        completions: they are a help, not a result)."""
        check_limit(limit)
        held = self._completions.newest
        if stale_ok and held is not None:
            self._completions.refresh(_STATE_SECONDS)
            return held[1].complete(prefix, limit)
        try:
            state = self._completion_state()
        except ClusterError:
            if held is not None:
                return held[1].complete(prefix, limit)
            if stale_ok:
                return []
            raise
        return self._completions.complete(
            state, lambda: saved_completions(self.path, state, self._title_counts), prefix, limit, stale_ok=stale_ok
        )

    def _completion_state(self) -> str:
        """What names the shards' states together (:func:`~newsearch.suggest.joined_state`)."""
        answers = self._fan_out("state", dict.fromkeys(range(self.manifest.shards), ()))
        for k, answer in sorted(answers.items()):
            if isinstance(answer, BaseException):
                raise ClusterError(f"completions need every shard: shard {k}: {answer}")
        return joined_state([answers[k] for k in range(self.manifest.shards)])

    def _new_completions(self) -> Completions | None:
        """The completions of the shards' states, made in another process, unless those
        made before are theirs (None)."""
        state = self._completion_state()
        held = self._completions.newest
        if held is not None and held[0] == state:
            return None
        return prepare_counts_aside(self._title_counts(), self.path)

    def _title_counts(self) -> TitleCounts:
        """What every shard's titles hold, counted by each shard's worker (a task beside
        its actor, not a call of it: seconds of work at 50,000 articles a shard), added up."""
        counts, failures = self._on_shards(title_counts_of, lambda k: (self.manifest.paths[k],))
        if failures:
            k, why = min(failures.items())
            raise ClusterError(f"completions need every shard: shard {k} ({self.manifest.owners[k]}): {why}")
        return TitleCounts.added([counts[k] for k in range(self.manifest.shards)])

    def topics(
        self,
        *,
        category: str | Sequence[str] = (),
        tags: str | Sequence[str] = (),
        since: DateLike | None = None,
        until: DateLike | None = None,
        limit: int = 20,
    ) -> list[Topic]:
        """As :meth:`NewsIndex.topics`, every count the archive's (every shard must answer)."""
        selection = Selection(category=category, tags=tags, since=since, until=until)
        check_limit(limit)
        try:
            return gather_topics(self._fan_out, self.manifest.shards, selection, limit, cache=self._statistics)
        except NewsearchError:
            raise
        except Exception as exc:  # a shard that did not answer
            raise ClusterError(str(exc)) from None

    def similar(self, article_id: str, *, limit: int = 10) -> SearchResults:
        """As :meth:`NewsIndex.similar`, over every shard (every shard must answer)."""
        if not article_id:
            raise InvalidArgumentError("ID", "an article id cannot be empty.")
        check_limit(limit)
        try:
            return gather_similar(self._fan_out, self.manifest.shards, article_id, limit, self.config, cache=self._statistics)
        except NewsearchError:
            raise
        except Exception as exc:  # a shard that did not answer
            raise ClusterError(str(exc)) from None

    def highlight(self, text: str, query: str) -> list[tuple[int, int]]:
        """As :meth:`NewsIndex.highlight`, with the statistics earlier searches gathered
        (a query searched before is read as the archive reads it)."""
        table = self._statistics.kept(SearchRequest(query))
        answer = self._fan_out("highlight", {0: (text, query, table)})[0]
        if isinstance(answer, BaseException):
            raise answer
        spans: list[tuple[int, int]] = answer
        return spans

    def verify(self) -> None:
        """Raise :class:`ClusterError` unless every shard answers (for a health check)."""
        self._every("ping", ())

    def __len__(self) -> int:
        """The articles of the shards that answer (:meth:`verify` says whether all do)."""
        answers = self._fan_out("ping", dict.fromkeys(range(self.manifest.shards), ()))
        return sum(n for n in answers.values() if not isinstance(n, BaseException))

    def _every(self, method: str, args: tuple[Any, ...]) -> dict[int, Any]:
        answers = self._fan_out(method, dict.fromkeys(range(self.manifest.shards), args))
        for k, answer in sorted(answers.items()):
            if isinstance(answer, BaseException):
                raise ClusterError(f"shard {k}: {answer}") if not isinstance(answer, NewsearchError) else answer
        return answers

    # ------------------------------------------------------------------ updating

    def update(self, paths: Iterable[str | Path], *, strict: bool = False, progress: Any = None) -> IndexReport:
        """Index ``paths`` into every shard at once (each keeps its own articles) and add
        up what was done.  :class:`ClusterError` names each shard that failed, with its
        worker, after the others finished."""
        sources = [str(Path(p).absolute()) for p in paths]
        n = self.manifest.shards
        reports, failures = self._on_shards(
            update_shard, lambda k: (self._index_class, self.manifest.paths[k], self.config, (k, n), sources, strict), progress
        )
        total = _summed(list(reports.values()))
        if failures:
            detail = "; ".join(f"shard {k} ({self.manifest.owners[k]}): {why}" for k, why in sorted(failures.items()))
            raise ClusterError(f"{len(failures)} of {n} shards failed: {detail}; run the command again to complete it", report=total)
        return total

    def _on_shards(
        self, function: Callable[..., Any], args: Callable[[int], tuple[Any, ...]], progress: Any = None
    ) -> tuple[dict[int, Any], dict[int, str]]:
        """``function(*args(k))`` for every shard ``k`` at once, each a task on the worker
        that should hold the shard; what each returned, and why each that failed did
        (its worker lost, say), after the others finished."""
        client = self._connect()
        workers = self._workers()
        n = self.manifest.shards
        running: dict[int, tuple[Any, str]] = {}
        for k in range(n):
            worker = self._worker_for(k, workers)
            if worker is None:
                raise ClusterError(f"no worker is connected to the scheduler at {self.address}.")
            future = client.submit(function, *args(k), workers=[worker], allow_other_workers=False, pure=False, retries=0)
            running[k] = (future, worker)
        done: dict[int, Any] = {}
        failures: dict[int, str] = {}
        while running:
            time.sleep(0.2)
            alive = set(self._workers())
            for k, (future, worker) in list(running.items()):
                if future.done():
                    try:
                        done[k] = future.result()
                    except Exception as exc:  # noqa: BLE001 - reported with its shard
                        failures[k] = f"{type(exc).__name__}: {exc}" if not isinstance(exc, NewsearchError) else str(exc)
                    del running[k]
                elif worker not in alive:
                    future.cancel()
                    failures[k] = f"its worker {worker} was lost"
                    del running[k]
                    self._forget([k], worker)
            if progress is not None:
                progress(n - len(running), n, "")
        return done, failures

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Let go of the shards' actors and the connection to the scheduler."""
        with self._lock:
            self._actors.clear()
            self._where.clear()
            if self._client is not None:
                try:
                    self._client.close()
                except Exception:  # noqa: BLE001 - closing a client whose scheduler is gone
                    pass
                self._client = None

    def __enter__(self) -> ClusterIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ClusterIndex({str(self.path)!r}, {self.address!r}, shards={self.manifest.shards})"


def _named(part: tuple[int, ...]) -> str:
    """Shards as a message names them: ``2``, ``0, 2``."""
    return ", ".join(map(str, part))


def _owner(worker: dict[str, Any]) -> str:
    """What identifies a worker across restarts: a name given to it (``dask worker
    --name``), else its host."""
    name = str(worker.get("name", ""))
    given = name and not name.isdigit() and "://" not in name and "-" not in name.split(":")[0][-3:]
    return name if given else str(worker.get("host", ""))


def _summed(reports: list[IndexReport]) -> IndexReport:
    """The shards' reports as one run's.  Each shard reads every file: a file counts as
    indexed when a shard took an article of it, and as failed once."""
    total = IndexReport()
    failed: dict[tuple[str, int | None, str], FileFailure] = {}
    for r in reports:
        total.indexed += r.indexed
        total.removed += r.removed
        total.unchanged += r.unchanged
        total.articles_added += r.articles_added
        total.articles_removed += r.articles_removed
        total.reanalyzed += r.reanalyzed
        total.seconds = max(total.seconds, r.seconds)
        total.segments_merged += r.segments_merged
        total.merged_into += r.merged_into
        total.merge_seconds = max(total.merge_seconds, r.merge_seconds)
        for f in r.failed:
            failed.setdefault((f.path, f.line, f.reason), f)
        total.warnings += [w for w in r.warnings if w not in total.warnings]
        total.notes += [n for n in r.notes if n not in total.notes]
    total.failed = list(failed.values())
    return total
