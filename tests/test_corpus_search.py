"""Search over the real archives in ../shared/corpus (skipped when they are not there)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from newsearch import NewsIndex
from newsearch.analysis import normalize
from newsearch.ingest import iter_source_files, read_file


@pytest.fixture(scope="module")
def articles(corpus: Path) -> dict:
    parsed = {}
    for path in iter_source_files([corpus]):
        for article in read_file(path).articles:
            parsed[article.id] = article
    return parsed


def containing(articles: dict, word: str) -> set[str]:
    needle = normalize(word)
    return {a.id for a in articles.values() if needle in normalize(a.title + "\n" + a.body)}


def test_every_post_is_indexed(corpus_index: NewsIndex, articles: dict) -> None:
    assert len(corpus_index) == len(articles) >= 395
    assert corpus_index.stats().sources == len(articles)


@pytest.mark.parametrize("word", ["北大", "人民币", "港股", "性骚扰", "机构"])
def test_results_are_exactly_the_articles_containing_the_word(corpus_index: NewsIndex, articles: dict, word: str) -> None:
    expected = containing(articles, word)
    assert expected, f"no article contains {word!r}: the test would prove nothing"
    found = {h.id for h in corpus_index.search(word, limit=None, collapse=False, exact=True).hits}
    assert found == expected
    default = corpus_index.search(word, limit=None, collapse=False)  # the same, marked exact, among related ones
    assert {h.id for h in default.hits if h.match == "exact"} == expected == set(found)


def test_tag_filter_matches_front_matter(corpus_index: NewsIndex, articles: dict) -> None:
    expected = {a.id for a in articles.values() if "声援岳昕" in a.tags}
    assert len(expected) == 30
    results = corpus_index.search("", tags="声援岳昕", limit=None, collapse=False)
    assert {h.id for h in results.hits} == expected
    assert all("声援岳昕" in h.tags for h in results.hits)


def test_category_and_date_filters_match_front_matter(corpus_index: NewsIndex, articles: dict) -> None:
    since, until = datetime(2021, 12, 8, 11, 0), datetime(2021, 12, 8, 11, 59, 59)
    expected = {
        a.id for a in articles.values()
        if "emnews" in a.categories and a.date is not None and since.date() <= a.date.date() <= until.date()
    }
    results = corpus_index.search("", category="emnews", since="2021-12-08", until="2021-12-08", limit=None, collapse=False)
    assert {h.id for h in results.hits} == expected and expected
    in_2018 = {a.id for a in articles.values() if a.date is not None and a.date.year == 2018}
    assert in_2018 and {h.id for h in corpus_index.search("", since="2018", until="2018", limit=None, collapse=False).hits} == in_2018


def test_date_sorts_newest_and_oldest_first(corpus_index: NewsIndex) -> None:
    newest = corpus_index.search("北大", sort="-date", limit=None, collapse=False).hits
    dates = [h.date for h in newest]
    assert len(dates) > 10 and dates == sorted(dates, reverse=True)
    oldest = corpus_index.search("北大", sort="date", limit=None, collapse=False).hits
    assert [h.date for h in oldest] == sorted(dates)


def test_every_hit_snippet_marks_the_query(corpus_index: NewsIndex, articles: dict) -> None:
    hits = corpus_index.search("人民币", limit=None, collapse=False).hits
    assert hits and {h.id for h in hits} == containing(articles, "人民币")
    title_only = {i for i in containing(articles, "人民币") if "人民币" not in normalize(articles[i].body)}
    written = set()
    for hit in hits:
        marked = [p.text[s:e] for p in hit.snippet.passages for s, e in p.highlights]
        if hit.id in title_only:
            continue  # the body lacks the word: the snippet is the article's lead
        assert marked and {normalize(m) for m in marked} == {"人民币"}, hit.id
        written.update(marked)
    # Traditional-script articles are matched too: 人民幣 is highlighted as written.
    assert written == {w for w in ("人民币", "人民幣") if any(w in a.body for a in articles.values())}


def test_stored_articles_come_back_exactly(corpus_index: NewsIndex, articles: dict) -> None:
    # Bodies are kept as normalized text plus the differences from it (full-width
    # punctuation, capitals, traditional script); every one must restore exactly.
    assert len(articles) >= 395
    for article_id, article in articles.items():
        stored = corpus_index.get(article_id)
        assert (stored.title, stored.body, stored.categories, stored.tags) == (
            article.title, article.body, article.categories, article.tags,
        ), article_id
