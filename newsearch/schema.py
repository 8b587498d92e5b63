"""Article fields → the Whoosh schema, and the conversion of an Article into a document.

``SCHEMA_VERSION`` changes whenever the fields or the analysis change in a way
that makes an existing index unreadable or wrong; an index written with a
different version must be rebuilt.
"""

from __future__ import annotations

import json
from array import array
from datetime import datetime
from itertools import accumulate, repeat
from operator import add
from typing import Any

from whoosh import columns, fields, formats

from .analysis import JiebaTokenizer, bigrams, gapped_bigrams, normalize, units, word_analyzer, word_weights
from .documents import Article
from .dupes import SKETCH_BYTES, band_terms, sketch
from .keywords import choose as choose_keywords

__all__ = [
    "ANALYZER_ID",
    "SCHEMA_VERSION",
    "article_document",
    "body_diff",
    "build_schema",
    "fingerprint",
    "fingerprint_digest",
    "restore_body",
    "same_stat",
    "stored_to_article",
]

SCHEMA_VERSION = 11
ANALYZER_ID = "jieba-search-weighted+units+bigrams+gapped+nfkc-lower-t2s/7"

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
UNITS = "units"  # which match units (CJK characters, Latin/number words) the title or body holds
TUNITS = "tunits"  # the same for the title alone (title: queries, and title matches rank higher)
NTITLE = "ntitle"  # column: normalized title, UTF-8, for exact matching and highlighting
NBODY = "nbody"  # column: normalized body, UTF-8
BODY_DIFF = "bodydiff"  # stored: how the original body differs from NBODY (see body_diff)
DUP_SKETCH = "dupsketch"  # column: the MinHash sketch of the body (newsearch.dupes)
DUP_BANDS = "dupbands"  # the sketch's band terms: candidates for near-duplicates
KEYWORDS = "keywords"  # the article's keywords (newsearch.keywords), stored and searchable
KEYWORD_FIELDS = (TAGS, CATEGORIES, KEYWORDS)  # matched as whole values, not as text


class WordWeights(formats.Format):  # type: ignore[misc]
    """Per posting only a weight: the summed boosts of the word's occurrences (a
    sub-word counts half).  No frequency or position bytes: ranking needs the
    weight, and exact matching does not use the word fields."""

    posting_size = 0

    def __init__(self, field_boost: float = 1.0, **options: Any) -> None:
        self.field_boost = field_boost
        self.options = options

    def word_values(self, value: str, analyzer: Any, **kwargs: Any) -> Any:
        weights: dict[str, float] = {}
        counts: dict[str, int] = {}
        for token in analyzer(value, boosts=True, mode="index"):
            weights[token.text] = weights.get(token.text, 0.0) + token.boost
            counts[token.text] = counts.get(token.text, 0) + 1
        fb = self.field_boost
        return ((word, counts[word], weight * fb, b"") for word, weight in weights.items())

    def decode_weight(self, valuestring: bytes) -> float:
        return self.field_boost


class WordsField(fields.TEXT):  # type: ignore[misc]
    """The jieba words of a title or body, weighted (see :class:`WordWeights`)."""

    def __init__(self, analyzer: JiebaTokenizer, *, stored: bool) -> None:
        super().__init__(analyzer=analyzer, stored=stored, phrase=False)
        self.format = WordWeights()

    def postings(self, value: str) -> tuple[list[str], list[float], int]:
        """What ``index`` yields, as (terms, weights, field length), in a few C-level steps."""
        weights, length = word_weights(value, user_dicts=self.analyzer.user_dicts)
        return list(weights), list(weights.values()), length


class UnitsField(fields.FieldType):  # type: ignore[misc]
    """Which match units a document holds, and which pairs of adjacent CJK
    characters (no counts, no positions): the candidate index for exact string
    matching.  A pair term has two CJK characters, so it never collides with a
    unit (one character, or a word of letters and digits)."""

    def __init__(self) -> None:
        self.format = formats.Existence()
        self.analyzer = None
        self.scorable = False
        self.stored = False
        self.unique = False
        self.vector = None
        self.column_type = None
        self.field_boost = 1.0

    def terms(self, value: str) -> set[str]:
        return set(units(value)) | bigrams(value) | gapped_bigrams(value)

    def index(self, value: str, **kwargs: Any) -> Any:
        for term in self.terms(value):
            yield term.encode("utf-8"), 1, 1.0, b""

    def postings(self, value: str) -> tuple[list[str], None, int]:
        """What ``index`` yields, as (terms, no weights: all are 1, no length)."""
        return list(self.terms(value)), None, 0

    def process_text(self, qstring: str, mode: str = "", **kwargs: Any) -> Any:
        return iter(units(normalize(qstring)))


class BandsField(UnitsField):
    """The band terms of a near-duplicate sketch (the field's value is the sketch)."""

    term_filter = True  # its terms are looked up in every segment, and mostly missing

    def terms(self, value: bytes) -> set[str]:  # type: ignore[override]
        return set(band_terms(value))

    def process_text(self, qstring: str, mode: str = "", **kwargs: Any) -> Any:
        return iter(())


def _keyword_field() -> fields.KEYWORD:
    field = fields.KEYWORD(stored=True, commas=True, scorable=False)
    field.format = formats.Existence()  # filters only: no per-posting frequency bytes
    return field


def build_schema(user_dicts: tuple[str, ...] = ()) -> fields.Schema:
    """The Whoosh schema of a newsearch index."""
    analyzer = word_analyzer(user_dicts)
    return fields.Schema(
        **{
            ID: fields.ID(stored=True, unique=True, sortable=True),
            PATH: fields.ID(stored=True, sortable=True),
            URL: fields.STORED(),
            TITLE: WordsField(analyzer, stored=True),
            BODY: WordsField(analyzer, stored=False),  # the text lives in NBODY + BODY_DIFF
            BODY_DIFF: fields.STORED(),
            UNITS: UnitsField(),
            TUNITS: UnitsField(),
            NTITLE: fields.COLUMN(columns.VarBytesColumn()),
            NBODY: fields.COLUMN(columns.VarBytesColumn()),
            # Undated articles get 0 (year 1) in the sort column, so newest-first puts them last.
            DATE: fields.DATETIME(stored=True, sortable=columns.NumericColumn("Q", default=0)),
            UTCOFFSET: fields.STORED(),
            CATEGORIES: _keyword_field(),
            TAGS: _keyword_field(),
            KEYWORDS: _keyword_field(),
            CONTENT_HASH: fields.STORED(),
            EXTRA: fields.STORED(),
            SOURCE: fields.COLUMN(columns.VarBytesColumn()),
            DUP_SKETCH: fields.COLUMN(columns.FixedBytesColumn(SKETCH_BYTES, default=b"\xff" * SKETCH_BYTES)),
            DUP_BANDS: BandsField(),
        }
    )


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
    dup_sketch = sketch(nbody or ntitle)  # the body: a new title does not make a new story
    doc[DUP_SKETCH] = dup_sketch
    doc[DUP_BANDS] = dup_sketch
    keywords = choose_keywords(article.title, article.body, user_dicts)
    doc[KEYWORDS] = ",".join(k.replace(",", " ") for k in keywords)
    doc[f"_stored_{KEYWORDS}"] = keywords
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
