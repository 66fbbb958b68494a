"""``python -m marketprism_fast normalize --books`` run as a user runs it, on the venues other
than Binance spot: exactly the golden outputs (corpus/golden/README.md, value for value),
exit status 0, and a summary whose numbers agree with the corpus's own accounts (line counts
in MANIFEST.json, the independent replay in EXPECTED.json)."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from marketprism_fast.offline.normalize import NormalizeOptions
from tests.helpers import corpus_dir
from tests.test_golden import GOLDEN, books_options, golden_lines, same_json_value
from tests.test_normalize_cli import run

pytestmark = pytest.mark.corpus

# Every recorded (cf) session of these venues that has a books golden.
SESSIONS = [
    "okx.cf_2022-05-13",
    "okx.cf_2022-02-27",
    "binance_usdm.cf_2021-04-17",
    "binance_usdm.cf_2021-07-22",
    "binance_coinm.cf_2021-07-21",
    "deribit.cf_2021-04-17",
    "deribit.cf_2021-07-22",
]
HEAD = re.compile(
    r"normalize (?P<venue>\S+): (?P<frames>\d+) frames read from (?P<files>\d+) file\(s\): "
    r"(?P<parsed>\d+) parsed, (?P<skipped>\d+) skipped, (?P<malformed>\d+) malformed$"
)


@pytest.fixture(autouse=True)
def corpus() -> None:
    corpus_dir()  # skips, saying where it looked, when the corpus is absent


def cli_args(options: NormalizeOptions) -> list[str]:
    """The command line of the README's books table row (``books_options``)."""
    args = ["--venue", options.venue, *options.frames]
    if options.snapshots:
        args += ["--snapshots", options.snapshots]
    for path in options.refdata:
        args += ["--refdata", path]
    args += ["--books", "--book-every-update"]
    if options.kinds is not None:
        args += ["--kinds", ",".join(sorted(options.kinds))]
    return args


def assert_same_records(ours: list[bytes], golden: list[bytes], what: str) -> None:
    assert len(ours) == len(golden), f"{what}: {len(ours)} records, the golden has {len(golden)}"
    for i, (a, b) in enumerate(zip(ours, golden)):
        same = same_json_value(orjson.loads(a), orjson.loads(b))
        assert same, f"{what} line {i + 1}:\n ours   {a[:300]!r}\n golden {b[:300]!r}"


def manifest_lines(path: str) -> int:
    root = corpus_dir()
    files = json.loads((root / "MANIFEST.json").read_text())["files"]
    relative = str(Path(path).resolve().relative_to(root.resolve()))
    (entry,) = [f for f in files if f["path"] == relative]
    return entry["lines"]


def expected_books(name: str) -> dict[str, int]:
    """Applied and dropped messages and symbols of the corpus's own replay (EXPECTED.json)."""
    venue, session = name.split(".", 1)
    sessions = json.loads((corpus_dir() / "EXPECTED.json").read_text())["sessions"]
    (entry,) = [s for s in sessions if (s["venue"], s["session"]) == (venue, session)]
    books = entry["books"].values()
    if venue.startswith("binance"):
        applied = sum(b["sync"]["applied"] for b in books)
        dropped = sum(b["sync"]["dropped_before_sync"] for b in books)
    else:  # every OKX and Deribit book message applies (each verifies, no gap)
        applied, dropped = sum(b["frames"] for b in books), 0
    return {"applied": applied, "dropped": dropped, "symbols": len(entry["books"])}


def summary(stderr: str) -> tuple[dict[str, int], dict[str, str]]:
    """The head line's numbers, and the other lines by label."""
    lines = stderr.splitlines()
    head = HEAD.match(lines[0])
    assert head, stderr
    labelled = dict(line.strip().split(": ", 1) for line in lines[1:] if ": " in line)
    return {k: int(v) if v.isdigit() else v for k, v in head.groupdict().items()}, labelled


def counts(listing: str) -> dict[str, int]:
    """``applied 290, emitted 290, symbols 3`` -> {"applied": 290, ...}."""
    return {k: int(v) for k, v in (item.rsplit(" ", 1) for item in listing.split(", "))}


@pytest.mark.parametrize("name", SESSIONS)
def test_books_from_the_command_line_match_the_golden(name: str) -> None:
    options = books_options(name)
    result = run(*cli_args(options))
    err = result.stderr.decode()
    assert result.returncode == 0, err
    golden = list(golden_lines(GOLDEN / f"{name}.books.jsonl.zst"))
    ours = result.stdout.splitlines()
    assert_same_records(ours, golden, name)

    head, lines = summary(err)
    assert head["venue"] == options.venue and head["files"] == len(options.frames)
    assert head["frames"] == sum(manifest_lines(f) for f in options.frames)
    assert head["parsed"] + head["skipped"] == head["frames"] and head["malformed"] == 0
    assert lines["records"] == f"{len(golden)} (book_snapshot {len(golden)})"
    assert lines["malformed"] == "0"
    assert lines["sequence gaps"] == "none" and lines["checksum failures"] == "0"
    assert "books waiting for a snapshot at the end" not in lines
    books = counts(lines["books"])
    expected = expected_books(name)
    assert books["applied"] == books["emitted"] == len(golden) == expected["applied"]
    assert books.get("dropped", 0) == expected["dropped"]
    assert books["symbols"] == expected["symbols"] == len(Counter(orjson.loads(r)["raw_symbol"] for r in ours))
    if options.snapshots:
        fed = manifest_lines(options.snapshots)
        snapshots = lines["REST snapshots"]
        assert snapshots.startswith(f"{fed} fed, 0 malformed, 0 without a symbol, 0 for an already synced")
    else:
        assert "REST snapshots" not in lines


def test_futures_records_and_books_together_from_the_command_line() -> None:
    """``--snapshots ... --books`` with every kind: the records golden and the books golden,
    interleaved in frame order, each value for value."""
    name = "binance_usdm.cf_2021-07-22"
    options = books_options(name)
    result = run(*cli_args(replace(options, kinds=None)))
    assert result.returncode == 0, result.stderr.decode()
    ours = result.stdout.splitlines()
    is_book = [b'"kind":"book_snapshot"' in line for line in ours]
    records = [line for line, book in zip(ours, is_book) if not book]
    books = [line for line, book in zip(ours, is_book) if book]
    assert_same_records(records, list(golden_lines(GOLDEN / f"{name}.records.jsonl.zst")), f"{name} records")
    assert_same_records(books, list(golden_lines(GOLDEN / f"{name}.books.jsonl.zst")), f"{name} books")
    assert not all(is_book[is_book.index(True) :])  # books come among the records, not after them
