"""What searches read from one segment of the index, and keep with its reader.

The index keeps its segment readers open between searches and replaces them
when the index changes (see :func:`newsearch.store.open_searcher`), so what is
derived from a reader once (a column's offsets, per-document facet lists, the
vocabulary's keyword maps) is kept in :func:`reader_cache` and is never stale.
"""

from __future__ import annotations

import mmap
from array import array
from typing import Any

from whoosh.columns import VarBytesColumn

from .fields import DATE, IDKEY
from .sketchcolumn import SketchColumn
from .textcolumn import TextColumn

__all__ = ["column_reader", "date_array", "id_keys", "reader_cache", "term_postings"]


def reader_cache(reader: Any) -> dict[Any, Any]:
    """A dict kept on a Whoosh reader for what is derived from it once, not per search.

    The index keeps its readers open between searches and replaces them when
    the index changes, so whatever is kept here is never stale.
    """
    return reader.__dict__.setdefault("_newsearch_cache", {})  # type: ignore[no-any-return]


def segment_state(reader: Any) -> str:
    """What identifies the committed state of one segment's ``reader``: the segment and
    its number of deleted documents (``-`` for a reader of no segment)."""
    segment = reader.segment()
    return f"{segment.segment_id()}:{reader.doc_count_all() - reader.doc_count()}" if segment else "-"


def column_reader(reader: Any, name: str) -> Any:
    """A reader's raw column reader for ``name`` (making one reads its offset table).

    A column of variable-length bytes, of compressed text or of sketches in a
    file of its own is read through a memory map: verifying thousands of candidates then
    costs a slice each (and, for text, its decompression) instead of a seek and
    a read.  Decoded text is kept in :data:`newsearch.textcolumn.decoded`, so
    verification, ranking and snippets reading the same documents decode them
    once."""
    cache = reader_cache(reader)
    found = cache.get(("column", name))
    if found is None:
        found = reader.column_reader(name, translate=False)
        if isinstance(found, VarBytesColumn.Reader):
            found = _MappedColumn.of(found) or found
        elif isinstance(found, (TextColumn.Reader, SketchColumn.Reader)):
            dbfile = found._dbfile  # noqa: SLF001 - the reader keeps its file here
            data = _memory_map(dbfile)
            if data is not None:
                found = found.mapped(data, dbfile.fileno())
        cache[("column", name)] = found
    return found


def _memory_map(dbfile: Any) -> mmap.mmap | None:
    """A read-only memory map of a Whoosh file on disk, or None (in memory, empty, no mmap)."""
    if not getattr(dbfile, "is_real", False):
        return None
    try:
        return mmap.mmap(dbfile.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # an empty file, or no mmap here
        return None


class _MappedColumn:
    """Whoosh's :class:`VarBytesColumn.Reader`, answered from a memory map of its file."""

    def __init__(self, data: mmap.mmap, base: int, offsets: Any, lengths: Any) -> None:
        self._data = data
        self._base = base
        self._offsets = offsets
        self._lengths = lengths

    @classmethod
    def of(cls, column: Any) -> _MappedColumn | None:
        data = _memory_map(column._dbfile)  # noqa: SLF001 - the reader keeps its file and layout here
        if data is None:
            return None
        return cls(data, column._basepos, column._offsets, column._lengths)  # noqa: SLF001

    def __len__(self) -> int:
        return len(self._lengths)

    def __getitem__(self, docnum: int) -> bytes:
        start = self._base + self._offsets[docnum]
        return self._data[start : start + self._lengths[docnum]]


def term_postings(reader: Any, field: str, text: str) -> tuple[Any, Any] | None:
    """A term's posting list in one segment reader as (document numbers, weights or
    None when all are 1), or None when the segment lacks the term.  Deleted
    documents are included."""
    btext = text.encode("utf-8")
    terms: Any = getattr(reader, "_terms", None)
    if hasattr(terms, "postings"):  # newsearch's codec reads a list in one piece
        found: tuple[Any, Any] | None = terms.postings(field, btext)
        return found
    if (field, btext) not in reader:
        return None
    matcher = reader.postings(field, btext)
    ids, weights = array("I"), []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return ids, weights


def date_array(reader: Any) -> Any:
    """Every document's date as Whoosh's long (0 when undated), an int64 numpy array
    read once per segment, in one piece when the column is Whoosh's fixed-width numbers."""
    cache = reader_cache(reader)
    found = cache.get("date_array")
    if found is None:
        found = cache["date_array"] = _read_dates(reader)
    return found


def id_keys(reader: Any) -> array[int]:
    """Every document's id key (:func:`newsearch.fields.id_key`), the order among equal
    scores, read once per segment."""
    cache = reader_cache(reader)
    found: array[int] | None = cache.get("id_keys")
    if found is None:
        found = cache["id_keys"] = array("Q", _read_numbers(reader, IDKEY, "Q").tobytes())
    return found


def _read_dates(reader: Any) -> Any:
    return _read_numbers(reader, DATE, "q")


def _read_numbers(reader: Any, field: str, dtype: str) -> Any:
    """A column of 64-bit numbers (0 where a document has none) as a numpy array in
    native byte order: ``q`` (signed) or ``Q``."""
    import numpy as np

    count = reader.doc_count_all()
    column = reader.column_reader(field, translate=False)
    out = np.zeros(count, dtype=np.dtype(dtype))
    dbfile: Any = getattr(column, "_dbfile", None)
    typecode = getattr(column, "_typecode", None)
    if hasattr(dbfile, "get") and typecode in ("q", "Q") and getattr(column, "_default", None) == 0:
        stored = min(int(column._count), count)  # noqa: SLF001 - documents after the last dated one are not stored
        data = dbfile.get(column._basepos, stored * 8)  # noqa: SLF001
        out[:stored] = np.frombuffer(data, dtype=">" + typecode, count=stored)
    else:
        out[:] = np.fromiter((int(v or 0) for v in column), dtype=out.dtype, count=count)
    return out
