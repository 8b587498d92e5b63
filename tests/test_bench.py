"""Every benchmark in bench/ runs once, at a tiny size, as a real ``python -m bench.X`` process:
it exits 0 and prints its tables, with numbers in them.

The sizes only check that the benchmarks still run against the current package; their
figures mean nothing.  Each run writes under pytest's temporary folders only: the cache
folders are given with ``--out``, and TMPDIR sends the scratch indexes (and jieba's
dictionary cache) there too.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from conftest import REPO

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?[x%]?")  # 1,234  0.57x  12%

pytestmark = pytest.mark.slow  # each test runs a benchmark script on a small corpus: CI runs them with -m slow


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> dict[str, str]:
    """The environment of the benchmark processes; needs the real corpus, which the benchmarks read."""
    return {**os.environ, "TMPDIR": str(tmp_path_factory.mktemp("tmp"))}


def bench(env: dict[str, str], module: str, *args: object) -> str:
    """Run ``python -m bench.MODULE ARGS`` from the repository root; its standard output, once it exited 0."""
    command = [sys.executable, "-m", f"bench.{module}", *map(str, args)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def tiny(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A generated corpus of 100 articles (bench.corpus) and what the command printed."""
    folder = tmp_path_factory.mktemp("tiny") / "corpus"
    return folder, bench(env, "corpus", 100, folder)


def table(output: str, header: list[str], labels: list[str]) -> dict[str, dict[str, str]]:
    """The rows of a table printed by ``print_table`` under ``header``: {first cell: {column: cell}}.

    Rows are read below the line of dashes for as long as their first cell (stripped) is
    one of ``labels`` (the text after a table is not always separated from it by a blank line).
    """
    lines = output.splitlines()
    for at, line in enumerate(lines[:-1]):
        if re.split(r"\s{2,}", line.strip()) == header and re.fullmatch(r"-+( +-+)*", lines[at + 1]):
            spans = [m.span() for m in re.finditer(r"-+", lines[at + 1])]
            rows = {}
            for row in lines[at + 2 :]:
                cells = _cut(row, spans)
                if cells[0] not in labels:
                    break
                rows[cells[0]] = dict(zip(header, cells))
            return rows
    raise AssertionError(f"no table with the columns {header} in:\n{output}")


def _cut(line: str, spans: list[tuple[int, int]]) -> list[str]:
    """The cells of a table line between the columns of the dashes (CJK characters are two columns wide)."""
    starts, column = [], 0
    for char in line:
        starts.append(column)
        column += 2 if unicodedata.east_asian_width(char) in "WF" else 1
    return ["".join(c for c, s in zip(line, starts) if begin <= s < end).strip() for begin, end in spans]


def numbers(row: dict[str, str], *columns: str) -> list[float]:
    """The cells of ``columns`` as numbers; each must be one."""
    assert all(NUMBER.fullmatch(row[c]) for c in columns), row
    return [float(row[c].rstrip("x%").replace(",", "")) for c in columns]


def test_corpus_writes_the_articles(tiny: tuple[Path, str]) -> None:
    folder, output = tiny
    line = re.fullmatch(r"100 articles \(jekyll, seed 1\) in (.+): ([\d.]+) MB of text \(.*\), 100 files, [\d.]+ s\n",
                        output)
    assert line and Path(line.group(1)) == folder and float(line.group(2)) > 0, output
    assert len(list(folder.rglob("*.md"))) == 100


def test_recall(env: dict[str, str], tiny: tuple[Path, str]) -> None:
    output = bench(env, "recall", tiny[0], "--per-kind", 3)
    assert re.search(r"^kind +n +recall +precision +perfect +plain jieba recall +precision$", output, re.M), output
    for kind in ("word 2-4", "single char", "phrase 5-8", "number/latin"):
        row = re.search(rf"^{re.escape(kind)} +(\d+) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)$", output, re.M)
        assert row, (kind, output)
        assert int(row.group(1)) == 3 and all(0 <= float(v) <= 1 for v in row.groups()[1:]), row.group()
    assert re.search(r"^index +build s +size MB +size/text$", output, re.M), output
    for index in ("newsearch", "plain jieba"):
        assert re.search(rf"^{index} +[\d.]+ +[\d.]+ +[\d.]+$", output, re.M), (index, output)


def test_dupes(env: dict[str, str], tiny: tuple[Path, str]) -> None:
    output = bench(env, "dupes", tiny[0], "--bases", 5)
    thresholds = ["0.30", "0.40", "0.50", "0.60", "0.70", "0.80"]
    pairs = table(output, ["threshold", "predicted pairs", "true among them", "precision", "recall"], thresholds)
    assert list(pairs) == thresholds
    for row in pairs.values():
        predicted, true, precision, recall = numbers(row, "predicted pairs", "true among them", "precision", "recall")
        assert 0 < true <= predicted and 0 < precision <= 1 and 0 < recall <= 1, row
    edits = ["retitled", "paragraph deleted", "paragraph added", "punctuation", "traditional", "retitled+deleted+punct"]
    found = table(output, ["edit", "copies", "found", "recall"], edits)
    assert "retitled" in found and "traditional" in found, output
    for row in found.values():
        copies, hits, recall = numbers(row, "copies", "found", "recall")
        assert 0 < copies <= 5 and hits <= copies and 0 <= recall <= 1, row


def test_baseline(env: dict[str, str], tiny: tuple[Path, str]) -> None:
    output = bench(env, "baseline", tiny[0], "--per-kind", 2)
    build = table(output, ["build", "articles", "text MB", "seconds", "MB/s", "parse s", "peak RSS MB", "tree RSS MB",
                           "index MB", "index/text"], ["stock, procs=1"])
    articles, seconds, peak, index = numbers(build["stock, procs=1"], "articles", "seconds", "peak RSS MB", "index MB")
    assert articles == 100 and seconds > 0 and peak > 0 and index > 0
    kinds = ["word", "two words", "phrase", "single char", "filtered", "date-sorted", "all"]
    queries = table(output, ["kind", "n", "p50 ms", "p95 ms", "max ms", "search p50", "search p95", "mean hits", "0 hits"],
                    kinds)
    assert list(queries) == kinds
    assert numbers(queries["all"], "n", "p50 ms", "max ms")[0] == 12
    assert all(numbers(row, "p50 ms", "p95 ms", "mean hits") for row in queries.values())


@pytest.mark.slow  # builds three indexes and times them: about 20 s
def test_run(env: dict[str, str], tmp_path: Path) -> None:
    output = bench(env, "run", "--articles", 100, "--workers", 1, "--per-kind", 2, "--out", tmp_path)
    builds = ["stock Whoosh+jieba, 1 writer", "newsearch, 1 worker", "newsearch, 1 worker, JSONL feeds"]
    build = table(output, ["build", "seconds", "MB/s", "vs stock", "peak PSS MB (tree)", "peak RSS MB (tree)",
                           "index MB", "index/text"], builds)
    assert list(build) == builds
    for row in build.values():
        assert all(v > 0 for v in numbers(row, "seconds", "MB/s", "vs stock", "peak PSS MB (tree)", "index MB")), row
    kinds = ["word", "two words", "phrase", "single char", "filtered", "date-sorted"]
    engines = ["stock", "newsearch, plain", "newsearch, default"]
    queries = table(output, ["engine", "p50", "p95", *(f"{k} p50" for k in kinds)], engines)
    assert list(queries) == engines
    for row in queries.values():
        assert all(v > 0 for v in numbers(row, "p50", "p95", *(f"{k} p50" for k in kinds))), row
    assert re.search(r"^JSONL feeds against files \(1 worker\): [\d.]+x the time, [\d.]+x the peak memory", output, re.M)
    assert re.search(r"^newsearch, 1 worker: merges after the run [\d.]+ s \(\d+% of the build\), ", output, re.M), output
    assert re.search(r"^Incremental: 1 changed files re-indexed in [\d.]+ s", output, re.M), output
    assert re.search(r"^cold start: .* printed in [\d.]+ s", output, re.M), output
    assert {p.name for p in tmp_path.iterdir()} == {"corpus-100-s1", "stock-100", "newsearch-100-w1", "feeds-100-s1",
                                                    "newsearch-100-w1-feeds"}


@pytest.mark.slow  # a server and its clients for seconds: about 15 s
def test_serve(env: dict[str, str], tmp_path: Path) -> None:
    output = bench(env, "serve", "--articles", 100, "--clients", 2, "--per-kind", 2, "--seconds", 1,
                   "--single-seconds", 1, "--baseline-seconds", 1, "--warmup", 0.5, "--out", tmp_path)
    runs = ["library in-process, serial (baseline)", "server, 1 client", "server, 2 clients"]
    throughput = table(output, ["run", "seconds", "requests", "req/s", "vs library", "errors", "server CPU %",
                                "client CPU %", "CPU ms/req", "p50 ms", "p95 ms", "p99 ms", "max ms"], runs)
    assert list(throughput) == runs
    for row in throughput.values():
        sent, rate, errors, p50 = numbers(row, "requests", "req/s", "errors", "p50 ms")
        assert sent > 0 and rate > 0 and errors == 0 and p50 > 0, row
    requests = ["search: word", "search: two words", "search: phrase", "search: single char", "search: filtered",
                "search: date-sorted", "search: all API", "of which page 2-5", "of which since=YEAR",
                "of which 0 hits", "page / (HTML)", "suggest", "article", "similar", "all requests"]
    latency = table(output, ["request", "share", "lib p50", "lib p95", "1c p50", "1c p95", "1c−lib p50", "2c n",
                             "2c p50", "2c p95", "2c p99", "2c max", "2c p50 / lib"], requests)
    assert list(latency) == requests
    assert numbers(latency["all requests"], "lib p50", "1c p50", "2c n", "2c p50", "2c max")[2] > 0
    assert numbers(latency["search: all API"], "lib p50", "1c p50", "2c p50")
    assert re.search(r"^server processes: .*exit code after SIGTERM: 0$", output, re.M), output
    assert re.search(r"^errors: 0 counted, 0 in priming/warm-up$", output, re.M), output
    assert {p.name for p in tmp_path.iterdir()} == {"corpus-100-s1", "serve-index-100-s1", "serve-index-100-s1.json"}


@pytest.mark.slow  # two builds and their searches, twice: about 15 s
def test_scale(env: dict[str, str], tmp_path: Path) -> None:
    output = bench(env, "scale", "--sizes", "60,120", "--workers", 1, "--per-kind", 2, "--out", tmp_path)
    headers = ["articles", "text MB", "build s", "s per MB", "MB/s", "peak PSS MB", "index/text", "segments",
               "default p50", "default p95", "plain p50", "plain p95", "中国 ms", "cold s"]
    rows = table(output, headers, ["60", "120"])
    assert list(rows) == ["60", "120"]
    for row in rows.values():
        assert all(v > 0 for v in numbers(row, *headers)), row
    laws = ["build s", "index MB", "peak PSS MB", "default p50 ms", "default p95 ms", "plain p95 ms", "中国 ms"]
    law = table(output, ["figure", "at 60", "at 120", "b", "arithmetic", "at 10,000,000"], laws)
    assert list(law) == laws
    for row in law.values():
        at_60, at_120, b, estimate = numbers(row, "at 60", "at 120", "b", "at 10,000,000")
        assert b == pytest.approx(math.log(at_120 / at_60, 2), abs=0.1)  # from figures printed rounded
        # b is printed rounded, and the estimate to two decimals (a figure that fell steeply is near 0)
        assert estimate == pytest.approx(at_120 * (10_000_000 / 120) ** b, rel=0.1, abs=0.01)
    assert sorted(p.name for p in tmp_path.glob("scale-*.json")) == ["scale-120.json", "scale-60.json"]
    again = bench(env, "scale", "--sizes", "60,120", "--reuse", "--out", tmp_path)  # no build: the figures kept
    assert table(again, headers, ["60", "120"]) == rows


@pytest.mark.slow  # a Dask scheduler and workers: about a minute
def test_cluster(env: dict[str, str], tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    output = bench(env, "cluster", "--articles", 150, "--workers", 1, "--shards", 2, "--per-kind", 2,
                   "--seconds", 1, "--clients", 2, "--out", tmp_path)
    builds = table(output, ["build", "workers", "seconds", "MB/s", "vs one index", "index/text"],
                   ["one index, 1 process per core", "1 shards on 1 workers"])
    assert len(builds) == 2 and all(NUMBER.fullmatch(row["seconds"]) for row in builds.values())
    searches = table(output, ["searched", "first p50", "warm p50", "warm p95", "added p50"],
                     ["one index, hits only", "one index, defaults", "2 shards, hits only", "2 shards, defaults"])
    assert len(searches) == 4
    bare = table(output, ["searched", "p50", "p95"], ["2 shards"])
    assert len(bare) == 1 and all(NUMBER.fullmatch(row["p50"]) and NUMBER.fullmatch(row["p95"]) for row in bare.values())
    made = table(output, ["completed", "made s", "p50 ms", "p95 ms", "stale_ok p50 ms", "stale_ok p95 ms"], ["one index", "2 shards"])
    assert len(made) == 2 and all(NUMBER.fullmatch(row["made s"]) and NUMBER.fullmatch(row["p50 ms"]) for row in made.values())
    servers = table(output, ["server", "requests", "req/s", "p50 ms", "p95 ms", "errors", "exit code"],
                    ["newsearch serve", "newsearch serve --cluster (2 shards)"])
    assert [row["errors"] for row in servers.values()] == ["0", "0"] and [row["exit code"] for row in servers.values()] == ["0", "0"]
