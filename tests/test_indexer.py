"""The indexer's per-run state: flat structures whose size does not grow with Python
object overhead per file, checked against the plain Python structures they replace."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from newsearch import NewsIndex
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
