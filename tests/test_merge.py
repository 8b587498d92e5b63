"""Merging segments: the tiered policy's bounds, merges that change no search, and
merges that are crash-safe and never break a search that is under way."""

from __future__ import annotations

import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_post
from newsearch import NewsIndex
from newsearch.config import Config, IndexingConfig
from newsearch.indexer import merge_segments
from newsearch.merge import merge_policy
from newsearch.store import Store, open_searcher

MB = 1_000_000
QUERIES = ["香港", "网络安全", '"一个问题"', "中国 经济", "人工智能 监管", "疫情", "新闻", "2020", "科技公司的隐私"]


# --------------------------------------------------------------------------- the policy


def _simulate(runs: list[int], *, factor: int, floor: int, max_bytes: int) -> tuple[list[int], dict[int, int], int]:
    """Segments after committing one segment of each size in ``runs`` and merging as the
    policy says; also how many times each original byte was rewritten (by run)."""
    segments: list[tuple[int, list[int]]] = []  # (size, the runs it holds)
    rewrites: dict[int, int] = {}
    merges = 0
    for run, size in enumerate(runs):
        segments.append((size, [run]))
        rewrites[run] = 0
        while True:
            plan = merge_policy([(s, 1, 0.0) for s, _ in segments], factor=factor, floor_bytes=floor,
                                max_bytes=max_bytes, deletes=0.3)
            if not plan:
                break
            (group,) = plan
            merged = (sum(segments[p][0] for p in group), [r for p in group for r in segments[p][1]])
            for r in merged[1]:
                rewrites[r] += 1
            segments = [s for p, s in enumerate(segments) if p not in group[1:]]
            segments[group[0]] = merged
            merges += 1
    return [s for s, _ in segments], rewrites, merges


def test_a_million_articles_built_job_by_job_end_in_few_segments_each_rewritten_log_n_times() -> None:
    # 200 jobs of 35 MB (a million articles' worth), the default settings.
    sizes, rewrites, _ = _simulate([35 * MB] * 200, factor=4, floor=8 * MB, max_bytes=4000 * MB)
    assert len(sizes) <= 12
    assert sum(sizes) == 200 * 35 * MB
    assert max(rewrites.values()) <= math.ceil(math.log(200, 4)) + 1  # O(log N), not N


def test_many_small_incremental_runs_end_in_few_segments() -> None:
    rng = random.Random(7)
    runs = [rng.randrange(50_000, 3 * MB) for _ in range(400)]
    sizes, rewrites, merges = _simulate(runs, factor=4, floor=8 * MB, max_bytes=4000 * MB)
    assert len(sizes) <= 12
    # Once per tier above the floor, and below it at most floor / (run size × 3) times.
    floor_rewrites = 8 * MB / (sum(runs) / len(runs) * 3)
    assert max(rewrites.values()) <= math.ceil(math.log(sum(runs) / (8 * MB), 4)) + 1 + math.ceil(floor_rewrites)
    assert merges < len(runs) / 2  # not one merge per run


def test_no_segment_grows_past_the_largest_allowed() -> None:
    sizes, _, _ = _simulate([300 * MB] * 60, factor=4, floor=8 * MB, max_bytes=1000 * MB)
    assert max(sizes) <= 1000 * MB
    assert len(sizes) <= 60 * 300 // 500 + 3  # segments over half the limit stay as they are


def test_a_segment_with_many_deleted_articles_is_rewritten() -> None:
    segments = [(500 * MB, 100, 0.05), (400 * MB, 100, 0.5), (40 * MB, 10, 0.0)]
    assert merge_policy(segments, factor=4, floor_bytes=32 * MB, max_bytes=4000 * MB, deletes=0.3) == [[1]]
    assert merge_policy(segments[:1], factor=4, floor_bytes=32 * MB, max_bytes=4000 * MB, deletes=0.3) == []


# --------------------------------------------------------------------------- real merges


def _config(**indexing: object) -> Config:
    return Config(indexing=IndexingConfig(workers=2, **indexing))  # type: ignore[arg-type]


def _snapshot(ix: NewsIndex) -> list[object]:
    out: list[object] = []
    for q in QUERIES:
        for page in (1, 2):
            r = ix.search(q, limit=10, offset=10 * (page - 1))
            out.append((q, page, r.total, r.exact_total, [(h.id, h.score) for h in r.hits],
                        [h.snippet.html() for h in r.hits], r.facets.to_dict() if r.facets else None))
        r = ix.search(q, limit=None, collapse=False, sort="date")
        out.append((q, "all", r.total, [h.id for h in r.hits]))
    return out


def _same(before: list[object], after: list[object], *, scores: bool = True) -> None:
    """The same results; with ``scores``, also the same order and scores (within 1e-9)."""
    assert len(before) == len(after)
    for b, a in zip(before, after):
        assert b[:3] == a[:3]  # type: ignore[index]
        if b[1] == "all":  # type: ignore[index]
            assert sorted(b[3]) == sorted(a[3])  # type: ignore[index]
            if scores:
                assert b == a
            continue
        assert b[3] == a[3]  # type: ignore[index]
        if scores:
            # Equal scores may come in another order: merges may put documents in another order.
            assert [round(x, 9) for _, x in b[4]] == pytest.approx([round(y, 9) for _, y in a[4]], abs=1e-9)  # type: ignore[index]
            assert _by_score(b[4], b[5]) == _by_score(a[4], a[5])  # type: ignore[index]
        else:
            assert b[6] == a[6]  # type: ignore[index]  # facets


def _by_score(hits: list[tuple[str, float]], snippets: list[str]) -> list[set[tuple[str, str]]]:
    """Hits with their snippets, grouped by equal score, in score order."""
    groups: list[set[tuple[str, str]]] = []
    last = None
    for (hit, score), snippet in zip(hits, snippets):
        if last is None or abs(score - last) > 1e-9:
            groups.append(set())
        groups[-1].add((hit, snippet))
        last = score
    return groups


@pytest.fixture(scope="module")
def edited_corpus(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real post in three (enough for dozens of small segments, quick to index);
    the tests edit and remove some of them after a first run."""
    posts = tmp_path_factory.mktemp("merge") / "posts"
    posts.mkdir()
    for path in sorted((corpus / "terminus2049" / "_posts").iterdir())[::3]:
        shutil.copy2(path, posts / path.name)
    return posts


def _edit(posts: Path) -> None:
    files = sorted(posts.glob("*.md"))
    for path in files[::4]:
        path.write_text(path.read_text(encoding="utf-8") + "\n\n补记：本文有更新。\n", encoding="utf-8")
    for path in files[2::11]:
        path.unlink()


def test_merging_every_segment_changes_no_search(edited_corpus: Path, tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    shutil.copytree(edited_corpus, posts)
    ix = NewsIndex.create(tmp_path / "index", config=_config(batch_size=4, merge_factor=0))
    ix.update([posts])
    assert ix.stats().segments > 20
    before = _snapshot(ix)
    articles = {a: ix.get(a) for a in [h.id for h in ix.search("中国", limit=None).hits][:40]}
    assert ix.compact().segments == 1
    _same(before, _snapshot(ix))
    assert {a: ix.get(a) for a in articles} == articles


@pytest.mark.slow  # indexes the corpus three times: CI runs it with -m slow
def test_merging_purges_deleted_articles_from_results_and_statistics(edited_corpus: Path, tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    shutil.copytree(edited_corpus, posts)
    ix = NewsIndex.create(tmp_path / "index", config=_config(batch_size=4, merge_factor=0))
    ix.update([posts])
    _edit(posts)
    ix.update([posts])
    stats = ix.stats()
    assert stats.segments > 20 and stats.deleted > 30
    before = _snapshot(ix)

    report = ix.compact()
    assert (report.segments, report.purged) == (1, stats.deleted)
    after = ix.stats()
    assert (after.segments, after.deleted, after.articles) == (1, 0, stats.articles)
    assert after.size_bytes < stats.size_bytes
    # Deleted articles no longer count in the statistics, so scores move a little.
    _same(before, _snapshot(ix), scores=False)
    with ix._searcher() as searcher:  # noqa: SLF001 - the merged statistics
        reader = searcher.reader()
        for word in ("香港", "中国", "政府"):
            live = sum(1 for _ in reader.postings("body", word).all_ids())
            assert reader.doc_frequency("body", word) == live > 0
    assert not ix.check().damaged


@pytest.mark.slow  # dozens of index runs: CI runs it with -m slow
def test_runs_merge_by_tiers_and_keep_every_search(edited_corpus: Path, tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    shutil.copytree(edited_corpus, posts)
    plain = NewsIndex.create(tmp_path / "plain", config=_config(batch_size=4, merge_factor=0))
    plain.update([posts])
    # A floor of 0.2 MB and factor 3: the run's ~28 job segments merge in tiers.
    merged = NewsIndex.create(tmp_path / "merged", config=_config(batch_size=4, merge_factor=3, merge_floor_mb=0.2))
    merged.update([posts])
    assert plain.stats().segments > 20
    assert merged.stats().segments <= 6
    _same(_snapshot(plain), _snapshot(merged))
    _edit(posts)
    plain.update([posts])
    merged.update([posts])
    assert merged.stats().segments <= 6
    _same(_snapshot(plain), _snapshot(merged), scores=False)


def test_twenty_small_runs_end_in_few_segments(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    config = _config(batch_size=5, merge_factor=3, merge_floor_mb=0.02)
    ix = NewsIndex.create(tmp_path / "index", config=config)
    for run in range(20):
        for i in range(6):
            write_post(posts, f"{run:02d}-{i}.md", f"第{run}批第{i}条新闻", f"香港电台报道第{run}批第{i}条消息。" * 20,
                       date=f"2021-03-{1 + run:02d} 08:00:00")
        ix.update([posts])
    stats = ix.stats()
    assert stats.articles == 120
    assert stats.segments <= 2 * 3  # at most factor - 1 per tier, in three tiers
    assert ix.search("香港电台", limit=None).total == 120


def test_a_search_under_way_reads_the_segments_a_merge_replaced(edited_corpus: Path, tmp_path: Path) -> None:
    ix = NewsIndex.create(tmp_path / "index", config=_config(batch_size=14, merge_factor=0))
    ix.update([edited_corpus])
    store = Store(tmp_path / "index")
    generation = store.open_generation(store.read_manifest())
    searcher = open_searcher(generation)
    reader = searcher.reader()
    with store.write_lock():
        merge_segments(generation, Config(), everything=True)
    # The replaced segments' files are gone from the folder; the open reader still reads them.
    assert len(list((tmp_path / "index").glob("*.nbody.col"))) == 1
    texts = [reader.stored_fields(d) for d in reader.all_doc_ids()]
    assert len(texts) == len(ix) and all(t.get("id") for t in texts)
    searcher.close()


@pytest.mark.slow  # a merge killed in a subprocess, 18 s; a compaction killed half-way (test_compact.py) stays in the default run: CI runs it with -m slow
def test_a_merge_killed_half_way_loses_nothing(edited_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    ix = NewsIndex.create(index, config=_config(batch_size=4, merge_factor=0))
    ix.update([edited_corpus])
    before = _snapshot(ix)
    segments = ix.stats().segments
    ix.close()
    script = (
        "import sys\nfrom newsearch.store import Store\nfrom newsearch.config import Config\n"
        "from newsearch.indexer import merge_segments\n"
        "s = Store(sys.argv[1]); g = s.open_generation(s.read_manifest())\n"
        "with s.write_lock():\n    merge_segments(g, Config(), everything=True)\n"
    )
    names = {p.name for p in index.iterdir()}
    proc = subprocess.Popen([sys.executable, "-c", script, str(index)])
    # Kill it once it has begun writing the merged segment (new files appear).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name not in names and ".tmp" not in p.name for p in index.iterdir()):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the merge ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    ix = NewsIndex.open(index)
    assert ix.stats().segments == segments
    _same(before, _snapshot(ix))
    assert not ix.check().damaged
    report = ix.compact()  # the next writer finishes the job, and tidies what the killed one left
    assert report.segments == 1
    _same(before, _snapshot(ix))
    leftovers = {p.name for p in index.iterdir()} - {p.name for p in index.iterdir() if p.suffix != ".tmp"}
    assert not leftovers


def test_a_run_reports_its_merges(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    for i in range(12):
        write_post(posts, f"{i}.md", f"第{i}条新闻", f"香港电台报道第{i}条消息。" * 30)
    ix = NewsIndex.create(tmp_path / "index", config=_config(batch_size=2, merge_factor=3, merge_floor_mb=1))
    report = ix.update([posts])
    assert report.segments_merged == 6 and report.merged_into == ix.stats().segments == 2
    assert 0 < report.merge_seconds < report.seconds
    assert report.summary().endswith(f"; merged 6 segments into 2 in {report.merge_seconds:.1f}s")
    assert report.to_dict()["merge"] == {"segments": 6, "into": 2, "seconds": round(report.merge_seconds, 3)}
    again = ix.update([posts])  # nothing changed: nothing merged
    assert (again.segments_merged, again.merged_into, again.to_dict()["merge"]["segments"]) == (0, 0, 0)
    assert "merged" not in again.summary()
