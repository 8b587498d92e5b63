"""newsearch's Whoosh codec: Whoosh's per-document files, a compact inverted index.

Whoosh 2.7's ``W3Codec`` spends about 85 bytes on every term (a hashed
terms file) and a pickled, compressed block on every posting list, even one
with a single document; on Chinese news, where most words are rare, that
made the terms and postings alone three times the size of the text, and
writing them was as slow as segmenting it.  :class:`NewsCodec` keeps W3's
stored fields, columns and field lengths, and writes terms and postings its
own way:

* postings (``.npo``): per term, the document numbers as deltas in the
  narrowest array type that holds them, and the weights as half-units in
  one byte each (or none when all are 1), read back with C-level array code;
* terms (``.ntm``): per field, the sorted terms in compressed blocks of
  ``TERMS_PER_BLOCK`` with their statistics, and an index of each block's
  first term; a lookup bisects the index and decodes one block, so opening
  a segment does not load its vocabulary.

Only formats without per-posting values (no positions) are supported, which
is what newsearch's schema uses.  The index's table of contents does not name
the codec (:mod:`newsearch.toc`): :class:`newsearch.store.Generation` reads
every segment through the codec of the index's format version.
"""

from __future__ import annotations

import bisect
import functools
import json
import pickle
import struct
import sys
import zlib
from array import array
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from itertools import accumulate, chain, repeat
from operator import itemgetter, mul, rshift, sub
from typing import Any

from whoosh.codec import base
from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader, W3PerDocWriter
from whoosh.matching import ListMatcher, NullMatcher
from whoosh.reading import TermInfo, TermNotFound
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

__all__ = ["COLUMN_EXT", "NewsCodec", "NewsWriter", "TermPool", "record_segment_files", "segment_file_problems"]

TERMS_EXT = ".ntm"
COLUMN_EXT = W3Codec.COLUMN_EXT  # a per-document column: SEGMENT.FIELD.col
POSTINGS_EXT = ".npo"
_HEADER = struct.Struct("<BBI")  # id typecode, weight code, count
_ID_CODES = {b"B"[0]: "B", b"H"[0]: "H", b"I"[0]: "I"}
_ALL_ONE, _HALVES, _FLOATS = 0, 1, 2
_SINGLE_HEADERS = {code: _HEADER.pack(ord(code), _ALL_ONE, 1) for code in "BHI"}


# --------------------------------------------------------------------------- postings


def _single_id(first: int) -> tuple[str, bytes]:
    """The typecode and bytes of a list of one document number, as array(code) writes it."""
    code, size = ("B", 1) if first < 0x100 else ("H", 2) if first < 0x10000 else ("I", 4)
    return code, first.to_bytes(size, sys.byteorder)


def encode_postings(ids: array[int], weights: Any) -> bytes:
    """Document numbers (ascending) and weights (floats, or None when all are 1) → compact bytes."""
    count = len(ids)
    if count == 1:
        code, body = _single_id(ids[0])
        if weights is None:  # the commonest list by far: one document, no weights
            return _SINGLE_HEADERS[code] + body
    else:
        deltas = array("I", map(sub, ids, chain((0,), ids)))
        top = max(deltas)
        code = "B" if top < 0x100 else "H" if top < 0x10000 else "I"
        body = deltas.tobytes() if code == "I" else array(code, deltas).tobytes()
    if weights is None or weights.count(1.0) == count:
        wcode, wbody = _ALL_ONE, b""
    else:
        doubled = list(map(mul, weights, repeat(2.0)))
        if all(map(float.is_integer, doubled)) and 0 <= min(doubled) and max(doubled) < 256:
            wcode, wbody = _HALVES, bytes(map(int, doubled))
        else:
            wcode, wbody = _FLOATS, array("f", weights).tobytes()
    return _HEADER.pack(ord(code), wcode, count) + body + wbody


_ID_LIMITS = {ord("B"): 0x100, ord("H"): 0x10000, ord("I"): 1 << 32}
_ID_SIZES = {ord("B"): 1, ord("H"): 2, ord("I"): 4}


def shift_postings(data: bytes, offset: int) -> bytes | None:
    """:func:`encode_postings` of the same list with ``offset`` added to every document
    number, by rewriting its first delta only; None when that no longer fits its type."""
    code = data[0]
    size = _ID_SIZES[code]
    start = _HEADER.size
    first = int.from_bytes(data[start : start + size], sys.byteorder) + offset
    if first >= _ID_LIMITS[code]:
        return None
    return b"".join((data[:start], first.to_bytes(size, sys.byteorder), data[start + size :]))


def concat_postings(parts: list[tuple[bytes, int]]) -> bytes:
    """:func:`encode_postings` of the concatenation of encoded lists, each renumbered by
    adding its offset (the renumbered lists must follow each other in order)."""
    out = array("I")
    weight_codes = set()
    weight_parts = []
    last = 0
    for data, offset in parts:
        code, wcode, count = _HEADER.unpack_from(data)
        deltas = array(_ID_CODES[code])
        end = _HEADER.size + count * deltas.itemsize
        deltas.frombytes(data[_HEADER.size : end])
        first = deltas[0] + offset
        start = len(out)
        out.extend(deltas if deltas.typecode == "I" else array("I", deltas))
        out[start] = first - last
        last = first + sum(deltas) - deltas[0]
        weight_codes.add(wcode)
        weight_parts.append((wcode, count, data[end:]))
    top = max(out)
    code = "B" if top < 0x100 else "H" if top < 0x10000 else "I"
    body = out.tobytes() if code == "I" else array(code, out).tobytes()
    if weight_codes == {_ALL_ONE}:
        return _HEADER.pack(ord(code), _ALL_ONE, len(out)) + body
    if _FLOATS not in weight_codes:
        halves = b"".join(raw if wcode == _HALVES else b"\x02" * count for wcode, count, raw in weight_parts)
        return _HEADER.pack(ord(code), _HALVES, len(out)) + body + halves
    floats = array("f")
    for wcode, count, raw in weight_parts:
        if wcode == _FLOATS:
            floats.frombytes(raw[: count * 4])
        elif wcode == _HALVES:
            floats.extend(b * 0.5 for b in raw[:count])
        else:
            floats.extend(repeat(1.0, count))
    return _HEADER.pack(ord(code), _FLOATS, len(out)) + body + floats.tobytes()


def id_range(data: bytes) -> tuple[int, int]:
    """The first and last document numbers of an encoded posting list."""
    code, _wcode, count = _HEADER.unpack_from(data)
    deltas = array(_ID_CODES[code])
    deltas.frombytes(data[_HEADER.size : _HEADER.size + count * deltas.itemsize])
    return deltas[0], sum(deltas)


def decode_postings(data: bytes) -> tuple[array[int], Any]:
    """The inverse of :func:`encode_postings`: (ids, weights or None when all are 1)."""
    code, wcode, count = _HEADER.unpack_from(data)
    typecode = _ID_CODES[code]
    deltas = array(typecode)
    start = _HEADER.size
    end = start + count * deltas.itemsize
    if len(data) < end + (count if wcode == _HALVES else 4 * count if wcode == _FLOATS else 0):
        raise ValueError("a posting list is cut short (its file was truncated)")
    if count >= _DECODED_AS_ARRAYS:
        return _decode_long(data, typecode, wcode, count, start, end)
    deltas.frombytes(data[start:end])
    ids = array("I", accumulate(deltas))
    if wcode == _ALL_ONE:
        return ids, None
    if wcode == _HALVES:
        return ids, [b * 0.5 for b in data[end : end + count]]
    weights = array("f")
    weights.frombytes(data[end : end + count * 4])
    return ids, list(weights)


_DECODED_AS_ARRAYS = 256
"""Posting lists at least this long are decoded by numpy (a broad word's run to tens
of thousands of documents); the same arrays and floats, without a step per posting."""


def _decode_long(data: bytes, typecode: str, wcode: int, count: int, start: int, end: int) -> tuple[array[int], Any]:
    import numpy as np

    deltas = np.frombuffer(data, dtype=np.dtype(typecode), count=count, offset=start)
    ids = array("I")
    ids.frombytes(np.cumsum(deltas, dtype=np.uint32).tobytes())
    if wcode == _ALL_ONE:
        return ids, None
    if wcode == _HALVES:
        values = np.frombuffer(data, dtype=np.uint8, count=count, offset=end) * 0.5
    else:
        values = np.frombuffer(data, dtype=np.float32, count=count, offset=end).astype(np.float64)
    # array("d"), not a list: the same floats when read one by one, seen by numpy without
    # a copy, and freed at once (80,000 float objects took a millisecond to make and to free).
    weights = array("d")
    weights.frombytes(values.tobytes())
    return ids, weights


# --------------------------------------------------------------------------- terms


TERMS_PER_BLOCK = 128
CACHED_BLOCKS = 64
"""Decoded blocks kept per field of a segment (about 6 KB each)."""


def term_filter(terms: list[bytes]) -> bytes:
    """A one-hash Bloom filter of ``terms``, 16 bits per term: a lookup of a term the
    field lacks reads no block 94% of the time.  Written for fields that are mostly
    asked for terms they lack (near-duplicate bands: each article's are looked up
    in every segment)."""
    bits = max(64, 1 << (16 * len(terms) - 1).bit_length())
    out, mask = bytearray(bits >> 3), bits - 1
    for bit in map(zlib.crc32, terms):
        bit &= mask
        out[bit >> 3] |= 1 << (bit & 7)
    return bytes(out)


class _Block:
    """Up to ``TERMS_PER_BLOCK`` consecutive sorted terms of a field, with their statistics."""

    __slots__ = ("blob", "offsets", "starts", "lengths", "dfs", "weights", "maxweights", "minlens", "maxlens", "n")

    def __init__(self, state: tuple[Any, ...], postings_start: int) -> None:
        self.blob: bytes
        (self.blob, offsets, lengths, dfs, weights, maxweights, self.minlens, self.maxlens) = state
        self.offsets = _array("I", offsets)
        self.lengths = _array("I", lengths)
        self.starts = array("Q", accumulate(self.lengths, initial=postings_start))
        self.dfs = _array("I", dfs)
        self.weights = _array("f", weights)
        self.maxweights = _array("f", maxweights)
        self.n = len(self.dfs)

    def term(self, j: int) -> bytes:
        return self.blob[self.offsets[j] : self.offsets[j + 1]]

    def seek(self, btext: bytes) -> int:
        """Index of the first term ≥ ``btext`` in this block."""
        lo, hi = 0, self.n
        blob, offsets = self.blob, self.offsets
        while lo < hi:
            mid = (lo + hi) // 2
            if blob[offsets[mid] : offsets[mid + 1]] < btext:
                lo = mid + 1
            else:
                hi = mid
        return lo


class _FieldTable:
    """The sorted terms of one field in one segment, read block by block.

    Only the first term of each block is loaded with the table; a block is
    read and decoded when a lookup lands in it, so opening a segment costs
    the same whatever the size of its vocabulary.
    """

    def __init__(self, state: tuple[Any, ...], read: Any) -> None:
        (self.n, self.firsts, positions, sizes, starts, *later) = state
        self._filter = later[0] if later and later[0] else None
        self._filter_mask = len(self._filter) * 8 - 1 if self._filter else 0
        self._positions = _array("Q", positions)
        self._sizes = _array("I", sizes)
        self._starts = _array("Q", starts)
        self._read = read
        self._blocks: dict[int, _Block] = {}

    def block(self, b: int) -> _Block:
        found = self._blocks.get(b)
        if found is None:
            if len(self._blocks) >= CACHED_BLOCKS:
                # The oldest goes: a long-running process (a server) would otherwise end
                # up holding the whole dictionary decoded, about 4.5 times its size on disk.
                del self._blocks[next(iter(self._blocks))]
            state = pickle.loads(zlib.decompress(self._read(self._positions[b], self._sizes[b])))
            found = self._blocks[b] = _Block(state, self._starts[b])
        return found

    def _at(self, i: int) -> tuple[_Block, int]:
        return self.block(i // TERMS_PER_BLOCK), i % TERMS_PER_BLOCK

    def term(self, i: int) -> bytes:
        block, j = self._at(i)
        return block.term(j)

    def seek(self, btext: bytes) -> int:
        """Index of the first term ≥ ``btext``."""
        b = bisect.bisect_right(self.firsts, btext) - 1
        if b < 0:
            return 0
        return b * TERMS_PER_BLOCK + self.block(b).seek(btext)

    def find(self, btext: bytes) -> int | None:
        if self._filter is not None:
            bit = zlib.crc32(btext) & self._filter_mask
            if not self._filter[bit >> 3] & (1 << (bit & 7)):
                return None  # surely not here: no block read
        i = self.seek(btext)
        return i if i < self.n and self.term(i) == btext else None

    def span(self, i: int) -> tuple[int, int]:
        """(offset, length) of the term's posting list in the postings file."""
        block, j = self._at(i)
        return block.starts[j], block.lengths[j]

    def df(self, i: int) -> int:
        block, j = self._at(i)
        return int(block.dfs[j])

    def weight(self, i: int) -> float:
        block, j = self._at(i)
        return float(block.weights[j])

    def info(self, i: int) -> TermInfo:
        block, j = self._at(i)
        return TermInfo(
            weight=block.weights[j],
            df=block.dfs[j],
            minlength=byte_to_length(block.minlens[j]),
            maxlength=byte_to_length(block.maxlens[j]),
            maxweight=block.maxweights[j],
            minid=0,
            maxid=0,
        )


def _array(typecode: str, data: bytes) -> array[Any]:
    out = array(typecode)
    out.frombytes(data)
    return out


_CHUNK_TERMS = 1 << 16  # terms written at a time from a pool
_NATIVE_ONE = struct.pack("=f", 1.0)  # a weight of 1 as the pool holds it
_EVERY_FIRST = itemgetter(slice(0, None, 2))  # of a weighted posting list's (id, weight) pairs
_EVERY_SECOND = itemgetter(slice(1, None, 2))
_length_byte = functools.lru_cache(maxsize=4096)(length_to_byte)


def _pooled_postings(data: bytearray, weighted: bool) -> tuple[array[int], array[float] | None]:
    """A pool's postings of one term: (document numbers, weights or None when not given)."""
    if not weighted:
        return array("I", data), None
    return _EVERY_FIRST(array("I", data)), _EVERY_SECOND(array("f", data))


def _encode_pooled(data: bytearray, weighted: bool) -> bytes:
    """:func:`encode_postings` of a pool's byte string, with no arrays made for the
    commonest list: one document, weight 1."""
    if len(data) == 4 or (len(data) == 8 and weighted and data[4:] == _NATIVE_ONE):
        code, body = _single_id(int.from_bytes(data[:4], sys.byteorder))
        return _SINGLE_HEADERS[code] + body
    return encode_postings(*_pooled_postings(data, weighted))


class _FieldWriter(base.FieldWriter):  # type: ignore[misc]
    def __init__(self, storage: Any, segment: Any, postings_ext: str = POSTINGS_EXT) -> None:
        self._storage = storage
        self._segment = segment
        self._postfile = segment.create_file(storage, postings_ext)
        self._offset = 0
        self._tables: dict[str, tuple[Any, ...]] = {}
        self._fieldname: str | None = None
        self._terms: list[bytes] = []
        self.is_closed = False

    def add_postings(self, schema: Any, lengths: Any, items: Any) -> None:
        if not isinstance(items, TermStream):
            super().add_postings(schema, lengths, items)
            return
        # Whole posting lists from a TermPool, a field at a time and in chunks of terms,
        # each chunk's byte strings let go once written: no per-posting calls, and no
        # copy of a whole field's postings beside the pool.
        for fieldname, terms, buffers, weighted in items.fields():
            field = schema[fieldname]
            self.start_field(fieldname, field)
            self._terms = terms
            doc_lengths = _field_lengths(lengths, fieldname) if field.scorable else None
            for start in range(0, len(terms), _CHUNK_TERMS):
                end = min(start + _CHUNK_TERMS, len(terms))
                chunk = buffers[start:end]
                buffers[start:end] = repeat(None, end - start)
                self._add_pooled(chunk, weighted, doc_lengths)
            self.finish_field()

    def _add_pooled(self, buffers: list[bytearray], weighted: bool, doc_lengths: array[int] | None) -> None:
        """Write consecutive terms' postings, given as a pool's native byte strings."""
        datas = list(map(_encode_pooled, buffers, repeat(weighted)))
        self._postfile.write(b"".join(datas))
        sizes = array("I", map(len, datas))
        self._lengths.extend(sizes)
        self._offset += sum(sizes)
        dfs = array("I", map(rshift, map(len, buffers), repeat(3 if weighted else 2)))
        self._dfs.extend(dfs)
        if weighted:
            floats = list(map(_EVERY_SECOND, map(array, repeat("f"), buffers)))
            self._weights.extend(array("f", map(sum, floats)))
            self._maxweights.extend(array("f", map(max, floats)))
        else:
            self._weights.extend(array("f", dfs))
            self._maxweights.extend(array("f", [1.0]) * len(dfs))
        if doc_lengths is None:
            self._minlens.extend(bytes(len(dfs)))
            self._maxlens.extend(bytes(len(dfs)))
        else:
            docs = list(map(array, repeat("I"), buffers))
            if weighted:
                docs = list(map(_EVERY_FIRST, docs))
            lookup = repeat(doc_lengths.__getitem__)
            self._minlens.extend(map(_length_byte, map(min, map(map, lookup, docs))))
            self._maxlens.extend(map(_length_byte, map(max, map(map, lookup, docs))))

    def start_field(self, fieldname: str, fieldobj: Any) -> None:
        self._fieldname = fieldname
        self._filtered = bool(getattr(fieldobj, "term_filter", False))
        self._field_start = self._offset
        self._terms = []
        self._lengths = array("I")
        self._dfs = array("I")
        self._weights = array("f")
        self._maxweights = array("f")
        self._minlens = bytearray()
        self._maxlens = bytearray()

    def start_term(self, text: bytes) -> None:
        self._terms.append(text)
        self._ids = array("I")
        self._ws: list[float] = []
        self._minlen = 1 << 62
        self._maxlen = 0

    def add(self, docnum: int, weight: float, vbytes: bytes, length: int) -> None:
        if vbytes:
            raise ValueError("NewsCodec stores no per-posting values (positions); use a weights-only format")
        self._ids.append(docnum)
        self._ws.append(weight)
        if length is not None:
            if length < self._minlen:
                self._minlen = length
            if length > self._maxlen:
                self._maxlen = length

    def finish_term(self) -> None:
        self._write_term(self._ids, self._ws, self._minlen if self._minlen != 1 << 62 else 0, self._maxlen)

    def _write_term(self, ids: array[int], weights: Any, minlen: int, maxlen: int) -> None:
        data = encode_postings(ids, weights)
        self._postfile.write(data)
        self._lengths.append(len(data))
        self._offset += len(data)
        self._dfs.append(len(ids))
        if weights is None:
            self._weights.append(len(ids))
            self._maxweights.append(1.0)
        else:
            self._weights.append(sum(weights))
            self._maxweights.append(max(weights))
        self._minlens.append(length_to_byte(minlen) if minlen else 0)
        self._maxlens.append(length_to_byte(maxlen) if maxlen else 0)

    def add_encoded(
        self, term: bytes, data: bytes, df: int, weight: float, maxweight: float, minlen: int, maxlen: int
    ) -> None:
        """Write a term whose posting list is already encoded (by :func:`encode_postings`),
        with its statistics; lengths as length bytes.  For merging segments."""
        self._terms.append(term)
        self._postfile.write(data)
        self._lengths.append(len(data))
        self._offset += len(data)
        self._dfs.append(df)
        self._weights.append(weight)
        self._maxweights.append(maxweight)
        self._minlens.append(minlen)
        self._maxlens.append(maxlen)

    def finish_part(self) -> dict[str, tuple[Any, ...]]:
        """Close the postings file of a writer of some fields only, and return its
        tables for :meth:`add_part` (the terms file is not written)."""
        self.is_closed = True
        self._postfile.close()
        return self._tables

    def add_part(self, tables: dict[str, tuple[Any, ...]], postings: Any) -> None:
        """Append the fields another writer wrote (:meth:`finish_part`): its postings
        file's bytes, read from the file object ``postings``, and its tables."""
        base = self._offset
        while chunk := postings.read(1 << 20):
            self._postfile.write(chunk)
            self._offset += len(chunk)
        for name, (n, blocks, filter_bits) in tables.items():
            self._tables[name] = (n, [(first, start + base, data) for first, start, data in blocks], filter_bits)

    def add_spell_word(self, fieldname: str, text: bytes) -> None:
        raise ValueError("NewsCodec does not store separate spelling words")

    def finish_field(self) -> None:
        terms, n = self._terms, len(self._terms)
        starts = array("Q", accumulate(self._lengths, initial=self._field_start))
        blocks = []
        for b in range(0, n, TERMS_PER_BLOCK):
            chunk = terms[b : b + TERMS_PER_BLOCK]
            e = b + len(chunk)
            state = (
                b"".join(chunk),
                array("I", accumulate((len(t) for t in chunk), initial=0)).tobytes(),
                self._lengths[b:e].tobytes(),
                self._dfs[b:e].tobytes(),
                self._weights[b:e].tobytes(),
                self._maxweights[b:e].tobytes(),
                bytes(self._minlens[b:e]),
                bytes(self._maxlens[b:e]),
            )
            blocks.append((terms[b], starts[b], zlib.compress(pickle.dumps(state, protocol=4), 1)))
        self._tables[self._fieldname] = (n, blocks, term_filter(terms) if self._filtered else b"")  # type: ignore[index]
        self._fieldname = None

    def close(self) -> None:
        # Closed from the start: a close cut short (Ctrl-C) is not tried again by
        # the writer's cancel(), which would fail on the files already closed.
        self.is_closed = True
        self._postfile.close()
        termsfile = self._segment.create_file(self._storage, TERMS_EXT)
        # A directory of fields first; per field, its blocks then its block index (the
        # first term, place and postings offset of each block), so a reader loads the
        # index of the fields a query touches and the blocks its terms fall in.
        body: list[bytes] = []
        directory, position = {}, 0
        for name, (n, blocks, filter_bits) in self._tables.items():
            positions, sizes = array("Q"), array("I")
            for _first, _start, data in blocks:
                positions.append(position)
                sizes.append(len(data))
                body.append(data)
                position += len(data)
            index = (
                n,
                [first for first, _, _ in blocks],
                positions.tobytes(),
                sizes.tobytes(),
                array("Q", [start for _, start, _ in blocks]).tobytes(),
                filter_bits,  # empty when the field has none (and absent before there were any)
            )
            payload = zlib.compress(pickle.dumps(index, protocol=4), 1)
            directory[name] = (position, len(payload))
            body.append(payload)
            position += len(payload)
        head = pickle.dumps(directory, protocol=4)
        termsfile.write(struct.pack("<I", len(head)) + head)
        for data in body:
            termsfile.write(data)
        termsfile.close()


class _TermsReader(base.TermsReader):  # type: ignore[misc]
    def __init__(self, storage: Any, segment: Any) -> None:
        self._termsfile = segment.open_file(storage, TERMS_EXT)
        self._postfile = segment.open_file(storage, POSTINGS_EXT)
        (headlen,) = struct.unpack("<I", self._termsfile.read(4))
        self._directory: dict[str, tuple[int, int]] = pickle.loads(self._termsfile.read(headlen))
        self._base = 4 + headlen
        self._tables: dict[str, _FieldTable] = {}

    def reopen(self, storage: Any, segment: Any) -> None:
        """Read through handles of this process's own: after a fork, a handle's
        position is shared with the other process."""
        self._termsfile = segment.open_file(storage, TERMS_EXT)
        self._postfile = segment.open_file(storage, POSTINGS_EXT)

    def _read(self, offset: int, length: int) -> bytes:
        return self._termsfile.get(self._base + offset, length)  # type: ignore[no-any-return]

    def _table(self, fieldname: str) -> _FieldTable | None:
        """The terms of ``fieldname``, or None when the segment has none."""
        return self._field(fieldname) if fieldname in self._directory else None

    def _field(self, fieldname: str) -> _FieldTable:
        """The terms of a field of the directory (read once)."""
        table = self._tables.get(fieldname)
        if table is None:
            offset, length = self._directory[fieldname]
            state = pickle.loads(zlib.decompress(self._read(offset, length)))
            table = self._tables[fieldname] = _FieldTable(state, self._read)
        return table

    def _find(self, fieldname: str, btext: bytes) -> tuple[_FieldTable, int] | None:
        """The field's terms and the term's place among them, or None when it is not there."""
        table = self._table(fieldname)
        i = None if table is None else table.find(btext)
        return None if table is None or i is None else (table, i)

    def _locate(self, fieldname: str, btext: bytes) -> tuple[_FieldTable, int]:
        found = self._find(fieldname, btext)
        if found is None:
            raise TermNotFound(f"{fieldname}:{btext!r}")
        return found

    def __contains__(self, term: tuple[str, bytes]) -> bool:
        return self._find(*term) is not None

    def indexed_field_names(self) -> Any:
        return self._directory.keys()

    def cursor(self, fieldname: str, fieldobj: Any) -> _Cursor:
        return _Cursor(self._table(fieldname), fieldobj)

    def _walk(self, fieldname: str, prefix: bytes) -> Any:
        """(field, table, index) of every term from ``prefix`` in ``fieldname`` on, in order."""
        for name in sorted(n for n in self._directory if n >= fieldname):
            table = self._field(name)
            start = table.seek(prefix) if name == fieldname else 0
            for i in range(start, table.n):
                yield name, table, i

    def terms(self) -> Any:
        return self.terms_from("", b"")

    def terms_from(self, fieldname: str, prefix: bytes) -> Any:
        return ((name, table.term(i)) for name, table, i in self._walk(fieldname, prefix))

    def items(self) -> Any:
        return self.items_from("", b"")

    def items_from(self, fieldname: str, prefix: bytes) -> Any:
        return (((name, table.term(i)), table.info(i)) for name, table, i in self._walk(fieldname, prefix))

    def term_info(self, fieldname: str, btext: bytes) -> TermInfo:
        table, i = self._locate(fieldname, btext)
        return table.info(i)

    def frequency(self, fieldname: str, btext: bytes) -> float:
        found = self._find(fieldname, btext)
        return 0.0 if found is None else found[0].weight(found[1])

    def doc_frequency(self, fieldname: str, btext: bytes) -> int:
        found = self._find(fieldname, btext)
        return 0 if found is None else found[0].df(found[1])

    def postings(self, fieldname: str, btext: bytes) -> tuple[array[int], Any] | None:
        """A term's whole posting list as (ids, weights or None when all are 1), or None."""
        found = self._find(fieldname, btext)
        if found is None:
            return None
        table, i = found
        return decode_postings(self._postfile.get(*table.span(i)))

    def verify(self) -> None:
        """Decode every posting list of every field; ValueError when one does not hold
        as many documents as its term's statistics say (a damaged file)."""
        for fieldname in list(self._directory):
            table = self._field(fieldname)
            for i in range(table.n):
                ids, _weights = decode_postings(self._postfile.get(*table.span(i)))
                if len(ids) != table.df(i):
                    raise ValueError(f"the postings of a term in {fieldname!r} do not match its statistics")

    def matcher(self, fieldname: str, btext: bytes, format_: Any, scorer: Any = None) -> Any:
        table, i = self._locate(fieldname, btext)
        data = self._postfile.get(*table.span(i))
        ids, weights = decode_postings(data)
        if not ids:
            return NullMatcher()
        return ListMatcher(
            ids,
            weights=weights,
            all_weights=1.0 if weights is None else None,
            format=format_,
            scorer=scorer,
            term=(fieldname, btext),
            terminfo=table.info(i),
        )

    def close(self) -> None:
        self._termsfile.close()
        self._postfile.close()


class _Cursor(base.FieldCursor):  # type: ignore[misc]
    """Walks one field's sorted terms (for Whoosh's spelling automata)."""

    def __init__(self, table: _FieldTable | None, fieldobj: Any) -> None:
        self._table = table
        self._fieldobj = fieldobj
        self._i = 0
        self._text: str | None = None
        self.first()

    def _at(self, i: int) -> str | None:
        self._i = i
        table = self._table
        if table is None or i >= table.n:
            self._text = None
        else:
            self._text = self._fieldobj.from_bytes(table.term(i))
        return self._text

    def first(self) -> str | None:
        return self._at(0)

    def find(self, term: Any) -> str | None:
        if self._table is None:
            return None
        if not isinstance(term, bytes):
            term = self._fieldobj.to_bytes(term)
        return self._at(self._table.seek(term))

    def next(self) -> str | None:
        return self._at(self._i + 1) if self._text is not None else None

    def text(self) -> str | None:
        return self._text

    def is_valid(self) -> bool:
        return self._text is not None

    def term_info(self) -> TermInfo | None:
        return self._table.info(self._i) if self._text is not None and self._table is not None else None


# --------------------------------------------------------------------------- writing


def _field_lengths(lengths: Any, fieldname: str) -> array[int]:
    """Every document's length in ``fieldname`` (the per-document reader of the new segment).

    Whoosh answers None, not 0, for a document with nothing in the field (an
    article that is only front matter)."""
    count = lengths._doccount  # noqa: SLF001
    return array("I", (lengths.doc_field_length(d, fieldname) or 0 for d in range(count)))


class TermStream:
    """The postings of a :class:`TermPool`, term by term (and tuple by tuple for Whoosh)."""

    def __init__(self, pool: TermPool) -> None:
        self._pool = pool

    def fields(self) -> Any:
        """(field name, sorted UTF-8 terms, their postings as the pool's native byte
        strings, whether those hold weights) for each field in name order.  Each field
        leaves the pool as it is handed over, so that its memory can go as soon as it
        is written."""
        pool = self._pool
        for fieldname in sorted(pool.postings):
            table = pool.postings.pop(fieldname)
            keys = sorted(table)  # str sorts as its UTF-8 bytes would
            buffers = list(map(table.__getitem__, keys))
            del table
            terms = list(map(str.encode, keys)) if keys and isinstance(keys[0], str) else keys
            del keys
            yield fieldname, terms, buffers, fieldname in pool.weighted

    def terms(self) -> Any:
        """(field name, term, ids, weights or None when all are 1), sorted by field and term."""
        for fieldname, terms, buffers, weighted in self.fields():
            for term, data in zip(terms, buffers):
                yield (fieldname, term, *_pooled_postings(data, weighted))

    def __iter__(self) -> Any:
        for fieldname, btext, ids, weights in self.terms():
            for i, docnum in enumerate(ids):
                yield fieldname, btext, docnum, 1.0 if weights is None else weights[i], b""


_consume: Callable[[Iterable[Any]], None] = deque(maxlen=0).extend  # runs an iterator, keeping nothing
_ID = struct.Struct("=I")  # a document number as array("I") holds it
_WEIGHTED = struct.Struct("=If")  # and a weight after it, as array("f") holds it




class TermPool:
    """Whoosh's posting pool, replaced: postings grouped by term as documents arrive.

    Whoosh's pool keeps one tuple per posting (about 100 bytes), sorts them
    and spills sorted runs to disk when its memory limit is reached, then
    merges them, all in Python.  Documents arrive in number order, so
    appending to one compact byte string per term needs no sort and no
    spill: about 8 bytes per posting, 4 in fields without weights.  Byte
    strings, not arrays: the garbage collector does not track them, so the
    pool's hundreds of thousands of terms cost nothing at each full
    collection (with arrays, each walked all of them).
    """

    def __init__(self, tempstore: Any = None, segment: Any = None, limitmb: int = 128, **kwargs: Any) -> None:
        # Per field, per term: native "I" document numbers, each followed by its native
        # "f" weight in the fields given weights (one lookup and one append a posting).
        self.postings: dict[str, defaultdict[Any, bytearray]] = {}
        self.weighted: set[str] = set()

    def add(self, item: tuple[str, bytes, int, float, bytes]) -> None:
        """One posting, the way Whoosh's writer adds them."""
        fieldname, btext, docnum, weight, vbytes = item
        if vbytes:
            raise ValueError("NewsCodec stores no per-posting values (positions); use a weights-only format")
        self.add_terms(fieldname, docnum, [btext], [weight])

    def add_terms(self, fieldname: str, docnum: int, terms: list[Any], weights: list[float] | None) -> None:
        """One document's terms in one field, with their weights: a field is given
        weights always (word fields) or never (all are 1: the units fields).  Terms are
        bytes, or str in fields that always give str (encoded once per term when
        written, and already hashed when they come from a set or dict)."""
        table = self.postings.get(fieldname)
        if table is None:
            table = self.postings[fieldname] = defaultdict(bytearray)
            if weights is not None:
                self.weighted.add(fieldname)
        elif (weights is not None) != (fieldname in self.weighted):
            raise ValueError(f"field {fieldname!r} was given weights in some documents only")
        # map() over C-level callables: no Python frame per posting.
        if weights is None:
            _consume(map(bytearray.extend, map(table.__getitem__, terms), repeat(_ID.pack(docnum))))
        else:
            _consume(map(bytearray.extend, map(table.__getitem__, terms), map(_WEIGHTED.pack, repeat(docnum), weights)))

    def iter_postings(self) -> TermStream:
        return TermStream(self)

    def cleanup(self) -> None:
        self.postings, self.weighted = {}, set()


class NewsWriter(SegmentWriter):  # type: ignore[misc]
    """A Whoosh segment writer with :class:`NewsCodec` and :class:`TermPool`.

    Fields with a ``postings(value)`` method (newsearch's word and unit fields)
    hand over a document's terms in one call instead of one tuple per term.
    Schemas with term vectors, separate spelling fields or per-document boosts
    are written by Whoosh's own ``add_document``.
    """

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        kwargs.setdefault("codec", NewsCodec())
        super().__init__(ix, **kwargs)
        self.pool = TermPool(self._tempstorage, self.newsegment)
        self._plain = not any(f.vector or f.separate_spelling() for _, f in self.schema.items())

    def _finalize_segment(self) -> Any:
        segment = super()._finalize_segment()
        record_segment_files(self.storage, segment)
        return segment

    def add_document(self, **fields: Any) -> None:
        if not self._plain or any(k.startswith("_") and k.endswith("_boost") for k in fields):
            super().add_document(**fields)
            return
        self._check_state()
        perdoc, schema, docnum, pool = self.perdocwriter, self.schema, self.docnum, self.pool
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, names)
        perdoc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    postings = getattr(field, "postings", None)
                    if postings is not None:
                        terms, weights, length = postings(value)
                    else:
                        terms, weights = [], []
                        for btext, freq, weight, vbytes in field.index(value):
                            if vbytes:
                                raise ValueError("NewsCodec stores no per-posting values (positions)")
                            terms.append(btext)
                            weights.append(weight)
                            length += freq
                        if not field.scorable:
                            length = 0
                    pool.add_terms(name, docnum, terms, weights)
                stored = fields.get(f"_stored_{name}", value)
                perdoc.add_field(name, field, stored if field.stored else None, length)
                if field.column_type and stored is not None:
                    perdoc.add_column_value(name, field.column_type, field.to_column_value(stored))
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1


# --------------------------------------------------------------------------- the files of a segment

FILE_LIST_EXT = ".nfl"


def _file_list_name(segment: Any) -> str:
    return segment.make_filename(FILE_LIST_EXT)  # type: ignore[no-any-return]


def record_segment_files(storage: Any, segment: Any) -> None:
    """Write, beside a finished segment, the name and size of each of its files, so a
    missing or truncated file is noticed when the index is opened."""
    listing = _file_list_name(segment)
    sizes = {name: storage.file_length(name) for name in segment.list_files(storage) if name != listing}
    out = storage.create_file(listing)
    try:
        out.write(json.dumps(sizes, sort_keys=True).encode("utf-8"))
    finally:
        out.close()


def segment_file_problems(storage: Any, segment: Any) -> list[str]:
    """What is wrong with a segment's files on disk (missing, or not the size written)."""
    try:
        listing = storage.open_file(_file_list_name(segment))
        try:
            sizes = json.loads(listing.read().decode("utf-8"))
        finally:
            listing.close()
    except (OSError, ValueError) as exc:
        return [f"{_file_list_name(segment)}: the list of the segment's files cannot be read ({exc})"]
    problems = []
    for name, size in sorted(sizes.items()):
        try:
            actual = storage.file_length(name)
        except OSError:
            problems.append(f"{name} is missing")
            continue
        if actual != size:
            problems.append(f"{name} has {actual} bytes instead of {size}")
    return problems


# --------------------------------------------------------------------------- per-document parts (W3's)


class _PerDocReader(W3PerDocReader):  # type: ignore[misc]
    """Remembers which columns a segment lacks.

    Whoosh asks ``has_column`` for every posting it writes (to find the
    field's length column) and does not cache a negative answer, so a field
    without lengths cost one ``stat`` per posting.
    """

    def __init__(self, storage: Any, segment: Any) -> None:
        super().__init__(storage, segment)
        self._has: dict[str, bool] = {}

    def open_columns(self) -> None:
        """Open every column file of the segment now (Whoosh opens each when it is first
        read): a merge deletes the files of the segments it replaced, and a reader
        opened before must still read them (an open file outlives its name)."""
        segment = self._segment
        prefix = f"{segment.segment_id()}."
        for name in segment.list_files(self._storage):
            if name.startswith(prefix) and name.endswith(COLUMN_EXT):
                column = name[len(prefix) : -len(COLUMN_EXT)]
                if column not in self._colfiles:
                    self._colfiles[column] = self._get_column_file(column)
                self._has[column] = True

    def has_column(self, fieldname: str) -> bool:
        found = self._has.get(fieldname)
        if found is None:
            found = self._has[fieldname] = super().has_column(fieldname)
        return found


class _PerDocWriter(W3PerDocWriter):  # type: ignore[misc]
    """Removes its temporary folder when it closes (Whoosh leaves that to the writer,
    which only works while every writer of an index shares one temporary folder)."""

    def close(self) -> None:
        super().close()
        self._cols._tempstorage.destroy()  # noqa: SLF001


class NewsCodec(W3Codec):  # type: ignore[misc]
    """W3's per-document storage with newsearch's compact terms and postings."""

    def per_document_reader(self, storage: Any, segment: Any) -> _PerDocReader:
        return _PerDocReader(storage, segment)

    def per_document_writer(self, storage: Any, segment: Any) -> _PerDocWriter:
        return _PerDocWriter(self, storage, segment)

    def field_writer(self, storage: Any, segment: Any) -> _FieldWriter:
        return _FieldWriter(storage, segment)

    def terms_reader(self, storage: Any, segment: Any) -> _TermsReader:
        return _TermsReader(storage, segment)
