# The book builder's per-message work, compiled: a book_delta batch is cut into messages
# (runs of rows sharing frame and instrument), each message goes through its venue's sync
# rule (_book_sync.pxi), is applied, its OKX checksum verified, and the book's top levels
# (and best bid/ask) are written straight into growable output columns. No Python object is
# made per message. Whatever is rare (a symbol seen for the first time, an invalid level, a
# Binance event to buffer, a REST snapshot to seed, a gap, a checksum mismatch) stops the run
# and is handed to ``books.builder`` with the message's rows; the builder carries it out and
# resumes the run after that message.

cdef enum:
    STOP_NONE = 0
    STOP_NEW_SYMBOL = 1  # the message's instrument has no SymbolBook bound yet
    STOP_SLOW = 2  # the message needs the builder (invalid level, buffer, seed, gap)
    STOP_CHECKSUM = 3  # applied, and the book's checksum differs from the venue's

cdef enum:
    CARRIED = -1  # the message was carried out in full
    CHECKSUM_FAILED = 7  # applied, and the book's checksum differs from the venue's


@cython.final
cdef class SymbolBook:
    """Everything kept per symbol: its book, sync phase, last id, waiting events, emit state."""

    cdef readonly LevelBook book
    cdef readonly str raw_symbol
    cdef readonly Py_ssize_t instrument  # index into the builder's instrument table
    cdef public int phase
    cdef public uint64_t last_id  # lastUpdateId after a seed; the last applied message's id after that
    cdef public list pending  # events waiting for a REST snapshot (Binance)
    cdef public int64_t next_emit_ns
    cdef double quote[4]  # the last emitted quote
    cdef bint has_quote

    def __cinit__(self, LevelBook book, str raw_symbol, Py_ssize_t instrument):
        self.book = book
        self.raw_symbol = raw_symbol
        self.instrument = instrument
        self.phase = PHASE_WAITING
        self.pending = []

    def lose(self) -> None:
        """No usable book until the next snapshot."""
        self.book.clear()
        self.phase = PHASE_WAITING
        self.has_quote = False


cdef class _Rows:
    """Growable per-row scalars of emitted rows (instrument index, times, update id, frame),
    plus the four best values for quotes."""

    cdef readonly Py_ssize_t n
    cdef Py_ssize_t cap
    cdef object arrays  # list of numpy arrays
    cdef int64_t* instrument
    cdef int64_t* ts_event
    cdef int64_t* ts_recv
    cdef uint64_t* update_id
    cdef uint32_t* frame
    cdef double* best  # (cap, 4) or NULL

    def __cinit__(self, bint best, Py_ssize_t capacity=1024):
        self.n = 0
        self._allocate(capacity, best)

    cdef int _allocate(self, Py_ssize_t cap, bint best) except -1:
        old = self.arrays
        arrays = [np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64),
                  np.empty(cap, dtype=np.uint64), np.empty(cap, dtype=np.uint32)]
        if best:
            arrays.append(np.empty((cap, 4), dtype=np.float64))
        if old is not None and self.n:
            for a, b in zip(arrays, old):
                a[: self.n] = b[: self.n]
        self.arrays = arrays
        self.cap = cap
        self.instrument = <int64_t*>cnp_data(arrays[0])
        self.ts_event = <int64_t*>cnp_data(arrays[1])
        self.ts_recv = <int64_t*>cnp_data(arrays[2])
        self.update_id = <uint64_t*>cnp_data(arrays[3])
        self.frame = <uint32_t*>cnp_data(arrays[4])
        self.best = <double*>cnp_data(arrays[5]) if best else NULL
        return 0

    cdef inline Py_ssize_t add(self, Py_ssize_t instrument, int64_t ts_event, int64_t ts_recv,
                               uint64_t update_id, uint32_t frame) except -1:
        cdef Py_ssize_t row = self.n
        if row == self.cap:
            self._allocate(2 * self.cap, self.best != NULL)
        self.instrument[row] = instrument
        self.ts_event[row] = ts_event
        self.ts_recv[row] = ts_recv
        self.update_id[row] = update_id
        self.frame[row] = frame
        self.n += 1
        return row

    def take(self) -> list:
        """The rows so far as fresh arrays (instrument, ts_event, ts_recv, update_id, frame[, best]);
        starts afresh."""
        out = [a[: self.n].copy() for a in self.arrays]
        self.n = 0
        return out


cdef inline void* cnp_data(object a):
    return PyArray_DATA(a)


@cython.final
cdef class BookCore:
    """The compiled part of ``books.BookBuilder``: see the module comment above."""

    cdef readonly int rule
    cdef readonly bint checksums
    cdef readonly bint rest_snapshots
    cdef readonly Py_ssize_t depth
    cdef readonly bint every_update
    cdef readonly int64_t interval_ns  # 0: no interval
    cdef readonly bint quotes
    cdef public object scheduler
    cdef list by_code  # instrument code of the bound batches -> SymbolBook (or None)
    cdef public uint64_t applied, dropped, snapshots_ignored, crossed, emitted
    cdef TopBuffer levels
    cdef _Rows snapshot_rows
    cdef _Rows quote_rows
    # the bound batch
    cdef readonly DeltaRows rows
    cdef object _columns  # keeps the arrays below alive
    cdef const uint32_t* codes
    cdef const uint32_t* frame
    cdef const uint64_t* first_id
    cdef const uint64_t* last_id
    cdef const uint64_t* prev_id
    cdef const uint8_t* is_snapshot
    cdef const int64_t* checksum
    cdef const int64_t* ts_event
    cdef const int64_t* ts_recv
    cdef readonly Py_ssize_t n
    # where the last run stopped
    cdef readonly int stop_reason
    cdef readonly Py_ssize_t stop_row
    cdef readonly Py_ssize_t stop_end
    cdef readonly int64_t stop_code

    def __cinit__(self, str venue, Py_ssize_t depth, bint every_update, int64_t interval_ns, bint quotes):
        self.rule = rule_code(venue)
        self.checksums = rule_checksums(self.rule)
        self.rest_snapshots = rule_rest_snapshots(self.rule)
        self.depth = depth
        self.every_update = every_update
        self.interval_ns = interval_ns
        self.quotes = quotes
        self.by_code = []
        self.levels = TopBuffer(depth)
        self.snapshot_rows = _Rows(False)
        self.quote_rows = _Rows(True)

    # ---------------------------------------------------------------- symbols

    def bind_code(self, Py_ssize_t code, SymbolBook entry) -> None:
        """Messages whose instrument code is ``code`` belong to ``entry``."""
        while len(self.by_code) <= code:
            self.by_code.append(None)
        self.by_code[code] = entry

    def forget_codes(self) -> None:
        """Codes of the next batches mean something else (another code space)."""
        self.by_code = []

    # ---------------------------------------------------------------- the bound batch

    def bind(self, DeltaRows rows, codes, frame, first_id, last_id, prev_id, is_snapshot, checksum,
             ts_event, ts_recv) -> None:
        """The batch to run: its level rows and its per-row columns (any integer dtypes)."""
        cols = (
            np.ascontiguousarray(codes, dtype=np.uint32), np.ascontiguousarray(frame, dtype=np.uint32),
            np.ascontiguousarray(first_id, dtype=np.uint64), np.ascontiguousarray(last_id, dtype=np.uint64),
            np.ascontiguousarray(prev_id, dtype=np.uint64), np.ascontiguousarray(is_snapshot, dtype=np.uint8),
            np.ascontiguousarray(checksum, dtype=np.int64), np.ascontiguousarray(ts_event, dtype=np.int64),
            np.ascontiguousarray(ts_recv, dtype=np.int64),
        )
        for c in cols:
            if len(c) != rows.n:
                raise ValueError(f"every column must have {rows.n} rows, got {len(c)}")
        self.rows = rows
        self._columns = cols
        self.n = rows.n
        self.codes = <const uint32_t*>cnp_data(cols[0])
        self.frame = <const uint32_t*>cnp_data(cols[1])
        self.first_id = <const uint64_t*>cnp_data(cols[2])
        self.last_id = <const uint64_t*>cnp_data(cols[3])
        self.prev_id = <const uint64_t*>cnp_data(cols[4])
        self.is_snapshot = <const uint8_t*>cnp_data(cols[5])
        self.checksum = <const int64_t*>cnp_data(cols[6])
        self.ts_event = <const int64_t*>cnp_data(cols[7])
        self.ts_recv = <const int64_t*>cnp_data(cols[8])

    def release(self) -> None:
        """Drop the bound batch (so that it is not kept alive)."""
        self.rows = None
        self._columns = None
        self.n = 0

    def message(self, Py_ssize_t row) -> tuple:
        """(first_id, last_id, prev_id, is_snapshot, checksum, ts_event, ts_recv, frame) of the
        message starting at ``row`` of the bound batch."""
        if not 0 <= row < self.n:
            raise IndexError(row)
        return (self.first_id[row], self.last_id[row], self.prev_id[row], self.is_snapshot[row] != 0,
                self.checksum[row], self.ts_event[row], self.ts_recv[row], self.frame[row])

    cdef inline Py_ssize_t _message_end(self, Py_ssize_t row) noexcept nogil:
        """The first row after ``row``'s message: rows of one message share frame and instrument."""
        return mpf_message_end(self.frame, self.codes, row, self.n, ROWS_SCAN_IMPL)

    cpdef Py_ssize_t run(self, Py_ssize_t row) except -2:
        """Carry out the messages from ``row`` on until one needs the builder; returns its first
        row (``stop_reason``, ``stop_end``, ``stop_code`` say why and where it ends) or -1 at the
        end of the batch."""
        cdef Py_ssize_t end
        cdef uint32_t code
        cdef object slot
        cdef int done
        cdef Py_ssize_t nbound = len(self.by_code)
        while row < self.n:
            end = self._message_end(row)
            code = self.codes[row]
            slot = self.by_code[code] if code < <size_t>nbound else None
            if slot is None:
                return self._stop(STOP_NEW_SYMBOL, row, end)
            if self.rows.first_invalid(row, end) >= 0:
                return self._stop(STOP_SLOW, row, end)
            if end < self.n:
                self._prefetch(end)
            done = self._carry(<SymbolBook>slot, self.rows, row, end, self.is_snapshot[row] != 0,
                               self.first_id[row], self.last_id[row], self.prev_id[row], self.checksum[row],
                               self.ts_event[row], self.ts_recv[row], self.frame[row])
            if done == CARRIED:
                row = end
            else:
                return self._stop(STOP_CHECKSUM if done == CHECKSUM_FAILED else STOP_SLOW, row, end)
        self.stop_reason = STOP_NONE
        return -1

    cdef int _carry(self, SymbolBook entry, DeltaRows rows, Py_ssize_t start, Py_ssize_t end, bint is_snapshot,
                    uint64_t first, uint64_t last, uint64_t prev, int64_t checksum, int64_t ts_event,
                    int64_t ts_recv, uint32_t frame) except -2:
        """One valid message for ``entry`` (rows in range, ``first_invalid`` < 0: checked by the
        caller, so the book applies them unchecked): decide by the venue's rule, and carry out what
        needs no Python (apply, reset, drop, ignore; checksum, emission). Returns CARRIED,
        CHECKSUM_FAILED (applied, then found different), or the action left to the builder
        (ACT_SEED, ACT_BUFFER, ACT_GAP)."""
        cdef int action = rule_decide(self.rule, entry.phase, entry.last_id, is_snapshot, first, last, prev)
        if action == ACT_APPLY or action == ACT_RESET:
            if entry.book.keep_texts and not rows.texts:
                raise ValueError("this book keeps level texts: the rows must carry price_texts/amount_texts")
            if action == ACT_RESET:
                entry.book.clear()
            entry.book.apply_valid(rows, start, end)
            if self.checksums:
                if checksum != 0 and entry.book.checksum_kept() != checksum:
                    return CHECKSUM_FAILED
            entry.phase = PHASE_SYNCED
            entry.last_id = last
            self.applied += 1
            if action == ACT_RESET and self.scheduler is not None:
                self.scheduler.cancel(entry.raw_symbol)
            self.after_apply(entry, ts_event, ts_recv, last, frame)
            return CARRIED
        if action == ACT_DROP:
            self.dropped += 1
            return CARRIED
        if action == ACT_IGNORE:
            self.snapshots_ignored += 1
            return CARRIED
        return action

    def carry(self, SymbolBook entry, DeltaRows rows, Py_ssize_t start, Py_ssize_t end, bint is_snapshot,
              uint64_t first, uint64_t last, uint64_t prev, int64_t checksum, int64_t ts_event, int64_t ts_recv,
              uint32_t frame) -> int:
        """``_carry`` for the builder's own messages (a new symbol's first, replayed events)."""
        rows._check_range(start, end)
        if rows.first_invalid(start, end) >= 0:
            raise ValueError(f"rows [{start}, {end}) hold an invalid level change: nothing applied")
        return self._carry(entry, rows, start, end, is_snapshot, first, last, prev, checksum, ts_event, ts_recv,
                           frame)

    cdef inline void _prefetch(self, Py_ssize_t row) noexcept nogil:
        """The next message's per-row fields, asked for while this one is applied: a message
        of many levels puts them lines apart, beyond what the hardware prefetcher follows."""
        mpf_prefetch(&self.first_id[row])
        mpf_prefetch(&self.last_id[row])
        mpf_prefetch(&self.prev_id[row])
        mpf_prefetch(&self.is_snapshot[row])
        mpf_prefetch(&self.checksum[row])
        mpf_prefetch(&self.ts_event[row])
        mpf_prefetch(&self.ts_recv[row])

    cdef inline Py_ssize_t _stop(self, int reason, Py_ssize_t row, Py_ssize_t end) noexcept:
        self.stop_reason = reason
        self.stop_row = row
        self.stop_end = end
        self.stop_code = self.codes[row]
        return row

    # ---------------------------------------------------------------- emission

    cpdef int after_apply(self, SymbolBook entry, int64_t ts_event, int64_t ts_recv, uint64_t update_id,
                          uint32_t frame) except -1:
        """A message was applied to ``entry``'s book: count a crossed book, emit its top levels
        (every update, or once per interval of receive time) and its quote when it changed."""
        cdef LevelBook book = entry.book
        cdef double best[4]
        cdef Py_ssize_t row
        if book.is_crossed():
            self.crossed += 1
        if self.every_update or (self.interval_ns > 0 and ts_recv >= entry.next_emit_ns):
            self.levels.append(book)
            self.snapshot_rows.add(entry.instrument, ts_event, ts_recv, update_id, frame)
            self.emitted += 1
            if self.interval_ns > 0:
                entry.next_emit_ns = ts_recv + self.interval_ns
        if self.quotes:
            book._write_best(best)
            if not (entry.has_quote and same_quote(entry.quote, best)):
                memcpy(entry.quote, best, 4 * sizeof(double))
                entry.has_quote = True
                row = self.quote_rows.add(entry.instrument, ts_event, ts_recv, update_id, frame)
                memcpy(&self.quote_rows.best[4 * row], best, 4 * sizeof(double))
        return 0

    @property
    def pending_snapshots(self) -> int:
        return self.snapshot_rows.n

    @property
    def pending_quotes(self) -> int:
        return self.quote_rows.n

    def take_snapshots(self) -> tuple:
        """(instrument, ts_event, ts_recv, update_id, frame, (bid_price, bid_amount, ask_price,
        ask_amount)) of the book_snapshot rows emitted since the last take."""
        return tuple(self.snapshot_rows.take()) + (self.levels.take(),)

    def take_quotes(self) -> list:
        """(instrument, ts_event, ts_recv, update_id, frame, best (n, 4)) of the quote rows."""
        return self.quote_rows.take()


cdef inline bint same_quote(const double* a, const double* b) noexcept nogil:
    cdef int i
    for i in range(4):
        if not (a[i] == b[i] or (a[i] != a[i] and b[i] != b[i])):
            return False
    return True


CARRY_DONE = CARRIED
CARRY_CHECKSUM_FAILED = CHECKSUM_FAILED
RUN_NEW_SYMBOL = STOP_NEW_SYMBOL
RUN_SLOW = STOP_SLOW
RUN_CHECKSUM = STOP_CHECKSUM
