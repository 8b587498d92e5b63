"""The README, the CLI and the public API agree with each other."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import textwrap
import tomllib

import newsearch
from conftest import REPO
from typer.testing import CliRunner

from newsearch import config
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
    assert commands == ["check", "compact", "index", "search", "serve", "show", "similar", "stats", "suggest", "topics"]
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


def _settings_shown() -> dict[str, dict]:
    """The example settings of config.py's docstring and of the README, parsed."""
    doc = config.__doc__ or ""
    in_docstring = textwrap.dedent(doc[doc.index("::") + 2 : doc.index("Relative paths")])
    (in_readme,) = re.findall(r"```toml\n(.*?)\n```", README, re.S)
    return {"config.py": tomllib.loads(in_docstring), "README": tomllib.loads(in_readme)}


def test_the_settings_shown_are_the_defaults_and_config_py_shows_them_all() -> None:
    sections = config._SECTIONS  # noqa: SLF001
    for source, shown in _settings_shown().items():
        assert set(shown) == set(sections), source
        config.Config.from_dict(shown)  # every key exists and every value is valid
        for name, values in shown.items():
            if name == "analysis":  # examples of files, not defaults
                continue
            defaults = {f.name: f.default for f in dataclasses.fields(sections[name])}
            for key, value in values.items():
                assert value == defaults[key], (source, name, key)
    in_docstring = _settings_shown()["config.py"]
    for name, section in sections.items():
        assert set(in_docstring[name]) == {f.name for f in dataclasses.fields(section)}, name
