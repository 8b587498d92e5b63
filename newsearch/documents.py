"""The :class:`Article`: one news item as newsearch understands it.

Everything downstream (analysis, the index, search results) starts from an
``Article``; nothing here knows about files, Whoosh or jieba.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import Any

__all__ = ["Article", "content_hash", "id_from_path"]


@dataclass(frozen=True)
class Article:
    """A parsed news article: front matter fields plus the body as clean text.

    ``body`` keeps paragraph breaks as blank lines so that snippets can follow
    them.  ``date`` is naive local time as written in the source; when the
    source gave a UTC offset it is kept in ``utcoffset_minutes`` so the date
    can be printed back exactly.
    """

    id: str
    title: str
    body: str
    path: str
    date: datetime | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    url: str | None = None
    content_hash: str = ""
    utcoffset_minutes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    keywords: tuple[str, ...] = ()
    """Chosen at index time (``newsearch.keywords``); empty for an article parsed from a file."""

    def date_iso(self) -> str | None:
        """The date in ISO 8601, with the source's UTC offset when it had one."""
        return iso_date(self.date, self.utcoffset_minutes)

    def to_dict(self) -> dict[str, Any]:
        """The article as JSON-ready data (``newsearch show --json``, the HTTP API)."""
        return {
            "id": self.id,
            "title": self.title,
            "date": self.date_iso(),
            "categories": list(self.categories),
            "tags": list(self.tags),
            "keywords": list(self.keywords),
            "path": self.path,
            "url": self.url,
            "content_hash": self.content_hash,
            "extra": self.extra,
            "body": self.body,
        }


def iso_date(value: datetime | None, utcoffset_minutes: int | None) -> str | None:
    """Format a naive local datetime and an optional UTC offset as ISO 8601."""
    if value is None:
        return None
    text = value.isoformat(timespec="seconds")
    if utcoffset_minutes is not None:
        sign = "+" if utcoffset_minutes >= 0 else "-"
        hours, minutes = divmod(abs(utcoffset_minutes), 60)
        text += f"{sign}{hours:02d}:{minutes:02d}"
    return text


def content_hash(data: bytes) -> str:
    """A short, stable fingerprint of a file's or a record's bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def id_from_path(path: str | PurePath) -> str:
    """The article id derived from a source file: its name without extension.

    Jekyll and Hugo already keep post file names unique (``2021-12-08-slug``),
    and such an id is stable across runs and readable on the command line.
    Hugo page bundles (``post/slug/index.md``) take the folder's name.
    """
    p = PurePath(path)
    stem = p.stem
    if stem.lower() in {"index", "_index"} and p.parent.name:
        stem = p.parent.name
    return unicodedata.normalize("NFC", stem.strip())
