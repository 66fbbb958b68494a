"""A WebSocket server that only sends: the frames of a file, framed once, written as fast as
the socket takes them. Run as a process of its own so that the client's CPU is the client's.

    python ws_blaster.py FRAMES_FILE REPEAT      -> prints its port, serves until killed

Each connection gets the file's frames REPEAT times (server frames are unmasked TEXT frames),
then a CLOSE frame. The framing is done once, before the first connection, so the server's
per-connection cost is a few large ``sendall`` calls.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import sys
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def handshake(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("closed during handshake")
        data += chunk
    key = next(line.split(b":", 1)[1].strip() for line in data.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key:"))
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")


def serve_one(conn: socket.socket, block: bytes, repeat: int) -> None:
    try:
        handshake(conn)
        for _ in range(repeat):
            conn.sendall(block)
        conn.sendall(frame(struct.pack("!H", 1000), 0x8))
        conn.settimeout(10)
        conn.recv(65536)  # the client's CLOSE (or its end of stream); then the server closes first
    except OSError:
        pass
    finally:
        conn.close()


def main() -> None:
    path, repeat = sys.argv[1], int(sys.argv[2])
    with open(path, "rb") as f:
        block = b"".join(frame(line) for line in f.read().split(b"\n") if line)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    print(server.getsockname()[1], flush=True)
    while True:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve_one, args=(conn, block, repeat), daemon=True).start()


if __name__ == "__main__":
    main()
