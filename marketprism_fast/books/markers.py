"""Marker rows: what the book builder needs and a record consumer must not see.

A parser made with ``book_markers=True`` gives every book message that changes no level one
``side == 0`` book_delta row, so that the builder's sequence checks see the message. Such a
row is not a record: whatever leaves the process (sinks, ``normalize`` output) drops it.
"""

from __future__ import annotations

import numpy as np

from ..batch import Batch


def without_markers(batch: Batch) -> Batch:
    """A book_delta batch without its ``side == 0`` marker rows (the batch itself when it has
    none). A parser's batch stays a parser's batch (its storage cut, ``Batch.select``), so the
    sinks keep their per-instrument and in-arena encodings for it."""
    side = batch.storage.get("side") if batch.storage else None
    keep = (np.asarray(side) if side is not None else np.asarray(batch.column("side"))) != 0
    if keep.all():
        return batch
    return batch.select(np.flatnonzero(keep))
