"""Batches for the sink tests: parsed from corpus captures (compiled parser when built), and
synthetic batches of every kind with a value in every column (edges of integer ranges,
NaN, non-ASCII text, rows on two UTC days), plus comparisons of rows read back."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from marketprism_fast.batch import Batch
from marketprism_fast.parser import make_parser
from marketprism_fast.pipeline.identity import BatchIds
from marketprism_fast.records import KINDS, Column, Kind
from tests.helpers import corpus_dir, read_lines

# 2021-10-11 23:59:59.5 UTC: synthetic rows run over midnight into the next UTC day.
TS_BASE_NS = 1_633_996_799_500_000_000
SESSIONS = (
    ("binance_usdm", "binance_usdm.cf_2021-04-17"),
    ("binance_spot", "binance_spot.cf_2021-04-17"),
    ("okx", "okx.cf_2022-05-13"),
    ("deribit", "deribit.cf_2021-04-17"),
)


def corpus_batches(ids: BatchIds | None = None, *, frames_per_take: int = 500, limit: int | None = None) -> list[Batch]:
    """Batches from real captures, taken every ``frames_per_take`` frames, with ids."""
    ids = ids or BatchIds("test")
    out: list[Batch] = []
    root = corpus_dir()
    for venue, session in SESSIONS:
        parser = make_parser(venue)
        frames = read_lines(Path(root) / venue / f"{session}.frames.jsonl.zst")[:limit]
        for i, frame in enumerate(frames, 1):
            parser.feed(frame, TS_BASE_NS + i)
            if i % frames_per_take == 0:
                out.extend(parser.take())
        out.extend(parser.take())
    batches = [b for b in out if len(b)]
    for b in batches:
        ids.assign(b)
    return batches


def _values(column: Column, n: int, seed: int) -> np.ndarray:
    i = np.arange(n)
    if column.type == "str":
        if column.name in ("exchange",):
            return np.array(["okx"] * n, dtype=object)
        if column.name == "market":
            return np.array([("spot", "perpetual", "future", "option")[k % 4] for k in range(n)], dtype=object)
        if column.name in ("symbol", "raw_symbol"):
            return np.array([f"S{(k + seed) % 7}-USDT" for k in range(n)], dtype=object)
        return np.array([f"{column.name}-é-{seed}-{k}" for k in range(n)], dtype=object)
    if column.type == "ts":
        return (TS_BASE_NS + (i + seed) * 1_000_003).astype(np.int64)
    if column.type == "f8":
        v = (i + seed) * 1.1 + 0.1
        v[::5] = np.nan
        return v
    if column.type == "f8[]":
        v = np.arange(n * 4, dtype=np.float64).reshape(n, 4) * 0.5 + seed
        v[:, 3] = np.nan
        return v
    info = np.iinfo(column.dtype)
    top = np.array([info.max - k for k in range(3)], dtype=column.dtype)
    bottom = np.array([info.min + k for k in range(3)], dtype=column.dtype)
    return np.where(i % 2 == 0, top[i % 3], bottom[i % 3]).astype(column.dtype)


def synthetic_batch(kind: Kind, n: int = 1000, seed: int = 0, ids: BatchIds | None = None) -> Batch:
    """``n`` rows of ``kind`` on venue okx over two UTC days (1 ms apart, from 0.5 s before midnight)."""
    batch = Batch.from_columns(kind, "okx", {c.name: _values(c, n, seed) for c in kind.columns})
    (ids or BatchIds("synthetic")).assign(batch)
    return batch


def synthetic_batches(n: int = 1000, per_kind: int = 1, ids: BatchIds | None = None) -> list[Batch]:
    ids = ids or BatchIds("synthetic")
    return [synthetic_batch(kind, n, seed, ids) for kind in KINDS for seed in range(per_kind)]


# ---- comparing rows -----------------------------------------------------------------------


def _norm(value):
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else float(value).hex()
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_norm(v) for v in value)
    if isinstance(value, np.generic):
        return _norm(value.item())
    return value


def row_key(row: dict, names: tuple[str, ...]) -> tuple:
    return tuple(_norm(row[name]) for name in names)


def multiset(rows: list[dict], names: tuple[str, ...]) -> Counter:
    return Counter(row_key(r, names) for r in rows)


def expected_by_kind(batches: list[Batch]) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for b in batches:
        out.setdefault(b.kind.name, Counter()).update(multiset(b.rows(), b.kind.column_names))
    return out


def rows_by_kind(batches: list[Batch]) -> dict[str, int]:
    out: dict[str, int] = {}
    for b in batches:
        out[b.kind.name] = out.get(b.kind.name, 0) + len(b)
    return out
