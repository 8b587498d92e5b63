"""Helpers shared by the benchmarks.

* :func:`machine` — one line: cores, CPU model, Python version.
* :func:`iter_articles` — every article of a corpus, parsed as newsearch parses it.
* :func:`percentile`, :func:`latency_summary` — latency statistics.
* :func:`measure_command` — run a command as a child process and measure its
  wall time and peak memory (peak RSS of the largest process from ``wait4``,
  and the peak of the summed RSS and PSS of the child and all its descendants,
  polled from /proc, for multi-process builds).
* :func:`dir_size`.
* :data:`QUERY_KINDS` / :func:`make_queries` — the mixed query set, sampled
  (seeded) from the generated corpus.  Each query is a dict
  ``{"kind": ..., "q": ..., "category"?: ..., "sort"?: "-date"}``.
* :func:`print_table` — aligned plain-text tables (CJK-width aware).
"""

from __future__ import annotations

import math
import os
import random
import re
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from newsearch import Article
from newsearch.ingest import iter_source_files, read_file

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

# --------------------------------------------------------------------------- machine


def machine() -> str:
    """``"2 cores, AMD EPYC 7B13, Python 3.11.7"``."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {sys.version.split()[0]}"


# --------------------------------------------------------------------------- articles


def iter_articles(*sources: str | Path) -> Iterator[Article]:
    """Every article of the post files under ``sources`` (folders or files), file by file in
    sorted order, parsed as ``newsearch index`` parses them: the one way the benchmarks read
    a corpus, so they all count and see the same articles."""
    for path in iter_source_files(sources):
        yield from read_file(path).articles


# --------------------------------------------------------------------------- statistics


def percentile(values: Iterable[float], p: float) -> float:
    """The ``p``-th percentile (0-100) with linear interpolation between ranks (NumPy's default)."""
    data = sorted(values)
    if not data:
        return math.nan
    if not 0 <= p <= 100:
        raise ValueError("p must be between 0 and 100")
    k = (len(data) - 1) * p / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """n, mean, p50, p95, p99 and max of latencies given in seconds, returned in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0, "mean": math.nan, "p50": math.nan, "p95": math.nan, "p99": math.nan, "max": math.nan}
    return {
        "n": len(ms),
        "mean": sum(ms) / len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms),
    }


# --------------------------------------------------------------------------- sizes


def dir_size(path: str | Path) -> int:
    """Bytes of all files under ``path`` (0 if it does not exist)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


# --------------------------------------------------------------------------- peak memory of a child


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def stat_fields(pid: int | str) -> list[bytes]:
    """The fields of /proc/PID/stat after the command name (state, ppid, ...), or []
    when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return []
    return stat[stat.rfind(b")") + 2 :].split()  # the command name may hold spaces and parentheses


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = stat_fields(entry.name)
            if fields:
                kids.setdefault(int(fields[1]), []).append(int(entry.name))
    return kids


def _pss(pid: int) -> int:
    """Proportional set size in bytes: each page shared with other processes counts
    its share only, so summing it over a tree after fork counts every page once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _tree_memory(root: int, *, pss: bool) -> tuple[int, int, int]:
    """(summed RSS, summed PSS or 0, number of processes) of ``root`` and its descendants."""
    kids = _children_map()
    rss = proportional = count = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                rss += int(f.read().split()[1]) * _PAGE
            count += 1
        except (OSError, IndexError, ValueError):
            pass
        if pss:
            proportional += _pss(pid)
        todo.extend(kids.get(pid, ()))
    return rss, proportional, count


_PSS_EVERY = 1.0  # seconds between readings of the PSS


def _watch(pid: int, poll: float) -> dict[str, Any]:
    """Poll the process tree of ``pid`` until it exits; reap it with wait4."""
    started = time.perf_counter()
    peak_tree = peak_pss = 0
    peak_procs = 0
    pss_at = -_PSS_EVERY
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done == pid:
            break
        # PSS costs a walk of the page tables (about 14 ms of CPU for two 500 MB
        # processes, taken from the cores being measured): read it once a second, or
        # half a second after the last reading when the tree's RSS reaches a new high,
        # which is where the PSS peak is.
        rss, _, procs = _tree_memory(pid, pss=False)
        now = time.perf_counter()
        if now - pss_at >= _PSS_EVERY or (rss > peak_tree and now - pss_at >= _PSS_EVERY / 2):
            peak_pss = max(peak_pss, _tree_memory(pid, pss=True)[1])
            pss_at = now
        peak_tree = max(peak_tree, rss)
        peak_procs = max(peak_procs, procs)
        time.sleep(poll)
    seconds = time.perf_counter() - started
    return {
        "returncode": os.waitstatus_to_exitcode(status),
        "wall_seconds": seconds,
        # ru_maxrss (kB on Linux): the largest single process of the tree that was waited for
        "peak_rss_mb": usage.ru_maxrss * 1024 / 1e6,
        # summed RSS of the whole tree at the worst poll: counts pages shared after fork once per process
        "peak_tree_rss_mb": max(peak_tree, usage.ru_maxrss * 1024) / 1e6,
        # summed PSS of the tree at the worst poll: the memory the tree really holds
        "peak_tree_pss_mb": peak_pss / 1e6,
        "peak_procs": peak_procs,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }


def measure_command(argv: Sequence[str], *, poll: float = 0.1, cwd: str | Path | None = None,
                    env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``argv`` as a fresh process and measure it.

    Returns returncode, wall_seconds, peak_rss_mb (largest single process,
    from ``wait4``'s ru_maxrss, which includes descendants it waited for),
    peak_tree_rss_mb (peak of the summed RSS of the process and its
    descendants, polled every ``poll`` s; an upper bound when processes share
    pages after fork), peak_tree_pss_mb (the same with PSS, which counts a
    shared page once), peak_procs and cpu_seconds.  stdout/stderr are inherited.
    """
    proc = subprocess.Popen(list(argv), cwd=cwd, env=env)
    try:
        result = _watch(proc.pid, poll)
    except BaseException:
        proc.kill()
        os.waitpid(proc.pid, 0)
        raise
    proc.returncode = result["returncode"]  # already reaped by wait4
    return result


# --------------------------------------------------------------------------- queries

QUERY_KINDS = ("word", "two words", "phrase", "single char", "filtered", "date-sorted")

_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]+$")
_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
# Function characters that make no sense as a one-character search.
# Parts of speech of a word worth searching for: nouns, names, verbs, adjectives.
_CONTENT_POS = frozenset({"n", "nr", "nrt", "ns", "nt", "nz", "ng", "vn", "v", "a", "an", "j", "l", "i"})
_STOP_CHARS = frozenset("的了和是在不有我这他她它也就都一们为着到说要与及之而其以但被把从所个你那")


def _common_words(top: int = 100) -> frozenset[str]:
    """The ``top`` most frequent 2-character words of jieba's dictionary (function words mostly)."""
    import jieba

    jieba.initialize()
    pairs = [(f, w) for w, f in jieba.dt.FREQ.items() if f and len(w) == 2 and _CJK_WORD.match(w)]
    pairs.sort(reverse=True)
    return frozenset(w for _f, w in pairs[:top])


def make_queries(per_kind: int = 20, seed: int = 7, *, corpus_seed: int = 1,
                 sample: int = 2_000) -> list[dict[str, str]]:
    """The mixed query set: ``per_kind`` queries of each kind in :data:`QUERY_KINDS`, seeded.

    Sampled from the first ``sample`` articles of the generated corpus of seed
    ``corpus_seed`` (which every corpus of that seed with at least ``sample``
    articles contains, so every query has results there):

    * word: a 2-character jieba word of an article, a noun, name, verb or
      adjective (and not one of jieba's 100 most common words),
      ``{"kind": "word", "q": "医院"}``;
    * two words: two such words of the same article, space-separated;
    * phrase: 4-6 characters made of consecutive jieba words, quoted: ``"\\"公共场所\\""``;
    * single char: one CJK character (not a function character like 的);
    * filtered: a word plus the article's first category, ``"category": "财经"``;
    * date-sorted: a word, newest first, ``"sort": "-date"``.

    Queries are in a seeded shuffled order, so kinds are interleaved.
    """
    import logging

    import jieba
    import jieba.posseg

    from bench.corpus import generate  # imported here: bench.corpus imports this module

    jieba.setLogLevel(logging.WARNING)
    docs = list(generate(sample, corpus_seed))
    if not docs:
        raise ValueError("no articles to sample queries from")
    rng = random.Random(f"newsearch-queries/{seed}")
    common = _common_words()
    out: dict[str, list[dict[str, str]]] = {k: [] for k in QUERY_KINDS}
    seen: set[tuple] = set()

    def add(query: dict[str, str]) -> None:
        key = tuple(sorted(query.items()))
        if len(out[query["kind"]]) < per_kind and key not in seen:
            seen.add(key)
            out[query["kind"]].append(query)

    attempts = 0
    while any(len(v) < per_kind for v in out.values()):
        attempts += 1
        if attempts > per_kind * 500:
            raise RuntimeError("could not sample enough queries; is the corpus tiny?")
        doc = rng.choice(docs)
        paras = [p for p in doc["body"].split("\n\n") if _CJK_CHAR.search(p)]
        if not paras:
            continue
        para = rng.choice(paras)
        tagged = jieba.posseg.lcut(para, HMM=False)
        words = [pair.word for pair in tagged]
        good = [p.word for p in tagged if len(p.word) == 2 and p.flag in _CONTENT_POS
                and _CJK_WORD.match(p.word) and p.word not in common]
        if good:
            w = rng.choice(good)
            add({"kind": "word", "q": w})
            add({"kind": "filtered", "q": rng.choice(good), "category": doc["categories"][0]})
            add({"kind": "date-sorted", "q": rng.choice(good), "sort": "-date"})
            other = {p.word for p in jieba.posseg.lcut(doc["body"][:3000], HMM=False)
                     if p.word != w and len(p.word) == 2 and p.flag in _CONTENT_POS
                     and _CJK_WORD.match(p.word) and p.word not in common}
            if other:
                add({"kind": "two words", "q": f"{w} {rng.choice(sorted(other))}"})
        # phrase: consecutive CJK words totalling 4-6 characters, at least two of them
        if words:
            i = rng.randrange(len(words))
            phrase, n_words = "", 0
            for word in words[i:]:
                if not _CJK_WORD.match(word) or len(phrase) + len(word) > 6:
                    break
                phrase += word
                n_words += 1
                if len(phrase) >= 4 and n_words >= 2 and rng.random() < 0.5:
                    break
            if 4 <= len(phrase) <= 6 and n_words >= 2:
                add({"kind": "phrase", "q": f'"{phrase}"'})
        chars = [c for c in _CJK_CHAR.findall(para) if c not in _STOP_CHARS]
        if chars:
            add({"kind": "single char", "q": rng.choice(chars)})
    queries = [q for k in QUERY_KINDS for q in out[k]]
    rng.shuffle(queries)
    return queries


# --------------------------------------------------------------------------- tables


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fmt(value: Any, digits: int) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.{digits}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, digits: int = 1,
                file=None, title: str | None = None) -> None:
    """Print rows under headers; numbers right-aligned (floats with ``digits`` decimals), text left-aligned."""
    rows = [list(r) for r in rows]
    cells = [[_fmt(v, digits) for v in r] for r in rows]
    numeric = [all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows if i < len(r))
               for i in range(len(headers))]
    widths = [max([_width(h)] + [_width(c[i]) for c in cells if i < len(c)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = []
        for i, v in enumerate(values):
            pad = " " * (widths[i] - _width(v))
            parts.append(pad + v if numeric[i] else v + pad)
        return "  ".join(parts).rstrip()

    out = file or sys.stdout
    if title:
        print(title, file=out)
    print(line(list(headers)), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for c in cells:
        print(line(c), file=out)
