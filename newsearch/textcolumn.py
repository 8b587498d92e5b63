"""A Whoosh column of compressed text: each document's value deflated on its own
with a preset dictionary sampled from the segment's own text.

The normalized body of every article is kept in a column (exact matching,
snippets and ranking read it), and stored as it is it weighs about as much as
the text the index was built from.  Here each value is compressed alone, so
that a reader decompresses only the documents it asks for (verifying a quoted
phrase reads thousands of candidates, a page of results a few dozen), and
with a dictionary (``zdict``) sampled from the first megabyte of the column's
values, which gives a short document the context that block compression would
give it.  Chinese text is compressed as UTF-16 (two bytes a character instead
of three), which deflate packs better.

Measured on normalized bodies (ratio = compressed / UTF-8 size; decoding one
document of about 3 KB takes about 20 µs; zstd with a trained dictionary,
tried too, compressed no better and decoded no faster):

=====================================  ==========  ==========
scheme                                 real posts  generated
=====================================  ==========  ==========
each document alone, no dictionary     0.50        0.59
blocks of 64 KB                        0.46        0.51
each alone, 32 KB dictionary           0.45        0.49
each alone as UTF-16, 32 KB dictionary 0.42        0.46
=====================================  ==========  ==========

The layout of a column (offsets relative to its start)::

    value 0 | value 1 | ... | dictionaries | offsets (documents + 1) | trailer

A value is empty (an empty string) or one mode byte followed by the data:
``STORED`` (the bytes as given), ``DEFLATED`` (raw deflate of the bytes, for a
value that is not UTF-8) or ``UTF16`` + *j* (raw deflate of the text as
UTF-16-LE, with dictionary *j*).  A column written document by document has
one dictionary; a merged one keeps those of the columns it was merged from,
so that a merge copies each value's bytes as they are
(:meth:`TextColumn.Writer.add_compressed`) instead of decompressing and
compressing every body again.  The dictionaries are stored one after the
other, then their lengths and their number (4 bytes each).  Raw deflate, because a zlib stream's dictionary check
sums the 32 KB dictionary again for every value read (half the time of
reading one); the trailer instead holds a CRC-32 of all that comes before it, which
:meth:`TextColumn.Reader.verify` (``newsearch check``) compares.  The trailer
also holds the number of documents, the dictionaries' length, the offsets'
type code, the format version and a magic string.

Decoded values are kept in one cache shared by the readers that searches use
(:data:`decoded`, 32 MB by default): a phrase verified again, or the
documents that ranking then snippets read, are decompressed once.
"""

from __future__ import annotations

import itertools
import struct
import sys
import threading
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from whoosh.columns import Column, ColumnReader, ColumnWriter

from .files import MapGuard

__all__ = ["DecodedCache", "TextColumn", "TextColumnError", "decoded"]

STORED, DEFLATED, UTF16 = 1, 2, 3  # never 0: zeros (a file cut short under a memory map) are not a value
MAX_DICTIONARIES = 256 - UTF16
MAGIC = b"NTXC"
VERSION = 2
_TRAILER = struct.Struct("<IIIcB4s")  # documents, dictionaries' length, CRC-32 of the rest, offsets' type code, version, magic
_LEVEL = 6
_RAW = -zlib.MAX_WBITS  # raw deflate: no header, no checksum
_BIG_ENDIAN = sys.byteorder == "big"
_readers = itertools.count()  # a number for each reader, never reused: the cache's keys


class TextColumnError(ValueError):
    """A text column's bytes are not what :class:`TextColumn` wrote."""


def _inflate(data: bytes, dictionary: bytes | None) -> bytes:
    """The UTF-8 text of a ``UTF16`` value (mode byte included)."""
    inflater = zlib.decompressobj(_RAW, zdict=dictionary) if dictionary else zlib.decompressobj(_RAW)
    wide = inflater.decompress(memoryview(data)[1:])
    if not inflater.eof or inflater.unused_data:
        raise TextColumnError("a text column value is truncated or followed by stray bytes")
    return wide.decode("utf-16-le").encode("utf-8")


def _dictionaries(region: bytes) -> list[bytes]:
    """The dictionaries stored in ``region``: them, their lengths, their number."""
    if len(region) < 4:
        raise TextColumnError("a text column's dictionaries are missing")
    count = int.from_bytes(region[-4:], "little")
    lengths = array("I")
    table = len(region) - 4 - 4 * count
    if table < 0:
        raise TextColumnError("a text column's dictionaries do not fit in it")
    lengths.frombytes(region[table:-4])
    if _BIG_ENDIAN:
        lengths.byteswap()
    if sum(lengths) != table:
        raise TextColumnError("a text column's dictionaries do not add up")
    out, position = [], 0
    for length in lengths:
        out.append(region[position : position + length])
        position += length
    return out


class DecodedCache:
    """Decoded values by (reader, document), the least recently used dropped
    beyond ``budget`` bytes.  Safe to share between threads."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int]) -> bytes | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[int, int], value: bytes) -> None:
        if len(value) > self.budget:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._size += len(value)
            while self._size > self.budget:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = 0

    @property
    def size(self) -> int:
        """The bytes held."""
        return self._size


decoded = DecodedCache(32 * 1024 * 1024)


def _to_le(values: array[int]) -> bytes:
    if _BIG_ENDIAN:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def sample_dictionary(texts: list[bytes], size: int, piece: int = 256) -> bytes:
    """A preset dictionary of at most ``size`` bytes: ``piece`` bytes from the
    middle of texts spread evenly over ``texts`` (UTF-16-LE, so pieces start on
    an even byte)."""
    texts = [t for t in texts if t]
    if not texts or size <= 0:
        return b""
    wanted = max(1, size // piece)
    step = max(1, len(texts) // wanted)
    parts = []
    for text in texts[::step]:
        middle = (len(text) // 2) & ~1
        parts.append(text[middle : middle + piece])
    return b"".join(parts)[-size:]


class TextColumn(Column):  # type: ignore[misc]
    """Per-document compressed text (bytes in, bytes out, like ``VarBytesColumn``);
    the default value is ``b""``.

    :param dictionary_size: the largest preset dictionary (zlib uses at most 32 KB).
    :param sample_size: how many bytes of the first values (as UTF-16) the
        dictionary is sampled from; the writer holds them until then.
    """

    _default = b""

    def __init__(self, dictionary_size: int = 32 * 1024, sample_size: int = 1024 * 1024) -> None:
        self.dictionary_size = dictionary_size
        self.sample_size = sample_size

    def writer(self, dbfile: Any) -> TextColumn.Writer:
        return self.Writer(dbfile, self.dictionary_size, self.sample_size)

    def reader(self, dbfile: Any, basepos: int, length: int, doccount: int) -> TextColumn.Reader:
        return self.Reader(dbfile, basepos, length, doccount)

    class Writer(ColumnWriter):  # type: ignore[misc]
        def __init__(self, dbfile: Any, dictionary_size: int, sample_size: int) -> None:
            self._dbfile = dbfile
            self._dictionary_size = dictionary_size
            self._sample_size = sample_size
            self._offsets = array("Q", [0])  # where each value starts, then where the last ends
            self._position = 0
            self._pending: list[tuple[int, bytes | None, bytes]] | None = []  # until the dictionary is made
            self._pending_size = 0
            self._dictionaries: dict[bytes, int] = {}  # each dictionary's number, in the order made
            self._mode = 0  # UTF16 + the number of this writer's own dictionary
            self._compressor: Any = None
            self._crc = 0

        def __repr__(self) -> str:
            return "<TextColumn.Writer>"

        def fill(self, docnum: int) -> None:
            """Empty values for the documents before ``docnum`` that have none."""
            offsets = self._offsets
            if docnum >= len(offsets):
                offsets.extend([self._position] * (docnum + 1 - len(offsets)))

        def add(self, docnum: int, value: bytes) -> None:
            if self._pending is None:
                self._write(docnum, self._encode(value))
                return
            try:
                wide: bytes | None = value.decode("utf-8").encode("utf-16-le")
            except UnicodeDecodeError:
                wide = None
            self._pending.append((docnum, wide, value))
            self._pending_size += len(wide or b"")
            if self._pending_size >= self._sample_size:
                self._make_dictionary()

        def add_compressed(self, docnum: int, data: bytes, dictionary: bytes | None) -> None:
            """Add a value as another text column holds it, with the dictionary it was
            compressed with (see :meth:`TextColumn.Reader.compressed`): its bytes are
            copied, not decompressed and compressed again."""
            if not data:
                return
            if self._pending:  # values before this one wait for the dictionary: write them first
                self._make_dictionary()
            mode = data[0]
            if mode >= UTF16:
                if dictionary is None:
                    raise ValueError("a compressed text value needs its dictionary")
                number = self._number(dictionary)
                if number is None:  # too many dictionaries: compress it again, with this writer's own
                    if self._pending is not None:
                        self._make_dictionary()
                    self._write(docnum, self._encode(_inflate(data, dictionary)))
                    return
                if number != mode - UTF16:
                    data = bytes([UTF16 + number]) + data[1:]
            self._write(docnum, data)

        def _number(self, dictionary: bytes) -> int | None:
            """The number of ``dictionary`` in this column (added if new), or None when full."""
            found = self._dictionaries.get(dictionary)
            if found is None:
                if len(self._dictionaries) >= MAX_DICTIONARIES:
                    return None
                found = self._dictionaries[dictionary] = len(self._dictionaries)
            return found

        def _make_dictionary(self) -> None:
            pending = self._pending or []
            self._pending = None
            dictionary = sample_dictionary([wide for _, wide, _ in pending if wide], self._dictionary_size)
            number = self._number(dictionary)
            if number is None:  # full of merged dictionaries: compress with the last
                number, dictionary = len(self._dictionaries) - 1, list(self._dictionaries)[-1]
            self._mode = UTF16 + number
            options: dict[str, Any] = {"zdict": dictionary} if dictionary else {}
            self._compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, _RAW, 9, zlib.Z_DEFAULT_STRATEGY, **options)
            for docnum, wide, value in pending:
                self._write(docnum, self._encode(value, wide))

        def _encode(self, value: bytes, wide: bytes | None = None) -> bytes:
            if not value:
                return b""
            if wide is None:
                try:
                    wide = value.decode("utf-8").encode("utf-16-le")
                except UnicodeDecodeError:
                    packed = zlib.compress(value, _LEVEL, _RAW)
                    return bytes([DEFLATED]) + packed if len(packed) < len(value) else bytes([STORED]) + value
            compressor = self._compressor.copy()  # primed with the dictionary once
            packed = compressor.compress(wide) + compressor.flush()
            return bytes([self._mode]) + packed if len(packed) < len(value) else bytes([STORED]) + value

        def _write(self, docnum: int, data: bytes) -> None:
            offsets = self._offsets
            if docnum < len(offsets) - 1:
                raise ValueError(f"document {docnum} comes after document {len(offsets) - 2} in a column")
            self.fill(docnum)
            self._dbfile.write(data)
            self._crc = zlib.crc32(data, self._crc)
            self._position += len(data)
            offsets.append(self._position)

        def finish(self, doccount: int) -> None:
            if self._pending:
                self._make_dictionary()
            self.fill(doccount)
            offsets = self._offsets
            if len(offsets) > doccount + 1:
                raise ValueError(f"a column of {doccount} documents holds {len(offsets) - 1} values")
            if offsets[-1] < 2**32:
                offsets = array("I", offsets)
            dictionaries = list(self._dictionaries)
            lengths = array("I", map(len, dictionaries))
            lengths.append(len(dictionaries))
            region = b"".join(dictionaries) + _to_le(lengths)
            table = _to_le(offsets)
            self._dbfile.write(region)
            self._dbfile.write(table)
            self._crc = zlib.crc32(table, zlib.crc32(region, self._crc))
            code = offsets.typecode.encode("ascii")
            self._dbfile.write(_TRAILER.pack(doccount, len(region), self._crc, code, VERSION, MAGIC))

    class Reader(ColumnReader):  # type: ignore[misc]
        """Values by document number.  A reader of a memory map (:meth:`mapped`, what
        searches use) keeps what it decodes in :data:`decoded`; one that reads
        the file (checks, merges, reanalysis: each document once) does not."""

        def __init__(self, dbfile: Any, basepos: int, length: int, doccount: int) -> None:
            self._dbfile = dbfile
            self._basepos = basepos
            self._length = length
            self._doccount = doccount
            self._map: Any = None  # a memory map of the file, when given (see mapped())
            self._guard: MapGuard | None = None  # the file under a memory map (see mapped())
            self._number = next(_readers)
            if length < _TRAILER.size:
                raise TextColumnError(f"a text column of {length} bytes is too short")
            count, dict_length, self._crc, code, version, magic = _TRAILER.unpack(
                dbfile.get(basepos + length - _TRAILER.size, _TRAILER.size)
            )
            if magic != MAGIC or version not in (1, VERSION) or code not in (b"I", b"Q"):
                raise TextColumnError(f"not a text column of version {VERSION} ({magic!r}, version {version})")
            if count != doccount:
                raise TextColumnError(f"a text column of {count} documents in a segment of {doccount}")
            offsets = array(code.decode("ascii"))
            end = length - _TRAILER.size
            start = end - (doccount + 1) * offsets.itemsize
            if start - dict_length < 0:
                raise TextColumnError("a text column's offsets do not fit in it")
            offsets.frombytes(dbfile.get(basepos + start, end - start))
            if _BIG_ENDIAN:
                offsets.byteswap()
            if offsets[0] != 0 or offsets[-1] != start - dict_length:
                raise TextColumnError("a text column's offsets do not match its values")
            self._offsets = offsets
            region = bytes(dbfile.get(basepos + start - dict_length, dict_length))
            self._dictionaries = _dictionaries(region) if version > 1 else [region]  # 1: a single dictionary

        def __repr__(self) -> str:
            return f"<TextColumn.Reader {self._doccount} documents>"

        def mapped(self, data: Any, fileno: int | None = None) -> TextColumn.Reader:
            """This reader, reading its values from ``data`` (a memory map of its
            file, or the file's bytes) by slicing instead of seeking and reading.

            Given the file's descriptor, the first read of each request
            (:data:`newsearch.files.requests`) checks that the file still holds
            the column: one cut short under the map (which would read zeros, or
            kill the process) raises :class:`TextColumnError`, even for a value
            the cache holds."""
            twin = object.__new__(type(self))
            twin.__dict__.update(self.__dict__)
            twin._map = data
            twin._guard = MapGuard(fileno, self._basepos + self._length) if fileno is not None else None
            twin._number = next(_readers)
            return twin

        def __len__(self) -> int:
            return self._doccount

        def __getitem__(self, docnum: int) -> bytes:
            offsets = self._offsets
            start, end = offsets[docnum], offsets[docnum + 1]
            if start == end:
                return b""
            if self._map is None:  # read once, in order (check, merges, reanalysis): not kept
                return self._decode(self._raw(start, end))
            if self._guard is not None and not self._guard.whole():
                raise TextColumnError("a text column's file is shorter than when it was opened")
            key = (self._number, docnum)
            found = decoded.get(key)
            if found is None:
                found = self._decode(self._raw(start, end))
                decoded.put(key, found)
            return found

        def verify(self) -> None:
            """Raise :class:`TextColumnError` unless the column's bytes are the ones written."""
            crc = 0
            end = self._length - _TRAILER.size
            for start in range(0, end, 1 << 20):
                crc = zlib.crc32(self._raw(start, min(end, start + (1 << 20))), crc)
            if crc != self._crc:
                raise TextColumnError("a text column's bytes differ from what was written (CRC-32)")

        def _raw(self, start: int, end: int) -> bytes:
            base = self._basepos
            if self._map is not None:
                return self._map[base + start : base + end]  # type: ignore[no-any-return]
            return bytes(self._dbfile.get(base + start, end - start))

        def compressed(self, docnum: int) -> tuple[bytes, bytes | None]:
            """Document ``docnum``'s value as stored, and the dictionary it needs (None
            if none): what :meth:`TextColumn.Writer.add_compressed` copies."""
            start, end = self._offsets[docnum], self._offsets[docnum + 1]
            if start == end:
                return b"", None
            data = self._raw(start, end)
            return data, self._dictionary(data[0])

        def _dictionary(self, mode: int) -> bytes | None:
            if mode < UTF16:
                return None
            try:
                return self._dictionaries[mode - UTF16]
            except IndexError:
                raise TextColumnError(f"a text column value needs dictionary {mode - UTF16} of {len(self._dictionaries)}") from None

        def _decode(self, data: bytes) -> bytes:
            mode = data[0]
            if mode >= UTF16:
                return _inflate(data, self._dictionary(mode))
            if mode == DEFLATED:
                return zlib.decompress(data[1:], _RAW)
            if mode == STORED:
                return data[1:]
            raise TextColumnError(f"a text column value of unknown kind {mode}")

        def raw_size(self, docnum: int) -> int:
            """How many bytes document ``docnum``'s value takes in the column."""
            return int(self._offsets[docnum + 1] - self._offsets[docnum])

        def __iter__(self) -> Iterator[bytes]:
            for docnum in range(self._doccount):
                yield self[docnum]
