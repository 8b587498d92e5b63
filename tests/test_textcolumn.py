"""The compressed text column: values come back byte for byte through Whoosh's
column API, the normalized bodies of an index take about half their size, and
damage is found when a value is read."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from whoosh.filedb.filestore import FileStorage

from conftest import write_post
from newsearch import NewsIndex
from newsearch.ingest import read_file
from newsearch.textcolumn import TextColumn, TextColumnError, decoded

PARAGRAPHS = [
    "港股周一收涨，恒生指数上涨1.2%，科技股领涨，成交额较上周五明显放大。",
    "市场人士表示，一个问题在于投资者对利率前景仍存分歧，资金流向短期内难以判断。",
    "国家统计局公布的数据显示，十月份社会消费品零售总额同比增长4.8%，增速较上月加快。",
    "分析师认为，随着政策持续发力，经济回升向好的态势有望进一步巩固，但外部环境依然复杂。",
    "该公司在公告中称，本次募集资金将主要用于新产品研发、产能扩建以及补充流动资金。",
    "Reuters reported that the index closed at 17,500 points, up 210 points from Friday.",
]


def _article(i: int) -> str:
    """A body of about 1.5 KB: paragraphs in an order that depends on ``i``, with its number."""
    parts = [PARAGRAPHS[(i + k * 5) % len(PARAGRAPHS)] for k in range(8)]
    return f"第{i}篇。" + "\n".join(parts)


def _write(tmp_path: Path, column: TextColumn, values: dict[int, bytes], doccount: int) -> tuple[FileStorage, int]:
    storage = FileStorage(str(tmp_path))
    out = storage.create_file("test.col")
    writer = column.writer(out)
    for docnum in sorted(values):
        writer.add(docnum, values[docnum])
    writer.finish(doccount)
    out.close()
    return storage, storage.file_length("test.col")


def _read(storage: FileStorage, column: TextColumn, length: int, doccount: int) -> TextColumn.Reader:
    return column.reader(storage.open_file("test.col"), 0, length, doccount)


@pytest.mark.parametrize("sample_size", [1 << 20, 4096], ids=["dictionary at the end", "dictionary early"])
def test_values_come_back_byte_for_byte(tmp_path: Path, sample_size: int) -> None:
    values = {
        0: _article(0).encode("utf-8"),
        2: b"",  # empty, between two values
        3: "短".encode("utf-8"),  # shorter compressed than stored? no: kept as it is
        4: "𠀋𠀍 emoji 😀 and CJK beyond the basic plane".encode("utf-8"),
        5: b"\xff\xfe not UTF-8 \x80" * 50,
        6: b"\x00\x01\x02",
        **{n: _article(n).encode("utf-8") for n in range(7, 60)},
        # 60..61 never added: they read as empty
    }
    column = TextColumn(sample_size=sample_size)
    storage, length = _write(tmp_path, column, values, doccount=62)
    reader = _read(storage, column, length, 62)
    expected = [values.get(n, b"") for n in range(62)]
    assert len(reader) == 62
    assert [reader[n] for n in range(62)] == expected
    assert list(reader) == expected
    assert [reader[n] for n in reversed(range(62))] == expected[::-1]  # again, some from its cache
    mapped = reader.mapped(storage.open_file("test.col").read())
    assert [mapped[n] for n in range(62)] == expected


def test_a_column_of_no_values(tmp_path: Path) -> None:
    column = TextColumn()
    storage, length = _write(tmp_path, column, {}, doccount=3)
    reader = _read(storage, column, length, 3)
    assert list(reader) == [b"", b"", b""]


def test_values_must_come_in_document_order(tmp_path: Path) -> None:
    writer = TextColumn(sample_size=0).writer(FileStorage(str(tmp_path)).create_file("test.col"))
    writer.add(3, b"abc")
    with pytest.raises(ValueError, match="after document 3"):
        writer.add(2, b"abc")


def test_bodies_take_about_half_their_size(tmp_path: Path) -> None:
    values = {n: _article(n).encode("utf-8") for n in range(400)}
    raw = sum(map(len, values.values()))
    column = TextColumn()
    storage, length = _write(tmp_path, column, values, doccount=400)
    assert length < 0.5 * raw, (length, raw)
    # Each value on its own: none read through another's bytes, each shorter than its text.
    reader = _read(storage, column, length, 400)
    assert all(reader.raw_size(n) < len(values[n]) for n in range(400))
    assert reader[399] == values[399]


def test_damage_is_found(tmp_path: Path) -> None:
    values = {n: _article(n).encode("utf-8") for n in range(5)}
    column = TextColumn()
    storage, length = _write(tmp_path, column, values, doccount=5)
    _read(storage, column, length, 5).verify()
    inside = _read(storage, column, length, 5).raw_size(0) // 2  # a byte inside the first value
    path = tmp_path / "test.col"
    data = bytearray(path.read_bytes())
    data[inside] ^= 0x55
    path.write_bytes(bytes(data))
    reader = _read(storage, column, length, 5)
    with pytest.raises(TextColumnError, match="CRC-32"):
        reader.verify()
    assert reader[1] == values[1]
    with pytest.raises(TextColumnError, match="documents in a segment of 6"):
        _read(storage, column, length, 6)
    path.write_bytes(bytes(data[:-3]))
    with pytest.raises(TextColumnError):
        _read(storage, column, length - 3, 5)


def test_a_value_cut_short_cannot_be_read(tmp_path: Path) -> None:
    values = {0: _article(0).encode("utf-8"), 1: b"\xff not UTF-8 " * 40}
    column = TextColumn()
    storage, length = _write(tmp_path, column, values, doccount=2)
    reader = _read(storage, column, length, 2)
    for docnum in (0, 1):
        start, end = reader._offsets[docnum], reader._offsets[docnum + 1]
        short = reader.mapped(storage.open_file("test.col").read()[: end - 5] + bytes(5))
        assert start < end - 5
        with pytest.raises((zlib.error, TextColumnError)):
            short._decode(short._raw(start, end - 5))


def test_decoded_values_are_kept_within_the_budget(tmp_path: Path) -> None:
    values = {n: _article(n).encode("utf-8") for n in range(50)}
    column = TextColumn()
    storage, length = _write(tmp_path, column, values, doccount=50)
    data = storage.open_file("test.col").read()
    reader = _read(storage, column, length, 50).mapped(data)
    budget = decoded.budget
    try:
        decoded.budget = 5 * len(values[0])
        first = reader[0]
        assert reader[0] is first  # from the cache
        for n in range(1, 50):
            assert reader[n] == values[n]
            assert decoded.size <= decoded.budget
        assert reader[0] is not first and reader[0] == first  # dropped, decoded again
        other = _read(storage, column, length, 50).mapped(data)
        assert other[49] == values[49] and other[49] is not reader[49]  # each reader its own entries
        unmapped = _read(storage, column, length, 50)  # reads each document once: keeps nothing
        decoded.clear()
        assert unmapped[3] == values[3] and decoded.size == 0
    finally:
        decoded.budget = budget
        decoded.clear()


@pytest.fixture()
def posts(tmp_path: Path) -> Path:
    folder = tmp_path / "posts"
    for n in range(40):
        write_post(folder, f"p{n}.md", f"新闻{n}", _article(n))
    return folder


def test_an_index_stores_bodies_compressed_and_finds_phrases_in_them(tmp_path: Path, posts: Path) -> None:
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([posts])
    text = sum(len(_article(n).encode("utf-8")) for n in range(40))
    nbody = sum(p.stat().st_size for p in (tmp_path / "index").iterdir() if p.name.endswith(".nbody.col"))
    assert nbody < 0.55 * text, (nbody, text)
    # Exact matching reads the bodies: a quoted phrase, its count and its snippet.
    found = ix.search('"一个问题在于投资者"')
    assert found.total == sum("一个问题在于投资者" in _article(n) for n in range(40)) > 0
    assert "一个问题在于投资者" in found.hits[0].snippet.text
    assert ix.search('"第17篇"').total == 1
    assert ix.get("p17").body == read_file(posts / "p17.md").articles[0].body


def test_check_reads_every_compressed_body(tmp_path: Path, posts: Path) -> None:
    ix = NewsIndex.create(tmp_path / "index")
    ix.update([posts])
    target = next(p for p in (tmp_path / "index").iterdir() if p.name.endswith(".nbody.col"))
    data = bytearray(target.read_bytes())
    data[len(data) // 3] ^= 0x55  # inside a value: the file's size is unchanged
    target.write_bytes(bytes(data))
    report = ix.check()
    assert any("cannot be read" in problem for problem in report.damage), report.damage


def test_bodies_read_before_a_file_was_cut_short_are_not_served_from_memory(tmp_path: Path, posts: Path) -> None:
    from newsearch import IndexDamagedError

    ix = NewsIndex.create(tmp_path / "index")
    ix.update([posts])
    assert ix.search('"一个问题在于投资者"').total > 0  # every body with the phrase read, and kept decoded
    target = next(p for p in (tmp_path / "index").iterdir() if p.name.endswith(".nbody.col"))
    with open(target, "r+b") as file:  # the same file, shortened under the open index
        file.truncate(target.stat().st_size - 100)
    with pytest.raises(IndexDamagedError, match="damaged"):
        ix.search('"一个问题在于投资者"')


def test_a_merge_copies_compressed_values_with_their_dictionaries(tmp_path: Path) -> None:
    storage = FileStorage(str(tmp_path))
    column = TextColumn(sample_size=4096)
    sources = []
    for name, first in (("a.col", 0), ("b.col", 100)):
        out = storage.create_file(name)
        writer = column.writer(out)
        for n in range(40):
            writer.add(n, _article(first + n).encode("utf-8"))
        writer.finish(40)
        out.close()
        sources.append(column.reader(storage.open_file(name), 0, storage.file_length(name), 40))
    assert sources[0]._dictionaries != sources[1]._dictionaries
    out = storage.create_file("merged.col")
    writer = column.writer(out)
    expected = []
    for n in range(40):  # a, every other document of b, then two values added as text
        writer.add_compressed(n, *sources[0].compressed(n))
        expected.append(sources[0][n])
    for n in range(0, 40, 2):
        writer.add_compressed(len(expected), *sources[1].compressed(n))
        expected.append(sources[1][n])
    for text in ("新加的一篇。" * 30, "又一篇"):
        writer.add(len(expected), text.encode("utf-8"))
        expected.append(text.encode("utf-8"))
    writer.finish(len(expected))
    out.close()
    merged = column.reader(storage.open_file("merged.col"), 0, storage.file_length("merged.col"), len(expected))
    assert list(merged) == expected
    assert len(merged._dictionaries) == 3  # a's, b's, and its own for the values added as text
    # The bytes copied as they were: the same size, value by value.
    assert [merged.raw_size(n) for n in range(40)] == [sources[0].raw_size(n) for n in range(40)]
    assert merged.raw_size(40) == sources[1].raw_size(0)
    merged.verify()


def test_a_merge_of_more_columns_than_dictionaries_compresses_the_rest_again(tmp_path: Path) -> None:
    from newsearch.textcolumn import MAX_DICTIONARIES

    storage = FileStorage(str(tmp_path))
    column = TextColumn()
    out = storage.create_file("merged.col")
    merged_writer = column.writer(out)
    expected = []
    for n in range(MAX_DICTIONARIES + 3):
        name = f"s{n}.col"
        source_out = storage.create_file(name)
        writer = column.writer(source_out)
        writer.add(0, f"编号{n:04d}，".encode("utf-8") * 100)  # a dictionary of its own
        writer.finish(1)
        source_out.close()
        source = column.reader(storage.open_file(name), 0, storage.file_length(name), 1)
        merged_writer.add_compressed(n, *source.compressed(0))
        expected.append(source[0])
    merged_writer.finish(len(expected))
    out.close()
    merged = column.reader(storage.open_file("merged.col"), 0, storage.file_length("merged.col"), len(expected))
    assert len(merged._dictionaries) == MAX_DICTIONARIES
    assert list(merged) == expected
