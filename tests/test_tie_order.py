"""Results do not depend on how an index is cut into segments: equal scores are ordered
by the articles' id keys, not by where they were written.  An index built in many small
runs and never merged answers every generated request as one built in one run does:
the same ids in the same order, the same scores, totals, facets and near-duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsearch import Config, NewsIndex

from generated_queries import comparable, generated_requests

pytestmark = pytest.mark.usefixtures("corpus")


@pytest.fixture(scope="module")
def many_segments(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> NewsIndex:
    """The corpus indexed folder by folder, the last first (so that its articles are
    written in another order than one run writes them), 40 files per job, never merged."""
    config = Config.from_dict({"indexing": {"batch_size": 40, "merge_factor": 0, "workers": 1}})
    ix = NewsIndex.create(tmp_path_factory.mktemp("segments") / "index", config=config)
    folders = sorted((p for p in corpus.iterdir() if p.is_dir()), reverse=True)
    for number in range(len(folders)):
        ix.update(folders[: number + 1])
    return ix


def test_the_index_has_many_segments(many_segments: NewsIndex, corpus_index: NewsIndex) -> None:
    assert many_segments.stats().segments >= 8
    assert len(many_segments) == len(corpus_index)


def test_many_segments_answer_as_one(many_segments: NewsIndex, corpus_index: NewsIndex) -> None:
    requests = generated_requests(corpus_index, 150)
    differing = []
    found = 0
    for request in requests:
        one = comparable(corpus_index.search(**request))
        many = comparable(many_segments.search(**request))
        found += bool(one["hits"])
        if one != many:
            differing.append((request, one, many))
    assert not differing, differing[:2]
    assert found >= 100  # most requests find something: the comparison means something
