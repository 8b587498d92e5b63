"""Segment merging: which segments to merge (a tiered policy), and the merge itself.

Every indexing job commits a segment of its own, so an index built or updated
job by job would otherwise end with one segment per job, and every search
pays for each.  After a run, :func:`merge_policy` chooses merges in the
spirit of Lucene's ``LogByteSizeMergePolicy`` and ``TieredMergePolicy``:

* a segment's *tier* is 0 below the floor size, then 1 + how many times
  ``factor`` its live size is above the floor (tier 1 spans the floor to
  ``factor`` times it, and so on);
* ``factor`` segments of one tier are merged into one, which lands in a
  higher tier; so a tier holds fewer than ``factor`` segments once merging is
  done, an index holds at most ``(factor - 1)`` segments per tier, and each
  article is rewritten at most once per tier: O(log N) times over the
  index's life, never N times (below the floor, where small runs' segments
  are merged together, at most floor / (run size × (factor - 1)) times more);
* a segment larger than half of ``max_mb`` is not merged again, so no
  segment (and no file of one) outgrows ``max_mb`` by much;
* a segment whose share of deleted articles reaches ``deletes`` is rewritten
  (alone or within a merge) to purge them.

:func:`merge_segments` writes the merged segment by streaming its sources:
posting lists term by term in one pass over the sorted vocabularies, columns
value by value, with deleted articles dropped and no article re-analyzed.  A
merge commits like an indexing job: the new table of contents replaces the
merged segments with the new one in a single atomic write, so a merge killed
at any point leaves the index as it was (the next writer removes the
unfinished files), and searches see whole states throughout.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
import math
import mmap
import os
import pickle
import signal
import time
import traceback
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import compress, groupby
from operator import itemgetter
from typing import Any

from whoosh import columns

from .codec import (
    POSTINGS_EXT,
    _FieldWriter,
    concat_postings,
    decode_postings,
    encode_postings,
    id_range,
    record_segment_files,
    shift_postings,
)
from .textcolumn import TextColumn

__all__ = ["MergeReport", "live_bytes", "merge_index", "merge_policy", "merge_segments"]

_LENGTHS = columns.NumericColumn("B", default=0)  # W3's field-length column
_RAW_STORED = columns.VarBytesColumn()  # W3's stored-fields column, its values left compressed


@dataclass(frozen=True)
class MergeReport:
    """What the merges after a run (or a compaction) did."""

    merges: int = 0
    """Merged segments written."""
    segments_merged: int = 0
    """Segments they replaced."""
    purged: int = 0
    """Deleted or replaced articles whose space was given back."""
    bytes_written: int = 0
    seconds: float = 0.0
    segments_before: int = 0
    segments_after: int = 0


def live_bytes(size: int, docs: int, deleted: int) -> int:
    """A segment's size on disk counted for its live articles only."""
    return size if not deleted or not docs else size * (docs - deleted) // docs


def merge_policy(
    segments: Sequence[tuple[int, int, float]],
    *,
    factor: int,
    floor_bytes: int,
    max_bytes: int,
    deletes: float,
) -> list[list[int]]:
    """The merges to make now, as lists of positions in ``segments``, given each
    segment's (live bytes, articles, deleted share) in index order.

    Merges are chosen tier by tier from the lowest, ``factor`` consecutive
    segments at a time (of the tier or smaller ones), so that documents keep
    the order they were committed in; the merged segment takes the place of its
    sources.  One merge per list:
    the caller merges, recomputes sizes and asks again until nothing is left."""
    if factor < 2:
        raise ValueError("factor must be at least 2")
    big = max_bytes // 2
    tier_of: list[int | None] = []
    for size, docs, _deleted in segments:
        if size >= big or not docs:
            tier_of.append(None)  # never merged again (or: nothing left to merge)
        else:
            tier_of.append(0 if size < floor_bytes else 1 + int(math.log(size / floor_bytes, factor) + 1e-9))
    for tier in sorted({t for t in tier_of if t is not None}):
        members = [p for p, t in enumerate(tier_of) if t == tier]
        if len(members) < factor:
            continue
        # Neighbours first, so documents keep their order: the first ``factor``
        # consecutive segments of this tier or a smaller one.
        window: list[int] = []
        for position, t in enumerate(tier_of):
            window = window + [position] if t is not None and t <= tier else []
            if len(window) == factor:
                return [_within(window, segments, max_bytes)]
        # Larger segments stand between them (deletions shrank some): the smallest.
        return [_within(sorted(sorted(members, key=lambda p: segments[p][0])[:factor]), segments, max_bytes)]
    # No tier is full: rewrite alone the segment with the largest share of deleted
    # articles, when that share is over the threshold.
    worst = max(range(len(segments)), key=lambda p: segments[p][2], default=None)
    if worst is not None and segments[worst][2] >= deletes and segments[worst][1]:
        return [[worst]]
    return []


def _within(group: list[int], segments: Sequence[tuple[int, int, float]], max_bytes: int) -> list[int]:
    """``group`` without its last members while it would make a segment over ``max_bytes``."""
    group = list(group)
    while len(group) > 2 and sum(segments[p][0] for p in group) > max_bytes:
        group.pop()
    return group


def _group_by_size(sizes: Sequence[int], max_bytes: int) -> list[list[int]]:
    """Consecutive positions grouped so that each group's size stays within
    ``max_bytes`` (a segment larger than that stands alone)."""
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    for position, size in enumerate(sizes):
        if current and total + size > max_bytes:
            groups.append(current)
            current, total = [], 0
        current.append(position)
        total += size
    if current:
        groups.append(current)
    return groups


def merge_index(
    ix: Any,
    *,
    factor: int,
    floor_mb: float,
    max_mb: float,
    deletes: float,
    everything: bool = False,
) -> MergeReport:
    """Merge the segments of generation ``ix`` as :func:`merge_policy` chooses, each
    merge committed as soon as it is written, until no merge is left to make; with
    ``everything``, merge all segments into as few as ``max_mb`` allows (one, unless
    the index is larger) and purge every deleted article.  The caller holds the
    index's write lock."""
    started = time.monotonic()
    merges = replaced = purged = written = 0
    floor_bytes, max_bytes = int(floor_mb * 1_000_000), int(max_mb * 1_000_000)
    storage = ix.storage
    before = len(ix.toc().segments)
    while True:
        toc = ix.toc()
        segments = list(toc.segments)
        empty = [s for s in segments if not s.doc_count()]
        if empty:  # every article of these was deleted or replaced: nothing to copy
            ix.replace_segments(toc, empty, None)
            purged += sum(s.doc_count_all() for s in empty)
            continue
        sizes = [
            live_bytes(_segment_bytes(storage, s), s.doc_count_all(), s.deleted_count()) for s in segments
        ]
        if everything:
            groups = [
                g for g in _group_by_size(sizes, max_bytes)
                if len(g) > 1 or segments[g[0]].has_deletions()
            ]
        else:
            groups = merge_policy(
                [(size, s.doc_count(), s.deleted_count() / s.doc_count_all()) for size, s in zip(sizes, segments)],
                factor=factor, floor_bytes=floor_bytes, max_bytes=max_bytes, deletes=deletes,
            )
        if not groups:
            break
        group = [segments[p] for p in groups[0]]
        new = merge_segments(ix, toc, group)
        ix.replace_segments(toc, group, new)
        merges += 1
        replaced += len(group)
        purged += sum(s.deleted_count() for s in group)
        written += _segment_bytes(storage, new)
    return MergeReport(merges, replaced, purged, written, time.monotonic() - started, before, len(ix.toc().segments))


def _segment_bytes(storage: Any, segment: Any) -> int:
    return sum(storage.file_length(name) for name in segment.list_files(storage))


# --------------------------------------------------------------------------- the merge


@dataclass
class _Source:
    """One segment being merged: its reader, and where its live documents go."""

    reader: Any
    offset: int
    """The merged segment's number of this segment's first document (when none is deleted)."""
    remap: array[int] | None
    """Per document, its number in the merged segment or -1 when deleted; None when none is."""
    live: list[int]
    deleted: frozenset[int] = frozenset()
    gaps: list[int] = field(default_factory=list)
    """The deleted documents, sorted."""



def merge_segments(ix: Any, toc: Any, group: Sequence[Any]) -> Any:
    """Write one new segment of ``ix`` holding the live articles of ``group`` (segments
    of ``toc``), in order, and return it; nothing is committed."""
    storage, schema, codec = ix.storage, toc.schema, ix.codec
    segment = codec.new_segment(storage, ix.indexname)
    sources: list[_Source] = []
    base = 0
    for old in group:
        reader = ix.segment_reader(toc, old)
        count = old.doc_count_all()
        if old.has_deletions():
            deleted = frozenset(old.deleted_docs())
            remap = array("i", [-1]) * count
            live = [d for d in range(count) if d not in deleted]
            for i, d in enumerate(live, start=base):
                remap[d] = i
        else:
            remap, live, deleted = None, list(range(count)), frozenset()
        sources.append(_Source(reader, base, remap, live, deleted, sorted(deleted)))
        base += len(live)
    try:
        _merge_columns(codec, storage, schema, segment, sources, base)
        _merge_postings(codec, storage, schema, segment, sources)
    finally:
        for source in sources:
            source.reader.close()
    segment.set_doc_count(base)
    record_segment_files(storage, segment)
    return segment


def _columns(schema: Any) -> list[tuple[str, Any, str | None]]:
    """(column name, column type to copy it with, the field whose lengths it holds)."""
    out: list[tuple[str, Any, str | None]] = [("_stored", _RAW_STORED, None)]
    for name, fieldtype in schema.items():
        if fieldtype.column_type is not None:
            out.append((name, fieldtype.column_type, None))
        if fieldtype.scorable:
            out.append((f"_{name}_len", _LENGTHS, name))
    return out


def _merge_columns(
    codec: Any, storage: Any, schema: Any, segment: Any, sources: list[_Source], total: int,
) -> None:
    writer = codec.per_document_writer(storage, segment)
    lengths: dict[str, int] = {}
    try:
        for name, column, length_of in _columns(schema):
            present = [s for s in sources if s.reader._perdoc.has_column(name)]  # noqa: SLF001
            if not present:
                continue
            if name == "_stored":
                # The writer made it at the start, pickling and compressing what it is
                # given: hand the values over as they are, already both.
                add = partial(columns.VarBytesColumn.Writer.add, writer._colwriters[name]._child)  # noqa: SLF001
            else:
                writer._create_column(name, column)  # noqa: SLF001
                add = writer._colwriters[name].add  # noqa: SLF001
            copy = isinstance(column, TextColumn)  # compressed text: copied as it is
            out = writer._colwriters[name]  # noqa: SLF001
            for source in present:
                values = source.reader._perdoc.column_reader(name, column)  # noqa: SLF001
                offset = source.offset
                if copy:
                    for i, docnum in enumerate(source.live, start=offset):
                        out.add_compressed(i, *values.compressed(docnum))
                    continue
                for i, docnum in enumerate(source.live, start=offset):
                    add(i, values[docnum])
            if length_of is not None:
                lengths[length_of] = _live_length(sources, length_of)
        writer._doccount = total  # noqa: SLF001 - the documents were written column by column
        writer._fieldlengths = lengths  # noqa: SLF001
    finally:
        writer.close()


def _live_length(sources: list[_Source], fieldname: str) -> int:
    """The total length of a field over the live documents (of deleted ones, the length
    byte is all that is left, so their share is an estimate)."""
    total = 0
    for source in sources:
        reader = source.reader
        whole = reader.field_length(fieldname)
        if source.remap is not None:
            for docnum in range(reader.doc_count_all()):
                if source.remap[docnum] < 0:
                    whole -= reader.doc_field_length(docnum, fieldname)
        total += max(0, whole)
    return total


def _block_terms(table: Any, k: int) -> Iterator[tuple[bytes, int, Any, int]]:
    """A field's sorted terms in one segment as (term, source, block, index in block)."""
    for b in range(len(table.firsts)):
        block = table.block(b)
        blob, offsets = block.blob, block.offsets
        for j in range(block.n):
            yield blob[offsets[j] : offsets[j + 1]], k, block, j


def _merge_postings(
    codec: Any, storage: Any, schema: Any, segment: Any, sources: list[_Source],
) -> None:
    terms_readers = [s.reader._terms for s in sources]  # noqa: SLF001
    maps = []
    for s in sources:
        handle = s.reader.segment().open_file(storage, POSTINGS_EXT)
        try:
            maps.append(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if handle.is_real else handle.read())
        except ValueError:  # an empty postings file
            maps.append(b"")
        finally:
            handle.close()
    fieldnames = sorted({name for tr in terms_readers for name in tr._directory})  # noqa: SLF001
    sizes = {name: sum(t.n for tr in terms_readers if (t := tr._table(name)) is not None) for name in fieldnames}  # noqa: SLF001
    mine, theirs = _halves(fieldnames, sizes)
    writer = codec.field_writer(storage, segment)
    helper = None
    try:
        if sum(sizes[name] for name in theirs) >= _FORK_TERMS and hasattr(os, "fork") and (os.cpu_count() or 1) > 1:
            helper = _PartWriter(codec, storage, schema, segment, sources, maps, terms_readers, theirs)
        else:
            mine = fieldnames
        _write_fields(writer, schema, sources, maps, terms_readers, mine)
        if helper is not None:
            tables, postings = helper.result()
            try:
                writer.add_part(tables, postings)
            finally:
                postings.close()
    finally:
        if helper is not None:
            helper.close()
        writer.close()
        for data in maps:
            if isinstance(data, mmap.mmap):
                data.close()


_FORK_TERMS = 200_000
"""Terms from the sources below which one process writes every field (a fork costs
more than it saves on small merges)."""
_PART_EXT = ".npp"  # a part of the postings, written by a second process


def _halves(fieldnames: list[str], sizes: dict[str, int]) -> tuple[list[str], list[str]]:
    """The fields in two groups of about as many terms, largest first."""
    groups: tuple[list[str], list[str]] = ([], [])
    totals = [0, 0]
    for name in sorted(fieldnames, key=lambda n: -sizes[n]):
        smaller = 0 if totals[0] <= totals[1] else 1
        groups[smaller].append(name)
        totals[smaller] += sizes[name]
    return groups


def _write_fields(
    writer: Any, schema: Any, sources: list[_Source], maps: list[Any], terms_readers: list[Any],
    fieldnames: Sequence[str],
) -> None:
    for fieldname in fieldnames:
        tables = [(k, tr._table(fieldname)) for k, tr in enumerate(terms_readers)]  # noqa: SLF001
        streams = [_block_terms(t, k) for k, t in tables if t is not None and t.n]
        writer.start_field(fieldname, schema[fieldname])
        for term, entries in groupby(heapq.merge(*streams, key=itemgetter(0, 1)), key=itemgetter(0)):
            _merge_term(writer, term, list(entries), sources, maps)
        writer.finish_field()


class _PartWriter:
    """Some fields of a merge written by a forked process (merges run after the analysis
    workers are done, so a second core is free): their postings in a file of the
    segment's own, their tables pickled after them."""

    def __init__(self, codec: Any, storage: Any, schema: Any, segment: Any, sources: list[_Source],
                 maps: list[Any], terms_readers: list[Any], fieldnames: list[str]) -> None:
        self._storage = storage
        self._segment = segment
        self._tables_name = segment.make_filename(_PART_EXT + "t")
        self.pid = os.fork()
        if self.pid == 0:  # the child: write, then leave without running the parent's cleanup
            status = 1
            try:
                for source, terms in zip(sources, terms_readers):
                    terms.reopen(storage, source.reader.segment())
                writer = _part_writer(storage, segment)
                _write_fields(writer, schema, sources, maps, terms_readers, fieldnames)
                tables = writer.finish_part()
                out = storage.create_file(self._tables_name)
                try:
                    out.write(pickle.dumps(tables, protocol=4))
                finally:
                    out.close()
                status = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(status)

    def result(self) -> tuple[dict[str, tuple[Any, ...]], Any]:
        """The child's tables and an open file of its postings, once it is done."""
        _pid, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if status:
            raise RuntimeError(f"the process merging postings failed (status {status})")
        handle = self._storage.open_file(self._tables_name)
        try:
            tables = pickle.loads(handle.read())
        finally:
            handle.close()
        return tables, self._storage.open_file(self._segment.make_filename(_PART_EXT))

    def close(self) -> None:
        """Stop the child if it still runs, and delete its files."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = 0
        for ext in (_PART_EXT, _PART_EXT + "t"):
            try:
                self._storage.delete_file(self._segment.make_filename(ext))
            except OSError:
                pass


def _part_writer(storage: Any, segment: Any) -> Any:
    return _FieldWriter(storage, segment, _PART_EXT)


def _shift(source: _Source, data: bytes) -> int | None:
    """What to add to every document number of a posting list of ``source`` to renumber
    it, or None when deleted documents among or between them make that uneven."""
    if source.remap is None:
        return source.offset
    first, last = id_range(data)
    before = bisect_left(source.gaps, first)
    return source.offset - before if before == bisect_right(source.gaps, last) else None


def _merge_term(writer: Any, term: bytes, entries: list[Any], sources: list[_Source], maps: list[Any]) -> None:
    parts = []
    for _term, k, block, j in entries:
        start = block.starts[j]
        data = maps[k][start : start + block.lengths[j]]
        shift = _shift(sources[k], data)
        if shift is None:
            break
        parts.append((data, shift))
    else:  # the commonest case: every list as it is, renumbered by an offset
        if len(parts) == 1:
            data, shift = parts[0]
            encoded = shift_postings(data, shift) if shift else data
        else:
            encoded = concat_postings(parts)
        if encoded is not None:
            df = weight = top = 0.0
            minlen, maxlen = 255, 0
            for _term, _k, block, j in entries:
                df += block.dfs[j]
                weight += block.weights[j]
                top = max(top, block.maxweights[j])
                lo, hi = block.minlens[j], block.maxlens[j]
                if lo and lo < minlen:
                    minlen = lo
                if hi > maxlen:
                    maxlen = hi
            writer.add_encoded(term, encoded, int(df), weight, top, minlen if maxlen else 0, maxlen)
            return
    _merge_decoded(writer, term, entries, sources, maps)


def _merge_decoded(writer: Any, term: bytes, entries: list[Any], sources: list[_Source], maps: list[Any]) -> None:
    """A term's lists merged document by document (some of them hold deleted documents)."""
    all_ids: array[int] = array("I")
    weights: list[float] | None = None
    minlen, maxlen = 255, 0
    for _term, k, block, j in entries:
        source = sources[k]
        start = block.starts[j]
        ids, ws = decode_postings(maps[k][start : start + block.lengths[j]])
        if source.remap is None:
            if source.offset:
                ids = array("I", map(source.offset.__add__, ids))
        elif source.deleted.isdisjoint(ids):
            ids = array("I", map(source.remap.__getitem__, ids))
        else:
            mapped = array("i", map(source.remap.__getitem__, ids))
            keep = list(map((-1).__ne__, mapped))
            ids = array("I", compress(mapped, keep))
            if not ids:
                continue
            ws = None if ws is None else list(compress(ws, keep))
        if ws is not None or weights is not None:
            if weights is None:
                weights = [1.0] * len(all_ids)
            weights.extend(ws if ws is not None else [1.0] * len(ids))
        all_ids.extend(ids)
        lo, hi = block.minlens[j], block.maxlens[j]
        if lo and lo < minlen:
            minlen = lo
        if hi > maxlen:
            maxlen = hi
    if not all_ids:
        return  # every document holding the term was deleted
    if weights is None:
        weight, top = float(len(all_ids)), 1.0
    else:
        weight, top = sum(weights), max(weights)
    writer.add_encoded(term, encode_postings(all_ids, weights), len(all_ids), weight, top,
                       minlen if maxlen else 0, maxlen)
