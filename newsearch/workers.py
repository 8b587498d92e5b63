"""Analysis workers: source files → one new Whoosh segment, in a process of its own.

Reading, parsing and segmenting text is nearly all of the indexing cost, so
each worker process analyzes a job (a list of files) and writes the
resulting documents into a segment of its own, without the index lock.  The
parent process (:mod:`newsearch.indexer`) decides which documents to keep
(id conflicts), deletes replaced versions and commits the segments; a
segment that is never committed is removed by the next run.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import queue
import signal
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


from .analysis import word_weights
from .documents import content_hash
from .errors import IngestError
from .ingest import iter_feed, parse_bytes, read_bytes
from .fields import article_document, fingerprint, shard_of
from .store import GenerationWriter, Manifest, Store

__all__ = ["FileJob", "FileOutcome", "JobResult", "WorkerPool", "run_job"]


@dataclass(frozen=True)
class FileJob:
    """One file to (re)index, and the content hash of the version the index has.

    A JSON Lines feed comes with its ``digest`` (the parent hashed it while finding
    where its lines start) and is read line by line, never whole; a big one is cut
    into ``parts``, each the lines that start in ``[start, end)``, from line
    ``first_line`` on, and each a job of its own."""

    path: str
    size: int
    mtime_ns: int
    previous_digest: str | None
    digest: str | None = None
    start: int = 0
    end: int | None = None
    first_line: int = 1
    part: int = 0
    parts: int = 1


@dataclass
class FileOutcome:
    """What became of one file in a job."""

    path: str
    status: str  # "failed", "unchanged" or "parsed"
    reason: str = ""
    line: int | None = None
    articles: list[tuple[str, int, int | None]] = field(default_factory=list)
    """(article id, document number in the job's segment, line of a feed) of every document written."""
    errors: list[tuple[str, int | None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    part: int = 0
    parts: int = 1
    elsewhere: int = 0
    """Articles skipped because they belong to another shard of the cluster."""


@dataclass
class JobResult:
    number: int
    segment: Any
    outcomes: list[FileOutcome]


def _analyze(
    writer: GenerationWriter, job: FileJob, max_bytes: int, user_dicts: tuple[str, ...], shard: tuple[int, int] | None
) -> FileOutcome:
    if job.digest is not None:
        return _analyze_feed(writer, job, max_bytes, user_dicts, shard)
    try:
        data = read_bytes(job.path, max_bytes=max_bytes)
        digest = content_hash(data)
        if job.previous_digest == digest:
            return FileOutcome(job.path, "unchanged")
        parsed = parse_bytes(data, job.path, keep=None if shard is None else lambda i: shard_of(i, shard[1]) == shard[0])
    except IngestError as exc:
        return FileOutcome(job.path, "failed", exc.reason, exc.line)
    except Exception as exc:  # a parser bug must not stop the run
        return FileOutcome(job.path, "failed", f"unexpected error: {type(exc).__name__}: {exc}")
    outcome = FileOutcome(
        job.path,
        "parsed",
        errors=[(e.reason, e.line) for e in parsed.errors],
        warnings=list(parsed.warnings),
    )
    source = fingerprint(job.size, job.mtime_ns, digest)
    outcome.elsewhere = parsed.elsewhere
    for article in parsed.articles:
        docnum = writer.docnum
        writer.add_document(**article_document(article, source, user_dicts))
        outcome.articles.append((article.id, docnum, None))
    return outcome


def _analyze_feed(
    writer: GenerationWriter, job: FileJob, max_bytes: int, user_dicts: tuple[str, ...], shard: tuple[int, int] | None
) -> FileOutcome:
    """A feed, or a part of one, read line by line: ``max_bytes`` applies to each line."""
    if job.digest == job.previous_digest:
        return FileOutcome(job.path, "unchanged", part=job.part, parts=job.parts)
    try:
        st = os.stat(job.path)
    except OSError as exc:
        return FileOutcome(job.path, "failed", f"cannot read: {exc.strerror}", part=job.part, parts=job.parts)
    if (st.st_size, st.st_mtime_ns) != (job.size, job.mtime_ns):
        return FileOutcome(job.path, "failed", "the file changed while it was being indexed; index it again",
                           part=job.part, parts=job.parts)
    assert job.digest is not None
    source = fingerprint(job.size, job.mtime_ns, job.digest)
    outcome = FileOutcome(job.path, "parsed", part=job.part, parts=job.parts)
    feed = iter_feed(job.path, start=job.start, end=job.end, first_line=job.first_line, max_line_bytes=max_bytes,
                     warnings=outcome.warnings)
    try:
        for line, item in feed:
            if isinstance(item, IngestError):
                outcome.errors.append((item.reason, item.line))
                continue
            if shard is not None and shard_of(item.id, shard[1]) != shard[0]:
                outcome.elsewhere += 1
                continue
            docnum = writer.docnum
            writer.add_document(**article_document(item, source, user_dicts))
            outcome.articles.append((item.id, docnum, line))
    except OSError as exc:  # the documents already written are dropped by the parent
        return FileOutcome(job.path, "failed", f"cannot read: {exc.strerror or exc}", articles=outcome.articles,
                           part=job.part, parts=job.parts)
    if job.parts == 1 and not outcome.articles and not outcome.errors and not outcome.elsewhere:
        return FileOutcome(job.path, "failed", "empty file")
    return outcome


def run_job(folder: str, manifest: Manifest, number: int, jobs: list[FileJob], max_bytes: int) -> JobResult:
    """Analyze ``jobs`` into a new, uncommitted segment of the generation ``manifest``
    names in the index ``folder``."""
    ix = Store(folder).open_generation(manifest)
    writer = ix.writer(_lk=False, compound=False)
    try:
        user_dicts = ix.user_dicts
        outcomes = [_analyze(writer, job, max_bytes, user_dicts, manifest.shard) for job in jobs]
        if writer.docnum:
            segment = writer._finalize_segment()  # noqa: SLF001 - Whoosh's own multiprocessing writer does this
        else:
            writer._close_segment()  # noqa: SLF001
            segment = None
    except BaseException:
        writer.cancel()
        raise
    finally:
        writer.temp_storage().destroy()
    return JobResult(number, segment, outcomes)


# --------------------------------------------------------------------------- worker processes


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker when the indexing process dies (Linux), so a
    killed ``newsearch index`` leaves no workers behind."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # elsewhere the worker notices its parent is gone between jobs
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _share_before_fork(manifest: Manifest) -> None:
    """Load jieba's dictionary once, here, so that forked workers share its memory
    instead of loading a copy each; and keep the garbage collector from touching
    (and so copying) the objects the workers inherit."""
    word_weights("中文", user_dicts=manifest.user_dicts())
    gc.freeze()


def _worker_main(folder: str, manifest: Manifest, inbox: Any, outbox: Any, max_bytes: int, parent: int) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent stops workers with SIGTERM
    while True:
        try:
            task = inbox.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                return
            continue
        if task is None:
            return
        number, jobs = task
        try:
            outbox.put(run_job(folder, manifest, number, jobs, max_bytes))
        except BaseException as exc:  # report, so the parent does not wait forever
            detail = "".join(traceback.format_exception(exc)).strip().splitlines()[-16:]
            outbox.put(RuntimeError(f"analysis worker failed: {' | '.join(detail)}"))
            return


class WorkerPool:
    """``processes`` analysis workers fed job by job; results come back in job order.

    With one process, jobs run in the calling process: nothing to fork, and
    exactly the same code path.
    """

    def __init__(self, folder: str, manifest: Manifest, processes: int, max_bytes: int) -> None:
        self.args = (folder, manifest)
        self.processes = processes
        self.max_bytes = max_bytes
        self._procs: list[Any] = []
        self._queues: tuple[Any, ...] = ()

    def map(self, batches: Iterable[list[FileJob]]) -> Iterator[JobResult]:
        """Run every job of ``batches`` (consumed as the workers need them, so a
        million files are never all planned in memory); yield results in job order."""
        batches = iter(batches)
        if self.processes <= 1:
            for number, jobs in enumerate(batches):
                yield run_job(*self.args, number, jobs, self.max_bytes)
            return
        first = next(batches, None)
        second = next(batches, None) if first is not None else None
        if second is None:  # nothing to share out: no processes to start
            if first is not None:
                yield run_job(*self.args, 0, first, self.max_bytes)
            return
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        if method == "fork":
            _share_before_fork(self.args[1])
        ctx = multiprocessing.get_context("fork") if method == "fork" else multiprocessing.get_context("spawn")
        inbox, outbox = ctx.Queue(), ctx.Queue()
        self._queues = (inbox, outbox)
        pending = itertools.chain([first, second], batches)
        sent = 0
        finished = False

        def feed() -> None:
            # One job for each worker, one waiting: enough to keep them busy.
            nonlocal sent, finished
            while not finished and sent - next_number < 2 * self.processes:
                jobs = next(pending, None)
                if jobs is None:
                    finished = True
                    for _ in range(self.processes):
                        inbox.put(None)
                    return
                inbox.put((sent, jobs))
                sent += 1

        next_number = 0
        feed()
        for _ in range(self.processes):
            proc = ctx.Process(
                target=_worker_main,
                args=(*self.args, inbox, outbox, self.max_bytes, os.getpid()),
                daemon=True,
            )
            proc.start()
            self._procs.append(proc)
        waiting: dict[int, JobResult] = {}
        try:
            while not finished or next_number < sent:
                while next_number not in waiting:
                    try:
                        item = outbox.get(timeout=1.0)
                    except queue.Empty:
                        if not any(p.is_alive() for p in self._procs):
                            raise RuntimeError("the analysis workers stopped unexpectedly") from None
                        continue
                    if isinstance(item, BaseException):
                        raise item
                    waiting[item.number] = item
                yield waiting.pop(next_number)
                next_number += 1
                feed()
        finally:
            self.close()

    def close(self) -> None:
        gc.unfreeze()
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self._procs:
            proc.join(timeout=5)
        self._procs.clear()
        # Jobs still waiting in a pipe that no worker reads any more must not keep
        # this process from exiting (a queue's feeder thread would wait forever).
        for channel in self._queues:
            channel.cancel_join_thread()
            channel.close()
        self._queues = ()


def default_processes() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
