"""newsearch.execute: the query evaluator gives Whoosh's own scores and matches, exactly.

Whoosh's matcher tree is the reference: for each query, every document it
matches and the score it gives (searching with no limit, so nothing is
pruned) must come out of :func:`newsearch.execute.search` unchanged, and
the first page must be the best of those scores.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from whoosh import query as wq

from conftest import write_post
from newsearch import NewsIndex, execute
from newsearch.dates import parse_bound
from newsearch.fields import id_key
from newsearch.compiler import IndexVocabulary, compile_filters, compile_query
from newsearch.query import parse

QUERIES = [
    # (query, filters)
    ("北大", {}),
    ("人民币", {}),
    ("性骚扰 北大", {}),
    ('"高校 反性骚扰"', {}),
    ("中", {}),
    ("的", {}),
    ("MeToo", {}),
    ("a", {}),
    ("人民币 OR 美元", {}),
    ("北大 -性骚扰", {}),
    ("(工人 OR 学生) -北京 工厂", {}),
    ("title:北大", {}),
    ("body:岳昕", {}),
    ("tag:声援岳昕", {}),
    ("category:emnews 港股", {}),
    ("date:2018 学生", {}),
    ("date:[2018-05-01 TO] 北大", {}),
    ("-的", {}),
    ("人民币", {"categories": ["emnews"]}),
    ("学生", {"since": "2018-04", "until": "2018-06"}),
    ("", {"categories": ["Archive"], "since": "2018-06"}),
    ("工人", {"tags": ["尘肺"]}),
    ("没有这个词语吧", {}),
]


def _compile(searcher, text: str, filters: dict):
    vocab = IndexVocabulary(searcher)
    q = compile_query(parse(text), vocab=vocab, title_boost=3.0)
    flt = compile_filters(
        categories=filters.get("categories", ()),
        tags=filters.get("tags", ()),
        since=parse_bound(filters["since"], end=False) if "since" in filters else None,
        until=parse_bound(filters["until"], end=True) if "until" in filters else None,
        vocab=vocab,
    )
    return q, flt


def _same_as_whoosh(searcher, text: str, filters: dict) -> list:
    q, flt = _compile(searcher, text, filters)
    reference = {hit["id"]: hit.score for hit in searcher.search(q, filter=flt, limit=None)}
    sort = "date" if isinstance(q, wq.Every) else "relevance"
    total, matches = execute.search(searcher, q, flt, sort=sort, limit=None)
    ours = {m.reader.stored_fields(m.docnum)["id"]: m.score for m in matches}
    assert total == len(matches) == len(reference), text
    assert execute.count(searcher, q, flt) == total
    assert ours.keys() == reference.keys(), text
    for key, score in ours.items():
        assert score == pytest.approx(reference[key], rel=1e-9, abs=1e-9), (text, key)
    return matches


@pytest.mark.parametrize(("text", "filters"), QUERIES)
def test_matches_and_scores_equal_whoosh(corpus_index: NewsIndex, text: str, filters: dict) -> None:
    with corpus_index._searcher() as searcher:  # noqa: SLF001 - comparing with Whoosh's own search
        matches = _same_as_whoosh(searcher, text, filters)
        q, flt = _compile(searcher, text, filters)
        if isinstance(q, wq.Every):
            return
        # The first page is the best of all scores, ties in id key order.
        total, page = execute.search(searcher, q, flt, limit=10)
        assert total == len(matches)
        assert [m.score for m in page] == sorted((m.score for m in matches), reverse=True)[:10]
        assert page == matches[:10]


def test_results_on_the_tested_queries_are_not_all_empty(corpus_index: NewsIndex) -> None:
    # The comparison above means something only if most queries match.
    with corpus_index._searcher() as searcher:  # noqa: SLF001
        totals = [execute.count(searcher, *_compile(searcher, t, f)) for t, f in QUERIES]
    assert sum(1 for n in totals if n) >= len(QUERIES) - 2
    assert totals[-1] == 0


def test_date_sorts_put_ties_in_id_key_order_and_undated_articles_last(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    for i, date in enumerate(["2021-01-01 08:00:00", "2022-05-01 08:00:00", "2021-01-01 08:00:00", None]):
        write_post(posts, f"p{i}.md", f"标题{i}", "新闻正文", date=date)
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([posts])
    with ix._searcher() as searcher:  # noqa: SLF001
        q, flt = _compile(searcher, "新闻", {})
        orders = {}
        for sort in ("-date", "date"):
            total, matches = execute.search(searcher, q, flt, sort=sort, limit=None)
            assert total == 4
            orders[sort] = [m.reader.stored_fields(m.docnum)["id"] for m in matches]
    tied = sorted(["p0", "p2"], key=id_key)  # the same date and score: the lower id key first
    assert orders["-date"] == ["p1", *tied, "p3"]  # the undated article last
    assert orders["date"] == [*tied, "p1", "p3"]  # last in this order too


def test_deleted_and_replaced_articles_are_not_found(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    for i in range(6):
        write_post(posts, f"p{i}.md", f"标题{i}", f"第{i}篇关于港股的新闻，港股" * (i + 1))
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([posts])
    (posts / "p1.md").unlink()
    write_post(posts, "p2.md", "标题2", "改写以后不再提到那个市场")
    shutil.copy(posts / "p3.md", posts / "p3-copy.md")
    ix.update([posts])  # a second segment, and deletions in the first
    with ix._searcher() as searcher:  # noqa: SLF001
        assert len(searcher.leaf_searchers()) >= 1
        matches = _same_as_whoosh(searcher, "港股", {})
        ids = sorted(m.reader.stored_fields(m.docnum)["id"] for m in matches)
    assert ids == ["p0", "p3", "p3-copy", "p4", "p5"]
    result = ix.search("港股")
    assert result.total == 5
    assert result.hits[0].id == "p5"  # it says 港股 most often


def test_date_range_bounds_are_inclusive(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    write_post(posts, "a.md", "甲", "同一个词", date="2021-03-01 00:00:00")
    write_post(posts, "b.md", "乙", "同一个词", date="2021-03-31 23:59:59")
    write_post(posts, "c.md", "丙", "同一个词", date="2021-04-01 00:00:00")
    write_post(posts, "d.md", "丁", "同一个词", date=None)
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([posts])
    assert sorted(h.id for h in ix.search("同一个词", since="2021-03", until="2021-03", collapse=False).hits) == ["a", "b"]
    assert sorted(h.id for h in ix.search("同一个词", until="2021-03", collapse=False).hits) == ["a", "b"]
    assert sorted(h.id for h in ix.search("同一个词", since="2021-04", collapse=False).hits) == ["c"]
    assert ix.search("同一个词").total == 4
    with ix._searcher() as searcher:  # noqa: SLF001
        _same_as_whoosh(searcher, "同一个词", {"until": "2021-03"})
        _same_as_whoosh(searcher, "", {"since": "2021-03-31"})


@pytest.mark.parametrize("text", ["北大", "人民币", "学生", "中", "性骚扰 北大", "title:北大"])
def test_a_segments_bound_is_at_least_every_score(corpus_index: NewsIndex, text: str) -> None:
    """What MaxScore skips on (newsearch.ranking): no document scores above a query's bound."""
    with corpus_index._searcher() as searcher:  # noqa: SLF001
        q, _ = _compile(searcher, text, {})
        for leaf, _base in searcher.leaf_searchers():
            segment = execute.Segment(searcher, leaf)
            scores = segment.scores(q)
            bound = segment.bound(q)  # None: no bound known (an exact string's count), nothing skipped
            assert bound is None or max(scores.values(), default=0.0) <= bound, text
            parts = [q, *(q.subqueries if isinstance(q, (wq.Or, wq.And)) else ()), *(q.b.subqueries if isinstance(q, wq.AndMaybe) and isinstance(q.b, wq.Or) else ())]
            bounded = [part for part in parts if segment.bound(part) is not None]
            assert bounded or text == "人民币", text
            for part in bounded:
                assert max(segment.scores(part).values(), default=0.0) <= segment.bound(part), (text, part)  # type: ignore[operator]


def test_a_common_term_scored_for_a_few_documents_keeps_their_scores_and_order(corpus_index: NewsIndex) -> None:
    """A long posting list asked about a few documents is bisected, not read through:
    the same scores, in document order."""
    with corpus_index._searcher() as searcher:  # noqa: SLF001
        for leaf, _base in searcher.leaf_searchers():
            segment = execute.Segment(searcher, leaf)
            term = wq.Term("body", "学生")
            everything = segment.scores(term)
            if len(everything) < 40:
                continue
            few = set(list(everything)[::20]) | {10**6}  # and a document the list lacks
            assert len(few) * 8 < len(everything)
            assert list(segment.scores(term, few).items()) == [(d, everything[d]) for d in sorted(few) if d in everything]


@pytest.mark.parametrize("text", ["北大", "人民币", "学生", "中", "的", "title:北大"])
def test_long_posting_lists_scored_as_arrays_give_the_same_scores_in_the_same_order(
    corpus_index: NewsIndex, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A posting list of at least ``LONG_LIST`` documents is matched and scored with
    numpy arrays: the same documents as scoring it one document at a time, the same
    scores to the last bit, in the same order (which breaks ties among equal scores)."""
    with corpus_index._searcher() as searcher:  # noqa: SLF001
        q, _ = _compile(searcher, text, {})
        word = q.subqueries[0] if isinstance(q, wq.Or) and isinstance(q.subqueries[0], wq.AndMaybe) else q
        checked = 0
        ranking = (word.b.subqueries if isinstance(word.b, wq.Or) else [word.b]) if isinstance(word, wq.AndMaybe) else []
        for leaf, _base in searcher.leaf_searchers():
            for node in (q, word, *([word.a, *ranking] if isinstance(word, wq.AndMaybe) else [])):
                monkeypatch.setattr(execute, "LONG_LIST", 10**9)
                one_by_one = execute.Segment(searcher, leaf)
                expected = one_by_one.scores(node)
                asked: list[set[int] | None] = [None, set(expected) | {10**6}, set(list(expected)[::3])]
                wanted = [list(expected.items())] + [list(one_by_one.scores(node, within).items()) for within in asked[1:]]
                monkeypatch.setattr(execute, "LONG_LIST", 1)
                arrays = execute.Segment(searcher, leaf)
                for within, items in zip(asked, wanted):
                    assert list(arrays.scores(node, within).items()) == items, (text, node, within is None)
                held = arrays.holders_of_many(node)
                if isinstance(node.a if isinstance(node, wq.AndMaybe) else node, wq.Term) and expected:
                    assert held is not None and held.tolist() == sorted(expected)
                    checked += 1
        assert checked
