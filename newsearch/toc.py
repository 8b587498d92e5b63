"""The table of contents of a generation: which segments it holds, as plain JSON.

Whoosh writes its table of contents (``_GEN_N.toc``) as pickles of the
schema and of the segment objects, so every index named the Python modules
and classes of newsearch's fields, analyzer and codec, and stopped opening the
moment one of them moved.  Here the table of contents names no Python object::

    {"contents": 1, "generation": 4,
     "segments": [{"id": "k3j2...", "documents": 5000, "deleted": [17, 802],
                   "lengths": {"body": 1919114, "title": 41007}, "compound": false}]}

The schema and codec are built in code for the index's format version and
passed in when the index is opened (:mod:`newsearch.store`).  A table of
contents that Whoosh wrote (indexes made before this format) is still read,
without its pickled schema; its segments' pickles are read with newsearch's
classes looked up by name, wherever they live now.  The next commit writes the
table of contents in this format.
"""

from __future__ import annotations

import json
import pickle
from collections import defaultdict
from time import time
from typing import Any

from whoosh.codec.whoosh3 import W3Segment
from whoosh.index import TOC

__all__ = ["TocError", "read_toc", "toc_filename", "write_toc"]

CONTENTS_VERSION = 1
_WHOOSH_TOC_VERSION = -111  # Whoosh 2.7's format, with pickles


class TocError(ValueError):
    """A table of contents that this version cannot read (a later format, or garbled)."""


def toc_filename(indexname: str, generation: int) -> str:
    return f"_{indexname}_{generation}.toc"


def write_toc(storage: Any, indexname: str, generation: int, segments: list[Any]) -> None:
    """Write the table of contents of ``generation``: a temporary file renamed into
    place, so a reader sees the previous table or this one, never a part."""
    data = {
        "contents": CONTENTS_VERSION,
        "generation": generation,
        "segments": [_as_dict(segment) for segment in segments],
    }
    name = toc_filename(indexname, generation)
    temporary = f"{name}.{time()}"
    stream = storage.create_file(temporary)
    try:
        stream.write(json.dumps(data, separators=(",", ":")).encode("ascii"))
    finally:
        stream.close()
    storage.rename_file(temporary, name, safe=True)


def read_toc(storage: Any, indexname: str, schema: Any, codec: Any, generation: int | None = None) -> Any:
    """The table of contents of ``generation`` (by default the latest) as Whoosh's
    ``TOC``, its segments read with ``codec``.

    Raises Whoosh's ``EmptyIndexError`` when there is none, :class:`TocError`
    when it cannot be read."""
    if generation is None:
        generation = TOC._latest_generation(storage, indexname)  # noqa: SLF001 - Whoosh's own file-name scan
        if generation < 0:
            from whoosh.index import EmptyIndexError

            raise EmptyIndexError(f"Index {indexname!r} does not exist in {storage!r}")
    stream = storage.open_file(toc_filename(indexname, generation))
    try:
        data = stream.read()
    finally:
        stream.close()
    if data[:1] == b"{":
        segments = _segments(data, indexname, codec)
    else:
        segments = _whoosh_segments(storage, indexname, generation, codec)
    return TOC(schema, segments, generation)


def _as_dict(segment: Any) -> dict[str, Any]:
    """What the table of contents records of a segment."""
    return {
        "id": segment.segid,
        "documents": segment.doc_count_all(),
        "deleted": sorted(segment.deleted_docs()),
        "lengths": dict(getattr(segment, "_fieldlengths", None) or {}),  # total length per scored field
        "compound": bool(segment.is_compound()),
    }


def _segments(data: bytes, indexname: str, codec: Any) -> list[Any]:
    try:
        contents = json.loads(data)
        if contents.get("contents") != CONTENTS_VERSION:
            found = contents.get("contents")
            raise TocError(f"it is of format {found!r}; this version reads format {CONTENTS_VERSION}")
        return [_from_dict(entry, indexname, codec) for entry in contents["segments"]]
    except KeyError as exc:
        raise TocError(f"an entry lacks {exc}") from None
    except (ValueError, TypeError, AttributeError) as exc:
        raise TocError(f"{exc}") from None


def _from_dict(entry: dict[str, Any], indexname: str, codec: Any) -> Any:
    """A segment from what :func:`_as_dict` recorded, read with ``codec``."""
    deleted = {int(d) for d in entry["deleted"]}
    segment = W3Segment(codec, indexname, int(entry["documents"]), str(entry["id"]), deleted or None)
    segment.compound = bool(entry["compound"])
    segment._fieldlengths = defaultdict(int, {str(k): int(v) for k, v in entry["lengths"].items()})  # noqa: SLF001
    return segment


def _whoosh_segments(storage: Any, indexname: str, generation: int, codec: Any) -> list[Any]:
    """The segments of a table of contents in Whoosh 2.7's format: a header, the
    pickled schema (not read: the schema comes from code), the generation, and a
    pickled list of segments, rebuilt here as plain segments on ``codec``."""
    stream = storage.open_file(toc_filename(indexname, generation))
    try:
        for _ in range(3):  # the sizes of int, long and float
            stream.read_varint()
        if stream.read_int() != -12345 or stream.read_int() != _WHOOSH_TOC_VERSION:
            raise TocError("it is in no format this version reads")
        for _ in range(3):  # Whoosh's release
            stream.read_varint()
        stream.skip_string()
        stream.read_int()  # the generation, as in the file name
        stream.read_int()  # unused
        pickled = _SegmentUnpickler(stream.file).load()
    except TocError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated or garbled: the caller reports it
        raise TocError(f"{type(exc).__name__}: {exc}") from None
    finally:
        stream.close()
    return [_from_dict(_as_dict(segment), indexname, codec) for segment in pickled]


class _SegmentUnpickler(pickle.Unpickler):
    """Reads Whoosh's pickled segments, whatever module newsearch's codec lived in
    when they were written: a newsearch class is only a placeholder here (each
    segment is rebuilt on the codec of the index's format version)."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "newsearch" or module.startswith("newsearch."):
            return _Placeholder
        return super().find_class(module, name)


class _Placeholder:
    """Stands in for a pickled newsearch object (its state is kept and not used)."""
