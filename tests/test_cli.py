"""The newsearch command, run as a user runs it (typer's CliRunner and real subprocesses)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SEED_FILE, SEED_ID, write_post
from typer.testing import CliRunner

from newsearch.cli import EXIT_FAILED_FILES, EXIT_USAGE, app

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
    assert "2021-06-15 00:00 · tech · #AI #客服 · id 2021-06-15-bot" in result.output
    assert "**机器人**" in result.output


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
    data = json.loads(run("stats", "--index", index_dir, "--json").output)
    assert data["articles"] == 3 and data["tags"]["客服"] == 2


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
    assert "1 indexed" in result.output
    data = json.loads(run("stats", "--index", index_dir, "--json").output)
    assert data["articles"] == 1


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
    assert "indexing seeds/ first" in first.stderr
    assert "瞄准智能化服务赛道" in first.stdout and "**智能客服**" in first.stdout
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
