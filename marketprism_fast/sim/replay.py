"""Replaying capture files (corpus layout) through a venue server.

    X.frames.jsonl[.zst]        received WS frames, one per line   (required)
    X.frames.meta.tsv[.zst]     receive time of each frame          (pacing; optional)
    X.snapshots.jsonl[.zst]     REST depth bodies, meta note = URL  (served on /depth, /books)
    X.refdata.jsonl[.zst]       {"recv_ts","url","body"}            (served on exchangeInfo/instruments)

Each frame is routed by the venue protocol (``route``: its stream, channel or instId) to the
connections subscribed to it; control frames of the recording (acks, events, RPC results,
heartbeats) are not replayed: the simulator answers clients itself. Pacing: the recorded
pace (``speed=1``), N times faster (``speed=N``) or as fast as the clients take frames
(``speed=None``, in batches with flow control). The capture line index of every frame sent
is recorded (``VenueServer.indices``) so a test can line the client's records up with
``normalize`` on the same files. Line indices count every line of every file, in order, from 0.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence
from urllib.parse import parse_qsl, urlsplit

import orjson

from ..errors import InputError
from ..offline.capture import CaptureStats, iter_bodies, iter_lines, iter_timed_lines
from .source import DataSource

if TYPE_CHECKING:  # pragma: no cover
    from .server import VenueServer

BATCH = 512  # frames per write when replaying as fast as possible
_SYMBOL_PARAMS = ("symbol", "instId", "instrument_name")


@dataclass(slots=True)
class ReplayFrame:
    index: int  # line index in the capture (over all files)
    ts_recv: int  # recorded receive time, ns
    key: str
    kind: str
    frame: bytes


def sibling(frames_path: str, part: str) -> str | None:
    """``X.frames.jsonl.zst`` -> the existing ``X.<part>.jsonl[.zst|.gz]``."""
    name = Path(frames_path).name
    stem = name.split(".frames.jsonl")[0] if ".frames.jsonl" in name else None
    if stem is None:
        return None
    for suffix in (".zst", "", ".gz"):
        candidate = Path(frames_path).with_name(f"{stem}.{part}.jsonl{suffix}")
        if candidate.is_file():
            return str(candidate)
    return None


class Replay(DataSource):
    def __init__(
        self,
        server: "VenueServer",
        frames: Sequence[str],
        *,
        snapshots: Sequence[str] | None = None,
        refdata: Sequence[str] | None = None,
    ) -> None:
        if not frames:
            raise InputError("replay needs at least one frames file")
        self.server = server
        self.paths = list(frames)
        snapshots = list(snapshots) if snapshots is not None else [p for p in (sibling(f, "snapshots") for f in frames) if p]
        refdata = list(refdata) if refdata is not None else [p for p in (sibling(f, "refdata") for f in frames) if p]
        self.items: list[ReplayFrame] = []
        self.skipped: Counter = Counter()  # control frames and undecodable lines, not replayed
        self.lines = 0
        self._load_frames()
        self.snapshots: dict[str, list[tuple[int, bytes]]] = {}
        for path in snapshots:
            self._load_snapshots(path)
        self.refdata_bodies: list[tuple[str, dict[str, str], bytes]] = []
        for path in refdata:
            self._load_refdata(path)
        self.position_ns = self.items[0].ts_recv if self.items else 0
        self.sent_upto = 0  # items offered so far
        self.done = asyncio.Event()

    # ---- loading ---------------------------------------------------------------------------
    def _load_frames(self) -> None:
        protocol = self.server.protocol
        stats = CaptureStats()
        index = 0
        clock = time.time_ns
        for path in self.paths:
            for line, ts in iter_timed_lines(path, clock, stats):
                try:
                    message = orjson.loads(line)
                except orjson.JSONDecodeError:
                    message = None
                key = protocol.route(line, message) if message is not None else None
                if key is None:
                    self.skipped["control" if message is not None else "not_json"] += 1
                else:
                    self.items.append(ReplayFrame(index, ts, key, protocol.kind_of(key), line))
                index += 1
        self.lines = index

    @staticmethod
    def _symbol_of(url: str) -> str:
        query = dict(parse_qsl(urlsplit(url).query))
        for name in _SYMBOL_PARAMS:
            if name in query:
                return query[name].upper() if name == "symbol" else query[name]
        return ""

    def _load_snapshots(self, path: str) -> None:
        for body in iter_bodies(path):
            symbol = self._symbol_of(body.note)
            if not symbol:
                try:
                    symbol = str(orjson.loads(body.body).get("symbol", ""))
                except (orjson.JSONDecodeError, AttributeError):
                    symbol = ""
            self.snapshots.setdefault(symbol, []).append((body.ts_recv or 0, body.body))

    def _load_refdata(self, path: str) -> None:
        for line in iter_lines(path):
            try:
                record = orjson.loads(line)
                url, body = record["url"], record["body"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                raise InputError(f"{path}: a refdata line is not {{recv_ts, url, body}}", path=path) from None
            parts = urlsplit(url)
            self.refdata_bodies.append((parts.path, dict(parse_qsl(parts.query)), body.encode()))

    # ---- what the capture holds --------------------------------------------------------------
    def keys(self) -> list[str]:
        """Every routing key of the capture, in order of first appearance."""
        return list(dict.fromkeys(item.key for item in self.items))

    def book_symbols(self) -> set[str]:
        """The symbols of the capture's book streams."""
        protocol = self.server.protocol
        return {protocol.symbol_of(k) for k in self.keys() if protocol.kind_of(k) == "book_delta"}

    def expected(self) -> Counter:
        """Frames per (key, kind) the replay will offer."""
        return Counter((item.key, item.kind) for item in self.items)

    # ---- DataSource --------------------------------------------------------------------------
    def depth_snapshot(self, symbol: str, limit: int) -> bytes | None:
        """The latest recorded snapshot of ``symbol`` taken at or before the replay position
        (the first one before that): what the venue would have answered then."""
        bodies = self.snapshots.get(symbol)
        if not bodies and "" in self.snapshots and self.book_symbols() == {symbol}:
            bodies = self.snapshots[""]  # snapshots recorded without their URL, in a one-symbol capture
        if not bodies:
            return None
        chosen = bodies[0][1]
        for ts, body in bodies:
            if ts and ts <= self.position_ns:
                chosen = body
        return chosen

    def refdata(self, path: str, query: dict[str, str]) -> bytes | None:
        fallback = None
        for rpath, rquery, body in self.refdata_bodies:
            if rpath != path:
                continue
            if all(query.get(k) == v for k, v in rquery.items()) and all(rquery.get(k) == v for k, v in query.items()):
                return body
            fallback = fallback or body
        return fallback

    # ---- running ----------------------------------------------------------------------------
    async def wait_subscribed(self, timeout: float = 10.0, keys: Sequence[str] | None = None) -> bool:
        """Wait until every key of the capture (or ``keys``) has a subscriber; False on timeout."""
        wanted = set(keys if keys is not None else self.keys())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.server.routes.get(k) for k in wanted):
                return True
            await asyncio.sleep(0.01)
        return False

    async def run(self, speed: float | None = None) -> None:
        """Offer every frame once, then set ``done``."""
        try:
            if speed is None:
                await self._run_fast()
            else:
                await self._run_paced(speed)
        finally:
            self.done.set()

    async def _run_fast(self) -> None:
        server = self.server
        items = self.items
        for start in range(0, len(items), BATCH):
            chunk = items[start : start + BATCH]
            self.position_ns = chunk[-1].ts_recv
            server.publish_many([(f.key, f.frame, f.kind, f.index) for f in chunk])
            self.sent_upto = start + len(chunk)
            await server.drain()
            await asyncio.sleep(0)

    async def _run_paced(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"replay speed must be positive, got {speed}")
        server = self.server
        items = self.items
        if not items:
            return
        t0_rec = items[0].ts_recv
        t0 = time.monotonic()
        i = 0
        while i < len(items):
            now_rec = t0_rec + (time.monotonic() - t0) * speed * 1e9
            j = i
            while j < len(items) and items[j].ts_recv <= now_rec:
                j += 1
            if j == i:
                delay = (items[i].ts_recv - now_rec) / speed / 1e9
                await asyncio.sleep(min(max(delay, 0.0), 0.05))
                continue
            for start in range(i, j, BATCH):
                chunk = items[start : min(j, start + BATCH)]
                self.position_ns = chunk[-1].ts_recv
                server.publish_many([(f.key, f.frame, f.kind, f.index) for f in chunk])
                await server.drain()
            i = self.sent_upto = j
            await asyncio.sleep(0)
