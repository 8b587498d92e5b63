"""How newsearch's modules depend on one another: one way, without a circle, and with
Whoosh, jieba and the web stack inside the few modules whose job is to face them.

Imports are read from the source, at every depth (an import inside a function is
a dependency too), so a circle cannot hide behind a lazy import.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import newsearch

PACKAGE = Path(newsearch.__file__).parent
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py"))

# The modules that face each third-party engine, and only they.
FACING = {
    "whoosh": {"codec", "compiler", "execute", "matching", "merge", "readers", "schema", "sketchcolumn", "store", "textcolumn", "toc"},
    "jieba": {"segmenter"},
    "opencc": {"analysis"},
    "typer": {"cli"},
    "fastapi": {"server"},
    "uvicorn": {"server"},
    "distributed": {"cluster"},
    "dask": set(),
    "jinja2": {"server"},
    "starlette": {"server"},
}


@cache
def imports(module: str) -> tuple[set[str], set[str]]:
    """(newsearch modules, top-level third-party packages) that ``module`` imports anywhere."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    own: set[str] = set()
    others: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "newsearch"):
            path = (node.module or "").split(".")
            if node.level == 0:
                path = path[1:]
            if path and path[0]:
                own.add(path[0])
            else:  # from . import x: a module, or a name of the package itself
                own.update(alias.name if alias.name in MODULES else "__init__" for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            others.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "newsearch":
                    own.add(alias.name.split(".")[1] if "." in alias.name else "__init__")
                else:
                    others.add(top)
    own.discard(module)
    return own, others


def test_every_module_is_read() -> None:
    assert {"index", "query", "compiler", "store", "toc", "cli", "server"} <= set(MODULES)
    assert imports("index")[0] >= {"store", "search", "request"} and "whoosh" in imports("store")[1]


def test_the_modules_import_each_other_without_a_circle() -> None:
    graph = {module: imports(module)[0] for module in MODULES}
    assert set().union(*graph.values()) <= set(MODULES)
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import circle: " + " -> ".join([*path[path.index(module) :], module]))
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, [*path, module])
        done.add(module)

    for module in MODULES:
        visit(module, [])


def test_whoosh_jieba_and_the_web_stack_stay_in_the_modules_that_face_them() -> None:
    for package, allowed in FACING.items():
        users = {module for module in MODULES if package in imports(module)[1]}
        assert users == allowed & set(MODULES), package


def test_nothing_imports_the_command_line_or_the_server() -> None:
    for front in ("cli", "server"):
        users = {module for module in MODULES if front in imports(module)[0]}
        assert users <= {"__main__", "cli"}, (front, users)


def test_the_parser_and_the_text_pipeline_load_no_engine() -> None:
    # Loading what does not face the index loads no Whoosh, in a fresh interpreter.
    light = ["query", "request", "analysis", "ingest", "documents", "dates", "highlight", "results", "config", "fields"]
    code = f"import sys\nimport {', '.join('newsearch.' + m for m in light)}\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & {{'whoosh', 'jieba', 'fastapi'}}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _readme_stages() -> list[tuple[str, list[str]]]:
    """The README's Layout table: (stage, its modules) in order."""
    text = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    table = text[text.index("## Layout") :].split("\n\n")[2]
    stages: list[tuple[str, list[str]]] = []
    for row in table.splitlines()[2:]:
        stage, modules, _job = (cell.strip() for cell in row.strip("|").split("|"))
        if stage:
            stages.append((stage, []))
        stages[-1][1].extend(name[: -len(".py")] for name in re.findall(r"`([\w]+\.py)`", modules))
    return stages


def test_the_readme_lists_every_module_once() -> None:
    listed = [module for _stage, modules in _readme_stages() for module in modules]
    assert sorted(listed) == MODULES


def test_data_flows_down_the_readmes_stages() -> None:
    # A module imports from its own stage and the stages above it, never from below.
    stages = _readme_stages()
    rank = {module: number for number, (_stage, modules) in enumerate(stages) for module in modules}
    upward = [
        f"{module} ({stages[rank[module]][0]}) imports {imported} ({stages[rank[imported]][0]})"
        for module in MODULES
        for imported in sorted(imports(module)[0])
        if rank[imported] > rank[module]
    ]
    assert upward == []
