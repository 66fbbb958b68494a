"""Shared test helpers: corpus location, frame reading, running parsers frame by frame."""

from __future__ import annotations

import asyncio
import math
import os
import time
from pathlib import Path
from typing import Iterable, Iterator

import pytest
import zstandard

from marketprism_fast.parser import Parser
from marketprism_fast.records import KIND_ORDER

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("MPF_CORPUS", REPO.parent / "shared" / "corpus"))
FIXTURES = REPO / "tests" / "fixtures"


def corpus_dir() -> Path:
    """The corpus root, or skip the calling test with a message saying where it was looked for."""
    if not (CORPUS / "README.md").exists():
        pytest.skip(f"corpus not found at {CORPUS} (set MPF_CORPUS to its location)")
    return CORPUS


def read_lines(path: Path) -> list[bytes]:
    """Lines of a (possibly .zst) text file, without line terminators."""
    data = path.read_bytes()
    if path.suffix == ".zst":
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def corpus_sessions(venue: str) -> list[str]:
    root = corpus_dir() / venue
    return sorted(p.name[len(venue) + 1 : -len(".frames.jsonl.zst")] for p in root.glob("*.frames.jsonl.zst"))


def records_by_frame(parser: Parser, frames: Iterable[bytes], ts_recvs: Iterable[int]) -> Iterator[tuple[int, list[dict]]]:
    """Feed frames one at a time; yield (status, records of that frame in contract order)."""
    for frame, ts in zip(frames, ts_recvs):
        status = parser.feed(frame, ts)
        rows: list[dict] = []
        for batch in sorted(parser.take(), key=lambda b: KIND_ORDER[b.kind.name]):
            for r in batch.rows():
                r["kind"] = batch.kind.name
                rows.append(r)
        yield int(status), rows


def same_value(a, b) -> bool:
    """Equality that treats NaN as equal to NaN / None and compares floats bit for bit."""
    if isinstance(a, float) and math.isnan(a):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if isinstance(b, float) and math.isnan(b):
        return a is None
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return float(a).hex() == float(b).hex() if a is not None and b is not None else a is b
    return a == b


async def until(predicate, what: str, timeout: float = 60.0, interval: float = 0.05):
    """Wait for ``predicate()`` to be true (its value is returned), polling every ``interval``
    seconds; fail naming ``what`` after ``timeout`` seconds. A condition, never a sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)
