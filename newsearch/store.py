"""The index folder on disk: its manifest, its write lock and its Whoosh generations.

An index folder holds ``newsearch.json`` (the manifest), ``newsearch.lock``
and the files of one or more Whoosh indexes ("generations") told apart by
their Whoosh index name.  The manifest names the generation that searches
use.  ``--rebuild`` writes a fresh generation beside the current one and
switches the manifest only when it is complete, so an interrupted rebuild
leaves the previous index untouched.

A generation is opened with the schema and codec built in code for the
manifest's format version; its table of contents (:mod:`newsearch.toc`) names
no Python class, so no file of the folder depends on where the code lives.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.index import EmptyIndexError, FileIndex, clean_files
from whoosh.writing import NO_MERGE

from .codec import NewsCodec, NewsWriter, segment_file_problems
from .files import write_json
from .errors import IndexDamagedError, IndexLockedError, IndexNotFoundError, InvalidArgumentError, SchemaMismatchError
from .schema import ANALYZER_ID, SCHEMA_VERSION, build_schema
from .toc import TocError, read_toc, write_toc

__all__ = ["Generation", "GenerationWriter", "IndexStorage", "Manifest", "Store", "open_searcher"]

MANIFEST_NAME = "newsearch.json"
LOCK_NAME = "newsearch.lock"
FORMAT = "news-index"
_EARLIER_FORMATS = ("newsearch-index",)  # the same folder layout, under its first name
_GENERATION_RE = re.compile(r"^_?(g[0-9a-f]{8})[_.]")


@dataclass(frozen=True)
class Manifest:
    """What the manifest records about the index a folder holds."""

    generation: str
    schema_version: int = SCHEMA_VERSION
    analyzer: str = ANALYZER_ID
    created: str = ""
    format: str = FORMAT
    analysis: dict[str, Any] = field(default_factory=dict)
    """The analysis settings the index was built with (see ``AnalysisConfig.fingerprint``)."""
    shard: tuple[int, int] | None = None
    """(k, n) for shard k of a cluster of n: it holds the articles whose id key is k
    modulo n, and skips the others whatever files it is given."""

    @classmethod
    def new(cls, analysis: dict[str, Any], shard: tuple[int, int] | None = None) -> Manifest:
        return cls(
            generation="g" + secrets.token_hex(4),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            analysis=analysis,
            shard=shard,
        )

    def user_dicts(self) -> tuple[str, ...]:
        return tuple(path for path, _ in self.analysis.get("user_dicts") or ())

    def compatible(self) -> bool:
        return (
            self.format in (FORMAT, *_EARLIER_FORMATS)
            and self.schema_version == SCHEMA_VERSION
            and self.analyzer == ANALYZER_ID
        )


class IndexStorage(FileStorage):  # type: ignore[misc]
    """Whoosh's file storage, with a temporary folder of its own for every writer.

    Whoosh names a writer's temporary folder after the index, so parallel
    writers (our analysis workers) would share it and delete each other's
    files when one finishes.
    """

    def temp_storage(self, name: str | None = None) -> FileStorage:
        return super().temp_storage(f"{name or 'w'}.{os.getpid()}.{secrets.token_hex(4)}")


class Generation(FileIndex):  # type: ignore[misc]
    """One generation of an index folder: a Whoosh index opened with the schema and
    codec that newsearch builds in code for the manifest's format version, so that
    its files name no Python module or class (see :mod:`newsearch.toc`)."""

    def __init__(self, storage: IndexStorage, manifest: Manifest) -> None:
        # Not FileIndex.__init__, which reads the table of contents with Whoosh's pickles.
        self.storage = storage
        self.indexname = manifest.generation
        self.manifest = manifest
        self._schema = build_schema(manifest.user_dicts())
        self.codec = NewsCodec()

    @property
    def folder(self) -> str:
        """The index folder."""
        return str(self.storage.folder)

    @property
    def schema(self) -> Any:
        return self._schema

    @property
    def user_dicts(self) -> tuple[str, ...]:
        """The jieba user dictionaries this generation's words are segmented with."""
        return self.manifest.user_dicts()

    def _read_toc(self) -> Any:
        # What Whoosh's writers and readers call: the table of contents without pickles.
        return read_toc(self.storage, self.indexname, self._schema, self.codec)

    def toc(self) -> Any:
        """The latest committed table of contents, or :class:`IndexDamagedError`."""
        try:
            return self._read_toc()
        except EmptyIndexError:
            problem = f"the table of contents of generation {self.indexname} is missing"
        except (OSError, TocError) as exc:
            problem = f"the table of contents of generation {self.indexname} cannot be read ({exc})"
        raise IndexDamagedError(self.folder, [problem])

    def segment_reader(self, toc: Any, segment: Any) -> Any:
        """A reader of one segment of ``toc``, or :class:`IndexDamagedError` when its
        files are missing or truncated."""
        from whoosh.reading import SegmentReader

        problems = segment_file_problems(self.storage, segment)
        if problems:
            raise IndexDamagedError(self.folder, problems)
        reader = SegmentReader(self.storage, toc.schema, segment, generation=toc.generation)
        try:
            reader._perdoc.open_columns()  # noqa: SLF001 - see there: merges delete files
        except OSError as exc:
            reader.close()
            raise IndexDamagedError(self.folder, [f"a column file of segment {segment.segment_id()} cannot be opened ({exc})"]) from exc
        return reader

    def file_problems(self) -> list[str]:
        """What is wrong with the files of the latest commit's segments: missing, or not
        the size they were written with (a few ``stat`` calls; nothing is read).
        :class:`IndexDamagedError` when the table of contents cannot be read."""
        toc = self.toc()
        return [problem for segment in toc.segments for problem in segment_file_problems(self.storage, segment)]

    def replace_segments(self, toc: Any, old: list[Any], new: Any | None) -> None:
        """Commit ``new`` (a merged segment, or None) in place of the segments ``old`` of
        ``toc``, which must still be the latest commit, then delete their files.  The
        new table of contents is one atomic write: a process killed before it leaves
        the previous state, with ``new``'s files for the next writer to remove.
        Call with the write lock held."""
        latest = self.toc()
        if latest.generation != toc.generation:
            raise RuntimeError(f"generation {self.indexname} was committed during a merge")
        gone = {segment.segment_id() for segment in old}
        segments: list[Any] = []
        for segment in latest.segments:
            if segment.segment_id() not in gone:
                segments.append(segment)
            elif new is not None:
                segments.append(new)  # in the place of the first it replaces
                new = None
        write_toc(self.storage, self.indexname, latest.generation + 1, segments)
        for segment in old:
            for name in segment.list_files(self.storage):
                try:
                    self.storage.delete_file(name)
                except OSError:
                    pass  # an open reader on a system that keeps it; the next writer tidies up

    def writer(self, **kwargs: Any) -> GenerationWriter:
        return GenerationWriter(self, codec=self.codec, **kwargs)

    def clean_files(self) -> None:
        """Delete the files of segments that the latest table of contents does not list
        (written by jobs that were never committed).  Call with the write lock held."""
        toc = self.toc()
        clean_files(self.storage, self.indexname, toc.generation, toc.segments)


class GenerationWriter(NewsWriter):
    """The writer of a generation: its commits write the table of contents of
    :mod:`newsearch.toc`, where Whoosh's would pickle the schema and segments."""

    def _commit_toc(self, segments: list[Any]) -> None:
        write_toc(self.storage, self.indexname, self.generation, segments)
        clean_files(self.storage, self.indexname, self.generation, segments)

    def commit_segments(self, new: list[Any]) -> None:
        """Commit this writer's deletions together with ``new``, segments that other
        writers (analysis workers) finished, without merging any.

        Unlike :meth:`commit`, this leaves unreferenced segment files alone:
        workers may be writing new segments at the same time."""
        segments = [*self._merge_segments(NO_MERGE, False, False), *new]
        self._close_segment()
        # This writer's own segment holds no documents: drop its empty files now
        # rather than leave a handful per commit until the run ends.
        for name in self.newsegment.list_files(self.storage):
            self.storage.delete_file(name)
        write_toc(self.storage, self.indexname, self.generation, segments)
        self._finish()


def open_searcher(ix: Generation, previous: Any = None) -> Any:
    """A searcher on the latest committed state of ``ix``, reusing the segment readers of
    ``previous`` (which must not be used afterwards) for segments that did not change.

    Whoosh's own ``Searcher.refresh`` is not safe: it matches segments by name
    only, so a reader kept its old deletions after a segment gained some (an
    edited article showed twice), and it re-added segments the new state no
    longer has.  A reader is reused here only when its segment has the same
    name and the same deleted documents.
    """
    from whoosh.searching import Searcher

    reusable: dict[tuple[str, frozenset[int]], Any] = {}
    if previous is not None:
        for old, _offset in previous.reader().leaf_readers():
            segment = old.segment()
            if segment is not None:
                reusable[(segment.segment_id(), _deleted(segment))] = old
    for attempt in range(3):
        toc = ix.toc()
        readers = []
        try:
            for segment in toc.segments:
                found = reusable.pop((segment.segment_id(), _deleted(segment)), None)
                readers.append(found if found is not None else ix.segment_reader(toc, segment))
            break
        except IndexDamagedError:
            # A merge committed after the table of contents was read, and deleted the
            # files of the segments it replaced: read the new table.  Otherwise damaged.
            for opened in readers:
                segment = opened.segment()
                reusable[(segment.segment_id(), _deleted(segment))] = opened
            if attempt == 2 or ix.toc().generation == toc.generation:
                for leftover in reusable.values():
                    leftover.close()
                raise
    for leftover in reusable.values():
        leftover.close()
    return Searcher(_reader_of(readers, toc.schema, toc.generation), fromindex=ix)


def _reader_of(readers: list[Any], schema: Any, generation: int | None = None) -> Any:
    """One reader of segment ``readers`` (none: an empty reader of ``schema``)."""
    from whoosh.reading import EmptyReader, MultiReader

    if not readers:
        return EmptyReader(schema)
    return readers[0] if len(readers) == 1 else MultiReader(readers, generation=generation)


def joined_searcher(searchers: Sequence[Any]) -> Any:
    """One searcher over the segments of ``searchers`` (of several indexes of one schema:
    the shards a worker holds).  Closing it leaves their readers open: they are theirs."""
    from whoosh.reading import EmptyReader
    from whoosh.searching import Searcher

    readers = [leaf for s in searchers for leaf, _base in s.reader().leaf_readers() if not isinstance(leaf, EmptyReader)]
    return Searcher(_reader_of(readers, searchers[0].schema), closereader=False)


def _deleted(segment: Any) -> frozenset[int]:
    return frozenset(segment.deleted_docs()) if segment.has_deletions() else frozenset()


class Store:
    """One index folder.  Creating the object touches nothing on disk."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST_NAME

    # ------------------------------------------------------------------ manifest

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def manifest_mtime(self) -> int | None:
        try:
            return os.stat(self.manifest_path).st_mtime_ns
        except OSError:
            return None

    def check_folder(self) -> None:
        """:class:`InvalidArgumentError` when the index path is a file: a wrong
        ``--index``, not a missing or damaged index."""
        if self.path.exists() and not self.path.is_dir():
            raise InvalidArgumentError("index", f"{self.path} is a file, not an index folder.")

    def read_manifest(self) -> Manifest:
        """The manifest, or :class:`IndexNotFoundError` / :class:`SchemaMismatchError`."""
        self.check_folder()
        try:
            raw = self.manifest_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if self.path.is_dir() and any(self.path.glob("*.toc")):
                raise SchemaMismatchError(self.path, "unknown (no newsearch.json)", SCHEMA_VERSION) from None
            raise IndexNotFoundError(self.path) from None
        except OSError as exc:
            raise IndexNotFoundError(self.path, f"Cannot read {self.manifest_path}: {exc.strerror}.") from None
        try:
            data = json.loads(raw)
            known = {k: data[k] for k in ("generation", "schema_version", "analyzer", "created", "format", "analysis") if k in data}
            shard = data.get("shard")
            if shard is not None:
                k, n = (int(v) for v in shard)
                if not 0 <= k < n:
                    raise ValueError(shard)
                known["shard"] = (k, n)
            manifest = Manifest(**known)
        except (ValueError, TypeError):
            raise SchemaMismatchError(self.path, "unreadable newsearch.json", SCHEMA_VERSION) from None
        if not manifest.compatible():
            found = f"{manifest.schema_version} ({manifest.analyzer})"
            raise SchemaMismatchError(self.path, found, f"{SCHEMA_VERSION} ({ANALYZER_ID})")
        return manifest

    def write_manifest(self, manifest: Manifest) -> None:
        """Atomically make ``manifest`` the current one."""
        write_json(self.manifest_path, asdict(manifest), indent=2)

    # ------------------------------------------------------------------ Whoosh

    def storage(self) -> IndexStorage:
        return IndexStorage(str(self.path))

    def create_generation(self, manifest: Manifest) -> Generation:
        """Create the empty Whoosh index of a new generation (not yet current)."""
        self.path.mkdir(parents=True, exist_ok=True)
        storage = self.storage()
        write_toc(storage, manifest.generation, 0, [])
        return Generation(storage, manifest)

    def open_generation(self, manifest: Manifest) -> Generation:
        """The generation ``manifest`` names, or :class:`IndexDamagedError` when its table
        of contents is missing or cannot be read."""
        generation = Generation(self.storage(), manifest)
        generation.toc()
        return generation

    def searcher(self) -> Any:
        """A searcher on the latest commit of the current generation (close it when done)."""
        return open_searcher(self.open_generation(self.read_manifest()))

    def size_bytes(self, generation: str) -> int:
        total = 0
        for entry in os.scandir(self.path):
            m = _GENERATION_RE.match(entry.name)
            if m and m.group(1) == generation and entry.is_file():
                total += entry.stat().st_size
        return total

    def remove_other_generations(self, keep: set[str]) -> None:
        """Delete the files of every generation not in ``keep`` (abandoned or replaced ones),
        and temporary folders that interrupted writers left behind.  Call with the lock held."""
        for entry in os.scandir(self.path):
            m = _GENERATION_RE.match(entry.name)
            if m and entry.is_dir() and ".tmp." in entry.name:
                shutil.rmtree(entry.path, ignore_errors=True)
            elif m and m.group(1) not in keep:
                try:
                    os.unlink(entry.path)
                except FileNotFoundError:
                    pass

    # ------------------------------------------------------------------ locking

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the folder's write lock, or raise :class:`IndexLockedError` at once.

        The lock is an ``flock`` on ``newsearch.lock``: the kernel releases it
        when the holder exits, however it exits, so a killed indexer never
        leaves a stale lock behind.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or None
                    raise IndexLockedError(self.path, holder) from None
                raise
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
            _HELD_LOCKS.add(fd)
            try:
                yield
            finally:
                _HELD_LOCKS.discard(fd)
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


# Descriptors of the write locks this process holds.  A forked child (an analysis
# worker) gets copies, which would keep the lock held should the parent be killed
# while the child lives on; the child closes its copies at once (closing a copy
# does not release the parent's lock).
_HELD_LOCKS: set[int] = set()


def _drop_inherited_locks() -> None:
    for fd in _HELD_LOCKS:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_inherited_locks)
