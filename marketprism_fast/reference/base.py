"""What every reference parser shares: the frame transaction, row buffers, counters.

A venue parser implements ``parse_frame`` (and, where the venue has them, ``parse_snapshot``
and ``parse_open_interest``). These read one decoded message and call ``emit`` per record;
they return ``None`` when the frame was a data frame, or a skip reason from
``SKIP_REASONS``, and raise ``ParseError`` when the frame is not valid for the venue.

Invariant: rows emitted while a frame is parsed stay in a scratch list and reach the
per-kind buffers only when the whole frame succeeded, so a frame that fails anywhere leaves
no row (and registers no instrument) behind.

Book markers (opt-in, ``book_markers=True``): a book message that changes no level (an OKX
update with empty lists, a Deribit snapshot of an empty book) has no book_delta row of its
own, so a book builder fed with rows could not see it. With markers on, such a message gets
one row with ``side == 0`` (price and amount NaN) carrying its ids, flags and times. Marker
rows are not contract records: whoever writes records out drops them, and ``stats()`` does
not count them.
"""

from __future__ import annotations

import json
import logging
import operator
import re
from typing import Any, Callable, NamedTuple

import numpy as np
import orjson

from ..batch import Batch
from ..errors import ConfigurationError, LimitExceeded, ParseError
from ..instruments import InstrumentRegistry
from ..limits import DEFAULT_LIMITS, LIMIT_NAMES, MAX_DEPTH, MAX_TEXT_BYTES, InputLimits, nesting_depth_exceeds, text_within_limit
from ..log import MalformedSampler, logger
from ..frames import SKIP_REASONS, FrameStatus
from ..records import INSTRUMENT_COLUMNS, KIND_NAMES, KINDS, Kind, absent_value, non_negative_columns
from .fields import NAN, Level

FRAME_MODULUS = 2**32
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

# Columns a venue parser sets per row: the kind's own contract columns plus hidden texts.
_SETTABLE: dict[str, frozenset[str]] = {
    k.name: frozenset(c.name for c in k.own) | frozenset(k.hidden_text) for k in KINDS
}


class PendingRow(NamedTuple):
    kind: str
    raw_symbol: str
    ts_event: int
    values: dict[str, Any]


class KindRows:
    """Committed rows of one kind, column by column, until the next ``take``."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.value_columns = kind.own
        self.hidden = kind.hidden_text
        self._clear()

    def _clear(self) -> None:
        self.instrument: list[int] = []
        self.frame: list[int] = []
        self.ts_event: list[int] = []
        self.ts_recv: list[int] = []
        self.values: dict[str, list] = {c.name: [] for c in self.value_columns}
        self.hidden_values: dict[str, list[str]] = {name: [] for name in self.hidden}

    def __len__(self) -> int:
        return len(self.frame)

    def append(self, code: int, frame: int, ts_event: int, ts_recv: int, values: dict[str, Any]) -> None:
        self.instrument.append(code)
        self.frame.append(frame)
        self.ts_event.append(ts_event)
        self.ts_recv.append(ts_recv)
        for column in self.value_columns:
            value = values.get(column.name)
            self.values[column.name].append(absent_value(column) if value is None else value)
        for name in self.hidden:
            self.hidden_values[name].append(values.get(name, ""))

    def seal(self, exchange: str, instruments: InstrumentRegistry) -> Batch:
        codes = np.asarray(self.instrument, dtype=np.intp)
        tables = instruments.tables()
        columns: dict[str, np.ndarray] = {name: tables[name][codes] for name in INSTRUMENT_COLUMNS}
        columns["ts_event"] = np.asarray(self.ts_event, dtype=np.int64)
        columns["ts_recv"] = np.asarray(self.ts_recv, dtype=np.int64)
        for column in self.value_columns:
            columns[column.name] = _array(self.values[column.name], column.dtype)
        columns["frame"] = np.asarray(self.frame, dtype=np.uint32)
        for name in self.hidden:
            columns[name] = _array(self.hidden_values[name], np.dtype(object))
        batch = Batch.from_columns(self.kind, exchange, columns)
        self._clear()
        return batch


def _array(values: list, dtype: np.dtype) -> np.ndarray:
    if dtype == np.dtype(object):
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    return np.asarray(values, dtype=dtype)


class ReferenceParser:
    """Base of the pure-Python venue parsers (the ``Parser`` protocol of parser.py)."""

    venue: str = ""

    def __init__(
        self,
        instruments: InstrumentRegistry | None = None,
        *,
        venue: str | None = None,
        book_markers: bool = False,
        limits: InputLimits | None = None,
    ) -> None:
        if venue is not None:
            self.venue = venue
        if limits is None:
            limits = DEFAULT_LIMITS
        if not isinstance(limits, InputLimits):
            raise TypeError(f"limits must be an InputLimits, got {type(limits).__name__}")
        self.limits = limits
        if instruments is None:
            instruments = InstrumentRegistry(self.venue, max_instruments=limits.max_instruments)
        if instruments.venue != self.venue:
            raise ConfigurationError(
                f"instrument registry is for {instruments.venue!r}, parser is for {self.venue!r}",
                field="instruments",
            )
        self.instruments = instruments
        self.book_markers = book_markers
        self._rows = {k.name: KindRows(k) for k in KINDS}
        self._pending: list[PendingRow] = []
        self._sampler = MalformedSampler(f"{self.venue} (reference parser)")
        self._frames = 0
        self._parsed = 0
        self._malformed = 0
        self._skipped = dict.fromkeys(SKIP_REASONS, 0)
        self._records = dict.fromkeys(KIND_NAMES, 0)
        self._test_requests = 0
        self._limits = dict.fromkeys(LIMIT_NAMES, 0)
        self._frame_rows: dict[str, int] = {}  # rows of each kind staged by the current frame
        self._non_negative = non_negative_columns(self.venue)

    # ---- Parser protocol -------------------------------------------------------------------

    def feed(self, frame: Any, ts_recv: int) -> int:
        """Never raises for any ``frame`` (see ``parser.Parser.feed``)."""
        return self._transaction(frame, ts_recv, lambda data: self.parse_frame(data, ts_recv))

    def feed_snapshot(self, body: Any, ts_recv: int, raw_symbol: str = "") -> int:
        if not isinstance(raw_symbol, str):
            raise TypeError(f"raw_symbol must be a str, got {type(raw_symbol).__name__}")
        return self._transaction(body, ts_recv, lambda data: self.parse_snapshot(data, ts_recv, raw_symbol))

    def feed_open_interest(self, body: Any, ts_recv: int) -> int:
        return self._transaction(body, ts_recv, lambda data: self.parse_open_interest(data, ts_recv))

    def feed_many(self, frames: Any, ts_recv: Any) -> int:
        """Feed a sequence of frames; ``ts_recv`` is one int or a sequence of the same length."""
        count = len(frames)
        if isinstance(ts_recv, int):
            stamps = [ts_recv] * count
        else:
            stamps = [int(t) for t in np.asarray(ts_recv, dtype=np.int64)]
            if len(stamps) != count:
                raise ValueError("frames and ts_recv differ in length")
        for frame, ts in zip(frames, stamps):
            self.feed(frame, ts)
        return count

    def take(self) -> list[Batch]:
        return [rows.seal(self.venue, self.instruments) for rows in self._rows.values() if len(rows)]

    def stats(self) -> dict:
        return {
            "frames": self._frames,
            "parsed": self._parsed,
            "malformed": self._malformed,
            "skipped": dict(self._skipped),
            "records": dict(self._records),
            "test_requests": self._test_requests,
            "limits": dict(self._limits),
        }

    # ---- for venue parsers -----------------------------------------------------------------

    def parse_frame(self, frame: bytes, ts_recv: int) -> str | None:
        raise NotImplementedError

    def parse_snapshot(self, body: bytes, ts_recv: int, raw_symbol: str) -> str | None:
        raise ParseError(f"{self.venue} has no REST depth-snapshot body the parser reads", venue=self.venue)

    def parse_open_interest(self, body: bytes, ts_recv: int) -> str | None:
        raise ParseError(f"{self.venue} has no REST open-interest body the parser reads", venue=self.venue)

    def emit(self, kind: str, raw_symbol: str, ts_event: int, **values: Any) -> None:
        """Stage one record of the current frame (committed only if the frame succeeds)."""
        unknown = values.keys() - _SETTABLE[kind]
        if unknown:  # a bug in a venue parser, not bad input: let it surface
            raise AssertionError(f"{kind} has no settable column(s) {sorted(unknown)}")
        if not isinstance(raw_symbol, str) or not raw_symbol:
            raise ParseError(f"{kind}: expected a non-empty instrument name, got {raw_symbol!r:.40}")
        rows = self._frame_rows.get(kind, 0) + 1
        if rows > self.limits.max_rows_per_frame:
            raise LimitExceeded("max_rows_per_frame", self.limits.max_rows_per_frame, venue=self.venue)
        self._frame_rows[kind] = rows
        self.check_text(raw_symbol)
        for value in values.values():
            if type(value) is str:
                self.check_text(value)
        self._pending.append(PendingRow(kind, raw_symbol, ts_event, values))

    def check_text(self, text: str) -> None:
        """A text that becomes part of a record (or names an instrument) is within
        MAX_TEXT_BYTES of UTF-8."""
        if not text_within_limit(text):
            raise LimitExceeded("max_text_bytes", MAX_TEXT_BYTES, venue=self.venue)

    def emit_book(
        self,
        raw_symbol: str,
        ts_event: int,
        bids: list,
        asks: list,
        read_level: Callable[[Any], Level],
        *,
        first_update_id: int,
        update_id: int,
        prev_update_id: int,
        is_snapshot: int,
        checksum: int = 0,
        keep_texts: bool = False,
    ) -> None:
        """Stage one book message's book_delta rows: all bids as listed, then all asks."""
        message = dict(
            first_update_id=first_update_id,
            update_id=update_id,
            prev_update_id=prev_update_id,
            is_snapshot=is_snapshot,
            checksum=checksum,
        )
        if not bids and not asks:
            if self.book_markers:
                self.emit("book_delta", raw_symbol, ts_event, side=0, price=NAN, amount=NAN, **message)
            elif isinstance(raw_symbol, str):
                self.check_text(raw_symbol)  # named all the same (the compiled parser looks it up)
            return
        for side, levels in ((1, bids), (-1, asks)):
            for level in levels:
                lv = read_level(level)
                self.emit(
                    "book_delta",
                    raw_symbol,
                    ts_event,
                    side=side,
                    price=lv.price,
                    amount=lv.amount,
                    price_text=lv.price_text if keep_texts else "",
                    amount_text=lv.amount_text if keep_texts else "",
                    **message,
                )

    def count_test_request(self) -> None:
        self._test_requests += 1

    def log_error_event(self, code: Any, message: Any) -> None:
        """The venue answered with an error (bad subscription, rate limit...): say so, loudly."""
        logger.log(logging.WARNING, "%s: venue error event: code %s: %s", self.venue, code, message)

    # ---- the frame transaction -------------------------------------------------------------

    def _transaction(self, body: Any, ts_recv: int, parse: Callable[[bytes], str | None]) -> int:
        ts_recv = operator.index(ts_recv)  # an int of nanoseconds; anything else is a caller's bug
        if not I64_MIN <= ts_recv <= I64_MAX:
            raise OverflowError(f"ts_recv {ts_recv} is outside the int64 range")
        frame_number = self._frames % FRAME_MODULUS
        self._frames += 1
        self._pending.clear()
        self._frame_rows.clear()
        data = frame_bytes(body)
        if isinstance(data, str):  # not a frame at all: the reason why
            return self._reject(body, data)
        try:
            if len(data) > self.limits.max_frame_bytes:
                raise LimitExceeded("max_frame_bytes", self.limits.max_frame_bytes, venue=self.venue)
            if nesting_depth_exceeds(data, MAX_DEPTH):
                raise LimitExceeded("max_depth", MAX_DEPTH, venue=self.venue)
            skip_reason = parse(data)
        except LimitExceeded as exc:
            self._limits[exc.limit] += 1
            return self._reject(data, str(exc))
        except ParseError as exc:
            return self._reject(data, str(exc))
        except AssertionError:
            raise
        except Exception as exc:  # a message of an unexpected shape; never raise into the feed
            return self._reject(data, f"{type(exc).__name__}: {exc}")
        if skip_reason is not None:
            if self._pending:
                raise AssertionError(f"{self.venue}: a skipped frame staged records")
            self._skipped[skip_reason] += 1
            return FrameStatus.SKIPPED
        try:
            self._check_values()
            self._admit_instruments()
        except LimitExceeded as exc:
            self._limits[exc.limit] += 1
            return self._reject(data, str(exc))
        except ParseError as exc:
            return self._reject(data, str(exc))
        for row in self._pending:
            code = self.instruments.intern(row.raw_symbol)
            self._rows[row.kind].append(code, frame_number, row.ts_event, ts_recv, row.values)
            if row.kind != "book_delta" or row.values["side"] != 0:  # markers are not records
                self._records[row.kind] += 1
        self._pending.clear()
        self._parsed += 1
        return FrameStatus.PARSED

    def _check_values(self) -> None:
        """No negative amount (nor price, where the venue rules them out) in the frame's rows."""
        for row in self._pending:
            for name in self._non_negative.get(row.kind, ()):
                value = row.values.get(name)
                if value is not None and value < 0:
                    raise ParseError(f"{row.kind}: negative {name} {value!r}")

    def _admit_instruments(self) -> None:
        """Register the frame's new instruments, all or none: past the registry's limit the
        frame fails and the ones it registered are forgotten (as the compiled parser does)."""
        registry = self.instruments
        before = len(registry)
        try:
            for row in self._pending:
                registry.intern(row.raw_symbol)
        except LimitExceeded:
            registry.truncate(before)
            raise

    def _reject(self, body: Any, reason: str) -> int:
        self._pending.clear()
        self._malformed += 1
        self._sampler.report(reason, excerpt(body))
        return FrameStatus.MALFORMED


def frame_bytes(body: Any) -> bytes | str:
    """A frame as bytes, or (a str) the reason it is not one: the compiled parser's rule."""
    if type(body) is bytes:
        return body
    if isinstance(body, str):
        try:
            return body.encode()
        except UnicodeError:
            return "text frame is not valid Unicode (lone surrogate)"
    try:
        return memoryview(body).tobytes()
    except TypeError:
        return f"not a frame: expected bytes-like or str, got {type(body).__name__}"
    except Exception:
        return "not a frame: a buffer that cannot be read"


def excerpt(body: Any) -> bytes:
    """The start of anything given as a frame, as bytes for the log."""
    if isinstance(body, str):
        return body[:160].encode("utf-8", "backslashreplace")
    try:
        return memoryview(body).tobytes()[:160]
    except Exception:
        return repr(body)[:160].encode("utf-8", "backslashreplace")


# An integer token "-0": the one number token whose decoded value (int 0) loses what
# float(token_text) keeps (the sign). Strings may match too; that only costs a slower decode.
_NEGATIVE_ZERO_INTEGER = re.compile(rb"-0(?![0-9.eE])")


def decode_json(body: Any) -> Any:
    """Decode a frame or body (bytes-like or str); ``ParseError`` when it is not JSON.

    Every float is ``float(token_text)`` of its number token (orjson rounds correctly); an
    integer token ``-0`` decodes to ``-0.0`` (only a number field accepts it).
    """
    try:
        value = orjson.loads(body)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise ParseError(f"not valid JSON: {exc}") from None
    raw = body.encode() if isinstance(body, str) else body
    if _NEGATIVE_ZERO_INTEGER.search(raw) is None:
        return value
    return json.loads(bytes(raw), parse_int=_int_keeping_negative_zero)


def _int_keeping_negative_zero(token: str) -> int | float:
    return -0.0 if token == "-0" else int(token)
