# The parser base: buffers, the frame transaction, counters and malformed-frame reporting.
#
# A venue parser overrides parse_frame (and the REST entry points it supports). parse_*
# return RC_PARSED, RC_SKIP + reason, or -error; _finish commits the frame's rows or rolls
# them back, so a frame that fails anywhere leaves nothing behind.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_Check

from .records import KINDS as _KINDS, KIND_NAMES as _KIND_NAMES
from .parser import SKIP_REASONS as _SKIP_REASONS, FrameStatus as _FrameStatus
from .log import MalformedSampler as _MalformedSampler
from orjson import loads as _orjson_loads

_KIND_IDS = {k.name: i for i, k in enumerate(_KINDS)}

DEF RC_PARSED = 0
DEF RC_SKIP = 10
DEF SKIP_ACK = 0
DEF SKIP_EVENT = 1
DEF SKIP_ERROR_EVENT = 2
DEF SKIP_RPC_RESULT = 3
DEF SKIP_HEARTBEAT = 4
DEF SKIP_PONG = 5
DEF SKIP_UNKNOWN_CHANNEL = 6

DEF COL_INSTRUMENT = 0
DEF COL_FRAME = 1
DEF COL_TS_EVENT = 2
DEF COL_TS_RECV = 3

assert tuple(_SKIP_REASONS) == ("ack", "event", "error_event", "rpc_result", "heartbeat", "pong", "unknown_channel")


cdef inline void set_f8(RecordBuffer b, int col, Py_ssize_t row, double v) noexcept:
    (<double*>b.ptr[col])[row] = v

cdef inline void set_i8(RecordBuffer b, int col, Py_ssize_t row, int64_t v) noexcept:
    (<int64_t*>b.ptr[col])[row] = v

cdef inline void set_u8(RecordBuffer b, int col, Py_ssize_t row, uint64_t v) noexcept:
    (<uint64_t*>b.ptr[col])[row] = v

cdef inline void set_i1(RecordBuffer b, int col, Py_ssize_t row, int8_t v) noexcept:
    (<int8_t*>b.ptr[col])[row] = v

cdef inline void set_u1(RecordBuffer b, int col, Py_ssize_t row, uint8_t v) noexcept:
    (<uint8_t*>b.ptr[col])[row] = v

cdef inline void set_u2(RecordBuffer b, int col, Py_ssize_t row, uint16_t v) noexcept:
    (<uint16_t*>b.ptr[col])[row] = v


cdef inline Py_ssize_t append_row(ParserBase self, RecordBuffer b, uint32_t inst, int64_t ts_event) except -1:
    """Append a row with its common columns set; returns its index."""
    cdef Py_ssize_t r = b.n
    if r >= b.cap:
        b.grow(r + 1)
    b.n = r + 1
    (<uint32_t*>b.ptr[COL_INSTRUMENT])[r] = inst
    (<uint32_t*>b.ptr[COL_FRAME])[r] = self.frame
    (<int64_t*>b.ptr[COL_TS_EVENT])[r] = ts_event
    (<int64_t*>b.ptr[COL_TS_RECV])[r] = self.ts_recv
    return r


cdef inline void commit_rows(ParserBase self, RecordBuffer b, int kind_id) noexcept:
    """Make the frame's rows of one buffer part of the next batch (the buffers parsers
    write are the typed attributes: no list walk per frame)."""
    if b.n != b.committed:
        self.n_records[kind_id] += b.n - b.committed - (self.frame_markers if kind_id == K_BOOK_DELTA else 0)
        b.committed = b.n
        b.arena_committed = b.arena_n


cdef str value_text(Field* f):
    """A member's value as a log line shows it: a string decoded, any other value as sent."""
    if f == NULL:
        return ""
    raw = f.val[:f.vlen]
    if f.type == T_STRING:
        try:
            return _orjson_loads(b'"' + raw + b'"')
        except ValueError:
            pass
    return raw.decode("utf-8", "replace")


cdef class ParserBase:
    """Common machinery of the compiled venue parsers (see marketprism_fast.parsing.Parser)."""

    def __init__(self, str venue, instruments, Py_ssize_t capacity=65536, bint book_markers=False):
        cdef int i
        self.venue = venue
        self.book_markers = book_markers
        self.instruments = instruments
        self.symbols = InternTable(instruments)
        self.buffers = []
        for k in _KINDS:
            if k.name == "book_snapshot":
                self.buffers.append(None)  # written by the book builder, not by parsers
            else:
                self.buffers.append(RecordBuffer(k, venue, instruments, capacity))
        self.b_trade = self.buffers[K_TRADE]
        self.b_delta = self.buffers[K_BOOK_DELTA]
        self.b_quote = self.buffers[K_QUOTE]
        self.b_ticker = self.buffers[K_TICKER]
        self.b_kline = self.buffers[K_KLINE]
        self.b_funding = self.buffers[K_FUNDING_RATE]
        self.b_oi = self.buffers[K_OPEN_INTEREST]
        self.b_liq = self.buffers[K_LIQUIDATION]
        for i in range(8):
            self.n_skipped[i] = 0
        for i in range(16):
            self.n_records[i] = 0
        self.sampler = _MalformedSampler(venue)
        self.err_at = -1
        self.lv.items = NULL
        self.lv.n = 0
        self.lv.cap = 0

    def __dealloc__(self):
        free(self.lv.items)

    # ---- entry points -------------------------------------------------------------------

    def feed(self, frame, int64_t ts_recv):
        """One received frame (bytes, bytearray, memoryview or str) -> FrameStatus."""
        cdef Py_buffer view
        cdef const char* p
        cdef Py_ssize_t n
        cdef int rc
        if PyBytes_CheckExact(frame):
            return self.feed_ptr(PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame), ts_recv)
        if PyUnicode_Check(frame):
            p = PyUnicode_AsUTF8AndSize(frame, &n)
            return self.feed_ptr(p, n, ts_recv)
        PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
        try:
            rc = self.feed_ptr(<const char*>view.buf, view.len, ts_recv)
        finally:
            PyBuffer_Release(&view)
        return rc

    def feed_many(self, frames, ts_recv):
        """Feed a sequence of bytes frames; ``ts_recv`` is one int or a sequence of ints."""
        cdef Py_ssize_t i, count = len(frames)
        cdef int64_t ts = 0
        cdef bint same = isinstance(ts_recv, int)
        cdef int64_t[::1] tsv
        if same:
            ts = ts_recv
        else:
            tsv = np.ascontiguousarray(ts_recv, dtype=np.int64)
            if len(tsv) != count:
                raise ValueError("frames and ts_recv differ in length")
        for i in range(count):
            f = frames[i]
            if not same:
                ts = tsv[i]
            if PyBytes_CheckExact(f):
                self.feed_ptr(PyBytes_AS_STRING(f), PyBytes_GET_SIZE(f), ts)
            else:
                self.feed(f, ts)
        return count

    def feed_snapshot(self, body, int64_t ts_recv, str raw_symbol=""):
        cdef bytes data = _as_bytes(body)
        cdef int rc
        self._begin(ts_recv)
        rc = self.parse_snapshot(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), raw_symbol)
        return self._finish(rc, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))

    def feed_open_interest(self, body, int64_t ts_recv):
        cdef bytes data = _as_bytes(body)
        cdef int rc
        self._begin(ts_recv)
        rc = self.parse_open_interest(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        return self._finish(rc, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))

    def take(self):
        """Seal every non-empty buffer into a Batch, kinds in contract order."""
        out = []
        for b in self.buffers:
            if b is not None and (<RecordBuffer>b).committed:
                out.append((<RecordBuffer>b).seal())
        return out

    def pending_rows(self):
        """Committed, not yet taken rows per kind name."""
        return {k.name: (<RecordBuffer>b).committed for k, b in zip(_KINDS, self.buffers) if b is not None}

    def stats(self):
        return {
            "frames": self.n_frames,
            "parsed": self.n_parsed,
            "malformed": self.n_malformed,
            "skipped": {r: self.n_skipped[i] for i, r in enumerate(_SKIP_REASONS)},
            "records": {name: self.n_records[i] for i, name in enumerate(_KIND_NAMES)},
            "test_requests": self.n_test_requests,
        }

    def buffer(self, str kind_name):
        """The live buffer of a kind (for memory accounting and benchmarks)."""
        return self.buffers[_KIND_IDS[kind_name]]

    # ---- the frame transaction ------------------------------------------------------------

    cdef void _begin(self, int64_t ts_recv) noexcept:
        self.frame = <uint32_t>self.n_frames
        self.n_frames += 1
        self.ts_recv = ts_recv
        self.err_at = -1
        self.lv.n = 0
        self.frame_markers = 0

    cdef int feed_ptr(self, const char* p, Py_ssize_t n, int64_t ts_recv) except -2:
        self._begin(ts_recv)
        return self._finish(self.parse_frame(p, n), p, n)

    cdef int _finish(self, int rc, const char* p, Py_ssize_t n) except -2:
        if rc >= 0:
            commit_rows(self, self.b_trade, K_TRADE)
            commit_rows(self, self.b_delta, K_BOOK_DELTA)
            commit_rows(self, self.b_quote, K_QUOTE)
            commit_rows(self, self.b_ticker, K_TICKER)
            commit_rows(self, self.b_kline, K_KLINE)
            commit_rows(self, self.b_funding, K_FUNDING_RATE)
            commit_rows(self, self.b_oi, K_OPEN_INTEREST)
            commit_rows(self, self.b_liq, K_LIQUIDATION)
            if rc == RC_PARSED:
                self.n_parsed += 1
                return 0
            self.n_skipped[rc - RC_SKIP] += 1
            return 1
        self.rollback()
        self.n_malformed += 1
        self.sampler.report(ERROR_TEXT[-rc] if -rc < len(ERROR_TEXT) else "error", p[:min(n, 160)], self.err_at)
        return 2

    cdef void rollback(self) noexcept:
        """Drop the rows of the frame being parsed (a failed frame; a fast path that missed
        and is retried by the general path)."""
        for b in (self.b_trade, self.b_delta, self.b_quote, self.b_ticker, self.b_kline, self.b_funding,
                  self.b_oi, self.b_liq):
            (<RecordBuffer>b).n = (<RecordBuffer>b).committed
            (<RecordBuffer>b).arena_n = (<RecordBuffer>b).arena_committed
        self.lv.n = 0

    # ---- for venue parsers ------------------------------------------------------------------

    cdef int begin_text(self, const char* p, Py_ssize_t n) except -100:
        """The lexical check of a frame (see _lexical.pxi): 1 when it is plain text (printable
        ASCII without backslashes: its strings need no further check and end at the next
        quote), 0 when lex_check passed it whole, or an error code negated."""
        cdef int rc
        if mpf_plain_text(p, n):
            self.lexed = False
            return 1
        rc = lex_check(p, n)
        if rc:
            return -rc
        self.lexed = True
        return 0

    cdef void log_venue_error(self, Field* code, Field* message) noexcept:
        """The venue answered with an error (bad subscription, rate limit...): say so, with
        its code and message as the venue meant them (strings decoded)."""
        try:
            _log.warning("%s: venue error event: code %s: %s", self.venue,
                         value_text(code)[:40], value_text(message)[:200])
        except Exception:
            pass

    cdef int parse_frame(self, const char* p, Py_ssize_t n) except -100:
        raise NotImplementedError

    cdef int parse_snapshot(self, const char* p, Py_ssize_t n, str raw_symbol) except -100:
        return -E_VALUE

    cdef int parse_open_interest(self, const char* p, Py_ssize_t n) except -100:
        return -E_VALUE

    cdef int instrument(self, Field* f, uint32_t* code) except -1:
        """The instrument code of a string field holding the venue's symbol. 0 if invalid."""
        if f == NULL or f.type != T_STRING:
            return 0
        return self.symbols.lookup(f.val, f.vlen, f.escaped, code)

    cdef Py_ssize_t row(self, RecordBuffer b, uint32_t inst, int64_t ts_event) except -1:
        return append_row(self, b, inst, ts_event)

    cdef int book_marker(self, uint32_t inst, int64_t ts, uint64_t first, uint64_t last, uint64_t prev,
                         uint8_t snapshot, int64_t checksum) except -1:
        """A book message that changes no level still reaches the book builder (it carries
        ids and a checksum to verify): one side-0 row, price and amount NaN. Not a record:
        writers drop it and the counters leave it out."""
        cdef RecordBuffer b = self.b_delta
        cdef Py_ssize_t r
        if not self.book_markers:
            return 0
        r = append_row(self, b, inst, ts)
        set_i1(b, BOOK_DELTA_SIDE, r, 0)
        set_f8(b, BOOK_DELTA_PRICE, r, NAN)
        set_f8(b, BOOK_DELTA_AMOUNT, r, NAN)
        set_u8(b, BOOK_DELTA_FIRST_UPDATE_ID, r, first)
        set_u8(b, BOOK_DELTA_UPDATE_ID, r, last)
        set_u8(b, BOOK_DELTA_PREV_UPDATE_ID, r, prev)
        set_u1(b, BOOK_DELTA_IS_SNAPSHOT, r, snapshot)
        set_i8(b, BOOK_DELTA_CHECKSUM, r, checksum)
        empty_text(b, BOOK_DELTA_PRICE_TEXT_OFF, r)
        empty_text(b, BOOK_DELTA_AMOUNT_TEXT_OFF, r)
        self.frame_markers += 1
        return 1


cdef bytes _as_bytes(body):
    if isinstance(body, str):
        return body.encode()
    if PyBytes_CheckExact(body):
        return body
    return bytes(body)
