"""Synonym groups: a query term also finds the other members of its group.

The file has one group per line, members separated by ``=``::

    # comments and blank lines are ignored
    双十一 = 双11 = 光棍节
    人工智能 = AI

Members are compared after normalization (case, width, traditional script),
so ``ai`` and ``ＡＩ`` belong to the second group too.  Synonyms apply when a
query is compiled; changing the file never requires re-indexing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from .analysis import normalize
from .errors import ConfigError

__all__ = ["Synonyms", "load_synonyms"]


class Synonyms(Mapping[str, tuple[str, ...]]):
    """Normalized term → every member of its group (itself first)."""

    def __init__(self, groups: Iterable[tuple[str, ...]] = ()) -> None:
        self._map: dict[str, tuple[str, ...]] = {}
        for group in groups:
            members = tuple(dict.fromkeys(normalize(m) for m in group))
            for member in members:
                known = self._map.get(member, ())
                merged = tuple(dict.fromkeys((*known, *members)))
                for m in merged:
                    self._map[m] = merged

    def __getitem__(self, term: str) -> tuple[str, ...]:
        return self._map[term]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def expand(self, term: str) -> tuple[str, ...]:
        """``term`` followed by its synonyms (just ``term`` when it has none)."""
        group = self._map.get(term)
        if not group:
            return (term,)
        return (term, *(m for m in group if m != term))


NO_SYNONYMS = Synonyms()


def load_synonyms(path: str | Path | None) -> Synonyms:
    """Read a synonyms file; :class:`ConfigError` names the file and line of a problem."""
    if path is None:
        return NO_SYNONYMS
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(path, "synonyms file not found (check analysis.synonyms in newsearch.toml).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read the synonyms file: {exc}.") from None
    groups = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        members = [m.strip() for m in line.split("=")]
        if len(members) < 2 or not all(members):
            raise ConfigError(path, f"line {lineno}: expected 'word = synonym [= ...]', got {line!r}.")
        groups.append(tuple(members))
    return Synonyms(groups)
