"""The OpenAPI description of ``newsearch serve`` matches the server: schemathesis
generates requests from ``/openapi.json`` (valid ones and invalid ones) and checks
every answer against it — statuses, content types, bodies — on a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import serving
from conftest import SEEDS

from newsearch import NewsIndex

ST = Path(sys.executable).with_name("st")  # schemathesis, from the test extras

# A date that has the form of one can still be refused with 400 (2021-02-30, or
# since after until): the schema cannot say so, the description of 400 does.
CONFIG = """\
[[operations]]
include-name = "GET /api/search"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx", "400"]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, customer_service_posts: Path):
    index = tmp_path_factory.mktemp("openapi") / "index"
    NewsIndex.create(index).update([customer_service_posts, SEEDS])
    with serving.running(index, "--no-access-log") as running:
        yield running
    assert "Traceback" not in "".join(running.log)


@pytest.mark.slow  # every operation with generated arguments: CI runs it with -m slow
def test_the_server_answers_as_its_openapi_description_says(server: serving.Server, tmp_path: Path) -> None:
    assert ST.exists(), f"schemathesis is not installed ({ST}): pip install -e '.[test]'"
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(ST), "--config-file", str(config), "--no-color", "run", server.url + "openapi.json",
        "--checks", "all", "--max-examples", "60", "--workers", "1", "--request-timeout", "20",
        "--report-dir", str(tmp_path / "report"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=110, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "6 selected / 6 total" in result.stdout  # every route of the API was tried
