"""The ``newsearch`` command: a thin layer over :class:`newsearch.NewsIndex`.

Exit codes: 0 success, 1 an error newsearch explains (no index, locked...),
2 a bad argument or option value, 3 indexing finished but some files failed,
130 interrupted.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import socket
import sys
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Optional, cast

import typer
from typer.core import TyperCommand, TyperGroup

from . import __version__
from .config import DEFAULT_INDEX_DIR, INDEX_ENV_VAR, Config, default_index_dir
from .errors import IndexNotFoundError, InvalidArgumentError, NewsearchError, StrictIndexingError
from .results import counted

if TYPE_CHECKING:
    from .request import SearchRequest, Sort

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_FAILED_FILES = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
SHOWN_FAILURES = 20
FAILURES_FILE = "failed-files.txt"
SEED_DIR = "seeds"


# --------------------------------------------------------------------------- text for a terminal

# What an article may hold that a terminal would obey rather than print: escape
# sequences (CSI, OSC, DCS... in their 7-bit and 8-bit forms) and any other C0
# control but tab and newline, DEL, and C1 controls.
_STRING_END = r"(?:\x07|\x1b\\|\x9c)"  # BEL, ESC \ or ST
_CONTROLS = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI: ESC [, parameters, intermediates, final byte
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # CSI, 8-bit
    rf"|\x1b[\]PX^_][^\x07\x1b\x9c\n]*{_STRING_END}?"  # OSC, DCS, SOS, PM, APC strings
    rf"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c\n]*{_STRING_END}?"  # the same, 8-bit
    r"|\x1b[ -/]*[0-~]?"  # other escape sequences: ESC c, ESC ( B, ESC 7...
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # any other control character
)


def terminal_text(text: str) -> str:
    """``text`` without what a terminal would act on: escape sequences (clear the
    screen, set the window title, colours) and control characters other than
    newline and tab.  Everything newsearch prints for people goes through it."""
    return _CONTROLS.sub("", text)


def _echo(text: str = "", *, err: bool = False) -> None:
    """Print a line of plain text for people (article text in it is made harmless)."""
    typer.echo(terminal_text(text), err=err)


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: East Asian wide and full-width characters
    take two, combining marks none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text
    )


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))




# --------------------------------------------------------------------------- the command line itself


class _Group(TyperGroup):
    """The ``newsearch`` group: a usage error (an unknown option, a value that is not a
    number) is printed as one ``Error:`` line, then where to find the command's help;
    not as click's usage block or a box."""

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
        standalone_mode: bool = True, **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:  # click's usage errors and the like
            ctx = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError":  # `newsearch` alone: the help
                typer.echo(ctx.get_help() if ctx is not None else exc.format_message())
            else:
                _echo(f"Error: {exc.format_message()}", err=True)
                if ctx is not None:
                    _echo(f"See: {ctx.command_path} --help", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            _echo("Aborted.", err=True)
            sys.exit(EXIT_ERROR)
        sys.exit(code if isinstance(code, int) else 0)


# A command-line word that starts with "-" but cannot be an option (every option is
# -LETTER or --NAME): an exclusion such as -广告 or -2021.  It is carried through
# click's parser with this mark in front, so that it is read as a word.
_WORD_MARK = "\ue000"


def _dash_word(arg: str) -> bool:
    return len(arg) > 1 and arg[0] == "-" and arg[1] != "-" and not (arg[1].isascii() and arg[1].isalpha())


def _unmark(value: Any) -> Any:
    if isinstance(value, str):
        return value[len(_WORD_MARK):] if value.startswith(_WORD_MARK) else value
    if isinstance(value, (list, tuple)):
        return type(value)(_unmark(v) for v in value)
    return value


class _Command(TyperCommand):
    """A command whose help names values as people write them: ``PATH...``,
    ``[QUERY...]``, ``--limit N``; a flag is only its name (no ``<bool>``)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        return pieces + [_argument_name(p) for p in self.get_params(ctx) if p.param_type_name == "argument"]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments: list[tuple[str, str]] = []
        options: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument" and not getattr(param, "hidden", False):
                arguments.append((_argument_name(param), getattr(param, "help", None) or ""))
            elif param.param_type_name == "option" and (record := param.get_help_record(ctx)) is not None:
                options.append(record)
        for title, records in (("Arguments", arguments), ("Options", options)):
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


def _argument_name(param: Any) -> str:
    name = str(param.metavar or param.name.upper()) + ("..." if param.nargs != 1 else "")
    return name if param.required else f"[{name}]"


class _QueryCommand(_Command):
    """A command whose arguments are query words: unknown options are errors (with
    the nearest option offered), while a word like -广告 stays a word; any word
    after ``--`` is a word."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        marked: list[str] = []
        for position, arg in enumerate(args):
            if arg == "--":
                marked += args[position:]
                break
            marked.append(_WORD_MARK + arg if _dash_word(arg) else arg)
        rest = super().parse_args(ctx, marked)
        for name, value in ctx.params.items():
            ctx.params[name] = _unmark(value)
        return [_unmark(arg) for arg in rest]


def _whole_number(value: Any) -> int:
    """An option's value as an int; the library says which ints it takes."""
    if isinstance(value, int):
        return value
    text = _unmark(str(value))
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a whole number.") from None


def _number(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    text = _unmark(str(value))
    try:
        return float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number.") from None


app = typer.Typer(
    name="newsearch",
    help="Full-text search for archives of Chinese news posts.",
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# --------------------------------------------------------------------------- shared options

IndexOption = Annotated[
    Optional[Path],
    typer.Option(
        "--index",
        metavar="DIR",
        help="Index folder. Default: $NEWSEARCH_INDEX, else ./index.",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", metavar="FILE", help="Settings file (TOML). Default: newsearch.toml in the index folder."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
ClusterOption = Annotated[
    Optional[str],
    typer.Option(
        "--cluster",
        metavar="ADDRESS",
        help="The Dask scheduler (tcp://HOST:PORT) of an archive in shards; the index folder holds its manifest. Default: cluster.address.",
        show_default=False,
    ),
]
CategoryOption = Annotated[Optional[list[str]], typer.Option("--category", "-c", metavar="CATEGORY", help="Only this category (repeat for any of several).")]
TagOption = Annotated[Optional[list[str]], typer.Option("--tag", "-t", metavar="TAG", help="Only articles with this tag (repeat: all of them).")]
SinceOption = Annotated[Optional[str], typer.Option("--since", metavar="DATE", help="From this date on: 2021, 2021-12, 2021-12-25, 2021年12月.")]
UntilOption = Annotated[Optional[str], typer.Option("--until", metavar="DATE", help="Up to this date, inclusive.")]


def _limit_option(help: str) -> Any:
    return typer.Option("--limit", "-n", metavar="N", parser=_whole_number, help=help)


def _fail(message: str, code: int) -> NoReturn:
    _echo(f"Error: {message}", err=True)
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
    except IndexNotFoundError as exc:
        _fail(_no_index(exc), EXIT_ERROR)
    except NewsearchError as exc:
        _fail(str(exc), EXIT_ERROR)
    except KeyboardInterrupt as exc:
        _echo("Interrupted; the index keeps everything committed before this point.", err=True)
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


def _shown_path(path: str | Path) -> str:
    """A path as the user can type it back: ``./index`` rather than a bare ``index``."""
    text = str(path)
    return text if Path(text).is_absolute() or os.sep in text or text in (".", "..") else f".{os.sep}{text}"


def _index_hint(index_dir: str | Path) -> str:
    """How to create the index at ``index_dir``: ``--index`` only when it is not the default."""
    default = Path(os.environ.get(INDEX_ENV_VAR) or DEFAULT_INDEX_DIR)
    given = "" if Path(index_dir) == default else f" --index {_shown_path(index_dir)}"
    return f"newsearch index{given} PATH..."


def _no_index(exc: IndexNotFoundError) -> str:
    if not str(exc).startswith("No newsearch index at"):  # the library's detail (an unreadable manifest)
        return str(exc)
    return f"No newsearch index at {_shown_path(exc.path)} yet; create it with: {_index_hint(exc.path)}"


def _config(index_dir: Path, config: Path | None) -> Config:
    return Config.for_index(index_dir, config)


def _open(index_dir: Path, cfg: Config, cluster: str | None) -> Any:
    """The index in ``index_dir``: one machine's, or an archive in shards on a cluster."""
    from .cluster import is_cluster
    from .index import NewsIndex

    if cluster is None and is_cluster(index_dir):
        cluster = cfg.cluster.address
        if not cluster:
            raise InvalidArgumentError("--cluster", f"{_shown_path(index_dir)} holds an archive in shards: give its scheduler's address.")
    if cluster is not None:
        return NewsIndex.open(index_dir, config=cfg, cluster=cluster)
    return NewsIndex.open(index_dir, config=cfg)


def _echo_json(data: Any) -> None:
    # json escapes C0 controls; DEL and C1 (the 8-bit CSI) are escaped here too.
    text = json.dumps(data, ensure_ascii=False, indent=2)
    typer.echo(re.sub("[\x7f-\x9f]", lambda m: f"\\u{ord(m.group()):04x}", text))


def _colour() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


# --------------------------------------------------------------------------- index


@app.command("index", cls=_Command)
def index_command(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH", help="Files and folders of posts (.md .markdown .html .htm .txt .jsonl).", show_default=False)],
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Start a new index from scratch; the old one is replaced when the new one is complete.")] = False,
    index: IndexOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also list warnings (guessed encodings, unreadable dates...).")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Stop at the first file that fails, committing nothing.")] = False,
    cluster: ClusterOption = None,
    shards: Annotated[int, typer.Option("--shards", metavar="N", parser=_whole_number, help="With --cluster, for a new index: how many shards (each on a worker in turn).")] = 0,
) -> None:
    """Index posts, incrementally: new and changed files are (re)indexed, deleted ones removed."""
    from .index import NewsIndex

    index_dir = _index_dir(index)

    def action() -> int:
        cfg = _config(index_dir, config)
        address = cluster or (cfg.cluster.address if shards or (index_dir / "cluster.json").is_file() else None)
        if shards and not address:
            raise InvalidArgumentError("--shards", "goes with --cluster ADDRESS (the Dask scheduler that holds the shards).")
        if address:
            from .cluster import ClusterIndex

            if rebuild:
                raise InvalidArgumentError("--rebuild", "is not available for an archive in shards: index into a new folder.")
            ix: Any = ClusterIndex.create(index_dir, address, shards, config=cfg, index_class=NewsIndex)
        else:
            ix = NewsIndex.create(index_dir, config=cfg, replace=rebuild)
        bar = _ProgressBar() if sys.stderr.isatty() and not as_json and isinstance(ix, NewsIndex) else None
        failures_path = index_dir / FAILURES_FILE
        try:
            report = ix.update(paths, progress=bar, strict=strict)
        except StrictIndexingError as exc:
            failures_path.write_text("".join(f"{f}\n" for f in exc.failed), encoding="utf-8")
            _echo(f"Error: {exc}", err=True)
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
                _echo(f"failed: {failure}", err=True)
            if len(report.failed) > SHOWN_FAILURES:
                _echo(f"... and {len(report.failed) - SHOWN_FAILURES} more.", err=True)
            if verbose:
                for warning in report.warnings:
                    _echo(f"warning: {warning}", err=True)
            elif report.warnings:
                _echo(f"{counted(len(report.warnings), 'warning')} (see {'it' if len(report.warnings) == 1 else 'them'} with --verbose).", err=True)
            for note in report.notes:
                _echo(note)
            _echo(f"{report.summary()}. Index: {_shown_path(index_dir)}")
            if report.failed:
                _echo(f"The list of failed files is in {failures_path}.", err=True)
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


@app.command("search", cls=_QueryCommand)
def search_command(
    query: Annotated[Optional[list[str]], typer.Argument(metavar="QUERY", help="Keywords (all must match); OR, NOT/-word, \"phrases\", title: tags: category: date:.", show_default=False)] = None,
    category: CategoryOption = None,
    tag: TagOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    sort: Annotated[str, typer.Option("--sort", metavar="ORDER", help="relevance, -date (newest first), date (oldest first) or recent (relevance weighed down by age).")] = "relevance",
    recent: Annotated[bool, typer.Option("--recent", help="Same as --sort recent.")] = False,
    half_life: Annotated[Optional[float], typer.Option("--half-life", metavar="DAYS", parser=_number, help="With --recent: an article this many days older scores half as much (default: ranking.half_life_days, 30).")] = None,
    facets: Annotated[bool, typer.Option("--facets/--no-facets", help="Count categories, tags and dates over all matches.")] = True,
    collapse: Annotated[bool, typer.Option("--collapse/--no-collapse", help="Show near-duplicate versions of a story under its best hit, not as hits of their own.")] = True,
    limit: Annotated[int, _limit_option("Hits per page.")] = 10,
    page: Annotated[int, typer.Option("--page", "-p", metavar="N", parser=_whole_number, help="Page number, from 1.")] = 1,
    index: IndexOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    explain: Annotated[bool, typer.Option("--explain", help="Also print how the query was read, and each hit's score by part.")] = False,
    exact: Annotated[bool, typer.Option("--exact", help="Only articles that hold every term as typed (no related matches).")] = False,
    cluster: ClusterOption = None,
    partial: Annotated[bool, typer.Option("--partial/--no-partial", help="With --cluster: when a shard does not answer, show the others' results flagged as partial (else an error).")] = True,
) -> None:
    """Search the index: ranked articles with highlighted passages (related ones marked).

    An unknown option is an error.  A word that starts with - is a query word
    (an exclusion) when no option can start that way, as in 客服 -广告; put words
    such as -AI after --:  newsearch search -- 客服 -AI
    """
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
        if index is None and not os.environ.get(INDEX_ENV_VAR) and not NewsIndex.exists(index_dir):
            _bootstrap_from_seeds(index_dir, cfg)
        ix = _open(index_dir, cfg, cluster)
        results = ix.search(request, partial=partial) if not isinstance(ix, NewsIndex) else ix.search(request)
        if as_json:
            _echo_json(results.to_dict())
            return
        if results.explain is not None:
            _echo(f"Query: {results.explain}")
        if results.shards is not None and results.shards.partial:
            missing = "; ".join(f"shard {f.shard}: {f.reason}" for f in results.shards.failed)
            _echo(f"Partial results: {results.shards.successful} of {results.shards.total} shards answered ({missing}).", err=True)
        if results.total == 0:
            _print_no_match(ix, request, results.suggestion)
        else:
            _print_results(results, request)

    _run(action)


def _bootstrap_from_seeds(index_dir: Path, cfg: Config) -> None:
    """A newcomer's first search: build the default index from ./seeds if it is there."""
    from .index import NewsIndex

    seeds = Path(SEED_DIR)
    if not seeds.is_dir():
        return
    _echo(f"No index at {_shown_path(index_dir)} yet; indexing {seeds}/ first.", err=True)
    report = NewsIndex.create(index_dir, config=cfg).update([seeds])
    _echo(report.summary(), err=True)


def _styles() -> tuple[tuple[str, str], Callable[[str], str], Callable[[str], str]]:
    """Highlight marks, dim and bold: ANSI styles on a terminal, plain when piped.

    Each takes text that is already free of control characters (:func:`terminal_text`)."""
    if not _colour():
        return ("**", "**"), (lambda s: s), (lambda s: s)
    marks = tuple(typer.style("\0", bold=True, fg=typer.colors.RED).split("\0"))
    return marks, (lambda s: typer.style(s, dim=True)), (lambda s: typer.style(s, bold=True))  # type: ignore[return-value]


def _what(request: SearchRequest) -> str:
    """What a search asked for, in words: ``'客服'``, ``'客服' with tag "AI"``, ``tag "AI"``."""
    from .filters import describe_filters

    filters = ", ".join(describe_filters(request))
    if request.query.strip():
        return f"{request.query!r}" + (f" with {filters}" if filters else "")
    return filters or "an empty query (every article)"


def _print_no_match(ix: Any, request: SearchRequest, suggestion: str | None) -> None:
    """Nothing matched: say so, and when filters were on, what they left out and which
    of their categories and tags the index does not have."""
    from .filters import no_match_report

    _echo(f"No articles match {_what(request)}.")
    if request.selects:
        report = no_match_report(ix, request)
        for missing in report.missing:
            _echo(_sentence(str(missing)))
        if request.query.strip():
            n = report.without_filters
            _echo(f"Without the filters, {counted(n, 'article matches', 'articles match')} {request.query!r}.")
        else:
            _echo(f"The index holds {counted(report.without_filters, 'article')}.")
    if suggestion:
        _echo(f"Did you mean: {suggestion}")


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(("?", ".")) else text + "."


def _print_results(results: Any, request: SearchRequest) -> None:
    total = results.total
    last_page = (total - 1) // results.limit + 1 if results.limit else 1
    noun = "article matches" if total == 1 else "articles match"
    if not results.hits:
        _echo(f"Page {results.page} is past the end: {total} {noun} {_what(request)}, {counted(last_page, 'page')}.")
        return
    exact = results.exact_total
    related = "" if exact is None or exact == total else f"; {exact} hold every term as typed, {total - exact} are related"
    _echo(f"{total} {noun} {_what(request)} (page {results.page} of {last_page}{related}).\n")
    _print_hits(results.hits, results.offset + 1)
    if results.facets is not None:
        _print_facets(results.facets, _styles()[1])


def _when(date: datetime | None, utcoffset_minutes: int | None) -> str:
    """A hit's date for people: ``2021-12-25 14:03``, or only ``2018-09-12`` for a post
    that gave a day without a time (stored as midnight, with no UTC offset)."""
    if date is None:
        return "undated"
    if utcoffset_minutes is None and date.time() == time(0):
        return date.date().isoformat()
    return date.isoformat(sep=" ", timespec="minutes")


def _print_hits(hits: list[Any], first_rank: int) -> None:
    marks, dim, bold = _styles()
    safe = terminal_text
    for rank, hit in enumerate(hits, start=first_rank):
        title = bold(hit.title_render(*marks, escape=safe))
        typer.echo(f"{rank}. {title}" + (dim("  [related]") if hit.match == "related" else ""))
        meta = [_when(hit.date, hit.utcoffset_minutes)]
        if hit.categories:
            meta.append("/".join(hit.categories))
        if hit.tags:
            meta.append(" ".join(f"#{t}" for t in hit.tags))
        meta.append(f"id {hit.id}")
        typer.echo("   " + dim(safe(" · ".join(meta))))
        typer.echo("   " + dim(safe(hit.url or hit.path)))
        for passage in hit.snippet.passages:
            typer.echo("   " + passage.render(*marks, escape=safe).replace("\n", " "))
        if hit.explanation:
            typer.echo("   " + dim(safe("why: " + hit.why())))
        if hit.versions:
            noun = "version" if len(hit.versions) == 1 else "versions"
            ids = ", ".join(v.id for v in hit.versions[:3]) + (", …" if len(hit.versions) > 3 else "")
            typer.echo("   " + dim(safe(f"+ {len(hit.versions)} similar {noun}: {ids} (--no-collapse lists them)")))
        typer.echo("")


_FACETS_SHOWN = 8
_BAR_WIDTH = 30


def _print_facets(facets: Any, dim: Callable[[str], str]) -> None:
    """Categories and tags on one line each, then the date histogram as bars."""
    for label, counts in (("Categories", facets.categories), ("Tags", facets.tags)):
        if counts:
            shown = terminal_text(" · ".join(f"{value} {count}" for value, count in counts[:_FACETS_SHOWN]))
            more = dim(f" · +{len(counts) - _FACETS_SHOWN} more") if len(counts) > _FACETS_SHOWN else ""
            typer.echo(f"{label + ':':<12}{shown}{more}")
    histogram = facets.dates
    if histogram.buckets:
        _echo(f"By {histogram.unit}:")
        peak = max(count for _, count in histogram.buckets) or 1
        width = max(len(key) for key, _ in histogram.buckets)
        for key, count in histogram.buckets:
            bar = "█" * round(count * _BAR_WIDTH / peak) if count else ""
            _echo(f"  {key:<{width}} {bar or '▏'} {count}")
    if histogram.undated:
        _echo(f"  undated: {histogram.undated}")


@app.command("suggest", cls=_Command)
def suggest_command(
    prefix: Annotated[str, typer.Argument(metavar="PREFIX", help="The start of a query: characters, pinyin (xiaoduo) or initials (xdkj).", show_default=False)],
    limit: Annotated[int, _limit_option("How many completions.")] = 10,
    index: IndexOption = None,
    as_json: JsonOption = False,
    cluster: ClusterOption = None,
) -> None:
    """Complete a partial query from keywords and the words of the index's titles."""

    def action() -> None:

        index_dir = _index_dir(index)
        found = _open(index_dir, _config(index_dir, None), cluster).suggest(prefix, limit=limit)
        if as_json:
            _echo_json({"prefix": prefix, "suggestions": [s.to_dict() for s in found]})
        else:
            for suggestion in found:
                _echo(f"{suggestion.text}\t{suggestion.articles}")

    _run(action)


@app.command("topics", cls=_Command)
def topics_command(
    category: CategoryOption = None,
    tag: TagOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, _limit_option("How many keywords.")] = 20,
    index: IndexOption = None,
    as_json: JsonOption = False,
    cluster: ClusterOption = None,
) -> None:
    """The keywords that set a period or section apart from the whole archive."""

    def action() -> None:

        index_dir = _index_dir(index)
        found = _open(index_dir, _config(index_dir, None), cluster).topics(
            category=category or (), tags=tag or (), since=since, until=until, limit=limit
        )
        if as_json:
            _echo_json({"topics": [t.to_dict() for t in found]})
        elif not found:
            _echo("No keyword sets these articles apart.")
        else:
            keywords = [terminal_text(t.keyword) for t in found]
            width = max(map(display_width, keywords))
            for keyword, t in zip(keywords, found):
                _echo(f"{_pad(keyword, width)}  {t.articles} here, {t.archive} in all  (score {t.score:.3f})")

    _run(action)


@app.command("similar", cls=_Command)
def similar_command(
    article_id: Annotated[str, typer.Argument(metavar="ID", help="The article's id, as printed with every hit.", show_default=False)],
    limit: Annotated[int, _limit_option("How many articles.")] = 10,
    index: IndexOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    cluster: ClusterOption = None,
) -> None:
    """Articles most related to one article by content (not its near-duplicates)."""

    def action() -> None:

        index_dir = _index_dir(index)
        results = _open(index_dir, _config(index_dir, config), cluster).similar(article_id, limit=limit)
        if as_json:
            _echo_json(results.to_dict())
        elif not results.hits:
            _echo(f"No articles are related to {article_id}.")
        else:
            _echo(f"Articles related to {article_id}:\n")
            _print_hits(results.hits, 1)

    _run(action)


# --------------------------------------------------------------------------- show, stats


@app.command("show", cls=_Command)
def show_command(
    article_id: Annotated[str, typer.Argument(metavar="ID", help="The article's id, as printed with every hit.", show_default=False)],
    index: IndexOption = None,
    as_json: JsonOption = False,
    cluster: ClusterOption = None,
) -> None:
    """Print one article: its fields and full text."""

    def action() -> None:

        index_dir = _index_dir(index)
        article = _open(index_dir, _config(index_dir, None), cluster).get(article_id)
        if as_json:
            _echo_json(article.to_dict())
            return
        date = article.date_iso()
        if article.date is not None and article.utcoffset_minutes is None and article.date.time() == time(0):
            date = article.date.date().isoformat()  # a day without a time
        title = terminal_text(article.title)
        typer.echo(typer.style(title, bold=True) if _colour() else title)
        _echo(f"id:         {article.id}")
        _echo(f"date:       {date or 'undated'}")
        _echo(f"categories: {', '.join(article.categories) or '-'}")
        _echo(f"tags:       {', '.join(article.tags) or '-'}")
        _echo(f"keywords:   {', '.join(article.keywords) or '-'}")
        _echo(f"path:       {article.path}")
        if article.url:
            _echo(f"url:        {article.url}")
        _echo("")
        _echo(article.body)

    _run(action)


@app.command("stats", cls=_Command)
def stats_command(
    index: IndexOption = None,
    as_json: JsonOption = False,
    top: Annotated[int, typer.Option("--top", metavar="N", parser=_whole_number, help="How many categories and tags to list.")] = 20,
    cluster: ClusterOption = None,
) -> None:
    """Print what the index holds: articles, date range, categories, tags, size."""

    def action() -> None:

        if top < 1:
            raise InvalidArgumentError("--top", f"{top}; it must be 1 or more.")
        index_dir = _index_dir(index)
        stats = _open(index_dir, _config(index_dir, None), cluster).stats()
        if as_json:
            _echo_json(stats.to_dict())
            return
        first = stats.first_date.date().isoformat() if stats.first_date else "-"
        last = stats.last_date.date().isoformat() if stats.last_date else "-"
        _echo(f"index:      {_shown_path(stats.path)}")
        _echo(f"articles:   {stats.articles} (from {counted(stats.sources, 'file')})")
        _echo(f"dates:      {first} … {last}")
        _echo(f"size:       {stats.size_bytes / 1e6:.1f} MB")
        _echo(f"segments:   {stats.segments} ({counted(stats.deleted, 'deleted document')}, {stats.deleted_share:.1%})")
        for label, counts in (("categories", stats.categories), ("tags", stats.tags)):
            shown = ", ".join(f"{name} ({n})" for name, n in counts[:top]) or "-"
            more = f", … {len(counts) - top} more" if len(counts) > top else ""
            _echo(f"{label + ':':<11} {shown}{more}")

    _run(action)


@app.command("compact", cls=_Command)
def compact_command(
    index: IndexOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Merge the index's segments into one and purge deleted articles (for an archive that no longer changes)."""

    def action() -> None:
        from .index import NewsIndex

        index_dir = _index_dir(index)
        report = NewsIndex.open(index_dir, config=_config(index_dir, config)).compact()
        if as_json:
            _echo_json(report.to_dict())
        else:
            _echo(f"{report.summary()}. Index: {_shown_path(index_dir)}")

    _run(action)


@app.command("check", cls=_Command)
def check_command(
    paths: Annotated[list[Path] | None, typer.Argument(metavar="PATH", help="Folders or files that should all be indexed (optional).", show_default=False)] = None,
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
                _echo(f"damaged: {problem}", err=True)
            for label, files in (("changed", report.changed), ("missing", report.missing), ("not indexed", report.not_indexed)):
                for file in files[:SHOWN_FAILURES]:
                    _echo(f"{label}: {file}")
                if len(files) > SHOWN_FAILURES:
                    _echo(f"... and {len(files) - SHOWN_FAILURES} more {label}.")
            _echo(f"{report.summary(_shown_path(report.path))}.")
            shown = _shown_path(ix.path)
            if report.damaged:
                _echo(f"Rebuild it from the source files with: newsearch index --rebuild --index {shown} PATH...", err=True)
            elif not report.current:
                _echo(f"Bring it up to date with: newsearch index --index {shown} PATH...")
        return EXIT_ERROR if report.damaged else EXIT_FAILED_FILES if not report.current else 0

    code = _run(action)
    if code:
        raise typer.Exit(code)


# --------------------------------------------------------------------------- serve


@app.command("serve", cls=_Command)
def serve_command(
    index: IndexOption = None,
    config: ConfigOption = None,
    host: Annotated[Optional[str], typer.Option("--host", metavar="ADDRESS", help="Address to listen on. Default: server.host, 127.0.0.1 (this machine only).", show_default=False)] = None,
    port: Annotated[Optional[int], typer.Option("--port", metavar="PORT", parser=_whole_number, help="Port to listen on; 0 picks a free one. Default: server.port, 8000.", show_default=False)] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", metavar="N", parser=_whole_number, help="Processes answering requests, one core each. Default: server.workers, 1.", show_default=False)] = None,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="Log every request.")] = True,
    show_paths: Annotated[bool, typer.Option("--show-paths", help="Include each article's source file path in the API's answers.")] = False,
    cluster: ClusterOption = None,
) -> None:
    """Serve the index over HTTP: a JSON API and a search page (read-only)."""

    def action() -> None:
        from .server import serve

        index_dir = _index_dir(index)
        ix = _open(index_dir, _config(index_dir, config), cluster)
        listen = host or ix.config.server.host

        def ready(url: str) -> None:
            # Called once the socket is bound: a host that cannot be bound gets no warning.
            if listen not in ("127.0.0.1", "localhost", "::1"):
                _echo(f"Warning: listening on {listen}: other machines can search this index.", err=True)
            _echo(f"Serving {_shown_path(ix.path)} ({counted(len(ix), 'article')}) at {url}  (Ctrl-C stops)", err=True)

        try:
            serve(ix, host=host, port=port, workers=workers, access_log=access_log, on_ready=ready, show_paths=show_paths)
        except InvalidArgumentError as exc:
            if exc.argument == "--port" and _not_an_address_here(listen):
                raise InvalidArgumentError(
                    "--host", f"cannot listen on {listen}: it is not an address of this machine."
                ) from None
            raise
        except KeyboardInterrupt:
            pass
        _echo("Server stopped.", err=True)

    _run(action)


def _not_an_address_here(host: str) -> bool:
    """Whether binding to ``host`` fails whatever the port (the host, not the port, is wrong)."""
    try:
        infos = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return True
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.errno == errno.EADDRNOTAVAIL
    return False


# --------------------------------------------------------------------------- entry point


def _version(value: bool) -> None:
    if value:
        _echo(f"newsearch {__version__}")
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
