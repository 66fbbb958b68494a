"""The Native String encoding built with numpy equals the format written value by value:
per row a LEB128 length, then the UTF-8 bytes (lengths across the 1-, 2- and 3-byte varints)."""

from __future__ import annotations

import numpy as np

from marketprism_fast.sinks.clickhouse.native import encode_strings


def leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_strings_of_every_varint_width_equal_the_value_by_value_encoding() -> None:
    rng = np.random.default_rng(7)
    texts = ["", "a", "ü€", "x" * 127, "y" * 128, "z" * 16383, "w" * 16384, "BTC-USDT"] + [
        "".join(chr(97 + int(c)) for c in rng.integers(0, 26, int(n))) for n in rng.integers(0, 300, 50)
    ]
    encoded = [t.encode() for t in texts]
    arena = np.frombuffer(b"junk" + b"".join(encoded), dtype=np.uint8)
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    offsets = 4 + np.concatenate([[0], np.cumsum(lengths[:-1])])
    # rows in another order than the arena's, some repeated
    order = np.concatenate([np.arange(len(texts))[::-1], [3, 3, 0]])
    got = encode_strings(arena, offsets[order], lengths[order]).tobytes()
    assert got == b"".join(leb128(len(encoded[i])) + encoded[i] for i in order)


def test_no_rows_is_no_bytes() -> None:
    assert encode_strings(np.zeros(0, np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64)).size == 0
