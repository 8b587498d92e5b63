"""How newsearch grows with the archive: build and query figures at several sizes,
the growth law read off them, and an estimate for ten million articles.

    python -m bench.scale --sizes 10000,30000,100000

For each size: the generated corpus (``bench.corpus``, cached), a build with 2
workers (merges included, as ``newsearch index`` runs them), the index's
segments and size, the query set of ``bench.run`` (warm, 3 rounds: default
search with facets and collapsing, and plain hits), the broad query 中国 and a
cold ``newsearch search``.  Figures of a size are kept in ``OUT/scale-N.json``
and reused with ``--reuse`` (a size costs minutes to hours); ``--queries-only``
keeps the builds and measures the queries again.

The growth law is the exponent between the two largest sizes (y ∝ N^b), which
is the most pessimistic one measured when costs bend upwards.  Ten million
articles are estimated from the largest size with that exponent.  For a
16-core machine, analysis (the workers) is taken to scale with the cores and
the merges (one process) not at all.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from bench.common import BENCH, machine, make_queries, print_table
from bench.corpus import cached_corpus
from newsearch.config import IndexingConfig
from bench.run import build_newsearch, cold_start, query_newsearch

TARGET = 10_000_000


def measure(articles: int, out: Path, workers: int, per_kind: int, previous: dict | None = None) -> dict:
    """The figures of one size; with ``previous`` (figures of an earlier run), the build
    and its index are kept and only the queries measured again."""
    corpus, mb = cached_corpus(articles, 1, out)
    index = out / f"scale-index-{articles}"
    build = previous["build"] if previous else build_newsearch(corpus, index, workers, IndexingConfig().memory_mb)
    from newsearch import NewsIndex

    ix = NewsIndex.open(index)
    stats = ix.stats()
    ix.close()
    queries = make_queries(per_kind=per_kind, sample=min(2_000, articles))
    measured = query_newsearch(index, queries)
    return {
        "articles": articles,
        "text_mb": mb,
        "build": build,
        "segments": stats.segments,
        "index_mb": build["index_mb"],
        "queries": measured,
        "cold_start_s": cold_start(index, queries[0]["q"].strip('"')),
    }


def _exponent(small: float, large: float, n_small: int, n_large: int) -> float:
    return math.log(large / small) / math.log(n_large / n_small)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000,100000", help="article counts, comma-separated")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-kind", type=int, default=20, help="queries of each kind")
    parser.add_argument("--reuse", action="store_true", help="reuse the figures of sizes measured before")
    parser.add_argument("--queries-only", action="store_true",
                        help="keep the builds of sizes measured before, measure their queries again")
    parser.add_argument("--out", type=Path, default=BENCH / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    if len(sizes) < 2:
        parser.error("give at least two sizes")
    print(f"machine: {machine()}")
    runs = []
    for n in sizes:
        saved = args.out / f"scale-{n}.json"
        previous = json.loads(saved.read_text()) if saved.exists() else None
        if args.reuse and previous:
            runs.append(previous)
            continue
        if args.queries_only and not previous:
            parser.error(f"no figures of {n:,} articles in {args.out} to measure the queries of")
        figures = measure(n, args.out, args.workers, args.per_kind, previous if args.queries_only else None)
        saved.write_text(json.dumps(figures, indent=2, default=str, ensure_ascii=False))
        runs.append(figures)

    def row(r: dict) -> list:
        b, q = r["build"], r["queries"]
        return [r["articles"], r["text_mb"], b["wall_seconds"], b["wall_seconds"] / r["text_mb"],
                r["text_mb"] / b["wall_seconds"], b["peak_tree_pss_mb"], r["index_mb"] / r["text_mb"], r["segments"],
                q["default"]["all"]["p50"], q["default"]["all"]["p95"], q["plain"]["all"]["p50"],
                q["plain"]["all"]["p95"], q["default"]["broad_ms"], r["cold_start_s"]]

    headers = ["articles", "text MB", "build s", "s per MB", "MB/s", "peak PSS MB", "index/text", "segments",
               "default p50", "default p95", "plain p50", "plain p95", "中国 ms", "cold s"]
    print(f"\nGrowth ({args.workers} workers; queries: top 10 with snippets, warm, ms)")
    print_table(headers, [row(r) for r in runs], digits=2)

    a, b = runs[-2], runs[-1]
    na, nb = a["articles"], b["articles"]
    scale = TARGET / nb
    laws = {
        "build s": (a["build"]["wall_seconds"], b["build"]["wall_seconds"]),
        "index MB": (a["index_mb"], b["index_mb"]),
        "peak PSS MB": (a["build"]["peak_tree_pss_mb"], b["build"]["peak_tree_pss_mb"]),
        "default p50 ms": (a["queries"]["default"]["all"]["p50"], b["queries"]["default"]["all"]["p50"]),
        "default p95 ms": (a["queries"]["default"]["all"]["p95"], b["queries"]["default"]["all"]["p95"]),
        "plain p95 ms": (a["queries"]["plain"]["all"]["p95"], b["queries"]["plain"]["all"]["p95"]),
        "中国 ms": (a["queries"]["default"]["broad_ms"], b["queries"]["default"]["broad_ms"]),
    }
    print(f"\nGrowth law between {na:,} and {nb:,} articles (y ∝ N^b), and {TARGET:,} articles "
          f"= {nb:,} × {scale:g} on this machine")
    rows = []
    for name, (ya, yb) in laws.items():
        exponent = _exponent(ya, yb, na, nb)
        rows.append([name, ya, yb, exponent, f"{yb:.1f} × {scale:g}^{exponent:.2f}", yb * scale**exponent])
    print_table(["figure", f"at {na:,}", f"at {nb:,}", "b", "arithmetic", f"at {TARGET:,}"], rows, digits=2)
    build_law = next(r for r in rows if r[0] == "build s")
    merge_share = b["build"].get("merge_share")
    if merge_share is not None:
        estimate = build_law[-1]
        cores16 = estimate * (merge_share + (1 - merge_share) * args.workers / 16)
        print(f"build on 16 cores: {estimate:.0f} s × ({merge_share:.2f} merging, one process "
              f"+ {1 - merge_share:.2f} analysis × {args.workers}/16) = {cores16:.0f} s")


if __name__ == "__main__":
    main()
