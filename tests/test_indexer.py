"""The indexer's per-run state: flat structures whose size does not grow with Python
object overhead per file, checked against the plain Python structures they replace."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from newsearch import NewsIndex
from newsearch.config import Config, IndexingConfig
from newsearch.errors import ArticleNotFoundError
from newsearch.indexer import _Indexed, _KeySet, _Owners, _Plan

from conftest import write_post


@pytest.mark.parametrize("seed", range(40))
def test_keyset_behaves_like_a_set(seed: int) -> None:
    # Keys whose low bits crowd into the last slots of the table, so that probing
    # runs are long, wrap around its end, and removals must shift keys back.
    rng = random.Random(seed)
    pool = [(rng.getrandbits(54) << 10) | rng.randrange(1000, 1024) for _ in range(40)]
    pool += [rng.getrandbits(64) or 1 for _ in range(20)]
    keys, expected = _KeySet(), set()
    for _ in range(1500):
        key = rng.choice(pool)
        if rng.random() < 0.55:
            keys.add(key)
            expected.add(key)
        else:
            keys.discard(key)
            expected.discard(key)
        assert len(keys) == len(expected)
        assert [k in keys for k in pool] == [k in expected for k in pool]


def test_keyset_grows_and_forgets() -> None:
    keys = _KeySet()
    values = [(i * 0x9E3779B97F4A7C15) % 2**64 or 1 for i in range(1, 50_001)]
    for value in values:
        keys.add(value)
    assert len(keys) == 50_000
    for value in values[::2]:
        keys.discard(value)
    assert len(keys) == 25_000
    assert all(value not in keys for value in values[::2])
    assert all(value in keys for value in values[1::2])


def test_plan_spills_to_disk_and_reads_back_in_order(tmp_path: Path) -> None:
    plan = _Plan(str(tmp_path))
    names = [f"/archive/{i:06d}/新闻-{i}.md" for i in range(100_000)]
    names.append("/archive/latin1-\udce9t\udce9.md")  # a file name that is not UTF-8
    try:
        for i, name in enumerate(names):
            plan.add(name, i * 7, -i if i % 2 else 1_700_000_000_000_000_000 + i)
        assert plan._file._rolled  # beyond a few megabytes it lives on disk
        assert list(tmp_path.iterdir()) == []  # unnamed: nothing to clean up after a crash
        assert len(plan) == len(names)
        got = list(plan)
        assert [g[0] for g in got] == names
        assert [g[1] for g in got] == [i * 7 for i in range(len(names))]
        assert got[1][2] == -1 and got[2][2] == 1_700_000_000_000_000_002
    finally:
        plan.close()


def test_the_owner_of_an_id_is_its_file_or_nobody(tmp_path: Path) -> None:
    # A 64-bit id hash may be shared by two ids: the owner lookup is what decides.
    post = write_post(tmp_path / "posts", "a.md", "标题", "正文", extra="id: one")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([tmp_path / "posts"])
    whoosh = ix._whoosh()
    indexed = _Indexed(whoosh)
    owners = _Owners(whoosh, indexed.id_keys)
    try:
        assert len(indexed.id_keys) == 1
        assert owners.owner("one") == str(post)
        assert owners.owner("two") is None
    finally:
        owners.close()
        indexed.close()


# --------------------------------------------------------------------------- JSON Lines feeds


def _feed_line(i: int, **fields: object) -> str:
    record = {"title": f"第{i}条快讯", "body": f"上证指数第{i}次收涨，成交额放大。", **fields}
    return json.dumps(record, ensure_ascii=False)


def _feed_index(tmp_path: Path, *, max_file_mb: float = 20.0, workers: int = 2) -> NewsIndex:
    config = Config(indexing=IndexingConfig(max_file_mb=max_file_mb, workers=workers, merge_factor=0))
    return NewsIndex.create(tmp_path / "index", config=config)


def _segments(ix: NewsIndex) -> int:
    with ix._whoosh().reader() as reader:
        return len(list(reader.leaf_readers()))


def test_a_feed_over_max_file_mb_is_indexed_in_parts_across_the_workers(tmp_path: Path) -> None:
    # The limit applies to each line: the feed (23 kB) is five times over it, one line is.
    lines = [_feed_line(i) for i in range(1, 201)]
    lines[149] = _feed_line(150, body="长" * 2_000)  # 6 kB
    feed = tmp_path / "posts" / "feed.jsonl"
    feed.parent.mkdir()
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert feed.stat().st_size > 5 * 4_000
    ix = _feed_index(tmp_path, max_file_mb=0.004)
    progress: list[tuple[int, int, str]] = []
    report = ix.update([feed.parent], progress=lambda *args: progress.append(args))
    assert [(f.path, f.line) for f in report.failed] == [(str(feed), 150)]
    assert report.failed[0].reason.startswith("line is 6,0")
    assert "over the 4,000 bytes limit for one article" in report.failed[0].reason
    assert (report.indexed, report.articles_added, len(ix)) == (1, 199, 199)
    assert progress == [(1, 1, str(feed))]  # one file, reported once it is complete
    # 200 lines for 2 workers: cut into parts of 64 lines, one segment each.
    assert _segments(ix) == 4
    # Ids name the line wherever its part began.
    assert [ix.get(f"feed-{i}").title for i in (1, 64, 65, 128, 129, 200)] == [
        f"第{i}条快讯" for i in (1, 64, 65, 128, 129, 200)
    ]
    with pytest.raises(ArticleNotFoundError):
        ix.get("feed-150")


def test_a_changed_feed_replaces_its_articles_and_an_unchanged_one_is_not_read(tmp_path: Path) -> None:
    feed = tmp_path / "posts" / "feed.jsonl"
    feed.parent.mkdir()
    feed.write_text("".join(_feed_line(i, id=f"n{i}") + "\n" for i in range(1, 201)), encoding="utf-8")
    ix = _feed_index(tmp_path)
    assert ix.update([feed.parent]).articles_added == 200
    # Lines removed (in every part), one corrected, one added; the rest as they were.
    kept = [i for i in range(1, 201) if i % 3]
    lines = [_feed_line(i, id=f"n{i}") for i in kept]
    lines[0] = _feed_line(1, id="n1", title="第1条快讯（更正）")
    lines.append(_feed_line(999, id="n999"))
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ix.update([feed.parent])
    assert (report.failed, report.indexed, report.articles_removed, report.articles_added) == ([], 1, 200, len(lines))
    assert len(ix) == len(lines)
    assert ix.get("n1").title == "第1条快讯（更正）" and ix.get("n999").title == "第999条快讯"
    assert ix.get("n200").title == "第200条快讯"
    for gone in ("n3", "n99", "n198"):
        with pytest.raises(ArticleNotFoundError):
            ix.get(gone)
    # The same bytes with a new modification time: hashed, found unchanged, not re-indexed.
    os.utime(feed, ns=(feed.stat().st_atime_ns, feed.stat().st_mtime_ns + 10**9))
    again = ix.update([feed.parent])
    assert (again.unchanged, again.indexed, again.articles_added, len(ix)) == (1, 0, 0, len(lines))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_second_line_with_the_same_id_is_reported_and_the_first_kept(tmp_path: Path, workers: int) -> None:
    # Lines 2 and 180 repeat ids of earlier lines; with 2 workers line 180 is in another part.
    lines = [_feed_line(i, id=f"n{i}") for i in range(1, 201)]
    lines[1] = _feed_line(2, id="n1", title="重复的编号")
    lines[179] = _feed_line(180, id="n5", title="另一部分里重复的编号")
    feed = tmp_path / "posts" / "feed.jsonl"
    feed.parent.mkdir()
    feed.write_text("\n".join(lines), encoding="utf-8")
    ix = _feed_index(tmp_path, workers=workers)
    report = ix.update([feed.parent])
    assert [(f.path, f.line, f.reason) for f in report.failed] == [
        (str(feed), 2, "id 'n1' is already used by an earlier line of this file; skipped"),
        (str(feed), 180, "id 'n5' is already used by an earlier line of this file; skipped"),
    ]
    assert (ix.get("n1").title, ix.get("n5").title) == ("第1条快讯", "第5条快讯")
    assert len(ix) == 198 == len(ix.search("", limit=None).hits)
    # Indexed again unchanged, nothing moves; the first line gone, the id is free for the second.
    feed.write_text("\n".join(lines[1:]), encoding="utf-8")
    report = ix.update([feed.parent])
    assert ix.get("n1").title == "重复的编号" and len(ix) == 198


_PEAK_RSS = """
import json, resource, sys
from newsearch import NewsIndex
from newsearch.config import Config, IndexingConfig

ix = NewsIndex.create(sys.argv[1], config=Config(indexing=IndexingConfig(max_file_mb=1, workers=1)))
report = ix.update([sys.argv[2]])
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "articles": len(ix),
                  "failed": [f.line for f in report.failed]}))
"""


def _peak_rss(index: Path, feed: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", _PEAK_RSS, str(index), str(feed)], capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow  # 120 MB of feed through a real run: CI runs it with -m slow
def test_a_feed_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    # 100 articles, and 3 lines of 40 MB each over the 1 MB limit: read past, never held.
    articles = [_feed_line(i) for i in range(1, 101)]
    small = tmp_path / "small" / "feed.jsonl"
    small.parent.mkdir()
    small.write_text("\n".join(articles) + "\n", encoding="utf-8")
    big = tmp_path / "big" / "feed.jsonl"
    big.parent.mkdir()
    huge = b'{"title": "' + b"x" * 40_000_000 + b'"}\n'
    with open(big, "wb") as out:
        for i, line in enumerate(articles):
            out.write(line.encode("utf-8") + b"\n")
            if i in (10, 50, 90):
                out.write(huge)
    assert big.stat().st_size > 120_000_000
    baseline = _peak_rss(tmp_path / "small-index", small)
    measured = _peak_rss(tmp_path / "big-index", big)
    assert baseline["articles"] == measured["articles"] == 100
    assert measured["failed"] == [12, 53, 94]
    assert measured["rss_mb"] < baseline["rss_mb"] + 30, (baseline, measured)
