"""A bounded on-disk spool of batches a server could not take (ClickHouse, NATS).

One file per batch, an Arrow IPC stream (``sinks/arrow.py``: the contract columns, with
kind, venue, batch id and time range in its schema metadata), named

    {sequence:012d}.{kind}.{exchange}.{batch id}.arrow

so that the order of arrival (the sequence, continued across restarts from the highest
file present) and the identity of each batch survive the process. A file is written under
a temporary name, flushed and fsync'd, renamed into place and the directory fsync'd: after
a crash (``kill -9``, power loss after the fsync) a file is either complete under its final
name or absent; leftover temporary files are removed at open. Files are written back
oldest first (``oldest()``), and removed only after the server has the batch.

Bounded by ``SpoolConfig.max_bytes``. When a batch does not fit, ``on_full`` decides, and
the decision is logged and counted, never silent: ``drop_oldest`` deletes the oldest files
until it fits, ``drop_newest`` refuses the new batch.

Thread-safe: the sink's worker thread writes back while the fan-out may spool.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from ..batch import Batch
from ..config import SpoolConfig
from ..errors import SinkError
from ..pipeline.identity import batch_id, id_text
from . import arrow

log = logging.getLogger("marketprism_fast.sinks.spool")

_NAME = re.compile(r"(?P<seq>\d{12})\.(?P<kind>[a-z_]+)\.(?P<exchange>[a-z_]+)\.(?P<id>[0-9a-f]{16})\.arrow")
_TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True, order=True)
class SpoolEntry:
    seq: int
    kind: str
    exchange: str
    batch_id: int
    path: Path
    size: int
    rows: int = -1  # unknown until read (not kept in the name)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(self, config: SpoolConfig, *, name: str = "") -> None:
        self.config = config
        self.name = name or config.directory
        self.directory = Path(config.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._entries: list[SpoolEntry] = []
        self.dropped_batches = 0
        self.dropped_rows = 0
        self.spooled_batches = 0
        self._bytes = 0
        for path in self.directory.iterdir():
            if path.name.startswith(_TEMP_PREFIX):
                path.unlink(missing_ok=True)  # an interrupted write: never renamed, never acknowledged
                continue
            match = _NAME.fullmatch(path.name)
            if match is None:
                continue
            self._entries.append(
                SpoolEntry(int(match["seq"]), match["kind"], match["exchange"], int(match["id"], 16), path, path.stat().st_size)
            )
        self._entries.sort()
        self._bytes = sum(e.size for e in self._entries)
        self._next_seq = (self._entries[-1].seq + 1) if self._entries else 1
        if self._entries:
            log.info("%s: %d spooled batches (%d bytes) found, to be written back", self.name, len(self._entries), self._bytes)

    # ---- state --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def stats(self) -> dict:
        return {"spool_files": len(self._entries), "spool_bytes": self._bytes, "spool_dropped_batches": self.dropped_batches}

    # ---- writing ------------------------------------------------------------------------

    def put(self, batch: Batch) -> bool:
        """Spool one batch durably; False when ``on_full`` refused it (counted and logged)."""
        data = arrow.ipc_buffer(arrow.to_table(batch))  # Arrow's own buffer: no copy into bytes
        bid = batch_id(batch)
        with self._lock:
            if not self._make_room(len(data), batch):
                return False
            seq = self._next_seq
            self._next_seq += 1
            final = self.directory / f"{seq:012d}.{batch.kind.name}.{batch.exchange}.{id_text(bid)}.arrow"
            temp = self.directory / (_TEMP_PREFIX + final.name)
            try:
                with open(temp, "wb") as f:
                    f.write(memoryview(data))
                    f.flush()
                    os.fsync(f.fileno())
                os.rename(temp, final)
                _fsync_directory(self.directory)
            except OSError as exc:
                temp.unlink(missing_ok=True)
                raise SinkError(f"{self.name}: cannot write {final}: {exc.strerror or exc}", sink=self.name) from exc
            self._entries.append(SpoolEntry(seq, batch.kind.name, batch.exchange, bid, final, len(data), len(batch)))
            self._bytes += len(data)
            self.spooled_batches += 1
            return True

    def _make_room(self, size: int, batch: Batch) -> bool:
        limit = self.config.max_bytes
        if self._bytes + size <= limit:
            return True
        if self.config.on_full == "drop_newest" or size > limit:
            self.dropped_batches += 1
            self.dropped_rows += len(batch)
            log.error(
                "%s: spool full (%d of %d bytes): dropped the new %s %s batch %s of %d rows (spool.on_full=%s)",
                self.name, self._bytes, limit, batch.exchange, batch.kind.name, id_text(batch_id(batch)), len(batch),
                self.config.on_full,
            )
            return False
        while self._entries and self._bytes + size > limit:
            oldest = self._entries.pop(0)
            self._bytes -= oldest.size
            oldest.path.unlink(missing_ok=True)
            self.dropped_batches += 1
            log.error(
                "%s: spool full (limit %d bytes): dropped the oldest spooled batch %s (%s %s, %d bytes; spool.on_full=drop_oldest)",
                self.name, limit, oldest.path.name, oldest.exchange, oldest.kind, oldest.size,
            )
        return True

    # ---- writing back -------------------------------------------------------------------

    def oldest(self, n: int = 1) -> list[SpoolEntry]:
        """The ``n`` oldest entries (fewer when the spool holds fewer)."""
        with self._lock:
            return self._entries[:n]

    def read(self, entry: SpoolEntry) -> Batch:
        return arrow.to_batch(arrow.read_ipc(entry.path.read_bytes()))

    def remove(self, entry: SpoolEntry) -> None:
        """The server has the batch: forget it."""
        with self._lock:
            try:
                self._entries.remove(entry)
            except ValueError:
                return  # dropped meanwhile (spool full)
            self._bytes -= entry.size
            entry.path.unlink(missing_ok=True)
            _fsync_directory(self.directory)

    def quarantine(self, entry: SpoolEntry, reason: str) -> None:
        """A file that cannot be read or is refused for good: moved aside, counted, logged."""
        with self._lock:
            try:
                self._entries.remove(entry)
            except ValueError:
                return
            self._bytes -= entry.size
            aside = self.directory / "rejected"
            aside.mkdir(exist_ok=True)
            os.replace(entry.path, aside / entry.path.name)
            self.dropped_batches += 1
            log.error("%s: spooled batch %s set aside in %s: %s", self.name, entry.path.name, aside, reason)
