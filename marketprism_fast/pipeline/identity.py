"""Batch identity: one 64-bit id per batch, stable wherever the batch goes.

The id travels with the batch into every sink: the ``_batch_id`` column of each ClickHouse
table, the ``Nats-Msg-Id`` header and metadata of a JetStream message, the name of a spool
file. A retry of the same batch carries the same id, which is what lets the ClickHouse
writer, the NATS stream and the consumer recognise a batch they already have.

Ids are assigned by the batcher (``BatchIds``): a hash of the node name, the process
incarnation (start time and pid), the venue, the kind and a per-process sequence number,
so two processes or two runs of one node never give the same id to different batches.
A batch that reaches a sink without one (a test, a tool) gets a hash of its content.
Text form: 16 lower-case hex digits.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time

import numpy as np

from ..batch import Batch


def _hash64(*parts: bytes) -> int:
    h = hashlib.blake2b(digest_size=8)
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    value = int.from_bytes(h.digest(), "big")
    return value or 1  # 0 means "not assigned"


def id_text(batch_id: int) -> str:
    return f"{batch_id:016x}"


def parse_id(text: str) -> int:
    if len(text) != 16:
        raise ValueError(f"batch id {text!r} is not 16 hex digits")
    return int(text, 16)


def group_id(batch_ids: list[int]) -> int:
    """Id of several batches stored as one (one insert): a hash of their ids, in order."""
    return _hash64(*(i.to_bytes(8, "big") for i in batch_ids))


def part_id(batch_id: int, part: int) -> int:
    """Id of one part of a batch that had to be split (a NATS message size limit): the
    batch's own id for part 0, a hash of (id, part) for the others."""
    return batch_id if part == 0 else _hash64(batch_id.to_bytes(8, "big"), part.to_bytes(8, "big"))


class BatchIds:
    """Assigns ids to the batches of one process."""

    def __init__(self, node: str) -> None:
        self._prefix = f"{node}/{time.time_ns()}/{os.getpid()}".encode()
        self._seq = itertools.count(1)

    def assign(self, batch: Batch) -> int:
        if batch.id:
            return batch.id
        value = _hash64(self._prefix, batch.exchange.encode(), batch.kind.name.encode(), str(next(self._seq)).encode())
        batch.assign_id(value)
        return value


def content_id(batch: Batch) -> int:
    """An id from the batch's kind, venue and contract columns (for batches made outside a batcher)."""
    parts = [batch.kind.name.encode(), batch.exchange.encode(), str(len(batch)).encode()]
    for name in batch.kind.column_names:
        values = batch.column(name)
        if values.dtype == object:
            parts.append("\x00".join(map(repr, values.tolist())).encode())
        else:
            parts.append(np.ascontiguousarray(values).tobytes())
    return _hash64(*parts)


def batch_id(batch: Batch) -> int:
    """The batch's id, assigned from its content when it has none yet."""
    if not batch.id:
        batch.assign_id(content_id(batch))
    return batch.id
