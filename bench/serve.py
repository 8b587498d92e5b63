"""Load test of ``newsearch serve`` on loopback: requests/s and latency under 1 and 20 clients,
against the library's own serial rate measured in the same run.

    python -m bench.serve        # 20,000 articles, 20 clients, 30 s: ~75 s, or ~2.5 min building corpus and index
    python -m bench.serve --articles 2000 --seconds 5 --single-seconds 3 --baseline-seconds 3   # quick
    python -m bench.serve --articles 100 --clients 2 --per-kind 2 --seconds 1 --single-seconds 1 \
        --baseline-seconds 1 --warmup 0.5 --out /tmp/b   # tiny: checks that it runs

Steps:

1. Corpus and index: the seeded corpus of real paragraphs (bench.corpus,
   cached in bench/out/corpus-N-sSEED like bench.run; ``--out`` moves the cache)
   and an index built once with ``python -m newsearch index`` (cached in
   bench/out/serve-index-N-sSEED, rebuilt when it does not open or holds
   another number of articles).
2. The request mix, drawn (seeded) before any clock starts from
   :func:`common.make_queries` (word, two words, phrase, single char, filtered
   by category, sorted by date) sampled from the corpus, article ids taken
   from the hits of those queries, and completion prefixes of query words:

   ==========================================  =====
   GET /api/search?q=… (facets and collapse     70 %
   on, the defaults; of these 20 % ask page=2-5,
   15 % add since=YEAR; the "filtered" kind has
   category=…, the "date-sorted" kind sort=-date)
   GET /?q=…  the HTML search page              10 %
   GET /api/suggest?q=…  (1-2 characters, 4      10 %
   letters of pinyin, or pinyin initials)
   GET /api/articles/{id}                        5 %
   GET /api/articles/{id}/similar                5 %
   ==========================================  =====

3. Baseline, in this process: the same mix through the library
   (``NewsIndex.open``; ``search``/``get``/``similar``/``suggest``, the call the
   handler makes: ``search`` already builds the snippets and facets), serially
   on one thread, after a warm-up; ``--baseline-seconds`` long.
4. The server as a real process (``python -m newsearch serve --port 0
   --no-access-log``), then clients in this process: asyncio with raw
   HTTP/1.1 keep-alive requests over asyncio streams (one connection per
   client, requests back to back).  A 1-client pass (``--single-seconds``)
   shows the cost of HTTP + JSON + templates per request without queueing;
   the ``--clients`` pass (``--seconds``) shows throughput and queueing.  Each
   pass has an uncounted warm-up (``--warmup`` seconds).  Every request's
   latency and status is recorded; a non-200 answer or an exception is an
   error.  The CPU time of the client process (``getrusage``) and of the
   server process (``/proc/PID/stat``) over each counted window is printed,
   to show the client does not starve the server of the 2 cores.
5. The server is stopped with SIGTERM and must exit 0.

Exit status 1 when any request failed or the server did not exit cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import random
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from newsearch import SearchRequest

from bench.common import (
    BENCH,
    QUERY_KINDS,
    _children_map,
    dir_size,
    latency_summary,
    machine,
    make_queries,
    print_table,
    stat_fields,
)
from bench.corpus import DEFAULT_SOURCE, cached_corpus

NEWSEARCH = [sys.executable, "-m", "newsearch"]

# Shares of the mix (they add up to 1).
MIX = {"search": 0.70, "page": 0.10, "suggest": 0.10, "article": 0.05, "similar": 0.05}
PAGE_2_5 = 0.20  # of the API searches: page 2..5
SINCE = 0.15  # of the API searches: since=YEAR
MIX_LENGTH = 5_000  # requests drawn; each pass walks them in a cycle


# --------------------------------------------------------------------------- corpus and index


def index_dir(corpus: Path, n: int, seed: int, out: Path) -> tuple[Path, float | None]:
    """The cached index of ``corpus`` in ``out`` (built now if missing or unusable) and the
    seconds its build took in this run (None when it was cached)."""
    from newsearch import NewsIndex

    index = out / f"serve-index-{n}-s{seed}"
    marker = out / f"serve-index-{n}-s{seed}.json"
    if marker.exists() and index.is_dir():
        try:
            ix = NewsIndex.open(index)
            count = len(ix)
            ix.close()
            if count == n:
                return index, None
            print(f"cached index {index} holds {count:,} articles, not {n:,}: rebuilding", flush=True)
        except Exception as exc:  # schema changed by a newer newsearch, damaged files, ...
            print(f"cached index {index} does not open ({type(exc).__name__}: {exc}): rebuilding", flush=True)
    if index.exists():
        shutil.rmtree(index)
    marker.unlink(missing_ok=True)
    print(f"indexing {corpus} into {index} ...", flush=True)
    started = time.perf_counter()
    done = subprocess.run([*NEWSEARCH, "index", "--index", str(index), str(corpus)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"bench.serve: `newsearch index` failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    marker.write_text(json.dumps({"articles": n, "seed": seed, "build_seconds": seconds}))
    return index, seconds


# --------------------------------------------------------------------------- the request mix


@dataclass(frozen=True)
class Request:
    kind: str  # row of the tables: "search: word", "page /", "suggest", "article", "similar"
    path: str  # path and query string of the HTTP request
    call: Callable[[Any], Any]  # the library call behind it, for the baseline
    paged: bool = False
    since: bool = False


def _search_call(q: str, category: list[str], since: str | None, sort: str, page: int) -> Callable[[Any], Any]:
    # The request the server builds from the same query string (its other fields at their defaults).
    request = SearchRequest(q, category=category, since=since, sort=sort, limit=10, offset=(page - 1) * 10)

    def call(ix: Any) -> Any:
        return ix.search(request)

    return call


def _search_path(path: str, q: dict, page: int, since: str | None) -> str:
    pairs = [("q", q["q"])]
    if q.get("category"):
        pairs.append(("category", q["category"]))
    if since:
        pairs.append(("since", since))
    if q.get("sort"):
        pairs.append(("sort", q["sort"]))
    if page > 1:
        pairs.append(("page", page))
    return path + "?" + urlencode(pairs)


def prefixes_of(queries: Sequence[dict]) -> list[str]:
    """Completion prefixes as typed: 1-2 characters, 4 letters of pinyin, pinyin initials."""
    from pypinyin import lazy_pinyin

    out: list[str] = []
    for q in queries:
        word = q["q"].strip('"').split()[0]
        if len(word) >= 2:
            syllables = lazy_pinyin(word)
            out += [word[:1], word[:2], "".join(syllables)[:4], "".join(s[0] for s in syllables)]
    return sorted(set(p for p in out if p))


def build_mix(queries: Sequence[dict], ids: Sequence[str], prefixes: Sequence[str], seed: int,
              length: int = MIX_LENGTH) -> list[Request]:
    rng = random.Random(f"newsearch-serve-mix/{seed}")
    kinds, weights = zip(*MIX.items())
    years = [str(y) for y in range(2015, 2024)]
    mix: list[Request] = []
    for _ in range(length):
        what = rng.choices(kinds, weights)[0]
        if what in ("search", "page"):
            q = rng.choice(queries)
            category = [q["category"]] if q.get("category") else []
            sort = q.get("sort", "relevance")
            page = rng.randint(2, 5) if what == "search" and rng.random() < PAGE_2_5 else 1
            since = rng.choice(years) if what == "search" and rng.random() < SINCE else None
            mix.append(Request(
                f"search: {q['kind']}" if what == "search" else "page / (HTML)",
                _search_path("/api/search" if what == "search" else "/", q, page, since),
                _search_call(q["q"], category, since, sort, page), paged=page > 1, since=since is not None))
        elif what == "suggest":
            prefix = rng.choice(prefixes)
            mix.append(Request("suggest", "/api/suggest?" + urlencode({"q": prefix}),
                               lambda ix, p=prefix: ix.suggest(p, limit=10)))
        else:
            article = rng.choice(ids)
            path = "/api/articles/" + quote(article, safe="")
            if what == "article":
                mix.append(Request("article", path, lambda ix, a=article: ix.get(a)))
            else:
                mix.append(Request("similar", path + "/similar", lambda ix, a=article: ix.similar(a, limit=10)))
    return mix


ROW_ORDER = [f"search: {k}" for k in QUERY_KINDS] + ["page / (HTML)", "suggest", "article", "similar"]


# --------------------------------------------------------------------------- baseline in this process


def run_baseline(ix: Any, mix: Sequence[Request], seconds: float, warmup: int = 300) -> dict:
    """The mix through the library, serially: latencies per request, and the rate."""
    for req in mix[-warmup:]:
        req.call(ix)
    gc.collect()
    records: list[tuple[Request, float, bool]] = []
    cpu0 = _self_cpu()
    started = time.perf_counter()
    deadline = started + seconds
    i = 0
    while time.perf_counter() < deadline:
        req = mix[i % len(mix)]
        i += 1
        t = time.perf_counter()
        found = req.call(ix)
        took = time.perf_counter() - t
        records.append((req, took, req.kind.startswith("search:") and found.total == 0))
    wall = time.perf_counter() - started
    return {"records": records, "wall": wall, "cpu": _self_cpu() - cpu0}


# --------------------------------------------------------------------------- the server process


_READY = re.compile(r"at (http://\S+/)")  # newsearch serve's line on stderr once it listens


@dataclass
class Server:
    """A ``newsearch serve`` process, where it listens, and every line of its stderr so far."""

    process: subprocess.Popen[str]
    host: str = ""
    port: int = 0
    log: list[str] = field(default_factory=list)


def start_server(index: Path, workers: int = 1, timeout: float = 120.0, extra: Sequence[str] = ()) -> Server:
    """``newsearch serve`` on a free loopback port (``--port 0``), once it says where it listens.

    The server prints that line when its socket already listens, so requests sent from
    then on wait in the backlog until it accepts them (the priming requests come first).
    A thread reads its stderr into ``Server.log`` for as long as it runs, so the pipe
    never fills up and blocks it.  Exits when it does not start within ``timeout`` seconds.
    """
    command = [*NEWSEARCH, "serve", "--index", str(index), "--port", "0", "--no-access-log",
               "--workers", str(workers), *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    server = Server(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env))
    listening = threading.Event()

    def read_stderr() -> None:
        for line in server.process.stderr:  # type: ignore[union-attr]
            server.log.append(line)
            found = _READY.search(line)
            if found and not listening.is_set():
                url = urlsplit(found.group(1))
                server.host, server.port = url.hostname or "", url.port or 80
                listening.set()
        listening.set()  # the process ended (without saying where it listens, if port is still 0)

    threading.Thread(target=read_stderr, daemon=True).start()
    if not listening.wait(timeout) or not server.port:
        stop_server(server, timeout=5.0)
        sys.exit("bench.serve: `newsearch serve` did not start:\n" + "".join(server.log))
    return server


def stop_server(server: Server, timeout: float = 30.0) -> int:
    """SIGTERM, and the exit code (which must be 0; -9 when it had to be killed after ``timeout`` s)."""
    server.process.send_signal(signal.SIGTERM)  # does nothing if it has already exited
    try:
        return server.process.wait(timeout)
    except subprocess.TimeoutExpired:
        server.process.kill()
        return server.process.wait()


_TICK = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the server's worker processes with --server-workers)."""
    kids = _children_map()
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(kids.get(found[-1], ()))
    return found


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its descendants (all their threads)."""
    total = 0.0
    for member in _tree(pid):
        fields = stat_fields(member)
        if fields:
            total += (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime: fields 14 and 15 of stat(5)
    return total


def process_memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) in MB, summed over ``pid`` and its descendants."""
    out = {"VmRSS": 0.0, "VmHWM": 0.0}
    for member in _tree(pid):
        try:
            with open(f"/proc/{member}/status", encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith(("VmRSS:", "VmHWM:")):
                        out[line.split(":")[0]] += int(line.split()[1]) * 1024 / 1e6
        except OSError:
            continue
    return out


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- the HTTP clients


@dataclass
class Result:
    req: Request
    start: float
    latency: float
    status: int  # 0: exception
    detail: str = ""
    zero: bool = False  # an API search that found nothing


class _Cycle:
    """The mix in order, shared by the clients (one event loop, so no lock)."""

    def __init__(self, mix: Sequence[Request], start: int = 0) -> None:
        self.mix, self.i = mix, start

    def next(self) -> Request:
        req = self.mix[self.i % len(self.mix)]
        self.i += 1
        return req


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, server wants to close) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = await reader.read()
        return status, body, True
    return status, body, headers.get("connection", "").lower() == "close"


async def _client(host: str, port: int, cycle: _Cycle, stop_at: float, results: list[Result],
                  limit: int | None = None) -> None:
    """Requests back to back over one keep-alive connection until ``stop_at`` (or ``limit`` requests)."""
    reader = writer = None
    host_header = f"{host}:{port}"
    sent = 0
    while time.perf_counter() < stop_at and (limit is None or sent < limit):
        sent += 1
        req = cycle.next()
        raw = (f"GET {req.path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: newsearch-bench\r\n"
               "Accept: */*\r\n\r\n").encode("ascii")
        start = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
            writer.write(raw)
            status, body, close = await _read_response(reader)  # type: ignore[arg-type]
            latency = time.perf_counter() - start
            detail = "" if status == 200 else body[:200].decode("utf-8", "replace")
            if status == 200 and not body:
                status, detail = -1, "empty body"
            zero = status == 200 and req.kind.startswith("search:") and b',"total":0,' in body[:600]
            results.append(Result(req, start, latency, status, detail, zero))
            if close:
                writer.close()
                reader = writer = None
        except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
            results.append(Result(req, start, time.perf_counter() - start, 0, f"{type(exc).__name__}: {exc}"))
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def _load(server: Server, mix: Sequence[Request], clients: int, warmup: float, seconds: float,
                offset: int) -> dict:
    cycle = _Cycle(mix, offset)
    results: list[Result] = []
    now = time.perf_counter()
    begin, stop_at = now + warmup, now + warmup + seconds
    cpu: dict[str, float] = {}

    async def sample() -> None:
        await asyncio.sleep(max(0.0, begin - time.perf_counter()))
        cpu["client0"], cpu["server0"], cpu["t0"] = _self_cpu(), process_cpu(server.process.pid), time.perf_counter()
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        cpu["client1"], cpu["server1"], cpu["t1"] = _self_cpu(), process_cpu(server.process.pid), time.perf_counter()

    await asyncio.gather(sample(), *(_client(server.host, server.port, cycle, stop_at, results) for _ in range(clients)))
    counted = [r for r in results if begin <= r.start < stop_at]
    window = cpu["t1"] - cpu["t0"]
    return {
        "results": counted,
        "window": window,
        "client_cpu": cpu["client1"] - cpu["client0"],
        "server_cpu": cpu["server1"] - cpu["server0"],
        "clients": clients,
        "warmup_errors": [r for r in results if r.start < begin and r.status != 200],
    }


def run_load(server: Server, mix: Sequence[Request], clients: int, warmup: float, seconds: float,
             offset: int = 0) -> dict:
    gc.collect()
    gc.disable()  # the client's own collections would show up as latency
    try:
        return asyncio.run(_load(server, mix, clients, warmup, seconds, offset))
    finally:
        gc.enable()


async def _client_once(host: str, port: int, req: Request) -> Result:
    results: list[Result] = []
    await _client(host, port, _Cycle([req]), math.inf, results, limit=1)
    return results[0] if results else Result(req, 0.0, 0.0, 0, "not sent")


# --------------------------------------------------------------------------- report


def _ms(values: Sequence[float]) -> dict[str, float]:
    return latency_summary(values)


def _by_kind(records: Sequence[tuple[Request, float, bool]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for req, latency, zero in records:
        out.setdefault(req.kind, []).append(latency)
        if req.kind.startswith("search:"):
            out.setdefault("search: all API", []).append(latency)
            if req.paged:
                out.setdefault("  of which page 2-5", []).append(latency)
            if req.since:
                out.setdefault("  of which since=YEAR", []).append(latency)
            if zero:
                out.setdefault("  of which 0 hits", []).append(latency)
        out.setdefault("all requests", []).append(latency)
    return out


def _show_errors(name: str, results: Sequence[Result], limit: int = 5) -> None:
    bad = [r for r in results if r.status != 200]
    if not bad:
        return
    print(f"\n{name}: {len(bad)} errors; the first {min(limit, len(bad))}:")
    for r in bad[:limit]:
        print(f"  {r.status or 'exception'} GET {r.req.path} after {r.latency * 1000:.0f} ms: {r.detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000, help="articles in the generated corpus")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients of the main pass")
    parser.add_argument("--seconds", type=float, default=30.0, help="counted seconds of the main pass")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (and of the request mix)")
    parser.add_argument("--warmup", type=float, default=5.0, help="uncounted seconds before each pass")
    parser.add_argument("--single-seconds", type=float, default=10.0, help="counted seconds of the 1-client pass")
    parser.add_argument("--baseline-seconds", type=float, default=15.0, help="seconds of the in-process baseline")
    parser.add_argument("--per-kind", type=int, default=30, help="queries of each kind in the mix")
    parser.add_argument("--server-workers", type=int, default=1, help="newsearch serve --workers")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--out", type=Path, default=BENCH / "out",
                        help="folder of the generated corpus and the index, kept between runs (default bench/out)")
    args = parser.parse_args()
    command_started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)

    if not DEFAULT_SOURCE.is_dir():
        sys.exit(f"bench.serve: the real corpus is missing at {DEFAULT_SOURCE} (bench.corpus reads it)")

    print("command: " + shlex.join([Path(sys.executable).name, "-m", "bench.serve", *sys.argv[1:]]))
    print(f"machine: {machine()}")
    corpus, mb = cached_corpus(args.articles, args.seed, args.out)
    index, built = index_dir(corpus, args.articles, args.seed, args.out)
    print(f"corpus: {corpus} — {args.articles:,} articles, {mb:.1f} MB of text")
    print(f"index: {index} — {dir_size(index) / 1e6:.1f} MB"
          + (f", built in this run in {built:.1f} s" if built is not None else " (cached)"))

    # ---------------------------------------------------------------- the mix, before any clock
    from newsearch import NewsIndex

    queries = make_queries(per_kind=args.per_kind, corpus_seed=args.seed, sample=min(2_000, args.articles))
    ix = NewsIndex.open(index)
    ids: list[str] = []
    for q in queries:  # the hits a reader would open; also warms the library up
        hits = ix.search(q["q"], category=q.get("category"), sort=q.get("sort", "relevance")).hits
        ids += [h.id for h in hits]
    ids = sorted(set(ids))
    if not ids:
        sys.exit("bench.serve: the queries found nothing in the index; is it empty?")
    mix = build_mix(queries, ids, prefixes_of(queries), args.seed)
    shares = {k: sum(r.kind == k for r in mix) / len(mix) for k in ROW_ORDER}
    print(f"mix: {len(queries)} queries ({args.per_kind} of each kind), {len(ids):,} article ids from their hits, "
          f"{len(prefixes_of(queries))} completion prefixes; {len(mix):,} requests drawn, walked in a cycle:")
    print("  70% /api/search (facets+collapse, the defaults; 20% of them page=2-5, 15% since=YEAR), "
          "10% / (HTML page), 10% /api/suggest, 5% /api/articles/{id}, 5% /api/articles/{id}/similar")

    # ---------------------------------------------------------------- baseline: the library, serially
    base = run_baseline(ix, mix, args.baseline_seconds)
    ix.close()
    del ix
    gc.collect()
    base_rps = len(base["records"]) / base["wall"]
    base_kinds = {k: _ms(v) for k, v in _by_kind(base["records"]).items()}

    # ---------------------------------------------------------------- the server
    server = start_server(index, args.server_workers)
    processes = "one process" if args.server_workers == 1 else f"{args.server_workers} worker processes"
    print(f"server: pid {server.process.pid} at http://{server.host}:{server.port}/ "
          f"(uvicorn, {processes}; started by this run)", flush=True)
    try:
        primed = prime_server(server, mix)
        single = run_load(server, mix, 1, min(args.warmup, 3.0), args.single_seconds, offset=len(mix) // 3)
        loaded = run_load(server, mix, args.clients, args.warmup, args.seconds, offset=0)
        memory = process_memory(server.process.pid)
    finally:  # never leave the server running, even when a pass fails
        code = stop_server(server)

    # ---------------------------------------------------------------- report
    def throughput_row(name: str, run: dict) -> list:
        res = run["results"]
        rps = len(res) / run["window"]
        lat = _ms([r.latency for r in res])
        errors = sum(r.status != 200 for r in res)
        return [name, run["window"], len(res), rps, f"{rps / base_rps:.2f}x", errors,
                100 * run["server_cpu"] / run["window"], 100 * run["client_cpu"] / run["window"],
                1000 * run["server_cpu"] / max(1, len(res)), lat["p50"], lat["p95"], lat["p99"], lat["max"]]

    print()
    print_table(
        ["run", "seconds", "requests", "req/s", "vs library", "errors", "server CPU %", "client CPU %",
         "CPU ms/req", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [
            ["library in-process, serial (baseline)", base["wall"], len(base["records"]), base_rps, "1.00x", 0,
             math.nan, 100 * base["cpu"] / base["wall"], 1000 * base["cpu"] / len(base["records"])]
            + [base_kinds["all requests"][k] for k in ("p50", "p95", "p99", "max")],
            throughput_row("server, 1 client", single),
            throughput_row(f"server, {args.clients} clients", loaded),
        ],
        digits=1,
        title="Throughput (CPU % of one core over the counted window, the machine has "
              f"{os.cpu_count()} cores; 'client' is this process; CPU ms/req: the server's, the library's "
              "for the baseline)",
    )

    single_kinds = {k: _ms(v) for k, v in _by_kind([(r.req, r.latency, r.zero) for r in single["results"]]).items()}
    load_kinds = {k: _ms(v) for k, v in _by_kind([(r.req, r.latency, r.zero) for r in loaded["results"]]).items()}
    rows = []
    order = ROW_ORDER[:len(QUERY_KINDS)] + ["search: all API", "  of which page 2-5", "  of which since=YEAR", "  of which 0 hits"] \
        + ROW_ORDER[len(QUERY_KINDS):] + ["all requests"]
    nan = {"n": 0, "p50": math.nan, "p95": math.nan, "p99": math.nan, "max": math.nan, "mean": math.nan}
    for kind in order:
        b, s, lo = base_kinds.get(kind, nan), single_kinds.get(kind, nan), load_kinds.get(kind, nan)
        share = shares.get(kind)
        few = min(b["n"], s["n"]) < 20  # too few to compare medians of different requests
        rows.append([kind, f"{100 * share:.0f}%" if share is not None else "", b["p50"], b["p95"], s["p50"], s["p95"],
                     math.nan if few else s["p50"] - b["p50"], lo["n"], lo["p50"], lo["p95"], lo["p99"], lo["max"],
                     f"{lo['p50'] / b['p50']:.1f}x" if b["p50"] and not math.isnan(lo["p50"]) else "-"])
    print()
    print_table(
        ["request", "share", "lib p50", "lib p95", "1c p50", "1c p95", "1c−lib p50", f"{args.clients}c n",
         f"{args.clients}c p50", f"{args.clients}c p95", f"{args.clients}c p99", f"{args.clients}c max",
         f"{args.clients}c p50 / lib"],
        rows, digits=1,
        title="Latency per request kind, ms: lib = the library call in-process, serially; 1c = server, 1 client; "
              f"{args.clients}c = server, {args.clients} clients",
    )

    mean_load = sum(r.latency for r in loaded["results"]) / max(1, len(loaded["results"]))
    print(f"\nserver processes: peak RSS {memory.get('VmHWM', math.nan):.0f} MB, RSS at the end "
          f"{memory.get('VmRSS', math.nan):.0f} MB; exit code after SIGTERM: {code}")
    print(f"queueing: with {args.clients} clients, mean latency {mean_load * 1000:.1f} ms ≈ clients / req/s = "
          f"{args.clients / (len(loaded['results']) / loaded['window']) * 1000:.1f} ms (Little's law); "
          f"library mean per request {1000 / base_rps:.1f} ms")
    slowest = sorted(loaded["results"], key=lambda r: r.latency, reverse=True)[:5]
    print(f"slowest requests with {args.clients} clients: "
          + "; ".join(f"{r.latency * 1000:.0f} ms {r.req.kind}{' (0 hits)' if r.zero else ''} {unquote(r.req.path)}"
                      for r in slowest))
    zero = [r for r in loaded["results"] if r.zero]
    if zero:
        print(f"  {len(zero)} counted API searches found nothing; they took "
              + ", ".join(f"{r.latency * 1000:.0f}" for r in zero) + " ms (the library: "
              + ", ".join(f"{t * 1000:.0f}" for _q, t, z in base["records"] if z) + " ms)")
    priming_bad = [r for r in primed if r.status != 200]
    all_errors = [r for run in (single, loaded) for r in run["results"] if r.status != 200]
    warm_errors = single["warmup_errors"] + loaded["warmup_errors"] + priming_bad
    _show_errors("priming and warm-up", warm_errors)
    _show_errors("1 client", single["results"])
    _show_errors(f"{args.clients} clients", loaded["results"])
    print(f"errors: {len(all_errors)} counted, {len(warm_errors)} in priming/warm-up")
    tracebacks = [line for line in server.log if "Traceback" in line or "ERROR" in line]
    if tracebacks:
        print(f"server log: {len(tracebacks)} error lines; the last 40 lines of its log:")
        print("".join(server.log[-40:]), end="")
    elapsed = time.perf_counter() - command_started
    print(f"whole command: {elapsed:.0f} s")

    if args.json:
        figures = {
            "machine": machine(), "articles": args.articles, "text_mb": mb, "index_mb": dir_size(index) / 1e6,
            "baseline_rps": base_rps, "baseline": base_kinds,
            "single": {"rps": len(single["results"]) / single["window"], "kinds": single_kinds,
                       "server_cpu": single["server_cpu"], "client_cpu": single["client_cpu"]},
            "loaded": {"clients": args.clients, "rps": len(loaded["results"]) / loaded["window"], "kinds": load_kinds,
                       "server_cpu": loaded["server_cpu"], "client_cpu": loaded["client_cpu"]},
            "errors": len(all_errors), "server_exit": code, "server_memory_mb": memory, "seconds": elapsed,
        }
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False, default=str))
    if all_errors or warm_errors or code != 0:
        sys.exit(1)


def prime_server(server: Server, mix: Sequence[Request]) -> list[Result]:
    """One request of each kind, serially, before any pass: the server's first
    suggest loads (or prepares) the completions."""
    first: dict[str, Request] = {}
    for req in mix:
        first.setdefault(req.kind, req)

    async def go() -> list[Result]:
        return [await _client_once(server.host, server.port, req) for req in first.values()]

    return asyncio.run(go())


if __name__ == "__main__":
    main()
