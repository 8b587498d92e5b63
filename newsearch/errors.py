"""Exceptions raised by newsearch.

Every error a user can cause or fix derives from :class:`NewsearchError`, so a
caller (the CLI, a server, your program) can catch that one class::

    NewsearchError
    ├── IngestError            a source file or line could not be read or parsed
    ├── IndexNotFoundError     there is no newsearch index at the given path
    ├── SchemaMismatchError    the index was built by an incompatible version
    ├── IndexLockedError       another process is updating the index
    ├── IndexDamagedError      files of the index are missing or truncated
    ├── ArticleNotFoundError   no article has the given id
    ├── QuerySyntaxError       a query could not be parsed (search falls back to keywords)
    ├── InvalidArgumentError   a bad argument value (a date, a limit, a sort order)
    ├── ConfigError            a configuration file is missing or malformed
    └── StrictIndexingError    a strict update met a file it could not index

Messages are full sentences that say what to do next.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "ArticleNotFoundError",
    "ConfigError",
    "IndexDamagedError",
    "IndexLockedError",
    "IndexNotFoundError",
    "IngestError",
    "InvalidArgumentError",
    "NewsearchError",
    "QuerySyntaxError",
    "SchemaMismatchError",
    "StrictIndexingError",
]


class NewsearchError(Exception):
    """Base class of every error newsearch raises on purpose."""


class IngestError(NewsearchError):
    """A source file (or one line of a JSONL file) could not be turned into an article."""

    def __init__(self, path: str | Path, reason: str, *, line: int | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class IndexNotFoundError(NewsearchError):
    """There is no newsearch index at the given location."""

    def __init__(self, path: str | Path, detail: str | None = None) -> None:
        self.path = str(path)
        message = detail or (
            f"No newsearch index at {self.path}. "
            f"Create one with: newsearch index --index {self.path} PATH..."
        )
        super().__init__(message)


class SchemaMismatchError(NewsearchError):
    """The index on disk was written with an incompatible schema or analyzer."""

    def __init__(self, path: str | Path, found: object, expected: object) -> None:
        self.path = str(path)
        self.found = found
        self.expected = expected
        super().__init__(
            f"The index at {self.path} was built by an incompatible version of newsearch "
            f"(index format {found}, this version needs {expected}). "
            f"Rebuild it with: newsearch index --rebuild --index {self.path} PATH..."
        )


class IndexLockedError(NewsearchError):
    """Another process holds the index's write lock."""

    def __init__(self, path: str | Path, holder: str | None = None) -> None:
        self.path = str(path)
        self.holder = holder
        who = f" (process {holder})" if holder else ""
        super().__init__(
            f"Another newsearch process{who} is updating the index at {self.path}. "
            "Wait for it to finish and run the command again."
        )


class IndexDamagedError(NewsearchError):
    """Files of the index are missing or not the size they were written with.

    ``problems`` lists them, one sentence each."""

    def __init__(self, path: str | Path, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(
            f"The index at {self.path} is damaged: {problems[0]}{more}. "
            f"Rebuild it from the source files with: newsearch index --rebuild --index {self.path} PATH... "
            f"(see every problem with: newsearch check --index {self.path})"
        )


class ArticleNotFoundError(NewsearchError):
    """No article in the index has the requested id."""

    def __init__(self, article_id: str) -> None:
        self.article_id = article_id
        super().__init__(
            f"No article with id {article_id!r} in the index. "
            "Search for it first: the id is printed with every hit."
        )


class QuerySyntaxError(NewsearchError):
    """A query string is not valid query syntax."""

    def __init__(self, query: str, reason: str) -> None:
        self.query = query
        self.reason = reason
        super().__init__(f"Cannot parse query {query!r}: {reason}.")


class InvalidArgumentError(NewsearchError, ValueError):
    """An argument has a value newsearch cannot use."""

    def __init__(self, argument: str, message: str) -> None:
        self.argument = argument
        self.message = message
        super().__init__(f"Invalid value for {argument}: {message}")


class ConfigError(NewsearchError):
    """A configuration file could not be read or has a bad value."""

    def __init__(self, path: str | Path | None, message: str) -> None:
        self.path = None if path is None else str(path)
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{message}")


class StrictIndexingError(NewsearchError):
    """A strict update stopped at a file it could not index; nothing of it was committed.

    ``failed`` lists the failures met (:class:`~newsearch.results.FileFailure`)."""

    def __init__(self, failed: list[Any]) -> None:
        self.failed = list(failed)
        first = self.failed[0] if self.failed else "?"
        super().__init__(
            f"{first}. Nothing was committed (strict mode); fix or remove the file and run again, "
            "or index without --strict to skip the files that fail."
        )
