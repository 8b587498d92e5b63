"""Near-duplicate detection: sketches of real articles, and groups folded into search hits."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import write_post
from typer.testing import CliRunner

from newsearch import NewsIndex
from newsearch.analysis import normalize
from newsearch.cli import app
from newsearch.dupes import THRESHOLD, SketchTable, numbers_agree, share_a_band, similarity, sketch
from newsearch.ingest import iter_source_files, read_file

STORY = [
    "中国人民银行决定于12月15日下调金融机构存款准备金率0.5个百分点。",
    "此次降准共计释放长期资金约1.2万亿元，其中一部分用于归还到期的中期借贷便利。",
    "央行有关负责人表示，本次降准是货币政策的常规操作，稳健的货币政策取向没有改变。",
    "分析人士认为，降准有助于优化金融机构资金结构，增强金融服务实体经济的能力。",
    "市场普遍预计，后续货币政策将继续保持灵活适度，保持流动性合理充裕。",
]


@pytest.fixture(scope="module")
def real_bodies(corpus: Path) -> list[str]:
    posts = sorted(iter_source_files([corpus / "terminus2049" / "_posts"]))
    bodies = [normalize(a.body) for p in posts for a in read_file(p).articles]
    return [b for b in bodies if len(b) > 400]


def test_copies_are_similar_and_strangers_are_not(real_bodies: list[str]) -> None:
    import opencc

    to_traditional = opencc.OpenCC("s2t").convert
    rng = random.Random(5)
    dropped = 0
    for body in rng.sample(real_bodies, 40):
        own = sketch(body)
        assert similarity(own, own) == 1.0
        # Traditional script, full-width punctuation and spacing are normalized or ignored.
        assert similarity(own, sketch(normalize(to_traditional(body).replace("，", ", ")))) >= 0.9
        paragraphs = body.split("\n\n")
        if len(paragraphs) >= 5:
            del paragraphs[rng.randrange(1, len(paragraphs))]
            assert similarity(own, sketch("\n\n".join(paragraphs))) >= THRESHOLD
            dropped += 1
    assert dropped >= 20, f"only {dropped} of 40 bodies had a paragraph to drop"
    pairs = [(a, b) for a, b in zip(real_bodies, real_bodies[1:]) if a[:200] != b[:200]]
    scores = [similarity(sketch(a), sketch(b)) for a, b in pairs]
    assert max(scores) < THRESHOLD  # different posts of one archive are not near-duplicates
    assert sum(scores) / len(scores) < 0.05


def test_near_duplicates_share_a_band_term(real_bodies: list[str]) -> None:
    # The index finds candidates through the sketch's bands: a copy with an edit must share one.
    # Each body is paired with a copy edited lightly (punctuation, a sentence added) and
    # with one whose last tenth is another article's text: every copy is a near-duplicate,
    # the spliced ones close to the threshold, where few of the bands still agree.
    rng = random.Random(9)
    bodies = rng.sample(real_bodies, 40)
    pairs = []
    for body, other in zip(bodies, bodies[1:] + bodies[:1]):
        edited = body.replace("。", "！", 3) + "\n\n另据报道，此事仍在调查之中。"
        tenth = len(body) // 10
        spliced = body[: len(body) - tenth] + other[:tenth]
        pairs += [(sketch(body), sketch(edited)), (sketch(body), sketch(spliced))]
    scores = [similarity(a, b) for a, b in pairs]
    assert len(scores) == 80 and min(scores) >= THRESHOLD, sorted(scores)[:5]
    assert min(scores) < 0.8, "no copy came near the threshold: the banding is not put to the test"
    for a, b in pairs:
        assert share_a_band(a, b), f"no band shared at a similarity of {similarity(a, b)}"


def test_a_table_of_sketches_finds_what_pairwise_comparison_finds(real_bodies: list[str]) -> None:
    # (What a cluster's coordinator foresees near-duplicates with, among the matches at hand.)
    rng = random.Random(11)
    bodies = rng.sample(real_bodies, 60)
    texts = []
    for body in bodies:
        cut = rng.randrange(len(body))
        texts += [body, body[:cut] + body[cut + 40 :], body[: len(body) * 3 // 4]]
    sketches = [sketch(text) for text in texts] + [b""]  # (an article without text has no sketch)
    table = SketchTable([(i, s, None) for i, s in enumerate(sketches)])
    found = 0
    for i, own in enumerate(sketches):
        pairwise = {j for j, other in enumerate(sketches) if share_a_band(own, other) and similarity(own, other) >= THRESHOLD}
        assert set(table.alike(own)) == pairwise
        found += len(pairwise) - (i in pairwise)
    assert found >= 60  # the copies were found, not only each sketch itself


def test_empty_and_tiny_texts() -> None:
    assert similarity(sketch(""), sketch("")) == 0.0  # nothing to compare: never grouped
    assert similarity(sketch("降准"), sketch("降准")) == 1.0
    assert similarity(sketch("降准"), sketch("加息")) == 0.0


@pytest.fixture()
def planted(tmp_path: Path) -> NewsIndex:
    posts = tmp_path / "posts"
    body = "\n\n".join(STORY)
    write_post(posts, "base.md", "央行宣布降准0.5个百分点", body, date="2021-12-06 17:00:00")
    write_post(posts, "retitled.md", "降准来了！释放资金1.2万亿", body, date="2021-12-06 18:00:00")
    write_post(posts, "shorter.md", "央行降准", "\n\n".join(STORY[:4]), date="2021-12-06 19:00:00")
    write_post(posts, "punct.md", "央行宣布降准", body.replace("，", ",").replace("。", ". "), date="2021-12-07 08:00:00")
    write_post(posts, "traditional.md", "央行宣布降準", body.replace("银行", "銀行").replace("货币", "貨幣"), date="2021-12-07 09:00:00")
    # Other stories that mention 降准.
    write_post(posts, "other1.md", "降准对楼市的影响", "专家认为降准对楼市影响有限，房地产调控政策没有放松。" * 3, date="2021-12-08")
    write_post(posts, "other2.md", "银行股上涨", "受降准消息提振，银行板块午后拉升，多只个股涨超3%。", date="2021-12-09")
    write_post(posts, "other3.md", "债市早报", "降准落地后，国债期货高开，10年期国债收益率下行。", date="2021-12-10")
    ix = NewsIndex.create(tmp_path / "index")
    report = ix.update([posts])
    assert report.failed == [] and report.articles_added == 8
    return ix


def test_search_shows_one_hit_per_story_with_its_versions(planted: NewsIndex) -> None:
    results = planted.search("降准", limit=None)
    assert results.total == 8 and results.collapsed
    assert len(results.hits) == 4
    grouped = [h for h in results.hits if h.versions]
    assert len(grouped) == 1
    story = grouped[0]
    assert {story.id, *(v.id for v in story.versions)} == {"base", "retitled", "shorter", "punct", "traditional"}
    assert {h.id for h in results.hits} - {story.id} == {"other1", "other2", "other3"}
    flat = planted.search("降准", limit=None, collapse=False)
    assert len(flat.hits) == 8 and all(not h.versions for h in flat.hits)
    # The representative is the best match of the group in the order asked for.
    newest = planted.search("降准", sort="-date", limit=None)
    assert [h.id for h in newest.hits][:3] == ["other3", "other2", "other1"]
    assert newest.hits[3].id == "traditional"
    oldest = planted.search("降准", sort="date", limit=None)
    assert oldest.hits[0].id == "base" and len(oldest.hits[0].versions) == 4


def test_versions_are_only_among_the_matches(planted: NewsIndex) -> None:
    # 释放 is in every copy but the shorter one (its last paragraph is gone) and the
    # retitled one's title: all versions still match, so the group holds four.
    results = planted.search("保持流动性合理充裕", limit=None)
    assert {h.id for h in results.hits} | {v.id for h in results.hits for v in h.versions} == {
        "base", "retitled", "punct", "traditional"
    }
    assert len(results.hits) == 1 and len(results.hits[0].versions) == 3


def test_collapsed_pages_tile_the_collapsed_list(planted: NewsIndex) -> None:
    everything = [h.id for h in planted.search("降准", limit=None).hits]
    assert len(everything) == 4  # the story's group and the three other stories: two full pages
    pages = []
    for offset in range(0, 6, 2):
        pages += [h.id for h in planted.search("降准", limit=2, offset=offset).hits]
    assert pages == everything


def test_cli_lists_versions_and_can_expand_them(planted: NewsIndex) -> None:
    runner = CliRunner()
    index = str(planted.path)
    out = runner.invoke(app, ["search", "降准", "--index", index, "--sort", "date"])
    assert out.exit_code == 0, out.output
    assert "+ 4 similar versions: " in out.output and "(--no-collapse lists them)" in out.output
    data = json.loads(runner.invoke(app, ["search", "降准", "--index", index, "--sort", "date", "--json"]).output)
    assert data["collapsed"] is True
    assert data["hits"][0]["id"] == "base"
    assert {v["id"] for v in data["hits"][0]["versions"]} == {"retitled", "shorter", "punct", "traditional"}
    assert all({"id", "title", "date"} <= set(v) for v in data["hits"][0]["versions"])
    flat = json.loads(runner.invoke(app, ["search", "降准", "--index", index, "--no-collapse", "--json"]).output)
    assert flat["collapsed"] is False and len(flat["hits"]) == 8


def test_similar_leaves_out_the_article_and_its_versions(planted: NewsIndex) -> None:
    results = planted.similar("base", limit=10)
    ids = [h.id for h in results.hits]
    assert ids and not {"base", "retitled", "shorter", "punct", "traditional"} & set(ids)
    assert set(ids) <= {"other1", "other2", "other3"}
    # From another story, the 降准 story shows once, its other versions behind it.
    related = planted.similar("other1", limit=10)
    story = [h for h in related.hits if h.id in {"base", "retitled", "shorter", "punct", "traditional"}]
    assert len(story) == 1 and len(story[0].versions) == 4
    assert "other1" not in [h.id for h in related.hits]


def test_similar_articles_of_the_real_corpus_share_its_topic(corpus_index: NewsIndex) -> None:
    # Topic tags of the terminus2049 archive (4 to 15 articles each) as the truth:
    # most of an article's three most similar articles should carry its tag.
    everything = corpus_index.search("", limit=None, collapse=False, facets=False).hits
    by_tag: dict[str, list[str]] = {}
    for hit in everything:
        for tag in hit.tags:
            by_tag.setdefault(tag, []).append(hit.id)
    tried = agreed = 0
    for tag, ids in sorted(by_tag.items()):
        if not 4 <= len(ids) <= 15 or tag == "东财滚动新闻":
            continue
        for article_id in sorted(ids)[:2]:
            hits = corpus_index.similar(article_id, limit=3).hits
            assert article_id not in [h.id for h in hits]
            tried += 1
            agreed += sum(tag in h.tags for h in hits) >= 2
    assert tried >= 30
    assert agreed / tried >= 0.7, (agreed, tried)


def test_similar_errors(planted: NewsIndex) -> None:
    from newsearch import ArticleNotFoundError, InvalidArgumentError

    with pytest.raises(ArticleNotFoundError):
        planted.similar("no-such-id")
    with pytest.raises(InvalidArgumentError, match="limit"):
        planted.similar("base", limit=0)
    out = CliRunner().invoke(app, ["similar", "no-such-id", "--index", str(planted.path)])
    assert out.exit_code != 0 and "no-such-id" in out.output and "Traceback" not in out.output
    shown = CliRunner().invoke(app, ["similar", "other1", "--index", str(planted.path), "--json"])
    data = json.loads(shown.output)
    assert data["query"] == "similar:other1" and data["hits"]


@pytest.mark.parametrize("query", ["人民币", "北向资金", "中国", "疫苗"])
def test_scanned_and_looked_up_segments_group_alike(corpus_index: NewsIndex, query: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A segment with few matches has its bands read from the sketches, others are
    # looked up through the bands: both must find the same groups.
    from newsearch import dupes

    def groups() -> list[tuple[str, list[str]]]:
        return [(h.id, [v.id for v in h.versions]) for h in corpus_index.search(query, limit=None).hits]

    monkeypatch.setattr(dupes, "_SCAN", 0)
    looked_up = groups()
    assert looked_up
    monkeypatch.setattr(dupes, "_SCAN", 10**9)
    assert groups() == looked_up
    flat = corpus_index.search(query, limit=None, collapse=False)
    assert sum(1 + len(v) for _, v in looked_up) == flat.total


@pytest.mark.parametrize("scan", [0, 10**9])
@pytest.mark.parametrize("kind", [list, set])
def test_leaders_looked_up_together_find_what_comparing_every_match_finds(
    corpus_index: NewsIndex, scan: int, kind: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A near-duplicate round asks a shard about every leader at once.  Whether a
    # segment's matches are scanned or looked up through its bands, and whatever
    # collection holds them, each leader gets the matches a comparison with every one
    # finds alike (those that share a band with it, as the index finds them), each
    # once, most alike first; and one leader asked alone gets the same.
    from newsearch import dupes
    from newsearch.search import short_item_groups

    monkeypatch.setattr(dupes, "_SCAN", scan)

    def work(searcher, _config, _synonyms):  # type: ignore[no-untyped-def]
        groups = short_item_groups()
        leaders, matches = [], []
        for leaf, _base in searcher.leaf_searchers():
            reader = leaf.reader()
            docnums = list(reader.all_doc_ids())
            groups.add(reader, kind(docnums))
            for docnum in docnums:
                short = groups.short(reader, docnum)
                leaders.append((groups.sketch(reader, docnum), short[2] if short is not None else None))
                matches.append((reader, docnum, groups.sketch(reader, docnum), short[2] if short is not None else None))
        leaders.append((b"not a sketch", None))
        together = groups.alike_sketches(leaders)
        alone = [groups.alike_sketch(own, text) for own, text in leaders[::5]]
        return leaders, matches, together, alone

    leaders, matches, together, alone = corpus_index._read(work)
    assert len(together) == len(leaders) > 50
    assert together[::5] == alone
    assert together[-1] == []
    for (own, text), found in zip(leaders[:-1], together):
        expected = sorted(
            (round(similarity(own, other), 9), id(reader), docnum)
            for reader, docnum, other, other_text in matches
            if share_a_band(own, other)
            and similarity(own, other) >= THRESHOLD
            and (text is None or other_text is None or numbers_agree(text, other_text))
        )
        assert sorted((round(score, 9), id(reader), docnum) for score, _tie, reader, docnum in found) == expected
        assert [(-score, tie) for score, tie, *_ in found] == sorted((-score, tie) for score, tie, *_ in found)
    assert sum(len(found) > 1 for found in together) >= 3  # (some have near-duplicates)


def test_a_page_is_filled_past_a_large_group(tmp_path: Path) -> None:
    # Fifteen copies rank first: the first batch of ranked matches (2 × wanted + 10)
    # holds only their group, so the page needs a second batch.
    posts = tmp_path / "posts"
    body = "\n\n".join(STORY)
    for i in range(15):
        write_post(posts, f"copy{i:02d}.md", f"降准降准第{i}稿", body, date=f"2021-12-{i + 1:02d}")
    write_post(posts, "other.md", "楼市", "专家认为降准对楼市影响有限，房地产调控政策没有放松。" * 3, date="2021-12-20")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([posts])
    page = ix.search("降准", limit=2)
    assert page.total == 16
    assert [len(h.versions) for h in page.hits] == [14, 0]
    assert page.hits[1].id == "other"
    assert [h.id for h in ix.search("降准", limit=1, offset=1).hits] == ["other"]


# --------------------------------------------------------------------------- short items in other words

FLASH = ("北向资金净流入超40亿元", "截至今日午间收盘，北向资金净流入41.2亿元，其中沪股通净流入25.3亿元，深股通净流入15.9亿元。")
REWORDED = ("沪深股通半日净流入41.2亿元", "北向资金午间收盘净流入41.2亿元。沪股通方面净流入25.3亿元，深股通方面净流入15.9亿元，今日两市成交活跃。")
LATER = ("北向资金午间净流入41.2亿元", "沪股通午间净流入25.3亿元，深股通净流入15.9亿元，北向资金合计净流入41.2亿元。")
OTHER_FIGURES = ("北向资金净流入超50亿元", "截至今日午间收盘，北向资金净流入52.6亿元，其中沪股通净流入30.1亿元，深股通净流入22.5亿元。")


@pytest.fixture()
def flashes(tmp_path: Path) -> NewsIndex:
    posts = tmp_path / "posts"
    write_post(posts, "flash.md", *FLASH, date="2021-12-08 11:31:00")
    write_post(posts, "reworded.md", *REWORDED, date="2021-12-08 11:40:00")
    write_post(posts, "figures.md", *OTHER_FIGURES, date="2021-12-09 11:31:00")  # another day's figures
    write_post(posts, "later.md", *LATER, date="2021-12-20 11:40:00")  # in other words again, twelve days later
    write_post(posts, "long.md", "北向资金一周回顾", "\n\n".join([FLASH[1]] * 4 + STORY))  # not a short item
    ix = NewsIndex.create(tmp_path / "index")
    assert ix.update([posts]).failed == []
    return ix


def test_a_short_item_reported_again_in_other_words_folds_under_it(flashes: NewsIndex) -> None:
    flat = flashes.search("北向资金", limit=None, collapse=False)
    assert len(flat.hits) == 5
    results = flashes.search("北向资金", limit=None)
    versions = {hit.id: [v.id for v in hit.versions] for hit in results.hits}
    first = "flash" if "flash" in versions else "reworded"
    assert versions[first] == [{"flash": "reworded", "reworded": "flash"}[first]]
    # Other figures are another fact; the same figures twelve days later, another
    # day's report; a long article, not a flash.
    assert set(versions) == {first, "figures", "later", "long"}
    assert all(versions[other] == [] for other in ("figures", "later", "long"))
    assert results.total == 5  # the total counts articles, folded or not


def test_rewordings_fold_in_every_order(flashes: NewsIndex) -> None:
    for sort in ("-date", "date", "recent"):
        hits = flashes.search("北向资金", limit=None, sort=sort).hits
        folded = [hit for hit in hits if hit.versions]
        assert len(hits) == 4 and len(folded) == 1, sort
        assert {folded[0].id, *(v.id for v in folded[0].versions)} == {"flash", "reworded"}, sort
    oldest = flashes.search("北向资金", limit=None, sort="date").hits
    assert [hit.id for hit in oldest if hit.id in ("flash", "reworded")] == ["flash"]  # the first of them leads


def test_a_flash_alike_letter_by_letter_with_other_figures_is_another_fact(tmp_path: Path) -> None:
    # A daily flash written from one template: the same letters, other numbers.
    template = ("北向资金今日净流入{}亿元", "截至收盘，北向资金今日净流入{}亿元。" + STORY[2] + STORY[3] + "其中沪股通净流入{}亿元。")
    posts = tmp_path / "posts"
    for name, day, figures in (("monday", 6, ("41.2", "25.3")), ("tuesday", 7, ("52.6", "30.1")), ("again", 7, ("52.6", "30.1"))):
        write_post(posts, f"{name}.md", template[0].format(figures[0]), template[1].format(figures[0], figures[1]),
                   date=f"2021-12-{day:02d} 16:00:00")
    ix = NewsIndex.create(tmp_path / "index")
    assert ix.update([posts]).failed == []
    monday, tuesday = (normalize(template[1].format(*f)) for f in (("41.2", "25.3"), ("52.6", "30.1")))
    assert similarity(sketch(monday), sketch(tuesday)) >= THRESHOLD  # alike letter by letter
    hits = ix.search("北向资金", limit=None).hits
    assert sorted((hit.id, [v.id for v in hit.versions]) for hit in hits) in (
        [("again", ["tuesday"]), ("monday", [])],
        [("monday", []), ("tuesday", ["again"])],
    )
