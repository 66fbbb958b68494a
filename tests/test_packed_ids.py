"""Trade ids held packed: a plain decimal id below 2**47 costs no arena byte in the compiled
buffers (``RecordBuffer.put_id``), and every reader still gets exactly the venue's text
(``Batch.column``, ``Batch.texts``, the Arrow and ClickHouse Native encoders, the byte
accounting of the fan-out queues)."""

from __future__ import annotations

import numpy as np
import pytest

from marketprism_fast.batch import PACKED_ID_FLAG, unpack_ids
from marketprism_fast.parser import compiled_available, make_parser
from marketprism_fast.pipeline.fanout import batch_bytes
from marketprism_fast.sinks.arrow import text_array
from marketprism_fast.sinks.clickhouse.native import encode_text

pytestmark = pytest.mark.skipif(not compiled_available(), reason="the compiled core is not built")

TS = 1_650_000_000_000_000_000
LIMIT = 2**47
# (id text as the venue sends it, packed?)
OKX_IDS = [
    ("0", True),
    ("7", True),
    ("130639474", True),
    (str(LIMIT - 1), True),  # the largest packed id: 15 digits
    (str(LIMIT), False),  # from here on: arena text
    ("999999999999999", False),
    ("1234567890123456", False),  # 16 digits
    ("00", False),  # a leading zero is not the canonical text of its value
    ("0123", False),
    ("12a4", False),
    ("-12", False),
    ("\\u0031\\u0032", False),  # escaped: "12" after unescaping, held as text
]


def okx_trades(ids: list[str]) -> bytes:
    rows = ",".join(
        f'{{"instId":"BTC-USDT","tradeId":"{t}","px":"42219.9","sz":"0.1","side":"buy","ts":"1630048897897"}}'
        for t in ids
    )
    return f'{{"arg":{{"channel":"trades","instId":"BTC-USDT"}},"data":[{rows}]}}'.encode()


def trade_batch(implementation: str, ids: list[str]):
    parser = make_parser("okx", implementation=implementation)
    parser.feed(okx_trades(ids), TS)
    (batch,) = [b for b in parser.take() if b.kind.name == "trade"]
    return batch


def test_plain_decimal_ids_are_packed_and_read_back_as_their_text() -> None:
    ids = [t for t, _ in OKX_IDS]
    batch = trade_batch("compiled", ids)
    lengths = np.asarray(batch.storage["trade_id_len"])
    assert [bool(n & PACKED_ID_FLAG) for n in lengths] == [p for _, p in OKX_IDS]
    want = trade_batch("reference", ids).column("trade_id").tolist()
    assert want[-1] == "12"
    assert batch.column("trade_id").tolist() == want
    arena, off, length = batch.texts("trade_id")
    assert not (np.asarray(length) & PACKED_ID_FLAG).any()
    assert [bytes(arena[o : o + n]).decode() for o, n in zip(off.tolist(), length.tolist())] == want
    assert text_array(batch, "trade_id").to_pylist() == want


def test_packed_ids_cost_no_arena_bytes() -> None:
    packed = trade_batch("compiled", [str(10**14 + i) for i in range(100)])
    text = trade_batch("compiled", [f"x{10**14 + i}" for i in range(100)])
    assert len(packed.arena) == 0
    assert len(text.arena) == 100 * 16
    # the fan-out's queue accounting counts held arena bytes, not the flag as a length
    assert batch_bytes(text) - batch_bytes(packed) == 100 * 16


def test_clickhouse_native_string_column_of_packed_ids() -> None:
    ids = [t for t, _ in OKX_IDS]
    want = trade_batch("reference", ids).column("trade_id").tolist()
    encoded = encode_text(trade_batch("compiled", ids), "trade_id").tobytes()
    # Native String: a LEB128 length (all under 128 here) then the bytes, per row
    got, i = [], 0
    while i < len(encoded):
        n = encoded[i]
        got.append(encoded[i + 1 : i + 1 + n].decode())
        i += 1 + n
    assert got == want


def test_unpack_ids_returns_the_same_arrays_when_nothing_is_packed() -> None:
    arena = np.frombuffer(b"abcdef", dtype=np.uint8)
    off = np.array([0, 3], dtype=np.uint32)
    length = np.array([3, 3], dtype=np.uint16)
    got = unpack_ids(arena, off, length)
    assert got[0] is arena and got[1] is off


def test_unpack_ids_of_every_digit_count() -> None:
    values = [0, 9, 10, 99, 100] + [10**k - 1 for k in range(3, 16)] + [10**k for k in range(3, 15)] + [LIMIT - 1]
    values = [v for v in values if v < LIMIT]
    off = np.array([v & 0xFFFFFFFF for v in values], dtype=np.uint32)
    length = np.array([PACKED_ID_FLAG | (v >> 32) for v in values], dtype=np.uint16)
    arena, off2, len2 = unpack_ids(np.zeros(0, np.uint8), off, length)
    assert [bytes(arena[o : o + n]).decode() for o, n in zip(off2.tolist(), len2.tolist())] == [str(v) for v in values]
