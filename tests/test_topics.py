"""Topics: the keywords that set a selection apart, without the function words that an
article can repeat enough to make them its keywords."""

from __future__ import annotations

import pytest
from conftest import write_post

from newsearch import NewsIndex
from newsearch.understand import STOPWORDS

FUNCTION_WORDS = ("这件", "以来", "那个")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> NewsIndex:
    """A hundred articles of other months, a quarter of which write 这件, 以来 and 那个
    once (as real news does: 23% of the real archive writes 这件), and eight December
    articles about 疫苗, three of which repeat one of those words."""
    root = tmp_path_factory.mktemp("topics")
    posts = root / "posts"
    subjects = ["港口", "铁路", "粮食", "电网", "钢铁", "航运", "棉花", "煤炭", "桥梁", "渔业"]
    for i in range(100):
        subject = subjects[i % len(subjects)]
        body = f"{subject}行业第{i}次调整，{subject}部门回应了问题。"
        if i % 4 == 0:
            body += "今年以来，这件事引起关注，那个部门作出说明。"
        write_post(posts, f"other{i:02d}.md", f"{subject}动态{i}", body, date=f"2021-{i % 10 + 1:02d}-15")
    repeated = {0: "这件", 1: "以来", 2: "那个"}
    for i in range(8):
        word = repeated.get(i, "")
        body = f"疫苗接种第{i}批次完成，疫苗供应充足。" + f"{word}，{word}的情况，说起{word}。" * 3 * bool(word)
        write_post(posts, f"vaccine{i}.md", f"疫苗消息{i}", body, date=f"2021-12-{i + 1:02d}")
    ix = NewsIndex.create(root / "index")
    ix.update([posts])
    return ix


def test_function_words_are_not_topics_even_as_keywords(archive: NewsIndex) -> None:
    keywords = {k for i in range(3) for k in archive.get(f"vaccine{i}").keywords}
    assert set(FUNCTION_WORDS) <= keywords  # what an article repeats becomes its keyword...
    found = archive.topics(since="2021-12", until="2021-12")
    topics = [t.keyword for t in found]
    assert "疫苗" in {t.keyword for t in found if t.score == found[0].score}, topics
    assert not set(FUNCTION_WORDS) & set(topics), topics  # ...but not a topic of its month


def test_no_topic_of_the_real_archive_is_a_function_word(corpus_index: NewsIndex) -> None:
    for selection in ({"since": "2018-07", "until": "2018-07"}, {"since": "2019"}, {"until": "2018-06"}):
        topics = [t.keyword for t in corpus_index.topics(**selection, limit=30)]
        assert topics and not {"这件", "以来", "那个", "这个", "选择"} & set(topics), (selection, topics)
        assert not STOPWORDS & set(topics)
    assert "疫苗" in [t.keyword for t in corpus_index.topics(since="2018-07", until="2018-07", limit=10)]
