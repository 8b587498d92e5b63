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
loses at most one batch and the next run picks up where it stopped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import index as windex

from .config import Config
from .documents import content_hash
from .errors import IngestError, InvalidArgumentError
from .ingest import iter_source_files, parse_bytes, read_bytes
from .results import FileFailure, IndexReport
from .schema import ID, PATH, SOURCE, article_document, fingerprint, stored_to_article

__all__ = ["ProgressCallback", "reanalyze", "update_index"]

ProgressCallback = Callable[[int, int, str], None]
"""Called as ``progress(done, total, path)`` after each file that had to be read."""


@dataclass
class _Indexed:
    """What the index holds for one source file."""

    source: bytes
    ids: list[str] = field(default_factory=list)

    @property
    def size_mtime(self) -> bytes:
        return self.source.rsplit(b":", 1)[0]

    @property
    def digest(self) -> str:
        return self.source.rsplit(b":", 1)[1].decode("ascii")


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
) -> IndexReport:
    """Bring ``ix`` up to date with the files under ``paths``; see the module docstring."""
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

    # Plan: which files must be read, which are gone.
    seen: set[str] = set()
    to_read: list[tuple[str, os.stat_result]] = []
    for file in iter_source_files(roots):
        path = _absolute(file)
        if path in seen:
            continue
        seen.add(path)
        try:
            st = os.stat(path)
        except OSError as exc:
            report.failed.append(FileFailure(path, f"cannot read: {exc.strerror}"))
            continue
        entry = indexed.get(path)
        if entry is not None and entry.size_mtime == f"{st.st_size}:{st.st_mtime_ns}".encode("ascii"):
            report.unchanged += 1
            continue
        to_read.append((path, st))
    gone = [p for p in indexed if p not in seen and _under(p, roots)]

    max_bytes = int(config.indexing.max_file_mb * 1_000_000)
    batch = config.indexing.batch_size
    writer = None
    pending = 0
    try:
        if gone:
            writer = ix.writer()
            for path in gone:
                report.articles_removed += writer.delete_by_term(PATH, path)
                for article_id in indexed[path].ids:
                    owners.pop(article_id, None)
                report.removed += 1
            pending += len(gone)

        for done, (path, st) in enumerate(to_read, start=1):
            if writer is None:
                writer = ix.writer()
            pending += _index_file(writer, path, st, indexed.get(path), owners, max_bytes, report)
            if progress is not None:
                progress(done, len(to_read), path)
            if pending >= batch:
                writer.commit()
                writer, pending = None, 0
        if writer is not None:
            writer.commit()
            writer = None
    finally:
        if writer is not None:
            writer.cancel()
    report.seconds = time.perf_counter() - started
    return report


def _index_file(
    writer: object,
    path: str,
    st: os.stat_result,
    previous: _Indexed | None,
    owners: dict[str, str],
    max_bytes: int,
    report: IndexReport,
) -> int:
    """Read, parse and write one file; return 1 if the index changed, else 0."""
    try:
        data = read_bytes(path, max_bytes=max_bytes)
        digest = content_hash(data)
        if previous is not None and previous.digest == digest:
            report.unchanged += 1
            return 0
        parsed = parse_bytes(data, path)
    except IngestError as exc:
        report.failed.append(FileFailure(path, exc.reason, exc.line))
        return 0
    except Exception as exc:  # a parser bug must not stop the run
        report.failed.append(FileFailure(path, f"unexpected error: {type(exc).__name__}: {exc}"))
        return 0

    report.warnings.extend(f"{path}: {w}" for w in parsed.warnings)
    for err in parsed.errors:
        report.failed.append(FileFailure(path, err.reason, err.line))
    if previous is not None:
        for article_id in previous.ids:
            if owners.get(article_id) == path:
                del owners[article_id]

    source = fingerprint(st.st_size, st.st_mtime_ns, digest)
    accepted = []
    for article in parsed.articles:
        owner = owners.get(article.id)
        if owner is not None and owner != path:
            line = f" (article {article.id!r})" if len(parsed.articles) > 1 else ""
            report.failed.append(
                FileFailure(path, f"id {article.id!r} is already used by {owner}; skipped{line}")
            )
            continue
        owners[article.id] = path
        accepted.append(article)

    if not accepted:
        # Nothing usable: keep whatever version of the file the index already has.
        if previous is not None:
            owners.update((article_id, path) for article_id in previous.ids)
        return 0
    if previous is not None:
        report.articles_removed += writer.delete_by_term(PATH, path)  # type: ignore[attr-defined]
    for article in accepted:
        writer.add_document(**article_document(article, source))  # type: ignore[attr-defined]
    report.articles_added += len(accepted)
    report.indexed += 1
    return 1


def reanalyze(source: windex.Index, target: windex.Index, config: Config) -> int:
    """Copy every article of ``source`` into ``target``, analyzing it with ``target``'s schema.

    Articles are rebuilt from the stored fields, so the source files are not
    needed; their fingerprints are kept, so the next update still recognises
    unchanged files.  Returns the number of articles copied.
    """
    copied = 0
    writer = target.writer()
    try:
        with source.reader() as reader:
            sources = reader.column_reader(SOURCE)
            for docnum, stored in reader.iter_docs():
                writer.add_document(**article_document(stored_to_article(stored), sources[docnum]))
                copied += 1
                if copied % config.indexing.batch_size == 0:
                    writer.commit()
                    writer = target.writer()
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    return copied
