"""A Whoosh column of near-duplicate sketches that also indexes their bands.

Collapsing near-duplicates looks up, for each group leader of a page, the
articles that share one of its sketch's bands (:mod:`newsearch.dupes`), in
every segment with many matches.  Kept as terms of an indexed field, each of
those lookups decoded a block of the terms dictionary (about 45 µs, sixteen
per leader and segment: 10 ms of a search at 100,000 articles), and the
sixteen terms per article made a sixth of the dictionary's terms, which the
merges then copied one by one.

Here the column holds the sketches, then each band's values sorted with the
documents that hold them, written when the column is finished (a segment's
job or a merge).  A lookup is a binary search in a memory-mapped array: a
few microseconds, and the index no longer holds the band terms at all.

The layout of a column (offsets relative to its start)::

    sketches (documents × size) | keys (entries × 8) | documents (entries × 4)
    | band starts ((bands + 1) × 8) | trailer

The keys are the sketch's bands read as little-endian 64-bit numbers, band by
band (band 0's keys sorted, then band 1's, ...); a band of empty bins holds no
entry.  The trailer holds the number of documents and of entries, a CRC-32 of
all that comes before it (:meth:`SketchColumn.Reader.verify`, run by
``newsearch check``), the format version and a magic string.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from typing import Any

from whoosh.columns import Column, ColumnReader, ColumnWriter

__all__ = ["SketchColumn", "SketchColumnError"]

MAGIC = b"NSKC"
VERSION = 1
_TRAILER = struct.Struct("<QQIB4s")  # documents, entries, CRC-32 of the rest, version, magic
_BAND_BYTES = 8
_EMPTY_BAND = (1 << 64) - 1


class SketchColumnError(ValueError):
    """A sketch column's bytes are not what :class:`SketchColumn` wrote."""


class SketchColumn(Column):  # type: ignore[misc]
    """Fixed-size sketches (``size`` bytes of ``size // 8`` bands each), and per band
    the documents of each value; an absent value is ``size`` bytes of 0xff."""

    reversible = False

    def __init__(self, size: int) -> None:
        if size % _BAND_BYTES:
            raise ValueError(f"a sketch's size must be a multiple of {_BAND_BYTES} bytes")
        self.size = size
        self.default = b"\xff" * size

    def writer(self, dbfile: Any) -> SketchColumn.Writer:
        return self.Writer(dbfile, self.size)

    def reader(self, dbfile: Any, basepos: int, length: int, doccount: int) -> SketchColumn.Reader:
        return self.Reader(dbfile, basepos, length, doccount, self.size)

    class Writer(ColumnWriter):  # type: ignore[misc]
        def __init__(self, dbfile: Any, size: int) -> None:
            self._dbfile = dbfile
            self._size = size
            self._values = bytearray()
            self._count = 0

        def __repr__(self) -> str:
            return "<SketchColumn.Writer>"

        def fill(self, docnum: int) -> None:
            if docnum > self._count:
                self._values += b"\xff" * (self._size * (docnum - self._count))
                self._count = docnum

        def add(self, docnum: int, value: bytes) -> None:
            if len(value) != self._size:
                raise ValueError(f"a sketch of {len(value)} bytes in a column of {self._size}-byte sketches")
            self.fill(docnum)
            self._values += value
            self._count = docnum + 1

        def finish(self, doccount: int) -> None:
            import numpy as np

            self.fill(doccount)
            values, self._values = self._values, bytearray()  # read in place: not copied
            bands = self._size // _BAND_BYTES
            table = np.frombuffer(values, dtype="<u8").reshape(doccount, bands)
            keys, docs, starts = [], [], [0]
            for band in range(bands):
                held = table[:, band]
                numbers = np.flatnonzero(held != _EMPTY_BAND)
                order = np.argsort(held[numbers], kind="stable")
                keys.append(held[numbers][order])
                docs.append(numbers[order].astype("<u4"))
                starts.append(starts[-1] + len(numbers))
            parts = [values, *(k.tobytes() for k in keys), *(d.tobytes() for d in docs), struct.pack(f"<{bands + 1}Q", *starts)]
            crc = 0
            for part in parts:
                crc = zlib.crc32(part, crc)
                self._dbfile.write(part)
            self._dbfile.write(_TRAILER.pack(doccount, starts[-1], crc, VERSION, MAGIC))

    class Reader(ColumnReader):  # type: ignore[misc]
        """The sketches by document number, and :meth:`sharing` a band with a sketch."""

        def __init__(self, dbfile: Any, basepos: int, length: int, doccount: int, size: int) -> None:
            self._dbfile = dbfile
            self._basepos = basepos
            self._length = length
            self._doccount = doccount
            self._size = size
            self._bands = size // _BAND_BYTES
            self._default = b"\xff" * size
            if length < _TRAILER.size:
                raise SketchColumnError(f"a sketch column of {length} bytes has no trailer")
            count, entries, self._crc, version, magic = _TRAILER.unpack(
                dbfile.get(basepos + length - _TRAILER.size, _TRAILER.size)
            )
            if magic != MAGIC or version != VERSION:
                raise SketchColumnError("not a sketch column of this version")
            self._count, self._entries = count, entries
            self._keys_at = count * size
            self._docs_at = self._keys_at + 8 * entries
            starts_at = self._docs_at + 4 * entries
            if starts_at + 8 * (self._bands + 1) + _TRAILER.size != length or count > doccount:
                raise SketchColumnError(f"a sketch column of {length} bytes does not hold {count} sketches and {entries} entries")
            self._starts = struct.unpack(f"<{self._bands + 1}Q", dbfile.get(basepos + starts_at, 8 * (self._bands + 1)))
            if self._starts[0] != 0 or self._starts[-1] != entries or list(self._starts) != sorted(self._starts):
                raise SketchColumnError("a sketch column's band table is damaged")
            self._map: Any = None
            self._fileno: int | None = None
            self._arrays: tuple[Any, Any] | None = None

        def __repr__(self) -> str:
            return f"<SketchColumn.Reader {self._count} sketches>"

        def mapped(self, data: Any, fileno: int | None = None) -> SketchColumn.Reader:
            """This reader, reading from ``data`` (a memory map of its file, or the
            file's bytes); given the file's descriptor, each lookup first checks
            that the file still holds the column (a file cut short under a map
            would read zeros, or kill the process)."""
            twin = object.__new__(type(self))
            twin.__dict__.update(self.__dict__)
            twin._map = data
            twin._fileno = fileno
            twin._arrays = None
            return twin

        def __len__(self) -> int:
            return self._doccount

        def __getitem__(self, docnum: int) -> bytes:
            if docnum >= self._count:
                return self._default
            start = self._basepos + self._size * docnum
            if self._map is not None:
                self._check()
                return self._map[start : start + self._size]  # type: ignore[no-any-return]
            return self._dbfile.get(start, self._size)  # type: ignore[no-any-return]

        def __iter__(self) -> Iterator[bytes]:
            for docnum in range(self._doccount):
                yield self[docnum]

        def sharing(self, sketch: bytes) -> list[int]:
            """The documents whose sketch has a band (not all empty) equal to one of
            ``sketch``'s: its probable near-duplicates, itself included."""
            if len(sketch) != self._size or not self._entries:
                return []
            import numpy as np

            keys, docs = self._key_arrays()
            starts = self._starts
            found: list[int] = []
            for band, value in enumerate(struct.unpack(f"<{self._bands}Q", sketch)):
                if value == _EMPTY_BAND:
                    continue
                low, high = starts[band], starts[band + 1]
                if low == high:
                    continue
                run = keys[low:high]
                first = int(run.searchsorted(np.uint64(value), "left"))
                last = int(run.searchsorted(np.uint64(value), "right"))
                if last > first:
                    found.extend(docs[low + first : low + last].tolist())
            return found

        def _key_arrays(self) -> tuple[Any, Any]:
            import numpy as np

            if self._map is not None:
                self._check()
            if self._arrays is None:
                at, entries = self._basepos + self._keys_at, self._entries
                if self._map is not None:
                    keys = np.frombuffer(self._map, dtype="<u8", count=entries, offset=at)
                    docs = np.frombuffer(self._map, dtype="<u4", count=entries, offset=at + 8 * entries)
                else:  # no memory map: the table read once
                    keys = np.frombuffer(bytes(self._dbfile.get(at, 8 * entries)), dtype="<u8")
                    docs = np.frombuffer(bytes(self._dbfile.get(at + 8 * entries, 4 * entries)), dtype="<u4")
                self._arrays = (keys, docs)
            return self._arrays

        def _check(self) -> None:
            if self._fileno is not None and os.fstat(self._fileno).st_size < self._basepos + self._length:
                raise SketchColumnError("the sketch column's file was cut short")

        def verify(self) -> None:
            """Raise :class:`SketchColumnError` if the column's bytes are not those written."""
            crc, at, end = 0, self._basepos, self._basepos + self._length - _TRAILER.size
            while at < end:
                piece = min(1 << 22, end - at)
                crc = zlib.crc32(bytes(self._dbfile.get(at, piece)), crc)
                at += piece
            if crc != self._crc:
                raise SketchColumnError("the sketch column does not match its checksum")
