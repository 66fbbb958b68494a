"""Instruments that neither metadata nor the name rules resolve (data-model.md "Symbols",
"Binance symbols without metadata"): on every venue their records still come out, with the
raw text upper-cased as the symbol, and the instrument is counted; ``normalize`` names it in
its summary.

Each venue's frame is a documented-payload fixture frame with its instrument renamed to one
no rule splits (and a mixed-case spelling, to see the upper-casing); the fixture metadata is
loaded, and does not list it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.parser import make_parser
from marketprism_fast.parser import FrameStatus
from marketprism_fast.records import MARKETS
from marketprism_fast.refdata import load_metadata_files
from tests.helpers import FIXTURES, REPO, read_lines, same_value
from tests.test_symbols import REFDATA_FIXTURES

# venue -> (fixture, line, the instrument it names, names no rule splits)
CASES = {
    "binance_spot": ("binance_spot/trade_forms", 1, "BTCUSDT", ("FOOXYZ", "Fooxyz")),  # no quote suffix
    "binance_usdm": ("binance_usdm/trade_insurance_fund", 0, "BTCUSDT", ("FOOXYZ", "fooxyz")),
    "binance_coinm": ("binance_coinm/book_ticker", 0, "BTCUSD_PERP", ("FOOBAR_PERP", "Foobar_perp")),  # not *USD
    "okx": ("okx/tickers", 1, "BTC-USDT", ("FOO-BAR-BAZ", "Foo-bar-baz")),  # no instId shape
    "deribit": ("deribit/ticker_future", 0, "BTC-29DEC23", ("BTC-FOO", "Btc-foo")),  # neither expiry nor PERPETUAL
}
VENUES = sorted(CASES)


def renamed(venue: str, raw: str | None = None) -> bytes:
    """The venue's fixture frame, its instrument renamed to ``raw`` (stream names too)."""
    fixture, line, known, _ = CASES[venue]
    frame = read_lines(FIXTURES / f"{fixture}.frames.jsonl")[line]
    if raw is None:
        return frame
    return frame.replace(known.encode(), raw.encode()).replace(known.lower().encode(), raw.lower().encode())


def records(parser) -> list[dict]:
    return [dict(r, kind=b.kind.name) for b in parser.take() for r in b.rows()]


def records_of(parser, frame: bytes) -> list[dict]:
    assert parser.feed(frame, 1) == FrameStatus.PARSED
    return records(parser)


@pytest.fixture(scope="module")
def metadata():
    return load_metadata_files(REFDATA_FIXTURES.values())


@pytest.mark.parametrize("venue", VENUES)
def test_unknown_instrument_is_kept_upper_cased_and_counted(venue: str, implementation: str, metadata) -> None:
    parser = make_parser(venue, InstrumentRegistry(venue, metadata), implementation=implementation)
    known = records_of(parser, renamed(venue))
    assert known and all(r["raw_symbol"] == CASES[venue][2] for r in known)
    for raw in CASES[venue][3]:
        assert metadata.entry(venue, raw) is None  # the metadata does not know it either
        registry = InstrumentRegistry(venue, metadata)
        parser = make_parser(venue, registry, implementation=implementation)
        got = records_of(parser, renamed(venue, raw))
        assert len(got) == len(known)  # never dropped
        for row, want in zip(got, known):
            assert (row["exchange"], row["symbol"], row["raw_symbol"]) == (venue, raw.upper(), raw)
            assert row["market"] in MARKETS
            # apart from the instrument, the record is that of the known instrument
            assert all(same_value(row[k], want[k]) for k in want if k not in ("market", "symbol", "raw_symbol"))
        assert registry.unresolved == {raw: 1}
        assert len(records_of(parser, renamed(venue, raw))) == len(known)
        assert registry.unresolved == {raw: 1}  # once per instrument, however many records


SUMMARY_LINE = "symbols no rule could split (kept upper-cased): "


@pytest.mark.parametrize("venue", VENUES)
def test_normalize_reports_unknown_instruments_in_its_summary(venue: str, tmp_path: Path) -> None:
    unknown = CASES[venue][3]
    frames = tmp_path / "frames.jsonl"
    frames.write_bytes(b"\n".join([renamed(venue), *(renamed(venue, raw) for raw in unknown)]) + b"\n")
    result = subprocess.run(
        [sys.executable, "-m", "marketprism_fast", "normalize", "--venue", venue, str(frames),
         "--refdata", str(REFDATA_FIXTURES[venue])],
        capture_output=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    err = result.stderr.decode()
    assert result.returncode == 0, err
    out = [orjson.loads(line) for line in result.stdout.splitlines()]
    per_frame = len(out) // 3
    assert per_frame and len(out) == 3 * per_frame
    assert [(r["symbol"], r["raw_symbol"]) for r in out[per_frame:]] == [
        (raw.upper(), raw) for raw in unknown for _ in range(per_frame)
    ]
    (line,) = [line for line in err.splitlines() if SUMMARY_LINE in line]
    assert sorted(line.split(SUMMARY_LINE, 1)[1].split(", ")) == sorted(unknown)
    assert "malformed: 0" in err
