"""NATS JetStream: one Arrow IPC message per batch, deduplicated by batch id.

Subjects and messages
---------------------
* ``{batch_subject_prefix}.{kind}.{exchange}`` (default ``mpf.batch.trade.binance_spot``):
  one message per batch, the payload one **Apache Arrow IPC stream** (``sinks/arrow.py``:
  contract columns; schema metadata ``kind``, ``exchange``, ``schema_version``, ``batch_id``,
  ``part``/``parts``, ``rows``, ``ts_event_min``/``ts_event_max``). Any Arrow library reads
  it from the bytes alone (``pyarrow.ipc.open_stream(msg.data).read_all()``). A batch
  larger than the server's ``max_payload`` is split into row slices, one message each
  (``parts`` > 1). Headers: ``Nats-Msg-Id`` = the batch id (16 hex digits; ``{id}.{part}``
  for parts after the first), ``Mpf-Kind``, ``Mpf-Exchange``, ``Mpf-Rows``.
* with ``per_record_json``: ``{kind}.{exchange}.{market}.{symbol}`` (data-model.md), one JSON
  object per record, the ``normalize`` encoding; ``.`` inside a symbol becomes ``_``.
* with ``legacy_subjects`` (a migration aid for consumers of the old collector):
  ``market.{exchange}.{symbol}.{type}`` with the old field names, for trades (``trade``),
  book snapshots (``orderbook``), tickers (``ticker``), klines (``kline.{interval}``),
  funding rates (``funding_rate``), open interest (``open_interest``) and liquidations
  (``liquidation``): ``exchange_name``, ``symbol_name``, prices and quantities as decimal
  text, ``timestamp`` as ISO 8601 UTC with milliseconds, trades' ``is_buyer_maker``.
  Per-record messages are plain NATS publishes (no acknowledgement awaited); a stream
  over those subjects stores them if an operator defines one.

Delivery
--------
The stream (``stream``: subjects ``{prefix}.>``, limits retention, ``max_age``,
``duplicate_window``, ``storage``, ``replicas``) is created at start, or checked and its
subjects extended. Each batch's parts are published with ``publish_async`` (at most
``max_pending_acks`` unacknowledged), and every acknowledgement is awaited with a timeout.
An acknowledgement that does not come (lost, or the server restarting) is retried with the
same ``Nats-Msg-Id``: the stream drops the repeat within its duplicate window and answers
``duplicate``. If the retries fail the batch goes to the spool (``sinks/spool.py``) and is
published again, with the same ids, when NATS answers. A repeat outside the duplicate window
can reach the stream twice; the consumer (``consumer.py``) still writes it once to ClickHouse.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
from typing import Iterator

import orjson

from ..batch import Batch
from ..config import NatsSinkConfig
from ..errors import SinkRejected, SinkUnavailable
from ..offline.writers import JsonLines
from ..pipeline.identity import batch_id, id_text
from . import arrow
from .delivery import SpooledDelivery
from .secrets import resolve_password

log = logging.getLogger("marketprism_fast.sinks.nats")

PUBLISH_ATTEMPTS = 3
BATCHES_IN_FLIGHT = 8
HEADER_ROOM = 1024  # bytes kept free in a message for headers


async def connect_client(**options):
    """``nats.connect(**options)`` whose first connect gives up when the server does not answer.

    nats-py applies ``max_reconnect_attempts=-1`` to the first connect as well: it retries
    forever, so a sink or consumer started while NATS is down would hang in ``start`` (and
    not end on SIGTERM). The first connect is bounded to two attempts (the callers retry with
    their own backoff and report the server down); once connected, the client reconnects by
    itself without limit, as ``options`` asked."""
    import nats

    wanted = options.get("max_reconnect_attempts", -1)
    nc = await nats.connect(**{**options, "max_reconnect_attempts": 1})
    nc.options["max_reconnect_attempts"] = wanted  # read by the client at each reconnect
    return nc


def batch_subject(prefix: str, kind: str, exchange: str) -> str:
    return f"{prefix}.{kind}.{exchange}"


def _token(text: str) -> str:
    """A subject token: no '.', space or wildcard inside."""
    return text.replace(".", "_").replace(" ", "_").replace("*", "_").replace(">", "_") or "_"


def message_id(bid: int, part: int) -> str:
    return id_text(bid) if part == 0 else f"{id_text(bid)}.{part}"


# ---- per-record JSON ----------------------------------------------------------------------


def record_messages(batch: Batch, json: JsonLines) -> Iterator[tuple[str, bytes]]:
    """(subject, JSON) per record: ``{kind}.{exchange}.{market}.{symbol}``."""
    lines = json.lines(batch)
    prefix = f"{batch.kind.name}.{_token(batch.exchange)}."
    subjects: dict[tuple[str, str], str] = {}
    for line, market, symbol in zip(lines, batch.column("market").tolist(), batch.column("symbol").tolist()):
        subject = subjects.get((market, symbol))
        if subject is None:
            subject = subjects[(market, symbol)] = prefix + _token(market) + "." + _token(symbol)
        yield subject, line.encode()


_LEGACY_TYPE = {
    "trade": "trade",
    "book_snapshot": "orderbook",
    "ticker": "ticker",
    "kline": "kline",
    "funding_rate": "funding_rate",
    "open_interest": "open_interest",
    "liquidation": "liquidation",
}


def _iso(ns: int) -> str:
    return _dt.datetime.fromtimestamp(ns / 1e9, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _dec(value: float) -> str | None:
    return None if value != value else repr(value)


def legacy_messages(batch: Batch) -> Iterator[tuple[str, bytes]]:
    """The old collector's ``market.{exchange}.{symbol}.{type}`` messages (migration aid)."""
    kind = batch.kind.name
    legacy = _LEGACY_TYPE.get(kind)
    if legacy is None:
        return
    rows = batch.rows()
    for row in rows:
        base = {"exchange_name": row["exchange"], "symbol_name": row["symbol"], "timestamp": _iso(row["ts_event"])}
        subject_type = legacy
        if kind == "trade":
            base.update(trade_id=row["trade_id"], price=_dec(row["price"]), quantity=_dec(row["amount"]), is_buyer_maker=row["side"] == -1)
        elif kind == "book_snapshot":
            base.update(
                bids=[{"price": _dec(p), "quantity": _dec(q)} for p, q in zip(row["bid_price"], row["bid_amount"]) if p == p],
                asks=[{"price": _dec(p), "quantity": _dec(q)} for p, q in zip(row["ask_price"], row["ask_amount"]) if p == p],
                last_update_id=row["update_id"],
            )
        elif kind == "ticker":
            for name in ("last_price", "open_price", "high_price", "low_price", "volume", "quote_volume", "price_change", "price_change_pct", "weighted_avg_price", "bid_price", "ask_price"):
                base[name] = _dec(row[name])
            base["trade_count"] = row["trade_count"]
        elif kind == "kline":
            subject_type = f"kline.{_token(row['interval'])}"
            base.update(
                interval=row["interval"], open_time=_iso(row["open_time"]), close_time=_iso(row["close_time"]),
                open_price=_dec(row["open"]), high_price=_dec(row["high"]), low_price=_dec(row["low"]),
                close_price=_dec(row["close"]), volume=_dec(row["volume"]), quote_volume=_dec(row["quote_volume"]),
                trade_count=row["trade_count"], is_closed=bool(row["closed"]),
            )
        elif kind == "funding_rate":
            base.update(
                funding_rate=_dec(row["funding_rate"]), predicted_funding_rate=_dec(row["predicted_rate"]),
                mark_price=_dec(row["mark_price"]), index_price=_dec(row["index_price"]),
                next_funding_time=_iso(row["funding_time"]) if row["funding_time"] else None,
            )
        elif kind == "open_interest":
            base.update(open_interest=_dec(row["open_interest"]), open_interest_value=_dec(row["open_interest_value"]))
        elif kind == "liquidation":
            base.update(side="buy" if row["side"] == 1 else "sell", price=_dec(row["price"]), quantity=_dec(row["amount"]), status=row["status"])
        yield f"market.{_token(row['exchange'])}.{_token(row['symbol'])}.{subject_type}", orjson.dumps(base)


# ---- the sink -----------------------------------------------------------------------------


class NatsSink(SpooledDelivery):
    name = "nats"

    def __init__(self, config: NatsSinkConfig) -> None:
        # Batches of one write published together, their acks awaited together.
        super().__init__(config.spool, blocking=False, logger=log, concurrency=BATCHES_IN_FLIGHT)
        self.config = config
        self.overflow = config.overflow
        self._password = resolve_password(config, field="sinks.nats")
        self._nc = None
        self._js = None
        self._json = JsonLines()
        self.ack_timeout = config.ack_timeout_seconds
        self.published_messages = 0
        self.duplicate_acks = 0
        self.ack_retries = 0
        self.record_messages = 0

    async def _connect(self):
        if self._nc is not None:
            if self._nc.is_connected:
                return self._nc
            if not self._nc.is_closed:  # the client is reconnecting by itself
                raise SinkUnavailable(f"nats: reconnecting to {self.config.url}", sink=self.name)
            self._nc = None
        options = dict(
            servers=[self.config.url],
            connect_timeout=2,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            name="marketprism_fast",
        )
        if self.config.user:
            options.update(user=self.config.user, password=self._password)

        async def _quiet(exc):  # reconnects are reported through health, not tracebacks
            log.debug("nats: %s", exc)

        options["error_cb"] = _quiet
        try:
            nc = await connect_client(**options)
        except Exception as exc:
            raise SinkUnavailable(f"nats: cannot connect to {self.config.url}: {type(exc).__name__}: {exc}", sink=self.name) from None
        self._nc = nc
        self._js = nc.jetstream(publish_async_max_pending=self.config.max_pending_acks)
        return nc

    async def _open(self) -> None:
        await self._connect()
        await self._ensure_stream()

    async def _ensure_stream(self) -> None:
        from nats.js import api
        from nats.js.errors import NotFoundError

        cfg = self.config
        subjects = [f"{cfg.batch_subject_prefix}.>"]
        storage = api.StorageType.FILE if cfg.storage == "file" else api.StorageType.MEMORY
        try:
            info = await self._js.stream_info(cfg.stream)
        except NotFoundError:
            info = None
        except Exception as exc:
            raise SinkUnavailable(f"nats: stream {cfg.stream}: {type(exc).__name__}: {exc}", sink=self.name) from None
        try:
            if info is None:
                await self._js.add_stream(
                    name=cfg.stream, subjects=subjects, retention=api.RetentionPolicy.LIMITS,
                    max_age=cfg.max_age_seconds, duplicate_window=cfg.duplicate_window_seconds,
                    storage=storage, num_replicas=cfg.replicas,
                )
                log.info("nats: created stream %s on %s", cfg.stream, ", ".join(subjects))
                return
            have = list(info.config.subjects or [])
            missing = [s for s in subjects if s not in have]
            if missing:
                await self._js.update_stream(info.config.evolve(subjects=have + missing))
                log.info("nats: stream %s now also takes %s", cfg.stream, ", ".join(missing))
            if abs((info.config.duplicate_window or 0) - cfg.duplicate_window_seconds) > 1e-3:
                log.warning(
                    "nats: stream %s has a duplicate window of %ss, config says %ss (left as it is)",
                    cfg.stream, info.config.duplicate_window, cfg.duplicate_window_seconds,
                )
        except SinkUnavailable:
            raise
        except Exception as exc:
            raise SinkUnavailable(f"nats: cannot create or update stream {cfg.stream}: {type(exc).__name__}: {exc}", sink=self.name) from None

    async def _deliver(self, batch: Batch, uncertain: bool) -> int:
        # ``uncertain`` needs nothing more here: the stream deduplicates by message id.
        nc = await self._connect()
        js = self._js
        bid = batch_id(batch)
        limit = max(nc.max_payload - HEADER_ROOM, 4096)
        subject = batch_subject(self.config.batch_subject_prefix, batch.kind.name, batch.exchange)
        messages = []
        for part, parts, data in arrow.encode(batch, max_bytes=limit):
            if len(data) > limit:
                raise SinkRejected(f"nats: one row of {batch.kind.name} is larger than max_payload {nc.max_payload}", sink=self.name)
            headers = {
                "Nats-Msg-Id": message_id(bid, part),
                "Mpf-Kind": batch.kind.name,
                "Mpf-Exchange": batch.exchange,
                "Mpf-Rows": str(len(batch)),
            }
            messages.append((headers, data))
        pending = list(range(len(messages)))
        for attempt in range(PUBLISH_ATTEMPTS):
            failed = []
            futures = []
            try:
                for i in pending:
                    headers, data = messages[i]
                    futures.append((i, await js.publish_async(subject, data, headers=dict(headers), wait_stall=self.ack_timeout)))
            except Exception as exc:
                for _, f in futures:
                    f.cancel()
                raise SinkUnavailable(f"nats: publish failed: {type(exc).__name__}: {exc}", sink=self.name) from None
            for i, future in futures:
                try:
                    ack = await asyncio.wait_for(future, self.ack_timeout)
                except asyncio.TimeoutError:
                    failed.append(i)  # lost or late: publish again with the same id
                    continue
                except Exception as exc:
                    failed.append(i)
                    log.debug("nats: publish of %s failed: %s", messages[i][0]["Nats-Msg-Id"], exc)
                    continue
                self.published_messages += 1
                if getattr(ack, "duplicate", False):
                    self.duplicate_acks += 1
            if not failed:
                break
            pending = failed
            self.ack_retries += len(failed)
            log.info("nats: %d acknowledgement(s) of batch %s missing; publishing again with the same id", len(failed), id_text(bid))
        else:
            raise SinkUnavailable(f"nats: no acknowledgement for batch {id_text(bid)} after {PUBLISH_ATTEMPTS} attempts", sink=self.name)
        if self.config.per_record_json or self.config.legacy_subjects:
            await self._publish_records(batch)
        return len(batch)

    async def _publish_records(self, batch: Batch) -> None:
        nc = self._nc
        if self.config.per_record_json:
            for subject, payload in record_messages(batch, self._json):
                await nc.publish(subject, payload)
                self.record_messages += 1
        if self.config.legacy_subjects:
            for subject, payload in legacy_messages(batch):
                await nc.publish(subject, payload)
                self.record_messages += 1

    async def _close_client(self) -> None:
        if self._nc is not None:
            try:
                await asyncio.wait_for(self._nc.drain(), 5.0)
            except Exception:
                pass
            self._nc = None

    def stats(self) -> dict:
        out = super().stats()
        out.update(
            published_messages=self.published_messages, duplicate_acks=self.duplicate_acks,
            ack_retries=self.ack_retries, record_messages=self.record_messages,
        )
        return out
