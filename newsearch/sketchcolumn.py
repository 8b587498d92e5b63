"""A Whoosh column of near-duplicate sketches that also indexes their bands.

Collapsing near-duplicates looks up, for each group leader of a page, the
articles that share one of its sketch's bands (:mod:`newsearch.dupes`), in
every segment with many matches.  Kept as terms of an indexed field, each of
those lookups decoded a block of the terms dictionary (about 45 µs, sixteen
per leader and segment: 10 ms of a search at 100,000 articles), and the
sixteen terms per article made a sixth of the dictionary's terms, which the
merges then copied one by one.

Here the column holds the sketches, then a key for each band of each sketch,
sorted, with the documents that hold them, written when the column is
finished (a segment's job or a merge).  The lookups of a sketch's bands are
two binary searches of a memory-mapped array, all bands at once, and the
index no longer holds the band terms at all.

The layout of a column (offsets relative to its start)::

    sketches (documents × size) | keys (entries × 8) | documents (entries × 4) | trailer

A band's key is its number in the top four bits and its value (the band read as
a little-endian 64-bit number) in the other sixty, less its lowest four bits:
two different bands whose values agree on sixty bits (a chance of 2^-60 for a
pair) share a key, and the sketches then tell them apart.  A band of empty bins
has no key.  The trailer holds the number of documents and of entries, a
CRC-32 of all that comes before it (:meth:`SketchColumn.Reader.verify`, run by
``newsearch check``), the format version and a magic string.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from whoosh.columns import Column, ColumnReader, ColumnWriter

from .files import MapGuard

__all__ = ["SketchColumn", "SketchColumnError"]

MAGIC = b"NSKC"
VERSION = 2
_TRAILER = struct.Struct("<QQIB4s")  # documents, entries, CRC-32 of the rest, version, magic
_BAND_BYTES = 8
_EMPTY_BAND = (1 << 64) - 1
_BAND_SHIFT = 60  # a key: the band's number above this bit, its value's top sixty bits below
MAX_BANDS = 16


class SketchColumnError(ValueError):
    """A sketch column's bytes are not what :class:`SketchColumn` wrote."""


class SketchColumn(Column):  # type: ignore[misc]
    """Fixed-size sketches (``size`` bytes of ``size // 8`` bands each), and per band
    the documents of each value; an absent value is ``size`` bytes of 0xff."""

    reversible = False

    def __init__(self, size: int) -> None:
        if size % _BAND_BYTES or size // _BAND_BYTES > MAX_BANDS:
            raise ValueError(f"a sketch must be a multiple of {_BAND_BYTES} bytes, at most {MAX_BANDS} times")
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
            keys, docs = [], []
            for band in range(bands):  # band by band: the keys of one are above those of the last
                held = table[:, band]
                numbers = np.flatnonzero(held != _EMPTY_BAND)
                band_keys = band_key(band, held[numbers])
                order = np.argsort(band_keys, kind="stable")
                keys.append(band_keys[order])
                docs.append(numbers[order].astype("<u4"))
            entries = sum(len(k) for k in keys)
            crc = 0
            for part in (values, *(k.astype("<u8").tobytes() for k in keys), *(d.tobytes() for d in docs)):
                crc = zlib.crc32(part, crc)
                self._dbfile.write(part)
            self._dbfile.write(_TRAILER.pack(doccount, entries, crc, VERSION, MAGIC))

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
            if self._keys_at + 12 * entries + _TRAILER.size != length or count > doccount:
                raise SketchColumnError(f"a sketch column of {length} bytes does not hold {count} sketches and {entries} entries")
            self._map: Any = None
            self._guard: MapGuard | None = None  # the file under a memory map (see mapped())
            self._arrays: tuple[Any, Any] | None = None

        def __repr__(self) -> str:
            return f"<SketchColumn.Reader {self._count} sketches>"

        def mapped(self, data: Any, fileno: int | None = None) -> SketchColumn.Reader:
            """This reader, reading from ``data`` (a memory map of its file, or the
            file's bytes); given the file's descriptor, the first lookup of each
            request (:data:`newsearch.files.requests`) checks that the file still
            holds the column (a file cut short under a map would read zeros, or
            kill the process)."""
            twin = object.__new__(type(self))
            twin.__dict__.update(self.__dict__)
            twin._map = data
            twin._guard = MapGuard(fileno, self._basepos + self._length) if fileno is not None else None
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
            ``sketch``'s: its probable near-duplicates, itself included (a document
            that shares several bands, once for each)."""
            return self.sharing_each([sketch])[0]

        def sharing_each(self, sketches: Sequence[bytes]) -> list[list[int]]:
            """:meth:`sharing` of each of ``sketches``, looked up in the table at once
            (a search's near-duplicate round asks about ten or more)."""
            found: list[list[int]] = [[] for _ in sketches]
            asked = [n for n, sketch in enumerate(sketches) if len(sketch) == self._size]
            if not asked or not self._entries:
                return found
            import numpy as np

            each = [sketch_keys(sketches[n]) for n in asked]
            wanted = np.concatenate(each)
            keys, docs = self._key_arrays()
            # A key's run of documents ends where the next key's would begin.
            bounds = keys.searchsorted(np.concatenate((wanted, wanted + np.uint64(1))))
            firsts, lasts = bounds[: len(wanted)].tolist(), bounds[len(wanted) :].tolist()
            at = 0
            for n, own in zip(asked, each):
                into = found[n]
                for first, last in zip(firsts[at : at + len(own)], lasts[at : at + len(own)]):
                    if last > first:
                        into.extend(docs[first:last].tolist())
                at += len(own)
            return found

        def rows(self, docnums: list[int]) -> Any:
            """The sketches of ``docnums`` as a numpy array of bytes, one row each."""
            import numpy as np

            if self._map is None or any(d >= self._count for d in docnums):
                return np.frombuffer(b"".join(map(self.__getitem__, docnums)), dtype=np.uint8).reshape(len(docnums), self._size)
            self._check()
            table = np.frombuffer(self._map, dtype=np.uint8, count=self._keys_at, offset=self._basepos)
            return table.reshape(self._count, self._size)[docnums]

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
            if self._guard is not None and not self._guard.whole():
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


def sketch_keys(sketch: bytes) -> Any:
    """The band keys of a sketch's bands that are not empty (a numpy array); the last
    sketch's are kept, since a near-duplicate's sketch is looked up in every segment."""
    last_sketch, last_keys = _LAST_KEYS[0]
    if last_sketch == sketch:
        return last_keys
    import numpy as np

    values = np.frombuffer(sketch, dtype="<u8")
    held = values != _EMPTY_BAND
    keys = band_key(np.flatnonzero(held), values[held])
    _LAST_KEYS[0] = (sketch, keys)
    return keys


_LAST_KEYS: list[tuple[bytes, Any]] = [(b"", None)]


def band_key(bands: Any, values: Any) -> Any:
    """The keys (a numpy array) of bands numbered ``bands`` holding ``values``."""
    import numpy as np

    return (np.asarray(bands, dtype=np.uint64) << np.uint64(_BAND_SHIFT)) | (np.asarray(values, dtype=np.uint64) >> np.uint64(64 - _BAND_SHIFT))
