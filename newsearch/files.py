"""Files of the index folder written whole or not at all, and read through memory maps
checked once per request.

A file is written beside its target under a hidden temporary name, flushed to
disk, then renamed over the target, and the folder is flushed too: a crash or a
``kill -9`` leaves the previous version or the new one, never a part.  Used for
the manifest, the keyword idf table, the saved completions and the cached word list.

A file cut short under a memory map reads zeros, or kills the process where it
is read past its end; the columns read that way check their file's size on
their first read of each request (:data:`requests`), rather than with a system
call for every value.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["MapGuard", "RequestClock", "requests", "write_bytes", "write_json"]


class RequestClock:
    """Numbers the requests made of an index (a search, an article shown): what was
    checked during one need not be checked again during it."""

    def __init__(self) -> None:
        self.now = 0

    def tick(self) -> None:
        """A new request begins."""
        self.now += 1


requests = RequestClock()


class MapGuard:
    """Whether a memory-mapped file still holds its first ``needed`` bytes, asked of
    the file once per request (:data:`requests`)."""

    __slots__ = ("fileno", "needed", "_checked")

    def __init__(self, fileno: int, needed: int) -> None:
        self.fileno = fileno
        self.needed = needed
        self._checked = -1  # the request that last found the file whole

    def whole(self) -> bool:
        if self._checked == requests.now:
            return True
        if os.fstat(self.fileno).st_size < self.needed:
            return False
        self._checked = requests.now
        return True


def write_json(path: Path, data: Any, *, indent: int | None = None) -> None:
    """Replace ``path`` with ``data`` as UTF-8 JSON (compact unless ``indent`` is given)."""
    text = json.dumps(data, ensure_ascii=False, indent=indent, separators=None if indent else (",", ":"))
    write_bytes(path, (text + "\n" if indent is not None else text).encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(path: Path) -> None:
    """Flush a folder's entries (the rename) to disk, where the system allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
