"""Gaps on real frames: one message taken out of a recorded stream.

Each test checks that the gap is caught at the message after the hole (and not before), that
only that symbol is cleared and marked out of sync while every other symbol's books stay
exactly as in the intact replay, and that the symbol comes back, exact again, with its next
snapshot. The resync snapshot is made from the intact replay's own book at that point (what a
fresh REST snapshot or resubscription would have returned), written in the venue's format.
"""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from marketprism_fast._book import SIDE_ASK, SIDE_BID, LevelBook
from marketprism_fast.books import SnapshotScheduler
from tests.test_book_replay import Capture, Replay, load_capture, replay, replay_session

pytestmark = pytest.mark.corpus


# ---------------------------------------------------------------- capture surgery

def book_messages(capture: Capture) -> dict[str, list[tuple[int, dict]]]:
    """Per raw symbol, (frame index, decoded message) of its incremental book messages."""
    found: dict[str, list[tuple[int, dict]]] = {}
    for i, frame in enumerate(capture.frames):
        doc = orjson.loads(frame) if b"depthUpdate" in frame or b'"book' in frame else None
        if doc is None:
            continue
        if capture.venue.startswith("binance") and doc.get("data", {}).get("e") == "depthUpdate":
            found.setdefault(doc["data"]["s"], []).append((i, doc["data"]))
        elif capture.venue == "okx" and doc.get("action") == "update":
            found.setdefault(doc["arg"]["instId"], []).append((i, doc["data"][0]))
        elif capture.venue == "deribit" and doc.get("params", {}).get("data", {}).get("type") == "change":
            data = doc["params"]["data"]
            found.setdefault(data["instrument_name"], []).append((i, data))
    return found


def until(capture: Capture, index: int) -> Capture:
    """The capture up to and including frame ``index`` (and the snapshots received by then)."""
    ts = capture.frame_ts[index]
    return replace(
        capture,
        frames=capture.frames[: index + 1],
        frame_ts=capture.frame_ts[: index + 1],
        snapshots=tuple(s for s in capture.snapshots if s[0] < ts),
    )


def insert_frame(capture: Capture, index: int, frame: bytes) -> Capture:
    """``frame`` right after frame ``index``, received at the same time."""
    ts = capture.frame_ts[index]
    return replace(
        capture,
        frames=capture.frames[: index + 1] + (frame,) + capture.frames[index + 1 :],
        frame_ts=capture.frame_ts[: index + 1] + (ts,) + capture.frame_ts[index + 1 :],
    )


def book_after(capture: Capture, index: int, symbol: str) -> LevelBook:
    """The intact replay's book of ``symbol`` once frame ``index`` has been processed."""
    run = replay(until(capture, index), depth=1)
    book = run.builder.book(symbol)
    assert book is not None and not run.builder.needs_snapshot(symbol)
    return book


def comparable(row: dict) -> dict:
    """The row without its frame number (frames shift by a cut) and with NaN as None (NaN
    never equals itself)."""
    return {
        k: [None if x != x else x for x in v] if isinstance(v, list) else v
        for k, v in row.items() if k != "frame"
    }


def without_frame(run: Replay, symbol: str | None = None) -> list[dict]:
    """Comparable rows of every symbol but ``symbol``."""
    return [comparable(r) for r in run.books if r["raw_symbol"] != symbol]


def rows_of(run: Replay, symbol: str) -> list[dict]:
    return [comparable(r) for r in run.rows_of(symbol)]


# ---------------------------------------------------------------- Binance

BINANCE = [
    pytest.param("binance_spot", ("cf_2021-04-17",), id="spot"),
    pytest.param("binance_usdm", ("cf_2021-07-22",), id="usdm"),
    pytest.param("binance_coinm", ("cf_2021-07-21",), id="coinm"),
]


def busiest(messages: dict[str, list]) -> str:
    return max(messages, key=lambda s: len(messages[s]))


def busiest_stream(venue: str, *sessions: str) -> tuple[Capture, Replay, str, list[tuple[int, dict]]]:
    """The capture, its intact replay, its busiest symbol and that symbol's book messages."""
    capture = load_capture(venue, sessions)
    messages = book_messages(capture)
    symbol = busiest(messages)
    return capture, replay_session(venue, sessions), symbol, messages[symbol]


@pytest.mark.parametrize("venue,sessions", BINANCE)
def test_binance_gap_clears_one_symbol_until_its_next_snapshot(venue: str, sessions: tuple[str, ...]) -> None:
    capture, intact, symbol, events = busiest_stream(venue, *sessions)
    applied_ids = [r["update_id"] for r in intact.rows_of(symbol)]
    cut = next(k for k, (_, e) in enumerate(events) if e["u"] == applied_ids[20])  # well after sync
    cut_frame, removed = events[cut]
    after = events[cut + 1][1]  # the gap is caught here, at the event after the hole
    resync_k = cut + 10
    resync_frame, resync_event = events[resync_k]
    next_event = events[resync_k + 1][1]
    # a fresh REST snapshot taken between event resync_k and the next one
    book = book_after(capture, resync_frame, symbol)
    spot = venue == "binance_spot"
    body = orjson.dumps({
        "lastUpdateId": resync_event["u"] if spot else next_event["U"],
        "symbol": symbol,
        "bids": [[repr(p), repr(a)] for p, a in book.levels(SIDE_BID)],
        "asks": [[repr(p), repr(a)] for p, a in book.levels(SIDE_ASK)],
    })
    damaged = capture.without_frames({cut_frame})
    damaged = damaged.with_snapshot(capture.frame_ts[resync_frame] + 1, body, symbol)
    assert capture.frame_ts[resync_frame + 1] > capture.frame_ts[resync_frame] + 1
    run = replay(damaged, depth=20)

    stats = run.builder.stats()
    assert stats["gaps"] == {symbol: 1} and stats["out_of_sync"] == []
    gap = run.builder.last_gap[symbol]
    if spot:  # expected U = previous u + 1 (the removed event's U); got the next event's U
        assert (gap.expected, gap.got) == (removed["U"], after["U"])
    else:  # expected pu = previous u; got the next event's pu (the removed event's u)
        assert (gap.expected, gap.got) == (events[cut - 1][1]["u"], after["pu"])
    ids = [r["update_id"] for r in run.rows_of(symbol)]
    intact_ids = [r["update_id"] for r in intact.rows_of(symbol)]
    before = intact_ids.index(events[cut - 1][1]["u"]) + 1
    resumed = intact_ids.index(resync_event["u"]) + 1
    # books up to the hole, none while out of sync, then exactly the intact books again
    assert ids == intact_ids[:before] + intact_ids[resumed:]
    assert rows_of(run, symbol) == rows_of(intact, symbol)[:before] + rows_of(intact, symbol)[resumed:]
    assert without_frame(run, symbol) == without_frame(intact, symbol)


def test_binance_gap_without_snapshot_leaves_symbol_waiting() -> None:
    capture, intact, symbol, events = busiest_stream("binance_usdm", "cf_2021-07-22")
    cut_frame = events[30][0]
    run = replay(capture.without_frames({cut_frame}), depth=20)
    assert run.builder.needs_snapshot(symbol) and run.builder.out_of_sync == {symbol}
    assert run.builder.book(symbol).bid_count == 0  # cleared, not left stale
    assert run.builder.stats()["pending"] > 0  # later events wait for the next snapshot
    assert without_frame(run, symbol) == without_frame(intact, symbol)


def test_gap_storm_requests_each_symbol_once_within_the_budget() -> None:
    """A hole in every symbol's stream: one queued request per symbol, released by the bucket."""
    capture = load_capture("binance_spot", ("cf_2021-04-17",))
    messages = book_messages(capture)
    now = [0.0]
    scheduler = SnapshotScheduler(capacity=100, refill_per_second=50, request_weight=50, clock=lambda: now[0])
    holes = {events[-3][0] for events in messages.values() if len(events) > 8}
    run = replay(capture.without_frames(holes), depth=20, scheduler=scheduler)
    gapped = set(run.builder.stats()["gaps"])
    assert len(gapped) == len(holes) >= 5
    assert sorted(scheduler.pending) == sorted(gapped)  # initial requests were cancelled by the snapshots
    assert len(scheduler.due()) == 2  # the burst: 100 weight = 2 requests
    assert scheduler.due() == []
    now[0] += 1.0  # 50 weight refilled: one more
    assert len(scheduler.due()) == 1
    assert len(scheduler.pending) == len(gapped) - 3


# ---------------------------------------------------------------- OKX

def okx_snapshot_frame(symbol: str, book: LevelBook, ts_ms: str) -> bytes:
    levels = {
        name: [[p, a, "0", "1"] for p, a in book.level_texts(side)]
        for name, side in (("bids", SIDE_BID), ("asks", SIDE_ASK))
    }
    return orjson.dumps({
        "arg": {"channel": "books-l2-tbt", "instId": symbol},
        "action": "snapshot",
        "data": [{"asks": levels["asks"], "bids": levels["bids"], "ts": ts_ms, "checksum": book.checksum()}],
    })


def test_okx_missing_update_fails_the_checksum_and_resyncs_on_the_next_snapshot() -> None:
    capture, intact, symbol, updates = busiest_stream("okx", "cf_2022-02-27")
    intact_rows = rows_of(intact, symbol)
    position = {r["ts_recv"]: i for i, r in enumerate(intact_rows)}

    def prices(k: int) -> set[float]:
        return {float(level[0]) for side in ("bids", "asks") for level in updates[k][1][side]}

    def detectable(k: int) -> bool:
        """Update k changes a level among the top 20 and update k+1 does not touch it again."""
        row = intact_rows[position[capture.frame_ts[updates[k][0]]]]
        top = set(row["bid_price"]) | set(row["ask_price"])
        return bool((prices(k) & top) - prices(k + 1))

    cut = next(k for k in range(50, len(updates)) if detectable(k))
    cut_frame = updates[cut][0]
    resync_frame, resync_update = updates[cut + 20]
    book = book_after(capture, resync_frame, symbol)
    damaged = insert_frame(capture, resync_frame, okx_snapshot_frame(symbol, book, resync_update["ts"]))
    run = replay(damaged.without_frames({cut_frame}), depth=20)

    stats = run.builder.stats()
    assert stats["checksum_failures"] == 1 and stats["gaps"] == {} and stats["out_of_sync"] == []
    got = rows_of(run, symbol)
    before = position[capture.frame_ts[updates[cut - 1][0]]] + 1
    resumed = position[capture.frame_ts[resync_frame]] + 1
    # up to the hole; the failed update and those after it are not emitted; the snapshot
    # (same state as the intact book there) and everything after it are
    assert got[:before] == intact_rows[:before]
    assert got[before:] == [intact_rows[resumed - 1]] + intact_rows[resumed:]
    assert without_frame(run, symbol) == without_frame(intact, symbol)


# ---------------------------------------------------------------- Deribit

def test_deribit_broken_chain_is_a_gap_until_the_next_snapshot() -> None:
    capture, intact, symbol, changes = busiest_stream("deribit", "cf_2021-04-17")
    cut_frame, removed = changes[5]
    resync_frame, resync_change = changes[12]
    book = book_after(capture, resync_frame, symbol)
    snapshot = orjson.dumps({"jsonrpc": "2.0", "method": "subscription", "params": {
        "channel": f"book.{symbol}.raw",
        "data": {
            "type": "snapshot", "timestamp": resync_change["timestamp"], "instrument_name": symbol,
            "change_id": resync_change["change_id"],
            "bids": [["new", p, a] for p, a in book.levels(SIDE_BID)],
            "asks": [["new", p, a] for p, a in book.levels(SIDE_ASK)],
        },
    }})
    run = replay(insert_frame(capture, resync_frame, snapshot).without_frames({cut_frame}), depth=20)

    stats = run.builder.stats()
    assert stats["gaps"] == {symbol: 1} and stats["out_of_sync"] == []
    gap = run.builder.last_gap[symbol]
    assert (gap.expected, gap.got) == (changes[4][1]["change_id"], removed["change_id"])
    ids = [r["update_id"] for r in run.rows_of(symbol)]
    intact_ids = [r["update_id"] for r in intact.rows_of(symbol)]
    before = intact_ids.index(changes[4][1]["change_id"]) + 1
    resumed = intact_ids.index(resync_change["change_id"])
    assert ids == intact_ids[:before] + intact_ids[resumed:]
    assert rows_of(run, symbol)[before:] == rows_of(intact, symbol)[resumed:]
    assert without_frame(run, symbol) == without_frame(intact, symbol)


# ---------------------------------------------------------------- crossed books

def test_crossed_book_is_detected_and_reported() -> None:
    """A real depth event given a bid above the best ask: every state from then on is crossed."""
    capture, intact, symbol, events = busiest_stream("binance_spot", "cf_2021-10-11")
    rows = intact.rows_of(symbol)
    target = rows[len(rows) // 2]
    index = next(i for i, e in events if e["u"] == target["update_id"])
    best_ask = target["ask_price"][0]
    doc = orjson.loads(capture.frames[index])
    doc["data"]["b"].append([repr(best_ask * 1.01), "1.0"])
    run = replay(capture.with_frame(index, orjson.dumps(doc)), depth=20)
    crossed = [r for r in run.rows_of(symbol) if r["bid_price"][0] >= r["ask_price"][0]]
    assert crossed and crossed[0]["update_id"] == target["update_id"]
    assert run.builder.stats()["crossed"] == len(crossed) == len(rows) - rows.index(target)
    assert run.builder.stats()["gaps"] == {}
