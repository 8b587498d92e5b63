"""Configuration: one frozen dataclass per concern, with named defaults.

A configuration file is TOML, read from ``newsearch.toml`` in the index folder
or from a path given with ``--config``.  Every key is optional::

    [indexing]
    workers = 0                # analysis processes; 0 = one per core
    batch_size = 5000          # files per job at most; each job becomes a segment, committed when done
    memory_mb = 128            # buffered postings per worker: jobs are cut to fit
    max_file_mb = 20           # larger files (in a .jsonl feed: larger lines) are reported and skipped
    merge_factor = 4           # segments of one size tier merged into one after a run (0: never merge)
    merge_floor_mb = 8         # smaller segments all share the lowest tier
    merge_max_mb = 4000        # segments over half of this are not merged again
    merge_deletes = 0.3        # a segment with this share of deleted articles is rewritten

    [ranking]
    title_boost = 3.0          # a word in the title counts like three in the body
    keyword_boost = 2.0        # a word carried as a tag, category or keyword
    half_life_days = 30.0      # --sort recent: a match this much older counts half
    min_match = 0.75           # share of the words of a longer plain query an article must hold
    fill = 10                  # fewer matches than this: words held in part count, then fewer words
    subword_idf = 0.7          # a word inside a query word (尘肺 of 尘肺病) nearly as rare stands for it
    length_norm = 0.75         # BM25's b: long articles need more occurrences
    proximity = 0.5            # the query's words close together lift a score
    proximity_chars = 20.0     # characters between them at which that counts half
    exact_bonus = 0.5          # every term exactly as typed lifts a score
    inside_word = 0.3          # what a match inside a longer word counts (大学生 in 北京大学生命)
    compound_gap = 8           # characters allowed between the parts of a word (网络的安全)
    every_word_first = false   # true: every word in full before anything else, whatever the score
    rerank_depth = 30          # the best matches whose text is read to order them (a page and its near-duplicates)

    [snippets]
    max_passages = 3
    passage_chars = 120

    [analysis]
    user_dicts = ["names.txt"]  # jieba user dictionaries (word [freq] [tag] per line)
    synonyms = "synonyms.txt"   # lines like: 双十一 = 双11 = 光棍节

    [server]
    host = "127.0.0.1"         # newsearch serve: loopback only unless told otherwise
    port = 8000
    workers = 1                # processes answering requests (one core each)
    max_query_chars = 200      # longer queries are refused (422)
    max_limit = 100            # hits per page
    max_page = 1000

    [cluster]
    address = ""               # the Dask scheduler, tcp://HOST:PORT or tls://HOST:PORT (or --cluster)
    timeout = 10.0             # seconds a shard may take before results go without it (flagged partial)
    tls_ca_file = ""           # with tls://: the cluster's CA, and this client's certificate and key
    tls_cert = ""
    tls_key = ""
    direct = true              # call the shards' workers directly; false: through the scheduler (one hop more)

Relative paths in ``[analysis]`` are relative to the configuration file.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .documents import content_hash
from .errors import ConfigError

__all__ = [
    "AnalysisConfig",
    "ClusterConfig",
    "CONFIG_FILENAME",
    "Config",
    "DEFAULT_CONFIG",
    "DEFAULT_INDEX_DIR",
    "IndexingConfig",
    "RankingConfig",
    "ServerConfig",
    "SnippetConfig",
    "default_index_dir",
]

CONFIG_FILENAME = "newsearch.toml"
DEFAULT_INDEX_DIR = "index"
INDEX_ENV_VAR = "NEWSEARCH_INDEX"


@dataclass(frozen=True)
class IndexingConfig:
    """How files are read and committed."""

    batch_size: int = 5000
    """Files per job: each job becomes one segment, committed as soon as it is done."""
    max_file_mb: float = 20.0
    """Larger posts are reported and skipped; a JSON Lines feed may be of any size, and
    the limit applies to each of its lines (one article), which are read one by one."""
    workers: int = 0
    """Analysis processes; 0 means one per core."""
    memory_mb: int = 128
    """Memory for the postings a worker buffers: jobs are cut to fit (about 11.6 MB of text).
    Larger jobs make fewer segments to merge but cost memory, and beyond this size no
    time: at 30,000 articles, 256 took 154 s and 718 MB (PSS, all processes), 128 took
    151 s and 638 MB, 96 took 157 s and 598 MB."""
    merge_factor: int = 4
    """After a run, this many segments of one size tier are merged into one (a tier spans
    sizes within this factor of each other), so an index keeps at most ``merge_factor - 1``
    segments per tier and an article is rewritten once per tier; 0 never merges."""
    merge_floor_mb: float = 8.0
    """Segments smaller than this share the lowest tier, where small runs' segments are
    merged together whatever their sizes."""
    merge_max_mb: float = 4000.0
    """Segments larger than half of this are not merged again (no file of a segment may
    reach 4 GiB: Whoosh's columns hold 32-bit offsets)."""
    merge_deletes: float = 0.3
    """A segment whose share of deleted or replaced articles reaches this is rewritten."""

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("indexing.batch_size must be at least 1.")
        if self.workers < 0:
            raise ValueError("indexing.workers must be 0 (one per core) or more.")
        if self.memory_mb < 16:
            raise ValueError("indexing.memory_mb must be at least 16.")
        if self.max_file_mb <= 0:
            raise ValueError("indexing.max_file_mb must be positive.")
        if self.merge_factor == 1 or self.merge_factor < 0:
            raise ValueError("indexing.merge_factor must be 0 (never merge) or at least 2.")
        if self.merge_floor_mb <= 0 or not 0 < self.merge_max_mb <= 4000:
            raise ValueError("indexing.merge_floor_mb must be positive and indexing.merge_max_mb between 0 and 4000.")
        if not 0 < self.merge_deletes <= 1:
            raise ValueError("indexing.merge_deletes must be above 0 and at most 1.")


@dataclass(frozen=True)
class RankingConfig:
    """How hits are scored (see :mod:`newsearch.ranking` for the plain queries people type)."""

    title_boost: float = 3.0
    """A word in the title counts this many times one in the body."""
    keyword_boost: float = 2.0
    """An article carrying a query word as a tag, category or keyword: like this many body occurrences."""
    half_life_days: float = 30.0
    """For ``sort="recent"``: an article this many days older than another scores half as much."""
    min_match: float = 0.75
    """Share of the words of a plain query of three words or more an article must hold
    (rounded down; a query of one or two words needs them all)."""
    fill: int = 10
    """When fewer articles than this match, words held in part count, then fewer words."""
    subword_idf: float = 0.7
    """A dictionary word inside a query word (尘肺 of 尘肺病) stands for it when its idf is
    at least this share of the word's."""
    length_norm: float = 0.75
    """BM25's b: 0 ignores an article's length, 1 divides by it in full."""
    proximity: float = 0.5
    """How much the query's words standing together lift a score (0: not at all)."""
    proximity_chars: float = 20.0
    """Characters between the query's words at which proximity counts half."""
    exact_bonus: float = 0.5
    """How much holding every term exactly as typed lifts a score."""
    inside_word: float = 0.3
    """What an occurrence inside a longer word (大学生 in 北京大学生命) counts, against 1."""
    compound_gap: int = 8
    """Characters allowed between the parts of a word (网络的安全 for 网络安全)."""
    every_word_first: bool = False
    """Rank the articles that hold every word of the query in full before all others
    (Meilisearch's first rule); otherwise the share of words held weighs the score."""
    rerank_depth: int = 30
    """The best matches whose text is read to order them."""

    def __post_init__(self) -> None:
        if self.title_boost <= 0:
            raise ValueError("ranking.title_boost must be positive.")
        for name in ("keyword_boost", "proximity", "exact_bonus"):
            if getattr(self, name) < 0:
                raise ValueError(f"ranking.{name} must be zero or positive.")
        for name in ("min_match", "length_norm", "inside_word", "subword_idf"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"ranking.{name} must be between 0 and 1.")
        if self.proximity_chars <= 0:
            raise ValueError("ranking.proximity_chars must be positive.")
        if self.compound_gap < 0 or self.rerank_depth < 1 or self.fill < 0:
            raise ValueError("ranking.compound_gap and ranking.fill must be zero or more, ranking.rerank_depth 1 or more.")
        days = self.half_life_days
        if isinstance(days, bool) or not isinstance(days, (int, float)) or not days > 0:
            raise ValueError("ranking.half_life_days must be a positive number of days.")


@dataclass(frozen=True)
class SnippetConfig:
    """How many passages a snippet shows, and how long each may be."""

    max_passages: int = 3
    passage_chars: int = 120

    def __post_init__(self) -> None:
        if not 1 <= self.max_passages <= 10:
            raise ValueError("snippets.max_passages must be between 1 and 10.")
        if self.passage_chars < 20:
            raise ValueError("snippets.passage_chars must be at least 20.")


@dataclass(frozen=True)
class AnalysisConfig:
    """Dictionaries and synonyms: jieba user dictionaries change word segmentation
    (and so ranking) and require re-analysis; synonyms apply at query time."""

    user_dicts: tuple[str, ...] = ()
    synonyms: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.user_dicts, str):
            object.__setattr__(self, "user_dicts", (self.user_dicts,))
        object.__setattr__(self, "user_dicts", tuple(str(p) for p in self.user_dicts))
        if self.synonyms is not None and not isinstance(self.synonyms, str):
            raise ValueError("analysis.synonyms must be a file path.")

    def resolved(self, base: Path) -> AnalysisConfig:
        """The same settings with relative paths made absolute against ``base``."""
        def absolute(p: str) -> str:
            return str((base / p).resolve()) if not os.path.isabs(p) else p

        return AnalysisConfig(
            user_dicts=tuple(absolute(p) for p in self.user_dicts),
            synonyms=absolute(self.synonyms) if self.synonyms else None,
        )

    def fingerprint(self) -> dict[str, Any]:
        """What the index records about these settings: each file's path and content hash."""
        return {
            "user_dicts": [[p, _file_digest(p, "analysis.user_dicts")] for p in self.user_dicts],
            "synonyms": [self.synonyms, _file_digest(self.synonyms, "analysis.synonyms")] if self.synonyms else None,
        }


@dataclass(frozen=True)
class ServerConfig:
    """Where ``newsearch serve`` listens, and how much one request may ask for."""

    host: str = "127.0.0.1"
    """Loopback by default: only this machine can connect."""
    port: int = 8000
    workers: int = 1
    """Processes answering requests; each searches on one core, with its own copy of the caches."""
    max_query_chars: int = 200
    max_limit: int = 100
    """Most hits one page (or similar-articles list) may hold."""
    max_page: int = 1000

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise ValueError("server.host must be a host name or address.")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError("server.port must be a port number, 0 to 65535 (0: any free port).")
        for name in ("workers", "max_query_chars", "max_limit", "max_page"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"server.{name} must be a positive whole number.")


@dataclass(frozen=True)
class ClusterConfig:
    """How newsearch reaches the shards of an archive on a Dask cluster (``--cluster``)."""

    address: str = ""
    """The scheduler, ``tcp://HOST:PORT`` or ``tls://HOST:PORT``; ``--cluster`` gives it too."""
    timeout: float = 10.0
    """Seconds a shard may take to answer a search before the results go without it
    (flagged as partial); also the time to connect to the scheduler."""
    tls_ca_file: str = ""
    """With a ``tls://`` scheduler: the certificate authority that signed the cluster's
    certificates, and this client's certificate and key (Dask's ``Security``)."""
    tls_cert: str = ""
    tls_key: str = ""
    direct: bool = True
    """Call the workers that hold the shards directly, as Dask's ``direct_to_workers``
    does (this machine must reach their addresses).  False sends each call through the
    scheduler, which relays it: one hop more each way, for a client that can reach only
    the scheduler."""

    def __post_init__(self) -> None:
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) or not 0 < self.timeout <= 3600:
            raise ValueError("cluster.timeout must be a number of seconds, above 0 and at most 3600.")
        if not isinstance(self.direct, bool):
            raise ValueError("cluster.direct must be true or false.")
        if self.tls_cert and not self.tls_key or self.tls_key and not self.tls_cert:
            raise ValueError("cluster.tls_cert and cluster.tls_key go together.")


def _file_digest(path: str, setting: str) -> str:
    try:
        return content_hash(Path(path).read_bytes())
    except FileNotFoundError:
        raise ConfigError(path, f"file not found (named by {setting}).") from None
    except OSError as exc:
        raise ConfigError(path, f"cannot read it ({exc.strerror}; named by {setting}).") from None


@dataclass(frozen=True)
class Config:
    """All settings of an index, its searches and its snippets."""

    indexing: IndexingConfig = field(default_factory=IndexingConfig)
    ranking: RankingConfig = field(default_factory=RankingConfig)
    snippets: SnippetConfig = field(default_factory=SnippetConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    @classmethod
    def from_file(cls, path: str | Path) -> Config:
        """Read a TOML configuration file; unknown sections or keys are errors."""
        path = Path(path)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(path, "configuration file not found.") from None
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(path, f"cannot read configuration: {exc}.") from None
        return cls.from_dict(data, source=path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str | Path | None = None) -> Config:
        """Build a configuration from nested dicts shaped like the TOML file."""
        sections = _SECTIONS
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name not in sections:
                known = ", ".join(sorted(sections))
                raise ConfigError(source, f"unknown section [{name}] (known: {known}).")
            if not isinstance(value, dict):
                raise ConfigError(source, f"[{name}] must be a table of settings.")
            section_cls = sections[name]
            known_keys = {f.name for f in dataclasses.fields(section_cls)}
            unknown = set(value) - known_keys
            if unknown:
                raise ConfigError(
                    source,
                    f"unknown key {name}.{sorted(unknown)[0]} "
                    f"(known: {', '.join(sorted(known_keys))}).",
                )
            try:
                section = section_cls(**value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(source, str(exc)) from None
            if isinstance(section, AnalysisConfig):
                base = Path(source).parent if source is not None else Path.cwd()
                section = section.resolved(base)
            kwargs[name] = section
        return cls(**kwargs)

    @classmethod
    def for_index(cls, index_dir: str | Path, config_path: str | Path | None = None) -> Config:
        """The configuration for an index: an explicit file, else the index's own, else defaults."""
        if config_path is not None:
            return cls.from_file(config_path)
        candidate = Path(index_dir) / CONFIG_FILENAME
        if candidate.is_file():
            return cls.from_file(candidate)
        return DEFAULT_CONFIG


DEFAULT_CONFIG = Config()
_SECTIONS: dict[str, type] = {
    "indexing": IndexingConfig,
    "ranking": RankingConfig,
    "snippets": SnippetConfig,
    "analysis": AnalysisConfig,
    "server": ServerConfig,
    "cluster": ClusterConfig,
}


def default_index_dir() -> Path:
    """The index used when none is given: ``$NEWSEARCH_INDEX``, else ``./index``."""
    return Path(os.environ.get(INDEX_ENV_VAR) or DEFAULT_INDEX_DIR)
