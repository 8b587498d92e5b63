"""The sketch column: sketches by document, and the documents sharing a band with a sketch."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from whoosh.filedb.filestore import FileStorage

from newsearch.dupes import SKETCH_BYTES, share_a_band, similarities, similarity, sketch
from newsearch.readers import _memory_map
from newsearch.files import requests
from newsearch.sketchcolumn import SketchColumn, SketchColumnError

EMPTY = b"\xff" * SKETCH_BYTES


def _write(folder: Path, values: dict[int, bytes], doccount: int) -> FileStorage:
    storage = FileStorage(str(folder))
    out = storage.create_file("s.col")
    writer = SketchColumn(SKETCH_BYTES).writer(out)
    for docnum in sorted(values):
        writer.add(docnum, values[docnum])
    writer.finish(doccount)
    out.close()
    return storage


def _read(storage: FileStorage, doccount: int, mapped: bool) -> SketchColumn.Reader:
    handle = storage.open_file("s.col")
    reader = SketchColumn(SKETCH_BYTES).reader(handle, 0, storage.file_length("s.col"), doccount)
    if mapped:
        data = _memory_map(handle)
        assert data is not None
        reader = reader.mapped(data, handle.fileno())
    return reader


def _sketches(n: int, seed: int) -> list[bytes]:
    """Sketches of real-looking text, with near-copies among them (shared bands) and
    sketches with empty bins (short texts)."""
    rng = random.Random(seed)
    chars = "经济增长政策市场企业投资银行货币发展改革数据报告国际合作地区城市人口教育医疗科技"
    texts = []
    for i in range(n):
        if texts and rng.random() < 0.3:
            base = rng.choice(texts)
            texts.append(base[: len(base) - rng.randint(0, 20)] + "".join(rng.choices(chars, k=rng.randint(0, 10))))
        else:
            texts.append("".join(rng.choices(chars, k=rng.choice([8, 30, 400]))))
    return [sketch(t) for t in texts]


@pytest.mark.parametrize("mapped", [False, True], ids=["read", "memory-mapped"])
def test_values_and_band_lookups_equal_a_scan_of_every_sketch(tmp_path: Path, mapped: bool) -> None:
    sketches = _sketches(600, seed=3)
    values = {d: s for d, s in enumerate(sketches) if d % 7 != 3}  # some documents have no sketch
    doccount = len(sketches) + 5  # and the last ones none either
    reader = _read(_write(tmp_path, values, doccount), doccount, mapped)
    assert len(reader) == doccount
    assert [reader[d] for d in range(doccount)] == [values.get(d, EMPTY) for d in range(doccount)]
    shared_any = 0
    for probe in sketches[:200] + [sketch("一段从未索引过的文字，与任何文章都不相同。")]:
        expected = sorted(d for d, s in values.items() if share_a_band(probe, s))
        found = reader.sharing(probe)
        # A document sharing several bands is found once per band.
        assert sorted(set(found)) == expected
        shared_any += len(expected) > 1
    assert shared_any > 20, "too few near-copies: the lookups were not put to the test"
    assert reader.sharing(EMPTY) == []  # empty bands say nothing
    assert reader.sharing(b"short") == []


def test_an_empty_column(tmp_path: Path) -> None:
    reader = _read(_write(tmp_path, {}, 3), 3, mapped=True)
    assert [reader[d] for d in range(3)] == [EMPTY] * 3
    assert reader.sharing(sketch("任何文字都找不到")) == []
    reader.verify()


def test_damage_is_detected(tmp_path: Path) -> None:
    sketches = _sketches(50, seed=5)
    storage = _write(tmp_path, dict(enumerate(sketches)), 50)
    _read(storage, 50, mapped=False).verify()
    path = tmp_path / "s.col"
    data = bytearray(path.read_bytes())
    data[60 * 8] ^= 0x40  # a byte of a sketch
    path.write_bytes(bytes(data))
    with pytest.raises(SketchColumnError, match="checksum"):
        _read(storage, 50, mapped=False).verify()
    path.write_bytes(bytes(data[: len(data) // 2]))  # cut short: the trailer is not where it should be
    with pytest.raises(SketchColumnError):
        _read(storage, 50, mapped=False)


def test_a_file_cut_short_under_the_map_raises_instead_of_reading_zeros(tmp_path: Path) -> None:
    sketches = _sketches(50, seed=6)
    storage = _write(tmp_path, dict(enumerate(sketches)), 50)
    reader = _read(storage, 50, mapped=True)
    assert reader.sharing(sketches[0])
    with open(tmp_path / "s.col", "r+b") as handle:
        handle.truncate(100)
    requests.tick()  # the next search: its first lookup checks the file
    with pytest.raises(SketchColumnError, match="cut short"):
        reader.sharing(sketches[1])
    with pytest.raises(SketchColumnError, match="cut short"):
        reader[1]


@pytest.mark.parametrize("mapped", [False, True], ids=["read", "memory-mapped"])
def test_similarities_of_rows_equal_similarity_pair_by_pair(tmp_path: Path, mapped: bool) -> None:
    sketches = _sketches(300, seed=8) + [EMPTY, sketch("短"), sketch("")]
    doccount = len(sketches) + 2  # the last two have no sketch: their rows read as empty
    reader = _read(_write(tmp_path, dict(enumerate(sketches)), doccount), doccount, mapped)
    docnums = list(range(doccount))
    for own in sketches[:40] + [EMPTY, sketch("短")]:
        got = similarities(own, reader.rows(docnums))
        want = [similarity(own, reader[d]) for d in docnums]
        assert got == want  # the same floats, not merely close
    assert any(0 < s < 1 for s in similarities(sketches[0], reader.rows(docnums)))
    assert similarities(sketches[0], reader.rows([])) == []
