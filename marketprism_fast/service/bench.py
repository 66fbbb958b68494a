"""``python -m marketprism_fast bench``: the migration comparison (``benchmarks/compare/``).

The comparison lives in the source tree, not in the installed package (it needs the corpus,
the old design's code and the test servers), so this command runs it from a source checkout:
the directory above this package when it holds ``benchmarks/compare/run.py``, or the one
``MPF_SOURCE`` names. Elsewhere it says so in one line and exits 2.

The command-line module wires it in with ``add_parser(subparsers)`` and ``main(args)``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import IO

from ..errors import ConfigurationError

SOURCE_VARIABLE = "MPF_SOURCE"
RUNNER = Path("benchmarks") / "compare" / "run.py"
EXIT_OK, EXIT_USAGE = 0, 2


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "bench",
        help="run the migration comparison (new path vs the old design) and write its report",
        description="Run the comparison of benchmarks/compare/ (decode, books, encoding, memory, sinks, end to end "
        "and under faults; each contender in its own process) and write a Markdown report with charts. "
        "Needs a source checkout.",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a subset that takes under two minutes")
    size.add_argument("--smoke", action="store_true", help="the smallest run that still writes every part of the report")
    p.add_argument("--out", metavar="DIR", default=None, help="where report.md, img/ and results.json go (default out/bench)")
    p.add_argument("--update-docs", action="store_true", help="also rewrite docs/benchmarks.md's first section and docs/img/")
    return p


def source_checkout() -> Path:
    """The checkout holding the comparison, or ConfigurationError naming where it looked."""
    candidates = [Path(os.environ[SOURCE_VARIABLE])] if os.environ.get(SOURCE_VARIABLE) else []
    candidates.append(Path(__file__).resolve().parents[2])
    for root in candidates:
        if (root / RUNNER).is_file():
            return root
    looked = ", ".join(str(c) for c in candidates)
    raise ConfigurationError(
        f"bench: no benchmarks/compare/ here (looked in {looked}); it runs from a source checkout "
        f"(set {SOURCE_VARIABLE} to one)",
        field="bench",
    )


def command(args: argparse.Namespace, root: Path) -> list[str]:
    out = [sys.executable, str(root / RUNNER)]
    if args.quick:
        out.append("--quick")
    if getattr(args, "smoke", False):
        out.append("--smoke")
    if args.out:
        out += ["--out", str(Path(args.out).resolve())]
    if args.update_docs:
        out.append("--update-docs")
    return out


def main(args: argparse.Namespace, stdout: IO[bytes] | None = None, stderr: IO[str] | None = None) -> int:
    err = stderr or sys.stderr
    try:
        root = source_checkout()
    except ConfigurationError as exc:
        print(f"marketprism_fast bench: error: {exc}", file=err)
        return EXIT_USAGE
    # The runner's progress line goes straight to this terminal (its stderr is ours).
    return subprocess.run(command(args, root), cwd=root).returncode


def run_standalone(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="marketprism_fast")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return main(parser.parse_args(["bench", *(argv if argv is not None else sys.argv[1:])]))


if __name__ == "__main__":
    sys.exit(run_standalone())
