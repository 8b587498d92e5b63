"""The newsearch command, run as a user runs it (typer's CliRunner and real subprocesses)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import serving
from conftest import SEED_FILE, SEED_ID, write_post
from typer.testing import CliRunner

from newsearch.cli import EXIT_FAILED_FILES, EXIT_USAGE, app, terminal_text

runner = CliRunner()


def run(*args: str | Path) -> object:
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture()
def posts(tmp_path: Path, customer_service_posts: Path) -> Path:
    """The two 客服 articles and a finance one about the 人民币 exchange rate (not 客服), in a folder
    of this test's own (tests add and copy files in it)."""
    folder = tmp_path / "_posts"
    shutil.copytree(customer_service_posts, folder)
    write_post(folder, "2021-03-01-rmb.md", "离岸人民币报价", "离岸人民币汇率走强。", date="2021-03-01",
               categories="finance", tags="汇率")
    return folder


@pytest.fixture()
def index_dir(tmp_path: Path, posts: Path) -> Path:
    index = tmp_path / "index"
    result = run("index", posts, "--index", index)
    assert result.exit_code == 0, result.output
    assert "3 indexed, 0 unchanged, 0 removed, 0 failed" in result.output
    return index


def test_reindexing_reports_unchanged(index_dir: Path, posts: Path) -> None:
    result = run("index", posts, "--index", index_dir)
    assert result.exit_code == 0
    assert "0 indexed, 3 unchanged, 0 removed, 0 failed" in result.output


def test_search_prints_hits_with_marked_snippets(index_dir: Path) -> None:
    result = run("search", "机器人", "--index", index_dir)
    assert result.exit_code == 0, result.output
    assert "1 article matches '机器人'" in result.output
    assert "1. 智能客服走进银行" in result.output
    # The post gave a day, no time: no invented 00:00.
    assert "   2021-06-15 · tech · #AI #客服 · id 2021-06-15-bot" in result.output.splitlines()
    assert "**机器人**" in result.output
    # The title marks what matched too.
    titled = run("search", "银行", "--index", index_dir)
    assert "1. 智能客服走进**银行**" in titled.output


def test_several_words_mean_all_of_them_and_minus_excludes(index_dir: Path) -> None:
    both = run("search", "客服", "银行", "--index", index_dir, "--json", "--exact")
    assert [h["id"] for h in json.loads(both.output)["hits"]] == ["2021-06-15-bot"]
    # By default the article with both words comes first; those with one are related.
    data = json.loads(run("search", "客服", "银行", "--index", index_dir, "--json").output)
    assert [(h["id"], h["match"]) for h in data["hits"]][0] == ("2021-06-15-bot", "exact")
    assert data["exact"] == 1 and {h["match"] for h in data["hits"][1:]} == {"related"}
    minus = run("search", "客服", "-银行", "--index", index_dir, "--json")
    assert [h["id"] for h in json.loads(minus.output)["hits"]] == ["2022-01-10-bot2"]


def test_json_output_shape(index_dir: Path) -> None:
    result = run("search", "客服", "--index", index_dir, "--json", "--sort", "-date")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert {"query", "total", "page", "hits"} <= set(data)
    assert (data["query"], data["total"], data["page"]) == ("客服", 2, 1)
    first = data["hits"][0]
    assert {"id", "title", "date", "categories", "tags", "path", "url", "score", "snippet"} <= set(first)
    assert first["id"] == "2022-01-10-bot2"
    assert first["date"] == "2022-01-10T00:00:00"
    assert first["categories"] == ["tech"] and first["tags"] == ["客服"]
    assert "<mark>客服</mark>" in first["snippet"]
    # Facets count every match: both 客服 articles, June 2021 and January 2022.
    facets = data["facets"]
    assert facets["categories"] == [{"value": "tech", "count": 2}]
    assert facets["tags"] == [{"value": "客服", "count": 2}, {"value": "AI", "count": 1}]
    months = facets["dates"]
    assert months["unit"] == "month" and months["undated"] == 0
    assert [b["key"] for b in months["buckets"]] == [f"2021-{m:02d}" for m in range(6, 13)] + ["2022-01"]
    assert [b["count"] for b in months["buckets"]] == [1, 0, 0, 0, 0, 0, 0, 1]


def test_facets_on_the_terminal_and_sort_options(index_dir: Path) -> None:
    result = run("search", "客服", "--index", index_dir, "--limit", "1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Categories: tech 2" in lines
    assert "Tags:       客服 2 · AI 1" in lines
    assert "By month:" in lines
    assert "  2021-06 ██████████████████████████████ 1" in lines and "  2021-07 ▏ 0" in lines
    assert "Categories:" not in run("search", "客服", "--index", index_dir, "--no-facets").output

    def order(*args: str) -> tuple[str, list[str]]:
        out = run("search", "客服", "--index", index_dir, "--json", *args)
        assert out.exit_code == 0, out.output
        data = json.loads(out.output)
        return data["sort"], [h["id"] for h in data["hits"]]

    assert order("--sort", "date") == ("date", ["2021-06-15-bot", "2022-01-10-bot2"])
    assert order("--sort", "-date") == ("-date", ["2022-01-10-bot2", "2021-06-15-bot"])
    assert order("--recent", "--half-life", "7") == ("recent", ["2022-01-10-bot2", "2021-06-15-bot"])
    assert order("--sort", "recent") == ("recent", ["2022-01-10-bot2", "2021-06-15-bot"])


def test_filters(index_dir: Path) -> None:
    def found(*args: str) -> list[str]:
        result = run("search", *args, "--index", index_dir, "--json")
        assert result.exit_code == 0, result.output
        return sorted(h["id"] for h in json.loads(result.output)["hits"])

    assert found("--category", "tech") == ["2021-06-15-bot", "2022-01-10-bot2"]
    assert found("--category", "finance", "--category", "tech") == ["2021-03-01-rmb", "2021-06-15-bot", "2022-01-10-bot2"]
    assert found("客服", "--tag", "AI") == ["2021-06-15-bot"]
    assert found("--since", "2021-06-15") == ["2021-06-15-bot", "2022-01-10-bot2"]
    assert found("--until", "2021-12") == ["2021-03-01-rmb", "2021-06-15-bot"]
    assert found("--since", "2021年6月", "--until", "2021年12月") == ["2021-06-15-bot"]


def test_paging(index_dir: Path) -> None:
    result = run("search", "--sort", "-date", "--limit", "1", "--page", "2", "--index", index_dir, "--json")
    data = json.loads(result.output)
    assert (data["page"], data["total"], [h["id"] for h in data["hits"]]) == (2, 3, ["2021-06-15-bot"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--since", "2021-13-01"], "--since"),
        (["--until", "yesterday"], "--until"),
        (["--limit", "0"], "--limit"),
        (["--limit", "-1"], "--limit"),
        (["--page", "0"], "--page"),
        (["--sort", "random"], "--sort"),
        (["--recent", "--sort", "date"], "--recent"),
        (["--half-life", "0"], "--half-life"),
    ],
)
def test_bad_option_values_give_one_line_and_exit_2(index_dir: Path, args: list[str], needle: str) -> None:
    result = run("search", "客服", *args, "--index", index_dir)
    assert result.exit_code == EXIT_USAGE, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0]


@pytest.mark.parametrize("command", [["search", "客服"], ["index", "."], ["stats"], ["show", "x"]])
def test_an_index_path_that_is_a_file_is_a_bad_option(tmp_path: Path, command: list[str]) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not an index", encoding="utf-8")
    result = run(*command, "--index", a_file)
    assert result.exit_code == EXIT_USAGE, result.output
    assert result.output.strip() == f"Error: Invalid value for --index: {a_file} is a file, not an index folder."
    assert a_file.read_text(encoding="utf-8") == "not an index"


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    result = run("search", "客服", "--index", tmp_path / "nothing")
    assert result.exit_code == 1
    assert "No newsearch index at" in result.output
    assert "newsearch index --index" in result.output


def test_show_and_stats(index_dir: Path) -> None:
    show = run("show", "2021-06-15-bot", "--index", index_dir)
    assert show.exit_code == 0
    assert show.output.splitlines()[0] == "智能客服走进银行"
    assert "银行网点引入客服机器人。" in show.output
    missing = run("show", "nope", "--index", index_dir)
    assert missing.exit_code == 1 and "No article with id 'nope'" in missing.output
    stats = run("stats", "--index", index_dir)
    assert stats.exit_code == 0
    assert "articles:   3 (from 3 files)" in stats.output
    assert "dates:      2021-03-01 … 2022-01-10" in stats.output
    assert "tech (2)" in stats.output
    assert "segments:   1 (0 deleted documents, 0.0%)" in stats.output
    data = json.loads(run("stats", "--index", index_dir, "--json").output)
    assert data["articles"] == 3 and data["tags"]["客服"] == 2
    assert (data["segments"], data["deleted"], data["deleted_share"]) == (1, 0, 0.0)


def test_failed_files_exit_3_and_are_listed(index_dir: Path, posts: Path) -> None:
    (posts / "bad.md").write_bytes(b"\x00\x00\x00")
    result = run("index", posts, "--index", index_dir)
    assert result.exit_code == EXIT_FAILED_FILES
    assert "failed: " in result.output and "bad.md" in result.output
    assert "bad.md" in (index_dir / "failed-files.txt").read_text(encoding="utf-8")


def test_rebuild_starts_over(index_dir: Path, posts: Path, tmp_path: Path) -> None:
    only = tmp_path / "only"
    only.mkdir()
    shutil.copy(posts / "2021-03-01-rmb.md", only)
    result = run("index", only, "--rebuild", "--index", index_dir)
    assert result.exit_code == 0, result.output
    assert "1 indexed, 0 unchanged, 0 removed, 0 failed (1 article added, 0 removed)" in result.output
    data = json.loads(run("stats", "--index", index_dir, "--json").output)
    assert data["articles"] == 1
    assert "articles:   1 (from 1 file)\n" in run("stats", "--index", index_dir).output


def test_index_env_variable(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSEARCH_INDEX", str(index_dir))
    result = run("search", "汇率", "--json")
    assert [h["id"] for h in json.loads(result.output)["hits"]] == ["2021-03-01-rmb"]


def _newsearch(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "NEWSEARCH_INDEX"} | env
    return subprocess.run(
        [sys.executable, "-m", "newsearch", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, env=environment,
    )


def test_first_search_builds_the_default_index_from_seeds(tmp_path: Path) -> None:
    (tmp_path / "seeds").mkdir()
    shutil.copy(SEED_FILE, tmp_path / "seeds")
    first = _newsearch(["search", "智能客服"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "No index at ./index yet; indexing seeds/ first." in first.stderr
    assert "(1 article added, 0 removed)" in first.stderr
    assert "瞄准**智能**化服务赛道" in first.stdout and "**智能客服**" in first.stdout
    assert (tmp_path / "index" / "newsearch.json").is_file()
    second = _newsearch(["search", "晓多科技", "--json"], tmp_path)
    assert second.stderr == ""
    assert [h["id"] for h in json.loads(second.stdout)["hits"]] == [SEED_ID]


def test_no_traceback_for_a_missing_path_in_a_subprocess(tmp_path: Path) -> None:
    result = _newsearch(["index", str(tmp_path / "missing"), "--index", str(tmp_path / "ix")], tmp_path)
    assert result.returncode == EXIT_USAGE
    assert result.stderr.strip().count("\n") == 0
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_help_for_every_command() -> None:
    for command in ("index", "search", "show", "stats", "check"):
        result = run(command, "--help")
        assert result.exit_code == 0
        assert "--index" in result.output


# --------------------------------------------------------------------------- options and query words


def test_an_unknown_option_is_an_error_that_offers_the_nearest(index_dir: Path) -> None:
    result = run("search", "汇率", "--catgory", "finance", "--index", index_dir)
    assert result.exit_code == EXIT_USAGE, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Error: No such option: --catgory") and "--category" in lines[0]
    assert "No articles match" not in result.output
    assert run("search", "汇率", "-x", "--index", index_dir).exit_code == EXIT_USAGE


def test_query_words_that_start_with_a_dash(index_dir: Path) -> None:
    def query(*args: str) -> tuple[str, list[str]]:
        result = run("search", "--index", index_dir, "--json", *args)
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        return data["query"], sorted(h["id"] for h in data["hits"])

    # No option starts with -CJK or -digit: such words are words, anywhere.
    assert query("客服", "-银行") == ("客服 -银行", ["2022-01-10-bot2"])
    assert query("-银行", "客服", "--exact") == ("-银行 客服", ["2022-01-10-bot2"])
    # After --, every argument is a word, -AI as well.
    assert query("--exact", "--", "客服", "-AI") == ("客服 -AI", ["2021-06-15-bot", "2022-01-10-bot2"])
    assert "newsearch search -- 客服 -AI" in " ".join(run("search", "--help").output.split())


# --------------------------------------------------------------------------- what reaches the terminal

ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x1b[31m"


def test_nothing_an_article_holds_reaches_the_terminal_as_a_control(tmp_path: Path, posts: Path) -> None:
    record = {
        "id": "esc", "date": "2021-12-02", "url": f"http://example.com/{ESCAPES}x",
        "title": f"{ESCAPES}客服热线\x9b2J\x1b[0m", "categories": [f"tech{ESCAPES}"], "tags": [f"客服{ESCAPES}", "热线"],
        "body": f"客服热线今天开通。{ESCAPES}热线\x1bc客服\r机器人\x7f\x85回答问题。\x1b]2;title\x1b\\客服",
    }
    (posts / "feed.jsonl").write_text(
        json.dumps(record, ensure_ascii=False) + "\n" + json.dumps({"title": f"x{ESCAPES}", "date": f"{ESCAPES}soon"}) + "\n",
        encoding="utf-8",
    )
    index = tmp_path / "ix"
    outputs = {
        "index": run("index", posts, "--index", index, "--verbose"),
        "search": run("search", "客服", "--index", index, "--explain"),
        "no match": run("search", f"{ESCAPES}无此词", "--tag", ESCAPES, "--index", index),
        "show": run("show", "esc", "--index", index),
        "similar": run("similar", "2021-06-15-bot", "--index", index),
        "topics": run("topics", "--since", "2021-12", "--until", "2021-12", "--index", index),
        "suggest": run("suggest", "客服", "--index", index),
        "stats": run("stats", "--index", index),
        "check": run("check", posts, "--index", index),
    }
    assert "客服热线" in outputs["show"].output and "热线客服机器人" in outputs["show"].output
    assert "tech" in outputs["stats"].output and "esc" in outputs["search"].output
    for name, result in outputs.items():
        assert result.exit_code in (0, EXIT_FAILED_FILES), (name, result.output)
        for control in ("\x1b", "\x07", "\x9b", "\x9c", "\r", "\x7f", "\x85"):
            assert control not in result.output, (name, control, result.output)
    # JSON keeps the text, escaped: C0 by json, DEL and C1 by newsearch.
    shown = run("show", "esc", "--index", index, "--json").output
    assert "\\u001b[2J" in shown and "\\u009b2J" in shown and "\x1b" not in shown and "\x9b" not in shown
    assert json.loads(shown)["title"] == record["title"]


def test_terminal_text_strips_sequences_and_controls() -> None:
    assert terminal_text("\x1b[2J\x1b]0;title\x07新闻\x1b[1;31m标题\x1b[0m") == "新闻标题"
    assert terminal_text("a\x9b31mb\x9d0;t\x9cc\x1b(Bd\x1bPq\x1b\\e") == "abcde"
    assert terminal_text("行一\n\t行二\r\x00\x08\x7f") == "行一\n\t行二"


# --------------------------------------------------------------------------- when nothing matches


def test_no_match_names_the_filters_and_the_count_without_them(index_dir: Path) -> None:
    result = run("search", "汇率", "--category", "tech", "--since", "2021-06", "--index", index_dir)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        """No articles match '汇率' with category "tech", since 2021-06.""",
        "Without the filters, 1 article matches '汇率'.",
    ]
    # Tags compare without case, so "ai" is the tag AI; 外包 is nobody's tag.
    result = run("search", "客服", "--tag", "ai", "--tag", "外包", "--index", index_dir)
    assert result.output.splitlines() == [
        """No articles match '客服' with tag "ai", tag "外包".""",
        """No tag "外包" in the index.""",
        "Without the filters, 2 articles match '客服'.",
    ]


def test_a_category_or_tag_the_index_lacks_gets_the_nearest_one(index_dir: Path) -> None:
    result = run("search", "客服", "--category", "tecch", "--tag", "汇", "--index", index_dir)
    lines = result.output.splitlines()
    assert """No category "tecch" in the index; did you mean "tech"?""" in lines
    assert """No tag "汇" in the index; did you mean "汇率"?""" in lines
    alone = run("search", "--category", "finanse", "--index", index_dir).output.splitlines()
    assert alone == [
        """No articles match category "finanse".""",
        """No category "finanse" in the index; did you mean "finance"?""",
        "The index holds 3 articles.",
    ]


# --------------------------------------------------------------------------- smaller things


def test_a_post_with_a_time_shows_it_and_one_without_shows_the_day(index_dir: Path, posts: Path) -> None:
    write_post(posts, "timed.md", "客服电话", "客服电话升级。")  # 2021-12-01 10:00:00 +0800
    assert run("index", posts, "--index", index_dir).exit_code == 0
    lines = run("search", "客服电话", "--index", index_dir, "--exact").output.splitlines()
    assert "   2021-12-01 10:00 · id timed" in lines
    show = run("show", "2021-03-01-rmb", "--index", index_dir).output.splitlines()
    assert "date:       2021-03-01" in show
    assert "date:       2021-12-01T10:00:00+08:00" in run("show", "timed", "--index", index_dir).output.splitlines()


def test_no_index_names_its_path_and_the_command_that_makes_it(tmp_path: Path) -> None:
    result = _newsearch(["search", "客服"], tmp_path)
    assert result.returncode == 1
    assert result.stderr == "Error: No newsearch index at ./index yet; create it with: newsearch index PATH...\n"
    result = _newsearch(["stats", "--index", "elsewhere"], tmp_path)
    assert result.stderr == (
        "Error: No newsearch index at ./elsewhere yet; create it with: newsearch index --index ./elsewhere PATH...\n"
    )


def test_a_page_past_the_end_says_so(index_dir: Path) -> None:
    result = run("search", "客服", "--limit", "1", "--page", "5", "--index", index_dir)
    assert result.exit_code == 0
    assert result.output.splitlines() == ["Page 5 is past the end: 2 articles match '客服', 2 pages."]


def test_a_filter_only_search_names_its_filters(index_dir: Path) -> None:
    first = run("search", "--tag", "汇率", "--index", index_dir).output.splitlines()[0]
    assert first == """1 article matches tag "汇率" (page 1 of 1)."""
    first = run("search", "--category", "tech", "--category", "finance", "--index", index_dir).output.splitlines()[0]
    assert first == """3 articles match category "tech" or "finance" (page 1 of 1)."""
    assert run("search", "--index", index_dir).output.startswith("3 articles match an empty query (every article)")


def test_help_shows_plain_flags_and_named_values() -> None:
    for command in ("index", "search", "suggest", "topics", "similar", "show", "stats", "check", "serve", "--help"):
        result = run(command, "--help") if command != "--help" else run("--help")
        assert result.exit_code == 0, result.output
        assert not re.search(r"<\w+|\{\w+\}|[╭│]", result.output), (command, result.output)
    index_help = run("index", "--help").output
    assert "Usage: newsearch index [OPTIONS] PATH..." in index_help
    assert re.search(r"^  --rebuild +Start a new index", index_help, re.M)
    assert re.search(r"^  -n, --limit N +Hits per page", run("search", "--help").output, re.M)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "客服", "--limit", "abc"], "Error: Invalid value for '--limit' / '-n': 'abc' is not a whole number."),
        (["search", "客服", "--half-life", "soon"], "Error: Invalid value for '--half-life': 'soon' is not a number."),
        (["stats", "--top", "x"], "Error: Invalid value for '--top': 'x' is not a whole number."),
        (["index"], "Error: Missing argument 'PATH'."),
    ],
)
def test_usage_errors_are_short_lines_without_a_box(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == EXIT_USAGE
    assert result.output.splitlines() == [message, f"See: newsearch {args[0]} --help"]


def _serve(index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsearch", "serve", "--index", str(index), "--port", "0", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, "NO_COLOR": "1"},
    )


def test_a_host_that_is_not_here_is_blamed_and_not_warned_about(index_dir: Path) -> None:
    result = _serve(index_dir, "--host", "192.0.2.1")  # TEST-NET-1: never an address of this machine
    assert result.returncode == EXIT_USAGE, result.stderr
    assert result.stderr.splitlines() == [
        "Error: Invalid value for --host: cannot listen on 192.0.2.1: it is not an address of this machine."
    ]


def test_the_warning_about_other_machines_comes_once_the_socket_is_bound(index_dir: Path) -> None:
    server = serving.start(index_dir, "--host", "0.0.0.0", "--no-access-log")
    try:
        assert server.json("/api/search", {"q": "客服"})[1]["total"] == 2
    finally:
        assert serving.stop(server, signal.SIGTERM) == 0
    log = "".join(server.log)
    assert log.startswith("Warning: listening on 0.0.0.0: other machines can search this index.\nServing "), log
    assert "(3 articles) at http://0.0.0.0:" in log


def test_topics_columns_line_up_with_wide_characters(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    for i in range(4):
        write_post(posts, f"new{i}.md", f"央行降准与iPhone销量{i}", "央行宣布降准。iPhone销量大涨，苹果公司表示满意。", date=f"2021-12-0{i + 1}")
        write_post(posts, f"old{i}.md", f"体育新闻{i}", "足球比赛今天举行，球迷很多。", date=f"2020-05-0{i + 1}")
    assert run("index", posts, "--index", tmp_path / "ix").exit_code == 0
    lines = run("topics", "--since", "2021-12", "--index", tmp_path / "ix").output.splitlines()
    keywords = [line.split("  ")[0] for line in lines]
    assert "iphone" in keywords and "苹果公司" in keywords, lines
    # The counts start in one column on a terminal, where a Chinese character takes two.
    def columns(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    assert len({columns(line[: line.index(" here")].rstrip("0123456789")) for line in lines}) == 1, lines
