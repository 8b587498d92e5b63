"""The README, the CLI and the public API agree with each other."""

from __future__ import annotations

import re
import subprocess
import sys

import newsearch
from conftest import REPO
from typer.testing import CliRunner

from newsearch.cli import app

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_public_api_is_small_and_importable() -> None:
    for name in newsearch.__all__:
        assert getattr(newsearch, name) is not None, name
    assert {"NewsIndex", "Article", "SearchResults", "Hit", "NewsearchError"} <= set(newsearch.__all__)


def test_import_does_not_load_jieba_or_whoosh() -> None:
    code = "import sys, newsearch; print('jieba' in sys.modules, 'whoosh' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_cli_loads_the_web_stack_only_to_serve() -> None:
    code = "import sys, newsearch.cli; print(*(m in sys.modules for m in ('fastapi', 'uvicorn', 'jinja2')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


def test_every_command_is_documented_with_help() -> None:
    commands = sorted(c.name for c in app.registered_commands)
    assert commands == ["check", "index", "search", "serve", "show", "similar", "stats", "suggest", "topics"]
    for name in commands:
        assert f"`newsearch {name}" in README, name
        result = CliRunner().invoke(app, [name, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_readme_has_the_two_fresh_machine_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    assert "pip install -e . && newsearch search 智能客服" in blocks[0]
    assert "pip install -e '.[test]'" in blocks[1] and "pytest" in blocks[1]
    # .ci/run runs the README's line itself, so the two cannot drift apart.
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "grep -m1 \"pip install -e '.\\[test\\]'\" README.md" in ci
