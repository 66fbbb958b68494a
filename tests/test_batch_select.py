"""Cutting rows out of a batch (``Batch.select``, ``without_markers``): a parser's batch stays a
parser's batch (storage cut, arena and registry shared), so the sinks keep encoding its texts
in place and its instrument columns per instrument."""

from __future__ import annotations

import numpy as np

from marketprism_fast.batch import Batch
from marketprism_fast.books.markers import without_markers
from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.parser import make_parser
from marketprism_fast.pipeline.identity import BatchIds


def okx_book(action: str, seq: int, bids: str, asks: str) -> bytes:
    return (
        f'{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"{action}","data":[{{"asks":[{asks}],'
        f'"bids":[{bids}],"ts":"{1629966436396 + seq}","checksum":0,"seqId":{seq},"prevSeqId":{seq - 1 if seq > 1 else -1}}}]}}'
    ).encode()


def book_delta_with_a_marker(implementation: str) -> Batch:
    parser = make_parser("okx", InstrumentRegistry("okx"), implementation=implementation, book_markers=True)
    for frame in (
        okx_book("snapshot", 1, '["41006.3","0.30178218","0","2"]', '["41006.8","0.60038921","0","1"]'),
        okx_book("update", 2, "", ""),  # changes no level: one marker row
        okx_book("update", 3, '["41006.1","1.5","0","1"]', ""),
    ):
        assert parser.feed(frame, 7) == 0
    (batch,) = [b for b in parser.take() if b.kind.name == "book_delta"]
    return batch


def test_without_markers_keeps_a_compiled_batch_compiled() -> None:
    batch = book_delta_with_a_marker("compiled")
    side = np.asarray(batch.column("side"))
    assert side.tolist() == [1, -1, 0, 1]
    out = without_markers(batch)
    assert out.storage and out.instrument_codes() is not None and out.instrument_codes()[1] is batch.instruments
    assert out.texts("price_text") is not None
    keep = side != 0
    for name in batch.kind.column_names + ("frame", "price_text", "amount_text"):
        assert np.array_equal(out.column(name), np.asarray(batch.column(name))[keep]), name


def test_select_cuts_every_column_of_a_column_batch_and_keeps_the_id() -> None:
    source = book_delta_with_a_marker("reference")
    assert not source.storage
    BatchIds("select").assign(source)
    rows = np.array([3, 0])
    out = source.select(rows)
    assert out.id == source.id and len(out) == 2 and not out.storage
    for name in source.kind.column_names + ("frame", "price_text"):
        assert np.array_equal(out.column(name), np.asarray(source.column(name))[rows]), name
    assert without_markers(source).column("side").tolist() == [1, -1, 1]
