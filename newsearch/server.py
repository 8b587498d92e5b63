"""``newsearch serve``: the HTTP API and the search page, a thin layer over
:class:`~newsearch.NewsIndex`.

    GET /api/search?q=智能客服&since=2021   the JSON of ``newsearch search --json``
    GET /api/articles/{id}                 the JSON of ``newsearch show --json``
    GET /api/articles/{id}/similar         the JSON of ``newsearch similar --json``
    GET /api/stats, /api/suggest?q=, /healthz, /openapi.json
    GET /, /articles/{id}                  the search page and an article's page

Read-only: nothing here writes to the index or reads a path a client names.
The index is opened once; every request sees the latest committed state, so
``newsearch index`` can run beside the server.  Errors are JSON
``{"error": {"status", "message", "parameter"}}`` (HTML on the pages), never a
traceback.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the parameter
# annotations (bounds taken from the settings) at run time.

import dataclasses
import json
import logging
import os
import socket
import threading
from contextlib import AbstractContextManager, nullcontext
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import jinja2
from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParameter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
import h11
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from . import __version__
from .config import Config
from .errors import ArticleNotFoundError, IndexDamagedError, InvalidArgumentError, NewsearchError
from .cluster import ClusterIndex
from .index import NewsIndex
from .request import SearchRequest, Sort, offset_of_page

__all__ = ["create_app", "serve"]

log = logging.getLogger("newsearch.server")
T = TypeVar("T")
HERE = Path(__file__).parent
PAGE_SIZE = 10
MAX_FILTER_VALUES = 20
"""Most values of ``category`` or ``tag`` one request may carry (422 beyond)."""
MAX_URL_BYTES = 8192
"""Longest path and query string read (414 beyond), as encoded on the request line."""
MAX_ECHO_CHARS = 100
"""Longest value an error message repeats (an id, say), the rest cut with "…"."""
PAGE_HEADERS = {
    # Defence in depth behind escaping: no inline or foreign script can run.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


# What a date bound may look like (2021, 2021-12, 2021-12-25, 2021/12/25, 2021年12月,
# 2021年12月25日, 202112, 20211225, or a span FROM..TO of two of them): checked before the
# search, so the OpenAPI description says what is accepted.  A date in this form can
# still be refused (400): 2021-13, or since after until.
_DATE = r"[0-9]{1,4}年?|[0-9]{4}(?:[-/.][0-9]{1,2}(?:[-/.][0-9]{1,2})?|年[0-9]{1,2}月(?:[0-9]{1,2}日)?)|[0-9]{6}(?:[0-9]{2})?"
DATE_PATTERN = rf"^(?: *(?:{_DATE})(?:\.\.(?:{_DATE}))? *)?$"
_DATE_MEANS = "a date of year 1 to 9999 (2021, 2021-12, 2021-12-25, 2021年12月) or a span FROM..TO of them"
_PATTERN_MEANS = {"since": _DATE_MEANS, "until": _DATE_MEANS, "article_id": "an article id (no control characters)"}
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
"""An article id: any text without control characters (a slash is fine)."""


class ErrorDetail(BaseModel):
    status: int
    message: str
    parameter: str | None


class ErrorAnswer(BaseModel):
    """What every error answer of the API holds."""

    error: ErrorDetail


_ERRORS = {
    400: "A value the search cannot use: a date that does not exist (2021-13), or since after until.",
    404: "No article with this id.",
    414: "The URL is too long.",
    422: "A parameter is malformed or out of bounds; error.parameter names it.",
    503: "The index cannot be read: it is gone or damaged.",
}


def _answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route, for its OpenAPI description."""
    return {status: {"model": ErrorAnswer, "description": _ERRORS[status]} for status in (*statuses, 414, 503)}


class _FrontDoor:
    """What happens before routing: a URL over :data:`MAX_URL_BYTES` gets ``too_long``'s
    answer (414), and ``HEAD`` is answered as ``GET`` (the ASGI server, which still
    knows the request was HEAD, sends the headers without the body)."""

    def __init__(self, app: ASGIApp, too_long: Callable[[Request], Response]) -> None:
        self.app = app
        self.too_long = too_long

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["method"] == "HEAD":
                scope = {**scope, "method": "GET"}
            size = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
            if size > MAX_URL_BYTES:
                await self.too_long(Request(scope))(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, answering 414 rather than a bare 400 when a request
    line outgrows what h11 buffers (16 KB) before it ends: a long URL that arrives in
    pieces never reaches the application (one that arrives at once does: :class:`_FrontDoor`)."""

    def send_400_response(self, msg: str) -> None:
        pending, _ = self.conn.trailing_data
        if len(pending) <= MAX_URL_BYTES or b"\r\n" in pending[: MAX_URL_BYTES + 16]:
            super().send_400_response(msg)
            return
        body = json.dumps({"error": {"status": 414, "message": _URL_TOO_LONG, "parameter": None}}).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        self.transport.write(self.conn.send(h11.Response(status_code=414, headers=headers, reason=b"URI Too Long")))
        self.transport.write(self.conn.send(h11.Data(data=body)))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()


_URL_TOO_LONG = f"The URL is too long: at most {MAX_URL_BYTES} bytes of path and query are read."


def _shown(value: str) -> str:
    """``value`` as an error message repeats it: at most :data:`MAX_ECHO_CHARS` characters."""
    return value if len(value) <= MAX_ECHO_CHARS else value[:MAX_ECHO_CHARS] + "…"


Index = NewsIndex | ClusterIndex
"""One machine's index, or an archive in shards on a cluster: the server reads both alike."""


class _SharedIndex:
    """One open index for all request threads.  A :class:`NewsIndex`'s searcher
    (Whoosh's) is not made for concurrent use, so its calls take turns; a search is
    CPU-bound Python anyway, and more cores are used with worker processes.  A
    :class:`ClusterIndex` spends a search mostly waiting on its shards, so its calls
    run at once: each worker's actor takes them in turn while the others work."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self._lock: AbstractContextManager[Any] = nullcontext() if isinstance(index, ClusterIndex) else threading.Lock()

    def __call__(self, call: Callable[[Index], T]) -> T:
        with self._lock:
            return call(self._index)


# Fields of a search request whose query parameter has another name, and those that
# the page's links leave out (the page always shows facets; explain is for the API).
_PARAMETERS = {"query": "q", "tags": "tag", "half_life_days": "half_life", "offset": "page"}
_NOT_IN_LINKS = {"facets", "facet_limit", "explain"}


def search_url(request: SearchRequest, path: str = "/", *, page: int | None = None, **changes: Any) -> str:
    """The page URL of ``request`` with some fields changed (by their names in
    :class:`SearchRequest`) or another ``page``; changing a field goes back to page
    1.  Values at their defaults are left out."""
    pairs = search_fields(request, page=page, **changes)
    return path + ("?" + urlencode(pairs) if pairs else "")


def search_fields(request: SearchRequest, *, page: int | None = None, **changes: Any) -> list[tuple[str, Any]]:
    """The query parameters of :func:`search_url`, as (name, value) pairs: the hidden
    fields of a form that submits ``request`` changed."""
    if changes:
        request = dataclasses.replace(request, offset=0, **changes)
    if page is not None and request.limit:
        request = dataclasses.replace(request, offset=(page - 1) * request.limit)
    pairs: list[tuple[str, Any]] = []
    for spec in sorted(dataclasses.fields(request), key=lambda f: f.name != "query"):
        value = getattr(request, spec.name)
        if not spec.init or spec.name in _NOT_IN_LINKS or value == spec.default:
            continue
        if spec.name == "offset":
            value = request.page
        for item in value if isinstance(value, tuple) else [value]:
            if item not in (None, ""):
                pairs.append((_PARAMETERS.get(spec.name, spec.name), str(item).lower() if isinstance(item, bool) else item))
    return pairs


def create_app(index: Index, config: Config | None = None, *, show_paths: bool = False) -> FastAPI:
    """The ASGI application serving ``index`` (run it with any ASGI server).

    Where an article's source file lives on the server is the server's business:
    the API leaves its ``path`` out unless ``show_paths``."""
    cfg = (config or index.config).server

    def paths_hidden(data: dict[str, Any]) -> dict[str, Any]:
        """``data`` (an article, or results with ``hits``) without source paths, unless shown."""
        if not show_paths:
            data.pop("path", None)
            for hit in data.get("hits", ()):
                hit.pop("path", None)
        return data

    shared = _SharedIndex(index)
    # Completions are prepared now (about 40 s at 100,000 articles the first time, then
    # read from the index folder); after a commit, new ones are prepared in the
    # background while the old ones answer (stale_ok below).  (A cluster with a shard
    # lost prepares them at the first completion asked once it is back.)
    shared(lambda ix: ix.suggest("", limit=1, stale_ok=True))
    app = FastAPI(
        title="newsearch",
        version=__version__,
        description="Full-text search over an archive of Chinese news articles. Read-only.",
        docs_url=None,  # the interactive docs load scripts from a CDN; /openapi.json is enough
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(_FrontDoor, too_long=lambda request: error(request, 414, _URL_TOO_LONG))
    pages = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    pages.globals["host"] = _source
    pages.globals["url"] = search_url
    pages.globals["fields"] = search_fields
    pages.globals["article_url"] = _article_url
    pages.globals["page_size"] = PAGE_SIZE

    def search_request(
        q: Annotated[str, Query(max_length=cfg.max_query_chars, description="Keywords; the CLI's query syntax.")] = "",
        category: Annotated[
            list[str], Query(max_length=MAX_FILTER_VALUES, description="Only this category (repeat: any of several).")
        ] = [],  # noqa: B006
        tag: Annotated[
            list[str], Query(max_length=MAX_FILTER_VALUES, description="Only articles with this tag (repeat: all of them).")
        ] = [],  # noqa: B006
        since: Annotated[
            str | None, Query(max_length=40, pattern=DATE_PATTERN, description="2021, 2021-12, 2021-12-25 or 2021年12月.")
        ] = None,
        until: Annotated[
            str | None, Query(max_length=40, pattern=DATE_PATTERN, description="Up to this date, inclusive.")
        ] = None,
        sort: Sort = "relevance",
        half_life: Annotated[float | None, Query(gt=0, description="With sort=recent: days for a score to halve.")] = None,
        facets: bool = True,
        collapse: bool = True,
        page: Annotated[int, Query(ge=1, le=cfg.max_page)] = 1,
        limit: Annotated[int, Query(ge=1, le=cfg.max_limit)] = PAGE_SIZE,
        explain: bool = False,
        exact: Annotated[bool, Query(description="Only articles that hold every term as typed.")] = False,
    ) -> SearchRequest:
        return SearchRequest(
            q,
            category=category,
            tags=tag,
            since=since or None,
            until=until or None,
            sort=sort,
            half_life_days=half_life,
            facets=facets,
            collapse=collapse,
            limit=limit,
            offset=offset_of_page(page, limit),
            explain=explain,
            exact=exact,
        )

    Search = Annotated[SearchRequest, Depends(search_request)]
    ArticleId = Annotated[str, PathParameter(pattern=ID_PATTERN, description="An article's id, as every hit gives it.")]
    Limit = Annotated[int, Query(ge=1, le=cfg.max_limit)]

    # ------------------------------------------------------------------ API

    @app.get("/healthz", tags=["service"], responses=_answers())
    def healthz() -> dict[str, Any]:
        """Whether the server is up and its index readable: 503 when the index is gone or
        damaged (a file missing or not the size it was written with)."""

        def check(ix: Index) -> int:
            ix.verify()
            return len(ix)

        return {"status": "ok", "articles": shared(check)}

    @app.get("/api/search", tags=["search"], responses=_answers(400, 422))
    def api_search(search: Search) -> dict[str, Any]:
        """Ranked, highlighted hits with facets: the JSON of ``newsearch search --json``."""
        return paths_hidden(shared(lambda ix: ix.search(search)).to_dict())

    # ``:path``: an id may contain a slash (front matter ``id: 2021/12/story``).
    @app.get("/api/articles/{article_id:path}/similar", tags=["articles"], responses=_answers(404, 422))
    def api_similar(article_id: ArticleId, limit: Limit = 10) -> dict[str, Any]:
        """The articles most related to one by content, not its near-duplicates."""
        return paths_hidden(shared(lambda ix: ix.similar(article_id, limit=limit)).to_dict())

    @app.get("/api/articles/{article_id:path}", tags=["articles"], responses=_answers(404, 422))
    def api_article(article_id: ArticleId) -> dict[str, Any]:
        """One article with its full text: the JSON of ``newsearch show --json``."""
        return paths_hidden(shared(lambda ix: ix.get(article_id)).to_dict())

    @app.get("/api/stats", tags=["service"], responses=_answers(422))
    def api_stats(top: Limit = 20) -> dict[str, Any]:
        """Articles, date range, categories, tags and size of the index."""
        data = shared(lambda ix: ix.stats(top=top)).to_dict()
        data.pop("path", None)  # where the index lives is the server's business
        return data

    @app.get("/api/suggest", tags=["search"], responses=_answers(422))
    def api_suggest(
        q: Annotated[str, Query(max_length=cfg.max_query_chars, description="Characters, pinyin or initials.")],
        limit: Limit = 10,
    ) -> dict[str, Any]:
        """Completions of a partial query from titles and keywords."""
        found = shared(lambda ix: ix.suggest(q, limit=limit, stale_ok=True))
        return {"prefix": q, "suggestions": [s.to_dict() for s in found]}

    # ------------------------------------------------------------------ pages

    def page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = pages.get_template(template).render(version=__version__, **context)
        return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)

    @app.get("/", include_in_schema=False)
    def search_page(search: Search) -> HTMLResponse:
        results = shared(lambda ix: ix.search(search))
        # Collapsed, a page lists stories, not articles: their number is not known
        # in advance, so neither is the number of pages.
        pages_total = None if results.collapsed or not search.limit else max(1, -(-results.total // search.limit))
        return page("search.html", search=search, results=results, pages_total=pages_total)

    @app.get("/articles/{article_id:path}", include_in_schema=False)
    def article_page(article_id: str, q: Annotated[str, Query(max_length=cfg.max_query_chars)] = "") -> HTMLResponse:
        article = shared(lambda ix: ix.get(article_id))
        similar = shared(lambda ix: ix.similar(article_id, limit=10))
        # The search that led here is marked as its hits' snippets mark it.
        title = _marked(article.title, shared(lambda ix: ix.highlight(article.title, q)))
        body = _marked(article.body, shared(lambda ix: ix.highlight(article.body, q)))
        paragraphs = [pieces for pieces in _paragraphs(article.body, body) if pieces]
        return page("article.html", article=article, title=title, paragraphs=paragraphs, similar=similar,
                    search=SearchRequest(q))

    # ------------------------------------------------------------------ errors

    def error(request: Request, status: int, message: str, parameter: str | None = None) -> Response:
        if request.url.path.startswith("/api/") or request.url.path == "/healthz":
            body = {"error": {"status": status, "message": message, "parameter": parameter}}
            return JSONResponse(body, status_code=status)
        search = SearchRequest(request.query_params.get("q", "")[: cfg.max_query_chars], facets=False)
        return page("error.html", status, search=search, status=status, message=message)

    @app.exception_handler(RequestValidationError)
    def invalid_parameter(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0]
        where = [str(part) for part in first.get("loc", ()) if part not in ("query", "path")]
        name = ".".join(where) or None
        reason = str(first.get("msg", "invalid"))
        if first.get("type") == "string_pattern_mismatch":  # say what the value should be, not the regex
            reason = f"{_shown(str(first.get('input', '')))!r} is not {_PATTERN_MEANS.get(name or '', 'of the form expected')}"
        message = f"Invalid value for {name}: {reason}." if name else reason
        return error(request, 422, message, name)

    @app.exception_handler(InvalidArgumentError)
    def bad_argument(request: Request, exc: InvalidArgumentError) -> Response:
        name = _PARAMETERS.get(exc.argument, exc.argument)
        return error(request, 400, f"Invalid value for {name}: {exc.message}", name)

    @app.exception_handler(ArticleNotFoundError)
    def not_found(request: Request, exc: ArticleNotFoundError) -> Response:
        return error(request, 404, f"No article with id {_shown(exc.article_id)!r} in the index.")

    @app.exception_handler(IndexDamagedError)
    def damaged(request: Request, exc: IndexDamagedError) -> Response:
        log.error("%s", exc)
        return error(request, 503, "The index is damaged and must be rebuilt; the server's log says how.")

    @app.exception_handler(NewsearchError)
    def unavailable(request: Request, exc: NewsearchError) -> Response:
        # The message names the index's path and the commands that repair it: for
        # the server's log, not for its clients.
        log.error("%s", exc)
        return error(request, 503, "The index cannot be read right now; the server's log says why.")

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> Response:
        messages = {404: "No such page.", 405: "This server only answers GET (and HEAD) requests."}
        response = error(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    def internal_error(request: Request, exc: Exception) -> Response:
        # The ASGI server logs the traceback; the client gets one sentence.
        return error(request, 500, "Internal server error; the server's log has the details.")

    return app


def _article_url(article_id: str, q: str = "") -> str:
    """The page of an article, remembering the search that led there."""
    return f"/articles/{quote(article_id, safe='')}" + (f"?{urlencode({'q': q})}" if q else "")


Piece = tuple[str, bool]  # a run of text, and whether the query matched it


def _marked(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, str, bool]]:
    """``text`` cut at the edges of ``spans``: (offset, text, matched) runs, in order."""
    runs: list[tuple[int, str, bool]] = []
    cursor = 0
    for start, end in spans:
        if start > cursor:
            runs.append((cursor, text[cursor:start], False))
        runs.append((start, text[start:end], True))
        cursor = end
    if cursor < len(text) or not runs:
        runs.append((cursor, text[cursor:], False))
    return runs


def _paragraphs(text: str, runs: list[tuple[int, str, bool]]) -> list[list[Piece]]:
    """The paragraphs of ``text`` (blank-line separated; blank ones come out empty),
    each as the pieces of ``runs`` that fall in it."""
    out: list[list[Piece]] = []
    start = 0
    for paragraph in text.split("\n\n"):
        end = start + len(paragraph)
        pieces: list[Piece] = []
        if paragraph.strip():
            for offset, run, matched in runs:
                a, b = max(offset, start), min(offset + len(run), end)
                if a < b:
                    pieces.append((text[a:b], matched))
        out.append(pieces)
        start = end + 2
    return out


def _source(url: str | None) -> str:
    """The site an article's http(s) URL points to, shown as its source (and only
    then linked: a ``javascript:`` URL from front matter is never a link)."""
    if not url:
        return ""
    parts = urlsplit(url)
    return (parts.hostname or "") if parts.scheme in ("http", "https") else ""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: any free port), or
    :class:`InvalidArgumentError` naming what is wrong."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InvalidArgumentError("--host", f"{host!r} is not an address of this machine ({exc.strerror}).") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise InvalidArgumentError("--port", f"cannot listen on {host}:{port} ({exc.strerror}).") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(
    index: Index,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    access_log: bool = True,
    show_paths: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``index`` over HTTP until interrupted (Ctrl-C or SIGTERM end it cleanly).

    ``host``, ``port`` and ``workers`` default to the ``[server]`` settings;
    ``on_ready`` gets the URL.  A search runs on one core, so several worker
    processes (each with the index open) serve more at once.  ``show_paths``:
    the API includes the source file of every article (see :func:`create_app`)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    cfg = index.config.server
    workers = cfg.workers if workers is None else workers
    if workers < 1:
        raise InvalidArgumentError("--workers", f"{workers}; it must be 1 or more.")
    if port is not None and not 0 <= port <= 65535:
        raise InvalidArgumentError("--port", f"{port}; it must be between 0 and 65535.")
    sock = bind(host or cfg.host, cfg.port if port is None else port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    options: dict[str, Any] = {
        "log_level": "info", "access_log": access_log, "server_header": False, "timeout_graceful_shutdown": 5,
        "http": _Protocol,
    }
    if on_ready is not None:
        on_ready(f"http://{shown}:{bound_port}/")
    if workers == 1:
        uvicorn.Server(uvicorn.Config(create_app(index, show_paths=show_paths), **options)).run(sockets=[sock])
        return
    # Worker processes are started afresh (spawned) and build their app from this.
    os.environ[_WORKER_ENV] = json.dumps(
        {
            "index": str(index.path),
            "config": dataclasses.asdict(index.config),
            "show_paths": show_paths,
            "cluster": index.address if isinstance(index, ClusterIndex) else None,
        }
    )
    config = uvicorn.Config(f"{__name__}:{app_in_worker.__name__}", factory=True, workers=workers, **options)
    Multiprocess(config, sockets=[sock]).run()


_WORKER_ENV = "NEWSEARCH_SERVE_WORKER"


def app_in_worker() -> FastAPI:
    """The application of one worker process of :func:`serve`."""
    settings = json.loads(os.environ[_WORKER_ENV])
    config = Config.from_dict(settings["config"])
    cluster = settings.get("cluster")
    index: Index = (
        NewsIndex.open(settings["index"], config=config, cluster=cluster)
        if cluster
        else NewsIndex.open(settings["index"], config=config)
    )
    return create_app(index, show_paths=bool(settings.get("show_paths")))
