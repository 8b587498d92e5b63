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

import os
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import index as windex
from whoosh.index import TOC, clean_files
from whoosh.writing import NO_MERGE

from .codec import NewsWriter
from .config import Config
from .errors import InvalidArgumentError, StrictIndexingError
from .ingest import iter_source_files
from .results import FileFailure, IndexReport
from .workers import FileJob, FileOutcome, WorkerPool, default_processes
from .schema import ID, NBODY, PATH, SOURCE, article_document, fingerprint_digest, same_stat, stored_to_article

__all__ = ["ProgressCallback", "reanalyze", "update_index"]

ProgressCallback = Callable[[int, int, str], None]
"""Called as ``progress(done, total, path)`` after each file that had to be read."""


@dataclass(slots=True)
class _Indexed:
    """What the index holds for one source file."""

    source: bytes
    ids: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return fingerprint_digest(self.source)


def _indexed_files(ix: windex.Index) -> dict[str, _Indexed]:
    files: dict[str, _Indexed] = {}
    with ix.reader() as reader:
        if reader.doc_count() == 0:
            return files
        paths = reader.column_reader(PATH)
        sources = reader.column_reader(SOURCE)
        ids = reader.column_reader(ID)
        for docnum in reader.all_doc_ids():
            path = paths[docnum]
            entry = files.get(path)
            if entry is None:
                entry = files[path] = _Indexed(sources[docnum])
            entry.ids.append(ids[docnum])
    return files


def _absolute(path: str | Path) -> str:
    return os.path.abspath(os.fspath(path))


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def update_index(
    ix: windex.Index,
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
    indexed = _indexed_files(ix)
    owners = {article_id: path for path, entry in indexed.items() for article_id in entry.ids}
    plan, gone = _plan(roots, indexed, report)

    max_bytes = int(config.indexing.max_file_mb * 1_000_000)
    # Normally each job is committed as it comes back, so an interrupted run loses at
    # most the jobs in progress.  Strict runs commit everything at the end, or nothing.
    committer: _Committer | None = None
    pending: list[object] = []
    try:
        if gone:
            committer = _Committer(ix)
            for path in gone:
                report.articles_removed += committer.delete_by_term(PATH, path)
                for article_id in indexed[path].ids:
                    owners.pop(article_id, None)
                report.removed += 1
            if not strict:
                committer.commit_segments([])
                committer = None

        processes = config.indexing.workers or default_processes()
        batches = _jobs(plan, indexed, config, processes)
        pool = WorkerPool(ix.storage.folder, ix.indexname, processes, max_bytes)
        done = 0
        try:
            for result in pool.map(batches):
                if committer is None:
                    committer = _Committer(ix)
                for outcome in result.outcomes:
                    _settle(outcome, result.segment, committer, indexed.get(outcome.path), owners, report)
                    done += 1
                    if progress is not None:
                        progress(done, len(plan), outcome.path)
                if strict and report.failed:
                    raise StrictIndexingError(report.failed)
                if result.segment is not None:
                    pending.append(result.segment)
                if not strict:
                    committer.commit_segments(pending)
                    committer, pending = None, []
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
        _Committer.clean(ix)
    report.seconds = time.perf_counter() - started
    return report


# A worker's buffered segment takes about eleven bytes of memory per byte of text
# (measured: 196 MB for a job of 5,000 articles, 18 MB of text).
_MEMORY_PER_TEXT_BYTE = 11


class _Plan:
    """The files a run must read, in order: a path string and two 8-byte integers
    per file, so planning a million files takes about 150 MB."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.sizes = array("q")
        self.mtimes = array("q")

    def add(self, path: str, size: int, mtime_ns: int) -> None:
        self.paths.append(path)
        self.sizes.append(size)
        self.mtimes.append(mtime_ns)

    def __len__(self) -> int:
        return len(self.paths)


def _plan(roots: list[str], indexed: dict[str, _Indexed], report: IndexReport) -> tuple[_Plan, list[str]]:
    """The new and changed files under ``roots`` (unchanged ones are counted in
    ``report``, unreadable ones reported), and the indexed paths under ``roots``
    that were not found."""
    unseen = {path for path in indexed if _under(path, roots)}
    # Only roots inside one another (or given twice) can list a file twice.
    nested = any(i != j and _under(a, [b]) for i, a in enumerate(roots) for j, b in enumerate(roots))
    listed: set[str] | None = set() if nested else None
    plan = _Plan()
    for file in iter_source_files(roots):
        path = _absolute(file)
        if listed is not None:
            if path in listed:
                continue
            listed.add(path)
        unseen.discard(path)
        try:
            st = os.stat(path)
        except OSError as exc:
            report.failed.append(FileFailure(path, f"cannot read: {exc.strerror}"))
            continue
        entry = indexed.get(path)
        if entry is not None and same_stat(entry.source, st.st_size, st.st_mtime_ns):
            report.unchanged += 1
            continue
        plan.add(path, st.st_size, st.st_mtime_ns)
    return plan, sorted(unseen)


def _jobs(plan: _Plan, indexed: dict[str, _Indexed], config: Config, processes: int) -> Iterator[list[FileJob]]:
    """Cut the files into jobs, made as the workers need them: small enough to keep
    every worker busy and to stay within ``indexing.memory_mb`` per worker, at most
    ``indexing.batch_size`` files."""
    count = min(config.indexing.batch_size, max(64, -(-len(plan) // (2 * processes))))
    budget = config.indexing.memory_mb * 1_000_000 // _MEMORY_PER_TEXT_BYTE
    job: list[FileJob] = []
    size = 0
    for path, file_size, mtime_ns in zip(plan.paths, plan.sizes, plan.mtimes):
        if job and (len(job) >= count or size + file_size > budget):
            yield job
            job, size = [], 0
        previous = indexed[path].digest if path in indexed else None
        job.append(FileJob(path, file_size, mtime_ns, previous))
        size += file_size
    if job:
        yield job


class _Committer(NewsWriter):  # type: ignore[misc]
    """The parent's writer: holds the index lock, deletes, and commits worker segments.

    Its commits do not delete unreferenced segment files, because workers may be
    writing new segments at the same time; :meth:`clean` does that once they stop.
    """

    def commit_segments(self, new: list[object]) -> None:
        """Commit this writer's deletions and the workers' ``new`` segments at once."""
        segments = [*self._merge_segments(NO_MERGE, False, False), *new]
        self._close_segment()
        # This writer's own segment holds no documents: drop its empty files now
        # rather than leave a handful per commit until the run ends.
        for name in self.newsegment.list_files(self.storage):
            self.storage.delete_file(name)
        TOC(self.schema, segments, self.generation).write(self.storage, self.indexname)
        self._finish()

    @staticmethod
    def clean(ix: windex.Index) -> None:
        toc = TOC.read(ix.storage, ix.indexname)
        clean_files(ix.storage, ix.indexname, toc.generation, toc.segments)


def _settle(
    outcome: FileOutcome,
    segment: object | None,
    committer: _Committer,
    previous: _Indexed | None,
    owners: dict[str, str],
    report: IndexReport,
) -> None:
    """Record one file's outcome: keep or drop its new documents, delete its old version."""
    path = outcome.path
    if outcome.status == "failed":
        report.failed.append(FileFailure(path, outcome.reason, outcome.line))
        return
    if outcome.status == "unchanged":
        report.unchanged += 1
        return
    report.warnings.extend(f"{path}: {w}" for w in outcome.warnings)
    for reason, line in outcome.errors:
        report.failed.append(FileFailure(path, reason, line))
    if previous is not None:
        for article_id in previous.ids:
            if owners.get(article_id) == path:
                del owners[article_id]
    accepted = 0
    for article_id, docnum in outcome.articles:
        owner = owners.get(article_id)
        if owner is not None and owner != path:
            which = f" (article {article_id!r})" if len(outcome.articles) > 1 else ""
            report.failed.append(FileFailure(path, f"id {article_id!r} is already used by {owner}; skipped{which}"))
            segment.delete_document(docnum)  # type: ignore[union-attr]
            continue
        owners[article_id] = path
        accepted += 1
    if not accepted:
        # Nothing usable: keep whatever version of the file the index already has.
        if previous is not None:
            owners.update((article_id, path) for article_id in previous.ids)
        return
    if previous is not None:
        report.articles_removed += committer.delete_by_term(PATH, path)
    report.articles_added += accepted
    report.indexed += 1


def reanalyze(source: windex.Index, target: windex.Index, config: Config) -> int:
    """Copy every article of ``source`` into ``target``, analyzing it with ``target``'s schema.

    Articles are rebuilt from the stored fields, so the source files are not
    needed; their fingerprints are kept, so the next update still recognises
    unchanged files.  Returns the number of articles copied.
    """
    copied = 0
    writer = NewsWriter(target)
    try:
        with source.reader() as reader:
            sources = reader.column_reader(SOURCE)
            nbodies = reader.column_reader(NBODY, translate=False)
            for docnum, stored in reader.iter_docs():
                article = stored_to_article(stored, nbodies[docnum].decode("utf-8"))
                writer.add_document(**article_document(article, sources[docnum]))
                copied += 1
                if copied % config.indexing.batch_size == 0:
                    writer.commit()
                    writer = NewsWriter(target)
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    return copied
