"""Completing partial queries from title words and phrases, by characters or pinyin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEEDS, write_post
from typer.testing import CliRunner

from newsearch import InvalidArgumentError, NewsIndex
from newsearch.cli import app
from newsearch.results import Suggestion
from newsearch.suggest import Completions


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


def articles(ix: NewsIndex, prefix: str, **options: bool) -> dict[str, int]:
    """Each completion of ``prefix`` with its number of articles."""
    return {s.text: s.articles for s in ix.suggest(prefix, **options)}


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
    saved = sorted(titles.path.glob("suggest-*.bin"))
    assert len(saved) == 1
    keys = list(Completions.load(saved[0]).keys)
    assert "yinhang" in keys and "yh" in keys
    # A new process finds them on disk; a damaged file is rebuilt.
    saved[0].write_text("{", encoding="utf-8")
    assert [s.text for s in NewsIndex.open(titles.path).suggest("yin")][:1] == ["银行"]
    write_post(tmp_path / "posts", "new.md", "音乐节取消", "正文")
    titles.update([tmp_path / "posts"])
    assert articles(titles, "yinyue")["音乐"] == 3
    assert len(list(titles.path.glob("suggest-*.bin"))) == 1  # the old state's file is gone


def test_saved_completions_load_as_they_were_built_and_bad_files_are_refused(titles: NewsIndex, tmp_path: Path) -> None:
    words = ["银行", "音乐", "重庆银行", "iPhone", "说明"]
    keys = sorted({(w, n) for n, w in enumerate(words)} | {("yinhang", 0), ("yh", 0), ("yinyue", 1), ("cqyh", 2)})
    built = Completions(words, [5, 2, 1, 3, 9], [k for k, _ in keys], [n for _, n in keys], [6, 2, 1, 4, 9], [0, 1, 0, 0, 2, 0, 0, 0, 1][: len(keys)])
    path = tmp_path / "c.bin"
    built.save(path)
    loaded = Completions.load(path)
    assert list(loaded.words) == words and list(loaded.keys) == [k for k, _ in keys]
    assert list(loaded.counts) == [5, 2, 1, 3, 9] and list(loaded.weights) == [6, 2, 1, 4, 9]
    assert list(loaded.owners) == list(built.owners) and list(loaded.kinds) == list(built.kinds)
    for prefix in ("yin", "y", "yh", "cq", "重", "银", "iph", "说", "x"):
        assert loaded.complete(prefix) == built.complete(prefix), prefix
    # Against every key read one by one: the best kind of match, then weight, length and text.
    for prefix, limit in (("y", 1), ("y", 2), ("yin", 10), ("", 3), ("银", 1)):
        best: dict[int, int] = {}
        for (key, n), kind in zip(keys, built.kinds):
            if prefix and key.startswith(prefix):
                best[n] = min(kind, best.get(n, 3))
        expected = sorted(best, key=lambda n: (best[n], -[6, 2, 1, 4, 9][n], len(words[n]), words[n]))[:limit]
        assert [s.text for s in built.complete(prefix, limit)] == [words[n] for n in expected], prefix
    data = path.read_bytes()
    for bad in (b"", b"{", data[: len(data) // 2], data[:30], b"NSCOMPLETIONS 2\n" + bytes(8) + b"[]"):
        path.write_bytes(bad)
        with pytest.raises(ValueError):
            Completions.load(path)
    # What an earlier version saved is replaced, not read.
    old = titles.path / "suggest-0000000000000000.json"
    old.write_text("{}", encoding="utf-8")
    write_post(tmp_path / "posts", "new.md", "音乐节取消", "正文")
    titles.update([tmp_path / "posts"])
    assert articles(titles, "yinyue")["音乐"] == 3
    assert not old.exists()


def test_stale_ok_answers_at_once_after_a_commit_and_catches_up_in_the_background(
    titles: NewsIndex, tmp_path: Path
) -> None:
    reader = NewsIndex.open(titles.path)  # a server's long-lived index object
    assert articles(reader, "yinyue", stale_ok=True)["音乐"] == 2
    write_post(tmp_path / "posts", "new.md", "音乐节取消", "正文")
    titles.update([tmp_path / "posts"])
    # The commit is seen by searches at once; completions answer from the state before it...
    assert reader.search("取消").total == 1
    assert articles(reader, "yinyue", stale_ok=True)["音乐"] == 2
    # ...while a thread prepares the new state's, which then answer.
    preparing = reader._completions._preparing  # noqa: SLF001
    assert preparing is not None
    preparing.join(60)
    assert articles(reader, "yinyue", stale_ok=True)["音乐"] == 3
    assert reader._completions._preparing is preparing  # nothing more to prepare  # noqa: SLF001
    # Without stale_ok the call waits for the current state, as before.
    write_post(tmp_path / "posts", "new2.md", "音乐剧首演", "正文")
    titles.update([tmp_path / "posts"])
    assert articles(reader, "yinyue")["音乐"] == 4


def test_completions_that_cannot_be_saved_are_still_served(titles: NewsIndex) -> None:
    from newsearch.suggest import index_state

    with titles._searcher() as searcher:  # noqa: SLF001
        blocked = titles.path / f"suggest-{index_state(searcher)}.bin"
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


# --------------------------------------------------------------------------- what a completion is worth


@pytest.fixture(scope="module")
def news(tmp_path_factory: pytest.TempPathFactory) -> NewsIndex:
    """Titles where 疫苗 is the topic (tagged, in titles and keywords) and words that read ym
    by a rare reading (说明: yue ming) or are function words (它们) are common in titles."""
    root = tmp_path_factory.mktemp("news")
    posts = root / "posts"
    plan = [
        ("v1", "疫苗之王的真相", "长春长生生产的疫苗不合格，疫苗之王的故事引发关注。疫苗监管成为焦点。", "疫苗"),
        ("v2", "疫苗之王背后的资本", "疫苗企业的资本运作，疫苗之王的崛起。疫苗行业的监管漏洞。", "疫苗"),
        ("v3", "问题疫苗流入多地", "多地接种了问题疫苗，疫苗批次被召回。", "疫苗"),
        ("s1", "数据说明经济回暖", "统计局的数据说明消费回升，工业产出增长。", None),
        ("s2", "专家说明降准原因", "央行专家说明了降准的原因和影响。", None),
        ("s3", "公告说明分红方案", "公司公告说明了年度分红方案。", None),
        ("s4", "官方说明事故经过", "官方发布说明，介绍了事故经过。", None),
        ("t1", "它们从哪里来", "候鸟每年迁徙，它们从北方飞来。", None),
        ("t2", "它们为何消失", "湿地减少，它们的栖息地消失了。", None),
        ("t3", "它们的归宿", "流浪猫狗的归宿，它们需要救助。", None),
        ("p1", "北大一二〇纪念", "北大校友举行纪念活动，回顾一二〇周年。", None),
        ("p2", "人民大学两个交换项目暂停", "人民大学与康奈尔的两个交换项目暂停。", None),
    ]
    for name, title, body, tags in plan:
        write_post(posts, f"{name}.md", title, body, tags=tags)
    ix = NewsIndex.create(root / "index")
    ix.update([posts])
    return ix


def test_initials_complete_topic_words_before_other_readings_and_function_words(news: NewsIndex) -> None:
    texts = [s.text for s in news.suggest("ym")]
    assert texts[:2] == ["疫苗", "疫苗之王"], texts
    # 说明 reads shuo ming: ym only by a rare reading of 说 (yue); 它们 is a function word.
    assert texts.index("说明") > texts.index("疫苗之王")
    assert "它们" not in texts[:5]
    assert [s.text for s in news.suggest("shuoming")][:1] == ["说明"]  # its own reading still completes
    assert [s.text for s in news.suggest("说")][:1] == ["说明"]


def test_phrases_do_not_cut_a_count_from_what_it_counts(news: NewsIndex) -> None:
    everything = {s.text for s in news.suggest("b", limit=1000)} | {s.text for s in news.suggest("r", limit=1000)}
    assert "北大" in everything and "人民大学" in everything
    assert not {"北大一二", "人民大学两个", "人民大学两个交换"} & everything, everything
    assert "疫苗之王" in {s.text for s in news.suggest("疫苗")}
    assert "交换项目" in {s.text for s in news.suggest("jhxm")}  # a phrase of words, on word boundaries


def test_each_segments_title_counts_are_kept_and_only_a_new_segment_is_counted(tmp_path: Path) -> None:
    from newsearch import Config

    posts = tmp_path / "posts"
    for i, title in enumerate(["银行股走强", "银行理财新规", "音乐节开幕"]):
        write_post(posts, f"p{i}.md", title, "正文的内容与这些词无关。")
    folder = tmp_path / "index"
    config = Config.from_dict({"indexing": {"merge_factor": 0}})  # (each run a segment of its own)
    ix = NewsIndex.create(folder, config=config)
    ix.update([posts])
    assert [s.text for s in ix.suggest("yin")][:1] == ["银行"]
    first = list(folder.glob("titles-*.counts"))
    assert len(first) == 1
    kept = first[0].read_bytes()
    write_post(posts, "p3.md", "晓多科技用AI解放人工客服", "正文的内容与这些词无关。")
    ix.update([posts])
    assert "晓多科技" in [s.text for s in ix.suggest("xdkj")]
    assert len(list(folder.glob("titles-*.counts"))) == 2 and first[0].read_bytes() == kept
    whole = NewsIndex.create(tmp_path / "whole")
    whole.update([posts])
    for prefix in ("yin", "x", "晓多", "y"):
        assert ix.suggest(prefix) == whole.suggest(prefix), prefix

    def made_again() -> NewsIndex:
        for saved in folder.glob("suggest-*.bin"):
            saved.unlink()
        return NewsIndex.open(folder)

    # The kept counts are read, not counted again; damaged ones are counted again.
    data = json.loads(kept)
    data["titles"]["虚构词语"] = 7
    first[0].write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert made_again().suggest("虚构") == [Suggestion("虚构词语", 7)]
    first[0].write_bytes(b"{not json")
    again = made_again()
    assert again.suggest("虚构") == [] and again.suggest("yin") == whole.suggest("yin")
    # Those of segments gone go with them.
    again.compact()
    assert again.suggest("yin") == whole.suggest("yin")
    assert len(list(folder.glob("titles-*.counts"))) == 1 and not first[0].exists()
