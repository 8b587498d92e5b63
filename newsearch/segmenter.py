"""jieba's word segmentation in fewer Python steps: the same words as
``jieba.Tokenizer.cut(text, HMM=True)``, about twice as fast.

The only module that imports jieba.  :class:`Cutter` finds the most probable
route through jieba's word graph and :class:`Hmm` cuts the runs of characters
that no dictionary word covers, both with jieba's own arithmetic and
tie-breaking, so the words are identical (``tests/test_analysis.py`` checks
them on every real post and on generated text).
"""

from __future__ import annotations

import hashlib
import io
import logging
import marshal
import math
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .files import write_bytes

_WORDS_FORMAT = 1  # of the cached word list

__all__ = ["SEGMENTERS", "Cutter", "Hmm", "Segmenter", "load_user_dict", "segmenter"]


class Segmenter:
    """A lazily initialised jieba segmenter (loading its dictionary takes a while).

    ``normalize`` is how the text it will meet was normalized: the words of the
    user dictionaries are normalized the same way."""

    def __init__(self, user_dicts: tuple[str, ...], normalize: Callable[[str], str]) -> None:
        self.user_dicts = user_dicts
        self.normalize = normalize
        self._cutter: Cutter | None = None
        self._words: frozenset[str] | None = None
        self._lock = threading.Lock()

    def is_word(self, text: str) -> bool:
        """Whether ``text`` is a dictionary word.  Until the segmenter is needed, the
        words are read from a cached list: a search that segments nothing does not
        pay for loading the dictionary."""
        if self._cutter is not None:
            return self._cutter.is_word(text)
        if self._words is None:
            self._words = self._load_words()
        return text in self._words

    def _load_words(self) -> frozenset[str]:
        cache = Path(tempfile.gettempdir()) / f"newsearch-words-{self._dictionary_key()}.marshal"
        try:
            return frozenset(marshal.loads(cache.read_bytes()))
        except (OSError, EOFError, ValueError, TypeError):
            pass
        words = frozenset(word for word, logp in self.get().logp.items() if logp is not None)
        try:
            write_bytes(cache, marshal.dumps(sorted(words)))
        except OSError:
            pass  # a read-only temporary folder: the next process loads the dictionary again
        return words

    def _dictionary_key(self) -> str:
        """What the word list depends on: jieba's dictionary and the user dictionaries."""
        import jieba

        parts = [jieba.__version__, str(_WORDS_FORMAT)]
        for path in (Path(jieba.__file__).with_name("dict.txt"), *map(Path, self.user_dicts)):
            try:
                info = path.stat()
                parts.append(f"{path.resolve()}:{info.st_size}:{info.st_mtime_ns}")
            except OSError:
                parts.append(f"{path}:missing")
        return hashlib.sha1("\n".join(parts).encode("utf-8")).hexdigest()[:16]

    def get(self) -> Cutter:
        if self._cutter is None:
            with self._lock:
                if self._cutter is None:
                    import jieba

                    jieba.setLogLevel(logging.WARNING)
                    tokenizer = jieba.Tokenizer()
                    tokenizer.initialize()
                    for path in self.user_dicts:
                        load_user_dict(tokenizer, path, self.normalize)
                    self._cutter = Cutter(tokenizer)
        return self._cutter


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

    def __init__(self, tokenizer: Any) -> None:
        from jieba import finalseg, re_han_default, re_skip_default

        logtotal = math.log(tokenizer.total)
        # A word's log-probability; None for a mere prefix of longer words.
        self.logp: dict[str, float | None] = {
            word: math.log(freq) - logtotal if freq else None for word, freq in tokenizer.FREQ.items()
        }
        self._unknown = math.log(1) - logtotal
        self._hmm = Hmm(finalseg)
        self._han = re_han_default
        self._skip = re_skip_default

    def is_word(self, text: str) -> bool:
        """Whether ``text`` is a dictionary word (not merely the prefix of one)."""
        return self.logp.get(text) is not None

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
        lookup = self.logp.get
        n = len(block)
        score = [0.0] * (n + 1)
        last = list(range(n))
        unknown = self._unknown
        for start in range(n - 1, -1, -1):
            best: float | None = None
            end = start
            fragment = block[start]
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
        elif self.logp.get(run) is None:
            self._hmm.cut(run, words)
        else:
            words.extend(run)


class Hmm:
    """jieba's hidden Markov model for words missing from the dictionary
    (``jieba.finalseg.cut``), with the same results: the same sums in the same
    order and the same tie-breaking, without building lists, dicts and copied
    paths at every character."""

    def __init__(self, finalseg: Any) -> None:
        self._finalseg = finalseg
        self._han = finalseg.re_han
        self._skip = finalseg.re_skip
        emit = finalseg.emit_P
        self._emit = (emit["B"].get, emit["M"].get, emit["S"].get, emit["E"].get)
        start, trans = finalseg.start_P, finalseg.trans_P
        self._start = (start["B"], start["M"], start["S"], start["E"])
        self._trans = (
            trans["E"]["B"], trans["S"]["B"],  # into B, from E or S
            trans["M"]["M"], trans["B"]["M"],  # into M, from M or B
            trans["S"]["S"], trans["E"]["S"],  # into S, from S or E
            trans["B"]["E"], trans["M"]["E"],  # into E, from B or M
        )
        self._min = finalseg.MIN_FLOAT

    def cut(self, text: str, words: list[str]) -> None:
        """Append the words of ``text`` to ``words``."""
        han, skip = self._han, self._skip
        forced = self._finalseg.Force_Split_Words
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
