"""The front door: ``newsearch.__all__`` is exactly the sorted public names, and the
lazy-import table and the names for type checkers list the same ones."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import newsearch

INIT = Path(newsearch.__file__)


def test_all_is_sorted() -> None:
    assert newsearch.__all__ == sorted(newsearch.__all__)
    assert len(set(newsearch.__all__)) == len(newsearch.__all__)


def test_all_is_exactly_the_public_names_of_the_package() -> None:
    # In a fresh interpreter: importing the package loads none of its modules, and once
    # every exported name is used, its public names (other than its submodules) are
    # exactly __all__.
    script = """
import json, sys, types
import newsearch
loaded = sorted(m for m in sys.modules if m.startswith("newsearch."))
for name in newsearch.__all__:
    getattr(newsearch, name)
public = sorted(
    name for name, value in vars(newsearch).items()
    if (not name.startswith("_") or name == "__version__") and not isinstance(value, types.ModuleType)
)
print(json.dumps({"loaded": loaded, "public": public, "dir": sorted(set(dir(newsearch)) & set(public))}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    assert found["loaded"] == []
    assert found["public"] == newsearch.__all__
    assert found["dir"] == newsearch.__all__


def test_the_lazy_table_and_the_type_checking_imports_match_all() -> None:
    homes = newsearch._HOMES  # noqa: SLF001
    assert sorted([*homes, "__version__"]) == newsearch.__all__
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    (block,) = [node for node in tree.body if isinstance(node, ast.If)]  # if _typing.TYPE_CHECKING:
    imported = {alias.name: node.module for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert imported == homes
    for name, home in homes.items():
        value = getattr(newsearch, name)
        assert value.__module__ == f"newsearch.{home}", name
        assert getattr(sys.modules[f"newsearch.{home}"], "__all__", None) is None or name in sys.modules[f"newsearch.{home}"].__all__


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        newsearch.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
