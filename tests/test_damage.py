"""A damaged index is noticed when it is opened, with a message that says what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_post
from newsearch import IndexDamagedError, NewsIndex


@pytest.fixture()
def index(tmp_path: Path) -> Path:
    posts = tmp_path / "posts"
    for i in range(6):
        write_post(posts, f"p{i}.md", f"标题{i}", f"第{i}篇新闻，港股收涨。")
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([posts])
    assert ix.search("港股").total == 6
    return tmp_path / "index"


def _segment_files(index: Path, suffix: str) -> list[Path]:
    return sorted(p for p in index.iterdir() if p.name.endswith(suffix))


def _damage(index: Path, how: str) -> str:
    """Damage the index as ``how`` says; return the file's name."""
    if how == "deleted postings":
        target = _segment_files(index, ".npo")[0]
        target.unlink()
    elif how == "truncated text column":
        target = _segment_files(index, ".nbody.col")[0]
        target.write_bytes(target.read_bytes()[:-7])
    elif how == "emptied terms":
        target = _segment_files(index, ".ntm")[0]
        target.write_bytes(b"")
    elif how == "deleted file list":
        target = _segment_files(index, ".nfl")[0]
        target.unlink()
    elif how == "deleted table of contents":
        target = _segment_files(index, ".toc")[0]
        target.unlink()
    else:
        raise AssertionError(how)
    return target.name


HOW = ["deleted postings", "truncated text column", "emptied terms", "deleted file list", "deleted table of contents"]


@pytest.mark.parametrize("how", HOW)
def test_a_damaged_index_is_reported_on_open_with_the_way_out(index: Path, how: str) -> None:
    name = _damage(index, how)
    with pytest.raises(IndexDamagedError) as caught:
        NewsIndex.open(index).search("港股")
    message = str(caught.value)
    assert message.startswith(f"The index at {index} is damaged: ")
    assert f"newsearch index --rebuild --index {index} PATH..." in message
    if how != "deleted table of contents":
        assert name in message or name in " ".join(caught.value.problems)


@pytest.mark.parametrize("how", HOW)
def test_the_cli_reports_damage_in_one_line(index: Path, how: str) -> None:
    _damage(index, how)
    result = subprocess.run(
        [sys.executable, "-m", "newsearch", "search", "港股", "--index", str(index)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: The index at ")
    assert "Traceback" not in result.stderr


def test_an_open_index_notices_damage_when_it_reopens_a_segment(index: Path, tmp_path: Path) -> None:
    ix = NewsIndex.open(index)
    assert ix.search("港股").total == 6
    before = set(_segment_files(index, ".npo"))
    write_post(tmp_path / "posts", "p9.md", "新增", "又一篇港股新闻。")
    NewsIndex.open(index).update([tmp_path / "posts"])  # another writer adds a segment
    [new] = set(_segment_files(index, ".npo")) - before
    new.unlink()
    with pytest.raises(IndexDamagedError):
        ix.search("港股")


def test_rebuilding_a_damaged_index_repairs_it(index: Path, tmp_path: Path) -> None:
    _damage(index, "deleted postings")
    ix = NewsIndex.create(index, replace=True)
    ix.update([tmp_path / "posts"])
    assert NewsIndex.open(index).search("港股").total == 6


# --------------------------------------------------------------------------- newsearch check


def _check(index: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsearch", "check", "--index", str(index), *map(str, paths)],
        capture_output=True, text=True, timeout=120,
    )


def test_check_passes_an_intact_current_index(index: Path, tmp_path: Path) -> None:
    result = _check(index, tmp_path / "posts")
    assert result.returncode == 0, result.stderr
    assert f"The index at {index} is intact: 6 articles in 1 segment." in result.stdout
    assert "Sources: 6 up to date, 0 changed, 0 missing, 0 not indexed." in result.stdout


def test_check_lists_changed_missing_and_unindexed_sources(index: Path, tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    write_post(posts, "p1.md", "改过的标题", "改过的正文。")
    (posts / "p2.md").unlink()
    write_post(posts, "p7.md", "新文章", "还没有索引。")
    result = _check(index, posts)
    assert result.returncode == 3, result.stderr
    lines = result.stdout.splitlines()
    assert f"changed: {posts / 'p1.md'}" in lines
    assert f"missing: {posts / 'p2.md'}" in lines
    assert f"not indexed: {posts / 'p7.md'}" in lines
    assert "Sources: 4 up to date, 1 changed, 1 missing, 1 not indexed." in result.stdout
    # A file touched but not edited is still up to date (the hash decides).
    (posts / "p1.md").unlink()
    write_post(posts, "p1.md", "标题1", "第1篇新闻，港股收涨。")
    assert "Sources: 5 up to date, 0 changed" in _check(index).stdout


@pytest.mark.parametrize("how", ["deleted postings", "truncated text column"])
def test_check_reports_damage_and_exits_1(index: Path, how: str) -> None:
    name = _damage(index, how)
    result = _check(index)
    assert result.returncode == 1
    assert "damaged: segment " in result.stderr and name in result.stderr
    assert "newsearch index --rebuild" in result.stderr


def test_check_reads_every_byte_it_can(index: Path) -> None:
    # Garbled bytes of the same length pass the size check; reading everything finds them.
    target = _segment_files(index, ".ntm")[0]
    data = bytearray(target.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = b"\xff" * 16
    target.write_bytes(bytes(data))
    result = _check(index)
    assert result.returncode == 1, result.stdout
    assert "damaged: segment " in result.stderr and "cannot be read" in result.stderr
