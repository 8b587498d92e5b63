"""Search requests generated from an index's own articles, with a seeded generator: words
and two-word queries from titles, phrases quoted from bodies, single characters,
filters on the archive's categories, tags and years, every sort, pages 1 to 3, facets
and collapsing on and off.  For comparing two ways of answering the same archive
(one segment or many, one index or shards), which must agree on every one of them."""

from __future__ import annotations

import random
import re
from typing import Any

from newsearch import NewsIndex, SearchResults

_CJK = re.compile(r"[\u4e00-\u9fff]{2,}")
SORTS = ("relevance", "relevance", "-date", "date", "recent")


def generated_requests(ix: NewsIndex, n: int = 120, seed: int = 20261206) -> list[dict[str, Any]]:
    """``n`` keyword arguments of :meth:`NewsIndex.search`, drawn from ``ix``'s articles."""
    rng = random.Random(seed)
    stats = ix.stats(top=30)
    categories = [name for name, _count in stats.categories]
    tags = [name for name, _count in stats.tags]
    years = sorted({d.year for d in (stats.first_date, stats.last_date) if d is not None})
    articles = [ix.get(hit.id) for hit in ix.search("", limit=None, facets=False, collapse=False).hits]
    articles.sort(key=lambda a: a.id)
    runs = [(a, _CJK.findall(a.title), _CJK.findall(a.body)) for a in articles]
    runs = [r for r in runs if r[1] and r[2]]

    def word(text_runs: list[str]) -> str:
        run = rng.choice(text_runs)
        size = min(len(run), rng.choice((2, 2, 3, 4)))
        at = rng.randrange(len(run) - size + 1)
        return run[at : at + size]

    requests: list[dict[str, Any]] = []
    while len(requests) < n:
        _article, title, body = rng.choice(runs)
        kind = rng.randrange(6)
        if kind == 0:
            query = word(title)
        elif kind == 1:
            query = f"{word(title)} {word(body)}"
        elif kind == 2:
            query = f'"{word(body)}"'
        elif kind == 3:
            query = rng.choice(word(body))
        elif kind == 4:
            query = f"{word(title)}{word(title)}"  # an unspaced compound or question
        else:
            query = ""  # a filter alone
        request: dict[str, Any] = {"query": query, "sort": rng.choice(SORTS)}
        if kind == 5 or rng.random() < 0.25:
            which = rng.randrange(3)
            if which == 0 and categories:
                request["category"] = rng.choice(categories)
            elif which == 1 and tags:
                request["tags"] = rng.choice(tags)
            elif years:
                request["since"] = str(rng.randint(years[0], years[-1]))
        request["limit"] = rng.choice((5, 10, 10))
        request["offset"] = request["limit"] * rng.choice((0, 0, 1, 2))
        request["facets"] = rng.random() < 0.5
        request["collapse"] = rng.random() < 0.5
        requests.append(request)
    return requests


def comparable(results: SearchResults) -> dict[str, Any]:
    """What two answers to one request must agree on: ids in order, scores, totals, facets
    and near-duplicates (the snippets follow from the ids)."""
    data = results.to_dict()
    return {
        "total": results.total,
        "exact": data["exact"],
        "hits": [(h.id, h.score, [v.id for v in h.versions], h.match) for h in results.hits],
        "facets": data["facets"],
        "suggestion": results.suggestion,
    }


def scores_close(a: dict[str, Any], b: dict[str, Any], tolerance: float = 1e-9) -> bool:
    """Whether two :func:`comparable` answers have the same hits with scores within ``tolerance``."""
    if len(a["hits"]) != len(b["hits"]):
        return False
    return all(abs(x[1] - y[1]) <= tolerance * max(1.0, abs(x[1])) for x, y in zip(a["hits"], b["hits"]))
