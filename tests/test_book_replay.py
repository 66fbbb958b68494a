"""Corpus replays through the project's parser and the book builder, and the oracles on them.

``replay`` is shared by the other book tests: frames in file order (several day files as
one stream), each REST snapshot fed at its receive time (after every frame received no later
than it), its symbol from its body or URL as normalize-cli.md says (hbt captures name neither:
they record one symbol, the one the session is named after).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import orjson
import pytest

from marketprism_fast.books import BookBuilder
from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.parser import make_parser
from tests.helpers import CORPUS, corpus_dir, read_lines

pytestmark = pytest.mark.corpus

CHUNK_FRAMES = 512
# The project's parser: compiled where built (fast), else the reference; MPF_BOOK_PARSER overrides.
PARSER = os.environ.get("MPF_BOOK_PARSER", "auto")


def recv_ns(meta_line: bytes) -> int:
    return int(Decimal(meta_line.split(b"\t", 1)[0].decode()) * 10**9)


@dataclass(frozen=True)
class Capture:
    venue: str
    frames: tuple[bytes, ...] = ()
    frame_ts: tuple[int, ...] = ()
    snapshots: tuple[tuple[int, bytes, str], ...] = ()  # (ts_recv, body, raw_symbol), by time
    refdata: tuple[bytes, ...] = ()

    def without_frames(self, drop: set[int]) -> "Capture":
        keep = [i for i in range(len(self.frames)) if i not in drop]
        return replace(self, frames=tuple(self.frames[i] for i in keep), frame_ts=tuple(self.frame_ts[i] for i in keep))

    def with_frame(self, index: int, frame: bytes) -> "Capture":
        return replace(self, frames=self.frames[:index] + (frame,) + self.frames[index + 1 :])

    def with_snapshot(self, ts_recv: int, body: bytes, raw_symbol: str) -> "Capture":
        return replace(self, snapshots=tuple(sorted(self.snapshots + ((ts_recv, body, raw_symbol),), key=lambda s: s[0])))


def snapshot_symbol(body: bytes, url: str, session: str) -> str:
    doc = orjson.loads(body)
    if isinstance(doc.get("symbol"), str):
        return doc["symbol"]
    query = parse_qs(urlparse(url).query)
    if "symbol" in query:
        return query["symbol"][0]
    return session.rsplit("_", 1)[1].upper()


@functools.lru_cache(maxsize=None)
def load_capture(venue: str, sessions: tuple[str, ...]) -> Capture:
    """The sessions' frames as one stream, with every snapshot and refdata body they have."""
    root = corpus_dir() / venue
    frames: list[bytes] = []
    frame_ts: list[int] = []
    snapshots: list[tuple[int, bytes, str]] = []
    refdata: list[bytes] = []
    for session in sessions:
        stem = root / f"{venue}.{session}"
        frames += read_lines(Path(f"{stem}.frames.jsonl.zst"))
        frame_ts += [recv_ns(m) for m in read_lines(Path(f"{stem}.frames.meta.tsv.zst"))]
        if Path(f"{stem}.snapshots.jsonl.zst").exists():
            metas = read_lines(Path(f"{stem}.snapshots.meta.tsv.zst"))
            for body, meta in zip(read_lines(Path(f"{stem}.snapshots.jsonl.zst")), metas):
                url = meta.split(b"\t", 1)[1].decode()
                snapshots.append((recv_ns(meta), body, snapshot_symbol(body, url, session)))
        if Path(f"{stem}.refdata.jsonl.zst").exists():
            refdata += read_lines(Path(f"{stem}.refdata.jsonl.zst"))
    return Capture(venue, tuple(frames), tuple(frame_ts), tuple(sorted(snapshots, key=lambda s: s[0])), tuple(refdata))


def registry_for(capture: Capture) -> InstrumentRegistry:
    metadata = None
    if capture.refdata:
        from marketprism_fast.refdata import load_metadata

        metadata = load_metadata(capture.refdata)
    return InstrumentRegistry(capture.venue, metadata)


@dataclass
class Replay:
    builder: BookBuilder
    books: list[dict] = field(default_factory=list)  # book_snapshot rows (with frame), in emission order
    quotes: list[dict] = field(default_factory=list)  # the builder's derived quotes, with quotes=True
    tickers: list[dict] = field(default_factory=list)  # the parser's quote rows (bookTicker)
    markers: int = 0  # book_delta marker rows (side 0) the parser emitted

    def rows_of(self, raw_symbol: str) -> list[dict]:
        return [r for r in self.books if r["raw_symbol"] == raw_symbol]


def replay(capture: Capture, **builder_options) -> Replay:
    """Parse the capture frame by frame with the project's parser and build its books."""
    registry = registry_for(capture)
    parser = make_parser(capture.venue, registry, implementation=PARSER, book_markers=True)
    run = Replay(BookBuilder(capture.venue, registry, **builder_options))

    def drain() -> None:
        for batch in parser.take():
            if batch.kind.name == "book_delta":
                run.markers += int((batch.column("side") == 0).sum())
                run.builder.apply(batch)
            elif batch.kind.name == "quote":
                run.tickers.extend(batch.rows(batch.kind.column_names + ("frame",)))
        for batch in run.builder.take():
            rows = batch.rows(batch.kind.column_names + ("frame",))
            (run.books if batch.kind.name == "book_snapshot" else run.quotes).extend(rows)

    pending = list(capture.snapshots)
    for i, (frame, ts) in enumerate(zip(capture.frames, capture.frame_ts)):
        while pending and pending[0][0] < ts:
            snap_ts, body, symbol = pending.pop(0)
            parser.feed_snapshot(body, snap_ts, symbol)
        parser.feed(frame, ts)
        if i % CHUNK_FRAMES == CHUNK_FRAMES - 1:
            drain()
    for snap_ts, body, symbol in pending:
        parser.feed_snapshot(body, snap_ts, symbol)
    drain()
    return run


@functools.lru_cache(maxsize=None)
def replay_session(venue: str, sessions: tuple[str, ...]) -> Replay:
    """The unmodified replay at the contract's default depth (shared by several tests)."""
    return replay(load_capture(venue, sessions), depth=20)


def rowless_book_messages(capture: Capture) -> list[tuple[str, int]]:
    """(raw_symbol, ts_recv) of the book messages that change no level (OKX updates with empty
    lists, Deribit snapshots of empty books): the builder sees them only as marker rows."""
    found = []
    for frame, ts in zip(capture.frames, capture.frame_ts):
        if b'"bids":[]' not in frame or b'"asks":[]' not in frame:
            continue
        doc = orjson.loads(frame)
        if capture.venue == "okx" and doc.get("arg", {}).get("channel", "").startswith("books"):
            found += [(doc["arg"]["instId"], ts) for d in doc["data"] if not d["bids"] and not d["asks"]]
        elif capture.venue == "deribit" and doc.get("params", {}).get("channel", "").startswith("book."):
            found.append((doc["params"]["data"]["instrument_name"], ts))
    return found


# ---------------------------------------------------------------- what EXPECTED.json says

def _expected_file() -> dict:
    path = CORPUS / "EXPECTED.json"
    return json.loads(path.read_text()) if path.exists() else {"sessions": [], "chains": []}


def expected_entry(venue: str, sessions: tuple[str, ...]) -> dict:
    data = _expected_file()
    if len(sessions) > 1:
        return next(c for c in data["chains"] if c["venue"] == venue and tuple(c["chain"]) == sessions)
    return next(s for s in data["sessions"] if s["venue"] == venue and s["session"] == sessions[0])


def cases(venue_prefix: str, *, rest_snapshots: bool = False) -> list:
    """(venue, sessions) per EXPECTED.json session (+ chains for Binance); a skip when the
    corpus is absent."""
    data = _expected_file()
    found = [
        (s["venue"], (s["session"],))
        for s in data["sessions"]
        if s["venue"].startswith(venue_prefix) and (s.get("rest_snapshots") or not rest_snapshots)
    ]
    found += [(c["venue"], tuple(c["chain"])) for c in data["chains"] if c["venue"].startswith(venue_prefix)]
    if not found:
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS}"))]
    return [pytest.param(v, s, id=f"{v}.{'+'.join(s)}") for v, s in found]


def per_symbol(rows: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["raw_symbol"]] = counts.get(r["raw_symbol"], 0) + 1
    return counts


# ---------------------------------------------------------------- oracles

@pytest.mark.parametrize("venue,sessions", cases("binance", rest_snapshots=True))
def test_binance_top_of_book_equals_book_ticker(venue: str, sessions: tuple[str, ...]) -> None:
    """Whenever a bookTicker carries the update id of an applied depth message, the book's best
    bid/ask (prices and amounts) equal the bookTicker's, on every such match, and the matches
    are exactly as many as EXPECTED.json counts."""
    run = replay_session(venue, sessions)
    tops = {(r["raw_symbol"], r["update_id"]): r for r in run.books}
    matches: dict[str, int] = {}
    for ticker in run.tickers:
        book = tops.get((ticker["raw_symbol"], ticker["update_id"]))
        if book is None:
            continue
        matches[ticker["raw_symbol"]] = matches.get(ticker["raw_symbol"], 0) + 1
        got = (book["bid_price"][0], book["bid_amount"][0], book["ask_price"][0], book["ask_amount"][0])
        want = (ticker["bid_price"], ticker["bid_amount"], ticker["ask_price"], ticker["ask_amount"])
        assert got == want, f"{ticker['raw_symbol']} u={ticker['update_id']}"
    sync = {s: b["sync"] for s, b in expected_entry(venue, sessions)["books"].items() if b.get("sync")}
    assert matches == {s: v["bookTicker_u_matches"] for s, v in sync.items() if v["bookTicker_u_matches"]}
    assert per_symbol(run.books) == {s: v["applied"] for s, v in sync.items()}
    stats = run.builder.stats()
    assert stats["dropped"] == sum(v["dropped_before_sync"] for v in sync.values())
    assert (stats["gaps"], stats["crossed"], stats["out_of_sync"], stats["pending"]) == ({}, 0, [], 0)


@pytest.mark.parametrize("venue,sessions", cases("okx"))
def test_okx_every_checksum_verifies(venue: str, sessions: tuple[str, ...]) -> None:
    run = replay_session(venue, sessions)
    stats = run.builder.stats()
    assert (stats["checksum_failures"], stats["gaps"], stats["crossed"], stats["dropped"]) == (0, {}, 0, 0)
    books = expected_entry(venue, sessions)["books"]
    assert per_symbol(run.books) == {key.split(" ", 1)[1]: b["checksum_ok"] for key, b in books.items()}
    assert run.markers == len(rowless_book_messages(load_capture(venue, sessions)))


def replays_with_every(switch, names: list[str], venue: str, sessions: tuple[str, ...]) -> tuple[Replay, list[str]]:
    """Replay the sessions with every implementation in ``names`` besides the one in use
    (``switch``: the module's switch for them, restored after); each run's stats and rows must
    equal the run with the one in use. Returns that run and the implementations compared."""
    expected = replay_session(venue, sessions)
    in_use = switch()
    others = [name for name in names if name != in_use]
    for name in others:
        switch(name)
        try:
            run = replay(load_capture(venue, sessions), depth=20)
        finally:
            switch(in_use)
        assert run.builder.stats() == expected.builder.stats(), name
        assert repr(run.books) == repr(expected.books), name
    return expected, others


@pytest.mark.parametrize("venue,sessions", cases("okx"))
def test_okx_checksums_verify_with_every_crc(venue: str, sessions: tuple[str, ...]) -> None:
    """Every CRC this CPU runs besides the one in use (the slicing-by-8 table, the fallback
    where the CPU has no carry-less multiplication, at least) verifies every checksum of the
    corpus as the one in use does, and emits the same rows."""
    from marketprism_fast._book import crc32_implementation, crc32_implementations

    expected, compared = replays_with_every(crc32_implementation, crc32_implementations(), venue, sessions)
    assert "table" in compared
    assert expected.builder.stats()["checksum_failures"] == 0


@pytest.mark.parametrize("venue,sessions", cases("deribit"))
def test_deribit_change_ids_chain(venue: str, sessions: tuple[str, ...]) -> None:
    run = replay_session(venue, sessions)
    stats = run.builder.stats()
    assert (stats["gaps"], stats["crossed"], stats["dropped"], stats["out_of_sync"]) == ({}, 0, 0, [])
    books = expected_entry(venue, sessions)["books"]
    messages = {key.split(".")[1]: b["snapshots"] + b["changes"] for key, b in books.items()}
    assert per_symbol(run.books) == messages
    assert run.markers == len(rowless_book_messages(load_capture(venue, sessions)))
    for symbol in messages:
        ids = [r["update_id"] for r in run.rows_of(symbol)]
        assert ids == sorted(ids)


@pytest.mark.parametrize("venue,sessions", cases("binance_usdm", rest_snapshots=True) + cases("okx"))
def test_books_replay_the_same_with_every_row_scan(venue: str, sessions: tuple[str, ...]) -> None:
    """Every row scan this CPU runs besides the one in use (where a message ends, whether its
    rows are valid: the scalar one at least, where the CPU has a vector one) builds the same
    books, row for row, from USD-M's ~70-row depth messages as from OKX's few-row ones."""
    from marketprism_fast._book import rows_scan_implementation, rows_scan_implementations

    _, compared = replays_with_every(rows_scan_implementation, rows_scan_implementations(), venue, sessions)
    assert compared == [] if rows_scan_implementations() == ["scalar"] else "scalar" in compared
