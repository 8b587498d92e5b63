"""newsearch: full-text search for archives of Chinese news posts.

    from newsearch import NewsIndex

    ix = NewsIndex.create("index")
    ix.update(["_posts"])
    results = ix.search("智能客服", since="2021-01", limit=5)
    for hit in results.hits:
        print(hit.date, hit.title, hit.snippet)

Names are imported lazily, so ``import newsearch`` stays cheap.
"""

import typing as _typing
from importlib import import_module as _import_module

__version__ = "0.1.0"

__all__ = [
    "Article",
    "ArticleNotFoundError",
    "CompactReport",
    "Config",
    "ConfigError",
    "DateHistogram",
    "Facets",
    "Hit",
    "IndexDamagedError",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexReport",
    "IndexStats",
    "IngestError",
    "InvalidArgumentError",
    "NewsIndex",
    "NewsearchError",
    "SchemaMismatchError",
    "SearchRequest",
    "SearchResults",
    "Snippet",
    "StrictIndexingError",
    "Suggestion",
    "Topic",
    "Version",
    "__version__",
]

_HOMES = {
    "Article": "documents",
    "ArticleNotFoundError": "errors",
    "CompactReport": "results",
    "Config": "config",
    "ConfigError": "errors",
    "DateHistogram": "results",
    "Facets": "results",
    "Hit": "results",
    "IndexDamagedError": "errors",
    "IndexLockedError": "errors",
    "IndexNotFoundError": "errors",
    "IndexReport": "results",
    "IndexStats": "results",
    "IngestError": "errors",
    "InvalidArgumentError": "errors",
    "NewsIndex": "index",
    "NewsearchError": "errors",
    "SchemaMismatchError": "errors",
    "SearchRequest": "request",
    "SearchResults": "results",
    "Snippet": "results",
    "StrictIndexingError": "errors",
    "Suggestion": "results",
    "Topic": "results",
    "Version": "results",
}

if _typing.TYPE_CHECKING:
    from .config import Config
    from .documents import Article
    from .errors import (
        ArticleNotFoundError,
        ConfigError,
        IndexDamagedError,
        IndexLockedError,
        IndexNotFoundError,
        IngestError,
        InvalidArgumentError,
        NewsearchError,
        SchemaMismatchError,
        StrictIndexingError,
    )
    from .index import NewsIndex
    from .request import SearchRequest
    from .results import (
        CompactReport,
        DateHistogram,
        Facets,
        Hit,
        IndexReport,
        IndexStats,
        SearchResults,
        Snippet,
        Suggestion,
        Topic,
        Version,
    )


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'newsearch' has no attribute {name!r}")
    value = getattr(_import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
