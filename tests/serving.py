"""Run ``newsearch serve`` as a real process on a free loopback port, for the API,
browser and signal tests."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

READY = re.compile(r"at (http://\S+/)")


@dataclass
class Server:
    """A running ``newsearch serve`` process and its base URL (``http://127.0.0.1:PORT/``)."""

    process: subprocess.Popen[str]
    url: str
    log: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    def get(self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of a GET request; error statuses are returned, not raised."""
        url = self.url.rstrip("/") + path
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers.items()), exc.read()

    def json(self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None) -> tuple[int, Any]:
        status, headers, body = self.get(path, params)
        assert headers.get("content-type", "").startswith("application/json"), (status, headers, body[:200])
        return status, json.loads(body)


def start(index: Path, *args: str, timeout: float = 60.0, command: list[str] | None = None) -> Server:
    """Start the server and wait until it listens; its stderr is read into ``log``.

    ``command`` replaces ``newsearch serve --index INDEX --port 0 ARGS...``: any program
    that prints ``at http://HOST:PORT/`` on stderr once it listens."""
    if command is None:
        command = [sys.executable, "-m", "newsearch", "serve", "--index", str(index), "--port", "0", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        found = READY.search(line)
        if found:
            server = Server(process, found.group(1), lines)
            _drain(server)
            _wait_until_up(server, deadline)
            return server
    process.kill()
    raise AssertionError("newsearch serve did not start:\n" + "".join(lines) + (process.stderr.read() or ""))


def _drain(server: Server) -> None:
    """Keep reading the server's stderr so that it never blocks on a full pipe."""
    import threading

    def pump() -> None:
        assert server.process.stderr is not None
        for line in server.process.stderr:
            server.log.append(line)

    threading.Thread(target=pump, daemon=True).start()


def _wait_until_up(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if server.get("/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("the server never answered /healthz:\n" + "".join(server.log))


def stop(server: Server, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
    """Send ``sig`` and return the exit code."""
    if server.process.poll() is None:
        server.process.send_signal(sig)
    try:
        return server.process.wait(timeout)
    except subprocess.TimeoutExpired:
        server.process.kill()
        raise AssertionError("the server did not stop:\n" + "".join(server.log)) from None


@contextmanager
def running(index: Path, *args: str, command: list[str] | None = None) -> Iterator[Server]:
    server = start(index, *args, command=command)
    try:
        yield server
    finally:
        stop(server)
