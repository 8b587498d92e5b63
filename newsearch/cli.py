"""The ``newsearch`` command: a thin layer over :class:`newsearch.NewsIndex`.

Exit codes: 0 success, 1 an error newsearch explains (no index, locked...),
2 a bad argument or option value, 3 indexing finished but some files failed,
130 interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Optional, cast

import typer

from . import __version__
from .config import Config, default_index_dir
from .errors import InvalidArgumentError, NewsearchError, StrictIndexingError

if TYPE_CHECKING:
    from .request import Sort

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_FAILED_FILES = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
SHOWN_FAILURES = 20
FAILURES_FILE = "failed-files.txt"
SEED_DIR = "seeds"

app = typer.Typer(
    name="newsearch",
    help="Full-text search for archives of Chinese news posts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# --------------------------------------------------------------------------- shared options

IndexOption = Annotated[
    Optional[Path],
    typer.Option(
        "--index",
        help="Index folder. Default: $NEWSEARCH_INDEX, else ./index.",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", help="Settings file (TOML). Default: newsearch.toml in the index folder."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
CategoryOption = Annotated[Optional[list[str]], typer.Option("--category", "-c", help="Only this category (repeat for any of several).")]
TagOption = Annotated[Optional[list[str]], typer.Option("--tag", "-t", help="Only articles with this tag (repeat: all of them).")]
SinceOption = Annotated[Optional[str], typer.Option("--since", help="From this date on: 2021, 2021-12, 2021-12-25, 2021年12月.")]
UntilOption = Annotated[Optional[str], typer.Option("--until", help="Up to this date, inclusive.")]


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def _run(action: Callable[[], Any]) -> Any:
    """Run a command body, turning foreseeable problems into one-line errors."""
    try:
        return action()
    except InvalidArgumentError as exc:
        # Library arguments (since=...) are options on the command line (--since).
        name = _OPTION_NAMES.get(exc.argument) or (
            f"--{exc.argument}" if exc.argument.isidentifier() and exc.argument.islower() else exc.argument
        )
        _fail(f"Invalid value for {name}: {exc.message}", EXIT_USAGE)
    except NewsearchError as exc:
        _fail(str(exc), EXIT_ERROR)
    except KeyboardInterrupt as exc:
        typer.echo("Interrupted; the index keeps everything committed before this point.", err=True)
        raise typer.Exit(EXIT_TERMINATED if isinstance(exc, _Terminated) else EXIT_INTERRUPTED) from None
    except BrokenPipeError:
        # The reader of our output went away (``| head``); nothing to report.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None


# Library argument names that differ from the option (or argument) that sets them.
_OPTION_NAMES = {"query": "QUERY", "tags": "--tag", "half_life_days": "--half-life"}


def _index_dir(index: Path | None) -> Path:
    return index if index is not None else default_index_dir()


def _config(index_dir: Path, config: Path | None) -> Config:
    return Config.for_index(index_dir, config)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _colour() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


# --------------------------------------------------------------------------- index


@app.command("index")
def index_command(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders of posts (.md .markdown .html .htm .txt .jsonl).", show_default=False)],
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Start a new index from scratch; the old one is replaced when the new one is complete.")] = False,
    index: IndexOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also list warnings (guessed encodings, unreadable dates...).")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Stop at the first file that fails, committing nothing.")] = False,
) -> None:
    """Index posts, incrementally: new and changed files are (re)indexed, deleted ones removed."""
    from .index import NewsIndex

    index_dir = _index_dir(index)

    def action() -> int:
        cfg = _config(index_dir, config)
        ix = NewsIndex.create(index_dir, config=cfg, replace=rebuild)
        bar = _ProgressBar() if sys.stderr.isatty() and not as_json else None
        failures_path = index_dir / FAILURES_FILE
        try:
            report = ix.update(paths, progress=bar, strict=strict)
        except StrictIndexingError as exc:
            failures_path.write_text("".join(f"{f}\n" for f in exc.failed), encoding="utf-8")
            typer.echo(f"Error: {exc}", err=True)
            return EXIT_FAILED_FILES
        finally:
            if bar is not None:
                bar.close()
        if report.failed:
            failures_path.write_text("".join(f"{f}\n" for f in report.failed), encoding="utf-8")
        elif failures_path.exists():
            failures_path.unlink()
        if as_json:
            _echo_json(report.to_dict())
        else:
            for failure in report.failed[:SHOWN_FAILURES]:
                typer.echo(f"failed: {failure}", err=True)
            if len(report.failed) > SHOWN_FAILURES:
                typer.echo(f"... and {len(report.failed) - SHOWN_FAILURES} more.", err=True)
            if verbose:
                for warning in report.warnings:
                    typer.echo(f"warning: {warning}", err=True)
            elif report.warnings:
                typer.echo(f"{len(report.warnings)} warnings (see them with --verbose).", err=True)
            for note in report.notes:
                typer.echo(note)
            typer.echo(f"{report.summary()}. Index: {index_dir}")
            if report.failed:
                typer.echo(f"The list of failed files is in {failures_path}.", err=True)
        return EXIT_FAILED_FILES if report.failed else 0

    code = _run(action)
    if code:
        raise typer.Exit(code)


class _ProgressBar:
    """A progress callback that draws a bar on a terminal for runs of 50 files or more."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, done: int, total: int, path: str) -> None:
        if self._bar is None:
            if total < 50:
                return
            self._bar = typer.progressbar(length=total, label="Indexing", file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


# --------------------------------------------------------------------------- search


@app.command(
    "search",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True},
)
def search_command(
    query: Annotated[Optional[list[str]], typer.Argument(help="Keywords (all must match); OR, NOT/-word, \"phrases\", title: tags: category: date:.", show_default=False)] = None,
    category: CategoryOption = None,
    tag: TagOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    sort: Annotated[str, typer.Option("--sort", help="relevance, -date (newest first), date (oldest first) or recent (relevance weighed down by age).")] = "relevance",
    recent: Annotated[bool, typer.Option("--recent", help="Same as --sort recent.")] = False,
    half_life: Annotated[Optional[float], typer.Option("--half-life", metavar="DAYS", help="With --recent: an article this many days older scores half as much (default: ranking.half_life_days, 30).")] = None,
    facets: Annotated[bool, typer.Option("--facets/--no-facets", help="Count categories, tags and dates over all matches.")] = True,
    collapse: Annotated[bool, typer.Option("--collapse/--no-collapse", help="Show near-duplicate versions of a story under its best hit, not as hits of their own.")] = True,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Hits per page.")] = 10,
    page: Annotated[int, typer.Option("--page", "-p", help="Page number, from 1.")] = 1,
    index: IndexOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    explain: Annotated[bool, typer.Option("--explain", help="Also print how the query was read, and each hit's score by part.")] = False,
    exact: Annotated[bool, typer.Option("--exact", help="Only articles that hold every term as typed (no related matches).")] = False,
) -> None:
    """Search the index: ranked articles with highlighted passages (related ones marked)."""
    text = " ".join(query or [])

    def action() -> None:
        from .index import NewsIndex
        from .request import SearchRequest, offset_of_page

        if recent and sort not in ("relevance", "recent"):
            raise InvalidArgumentError("--recent", f"cannot be combined with --sort {sort}.")
        request = SearchRequest(
            text,
            category=category or (),
            tags=tag or (),
            since=since,
            until=until,
            sort=cast("Sort", "recent" if recent else sort),  # SearchRequest checks it
            half_life_days=half_life,
            limit=limit,
            offset=offset_of_page(page, limit),
            facets=facets,
            collapse=collapse,
            explain=explain,
            exact=exact,
        )
        index_dir = _index_dir(index)
        cfg = _config(index_dir, config)
        if index is None and not os.environ.get("NEWSEARCH_INDEX") and not NewsIndex.exists(index_dir):
            _bootstrap_from_seeds(index_dir, cfg)
        results = NewsIndex.open(index_dir, config=cfg).search(request)
        if as_json:
            _echo_json(results.to_dict())
            return
        if results.explain is not None:
            typer.echo(f"Query: {results.explain}")
        _print_results(results)

    _run(action)


def _bootstrap_from_seeds(index_dir: Path, cfg: Config) -> None:
    """A newcomer's first search: build the default index from ./seeds if it is there."""
    from .index import NewsIndex

    seeds = Path(SEED_DIR)
    if not seeds.is_dir():
        return
    typer.echo(f"No index at {index_dir} yet; indexing {seeds}/ first.", err=True)
    report = NewsIndex.create(index_dir, config=cfg).update([seeds])
    typer.echo(report.summary(), err=True)


def _styles() -> tuple[tuple[str, str], Callable[[str], str], Callable[[str], str]]:
    """Highlight marks, dim and bold: ANSI styles on a terminal, plain when piped."""
    if not _colour():
        return ("**", "**"), (lambda s: s), (lambda s: s)
    marks = tuple(typer.style("\0", bold=True, fg=typer.colors.RED).split("\0"))
    return marks, (lambda s: typer.style(s, dim=True)), (lambda s: typer.style(s, bold=True))  # type: ignore[return-value]


def _print_results(results: Any) -> None:
    total = results.total
    if total == 0:
        typer.echo(f"No articles match {results.query!r}.")
        if results.suggestion:
            typer.echo(f"Did you mean: {results.suggestion}")
        return
    last_page = (total - 1) // results.limit + 1 if results.limit else 1
    noun = "article matches" if total == 1 else "articles match"
    exact = results.exact_total
    related = "" if exact is None or exact == total else f"; {exact} hold every term as typed, {total - exact} are related"
    typer.echo(f"{total} {noun} {results.query!r} (page {results.page} of {last_page}{related}).\n")
    _print_hits(results.hits, results.offset + 1)
    if results.facets is not None:
        _print_facets(results.facets, _styles()[1])


def _print_hits(hits: list[Any], first_rank: int) -> None:
    marks, dim, bold = _styles()
    for rank, hit in enumerate(hits, start=first_rank):
        typer.echo(f"{rank}. {bold(hit.title)}" + (dim("  [related]") if hit.match == "related" else ""))
        meta = [d.isoformat(sep=" ", timespec="minutes") if (d := hit.date) else "undated"]
        if hit.categories:
            meta.append("/".join(hit.categories))
        if hit.tags:
            meta.append(" ".join(f"#{t}" for t in hit.tags))
        meta.append(f"id {hit.id}")
        typer.echo("   " + dim(" · ".join(meta)))
        typer.echo("   " + dim(hit.url or hit.path))
        for passage in hit.snippet.passages:
            typer.echo("   " + passage.render(*marks).replace("\n", " "))
        if hit.explanation:
            typer.echo("   " + dim("why: " + hit.why()))
        if hit.versions:
            noun = "version" if len(hit.versions) == 1 else "versions"
            ids = ", ".join(v.id for v in hit.versions[:3]) + (", …" if len(hit.versions) > 3 else "")
            typer.echo("   " + dim(f"+ {len(hit.versions)} similar {noun}: {ids} (--no-collapse lists them)"))
        typer.echo("")


_FACETS_SHOWN = 8
_BAR_WIDTH = 30


def _print_facets(facets: Any, dim: Callable[[str], str]) -> None:
    """Categories and tags on one line each, then the date histogram as bars."""
    for label, counts in (("Categories", facets.categories), ("Tags", facets.tags)):
        if counts:
            shown = " · ".join(f"{value} {count}" for value, count in counts[:_FACETS_SHOWN])
            more = dim(f" · +{len(counts) - _FACETS_SHOWN} more") if len(counts) > _FACETS_SHOWN else ""
            typer.echo(f"{label + ':':<12}{shown}{more}")
    histogram = facets.dates
    if histogram.buckets:
        typer.echo(f"By {histogram.unit}:")
        peak = max(count for _, count in histogram.buckets) or 1
        width = max(len(key) for key, _ in histogram.buckets)
        for key, count in histogram.buckets:
            bar = "█" * round(count * _BAR_WIDTH / peak) if count else ""
            typer.echo(f"  {key:<{width}} {bar or '▏'} {count}")
    if histogram.undated:
        typer.echo(f"  undated: {histogram.undated}")


@app.command("suggest")
def suggest_command(
    prefix: Annotated[str, typer.Argument(help="The start of a query: characters, pinyin (xiaoduo) or initials (xdkj).", show_default=False)],
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many completions.")] = 10,
    index: IndexOption = None,
    as_json: JsonOption = False,
) -> None:
    """Complete a partial query from keywords and the words of the index's titles."""

    def action() -> None:
        from .index import NewsIndex

        found = NewsIndex.open(_index_dir(index)).suggest(prefix, limit=limit)
        if as_json:
            _echo_json({"prefix": prefix, "suggestions": [s.to_dict() for s in found]})
        else:
            for suggestion in found:
                typer.echo(f"{suggestion.text}\t{suggestion.articles}")

    _run(action)


@app.command("topics")
def topics_command(
    category: CategoryOption = None,
    tag: TagOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many keywords.")] = 20,
    index: IndexOption = None,
    as_json: JsonOption = False,
) -> None:
    """The keywords that set a period or section apart from the whole archive."""

    def action() -> None:
        from .index import NewsIndex

        found = NewsIndex.open(_index_dir(index)).topics(category=category or (), tags=tag or (), since=since, until=until, limit=limit)
        if as_json:
            _echo_json({"topics": [t.to_dict() for t in found]})
        elif not found:
            typer.echo("No keyword sets these articles apart.")
        else:
            width = max(len(t.keyword) for t in found)
            for t in found:
                typer.echo(f"{t.keyword:<{width}}  {t.articles} here, {t.archive} in all  (score {t.score:.3f})")

    _run(action)


@app.command("similar")
def similar_command(
    article_id: Annotated[str, typer.Argument(metavar="ID", help="The article's id, as printed with every hit.", show_default=False)],
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many articles.")] = 10,
    index: IndexOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Articles most related to one article by content (not its near-duplicates)."""

    def action() -> None:
        from .index import NewsIndex

        index_dir = _index_dir(index)
        results = NewsIndex.open(index_dir, config=_config(index_dir, config)).similar(article_id, limit=limit)
        if as_json:
            _echo_json(results.to_dict())
        elif not results.hits:
            typer.echo(f"No articles are related to {article_id}.")
        else:
            typer.echo(f"Articles related to {article_id}:\n")
            _print_hits(results.hits, 1)

    _run(action)


# --------------------------------------------------------------------------- show, stats


@app.command("show")
def show_command(
    article_id: Annotated[str, typer.Argument(metavar="ID", help="The article's id, as printed with every hit.", show_default=False)],
    index: IndexOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print one article: its fields and full text."""

    def action() -> None:
        from .index import NewsIndex

        article = NewsIndex.open(_index_dir(index)).get(article_id)
        date = article.date_iso()
        if as_json:
            _echo_json(article.to_dict())
            return
        typer.echo(typer.style(article.title, bold=True) if _colour() else article.title)
        typer.echo(f"id:         {article.id}")
        typer.echo(f"date:       {date or 'undated'}")
        typer.echo(f"categories: {', '.join(article.categories) or '-'}")
        typer.echo(f"tags:       {', '.join(article.tags) or '-'}")
        typer.echo(f"keywords:   {', '.join(article.keywords) or '-'}")
        typer.echo(f"path:       {article.path}")
        if article.url:
            typer.echo(f"url:        {article.url}")
        typer.echo("")
        typer.echo(article.body)

    _run(action)


@app.command("stats")
def stats_command(
    index: IndexOption = None,
    as_json: JsonOption = False,
    top: Annotated[int, typer.Option("--top", help="How many categories and tags to list.")] = 20,
) -> None:
    """Print what the index holds: articles, date range, categories, tags, size."""

    def action() -> None:
        from .index import NewsIndex

        if top < 1:
            raise InvalidArgumentError("--top", f"{top}; it must be 1 or more.")
        stats = NewsIndex.open(_index_dir(index)).stats()
        if as_json:
            _echo_json(stats.to_dict())
            return
        first = stats.first_date.date().isoformat() if stats.first_date else "-"
        last = stats.last_date.date().isoformat() if stats.last_date else "-"
        typer.echo(f"index:      {stats.path}")
        typer.echo(f"articles:   {stats.articles} (from {stats.sources} files)")
        typer.echo(f"dates:      {first} … {last}")
        typer.echo(f"size:       {stats.size_bytes / 1e6:.1f} MB")
        for label, counts in (("categories", stats.categories), ("tags", stats.tags)):
            shown = ", ".join(f"{name} ({n})" for name, n in counts[:top]) or "-"
            more = f", … {len(counts) - top} more" if len(counts) > top else ""
            typer.echo(f"{label + ':':<11} {shown}{more}")

    _run(action)


@app.command("check")
def check_command(
    paths: Annotated[list[Path] | None, typer.Argument(help="Folders or files that should all be indexed (optional).", show_default=False)] = None,
    index: IndexOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify the index: read all of it, and compare it with the source files."""

    def action() -> int:
        from .index import NewsIndex

        ix = NewsIndex.open(_index_dir(index))
        for path in paths or ():
            if not path.exists():
                raise InvalidArgumentError("PATH", f"{path} does not exist.")
        report = ix.check(paths or ())
        if as_json:
            _echo_json(report.to_dict())
        else:
            for problem in report.damage:
                typer.echo(f"damaged: {problem}", err=True)
            for label, files in (("changed", report.changed), ("missing", report.missing), ("not indexed", report.not_indexed)):
                for file in files[:SHOWN_FAILURES]:
                    typer.echo(f"{label}: {file}")
                if len(files) > SHOWN_FAILURES:
                    typer.echo(f"... and {len(files) - SHOWN_FAILURES} more {label}.")
            typer.echo(f"{report.summary()}.")
            if report.damaged:
                typer.echo(f"Rebuild it from the source files with: newsearch index --rebuild --index {ix.path} PATH...", err=True)
            elif not report.current:
                typer.echo(f"Bring it up to date with: newsearch index --index {ix.path} PATH...")
        return EXIT_ERROR if report.damaged else EXIT_FAILED_FILES if not report.current else 0

    code = _run(action)
    if code:
        raise typer.Exit(code)


# --------------------------------------------------------------------------- serve


@app.command("serve")
def serve_command(
    index: IndexOption = None,
    config: ConfigOption = None,
    host: Annotated[Optional[str], typer.Option("--host", help="Address to listen on. Default: server.host, 127.0.0.1 (this machine only).", show_default=False)] = None,
    port: Annotated[Optional[int], typer.Option("--port", help="Port to listen on; 0 picks a free one. Default: server.port, 8000.", show_default=False)] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Processes answering requests, one core each. Default: server.workers, 1.", show_default=False)] = None,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="Log every request.")] = True,
) -> None:
    """Serve the index over HTTP: a JSON API and a search page (read-only)."""

    def action() -> None:
        from .index import NewsIndex
        from .server import serve

        index_dir = _index_dir(index)
        ix = NewsIndex.open(index_dir, config=_config(index_dir, config))
        listen = host or ix.config.server.host
        if listen not in ("127.0.0.1", "localhost", "::1"):
            typer.echo(f"Warning: listening on {listen}: other machines can search this index.", err=True)

        def ready(url: str) -> None:
            count = len(ix)
            typer.echo(f"Serving {ix.path} ({count} article{'' if count == 1 else 's'}) at {url}  (Ctrl-C stops)", err=True)

        try:
            serve(ix, host=host, port=port, workers=workers, access_log=access_log, on_ready=ready)
        except KeyboardInterrupt:
            pass
        typer.echo("Server stopped.", err=True)

    _run(action)


# --------------------------------------------------------------------------- entry point


def _version(value: bool) -> None:
    if value:
        typer.echo(f"newsearch {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Full-text search for archives of Chinese news posts."""


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: stop, clean up, keep what was committed."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated()


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    app()
