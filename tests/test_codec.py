"""NewsCodec: compact terms and postings must read back exactly what Whoosh wrote."""

from __future__ import annotations

from array import array
from pathlib import Path

import pytest
from whoosh import fields, formats
from whoosh.filedb.filestore import FileStorage
from whoosh.query import Every, Term
from whoosh.writing import SegmentWriter

from newsearch.codec import NewsCodec, decode_postings, encode_postings


@pytest.mark.parametrize(
    ("ids", "weights"),
    [
        ([0], [1.0]),
        ([5, 6, 300], [1.0, 1.0, 1.0]),
        ([1, 70_000, 70_001, 5_000_000], [0.5, 2.0, 127.5, 3.0]),
        (list(range(0, 3000, 3)), [1.5] * 1000),
        ([2, 9], [0.3, 1e6]),  # not halves: stored as floats
    ],
)
def test_postings_round_trip(ids: list[int], weights: list[float]) -> None:
    got_ids, got_weights = decode_postings(encode_postings(array("I", ids), weights))
    assert list(got_ids) == ids
    if all(w == 1.0 for w in weights):
        assert got_weights is None
    else:
        assert got_weights == pytest.approx(weights, rel=1e-6)


def test_terms_statistics_and_matchers_across_fields(tmp_path: Path) -> None:
    schema = fields.Schema(
        a=fields.KEYWORD(stored=True),
        b=fields.TEXT(phrase=False),
        c=fields.ID(),
    )
    schema["a"].format = formats.Existence()
    schema["b"].format = formats.Existence()
    ix = FileStorage(str(tmp_path)).create_index(schema, indexname="t")
    writer = SegmentWriter(ix, codec=NewsCodec())
    docs = [("x y", "alpha beta", "k1"), ("y", "beta gamma", "k2"), ("z", "alpha", "k3")] * 200
    for a, b, c in docs:
        writer.add_document(a=a, b=b, c=c)
    writer.commit()
    with ix.searcher() as searcher:
        reader = searcher.reader()
        assert list(reader.lexicon("a")) == [b"x", b"y", b"z"]
        assert list(reader.lexicon("b")) == [b"alpha", b"beta", b"gamma"]
        assert list(reader.expand_prefix("b", "be")) == [b"beta"]
        assert ("b", b"beta") in reader and ("a", b"beta") not in reader
        assert reader.doc_frequency("b", "alpha") == 400
        assert reader.doc_frequency("b", "nope") == 0
        assert [d for d in searcher.docs_for_query(Term("c", "k2"))] == list(range(1, 600, 3))
        assert len(searcher.search(Term("a", "y"), limit=None)) == 400
        assert searcher.doc_count() == 600 == len(searcher.search(Every(), limit=None))
        assert sorted(searcher.suggest("b", "betta", maxdist=1)) == ["beta"]


@pytest.mark.parametrize(
    "body",
    ["", "纯简体中文没有变化", "全角标点，大写ABC与（括号）！", "臺灣電腦展覽今天開幕，ＡＩ晶片成為焦點。", "Ａ" * 50 + "b"],
)
def test_body_diff_restores_the_original(body: str) -> None:
    from newsearch.analysis import normalize
    from newsearch.schema import body_diff, restore_body

    nbody = normalize(body)
    assert restore_body(nbody, body_diff(body, nbody)) == body
