"""Source files → documents in a Whoosh index, incrementally.

One run compares the files under the given paths with what the index holds
(each document keeps its file's path and a ``size:mtime:hash`` fingerprint):

* a file whose size and mtime match is unchanged and is not read;
* a file whose bytes hash the same is unchanged and is not parsed or analyzed;
* a new or changed file is parsed and its articles replace the old ones;
* an indexed file under the given paths that no longer exists is removed;
* a file that cannot be read or parsed is reported and skipped, and its
  previous version, if any, stays in the index.

Work is committed every ``indexing.batch_size`` files, so an interrupted run
loses at most the batches in progress and the next run picks up where it
stopped.  A strict run commits all of its work at the end, or none of it.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import struct
import tempfile
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .config import Config
from . import keywords
from .errors import InvalidArgumentError, StrictIndexingError
from .ingest import iter_source_files, read_file, sample_feed, scan_feed
from .merge import MergeReport, merge_index
from .results import FileFailure, IndexReport
from .store import Generation, GenerationWriter
from .workers import FileJob, FileOutcome, WorkerPool, default_processes
from .fields import (
    ID,
    NBODY,
    NTITLE,
    PATH,
    SOURCE,
    article_document,
    fingerprint_digest,
    id_key,
    same_stat,
    stored_to_article,
)

__all__ = ["ProgressCallback", "merge_segments", "reanalyze", "update_index"]

ProgressCallback = Callable[[int, int, str], None]
"""Called as ``progress(done, total, path)`` after each file that had to be read."""


class _Indexed:
    """What the index held when the run started, per source file, in flat arrays.

    Nine bytes per article (a 32-bit hash of its file's path beside its document
    number, sorted, and whether the run has seen it) and a hash of its id in
    :attr:`id_keys`; paths, fingerprints and ids are read from the index's columns
    when a file needs them.  A dict of paths and ids took over half a kilobyte per
    file.
    """

    def __init__(self, ix: Generation) -> None:
        self.reader: Any = ix.reader()
        reader = self.reader
        self._entries = array("Q")
        self._paths: Any = ()
        self._sources: Any = ()
        self._ids: Any = ()
        self.id_keys = _KeySet(reader.doc_count())
        if reader.doc_count():
            self._paths = reader.column_reader(PATH)
            self._sources = reader.column_reader(SOURCE)
            self._ids = reader.column_reader(ID)
            paths, ids = self._paths, self._ids
            live = list(reader.all_doc_ids())
            self._entries = array("Q", sorted((_path_key(paths[d]) << 32) | d for d in live))
            for docnum in live:
                self.id_keys.add(id_key(ids[docnum]))
        self._seen = bytearray(len(self._entries))

    def close(self) -> None:
        self.reader.close()

    def docs(self, path: str) -> list[int]:
        """The document numbers of ``path``'s articles (none for a new file)."""
        entries, paths = self._entries, self._paths
        key = _path_key(path)
        found = []
        i = bisect_left(entries, key << 32)
        while i < len(entries) and entries[i] >> 32 == key:
            docnum = entries[i] & 0xFFFFFFFF
            if paths[docnum] == path:
                found.append(docnum)
                self._seen[i] = 1
            i += 1
        return found

    def source(self, docs: list[int]) -> bytes:
        return self._sources[docs[0]]  # type: ignore[no-any-return]

    def ids(self, docs: list[int]) -> list[str]:
        return [self._ids[d] for d in docs]

    def unseen(self, roots: Sequence[str]) -> list[str]:
        """The indexed paths under ``roots`` that :meth:`docs` was never asked for."""
        gone = set()
        for i, seen in enumerate(self._seen):
            if not seen:
                path = self._paths[self._entries[i] & 0xFFFFFFFF]
                if _under(path, roots):
                    gone.add(path)
        return sorted(gone)


def _path_key(path: str) -> int:
    """32 bits of a path's hash: an index into the sorted entries, confirmed on the path."""
    data = path.encode("utf-8", "surrogateescape")
    return int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "little")


class _KeySet:
    """A set of nonzero 64-bit keys in one flat array (open addressing, linear
    probing): 12 to 24 bytes per key, where a Python set of ints takes about 70."""

    def __init__(self, expected: int = 0) -> None:
        """An empty set with room for ``expected`` keys before it has to grow."""
        size = 1024
        while 2 * size < 3 * expected:
            size *= 2
        self._slots = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        return (key for key in self._slots if key)

    def _slot(self, key: int) -> int:
        """Where ``key`` is, or the empty slot where it would go."""
        slots, mask = self._slots, self._mask
        i = key & mask  # keys are hashes: their low bits are spread evenly
        while True:
            found = slots[i]
            if found == key or not found:
                return i
            i = (i + 1) & mask

    def __contains__(self, key: int) -> bool:
        return self._slots[self._slot(key)] == key

    def add(self, key: int) -> None:
        i = self._slot(key)
        if self._slots[i] == key:
            return
        self._slots[i] = key
        self._count += 1
        if 3 * self._count > 2 * len(self._slots):
            self._grow()

    def discard(self, key: int) -> None:
        slots, mask = self._slots, self._mask
        i = self._slot(key)
        if slots[i] != key:
            return
        slots[i] = 0
        self._count -= 1
        # Shift back the keys after the hole that could not reach their place past it.
        j = i
        while True:
            j = (j + 1) & mask
            moved = slots[j]
            if not moved:
                return
            home = moved & mask
            if (i < home <= j) if i <= j else (i < home or home <= j):
                continue  # still reachable from its home slot
            slots[i], slots[j] = moved, 0
            i = j

    def _grow(self) -> None:
        slots = array("Q", bytes(16 * len(self._slots)))
        mask = len(slots) - 1
        for key in self._slots:
            if key:
                i = key & mask
                while slots[i]:
                    i = (i + 1) & mask
                slots[i] = key
        self._slots, self._mask = slots, mask


class _Owners:
    """Which article ids are taken, as hashes, and by which file when a conflict asks.

    The file that holds an id is looked up only for the message of a conflict:
    in this job's own articles, in the work a strict run has not committed yet,
    or in the index as last committed.
    """

    def __init__(self, ix: Generation, taken: _KeySet) -> None:
        self._ix = ix
        self._reader: Any = None
        self._paths: Any = ()
        self.taken = taken
        self.recent: dict[str, str] = {}  # id -> path, for work not yet committed

    def committed(self) -> None:
        """The work so far is in the index now: look it up there."""
        self.recent.clear()
        self.close()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def owner(self, article_id: str) -> str | None:
        """The file that holds ``article_id``, or None: the id is free after all
        (its hash is in :attr:`taken` for another id)."""
        found = self.recent.get(article_id)
        if found is not None:
            return found
        if self._reader is None:  # one reader (and path column) per committed state
            self._reader = self._ix.reader()
            self._paths = self._reader.column_reader(PATH) if self._reader.doc_count() else ()
        reader = self._reader
        if (ID, article_id) in reader:
            for docnum in reader.postings(ID, article_id).all_ids():
                if not reader.is_deleted(docnum):
                    return self._paths[docnum]  # type: ignore[no-any-return]
        return None


def _absolute(path: str | Path) -> str:
    return os.path.abspath(os.fspath(path))


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def update_index(
    ix: Generation,
    paths: Iterable[str | Path],
    config: Config,
    *,
    progress: ProgressCallback | None = None,
    strict: bool = False,
) -> IndexReport:
    """Bring ``ix`` up to date with the files under ``paths``; see the module docstring.

    With ``strict``, the first file that fails stops the run with
    :class:`StrictIndexingError` and nothing of it is committed."""
    started = time.perf_counter()
    roots = [_absolute(p) for p in paths]
    if not roots:
        raise InvalidArgumentError("PATH", "give at least one file or folder to index.")
    for root in roots:
        if not os.path.exists(root):
            raise InvalidArgumentError("PATH", f"{root} does not exist.")

    report = IndexReport()
    indexed = _Indexed(ix)
    owners = _Owners(ix, indexed.id_keys)
    plan = _Plan(ix.folder)
    try:
        _run(ix, roots, indexed, owners, plan, config, progress, strict, report)
    finally:
        plan.close()
        owners.close()
        indexed.close()
    merged = merge_segments(ix, config)
    if merged.merges:
        report.segments_merged, report.merged_into = merged.segments_before, merged.segments_after
    report.merge_seconds = merged.seconds
    report.seconds = time.perf_counter() - started
    return report


def merge_segments(ix: Generation, config: Config, *, everything: bool = False) -> MergeReport:
    """Merge segments as ``[indexing]`` says (see :mod:`newsearch.merge`); with
    ``everything``, into as few as the largest segment allows.  Call with the write
    lock held."""
    settings = config.indexing
    if not settings.merge_factor and not everything:
        return MergeReport()
    try:
        return merge_index(
            ix,
            factor=settings.merge_factor or 2,
            floor_mb=settings.merge_floor_mb,
            max_mb=settings.merge_max_mb,
            deletes=settings.merge_deletes,
            everything=everything,
        )
    finally:
        ix.clean_files()  # what an interrupted merge wrote, and the tables it replaced


def _run(
    ix: Generation,
    roots: list[str],
    indexed: _Indexed,
    owners: _Owners,
    plan: _Plan,
    config: Config,
    progress: ProgressCallback | None,
    strict: bool,
    report: IndexReport,
) -> None:
    """Plan, analyze and commit; :func:`update_index` holds what the run reads from."""
    gone = _make_plan(plan, roots, indexed, report)
    max_bytes = int(config.indexing.max_file_mb * 1_000_000)
    idf = _idf_table(ix, indexed, plan, max_bytes)
    # Normally each job is committed as it comes back, so an interrupted run loses at
    # most the jobs in progress.  Strict runs commit everything at the end, or nothing.
    committer: GenerationWriter | None = None
    pending: list[object] = []
    try:
        if gone:
            committer = ix.writer()
            for path in gone:
                report.articles_removed += committer.delete_by_term(PATH, path)
                for article_id in indexed.ids(indexed.docs(path)):
                    owners.taken.discard(id_key(article_id))
                report.removed += 1
            if not strict:
                committer.commit_segments([])
                committer = None

        processes = config.indexing.workers or default_processes()
        # A shard keeps one article in ``shards`` of the files it reads: its jobs read that
        # many times more files, so its segments hold as many articles as one index's.
        shards = ix.manifest.shard[1] if ix.manifest.shard is not None else 1
        batches = _jobs(plan, indexed, config, processes, max_bytes, shards)
        pool = WorkerPool(ix.folder, ix.manifest, processes, max_bytes)
        done = 0
        feed: _FileRun | None = None  # a feed whose other parts are still to come
        try:
            for result in _with_idf(idf, pool.map(batches)):
                if committer is None:
                    committer = ix.writer()
                if result.segment is not None:
                    pending.append(result.segment)
                for outcome in result.outcomes:
                    if feed is not None and feed.path == outcome.path:
                        run = feed
                    else:
                        run = _FileRun(outcome.path, indexed.ids(indexed.docs(outcome.path)), owners)
                    # Parts of a feed are committed together, after the last: other files
                    # find its ids in the index then, and need not remember them here.
                    run.add(outcome, result.segment, report, remember=strict or outcome.parts == 1)
                    if outcome.part + 1 < outcome.parts:
                        feed = run
                        continue
                    feed = None
                    run.finish(committer, report, pending)
                    done += 1
                    if progress is not None:
                        progress(done, len(plan), outcome.path)
                if strict and report.failed:
                    raise StrictIndexingError(report.failed)
                if not strict and feed is None:
                    committer.commit_segments(pending)
                    committer, pending = None, []
                    owners.committed()
            if committer is not None:
                committer.commit_segments(pending)
                committer = None
        finally:
            pool.close()
    except BaseException:
        if committer is not None:
            committer.cancel()
        raise
    finally:
        # Segment files of jobs that were never committed (an interrupted run).
        ix.clean_files()


# A worker's buffered segment takes about eleven bytes of memory per byte of text
# (measured: 168 MB at most for a job of 5,000 articles, 18 MB of text; the pool
# itself 114 MB, the rest is its segment being written).
_MEMORY_PER_TEXT_BYTE = 11


class _Plan:
    """The files a run must read, in order, read back once.

    About 100 bytes per file, kept in memory up to a few megabytes and beyond that
    in an unnamed temporary file beside the index, so that the run's memory does
    not grow with the number of files.
    """

    _RECORD = struct.Struct("<qqI")  # size, mtime_ns, length of the UTF-8 path
    _IN_MEMORY = 4_000_000

    def __init__(self, folder: str) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=self._IN_MEMORY, dir=folder)
        self._count = 0

    def add(self, path: str, size: int, mtime_ns: int) -> None:
        data = path.encode("utf-8", "surrogateescape")
        self._file.write(self._RECORD.pack(size, mtime_ns, len(data)) + data)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[tuple[str, int, int]]:
        """(path, size, mtime_ns) of each file."""
        self._file.seek(0)
        read, record = self._file.read, self._RECORD
        for _ in range(self._count):
            size, mtime_ns, length = record.unpack(read(record.size))
            yield read(length).decode("utf-8", "surrogateescape"), size, mtime_ns

    def close(self) -> None:
        self._file.close()


def _make_plan(plan: _Plan, roots: list[str], indexed: _Indexed, report: IndexReport) -> list[str]:
    """Add the new and changed files under ``roots`` to ``plan`` (unchanged ones are
    counted in ``report``, unreadable ones reported); return the indexed paths under
    ``roots`` that were not found."""
    # Only roots inside one another (or given twice) can list a file twice.
    nested = any(i != j and _under(a, [b]) for i, a in enumerate(roots) for j, b in enumerate(roots))
    listed: set[str] | None = set() if nested else None
    for file in iter_source_files(roots):
        path = _absolute(file)
        if listed is not None:
            if path in listed:
                continue
            listed.add(path)
        docs = indexed.docs(path)
        try:
            st = os.stat(path)
        except OSError as exc:
            report.failed.append(FileFailure(path, f"cannot read: {exc.strerror}"))
            continue
        if docs and same_stat(indexed.source(docs), st.st_size, st.st_mtime_ns):
            report.unchanged += 1
            continue
        plan.add(path, st.st_size, st.st_mtime_ns)
    return indexed.unseen(roots)


def _jobs(
    plan: _Plan, indexed: _Indexed, config: Config, processes: int, max_bytes: int, shards: int = 1
) -> Iterator[list[FileJob]]:
    """Cut the files into jobs, made as the workers need them: small enough to keep
    every worker busy and to stay within ``indexing.memory_mb`` per worker, at most
    ``indexing.batch_size`` files.  A feed counts as its lines: one bigger than that
    is cut into parts at line boundaries, each a job of its own (:func:`_feed_jobs`).
    A shard of ``shards`` keeps one article in ``shards``: its jobs are that many
    times larger in files and bytes read, as large in articles kept."""
    count = min(config.indexing.batch_size * shards, max(64, -(-len(plan) // (2 * processes))))
    budget = config.indexing.memory_mb * 1_000_000 * shards // _MEMORY_PER_TEXT_BYTE
    job: list[FileJob] = []
    size = 0
    for path, file_size, mtime_ns in plan:
        docs = indexed.docs(path)
        previous = fingerprint_digest(indexed.source(docs)) if docs else None
        if path.lower().endswith(".jsonl"):
            parts = _feed_jobs(path, file_size, mtime_ns, previous, config, processes, budget, shards)
            if len(parts) > 1:
                if job:
                    yield job
                    job, size = [], 0
                for part in parts:
                    yield [part]
                continue
            file_job = parts[0]
        else:
            file_job = FileJob(path, file_size, mtime_ns, previous)
        if job and (len(job) >= count or size + file_size > budget):
            yield job
            job, size = [], 0
        job.append(file_job)
        size += file_size
    if job:
        yield job


def _feed_jobs(
    path: str, size: int, mtime_ns: int, previous: str | None, config: Config, processes: int, budget: int, shards: int = 1
) -> list[FileJob]:
    """The jobs of one feed: itself, or its parts of up to ``indexing.batch_size``
    lines and ``budget`` bytes, as many as it takes to give every worker two."""
    try:
        scan = scan_feed(path)
    except OSError:
        return [FileJob(path, size, mtime_ns, previous)]  # the worker reports why it cannot be read
    if not scan.streamable:
        return [FileJob(path, size, mtime_ns, previous)]  # UTF-16: read whole
    if scan.digest == previous:
        return [FileJob(path, size, mtime_ns, previous, scan.digest)]  # unchanged: not read again
    step = scan.STEP
    lines = min(config.indexing.batch_size * shards, max(step, -(-scan.lines // (2 * processes))))
    blocks = max(1, lines // step)  # a part is a whole number of STEP-line blocks
    offsets = [*scan.offsets, size]
    starts = [0]
    for k in range(1, len(offsets) - 1):
        if k - starts[-1] >= blocks or offsets[k + 1] - offsets[starts[-1]] > budget:
            starts.append(k)
    if size != os.path.getsize(path):  # changed since the plan: the worker says so
        starts = [0]
    if len(starts) == 1:
        return [FileJob(path, size, mtime_ns, previous, scan.digest)]
    ends = [*starts[1:], len(offsets) - 1]
    return [
        FileJob(path, size, mtime_ns, previous, scan.digest, offsets[a], offsets[b] if b < len(offsets) - 1 else None,
                1 + a * step, i, len(starts))
        for i, (a, b) in enumerate(zip(starts, ends))
    ]


class _FileRun:
    """One file's articles as its outcomes come back (one, or one per part of a feed):
    their ids checked against other files and the file's own earlier lines; its old
    version deleted when the last part is in and something of it was accepted."""

    def __init__(self, path: str, previous: list[str], owners: _Owners) -> None:
        self.path = path
        self.previous = previous
        self.owners = owners
        self.released = [id_key(article_id) for article_id in previous]
        for key in self.released:
            owners.taken.discard(key)
        self.seen = _KeySet()
        self.accepted = 0
        self.elsewhere = 0  # articles of another shard (see Manifest.shard)
        self.failure: FileFailure | None = None
        self.segments: list[object] = []

    def add(self, outcome: FileOutcome, segment: object | None, report: IndexReport, *, remember: bool) -> None:
        """Settle one outcome: keep or drop its new documents in ``segment``."""
        path = self.path
        if outcome.parts > 1 and segment is not None:
            self.segments.append(segment)
        if outcome.status == "failed":
            for _id, docnum, _line in outcome.articles:
                segment.delete_document(docnum)  # type: ignore[union-attr]
            if self.failure is None:
                self.failure = FileFailure(path, outcome.reason, outcome.line)
            return
        if outcome.status == "unchanged":
            report.unchanged += 1
            return
        report.warnings.extend(f"{path}: {w}" for w in outcome.warnings)
        self.elsewhere += outcome.elsewhere
        for reason, line in outcome.errors:
            report.failed.append(FileFailure(path, reason, line))
        owners = self.owners
        taken, recent = owners.taken, owners.recent
        for article_id, docnum, line in outcome.articles:
            key = id_key(article_id)
            if key in self.seen:
                report.failed.append(
                    FileFailure(path, f"id {article_id!r} is already used by an earlier line of this file; skipped", line)
                )
                segment.delete_document(docnum)  # type: ignore[union-attr]
                continue
            if key in taken and recent.get(article_id) != path:
                owner = owners.owner(article_id)
                if owner is not None and owner != path:
                    which = f" (article {article_id!r})" if len(outcome.articles) > 1 or line else ""
                    report.failed.append(FileFailure(path, f"id {article_id!r} is already used by {owner}; skipped{which}", line))
                    segment.delete_document(docnum)  # type: ignore[union-attr]
                    continue
            self.seen.add(key)
            taken.add(key)
            if remember:
                recent[article_id] = path
            self.accepted += 1

    def finish(self, committer: GenerationWriter, report: IndexReport, pending: list[object]) -> None:
        """The file is complete: replace its old version, or keep it when nothing new is usable."""
        taken = self.owners.taken
        if self.failure is None and not self.accepted and self.elsewhere and self.previous:
            # Its articles are all another shard's now: the old version goes.
            report.articles_removed += committer.delete_by_term(PATH, self.path)
            return
        if self.failure is not None or not self.accepted:
            for key in list(self.seen):
                taken.discard(key)
            for key in self.released:
                taken.add(key)
            if self.failure is not None:
                report.failed.append(self.failure)
                dropped = {id(segment) for segment in self.segments}
                pending[:] = [segment for segment in pending if id(segment) not in dropped]
            return
        if self.previous:
            report.articles_removed += committer.delete_by_term(PATH, self.path)
        report.articles_added += self.accepted
        report.indexed += 1


def _idf_table(ix: Generation, indexed: _Indexed, plan: _Plan, max_bytes: int) -> keywords.IdfTable:
    """The idf that keywords are chosen with in this run (see :mod:`newsearch.keywords`)."""

    def from_files(n: int) -> Iterator[str]:
        # Spread over the files: archives are often in date order, and one period's
        # stories would make their own words look common.  A feed gives its share of
        # lines from all over it, read where they are: never the whole feed, which
        # took 51 s of a refused 35 MB feed's run (its 10,000 articles segmented).
        step = max(1, len(plan) // max(1, n))
        files = list(itertools.islice(plan, 0, step * n, step))
        share = -(-n // max(1, len(files)))
        for path, _size, _mtime in files:
            try:
                if path.lower().endswith(".jsonl"):
                    articles: Iterable[Any] = list(sample_feed(path, share, max_line_bytes=max_bytes))
                else:
                    articles = read_file(path, max_bytes=max_bytes).articles
            except Exception:  # noqa: BLE001 - the run reports bad files; a sample skips them
                continue
            for article in itertools.islice(articles, share):
                yield article.title + "\n" + article.body

    reader = indexed.reader
    return keywords.prepare_idf(
        Path(ix.folder),
        reader.doc_count(),
        len(plan),
        lambda n: _index_texts(reader, n),
        from_files,
        ix.user_dicts,
    )


def _index_texts(reader: Any, n: int) -> Iterator[str]:
    """Titles and bodies of a seeded sample of ``n`` live articles of ``reader``."""
    if not reader.doc_count():
        return
    live = list(reader.all_doc_ids())
    titles, bodies = reader.column_reader(NTITLE, translate=False), reader.column_reader(NBODY, translate=False)
    for i in keywords.seeded_sample(len(live), n):
        yield titles[live[i]].decode("utf-8") + "\n" + bodies[live[i]].decode("utf-8")


def _with_idf(idf: keywords.IdfTable, results: Iterator[Any]) -> Iterator[Any]:
    """``results``, drawn with ``idf`` in use (workers fork on the first draw)."""
    with keywords.in_use(idf):
        yield from results


def reanalyze(source: Generation, target: Generation, config: Config) -> int:
    """Copy every article of ``source`` into ``target``, analyzing it with ``target``'s schema.

    Articles are rebuilt from the stored fields, so the source files are not
    needed; their fingerprints are kept, so the next update still recognises
    unchanged files.  Returns the number of articles copied.
    """
    copied = 0
    user_dicts = target.user_dicts
    writer = target.writer()
    try:
        with source.reader() as reader, keywords.in_use(
            keywords.prepare_idf(
                Path(target.folder), reader.doc_count(), 0, lambda n: _index_texts(reader, n), lambda n: (), user_dicts
            )
        ):
            sources = reader.column_reader(SOURCE)
            nbodies = reader.column_reader(NBODY, translate=False)
            for docnum, stored in reader.iter_docs():
                article = stored_to_article(stored, nbodies[docnum].decode("utf-8"))
                writer.add_document(**article_document(article, sources[docnum], user_dicts))
                copied += 1
                if copied % config.indexing.batch_size == 0:
                    writer.commit()
                    writer = target.writer()
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    return copied
