"""Article text + what the query matched → a :class:`~newsearch.results.Snippet`.

Matches are found by running the query's patterns over the *normalized*
stored text.  Normalization maps one character to one character, so the
offsets found there are exact offsets in the original text: no re-segmenting
of the article at query time, and no highlight shifted onto a neighbour.
Passages end at Chinese sentence boundaries (。！？；) where they can.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import replace

from .analysis import normalize
from .config import SnippetConfig
from .results import Passage, Snippet

__all__ = ["find_spans", "make_snippet"]

Span = tuple[int, int]

_SENTENCE_RE = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;]+[”’」』）)】\"']*|\n+|$)")
_CLAUSE_BREAKS = "，、,：:　 "


def find_spans(text: str, patterns: Sequence[re.Pattern[str]], *, normalized: str | None = None) -> list[Span]:
    """Character ranges of ``text`` matched by any pattern, merged where they overlap."""
    if not patterns or not text:
        return []
    norm = normalized if normalized is not None else normalize(text)
    spans = sorted(
        (m.start(), m.end()) for p in patterns for m in p.finditer(norm) if m.end() > m.start()
    )
    merged: list[Span] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _sentences(text: str) -> list[Span]:
    out: list[Span] = []
    for m in _SENTENCE_RE.finditer(text):
        start, end = m.start(), m.end()
        # trim surrounding whitespace so passages start and end on text
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            out.append((start, end))
    return out


def _safe_boundary(text: str, i: int, step: int = -1) -> int:
    """Move a cut point (left, or right with ``step=1``) so it never splits a character
    from its combining marks, or an emoji from the zero-width joiner that ties it to the one before."""
    while 0 < i < len(text) and (
        unicodedata.combining(text[i])
        or text[i] in "\u200d\ufe0e\ufe0f"
        or "\U0001f3fb" <= text[i] <= "\U0001f3ff"
        or text[i - 1] == "\u200d"
    ):
        i += step
    return i


def _window(text: str, start: int, end: int, focus: Span, width: int) -> Span:
    """A window of at most ``width`` chars inside [start, end) that contains ``focus``,
    starting at a clause break before the match when one is near."""
    if end - start <= width:
        return start, end
    lead = max(0, (width - (focus[1] - focus[0])) // 4)
    ws = max(start, focus[0] - lead)
    # prefer starting just after a clause break within the lead-in
    for i in range(focus[0] - 1, max(ws, focus[0] - lead) - 1, -1):
        if text[i] in _CLAUSE_BREAKS:
            ws = i + 1
            break
    we = min(end, ws + width)
    if we < focus[1]:
        we = focus[1]
    # the start moves right, the end left: the window never grows past ``width``
    return min(_safe_boundary(text, ws, 1), focus[0]), _safe_boundary(text, we)


def _passage(text: str, ws: int, we: int, spans: Sequence[Span], sentence: Span) -> Passage:
    while ws < we and text[ws].isspace():
        ws += 1
    while we > ws and text[we - 1].isspace():
        we -= 1
    inside = tuple(
        (max(s, ws) - ws, min(e, we) - ws) for s, e in spans if s < we and e > ws
    )
    return Passage(
        text=text[ws:we],
        highlights=inside,
        start=ws,
        truncated_left=ws > sentence[0],
        truncated_right=we < sentence[1],
    )


def make_snippet(
    text: str,
    patterns: Sequence[re.Pattern[str]],
    config: SnippetConfig,
    *,
    normalized: str | None = None,
) -> Snippet:
    """The best passages of ``text`` for the query patterns, with exact highlights.

    Sentences are ranked by how many different query parts they contain, then
    by how many matches; the chosen ones are shown in reading order.  Without
    any match (a title-only hit), the snippet is the article's lead.
    """
    if not text:
        return Snippet()
    width = config.passage_chars
    spans = find_spans(text, patterns, normalized=normalized)
    sentences = _sentences(text)
    if not sentences:
        return Snippet()
    if not spans:
        start, end = sentences[0]
        stop = end
        for s, e in sentences[1:]:
            if e - start > width:
                break
            stop = e
        ws, we = _window(text, start, stop, (start, start), width)
        return Snippet((_passage(text, ws, we, (), (start, stop)),))

    norm = normalized if normalized is not None else normalize(text)
    scored: list[tuple[int, int, int, int]] = []  # (-distinct, -count, index, first span index)
    span_i = 0
    for index, (s, e) in enumerate(sentences):
        while span_i < len(spans) and spans[span_i][1] <= s:
            span_i += 1
        j = span_i
        inside: list[Span] = []
        while j < len(spans) and spans[j][0] < e:
            inside.append(spans[j])
            j += 1
        if inside:
            distinct = len({norm[a:b] for a, b in inside})
            scored.append((-distinct, -len(inside), index, span_i))
    chosen = []
    shown: set[str] = set()
    for item in sorted(scored):  # a sentence the source repeats is shown once
        s, e = sentences[item[2]]
        if text[s:e] not in shown:
            shown.add(text[s:e])
            chosen.append(item)
            if len(chosen) == config.max_passages:
                break
    chosen.sort(key=lambda item: item[2])

    passages: list[Passage] = []
    for _, _, index, first in chosen:
        s, e = sentences[index]
        focus = spans[first]
        focus = (max(focus[0], s), min(focus[1], e)) if focus[0] < e else (s, s)
        ws, we = _window(text, s, e, focus, width)
        passage = _passage(text, ws, we, spans, (s, e))
        if passages and passages[-1].start + len(passages[-1].text) >= passage.start - 1:
            prev = passages[-1]
            if (passage.start + len(passage.text)) - prev.start <= width:
                merged = _passage(text, prev.start, passage.start + len(passage.text), spans, (prev.start, e))
                passages[-1] = replace(merged, truncated_left=prev.truncated_left)
                continue
        passages.append(passage)
    return Snippet(tuple(passages))
