"""The "stock recipe" baseline: Whoosh + jieba's ChineseAnalyzer, one writer, QueryParser, hit.highlights.

    python -m bench.baseline CORPUS [--procs 2] [--index DIR] [--per-kind 20] [--query-only] [--json FILE]

This is what the jieba README and most tutorials suggest, unchanged:

* schema: id (ID, unique), title and body (TEXT with
  ``jieba.analyse.ChineseAnalyzer()``, stored, phrase=True), date (DATETIME,
  sortable), categories and tags (comma-separated KEYWORD);
* build: ONE ``ix.writer()`` (default limitmb=128) fed every article of CORPUS
  (parsed with ``newsearch.ingest``), one commit; with ``--procs 2``,
  ``ix.writer(procs=2, multisegment=True)``;
* search: ``MultifieldParser(["title", "body"])``, top 10, a category as a
  ``filter=Term(...)``, date order as ``sortedby="date", reverse=True``, and
  for every hit its title and ``hit.highlights("body")`` (which re-tokenizes the
  stored body).

The build runs in a child process so its peak memory can be measured: the
peak RSS of the largest process (``wait4``) and, for ``--procs 2``, the peak
of the summed RSS of the builder and its worker processes.  Build time
excludes loading jieba's dictionary (reported as setup) but includes parsing
the source files (also reported on its own).  Query latency is the wall time
of parse + search + reading the 10 hits + highlighting them, with one searcher
opened beforehand; the total hit count is read outside the timing.

Importable: :func:`build_stock`, :func:`query_stock`, :func:`run_queries_stock`,
:func:`stock_schema`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from newsearch import Article

from bench.common import (
    QUERY_KINDS,
    REPO,
    dir_size,
    iter_articles,
    latency_summary,
    machine,
    make_queries,
    measure_command,
    print_table,
)

__all__ = ["build_stock", "query_stock", "run_queries_stock", "stock_schema"]


def stock_schema():
    """The tutorial schema, with jieba's stock analyzer on title and body."""
    from jieba.analyse import ChineseAnalyzer
    from whoosh import fields

    analyzer = ChineseAnalyzer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(analyzer=analyzer, stored=True, phrase=True),
        body=fields.TEXT(analyzer=analyzer, stored=True, phrase=True),
        date=fields.DATETIME(stored=True, sortable=True),
        categories=fields.KEYWORD(stored=True, commas=True),
        tags=fields.KEYWORD(stored=True, commas=True),
    )


# --------------------------------------------------------------------------- build


def _articles(source: str | Path, clock: dict[str, float]) -> Iterator[Article]:
    """The articles of a folder or file of posts, adding the time spent reading and
    parsing them to ``clock["parse"]`` (reported apart from indexing)."""
    articles = iter_articles(source)
    while True:
        t = time.perf_counter()
        article = next(articles, None)
        clock["parse"] += time.perf_counter() - t
        if article is None:
            return
        yield article


def _prepare_index_dir(index_dir: Path) -> None:
    from whoosh import index

    if index_dir.exists():
        if os.listdir(index_dir) and not index.exists_in(str(index_dir)):
            raise FileExistsError(f"{index_dir} is not empty and does not look like a Whoosh index; not removing it")
        shutil.rmtree(index_dir)
    index_dir.mkdir(parents=True)


def _build_here(source: str | Path, index_dir: str | Path, procs: int = 1, limitmb: int | None = None) -> dict[str, Any]:
    """Build the stock index in this process; return its timings and sizes."""
    import logging

    import jieba
    from whoosh import index

    t = time.perf_counter()
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # loading the dictionary is setup, not indexing
    index_dir = Path(index_dir)
    _prepare_index_dir(index_dir)
    ix = index.create_in(str(index_dir), stock_schema())
    setup = time.perf_counter() - t

    clock = {"parse": 0.0}
    started = time.perf_counter()
    kwargs: dict[str, Any] = {} if limitmb is None else {"limitmb": limitmb}
    writer = ix.writer(procs=procs, multisegment=True, **kwargs) if procs > 1 else ix.writer(**kwargs)
    n = 0
    text_bytes = 0
    try:
        for article in _articles(source, clock):
            doc: dict[str, Any] = {
                "id": article.id,
                "title": article.title,
                "body": article.body,
                "categories": ",".join(article.categories),
                "tags": ",".join(article.tags),
            }
            if article.date is not None:
                doc["date"] = article.date
            writer.add_document(**doc)
            n += 1
            text_bytes += len(article.title.encode("utf-8")) + len(article.body.encode("utf-8"))
        t_commit = time.perf_counter()
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    seconds = time.perf_counter() - started
    return {
        "articles": n,
        "procs": procs,
        "setup_seconds": setup,
        "parse_seconds": clock["parse"],
        "commit_seconds": time.perf_counter() - t_commit,
        "seconds": seconds,
        "text_mb": text_bytes / 1e6,
    }


def build_stock(corpus: str | Path, index_dir: str | Path, procs: int = 1, *,
                limitmb: int | None = None) -> dict[str, Any]:
    """Build the stock index of a folder (or file) of posts and measure it.

    The build runs in a fresh ``python -m bench.baseline`` process (parsing
    the posts with newsearch.ingest there), so that its memory is its own.

    Returns seconds (indexing, parse included, dictionary loading excluded),
    mb_per_s (MB of UTF-8 title+body text per second), peak_rss_mb (largest
    single process), peak_tree_rss_mb (summed over the builder and its
    worker processes; matters with procs > 1), index_mb, text_mb,
    index_ratio (index_mb / text_mb), articles, procs, setup_seconds,
    parse_seconds, commit_seconds, wall_seconds (child process, all in).
    """
    index_dir = Path(index_dir).resolve()  # the child runs in the repository, so paths must not be relative
    _prepare_index_dir(index_dir)  # refuse a folder that is not an index before starting anything
    with tempfile.TemporaryDirectory(prefix="stock-build-") as tmp:
        result_file = Path(tmp) / "result.json"
        argv = [sys.executable, "-m", "bench.baseline", str(Path(corpus).resolve()),
                "--index", str(index_dir), "--procs", str(procs), "--child-result", str(result_file)]
        if limitmb is not None:
            argv += ["--limitmb", str(limitmb)]
        stats = measure_command(argv, cwd=REPO)
        if stats["returncode"] != 0 or not result_file.exists():
            raise RuntimeError(f"stock build failed (exit code {stats['returncode']})")
        result = json.loads(result_file.read_text(encoding="utf-8"))
    result.update(stats)
    result["index_mb"] = dir_size(index_dir) / 1e6
    result["mb_per_s"] = result["text_mb"] / result["seconds"] if result["seconds"] else float("nan")
    result["index_ratio"] = result["index_mb"] / result["text_mb"] if result["text_mb"] else float("nan")
    return result


# --------------------------------------------------------------------------- queries


def run_queries_stock(index_dir: str | Path, queries: Iterable[dict], *, limit: int = 10,
                      warmup: int = 5) -> dict[str, Any]:
    """Run each query the stock way; return {"open_seconds", "results": [one dict per query]}.

    Each result: kind, q, category, sort, seconds (parse + search + hits +
    highlights; split into search_seconds and highlight_seconds), hits (total matches, counted outside the timing), shown
    (hits returned, at most ``limit``), snippets (hits with a non-empty
    highlight).  The first ``warmup`` queries are run once untimed first.
    """
    from whoosh import index
    from whoosh.qparser import MultifieldParser
    from whoosh.query import Term

    queries = list(queries)
    t = time.perf_counter()
    ix = index.open_dir(str(index_dir))
    searcher = ix.searcher()
    parser = MultifieldParser(["title", "body"], ix.schema)
    open_seconds = time.perf_counter() - t

    def one(q: dict) -> dict[str, Any]:
        started = time.perf_counter()
        query = parser.parse(q["q"])
        kwargs: dict[str, Any] = {}
        if q.get("category"):
            kwargs["filter"] = Term("categories", q["category"])
        if q.get("sort") == "-date":
            kwargs["sortedby"] = "date"
            kwargs["reverse"] = True
        results = searcher.search(query, limit=limit, **kwargs)
        page = [(hit, hit["id"], hit["title"]) for hit in results]
        searched = time.perf_counter()
        snippets = [hit.highlights("body") for hit, _id, _title in page]
        done = time.perf_counter()
        return {
            "kind": q.get("kind", ""), "q": q["q"], "category": q.get("category"), "sort": q.get("sort"),
            "seconds": done - started, "search_seconds": searched - started, "highlight_seconds": done - searched,
            "hits": len(results), "shown": len(page), "snippets": sum(1 for s in snippets if s),
        }

    try:
        for q in queries[:warmup]:
            one(q)
        out = [one(q) for q in queries]
    finally:
        searcher.close()
    return {"open_seconds": open_seconds, "results": out}


def query_stock(index_dir: str | Path, queries: Iterable[dict], *, limit: int = 10) -> list[float]:
    """Per-query wall time in seconds (top ``limit`` + highlights), in the order of ``queries``."""
    return [r["seconds"] for r in run_queries_stock(index_dir, queries, limit=limit)["results"]]


# --------------------------------------------------------------------------- report


def latency_rows(results: list[dict]) -> list[list[Any]]:
    """Per kind, then all together: n, p50, p95, max (ms, all in), p50 and p95 without highlighting,
    mean hits, share of queries with no hit."""
    rows = []
    kinds = [k for k in QUERY_KINDS if any(r["kind"] == k for r in results)]
    kinds += sorted({r["kind"] for r in results} - set(kinds))
    for kind in kinds + ["all"]:
        rs = [r for r in results if kind == "all" or r["kind"] == kind]
        s = latency_summary([r["seconds"] for r in rs])
        search = latency_summary([r["search_seconds"] for r in rs])
        rows.append([kind, s["n"], s["p50"], s["p95"], s["max"], search["p50"], search["p95"],
                     sum(r["hits"] for r in rs) / len(rs), sum(r["hits"] == 0 for r in rs) / len(rs)])
    return rows


LATENCY_HEADERS = ["kind", "n", "p50 ms", "p95 ms", "max ms", "search p50", "search p95", "mean hits", "0 hits"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", help="folder (or file) of posts, e.g. made by python -m bench.corpus")
    parser.add_argument("--index", help="index folder (default: a temporary folder, removed afterwards)")
    parser.add_argument("--procs", type=int, default=1, help="Whoosh writer processes (>1: multisegment MpWriter)")
    parser.add_argument("--limitmb", type=int, help="writer memory limit per process (Whoosh default 128)")
    parser.add_argument("--per-kind", type=int, default=20, help="queries of each kind")
    parser.add_argument("--query-seed", type=int, default=7)
    parser.add_argument("--corpus-seed", type=int, default=1, help="seed of the generated corpus to sample queries from")
    parser.add_argument("--query-only", action="store_true", help="query an existing --index without building")
    parser.add_argument("--json", help="also write all results to this file")
    parser.add_argument("--child-result", help=argparse.SUPPRESS)  # internal: build here, write JSON
    args = parser.parse_args(argv)

    if args.child_result:
        result = _build_here(args.corpus, args.index, args.procs, args.limitmb)
        Path(args.child_result).write_text(json.dumps(result), encoding="utf-8")
        return

    if not Path(args.corpus).exists():
        sys.exit(f"bench.baseline: corpus not found: {args.corpus}")
    if args.query_only and not args.index:
        parser.error("--query-only needs --index")
    tmp = None if args.index else tempfile.mkdtemp(prefix="newsearch-stock-")
    index_dir = Path(args.index or Path(tmp) / "index")
    report: dict[str, Any] = {"machine": machine(), "corpus": str(Path(args.corpus).resolve())}
    print(f"machine: {report['machine']}")
    try:
        if not args.query_only:
            b = build_stock(args.corpus, index_dir, args.procs, limitmb=args.limitmb)
            report["build"] = b
            print(f"corpus: {report['corpus']} — {b['articles']:,} articles, {b['text_mb']:.1f} MB of text")
            print()
            print_table(
                ["build", "articles", "text MB", "seconds", "MB/s", "parse s", "peak RSS MB",
                 "tree RSS MB", "index MB", "index/text"],
                [[f"stock, procs={b['procs']}", b["articles"], b["text_mb"], b["seconds"], b["mb_per_s"],
                  b["parse_seconds"], b["peak_rss_mb"], b["peak_tree_rss_mb"], b["index_mb"], b["index_ratio"]]],
                digits=2,
            )
            print(f"(setup {b['setup_seconds']:.2f} s, commit {b['commit_seconds']:.2f} s, "
                  f"child wall {b['wall_seconds']:.2f} s, cpu {b['cpu_seconds']:.1f} s, "
                  f"up to {b['peak_procs']} processes)")
        queries = make_queries(args.per_kind, args.query_seed, corpus_seed=args.corpus_seed)
        q = run_queries_stock(index_dir, queries)
        report["queries"] = q
        print()
        print_table(LATENCY_HEADERS, latency_rows(q["results"]), digits=1,
                    title=f"stock queries: top 10 + hit.highlights('body'); index opened in {q['open_seconds'] * 1000:.0f} ms")
        if args.json:
            Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n",
                                       encoding="utf-8")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
