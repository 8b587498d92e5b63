"""A plain query → what it asks for: its terms as typed, and the words that carry them.

A plain query is words and nothing else (no quotes, ``AND``, ``OR``, ``NOT``, ``-``,
parentheses, field or date; a query that cannot be parsed is read as plain
words): what people type into a search box.  Such a query is searched for its
meaning as well as its letters (:mod:`newsearch.ranking`):

* each term is segmented into words the way jieba cuts a query (no sub-words),
  so an unspaced question or a compound becomes the words it is made of:
  ``台风怎样形成`` asks for 台风 and 形成, ``新能源汽车`` for 新能源 and 汽车;
* function and question words (``怎样``, ``为什么``, ``的``, ``吗``...) are left out
  of those words: they say how something is asked, not what about;
* the terms as typed stay what an exact match must contain.

Any other query is searched exactly as written, and so is every query with
``exact=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .analysis import dictionary_parts, normalize, query_words, signed_numbers, word_lookup
from .query import And, ParsedQuery, Text

__all__ = ["STOPWORDS", "Concept", "Plan", "Unit", "plan"]

STOPWORDS = frozenset(
    # particles, conjunctions and prepositions
    "的 地 得 之 了 着 过 吗 嘛 呢 吧 啊 呀 哦 么 和 与 及 以及 或 或者 而 并 且 而且 但 但是 "
    "是 在 有 被 把 对 于 从 向 给 让 由 为 因为 所以 如果 就 也 都 还 又 才 再 很 更 最 已 已经 "
    # question words and their companions
    "怎 怎么 怎样 怎么样 如何 为什么 为何 为啥 什么 啥 哪 哪里 哪儿 哪些 哪个 谁 几 多少 多久 "
    "是否 是不是 有没有 能否 能不能 可否 可不可以 会不会 要不要 怎么办 到底 究竟 "
    "可以 能 会 要 应该 应当 该 想 还会 还能 还要 还有 "
    # pronouns and demonstratives
    "我 你 您 他 她 它 我们 你们 他们 她们 它们 咱们 自己 这 那 这个 那个 这些 那些 这样 那样 此 其 "
    "这件 那件 这次 那次 此次 这种 那种 这里 那里 这么 那么 其中 "
    # words of time that place a statement, not a topic
    "以来 目前 此前 一直 "
    # light verbs and measure words that carry no topic
    "一个 一些 一下 一种 个 些 种 样 做 弄 搞 用 到 去 来".split()
)
"""Words that say how a question is asked, not what it is about: left out when a
query is matched by its words, never when a term is matched as typed."""


@dataclass(frozen=True)
class Concept:
    """A word a query asks for.

    ``parts``: the dictionary words it is made of (网络安全: 网络, 安全), which match
    it in full where they stand close together (网络的安全).  ``subwords``: the
    dictionary words inside it (锂电池: 锂电, 电池), which match it in part when
    too few articles hold it whole."""

    text: str
    parts: tuple[str, ...] = ()
    subwords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unit:
    """One term of a plain query as typed (normalized), and the words that carry it."""

    text: str
    concepts: tuple[Concept, ...]

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(concept.text for concept in self.concepts)

    @property
    def whole(self) -> bool:
        """Whether the term is one word (matching the word is matching the term)."""
        return self.words == (self.text,)


@dataclass(frozen=True)
class Plan:
    """What a plain query asks for: its terms, and the distinct words of all of them."""

    units: tuple[Unit, ...]

    @property
    def concepts(self) -> tuple[Concept, ...]:
        return tuple({c.text: c for unit in self.units for c in unit.concepts}.values())


def plan(parsed: ParsedQuery, user_dicts: tuple[str, ...] = ()) -> Plan | None:
    """The plan of a plain query, or None for any other (searched exactly as written)."""
    node = parsed.node
    items = node.items if isinstance(node, And) else (node,)
    if node is None or parsed.operators or not all(_plain(item) for item in items):
        return None
    units = tuple(_unit(item.text, user_dicts) for item in items if isinstance(item, Text))
    units = tuple(unit for unit in units if unit.text)
    return Plan(units) if units else None


def _plain(node: object) -> bool:
    """A term searched by its words too: not quoted, in no field, and holding no number
    written with its sign (``14%``, ``¥100``), which asks for exactly that figure, not
    for the articles that mention the bare number."""
    return isinstance(node, Text) and node.field is None and not node.quoted and not signed_numbers(normalize(node.text))


def _unit(typed: str, user_dicts: tuple[str, ...]) -> Unit:
    text = normalize(typed).strip()
    if len(text) <= 2 and text.isalnum() and not any(c in STOPWORDS for c in (text, *text)):
        # One word whichever way it is cut (two characters in a row stay together, as
        # below), with no dictionary word inside: no need to load the dictionary.
        return Unit(text, (Concept(text, (), ()),))
    pieces: list[str] = []  # content words in order; "" where a stop word stood
    for word in query_words(text, user_dicts=user_dicts):
        if word in STOPWORDS:
            pieces.append("")
        elif len(word) == 1 and pieces and len(pieces[-1]) == 1 and word.isalnum():
            pieces[-1] += word  # characters in a row are a name or term the dictionary lacks (碳九)
        else:
            pieces.append(word)
    words = list(dict.fromkeys(piece for piece in pieces if piece))
    # A character on its own (生 of 生孩子, 死 of 死了) says little and is in nearly every article.
    words = [w for w in words if len(w) > 1] or words or [text]
    is_word = word_lookup(user_dicts)
    return Unit(text, tuple(Concept(w, dictionary_parts(w, user_dicts), _subwords(w, is_word)) for w in words))


def _subwords(word: str, is_word: Callable[[str], bool]) -> tuple[str, ...]:
    """The longest dictionary words of two characters or more inside ``word``."""
    if len(word) < 3 or not _is_cjk(word):
        return ()
    found = {word[i:j] for i in range(len(word)) for j in range(i + 2, len(word) + 1) if j - i < len(word) and is_word(word[i:j])}
    return tuple(sorted((w for w in found if not any(w != o and w in o for o in found)), key=word.index))


def _is_cjk(text: str) -> bool:
    return all("\u3400" <= c <= "\u9fff" for c in text)
