"""An index's files name no Python module or class, so moving newsearch's code never
stops an index from opening; indexes whose table of contents Whoosh pickled still open."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from newsearch import IndexDamagedError, NewsIndex
from newsearch.config import Config, IndexingConfig
from tests.conftest import write_post

PACKAGE = Path(__file__).resolve().parents[1] / "newsearch"
MODULE_PATH = re.compile(rb"newsearch.")


@pytest.fixture()
def index(tmp_path: Path) -> NewsIndex:
    posts = tmp_path / "posts"
    write_post(posts, "a.md", "智能客服上线", "晓多科技发布了新的智能客服机器人。", tags="客服")
    write_post(posts, "b.md", "疫苗之王", "长生生物的狂犬病疫苗造假。", categories="news")
    write_post(posts, "c.md", "台风形成", "台风在温暖的洋面上形成。")
    # No merging: the table must record a segment with a deleted (replaced) article.
    ix = NewsIndex.create(tmp_path / "index", config=Config(indexing=IndexingConfig(merge_factor=0)))
    ix.update([posts])
    write_post(posts, "c.md", "台风怎样形成", "台风在温暖的洋面上形成，带来暴雨。")  # a deletion in an old segment
    ix.update([posts])
    return ix


def _named_modules(folder: Path) -> dict[str, list[bytes]]:
    found = {}
    for path in folder.iterdir():
        if path.is_file():
            hits = MODULE_PATH.findall(path.read_bytes())
            if hits:
                found[path.name] = hits
    return found


def test_no_file_of_an_index_names_a_python_module(index: NewsIndex) -> None:
    ix = index
    assert ix.search("疫苗").total == 1 and ix.suggest("客服")  # completions saved beside the index
    files = [p.name for p in ix.path.iterdir()]
    assert any(name.endswith(".toc") for name in files) and any(name.endswith(".ntm") for name in files)
    assert _named_modules(ix.path) == {}


def test_the_table_of_contents_is_plain_json(index: NewsIndex) -> None:
    (toc,) = index.path.glob("*.toc")
    contents = json.loads(toc.read_bytes())
    assert contents["contents"] == 1
    assert sum(s["documents"] - len(s["deleted"]) for s in contents["segments"]) == len(index) == 3
    assert any(s["deleted"] for s in contents["segments"])  # the old version of c.md
    assert all(s["lengths"]["body"] > 0 for s in contents["segments"])


def _run_moved(tmp_path: Path, index_path: Path, script: str) -> dict:
    """Run ``script`` against a copy of the package under another name, with every
    ``newsearch`` module path unimportable: as if the code had moved."""
    moved = tmp_path / "moved"
    shutil.copytree(PACKAGE, moved / "relocated", ignore=shutil.ignore_patterns("__pycache__"))
    prelude = textwrap.dedent(
        """
        import json, sys

        class Moved:
            def find_spec(self, name, path=None, target=None):
                if name == "newsearch" or name.startswith("newsearch."):
                    raise ImportError(f"{name} has moved")

        sys.meta_path.insert(0, Moved())
        for name in [m for m in sys.modules if m == "newsearch" or m.startswith("newsearch.")]:
            del sys.modules[name]
        from relocated import NewsIndex
        ix = NewsIndex.open(sys.argv[1])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script), str(index_path)],
        cwd=moved,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


SEARCH_AND_UPDATE = """
results = ix.search("台风 形成")
report = ix.update([sys.argv[1] + "/../posts"])
print(json.dumps({
    "ids": [h.id for h in results.hits],
    "total": results.total,
    "articles": len(ix),
    "unchanged": report.unchanged,
    "imported": sorted({m.split(".")[0] for m in sys.modules if m.startswith(("newsearch", "relocated"))}),
}))
"""


def test_an_index_opens_and_updates_after_the_code_moved(index: NewsIndex, tmp_path: Path) -> None:
    got = _run_moved(tmp_path, index.path, SEARCH_AND_UPDATE)
    assert got == {"ids": ["c"], "total": 1, "articles": 3, "unchanged": 3, "imported": ["relocated"]}


def _rewrite_as_whoosh_toc(ix: NewsIndex) -> Path:
    """Write the latest table of contents the way Whoosh (and newsearch before this
    format) did: the schema and segments pickled, naming newsearch's classes."""
    from whoosh.index import TOC

    generation = ix._whoosh()  # noqa: SLF001
    toc = generation.toc()
    (old,) = ix.path.glob("*.toc")
    old.unlink()
    TOC(generation.schema, toc.segments, toc.generation).write(generation.storage, generation.indexname)
    (written,) = ix.path.glob("*.toc")
    assert b"newsearch.schema" in written.read_bytes() and b"newsearch.codec" in written.read_bytes()
    return written


def test_an_index_whose_table_of_contents_whoosh_pickled_still_opens(index: NewsIndex, tmp_path: Path) -> None:
    expected = [h.id for h in index.search("形成 OR 疫苗").hits]
    _rewrite_as_whoosh_toc(index)
    again = NewsIndex.open(index.path)
    assert [h.id for h in again.search("形成 OR 疫苗").hits] == expected
    assert again.check().damaged is False
    # ... also once the classes it names have moved: they are looked up by name, not path.
    got = _run_moved(tmp_path, index.path, SEARCH_AND_UPDATE)
    assert (got["ids"], got["articles"]) == (["c"], 3)


def test_the_next_commit_writes_the_table_of_contents_without_pickles(index: NewsIndex, tmp_path: Path) -> None:
    _rewrite_as_whoosh_toc(index)
    posts = tmp_path / "posts"
    write_post(posts, "d.md", "新文章", "新的正文。")
    report = NewsIndex.open(index.path).update([posts])
    assert (report.indexed, report.unchanged) == (1, 3)
    assert _named_modules(index.path) == {}
    assert len(NewsIndex.open(index.path)) == 4


@pytest.mark.parametrize(
    ("contents", "reason"),
    [
        (b'{"contents": 2, "generation": 3, "segments": []}', "format 2"),
        (b'{"contents": 1, "generation": 3, "segments": [{"id": "x"}]}', "an entry lacks"),
        (b"\x04\x08\x04garbled", "table of contents"),
    ],
)
def test_a_table_of_contents_it_cannot_read_is_reported_in_one_line(
    index: NewsIndex, contents: bytes, reason: str
) -> None:
    (toc,) = index.path.glob("*.toc")
    toc.write_bytes(contents)
    with pytest.raises(IndexDamagedError) as caught:
        NewsIndex.open(index.path).search("疫苗")
    message = str(caught.value)
    assert "\n" not in message and reason in message and "newsearch index --rebuild" in message
