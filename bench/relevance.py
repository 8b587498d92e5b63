"""Ranking quality on a judged query set, read by people: newsearch against the previous
version of its ranking, the stock Whoosh + jieba recipe and an Elasticsearch-like recipe.

    python -m bench.relevance [CORPUS] [--previous REV] [--out DIR]
    python -m bench.relevance --pool FILE --packets DIR     (to judge what is new)

The information needs and their judgments are in ``bench/qrels/`` (its README
says how they were made).  Every system indexes CORPUS (default
``../shared/corpus``) and answers each need's query; the tables give, per kind of
query and overall:

* nDCG@10 (gains 0/1/2 as judged, unjudged documents count 0; the ideal ranking
  is made of every judged document of the need);
* P@5 (share of the top 5 judged 1 or 2) and success@1 (the first hit judged 1 or 2);
* zero-result needs, and how many of them have relevant documents;
* the documents in the top 10 that nobody judged yet.

The systems:

* ``newsearch``: this checkout's default search (``NewsIndex.search(q, limit=10)``),
  each hit followed by the near-duplicates folded under it (they are listed with it);
* ``previous``: the same at ``--previous REV``, run from ``git archive`` of that
  revision (skipped without git history);
* ``stock``: Whoosh + ``jieba.analyse.ChineseAnalyzer``, ``MultifieldParser`` over
  title and body (its words ANDed), as tutorials build it (:mod:`bench.baseline`);
* ``es-like``: the stock index, queried the way an Elasticsearch user would
  configure it: the query folded to simplified script, cut with jieba's search
  mode, function words dropped, the words ORed with a coordination bonus
  (``Or(scale=0.9)``, about ``minimum_should_match``), title ×3, tags ×2, body ×1;
* ``or-words`` and ``described`` (pooling only): every word of the query ORed over
  title and body; and the Chinese words of the need's description queried like
  ``es-like`` (a manual run, as TREC pools have): recall sources for the pool.

``--pool FILE`` writes the pooled (need, document) pairs of every system's top 10
that have no judgment yet, and ``--packets DIR`` one file per need for a judge:
the need, then each of those documents (title, date, tags, description, the
opening, and the passages that hold a word of the query), in document-id order,
blind to which system found it.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsearch import Article, Config, NewsIndex

from bench.common import REPO, iter_articles, machine, print_table

QRELS = Path(__file__).resolve().parent / "qrels"
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
PREVIOUS = "a0e415c"
"""The last commit before query understanding and the new ranking signals: newsearch as it was."""
DEPTH = 10
KINDS = ("short", "multi", "entity", "traditional", "question", "tag")
SYSTEMS = ("newsearch", "previous", "stock", "es-like")
POOL_ONLY = ("or-words", "described")

# Function and question words an Elasticsearch user would put in a stop filter.
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
ES_STOPWORDS = frozenset(
    "的 了 着 过 吗 呢 吧 啊 呀 么 和 与 及 或 而 是 在 有 没有 被 把 对 从 给 也 都 就 还 又 "
    "一个 这 那 这个 那个 哪 哪里 哪儿 哪些 什么 怎么 怎样 怎么样 如何 为什么 为何 是否 是不是 "
    "多少 几 谁 吗 能 会 可以 要 应该 该 我 你 他 她 它 我们 你们 他们".split()
)


# --------------------------------------------------------------------------- needs and judgments


@dataclass(frozen=True)
class Need:
    id: str
    kind: str
    query: str
    need: str


def load_needs(folder: Path = QRELS) -> list[Need]:
    lines = (folder / "needs.jsonl").read_text(encoding="utf-8").splitlines()
    return [Need(**json.loads(line)) for line in lines if line.strip()]


def load_judgments(folder: Path = QRELS) -> dict[str, dict[str, int]]:
    """need id → {document id: grade 0, 1 or 2}."""
    judged: dict[str, dict[str, int]] = defaultdict(dict)
    path = folder / "judgments.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                judged[row["need"]][row["doc"]] = int(row["grade"])
    return judged


# --------------------------------------------------------------------------- metrics


def ndcg(ranked: Sequence[str], grades: dict[str, int], depth: int = DEPTH) -> float:
    """nDCG@depth with linear gains, against the ideal order of every judged document."""
    dcg = sum(grades.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:depth]))
    ideal = sorted(grades.values(), reverse=True)[:depth]
    best = sum(grade / math.log2(rank + 2) for rank, grade in enumerate(ideal))
    return dcg / best if best else 0.0


def precision(ranked: Sequence[str], grades: dict[str, int], depth: int = 5) -> float:
    return sum(1 for doc in ranked[:depth] if grades.get(doc, 0) > 0) / depth


def success(ranked: Sequence[str], grades: dict[str, int]) -> float:
    return 1.0 if ranked and grades.get(ranked[0], 0) > 0 else 0.0


# --------------------------------------------------------------------------- systems


def run_newsearch(corpus: Path, folder: Path, needs: list[Need], variants: Sequence[str] = ()) -> dict[str, dict[str, list[str]]]:
    """This checkout's default search, and the same with each variant of its ranking
    settings (``proximity=0``, ``title_boost=1,keyword_boost=0``...)."""
    ix = NewsIndex.create(folder)
    ix.update([corpus])
    runs = {"newsearch": {need.id: _shown(ix, need.query) for need in needs}}
    for variant in variants:
        ranking = {key: json.loads(value) for key, value in (pair.split("=", 1) for pair in variant.split(","))}
        other = NewsIndex.open(folder, config=Config.from_dict({"ranking": ranking}))
        runs[f"[{variant}]"] = {need.id: _shown(other, need.query) for need in needs}
    return runs


def _shown(ix: NewsIndex, query: str) -> list[str]:
    """The articles a default search shows, in order: each hit, then the near-duplicate
    versions folded under it (listed with it on the page and in the CLI)."""
    return [doc for hit in ix.search(query, limit=DEPTH).hits for doc in (hit.id, *(v.id for v in hit.versions))][:DEPTH]


_PREVIOUS_SCRIPT = """
import json, sys
from newsearch import NewsIndex
corpus, folder, queries = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
ix = NewsIndex.create(folder)
ix.update([corpus])
def shown(q):
    return [d for h in ix.search(q, limit=%d).hits for d in (h.id, *(v.id for v in h.versions))][:%d]
print(json.dumps({key: shown(q) for key, q in queries.items()}))
""" % (DEPTH, DEPTH)


def run_previous(rev: str, corpus: Path, folder: Path, needs: list[Need]) -> dict[str, list[str]] | None:
    """The default search of newsearch at ``rev``, unpacked with ``git archive`` and run in
    a process of its own; None when this checkout cannot give that revision."""
    source = folder / "source"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev, "newsearch"],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        print(f"previous: skipped, git cannot give {rev} ({archive.stderr.decode(errors='replace').strip()})")
        return None
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    queries = json.dumps({need.id: need.query for need in needs}, ensure_ascii=False)
    # The unpacked package comes first on the path: run from its folder, not the checkout's.
    done = subprocess.run([sys.executable, "-c", _PREVIOUS_SCRIPT, str(corpus), str(folder / "index"), queries],
                          cwd=source, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"newsearch at {rev} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def _jieba_words(text: str) -> list[str]:
    import jieba
    import opencc

    folded = opencc.OpenCC("t2s").convert(text)
    return [w.strip().lower() for w in jieba.cut_for_search(folded) if w.strip() and re.search(r"\w", w)]


def run_stock_recipes(corpus: Path, folder: Path, needs: list[Need]) -> dict[str, dict[str, list[str]]]:
    """The stock recipe, the Elasticsearch-like recipe and the OR-of-words pool source,
    all on one stock Whoosh index."""
    from whoosh import index
    from whoosh.qparser import MultifieldParser
    from whoosh.query import NullQuery, Or, Term

    from bench.baseline import build_stock

    if not (folder.is_dir() and index.exists_in(str(folder))):  # kept from an earlier run with --out
        build_stock(corpus, folder)
    ix = index.open_dir(str(folder))
    parser = MultifieldParser(["title", "body"], ix.schema)
    out: dict[str, dict[str, list[str]]] = {"stock": {}, "es-like": {}, "or-words": {}, "described": {}}
    boosts = (("title", 3.0), ("tags", 2.0), ("body", 1.0))
    with ix.searcher() as searcher:

        def top(query: Any) -> list[str]:
            if query is NullQuery:
                return []
            return [hit["id"] for hit in searcher.search(query, limit=DEPTH)]

        for need in needs:
            out["stock"][need.id] = top(parser.parse(need.query))
            words = list(dict.fromkeys(_jieba_words(need.query)))
            kept = [w for w in words if w not in ES_STOPWORDS] or words
            out["es-like"][need.id] = top(
                Or([Or([Term(field, w, boost=boost) for field, boost in boosts]) for w in kept], scale=0.9)
                if kept else NullQuery
            )
            out["or-words"][need.id] = top(
                Or([Term(field, w) for w in words for field in ("title", "body")]) if words else NullQuery
            )
            described = [w for w in dict.fromkeys(_jieba_words(" ".join(_CJK_RUN.findall(need.need))))
                         if w not in ES_STOPWORDS and len(w) > 1]
            out["described"][need.id] = top(
                Or([Or([Term(field, w, boost=boost) for field, boost in boosts]) for w in described], scale=0.9)
                if described else NullQuery
            )
    ix.close()
    return out


# --------------------------------------------------------------------------- report


def report(needs: list[Need], judged: dict[str, dict[str, int]], runs: dict[str, dict[str, list[str]]]) -> None:
    systems = [s for s in SYSTEMS if s in runs] + [s for s in runs if s.startswith("[")]
    groups: list[tuple[str, list[Need]]] = [(k, [n for n in needs if n.kind == k]) for k in KINDS]
    groups = [(k, ns) for k, ns in groups if ns] + [("all", needs)]
    for title, metric, digits in (
        ("nDCG@10", lambda r, g: ndcg(r, g), 3),
        ("P@5", lambda r, g: precision(r, g), 3),
        ("success@1", lambda r, g: success(r, g), 3),
    ):
        rows = []
        for kind, members in groups:
            rows.append([f"{kind} ({len(members)})", *(
                sum(metric(runs[s][n.id], judged.get(n.id, {})) for n in members) / len(members) for s in systems
            )])
        print()
        print_table([title, *systems], rows, digits=digits)
    rows = []
    for kind, members in groups:
        row: list[Any] = [f"{kind} ({len(members)})"]
        for s in systems:
            empty = [n for n in members if not runs[s][n.id]]
            relevant = [n for n in empty if any(g > 0 for g in judged.get(n.id, {}).values())]
            row.append(f"{len(empty)} ({len(relevant)})")
        rows.append(row)
    print()
    print_table(["zero results (of them with relevant docs)", *systems], rows)
    rows = []
    for kind, members in groups:
        rows.append([f"{kind} ({len(members)})", *(
            sum(1 for n in members for doc in runs[s][n.id][:DEPTH] if doc not in judged.get(n.id, {})) for s in systems
        )])
    print()
    print_table(["unjudged in the top 10", *systems], rows)


def write_pool(needs: list[Need], judged: dict[str, dict[str, int]], runs: dict[str, dict[str, list[str]]],
               path: Path) -> dict[str, list[str]]:
    """The unjudged documents of every run's top 10, per need, in document-id order."""
    pool: dict[str, list[str]] = {}
    for need in needs:
        found = {doc for run in runs.values() for doc in run.get(need.id, [])[:DEPTH]}
        pool[need.id] = sorted(found - set(judged.get(need.id, {})))
    with path.open("w", encoding="utf-8") as out:
        for need in needs:
            for doc in pool[need.id]:
                out.write(json.dumps({"need": need.id, "doc": doc}, ensure_ascii=False) + "\n")
    return pool


_LEAD = 500  # characters of the opening
_PASSAGE = 120  # characters around a word of the query, for at most _PASSAGES words
_PASSAGES = 4


def packet(article: Article, words: Iterable[str]) -> str:
    """What a judge reads of one document first: its fields, its opening, and the passages
    that hold a word of the query (the judge may open the whole file)."""
    body = re.sub(r"\n{2,}", "\n", article.body).strip()
    lead = body[:_LEAD]
    passages: list[str] = []
    for word in sorted(set(words), key=len, reverse=True):
        m = re.compile(re.escape(word), flags=re.IGNORECASE).search(body, _LEAD)  # past the opening
        if m is not None and len(passages) < _PASSAGES:
            start = max(0, m.start() - _PASSAGE // 2)
            passages.append("…" + body[start : start + _PASSAGE].replace("\n", " ") + "…")
    head = [
        f"### {article.id}",
        f"title: {article.title}",
        f"date: {article.date.date() if article.date else '-'}; tags: {', '.join(article.tags) or '-'}; "
        f"categories: {', '.join(article.categories) or '-'}; length: {len(body)} characters",
    ]
    if article.extra.get("description"):
        head.append(f"description: {article.extra['description']}")
    return "\n".join([*head, "", lead + ("…" if len(body) > _LEAD else ""), *passages, f"(file: {article.path})", ""])


def write_packets(
    needs: list[Need], pool: dict[str, list[str]], articles: dict[str, Article], judged: dict[str, dict[str, int]], folder: Path
) -> None:
    """One file per need with documents to judge: the need, the grades already given
    for it (title and grade, so that new grades agree with them), then each document."""
    folder.mkdir(parents=True, exist_ok=True)
    for need in needs:
        if not pool[need.id]:
            continue
        words = [w for w in _jieba_words(need.query) if w not in ES_STOPWORDS and len(w) > 1]
        text = [f"# {need.id}: {need.query}", "", f"Relevant: {need.need}", ""]
        earlier = judged.get(need.id, {})
        if earlier:
            text += ["## Graded before (for consistency; do not grade these again)", ""]
            text += [f"- {grade}: {doc} {articles[doc].title}" for doc, grade in sorted(earlier.items()) if doc in articles]
            text += ["", "## To grade", ""]
        text += [packet(articles[doc], words) for doc in pool[need.id]]
        (folder / f"{need.id}.md").write_text("\n".join(text), encoding="utf-8")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    parser.add_argument("--previous", default=PREVIOUS, metavar="REV", help="the newsearch to compare with")
    parser.add_argument("--no-previous", action="store_true", help="leave the previous revision out")
    parser.add_argument("--qrels", default=str(QRELS), help="folder of needs.jsonl and judgments.jsonl")
    parser.add_argument("--out", help="keep the indexes here (default: a temporary folder)")
    parser.add_argument("--pool", help="write the unjudged pooled (need, doc) pairs to this JSONL file")
    parser.add_argument("--packets", help="with --pool: write a judge's packet per need into this folder")
    parser.add_argument("--runs", help="write every system's top 10 per need to this JSON file")
    parser.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                        help="also run newsearch with these [ranking] settings (repeatable)")
    args = parser.parse_args(argv)
    corpus = Path(args.corpus).resolve()
    if not corpus.is_dir():
        sys.exit(f"corpus folder not found: {corpus}")
    needs = load_needs(Path(args.qrels))
    judged = load_judgments(Path(args.qrels))
    print(f"machine: {machine()}")
    print(f"corpus: {corpus}; {len(needs)} needs, {sum(len(j) for j in judged.values())} judgments")

    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="newsearch-relevance-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        runs = run_newsearch(corpus, work / "newsearch", needs, args.variant)
        if not args.no_previous:
            previous = run_previous(args.previous, corpus, work / "previous", needs)
            if previous is not None:
                runs["previous"] = previous
        runs.update(run_stock_recipes(corpus, work / "stock", needs))
        print(f"indexed and searched in {time.perf_counter() - started:.0f} s; previous = {args.previous}")
    finally:
        if not args.out:
            shutil.rmtree(work, ignore_errors=True)
    if args.runs:
        Path(args.runs).write_text(json.dumps(runs, ensure_ascii=False, indent=1), encoding="utf-8")
    report(needs, judged, runs)
    if args.pool:
        pool = write_pool(needs, judged, runs, Path(args.pool))
        print(f"\npool: {sum(len(docs) for docs in pool.values())} unjudged (need, document) pairs in {args.pool}")
        if args.packets:
            articles = {a.id: a for a in iter_articles(corpus)}
            write_packets(needs, pool, articles, judged, Path(args.packets))


if __name__ == "__main__":
    main()
