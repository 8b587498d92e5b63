"""Source files → :class:`~newsearch.documents.Article` objects.

Reads Jekyll/Hugo posts (``.md``, ``.markdown``, ``.html``, ``.htm``,
``.txt``) with or without front matter, and ``.jsonl`` files holding one
article object per line.  Bodies in Markdown are rendered to HTML first, then
HTML is reduced to clean text with paragraph breaks.  Nothing here touches the
index: a file that cannot be parsed raises :class:`IngestError` naming it.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from .dates import date_from_filename, parse_article_date
from .documents import Article, content_hash, id_from_path
from .errors import IngestError

__all__ = [
    "POST_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "FeedScan",
    "ParsedFile",
    "file_digest",
    "html_to_text",
    "iter_feed",
    "iter_feed_lines",
    "iter_source_files",
    "parse_bytes",
    "read_bytes",
    "read_file",
    "sample_feed",
    "scan_feed",
]

POST_SUFFIXES = frozenset({".md", ".markdown", ".html", ".htm", ".txt"})
SUPPORTED_SUFFIXES = POST_SUFFIXES | {".jsonl"}
_HTML_SUFFIXES = frozenset({".html", ".htm"})
_SKIP_DIRS = frozenset({"_site", "_layouts", "_includes", "_sass", "_data", "node_modules", "__pycache__"})
_SKIP_STEMS = frozenset({"README", "LICENSE", "LICENCE", "CHANGELOG", "CONTRIBUTING"})

# Front-matter keys with a meaning of their own; everything else goes to Article.extra.
_TITLE_KEYS = ("title",)
_CATEGORY_KEYS = ("categories", "category")
_TAG_KEYS = ("tags", "tag")
_URL_KEYS = ("url", "link", "source_url", "source")
_KNOWN_KEYS = frozenset({"id", "title", "date", "body", *_CATEGORY_KEYS, *_TAG_KEYS, *_URL_KEYS})


@dataclass
class ParsedFile:
    """What one source file yielded: its articles, the lines that failed, and warnings."""

    path: str
    articles: list[Article] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    elsewhere: int = 0
    """Articles that :func:`parse_bytes` was told to leave (``keep``), a post's unrendered."""


# --------------------------------------------------------------------------- walking


def iter_source_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Yield every supported file under ``paths`` (files are taken as given), sorted.

    Inside folders, hidden entries (``.git``), site-generator machinery
    (``_site``, ``_layouts``, ``_includes``...) and project files (README,
    LICENSE, CHANGELOG) are skipped.  A path that does not exist raises
    :class:`IngestError`.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            yield path
            continue
        if not path.exists():
            raise IngestError(path, "no such file or directory")
        if not path.is_dir():
            raise IngestError(path, "not a regular file or directory")
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
            for name in sorted(filenames):
                if name.startswith(".") or name.split(".")[0].upper() in _SKIP_STEMS:
                    continue
                if os.path.splitext(name)[1].lower() in SUPPORTED_SUFFIXES:
                    yield Path(dirpath, name)


# --------------------------------------------------------------------------- decoding


def decode(data: bytes, path: str | Path) -> tuple[str, str, list[str]]:
    """Decode a file's bytes: UTF-8 (with or without BOM), UTF-16 with BOM, GB18030/GBK or Big5.

    Returns (text, encoding name, warnings).  Bytes that fit no encoding are
    replaced and a warning says so, so the article is not lost.
    """
    if not data.strip():
        raise IngestError(path, "empty file")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16").replace("\r\n", "\n").replace("\r", "\n"), "utf-16", []
        except UnicodeDecodeError as exc:
            raise IngestError(path, f"bad UTF-16 text ({exc.reason})") from None
    if b"\x00" in data[:8192]:
        raise IngestError(path, "binary file (contains NUL bytes), not text")
    warnings: list[str] = []
    try:
        text, encoding = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        found = _chinese_legacy_encoding(data)
        if found is not None:
            text, encoding = found
            warnings.append(f"not UTF-8: decoded as {_ENCODING_NAMES[encoding]}")
        else:
            text, encoding = data.decode("utf-8", errors="replace"), "utf-8"
            warnings.append(f"invalid UTF-8 at byte {utf8_error.start}; undecodable bytes replaced with U+FFFD")
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding, warnings


_ENCODING_NAMES = {"gb18030": "GB18030 (GBK)", "big5": "Big5"}
_DOUBLE_BYTE = re.compile(rb"[\x81-\xfe][\x40-\xfe]")


def _chinese_legacy_encoding(data: bytes) -> tuple[str, str] | None:
    """(text, "gb18030" or "big5") for bytes in one of the legacy Chinese encodings.

    Most Big5 byte pairs are valid GBK too, so decoding without error proves
    little.  Simplified Chinese text in GB18030 keeps nearly every character
    in GB2312, where both bytes are 0xA1 or above; Big5 puts a second byte
    below 0xA1 in about a third of its common characters (臺 is BB 4F).  So
    bytes with more than 5% of such pairs are read as Big5 when they decode
    as Big5.  A text of a few characters that all fit both is read as GB18030.
    """
    pairs = _DOUBLE_BYTE.findall(data)
    outside_gb2312 = sum(1 for pair in pairs if pair[0] < 0xA1 or pair[1] < 0xA1)
    order = ("gb18030", "big5") if outside_gb2312 <= 0.05 * len(pairs) else ("big5", "gb18030")
    for encoding in order:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return None


# --------------------------------------------------------------------------- front matter

_FM_YAML_RE = re.compile(r"\A\s*---[ \t]*\r?\n(.*?)(?:\r?\n)?^(?:---|\.\.\.)[ \t]*$\r?\n?", re.S | re.M)
_FM_TOML_RE = re.compile(r"\A\s*\+\+\+[ \t]*\r?\n(.*?)(?:\r?\n)?^\+\+\+[ \t]*$\r?\n?", re.S | re.M)
_LOOSE_KEY_RE = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$")


def split_front_matter(text: str, path: str | Path) -> tuple[dict[str, Any] | None, str, list[str]]:
    """Split ``---`` YAML (or ``+++`` TOML) front matter from the body.

    Returns (metadata or None, body, warnings).  Front matter that is not
    valid YAML is read line by line (``key: value``) with a warning rather
    than losing the article.
    """
    m = _FM_YAML_RE.match(text)
    if m:
        raw = m.group(1)
        body = text[m.end():]
        try:
            meta = _yaml_load(raw)
        except _FrontMatterTooBig as exc:
            return _loose_front_matter(raw), body, [f"front matter is too big to read as YAML ({exc}); read it line by line"]
        except Exception as exc:  # yaml.YAMLError and friends: any malformed YAML
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return _loose_front_matter(raw), body, [f"front matter is not valid YAML ({reason}); read it line by line"]
        if meta is None:
            return {}, body, []
        if not isinstance(meta, dict):
            raise IngestError(path, f"front matter is a {type(meta).__name__}, not a set of 'key: value' lines")
        return {str(k): v for k, v in meta.items()}, body, []
    m = _FM_TOML_RE.match(text)
    if m:
        try:
            meta = tomllib.loads(m.group(1))
        except tomllib.TOMLDecodeError as exc:
            raise IngestError(path, f"front matter is not valid TOML ({exc})") from None
        except RecursionError:
            raise IngestError(path, "front matter is not valid TOML (nested too deeply)") from None
        return meta, text[m.end():], []
    if re.match(r"\A\s*---[ \t]*\r?\n", text):
        raise IngestError(path, "front matter starts with '---' but has no closing '---' line")
    if re.match(r"\A\s*\+\+\+[ \t]*\r?\n", text):
        raise IngestError(path, "front matter starts with '+++' but has no closing '+++' line")
    return None, text, []


@lru_cache(maxsize=1)
def _yaml_loader() -> Any:
    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        """Safe loading; a timestamp naming an impossible date (2021-13-45) stays a string."""

    def timestamp(loader: Any, node: Any) -> Any:
        try:
            return loader.construct_yaml_timestamp(node)
        except ValueError:
            return loader.construct_scalar(node)

    Loader.add_constructor("tag:yaml.org,2002:timestamp", timestamp)
    return Loader


# Front matter is a few dozen values.  YAML aliases let a few hundred bytes name
# billions (an alias of a list of aliases of lists...): the composed node graph is
# walked, aliases counted each time they are used, before anything is built.
MAX_FRONT_MATTER_VALUES = 50_000
MAX_FRONT_MATTER_DEPTH = 64
MAX_EXTRA_BYTES = 64_000
"""What an article keeps of its other front matter keys (or JSONL fields), as JSON."""


class _FrontMatterTooBig(ValueError):
    pass


def _yaml_load(raw: str) -> Any:
    loader = _yaml_loader()(raw)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_yaml_size(root: Any) -> None:
    import yaml

    count = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_FRONT_MATTER_VALUES:
            raise _FrontMatterTooBig(f"it expands to more than {MAX_FRONT_MATTER_VALUES:,} values (YAML aliases)")
        if depth > MAX_FRONT_MATTER_DEPTH:
            raise _FrontMatterTooBig(f"it nests deeper than {MAX_FRONT_MATTER_DEPTH} levels")
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))


def _loose_front_matter(raw: str) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    last_key: str | None = None
    for line in raw.splitlines():
        item = re.match(r"^\s*-\s+(.*?)\s*$", line)
        if item and last_key is not None:
            current = meta.get(last_key)
            values = current if isinstance(current, list) else ([] if current in (None, "") else [current])
            values.append(_unquote(item.group(1)))
            meta[last_key] = values
            continue
        m = _LOOSE_KEY_RE.match(line.replace("\t", " ").strip())
        if m:
            last_key = m.group(1)
            flow = re.fullmatch(r"\[(.*)\]", m.group(2))
            meta[last_key] = [_unquote(v) for v in flow.group(1).split(",") if v.strip()] if flow else _unquote(m.group(2))
    return meta


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value.lstrip("\"'")


def _as_terms(value: Any) -> tuple[str, ...]:
    """Categories or tags as the corpora write them: a string, space-separated words, or a list."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple, set)):
        parts: list[Any] = []
        for item in value:
            parts.extend(_as_terms(item) if isinstance(item, (list, tuple, set)) else [item])
    else:
        parts = re.split(r"[\s,，、]+", str(value))
    out: list[str] = []
    for part in parts:
        if part is None:
            continue
        term = unicodedata.normalize("NFC", str(part).replace(",", " ").strip())
        if term and term not in out:
            out.append(term)
    return tuple(out)


def _first(meta: dict[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        if key in meta and meta[key] not in (None, ""):
            return meta[key]
    return None


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and re.match(r"https?://", value.strip(), re.I) is not None


def _jsonable(value: Any, depth: int = 0) -> Any:
    if depth > MAX_FRONT_MATTER_DEPTH:
        raise _FrontMatterTooBig("nested too deeply")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v, depth + 1) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


@dataclass
class _Extra:
    kept: dict[str, Any] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)


def _kept_extra(items: Iterable[tuple[str, Any]]) -> _Extra:
    """The other keys as JSON-ready values, in order, while they fit in
    :data:`MAX_EXTRA_BYTES`; a key nested too deeply or that does not fit is dropped."""
    extra = _Extra()
    room = MAX_EXTRA_BYTES
    for key, value in items:
        try:
            kept = _jsonable(value)
            size = len(json.dumps({key: kept}, ensure_ascii=False).encode("utf-8"))
        except (_FrontMatterTooBig, RecursionError, ValueError):
            extra.dropped.append(key)
            continue
        if size > room:
            extra.dropped.append(key)
            continue
        extra.kept[key] = kept
        room -= size
    return extra


# --------------------------------------------------------------------------- body text

_BLOCK_TAGS = frozenset(
    "address article aside blockquote dd details dialog div dl dt fieldset figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tbody td tfoot th "
    "thead tr ul caption body html".split()
)
_DROP_TAGS = ("script", "style", "noscript", "template", "head", "title", "iframe", "svg", "object", "embed")
_CJK = "\u2e80-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_SOFT_BREAK_RE = re.compile(rf"(?<=[{_CJK}\u3000-\u303f\uff00-\uffef])[ \t]*\n[ \t]*(?=[{_CJK}\u3000-\u303f\uff00-\uffef])")
_SPACES_RE = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_PARA_MARK = "\u2029"  # PARAGRAPH SEPARATOR: never in source text after extraction


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def markdown_to_html(source: str) -> str:
    """Render Markdown (which may embed HTML blocks, as news posts often do) to HTML."""
    html: str = _markdown().render(source)
    return html


# What the inline tokens of a Markdown paragraph contribute to its text, as the
# rendered HTML would give it: breaks as the newlines of <br />\n and \n.
_INLINE_TEXT = {"text": None, "text_special": None, "code_inline": None, "softbreak": "\n", "hardbreak": "\n\n"}
_INLINE_SKIP = frozenset(
    "strong_open strong_close em_open em_close s_open s_close link_open link_close".split()
)


# Markdown that renders as its own text, paragraph by paragraph, once its backslash
# escapes are resolved: outside escapes, none of the characters of inline syntax or
# entities, no line that could open a block (heading, list, quote, table, setext
# underline, code), and no line with edge spaces (indented code, hard breaks).
_MARKDOWN_SYNTAX = re.compile(
    r"[*_\[\]<>\\`&~|\r\0]"
    r"|^(?:[#=+:-]|\d{1,9}[.)])"
    r"|^[ \t]+[^ \t\n]|[^ \t\n][ \t]+$",
    re.MULTILINE,
)
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash before ASCII punctuation
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")


def _plain_markdown(source: str) -> str | None:
    """The text of Markdown that is only paragraphs of text (news exported as plain
    text is), else None."""
    if "\\" in source:
        if _MARKDOWN_SYNTAX.search(_ESCAPE.sub("e", source)) is not None:
            return None
        source = _ESCAPE.sub(r"\1", source)
    elif _MARKDOWN_SYNTAX.search(source) is not None:
        return None
    cleaned = map(_clean_paragraph, _BLANK_LINES.split(source))
    return "\n\n".join(p for p in cleaned if p)


def markdown_text(source: str) -> str | None:
    """The text :func:`soup_to_text` gives for rendered Markdown, read straight from
    markdown-it's tokens (no HTML, no parse tree); None when the Markdown embeds
    HTML, which only a real HTML parser reads right."""
    plain = _plain_markdown(source)
    return plain if plain is not None else _markdown_token_text(source)


def _markdown_token_text(source: str) -> str | None:
    paragraphs: list[str] = []
    current: list[str] = []
    counters: list[int | None] = []  # per open list: the next item's number, None for bullets
    for token in _markdown().parse(source):
        kind = token.type
        if kind == "inline":
            for child in token.children or ():
                ckind = child.type
                if ckind in _INLINE_TEXT:
                    current.append(_INLINE_TEXT[ckind] or child.content)
                elif ckind == "image":
                    continue  # an <img>: its alt text is an attribute, not text
                elif ckind not in _INLINE_SKIP:
                    return None  # html_inline, or a token this reader does not know
            continue
        if kind in ("fence", "code_block"):
            paragraphs.append("".join(current))
            paragraphs.append(token.content)
            current = []
            continue
        if kind == "html_block":
            return None
        if token.hidden:
            continue  # the <p> a tight list leaves out
        # A block element opens or closes (or an <hr>): a paragraph boundary.
        paragraphs.append("".join(current))
        current = []
        if kind in ("bullet_list_open", "ordered_list_open"):
            start = token.attrs.get("start", 1) if kind == "ordered_list_open" else None
            counters.append(int(start) if start is not None else None)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            counters.pop()
        elif kind == "list_item_open":
            number = counters[-1] if counters else None
            if number is not None:
                counters[-1] = number + 1
            paragraphs.append(_DIRECTIVE + (_BULLET if number is None else f"{number}."))
        elif kind == "heading_open":
            paragraphs.append(_DIRECTIVE + _HEADING)
        elif kind in ("list_item_close", "heading_close"):
            paragraphs.append(_DIRECTIVE)
    paragraphs.append("".join(current))
    return _join_paragraphs(paragraphs)


# Headings and list items keep what shows them as such: between the paragraphs,
# a directive (this mark and what to put on the next paragraph that has text, or
# nothing to forget it) is turned into "【heading】", "• item" or "3. item".
_DIRECTIVE = "\ue000"
_HEADING = "H"
_BULLET = "•"
_BRACKETED = re.compile(r"\A[【\[〔［（(].*[】\]〕］）)]\Z", re.S)


def _join_paragraphs(paragraphs: Iterable[str]) -> str:
    out: list[str] = []
    pending = ""
    for raw in paragraphs:
        if raw.startswith(_DIRECTIVE):
            pending = raw[1:]
            continue
        text = _clean_paragraph(raw)
        if not text:
            continue
        if pending == _HEADING:
            text = text if _BRACKETED.match(text) else f"【{text}】"
        elif pending:
            text = f"{pending} {text}"
        pending = ""
        out.append(text)
    return "\n\n".join(out)


def _soup(html: str) -> Any:
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser")


# Emphasis marks left in text (Markdown inside HTML blocks, escaped, or in an HTML
# page) would read as the ``**word**`` highlights of piped search output.
_STRONG_RE = re.compile(r"\*{2,}")
_UNDERLINE_RE = re.compile(r"(?<![A-Za-z0-9_])__(?=[^_\s])(.+?)(?<=[^_\s])__(?![A-Za-z0-9_])")


def _clean_paragraph(text: str) -> str:
    text = _SOFT_BREAK_RE.sub("", text.replace("\u3000", " ").strip())
    if "**" in text:
        text = _STRONG_RE.sub("", text)
    if "__" in text:
        text = _UNDERLINE_RE.sub(r"\1", text)
    return _SPACES_RE.sub(" ", text).strip()


def soup_to_text(soup: Any) -> str:
    """Visible text of parsed HTML, one paragraph per block element, blank lines between.

    The tree is walked once with an explicit stack (deeply nested HTML needs no
    recursion), without changing it: inserting a marker before each block
    made BeautifulSoup look up the block's place among its siblings, which
    took minutes on a page of 25,000 paragraphs.
    """
    from bs4.element import NavigableString, Tag

    text_types = Tag.MAIN_CONTENT_STRING_TYPES  # what get_text() reads: no comments, no doctype
    parts: list[str] = []
    stack: list[Any] = [soup]
    numbers: dict[int, int] = {}  # id() of each <li> of an <ol> -> its number
    while stack:
        node = stack.pop()
        if node is _END_OF_BLOCK:
            parts.append(_PARA_MARK)
        elif node is _END_OF_ITEM:
            parts.append(_PARA_MARK + _DIRECTIVE + _PARA_MARK)
        elif isinstance(node, NavigableString):
            if type(node) in text_types:
                parts.append(str(node))
        elif node.name in _DROP_TAGS:
            continue
        elif node.name == "br":
            parts.append("\n")
        else:
            name = node.name
            if name in _BLOCK_TAGS:
                parts.append(_PARA_MARK)
                if name == "li" or name in _HEADINGS:
                    mark = _HEADING if name in _HEADINGS else (f"{numbers[id(node)]}." if id(node) in numbers else _BULLET)
                    parts.append(_DIRECTIVE + mark + _PARA_MARK)
                    stack.append(_END_OF_ITEM)
                stack.append(_END_OF_BLOCK)
                if name == "ol":
                    number = _ol_start(node)
                    for child in node.contents:
                        if isinstance(child, Tag) and child.name == "li":
                            numbers[id(child)] = number
                            number += 1
            stack.extend(reversed(node.contents))
    return _join_paragraphs("".join(parts).split(_PARA_MARK))


_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_END_OF_ITEM = object()


def _ol_start(node: Any) -> int:
    try:
        return int(node.get("start", 1))
    except (TypeError, ValueError):
        return 1


_END_OF_BLOCK = object()


def html_to_text(html: str) -> str:
    """Clean text of an HTML fragment or page, paragraphs separated by blank lines."""
    return soup_to_text(_soup(html))


# Lines at the end of a post that are not article text: the source link, empty
# links, and site navigation ("[返回首页](../)").
_AUTOLINK_LINE_RE = re.compile(r"^\s*<(https?://[^>\s]+)>\s*$", re.I)
_EMPTY_LINK_LINE_RE = re.compile(r"^\s*<\s*>\s*$")
_NAV_LINE_RE = re.compile(r"^\s*(?:\[[^\]\n]*\]\((?!https?:)[^)\s]*\)\s*[｜|·/]?\s*)+$", re.I)


def _strip_trailer(body: str) -> tuple[str, str | None]:
    """Remove trailing navigation and source-link lines; return (body, source url)."""
    lines = body.rstrip().splitlines()
    url: str | None = None
    while lines:
        last = lines[-1]
        link = _AUTOLINK_LINE_RE.match(last)
        if link:
            url = url or link.group(1)
        elif not (not last.strip() or _EMPTY_LINK_LINE_RE.match(last) or _NAV_LINE_RE.match(last)):
            break
        lines.pop()
    return "\n".join(lines), url


@dataclass(frozen=True)
class _Body:
    text: str
    title: str | None
    url: str | None


def render_body(source: str, *, is_html: bool, want_title: bool) -> _Body:
    """Body source (Markdown, HTML or plain text) → clean text, plus a title and source link if found.

    With ``want_title``, the title is the first ``<h1>`` (a Markdown ``# `` heading)
    or the page's ``<title>``; the heading used as the title is removed from the text.
    """
    url = None
    if not is_html:
        source, url = _strip_trailer(source)
        if not want_title:
            text = markdown_text(source)
            if text is not None:
                return _Body(text, None, url)
        html = markdown_to_html(source)
    else:
        html = source
    soup = _soup(html)
    title = None
    if is_html and url is None:
        canonical = soup.find("link", rel="canonical") or soup.find("meta", property="og:url")
        if canonical is not None:
            href = canonical.get("href") or canonical.get("content")
            if isinstance(href, str) and href.startswith(("http://", "https://")):
                url = href
    if want_title:
        h1 = soup.find("h1")
        if h1 is not None and h1.get_text(strip=True):
            title = _clean_paragraph(h1.get_text())
            h1.decompose()
        elif soup.title is not None and soup.title.get_text(strip=True):
            title = _clean_paragraph(soup.title.get_text())
        else:
            first, _, rest = source.strip().partition("\n")
            title = html_to_text(first if is_html else markdown_to_html(first)) or None
            if title:
                soup = _soup(rest if is_html else markdown_to_html(rest))
    return _Body(soup_to_text(soup), title, url)


# --------------------------------------------------------------------------- articles


def _build_article(
    meta: dict[str, Any],
    body_source: str,
    *,
    path: Path,
    default_id: str,
    digest: str,
    is_html: bool,
    warnings: list[str],
) -> Article:
    where = str(path)
    title_value = _first(meta, _TITLE_KEYS)
    title = _clean_paragraph(str(title_value)) if title_value is not None else ""
    body = render_body(body_source, is_html=is_html, want_title=not title)
    text = body.text
    title = title or body.title or ""
    if not title and not text:
        raise IngestError(where, "no title and no text")

    date_value = meta.get("date")
    try:
        moment, offset = parse_article_date(date_value)
    except ValueError as exc:
        fallback = "dated by the file name instead" if date_from_filename(path.name) else "left undated"
        warnings.append(f"{exc}; {fallback}")
        moment, offset = None, None
    if moment is None:
        moment = date_from_filename(path.name)

    url_value = _first(meta, _URL_KEYS)
    url = url_value.strip() if _is_url(url_value) else None
    extra = _kept_extra(
        (k, v) for k, v in meta.items() if k not in _KNOWN_KEYS or (k in _URL_KEYS and v not in (None, "") and not _is_url(v))
    )
    if extra.dropped:
        warnings.append(
            f"front matter {', '.join(map(repr, extra.dropped))} not kept: nested deeper than "
            f"{MAX_FRONT_MATTER_DEPTH} levels or over the {MAX_EXTRA_BYTES // 1000} kB kept per article"
        )
    article_id = _article_id(meta.get("id"), default_id, warnings)
    return Article(
        id=article_id,
        title=title,
        body=text,
        path=where,
        date=moment,
        categories=_as_terms(_first(meta, _CATEGORY_KEYS)),
        tags=_as_terms(_first(meta, _TAG_KEYS)),
        url=url or body.url,
        content_hash=digest,
        utcoffset_minutes=offset,
        extra=extra.kept,
    )


def _article_id(raw: Any, default_id: str, warnings: list[str]) -> str:
    """The id an article gives itself, else ``default_id``: also for an id that is blank,
    holds control characters or line breaks (no page or command could name it), or is
    not a string or a number."""
    if raw is None or raw == "":
        return default_id
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        warnings.append(f"id is a {type(raw).__name__}, not a string; using {default_id!r}")
        return default_id
    text = unicodedata.normalize("NFC", str(raw).strip())
    if not text:
        warnings.append(f"id {raw!r} is blank; using {default_id!r}")
        return default_id
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in text):
        warnings.append(f"id {raw!r} holds control characters or line breaks; using {default_id!r}")
        return default_id
    return text


def parse_bytes(data: bytes, path: str | Path, *, keep: Callable[[str], bool] | None = None) -> ParsedFile:
    """Parse the bytes of one source file (a post or a JSONL file) into articles.

    ``keep`` (a shard's test of an article id) leaves out the articles it refuses,
    counted in ``elsewhere``: a post's id is read from its front matter first, so a
    shard of a cluster does not render the body of another shard's post."""
    path = Path(path)
    text, encoding, warnings = decode(data, path)
    parsed = ParsedFile(str(path), warnings=warnings, encoding=encoding)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        _parse_jsonl(text, path, parsed)
        if keep is not None:
            kept = [article for article in parsed.articles if keep(article.id)]
            parsed.elsewhere, parsed.articles = len(parsed.articles) - len(kept), kept
        return parsed
    meta, body, fm_warnings = split_front_matter(text, path)
    parsed.warnings.extend(fm_warnings)
    default_id = id_from_path(path)
    if keep is not None and not keep(_article_id((meta or {}).get("id"), default_id, [])):
        parsed.elsewhere = 1
        return parsed
    parsed.articles.append(
        _build_article(
            meta or {},
            body,
            path=path,
            default_id=default_id,
            digest=content_hash(data),
            is_html=suffix in _HTML_SUFFIXES,
            warnings=parsed.warnings,
        )
    )
    return parsed


def _parse_jsonl(text: str, path: Path, parsed: ParsedFile) -> None:
    stem = id_from_path(path)
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        warnings: list[str] = []
        item = _feed_record(line, lineno, path, stem, warnings)
        parsed.warnings.extend(f"line {lineno}: {w}" for w in warnings)
        if isinstance(item, IngestError):
            parsed.errors.append(item)
        else:
            parsed.articles.append(item)


def _feed_record(line: str, lineno: int, path: Path, stem: str, warnings: list[str]) -> Article | IngestError:
    """The article of one non-blank line of a feed, or the error that says why there is none."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return IngestError(path, f"not valid JSON ({exc.msg} at column {exc.colno})", line=lineno)
    except RecursionError:
        return IngestError(path, "JSON nested too deeply", line=lineno)
    if not isinstance(record, dict):
        return IngestError(path, f"expected a JSON object, got {type(record).__name__}", line=lineno)
    body = record.get("body")
    if not record.get("title") and not body:
        return IngestError(path, "record has neither 'title' nor 'body'", line=lineno)
    try:
        return _build_article(
            record,
            body if isinstance(body, str) else "",
            path=path,
            default_id=f"{stem}-{lineno}",
            digest=content_hash(line.encode("utf-8")),
            is_html=False,
            warnings=warnings,
        )
    except IngestError as exc:
        return IngestError(path, exc.reason, line=lineno)


# --------------------------------------------------------------------------- feeds, streamed

_READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class FeedScan:
    """What one pass over a feed's bytes found: its content hash, its line count, and
    the byte offset of every :attr:`STEP`-th line (line 1, 1 + STEP, ...), where parts
    of it may start."""

    STEP = 64

    digest: str
    lines: int
    offsets: tuple[int, ...]
    streamable: bool
    """False for UTF-16 (its bytes cannot be cut at newline bytes): read whole."""


def scan_feed(path: str | Path) -> FeedScan:
    """Read a feed once in blocks (never whole): hash it and note where its lines start."""
    digest = hashlib.blake2b(digest_size=16)
    offsets = [0]
    lines = 0
    position = 0
    step = FeedScan.STEP
    streamable = True
    last = b"\n"
    with open(path, "rb") as handle:
        while True:
            block = handle.read(_READ_BLOCK)
            if not block:
                break
            if position == 0 and block.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                streamable = False
            digest.update(block)
            at = block.find(b"\n")
            while at != -1:
                lines += 1
                if lines % step == 0:
                    offsets.append(position + at + 1)
                at = block.find(b"\n", at + 1)
            position += len(block)
            last = block[-1:]
    if len(offsets) > 1 and offsets[-1] >= position:
        offsets.pop()  # the file ends with the newline that would start that line
    return FeedScan(digest.hexdigest(), lines + (last != b"\n"), tuple(offsets), streamable)


def file_digest(path: str | Path) -> str:
    """:func:`~newsearch.documents.content_hash` of a file's bytes, read in blocks."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def iter_feed_lines(
    path: str | Path, *, start: int = 0, end: int | None = None, first_line: int = 1, max_line_bytes: int | None = None
) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number, bytes without the line break, length) of each line of a feed that
    starts in ``[start, end)`` (``start`` must be where line ``first_line`` starts).

    A line longer than ``max_line_bytes`` is read past in blocks and given as None:
    no line is ever held in memory whole beyond that limit.
    """
    limit = max_line_bytes if max_line_bytes is not None else -1
    with open(path, "rb") as handle:
        handle.seek(start)
        position = start
        lineno = first_line
        while end is None or position < end:
            raw = handle.readline(limit + 2 if limit >= 0 else -1)  # room for "\r\n"
            if not raw:
                return
            length = len(raw)
            if not raw.endswith(b"\n") and limit >= 0 and len(raw) > limit:
                while raw and not raw.endswith(b"\n"):  # read past the rest of the line
                    raw = handle.readline(_READ_BLOCK)
                    length += len(raw)
                position += length
                yield lineno, None, length - (1 if raw.endswith(b"\n") else 0)
            else:
                position += length
                line = raw.rstrip(b"\n").removesuffix(b"\r")
                if limit >= 0 and len(line) > limit:
                    yield lineno, None, len(line)
                else:
                    yield lineno, line, len(line)
            lineno += 1


def iter_feed(
    path: str | Path,
    *,
    start: int = 0,
    end: int | None = None,
    first_line: int = 1,
    max_line_bytes: int | None = None,
    warnings: list[str] | None = None,
) -> Iterator[tuple[int, Article | IngestError]]:
    """(line number, article or the error that says why the line gives none) of each
    non-blank line of a JSON Lines feed,
    or of the part of it in ``[start, end)``, read line by line: the feed is never in
    memory whole.  Each article is checked on its own against ``max_line_bytes``.
    Warnings (``line N: ...``) are appended to ``warnings``."""
    path = Path(path)
    stem = id_from_path(path)
    said: set[str] = set()
    for lineno, raw, length in iter_feed_lines(
        path, start=start, end=end, first_line=first_line, max_line_bytes=max_line_bytes
    ):
        if raw is None:
            assert max_line_bytes is not None
            yield lineno, IngestError(
                path,
                f"line is {_size(length)}, over the {_size(max_line_bytes)} limit for one article "
                "(raise indexing.max_file_mb in newsearch.toml to index it); skipped",
                line=lineno,
            )
            continue
        if lineno == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        if not raw.strip():
            continue
        if b"\x00" in raw:
            yield lineno, IngestError(path, "binary data (NUL bytes), not text", line=lineno)
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as utf8_error:
            found = _chinese_legacy_encoding(raw)
            if found is not None:
                line, encoding = found
                note = f"not UTF-8: decoded as {_ENCODING_NAMES[encoding]}"
            else:
                line = raw.decode("utf-8", errors="replace")
                note = f"invalid UTF-8 at byte {utf8_error.start}; undecodable bytes replaced with U+FFFD"
            if warnings is not None and note.split(" at byte")[0] not in said:
                said.add(note.split(" at byte")[0])
                warnings.append(f"line {lineno}: {note}")
        found_warnings: list[str] = []
        item = _feed_record(line, lineno, path, stem, found_warnings)
        if warnings is not None:
            warnings.extend(f"line {lineno}: {w}" for w in found_warnings)
        yield lineno, item


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def sample_feed(path: str | Path, n: int, *, max_line_bytes: int | None = None) -> Iterator[Article]:
    """Up to ``n`` articles of a feed, from lines spread evenly over its bytes (each
    read from a seek to its place): a sample that does not read the feed whole."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return
    if n <= 0 or size == 0:
        return
    taken = 0
    previous = -1
    with open(path, "rb") as handle:
        for i in range(n):
            at = size * i // n
            handle.seek(at)
            if at:
                rest = handle.readline(_READ_BLOCK)  # the line the seek landed in
                while rest and not rest.endswith(b"\n"):
                    rest = handle.readline(_READ_BLOCK)
            start = handle.tell()
            if start <= previous or start >= size:
                continue  # a line already taken, or the end
            previous = start
            for _line, item in iter_feed(path, start=start, end=start + 1, max_line_bytes=max_line_bytes):
                if isinstance(item, Article):
                    yield item
                    taken += 1
            if taken >= n:
                return


def read_bytes(path: str | Path, *, max_bytes: int | None = None) -> bytes:
    """The bytes of one source file, or :class:`IngestError` saying why they cannot be read."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise IngestError(
                path,
                f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit "
                "(raise indexing.max_file_mb in newsearch.toml to index it)",
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise IngestError(path, "file disappeared while indexing") from None
    except PermissionError:
        raise IngestError(path, "permission denied") from None
    except IsADirectoryError:
        raise IngestError(path, "is a directory") from None
    except OSError as exc:
        raise IngestError(path, exc.strerror or str(exc)) from None


def read_file(path: str | Path, *, max_bytes: int | None = None) -> ParsedFile:
    """Read and parse one source file; raise :class:`IngestError` if it cannot be read."""
    return parse_bytes(read_bytes(path, max_bytes=max_bytes), path)
