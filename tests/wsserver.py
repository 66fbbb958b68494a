"""Small scriptable WebSocket and HTTP servers on loopback for transport tests (aiohttp).

It accepts any path, keeps what each client sent, answers subscriptions the way the venue
does (``replies``), and lets a test push frames to, ping, stall or drop its clients. It is a
test double for a venue's socket only; the venue simulator (``sim/``) is the faithful one.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Callable

from aiohttp import WSMsgType, web


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


def binance_reply(text: str) -> list[str]:
    msg = json.loads(text)
    return [json.dumps({"result": None, "id": msg["id"]})]


def okx_reply(text: str) -> list[str]:
    if text == "ping":
        return ["pong"]
    msg = json.loads(text)
    return [json.dumps({"event": msg["op"], "arg": a}) for a in msg["args"]]


def deribit_reply(text: str) -> list[str]:
    msg = json.loads(text)
    if msg["method"] == "public/subscribe":
        return [json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": msg["params"]["channels"]})]
    if msg["method"] == "public/test":
        return [json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {"version": "1.2.26"}})]
    return [json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": "ok"})]


class Client:
    def __init__(self, ws: web.WebSocketResponse, path: str) -> None:
        self.ws = ws
        self.path = path
        self.received: list[str] = []
        self.pongs = 0
        self.closed = asyncio.Event()
        self.subscribed: list = []

    async def send(self, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode()
        await self.ws.send_str(text)

    async def drop(self) -> None:
        """Close the TCP connection without a close handshake."""
        transport = self.ws._req.transport if self.ws._req is not None else None
        if transport is not None:
            transport.abort()
        self.closed.set()


class WsServer:
    def __init__(self, replies: Callable[[str], list[str]] | None = None, *, auto_reply: bool = True) -> None:
        self.replies = replies
        self.auto_reply = auto_reply
        self.clients: list[Client] = []
        self.refuse = 0  # refuse the next N handshakes with HTTP 503
        self.refused = 0
        self.connects = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def open_clients(self) -> list[Client]:
        return [c for c in self.clients if not c.closed.is_set()]

    async def start(self) -> "WsServer":
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        for c in self.open_clients():
            await c.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.connects += 1
        if self.refuse > 0:
            self.refuse -= 1
            self.refused += 1
            return web.Response(status=503, text="refused")
        ws = web.WebSocketResponse(autoping=False, max_msg_size=0)
        await ws.prepare(request)
        client = Client(ws, request.path_qs)
        self.clients.append(client)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    client.received.append(msg.data)
                    if self.auto_reply and self.replies is not None:
                        for r in self.replies(msg.data):
                            await ws.send_str(r)
                elif msg.type == WSMsgType.PONG:
                    client.pongs += 1
                elif msg.type == WSMsgType.PING:
                    await ws.pong(msg.data)
        finally:
            client.closed.set()
        return ws


class HttpServer:
    """Routes answer from a script: a list of (status, headers, body) used in turn (the last
    repeats), or a function of the request returning one."""

    def __init__(self) -> None:
        self.scripts: dict[str, list] = {}
        self.hits: list[tuple[float, str]] = []
        self.delay = 0.0
        self._runner = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> "HttpServer":
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits.append((time.monotonic(), request.path_qs))
        if self.delay:
            await asyncio.sleep(self.delay)
        script = self.scripts.get(request.path)
        if not script:
            return web.Response(status=404, text="no route")
        if callable(script):
            status, headers, body = script(request)
            return web.Response(status=status, headers=headers, body=body)
        status, headers, body = script.pop(0) if len(script) > 1 else script[0]
        return web.Response(status=status, headers=headers, body=body)


def ws_frame(payload: bytes, opcode: int = 0x1, fin: bool = True) -> bytes:
    """One unmasked server frame (RFC 6455 5.2)."""
    import struct

    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", first, n) + payload
    if n < 65536:
        return struct.pack("!BBH", first, 126, n) + payload
    return struct.pack("!BBQ", first, 127, n) + payload


class RawWsServer:
    """Completes the handshake, then writes exactly the bytes a test gives it (frames aiohttp
    will not produce, such as fragments) and records what the client sent."""

    GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, script: bytes) -> None:
        self.script = script
        self.received = b""
        self.port = 0
        self._server = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> "RawWsServer":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import base64
        import hashlib

        head = await reader.readuntil(b"\r\n\r\n")
        key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1(key + self.GUID).digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + self.script)
        await writer.drain()
        try:
            while chunk := await reader.read(65536):
                self.received += chunk
        finally:
            writer.close()
