"""Recall and precision of newsearch against a brute-force scan, per kind of query string.

    python -m bench.recall [CORPUS] [--per-kind 100] [--seed 7]

Samples strings (seeded) from the articles of CORPUS (default ../shared/corpus):
dictionary words of 2-4 characters found in context (many sit inside longer
words), single characters, 5-8 character phrases (most cross word
boundaries), and mixed number/Latin tokens.  For each string it compares the
ids newsearch returns with the ids whose normalized title+body contain the
string (letters and digits matched as whole words, the rule newsearch
documents).  Then it builds a plain-jieba Whoosh index of the same articles
(words with positions, stored body: the usual recipe) and reports index size
and build time against it, and that index's recall for comparison.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from newsearch import NewsIndex
from newsearch.analysis import WORD_CHAR, normalize

from bench.common import REPO, dir_size, iter_articles, machine

KINDS = ("word 2-4", "single char", "phrase 5-8", "number/latin")
CJK = re.compile(r"[\u4e00-\u9fff]+")
_B, _E = r"(?<![0-9a-z.])", r"(?![0-9a-z])"  # whole Latin words and numbers only
MIXED = [  # one is picked at random for each sample, so every shape is represented
    re.compile(_B + r"[0-9]+[\u4e00-\u9fff]"),  # 2021年
    re.compile(_B + r"[0-9]+\.[0-9]+" + _E),  # 6.3512
    re.compile(_B + r"(?:[a-z]+[0-9]+|[0-9]+[a-z]+)" + _E),  # p50, 5g
    re.compile(r"[\u4e00-\u9fff]{1,2}[a-z]+[0-9]*" + _E + "|" + _B + r"[a-z]+[\u4e00-\u9fff]{1,2}"),  # 华为p50, a股
    re.compile(_B + r"[a-z]{2,}" + _E),  # iphone
    re.compile(_B + r"[0-9]{2,}" + _E),  # 2021
    re.compile(_B + r"[0-9]+(?:\.[0-9]+)?[%‰℃]"),  # 14%, 1.5%
    re.compile(r"[¥$€£][0-9]+(?:\.[0-9]+)?" + _E),  # ¥100
]


def load(corpus: Path) -> dict[str, str]:
    """Normalized title and body of each article id (of an id seen twice, the first)."""
    texts = {}
    for article in iter_articles(corpus):
        texts.setdefault(article.id, normalize(article.title + "\n" + article.body))
    return texts


def sample(texts: dict[str, str], per_kind: int, seed: int) -> dict[str, list[str]]:
    import jieba

    jieba.initialize()
    freq = jieba.get_FREQ
    rng = random.Random(seed)
    docs = sorted(texts)
    out: dict[str, set[str]] = {k: set() for k in KINDS}
    attempts = 0
    while any(len(v) < per_kind for v in out.values()) and attempts < per_kind * 2000:
        attempts += 1
        text = texts[rng.choice(docs)]
        runs = [m for m in CJK.finditer(text) if len(m.group()) >= 2]
        if runs:
            run = rng.choice(runs).group()
            i = rng.randrange(len(run))
            if len(out["single char"]) < per_kind:
                out["single char"].add(run[i])
            if len(out["word 2-4"]) < per_kind:
                for n in (4, 3, 2):
                    w = run[i : i + n]
                    if len(w) == n and freq(w):
                        out["word 2-4"].add(w)
                        break
            if len(out["phrase 5-8"]) < per_kind and len(run) >= 5:
                n = rng.randint(5, min(8, len(run)))
                j = rng.randrange(len(run) - n + 1)
                out["phrase 5-8"].add(run[j : j + n])
        if len(out["number/latin"]) < per_kind:
            mixed = rng.choice(MIXED).findall(text)
            if mixed:
                out["number/latin"].add(rng.choice(mixed))
    return {k: sorted(v) for k, v in out.items()}


def truth(texts: dict[str, str], needle: str) -> set[str]:
    """Brute force: normalized title+body contain the needle, words of letters and
    digits not continuing a longer word or number (the rule newsearch documents)."""
    body = re.escape(needle)
    if re.match(WORD_CHAR, needle[0]):
        body = f"(?<!{WORD_CHAR})" + body
        if needle[0].isdigit():  # a decimal is one number: 65 is not in 1.65
            body = r"(?<!\d\.)" + body
    if re.match(WORD_CHAR, needle[-1]):
        body += f"(?!{WORD_CHAR})"
        if needle[-1].isdigit():
            body += r"(?!\.\d)"
    rx = re.compile(body)
    return {doc for doc, text in texts.items() if rx.search(text)}


def score(found: set[str], expected: set[str]) -> tuple[float, float]:
    hit = len(found & expected)
    recall = hit / len(expected) if expected else 1.0
    precision = hit / len(found) if found else 1.0
    return recall, precision


def _plain_jieba_tokenizer():
    from whoosh.analysis import Token, Tokenizer

    from newsearch.analysis import word_tokens

    class PlainJieba(Tokenizer):
        """jieba search-mode words with consecutive positions (sub-words share them)."""

        def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                     start_pos=0, start_char=0, tokenize=True, mode="", **kw):
            t = Token(positions, chars, removestops=removestops, mode=mode, **kw)
            for term, pos, start, end in word_tokens(value, search=mode != "query"):
                t.text, t.boost, t.stopped = term, 1.0, False
                if positions:
                    t.pos = start_pos + pos
                if chars:
                    t.startchar, t.endchar = start_char + start, start_char + end
                yield t

    globals()["PlainJieba"] = PlainJieba  # picklable by name, for the Whoosh schema
    PlainJieba.__qualname__ = "PlainJieba"
    return PlainJieba()


def build_plain_jieba(corpus: Path, where: Path):
    """The usual recipe: jieba words with positions in Whoosh, body stored."""
    from whoosh import fields, index

    tokenizer = _plain_jieba_tokenizer()
    schema = fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(analyzer=tokenizer, stored=True, phrase=True),
        body=fields.TEXT(analyzer=tokenizer, stored=True, phrase=True),
    )
    where.mkdir(parents=True)
    started = time.perf_counter()
    ix = index.create_in(str(where), schema)
    writer = ix.writer(limitmb=256)
    for article in iter_articles(corpus):
        writer.add_document(id=article.id, title=article.title, body=article.body)
    writer.commit()
    return ix, time.perf_counter() - started


def plain_search(ix, needle: str) -> set[str]:
    from whoosh import query as wq

    from newsearch.analysis import query_words

    words = query_words(needle)
    if not words:
        return set()
    subs = [wq.Term(f, words[0]) if len(words) == 1 else wq.Phrase(f, words) for f in ("title", "body")]
    with ix.searcher() as s:
        return {hit["id"] for hit in s.search(wq.Or(subs), limit=None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default=str(REPO.parent / "shared" / "corpus"))
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    corpus = Path(args.corpus)
    if not corpus.is_dir():
        sys.exit(f"corpus folder not found: {corpus}")

    print(f"machine: {machine()}")
    texts = load(corpus)
    text_mb = sum(len(t.encode("utf-8")) for t in texts.values()) / 1e6
    print(f"corpus: {corpus} — {len(texts)} articles, {text_mb:.2f} MB of text")
    queries = sample(texts, args.per_kind, args.seed)

    tmp = Path(tempfile.mkdtemp(prefix="newsearch-recall-"))
    try:
        import jieba  # warm both builds equally: dictionary loading is not indexing

        jieba.initialize()
        from newsearch.analysis import word_tokens

        word_tokens("预热")
        started = time.perf_counter()
        ix = NewsIndex.create(tmp / "newsearch")
        ix.update([corpus])
        ns_seconds = time.perf_counter() - started
        ns_size = dir_size(tmp / "newsearch")
        plain, plain_seconds = build_plain_jieba(corpus, tmp / "plain")
        plain_size = dir_size(tmp / "plain")

        rows = []
        for kind in KINDS:
            stats: dict[str, list[float]] = defaultdict(list)
            for needle in queries[kind]:
                expected = truth(texts, needle)
                found = {h.id for h in ix.search(needle, limit=None, collapse=False, exact=True).hits}
                r, p = score(found, expected)
                stats["recall"].append(r)
                stats["precision"].append(p)
                r0, p0 = score(plain_search(plain, needle), expected)
                stats["plain_recall"].append(r0)
                stats["plain_precision"].append(p0)
            n = len(queries[kind])
            rows.append((
                kind, n,
                statistics.fmean(stats["recall"]), statistics.fmean(stats["precision"]),
                sum(r == 1.0 for r in stats["recall"]) / n,
                statistics.fmean(stats["plain_recall"]), statistics.fmean(stats["plain_precision"]),
            ))

        print()
        print(f"{'kind':<14}{'n':>5}{'recall':>9}{'precision':>11}{'perfect':>9}   {'plain jieba recall':>19}{'precision':>11}")
        for kind, n, r, p, perfect, r0, p0 in rows:
            print(f"{kind:<14}{n:>5}{r:>9.4f}{p:>11.4f}{perfect:>9.3f}   {r0:>19.4f}{p0:>11.4f}")
        print()
        print(f"{'index':<14}{'build s':>9}{'size MB':>9}{'size/text':>11}")
        print(f"{'newsearch':<14}{ns_seconds:>9.2f}{ns_size / 1e6:>9.2f}{ns_size / 1e6 / text_mb:>11.2f}")
        print(f"{'plain jieba':<14}{plain_seconds:>9.2f}{plain_size / 1e6:>9.2f}{plain_size / 1e6 / text_mb:>11.2f}")
        print(f"ratio newsearch / plain jieba: size {ns_size / plain_size:.2f}x, build time {ns_seconds / plain_seconds:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
