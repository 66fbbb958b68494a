"""What the ClickHouse and NATS sinks share: deliver now, or spool and write back later.

A sink built on ``SpooledDelivery`` implements ``_open()`` (connect; create tables or
streams) and ``_deliver(batch, uncertain)`` (write one batch; ``uncertain``: it may already
have been written, so check or deduplicate). Both run on the sink's one worker thread for a
blocking client (``blocking=True``) or on the event loop.

The rules:

* While the server is healthy and nothing is spooled, ``write`` delivers each batch, up to
  ``concurrency`` of one call at once (several connections, or acks awaited together).
* A delivery that fails with ``SinkUnavailable`` marks the server down (``health`` says
  so), and that batch and every later one go to the spool in arrival order, whose
  write-back always treats them as uncertain. ``write`` does not wait for a dead server:
  while down, it only appends to the spool.
* One write-back task probes the server with capped, jittered backoff and, once it
  answers, writes the spool back oldest first (up to ``concurrency`` batches at once),
  removing each file after its delivery.
  Only when the spool is empty does ``write`` deliver directly again (order kept).
* ``SinkRejected`` (the server refuses the batch for good) is logged and counted; a
  spooled batch refused so is set aside (``spool/rejected/``), never retried forever.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from typing import Awaitable, Callable, TypeVar

from ..batch import Batch
from ..config import SpoolConfig
from ..errors import SinkError, SinkRejected, SinkUnavailable
from ..pipeline.identity import batch_id, id_text
from .base import Backoff, SinkCounters, SinkHealth
from .spool import Spool, SpoolEntry

T = TypeVar("T")


class SpooledDelivery:
    name = "sink"

    def __init__(self, spool: SpoolConfig, *, blocking: bool, logger: logging.Logger, concurrency: int = 1) -> None:
        self.spool_config = spool
        self.log = logger
        self.counters = SinkCounters()
        self.backoff = Backoff(initial=0.2, cap=5.0)
        self._spool: Spool | None = None
        # Deliveries of one ``write`` call in flight at once (threads for a blocking client).
        self.concurrency = concurrency
        self._executor = (
            concurrent.futures.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"mpf-{self.name}")
            if blocking
            else None
        )
        # Spooling is disk work of its own: it must not wait behind a slow server call.
        self._disk = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"mpf-{self.name}-spool")
        self._disk_pending = 0
        self._disk_pending_bytes = 0
        self.max_disk_pending = 64
        # Memory of the batches waiting for the disk thread: bounded like a fan-out queue.
        self.max_disk_pending_bytes = 64 * 1024**2
        self._loop: asyncio.AbstractEventLoop | None = None
        self._down = True  # until _open succeeds
        self._down_detail = "not started"
        self._wakeup = asyncio.Event()
        self._writeback: asyncio.Task | None = None
        # One write-back at a time: ``close`` drains the spool while the write-back task may
        # be delivering its oldest entries; without this both deliver (and count) them.
        self._writeback_lock = asyncio.Lock()
        self._closing = False

    # ---- to implement -------------------------------------------------------------------

    def _open(self) -> None | Awaitable[None]:
        raise NotImplementedError

    def _deliver(self, batch: Batch, uncertain: bool) -> int | Awaitable[int]:
        raise NotImplementedError

    # ---- plumbing -----------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args) -> T:
        if self._executor is not None:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        result = fn(*args)
        if asyncio.iscoroutine(result):
            return await result
        return result  # type: ignore[return-value]

    @property
    def spool_store(self) -> Spool:
        if self._spool is None:
            self._spool = Spool(self.spool_config, name=f"{self.name} spool")
        return self._spool

    # ---- Sink methods -------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._run(lambda: self.spool_store)  # opening scans the directory: off the loop
        try:
            await self._run(self._open)
            self._mark_up()
        except SinkError as exc:
            self._mark_down(str(exc))
        self._writeback = asyncio.create_task(self._write_back_loop(), name=f"{self.name}-writeback")
        self._wakeup.set()

    async def write(self, batches: list[Batch]) -> None:
        batches = [b for b in batches if len(b)]
        if self.concurrency == 1 or len(batches) == 1:
            for batch in batches:
                await self._write_one(batch)
            return
        slots = asyncio.Semaphore(self.concurrency)

        async def one(batch: Batch) -> None:
            async with slots:
                await self._write_one(batch)

        await asyncio.gather(*(one(b) for b in batches))

    async def _write_one(self, batch: Batch) -> None:
        if self._down or len(self.spool_store):
            await self._spool_one(batch)
            return
        started = time.perf_counter()
        try:
            await self._run(self._deliver, batch, False)
        except SinkUnavailable as exc:
            self._mark_down(str(exc))
            await self._spool_one(batch)
            return
        except SinkRejected as exc:
            self.counters.errors += 1
            self.counters.dropped_batches += 1
            self.log.error("%s: batch refused, dropped: %s", self.name, exc)
            return
        self.counters.flushed(time.perf_counter() - started)
        self.counters.wrote(batch)

    def spool_nowait(self, batch: Batch) -> bool:
        """Overflow (the fan-out's ``spool`` policy): hand the batch to the disk thread and
        return at once; False when that thread already has ``max_disk_pending`` batches or
        ``max_disk_pending_bytes`` of them to write (one batch is always taken when idle)."""
        from ..pipeline.fanout import batch_bytes

        size = batch_bytes(batch)
        if self._disk_pending >= self.max_disk_pending or (
            self._disk_pending and self._disk_pending_bytes + size > self.max_disk_pending_bytes
        ):
            return False
        self._disk_pending += 1
        self._disk_pending_bytes += size
        future = self._disk.submit(self._spool_sync, batch)
        future.add_done_callback(lambda f: self._disk_done(size))
        return True

    def _disk_done(self, size: int) -> None:
        self._disk_pending -= 1  # under the GIL; read only as a bound
        self._disk_pending_bytes -= size
        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._wakeup.set)
            except RuntimeError:  # the loop has closed: nothing to wake
                pass

    def _spool_sync(self, batch: Batch) -> None:
        try:
            self.spool_store.put(batch)
        except SinkError as exc:
            self.counters.errors += 1
            self.counters.dropped_batches += 1
            self.log.error("%s: %s; batch %s dropped", self.name, exc, id_text(batch_id(batch)))

    async def _spool_one(self, batch: Batch) -> None:
        await asyncio.get_running_loop().run_in_executor(self._disk, self._spool_sync, batch)
        self._wakeup.set()

    async def close(self, timeout: float = 10.0) -> None:
        """Write back what the spool holds while the server answers (within ``timeout``),
        then stop; what remains stays on disk for the next start."""
        self._closing = True
        await asyncio.get_running_loop().run_in_executor(self._disk, lambda: None)  # overflow writes done
        deadline = time.monotonic() + timeout
        while len(self.spool_store) and not self._down and time.monotonic() < deadline:
            if not await self._write_back_some():
                break
        if self._writeback is not None:
            self._writeback.cancel()
            try:
                await self._writeback
            except (asyncio.CancelledError, Exception):
                pass
        await self._close_client()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._disk.shutdown(wait=True)

    async def _close_client(self) -> None:
        pass

    def health(self) -> SinkHealth:
        spool = self._spool
        if self._down:
            backlog = f"; {len(spool)} batches spooled" if spool is not None and len(spool) else ""
            return SinkHealth("down", self._down_detail + backlog)
        if spool is not None and len(spool):
            return SinkHealth("degraded", f"writing back {len(spool)} spooled batches ({spool.bytes} bytes)")
        return SinkHealth("ok", "")

    def stats(self) -> dict:
        health = self.health()
        out = {"state": health.state, "detail": health.detail, **self.counters.as_dict()}
        if self._spool is not None:
            out["spool_bytes"] = self._spool.bytes
            out["spool_files"] = len(self._spool)
            out["dropped_batches"] += self._spool.dropped_batches
        else:
            out["spool_bytes"] = out["spool_files"] = 0
        return out

    # ---- state --------------------------------------------------------------------------

    def _mark_down(self, detail: str) -> None:
        self.counters.errors += 1
        if not self._down:
            self.log.warning("%s: down, spooling: %s", self.name, detail)
        self._down = True
        self._down_detail = detail
        self.backoff.failed()
        self._wakeup.set()

    def _mark_up(self) -> None:
        if self._down and self._down_detail != "not started":
            self.log.info("%s: back up; %d spooled batches to write back", self.name, len(self.spool_store))
        self._down = False
        self._down_detail = ""
        self.backoff.succeeded()

    # ---- write-back ---------------------------------------------------------------------

    async def _write_back_some(self) -> bool:
        """Deliver the oldest spooled batches, up to ``concurrency`` at once as ``write`` does
        (a spool written back one round trip at a time may never catch up with what keeps
        arriving behind it); False when the server is down."""
        async with self._writeback_lock:
            entries = self.spool_store.oldest(self.concurrency)
            results = await asyncio.gather(*(self._write_back(e) for e in entries), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            return all(results)

    async def _write_back(self, entry: SpoolEntry) -> bool:
        """Deliver one spooled batch and forget it; False when the server is down."""
        spool = self.spool_store
        started = time.perf_counter()
        try:
            batch = await self._run(spool.read, entry)
        except Exception as exc:  # an unreadable file cannot get better
            await self._run(spool.quarantine, entry, f"unreadable: {exc}")
            return True
        try:
            await self._run(self._deliver, batch, True)
        except SinkUnavailable as exc:
            self._mark_down(str(exc))
            return False
        except SinkRejected as exc:
            self.counters.errors += 1
            await self._run(spool.quarantine, entry, str(exc))
            return True
        await self._run(spool.remove, entry)
        self.counters.flushed(time.perf_counter() - started)
        self.counters.wrote(batch)
        return True

    async def _write_back_loop(self) -> None:
        while not self._closing:
            if self._down:
                delay = max(self.backoff.next_attempt - time.monotonic(), 0.0)
                if delay:
                    await asyncio.sleep(delay)
                try:
                    await self._run(self._open)
                except SinkError as exc:
                    self._mark_down(str(exc))
                    continue
                except Exception as exc:  # a bug must not end the write-back for good
                    self.log.exception("%s: reconnect failed", self.name)
                    self._mark_down(f"{type(exc).__name__}: {exc}")
                    continue
                self._mark_up()
            if not len(self.spool_store):
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            try:
                await self._write_back_some()
            except Exception as exc:  # disk errors: report and keep trying
                self.log.exception("%s: write-back failed", self.name)
                self._mark_down(f"write-back: {type(exc).__name__}: {exc}")
