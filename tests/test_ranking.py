"""Plain queries are searched for what they ask for (newsearch.understand, newsearch.ranking):
related articles beside the exact ones, ranked by BM25F, proximity and exactness.

Each test writes the few articles it needs; a filler of unrelated articles gives
the index realistic word statistics (idf) without matching any query here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_post
from typer.testing import CliRunner

from newsearch import Config, NewsIndex, SearchRequest
from newsearch.cli import app
from newsearch.query import parse
from newsearch.understand import plan

FILLER = [
    ("城市交通", "地铁新线开通，市民出行更方便。公交线路也做了调整。"),
    ("农业丰收", "今年小麦产量创新高，农民收入增加。粮食收购价格稳定。"),
    ("体育赛事", "足球联赛进入尾声，主队客场取胜。球迷热情高涨。"),
    ("文化活动", "博物馆推出新展览，展出文物三百余件。观众排队参观。"),
    ("科技新品", "手机厂商发布新机型，主打拍照和续航。价格与上代持平。"),
    ("气象预报", "明天多云转晴，气温回升。周末有小雨。"),
]


def index_of(tmp_path: Path, posts: list[tuple[str, str, str]], **front: dict[str, str]) -> NewsIndex:
    """An index of ``posts`` (name, title, body) and the filler; ``front`` gives a post's
    extra front matter (tags, categories, date) by name."""
    folder = tmp_path / "posts"
    for n, (title, body) in enumerate(FILLER):
        write_post(folder, f"filler{n}.md", title, body)
    for name, title, body in posts:
        write_post(folder, f"{name}.md", title, body, **front.get(name, {}))
    ix = NewsIndex.create(tmp_path / "index")
    assert ix.update([folder]).failed == []
    return ix


def ids(results) -> list[str]:  # type: ignore[no-untyped-def]
    return [hit.id for hit in results.hits]


def matches(results) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {hit.id: hit.match for hit in results.hits}


# --------------------------------------------------------------------------- understanding


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("台风怎样形成", [["台风", "形成"]]),  # a question: its question words left out
        ("年轻人为什么不想生孩子", [["年轻人", "不想", "孩子"]]),  # 生 of 生孩子 says little alone
        ("碳九泄漏对人有什么危害", [["碳九", "泄漏", "危害"]]),  # characters in a row stay a name
        ("疫苗 儿童 赔偿", [["疫苗"], ["儿童"], ["赔偿"]]),
        ("網絡安全", [["网络安全"]]),  # traditional script folded first
        ("的", [["的"]]),  # a term of function words only is kept as typed
    ],
)
def test_a_plain_query_is_cut_into_the_words_that_carry_it(query: str, words: list[list[str]]) -> None:
    found = plan(parse(query))
    assert found is not None and [list(unit.words) for unit in found.units] == words


@pytest.mark.parametrize("query", ['"台风 形成"', "台风 OR 形成", "台风 AND 形成", "台风 -形成", "title:台风", "(台风 形成)"])
def test_a_query_with_operators_is_searched_exactly_as_written(query: str) -> None:
    assert plan(parse(query)) is None


# --------------------------------------------------------------------------- matching


def test_an_unspaced_question_finds_the_articles_about_it(tmp_path: Path) -> None:
    ix = index_of(tmp_path, [
        ("typhoon", "台风是怎么来的", "台风形成于温暖的海面，水汽上升后形成低压。"),
        ("unrelated", "台风过后", "台风过后市民清理街道。"),
    ])
    assert ix.search("台风怎样形成", exact=True).total == 0  # nobody writes the question itself
    results = ix.search("台风怎样形成")
    assert ids(results)[0] == "typhoon" and matches(results)["typhoon"] == "related"
    assert (results.total, results.exact_total) == (len(results.hits), 0)


def test_three_words_list_the_articles_that_hold_two_of_them(tmp_path: Path) -> None:
    ix = index_of(tmp_path, [
        ("all", "疫苗事件", "问题疫苗涉及大量儿童，家长要求赔偿。"),
        ("two", "疫苗赔偿方案公布", "受害家庭将获得疫苗赔偿。"),
        ("one", "儿童节活动", "儿童节到了，学校组织游园。"),
    ])
    strict = NewsIndex.open(ix.path, config=Config.from_dict({"ranking": {"fill": 0}}))
    results = strict.search("疫苗 儿童 赔偿")
    assert set(ids(results)) == {"all", "two"}  # two of three words at least: not "one"
    assert matches(results) == {"all": "exact", "two": "related"}
    assert ids(results)[0] == "all"
    assert ids(ix.search("疫苗 儿童 赔偿", exact=True)) == ["all"]
    # With fewer than ``fill`` such articles, one word is enough, and it ranks last.
    assert ids(ix.search("疫苗 儿童 赔偿")) == ["all", "two", "one"]


def test_a_compound_matches_its_parts_standing_close_together(tmp_path: Path) -> None:
    far = "网络" + "。今天天气很好，我们去公园散步，看见很多人在跑步锻炼身体。" * 3 + "安全"
    ix = index_of(tmp_path, [
        ("exact", "网络安全周", "网络安全宣传周开幕。"),
        ("near", "保护网络的安全", "要重视网络的安全问题。"),
        ("far", "周末见闻", far),
        # Parts more common than the compound, as in any archive: neither alone stands for it.
        *[(f"common{n}", f"消息{n}", f"网络购物很方便。第{n}期。") for n in range(4)],
        *[(f"safety{n}", f"提示{n}", f"注意交通安全。第{n}期。") for n in range(4)],
    ])
    strict = NewsIndex.open(ix.path, config=Config.from_dict({"ranking": {"fill": 0}}))
    results = strict.search("网络安全")
    assert set(ids(results)) == {"exact", "near"}  # not the article where the parts are far apart
    assert matches(results) == {"exact": "exact", "near": "related"}
    # With fewer than ``fill`` such articles, parts anywhere count too, and rank below.
    assert ids(ix.search("网络安全"))[:3] == ["exact", "near", "far"]


def test_a_tag_counts_as_holding_the_word(tmp_path: Path) -> None:
    ix = index_of(
        tmp_path,
        [
            ("tagged", "十年之后的北川", "北川中学的学生们回到了新校园。"),
            ("mention", "其他新闻", "他提到了汶川地震，然后讲起别的事情。很多年过去了，一切都变了。"),
        ],
        tagged={"tags": "汶川地震"},
    )
    results = ix.search("汶川地震")
    assert set(ids(results)) == {"tagged", "mention"}
    assert matches(results) == {"tagged": "related", "mention": "exact"}
    assert ids(ix.search("汶川地震", exact=True)) == ["mention"]


def test_a_rare_word_inside_a_query_word_stands_for_it(tmp_path: Path) -> None:
    ix = index_of(tmp_path, [
        ("whole", "尘肺病人", "尘肺病人需要救助。"),
        ("part", "矿工的尘肺", "很多矿工患上尘肺，呼吸困难，尘肺让他们失去工作。"),
    ])
    results = ix.search("尘肺病")
    assert matches(results) == {"whole": "exact", "part": "related"}


def test_fewer_words_are_asked_for_when_too_few_articles_hold_them_all(tmp_path: Path) -> None:
    ix = index_of(tmp_path, [
        ("rmb", "人民币汇率见顶了吗", "人民币汇率进一步上行的概率不高。"),
    ])
    assert ix.search("人民币还会升值吗", exact=True).total == 0
    assert ids(ix.search("人民币还会升值吗")) == ["rmb"]  # 升值 is nowhere: 人民币 alone
    fill_off = NewsIndex.open(ix.path, config=Config.from_dict({"ranking": {"fill": 0}}))
    assert fill_off.search("人民币还会升值吗").total == 0


def test_related_matches_respect_the_filters(tmp_path: Path) -> None:
    ix = index_of(
        tmp_path,
        [
            ("a", "疫苗赔偿", "疫苗受害者获得赔偿。", ),
            ("b", "疫苗赔偿", "疫苗受害者获得赔偿方案。"),
        ],
        a={"categories": "health"},
        b={"categories": "finance"},
    )
    assert ids(ix.search("疫苗 儿童 赔偿", category="health")) == ["a"]


# --------------------------------------------------------------------------- ranking


def test_a_whole_word_ranks_above_the_same_letters_inside_a_longer_word(tmp_path: Path) -> None:
    ix = index_of(tmp_path, [
        ("inside", "北京大学生命科学学院", "北京大学生命科学学院发布新成果。"),
        ("whole", "大学生就业", "今年大学生就业形势严峻。"),
        ("inside2", "北大学生的一天", "北大学生在图书馆学习。"),
    ])
    results = ix.search("大学生", explain=True)
    assert ids(results)[0] == "whole"
    why = {hit.id: hit.explanation["words"]["大学生"] for hit in results.hits}  # type: ignore[index]
    assert why["whole"]["inside_words"] == 0 and why["inside"]["inside_words"] == 1
    # The setting: counted in full, an occurrence inside a longer word scores like a whole word.
    flat = NewsIndex.open(ix.path, config=Config.from_dict({"ranking": {"inside_word": 1.0}}))
    before = {hit.id: hit.score for hit in results.hits}
    after = {hit.id: hit.score for hit in flat.search("大学生").hits}
    assert after["inside"] > before["inside"] and after["whole"] == pytest.approx(before["whole"])


def test_a_passing_mention_in_a_long_digest_ranks_below_an_article_about_it(tmp_path: Path) -> None:
    digest = "\n\n".join(f"第{n}条：{title}。{body}" for n, (title, body) in enumerate(FILLER * 5)) + "\n\n另外，雾霾天气持续。"
    ix = index_of(tmp_path, [
        ("digest", "本周要闻汇总", digest),
        ("about", "北方多地出现重度雾霾", "雾霾笼罩北方多个城市，空气质量指数爆表。"),
    ])
    assert ids(ix.search("雾霾")) == ["about", "digest"]
    # The setting: without length normalisation the digest's one mention counts like the article's.
    before = {hit.id: hit.score for hit in ix.search("雾霾").hits}
    ignore_length = NewsIndex.open(ix.path, config=Config.from_dict({"ranking": {"length_norm": 0}}))
    after = {hit.id: hit.score for hit in ignore_length.search("雾霾").hits}
    assert after["digest"] > before["digest"]


def test_words_standing_together_rank_above_words_far_apart(tmp_path: Path) -> None:
    gap = "，".join(text for _, text in FILLER)
    ix = index_of(tmp_path, [
        ("apart", "周末见闻", f"新能源产业发展很快。{gap}。汽车销量下降。"),
        ("together", "周末见闻", f"新能源汽车销量大增。{gap}。"),
    ])
    # The two share most of their text, so they would fold as one story: list both.
    results = ix.search("新能源汽车", explain=True, collapse=False)
    assert ids(results) == ["together", "apart"]
    assert results.hits[0].explanation["proximity"] > results.hits[1].explanation["proximity"]  # type: ignore[index]
    # The setting: without it, the two articles score alike but for the exact term.
    no_proximity = NewsIndex.open(ix.path, config=Config.from_dict({"ranking": {"proximity": 0, "exact_bonus": 0}}))
    scores = [hit.score for hit in no_proximity.search("新能源汽车", collapse=False).hits]
    assert scores[0] == pytest.approx(scores[1], rel=0.25) and results.hits[0].score > 1.4 * results.hits[1].score


def test_explain_gives_each_hits_score_by_part(tmp_path: Path) -> None:
    ix = index_of(tmp_path, [("a", "疫苗之王", "问题疫苗涉及大量儿童。")], a={"tags": "疫苗"})
    hit = ix.search(SearchRequest("疫苗 儿童", explain=True)).hits[0]
    why = hit.explanation
    assert why is not None and set(why) == {"score", "every_word", "coverage", "proximity", "exact", "words"}
    assert why["words"]["疫苗"]["title"] == 1 and why["words"]["疫苗"]["tag"] is True
    assert why["score"] == pytest.approx(hit.score, rel=1e-3)
    assert "疫苗" in hit.why() and "tag" in hit.why()
    assert ix.search("疫苗 儿童").hits[0].explanation is None  # only when asked


# --------------------------------------------------------------------------- did you mean


def test_did_you_mean_drops_the_most_common_word_never_the_rarest(tmp_path: Path) -> None:
    posts = [(f"common{n}", f"市场消息{n}", f"市场今天平稳，成交活跃。编号{n}。") for n in range(6)]
    posts.append(("rare", "琥珀市场", "琥珀市场今天平稳。"))
    ix = index_of(tmp_path, posts)
    results = ix.search("琥珀 市场 火星", exact=True)
    assert results.total == 0 and results.suggestion == "琥珀 市场"  # 火星 is nowhere: dropped first
    nothing = ix.search("琥珀 市场 平稳 成交", exact=True)
    assert nothing.total == 0 and "琥珀" in (nothing.suggestion or "")  # the rarest word is kept


# --------------------------------------------------------------------------- showing it


def test_the_cli_marks_related_hits_and_counts_them(tmp_path: Path) -> None:
    ix = index_of(tmp_path, [
        ("all", "疫苗事件", "问题疫苗涉及大量儿童，家长要求赔偿。"),
        ("two", "疫苗赔偿方案公布", "受害家庭将获得疫苗赔偿。"),
    ])
    runner = CliRunner()
    text = runner.invoke(app, ["search", "疫苗", "儿童", "赔偿", "--index", str(ix.path), "--explain"]).output
    assert "1 hold every term as typed, 1 are related" in text and "[related]" in text and "why: score" in text
    data = json.loads(runner.invoke(app, ["search", "疫苗", "儿童", "赔偿", "--index", str(ix.path), "--json"]).output)
    assert (data["total"], data["exact"]) == (2, 1)
    assert [(h["id"], h["match"]) for h in data["hits"]] == [("all", "exact"), ("two", "related")]
    exact = json.loads(runner.invoke(app, ["search", "疫苗", "儿童", "赔偿", "--index", str(ix.path), "--json", "--exact"]).output)
    assert (exact["total"], exact["exact"], [h["id"] for h in exact["hits"]]) == (1, 1, ["all"])


# --------------------------------------------------------------------------- cost


def test_a_broad_word_scores_only_the_matches_that_can_reach_the_first_page(tmp_path: Path) -> None:
    """MaxScore: the articles with the word in the title outscore any that have it only in
    the body, so those are not scored for the first page, and every page is still cut
    from the order that scoring them all gives (as every_word_first does: every article
    here holds the word, so it orders them alike), with a filter or without."""
    import dataclasses

    from newsearch.analysis import word_lookup
    from newsearch.compiler import IndexVocabulary, compile_plan, selection_filter
    from newsearch.ranking import RelaxedSearch

    titled = [(f"t{n}", f"暴雨预警第{n}号", "气象台发布暴雨预警。" + "雨量较大。" * n) for n in range(5)]
    bodies = [(f"b{n}", f"城市新闻{n}", "今天发布暴雨预警。" + "街道积水。" * n) for n in range(20)]
    index_of(tmp_path, titled + bodies).close()
    config = Config.for_index(tmp_path / "index")
    config = dataclasses.replace(config, ranking=dataclasses.replace(config.ranking, rerank_depth=3))
    ix = NewsIndex.open(tmp_path / "index", config=config)
    exhaustive = dataclasses.replace(config, ranking=dataclasses.replace(config.ranking, every_word_first=True))
    plain = {"facets": False, "collapse": False}
    everything = NewsIndex.open(tmp_path / "index", config=exhaustive).search("暴雨", limit=None, **plain)
    assert everything.total == 25
    assert [(h.id, h.score) for h in ix.search("暴雨", limit=None, **plain)] == [(h.id, h.score) for h in everything]
    for offset in range(0, 25, 3):
        for selection in ({}, {"since": "2021"}):
            page = ix.search("暴雨", limit=3, offset=offset, **selection, **plain)
            assert [(h.id, h.score) for h in page] == [(h.id, h.score) for h in everything.hits[offset : offset + 3]]
    assert set(ids(everything)[:3]) <= {post[0] for post in titled}
    assert ix.search("暴雨", limit=3, **plain).exact_total == everything.exact_total == 25  # unscored ones count too

    with ix._searcher() as searcher:
        compiled = compile_plan(
            plan(parse("暴雨"), ()), vocab=IndexVocabulary(searcher), title_boost=config.ranking.title_boost,
            compound_gap=config.ranking.compound_gap,
        )
        relaxed = RelaxedSearch(
            searcher, compiled, None, config.ranking, sort="relevance", half_life_days=30.0, is_word=word_lookup(())
        )
        total, first = relaxed.ranked(3, 0)
        assert total == 25 and [m.docnum for m in first]
        assert relaxed.scored == 5  # the titled ones; the others are known to rank below them
        relaxed.ranked(3, 3)  # a page beyond the head scores the rest
        assert relaxed.scored == 25
        flt = selection_filter(SearchRequest("暴雨", since="2021"), IndexVocabulary(searcher))
        filtered = RelaxedSearch(
            searcher, compiled, flt, config.ranking, sort="relevance", half_life_days=30.0, is_word=word_lookup(())
        )
        assert filtered.ranked(3, 0)[0] == 25 and filtered.scored == 5


def test_a_word_sorted_by_date_scores_only_the_articles_a_page_shows(tmp_path: Path) -> None:
    """By date, a one-word query's matches are scored only when a page shows them (and
    those dated the same as the last shown, whose order their scores decide)."""
    from newsearch.analysis import word_lookup
    from newsearch.compiler import IndexVocabulary, compile_plan
    from newsearch.ranking import RelaxedSearch

    folder = tmp_path / "posts"
    for n in range(16):
        day = f"2021-03-{1 + n // 2:02d} 08:00:00 +0800"  # two articles a day: ties broken by score
        write_post(folder, f"p{n}.md", f"降雪{n}" if n % 3 == 0 else f"城市{n}", "今天降雪。" + "道路结冰。" * n, date=day)
    write_post(folder, "undated.md", "降雪", "降雪无日期。", date=None)
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([folder])
    plain = {"facets": False, "collapse": False}
    for sort in ("-date", "date"):
        everything = ix.search("降雪", sort=sort, limit=None, **plain)
        assert everything.total == 17
        for offset in range(0, 17, 3):
            page = ix.search("降雪", sort=sort, limit=3, offset=offset, **plain)
            assert [(h.id, h.score) for h in page] == [(h.id, h.score) for h in everything.hits[offset : offset + 3]]
    assert ids(ix.search("降雪", sort="date", limit=None, **plain))[-1] == "undated"
    config = ix.config
    with ix._searcher() as searcher:
        compiled = compile_plan(
            plan(parse("降雪"), ()), vocab=IndexVocabulary(searcher), title_boost=config.ranking.title_boost,
            compound_gap=config.ranking.compound_gap,
        )
        relaxed = RelaxedSearch(
            searcher, compiled, None, config.ranking, sort="-date", half_life_days=30.0, is_word=word_lookup(())
        )
        assert relaxed.ranked(3, 0)[0] == 17
        assert relaxed.scored == 4  # the three newest and the one dated as the third


def test_a_word_in_many_articles_ranks_alike_as_arrays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A word whose posting list is long (``execute.LONG_LIST``) is matched and scored as
    numpy arrays: every page, sort and filter gives the same articles in the same order,
    equal scores included, with the same totals as matching it one article at a time,
    over several segments, one with a deleted article."""
    import dataclasses

    from newsearch import execute

    folder = tmp_path / "posts"
    for n in range(24):  # repeated texts: equal scores, whose order must not change
        title = f"暴雨预警{n % 3}" if n % 4 == 0 else f"城市新闻{n % 5}"
        body = "今天暴雨。" + "街道积水。" * (n % 6) + ("下雨了。" if n % 2 else "")
        day = f"2021-03-{1 + n % 7:02d} 08:00:00 +0800" if n % 9 else None
        write_post(folder, f"p{n}.md", title, body, date=day, categories="天气" if n % 3 else "城市", tags="雨 天气" if n % 5 == 0 else None)
    write_post(folder, "other.md", "农业丰收", "小麦产量创新高。")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([folder])
    second = tmp_path / "more"
    for n in range(24, 40):
        write_post(second, f"p{n}.md", f"暴雨{n % 2}", "暴雨来了。" + "雨量较大。" * (n % 4), date=f"2021-04-{1 + n % 5:02d} 08:00:00 +0800")
    ix.update([folder, second])
    (folder / "p7.md").unlink()  # a deletion in the first segment
    ix.update([folder, second])
    ix.close()
    stats = NewsIndex.open(tmp_path / "index").stats()
    assert stats.segments >= 2 and stats.deleted == 1

    def results(long_list: int, depth: int, every_word_first: bool) -> list[object]:
        monkeypatch.setattr(execute, "LONG_LIST", long_list)
        config = Config.for_index(tmp_path / "index")
        ranking = dataclasses.replace(config.ranking, rerank_depth=depth, every_word_first=every_word_first)
        found = NewsIndex.open(tmp_path / "index", config=dataclasses.replace(config, ranking=ranking))
        out: list[object] = []
        for query in ("暴雨", "雨", "积水", "暴雨 积水"):
            for sort in ("relevance", "-date", "date", "recent"):
                for selection in ({}, {"category": "天气"}):
                    for facets in (False, True):
                        for limit, offset in ((3, 0), (3, 3), (5, 10), (None, 0)):
                            page = found.search(query, sort=sort, limit=limit, offset=offset, facets=facets, collapse=facets, **selection)
                            out.append((query, sort, selection, limit, offset, page.total, page.exact_total, page.facets,
                                        [(h.id, h.score, h.match, [v.id for v in h.versions]) for h in page.hits]))
        return out

    for depth, every_word_first in ((3, False), (30, False), (3, True)):
        one_by_one = results(10**9, depth, every_word_first)
        assert any(row[-1] for row in one_by_one)
        assert results(1, depth, every_word_first) == one_by_one


def test_a_broad_words_articles_held_as_an_array_answer_as_a_set_does() -> None:
    """The sorted array a word in many articles keeps its holders in (ranking._Docs)
    gives what a set of them gives: size, members, and each set operation the ranking
    does with it, with sets, dict keys or another such array on either side."""
    import random

    import numpy as np

    from newsearch.ranking import _Docs

    rng = random.Random(7)
    samples = [set(), {0}, {5, 9}, set(rng.sample(range(300), 120)), set(rng.sample(range(300), 40)), set(range(0, 300, 2))]
    for a in samples:
        docs = _Docs(np.array(sorted(a), dtype=np.int64))
        assert len(docs) == len(a) and list(docs) == sorted(a) and bool(docs) == bool(a)
        assert all((d in docs) == (d in a) for d in range(-1, 302))
        for b in samples:
            other = _Docs(np.array(sorted(b), dtype=np.int64))
            for right in (b, frozenset(b), dict.fromkeys(b, 0.0).keys(), other):
                assert set(docs | right) == a | b and set(docs - right) == a - b and set(docs & right) == a & b
                assert set(right - docs) == b - a and set(right | docs) == a | b and set(right & docs) == a & b
                assert docs.intersection(right) == a & b
            assert docs.intersection(list(b)) == a & b and docs.intersection(dict.fromkeys(b, 1.0)) == a & b
