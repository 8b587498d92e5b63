"""Seeded generator of large news corpora made of real paragraphs.

    python -m bench.corpus N OUT_DIR [--seed 1] [--format jekyll|jsonl] [--source DIR] [--force]

Reads the real posts (default ``../shared/corpus``, next to the repository),
then writes N articles that recombine their paragraphs:

* length: log-normal around 3,300 bytes of UTF-8 (about 1,150 characters),
  so 20,000 articles are about 65 MB of text, the size of the reference
  figures' 20,000-article corpus; paragraphs come in short runs of
  consecutive paragraphs of one real post (so neighbouring text stays
  coherent);
* title: a real title (15%) or a clause of 8-30 characters of the article's
  own paragraphs;
* date: uniform over 2015-01-01 .. 2024-12-31, with a time of day, +0800;
* categories: one (sometimes two) of 12, Zipf-like;
* tags: 0-3 of a few hundred (the real tags plus frequent 2-4 character
  nouns of the corpus), Zipf-like.

Article ``i`` depends only on (seed, i): the first 2,000 articles of a
100,000-article corpus are the 2,000-article corpus of the same seed.
Articles are generated and written one at a time, so N = 1,000,000 runs in
constant memory (but needs about 10 GB of disk: real articles are ~9.5 kB of
UTF-8 each).

Jekyll output: ``OUT_DIR/0000/YYYY-MM-DD-<i>.md`` (1,000 files per folder)
with YAML front matter.  JSONL output: ``OUT_DIR/articles-0000.jsonl``
(10,000 articles per file).  Either way the article ids are
``YYYY-MM-DD-<i>`` and ``OUT_DIR/.newsearch-corpus.json`` records how the
corpus was made.

Importable: :func:`generate` yields article dicts, :func:`write_corpus`
writes them, :func:`cached_corpus` writes them once into a benchmark's cache folder,
:func:`load_pool` exposes the real material.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from bench.common import iter_articles

__all__ = [
    "CATEGORIES",
    "DEFAULT_SOURCE",
    "FORMATS",
    "Pool",
    "cached_corpus",
    "format_date",
    "generate",
    "load_pool",
    "main",
    "write_corpus",
]

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FORMATS = ("jekyll", "jsonl")
MANIFEST = ".newsearch-corpus.json"
FILES_PER_FOLDER = 1_000  # jekyll
LINES_PER_FILE = 10_000  # jsonl
GENERATOR_VERSION = 1

# Real ones first (the corpus has Archive and emnews), then the usual sections of a news site.
CATEGORIES = ("财经", "国内", "Archive", "国际", "社会", "emnews", "评论", "科技", "文化", "教育", "环境", "法律")
_CATEGORY_WEIGHTS = tuple(1 / (k + 1) ** 1.1 for k in range(len(CATEGORIES)))
_N_CATEGORIES = ((1, 0.9), (2, 0.1))
_N_TAGS = ((0, 0.25), (1, 0.35), (2, 0.25), (3, 0.15))
_TAG_POOL_SIZE = 400
_REAL_TITLE_SHARE = 0.15
_RUN_MEAN = 5  # mean number of consecutive paragraphs taken from one real post
MEAN_BYTES = 3300  # mean UTF-8 size of an article body: 20,000 articles ≈ 65 MB, as in the reference figures
_LOG_SIGMA = 0.8
_LOG_MU = math.log(MEAN_BYTES) - _LOG_SIGMA**2 / 2

_START = datetime(2015, 1, 1)
_SPAN_SECONDS = int((datetime(2025, 1, 1) - _START).total_seconds())

_CJK = re.compile(r"[\u4e00-\u9fff]")
_CLAUSE_SPLIT = re.compile(r"[。！？；，、：,!?;:\n]+")
_CLAUSE_TRIM = " \t\u3000\"'“”‘’「」『』《》()（）[]【】…—-·.*#>"
_WORD_POS = frozenset({"n", "nr", "ns", "nt", "nz", "vn", "nrt"})


class SourceMissing(FileNotFoundError):
    """The folder of real posts is not there."""


@dataclass(frozen=True)
class Pool:
    """The real material the generator draws from."""

    source: str
    paragraphs: tuple[str, ...]  # all paragraphs, post after post
    starts: tuple[int, ...]  # index in ``paragraphs`` of each post's first paragraph, plus the end
    titles: tuple[str, ...]
    tags: tuple[str, ...]  # in Zipf rank order
    tag_cum_weights: tuple[float, ...]


def _cum(weights) -> list[float]:
    return list(itertools.accumulate(weights))


def load_pool(source: str | Path = DEFAULT_SOURCE) -> Pool:
    """Parse the real posts under ``source`` into paragraphs, titles and tags (cached per folder)."""
    return _load_pool(str(Path(source).resolve()))


@lru_cache(maxsize=4)
def _load_pool(source_str: str) -> Pool:
    source = Path(source_str)
    if not source.is_dir():
        raise SourceMissing(
            f"real corpus not found: {source} (expected ../shared/corpus next to the repository; use --source DIR)"
        )
    paragraphs: list[str] = []
    starts: list[int] = []
    titles: list[str] = []
    real_tags: Counter[str] = Counter()
    seen: set[str] = set()
    for article in iter_articles(source):
        if article.id in seen:
            continue
        seen.add(article.id)
        paras = [p.strip() for p in article.body.split("\n\n") if p.strip()]
        if not paras:
            continue
        starts.append(len(paragraphs))
        paragraphs.extend(paras)
        if article.title.strip():
            titles.append(article.title.strip())
        real_tags.update(t for t in article.tags if t.strip())
    if not paragraphs:
        raise SourceMissing(f"no articles with text under {source}")
    starts.append(len(paragraphs))
    tags = _tag_pool(real_tags, titles, paragraphs)
    return Pool(
        source=str(source),
        paragraphs=tuple(paragraphs),
        starts=tuple(starts),
        titles=tuple(titles),
        tags=tuple(tags),
        tag_cum_weights=tuple(_cum(1 / (k + 1) for k in range(len(tags)))),
    )


def _tag_pool(real: Counter[str], titles: list[str], paragraphs: list[str]) -> list[str]:
    """The real tags plus frequent 2-4 character nouns, in a fixed pseudo-random rank order."""
    import hashlib
    import logging

    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    text = "\n".join(titles + paragraphs[::10])
    nouns: Counter[str] = Counter()
    for pair in jieba.posseg.cut(text, HMM=False):
        w, flag = pair.word, pair.flag
        if 2 <= len(w) <= 4 and flag in _WORD_POS and all(_CJK.match(c) for c in w):
            nouns[w] += 1
    pool = [t for t, _ in sorted(real.items(), key=lambda kv: (-kv[1], kv[0]))]
    for w, _ in sorted(nouns.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(pool) >= _TAG_POOL_SIZE:
            break
        if w not in real:
            pool.append(w)
    # Rank independent of the seed and of where a tag came from, so the head mixes both kinds.
    return sorted(pool, key=lambda t: hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest())


def format_date(moment: datetime) -> str:
    """Jekyll's date format, as in the real posts: ``2021-12-25 14:03:27 +0800``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S +0800")


def _title(rng, paras: list[str], pool: Pool) -> str:
    if rng.random() < _REAL_TITLE_SHARE:
        return rng.choice(pool.titles)
    for i in rng.sample(range(len(paras)), min(12, len(paras))):
        clauses = [c.strip(_CLAUSE_TRIM) for c in _CLAUSE_SPLIT.split(paras[i])]
        clauses = [c for c in clauses if 8 <= len(c) <= 30 and _CJK.search(c)]
        if clauses:
            return rng.choice(clauses)
    return rng.choice(pool.titles)


def _article(i: int, seed: int, pool: Pool) -> dict:
    import random

    rng = random.Random(f"newsearch-corpus/{seed}/{i}")
    # Length: log-normal around MEAN_BYTES, like news (many short items, some long features).
    want = max(80.0, rng.lognormvariate(_LOG_MU, _LOG_SIGMA))
    paras: list[str] = []
    size = 0
    n_all = len(pool.paragraphs)
    while size < want:
        start = rng.randrange(n_all)
        post = bisect.bisect_right(pool.starts, start) - 1
        end = pool.starts[post + 1]
        run = min(1 + int(rng.expovariate(1 / (_RUN_MEAN - 1))), end - start)
        for para in pool.paragraphs[start : start + run]:
            paras.append(para)
            size += len(para.encode("utf-8")) + 2
            if size >= want:
                break
    moment = _START + timedelta(seconds=rng.randrange(_SPAN_SECONDS))
    n_cat = rng.choices([n for n, _ in _N_CATEGORIES], [w for _, w in _N_CATEGORIES])[0]
    categories: list[str] = []
    while len(categories) < n_cat:
        c = rng.choices(CATEGORIES, _CATEGORY_WEIGHTS)[0]
        if c not in categories:
            categories.append(c)
    n_tags = rng.choices([n for n, _ in _N_TAGS], [w for _, w in _N_TAGS])[0]
    tags: list[str] = []
    while len(tags) < n_tags:
        t = rng.choices(pool.tags, cum_weights=pool.tag_cum_weights)[0]
        if t not in tags:
            tags.append(t)
    return {
        "id": f"{moment:%Y-%m-%d}-{i}",
        "title": _title(rng, paras, pool),
        "date": moment,
        "categories": categories,
        "tags": tags,
        "body": "\n\n".join(paras),
    }


def generate(n: int, seed: int = 1, *, source: str | Path = DEFAULT_SOURCE, start: int = 0) -> Iterator[dict]:
    """Yield ``n`` articles as dicts: id, title, date (naive datetime, +0800), categories, tags, body.

    ``body`` is clean text with paragraphs separated by blank lines.  Article
    ``i`` depends only on ``seed`` and ``i`` (``start`` skips the first ones).
    """
    pool = load_pool(Path(source))
    for i in range(start, start + n):
        yield _article(i, seed, pool)


def _yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


_MD_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")


def markdown_escape(text: str) -> str:
    """Backslash-escape every ASCII punctuation mark, so CommonMark renders ``text`` back verbatim."""
    return _MD_PUNCT.sub(r"\\\1", text)


def jekyll_text(article: dict) -> str:
    """One article as a Jekyll post: YAML front matter and the body escaped as Markdown."""
    return (
        "---\n"
        "layout: post\n"
        f"title: {_yaml_str(article['title'])}\n"
        f"date: {format_date(article['date'])}\n"
        f"categories: [{', '.join(map(_yaml_str, article['categories']))}]\n"
        f"tags: [{', '.join(map(_yaml_str, article['tags']))}]\n"
        "---\n\n"
        f"{markdown_escape(article['body'])}\n"
    )


def jsonl_line(article: dict) -> str:
    """One article as a JSON line (newsearch renders JSONL bodies as Markdown too, hence the escaping)."""
    record = dict(article, date=format_date(article["date"]), body=markdown_escape(article["body"]))
    return json.dumps(record, ensure_ascii=False) + "\n"


def write_corpus(
    n: int,
    out_dir: str | Path,
    seed: int = 1,
    fmt: str = "jekyll",
    *,
    source: str | Path = DEFAULT_SOURCE,
    force: bool = False,
) -> dict:
    """Write ``n`` generated articles under ``out_dir``; return what was written.

    Returns a dict: articles, files, chars, text_bytes (UTF-8 of title + body),
    text_mb, disk_mb (file bytes), seconds, out_dir, format, seed.  An
    existing non-empty ``out_dir`` is refused unless ``force`` and it holds a
    corpus made by this script (then it is replaced).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"{out} is not empty (use --force to replace a corpus made by this script)")
        if not (out / MANIFEST).is_file():
            raise FileExistsError(f"{out} is not empty and was not made by bench.corpus; not removing it")
        shutil.rmtree(out)
    started = time.perf_counter()
    pool = load_pool(Path(source))
    out.mkdir(parents=True, exist_ok=True)
    chars = text_bytes = disk = files = 0
    handle = None
    folder = None
    try:
        for i, article in enumerate(generate(n, seed, source=source)):
            chars += len(article["title"]) + len(article["body"])
            text_bytes += len(article["title"].encode("utf-8")) + len(article["body"].encode("utf-8"))
            if fmt == "jekyll":
                if i % FILES_PER_FOLDER == 0:
                    folder = out / f"{i // FILES_PER_FOLDER:04d}"
                    folder.mkdir()
                data = jekyll_text(article).encode("utf-8")
                (folder / f"{article['id']}.md").write_bytes(data)
                disk += len(data)
                files += 1
            else:
                if i % LINES_PER_FILE == 0:
                    if handle:
                        handle.close()
                    handle = open(out / f"articles-{i // LINES_PER_FILE:04d}.jsonl", "wb")
                    files += 1
                data = jsonl_line(article).encode("utf-8")
                handle.write(data)
                disk += len(data)
    finally:
        if handle:
            handle.close()
    seconds = time.perf_counter() - started
    stats = {
        "articles": n,
        "files": files,
        "chars": chars,
        "text_bytes": text_bytes,
        "text_mb": text_bytes / 1e6,
        "disk_mb": disk / 1e6,
        "seconds": seconds,
        "out_dir": str(out),
        "format": fmt,
        "seed": seed,
    }
    manifest = dict(stats, source=pool.source, generator_version=GENERATOR_VERSION,
                    created=datetime.now().isoformat(timespec="seconds"))
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return stats


def cached_corpus(n: int, seed: int, out: str | Path) -> tuple[Path, float]:
    """The Jekyll corpus of ``n`` articles of ``seed`` in ``out/corpus-N-sSEED`` and its MB of text.

    Written on first use and kept, so that later runs of a benchmark measure
    the same files without generating them again; a folder without its
    ``.complete.json`` (an interrupted run) is written anew.
    """
    return _cached(Path(out) / f"corpus-{n}-s{seed}", n, seed, "jekyll", "generating {n:,} articles into {folder}")


def cached_feeds(n: int, seed: int, out: str | Path) -> tuple[Path, float]:
    """The same ``n`` articles as :func:`cached_corpus`, written as JSON Lines feeds of
    up to 10,000 lines in ``out/feeds-N-sSEED``, kept like it; and its MB of text."""
    return _cached(Path(out) / f"feeds-{n}-s{seed}", n, seed, "jsonl", "writing {n:,} articles as feeds into {folder}")


def _cached(folder: Path, n: int, seed: int, form: str, saying: str) -> tuple[Path, float]:
    marker = folder / ".complete.json"
    if not marker.exists():
        if folder.exists():
            shutil.rmtree(folder)
        print(saying.format(n=n, folder=folder) + " ...", flush=True)
        info = write_corpus(n, folder, seed, form)
        marker.write_text(json.dumps(info, default=str))
    return folder, float(json.loads(marker.read_text())["text_mb"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of articles")
    parser.add_argument("out_dir", help="folder to write (must be empty or absent)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=FORMATS, default="jekyll")
    parser.add_argument("--source", default=str(DEFAULT_SOURCE), help=f"real posts (default {DEFAULT_SOURCE})")
    parser.add_argument("--force", action="store_true", help="replace OUT_DIR if it holds a corpus made by this script")
    args = parser.parse_args(argv)
    if args.n < 0:
        parser.error("N must be >= 0")
    try:
        s = write_corpus(args.n, args.out_dir, args.seed, args.format, source=args.source, force=args.force)
    except (SourceMissing, FileExistsError) as exc:
        sys.exit(f"bench.corpus: {exc}")
    per = s["chars"] / s["articles"] if s["articles"] else 0
    print(
        f"{s['articles']} articles ({s['format']}, seed {s['seed']}) in {s['out_dir']}: "
        f"{s['text_mb']:.1f} MB of text ({s['chars'] / 1e6:.1f} M chars, {per:,.0f} chars/article), "
        f"{s['files']} files, {s['seconds']:.1f} s"
    )


if __name__ == "__main__":
    main()
