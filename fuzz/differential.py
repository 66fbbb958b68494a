"""One input through the compiled and the reference parser: any difference is a failure.

``check_frame``, ``check_rest`` and ``check_books`` raise ``Mismatch`` (an AssertionError)
naming what differed: the status, the stats, a record column, or the books built from the
records. They never catch an exception a parser raises: ``feed*`` must not raise for any
input, so one escaping is a finding too.
"""

from __future__ import annotations

import math

import numpy as np

from marketprism_fast.books.builder import BookBuilder
from marketprism_fast.parser import make_parser

TS = 1_650_000_000_000_000_000
IMPLEMENTATIONS = ("compiled", "reference")


class Mismatch(AssertionError):
    """The compiled parser did not do what the reference did."""


def _parsers(venue: str, book_markers: bool) -> list:
    return [make_parser(venue, implementation=impl, capacity=256, book_markers=book_markers) for impl in IMPLEMENTATIONS]


def _records(parser) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for batch in parser.take():
        names = (*batch.kind.column_names, "frame", *batch.kind.hidden_text)
        out[batch.kind.name] = {name: np.asarray(batch.column(name)) for name in names}
    return out


def _same_column(got: np.ndarray, want: np.ndarray) -> bool:
    if len(got) != len(want):
        return False
    if want.dtype.kind == "f":
        g, w = got.astype(np.float64), want.astype(np.float64)
        return bool(((g.view(np.uint64) == w.view(np.uint64)) | (np.isnan(g) & np.isnan(w))).all())
    return all(a == b for a, b in zip(got.tolist(), want.tolist()))


def compare(label: str, parsers: list, statuses: list) -> dict:
    """Statuses, stats and records of the two parsers are equal; the compiled records."""
    compiled, reference = parsers
    if statuses[0] != statuses[1]:
        raise Mismatch(f"{label}: status compiled {statuses[0]}, reference {statuses[1]}")
    # Which limit a frame that breaks a limit *and* another rule is counted under depends on
    # the order each parser reads it in: the verdict is the contract, so that breakdown is
    # left out (tests/test_hardening.py checks it on frames that break one rule).
    got_stats, want_stats = (dict(p.stats(), limits=None) for p in parsers)
    if got_stats != want_stats:
        raise Mismatch(f"{label}: stats compiled {got_stats}, reference {want_stats}")
    got, want = _records(compiled), _records(reference)
    if set(got) != set(want):
        raise Mismatch(f"{label}: record kinds compiled {sorted(got)}, reference {sorted(want)}")
    for kind, columns in want.items():
        for name, column in columns.items():
            if not _same_column(got[kind][name], column):
                raise Mismatch(f"{label}: {kind}.{name} compiled {got[kind][name]!r:.300}, reference {column!r:.300}")
    return got


def check_frame(venue: str, data: bytes, *, book_markers: bool = True) -> int:
    """One frame; returns its status."""
    parsers = _parsers(venue, book_markers)
    statuses = [int(p.feed(data, TS)) for p in parsers]
    compare(f"{venue} frame", parsers, statuses)
    return statuses[0]


def check_rest(venue: str, kind: str, symbol: str, data: bytes) -> int:
    """One REST body (kind "snapshot" or "open_interest"); returns its status."""
    parsers = _parsers(venue, False)
    if kind == "snapshot":
        statuses = [int(p.feed_snapshot(data, TS, symbol)) for p in parsers]
    else:
        statuses = [int(p.feed_open_interest(data, TS)) for p in parsers]
    compare(f"{venue} {kind} body", parsers, statuses)
    return statuses[0]


def check_books(venue: str, frames: list[bytes], snapshot: tuple[str, bytes] | None = None) -> None:
    """Frames (and a REST snapshot first, when given) through both parsers into two book
    builders: same records, then the same book snapshots and the same builder stats."""
    parsers = _parsers(venue, True)
    for p in parsers:
        if snapshot is not None:
            p.feed_snapshot(snapshot[1], TS, snapshot[0])
        for i, frame in enumerate(frames):
            p.feed(frame, TS + i)
    builders = [BookBuilder(venue, p.instruments, depth=5, every_update=True) for p in parsers]
    for parser, builder in zip(parsers, builders):
        for batch in parser.take():
            if batch.kind.name == "book_delta":
                builder.apply(batch)
    outs = [[(b.kind.name, {n: np.asarray(b.column(n)) for n in b.kind.column_names}) for b in builder.take()]
            for builder in builders]
    stats = [_comparable(builder.stats()) for builder in builders]
    if stats[0] != stats[1]:
        raise Mismatch(f"{venue} books: builder stats compiled {stats[0]}, reference {stats[1]}")
    if [k for k, _ in outs[0]] != [k for k, _ in outs[1]]:
        raise Mismatch(f"{venue} books: output kinds differ")
    for (kind, got), (_, want) in zip(*outs):
        for name, column in want.items():
            g = got[name]
            if column.dtype == object or g.dtype == object:
                same = len(g) == len(column) and all(_same_value(a, b) for a, b in zip(g.tolist(), column.tolist()))
            else:
                same = _same_column(g.reshape(-1), column.reshape(-1))
            if not same:
                raise Mismatch(f"{venue} books: {kind}.{name} differs")


def _same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, np.ndarray):
        return _same_column(np.asarray(a).reshape(-1), np.asarray(b).reshape(-1))
    return a == b


def _comparable(stats: dict) -> dict:
    return {k: v for k, v in stats.items()}
