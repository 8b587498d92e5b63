"""The Whoosh schema of an index: a Whoosh field type for each field of
:mod:`newsearch.fields`, built in code.

``SCHEMA_VERSION`` (the index's format version, recorded in its manifest)
changes whenever the fields or the analysis change in a way that makes an
existing index unreadable or wrong; an index written with a different version
must be rebuilt.  Nothing here is pickled into an index (see
:mod:`newsearch.toc`), so these classes may move or change name freely.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh import columns, fields, formats
from whoosh.analysis import Token, Tokenizer

from .analysis import SUBWORD_WEIGHT, bigrams, gapped_bigrams, normalize, segment_words, signed_numbers, units, word_weights
from .dupes import SKETCH_BYTES
from .sketchcolumn import SketchColumn
from .textcolumn import TextColumn
from .fields import (
    BODY,
    BODY_DIFF,
    CATEGORIES,
    CONTENT_HASH,
    DATE,
    DUP_SKETCH,
    DUP_WORDS,
    EXTRA,
    ID,
    IDKEY,
    KEYWORDS,
    NBODY,
    NTITLE,
    PATH,
    SOURCE,
    TAGS,
    TITLE,
    TUNITS,
    UNITS,
    URL,
    UTCOFFSET,
)

__all__ = ["ANALYZER_ID", "SCHEMA_VERSION", "JiebaTokenizer", "build_schema"]

SCHEMA_VERSION = 16  # 15: one sorted key per near-duplicate band; 16: the id key column (a fixed order among ties)
ANALYZER_ID = "jieba-search-weighted+units+bigrams+gapped+signed+nfkc-lower-t2s/8"


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
        return set(units(value)) | bigrams(value) | gapped_bigrams(value) | signed_numbers(value)

    def index(self, value: str, **kwargs: Any) -> Any:
        for term in self.terms(value):
            yield term.encode("utf-8"), 1, 1.0, b""

    def postings(self, value: str) -> tuple[list[str], None, int]:
        """What ``index`` yields, as (terms, no weights: all are 1, no length)."""
        return list(self.terms(value)), None, 0

    def process_text(self, qstring: str, mode: str = "", **kwargs: Any) -> Any:
        return iter(units(normalize(qstring)))


def _keyword_field() -> fields.KEYWORD:
    field = fields.KEYWORD(stored=True, commas=True, scorable=False)
    field.format = formats.Existence()  # filters only: no per-posting frequency bytes
    return field


def build_schema(user_dicts: tuple[str, ...] = ()) -> fields.Schema:
    """The Whoosh schema of a newsearch index."""
    analyzer = JiebaTokenizer(search=True, user_dicts=user_dicts)
    return fields.Schema(
        **{
            ID: fields.ID(stored=True, unique=True, sortable=True),
            IDKEY: fields.COLUMN(columns.NumericColumn("Q", default=0)),
            PATH: fields.ID(stored=True, sortable=True),
            URL: fields.STORED(),
            TITLE: WordsField(analyzer, stored=True),
            BODY: WordsField(analyzer, stored=False),  # the text lives in NBODY + BODY_DIFF
            BODY_DIFF: fields.STORED(),
            UNITS: UnitsField(),
            TUNITS: UnitsField(),
            NTITLE: fields.COLUMN(columns.VarBytesColumn()),
            # Compressed, each document alone (see textcolumn): half the size, ~20 µs to read one.
            # Titles stay plain: at ~40 bytes each, compressing them saves little and costs every read.
            NBODY: fields.COLUMN(TextColumn()),
            # Undated articles get 0 (year 1) in the sort column, so newest-first puts them last.
            DATE: fields.DATETIME(stored=True, sortable=columns.NumericColumn("Q", default=0)),
            UTCOFFSET: fields.STORED(),
            CATEGORIES: _keyword_field(),
            TAGS: _keyword_field(),
            KEYWORDS: _keyword_field(),
            CONTENT_HASH: fields.STORED(),
            EXTRA: fields.STORED(),
            SOURCE: fields.COLUMN(columns.VarBytesColumn()),
            # The sketches, and their bands indexed: near-duplicates looked up (see sketchcolumn).
            DUP_SKETCH: fields.COLUMN(SketchColumn(SKETCH_BYTES)),
            # Added after the format's first indexes: their segments lack it, and read the default.
            DUP_WORDS: fields.COLUMN(columns.FixedBytesColumn(SKETCH_BYTES, default=b"\xff" * SKETCH_BYTES)),
        }
    )


class JiebaTokenizer(Tokenizer):  # type: ignore[misc]
    """A Whoosh tokenizer over :func:`~newsearch.analysis.segment_words` that honours
    Whoosh's tokenizer contract (the word fields' analyzer).

    Sub-words get ``SUBWORD_WEIGHT`` as their boost, so an article where a word stands
    on its own ranks above one where it only appears inside a longer word.
    """

    def __init__(self, search: bool = True, user_dicts: tuple[str, ...] = ()) -> None:
        self.search = search
        self.user_dicts = tuple(user_dicts)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and other.search == self.search
            and other.user_dicts == self.user_dicts
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.search, self.user_dicts))

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = normalize(value)
            token.boost = 1.0
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar = start_char
                token.endchar = start_char + len(value)
            yield token
            return
        search = self.search and mode != "query"
        for term, pos, start, end, sub in segment_words(value, search, self.user_dicts):
            token.text = term
            # Sub-words come before the word they are part of, at the same position.
            token.boost = SUBWORD_WEIGHT if sub else 1.0
            token.stopped = False
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token
