"""``normalize`` against the golden outputs of the corpus (corpus/golden/README.md).

Every session is normalized in process with exactly the README's arguments and compared
with ``<session>.records.jsonl.zst`` (and the ``--books`` goldens with ``<name>.books.jsonl.zst``)
line for line, as the output streams out: the same number of records, in the same order,
the same values (floats bit for bit, integers as integers, ``null`` where the golden has
``null``). A line whose text differs is compared by value, so key order and whitespace do
not matter; the first differences are reported with their line numbers.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import orjson
import pytest
import zstandard

from marketprism_fast.offline.normalize import NormalizeOptions, Normalizer
from marketprism_fast.records import KIND_ORDER, VENUES
from marketprism_fast.offline.writers import JsonlWriter
from tests.helpers import CORPUS

pytestmark = pytest.mark.corpus

GOLDEN = CORPUS / "golden"
_NO_CORPUS = f"corpus not found at {CORPUS} (set MPF_CORPUS to its location)"


def golden_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as raw:
        reader = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw))
        for line in reader:
            yield line.rstrip(b"\n")


def same_json_value(a: object, b: object) -> bool:
    """Equal values of the same JSON type; floats compared bit for bit."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a.hex() == b.hex()  # type: ignore[union-attr]
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json_value(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json_value(a[k], b[k]) for k in a)  # type: ignore[union-attr]
    return a == b


class GoldenComparison:
    """A binary stream that compares what is written to it with the golden lines."""

    MAX_REPORTED = 5

    def __init__(self, golden: Iterator[bytes]) -> None:
        self._golden = golden
        self._tail = b""
        self.lines = 0
        self.text_identical = 0
        self.differences: list[str] = []
        self.extra = 0

    def write(self, data: bytes) -> int:
        parts = (self._tail + data).split(b"\n")
        self._tail = parts.pop()
        for line in parts:
            self._compare(line)
        return len(data)

    def flush(self) -> None:
        pass

    def _compare(self, ours: bytes) -> None:
        self.lines += 1
        expected = next(self._golden, None)
        if expected is None:
            self.extra += 1
            return
        if ours == expected:
            self.text_identical += 1
            return
        a, b = orjson.loads(ours), orjson.loads(expected)
        if not same_json_value(a, b):
            self._report(f"line {self.lines}: ours {ours[:400]!r}\n  golden {expected[:400]!r}")

    def _report(self, text: str) -> None:
        if len(self.differences) < self.MAX_REPORTED:
            self.differences.append(text)
        else:
            self.differences[-1] = f"... and more; last at line {self.lines}"

    def finish(self) -> None:
        assert self._tail == b"", "output does not end with a newline"
        missing = sum(1 for _ in self._golden)
        assert not self.differences, "records differ from the golden:\n" + "\n".join(self.differences)
        assert (self.extra, missing) == (0, 0), f"{self.extra} records more and {missing} fewer than the golden"


def _file(venue: str, session: str, what: str) -> Path:
    return CORPUS / venue / f"{venue}.{session}.{what}.jsonl.zst"


def _optional(venue: str, session: str, what: str) -> str | None:
    path = _file(venue, session, what)
    return str(path) if path.exists() else None


def _golden_names(suffix: str) -> list:
    if not (CORPUS / "README.md").exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=_NO_CORPUS), id="no-corpus")]
    names = sorted(p.name[: -len(suffix)] for p in GOLDEN.glob(f"*{suffix}"))
    assert names, f"no golden files *{suffix} in {GOLDEN}"
    return [pytest.param(n, id=n) for n in names]


def records_options(name: str) -> NormalizeOptions:
    """``normalize --venue V V/<session>.frames.jsonl.zst [--refdata R] [--snapshots S]``."""
    venue, session = name.split(".", 1)
    assert venue in VENUES
    refdata = _optional(venue, session, "refdata")
    return NormalizeOptions(
        venue=venue,
        frames=(str(_file(venue, session, "frames")),),
        snapshots=_optional(venue, session, "snapshots"),
        refdata=(refdata,) if refdata else (),
    )


_CHAINED = re.compile(r"^(?P<head>.*-)(?P<first>\d\d)\+(?P<second>\d\d)(?P<tail>_.*)?$")


def books_options(name: str) -> NormalizeOptions:
    """The README's books table: a ``A+B`` name replays day A then day B, with A's snapshots."""
    venue, session = name.split(".", 1)
    chained = _CHAINED.match(session)
    if chained:
        head, tail = chained["head"], chained["tail"] or ""
        sessions = [f"{head}{chained['first']}{tail}", f"{head}{chained['second']}{tail}"]
    else:
        sessions = [session]
    refdata = _optional(venue, sessions[0], "refdata")
    return NormalizeOptions(
        venue=venue,
        frames=tuple(str(_file(venue, s, "frames")) for s in sessions),
        snapshots=_optional(venue, sessions[0], "snapshots"),
        refdata=(refdata,) if refdata else (),
        kinds=frozenset({"book_snapshot"}),
        books=True,
        book_every_update=True,
    )


def check_against_golden(options: NormalizeOptions, golden: Iterator[bytes]) -> None:
    comparison = GoldenComparison(golden)
    writer = JsonlWriter(comparison)  # type: ignore[arg-type]
    summary = Normalizer(options).run(writer)
    writer.close()
    comparison.finish()
    assert summary.exit_status == 0, summary.render()
    assert summary.malformed == 0
    assert sum(summary.records.values()) == comparison.lines


@pytest.mark.parametrize("name", _golden_names(".records.jsonl.zst"))
def test_records_match_golden(name: str) -> None:
    """The command's default parser (compiled when built)."""
    check_against_golden(records_options(name), golden_lines(GOLDEN / f"{name}.records.jsonl.zst"))


# The reference parser is slower: it runs the sessions up to this compressed size (every cf
# session and the smaller hbt ones, which include a snapshot attributed by its next event).
REFERENCE_MAX_BYTES = 400_000


def _small_sessions() -> list:
    params = _golden_names(".records.jsonl.zst")
    small = []
    for p in params:
        name = p.values[0]
        if name is None:
            return params
        venue, session = name.split(".", 1)
        if _file(venue, session, "frames").stat().st_size <= REFERENCE_MAX_BYTES:
            small.append(p)
    return small


@pytest.mark.parametrize("name", _small_sessions())
def test_records_match_golden_with_reference_parser(name: str) -> None:
    options = replace(records_options(name), implementation="reference")
    check_against_golden(options, golden_lines(GOLDEN / f"{name}.records.jsonl.zst"))


@pytest.fixture
def book_builder() -> None:
    books = pytest.importorskip("marketprism_fast.books", reason="the book builder (marketprism_fast.books) is not built yet")
    if not hasattr(books, "BookBuilder"):
        pytest.skip("marketprism_fast.books has no BookBuilder yet")


@pytest.mark.parametrize("name", _golden_names(".books.jsonl.zst"))
def test_books_match_golden(name: str, book_builder: None) -> None:
    check_against_golden(books_options(name), golden_lines(GOLDEN / f"{name}.books.jsonl.zst"))


def test_books_and_records_together(book_builder: None) -> None:
    """Every kind with ``--books``: the records golden and the books golden interleaved by
    frame. OKX cf_2022-02-27 has book updates without levels: the marker rows that carry
    them to the builder must not show up as records."""
    name = "okx.cf_2022-02-27"
    options = replace(books_options(name), kinds=None)
    out = io.BytesIO()
    writer = JsonlWriter(out)
    Normalizer(options).run(writer)
    writer.close()
    ours = [orjson.loads(line) for line in out.getvalue().splitlines()]
    records = [orjson.loads(line) for line in golden_lines(GOLDEN / f"{name}.records.jsonl.zst")]
    books = [orjson.loads(line) for line in golden_lines(GOLDEN / f"{name}.books.jsonl.zst")]
    assert [r for r in ours if r["kind"] != "book_snapshot"] == records
    assert [r for r in ours if r["kind"] == "book_snapshot"] == books
    assert all(r["side"] != 0 for r in ours if r["kind"] == "book_delta")
    # This session's receive times rise strictly from frame to frame, so frame order with
    # kind order inside a frame means (ts_recv, kind order) never goes down.
    keys = [(r["ts_recv"], KIND_ORDER[r["kind"]]) for r in ours]
    assert keys == sorted(keys)


def test_books_options_follow_the_readme_table() -> None:
    if not (CORPUS / "README.md").exists():
        pytest.skip(_NO_CORPUS)
    chained = books_options("binance_usdm.hbt_2024-07-18+19_btcusdt")
    assert [Path(f).name for f in chained.frames] == [
        "binance_usdm.hbt_2024-07-18_btcusdt.frames.jsonl.zst",
        "binance_usdm.hbt_2024-07-19_btcusdt.frames.jsonl.zst",
    ]
    assert chained.snapshots and Path(chained.snapshots).name == "binance_usdm.hbt_2024-07-18_btcusdt.snapshots.jsonl.zst"
    assert chained.refdata == ()
    single = books_options("binance_coinm.cf_2021-07-21")
    assert len(single.frames) == 1 and single.snapshots and len(single.refdata) == 1
