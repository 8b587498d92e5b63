"""The fields of an indexed article: their names, and an Article as the values of
those fields and back.

Everything that reads or writes the index names its fields through the
constants here.  :mod:`newsearch.schema` gives each field its Whoosh type;
this module needs no Whoosh.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from datetime import datetime
from itertools import accumulate, repeat
from operator import add
from typing import Any

from .analysis import normalize
from .documents import Article
from .dupes import reword_sketch, sketch
from .keywords import as_written
from .keywords import choose as choose_keywords

__all__ = [
    "BODY",
    "BODY_DIFF",
    "CATEGORIES",
    "CONTENT_HASH",
    "DATE",
    "DUP_SKETCH",
    "DUP_WORDS",
    "EXTRA",
    "ID",
    "IDKEY",
    "KEYWORDS",
    "KEYWORD_FIELDS",
    "NBODY",
    "NTITLE",
    "PATH",
    "SOURCE",
    "TAGS",
    "TITLE",
    "TUNITS",
    "UNITS",
    "URL",
    "UTCOFFSET",
    "article_document",
    "body_diff",
    "fingerprint",
    "fingerprint_digest",
    "id_key",
    "restore_body",
    "same_stat",
    "shard_of",
    "stored_to_article",
]

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
UNITS = "units"  # which match units (CJK characters, Latin/number words) the title or body holds
TUNITS = "tunits"  # the same for the title alone (title: queries, and title matches rank higher)
NTITLE = "ntitle"  # column: normalized title, UTF-8, for exact matching and highlighting
NBODY = "nbody"  # column: normalized body, UTF-8
BODY_DIFF = "bodydiff"  # stored: how the original body differs from NBODY (see body_diff)
DUP_SKETCH = "dupsketch"  # column: the MinHash sketch of the body, with its bands indexed (newsearch.sketchcolumn)
DUP_WORDS = "dupwords"  # column: the MinHash sketch of a short item's words (empty for a longer article)
KEYWORDS = "keywords"  # the article's keywords (newsearch.keywords), stored and searchable
KEYWORD_FIELDS = (TAGS, CATEGORIES, KEYWORDS)  # matched as whole values, not as text
IDKEY = "idkey"  # column: id_key(id), the order among equal scores and the shard of a cluster


def id_key(article_id: str) -> int:
    """64 bits of an article id's hash, never 0.  Equal scores (and equal dates) are
    ordered by it, lowest first: the same order whatever the index's segments, or the
    shards of a cluster, and the shard an article belongs to (:func:`shard_of`)."""
    data = article_id.encode("utf-8", "surrogateescape")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") or 1


def shard_of(article_id: str, shards: int) -> int:
    """The shard, of ``shards``, that an article belongs to: its id's hash decides, so
    any client and any worker agree without asking each other."""
    return id_key(article_id) % shards


def fingerprint(size: int, mtime_ns: int, digest: str) -> bytes:
    """What identifies one version of a source file without reading it again."""
    return f"{size}:{mtime_ns}:{digest}".encode("ascii")


def same_stat(source: bytes, size: int, mtime_ns: int) -> bool:
    """True when a file's size and mtime are those its fingerprint recorded."""
    return source.rsplit(b":", 1)[0] == f"{size}:{mtime_ns}".encode("ascii")


def fingerprint_digest(source: bytes) -> str:
    """The content hash a fingerprint recorded."""
    return source.rsplit(b":", 1)[1].decode("ascii")


def article_document(article: Article, source: bytes, user_dicts: tuple[str, ...] = ()) -> dict[str, Any]:
    """The keyword arguments of ``writer.add_document`` for one article (``user_dicts``:
    the schema's, so that its keywords are the words the body is indexed with)."""
    ntitle = normalize(article.title)
    nbody = normalize(article.body)
    doc: dict[str, Any] = {
        ID: article.id,
        IDKEY: id_key(article.id),
        PATH: article.path,
        TITLE: article.title,
        BODY: article.body,
        UNITS: ntitle + "\n" + nbody,
        TUNITS: ntitle,
        NTITLE: ntitle.encode("utf-8"),
        NBODY: nbody.encode("utf-8"),
        BODY_DIFF: body_diff(article.body, nbody),
        CATEGORIES: ",".join(article.categories),
        f"_stored_{CATEGORIES}": list(article.categories),
        TAGS: ",".join(article.tags),
        f"_stored_{TAGS}": list(article.tags),
        CONTENT_HASH: article.content_hash,
        SOURCE: source,
    }
    doc[DUP_SKETCH] = sketch(nbody or ntitle)  # the body: a new title does not make a new story
    words = reword_sketch(ntitle + "\n" + nbody)
    if words:  # a short item: its words are grouped too
        doc[DUP_WORDS] = words
    keywords = choose_keywords(article.title, article.body, user_dicts)
    doc[KEYWORDS] = ",".join(k.replace(",", " ") for k in keywords)
    doc[f"_stored_{KEYWORDS}"] = as_written(keywords, article.title, article.body)  # shown as the article writes them
    if article.url:
        doc[URL] = article.url
    if article.date is not None:
        doc[DATE] = article.date
    if article.utcoffset_minutes is not None:
        doc[UTCOFFSET] = article.utcoffset_minutes
    if article.extra:
        doc[EXTRA] = json.dumps(article.extra, ensure_ascii=False)
    return doc


def body_diff(body: str, nbody: str) -> Any:
    """What turns the normalized body back into the original: None when they are equal,
    else {character: positions as delta-coded array bytes}, or the original itself
    when most of it differs (traditional script).

    Normalization maps each character on its own, so the characters that change are
    the few distinct ones that normalization changes (full-width punctuation,
    capitals...), found with C-level searches rather than a loop over the text.
    As normalization is idempotent, they are the body's characters that the
    normalized body lacks.
    """
    if body == nbody:
        return None
    diff: dict[str, bytes] = {}
    changed = 0
    for char in set(body).difference(nbody):
        # The text between occurrences gives their positions' deltas: each is the
        # length of the text before it, plus 1 for the character before that.
        gaps = array("I", map(len, body.split(char)))
        del gaps[-1]
        changed += len(gaps)
        if changed * 3 > len(body):
            return body
        deltas = array("I", gaps[:1])
        deltas.extend(map(add, gaps[1:], repeat(1)))
        diff[char] = deltas.tobytes()
    return diff


def restore_body(nbody: str, diff: Any) -> str:
    """The original body from its normalized form and :func:`body_diff`."""
    if diff is None:
        return nbody
    if isinstance(diff, str):
        return diff
    chars = list(nbody)
    for char, data in diff.items():
        deltas = array("I")
        deltas.frombytes(data)
        for position in accumulate(deltas):
            chars[position] = char
    return "".join(chars)


def stored_to_article(stored: dict[str, Any], nbody: str) -> Article:
    """Rebuild an Article from a document's stored fields and its normalized body."""
    date = stored.get(DATE)
    extra = stored.get(EXTRA)
    return Article(
        id=stored[ID],
        title=stored.get(TITLE, ""),
        body=restore_body(nbody, stored.get(BODY_DIFF)),
        path=stored.get(PATH, ""),
        date=date if isinstance(date, datetime) else None,
        categories=tuple(stored.get(CATEGORIES) or ()),
        tags=tuple(stored.get(TAGS) or ()),
        url=stored.get(URL),
        content_hash=stored.get(CONTENT_HASH, ""),
        utcoffset_minutes=stored.get(UTCOFFSET),
        extra=json.loads(extra) if extra else {},
        keywords=tuple(stored.get(KEYWORDS) or ()),
    )
