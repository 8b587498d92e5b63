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
* terms (``.ntm``): per field, the sorted terms concatenated, with arrays of
  offsets and statistics, loaded per field on first use and searched by
  bisection.

Only formats without per-posting values (no positions) are supported, which
is what newsearch's schema uses.  Segments written with this codec carry it
in the index's table of contents, so they are read back through it.
"""

from __future__ import annotations

import pickle
import struct
import zlib
from array import array
from itertools import accumulate
from operator import sub
from typing import Any

from whoosh.codec import base
from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader, W3PerDocWriter
from whoosh.matching import ListMatcher, NullMatcher
from whoosh.reading import TermInfo, TermNotFound
from whoosh.system import emptybytes
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

__all__ = ["NewsCodec", "NewsWriter", "TermPool"]

TERMS_EXT = ".ntm"
POSTINGS_EXT = ".npo"
_HEADER = struct.Struct("<BBI")  # id typecode, weight code, count
_ID_CODES = {b"B"[0]: "B", b"H"[0]: "H", b"I"[0]: "I"}
_ALL_ONE, _HALVES, _FLOATS = 0, 1, 2


# --------------------------------------------------------------------------- postings


def encode_postings(ids: array, weights: Any) -> bytes:
    """Document numbers (ascending) and weights (any sequence of floats) → compact bytes."""
    deltas = array("I", [ids[0]])
    deltas.extend(map(sub, ids[1:], ids[:-1]))
    top = max(deltas)
    code = "B" if top < 0x100 else "H" if top < 0x10000 else "I"
    body = deltas.tobytes() if code == "I" else array(code, deltas).tobytes()
    if all(w == 1.0 for w in weights):
        wcode, wbody = _ALL_ONE, emptybytes
    else:
        doubled = [w * 2 for w in weights]
        if all(d.is_integer() and 0 <= d < 256 for d in doubled):
            wcode, wbody = _HALVES, bytes(int(d) for d in doubled)
        else:
            wcode, wbody = _FLOATS, array("f", weights).tobytes()
    return _HEADER.pack(ord(code), wcode, len(ids)) + body + wbody


def decode_postings(data: bytes) -> tuple[array, Any]:
    """The inverse of :func:`encode_postings`: (ids, weights or None when all are 1)."""
    code, wcode, count = _HEADER.unpack_from(data)
    typecode = _ID_CODES[code]
    deltas = array(typecode)
    start = _HEADER.size
    end = start + count * deltas.itemsize
    deltas.frombytes(data[start:end])
    ids = array("I", accumulate(deltas))
    if wcode == _ALL_ONE:
        return ids, None
    if wcode == _HALVES:
        return ids, [b * 0.5 for b in data[end : end + count]]
    weights = array("f")
    weights.frombytes(data[end : end + count * 4])
    return ids, list(weights)


# --------------------------------------------------------------------------- terms


class _FieldTable:
    """The sorted terms of one field in one segment, with their statistics."""

    __slots__ = ("blob", "offsets", "starts", "lengths", "dfs", "weights", "maxweights", "minlens", "maxlens", "n")

    def __init__(self, state: tuple[Any, ...]) -> None:
        (base_offset, self.blob, offsets, lengths, dfs, weights, maxweights, self.minlens, self.maxlens) = state
        self.offsets = _array("I", offsets)
        self.lengths = _array("I", lengths)
        self.starts = array("Q", accumulate(self.lengths, initial=base_offset))
        self.dfs = _array("I", dfs)
        self.weights = _array("f", weights)
        self.maxweights = _array("f", maxweights)
        self.n = len(self.dfs)

    def term(self, i: int) -> bytes:
        return self.blob[self.offsets[i] : self.offsets[i + 1]]

    def seek(self, btext: bytes) -> int:
        """Index of the first term ≥ ``btext``."""
        lo, hi = 0, self.n
        blob, offsets = self.blob, self.offsets
        while lo < hi:
            mid = (lo + hi) // 2
            if blob[offsets[mid] : offsets[mid + 1]] < btext:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def find(self, btext: bytes) -> int | None:
        i = self.seek(btext)
        return i if i < self.n and self.term(i) == btext else None

    def info(self, i: int) -> TermInfo:
        return TermInfo(
            weight=self.weights[i],
            df=self.dfs[i],
            minlength=byte_to_length(self.minlens[i]),
            maxlength=byte_to_length(self.maxlens[i]),
            maxweight=self.maxweights[i],
            minid=0,
            maxid=0,
        )


def _array(typecode: str, data: bytes) -> array:
    out = array(typecode)
    out.frombytes(data)
    return out


class _FieldWriter(base.FieldWriter):  # type: ignore[misc]
    def __init__(self, storage: Any, segment: Any) -> None:
        self._storage = storage
        self._segment = segment
        self._postfile = segment.create_file(storage, POSTINGS_EXT)
        self._offset = 0
        self._tables: dict[str, tuple[Any, ...]] = {}
        self._fieldname: str | None = None
        self.is_closed = False

    def add_postings(self, schema: Any, lengths: Any, items: Any) -> None:
        if not isinstance(items, TermStream):
            super().add_postings(schema, lengths, items)
            return
        # Whole posting lists from a TermPool: no per-posting calls.
        current = None
        doc_lengths: array | None = None
        for fieldname, btext, ids, weights in items.terms():
            if fieldname != current:
                if current is not None:
                    self.finish_field()
                current = fieldname
                self.start_field(fieldname, schema[fieldname])
                doc_lengths = _field_lengths(lengths, fieldname) if schema[fieldname].scorable else None
            self._terms.append(btext)
            if doc_lengths is not None:
                lens = list(map(doc_lengths.__getitem__, ids))
                self._write_term(ids, weights, min(lens), max(lens))
            else:
                self._write_term(ids, weights, 0, 0)
        if current is not None:
            self.finish_field()

    def start_field(self, fieldname: str, fieldobj: Any) -> None:
        self._fieldname = fieldname
        self._field_start = self._offset
        self._terms: list[bytes] = []
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

    def _write_term(self, ids: array, weights: Any, minlen: int, maxlen: int) -> None:
        data = encode_postings(ids, weights)
        self._postfile.write(data)
        self._lengths.append(len(data))
        self._offset += len(data)
        self._dfs.append(len(ids))
        self._weights.append(sum(weights))
        self._maxweights.append(max(weights))
        self._minlens.append(length_to_byte(minlen))
        self._maxlens.append(length_to_byte(maxlen))

    def add_spell_word(self, fieldname: str, text: bytes) -> None:
        raise ValueError("NewsCodec does not store separate spelling words")

    def finish_field(self) -> None:
        offsets = array("I", accumulate((len(t) for t in self._terms), initial=0))
        self._tables[self._fieldname] = (  # type: ignore[index]
            self._field_start,
            b"".join(self._terms),
            offsets.tobytes(),
            self._lengths.tobytes(),
            self._dfs.tobytes(),
            self._weights.tobytes(),
            self._maxweights.tobytes(),
            bytes(self._minlens),
            bytes(self._maxlens),
        )
        self._fieldname = None

    def close(self) -> None:
        self._postfile.close()
        termsfile = self._segment.create_file(self._storage, TERMS_EXT)
        # A directory of fields first, then each field's table, so a reader
        # loads only the fields a query touches.
        payloads = {name: zlib.compress(pickle.dumps(state, protocol=4), 1) for name, state in self._tables.items()}
        directory, position = {}, 0
        for name, payload in payloads.items():
            directory[name] = (position, len(payload))
            position += len(payload)
        head = pickle.dumps(directory, protocol=4)
        termsfile.write(struct.pack("<I", len(head)) + head)
        for payload in payloads.values():
            termsfile.write(payload)
        termsfile.close()
        self.is_closed = True


class _TermsReader(base.TermsReader):  # type: ignore[misc]
    def __init__(self, storage: Any, segment: Any) -> None:
        self._termsfile = segment.open_file(storage, TERMS_EXT)
        self._postfile = segment.open_file(storage, POSTINGS_EXT)
        (headlen,) = struct.unpack("<I", self._termsfile.read(4))
        self._directory: dict[str, tuple[int, int]] = pickle.loads(self._termsfile.read(headlen))
        self._base = 4 + headlen
        self._tables: dict[str, _FieldTable] = {}

    def _table(self, fieldname: str) -> _FieldTable | None:
        table = self._tables.get(fieldname)
        if table is None:
            where = self._directory.get(fieldname)
            if where is None:
                return None
            offset, length = where
            self._termsfile.seek(self._base + offset)
            state = pickle.loads(zlib.decompress(self._termsfile.read(length)))
            table = self._tables[fieldname] = _FieldTable(state)
        return table

    def _locate(self, fieldname: str, btext: bytes) -> tuple[_FieldTable, int]:
        table = self._table(fieldname)
        i = table.find(btext) if table is not None else None
        if i is None:
            raise TermNotFound(f"{fieldname}:{btext!r}")
        return table, i  # type: ignore[return-value]

    def __contains__(self, term: tuple[str, bytes]) -> bool:
        table = self._table(term[0])
        return table is not None and table.find(term[1]) is not None

    def indexed_field_names(self) -> Any:
        return self._directory.keys()

    def cursor(self, fieldname: str, fieldobj: Any) -> _Cursor:
        return _Cursor(self._table(fieldname), fieldobj)

    def _walk(self, fieldname: str, prefix: bytes) -> Any:
        """(field, table, index) of every term from ``prefix`` in ``fieldname`` on, in order."""
        for name in sorted(n for n in self._directory if n >= fieldname):
            table = self._table(name)
            start = table.seek(prefix) if name == fieldname else 0  # type: ignore[union-attr]
            for i in range(start, table.n):  # type: ignore[union-attr]
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
        table = self._table(fieldname)
        i = table.find(btext) if table is not None else None
        return 0.0 if i is None else float(table.weights[i])  # type: ignore[union-attr]

    def doc_frequency(self, fieldname: str, btext: bytes) -> int:
        table = self._table(fieldname)
        i = table.find(btext) if table is not None else None
        return 0 if i is None else int(table.dfs[i])  # type: ignore[union-attr]

    def postings(self, fieldname: str, btext: bytes) -> tuple[array, Any] | None:
        """A term's whole posting list as (ids, weights or None when all are 1), or None."""
        table = self._table(fieldname)
        i = table.find(btext) if table is not None else None
        if i is None:
            return None
        return decode_postings(self._postfile.get(table.starts[i], table.lengths[i]))  # type: ignore[union-attr]

    def matcher(self, fieldname: str, btext: bytes, format_: Any, scorer: Any = None) -> Any:
        table, i = self._locate(fieldname, btext)
        data = self._postfile.get(table.starts[i], table.lengths[i])
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


def _field_lengths(lengths: Any, fieldname: str) -> array:
    """Every document's length in ``fieldname`` (the per-document reader of the new segment)."""
    count = lengths._doccount  # noqa: SLF001
    return array("I", (lengths.doc_field_length(d, fieldname) for d in range(count)))


class TermStream:
    """The postings of a :class:`TermPool`, term by term (and tuple by tuple for Whoosh)."""

    def __init__(self, pool: TermPool) -> None:
        self._pool = pool

    def terms(self) -> Any:
        entries = self._pool.entries
        for key in sorted(entries):
            ids, weights = entries[key]
            yield key[0], key[1], ids, weights

    def __iter__(self) -> Any:
        for fieldname, btext, ids, weights in self.terms():
            for docnum, weight in zip(ids, weights):
                yield fieldname, btext, docnum, weight, emptybytes


class TermPool:
    """Whoosh's posting pool, replaced: postings grouped by term as documents arrive.

    Whoosh's pool keeps one tuple per posting (about 100 bytes), sorts them
    and spills sorted runs to disk when its memory limit is reached, then
    merges them, all in Python.  Documents arrive in number order, so
    appending to one compact array per term needs no sort and no spill:
    about 8 bytes per posting.
    """

    def __init__(self, tempstore: Any, segment: Any, limitmb: int = 128, **kwargs: Any) -> None:
        self.entries: dict[tuple[str, bytes], tuple[array, array]] = {}
        self.fieldnames: set[str] = set()

    def add(self, item: tuple[str, bytes, int, float, bytes]) -> None:
        fieldname, btext, docnum, weight, vbytes = item
        if vbytes:
            raise ValueError("NewsCodec stores no per-posting values (positions); use a weights-only format")
        entry = self.entries.get((fieldname, btext))
        if entry is None:
            entry = self.entries[(fieldname, btext)] = (array("I"), array("f"))
            self.fieldnames.add(fieldname)
        entry[0].append(docnum)
        entry[1].append(weight)

    def iter_postings(self) -> TermStream:
        return TermStream(self)

    def cleanup(self) -> None:
        self.entries = {}


class NewsWriter(SegmentWriter):  # type: ignore[misc]
    """A Whoosh segment writer with :class:`NewsCodec` and :class:`TermPool`."""

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        kwargs.setdefault("codec", NewsCodec())
        super().__init__(ix, **kwargs)
        self.pool = TermPool(self._tempstorage, self.newsegment)


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
