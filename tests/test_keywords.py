"""Keywords chosen at index time with the archive's own idf, searched, shown, and
the significant keywords of a period or section (topics)."""

from __future__ import annotations

import heapq
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from conftest import SEED_ID, SEEDS, write_post
from typer.testing import CliRunner

from newsearch.analysis import normalize
from newsearch import InvalidArgumentError, NewsIndex
from newsearch.cli import app
from newsearch.keywords import IdfTable, _best_words, in_use


def test_the_seed_article_has_sensible_keywords(tmp_path: Path) -> None:
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([SEEDS])
    keywords = ix.get(SEED_ID).keywords
    assert 3 <= len(keywords) <= 8
    assert "客服" in keywords and "晓多" in keywords
    assert all(len(k) > 1 and not k.isdigit() for k in keywords)
    # No word beside a longer keyword that holds it (人工 beside 人工智能).
    assert not any(a != b and a in b for a in keywords for b in keywords)


def test_real_articles_get_their_subject_as_a_keyword(corpus_index: NewsIndex) -> None:
    assert "疫苗" in corpus_index.get("2018-07-22-the-death-of-vaccine").keywords
    assert "泄漏" in corpus_index.get("2018-11-13-C9-9th-day").keywords
    assert {"北向", "净流入"} & set(corpus_index.get("2021-12-08-202112082206757673").keywords)


@pytest.fixture()
def archive(tmp_path: Path) -> NewsIndex:
    """Forty articles that all repeat 记者 and 市场; each month has its own story."""
    posts = tmp_path / "posts"
    stories = {
        "2021-11": ("疫苗", "疫苗接种进度加快，新冠疫苗加强针开始接种。"),
        "2021-12": ("降准", "央行宣布降准，降准释放长期资金。"),
    }
    for i in range(40):
        month = "2021-11" if i < 20 else "2021-12"
        word, story = stories[month]
        own = f"编号{i:02d}"
        body = f"记者报道，市场关注。{story}{own}相关的消息。记者还了解到，市场人士表示关注。"
        write_post(posts, f"p{i:02d}.md", f"{word}消息{i}", body, date=f"{month}-{i % 20 + 1:02d}",
                   categories="finance" if i % 2 else "health")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([posts])
    return ix


def test_words_every_article_uses_are_not_keywords(archive: NewsIndex) -> None:
    everything = archive.search("", limit=None, collapse=False, facets=False).hits
    assert len(everything) == 40
    for hit in everything:
        keywords = archive.get(hit.id).keywords
        assert "记者" not in keywords and "市场" not in keywords, (hit.id, keywords)
        assert ("疫苗" in keywords) != ("降准" in keywords)


def test_keywords_are_searchable_as_a_field(archive: NewsIndex, corpus_index: NewsIndex) -> None:
    found = {h.id for h in archive.search("keywords:降准", limit=None, collapse=False).hits}
    assert len(found) == 20
    assert {h.id for h in archive.search("关键词:降准", limit=None, collapse=False).hits} == found
    everything = corpus_index.search("", limit=None, collapse=False, facets=False).hits
    expected = {h.id for h in everything if "疫苗" in corpus_index.get(h.id).keywords}
    assert expected and {h.id for h in corpus_index.search("keywords:疫苗", limit=None, collapse=False).hits} == expected


def test_the_idf_sample_is_saved_and_taken_again_when_the_index_grows(tmp_path: Path, archive: NewsIndex) -> None:
    saved = archive.path / "keywords-idf.json"
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["sampled"] == 40 and data["df"]["记者"] == 40
    mtime = saved.stat().st_mtime_ns
    posts = tmp_path / "posts"
    write_post(posts, "extra.md", "补充", "记者报道，另一条消息。", date="2021-12-30")
    archive.update([posts])  # 41 articles: less than a quarter more
    assert saved.stat().st_mtime_ns == mtime
    for i in range(15):
        write_post(posts, f"more{i}.md", f"加息消息{i}", "记者报道，美联储加息。", date="2021-12-31")
    archive.update([posts])  # up to 56: the sample is taken again, before these are indexed
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["articles"] == 56 and data["sampled"] == 56


def test_topics_rank_what_sets_a_selection_apart(archive: NewsIndex) -> None:
    december = archive.topics(since="2021-12", until="2021-12")
    best = {t.keyword: t for t in december if t.score == december[0].score}
    assert "降准" in best and (best["降准"].articles, best["降准"].archive) == (20, 20)
    assert all(t.keyword not in {"疫苗", "记者", "市场"} for t in december)
    november = archive.topics(since="2021年11月", until="2021年11月")
    assert "疫苗" in {t.keyword for t in november if t.score == november[0].score}
    scores = [t.score for t in december]
    assert scores == sorted(scores, reverse=True)
    # A section split evenly across both stories has nothing of its own.
    assert {t.keyword for t in archive.topics(category="finance")} & {"疫苗", "降准"} == set()
    with pytest.raises(InvalidArgumentError, match="nothing selected"):
        archive.topics()


def test_topics_of_the_real_archive(corpus_index: NewsIndex) -> None:
    july = [t.keyword for t in corpus_index.topics(since="2018-07", until="2018-07", limit=10)]
    assert "疫苗" in july  # the Changsheng vaccine scandal broke in July 2018
    finance = [t.keyword for t in corpus_index.topics(category="emnews", limit=10)]
    assert "疫苗" not in finance and finance


def test_cli_shows_keywords_lists_topics_and_completes_keywords(archive: NewsIndex) -> None:
    runner = CliRunner()
    index = str(archive.path)
    shown = runner.invoke(app, ["show", "p25", "--index", index])
    assert shown.exit_code == 0 and "keywords:   " in shown.output and "降准" in shown.output
    assert "降准" in json.loads(runner.invoke(app, ["show", "p25", "--index", index, "--json"]).output)["keywords"]
    topics = runner.invoke(app, ["topics", "--since", "2021-12", "--until", "2021-12", "--index", index])
    assert topics.exit_code == 0 and "降准  20 here, 20 in all  (score 1.000)" in topics.output.splitlines()
    data = json.loads(runner.invoke(app, ["topics", "--category", "health", "--index", index, "--json"]).output)
    assert isinstance(data["topics"], list)
    bad = runner.invoke(app, ["topics", "--index", index])
    assert bad.exit_code == 2 and "nothing selected" in bad.output and "Traceback" not in bad.output
    # 央行 is a keyword of the December articles but no title has it.
    assert "央行" in archive.get("p25").keywords
    assert ("央行", 20) in [(s.text, s.articles) for s in archive.suggest("yanghang")]


@settings(max_examples=300, deadline=None)
@given(
    weights=st.dictionaries(
        st.text(alphabet="甲乙丙丁戊己庚辛壬癸", min_size=1, max_size=3),
        st.integers(1, 40).map(lambda halves: halves / 2),
        max_size=80,
    ).map(lambda weights: {word: w * 10 if len(word) == 1 else w for word, w in weights.items()}),
    n=st.integers(1, 40),
)
def test_the_best_words_are_those_a_plain_ranking_gives(weights: dict[str, float], n: int) -> None:
    # Scored with C-level maps over every word, single characters included (here
    # often the best scored): the result must still be the n best words of two
    # characters or more.
    table = IdfTable(100, 100, {word: i % 7 for i, word in enumerate(sorted(weights)) if i % 3})
    with in_use(table):
        plain = heapq.nlargest(n, ((w * table.idf(word), word) for word, w in weights.items() if len(word) > 1))
        assert _best_words(weights, n) == plain


# --------------------------------------------------------------------------- names and letters as written


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> NewsIndex:
    """An article about 杨伟民 (which jieba cuts into 杨 and 伟民), one about the iPhone and
    MeToo as the articles write them, and a few others for the idf."""
    root = tmp_path_factory.mktemp("written")
    posts = root / "posts"
    write_post(posts, "yang.md", "杨伟民谈经济形势",
               "国务院发展研究中心主任杨伟民表示，经济保持稳定。杨伟民说，改革将继续推进。杨伟民认为消费仍有潜力。")
    write_post(posts, "phone.md", "苹果发布新款iPhone",
               "苹果公司发布新款iPhone，iPhone销量大增，个别门店IPHONE一度缺货。#MeToo运动之后，MeToo话题再度升温，MeToo仍受关注。")
    for i, (title, body) in enumerate([("港口吞吐量回升", "港口吞吐量回升，集装箱运输繁忙。"),
                                       ("铁路客运增长", "铁路客运量增长，春运压力减轻。"),
                                       ("粮食丰收在望", "今年粮食丰收在望，农民增收。")]):
        write_post(posts, f"other{i}.md", title, body)
    ix = NewsIndex.create(root / "index")
    ix.update([posts])
    return ix


def test_a_name_jieba_cuts_in_two_is_a_keyword_whole(written: NewsIndex) -> None:
    keywords = written.get("yang").keywords
    assert "杨伟民" in keywords and "伟民" not in keywords, keywords
    assert {h.id for h in written.search("keywords:杨伟民").hits} == {"yang"}


def test_keywords_can_be_shown_as_the_article_writes_them(written: NewsIndex) -> None:
    from newsearch.keywords import as_written

    article = written.get("phone")
    shown = article.keywords  # as the article writes them; searches and topics use them normalized
    assert "iPhone" in shown and "MeToo" in shown, shown
    assert {h.id for h in written.search("keywords:iPhone").hits} == {"phone"}
    assert {h.id for h in written.search("keywords:metoo").hits} == {"phone"}
    keywords = [normalize(k) for k in shown]
    assert "iphone" in keywords and "metoo" in keywords
    assert as_written(keywords, article.title, article.body) == list(shown)
    assert "iPhone" in shown and "MeToo" in shown and len(shown) == len(keywords)
    assert [w for w in shown if not w.isascii()] == [w for w in keywords if not w.isascii()]
    assert as_written(["ai"], "ai客服", "AI客服上线，AI客服，Ai客服。") == ["AI"]
    assert as_written(["ai"], "讲话", "他said与ai无关") == ["ai"]  # letters inside a longer word do not count


def test_keywords_of_words_that_are_whole_stay_as_they_are() -> None:
    from newsearch.keywords import choose

    assert "伟民" in choose("伟民公司", "伟民公司发布年报。", ())  # once: nothing tells it is part of a name
    keywords = choose("人工智能", "人工智能发展迅速，人工智能应用广泛，智能手机普及。", ())
    assert "人工智能" in keywords and "ai" not in keywords
