"""newsearch's Whoosh codec: Whoosh 2.7's own format, with the reader overheads removed.

Segments written with :class:`NewsCodec` carry it in the index's table of
contents, so they are read back through it too.  The file format is exactly
Whoosh's ``W3Codec``; only in-memory behaviour differs.
"""

from __future__ import annotations

from typing import Any

from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader, W3PerDocWriter

__all__ = ["NewsCodec"]


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
    """Whoosh's W3 codec with :class:`_PerDocReader` and :class:`_PerDocWriter`."""

    def per_document_reader(self, storage: Any, segment: Any) -> _PerDocReader:
        return _PerDocReader(storage, segment)

    def per_document_writer(self, storage: Any, segment: Any) -> _PerDocWriter:
        return _PerDocWriter(self, storage, segment)
