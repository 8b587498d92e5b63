"""Article fields → the Whoosh schema, and the conversion of an Article into a document.

``SCHEMA_VERSION`` changes whenever the fields or the analysis change in a way
that makes an existing index unreadable or wrong; an index written with a
different version must be rebuilt.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from whoosh import columns, fields

from .analysis import word_analyzer
from .documents import Article

__all__ = [
    "ANALYZER_ID",
    "SCHEMA_VERSION",
    "article_document",
    "build_schema",
    "fingerprint",
    "stored_to_article",
]

SCHEMA_VERSION = 1
ANALYZER_ID = "jieba-search+nfkc-lower/1"

# Field names, one place.
ID = "id"
PATH = "path"
URL = "url"
TITLE = "title"
BODY = "body"
DATE = "date"
UTCOFFSET = "utcoffset"
CATEGORIES = "categories"
TAGS = "tags"
CONTENT_HASH = "content_hash"
EXTRA = "extra"
SOURCE = "source"  # column: "size:mtime_ns:hash" of the file an article came from

TEXT_FIELDS = (TITLE, BODY)
KEYWORD_FIELDS = (CATEGORIES, TAGS)


def build_schema() -> fields.Schema:
    """The Whoosh schema of a newsearch index."""
    analyzer = word_analyzer()
    return fields.Schema(
        **{
            ID: fields.ID(stored=True, unique=True, sortable=True),
            PATH: fields.ID(stored=True, sortable=True),
            URL: fields.STORED(),
            TITLE: fields.TEXT(analyzer=analyzer, stored=True, phrase=True),
            BODY: fields.TEXT(analyzer=analyzer, stored=True, phrase=True),
            # Undated articles get 0 (year 1) in the sort column, so newest-first puts them last.
            DATE: fields.DATETIME(stored=True, sortable=columns.NumericColumn("Q", default=0)),
            UTCOFFSET: fields.STORED(),
            CATEGORIES: fields.KEYWORD(stored=True, commas=True, scorable=False),
            TAGS: fields.KEYWORD(stored=True, commas=True, scorable=False),
            CONTENT_HASH: fields.STORED(),
            EXTRA: fields.STORED(),
            SOURCE: fields.COLUMN(columns.VarBytesColumn()),
        }
    )


def fingerprint(size: int, mtime_ns: int, digest: str) -> bytes:
    """What identifies one version of a source file without reading it again."""
    return f"{size}:{mtime_ns}:{digest}".encode("ascii")


def article_document(article: Article, source: bytes) -> dict[str, Any]:
    """The keyword arguments of ``writer.add_document`` for one article."""
    doc: dict[str, Any] = {
        ID: article.id,
        PATH: article.path,
        TITLE: article.title,
        BODY: article.body,
        CATEGORIES: ",".join(article.categories),
        f"_stored_{CATEGORIES}": list(article.categories),
        TAGS: ",".join(article.tags),
        f"_stored_{TAGS}": list(article.tags),
        CONTENT_HASH: article.content_hash,
        SOURCE: source,
    }
    if article.url:
        doc[URL] = article.url
    if article.date is not None:
        doc[DATE] = article.date
    if article.utcoffset_minutes is not None:
        doc[UTCOFFSET] = article.utcoffset_minutes
    if article.extra:
        doc[EXTRA] = json.dumps(article.extra, ensure_ascii=False)
    return doc


def stored_to_article(stored: dict[str, Any]) -> Article:
    """Rebuild an Article from a document's stored fields."""
    date = stored.get(DATE)
    extra = stored.get(EXTRA)
    return Article(
        id=stored[ID],
        title=stored.get(TITLE, ""),
        body=stored.get(BODY, ""),
        path=stored.get(PATH, ""),
        date=date if isinstance(date, datetime) else None,
        categories=tuple(stored.get(CATEGORIES) or ()),
        tags=tuple(stored.get(TAGS) or ()),
        url=stored.get(URL),
        content_hash=stored.get(CONTENT_HASH, ""),
        utcoffset_minutes=stored.get(UTCOFFSET),
        extra=json.loads(extra) if extra else {},
    )
