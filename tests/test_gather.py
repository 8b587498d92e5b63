"""A search over shards answers as one index of the same articles: the corpus indexed
into 2 and 3 shards (each keeping the articles whose id key falls to it), searched
through :func:`newsearch.gather.gather` in this process, against the corpus indexed
whole, on generated requests: the same ids in the same order, the same scores (to the
last bit), totals, facets, near-duplicates and suggestions."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import pickle
from pathlib import Path

import pytest

from newsearch import ArticleNotFoundError, NewsIndex, NewsearchError, SearchRequest
from newsearch.cluster import ClusterError, ShardActor
from newsearch.config import Config
from newsearch.fields import id_key
from newsearch.gather import _MATCHES, Shard, ShardPage, StatisticsCache, gather, local_fan_out, shard_page
from newsearch.search import prepare
from newsearch.statistics import SharedStatistics

from conftest import write_post
from generated_queries import comparable, generated_requests

pytestmark = [pytest.mark.usefixtures("corpus"), pytest.mark.slow]  # the corpus in 3 shards, a minute of indexing: CI runs it with -m slow


@pytest.fixture(scope="module", params=[3])  # 2 shards: tests/test_cluster.py
def shards(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> list[Shard]:
    n = request.param
    out = []
    for k in range(n):
        ix = NewsIndex.create(tmp_path_factory.mktemp(f"shard{k}of{n}") / "index", shard=(k, n))
        report = ix.update([corpus])
        assert report.failed == []
        out.append(Shard(ix))
    return out


def _ids(ix: NewsIndex) -> list[str]:
    return [hit.id for hit in ix.search("", limit=None, facets=False, collapse=False).hits]


def test_each_article_is_in_the_shard_its_id_key_names(shards: list[Shard], corpus_index: NewsIndex) -> None:
    n = len(shards)
    every = []
    for k, shard in enumerate(shards):
        ids = _ids(shard.index)
        assert ids and all(id_key(i) % n == k for i in ids)
        every += ids
    assert sorted(every) == sorted(_ids(corpus_index))


def test_a_shard_keeps_a_post_by_the_id_its_front_matter_gives_and_reports_only_its_own_posts(tmp_path: Path) -> None:
    # A shard tells another shard's post by its front matter, without rendering its body:
    # the post's warnings and errors are its owner's to report, once.
    posts = tmp_path / "posts"

    def other(name: str) -> str:  # an id its file name would not send to the same shard
        return next(i for i in (f"{name}-{n}" for n in range(100)) if id_key(i) % 2 != id_key(name) % 2)

    moved = other("moved")
    write_post(posts, "moved.md", "改了编号的文章", "正文在这里。", extra=f"id: {moved}")
    write_post(posts, "baddate.md", "日期不对", "正文在这里。", date="2021-13-45")
    write_post(posts, "empty.md", "", "")
    (posts / "unclosed.md").write_text("---\ntitle: 没有结束\n正文\n", encoding="utf-8")
    write_post(posts, "plain.md", "普通文章", "正文在这里。")
    reports, held = [], []
    for k in range(2):
        ix = NewsIndex.create(tmp_path / f"shard-{k}", shard=(k, 2))
        reports.append(ix.update([posts]))
        held.append(set(_ids(ix)))
        ix.close()
    assert held[id_key(moved) % 2] >= {moved} and all(i != "moved" for ids in held for i in ids)
    assert sorted(held[0] | held[1]) == sorted([moved, "baddate", "plain"]) and not held[0] & held[1]

    def told(report: object, name: str) -> bool:
        return any(name in text for text in [*report.warnings, *(f.path for f in report.failed)])  # type: ignore[attr-defined]

    for name, owner in (("baddate.md", id_key("baddate") % 2), ("empty.md", id_key("empty") % 2)):
        assert [told(r, name) for r in reports] == [k == owner for k in range(2)], name
    assert all(told(r, "unclosed.md") for r in reports)  # (no front matter to tell its id by: each parses it)


def _actors(shards: list[Shard], config: Config) -> dict[int, ShardActor]:
    """The shards opened as workers open them, what a cluster's client calls: by shard,
    the actor that holds it (the first two shards share one, as on one worker)."""
    actors: dict[int, ShardActor] = {}
    for k, shard in enumerate(shards):
        actor = actors[0] if k == 1 else ShardActor(NewsIndex, config)
        assert actor.open(str(shard.index.path), (k, len(shards))) == len(shard.index)
        actors[k] = actor
    return actors


def _call(actor: ShardActor, method: str, asked: dict[int, tuple[object, ...]]) -> dict[int, object]:
    """``method`` called on shards of ``actor`` as the client calls it (one call, each
    shard's arguments and answer pickled); each shard's answer, or its error raised."""
    answers = pickle.loads(asyncio.run(actor.call(method, pickle.dumps(asked))))
    out = {}
    for k, (outcome, value) in answers.items():
        if outcome != "ok":
            raise value if isinstance(value, BaseException) else AssertionError(value)
        out[k] = value
    return out


def test_shards_answer_as_one_index(shards: list[Shard], corpus_index: NewsIndex) -> None:
    actors = _actors(shards, corpus_index.config)
    calls: list[tuple[str, dict[int, tuple[object, ...]]]] = []

    def fan_out(method: str, asked: dict[int, tuple[object, ...]]) -> dict[int, object]:
        calls.append((method, asked))
        out: dict[int, object] = {}
        for actor in {id(a): a for a in actors.values()}.values():  # one call to each actor
            mine = {k: args for k, args in asked.items() if actors[k] is actor}
            if mine:
                out.update(_call(actor, method, mine))
        if method == "page":
            lacked.append({key for page in out.values() if isinstance(page, ShardPage) for key in page.missing})
        return out

    requests = generated_requests(corpus_index, 150)
    differing = []
    walked = []
    lacked: list[set[object]] = []  # per page round: the statistics its answers lacked
    matches_only: list[dict[str, object]] = []  # requests that made a round only to learn there were matches
    fetched: list[bool] = []  # per collapsed first page: whether it took a fetch round
    valued: list[bool] = []  # whether a round asked shards only for values others had read
    for request in requests:
        one = comparable(corpus_index.search(**request))
        calls.clear()
        lacked.clear()
        several = gather(fan_out, len(shards), SearchRequest(**request), corpus_index.config)
        assert several.shards is not None and several.shards.successful == len(shards)
        if comparable(several) != one:
            differing.append((request, one, comparable(several)))
        # Collapsing looks up near-duplicates once per batch of matches read (foreseen
        # from the sketches at hand), and only of the matches the walk asks about.
        methods = [method for method, _ in calls]
        statistics_rounds = list(itertools.takewhile(lambda m: m in ("page", "values"), methods)).count("page")
        if several.total and any(all(key[:2] == ("total", _MATCHES) for key in keys) for keys in lacked[: statistics_rounds - 1]):
            matches_only.append(request)
        valued.append("values" in methods)
        if request["sort"] in ("date", "-date"):
            assert "read" not in methods  # (no head is read from the text)
        lookups = [next(iter(asked.values()))[1] for method, asked in calls if method == "alike"]  # (the leaders)
        if request.get("collapse", True):
            fetched.append("hits" in methods)
        if lookups:  # a page round after the first lookup reads a further batch
            assert len(lookups) == 1 + methods[methods.index("alike") :].count("page"), (request, methods)
        if lookups:
            walked.append((sum(len(keys) for keys in lookups), request.get("offset", 0) + request.get("limit", 10)))
    assert not differing, differing[:2]
    # No round is made only to learn that the archive has matches (so that no shard
    # suggests a query): answers lacking only that count are final.
    assert not matches_only, matches_only[:3]
    # Each shard's first round reads the document frequency of every word its query
    # holds, even where none of its titles holds it, so that the coordinator rarely
    # asks the others for it in a round of its own.  Some such rounds remain, where a
    # shard read the query otherwise from its own vocabulary (a word it lacks): 61 of
    # these 150 requests, against 89 when a shard read only the words it holds.
    assert sum(valued) <= len(valued) * 9 // 20, collections.Counter(valued)
    assert walked and all(asked <= wanted + 3 for asked, wanted in walked), walked
    # A collapsed page fetches its leaders with their near-duplicates: nearly never in
    # a round of its own (7 of 45 first pages did when the query phase made the hits,
    # and every later page).
    assert fetched and sum(fetched) <= len(fetched) // 20, collections.Counter(fetched)
    # The comparison means something: most requests find articles, some fold near-duplicates.
    assert sum(1 for r in requests if corpus_index.search(**r).hits) >= 100
    assert any(hit.versions for r in requests for hit in corpus_index.search(**r).hits)


def test_the_head_a_shard_did_not_read_is_read_when_the_archive_needs_it(
    shards: list[Shard], corpus_index: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each shard reads only its likely share of the ranking's head with its page; here
    # a share far too small, so that most searches ask the shards for the rest.
    import newsearch.gather

    monkeypatch.setattr(newsearch.gather, "head_share", lambda depth, n, share=None: 2)
    inner = local_fan_out(shards)
    methods: list[str] = []

    def fan_out(method: str, asked: dict[int, tuple[object, ...]]) -> dict[int, object]:
        methods.append(method)
        return inner(method, asked)

    requests = [r for r in generated_requests(corpus_index, 150) if r["query"] and r["sort"] != "date" and r["sort"] != "-date"][:25]
    for request in requests:
        one = comparable(corpus_index.search(**request, explain=True))
        several = gather(fan_out, len(shards), SearchRequest(**request, explain=True), corpus_index.config)
        assert comparable(several) == one, request
        assert [h.explanation for h in several.hits] == [h.explanation for h in corpus_index.search(**request, explain=True).hits]
    assert methods.count("read") >= 10


def test_each_shard_reads_enough_of_the_head_in_all_but_about_one_search_in_fifty() -> None:
    # The head's articles fall to shards by the hash of their ids: draw heads of 30 ids
    # and count the searches in which some shard holds more of it than it reads with
    # its page (they need a round to read the rest).  Reading one fewer must cost
    # clearly more such rounds, or the share wastes reading on every search.
    from newsearch.gather import head_share

    draws = 20_000
    for shards in (2, 3, 4, 8):
        share = head_share(30, shards)
        assert share is not None and 30 / shards < share < 30
        short = collections.Counter()
        for draw in range(draws):
            held = collections.Counter(id_key(f"{shards}/{draw}/{n}") % shards for n in range(30))
            most = max(held.values())
            short[share] += most > share
            short[share - 1] += most > share - 1
        assert short[share] / draws <= 0.025, (shards, share, short)
        assert short[share - 1] / draws >= 0.015, (shards, share, short)
    assert head_share(30, 1) is None


def test_a_shard_that_reads_part_of_the_head_scores_no_more_matches_than_one_that_reads_it_all(shards: list[Shard]) -> None:
    # A word's matches that cannot reach the head (of 4 here: the titled matches fill it)
    # are left unscored (see newsearch.ranking); reading only a share of the head must
    # not score them all.
    unscored = 0
    for word in ("中国", "香港", "美国", "政府"):
        cache = StatisticsCache()  # the archive's statistics (a round lacking them reads no head)
        gather(local_fan_out(shards), len(shards), SearchRequest(word), shards[0].index.config, cache=cache)
        table = cache.kept(SearchRequest(word))

        def scored(read: int | None) -> tuple[int, int]:
            def work(searcher: object, config: Config, synonyms: object) -> tuple[int, int]:
                config = dataclasses.replace(config, ranking=dataclasses.replace(config.ranking, rerank_depth=4))
                page, kept = shard_page(searcher, config, SearchRequest(word), synonyms, table, 4, 0, read)  # type: ignore[arg-type]
                assert kept is not None and kept.relaxed is not None
                return page.total, kept.relaxed.scored

            return shards[0].index._read(work)  # type: ignore[arg-type]  # noqa: SLF001

        (total, everything), (same_total, shared) = scored(None), scored(2)
        assert (same_total, shared) == (total, everything), word
        unscored += everything < total
    assert unscored  # (the words are broad enough to leave some unscored)


def test_a_round_lacking_statistics_asks_all_that_the_ranking_reads_and_makes_nothing_more(
    shards: list[Shard], corpus_index: NewsIndex
) -> None:
    # A new query's first round lacks the archive's statistics, and is asked again with
    # them: it reads none of the head from the text, counts no facets and sketches no
    # near-duplicates.  It must still ask for every statistic that reading the head
    # would (the fields' average lengths, for a word in no title), or it takes a round more.
    checked = 0
    for request in generated_requests(corpus_index, 60):
        search = SearchRequest(**request)
        for shard in shards:
            def work(searcher: object, config: Config, synonyms: object) -> tuple[dict[object, object] | None, ShardPage, object]:
                asked = SharedStatistics(searcher.reader(), {})  # type: ignore[attr-defined]
                prepared = prepare(searcher, config, search, synonyms, asked)  # type: ignore[arg-type]
                ranked = prepared.relaxed is not None and not prepared.nothing
                if ranked:
                    prepared.relaxed.candidates(30)  # type: ignore[union-attr]  # (the whole head read from the text)
                page, kept = shard_page(searcher, config, search, synonyms, {}, 30, 5)  # type: ignore[arg-type]
                return asked.missing if ranked else None, page, kept

            asked, page, kept = shard.index._read(work)  # type: ignore[arg-type]  # noqa: SLF001
            if asked is not None:  # (a round lacking none asks one more: the archive's count of the matches)
                assert asked.items() <= page.missing.items(), request
            if any(k[:2] != ("total", _MATCHES) for k in page.missing):
                assert (page.counter, page.near, page.hits, kept) == (None, {}, {}, None), request
                checked += 1
    assert checked >= 100


def test_a_word_missing_from_the_archive_gets_the_same_suggestion(shards: list[Shard], corpus_index: NewsIndex) -> None:
    request = SearchRequest("区快链")  # 区块链, mistyped
    one = corpus_index.search(request)
    several = gather(local_fan_out(shards), len(shards), request, corpus_index.config)
    assert one.total == several.total == 0
    assert one.suggestion is not None and several.suggestion == one.suggestion


class _Lost:
    """A shard whose worker is gone."""

    def __getattr__(self, name: str) -> object:
        def call(*_args: object) -> object:
            raise ConnectionError("worker lost")

        return call


def test_a_shard_actor_runs_only_the_calls_of_a_shard(shards: list[Shard], corpus_index: NewsIndex) -> None:
    actor = _actors(shards, corpus_index.config)[0]  # (it holds shards 0 and 1)
    assert _call(actor, "ping", {0: (), 1: ()}) == {0: len(shards[0].index), 1: len(shards[1].index)}
    some = _ids(shards[0].index)[0]
    assert _call(actor, "get", {0: (some,)}) == {0: shards[0].index.get(some)}
    with pytest.raises(ArticleNotFoundError):  # (another shard's article: that shard's error, answered)
        _call(actor, "get", {1: (some,)})
    outcome, why = pickle.loads(asyncio.run(actor.call("ping", pickle.dumps({2: ()}))))[2]
    assert (outcome, why) == ("closed", "shard 2 is not open on this worker")
    for method in ("close", "update", "_read", "__init__", "call", "open"):
        with pytest.raises(ClusterError, match=f"a shard has no call '{method}'"):
            _call(actor, method, {0: ()})
    # A failure that is not newsearch's own closes that shard: the client opens it afresh.
    with pytest.raises(TypeError):
        _call(actor, "values", {1: (None,)})
    assert pickle.loads(asyncio.run(actor.call("ping", pickle.dumps({0: (), 1: ()}))))[1][0] == "closed"
    assert actor.open(str(shards[1].index.path), (1, len(shards))) == len(shards[1].index)
    assert _call(actor, "ping", {0: (), 1: ()}) == {0: len(shards[0].index), 1: len(shards[1].index)}


def test_the_shards_a_worker_holds_answer_together_as_one_index(shards: list[Shard], corpus_index: NewsIndex) -> None:
    # A worker holding shards 0 and 1 answers a search's calls for them as one index of
    # their segments (one compiling, one head, one page's hits); shard 2 answers alone.
    actors = _actors(shards, corpus_index.config)
    parts = [(0, 1), (2,)]
    methods: list[str] = []

    def fan_out(method: str, asked: dict[int, tuple[object, ...]]) -> dict[int, object]:
        methods.append(method)
        out: dict[int, object] = {}
        for i, args in asked.items():
            key = parts[i] if len(parts[i]) > 1 else parts[i][0]
            out[i] = _call(actors[parts[i][0]], method, {key: args})[key]  # type: ignore[index]
        return out

    requests = generated_requests(corpus_index, 100)
    differing = []
    for request in requests:
        one = comparable(corpus_index.search(**request))
        several = gather(fan_out, len(parts), SearchRequest(**request), corpus_index.config, parts=parts)
        assert several.shards is not None and (several.shards.total, several.shards.successful) == (3, 3)
        if comparable(several) != one:
            differing.append((request, one, comparable(several)))
    assert not differing, differing[:2]
    assert {"page", "alike", "hits"} <= set(methods)
    held = actors[0]._shard((0, 1))  # noqa: SLF001
    assert held is not None and held is actors[0]._shard((0, 1))  # (kept between calls)  # noqa: SLF001
    # A part that is lost is each of its shards lost.
    lost = local_fan_out([_Lost(), shards[2]])
    results = gather(lost, len(parts), SearchRequest("经济", collapse=False), corpus_index.config, parts=parts)
    assert results.shards is not None and (results.shards.total, results.shards.successful) == (3, 1)
    assert [f.shard for f in results.shards.failed] == [0, 1]
    assert results.total == shards[2].index.search("经济", limit=None, collapse=False).total > 0


def test_shards_answering_together_read_each_ones_latest_commit(tmp_path: Path) -> None:
    from newsearch.gather import Joined

    posts = tmp_path / "posts"
    for n in range(8):
        write_post(posts, f"p{n}.md", f"水稻第{n}篇", "杂交水稻的研究进展。")
    indexes = [NewsIndex.create(tmp_path / f"shard{k}", shard=(k, 2)) for k in range(2)]
    for ix in indexes:
        ix.update([posts])
    both = Shard(Joined(indexes))

    def found() -> set[str]:
        results = gather(local_fan_out([both]), 1, SearchRequest("水稻", limit=None, collapse=False), indexes[0].config, parts=[(0, 1)])
        assert results.shards is not None and (results.shards.total, results.shards.successful) == (2, 2)
        return {hit.id for hit in results.hits}

    assert found() == {f"p{n}" for n in range(8)}
    write_post(posts, "late.md", "水稻新篇", "水稻又丰收了。")
    owner = indexes[id_key("late") % 2]
    owner.update([posts])
    assert found() == {*(f"p{n}" for n in range(8)), "late"}


def test_a_lost_shard_gives_the_others_results_flagged_partial(shards: list[Shard], corpus_index: NewsIndex) -> None:
    n = len(shards)
    fan_out = local_fan_out([*shards[:-1], _Lost()])
    results = gather(fan_out, n, SearchRequest("经济", collapse=False), corpus_index.config)
    assert results.shards is not None
    assert results.shards.partial and results.shards.successful == n - 1
    assert [f.shard for f in results.shards.failed] == [n - 1] and "worker lost" in results.shards.failed[0].reason
    survivors = {hit.id for shard in shards[:-1] for hit in shard.index.search("经济", limit=None, collapse=False).hits}
    assert results.total == len(survivors) > 0
    assert {hit.id for hit in results.hits} <= survivors
    with pytest.raises(ConnectionError):
        gather(fan_out, n, SearchRequest("经济"), corpus_index.config, partial=False)
    with pytest.raises(NewsearchError, match="no shard answered"):
        gather(local_fan_out([_Lost()] * n), n, SearchRequest("经济"), corpus_index.config)


def test_a_shard_keeps_its_last_searches_within_a_number_of_matches(
    shards: list[Shard], corpus_index: NewsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a shard keeps of its searches for their later rounds is bounded by their
    # matches as well as by their number: the oldest go first, the last one stays, and
    # a later round whose search is gone makes it again, with the same results.
    requests = [dict(query=q, limit=10, offset=offset) for q in ("经济", "中国 市场", "公司") for offset in (0, 10)]
    fan_out = local_fan_out(shards)
    for shard in shards:
        shard._kept.clear()  # noqa: SLF001
    for request in requests:
        gather(fan_out, len(shards), SearchRequest(**request), corpus_index.config)
    assert all(len(shard._kept) == len(requests) for shard in shards)  # noqa: SLF001 - (well within the bounds)
    assert all(kept.matches > 0 for shard in shards for kept in shard._kept.values())  # noqa: SLF001

    monkeypatch.setattr(Shard, "_KEPT_MATCHES", 1)
    remade: list[str] = []

    def meanwhile(method: str, calls: dict[int, tuple[object, ...]]) -> dict[int, object]:
        if method in ("alike", "hits"):  # another search comes between the rounds of this one
            gather(fan_out, len(shards), SearchRequest("疫苗"), corpus_index.config)
            remade.append(method)
        return fan_out(method, calls)

    for request in requests:
        several = gather(meanwhile, len(shards), SearchRequest(**request), corpus_index.config)
        assert comparable(several) == comparable(corpus_index.search(**request)), request
        assert all(len(shard._kept) == 1 for shard in shards)  # noqa: SLF001
    assert "alike" in remade


def test_similar_articles_and_topics_are_the_archives(shards: list[Shard], corpus_index: NewsIndex) -> None:
    import random

    from newsearch.gather import gather_similar, gather_topics
    from newsearch.request import Selection

    fan_out = local_fan_out(shards)
    ids = sorted(_ids(corpus_index))
    with_versions = 0
    for article_id in random.Random(5).sample(ids, 30):
        one = corpus_index.similar(article_id, limit=8)
        several = gather_similar(fan_out, len(shards), article_id, 8, corpus_index.config)
        assert comparable(several) == comparable(one), article_id
        with_versions += any(hit.versions for hit in one.hits)
    assert with_versions  # near-duplicates grouped across shards were compared too
    stats = corpus_index.stats(top=5)
    for selection in (Selection(since="2018", until="2018"), Selection(category=stats.categories[0][0]), Selection(tags=stats.tags[1][0])):
        one_topics = corpus_index.topics(category=selection.category, tags=selection.tags, since=selection.since, until=selection.until)
        assert one_topics and gather_topics(fan_out, len(shards), selection, 20) == one_topics


def test_a_shards_segments_hold_as_many_articles_as_one_indexs(tmp_path: Path, corpus: Path) -> None:
    """A shard keeps one article in N of the files it reads: its jobs read N times as
    many files, so it does not end with N times as many segments (each search pays
    for every segment)."""
    from newsearch import Config

    import shutil

    posts = tmp_path / "posts"
    posts.mkdir()
    for path in sorted((corpus / "terminus2049" / "_posts").iterdir())[:120]:
        shutil.copy(path, posts / path.name)
    files = 120
    config = Config.from_dict({"indexing": {"workers": 1, "batch_size": 10, "merge_factor": 0}})

    def sizes(ix: NewsIndex) -> list[int]:
        return ix._read(lambda searcher, _config, _synonyms: [r.doc_count_all() for r, _base in searcher.reader().leaf_readers()])  # noqa: SLF001

    one = NewsIndex.create(tmp_path / "one", config=config)
    one.update([posts])
    shard = NewsIndex.create(tmp_path / "shard", config=config, shard=(0, 3))
    shard.update([posts])
    assert len(sizes(one)) == -(-files // 10)
    assert len(sizes(shard)) == -(-files // 30)  # (it was one per 10 files, of about 3 articles each)
    assert sum(sizes(shard)) / len(sizes(shard)) >= 0.6 * sum(sizes(one)) / len(sizes(one))


@pytest.mark.parametrize("small_index", [None, 100])
def test_the_shards_title_counts_added_up_complete_as_one_index(
    shards: list[Shard], corpus_index: NewsIndex, small_index: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A phrase is a completion when two titles hold it (one, below _SMALL_INDEX
    # articles): the archive's count, which no shard may know by itself.
    from newsearch import suggest
    from newsearch.suggest import Completions, TitleCounts, title_counts_of

    if small_index is not None:
        monkeypatch.setattr(suggest, "_SMALL_INDEX", small_index)
    parts = [title_counts_of(shard.index.path) for shard in shards]
    one = corpus_index._read(  # noqa: SLF001
        lambda searcher, _config, _synonyms: TitleCounts.read(searcher, corpus_index._manifest.user_dicts())  # noqa: SLF001
    )
    added = TitleCounts.added(parts)
    assert (added.articles, added.titles, added.keywords, added.tags, added.phrases) == (
        one.articles, one.titles, one.keywords, one.tags, one.phrases
    )
    across = [p for p, n in one.phrases.items() if n == 2 and all(part.phrases[p] < 2 for part in parts)]
    assert across  # phrases that two shards each hold once
    several, whole = Completions.of_counts(added), Completions.of_counts(one)
    for name in ("words", "counts", "weights", "keys", "owners", "kinds", "lengths"):
        assert list(getattr(several, name)) == list(getattr(whole, name)), name
    words = set(whole.words)
    assert {"".join(p) for p in across} <= words  # two titles: a completion either way
    once = {"".join(p) for p, n in one.phrases.items() if n == 1}
    assert (once <= words) == (small_index is None)  # a single title's: only in a small index
    titles = [corpus_index.get(article_id).title for article_id in sorted(_ids(corpus_index))[::7]]
    prefixes = sorted({t[:n] for t in titles for n in (1, 2) if t[:n].strip()}) + ["x", "jing", "zg", "zhongguo", "ai"]
    for prefix in prefixes:
        assert several.complete(prefix) == whole.complete(prefix), prefix
        if small_index is None:  # (the index's own completions, made with the threshold as it is)
            assert whole.complete(prefix) == corpus_index.suggest(prefix), prefix
