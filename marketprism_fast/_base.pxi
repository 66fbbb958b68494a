# The parser base: buffers, the frame transaction, counters and malformed-frame reporting.
#
# A venue parser overrides parse_frame (and the REST entry points it supports). parse_*
# return RC_PARSED, RC_SKIP + reason, or -error; _finish commits the frame's rows or rolls
# them back, so a frame that fails anywhere leaves nothing behind.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact, PyBytes_FromStringAndSize
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_Check

from .records import KINDS as _KINDS, KIND_NAMES as _KIND_NAMES
from .frames import SKIP_REASONS as _SKIP_REASONS, FrameStatus as _FrameStatus
from .log import MalformedSampler as _MalformedSampler
from .limits import DEFAULT_LIMITS as _DEFAULT_LIMITS, InputLimits as _InputLimits, LIMIT_NAMES as _LIMIT_NAMES, limit_reason as _limit_reason
from .records import NEGATIVE_PRICE_VENUES as _NEGATIVE_PRICE_VENUES
from orjson import loads as _orjson_loads
from operator import index as _index

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

# What a frame transaction parses (ParserBase._parse)
DEF WHAT_FRAME = 0
DEF WHAT_SNAPSHOT = 1
DEF WHAT_OPEN_INTEREST = 2

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
    """Append a row with its common columns set; returns its index.

    A frame that writes more than max_rows rows of one kind fails (see _finish); its rows
    past the limit all go to its first row of that kind, so the buffer does not grow for it."""
    cdef Py_ssize_t r = b.n
    self.touched |= 1u << b.kind_id
    if r - b.committed >= self.max_rows:
        self.rows_exceeded = True
        set_limit(LIMIT_ROWS)
        r = b.committed
        (<uint32_t*>b.ptr[COL_INSTRUMENT])[r] = inst
        return r
    if r >= b.cap:
        b.grow(r + 1)
    b.n = r + 1
    (<uint32_t*>b.ptr[COL_INSTRUMENT])[r] = inst
    (<uint32_t*>b.ptr[COL_FRAME])[r] = self.frame
    (<int64_t*>b.ptr[COL_TS_EVENT])[r] = ts_event
    (<int64_t*>b.ptr[COL_TS_RECV])[r] = self.ts_recv
    return r


cdef inline bint reserve_rows(ParserBase self, RecordBuffer b, Py_ssize_t rows) noexcept:
    """Before a bulk write of ``rows`` rows (book levels): False, the frame failing, when they
    take the frame past max_rows rows of the kind (append_row's rule)."""
    self.touched |= 1u << b.kind_id
    if b.n + rows - b.committed > self.max_rows:
        self.rows_exceeded = True
        set_limit(LIMIT_ROWS)
        return False
    return True


cdef inline bint non_negative(RecordBuffer b, int kind_id, bint negative_prices) noexcept:
    """The buffer's uncommitted rows hold no negative value in the kind's NONNEG columns."""
    cdef int j
    cdef Py_ssize_t r
    cdef double* col
    if b.n == b.committed:
        return True
    for j in range(NONNEG_FROM[kind_id], NONNEG_FROM[kind_id + 1]):
        if NONNEG_IS_PRICE[j] and negative_prices:
            continue
        col = <double*>b.ptr[NONNEG_COL[j]]
        for r in range(b.committed, b.n):
            if col[r] < 0.0:
                return False
    return True


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

    def __init__(self, str venue, instruments, Py_ssize_t capacity=65536, bint book_markers=False, limits=None):
        cdef int i
        if limits is None:
            limits = _DEFAULT_LIMITS
        if not isinstance(limits, _InputLimits):
            raise TypeError(f"limits must be an InputLimits, got {type(limits).__name__}")
        self.limits = limits
        self.max_frame_bytes = limits.max_frame_bytes
        self.max_rows = limits.max_rows_per_frame
        self.negative_prices = venue in _NEGATIVE_PRICE_VENUES
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
        for i in range(8):
            self.n_limits[i] = 0
        self.sampler = _MalformedSampler(venue)
        self.err_at = -1
        self.lv.items = NULL
        self.lv.n = 0
        self.lv.cap = 0
        self.lv.max_items = (self.max_rows + 1) * LEVEL_WIDTH

    def __dealloc__(self):
        free(self.lv.items)

    # ---- entry points -------------------------------------------------------------------

    def feed(self, frame, ts_recv):
        """One received frame -> FrameStatus. Never raises for any ``frame``: bytes,
        bytearray, memoryview (contiguous or not) and str are frames (a str that UTF-8
        cannot encode is malformed); anything else is counted as a malformed frame.
        ``ts_recv`` must be an int in the int64 range (TypeError/OverflowError otherwise)."""
        cdef Py_buffer view
        cdef const char* p
        cdef Py_ssize_t n
        cdef int rc
        cdef int64_t ts = ts_recv if type(ts_recv) is int else _as_ns(ts_recv)
        if PyBytes_CheckExact(frame):
            return self.feed_ptr(PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame), ts)
        if PyUnicode_Check(frame):
            try:
                p = PyUnicode_AsUTF8AndSize(frame, &n)
            except UnicodeError:
                return self.refuse_at(frame, ts, "text frame is not valid Unicode (lone surrogate)")
            return self.feed_ptr(p, n, ts)
        try:
            PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
        except BufferError:  # a strided view: its bytes, copied once
            try:
                data = memoryview(frame).tobytes()
            except Exception:
                return self.refuse_at(frame, ts, "not a frame: a buffer that cannot be read")
            return self.feed_ptr(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), ts)
        except TypeError:
            return self.refuse_at(frame, ts, f"not a frame: expected bytes-like or str, got {type(frame).__name__}")
        try:
            rc = self.feed_ptr(<const char*>view.buf, view.len, ts)
        finally:
            PyBuffer_Release(&view)
        return rc

    def feed_many(self, frames, ts_recv):
        """Feed a sequence of frames (each as ``feed`` takes it); ``ts_recv`` is one int or a
        sequence of ints of the same length (ValueError otherwise)."""
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

    def feed_snapshot(self, body, ts_recv, str raw_symbol=""):
        """A REST depth-snapshot body (anything ``feed`` takes; never raises for ``body``)."""
        if raw_symbol is None:
            raise TypeError("raw_symbol must be a str, got NoneType")
        return self._feed_body(WHAT_SNAPSHOT, body, _as_ns(ts_recv), raw_symbol)

    def feed_open_interest(self, body, ts_recv):
        """A REST open-interest body (anything ``feed`` takes; never raises for ``body``)."""
        return self._feed_body(WHAT_OPEN_INTEREST, body, _as_ns(ts_recv), "")

    def _feed_body(self, int what, body, int64_t ts_recv, str raw_symbol):
        cdef int rc
        data = _frame_bytes(body)
        if not isinstance(data, bytes):
            return self.refuse_at(body, ts_recv, data)
        self._begin(ts_recv)
        rc = self._parse(what, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), raw_symbol)
        return self._finish(rc, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))

    cdef int refuse_at(self, object frame, int64_t ts_recv, str reason) except -2:
        self._begin(ts_recv)
        return self.refuse(frame, reason)

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
            "limits": {name: self.n_limits[i + 1] for i, name in enumerate(_LIMIT_NAMES)},
        }

    def buffer(self, str kind_name):
        """The live buffer of a kind (for memory accounting and benchmarks)."""
        return self.buffers[_KIND_IDS[kind_name]]

    # ---- the frame transaction ------------------------------------------------------------

    cdef void _begin(self, int64_t ts_recv) noexcept:
        global g_limit
        self.frame = <uint32_t>self.n_frames
        self.n_frames += 1
        self.ts_recv = ts_recv
        self.err_at = -1
        self.lv.n = 0
        self.frame_markers = 0
        self.rows_exceeded = False
        self.touched = 0
        self.symbols.first_new = -1
        self.symbols.refused = False
        g_limit = LIMIT_NONE
        scratch_reset()  # the previous frame's decoded names and large member tables

    cdef int feed_ptr(self, const char* p, Py_ssize_t n, int64_t ts_recv) except -2:
        cdef int rc
        self._begin(ts_recv)
        if n > self.max_frame_bytes:
            return self._finish(self._parse(WHAT_FRAME, p, n, None), p, n)
        rc = self.parse_frame(p, n)  # the common case without a detour; _parse redoes a failed one
        if rc < 0:
            rc = self._parse(WHAT_FRAME, p, n, None, rc)
        return self._finish(rc, p, n)

    cdef int _dispatch(self, int what, const char* p, Py_ssize_t n, str raw_symbol) except -100:
        if what == WHAT_FRAME:
            return self.parse_frame(p, n)
        if what == WHAT_SNAPSHOT:
            return self.parse_snapshot(p, n, raw_symbol)
        return self.parse_open_interest(p, n)

    cdef int _parse(self, int what, const char* p, Py_ssize_t n, str raw_symbol, int first_rc=1) except -100:
        """parse_* within the frame-wide limits: size, and nesting depth (see DEPTH_MARGIN:
        a walker that went deep has the whole frame measured, and parsed again when it is
        within MAX_DEPTH after all). ``first_rc``: the result of a parse already made (1: none)."""
        global g_depth_limit
        cdef int rc = first_rc
        if n > self.max_frame_bytes:
            set_limit(LIMIT_FRAME_BYTES)
            return -E_LIMIT
        if rc == 1:
            rc = self._dispatch(what, p, n, raw_symbol)
        if rc < 0 and frame_depth(p, n) > MAX_DEPTH:
            g_limit_set(LIMIT_DEPTH)  # whatever else failed: the limit is the reason (checked first by the reference)
            return -E_LIMIT
        if rc == -E_NESTING:
            self.rollback()
            self.frame_markers = 0
            self.rows_exceeded = False
            g_depth_limit = MAX_DEPTH
            try:
                rc = self._dispatch(what, p, n, raw_symbol)
            finally:
                g_depth_limit = MAX_DEPTH - DEPTH_MARGIN
        return rc

    cdef bint _values_ok(self) noexcept:
        """The frame's new rows hold no negative amount (nor price, where the venue rules
        them out): records.NON_NEGATIVE_*. Only the kinds the frame wrote are looked at."""
        cdef uint32_t t = self.touched
        cdef bint neg = self.negative_prices
        return ((not t & (1u << K_TRADE) or non_negative(self.b_trade, K_TRADE, neg))
                and (not t & (1u << K_BOOK_DELTA) or non_negative(self.b_delta, K_BOOK_DELTA, neg))
                and (not t & (1u << K_QUOTE) or non_negative(self.b_quote, K_QUOTE, neg))
                and (not t & (1u << K_TICKER) or non_negative(self.b_ticker, K_TICKER, neg))
                and (not t & (1u << K_KLINE) or non_negative(self.b_kline, K_KLINE, neg))
                and (not t & (1u << K_FUNDING_RATE) or non_negative(self.b_funding, K_FUNDING_RATE, neg))
                and (not t & (1u << K_OPEN_INTEREST) or non_negative(self.b_oi, K_OPEN_INTEREST, neg))
                and (not t & (1u << K_LIQUIDATION) or non_negative(self.b_liq, K_LIQUIDATION, neg)))

    cdef int _finish(self, int rc, const char* p, Py_ssize_t n) except -2:
        if rc >= 0 and self.touched:
            if self.rows_exceeded:
                g_limit_set(LIMIT_ROWS)
                rc = -E_LIMIT
            elif not self._values_ok():
                rc = -E_NEGATIVE
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
        if self.symbols.first_new >= 0:
            self.symbols.forget_from(self.symbols.first_new)
        if g_limit != LIMIT_NONE:
            self.n_limits[g_limit] += 1
            reason = _limit_reason(_LIMIT_NAMES[g_limit - 1], self.limits.value_of(_LIMIT_NAMES[g_limit - 1]))
        else:
            reason = ERROR_TEXT[-rc] if -rc < len(ERROR_TEXT) else "error"
        self.n_malformed += 1
        self.sampler.report(reason, p[:min(n, 160)], self.err_at)
        return 2

    cdef int refuse(self, object frame, str reason) except -2:
        """Count the frame begun as malformed without parsing it (it is not one)."""
        self.n_malformed += 1
        self.sampler.report(reason, _excerpt(frame), -1)
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


cdef inline void g_limit_set(int which) noexcept:
    """The frame fails for this limit, whatever was noted before."""
    global g_limit
    g_limit = which


cdef int64_t _as_ns(object ts_recv) except? -1:
    """A receive time: an int (``operator.index``) in the int64 range, as the reference takes it."""
    return _index(ts_recv)


cdef object _frame_bytes(body):
    """A body as bytes, or the reason it is not a frame (str)."""
    if PyBytes_CheckExact(body):
        return body
    if isinstance(body, str):
        try:
            return (<str>body).encode()
        except UnicodeError:
            return "text frame is not valid Unicode (lone surrogate)"
    try:
        return memoryview(body).tobytes()
    except TypeError:
        return f"not a frame: expected bytes-like or str, got {type(body).__name__}"
    except Exception:
        return "not a frame: a buffer that cannot be read"


cdef bytes _excerpt(frame):
    """The start of anything given as a frame, as bytes for the log."""
    if isinstance(frame, str):
        return (<str>frame)[:160].encode("utf-8", "backslashreplace")
    try:
        return memoryview(frame).tobytes()[:160]
    except Exception:
        return repr(frame)[:160].encode("utf-8", "backslashreplace")
