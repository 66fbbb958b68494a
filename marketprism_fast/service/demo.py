"""``demo``: the whole node on one machine, no exchange needed.

The venue simulator (``sim/``) serves every venue on loopback and generates every kind it
has for the subscribed streams; a node (``node.py``) subscribes to all of them over real
WebSockets, keeps the books, and writes to the embedded store (chdb, in ``--out``), or to a
JSON Lines file. On a terminal a one-line progress display is redrawn in place (never in a
pipe or a file); at the end a summary says what came in, where it went and how to look at it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..config import Config, config_from_data
from ..records import KIND_NAMES, VENUES

PROGRESS_EVERY_SECONDS = 0.25
EXAMPLE_QUERY = (
    "SELECT exchange, count() AS trades, round(avg(price), 2) AS avg_price "
    "FROM marketprism.trades GROUP BY exchange ORDER BY exchange"
)


@dataclass(frozen=True)
class DemoOptions:
    seconds: float = 10.0
    rate: float = 2000.0
    out: str = "out/demo"
    sink: str | None = None  # "embedded" | "jsonl"; None: embedded when chdb imports
    progress: str = "auto"  # auto | always | never


def _embedded_available() -> bool:
    try:
        import chdb  # noqa: F401
    except ImportError:
        return False
    return True


def demo_kinds(venue: str, symbol: str) -> list[str]:
    """Every kind the venue delivers over its WebSocket, and book_snapshot (kept books)."""
    from ..config import VenueConfig
    from ..transport.protocol import protocol_for

    protocol = protocol_for(venue)
    probe = VenueConfig(symbols=[symbol])
    kinds = [k for k in KIND_NAMES if k != "book_snapshot" and protocol.streams(symbol, k, probe)]
    if "book_delta" in kinds:
        kinds.append("book_snapshot")
    return kinds


def demo_config(sim, options: DemoOptions, sink: str) -> Config:
    from ..sim.generate import DEFAULT_SYMBOLS

    venues = {}
    for venue in VENUES:
        symbols = DEFAULT_SYMBOLS[venue]
        venues[venue] = {
            "symbols": list(symbols),
            "kinds": demo_kinds(venue, symbols[0]),
            "ws_url": sim.ws_url(venue),
            "rest_url": sim.rest_url(venue),
            "book": {"depth": 10, "every_update": False, "interval_ms": 100},
        }
    out = Path(options.out)
    sinks = {"embedded": {"enabled": True, "path": str(out / "store")}} if sink == "embedded" else {
        "jsonl": {"enabled": True, "path": str(out / "records.jsonl")}
    }
    data = {
        "node": {"name": "demo", "flush_interval_seconds": 0.5, "shutdown_timeout_seconds": 20.0},
        "venues": venues,
        "sinks": sinks,
        "http": {"port": 0},
    }
    return config_from_data(data, {}, source="demo")


def _fmt(n: float) -> str:
    return f"{int(n):,}"


class Totals:
    """What the summary and the progress line show, from one status dict."""

    def __init__(self, status: dict) -> None:
        venues = status.get("venues", {})
        self.frames = sum(v["parser"].get("frames", 0) for v in venues.values())
        malformed = [v["parser"].get("malformed", 0) for v in venues.values()]
        self.malformed = sum(m if isinstance(m, int) else sum(m.values()) for m in malformed)
        # records per kind as they left the node for the sinks (the books' rows included)
        self.records: dict[str, int] = {}
        for v in venues.values():
            for kind, hist in (v.get("batch_rows") or {}).items():
                self.records[kind] = self.records.get(kind, 0) + int(hist.get("sum", 0))
        self.gaps = sum(v["books"].get("gaps", 0) for v in venues.values())
        self.resyncs = sum(v["books"].get("resyncs", 0) for v in venues.values())
        self.book_symbols = sum(v["books"].get("symbols", 0) for v in venues.values())
        self.reconnects = sum(c.get("reconnects", 0) for v in venues.values() for c in v.get("connections", []))
        self.connections = sum(len(v.get("connections", [])) for v in venues.values())
        self.open = sum(1 for v in venues.values() for c in v.get("connections", []) if c.get("state") == "open")
        self.written: dict[str, int] = {}
        self.sink_errors = 0
        self.sink_states = {}
        for name, s in status.get("sinks", {}).items():
            self.sink_states[name] = s.get("state")
            self.sink_errors += s.get("errors", 0) + s.get("dropped_batches", 0)
            for kind, n in (s.get("rows_written") or {}).items():
                self.written[kind] = self.written.get(kind, 0) + n


class Progress:
    """One line redrawn in place on a terminal; nothing when not a terminal."""

    def __init__(self, stream: IO[str], mode: str) -> None:
        self.stream = stream
        isatty = getattr(stream, "isatty", lambda: False)()
        self.enabled = mode == "always" or (mode == "auto" and isatty)
        self._last_frames = 0
        self._last_time = time.monotonic()
        self._drawn = False

    def draw(self, elapsed: float, total: float, status: dict) -> None:
        if not self.enabled:
            return
        t = Totals(status)
        now = time.monotonic()
        rate = (t.frames - self._last_frames) / max(now - self._last_time, 1e-6)
        self._last_frames, self._last_time = t.frames, now
        sinks = " ".join(f"{k}:{v}" for k, v in t.sink_states.items())
        line = (
            f"demo {elapsed:5.1f}/{total:g}s  frames {_fmt(t.frames)} ({_fmt(rate)}/s)  "
            f"records {_fmt(sum(t.records.values()))}  written {_fmt(sum(t.written.values()))}  "
            f"conns {t.open}/{t.connections}  gaps {t.gaps}  reconnects {t.reconnects}  {sinks}"
        )
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


async def _query_store(path: str, sql: str) -> str:
    from ..sinks.embedded import EmbeddedStore

    def run() -> str:
        store = EmbeddedStore(path, "marketprism")
        try:
            return str(store.query(sql, "PrettyCompactNoEscapes")).rstrip()
        finally:
            store.close()

    return await asyncio.get_running_loop().run_in_executor(None, run)


def _summary(options: DemoOptions, sink: str, status: dict, elapsed: float, http_url: str | None) -> list[str]:
    t = Totals(status)
    out = Path(options.out)
    lines = [
        f"marketprism_fast demo: {elapsed:.1f} s, {len(status.get('venues', {}))} venues from the local simulator over loopback WebSockets",
        f"  frames      {_fmt(t.frames)} received, {_fmt(t.malformed)} malformed",
        "  records     " + ", ".join(f"{k} {_fmt(t.records[k])}" for k in KIND_NAMES if t.records.get(k)),
        f"  books       {t.book_symbols} symbols kept, {t.gaps} gaps, {t.resyncs} resyncs",
        f"  connections {t.connections}, reconnects {t.reconnects}",
    ]
    written = sum(t.written.values())
    if sink == "embedded":
        lines.append(f"  data        {_fmt(written)} rows in the embedded ClickHouse store {out / 'store'} (database marketprism, one table per kind)")
    else:
        lines.append(f"  data        {_fmt(written)} records in {out / 'records.jsonl'} (JSON Lines, one record per line)")
    if t.sink_errors:
        lines.append(f"  sink errors {t.sink_errors}")
    return lines


async def run_demo(options: DemoOptions, *, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    from ..sim.simulator import Simulator
    from .node import Node

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    sink = options.sink or ("embedded" if _embedded_available() else "jsonl")
    out = Path(options.out)
    # The demo starts afresh in its own directory: the summary counts this run only.
    shutil.rmtree(out / "store", ignore_errors=True)
    (out / "records.jsonl").unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    progress = Progress(stderr, options.progress)
    async with Simulator(VENUES) as sim:
        config = demo_config(sim, options, sink)
        for venue in VENUES:
            sim.generate(venue, rate=options.rate)
        node = Node(config)
        await node.start()
        http_url = node.http.url if node.http is not None else None
        if progress.enabled and http_url:
            stderr.write(f"demo: the node serves {http_url}/status and /metrics while it runs; Ctrl-C ends early\n")
        started = time.monotonic()
        try:
            while not stop.is_set():
                elapsed = time.monotonic() - started
                if elapsed >= options.seconds:
                    break
                progress.draw(elapsed, options.seconds, node.status())
                try:
                    await asyncio.wait_for(stop.wait(), min(PROGRESS_EVERY_SECONDS, options.seconds - elapsed))
                except asyncio.TimeoutError:
                    pass
        finally:
            progress.clear()
            elapsed = time.monotonic() - started
            drained = await node.stop()
    status = node.status()
    lines = _summary(options, sink, status, elapsed, http_url)
    if sink == "embedded":
        lines.append("  look at it  .venv/bin/python -m marketprism_fast query " + f"{out / 'store'} " + json.dumps(EXAMPLE_QUERY))
        try:
            lines.append(await _query_store(str(out / "store"), EXAMPLE_QUERY))
        except Exception as exc:  # noqa: BLE001 - the summary still prints
            lines.append(f"  (the store could not be queried: {exc})")
    else:
        lines.append(f"  look at it  head -3 {out / 'records.jsonl'}")
    stdout.write("\n".join(lines) + "\n")
    stdout.flush()
    totals = Totals(status)
    ok = drained and totals.frames > 0 and sum(totals.written.values()) > 0 and not totals.sink_errors
    return 0 if ok else 1
