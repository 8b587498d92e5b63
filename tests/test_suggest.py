"""Completing partial queries from title words and phrases, by characters or pinyin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEEDS, write_post
from typer.testing import CliRunner

from newsearch import InvalidArgumentError, NewsIndex
from newsearch.cli import app


@pytest.fixture()
def seeded(tmp_path: Path) -> NewsIndex:
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([SEEDS])
    return ix


@pytest.mark.parametrize("prefix", ["xdkj", "xiaoduo", "xiaoduokeji", "xiao duo", "晓多", "晓多科", "XDKJ", "曉多"])
def test_the_seed_company_is_completed_from_characters_pinyin_or_initials(seeded: NewsIndex, prefix: str) -> None:
    texts = [s.text for s in seeded.suggest(prefix)]
    assert "晓多科技" in texts, texts


def test_only_title_words_and_phrases_are_completions(seeded: NewsIndex) -> None:
    everything = {s.text for s in seeded.suggest("x", limit=1000)}
    title = seeded.get("000_7382423e0577ef0c").title  # 瞄准智能化服务赛道 晓多科技用AI和大数据解放人工客服
    assert everything and all(len(t) > 1 for t in everything)
    assert all(t in title.lower() for t in everything), everything - {t for t in everything if t in title}
    assert "晓多科技用" not in {s.text for s in seeded.suggest("晓多")}  # a phrase ends on a word, not on 用
    assert seeded.suggest("zzzz") == [] and seeded.suggest("  ") == []


@pytest.fixture()
def titles(tmp_path: Path) -> NewsIndex:
    posts = tmp_path / "posts"
    plan = ["银行股走强", "银行理财新规", "银行网点减少", "音乐节开幕", "音乐会门票", "重庆银行上市", "银行", "中行发布年报"]
    for i, title in enumerate(plan):
        write_post(posts, f"p{i}.md", title, "正文的内容与这些词无关。")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([posts])
    return ix


def test_completions_rank_by_titles_and_cover_every_reading(titles: NewsIndex) -> None:
    found = titles.suggest("yin")
    assert [s.text for s in found][:2] == ["银行", "音乐"]  # in five titles, then two
    assert (found[0].articles, found[1].articles) == (5, 2)
    # 行 reads hang or xing, 重 chong or zhong: every reading completes.
    assert "银行" in [s.text for s in titles.suggest("yinxing")]
    assert "重庆银行" in [s.text for s in titles.suggest("cqyh")]
    assert "重庆银行" in [s.text for s in titles.suggest("zhongqing")]
    assert [s.text for s in titles.suggest("yin", limit=1)] == ["银行"]
    with pytest.raises(InvalidArgumentError, match="limit"):
        titles.suggest("yin", limit=0)


def test_completions_are_saved_per_index_state_and_follow_updates(titles: NewsIndex, tmp_path: Path) -> None:
    titles.suggest("yin")
    saved = sorted(titles.path.glob("suggest-*.json"))
    assert len(saved) == 1
    data = json.loads(saved[0].read_text(encoding="utf-8"))
    assert "yinhang" in data["keys"] and "yh" in data["keys"]
    # A new process finds them on disk; a damaged file is rebuilt.
    saved[0].write_text("{", encoding="utf-8")
    assert [s.text for s in NewsIndex.open(titles.path).suggest("yin")][:1] == ["银行"]
    write_post(tmp_path / "posts", "new.md", "音乐节取消", "正文")
    titles.update([tmp_path / "posts"])
    assert [(s.text, s.articles) for s in titles.suggest("yinyue")][:1] == [("音乐", 3)]
    assert len(list(titles.path.glob("suggest-*.json"))) == 1  # the old state's file is gone


def test_stale_ok_answers_at_once_after_a_commit_and_catches_up_in_the_background(
    titles: NewsIndex, tmp_path: Path
) -> None:
    reader = NewsIndex.open(titles.path)  # a server's long-lived index object
    assert [(s.text, s.articles) for s in reader.suggest("yinyue", stale_ok=True)][:1] == [("音乐", 2)]
    write_post(tmp_path / "posts", "new.md", "音乐节取消", "正文")
    titles.update([tmp_path / "posts"])
    # The commit is seen by searches at once; completions answer from the state before it...
    assert reader.search("取消").total == 1
    assert [(s.text, s.articles) for s in reader.suggest("yinyue", stale_ok=True)][:1] == [("音乐", 2)]
    # ...while a thread prepares the new state's, which then answer.
    preparing = reader._completions._preparing  # noqa: SLF001
    assert preparing is not None
    preparing.join(60)
    assert [(s.text, s.articles) for s in reader.suggest("yinyue", stale_ok=True)][:1] == [("音乐", 3)]
    assert reader._completions._preparing is preparing  # nothing more to prepare  # noqa: SLF001
    # Without stale_ok the call waits for the current state, as before.
    write_post(tmp_path / "posts", "new2.md", "音乐剧首演", "正文")
    titles.update([tmp_path / "posts"])
    assert [(s.text, s.articles) for s in reader.suggest("yinyue")][:1] == [("音乐", 4)]


def test_completions_that_cannot_be_saved_are_still_served(titles: NewsIndex) -> None:
    from newsearch.suggest import index_state

    with titles._searcher() as searcher:  # noqa: SLF001
        blocked = titles.path / f"suggest-{index_state(searcher)}.json"
    blocked.mkdir()  # neither readable as a file nor replaceable by one (root ignores chmod)
    assert [s.text for s in NewsIndex.open(titles.path).suggest("yin")][:1] == ["银行"]
    assert blocked.is_dir()


def test_cli_suggest(titles: NewsIndex) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["suggest", "yh", "--index", str(titles.path)])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0] == "银行\t5"
    data = json.loads(runner.invoke(app, ["suggest", "yh", "--index", str(titles.path), "--json", "-n", "2"]).output)
    assert data["prefix"] == "yh" and data["suggestions"][0] == {"text": "银行", "articles": 5}
    bad = runner.invoke(app, ["suggest", "yh", "--index", str(titles.path), "-n", "0"])
    assert bad.exit_code != 0 and "--limit" in bad.output
