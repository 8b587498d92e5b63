"""Compacting an index: every segment merged into one, deleted articles purged, every
search the same, and a compaction killed half-way loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import write_post
from typer.testing import CliRunner

from newsearch import NewsIndex
from newsearch.cli import app

QUERIES = ["教育", "学位", "幼儿园 学位", '"家门口"', "第3篇", "孩子上学难怎么办", "新闻0007", "2021"]
PARAGRAPH = "记者从市教育局获悉，今年全市新建改扩建中小学和幼儿园四十所，新增学位三万余个。家门口上好学。"


def _posts(folder: Path, n: int, paragraphs: int = 3) -> None:
    for i in range(n):
        body = "\n\n".join(f"第{i}篇第{p}段。{PARAGRAPH}编号{i:04d}。" for p in range(paragraphs))
        write_post(folder, f"{i:04d}.md", f"教育新闻{i:04d}", body, date=f"2021-{1 + i % 12:02d}-{1 + i % 28:02d} 08:00:00",
                   tags="教育" if i % 3 else "学位")


def _small_jobs(index: Path) -> None:
    index.mkdir(parents=True, exist_ok=True)
    (index / "newsearch.toml").write_text("[indexing]\nworkers = 2\nbatch_size = 8\n", encoding="utf-8")


def _snapshot(ix: NewsIndex) -> dict[str, object]:
    out: dict[str, object] = {}
    for q in QUERIES:
        r = ix.search(q, limit=None, collapse=False)
        out[q] = (r.total, r.exact_total, sorted(h.id for h in r.hits), {h.id: h.snippet.html() for h in r.hits},
                  r.facets.to_dict() if r.facets else None)
    return out


def test_compact_merges_every_segment_purges_deleted_articles_and_keeps_every_search(tmp_path: Path) -> None:
    posts, index = tmp_path / "posts", tmp_path / "index"
    _posts(posts, 40)
    _small_jobs(index)
    ix = NewsIndex.create(index)
    ix.update([posts])
    (posts / "0001.md").unlink()
    _posts(posts, 2, paragraphs=4)  # new versions of 0000 and 0001... 0001 comes back
    ix.update([posts])
    before = ix.stats()
    assert before.segments > 1 and before.deleted == 2
    expected = _snapshot(ix)

    report = ix.compact()
    assert (report.segments_before, report.segments, report.purged) == (before.segments, 1, 2)
    assert report.summary().startswith(f"Merged {before.segments} segments into 1, purging 2 deleted documents")
    after = ix.stats()
    assert (after.segments, after.deleted, after.articles) == (1, 0, 40)
    assert _snapshot(NewsIndex.open(index)) == expected
    assert not NewsIndex.open(index).check([posts]).damaged

    # The merged index takes updates like any other.
    write_post(posts, "0005.md", "改过的标题", "全新的正文，说的是另一件事。")
    ix.update([posts])
    assert [h.id for h in ix.search("全新的正文").hits] == ["0005"]
    assert len(ix) == 40
    again = ix.compact()
    assert (again.segments, again.purged) == (1, 1)


def test_compact_on_the_command_line(tmp_path: Path) -> None:
    posts, index = tmp_path / "posts", tmp_path / "index"
    _posts(posts, 24)
    _small_jobs(index)
    ix = NewsIndex.create(index)
    ix.update([posts])
    segments = ix.stats().segments
    assert segments > 1
    runner = CliRunner()
    result = runner.invoke(app, ["compact", "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert f"Merged {segments} segments into 1, purging 0 deleted documents" in result.output
    data = json.loads(runner.invoke(app, ["compact", "--index", str(index), "--json"]).output)
    assert (data["segments_before"], data["segments"], data["purged"]) == (1, 1, 0)
    missing = runner.invoke(app, ["compact", "--index", str(tmp_path / "nothing")])
    assert missing.exit_code == 1 and "Traceback" not in missing.output


def test_a_compaction_killed_half_way_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    posts, index = tmp_path / "posts", tmp_path / "index"
    _posts(posts, 480, paragraphs=12)
    _small_jobs(index)
    NewsIndex.create(index).update([posts])
    expected = _snapshot(NewsIndex.open(index))
    files_before = set(os.listdir(index))
    proc = subprocess.Popen([sys.executable, "-m", "newsearch", "compact", "--index", str(index)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if set(os.listdir(index)) - files_before:  # the merged segment is being written
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the compaction finished before it could be killed"
    partial = set(os.listdir(index)) - files_before
    assert partial, "killed before it wrote anything"

    ix = NewsIndex.open(index)
    assert ix.stats().segments > 1  # not committed: the segments it read are still the index
    assert _snapshot(ix) == expected
    assert not ix.check([posts]).damaged
    # The next writer removes the unfinished files; compacting then completes.
    report = ix.compact()
    assert report.segments == 1 and len(ix) == 480
    assert _snapshot(NewsIndex.open(index)) == expected
    assert not partial & set(os.listdir(index))
