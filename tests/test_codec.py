"""NewsCodec: compact terms and postings must read back exactly what Whoosh wrote."""

from __future__ import annotations

import itertools
import random
from array import array
from pathlib import Path

import pytest
from whoosh import fields, formats
from whoosh.filedb.filestore import FileStorage
from whoosh.query import Every, Term
from whoosh.writing import SegmentWriter

from newsearch import codec
from newsearch.codec import TERMS_PER_BLOCK, NewsCodec, decode_postings, encode_postings


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


@pytest.mark.parametrize("cached_blocks", [None, 2])
def test_a_vocabulary_of_many_blocks_reads_back_term_by_term(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached_blocks: int | None
) -> None:
    # Far more terms than one block holds, with lengths and shared prefixes that make
    # byte order differ from insertion order; each term is in a known set of documents.
    # Also with room for only two decoded blocks: evicting one never changes an answer.
    if cached_blocks is not None:
        monkeypatch.setattr(codec, "CACHED_BLOCKS", cached_blocks)
    n_terms = TERMS_PER_BLOCK * 7 + 13
    words = [f"w{i * 7919 % 100_003:05d}" + "x" * (i % 3) for i in range(n_terms)]
    schema = fields.Schema(k=fields.KEYWORD(), n=fields.ID(stored=True))
    schema["k"].format = formats.Existence()
    ix = FileStorage(str(tmp_path)).create_index(schema, indexname="t")
    writer = SegmentWriter(ix, codec=NewsCodec())
    for d in range(50):
        writer.add_document(k=" ".join(w for i, w in enumerate(words) if i % 50 == d or i % 7 == d % 7), n=str(d))
    writer.commit()
    expected = {w: [d for d in range(50) if i % 50 == d or i % 7 == d % 7] for i, w in enumerate(words)}
    ordered = sorted(w.encode() for w in words)
    with ix.searcher() as searcher:
        reader = searcher.reader()
        assert list(reader.lexicon("k")) == ordered
        for word, docs in expected.items():
            assert reader.doc_frequency("k", word) == len(docs)
            assert list(searcher.docs_for_query(Term("k", word))) == docs
        # Lookups between terms and past either end, at block edges too.
        for i in (0, TERMS_PER_BLOCK - 1, TERMS_PER_BLOCK, 5 * TERMS_PER_BLOCK, len(ordered) - 1):
            term = ordered[i]
            assert list(reader.expand_prefix("k", term.decode())) == [t for t in ordered if t.startswith(term)]
            assert ("k", term + b"!") not in reader
        assert ("k", b"a") not in reader and ("k", b"zzz") not in reader
        assert list(reader.expand_prefix("k", "zz")) == []
        assert list(reader.terms_from("k", "w5"))[:2] == [("k", t) for t in ordered if t >= b"w5"][:2]
        table = reader._terms._table("k")  # noqa: SLF001
        assert 0 < len(table._blocks) <= codec.CACHED_BLOCKS  # noqa: SLF001


@pytest.mark.parametrize(
    "body",
    [
        "", "纯简体中文没有变化", "全角标点，大写ABC与（括号）！", "臺灣電腦展覽今天開幕，ＡＩ晶片成為焦點。", "Ａ" * 50 + "b",
        "薴麻、苧麻与苎麻" * 10,  # OpenCC maps 薴 to 苧, which it maps to 苎
    ],
)
def test_body_diff_restores_the_original(body: str) -> None:
    from newsearch.analysis import normalize
    from newsearch.fields import body_diff, restore_body

    nbody = normalize(body)
    assert restore_body(nbody, body_diff(body, nbody)) == body


@pytest.mark.parametrize("suffix", [".ntm", ".col"])
def test_a_writer_interrupted_while_closing_its_segment_cancels_cleanly(tmp_path: Path, suffix: str) -> None:
    # Ctrl-C can land inside the segment's close (here: while its terms file is
    # or a column file is created); cancelling must then give up the segment, not fail on the files
    # already closed, and leave the index writable.
    from newsearch.codec import NewsWriter

    schema = fields.Schema(b=fields.TEXT(phrase=False))
    schema["b"].format = formats.Existence()
    storage = FileStorage(str(tmp_path))
    ix = storage.create_index(schema, indexname="t")
    writer = NewsWriter(ix)
    writer.add_document(b="alpha beta")
    create_file = storage.create_file
    signals = [KeyboardInterrupt]  # one Ctrl-C

    def interrupted(name: str, **kwargs):  # type: ignore[no-untyped-def]
        if name.endswith(suffix) and signals:
            raise signals.pop()
        return create_file(name, **kwargs)

    storage.create_file = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        writer.commit()
    writer.cancel()
    storage.create_file = create_file  # type: ignore[method-assign]
    again = NewsWriter(ix)  # the lock was released
    again.add_document(b="gamma")
    again.commit()
    with ix.searcher() as searcher:
        assert [t for t in searcher.reader().lexicon("b")] == [b"gamma"]


def test_the_pool_holds_no_object_the_garbage_collector_tracks(tmp_path: Path) -> None:
    # A worker's pool holds hundreds of thousands of posting lists; tracked
    # containers (arrays are) made each full collection walk all of them.
    import gc

    from newsearch import NewsIndex
    from newsearch.fields import BODY, UNITS

    ix = NewsIndex.create(tmp_path / "index")._whoosh()
    writer = ix.writer()
    try:
        writer.add_document(id="a", path="a.md", title="标题", body="银行网点引入客服机器人", units="银行网点")
        writer.add_document(id="b", path="b.md", title="标题二", body="客服机器人回答问题", units="客服")
        for table in (writer.pool.postings[BODY], writer.pool.postings[UNITS]):
            assert table and not any(gc.is_tracked(postings) for postings in table.values())
        assert BODY in writer.pool.weighted and UNITS not in writer.pool.weighted
    finally:
        writer.cancel()


def test_the_pool_gives_back_what_it_was_given_and_refuses_mixed_weights() -> None:
    from newsearch.codec import TermPool, _encode_pooled

    pool = TermPool()
    added: dict[tuple[str, str], list[tuple[int, float]]] = {}
    weights_of = [1.0, 0.5, 2.0, 0.3, 1e6, 1.0]
    for docnum in range(0, 70_000, 7_001):
        words = ["甲", "乙"] if docnum % 2 else ["甲", "丙"]
        ws = [weights_of[(docnum + i) % len(weights_of)] for i in range(len(words))]
        pool.add_terms("w", docnum, words, ws)
        pool.add_terms("u", docnum, words, None)
        for word, w in zip(words, ws):
            added.setdefault(("w", word), []).append((docnum, w))
            added.setdefault(("u", word), []).append((docnum, 1.0))
    with pytest.raises(ValueError, match="'u'"):
        pool.add_terms("u", 80_000, ["甲"], [1.0])
    got = {}
    for fieldname, term, ids, weights in pool.iter_postings().terms():
        got[(fieldname, term.decode("utf-8"))] = list(zip(ids, [1.0] * len(ids) if weights is None else weights))
    assert got.keys() == added.keys()
    for key, postings in added.items():
        assert [d for d, _ in got[key]] == [d for d, _ in postings]
        assert [w for _, w in got[key]] == pytest.approx([w for _, w in postings], rel=1e-6)
    # The pooled encoding is the same bytes as encode_postings of the same lists.
    for data, weighted in ((bytearray(array("I", [5]).tobytes()), False), (bytearray(array("I", [70_000]).tobytes()), False)):
        assert _encode_pooled(data, weighted) == encode_postings(array("I", data), None)
    one = bytearray(array("I", [9]).tobytes() + array("f", [1.0]).tobytes())
    half = bytearray(array("I", [9]).tobytes() + array("f", [0.5]).tobytes())
    assert _encode_pooled(one, True) == encode_postings(array("I", [9]), [1.0])
    assert _encode_pooled(half, True) == encode_postings(array("I", [9]), [0.5])


class _FilteredKeyword(fields.KEYWORD):  # type: ignore[misc]
    term_filter = True


@pytest.mark.parametrize("pooled", [True, False])
def test_a_term_filter_never_hides_a_term_and_spares_most_missing_lookups(tmp_path: Path, pooled: bool) -> None:
    from newsearch.codec import NewsWriter

    words = [f"b{i * 7919 % 100_003:05x}" for i in range(3000)]
    schema = fields.Schema(f=_FilteredKeyword(), k=fields.KEYWORD())
    schema["f"].format = formats.Existence()
    schema["k"].format = formats.Existence()
    ix = FileStorage(str(tmp_path)).create_index(schema, indexname="t")
    writer = NewsWriter(ix) if pooled else SegmentWriter(ix, codec=NewsCodec())
    for d in range(30):
        chosen = " ".join(words[d::30])
        writer.add_document(f=chosen, k=chosen)
    writer.commit()
    missing = [f"m{i:05d}".encode() for i in range(1000)]
    with ix.searcher() as searcher:
        reader = searcher.reader()
        assert all(("f", w.encode()) in reader for w in words)
        terms = reader._terms  # noqa: SLF001 - which blocks a lookup read
        for field in ("f", "k"):
            table = terms._table(field)  # noqa: SLF001
            table._blocks.clear()  # noqa: SLF001
            read = 0
            for term in missing:
                before = len(table._blocks)  # noqa: SLF001
                assert (field, term) not in reader
                read += len(table._blocks) > before  # noqa: SLF001
                table._blocks.clear()  # noqa: SLF001
            if field == "f":
                assert read < 120  # one hash, 16 bits a term: about 6% pass the filter
            else:
                assert read == len(missing)


@pytest.mark.parametrize("weights", [None, [1.5, 2.0, 0.5], [1.1, 2.2, 3.3]])
def test_a_posting_list_cut_short_is_an_error_not_fewer_documents(weights: list[float] | None) -> None:
    data = encode_postings(array("I", [3, 300, 70_000]), weights)
    assert list(decode_postings(data)[0]) == [3, 300, 70_000]
    for cut in range(6, len(data)):  # the header whole, the rest not
        with pytest.raises(ValueError, match="cut short"):
            decode_postings(data[:cut])


def _decoded_step_by_step(data: bytes) -> tuple[array, object]:
    """decode_postings as written for short lists: one Python step per posting."""
    from itertools import accumulate

    from newsearch.codec import _HEADER, _ID_CODES

    code, wcode, count = _HEADER.unpack_from(data)
    deltas = array(_ID_CODES[code])
    end = _HEADER.size + count * deltas.itemsize
    deltas.frombytes(data[_HEADER.size : end])
    ids = array("I", accumulate(deltas))
    if wcode == 0:
        return ids, None
    if wcode == 1:
        return ids, [b * 0.5 for b in data[end : end + count]]
    weights = array("f")
    weights.frombytes(data[end : end + count * 4])
    return ids, list(weights)


def test_long_posting_lists_decode_as_short_ones_do() -> None:
    from newsearch.codec import _DECODED_AS_ARRAYS

    rng = random.Random(4)
    tried = set()
    for n in (_DECODED_AS_ARRAYS - 1, _DECODED_AS_ARRAYS, 3000, 20000):
        for gap in (3, 300, 70000):  # deltas of one, two and four bytes
            ids = array("I", itertools.accumulate(rng.randint(1, gap) for _ in range(n)))
            for weights in (None, [rng.randint(1, 40) * 0.5 for _ in range(n)], [rng.random() * 3 for _ in range(n)]):
                data = encode_postings(ids, weights)
                tried.add((data[0], data[1]))
                got_ids, got_weights = decode_postings(data)
                want_ids, want_weights = _decoded_step_by_step(data)
                assert got_ids == want_ids == ids and got_ids.typecode == "I"
                assert got_weights is None or list(got_weights) == want_weights  # the same floats
                assert got_weights is None or all(type(w) is float for w in got_weights)
                # A long list's weights come as array("d"): numpy reads them without a copy.
                long = n >= _DECODED_AS_ARRAYS and got_weights is not None
                assert not long or (isinstance(got_weights, array) and got_weights.typecode == "d")
    assert len(tried) == 9  # every id width with every kind of weights
