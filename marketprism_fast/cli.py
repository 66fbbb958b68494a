"""Command line: ``python -m marketprism_fast <command> ...``.

Commands live beside each other as subcommands; each has a ``_add_<command>`` that declares
its arguments and a ``_run_<command>`` that runs it and returns the exit status.

Exit statuses: 0 success; 1 the run finished but some input was malformed (its good records
were written); 2 bad usage, unreadable input or unwritable output, reported as one line on
standard error; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM): output files are not
left behind under their final names; 141 the reader of standard output went away
(``normalize ... | head``), quietly, as a program killed by SIGPIPE reports it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import IO, Sequence

# The program does no linear algebra, yet OpenBLAS (numpy's) starts a worker thread for every
# further core when numpy is imported, and the workers spin ~0.1 s of CPU beside the start-up:
# set before numpy is first imported (below), and only where the environment says nothing.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from . import __version__
from .sinks.clickhouse.ddl import DEFAULT_DATABASE, LEGACY, MODERN, ServerCapabilities, render_schema
from .errors import MarketPrismError
from .offline.normalize import DEFAULT_BOOK_DEPTH, DEFAULT_BOOK_INTERVAL_MS, NormalizeOptions, Normalizer
from .offline.progress import ProgressLine
from .offline.writers import DEFAULT_ROW_GROUP_ROWS, FORMATS, make_writer
from .parser import IMPLEMENTATIONS
from .records import KIND_NAMES, VENUES
from .service import commands as node_commands

PROG = "marketprism_fast"
EXIT_OK, EXIT_MALFORMED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # 141


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, reported with its own status."""


class UsageError(Exception):
    """Bad command line; argparse's own errors are turned into this."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise UsageError(self.prog, message)


def _kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",")]
    if not all(kinds):
        raise argparse.ArgumentTypeError(f"empty kind name in {text!r} (KIND,KIND,...)")
    return kinds


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_normalize(commands) -> None:
    p = commands.add_parser(
        "normalize",
        help="turn captured venue frames into normalized records",
        description="Turn capture files of received WS frames into normalized records (normalize-cli.md).",
    )
    p.add_argument("--venue", required=True, metavar="VENUE", help=f"one of: {', '.join(VENUES)}")
    p.add_argument("frames", nargs="+", metavar="FRAMES", help="capture files, one frame per line (.zst/.gz; - is stdin)")
    p.add_argument("--snapshots", metavar="SNAPSHOTS", help="REST depth-snapshot bodies, one per line")
    p.add_argument(
        "--refdata", action="append", default=[], metavar="REFDATA", help="instrument metadata bodies (repeatable)"
    )
    p.add_argument(
        "--kinds",
        action="append",
        type=_kinds,
        metavar="KIND,...",
        help=f"only these kinds (comma separated): {', '.join(KIND_NAMES)}",
    )
    p.add_argument("--books", action="store_true", help="maintain order books and emit book_snapshot records")
    p.add_argument("--book-depth", type=int, metavar="N", help=f"levels per book_snapshot (default {DEFAULT_BOOK_DEPTH})")
    p.add_argument("--book-every-update", action="store_true", help="a book_snapshot after every applied message")
    p.add_argument(
        "--book-interval",
        type=int,
        metavar="MS",
        help=f"otherwise at most one book_snapshot per symbol per MS of receive time (default {DEFAULT_BOOK_INTERVAL_MS})",
    )
    p.add_argument("--format", choices=FORMATS, default="jsonl", help="output format (default jsonl)")
    p.add_argument("--out", metavar="PATH", help="jsonl: a file (default stdout); csv/parquet: a directory")
    p.add_argument(
        "--row-group-rows",
        type=_positive,
        default=DEFAULT_ROW_GROUP_ROWS,
        metavar="N",
        help=f"parquet: rows per row group, per kind; bounds the memory used (default {DEFAULT_ROW_GROUP_ROWS})",
    )
    p.add_argument(
        "--parser", choices=IMPLEMENTATIONS, default="auto", help="parser implementation (default: compiled if built)"
    )


def _add_ddl(commands) -> None:
    p = commands.add_parser(
        "ddl",
        help="print the ClickHouse schema (database and one table per record kind)",
        description="Print the ClickHouse DDL for the record kinds: CREATE DATABASE, then one CREATE TABLE per kind.",
    )
    p.add_argument("--database", default=DEFAULT_DATABASE, metavar="NAME", help=f"database name (default {DEFAULT_DATABASE})")
    server = p.add_mutually_exclusive_group()
    server.add_argument(
        "--server-version", metavar="X.Y", help="the server's version (SELECT version()): use what that version has"
    )
    server.add_argument(
        "--modern",
        action="store_const",
        dest="capabilities",
        const=MODERN,
        help="DateTime64, LowCardinality and codecs (20.1 and later; the default)",
    )
    server.add_argument(
        "--legacy",
        action="store_const",
        dest="capabilities",
        const=LEGACY,
        help="Int64 nanosecond timestamps, plain String, no codecs (18.x)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog=PROG, description="Crypto market-data ingest node.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    node_commands.add_commands(commands)
    _add_normalize(commands)
    _add_ddl(commands)
    return parser


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _normalize_options(args: argparse.Namespace) -> NormalizeOptions:
    kinds = None if args.kinds is None else frozenset(k for group in args.kinds for k in group)
    return NormalizeOptions(
        venue=args.venue,
        frames=tuple(args.frames),
        snapshots=args.snapshots,
        refdata=tuple(args.refdata),
        kinds=kinds,
        books=args.books,
        book_depth=args.book_depth,
        book_every_update=args.book_every_update,
        book_interval_ms=args.book_interval,
        implementation=args.parser,
    )


def _output_kinds(options: NormalizeOptions) -> list[str]:
    """The kinds a run can produce: each gets its file in CSV and Parquet, records or not."""
    if options.kinds is not None:
        return sorted(options.kinds, key=KIND_NAMES.index)
    return [k for k in KIND_NAMES if k != "book_snapshot" or options.books]


def _run_normalize(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    options = _normalize_options(args)
    normalizer = Normalizer(options)  # checks options and inputs first
    writer = make_writer(
        args.format, args.out, stdout, kinds=_output_kinds(options), row_group_rows=args.row_group_rows
    )
    progress = ProgressLine.for_terminal(stderr, options.frames)
    normalizer.progress = progress
    previous = _stop_on_signals(normalizer)  # the node's commands handle their own signals
    try:
        summary = normalizer.run(writer)
        writer.close()
    except BaseException as exc:
        if progress is not None:
            progress.close()
        writer.abort()
        if isinstance(exc, (KeyboardInterrupt, Terminated)):
            what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
            to_stdout = args.out in (None, "-") and args.format == "jsonl"
            kept = "what was written to standard output is incomplete" if to_stdout else "no output file was left"
            print(f"{PROG} normalize: {what} after {normalizer.reader.stats.lines} frames; {kept}", file=stderr)
        raise
    finally:
        _restore_signals(previous)
    if progress is not None:
        progress.close()
    print(summary.render(), file=stderr)
    return summary.exit_status


def _run_ddl(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    if args.server_version is not None:
        capabilities = ServerCapabilities.from_version(args.server_version)
    else:
        capabilities = args.capabilities or MODERN
    stdout.write(render_schema(args.database, capabilities).encode())
    stdout.flush()
    return EXIT_OK


_COMMANDS = {"normalize": _run_normalize, "ddl": _run_ddl, **node_commands.COMMANDS}
# Commands whose arguments belong to another module's parser: handed over as they are.
_PASS_THROUGH = ("sim",)


def main(argv: Sequence[str] | None = None, *, stdout: IO[bytes] | None = None, stderr: IO[str] | None = None) -> int:
    stdout = stdout if stdout is not None else sys.stdout.buffer
    stderr = stderr if stderr is not None else sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _PASS_THROUGH:
        args = argparse.Namespace(command=argv[0], **{f"{argv[0]}_args": argv[1:]})
        try:
            return _COMMANDS[argv[0]](args, stdout, stderr)
        except MarketPrismError as exc:
            print(f"{PROG} {argv[0]}: error: {_one_line(exc)}", file=stderr)
            return EXIT_USAGE
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        print(f"{exc.prog}: error: {_one_line(exc)}", file=stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0)
    handler = logging.StreamHandler(stderr)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    log = logging.getLogger("marketprism_fast")
    log.addHandler(handler)
    try:
        return _COMMANDS[args.command](args, stdout, stderr)
    except MarketPrismError as exc:
        print(f"{PROG} {args.command}: error: {_one_line(exc)}", file=stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Terminated:
        return EXIT_TERMINATED
    except BrokenPipeError:  # the reader of our output went away (| head): end quietly
        if stdout is sys.stdout.buffer:  # keep the interpreter's final flush quiet
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # writing the output failed (disk full, ...)
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"{PROG} {args.command}: error: {where}{_one_line(exc.strerror or exc)}", file=stderr)
        return EXIT_USAGE
    finally:
        log.removeHandler(handler)


def _stop_on_signals(normalizer: Normalizer) -> dict:
    """Ctrl-C and SIGTERM ask the run to stop at its next safe point (an exception raised
    from a signal handler at any instruction can break a lock the Parquet writer's thread
    shares); a second signal stops at once. A signal the parent ignores stays ignored.
    Returns the handlers to restore (none outside the main thread)."""

    def stop(signum, frame) -> None:
        exc = KeyboardInterrupt() if signum == signal.SIGINT else Terminated()
        if normalizer.interrupt is not None:
            raise exc
        normalizer.interrupt = exc

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue
            previous[signum] = signal.signal(signum, stop)
        except ValueError:  # not the main thread
            return {}
    return previous


def _restore_signals(previous: dict) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
