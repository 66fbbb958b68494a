"""Benchmark workloads: sets of real recorded frames, read from the shared corpus.

A workload is a list of verbatim frames of one venue (selected by kind, or a session's whole
stream), cut into chunks the way a receive loop hands frames to the parser. Frames are
decompressed once per process and held in memory, so no timing ever includes I/O.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import orjson
import zstandard

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("MPF_CORPUS", REPO.parent / "shared" / "corpus"))
CHUNK_FRAMES = 2048  # frames per feed_many call / per released batch set
TS_RECV = 1_723_161_600_000_000_000  # one receive time (ns) for every frame: a whole millisecond

FrameFilter = Callable[[bytes], bool]


class CorpusMissing(LookupError):
    """The corpus (or one of its sessions) is not where the benchmarks look for it."""


def corpus_available() -> bool:
    return (CORPUS / "README.md").exists()


@lru_cache(maxsize=None)
def session_frames(venue: str, session: str) -> tuple[bytes, ...]:
    """Every received frame of one capture session, verbatim."""
    path = CORPUS / venue / f"{venue}.{session}.frames.jsonl.zst"
    if not path.exists():
        raise CorpusMissing(f"{path} not found (set MPF_CORPUS to the corpus location)")
    data = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    return tuple(line for line in data.split(b"\n") if line)


def binance_event(event: str) -> FrameFilter:
    """Binance frames of one event type (``"e":"trade"`` ...)."""
    needle = b'"e":"%s"' % event.encode()
    return lambda frame: needle in frame


def binance_stream(suffix: str) -> FrameFilter:
    """Binance combined-stream frames whose stream name ends in ``@suffix``
    (spot bookTicker has no ``e`` field, so its stream name is what identifies it)."""
    needle = b'@%s","data"' % suffix.encode()
    return lambda frame: needle in frame


def binance_depth_levels(low: int, high: int) -> FrameFilter:
    """depthUpdate frames with ``low <= bids + asks <= high`` levels."""
    is_depth = binance_event("depthUpdate")

    def accept(frame: bytes) -> bool:
        if not is_depth(frame):
            return False
        data = orjson.loads(frame)["data"]
        return low <= len(data["b"]) + len(data["a"]) <= high

    return accept


def channel(prefix: str) -> FrameFilter:
    """OKX / Deribit frames whose ``"channel"`` starts with ``prefix``."""
    needle = b'"channel":"%s' % prefix.encode()
    return lambda frame: needle in frame


def okx_data(prefix: str) -> FrameFilter:
    """OKX data frames (``{"arg":..,"data":..}``, not subscription acks) of a channel."""
    is_channel = channel(prefix)
    return lambda frame: frame.startswith(b'{"arg":') and is_channel(frame) and b'"data":' in frame


def deribit_notification(prefix: str) -> FrameFilter:
    """Deribit subscription notifications of a channel, keys in the venue's own order."""
    head = b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"%s' % prefix.encode()
    return lambda frame: frame.startswith(head)


def okx_book_update_levels(low: int, high: int) -> FrameFilter:
    """OKX book ``update`` frames with ``low <= bids + asks <= high`` levels (all items)."""
    is_book = channel("books")

    def accept(frame: bytes) -> bool:
        if not is_book(frame):
            return False
        message = orjson.loads(frame)
        if message.get("action") != "update":
            return False
        levels = sum(len(item["bids"]) + len(item["asks"]) for item in message["data"])
        return low <= levels <= high

    return accept


@dataclass(frozen=True)
class WorkloadSpec:
    name: str
    venue: str
    sessions: tuple[str, ...]
    description: str
    select: FrameFilter | None = None  # None: the whole stream, acks included
    limit: int | None = None  # the first ``limit`` selected frames
    tags: tuple[str, ...] = ()  # which targets apply: "trade", "depth30", "mixed", "venue_*"
    # Repeat the selected frames (whole sets, in order) up to at least this many, so that a
    # small real set still fills whole chunks and one take() per chunk does not dominate.
    repeat_to: int | None = None
    # Frames of a test fixture (tests/fixtures/<fixture>.frames.jsonl) instead of corpus
    # sessions: payloads written from the venue's documentation, for what no session holds.
    fixture: str | None = None


@dataclass
class Workload:
    spec: WorkloadSpec
    frames: list[bytes]
    chunks: list[list[bytes]] = field(init=False)

    def __post_init__(self) -> None:
        self.chunks = [self.frames[i : i + CHUNK_FRAMES] for i in range(0, len(self.frames), CHUNK_FRAMES)]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def venue(self) -> str:
        return self.spec.venue

    @property
    def mean_bytes(self) -> float:
        return sum(map(len, self.frames)) / len(self.frames)


def fixture_frames(name: str) -> tuple[bytes, ...]:
    path = REPO / "tests" / "fixtures" / f"{name}.frames.jsonl"
    return tuple(line for line in path.read_bytes().split(b"\n") if line)


def load(spec: WorkloadSpec) -> Workload:
    frames: list[bytes] = []
    sources = [fixture_frames(spec.fixture)] if spec.fixture else [session_frames(spec.venue, s) for s in spec.sessions]
    for source in sources:
        frames.extend(f for f in source if spec.select is None or spec.select(f))
    if spec.limit is not None:
        frames = frames[: spec.limit]
    if not frames:
        raise CorpusMissing(f"workload {spec.name}: no frames selected from {spec.venue} {spec.sessions}")
    if spec.repeat_to is not None:
        frames = frames * -(-spec.repeat_to // len(frames))
    return Workload(spec, frames)


REPEAT_SMALL_SETS = 10_000

BINANCE_WORKLOADS: tuple[WorkloadSpec, ...] = (
    WorkloadSpec("trade", "binance_usdm", ("hbt_2024-08-08_btcusdt",),
                 "usdm BTCUSDT trade frames", binance_event("trade"), tags=("trade",)),
    WorkloadSpec("aggTrade", "binance_usdm", ("cf_2021-04-17", "cf_2021-07-22"),
                 "usdm aggTrade frames, 4 symbols (276 real, the set repeated)", binance_event("aggTrade"),
                 repeat_to=REPEAT_SMALL_SETS),
    WorkloadSpec("bookTicker", "binance_usdm", ("hbt_2024-08-08_btcusdt",),
                 "usdm BTCUSDT bookTicker frames", binance_stream("bookTicker"), limit=30_000),
    WorkloadSpec("depth30", "binance_spot", ("hbt_2024-08-08_btcusdt", "hbt_2024-08-09_btcusdt"),
                 "spot BTCUSDT depthUpdate frames with 25-35 levels", binance_depth_levels(25, 35), tags=("depth30",)),
    WorkloadSpec("depth_usdm_0ms", "binance_usdm", ("hbt_2024-08-08_btcusdt",),
                 "usdm BTCUSDT depth@0ms frames (first 3000)", binance_event("depthUpdate"), limit=3_000),
    WorkloadSpec("mixed_spot_hbt", "binance_spot", ("hbt_2024-08-08_btcusdt",),
                 "spot session hbt_2024-08-08, whole stream", tags=("mixed",)),
    WorkloadSpec("mixed_usdm_hbt", "binance_usdm", ("hbt_2023-04-04_btcusdt",),
                 "usdm session hbt_2023-04-04 (incl. markPrice), whole stream", tags=("mixed",)),
    WorkloadSpec("mixed_usdm_cf", "binance_usdm", ("cf_2021-04-17",),
                 "usdm session cf_2021-04-17 (aggTrade, kline, acks), whole stream", tags=("mixed",)),
    WorkloadSpec("mixed_coinm_cf", "binance_coinm", ("cf_2021-07-21",),
                 "coinm session cf_2021-07-21 (10 symbols), whole stream", tags=("mixed",)),
)

# Run only where the compiled parser of the venue is complete (compiled vs msgspec and reference).
OKX_SESSIONS = ("cf_2022-05-13", "cf_2022-02-27")
DERIBIT_SESSIONS = ("cf_2021-04-17", "cf_2021-07-22")

OTHER_WORKLOADS: tuple[WorkloadSpec, ...] = (
    WorkloadSpec("okx_trades", "okx", OKX_SESSIONS, "OKX trades data frames (93 real, the set repeated)",
                 okx_data("trades"), repeat_to=REPEAT_SMALL_SETS, tags=("venue_trade",)),
    WorkloadSpec("okx_books30", "okx", OKX_SESSIONS,
                 "OKX book update frames with 25-38 levels (the set repeated)", okx_book_update_levels(25, 38),
                 repeat_to=REPEAT_SMALL_SETS, tags=("venue_book30",)),
    WorkloadSpec("okx_tickers", "okx", OKX_SESSIONS, "OKX tickers data frames (47 real, the set repeated)",
                 okx_data("tickers"), repeat_to=REPEAT_SMALL_SETS),
    WorkloadSpec("okx_books", "okx", OKX_SESSIONS,
                 "OKX books / books-l2-tbt frames", channel("books")),
    WorkloadSpec("deribit_book", "deribit", DERIBIT_SESSIONS, "Deribit book.*.raw frames (102 real, the set repeated)",
                 channel("book."), repeat_to=REPEAT_SMALL_SETS),
    WorkloadSpec("deribit_trades", "deribit", (),
                 "Deribit trades.* notifications written from the documented payload (no session holds "
                 "a trade), as the venue orders their keys: 3 frames, 5 trades; the set repeated",
                 deribit_notification("trades."), repeat_to=REPEAT_SMALL_SETS, tags=("venue_trade",),
                 fixture="deribit/trades"),
    WorkloadSpec("deribit_ticker", "deribit", DERIBIT_SESSIONS,
                 "Deribit ticker.*.raw frames (181 real, the set repeated)", channel("ticker."),
                 repeat_to=REPEAT_SMALL_SETS),
)

WORKLOADS: dict[str, WorkloadSpec] = {w.name: w for w in BINANCE_WORKLOADS + OTHER_WORKLOADS}
