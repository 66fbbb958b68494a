"""Bytes per held trade record, measured: RSS delta and tracemalloc, each case in a fresh process.

    .venv/bin/python benchmarks/memory_held.py

The ``trade`` workload's frames (binance_usdm BTCUSDT, one trade each) repeated to 200,000
are fed to a compiled parser, and the resulting trade batches are *held* (as a sink holds
what it has not written yet):

* ``one batch``: every frame fed, then one ``take()``: one batch of 200,000 rows;
* ``sink batches``: ``take()`` after every 2,048 frames (a receive chunk, the size a sink
  gets), every batch kept: 98 batches.

Bytes per record = (resident set after - before) / rows held, and the same with
tracemalloc's traced memory (numpy reports its array buffers to tracemalloc). The parser is
made and warmed (one chunk fed and taken) before the "before" reading, so its own buffers
are not counted; what is counted is what the held batches keep alive.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

RECORDS = 200_000
CHUNK = 2048
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def measure(case: str) -> dict:
    from contenders.corpus import TS_RECV, WORKLOADS, load

    from marketprism_fast.parser import make_parser

    frames = load(WORKLOADS["trade"]).frames
    frames = (frames * (RECORDS // len(frames) + 1))[:RECORDS]
    parser = make_parser("binance_usdm", implementation="compiled")
    parser.feed_many(frames[:CHUNK], TS_RECV)
    parser.take()
    gc.collect()
    tracemalloc.start()
    before_rss, before_traced = rss(), tracemalloc.get_traced_memory()[0]
    held = []
    if case == "one batch":
        parser.feed_many(frames, TS_RECV)
        held += parser.take()
    else:
        for i in range(0, len(frames), CHUNK):
            parser.feed_many(frames[i : i + CHUNK], TS_RECV)
            held += parser.take()
    gc.collect()
    after_rss, after_traced = rss(), tracemalloc.get_traced_memory()[0]
    rows = sum(len(b) for b in held if b.kind.name == "trade")
    assert rows == RECORDS, rows
    return {
        "case": case,
        "records": rows,
        "batches": len(held),
        "rss_bytes_per_record": (after_rss - before_rss) / rows,
        "traced_bytes_per_record": (after_traced - before_traced) / rows,
        "storage_bytes_per_record": sum(a.nbytes for b in held for a in b.storage.values()) / rows
        + sum(b.arena.nbytes for b in held if b.arena is not None) / rows,
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        print(json.dumps(measure(sys.argv[2])))
        return
    for case in ("one batch", "sink batches"):
        out = subprocess.run([sys.executable, __file__, "--one", case], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        print(
            f"{r['case']}: {r['records']:,} trades in {r['batches']} batches: RSS {r['rss_bytes_per_record']:.1f} B, "
            f"tracemalloc {r['traced_bytes_per_record']:.1f} B, storage {r['storage_bytes_per_record']:.1f} B per record"
        )


if __name__ == "__main__":
    main()
