"""Type stubs of the compiled transport listener (``_listener.pyx``)."""

from typing import Callable

from picows import WSFrame, WSListener, WSTransport

from ..parser import Parser

FEED: int
CAPTURE: int
DISCARD: int

def monotonic_ns() -> int:
    """The clock of ``last_frame_ns`` (CLOCK_MONOTONIC, ns)."""

class FrameListener(WSListener):
    """One WebSocket connection's frames into one (shared) venue parser."""

    parser: Parser
    on_connected: Callable[["FrameListener"], None] | None
    on_disconnected: Callable[["FrameListener"], None] | None
    mode: int
    captured: list[tuple[int, bytes]]
    frames: int
    payload_bytes: int
    pings: int
    pongs: int
    test_requests: int
    discarded: int
    fragmented: int
    last_frame_ns: int
    connected_ns: int
    connected: bool
    def __init__(
        self,
        parser: Parser,
        *,
        text_ping: bytes | None = None,
        text_pong: bytes | None = None,
        test_reply: bytes | None = None,
        on_connected: Callable[["FrameListener"], None] | None = None,
        on_disconnected: Callable[["FrameListener"], None] | None = None,
    ) -> None: ...
    @property
    def transport(self) -> WSTransport | None: ...
    def on_ws_connected(self, transport: WSTransport) -> None: ...
    def on_ws_disconnected(self, transport: WSTransport) -> None: ...
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None: ...
    def send_user_specific_ping(self, transport: WSTransport) -> None: ...
    def is_user_specific_pong(self, frame: WSFrame) -> bool: ...
    def send_text(self, data: bytes | str) -> None: ...
    def take_captured(self) -> list[tuple[int, bytes]]: ...
    def disconnect(self) -> None: ...
    fed: int
    parse_samples: int
    parse_sampled_ns: int
    def counters(self) -> dict[str, float]: ...
    def parse_seconds(self) -> float:
        """Estimated time spent in the parser (every 64th fed frame timed, scaled to all)."""
