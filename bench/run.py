"""The standard performance run: newsearch against the stock Whoosh + jieba recipe, same machine, same run.

    python -m bench.run                      # 20,000 articles (≈65 MB), under 15 minutes
    python -m bench.run --articles 100000 --skip-stock
    python -m bench.run --articles 1000000 --skip-stock --workers 2
    python -m bench.run --articles 100000 --skip-stock --queries-only --previous REV   # queries before and after a change
    python -m bench.run --articles 100 --workers 1 --per-kind 2 --out /tmp/b   # tiny: checks that it runs

Generates (once, cached in bench/out/ or --out) a seeded corpus of real paragraphs,
then measures, each as a fresh process:

* builds: the stock recipe (one writer) and newsearch with 1 and 2 worker
  processes — seconds, MB of text per second, peak memory of the process
  tree, index size against the text; and newsearch with the most workers on
  the same articles written as JSON Lines feeds of 10,000 lines, against the
  build from files;
* an incremental run after changing 1% of the files (restored afterwards);
* warm query latency over the mixed query set (top 10 with highlighted
  snippets), per kind, and a query matching much of the archive (中国);
* cold start: ``newsearch search`` as a new process until its output is printed.

Prints tables with ratios against the stock recipe measured in this run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import baseline
from bench.common import (
    BENCH,
    REPO,
    QUERY_KINDS,
    dir_size,
    latency_summary,
    machine,
    make_queries,
    measure_command,
    print_table,
)
from bench.corpus import cached_corpus, cached_feeds
from newsearch.config import IndexingConfig

NEWSEARCH = [sys.executable, "-m", "newsearch"]


def build_newsearch(corpus: Path, index: Path, workers: int, memory_mb: int) -> dict:
    if index.exists():
        shutil.rmtree(index)
    index.mkdir(parents=True)
    (index / "newsearch.toml").write_text(f"[indexing]\nworkers = {workers}\nmemory_mb = {memory_mb}\n")
    report = index.parent / f"{index.name}.report.json"
    stats = measure_command(["sh", "-c", 'exec "$@" > "$0"', str(report),
                             *NEWSEARCH, "index", "--json", "--index", str(index), str(corpus)])
    stats["index_mb"] = dir_size(index) / 1e6
    merge = json.loads(report.read_text()).get("merge") or {}
    stats["merge_seconds"] = merge.get("seconds", 0.0)
    stats["merge_share"] = stats["merge_seconds"] / stats["wall_seconds"]
    stats["segments"] = merge.get("into") or None
    report.unlink()
    return stats


def _quiet(argv: list[str]) -> list[str]:
    """``argv`` with its standard output discarded (the tables are the output here)."""
    return ["sh", "-c", 'exec "$@" >/dev/null', "sh", *argv]


def build_stock(corpus: Path, index: Path) -> dict:
    if index.exists():
        shutil.rmtree(index)
    stats = baseline.build_stock(corpus, index)
    stats["wall_seconds"] = stats["seconds"]
    stats["peak_tree_rss_mb"] = stats.get("peak_tree_rss_mb") or stats["peak_rss_mb"]
    stats["peak_tree_pss_mb"] = stats.get("peak_tree_pss_mb") or stats["peak_tree_rss_mb"]
    return stats


def incremental(corpus: Path, index: Path, share: float = 0.01) -> dict:
    files = sorted(p for p in corpus.rglob("*.md"))
    step = max(1, round(1 / share))
    changed = files[::step]
    originals = {p: p.read_bytes() for p in changed}
    try:
        for p in changed:
            p.write_bytes(originals[p] + "\n\n本文已更新。\n".encode())
        stats = measure_command(_quiet([*NEWSEARCH, "index", "--index", str(index), str(corpus)]))
    finally:
        for p, data in originals.items():
            p.write_bytes(data)
    stats["changed_files"] = len(changed)
    # Bring the index back in line with the restored files.
    subprocess.run([*NEWSEARCH, "index", "--index", str(index), str(corpus)], capture_output=True, check=False)
    return stats


# Top 10 with snippets, as in issue targets; and what `newsearch search` does by default,
# with facets over all matches and near-duplicates collapsed.  Alternated query by query.
VARIANTS = {"plain": {"facets": False, "collapse": False}, "default": {}}


def query_newsearch(index: Path, queries: list[dict], rounds: int = 3) -> dict:
    from newsearch import NewsIndex

    ix = NewsIndex.open(index)
    per_kind = {v: {k: [] for k in QUERY_KINDS} for v in VARIANTS}
    everything: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for q in queries:  # warm-up: open files, fill caches
        for options in VARIANTS.values():
            ix.search(q["q"], category=q.get("category"), sort=q.get("sort", "relevance"), **options)
    for _ in range(rounds):
        for q in queries:
            for variant, options in VARIANTS.items():
                t = time.perf_counter()
                results = ix.search(q["q"], category=q.get("category"), sort=q.get("sort", "relevance"), **options)
                for hit in results.hits:
                    hit.snippet.html()
                took = time.perf_counter() - t
                per_kind[variant][q["kind"]].append(took)
                everything[variant].append(took)
    out: dict = {}
    for variant, options in VARIANTS.items():
        broad = []
        for _ in range(5):
            t = time.perf_counter()
            r = ix.search("中国", **options)
            broad.append(time.perf_counter() - t)
        out[variant] = {"all": latency_summary(everything[variant]),
                        "kinds": {k: latency_summary(v) for k, v in per_kind[variant].items() if v},
                        "broad_ms": statistics.median(broad) * 1000, "broad_total": r.total}
    return out


_CHILD = """
import json, sys
if sys.argv[1]:
    sys.path.insert(0, sys.argv[1])  # the newsearch of another revision, before this checkout's
from bench.run import query_newsearch
result = query_newsearch(sys.argv[2], json.loads(sys.argv[3]), rounds=int(sys.argv[4]))
print(json.dumps(result))
"""


def query_in_child(index: Path, queries: list[dict], source: Path | None, rounds: int) -> dict:
    """:func:`query_newsearch` in a fresh process, with newsearch from ``source`` (an
    unpacked revision) or from this checkout."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(source or ""), str(index), json.dumps(queries, ensure_ascii=False), str(rounds)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"query run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def unpack_revision(rev: str, folder: Path) -> Path:
    """newsearch as it was at ``rev`` (``git archive``), unpacked into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev, "newsearch"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def compare_with_previous(index: Path, queries: list[dict], rev: str, out: Path) -> None:
    """The query set on this checkout and on ``rev``, each in processes of their own,
    alternated (previous, this, previous, this) so that the machine's drift hits both."""
    source = unpack_revision(rev, out / f"source-{rev}")
    samples: dict[str, dict[str, list[dict]]] = {"previous": {}, "this": {}}
    for _ in range(2):
        for name, where in (("previous", source), ("this", None)):
            for variant, figures in query_in_child(index, queries, where, rounds=2).items():
                samples[name].setdefault(variant, []).append(figures["all"])
    rows = []
    for variant in VARIANTS:
        before = {k: statistics.mean(r[k] for r in samples["previous"][variant]) for k in ("p50", "p95")}
        after = {k: statistics.mean(r[k] for r in samples["this"][variant]) for k in ("p50", "p95")}
        rows.append([variant, before["p50"], after["p50"], after["p50"] / before["p50"], before["p95"], after["p95"],
                     after["p95"] / before["p95"]])
    print(f"\nQueries against the previous revision {rev} (same index, alternated processes, ms; ratio this/previous)")
    print_table(["search", "p50 previous", "p50 this", "ratio", "p95 previous", "p95 this", "ratio"], rows, digits=2)


def suggest_timing(index: Path, queries: list[dict]) -> dict:
    """Completion: the first call in a fresh process for this index state (prepares and saves
    the completions), a new process loading them, then warm calls on prefixes of query
    words, as characters, full pinyin and initials."""
    from pypinyin import lazy_pinyin

    from newsearch import NewsIndex

    def new_process() -> float:
        t = time.perf_counter()
        subprocess.run([*NEWSEARCH, "suggest", "zhong", "--index", str(index)], capture_output=True, check=True)
        return time.perf_counter() - t

    for old in [*index.glob("suggest-*.bin"), *index.glob("suggest-*.json")]:
        old.unlink()
    prepare = new_process()
    second_process = new_process()
    ix = NewsIndex.open(index)
    t = time.perf_counter()
    ix.suggest("zhong")
    first_call = time.perf_counter() - t
    prefixes = []
    for q in queries:
        word = q["q"].strip('"').split()[0]
        if len(word) >= 2:
            syllables = lazy_pinyin(word)
            prefixes += [word[:1], word[:2], "".join(syllables)[:4], "".join(s[0] for s in syllables)]
    timings = []
    for prefix in prefixes:
        t = time.perf_counter()
        ix.suggest(prefix)
        timings.append(time.perf_counter() - t)
    return {"prepare_s": prepare, "new_process_s": second_process, "first_call_s": first_call, "prefixes": len(prefixes),
            **{k: v for k, v in latency_summary(timings).items() if k in ("p50", "p95", "max")}}


def cold_start(index: Path, word: str, runs: int = 3) -> float:
    """Median seconds of ``newsearch search`` in a new process, as an installed copy runs:
    with its modules' bytecode written (a first, untimed run writes it, even where
    PYTHONDONTWRITEBYTECODE is set) and its lexicon caches made."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    argv = [*NEWSEARCH, "search", word, "--limit", "1", "--index", str(index)]
    subprocess.run(argv, capture_output=True, check=True, env=env)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", default="1,2", help="newsearch worker counts to build with")
    parser.add_argument("--memory-mb", type=int, default=IndexingConfig().memory_mb, help="indexing.memory_mb per worker")
    parser.add_argument("--skip-stock", action="store_true", help="do not build/query the stock recipe")
    parser.add_argument("--per-kind", type=int, default=20, help="queries of each kind")
    parser.add_argument("--queries-only", action="store_true",
                        help="measure queries and cold start on the indexes already built by an earlier run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--previous", metavar="REV", help="also time the queries on newsearch at this git revision")
    parser.add_argument("--out", type=Path, default=BENCH / "out",
                        help="folder of the generated corpus and the indexes, kept between runs (default bench/out)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    print(f"machine: {machine()}")
    corpus, mb = cached_corpus(args.articles, args.seed, args.out)
    print(f"corpus: {corpus} — {args.articles:,} articles, {mb:.1f} MB of text")
    queries = make_queries(per_kind=args.per_kind, sample=min(2_000, args.articles))
    figures: dict = {"machine": machine(), "articles": args.articles, "text_mb": mb}

    if args.queries_only:
        queries_and_cold_start(args, queries, figures)
        return

    builds = []
    stock = None
    if not args.skip_stock:
        stock = build_stock(corpus, args.out / f"stock-{args.articles}")
        builds.append(("stock Whoosh+jieba, 1 writer", stock))
    workers = [int(w) for w in args.workers.split(",") if w]
    ns_index = None
    for w in workers:
        ns_index = args.out / f"newsearch-{args.articles}-w{w}"
        builds.append((f"newsearch, {w} worker{'s' if w > 1 else ''}", build_newsearch(corpus, ns_index, w, args.memory_mb)))
    feeds, _ = cached_feeds(args.articles, args.seed, args.out)
    feed_build = build_newsearch(feeds, args.out / f"newsearch-{args.articles}-w{workers[-1]}-feeds", workers[-1],
                                 args.memory_mb)
    files_build = builds[-1][1]
    builds.append((f"newsearch, {workers[-1]} worker{'s' if workers[-1] > 1 else ''}, JSONL feeds", feed_build))
    rows = []
    for name, b in builds:
        speed = mb / b["wall_seconds"]
        ratio = f"{speed / (mb / stock['wall_seconds']):.2f}x" if stock else "-"
        rows.append([name, b["wall_seconds"], speed, ratio, b["peak_tree_pss_mb"], b["peak_tree_rss_mb"],
                     b["index_mb"], b["index_mb"] / mb])
    print("\nBuild")
    print_table(["build", "seconds", "MB/s", "vs stock", "peak PSS MB (tree)", "peak RSS MB (tree)", "index MB",
                 "index/text"], rows, digits=2)
    for name, b in builds:
        if "merge_seconds" in b:
            print(f"{name}: merges after the run {b['merge_seconds']:.1f} s ({b['merge_share']:.0%} of the build), "
                  f"{b['segments'] or 'no merge:'} segments at the end")
    figures["builds"] = {name: b for name, b in builds}
    from newsearch import NewsIndex

    counts = [len(NewsIndex.open(folder)) for folder in (ns_index, args.out / f"newsearch-{args.articles}-w{workers[-1]}-feeds")]
    print(f"JSONL feeds against files ({workers[-1]} worker{'s' if workers[-1] > 1 else ''}): "
          f"{feed_build['wall_seconds'] / files_build['wall_seconds']:.2f}x the time, "
          f"{feed_build['peak_tree_pss_mb'] / files_build['peak_tree_pss_mb']:.2f}x the peak memory (PSS); "
          f"{counts[1]:,} articles indexed from the feeds, {counts[0]:,} from the files")
    figures["feeds_vs_files"] = {"articles": counts, "time": feed_build["wall_seconds"] / files_build["wall_seconds"]}

    assert ns_index is not None
    inc = incremental(corpus, ns_index)
    full = files_build["wall_seconds"]
    print(f"\nIncremental: {inc['changed_files']} changed files re-indexed in {inc['wall_seconds']:.1f} s "
          f"= {inc['wall_seconds'] / full:.1%} of the full build ({full:.1f} s), "
          f"peak PSS {inc.get('peak_tree_pss_mb') or inc['peak_tree_rss_mb']:.0f} MB")
    figures["incremental"] = inc

    queries_and_cold_start(args, queries, figures)


def queries_and_cold_start(args: argparse.Namespace, queries: list[dict], figures: dict) -> None:
    workers = [int(w) for w in args.workers.split(",") if w]
    ns_index = args.out / f"newsearch-{args.articles}-w{workers[-1]}"
    stock_index = args.out / f"stock-{args.articles}"
    if not (ns_index / "newsearch.json").exists():
        sys.exit(f"no index at {ns_index}; run without --queries-only first")
    measured = query_newsearch(ns_index, queries)
    rows = [[f"newsearch, {variant}", ns["all"]["p50"], ns["all"]["p95"]] + [ns["kinds"][k]["p50"] for k in QUERY_KINDS]
            for variant, ns in measured.items()]
    if not args.skip_stock and stock_index.exists():
        st = baseline.query_stock(stock_index, queries)
        by_kind: dict[str, list[float]] = {k: [] for k in QUERY_KINDS}
        for q, s in zip(queries, st):
            by_kind[q["kind"]].append(s)
        st_all = latency_summary(st)
        rows.insert(0, ["stock", st_all["p50"], st_all["p95"]] + [latency_summary(by_kind[k])["p50"] for k in QUERY_KINDS])
        figures["stock_queries"] = st_all
    print(f"\nQueries (warm, top 10 with highlighted snippets, {len(queries)} queries × 3 rounds), ms;")
    print("plain: hits only; default: also facets over all matches and near-duplicates collapsed")
    print_table(["engine", "p50", "p95", *(f"{k} p50" for k in QUERY_KINDS)], rows, digits=1)
    for variant, ns in measured.items():
        print(f"broad query 中国, {variant}: {ns['broad_ms']:.1f} ms for the first page and the total "
              f"({ns['broad_total']:,} matches)")
    figures["queries"] = measured
    if args.previous:
        compare_with_previous(ns_index, queries, args.previous, args.out)

    completion = suggest_timing(ns_index, queries)
    print(f"suggest: preparing the completions in a new process {completion['prepare_s']:.2f} s (once per index state); "
          f"a new process loading them {completion['new_process_s']:.2f} s; first call in a process "
          f"{completion['first_call_s'] * 1000:.0f} ms; then p50 {completion['p50']:.2f} ms, "
          f"p95 {completion['p95']:.2f} ms over {completion['prefixes']} prefixes (characters, pinyin, initials)")
    figures["suggest"] = completion

    cold = cold_start(ns_index, queries[0]["q"].strip('"'))
    print(f"cold start: `newsearch search` as a new process, first result printed in {cold:.2f} s (median of 3)")
    figures["cold_start_s"] = cold
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str, ensure_ascii=False))


if __name__ == "__main__":
    main()
