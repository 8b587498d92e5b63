"""Shared fixtures: the repository's seed, the real corpora beside the repository, fresh indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
SEED_FILE = SEEDS / "000_7382423e0577ef0c.txt"
SEED_ID = "000_7382423e0577ef0c"
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus, or skip: the real archives are not part of the repository."""
    if not (CORPUS / "terminus2049" / "_posts").is_dir():
        pytest.skip(f"real corpus not found at {CORPUS} (clone the repository beside ../shared)")
    return CORPUS


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory):
    """A read-only index of the seed article, built once per session."""
    from newsearch import NewsIndex

    ix = NewsIndex.create(tmp_path_factory.mktemp("seed") / "index")
    ix.update([SEEDS])
    return ix


@pytest.fixture(scope="session")
def customer_service_posts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of two tech articles about 客服 (customer service), written once per session:

    - ``2021-06-15-bot`` "智能客服走进银行": 银行网点引入客服机器人; tags AI and 客服;
    - ``2022-01-10-bot2`` "客服外包": 客服行业的人工成本上升; tag 客服.

    Shared by every test that asks for it: copy the folder before changing it.
    """
    folder = tmp_path_factory.mktemp("customer-service") / "_posts"
    write_post(folder, "2021-06-15-bot.md", "智能客服走进银行", "银行网点引入客服机器人。", date="2021-06-15",
               categories="tech", tags="[AI, 客服]")
    write_post(folder, "2022-01-10-bot2.md", "客服外包", "客服行业的人工成本上升。", date="2022-01-10",
               categories="tech", tags="客服")
    return folder


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory, corpus: Path):
    """A read-only index of every real post in ../shared/corpus, built once per session."""
    from newsearch import NewsIndex

    ix = NewsIndex.create(tmp_path_factory.mktemp("corpus") / "index")
    report = ix.update([corpus])
    assert report.failed == [], report.failed
    return ix


def write_post(
    folder: Path,
    name: str,
    title: str,
    body: str,
    *,
    date: str | None = "2021-12-01 10:00:00 +0800",
    categories: str | None = None,
    tags: str | None = None,
    extra: str = "",
) -> Path:
    """Write a Jekyll-style post with YAML front matter and return its path."""
    lines = ["---", f"title: {title}"]
    if date is not None:
        lines.append(f"date: {date}")
    if categories is not None:
        lines.append(f"categories: {categories}")
    if tags is not None:
        lines.append(f"tags: {tags}")
    if extra:
        lines.append(extra)
    lines += ["---", "", body, ""]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
