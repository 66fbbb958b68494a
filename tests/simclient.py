"""A plain WebSocket test client for the simulator (picows): text frames into a queue,
pings answered or not, and how the connection ended."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import orjson
import picows


class Client(picows.WSListener):
    def __init__(self) -> None:
        super().__init__()
        self.texts: asyncio.Queue[bytes] = asyncio.Queue()
        self.received: list[bytes] = []
        self.pings = 0
        self.close_frame: int | None = None  # close code of a CLOSE frame from the server
        self.closed = asyncio.Event()
        self.transport: picows.WSTransport | None = None

    def on_ws_connected(self, transport: picows.WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
        if frame.msg_type in (picows.WSMsgType.TEXT, picows.WSMsgType.BINARY):
            payload = frame.get_payload_as_bytes()
            self.received.append(payload)
            self.texts.put_nowait(payload)
        elif frame.msg_type == picows.WSMsgType.PING:
            self.pings += 1
        elif frame.msg_type == picows.WSMsgType.CLOSE:
            self.close_frame = int(frame.get_close_code())

    def on_ws_disconnected(self, transport: picows.WSTransport) -> None:
        self.closed.set()

    def send(self, message: bytes | str | dict) -> None:
        if isinstance(message, dict):
            message = orjson.dumps(message)
        elif isinstance(message, str):
            message = message.encode()
        assert self.transport is not None
        self.transport.send(picows.WSMsgType.TEXT, message)

    async def recv(self, timeout: float = 5.0) -> bytes:
        return await asyncio.wait_for(self.texts.get(), timeout)

    async def recv_json(self, timeout: float = 5.0):
        return orjson.loads(await self.recv(timeout))

    async def recv_until(self, predicate: Callable[[bytes], bool], timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - time.monotonic()))
            if predicate(frame):
                return frame

    def close(self) -> None:
        if self.transport is not None:
            self.transport.disconnect()


async def connect(url: str, *, auto_pong: bool = True) -> Client:
    _, client = await picows.ws_connect(Client, url, enable_auto_pong=auto_pong)
    return client


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
