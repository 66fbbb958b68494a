"""Seed inputs, read from the recorded corpus at run time (never copied into the repository).

``frames(venue)``: received frames of every session of a venue; ``rest_bodies(venue)``: REST
depth snapshots (with the symbol from their URL) and open-interest bodies; ``write_seed_dir``
lays seeds out as files, one per input, for a fuzzing engine's corpus directory.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("MPF_CORPUS", REPO.parent / "shared" / "corpus"))
VENUES = ("binance_spot", "binance_usdm", "binance_coinm", "okx", "deribit")

# Documented open-interest bodies (the corpus records none): Binance futures, OKX v5.
OPEN_INTEREST = {
    "binance_usdm": b'{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}',
    "binance_coinm": b'{"symbol":"BTCUSD_PERP","pair":"BTCUSD","openInterest":"517370","contractType":"PERPETUAL","time":1586860006000}',
    "okx": b'{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","oi":"5000","oiCcy":"555.55","oiUsd":"50000","ts":"1597026383085"}]}',
}
_SYMBOL_IN_URL = re.compile(r"[?&]symbol=([^&\s]+)")


def corpus_present() -> bool:
    return (CORPUS / "README.md").exists()


def read_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if path.suffix == ".zst":
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


@cache
def frames(venue: str, *, max_bytes: int = 4096, per_session: int = 400) -> tuple[bytes, ...]:
    """Distinct frames of the venue's sessions (the first ``per_session`` of each), small ones."""
    out: dict[bytes, None] = {}
    for path in sorted((CORPUS / venue).glob(f"{venue}.*.frames.jsonl.zst")):
        for frame in read_lines(path)[:per_session]:
            if len(frame) <= max_bytes:
                out[frame] = None
    return tuple(out)


@cache
def rest_bodies(venue: str, *, max_bytes: int = 65536) -> tuple[tuple[str, str, bytes], ...]:
    """(kind, raw symbol, body): "snapshot" bodies of the corpus, "open_interest" bodies."""
    out = []
    for path in sorted((CORPUS / venue).glob(f"{venue}.*.snapshots.jsonl.zst")):
        meta = read_lines(Path(str(path).replace(".snapshots.jsonl.zst", ".snapshots.meta.tsv.zst")))
        for body, line in zip(read_lines(path), meta):
            found = _SYMBOL_IN_URL.search(line.decode("utf-8", "replace"))
            if found and len(body) <= max_bytes:
                out.append(("snapshot", found.group(1), body))
    if venue in OPEN_INTEREST:
        out.append(("open_interest", "", OPEN_INTEREST[venue]))
    return tuple(out)


def write_seed_dir(directory: Path, inputs) -> int:
    """One file per input (bytes) in ``directory``; returns how many."""
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for i, data in enumerate(inputs):
        (directory / f"seed-{i:05d}").write_bytes(data)
        count += 1
    return count
