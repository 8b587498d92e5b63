"""jieba's word segmentation in fewer Python steps: the same words as
``jieba.Tokenizer.cut(text, HMM=True)``, about twice as fast.

The only module that imports jieba, and only to build a :class:`Lexicon` once: jieba's
prefix dictionary (with the user dictionaries) and its HMM tables in a compact
file in the temporary folder, keyed by the sizes and times of the files they come
from.  A process then reads only what it looks up (the words that begin with one
character at a time), so a search that segments its query does not pay for
loading jieba's whole dictionary.  :class:`Cutter` finds the most probable route
through jieba's word graph and :class:`Hmm` cuts the runs of characters that no
dictionary word covers, both with jieba's own arithmetic and tie-breaking, so the
words are identical (``tests/test_analysis.py`` checks them on every real post
and on generated text).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import marshal
import math
import mmap
import os
import re
import struct
import sys
import tempfile
import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .files import write_bytes

__all__ = [
    "SEGMENTERS", "Cutter", "Hmm", "Lexicon", "Segmenter", "build_lexicon", "cache_path", "load_user_dict", "own_file",
    "segmenter",
]

_MAGIC = b"newsearch lexicon 2\n"
_HEAD = struct.Struct("<QQ")  # length of the marshalled header, length of the whole file
_CACHE_PREFIX = "lexicon-"
_KEPT_CACHES = 8  # lexicon files kept in the temporary folder (one per set of user dictionaries)
_STALE_CACHES = ("newsearch-words-*.marshal", "newsearch-lexicon-*.bin")  # what earlier versions cached there


class Segmenter:
    """A lazily initialised jieba segmenter for a set of user dictionaries.

    ``normalize`` is how the text it will meet was normalized: the words of the
    user dictionaries are normalized the same way."""

    def __init__(self, user_dicts: tuple[str, ...], normalize: Callable[[str], str]) -> None:
        self.user_dicts = user_dicts
        self.normalize = normalize
        self._cutter: Cutter | None = None
        self._lock = threading.Lock()

    def is_word(self, text: str) -> bool:
        """Whether ``text`` is a dictionary word (not merely the prefix of one)."""
        return self.get().is_word(text)

    def get(self) -> Cutter:
        if self._cutter is None:
            with self._lock:
                if self._cutter is None:
                    self._cutter = Cutter(self._lexicon())
        return self._cutter

    def cache_path(self) -> Path:
        """Where the lexicon of these dictionaries is cached."""
        return cache_path(f"{_CACHE_PREFIX}{self._dictionary_key()}.bin")

    def _lexicon(self) -> Lexicon:
        path = self.cache_path()
        try:
            return Lexicon.open(path)
        except (OSError, ValueError, EOFError, TypeError, KeyError):
            pass  # not built yet, or unreadable: build it again
        data = build_lexicon(self.user_dicts, self.normalize)
        try:
            write_bytes(path, data)
            _prune_caches(path)
        except OSError:
            pass  # a read-only temporary folder: the next process builds it again
        return Lexicon(data)

    def _dictionary_key(self) -> str:
        """What the lexicon depends on: jieba's dictionary and model, and the user
        dictionaries (found without importing jieba, which takes a while)."""
        spec = importlib.util.find_spec("jieba")
        home = Path(spec.origin).parent if spec is not None and spec.origin else Path("jieba-missing")
        parts = [_MAGIC.decode("ascii"), str(marshal.version)]
        sources = [home / "__init__.py", home / "dict.txt", home / "finalseg" / "__init__.py"]
        sources += [home / "finalseg" / f"prob_{name}.py" for name in ("start", "trans", "emit")]
        for path in (*sources, *map(Path, self.user_dicts)):
            try:
                info = path.stat()
                parts.append(f"{path.resolve()}:{info.st_size}:{info.st_mtime_ns}")
            except OSError:
                parts.append(f"{path}:missing")
        return hashlib.sha1("\n".join(parts).encode("utf-8")).hexdigest()[:16]


def cache_path(name: str) -> Path:
    """Where newsearch caches ``name``, something it derives from jieba's or OpenCC's
    files: in the temporary folder, under a name of the user's own."""
    user = f"{os.getuid()}-" if hasattr(os, "getuid") else ""
    return Path(tempfile.gettempdir()) / f"newsearch-{user}{name}"


def own_file(fd: int) -> os.stat_result:
    """The status of an open cache file; ValueError if another user made it (a file in
    a shared temporary folder that newsearch did not write is never trusted)."""
    info = os.fstat(fd)
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ValueError("a cache file of another user")
    return info


def _prune_caches(kept: Path) -> None:
    """Leave at most ``_KEPT_CACHES`` lexicon files in the temporary folder (the most
    recently built), and none of the word lists earlier versions cached there."""
    folder = kept.parent
    found = []
    for path in folder.glob(cache_path(f"{_CACHE_PREFIX}*.bin").name):
        try:
            found.append((path.stat().st_mtime, path))
        except OSError:
            continue
    stale = [path for _, path in sorted(found, reverse=True)[_KEPT_CACHES:] if path != kept]
    for pattern in _STALE_CACHES:
        stale += folder.glob(pattern)
    for path in stale:
        try:
            path.unlink()
        except OSError:
            pass


def build_lexicon(user_dicts: tuple[str, ...], normalize: Callable[[str], str]) -> bytes:
    """jieba's dictionary with ``user_dicts`` loaded, and its HMM tables, as the bytes
    of a :class:`Lexicon`: each word's log-probability (None for a mere prefix of
    longer words), in one marshalled dict per first character."""
    import logging

    import jieba
    from jieba import finalseg

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    # A word of frequency 0 in a user dictionary is one the HMM must split; jieba keeps
    # them in a global set, these dictionaries' own are collected apart.
    shared = finalseg.Force_Split_Words
    forced: set[str] = set()
    finalseg.Force_Split_Words = forced
    try:
        for path in user_dicts:
            load_user_dict(tokenizer, path, normalize)
    finally:
        finalseg.Force_Split_Words = shared
        shared.update(forced)

    logtotal = math.log(tokenizer.total)
    buckets: dict[str, dict[str, float | None]] = {}
    for word, freq in tokenizer.FREQ.items():
        if word:
            buckets.setdefault(word[0], {})[word] = math.log(freq) - logtotal if freq else None
    emit, start, trans = finalseg.emit_P, finalseg.start_P, finalseg.trans_P
    hmm = (
        tuple(start[s] for s in "BMSE"),
        (
            trans["E"]["B"], trans["S"]["B"],  # into B, from E or S
            trans["M"]["M"], trans["B"]["M"],  # into M, from M or B
            trans["S"]["S"], trans["E"]["S"],  # into S, from S or E
            trans["B"]["E"], trans["M"]["E"],  # into E, from B or M
        ),
        tuple(emit[s] for s in "BMSE"),
        finalseg.MIN_FLOAT,
        (finalseg.re_han.pattern, finalseg.re_han.flags),
        (finalseg.re_skip.pattern, finalseg.re_skip.flags),
        sorted(forced),
    )
    # The buckets one after the other in the order of their characters: the k-th
    # character's bucket runs from bounds[k] to bounds[k + 1].  A string of the
    # characters and an array of the bounds load at once, unlike a dict of them.
    chars = "".join(sorted(buckets))
    blobs = [marshal.dumps(buckets[char]) for char in chars]
    bounds = array("Q", [0])
    for blob in blobs:
        bounds.append(bounds[-1] + len(blob))
    hmm_blob = marshal.dumps(hmm)
    if sys.byteorder == "big":
        bounds.byteswap()
    header = marshal.dumps(
        {
            "unknown": math.log(1) - logtotal,
            "chars": chars,
            "bounds": bounds.tobytes(),  # little-endian
            "hmm": len(hmm_blob),  # after the buckets
            "han": (jieba.re_han_default.pattern, jieba.re_han_default.flags),
            "skip": (jieba.re_skip_default.pattern, jieba.re_skip_default.flags),
        }
    )
    total = len(_MAGIC) + _HEAD.size + len(header) + sum(map(len, blobs)) + len(hmm_blob)
    return b"".join([_MAGIC, _HEAD.pack(len(header), total), header, *blobs, hmm_blob])


class Lexicon:
    """jieba's prefix dictionary and HMM tables as :func:`build_lexicon` stores them:
    the words that begin with a character are read when first asked for."""

    def __init__(self, data: bytes | mmap.mmap) -> None:
        if len(data) < len(_MAGIC) + _HEAD.size or data[: len(_MAGIC)] != _MAGIC:
            raise ValueError("not a newsearch lexicon")
        header_size, total = _HEAD.unpack_from(data, len(_MAGIC))
        if total != len(data):
            raise ValueError("a truncated newsearch lexicon")
        begin = len(_MAGIC) + _HEAD.size
        header = marshal.loads(data[begin : begin + header_size])
        self._data = data
        self._base = begin + header_size
        self._chars: str = header["chars"]
        self._bounds = array("Q")
        self._bounds.frombytes(header["bounds"])
        if sys.byteorder == "big":
            self._bounds.byteswap()
        if len(self._bounds) != len(self._chars) + 1 or self._base + self._bounds[-1] + header["hmm"] != total:
            raise ValueError("a damaged newsearch lexicon")
        self._hmm_size: int = header["hmm"]
        self.unknown: float = header["unknown"]
        self.han: re.Pattern[str] = re.compile(*header["han"])
        self.skip: re.Pattern[str] = re.compile(*header["skip"])
        self.buckets = _Buckets(self._bucket)

    @classmethod
    def open(cls, path: Path) -> Lexicon:
        """The lexicon cached at ``path``, mapped into memory rather than read."""
        with open(path, "rb") as fh:
            info = own_file(fh.fileno())
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        if time.time() - info.st_mtime > 86_400:
            try:
                os.utime(path)  # in use: not among the oldest when caches are pruned
            except OSError:
                pass
        return cls(data)

    def _bucket(self, char: str) -> dict[str, float | None]:
        k = bisect_left(self._chars, char)
        if k == len(self._chars) or self._chars[k] != char:
            return {}
        bucket: dict[str, float | None] = marshal.loads(
            self._data[self._base + self._bounds[k] : self._base + self._bounds[k + 1]]
        )
        return bucket

    def hmm_tables(self) -> tuple[Any, ...]:
        """(start, transition and emission log-probabilities, the smallest log-probability,
        the pattern of a run of Chinese characters, the pattern of what else it keeps
        whole, the words always split) of jieba's ``finalseg``."""
        start = self._base + self._bounds[-1]
        tables: tuple[Any, ...] = marshal.loads(self._data[start : start + self._hmm_size])
        return tables


class _Buckets(dict[str, dict[str, "float | None"]]):
    """First character → the words that begin with it, read on first use."""

    def __init__(self, load: Callable[[str], dict[str, float | None]]) -> None:
        super().__init__()
        self._load = load

    def __missing__(self, char: str) -> dict[str, float | None]:
        bucket = self[char] = self._load(char)
        return bucket


_NOT_A_PREFIX = object()


class Cutter:
    """jieba's accurate mode with its HMM for unknown words: the same words as
    ``jieba.Tokenizer.cut(text, HMM=True)``, in about half the time.

    jieba looks each fragment up twice, takes a logarithm per candidate word and
    builds a dictionary of candidates per character before choosing a route; here
    each dictionary word carries its log-probability, precomputed, and the route
    is chosen in the same loop that finds the candidates.  Floating-point steps
    and tie-breaking are jieba's own, so the routes are identical.
    """

    def __init__(self, lexicon: Lexicon) -> None:
        self._lexicon = lexicon
        self._buckets = lexicon.buckets
        self._unknown = lexicon.unknown
        self._han = lexicon.han
        self._skip = lexicon.skip
        self._hmm_model: Hmm | None = None

    @property
    def _hmm(self) -> Hmm:
        """The HMM, its tables read on first use (most queries need none)."""
        if self._hmm_model is None:
            self._hmm_model = Hmm(self._lexicon.hmm_tables())
        return self._hmm_model

    def logp(self, text: str) -> float | None:
        """The log-probability of a dictionary word; None for anything else."""
        return self._buckets[text[0]].get(text) if text else None

    def is_word(self, text: str) -> bool:
        """Whether ``text`` is a dictionary word (not merely the prefix of one)."""
        return self.logp(text) is not None

    def cut(self, text: str) -> list[str]:
        """The words of ``text``, spaces and punctuation included, in order."""
        words: list[str] = []
        han, skip = self._han, self._skip
        for block in han.split(text):
            if not block:
                continue
            if han.match(block):
                self._cut_block(block, words)
            else:
                for piece in skip.split(block):
                    if skip.match(piece):
                        words.append(piece)
                    else:
                        words.extend(piece)
        return words

    def _route(self, block: str) -> list[int]:
        """For each character, the index of the last character of the word that
        starts there on the most probable route (jieba's ``get_DAG`` and ``calc``)."""
        buckets = self._buckets
        n = len(block)
        score = [0.0] * (n + 1)
        last = list(range(n))
        unknown = self._unknown
        for start in range(n - 1, -1, -1):
            best: float | None = None
            end = start
            fragment = block[start]
            lookup = buckets[fragment].get
            while True:
                logp = lookup(fragment, _NOT_A_PREFIX)
                if logp is _NOT_A_PREFIX:
                    break
                if logp is not None:
                    total = logp + score[end + 1]  # type: ignore[operator]
                    if best is None or total >= best:  # ties: the longer word, as jieba's max()
                        best = total
                        last[start] = end
                end += 1
                if end == n:
                    break
                fragment = block[start : end + 1]
            score[start] = unknown + score[start + 1] if best is None else best
        return last

    def _cut_block(self, block: str, words: list[str]) -> None:
        """jieba's ``__cut_DAG``: runs of single characters go to the HMM unless the
        run is itself a dictionary word."""
        last = self._route(block)
        n = len(block)
        run = 0  # start of the current run of single characters
        i = 0
        while i < n:
            stop = last[i] + 1
            if stop - i > 1:
                if run < i:
                    self._flush(block[run:i], words)
                words.append(block[i:stop])
                run = stop
            i = stop
        if run < n:
            self._flush(block[run:n], words)

    def _flush(self, run: str, words: list[str]) -> None:
        if len(run) == 1:
            words.append(run)
        elif self.logp(run) is None:
            self._hmm.cut(run, words)
        else:
            words.extend(run)


class Hmm:
    """jieba's hidden Markov model for words missing from the dictionary
    (``jieba.finalseg.cut``), with the same results: the same sums in the same
    order and the same tie-breaking, without building lists, dicts and copied
    paths at every character.  ``tables`` are :meth:`Lexicon.hmm_tables`."""

    def __init__(self, tables: tuple[Any, ...]) -> None:
        start, self._trans, emit, self._min, han, skip, forced = tables
        self._start = tuple(start)
        self._emit = tuple(table.get for table in emit)
        self._han = re.compile(*han)
        self._skip = re.compile(*skip)
        self._forced = frozenset(forced)

    def cut(self, text: str, words: list[str]) -> None:
        """Append the words of ``text`` to ``words``."""
        han, skip = self._han, self._skip
        forced = self._forced
        for block in han.split(text):
            if han.match(block):
                for word in self._words(block):
                    if word in forced:
                        words.extend(word)
                    else:
                        words.append(word)
            else:
                words.extend(piece for piece in skip.split(block) if piece)

    def _words(self, block: str) -> list[str]:
        states = self._states(block)
        words = []
        begin = following = 0
        for i, state in enumerate(states):
            if state == "B":
                begin = i
            elif state == "E":
                words.append(block[begin : i + 1])
                following = i + 1
            elif state == "S":
                words.append(block[i])
                following = i + 1
        if following < len(block):
            words.append(block[following:])
        return words

    def _states(self, block: str) -> str:
        """The most probable B/M/S/E state of each character (jieba's ``viterbi``).

        Ties go where jieba's ``max`` over (probability, state) tuples sends them:
        to the state that sorts last (S > M > E > B)."""
        emit_b, emit_m, emit_s, emit_e = self._emit
        eb_b, sb_b, mm_m, bm_m, ss_s, es_s, be_e, me_e = self._trans
        low = self._min
        first = block[0]
        start_b, start_m, start_s, start_e = self._start
        b = start_b + emit_b(first, low)
        m = start_m + emit_m(first, low)
        s = start_s + emit_s(first, low)
        e = start_e + emit_e(first, low)
        back: list[str] = []  # per character after the first: the previous state of B, M, S, E
        for char in block[1:]:
            em = emit_b(char, low)
            x, y = e + eb_b + em, s + sb_b + em
            nb, pb = (y, "S") if y >= x else (x, "E")
            em = emit_m(char, low)
            x, y = m + mm_m + em, b + bm_m + em
            nm, pm = (x, "M") if x >= y else (y, "B")
            em = emit_s(char, low)
            x, y = s + ss_s + em, e + es_s + em
            ns, ps = (x, "S") if x >= y else (y, "E")
            em = emit_e(char, low)
            x, y = b + be_e + em, m + me_e + em
            ne, pe = (y, "M") if y >= x else (x, "B")
            back.append(pb + pm + ps + pe)
            b, m, s, e = nb, nm, ns, ne
        state = "S" if s >= e else "E"
        path = [state]
        for previous in reversed(back):
            state = previous["BMSE".index(state)]
            path.append(state)
        return "".join(reversed(path))


def load_user_dict(tokenizer: Any, path: str, normalize: Callable[[str], str]) -> None:
    """Load a jieba user dictionary into ``tokenizer``, its words normalized with ``normalize``."""
    try:
        raw = Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(path, "jieba user dictionary not found (check analysis.user_dicts).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read the jieba user dictionary: {exc}.") from None
    lines = []
    for line in raw.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word:
            lines.append(f"{normalize(word)} {rest}".rstrip())
    try:
        tokenizer.load_userdict(io.BytesIO("\n".join(lines).encode("utf-8")))
    except ValueError as exc:
        raise ConfigError(path, f"cannot load the jieba user dictionary: {exc}.") from None


SEGMENTERS: dict[tuple[str, ...], Segmenter] = {}


def segmenter(user_dicts: tuple[str, ...], normalize: Callable[[str], str]) -> Segmenter:
    """The process's one segmenter for these user dictionaries (made on first use)."""
    found = SEGMENTERS.get(user_dicts)
    if found is None:
        found = SEGMENTERS.setdefault(user_dicts, Segmenter(user_dicts, normalize))
    return found
