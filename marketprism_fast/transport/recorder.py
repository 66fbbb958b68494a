"""Record what the venues send, in the corpus layout, for later replay (``record`` command).

    await record(config, "captures/", seconds=600)          # or until ``stop`` is set

Per enabled venue ``<venue>`` and session ``<session>`` (UTC start time, ``%Y-%m-%dT%H%M%SZ``),
in ``out_dir/<venue>/``:

    <venue>.<session>.frames.jsonl         every received TEXT/BINARY frame, verbatim, one a line
    <venue>.<session>.frames.meta.tsv      "<recv_ts>\\t<connection>" for line i of frames.jsonl
    <venue>.<session>.snapshots.jsonl      REST depth-snapshot bodies, verbatim
    <venue>.<session>.snapshots.meta.tsv   "<recv_ts>\\t<url>"
    <venue>.<session>.refdata.jsonl        other REST bodies wrapped {"recv_ts","url","body"}
    <venue>.<session>.sent.jsonl           {"kind": "connect"|"send", "ts", "conn", "url", "payload"}
    <venue>.<session>.session.json         what was recorded: venue, symbols, kinds, streams, start/end

``recv_ts`` is seconds since the epoch with nanosecond digits. A frame holding a raw newline
(only possible as JSON whitespace) is written with it replaced by a space, so that one line
stays one frame. Connections keep alive and reconnect as in the live node, but capture their
frames instead of parsing them; at start one depth snapshot per book symbol (venues that
resync over REST) and the instrument lists are fetched.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import IO

from ..config import Config, VenueConfig
from ..errors import TransportError
from ..instruments import InstrumentRegistry
from ..log import logger
from .rest import RestClient
from .ws import VenueTransport

log = logger.getChild("recorder")


def _ts(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


class SessionWriter:
    """The files of one venue's recording session (implements ``ws.Tap`` and the REST body hook)."""

    def __init__(self, out_dir: Path, venue: str, session: str) -> None:
        self.dir = out_dir / venue
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prefix = f"{venue}.{session}"
        self._files: dict[str, IO[bytes]] = {}
        self.frames_written = 0
        self.bodies_written = 0

    def _file(self, suffix: str) -> IO[bytes]:
        f = self._files.get(suffix)
        if f is None:
            f = self._files[suffix] = open(self.dir / f"{self.prefix}.{suffix}", "ab")
        return f

    # ws.Tap
    def opened(self, connection_id: str, url: str) -> None:
        self._sent("connect", connection_id, url, None)

    def sent(self, connection_id: str, url: str, payload: bytes) -> None:
        self._sent("send", connection_id, url, payload.decode())

    def _sent(self, kind: str, conn: str, url: str, payload: str | None) -> None:
        line = {"kind": kind, "ts": _ts(time.time_ns()), "conn": conn, "url": url, "payload": payload}
        f = self._file("sent.jsonl")
        f.write(json.dumps(line).encode() + b"\n")
        f.flush()

    def frames(self, connection_id: str, frames: list[tuple[int, bytes]]) -> None:
        if not frames:
            return
        data = self._file("frames.jsonl")
        meta = self._file("frames.meta.tsv")
        conn = connection_id.encode()
        for ts, payload in frames:
            data.write(payload.replace(b"\n", b" ") + b"\n")
            meta.write(_ts(ts).encode() + b"\t" + conn + b"\n")
        self.frames_written += len(frames)
        data.flush()  # the transport drains captured frames every 50 ms: what is on disk is at most that old
        meta.flush()

    # RestClient.on_body
    def body(self, what: str, url: str, ts: int, body: bytes) -> None:
        if what == "snapshot":
            self._file("snapshots.jsonl").write(body.replace(b"\n", b" ") + b"\n")
            self._file("snapshots.meta.tsv").write(f"{_ts(ts)}\t{url}\n".encode())
        else:
            line = {"recv_ts": _ts(ts), "url": url, "body": body.decode("utf-8", "replace")}
            self._file("refdata.jsonl").write(json.dumps(line).encode() + b"\n")
        self.bodies_written += 1
        self.flush()

    def flush(self) -> None:
        for f in self._files.values():
            f.flush()

    def close(self, description: dict) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
        (self.dir / f"{self.prefix}.session.json").write_text(json.dumps(description, indent=2) + "\n")


async def _initial_rest(venue: str, vc: VenueConfig, rest: RestClient) -> None:
    try:
        await rest.instruments()
    except TransportError as exc:
        log.warning("%s: instruments not recorded: %s", venue, exc)
    if not {"book_delta", "book_snapshot"} & set(vc.kinds) or rest.protocol.snapshot_path("X", 1) is None:
        return
    for symbol in vc.symbols:
        try:
            await rest.snapshot(symbol)
        except TransportError as exc:
            log.warning("%s", exc)


async def record(config: Config, out_dir: str | Path, *, seconds: float | None = None, stop: asyncio.Event | None = None) -> dict:
    """Record every enabled venue of ``config`` into ``out_dir`` until ``seconds`` have passed
    or ``stop`` is set. Returns {venue: {"frames": n, "bodies": n, "prefix": path}}."""
    out = Path(out_dir)
    session = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime())
    started = time.time()
    stop = stop or asyncio.Event()
    running = []
    for venue, vc in config.venues.items():
        if not vc.enabled:
            continue
        writer = SessionWriter(out, venue, session)
        # The parser is never fed (frames are captured); it is there for the transport's shape.
        from ..parser import make_parser

        transport = VenueTransport(venue, vc, make_parser(venue, InstrumentRegistry(venue)), tap=writer)
        rest = RestClient(venue, vc, on_body=writer.body)
        running.append((venue, vc, writer, transport, rest))
    for venue, vc, writer, transport, rest in running:
        await transport.start()
        await _initial_rest(venue, vc, rest)
    try:
        if seconds is not None:
            try:
                await asyncio.wait_for(stop.wait(), timeout=seconds)
            except asyncio.TimeoutError:
                pass
        else:
            await stop.wait()
    finally:
        summary = {}
        for venue, vc, writer, transport, rest in running:
            await transport.close()
            await rest.close()
            streams = [s for c in transport.connections for s in c.streams]
            writer.close({
                "venue": venue, "session": session, "symbols": list(vc.symbols), "kinds": list(vc.kinds),
                "streams": streams, "started_at": started, "ended_at": time.time(),
                "frames": writer.frames_written, "rest_bodies": writer.bodies_written,
                "connections": transport.stats(),
            })
            summary[venue] = {"frames": writer.frames_written, "bodies": writer.bodies_written,
                              "prefix": str(writer.dir / writer.prefix)}
    return summary
