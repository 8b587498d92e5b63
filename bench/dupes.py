"""Precision and recall of near-duplicate detection on planted edits of real articles.

    python -m bench.dupes [CORPUS] [--bases 200] [--seed 3]

Picks BASES articles (seeded) from CORPUS (default ../shared/corpus) and writes,
beside every article of the corpus, edited copies of each base, the way news
sites republish a story: re-titled, a paragraph deleted, a paragraph (from
another article) added, punctuation and spacing changed, converted to
traditional characters, and all of re-titling + deletion + punctuation at
once.  It indexes everything, then asks the index for each planted article's
near-duplicates (shared bands, then sketches, as searches do) and compares them
with the truth: the base and its copies form one group.

Pairs between two articles of the corpus itself are not counted (nobody knows
the truth there; the script prints how many it found).  Prints precision and
recall per threshold and recall per kind of edit.

Then short items reported again in other words: SHORTS short items (title and
the opening of the body, as news flashes are) each get a *reworded* copy (the
title's clauses in another order, another source line, some words left out,
the sentences reordered) and an *other figures* copy (the same words, every
number changed: another fact).  The reworded copy must be grouped with its
item, the other-figures copy must not; precision and recall are counted over
those pairs, in the groups of a search that lists every article newest first.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path

from newsearch import NewsIndex
from newsearch.dupes import SHORT, THRESHOLD, similarity
from newsearch.fields import DUP_SKETCH
from newsearch.readers import column_reader

from bench.common import REPO, iter_articles, machine, print_table
from bench.corpus import jekyll_text

EDITS = ("retitled", "paragraph deleted", "paragraph added", "punctuation", "traditional", "retitled+deleted+punct")
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def paragraphs(body: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", body) if p.strip()]


def punctuate(text: str, rng: random.Random) -> str:
    swaps = {"，": ",", "。": ". ", "：": ":", "“": '"', "”": '"', "（": "(", "）": ")", "、": ","}
    out = []
    for ch in text:
        if ch in swaps and rng.random() < 0.7:
            out.append(swaps[ch])
        elif ch in "，。" and rng.random() < 0.1:
            continue  # dropped
        else:
            out.append(ch)
    return "".join(out)


def edit(kind: str, article: dict, other: dict, rng: random.Random, to_traditional) -> dict | None:
    title, paras = article["title"], paragraphs(article["body"])
    if kind == "retitled":
        title = f"{other['title'][:12]}：{title[:10]}"
    elif kind == "paragraph deleted":
        if len(paras) < 3:
            return None
        del paras[rng.randrange(len(paras))]
    elif kind == "paragraph added":
        extra = paragraphs(other["body"])
        if len(paras) < 2 or not extra:
            return None
        paras.insert(rng.randrange(len(paras) + 1), rng.choice(extra))
    elif kind == "punctuation":
        title, paras = punctuate(title, rng), [punctuate(p, rng) for p in paras]
    elif kind == "traditional":
        title, paras = to_traditional(title), [to_traditional(p) for p in paras]
    elif kind == "retitled+deleted+punct":
        if len(paras) < 3:
            return None
        del paras[rng.randrange(len(paras))]
        title = f"{other['title'][:12]}：{title[:10]}"
        paras = [punctuate(p, rng) for p in paras]
    return {**article, "title": title, "body": "\n\n".join(paras)}


_SOURCES = ("据报道，", "消息称，", "记者获悉，", "据悉，", "据了解，")
_CLAUSE = re.compile(r"[ ，,：:；;！!？?、]+")
_SENTENCE = re.compile(r"(?<=[。！？；])")
_FIGURE = re.compile(r"\d+")


def short_item(article: dict) -> dict | None:
    """A news flash made of an article: its title and the opening of its body (whole
    sentences, about 200 characters); None when the opening is too short."""
    opening = ""
    for sentence in _SENTENCE.split(paragraphs(article["body"])[0] if article["body"].strip() else ""):
        if len(opening) + len(sentence) > 220:
            break
        opening += sentence
    if len(opening) < 40 or len(article["title"]) < 6:
        return None
    return {**article, "body": opening}


def reword(item: dict, rng: random.Random) -> dict:
    """The same fact in other words: the title's clauses reordered, a source line, some
    words of the body left out, its sentences in another order."""
    clauses = [c for c in _CLAUSE.split(item["title"]) if c]
    rng.shuffle(clauses)
    sentences = [s for s in _SENTENCE.split(item["body"]) if s.strip()]
    rng.shuffle(sentences)
    kept = []
    for sentence in sentences:
        pieces = re.split(r"([，,、])", sentence)
        kept.append("".join(p for p in pieces if _FIGURE.search(p) or p in "，,、" or rng.random() > 0.2))
    return {**item, "title": "，".join(clauses), "body": rng.choice(_SOURCES) + "".join(kept)}


def other_figures(item: dict, rng: random.Random) -> dict | None:
    """The same words with every number changed: another fact (None without numbers)."""
    if not _FIGURE.search(item["title"] + item["body"]):
        return None

    def change(m: re.Match[str]) -> str:
        return str(int(m.group()) + rng.randint(1, 9))

    return {**item, "title": _FIGURE.sub(change, item["title"]), "body": _FIGURE.sub(change, item["body"])}


def rewordings(pool: list[dict], shorts: int, rng: random.Random) -> None:
    """Index short items with a reworded and an other-figures copy each; print how well
    rewordings are grouped (see the module docstring)."""
    items = [item for item in map(short_item, pool) if item is not None]
    items = rng.sample(items, min(shorts, len(items)))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "short"
        folder.mkdir()
        truth: set[frozenset[str]] = set()
        negative: set[frozenset[str]] = set()
        for number, item in enumerate(items):
            names = {"base": f"s{number:04d}-base", "reworded": f"s{number:04d}-reworded", "figures": f"s{number:04d}-figures"}
            copies = {"base": item, "reworded": reword(item, rng), "figures": other_figures(item, rng)}
            for kind, copy in copies.items():
                if copy is not None:
                    (folder / f"{names[kind]}.md").write_text(jekyll_text({**copy, "id": names[kind]}), encoding="utf-8")
            truth.add(frozenset((names["base"], names["reworded"])))
            if copies["figures"] is not None:
                negative |= {frozenset((names["base"], names["figures"])), frozenset((names["reworded"], names["figures"]))}
        ix = NewsIndex.create(Path(tmp) / "index")
        ix.update([folder])
        # Every article, newest first, folded as a search folds its matches.
        found: set[frozenset[str]] = set()
        for hit in ix.search("", limit=None).hits:
            members = [hit.id, *(version.id for version in hit.versions)]
            found |= {frozenset(pair) for pair in combinations(members, 2)}
    hits, wrong = len(found & truth), len(found & negative)
    print(f"\nShort items (at most {SHORT} characters) reported again in other words: {len(items)} items")
    print_table(
        ["pairs", "planted", "grouped", "share"],
        [
            ("reworded copy with its item (recall)", len(truth), hits, f"{hits / len(truth):.3f}" if truth else "-"),
            ("other figures with either (wrongly)", len(negative), wrong, f"{wrong / len(negative):.3f}" if negative else "-"),
        ],
    )
    print(f"precision over these pairs: {hits / (hits + wrong):.3f}" if hits + wrong else "precision: -")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default=str(REPO.parent / "shared" / "corpus"))
    parser.add_argument("--bases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--errors", type=int, default=0, help="also print up to N wrong and missed pairs")
    parser.add_argument("--shorts", type=int, default=300, help="short items to reword")
    args = parser.parse_args(argv)
    corpus = Path(args.corpus)
    if not corpus.is_dir():
        sys.exit(f"corpus not found: {corpus} (clone the repository beside ../shared, or pass a folder)")
    import opencc

    to_traditional = opencc.OpenCC("s2t").convert
    rng = random.Random(args.seed)
    articles = [a for a in iter_articles(corpus) if a.body.strip()]
    pool = [{"title": a.title, "body": a.body, "date": a.date, "categories": list(a.categories), "tags": list(a.tags)} for a in articles]
    bases = rng.sample(range(len(pool)), min(args.bases, len(pool)))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "planted"
        folder.mkdir()
        group_of: dict[str, int] = {}  # planted article id -> group
        kind_of: dict[str, str] = {}
        for group, index in enumerate(bases):
            base = pool[index]
            name = f"g{group:04d}-base"
            (folder / f"{name}.md").write_text(jekyll_text({**base, "id": name}), encoding="utf-8")
            group_of[name] = group
            group_of[articles[index].id] = group  # the corpus's own copy of the base
            for kind in EDITS:
                other = pool[rng.randrange(len(pool))]
                copy = edit(kind, base, other, rng, to_traditional)
                if copy is None:
                    continue
                name = f"g{group:04d}-{EDITS.index(kind)}"
                (folder / f"{name}.md").write_text(jekyll_text({**copy, "id": name}), encoding="utf-8")
                group_of[name], kind_of[name] = group, kind
        ix = NewsIndex.create(Path(tmp) / "index")
        started = time.perf_counter()
        report = ix.update([corpus, folder])
        print(f"machine: {machine()}")
        print(f"indexed {report.articles_added} articles ({len(group_of)} planted in {len(bases)} groups) "
              f"in {time.perf_counter() - started:.1f} s")

        with ix._whoosh().searcher() as searcher:  # noqa: SLF001
            readers = [leaf.reader() for leaf, _ in searcher.leaf_searchers()]
            where: dict[str, tuple[int, int]] = {}
            for r, reader in enumerate(readers):
                for docnum in reader.all_doc_ids():
                    where[reader.stored_fields(docnum)["id"]] = (r, docnum)
            sketches = [column_reader(reader, DUP_SKETCH) for reader in readers]
            found: dict[frozenset[str], float] = {}
            for name in group_of:
                r, docnum = where[name]
                own = sketches[r][docnum]
                for r2, reader in enumerate(readers):
                    candidates = set(sketches[r2].sharing(own))
                    for other in candidates:
                        if (r2, other) == (r, docnum):
                            continue
                        other_id = reader.stored_fields(other)["id"]
                        found[frozenset((name, other_id))] = similarity(own, sketches[r2][other])
            truth = {frozenset((a, b)) for a in group_of for b in group_of if a < b and group_of[a] == group_of[b]}

        rows = []
        for threshold in THRESHOLDS:
            predicted = {pair for pair, score in found.items() if score >= threshold}
            hits = len(predicted & truth)
            precision = hits / len(predicted) if predicted else 1.0
            recall = hits / len(truth) if truth else 1.0
            rows.append((threshold, len(predicted), hits, f"{precision:.3f}", f"{recall:.3f}"))
        print("\nPairs involving a planted article (truth: the base and its copies)")
        print_table(["threshold", "predicted pairs", "true among them", "precision", "recall"], rows, digits=2)

        by_kind = defaultdict(lambda: [0, 0])
        for name, kind in kind_of.items():
            base = f"{name.split('-')[0]}-base"
            pair = frozenset((name, base))
            by_kind[kind][1] += 1
            if found.get(pair, 0.0) >= THRESHOLD:
                by_kind[kind][0] += 1
        print(f"\nCopy found as a near-duplicate of its base, at newsearch's threshold ({THRESHOLD})")
        print_table(["edit", "copies", "found", "recall"],
                    [(k, n, f, f"{f / n:.3f}") for k, (f, n) in ((k, by_kind[k]) for k in EDITS if by_kind[k][1])])
        if args.errors:
            titles = {a.id: a.title for a in articles}
            wrong = [p for p, v in found.items() if v >= THRESHOLD and p not in truth][: args.errors]
            missed = [p for p in truth if found.get(p, 0.0) < THRESHOLD][: args.errors]
            for label, pairs in (("wrong", wrong), ("missed", missed)):
                for pair in pairs:
                    a, b = sorted(pair)
                    print(f"{label} {found.get(pair, 0.0):.2f}: {a} {titles.get(a, '')[:30]!r} | {b} {titles.get(b, '')[:30]!r}")
        print("\nA predicted pair that is not in the truth may still be a real duplicate: the corpus")
        print("republishes some items itself (finews), and those count against precision here.")
    rewordings(pool, args.shorts, rng)


if __name__ == "__main__":
    main()
