"""An archive in shards on a Dask cluster on this machine: build throughput, the latency
that fan-out adds to a search, and throughput through ``newsearch serve --cluster``,
each against one index of the same articles measured in the same run.

    python -m bench.cluster                                   # 20,000 articles
    python -m bench.cluster --articles 100000 --workers 2 --out /tmp/b
    python -m bench.cluster --articles 100000 --workers 2 --out /tmp/b --reuse  # searches again
    python -m bench.cluster --articles 100 --workers 1 --shards 2 --per-kind 2 \\
        --seconds 1 --out /tmp/b                              # tiny: checks that it runs

Steps:

1. The seeded corpus (bench.corpus, cached in ``--out``), indexed with
   ``newsearch index`` into one index: the baseline.
2. A scheduler (``dask scheduler``) and workers (``dask worker --nthreads 1``) on
   127.0.0.1, as processes of their own; for each ``--workers`` count W, the corpus
   indexed into W shards with ``newsearch index --cluster --shards W`` (each shard
   on a worker, one analysis process each), timed as a command.
3. For each ``--shards`` count S (built on the most workers): the queries of
   bench.common (six kinds), through the library on the index and on the shards,
   with hits only and with the defaults (facets, near-duplicates collapsed). A
   first pass asks each query once (the shards gather its statistics); three
   warm passes follow, as bench.run measures. The added latency is the shards'
   p50 minus the index's. And a bare round: a ping to every worker's actor.
4. Completions: made from nothing (their saved files and each segment's kept
   counts removed) on the index and on
   the shards (the shards' workers count their titles, the client makes them), then
   ``suggest`` of bench.serve's prefixes, the index and the shards taking turns,
   as the library asks (the shards' states first) and as a server does (``stale_ok``).
5. ``newsearch serve --cluster`` (one server process) and ``newsearch serve`` on
   the index, each loaded by ``--clients`` clients for ``--seconds`` with
   bench.serve's request mix.
"""

from __future__ import annotations

import argparse
import gc
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import BENCH, dir_size, machine, make_queries, measure_command, percentile, print_table
from bench.corpus import DEFAULT_SOURCE, cached_corpus

NEWSEARCH = [sys.executable, "-m", "newsearch"]
ROUNDS = 3


class Cluster:
    """A scheduler and ``workers`` workers on 127.0.0.1, each a process."""

    def __init__(self, folder: Path, workers: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        log = (folder / "scheduler.log").open("wb")
        self.processes = [subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
            stdout=log, stderr=subprocess.STDOUT)]
        deadline = time.monotonic() + 60
        while True:
            found = re.search(r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)", (folder / "scheduler.log").read_text(errors="replace"))
            if found:
                self.address = found.group(1)
                break
            if time.monotonic() > deadline:
                sys.exit("bench.cluster: the scheduler did not start")
            time.sleep(0.2)
        for number in range(workers):
            worker_log = (folder / f"w{number}.log").open("wb")
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--name", f"w{number}",
                 "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard",
                 "--local-directory", str(folder / f"w{number}")],
                stdout=worker_log, stderr=subprocess.STDOUT))
        from distributed import Client

        with Client(self.address, set_as_default=False, timeout=30) as client:
            client.wait_for_workers(workers, timeout=60)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.send_signal(signal.SIGKILL)
            process.wait()


def build(argv: list[str], index: Path, *, sharded: bool = False) -> dict[str, Any]:
    if index.exists():
        shutil.rmtree(index)
    if sharded:  # a worker is a core: one analysis process per shard
        index.mkdir(parents=True)
        (index / "newsearch.toml").write_text("[indexing]\nworkers = 1\n", encoding="utf-8")
    stats = measure_command(["sh", "-c", 'exec "$@" >/dev/null', "sh", *argv])
    stats["index_mb"] = dir_size(index) / 1e6
    return stats


def paired(indexes: list[Any], queries: list[dict[str, str]], *, defaults: bool) -> tuple[list[list[float]], list[list[float]]]:
    """(first pass, warm passes) in milliseconds of each of ``indexes``, which take turns
    query by query: a burst of load on this shared machine falls on all of them."""
    options = {} if defaults else {"facets": False, "collapse": False}

    def once(ix: Any, q: dict[str, str]) -> float:
        started = time.perf_counter()
        ix.search(q["q"], category=q.get("category") or (), sort=q.get("sort", "relevance"), **options)
        return (time.perf_counter() - started) * 1000

    first: list[list[float]] = [[] for _ in indexes]
    warm: list[list[float]] = [[] for _ in indexes]
    for q in queries:
        for times, ix in zip(first, indexes):
            times.append(once(ix, q))
    gc.collect()
    for _ in range(ROUNDS):
        for q in queries:
            for times, ix in zip(warm, indexes):
                times.append(once(ix, q))
    return first, warm


BARE_ROUNDS = 300


def bare_rounds(sharded: Any) -> tuple[float, float]:
    """(p50, p95) ms of a round to every worker that does nothing (a ping): what each
    round of a search costs before any work."""
    spent = []
    for _ in range(BARE_ROUNDS):
        started = time.perf_counter()
        sharded.verify()
        spent.append((time.perf_counter() - started) * 1000)
    return percentile(spent, 50), percentile(spent, 95)


def completions(indexes: list[tuple[str, Any, Path]], prefixes: list[str]) -> list[list[Any]]:
    """Rows (name, seconds to make them, p50 and p95 ms of a completion, and of one with
    ``stale_ok`` as a server asks) for each of ``indexes`` (name, opened index, the
    folder where it saves its completions)."""
    rows = []
    for name, ix, folder in indexes:
        for pattern in ("suggest-*.bin", "titles-*.counts"):  # (the completions, and each segment's counts: the shards' too)
            for saved in folder.rglob(pattern):
                saved.unlink()
        started = time.perf_counter()
        ix.suggest("", limit=1)
        rows.append([name, time.perf_counter() - started])
    for stale_ok in (False, True):
        times: list[list[float]] = [[] for _ in indexes]
        for _ in range(ROUNDS):
            for prefix in prefixes:
                for spent, (_name, ix, _folder) in zip(times, indexes):
                    started = time.perf_counter()
                    ix.suggest(prefix, stale_ok=stale_ok)
                    spent.append((time.perf_counter() - started) * 1000)
        for row, spent in zip(rows, times):
            row += [percentile(spent, 50), percentile(spent, 95)]
    return rows


def serve_load(index: Path, cluster: str | None, clients: int, seconds: float, per_kind: int, seed: int) -> dict[str, Any]:
    """bench.serve's mix through ``newsearch serve`` (with ``--cluster``) for ``seconds``."""
    from newsearch import NewsIndex

    from bench import serve

    queries = make_queries(per_kind=per_kind, corpus_seed=seed, sample=2_000)
    ix = NewsIndex.open(index, cluster=cluster) if cluster else NewsIndex.open(index)
    ids = sorted({h.id for q in queries for h in ix.search(q["q"], category=q.get("category") or ()).hits})
    ix.close()
    mix = serve.build_mix(queries, ids, serve.prefixes_of(queries), seed)
    server = serve.start_server(index, 1, extra=["--cluster", cluster] if cluster else [])
    try:
        serve.prime_server(server, mix)
        run = serve.run_load(server, mix, clients, min(3.0, seconds), seconds, offset=0)
    finally:
        code = serve.stop_server(server)
    results = run["results"]
    ok = [r.latency * 1000 for r in results if r.status == 200]
    return {
        "requests": len(results), "rps": len(results) / run["window"], "errors": len(results) - len(ok),
        "p50": percentile(ok, 50), "p95": percentile(ok, 95), "exit": code,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--workers", default="1,2", help="worker counts to build with (as many shards as workers)")
    parser.add_argument("--shards", default="2,4", help="shard counts to measure searches on (built with the most workers)")
    parser.add_argument("--per-kind", type=int, default=20, help="queries of each of the six kinds")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0, help="counted seconds of each load pass")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=BENCH / "out", help="corpus cache and indexes")
    parser.add_argument("--reuse", action="store_true", help="search the index and shards an earlier run built in --out (their builds are not timed again)")
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    shard_counts = [int(s) for s in args.shards.split(",")]
    if not DEFAULT_SOURCE.is_dir():
        sys.exit(f"bench.cluster: the real corpus is missing at {DEFAULT_SOURCE} (bench.corpus reads it)")
    args.out.mkdir(parents=True, exist_ok=True)
    print("command: " + shlex.join([Path(sys.executable).name, "-m", "bench.cluster", *(argv if argv is not None else sys.argv[1:])]))
    print(f"machine: {machine()}")
    corpus, mb = cached_corpus(args.articles, args.seed, args.out)
    print(f"corpus: {corpus} — {args.articles:,} articles, {mb:.1f} MB of text", flush=True)
    work = args.out / f"cluster-{args.articles}"
    work.mkdir(exist_ok=True)

    # ---------------------------------------------------------------- builds
    one = work / "index"
    rows = []
    built: dict[int, Path] = {}
    if args.reuse:
        built = {count: work / f"shards-{count}" for count in set(workers) | set(shard_counts) if (work / f"shards-{count}" / "cluster.json").is_file()}
        if not any(one.glob("*.toc")):
            sys.exit(f"bench.cluster: --reuse, but {one} holds no index")
        print(f"\nReused, not built again: {one} and the shards in {', '.join(str(p) for p in built.values()) or '(none)'}")
    else:
        local = build([*NEWSEARCH, "index", "--index", str(one), str(corpus)], one)
        rows.append(["one index, 1 process per core", "-", local["wall_seconds"], mb / local["wall_seconds"], 1.0, local["index_mb"] / mb])
    for count in [] if args.reuse else sorted(set(workers)):
        cluster = Cluster(work / f"dask-{count}", count)
        try:
            folder = work / f"shards-{count}"
            stats = build([*NEWSEARCH, "index", "--cluster", cluster.address, "--shards", str(count), "--index", str(folder), str(corpus)],
                          folder, sharded=True)
        finally:
            cluster.stop()
        built[count] = folder
        rows.append([f"{count} shards on {count} workers", count, stats["wall_seconds"], mb / stats["wall_seconds"],
                     local["wall_seconds"] / stats["wall_seconds"], stats["index_mb"] / mb])
    if rows:
        print("\nBuild (wall seconds; the workers index one shard each, with one analysis process):")
        print_table(["build", "workers", "seconds", "MB/s", "vs one index", "index/text"], rows, digits=2)

    # ---------------------------------------------------------------- searches
    from newsearch import NewsIndex

    queries = make_queries(per_kind=args.per_kind, corpus_seed=args.seed, sample=min(2_000, args.articles))
    most = max(workers)
    cluster = Cluster(work / "dask-search", most)
    try:
        for count in shard_counts:
            if count not in built:
                folder = work / f"shards-{count}"
                build([*NEWSEARCH, "index", "--cluster", cluster.address, "--shards", str(count), "--index", str(folder), str(corpus)],
                      folder, sharded=True)
                built[count] = folder
        ix = NewsIndex.open(one)
        rows = []
        bare = []
        for count in shard_counts:
            sharded = NewsIndex.open(built[count], cluster=cluster.address)
            bare.append([f"{count} shards", *bare_rounds(sharded)])
            for defaults in (False, True):
                kind = "defaults" if defaults else "hits only"
                (first_one, first), (warm_one, warm) = paired([ix, sharded], queries, defaults=defaults)
                added = percentile(warm, 50) - percentile(warm_one, 50)
                rows.append([f"one index, {kind}", percentile(first_one, 50), percentile(warm_one, 50), percentile(warm_one, 95), "-"])
                rows.append([f"{count} shards, {kind}", percentile(first, 50), percentile(warm, 50), percentile(warm, 95), added])
            sharded.close()
        print(f"\nSearches ({len(queries)} queries of six kinds, top 10 with snippets; ms; the index and the shards "
              f"take turns query by query; first pass: each query once, the shards gathering its statistics; "
              f"warm: {ROUNDS} more passes; added: the shards' warm p50 minus the index's in the same passes):")
        print_table(["searched", "first p50", "warm p50", "warm p95", "added p50"], rows, digits=1)
        print(f"\nA bare round ({BARE_ROUNDS} x ClusterIndex.verify: a ping to every shard, one call to each worker's actor; ms):")
        print_table(["searched", "p50", "p95"], bare, digits=2)

        # ------------------------------------------------------------ completions
        from bench.serve import prefixes_of

        prefixes = prefixes_of(queries)
        opened = [(f"{count} shards", NewsIndex.open(built[count], cluster=cluster.address), built[count]) for count in shard_counts]
        rows = completions([("one index", ix, one), *opened], prefixes)
        for _name, sharded, _folder in opened:
            sharded.close()
        ix.close()
        print(f"\nCompletions (made: the first completion with none saved, seconds; then {len(prefixes)} prefixes "
              f"x {ROUNDS}, ms, taking turns; stale_ok: as a server asks, answered from those made before while "
              f"the shards' states are asked aside):")
        print_table(["completed", "made s", "p50 ms", "p95 ms", "stale_ok p50 ms", "stale_ok p95 ms"], rows, digits=2)

        # ------------------------------------------------------------ serve
        rows = []
        for name, index, address in (("newsearch serve", one, None), (f"newsearch serve --cluster ({shard_counts[0]} shards)", built[shard_counts[0]], cluster.address)):
            found = serve_load(index, address, args.clients, args.seconds, max(2, args.per_kind // 2), args.seed)
            rows.append([name, found["requests"], found["rps"], found["p50"], found["p95"], found["errors"], found["exit"]])
        print(f"\nThrough the server ({args.clients} clients, {args.seconds:.0f} s, bench.serve's request mix, one server process):")
        print_table(["server", "requests", "req/s", "p50 ms", "p95 ms", "errors", "exit code"], rows, digits=1)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
