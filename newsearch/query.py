"""Query text → a small syntax tree, without touching the index (no Whoosh here).

Syntax (AND is the default between terms)::

    客服 机器人              both words
    客服 OR 机器人           either
    客服 -机器人             NOT: also ``NOT 机器人``
    "智能 客服"              a phrase: the words next to each other
    (a OR b) c              grouping
    title:晓多 tags:声援岳昕 category:emnews body:客服
    date:2021-12  date:[2021-12-01 TO 2021-12-31]  date:[2021-12-01 TO]

Chinese field names (``标题:`` ``正文:`` ``标签:`` ``分类:`` ``日期:``) and the
full-width colon work too.  A query that cannot be parsed (an unbalanced
quote or parenthesis...) is searched as plain keywords instead of failing.

:func:`parse` builds the tree without touching the index, so ``--explain``
can show it; :mod:`newsearch.compiler` turns it into Whoosh queries.
:func:`needle_pattern` is the single definition of "contains": searching and
highlighting both use it, so a highlight is always exactly a match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from .analysis import GAP_CHAR, PAIR_GAP, WORD_CHAR, bigrams, normalize, signed_numbers, units
from .dates import parse_bound
from .errors import InvalidArgumentError, QuerySyntaxError
from .fields import BODY, CATEGORIES, DATE, KEYWORD_FIELDS, KEYWORDS, TAGS, TITLE
from .synonyms import NO_SYNONYMS, Synonyms

__all__ = [
    "And",
    "DateRange",
    "Needle",
    "Node",
    "Not",
    "Or",
    "ParsedQuery",
    "Text",
    "needle_pattern",
    "parse",
]

# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Text:
    """Words that must appear (as a phrase when quoted or written without spaces)."""

    text: str
    field: str | None = None
    quoted: bool = False

    def to_query(self) -> str:
        """This node written back as query text."""
        prefix = f"{self.field}:" if self.field else ""
        return f'{prefix}"{self.text}"' if self.quoted else f"{prefix}{self.text}"

    def explain(self) -> str:
        prefix = f"{self.field}:" if self.field else ""
        if self.field in KEYWORD_FIELDS:
            return f"{prefix}{self.text}"
        needle = Needle.of(self)
        if needle is None:
            return f"{prefix}∅"
        if needle.literal is None:
            return f'{prefix}"{" ".join(needle.units)}"'
        return f"{prefix}{needle.literal}"


@dataclass(frozen=True)
class DateRange:
    """Articles dated between two instants (either end may be open)."""

    start: datetime | None
    end: datetime | None

    def explain(self) -> str:
        s = self.start.isoformat(timespec="seconds") if self.start else "*"
        e = self.end.isoformat(timespec="seconds") if self.end else "*"
        return f"date:[{s} TO {e}]"


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]

    def explain(self) -> str:
        return "(" + " AND ".join(i.explain() for i in self.items) + ")"


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]

    def explain(self) -> str:
        return "(" + " OR ".join(i.explain() for i in self.items) + ")"


@dataclass(frozen=True)
class Not:
    item: Node

    def explain(self) -> str:
        return f"NOT {self.item.explain()}"


Node = Text | DateRange | And | Or | Not


@dataclass(frozen=True)
class ParsedQuery:
    """A parsed query: the tree (None for an empty query) and how it was read."""

    text: str
    node: Node | None
    fallback_reason: str | None = None
    operators: bool = False
    """Whether the query uses the query language (quotes, AND/OR/NOT, -, parentheses,
    fields, dates) rather than only words: such a query is searched exactly as written."""

    def explain(self) -> str:
        if self.node is not None:
            tree = self.node.explain()
        else:  # compile_query: Every for an empty query, nothing for one of operators only
            tree = "(nothing)" if self.text.strip() else "(all articles)"
        if self.fallback_reason:
            return f"{tree}  [read as plain keywords: {self.fallback_reason}]"
        return tree

    def highlight_patterns(self, synonyms: Synonyms = NO_SYNONYMS) -> list[re.Pattern[str]]:
        """Regular expressions that find, in normalized text, exactly what the query matched."""
        patterns: dict[str, re.Pattern[str]] = {}
        for node in _positive_texts(self.node):
            for needle in Needle.alternatives(node, synonyms):
                pattern = needle.pattern()
                patterns.setdefault(pattern.pattern, pattern)
        return list(patterns.values())


@dataclass(frozen=True)
class Needle:
    """One string to find: its match units, and the exact text when it was not quoted.

    An unquoted term must occur exactly as typed (after normalization); a quoted
    phrase may have spaces or punctuation between its units.
    """

    units: tuple[str, ...]
    literal: str | None
    key: str = field(default="", compare=False)
    """The normalized string as synonyms are looked up (phrases keep single spaces)."""

    @classmethod
    def of(cls, node: Text, text: str | None = None) -> Needle | None:
        norm = normalize(node.text if text is None else text)
        found = tuple(units(norm))
        if not found:
            return None
        if node.quoted or re.search(r"\s", norm.strip()):
            return cls(found, None, " ".join(norm.split()))
        literal = _EDGE_PUNCT.sub("", norm)
        return cls(found, literal, literal)

    @classmethod
    def alternatives(cls, node: Text, synonyms: Synonyms) -> list[Needle]:
        """The needle of ``node`` followed by those of its synonyms."""
        first = cls.of(node)
        if first is None:
            return []
        out = [first]
        key = first.key or "".join(first.units)
        others = synonyms.expand(key)[1:] or synonyms.expand(key.replace(" ", ""))[1:]
        for alt in others:
            needle = cls.of(node, alt)
            if needle is not None and needle not in out:
                out.append(needle)
        return out

    @property
    def pairs(self) -> set[str]:
        """Indexed pairs of adjacent characters the text must hold (unquoted terms only:
        a phrase may have punctuation between any two of its units)."""
        return bigrams(self.literal) if self.literal is not None else set()

    @property
    def signed(self) -> set[str]:
        """Indexed numbers with their sign (``14%``, ``¥100``) the text must hold
        (unquoted terms only: a phrase may separate a number from its sign)."""
        return signed_numbers(self.literal) if self.literal is not None else set()

    @property
    def phrase_pairs(self) -> list[tuple[str, str]]:
        """Neighbouring characters of a phrase (which the text may separate)."""
        if self.literal is not None:
            return []
        found = [(a, b) for a, b in zip(self.units, self.units[1:]) if bigrams(a + b)]
        return list(dict.fromkeys(found))

    @property
    def gap_terms(self) -> tuple[str, ...]:
        """For a phrase of single CJK characters: the gapped-pair terms of its
        neighbours.  An article holding none of them can only contain the phrase
        with nothing between its characters, so counting that plain string is exact.
        Empty when that shortcut does not apply."""
        if self.literal is not None or len(self.units) < 2:
            return ()
        if not all(len(u) == 1 and u.isalnum() for u in self.units):
            return ()
        pairs = list(zip(self.units, self.units[1:]))
        if not all(bigrams(a + b) for a, b in pairs):
            return ()
        return tuple(dict.fromkeys(a + PAIR_GAP + b for a, b in pairs))

    @property
    def exact_by_units(self) -> bool:
        """True when holding the candidate terms already means containing the string:
        one unit, or two characters whose pair is indexed."""
        if self.literal is None:
            return False
        return (len(self.units) == 1 and self.literal == self.units[0]) or (
            len(self.literal) == 2 and self.literal in self.pairs
        )

    def pattern(self) -> re.Pattern[str]:
        return needle_pattern(list(self.units), phrase=self.literal is None, literal=self.literal)


# Between the units of a quoted phrase, the text may hold spaces or punctuation; between
# two word units (``iphone`` and ``13``) there must be at least one such character,
# or the text would hold one longer word instead.
_PHRASE_GAP = r"[\W_]{0,8}?"
_WORD_GAP = r"[\W_]{1,8}?"
_STARTS_WORD = re.compile(WORD_CHAR)


def needle_pattern(units: list[str], *, phrase: bool, literal: str | None = None) -> re.Pattern[str]:
    """The regular expression that finds a query string in normalized text.

    ``literal`` (an unquoted term, normalized) must occur exactly; a
    ``phrase`` only needs its units in order with at most some spaces or
    punctuation between them.  Letters and digits at either end must not
    continue a longer word or number: ``ai`` matches ``AI客服`` but not
    ``said``.
    """
    if phrase or literal is None:
        parts = [re.escape(units[0])]
        for before, unit in zip(units, units[1:]):
            both_words = _STARTS_WORD.match(before) and _STARTS_WORD.match(unit)
            parts += [_WORD_GAP if both_words else _PHRASE_GAP, re.escape(unit)]
        body = "".join(parts)
        first, last = units[0][0], units[-1][-1]
    else:
        body = re.escape(literal)
        first, last = literal[0], literal[-1]
    if _STARTS_WORD.match(first):
        body = f"(?<!{WORD_CHAR})" + body
        if first.isdigit():  # nor the fraction of a decimal: 65 is not in 1.65
            body = r"(?<!\d\.)" + body
    if _STARTS_WORD.match(last):
        body += f"(?!{WORD_CHAR})"
        if last.isdigit():  # nor its whole part: 1 is not in 1.65
            body += r"(?!\.\d)"
    return re.compile(body)


_EDGE_PUNCT = re.compile(f"^{GAP_CHAR}+|{GAP_CHAR}+$")


def _positive_texts(node: Node | None, negated: bool = False) -> Iterable[Text]:
    if node is None:
        return
    if isinstance(node, Text):
        if not negated and node.field in (None, TITLE, BODY):
            yield node
    elif isinstance(node, (And, Or)):
        for item in node.items:
            yield from _positive_texts(item, negated)
    elif isinstance(node, Not):
        yield from _positive_texts(node.item, not negated)


# --------------------------------------------------------------------------- lexer

FIELD_ALIASES = {
    "title": TITLE,
    "标题": TITLE,
    "body": BODY,
    "text": BODY,
    "正文": BODY,
    "tag": TAGS,
    "tags": TAGS,
    "标签": TAGS,
    "category": CATEGORIES,
    "categories": CATEGORIES,
    "分类": CATEGORIES,
    "keyword": KEYWORDS,
    "keywords": KEYWORDS,
    "关键词": KEYWORDS,
    "date": DATE,
    "日期": DATE,
}
_QUOTES = {'"': '"', "“": "”", "”": "”", "「": "」", "『": "』"}
_SPACE = " \t\r\n\f\v\u3000\u00a0"
_FIELD_RE = re.compile(r"^(" + "|".join(map(re.escape, FIELD_ALIASES)) + r")[:：]", re.IGNORECASE)


@dataclass(frozen=True)
class _Tok:
    kind: str  # WORD PHRASE LPAREN RPAREN OR AND NOT MINUS FIELD RANGE
    value: str = ""


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
            continue
        if ch == "(":
            toks.append(_Tok("LPAREN"))
            i += 1
            continue
        if ch == ")":
            toks.append(_Tok("RPAREN"))
            i += 1
            continue
        if ch in _QUOTES:
            close = _QUOTES[ch]
            j = text.find(close, i + 1)
            if j < 0:
                raise QuerySyntaxError(text, "a quote is not closed")
            toks.append(_Tok("PHRASE", text[i + 1 : j]))
            i = j + 1
            continue
        # a bare word: up to whitespace, a parenthesis or a quote
        j = i
        while j < n and text[j] not in _SPACE and text[j] not in "()" and text[j] not in _QUOTES:
            j += 1
        word = text[i:j]
        i = j
        if word in ("OR", "|", "||"):
            toks.append(_Tok("OR"))
        elif word in ("AND", "&", "&&", "+"):
            toks.append(_Tok("AND"))
        elif word == "NOT":
            toks.append(_Tok("NOT"))
        elif word.startswith("-") and (not toks or toks[-1].kind != "FIELD"):
            if len(word) == 1 and (i >= n or text[i] not in _QUOTES and text[i] != "("):
                raise QuerySyntaxError(text, "a '-' must be written right before what it excludes")
            toks.append(_Tok("MINUS"))
            i -= len(word) - 1  # lex the rest again: it may be a field, a phrase or a group
        else:
            m = _FIELD_RE.match(word)
            if m:
                toks.append(_Tok("FIELD", FIELD_ALIASES[m.group(1).lower()]))
                rest = word[m.end() :]
                if rest.startswith("["):
                    bracket = text.find("]", i - len(rest))
                    if bracket < 0:
                        raise QuerySyntaxError(text, "a date range '[' is not closed with ']'")
                    toks.append(_Tok("RANGE", text[i - len(rest) + 1 : bracket]))
                    i = bracket + 1
                elif rest:
                    i -= len(rest)  # lex the value on its own (a word, a phrase)
            else:
                toks.append(_Tok("WORD", word.lstrip("+") or word))
    return toks


# --------------------------------------------------------------------------- parser


MAX_TERMS = 64
"""Search terms one query may hold; a longer list is refused (quote a passage instead)."""
MAX_NESTING = 32
"""Parentheses and NOTs nested deeper than this are read as plain keywords."""


class _Parser:
    def __init__(self, text: str, toks: list[_Tok]) -> None:
        self.text = text
        self.toks = toks
        self.i = 0
        self.depth = 0

    def _nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(f"parentheses or NOTs nested deeper than {MAX_NESTING}")

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, reason: str) -> QuerySyntaxError:
        return QuerySyntaxError(self.text, reason)

    def parse(self) -> Node | None:
        if not self.toks:
            return None
        node = self.or_expr()
        if self.peek() is not None:
            raise self.fail("a ')' has no matching '('")
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.unary()]
        while (tok := self.peek()) is not None and tok.kind not in ("OR", "RPAREN"):
            if tok.kind == "AND":
                self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.fail("the query ends where a term was expected")
        if tok.kind in ("NOT", "MINUS"):
            self.take()
            self._nest()
            node = Not(self.unary())
            self.depth -= 1
            return node
        return self.primary(None)

    def primary(self, field: str | None) -> Node:
        if self.peek() is None:
            raise self.fail("the query ends where a term was expected")
        tok = self.take()
        if tok.kind == "LPAREN":
            if (nxt := self.peek()) is not None and nxt.kind == "RPAREN":
                raise self.fail("empty parentheses")
            self._nest()
            node = self.or_expr() if field is None else self._field_group(field)
            self.depth -= 1
            closing = self.peek()
            if closing is None or closing.kind != "RPAREN":
                raise self.fail("a '(' is not closed")
            self.take()
            return node
        if tok.kind == "FIELD":
            if field is not None:
                raise self.fail("a field prefix inside another field")
            return self.primary(tok.value) if tok.value != DATE or self._next_is_value() else self._date(tok)
        if tok.kind == "RANGE":
            if field != DATE:
                raise self.fail("a '[... TO ...]' range works only with date:")
            return _date_range_node(self.text, tok.value)
        if tok.kind in ("WORD", "PHRASE"):
            if field == DATE:
                return _date_value_node(self.text, tok.value)
            return Text(tok.value, field, quoted=tok.kind == "PHRASE")
        raise self.fail(f"unexpected {tok.kind}")

    def _next_is_value(self) -> bool:
        nxt = self.peek()
        return nxt is not None and nxt.kind in ("WORD", "PHRASE", "RANGE", "LPAREN")

    def _date(self, tok: _Tok) -> Node:
        raise self.fail("date: needs a value such as 2021-12 or [2021-12-01 TO 2021-12-31]")

    def _field_group(self, field: str) -> Node:
        """``title:(a OR b)``: every term inside takes the field."""
        node = self.or_expr()
        return _with_field(self.text, node, field)


def _with_field(text: str, node: Node, field: str) -> Node:
    if isinstance(node, Text):
        if node.field:
            raise QuerySyntaxError(text, "a field prefix inside another field")
        if field == DATE:
            return _date_value_node(text, node.text)
        return Text(node.text, field, node.quoted)
    if isinstance(node, And):
        return And(tuple(_with_field(text, i, field) for i in node.items))
    if isinstance(node, Or):
        return Or(tuple(_with_field(text, i, field) for i in node.items))
    if isinstance(node, Not):
        return Not(_with_field(text, node.item, field))
    return node


def _date_value_node(text: str, value: str) -> DateRange:
    try:
        return DateRange(parse_bound(value), parse_bound(value, end=True))
    except ValueError as exc:
        raise QuerySyntaxError(text, f"date:{value} — {exc}") from None


def _date_range_node(text: str, inner: str) -> DateRange:
    parts = re.split(r"\s+TO\s+|\s+TO$|^TO\s+|^TO$", inner.strip(), flags=re.IGNORECASE)
    if len(parts) != 2:
        raise QuerySyntaxError(text, "a date range is written [START TO END]")
    start_text, end_text = (p.strip() for p in parts)
    try:
        start = parse_bound(start_text) if start_text not in ("", "*") else None
        end = parse_bound(end_text, end=True) if end_text not in ("", "*") else None
    except ValueError as exc:
        raise QuerySyntaxError(text, str(exc)) from None
    return DateRange(start, end)


_KEYWORD_SPLIT_RE = re.compile(r"[\s()\"“”「」『』\[\]]+")


def _keywords(text: str) -> Node | None:
    """The fallback reading: every word of the query, ANDed, operators ignored."""
    words = [w for w in _KEYWORD_SPLIT_RE.split(text) if w and w not in ("AND", "OR", "NOT")]
    words = [_FIELD_RE.sub("", w.lstrip("-+")).lstrip("-+") for w in words]  # no field names
    words = [w for w in words if w]
    if not words:
        return None
    items = tuple(Text(w) for w in words)
    return items[0] if len(items) == 1 else And(items)


def parse(text: str) -> ParsedQuery:
    """Parse query text; on a syntax error, read it as plain keywords instead."""
    text = text or ""
    try:
        toks = _lex(text)
        parsed = ParsedQuery(text, _Parser(text, toks).parse(), operators=any(tok.kind != "WORD" for tok in toks))
    except QuerySyntaxError as exc:
        parsed = ParsedQuery(text, _keywords(text), fallback_reason=exc.reason)
    terms = _count_terms(parsed.node)
    if terms > MAX_TERMS:
        raise InvalidArgumentError(
            "QUERY", f"it has {terms:,} terms; newsearch searches at most {MAX_TERMS} at once. "
            'Put a passage in quotes to search for it as one phrase.'
        )
    return parsed


def _count_terms(node: Node | None) -> int:
    if node is None:
        return 0
    if isinstance(node, (And, Or)):
        return sum(_count_terms(item) for item in node.items)
    if isinstance(node, Not):
        return _count_terms(node.item)
    return 1
