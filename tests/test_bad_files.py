"""A folder of every kind of bad file at once: each is indexed or reported, none stops the run.

The folder is indexed by the real command line.  Every file must end up
either searchable or listed with its path and a one-line reason; the exit
code says some failed; what was indexed before stays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_post
from newsearch import NewsIndex
from newsearch.cli import EXIT_FAILED_FILES

GOOD = "---\ntitle: 好文章\ndate: 2021-12-01\n---\n\n好文章的正文。\n"

FILES: dict[str, bytes] = {
    # front matter
    "tab.md": "---\ntitle: 制表\tTab符\ndate: 2021-01-01\n---\n\n制表符正文。\n".encode(),
    "quote.md": '---\ntitle: "未闭合的引号\n---\n\n引号正文。\n'.encode(),
    "colon.md": "---\ntitle: 比分: 二比一\n---\n\n冒号正文。\n".encode(),
    "list.md": "---\n- 甲\n- 乙\n---\n\n列表正文。\n".encode(),
    "scalar.md": "---\n只是一句话\n---\n\n标量正文。\n".encode(),
    "noclose.md": "---\ntitle: 没有结尾\n\n没有结尾的正文。\n".encode(),
    "onlyfm.md": "---\ntitle: 只有前言\n---\n".encode(),
    # encodings
    "bom.md": "\ufeff---\ntitle: 带BOM\n---\n\nBOM正文。\n".encode(),
    "gbk.md": "---\ntitle: 国标编码\n---\n\n国标编码的正文。\n".encode("gbk"),
    "big5.md": "---\ntitle: 臺灣編碼\n---\n\n繁體編碼的正文。\n".encode("big5"),
    "utf16.md": "---\ntitle: 十六位\n---\n\n十六位正文。\n".encode("utf-16"),
    "broken-utf8.md": "---\ntitle: 坏字节\n---\n\n坏字节正文。".encode() + b"\xff\xfe\xfa" + "后面还有。\n".encode(),
    # contents
    "empty.md": b"",
    "binary.md": bytes(range(256)) * 8,
    "longline.md": ("---\ntitle: 长行\n---\n\n" + "长" * 10_000 + "结尾标记\n").encode(),
    "html.html": "<html><head><title>网页</title><style>.x{}</style></head><body><div><p>可见<b>文本<i>嵌套</p></div></div>"
                 "<script>var 秘密 = 1;</script><p>最后".encode(),
    # dates
    "baddate.md": "---\ntitle: 不可能的日期\ndate: 2021-13-45\n---\n\n日期正文。\n".encode(),
    "slashdate.md": "---\ntitle: 斜杠日期\ndate: 2021/12/25\n---\n\n斜杠正文。\n".encode(),
    "cndate.md": "---\ntitle: 中文日期\ndate: 2021年12月25日\n---\n\n中文日期正文。\n".encode(),
    "unixdate.md": "---\ntitle: 时间戳\ndate: 1640390400\n---\n\n时间戳正文。\n".encode(),
    "tzdate.md": "---\ntitle: 时区\ndate: 2021-12-25T10:00:00-05:00\n---\n\n时区正文。\n".encode(),
    # the same id twice
    "dup-1.md": "---\ntitle: 第一份\nid: same-id\n---\n\n同一个编号。\n".encode(),
    "dup-2.md": "---\ntitle: 第二份\nid: same-id\n---\n\n同一个编号。\n".encode(),
}

# (file, reason fragment) of the files that cannot be indexed.
FAILED = {
    "list.md": "front matter is a list",
    "scalar.md": "front matter is a str",
    "noclose.md": "no closing '---'",
    "empty.md": "empty file",
    "binary.md": "binary file",
    "big.md": "over the 1.0 MB limit (raise indexing.max_file_mb",
    "dup-2.md": "id 'same-id' is already used by",
    "locked.md": "cannot read",
}


def _index(index: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsearch", "index", "--verbose", "--index", str(index), str(folder)],
        capture_output=True, text=True, timeout=300,
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    write_post(folder, "ok.md", "可读", "可读的正文。")
    locked = folder / "locked.md"
    locked.write_text(GOOD, encoding="utf-8")
    locked.chmod(0)
    result = _index(tmp_path / "index", folder)
    assert result.returncode == EXIT_FAILED_FILES
    assert f"failed: {locked}: cannot read" in result.stderr


def test_a_folder_of_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    for name, data in FILES.items():
        (folder / name).write_bytes(data)
    (folder / "big.md").write_bytes(("---\ntitle: 大文件\n---\n\n" + "大" * 400_000).encode())  # 1.2 MB
    (folder / "loop").symlink_to(folder, target_is_directory=True)  # a symlink loop
    (folder / "dangling.md").symlink_to(folder / "gone.md")  # points nowhere
    index = tmp_path / "index"
    index.mkdir()
    (index / "newsearch.toml").write_text("[indexing]\nmax_file_mb = 1\n", encoding="utf-8")

    result = _index(index, folder)
    assert result.returncode == EXIT_FAILED_FILES, result.stderr
    assert "Traceback" not in result.stderr
    failed = {line.split(": ", 2)[1]: line for line in result.stderr.splitlines() if line.startswith("failed: ")}
    for name, reason in FAILED.items():
        if name == "locked.md":
            continue
        path = str(folder / name)
        assert path in failed, (name, result.stderr)
        assert reason in failed[path], failed[path]
        assert "\n" not in failed[path]
    listed = (index / "failed-files.txt").read_text(encoding="utf-8")
    assert all(str(folder / name) in listed for name in FAILED if name != "locked.md")

    ix = NewsIndex.open(index)
    indexed = {Path(hit.path).name for hit in ix.search("", limit=None).hits}
    expected = set(FILES) - set(FAILED)
    assert indexed == expected  # every other file, once (the loop is not followed)
    assert ix.search("制表符正文", exact=True).total == 1
    assert ix.search("国标编码的正文", exact=True).total == 1 and ix.search("繁体编码", exact=True).total == 1
    assert ix.search("十六位正文", exact=True).total == 1 and ix.search("BOM正文", exact=True).total == 1
    assert ix.search("后面还有", exact=True).total == 1  # undecodable bytes replaced, article kept
    assert ix.search("结尾标记", exact=True).total == 1
    assert ix.search("秘密", exact=True).total == 0 and ix.search("可见文本嵌套", exact=True).total == 1  # no script text
    assert ix.get("same-id").title == "第一份"
    hits = {Path(h.path).name: h for h in ix.search("", limit=None).hits}
    dates = {name: h.date for name, h in hits.items()}
    assert dates["baddate.md"] is None
    assert (dates["slashdate.md"].date().isoformat(), dates["cndate.md"].date().isoformat()) == ("2021-12-25", "2021-12-25")
    assert dates["unixdate.md"].date().isoformat() == "2021-12-25"
    assert (dates["tzdate.md"].isoformat(), hits["tzdate.md"].utcoffset_minutes) == ("2021-12-25T10:00:00", -300)
    # Warnings (with --verbose) say what was guessed.
    assert f"warning: {folder / 'big5.md'}: not UTF-8: decoded as Big5" in result.stderr
    assert f"warning: {folder / 'baddate.md'}: impossible date" in result.stderr
    assert f"warning: {folder / 'broken-utf8.md'}: invalid UTF-8" in result.stderr

    # Fixing the files and indexing again loses nothing and indexes them.
    (folder / "empty.md").write_text(GOOD.replace("好文章", "修好的文章"), encoding="utf-8")
    again = _index(index, folder)
    assert again.returncode == EXIT_FAILED_FILES  # the others still fail
    assert NewsIndex.open(index).search("修好的文章", exact=True).total == 1
    assert len(NewsIndex.open(index)) == len(expected) + 1


def test_a_file_that_vanishes_during_the_walk_is_reported_not_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    for i in range(40):
        write_post(folder, f"{i:02d}.md", f"第{i}篇", "正文。")
    ix = NewsIndex.create(tmp_path / "index")
    seen = []

    def progress(done: int, total: int, path: str) -> None:
        seen.append(path)
        if done == 1:  # files not yet read disappear
            for i in range(30, 40):
                (folder / f"{i:02d}.md").unlink()

    report = ix.update([folder], progress=progress)
    assert report.indexed + len(report.failed) == 40
    assert all("cannot read" in f.reason or "no longer exists" in f.reason for f in report.failed)
    assert len(ix) == report.indexed


def test_a_feed_with_bad_lines_through_the_command_line(tmp_path: Path) -> None:
    # The feed is over max_file_mb; each of its lines but one is under it.
    folder = tmp_path / "posts"
    folder.mkdir()
    lines = [json.dumps({"id": f"n{i}", "title": f"第{i}条", "body": "短讯正文。" * 40}, ensure_ascii=False)
             for i in range(1, 41)]
    lines[1] = json.dumps({"id": "n2", "title": "太长", "body": "长" * 400_000}, ensure_ascii=False)  # 1.2 MB
    lines[3] = json.dumps({"id": "n1", "title": "重复"}, ensure_ascii=False)
    lines[4] = json.dumps({"id": " \t ", "title": "空白编号"}, ensure_ascii=False)
    feed = folder / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    index = tmp_path / "index"
    index.mkdir()
    (index / "newsearch.toml").write_text("[indexing]\nmax_file_mb = 1\n", encoding="utf-8")
    assert feed.stat().st_size > 1_000_000

    result = _index(index, folder)
    assert result.returncode == EXIT_FAILED_FILES, result.stderr
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed: ")]
    assert failed == [
        f"failed: {feed}:2: line is 1.2 MB, over the 1.0 MB limit for one article "
        "(raise indexing.max_file_mb in newsearch.toml to index it); skipped",
        f"failed: {feed}:4: id 'n1' is already used by an earlier line of this file; skipped",
    ]
    assert f"warning: {feed}: line 5: id ' \\t ' is blank; using 'feed-5'" in result.stderr
    ix = NewsIndex.open(index)
    assert len(ix) == 38
    assert ix.get("n1").title == "第1条" and ix.get("feed-5").title == "空白编号"
    shown = subprocess.run([sys.executable, "-m", "newsearch", "show", "--index", str(index), "feed-5"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "空白编号" in shown.stdout, shown.stderr
