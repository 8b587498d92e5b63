"""Facet counts over the whole match set, date histograms, and the date and recency sorts."""

from __future__ import annotations

import json
import math
import random
import shutil
from collections import Counter
import datetime as dt
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import serving
from conftest import write_post

from newsearch import NewsIndex, SearchResults
from newsearch.dates import parse_bound
from newsearch.facets import MAX_BUCKETS, histogram


def brute_force(results: SearchResults) -> tuple[Counter, Counter, Counter, int]:
    """Categories, tags and dates counted from every hit of a ``limit=None`` search."""
    categories = Counter(c for h in results.hits for c in h.categories)
    tags = Counter(t for h in results.hits for t in h.tags)
    days = Counter(h.date.date().isoformat() for h in results.hits if h.date is not None)
    return categories, tags, days, sum(1 for h in results.hits if h.date is None)


def in_bucket(key: str, day: str) -> bool:
    """Whether the ISO day ``day`` falls in the bucket ``key``, read as --since/--until read it."""
    moment = datetime.fromisoformat(day)
    return parse_bound(key) <= moment.replace(microsecond=1) and moment <= parse_bound(key, end=True)


def assert_facets_match_hits(ix: NewsIndex, query: str, **filters: object) -> SearchResults:
    results = ix.search(query, limit=None, facet_limit=None, collapse=False, **filters)
    assert results.facets is not None
    categories, tags, days, undated = brute_force(results)
    assert dict(results.facets.categories) == categories
    assert dict(results.facets.tags) == tags
    histogram = results.facets.dates
    assert histogram.undated == undated
    # Bucket keys are date bounds: 2021, 2021-12, 2021-12-25, or a span such as 2020..2029.
    for key, count in histogram.buckets:
        assert count == sum(n for day, n in days.items() if in_bucket(key, day)), (query, key)
    assert sum(count for _, count in histogram.buckets) == sum(days.values())
    return results


@pytest.mark.parametrize("query", ["中国", "疫苗", "人民币", "北大 学生", "", "title:新闻"])
def test_facets_count_every_match_of_the_real_corpus(corpus_index: NewsIndex, query: str) -> None:
    results = assert_facets_match_hits(corpus_index, query)
    assert results.total == len(results.hits) > 0


def test_facets_follow_the_filters(corpus_index: NewsIndex) -> None:
    results = assert_facets_match_hits(corpus_index, "中国", since="2018-05", until="2018-07")
    assert results.facets.dates.unit == "month"
    assert [key for key, _ in results.facets.dates.buckets] == ["2018-05", "2018-06", "2018-07"]
    tagged = assert_facets_match_hits(corpus_index, "", tags="疫苗")
    assert dict(tagged.facets.tags)["疫苗"] == tagged.total


def test_facet_ranking_and_limit(corpus_index: NewsIndex) -> None:
    everything = corpus_index.search("中国", facet_limit=None, collapse=False).facets
    top = corpus_index.search("中国", facet_limit=3).facets
    assert top.tags == everything.tags[:3]
    counts = [(-n, value) for value, n in everything.tags]
    assert counts == sorted(counts)  # most frequent first, ties by value
    assert corpus_index.search("中国", facets=False).facets is None


@pytest.fixture()
def dated(tmp_path: Path) -> NewsIndex:
    posts = tmp_path / "posts"
    plan = [
        ("a", "2021-12-01 09:00:00", "finance", "[汇率, 央行]"),
        ("b", "2021-12-01 23:59:00", "finance", "汇率"),
        ("c", "2021-12-03 08:00:00", "tech", "[AI, 汇率, 央行, 银行, 客服]"),  # five tags
        ("d", "2021-12-05 10:00:00", "[finance, tech]", None),
        ("e", None, None, "汇率"),
    ]
    for name, date, categories, tags in plan:
        write_post(posts, f"{name}.md", f"汇率新闻{name}", "人民币汇率的消息。", date=date, categories=categories, tags=tags)
    ix = NewsIndex.create(tmp_path / "index")
    report = ix.update([posts])
    assert report.failed == [] and report.articles_added == 5
    return ix


def test_a_known_histogram_by_day_with_empty_days_and_undated_articles(dated: NewsIndex) -> None:
    facets = dated.search("汇率").facets
    assert facets.dates.unit == "day"
    assert facets.dates.buckets == [("2021-12-01", 2), ("2021-12-02", 0), ("2021-12-03", 1), ("2021-12-04", 0), ("2021-12-05", 1)]
    assert facets.dates.undated == 1
    assert facets.categories == [("finance", 3), ("tech", 2)]
    assert facets.tags == [("汇率", 4), ("央行", 2), ("AI", 1), ("客服", 1), ("银行", 1)]


def test_histogram_unit_follows_the_span(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    for name, date in [("a", "2020-01-31"), ("b", "2021-12-01"), ("c", "2019-06-01")]:
        write_post(posts, f"{name}.md", "标题", "同一个词", date=date)
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([posts])
    assert ix.search("同一个词", until="2020-02-29").facets.dates.buckets[0] == ("2019-06", 1)
    months = ix.search("同一个词", since="2020", until="2021-12").facets.dates
    assert months.unit == "month" and len(months.buckets) == 24 and months.buckets[-1] == ("2021-12", 1)
    years = ix.search("同一个词").facets.dates
    assert (years.unit, years.buckets) == ("year", [("2019", 1), ("2020", 1), ("2021", 1)])


def test_facets_skip_replaced_and_deleted_articles_across_segments(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    for i in range(6):
        write_post(first, f"p{i}.md", f"港股{i}", "港股消息", date=f"2021-0{i + 1}-01", categories="market", tags=f"t{i % 2}")
        write_post(second, f"q{i}.md", f"港股q{i}", "港股消息", date=f"2022-0{i + 1}-01", categories="other", tags="t9")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([first])
    ix.update([first, second])  # a second segment
    (first / "p0.md").unlink()
    write_post(first, "p1.md", "港股1", "港股消息", date="2021-02-01", categories="changed", tags="t5")
    shutil.rmtree(second)  # every q post removed
    second.mkdir()
    ix.update([first, second])
    results = assert_facets_match_hits(ix, "港股")
    assert results.total == 5
    assert dict(results.facets.categories) == {"market": 4, "changed": 1}
    assert dict(results.facets.tags) == {"t0": 2, "t1": 2, "t5": 1}


def test_recent_blends_relevance_with_age(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    write_post(posts, "old.md", "央行降准央行降准", "央行降准。央行宣布降准。央行降准的影响。", date="2021-01-01")
    write_post(posts, "new.md", "市场消息", "其中提到央行降准。" + "别的内容。" * 40, date="2021-03-01")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([posts])

    def order(**kw: object) -> list[str]:
        return [h.id for h in ix.search("央行降准", **kw).hits]

    assert order() == ["old", "new"]  # far more relevant
    assert order(sort="recent", half_life_days=7) == ["new", "old"]  # 59 days: 2^-8.4
    assert order(sort="recent", half_life_days=10_000) == ["old", "new"]
    scores = {h.id: h.score for h in ix.search("央行降准").hits}
    # The crossing point: the newer wins once its age advantage outweighs the score ratio.
    crossing = 59 / math.log2(scores["old"] / scores["new"])
    assert order(sort="recent", half_life_days=crossing * 0.99) == ["new", "old"]
    assert order(sort="recent", half_life_days=crossing * 1.01) == ["old", "new"]


def test_recent_order_on_the_real_corpus(corpus_index: NewsIndex) -> None:
    hits = corpus_index.search("中国", sort="recent", half_life_days=90, limit=None, collapse=False).hits
    dated = [h for h in hits if h.date is not None]
    assert hits[len(dated):] == [h for h in hits if h.date is None]  # undated last

    def key(h: object) -> float:
        age = (h.date - datetime(2000, 1, 1)).total_seconds() / 86_400
        return math.log(h.score) + age * math.log(2) / 90

    keys = [key(h) for h in dated]
    assert all(a >= b - 1e-9 for a, b in zip(keys, keys[1:]))


def test_the_half_life_comes_from_the_settings_file(tmp_path: Path) -> None:
    from newsearch import Config, ConfigError

    posts = tmp_path / "posts"
    write_post(posts, "old.md", "央行降准央行降准", "央行降准。央行宣布降准。央行降准的影响。", date="2021-01-01")
    write_post(posts, "new.md", "市场消息", "其中提到央行降准。" + "别的内容。" * 40, date="2021-03-01")
    settings = tmp_path / "short.toml"
    settings.write_text("[ranking]\nhalf_life_days = 5\n", encoding="utf-8")
    ix = NewsIndex.create(tmp_path / "index", config=Config.from_file(settings))
    ix.update([posts])
    assert [h.id for h in ix.search("央行降准", sort="recent").hits] == ["new", "old"]
    assert [h.id for h in ix.search("央行降准", sort="recent", half_life_days=10_000).hits] == ["old", "new"]
    settings.write_text("[ranking]\nhalf_life_days = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="half_life_days"):
        Config.from_file(settings)
    settings.write_text('[ranking]\nhalf_life_days = "a month"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="half_life_days must be a positive number"):
        Config.from_file(settings)


@pytest.mark.parametrize("sort", ["relevance", "-date", "date", "recent"])
def test_pages_tile_the_full_ordering(corpus_index: NewsIndex, sort: str) -> None:
    everything = corpus_index.search("中国", sort=sort, limit=None, facets=False)
    assert everything.total > 100
    ids: list[str] = []
    for offset in range(0, everything.total + 7, 7):
        page = corpus_index.search("中国", sort=sort, limit=7, offset=offset, facets=False)
        assert page.total == everything.total
        ids += [h.id for h in page.hits]
    assert ids == [h.id for h in everything.hits]


# --------------------------------------------------------------------------- bounded histograms


def ordinals(*days: dt.date) -> Counter[int]:
    return Counter(d.toordinal() for d in days)


def test_dates_far_apart_make_a_small_histogram() -> None:
    days = ordinals(dt.date(1, 1, 1), dt.date(2021, 5, 1), dt.date(2021, 5, 2), dt.date(9999, 12, 31))
    days[0] = 2  # undated
    found = histogram(days)
    assert found.unit == "year"
    assert found.buckets == [("0001", 1), ("0002..2020", 0), ("2021", 2), ("2022..9998", 0), ("9999", 1)]
    assert found.undated == 2


def test_a_span_that_fits_keeps_every_bucket() -> None:
    years = histogram(ordinals(*(dt.date(y, 6, 1) for y in (1980, 2000, 2024))))
    assert [key for key, _ in years.buckets] == [str(y) for y in range(1980, 2025)]
    assert sum(n for _, n in years.buckets) == 3


def test_many_years_with_matches_group_by_tens_then_hundreds() -> None:
    decades = histogram(ordinals(*(dt.date(y, 1, 1) for y in range(1900, 2025))))
    assert decades.buckets[0] == ("1900..1909", 10) and decades.buckets[-1] == ("2020..2029", 5)
    assert len(decades.buckets) == 13
    centuries = histogram(ordinals(*(dt.date(y, 1, 1) for y in range(1000, 3000, 7))))
    assert centuries.buckets[0] == ("1000..1099", 15) and centuries.buckets[-1] == ("2900..2999", 14)
    assert len(centuries.buckets) == 20
    every_year = histogram(ordinals(*(dt.date(y, 1, 1) for y in range(1, 10000))))
    assert every_year.buckets[0] == ("0001..0999", 999) and len(every_year.buckets) == 10


@pytest.mark.parametrize("seed", range(40))
def test_any_dates_give_at_most_max_buckets_that_tile_the_span(seed: int) -> None:
    rng = random.Random(seed)
    low = rng.randint(1, dt.date.max.toordinal())
    high = rng.randint(low, min(dt.date.max.toordinal(), low + rng.choice([20, 700, 40_000, 4_000_000])))
    days = Counter({rng.randint(low, high): rng.randint(1, 3) for _ in range(rng.randint(1, 3000))})
    found = histogram(days)
    assert 1 <= len(found.buckets) <= MAX_BUCKETS
    assert sum(n for _, n in found.buckets) == sum(days.values())
    spans = [(parse_bound(key), parse_bound(key, end=True)) for key, _ in found.buckets]
    for (_, end), (start, _) in zip(spans, spans[1:]):  # contiguous, oldest first
        assert start - end == timedelta(microseconds=1)
    for (key, count), (start, end) in zip(found.buckets, spans):
        inside = sum(n for d, n in days.items() if start.date().toordinal() <= d <= end.date().toordinal())
        assert inside == count, key


def test_an_article_dated_9999_does_not_blow_up_the_facets(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    write_post(posts, "first.md", "档案一", "档案记载秦汉竹简。", date="0001-01-01")
    for day in range(1, 6):
        write_post(posts, f"now{day}.md", f"档案新闻{day}", f"档案部门第{day}次发布考古照片。", date=f"2021-05-0{day}")
    write_post(posts, "last.md", "档案末", "档案预言外星人来访。", date="9999-12-31")
    write_post(posts, "undated.md", "档案无日期", "档案里的恐龙化石。", date=None)
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([posts])
    results = assert_facets_match_hits(ix, "档案")
    dates = results.facets.dates
    assert dates.buckets == [("0001", 1), ("0002..2020", 0), ("2021", 5), ("2022..9998", 0), ("9999", 1)]
    assert sum(n for _, n in dates.buckets) + dates.undated == results.total == 8
    assert len(json.dumps(results.to_dict()["facets"], ensure_ascii=False)) < 1000
    for key, count in dates.buckets:  # each bucket, as the page links it, finds its articles
        assert ix.search("档案", since=key, until=key, collapse=False).total == count
    with serving.running(tmp_path / "index", "--no-access-log") as server:
        status, _, page = server.get("/", {"q": "档案"})
        assert status == 200
        assert page.count(b"<li>") < 20 and len(page) < 30_000
        status, data = server.json("/api/search", {"q": "档案", "since": "0002..2020", "until": "0002..2020"})
        assert status == 200 and data["total"] == 0


def test_a_second_category_and_a_third_tag_are_counted_over_the_few_articles_that_have_one(tmp_path: Path) -> None:
    """Few articles have a second category or a third tag: those layers keep only their
    articles, and a search counts them over those of them that match (the counts are
    those of the hits, whichever way they are made)."""
    from newsearch.facets import keyword_lists
    from newsearch.fields import CATEGORIES, TAGS

    folder = tmp_path / "posts"
    for n in range(12):
        write_post(
            folder, f"p{n}.md", f"天气{n}", "今天天气晴朗。" if n % 3 else "天气转阴。",
            categories="[本地, 要闻]" if n < 2 else "本地",
            tags="[天气, 出行, 周末]" if n in (3, 4, 5) else "[天气, 出行]" if n % 2 else "天气",
        )
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([folder])
    results = assert_facets_match_hits(ix, "天气")
    assert results.total == 12
    assert results.facets is not None and dict(results.facets.categories) == {"本地": 12, "要闻": 2}
    assert_facets_match_hits(ix, "晴朗")  # a narrower match set: fewer matches than some layers hold
    with ix._searcher() as searcher:
        (reader,) = [leaf.reader() for leaf, _ in searcher.leaf_searchers()]
        assert [len(held) if held is not None else None for held in keyword_lists(reader, CATEGORIES).sparse] == [None, 2]
        assert [len(held) if held is not None else None for held in keyword_lists(reader, TAGS).sparse] == [None, None, 3]


# --------------------------------------------------------------------------- counts against the stored fields

_TAG_POOL = ["疫苗", "经济", "教育", "医疗", "科技", "外交", "环境", "体育", "文化"]


def _write_extra_posts(folder: Path, numbers: range) -> None:
    """Posts of a kind the real archive lacks: none to three categories, none to nine
    tags, some undated; their words are those of the real archive's queries."""
    for n in numbers:
        categories = [None, "要闻", "[要闻, 国际]", "[国际, 社会, 要闻]"][n % 4]
        tags = f"[{', '.join(_TAG_POOL[: n % 10])}]" if n % 10 else None
        date = None if n % 5 == 0 else f"{2012 + n % 9}-{n % 12 + 1:02d}-{n % 28 + 1:02d}"
        body = "中国疫苗接种的新闻。" if n % 2 else "人民币汇率和中国经济。"
        write_post(folder, f"extra{n}.md", f"补充新闻{n}", body, date=date, categories=categories, tags=tags)


@pytest.fixture(scope="module")
def mixed_index(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> NewsIndex:
    """The real archive and 160 posts with several categories, up to nine tags or no
    date, in three segments, the first two with replaced articles."""
    root = tmp_path_factory.mktemp("mixed")
    first, second = root / "first", root / "second"
    _write_extra_posts(first, range(120))
    _write_extra_posts(second, range(120, 160))
    ix = NewsIndex.create(root / "index")
    assert ix.update([corpus, first]).failed == []
    assert ix.update([corpus, first, second]).failed == []
    for n in (3, 7, 125):  # replaced: deleted from their segment, added again in a third
        folder = first if n < 120 else second
        write_post(folder, f"extra{n}.md", f"补充新闻{n}", "中国疫苗的后续新闻。", date=None, categories="[更正, 要闻]", tags="[更正, 疫苗]")
    assert ix.update([corpus, first, second]).failed == []
    return ix


def _ranked(counts: Counter) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _stored_counts(stored: list[dict]) -> tuple[Counter, Counter, Counter]:
    """Categories, tags and day ordinals (0: undated) counted from stored fields."""
    categories = Counter(c for fields in stored for c in fields.get("categories") or ())
    tags = Counter(t for fields in stored for t in fields.get("tags") or ())
    days = Counter(fields["date"].date().toordinal() if fields.get("date") else 0 for fields in stored)
    return categories, tags, days


@pytest.mark.parametrize(
    ("query", "filters"),
    [("中国", {}), ("疫苗", {}), ("人民币", {}), ("", {}), ("补充新闻", {}), ("中国", {"category": "国际"}), ("", {"tags": "文化"})],
)
def test_facet_counts_equal_the_stored_fields_of_every_match(mixed_index: NewsIndex, query: str, filters: dict) -> None:
    results = mixed_index.search(query, limit=None, facet_limit=None, collapse=False, **filters)
    assert results.facets is not None and results.total == len(results.hits) > 0
    ids = {hit.id for hit in results.hits}
    with mixed_index._searcher() as searcher:
        stored = [fields for fields in searcher.all_stored_fields() if fields["id"] in ids]
    assert len(stored) == len(ids)
    categories, tags, days = _stored_counts(stored)
    assert results.facets.categories == _ranked(categories)
    assert results.facets.tags == _ranked(tags)
    assert results.facets.dates == histogram(days)
    assert results.facets.dates.undated == days[0]
    if query in ("中国", "补充新闻", "") and not filters:  # the cases the real archive lacks are among the matches
        assert days[0] > 0
        assert any(len(fields.get("categories") or ()) >= 3 for fields in stored)
        assert any(len(fields.get("tags") or ()) >= 9 for fields in stored)
        assert any(not fields.get("tags") for fields in stored)


@pytest.mark.parametrize("size", [1, 3, 40, 400, None])
def test_the_counter_counts_any_documents_as_their_stored_fields_say(mixed_index: NewsIndex, size: int | None) -> None:
    """Few documents (looked up in a layer by bisection) or many (through a mask), as a
    dict, a set, a list, an array or a set that numpy reads as an array: the counts are
    those of the stored fields."""
    import numpy as np

    from newsearch.facets import FacetCounter

    class ArraySet(frozenset):
        """A set that numpy reads as an array (``__array__``), as a segment's matches may be."""

        def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
            return np.array(sorted(self), dtype=np.int64)

    rng = random.Random(size)
    kinds = [dict.fromkeys, set, list, lambda docs: np.array(docs, dtype=np.int64), ArraySet]
    with mixed_index._searcher() as searcher:
        readers = [leaf.reader() for leaf, _ in searcher.leaf_searchers()]
        assert len(readers) == 3 and readers[0].has_deletions()
        counter = FacetCounter()
        stored = []
        for number, reader in enumerate(readers):
            live = list(reader.all_doc_ids())
            # Half of a sample has a second category or a fifth tag (a sparse layer, or the rest).
            fields = {d: reader.stored_fields(d) for d in live}
            rich = [d for d in live if len(fields[d].get("categories") or ()) > 1 or len(fields[d].get("tags") or ()) > 4]
            if size is None:
                docs = live
            else:
                docs = list(dict.fromkeys(rng.sample(rich, min(len(rich), (size + 1) // 2)) + rng.sample(live, min(len(live), size // 2))))
            counter.add(reader, kinds[(number + (size or 0)) % len(kinds)](docs))
            stored += [fields[docnum] for docnum in docs]
        facets = counter.facets()
    categories, tags, days = _stored_counts(stored)
    assert facets.categories == _ranked(categories)
    assert facets.tags == _ranked(tags)
    assert facets.dates == histogram(days)
    assert sum(n for _, n in facets.dates.buckets) + facets.dates.undated == len(stored)
