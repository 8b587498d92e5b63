"""NewsIndex as a library: indexing, incremental updates, search, filters, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import SEED_ID, SEEDS, write_post

from newsearch import (
    ArticleNotFoundError,
    IndexNotFoundError,
    InvalidArgumentError,
    NewsIndex,
    SchemaMismatchError,
)


@pytest.fixture()
def posts(tmp_path: Path) -> Path:
    folder = tmp_path / "_posts"
    write_post(folder, "2021-03-01-a.md", "央行调整离岸人民币中间价", "离岸人民币汇率今日报6.3512。\n\n市场人士认为走势平稳。",
               date="2021-03-01 09:30", categories="finance", tags="汇率 央行")
    write_post(folder, "2021-06-15-b.md", "智能客服走进银行", "银行网点引入客服机器人，回答常见问题。",
               date="2021-06-15", categories="[tech, finance]", tags="[AI, 客服]")
    write_post(folder, "2021-12-20-c.md", "年终盘点", "这一年里，客服行业变化很大。人民币国际化继续推进。",
               date="2021-12-20 18:00:00 +0800", categories="review", tags="盘点")
    write_post(folder, "2020-01-05-d.md", "旧闻", "本文与其他文章无关，只谈天气。", date=None, categories="misc")
    return folder


@pytest.fixture()
def ix(tmp_path: Path, posts: Path) -> NewsIndex:
    index = NewsIndex.create(tmp_path / "index")
    report = index.update([posts])
    assert (report.indexed, report.failed) == (4, [])
    return index


def ids(results) -> list[str]:
    return [h.id for h in results.hits]


def test_seed_is_found_by_its_keywords(seed_index: NewsIndex) -> None:
    for query in ("智能客服", "晓多科技", "双11", "客服 机器人"):
        results = seed_index.search(query)
        assert ids(results) == [SEED_ID], query
        assert results.total == 1
    assert seed_index.search("元宇宙 AND 自动驾驶 AND 火星").total == 0


def test_hit_fields_are_plain_python_values(seed_index: NewsIndex) -> None:
    hit = seed_index.search("晓多科技").hits[0]
    assert hit.title == "瞄准智能化服务赛道 晓多科技用AI和大数据解放人工客服"
    assert hit.date == datetime(2021, 12, 25, 14, 3, 27)
    assert hit.categories == ["meirijingjixinwen"]
    assert hit.tags == ["每日经济新闻新闻"]
    assert hit.url == "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202112252225891863"
    assert Path(hit.path).name == "000_7382423e0577ef0c.txt"
    assert hit.score > 0
    assert hit.to_dict()["date"] == "2021-12-25T14:03:27+08:00"


def test_snippet_highlights_the_query_word(seed_index: NewsIndex) -> None:
    snippet = seed_index.search("双11").hits[0].snippet
    assert 1 <= len(snippet.passages) <= 3
    for passage in snippet.passages:
        assert passage.highlights
        for start, end in passage.highlights:
            assert passage.text[start:end] == "双11"
    assert "<mark>双11</mark>" in snippet.html()
    assert "**双11**" in str(snippet)


def test_substring_inside_longer_word_is_found(ix: NewsIndex) -> None:
    # search-granularity segmentation: 人民币 inside 离岸人民币
    assert set(ids(ix.search("人民币"))) == {"2021-03-01-a", "2021-12-20-c"}


def test_fullwidth_and_case_are_folded(ix: NewsIndex) -> None:
    assert ids(ix.search("ＡＩ", limit=None)) == ids(ix.search("ai", limit=None))
    assert ids(ix.search("tags:ai")) == ["2021-06-15-b"]


def test_boolean_operators(ix: NewsIndex) -> None:
    assert set(ids(ix.search("客服"))) == {"2021-06-15-b", "2021-12-20-c"}
    assert ids(ix.search("客服 -人民币")) == ["2021-06-15-b"]
    assert ids(ix.search("客服 NOT 人民币")) == ["2021-06-15-b"]
    assert set(ids(ix.search("天气 OR 汇率"))) == {"2020-01-05-d", "2021-03-01-a"}
    assert ids(ix.search('"客服机器人"')) == ["2021-06-15-b"]
    assert ids(ix.search("title:盘点")) == ["2021-12-20-c"]


def test_title_match_ranks_above_body_match(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    write_post(folder, "body.md", "行业新闻", "今天说一说光伏。光伏行业的新闻很多。")
    write_post(folder, "title.md", "光伏", "今天说一说行业。行业的新闻很多。有光伏。")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([folder])
    assert ids(ix.search("光伏", collapse=False)) == ["title", "body"]  # the same words: rewordings of one another


def test_category_tag_and_date_filters(ix: NewsIndex) -> None:
    every = ix.search("", limit=None)
    assert every.total == 4
    assert set(ids(ix.search("", category="finance"))) == {"2021-03-01-a", "2021-06-15-b"}
    assert set(ids(ix.search("", category=["review", "misc"]))) == {"2021-12-20-c", "2020-01-05-d"}
    assert ids(ix.search("", category="FINANCE", tags=["汇率"])) == ["2021-03-01-a"]
    assert ids(ix.search("", tags=["AI", "客服"])) == ["2021-06-15-b"]
    assert ids(ix.search("", tags=["AI", "汇率"])) == []
    assert ids(ix.search("", category="nonexistent")) == []
    assert set(ids(ix.search("", since="2021-06"))) == {"2021-06-15-b", "2021-12-20-c"}
    assert set(ids(ix.search("", until="2021-06-15"))) == {"2021-03-01-a", "2021-06-15-b", "2020-01-05-d"}
    assert ids(ix.search("", since="2021-06-16", until="2021-12")) == ["2021-12-20-c"]
    assert ids(ix.search("", since="2021年3月", until="2021年3月")) == ["2021-03-01-a"]
    assert ids(ix.search("客服", since="2021-12")) == ["2021-12-20-c"]


def test_undated_article_takes_its_date_from_the_file_name(ix: NewsIndex) -> None:
    assert ix.get("2020-01-05-d").date == datetime(2020, 1, 5)


def test_date_sort_and_paging(ix: NewsIndex) -> None:
    newest = ix.search("", sort="-date", limit=None)
    assert ids(newest) == ["2021-12-20-c", "2021-06-15-b", "2021-03-01-a", "2020-01-05-d"]
    assert ids(ix.search("", limit=None)) == ids(newest)  # nothing to rank: newest first
    assert ids(ix.search("", sort="date", limit=None)) == ids(newest)[::-1]
    page2 = ix.search("", sort="-date", limit=2, offset=2)
    assert ids(page2) == ["2021-03-01-a", "2020-01-05-d"]
    assert (page2.total, page2.page) == (4, 2)
    assert ix.search("", sort="-date", limit=2, offset=4).hits == []


def test_limit_none_returns_every_match(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for i in range(25):
        write_post(folder, f"n{i:02}.md", f"新闻{i}", f"第{i}条消息，关于股市。")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([folder])
    assert len(ix.search("股市").hits) == 10
    everything = ix.search("股市", limit=None)
    assert (everything.total, len(everything.hits)) == (25, 25)


def test_bad_arguments_raise_invalid_argument(ix: NewsIndex) -> None:
    with pytest.raises(InvalidArgumentError, match="since"):
        ix.search("x", since="2021-13-01")
    with pytest.raises(InvalidArgumentError, match="limit"):
        ix.search("x", limit=0)
    with pytest.raises(InvalidArgumentError, match="sort"):
        ix.search("x", sort="random")
    with pytest.raises(InvalidArgumentError, match="offset"):
        ix.search("x", offset=-1)


def test_get_returns_the_article_and_unknown_id_raises(ix: NewsIndex) -> None:
    article = ix.get("2021-06-15-b")
    assert article.title == "智能客服走进银行"
    assert article.categories == ("tech", "finance")
    assert article.tags == ("AI", "客服")
    with pytest.raises(ArticleNotFoundError, match="nope"):
        ix.get("nope")


def test_stats(ix: NewsIndex) -> None:
    stats = ix.stats()
    assert stats.articles == 4
    assert stats.sources == 4
    assert stats.first_date == datetime(2020, 1, 5)
    assert stats.last_date == datetime(2021, 12, 20, 18, 0)
    assert dict(stats.categories) == {"finance": 2, "tech": 1, "review": 1, "misc": 1}
    assert dict(stats.tags)["客服"] == 1
    assert stats.size_bytes > 0


def test_stats_count_segments_and_the_deleted_share(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        write_post(tmp_path / "posts", f"{name}.md", f"标题{name}", f"正文{name}")
    from newsearch import Config

    # No merging after a run: the replaced and removed articles stay, counted as deleted.
    ix = NewsIndex.create(tmp_path / "index", config=Config.from_dict({"indexing": {"merge_factor": 0}}))
    ix.update([tmp_path / "posts"])
    first = ix.stats()
    assert (first.articles, first.segments, first.deleted, first.deleted_share) == (3, 1, 0, 0.0)
    write_post(tmp_path / "posts", "a.md", "标题a", "改过的正文")  # a new version: the old one is deleted
    (tmp_path / "posts" / "b.md").unlink()
    ix.update([tmp_path / "posts"])
    stats = ix.stats()
    assert (stats.articles, stats.segments, stats.deleted) == (2, 2, 2)
    assert stats.deleted_share == 0.5
    data = stats.to_dict()
    assert (data["segments"], data["deleted"], data["deleted_share"]) == (2, 2, 0.5)


# --------------------------------------------------------------------------- incremental indexing


def test_unchanged_folder_analyzes_nothing(ix: NewsIndex, posts: Path) -> None:
    report = ix.update([posts])
    assert (report.indexed, report.unchanged, report.removed, report.articles_added) == (0, 4, 0, 0)


def test_touched_but_identical_file_is_not_reanalyzed(ix: NewsIndex, posts: Path) -> None:
    target = posts / "2021-03-01-a.md"
    os.utime(target, ns=(time.time_ns(), time.time_ns()))
    report = ix.update([posts])
    assert (report.indexed, report.unchanged, report.articles_added) == (0, 4, 0)


def test_changed_new_and_deleted_files(ix: NewsIndex, posts: Path) -> None:
    write_post(posts, "2021-06-15-b.md", "智能客服走进保险公司", "保险公司也用上了机器人。", date="2021-06-15")
    write_post(posts, "2021-12-31-e.md", "跨年", "新年快乐，光伏行业展望。", date="2021-12-31")
    (posts / "2020-01-05-d.md").unlink()
    report = ix.update([posts])
    assert (report.indexed, report.unchanged, report.removed) == (2, 2, 1)
    assert (report.articles_added, report.articles_removed) == (2, 2)
    assert len(ix) == 4
    assert ids(ix.search("保险公司")) == ["2021-06-15-b"]
    assert ids(ix.search("银行")) == []
    assert ids(ix.search("光伏")) == ["2021-12-31-e"]
    assert ids(ix.search("天气")) == []
    with pytest.raises(ArticleNotFoundError):
        ix.get("2020-01-05-d")


def test_files_outside_the_given_paths_are_kept(tmp_path: Path, ix: NewsIndex, posts: Path) -> None:
    other = tmp_path / "other"
    write_post(other, "x.md", "另一个来源", "光伏发电。")
    ix.update([other])
    assert len(ix) == 5
    report = ix.update([posts])
    assert report.removed == 0
    assert len(ix) == 5


def test_unparseable_file_is_reported_and_the_run_goes_on(tmp_path: Path, ix: NewsIndex, posts: Path) -> None:
    (posts / "broken.md").write_text("---\ntitle: [unclosed\n", encoding="utf-8")
    (posts / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00")
    write_post(posts, "ok.md", "好文章", "光伏新闻。")
    report = ix.update([posts])
    assert report.indexed == 1
    assert sorted(Path(f.path).name for f in report.failed) == ["binary.txt", "broken.md"]
    assert all(f.reason for f in report.failed)
    assert ids(ix.search("光伏")) == ["ok"]


def test_a_changed_file_that_fails_keeps_its_previous_version(ix: NewsIndex, posts: Path) -> None:
    (posts / "2021-12-20-c.md").write_bytes(b"\x00\x00 not text any more")
    report = ix.update([posts])
    assert [Path(f.path).name for f in report.failed] == ["2021-12-20-c.md"]
    assert ids(ix.search("盘点")) == ["2021-12-20-c"]


def test_duplicate_id_is_reported_not_overwritten(tmp_path: Path, ix: NewsIndex) -> None:
    elsewhere = tmp_path / "elsewhere"
    write_post(elsewhere, "2021-03-01-a.md", "冒名", "同名文件，内容不同。")
    report = ix.update([elsewhere])
    assert len(report.failed) == 1
    assert "already used" in report.failed[0].reason
    assert ix.get("2021-03-01-a").title == "央行调整离岸人民币中间价"


def test_jsonl_articles(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    records = [
        {"id": "n1", "title": "第一条", "date": "2021-12-01", "tags": ["快讯"], "body": "<p>港股<b>收涨</b></p>"},
        {"title": "第二条", "body": "**A股**收跌"},
        {"date": "2021-12-02"},
    ]
    feed.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    ix = NewsIndex.create(tmp_path / "index")
    report = ix.update([feed])
    assert report.articles_added == 2
    assert [(f.line, "title" in f.reason) for f in report.failed] == [(3, True)]
    assert ids(ix.search("收涨")) == ["n1"]
    assert ix.get("n1").body == "港股收涨"
    assert ids(ix.search("第二条")) == ["feed-2"]


def test_missing_path_is_an_argument_error(tmp_path: Path) -> None:
    ix = NewsIndex.create(tmp_path / "index")
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        ix.update([tmp_path / "nope"])


# --------------------------------------------------------------------------- opening, rebuilding


def test_open_missing_index_raises(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="newsearch index"):
        NewsIndex.open(tmp_path / "none")


def test_incompatible_index_asks_for_rebuild(tmp_path: Path) -> None:
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([SEEDS])
    manifest = tmp_path / "index" / "newsearch.json"
    data = json.loads(manifest.read_text())
    data["schema_version"] = 0
    manifest.write_text(json.dumps(data))
    with pytest.raises(SchemaMismatchError, match="--rebuild"):
        NewsIndex.open(tmp_path / "index")
    rebuilt = NewsIndex.create(tmp_path / "index", replace=True)
    rebuilt.update([SEEDS])
    assert ids(NewsIndex.open(tmp_path / "index").search("晓多科技")) == [SEED_ID]


def test_rebuild_replaces_the_index_only_when_complete(tmp_path: Path, posts: Path) -> None:
    index_dir = tmp_path / "index"
    NewsIndex.create(index_dir).update([posts])
    pending = NewsIndex.create(index_dir, replace=True)
    # Until the new index is complete, searches see the old one.
    assert len(NewsIndex.open(index_dir)) == 4
    pending.update([SEEDS])
    reopened = NewsIndex.open(index_dir)
    assert len(reopened) == 1
    assert ids(reopened.search("晓多科技")) == [SEED_ID]
    # The files of the replaced generation are gone.
    generations = {p.name.lstrip("_").split("_")[0] for p in index_dir.iterdir() if p.name.lstrip("_").startswith("g")}
    assert len(generations) == 1


# --------------------------------------------------------------------------- parallel analysis


def test_parallel_workers_give_the_same_index_as_one(tmp_path: Path, posts: Path) -> None:
    from newsearch import Config

    for name in ("dup-a", "dup-b"):  # same id in two files, in different jobs
        write_post(posts / name, "2021-03-01-a.md", f"冒名{name}", "同名文件。")
    write_post(posts, "z-extra.md", "额外", "光伏新闻。")
    results = {}
    for workers in (1, 2):
        config = Config.from_dict({"indexing": {"workers": workers, "batch_size": 2}})
        ix = NewsIndex.create(tmp_path / f"index{workers}", config=config)
        report = ix.update([posts])
        results[workers] = (
            report.indexed,
            sorted((Path(f.path).parent.name, f.reason) for f in report.failed),
            sorted((h.id, h.title) for h in ix.search("", limit=None).hits),
        )
        assert len(ix) == 5
        # Re-running analyzes nothing but the conflicting file again.
        again = ix.update([posts])
        assert (again.indexed, again.unchanged) == (0, 5)
    assert results[1] == results[2]
    assert results[1][0] == 5
    assert [where for where, _ in results[1][1]] == ["dup-a", "dup-b"]  # the indexed owner keeps the id
    owner = posts / "2021-03-01-a.md"
    assert all(reason == f"id '2021-03-01-a' is already used by {owner}; skipped" for _, reason in results[2][1])


def test_a_file_under_two_given_paths_is_indexed_once(tmp_path: Path, posts: Path) -> None:
    from newsearch import Config

    for workers in (1, 2):
        config = Config.from_dict({"indexing": {"workers": workers, "batch_size": 1}})
        ix = NewsIndex.create(tmp_path / f"index{workers}", config=config)
        report = ix.update([posts, posts / "2021-06-15-b.md", posts, tmp_path])
        assert (report.indexed, report.failed) == (4, [])
        assert sorted(h.id for h in ix.search("", limit=None).hits) == sorted(p.stem for p in posts.iterdir())
        assert ix.update([posts / "2021-06-15-b.md", posts]).unchanged == 4


def test_a_long_run_leaves_no_files_behind_its_commits(tmp_path: Path) -> None:
    # Files of no committed segment, counted after each commit of a run: only the
    # job in progress has any, however many commits came before.
    from newsearch import Config

    folder = tmp_path / "posts"
    for i in range(40):
        write_post(folder, f"{i:02d}.md", f"第{i}篇", f"正文{i}。")
    config = Config.from_dict({"indexing": {"workers": 1, "batch_size": 4}})
    ix = NewsIndex.create(tmp_path / "index", config=config)
    whoosh_ix = ix._whoosh()
    strays = []

    def progress(done: int, total: int, path: str) -> None:
        if done % 4 == 1:  # the previous job is committed, this one is not yet
            toc = whoosh_ix.toc()
            live = {segment.segment_id() for segment in toc.segments}
            names = [p.name for p in (tmp_path / "index").iterdir() if p.is_file() and p.name.startswith(whoosh_ix.indexname + "_")]
            strays.append(sum(1 for name in names if name.split(".")[0] not in live))

    ix.update([folder], progress=progress)
    assert len(strays) == 10 and len(set(strays)) == 1, strays


def test_an_article_with_an_empty_body_among_others_is_indexed(tmp_path: Path, posts: Path) -> None:
    # Whoosh gives no length for an empty field; the segment writer must still cope.
    (posts / "only-front-matter.md").write_text("---\ntitle: 只有标题的文章\n---\n", encoding="utf-8")
    ix = NewsIndex.create(tmp_path / "index")
    report = ix.update([posts])
    assert report.failed == [] and len(ix) == 5
    assert [h.id for h in ix.search("只有标题").hits] == ["only-front-matter"]
    assert ix.search("客服").total == 2


def test_an_open_index_sees_an_edited_article_once(tmp_path: Path, posts: Path) -> None:
    # One segment per file; editing one file deletes its document in an old segment.
    from newsearch import Config

    ix = NewsIndex.create(tmp_path / "index", config=Config.from_dict({"indexing": {"batch_size": 1, "merge_factor": 0}}))
    ix.update([posts])
    assert [h.title for h in ix.search("智能客服", exact=True).hits] == ["智能客服走进银行"]  # a searcher is now open
    with ix._searcher() as searcher:  # noqa: SLF001 - checking which segment readers are kept
        before = {id(r) for r, _ in searcher.reader().leaf_readers()}
    write_post(posts, "2021-06-15-b.md", "智能客服改版", "改写后的正文。")
    ix.update([posts])
    assert [(h.id, h.title) for h in ix.search("智能客服", exact=True).hits] == [("2021-06-15-b", "智能客服改版")]
    assert ix.search("网点").total == 0 and len(ix) == 4
    with ix._searcher() as searcher:  # noqa: SLF001
        after = [id(r) for r, _ in searcher.reader().leaf_readers()]
    assert len(before & set(after)) == 3  # the three untouched segments keep their readers


def test_many_more_jobs_than_workers_are_fed_and_committed_in_order(tmp_path: Path) -> None:
    from newsearch import Config

    folder = tmp_path / "many"
    for i in range(40):
        write_post(folder, f"{i:02d}.md", f"第{i}篇", f"编号{i:02d}的正文。" + ("重复" if i % 10 == 0 else ""))
    write_post(folder, "zz.md", "冒名", "与第零篇同名", extra="id: '00'")  # loses: 00.md comes first
    results = {}
    for workers in (1, 2):
        config = Config.from_dict({"indexing": {"workers": workers, "batch_size": 1}})
        ix = NewsIndex.create(tmp_path / f"index{workers}", config=config)
        report = ix.update([folder])
        results[workers] = (report.indexed, [f.path for f in report.failed], len(ix), ix.search("重复").total)
        assert ix.get("00").title == "第0篇"
    assert results[1] == results[2]
    assert results[1][0] == 40 and results[1][2] == 40 and results[1][3] == 4
    assert [Path(p).name for p in results[1][1]] == ["zz.md"]


# --------------------------------------------------------------------------- strict updates


@pytest.mark.parametrize("workers", [1, 2])
def test_a_strict_update_commits_nothing_when_a_file_fails(tmp_path: Path, posts: Path, workers: int) -> None:
    from newsearch import Config, StrictIndexingError

    config = Config.from_dict({"indexing": {"workers": workers, "batch_size": 1}})
    ix = NewsIndex.create(tmp_path / "index", config=config)
    ix.update([posts], strict=True)
    before = sorted((h.id, h.title) for h in ix.search("", limit=None).hits)
    files_before = sorted(p.name for p in (tmp_path / "index").iterdir())
    # A new file, a changed one, a deleted one, and one that cannot be indexed (last in path order).
    write_post(posts, "2021-07-01-new.md", "新文章", "全新的光伏新闻。")
    write_post(posts, "2021-06-15-b.md", "智能客服改版", "改写后的正文。")
    (posts / "2020-01-05-d.md").unlink()
    (posts / "zz-broken.md").write_text("---\ntitle: [unclosed\n", encoding="utf-8")
    with pytest.raises(StrictIndexingError, match="zz-broken.md") as caught:
        ix.update([posts], strict=True)
    assert [Path(f.path).name for f in caught.value.failed] == ["zz-broken.md"]
    assert sorted((h.id, h.title) for h in ix.search("", limit=None).hits) == before
    assert ix.search("光伏").total == 0
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == files_before  # no segment left behind
    reopened = NewsIndex.open(tmp_path / "index")
    assert sorted((h.id, h.title) for h in reopened.search("", limit=None).hits) == before
    # Without --strict the same run indexes the rest and reports the file.
    report = ix.update([posts])
    assert [Path(f.path).name for f in report.failed] == ["zz-broken.md"]
    assert (report.indexed, report.removed) == (2, 1)
    assert ix.search("光伏").total == 1 and ix.get("2021-06-15-b").title == "智能客服改版"
    assert ix.search("网点").total == 0 and len(ix) == 4


def test_strict_cli_run_exits_3_and_lists_the_file(tmp_path: Path, posts: Path) -> None:
    from newsearch.cli import EXIT_FAILED_FILES

    (posts / "zz-empty.md").write_text("", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "newsearch", "index", "--strict", "--index", str(tmp_path / "index"), str(posts)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == EXIT_FAILED_FILES, result.stderr
    assert result.stderr.strip().startswith("Error: ") and "zz-empty.md: empty file" in result.stderr
    assert "Nothing was committed" in result.stderr and "Traceback" not in result.stderr
    assert "zz-empty.md" in (tmp_path / "index" / "failed-files.txt").read_text(encoding="utf-8")
    assert NewsIndex.open(tmp_path / "index").search("客服").total == 0
