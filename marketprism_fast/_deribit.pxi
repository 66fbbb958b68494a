# Deribit JSON-RPC subscriptions (compiled). reference/deribit.py is the oracle: same records,
# same verdicts for every frame. StrictParser (lexical strictness, arrays of objects, level
# rows) comes from _okx.pxi, included before this file.
#
# Notifications are {"jsonrpc":"2.0","method":"subscription","params":{"channel":..,"data":..}};
# every value is a JSON number. Everything else is an RPC result or error, or a heartbeat
# (a test_request one is counted: the transport must answer it).

DEF SUBSCRIPTION_HEAD = b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"'
DEF SUBSCRIPTION_HEAD_LEN = 62

DEF DERIBIT_TRADES = 1
DEF DERIBIT_BOOK = 2
DEF DERIBIT_QUOTE = 3
DEF DERIBIT_TICKER = 4
DEF DERIBIT_PERPETUAL = 5
DEF DERIBIT_CHART = 6


cdef int deribit_channel(const char* s, Py_ssize_t n) noexcept nogil:
    """The handler of a channel: by its text up to the first '.', else chart.trades.*."""
    cdef Py_ssize_t k = 0
    while k < n and s[k] != 46:
        k += 1
    if text_eq(s, k, False, "trades", 6):
        return DERIBIT_TRADES
    if text_eq(s, k, False, "book", 4):
        return DERIBIT_BOOK
    if text_eq(s, k, False, "quote", 5):
        return DERIBIT_QUOTE
    if text_eq(s, k, False, "ticker", 6):
        return DERIBIT_TICKER
    if text_eq(s, k, False, "perpetual", 9):
        return DERIBIT_PERPETUAL
    if n >= 13 and memcmp(s, b"chart.trades.", 13) == 0:
        return DERIBIT_CHART
    return 0


cdef Py_ssize_t last_dot(const char* s, Py_ssize_t n) noexcept nogil:
    """Index of the last '.' in s[0:n], or -1."""
    cdef Py_ssize_t i = n - 1
    while i >= 0 and s[i] != 46:
        i -= 1
    return i


# ---- ticker: its values, and the one-pass reader's key table -------------------------------------

# t.d: last_price best_bid_price best_bid_amount best_ask_price best_ask_amount mark_price
#      index_price open_interest current_funding funding_8h (NaN when absent or null)
DEF TICKER_NUMBERS = 10
DEF TICKER_OPEN_INTEREST_SLOT = 7
DEF TICKER_FUNDING_SLOT = 8
DEF SLOT_INSTRUMENT = -2
DEF SLOT_TIMESTAMP = -3
DEF SLOT_STATS = -4
DEF SLOT_OTHER = -1


cdef struct TickerValues:
    double d[TICKER_NUMBERS]
    double stats[5]           # high low volume volume_usd price_change
    bint has_open_interest    # the key is there (even null): an open_interest record too
    bint has_funding          # likewise current_funding: a funding_rate record


cdef inline bint name_is(const char* key, Py_ssize_t klen, const char* name, Py_ssize_t n) noexcept nogil:
    return klen == n and memcmp(key, name, n) == 0


cdef int ticker_slot(const char* k, Py_ssize_t n) noexcept nogil:
    """Where a ticker member's value goes: 0.. TICKER_NUMBERS-1 into t.d, or a SLOT_*."""
    if n == 10:
        if memcmp(k, b"last_price", 10) == 0:
            return 0
        if memcmp(k, b"mark_price", 10) == 0:
            return 5
        if memcmp(k, b"funding_8h", 10) == 0:
            return 9
    elif n == 14:
        if memcmp(k, b"best_bid_price", 14) == 0:
            return 1
        if memcmp(k, b"best_ask_price", 14) == 0:
            return 3
    elif n == 15:
        if memcmp(k, b"best_bid_amount", 15) == 0:
            return 2
        if memcmp(k, b"best_ask_amount", 15) == 0:
            return 4
        if memcmp(k, b"instrument_name", 15) == 0:
            return SLOT_INSTRUMENT
        if memcmp(k, b"current_funding", 15) == 0:
            return 8
    elif n == 11:
        if memcmp(k, b"index_price", 11) == 0:
            return 6
    elif n == 13:
        if memcmp(k, b"open_interest", 13) == 0:
            return 7
    elif n == 9:
        if memcmp(k, b"timestamp", 9) == 0:
            return SLOT_TIMESTAMP
    elif n == 5:
        if memcmp(k, b"stats", 5) == 0:
            return SLOT_STATS
    return SLOT_OTHER


cdef const char* stats_fast(const char* p, const char* end, double* st) noexcept nogil:
    """A ticker's ``stats`` object at its '{': high low volume volume_usd price_change into
    st[0:5] (NaN when absent or null), the byte after its '}'; NULL for anything unusual."""
    cdef const char* key
    cdef Py_ssize_t klen
    cdef int j
    cdef double* slot
    for j in range(5):
        st[j] = NAN
    p += 1
    if p < end and p[0] == 125:
        return p + 1
    while True:
        p = fast_name(p, end, &key, &klen)
        if p == NULL:
            return NULL
        slot = NULL
        if name_is(key, klen, b"high", 4):
            slot = &st[0]
        elif name_is(key, klen, b"low", 3):
            slot = &st[1]
        elif name_is(key, klen, b"volume", 6):
            slot = &st[2]
        elif name_is(key, klen, b"volume_usd", 10):
            slot = &st[3]
        elif name_is(key, klen, b"price_change", 12):
            slot = &st[4]
        p = fast_number_or_null(p, end, slot) if slot != NULL else fast_skip(p, end)
        if p == NULL or p >= end:
            return NULL
        if p[0] == 125:
            return p + 1
        if p[0] != 44:
            return NULL
        p += 1


cdef class DeribitParser(StrictParser):
    """Compiled parser for deribit."""

    cdef int parse_frame(self, const char* p, Py_ssize_t n) except -100:
        cdef Field top_stack[MAX_FIELDS]
        cdef Field* top = top_stack
        cdef int nt = 0, rc
        rc = self.begin_text(p, n)
        if rc < 0:
            return rc
        if rc == 1:
            rc = self.notification_fast(p, n)
            if rc != SHAPE_MISSED:
                return rc
        rc = scan_object(p, n, &top, &nt, True, &self.lv)
        if rc:
            return -rc
        return self.message(top, nt)

    cdef int notification_fast(self, const char* p, Py_ssize_t n) except -100:
        """A subscription notification exactly as Deribit sends it, without scanning ``data``
        twice. Any other shape, or a failure (which the general path then reports), returns
        SHAPE_MISSED with nothing written."""
        cdef Field channel, data
        cdef Cursor c
        cdef int rc
        if n < SUBSCRIPTION_HEAD_LEN + 12 or memcmp(p, SUBSCRIPTION_HEAD, SUBSCRIPTION_HEAD_LEN) != 0:
            return SHAPE_MISSED
        if p[n - 2] != 125 or p[n - 1] != 125:
            return SHAPE_MISSED
        c.p = p + SUBSCRIPTION_HEAD_LEN - 1
        c.end = p + n
        c.err = E_OK
        channel.type = T_STRING
        channel.lazy = False
        channel.lv_rows = -1
        if not scan_string(&c, &channel.val, &channel.vlen, &channel.escaped) or channel.vlen == 0:
            return SHAPE_MISSED  # an empty channel name is malformed: the general path says so
        if c.end - c.p < 10 or memcmp(c.p, b',"data":', 8) != 0:
            return SHAPE_MISSED
        data.val = c.p + 8
        data.vlen = (p + n - 2) - data.val
        data.escaped = False
        data.lazy = True
        data.lv_rows = -1
        if data.val[0] == 123:
            data.type = T_OBJECT
        elif data.val[0] == 91:
            data.type = T_ARRAY
        else:
            return SHAPE_MISSED
        rc = self.notification(&channel, &data)
        if rc < 0:
            self.rollback()
            return SHAPE_MISSED
        return rc

    cdef int message(self, Field* top, int nt) except -100:
        cdef Field pf_stack[MAX_FIELDS]
        cdef Field* pf = pf_stack
        cdef Field* v[4]
        cdef Field* w[2]
        cdef Field *method, *params, *error
        cdef int np = 0, rc
        pick(top, nt, "method params error result", v)
        method, params, error = v[0], v[1], v[2]
        if word_is(method, "heartbeat", 9):
            rc = self.check_rest(top, nt)
            if rc:
                return -rc
            if params != NULL and params.type == T_OBJECT:
                rc = scan_object(params.val, params.vlen, &pf, &np, False)
                if rc:
                    return -rc
                pick(pf, np, "type", w)
                if word_is(w[0], "test_request", 12):
                    self.n_test_requests += 1
            return RC_SKIP + SKIP_HEARTBEAT
        if error != NULL:
            rc = self.check_rest(top, nt)
            if rc:
                return -rc
            if error.type == T_OBJECT:
                rc = scan_object(error.val, error.vlen, &pf, &np, False)
                if rc:
                    return -rc
                pick(pf, np, "code message", w)
                self.log_venue_error(w[0], w[1])
            else:
                self.log_venue_error(NULL, error)
            return RC_SKIP + SKIP_ERROR_EVENT
        if v[3] != NULL:
            rc = self.check_rest(top, nt)
            return -rc if rc else RC_SKIP + SKIP_RPC_RESULT
        if not word_is(method, "subscription", 12):
            if method == NULL or method.type == T_NULL:
                return -E_MISSING  # neither a notification, an RPC result nor a heartbeat
            rc = self.check_rest(top, nt)
            return -rc if rc else RC_SKIP + SKIP_UNKNOWN_CHANNEL
        if params == NULL:
            return -E_MISSING
        if params.type != T_OBJECT:
            return -E_TYPE
        rc = scan_object(params.val, params.vlen, &pf, &np, True, &self.lv)
        if rc:
            return -rc
        params.type = T_DONE
        pick(pf, np, "channel data", w)
        if not is_text(w[0]) or w[1] == NULL:
            return -E_MISSING
        rc = self.notification(w[0], w[1])
        if rc < 0:
            return rc
        np = self.check_rest(pf, np)
        if np == E_OK:
            np = self.check_rest(top, nt)
        return -np if np else rc

    cdef int notification(self, Field* channel, Field* data) except -100:
        """Route one notification; ``data`` is consumed (validated) whatever the channel."""
        cdef Field f_stack[MAX_FIELDS]
        cdef Field* f = f_stack
        cdef int nf = 0, rc, kind
        cdef char buf[TEXT_SCRATCH]
        cdef const char* ch
        cdef Py_ssize_t chn
        rc = decode_text(channel.val, channel.vlen, channel.escaped, buf, &ch, &chn)
        if rc == 0:
            return -E_TEXT
        if rc == 2:  # a long escaped channel name: decoded on the heap (held until return)
            long_text = unescaped_long(channel.val, channel.vlen)
            if long_text is None:
                return -E_TEXT
            ch = PyBytes_AS_STRING(long_text)
            chn = PyBytes_GET_SIZE(long_text)
        kind = deribit_channel(ch, chn)
        if kind == 0:
            rc = self.check_rest(data, 1)
            return -rc if rc else RC_SKIP + SKIP_UNKNOWN_CHANNEL
        if kind == DERIBIT_TRADES:
            rc = self.trades_fast(data.val, data.val + data.vlen)
            if rc == FAST_PATH_MISSED:
                rc = self.each_object(NULL, data, True)
            data.type = T_DONE
            return rc
        if data.type != T_OBJECT:
            return -E_TYPE
        if kind == DERIBIT_TICKER:
            rc = self.ticker_fast(data.val, data.val + data.vlen)
            if rc != FAST_PATH_MISSED:
                data.type = T_DONE
                return rc
        rc = scan_members(data.val, data.vlen, &f, &nf, True, &self.lv, NULL, not self.lexed)
        if rc:
            return -rc
        data.type = T_DONE
        if kind == DERIBIT_BOOK:
            rc = self.book(f, nf)
        elif kind == DERIBIT_QUOTE:
            rc = self.quote(f, nf)
        elif kind == DERIBIT_TICKER:
            rc = self.ticker(f, nf)
        elif kind == DERIBIT_PERPETUAL:
            rc = self.perpetual(ch, chn, f, nf)
        else:
            rc = self.chart(ch, chn, f, nf)
        if rc < 0:
            return rc
        rc = self.check_rest(f, nf)
        return -rc if rc else RC_PARSED

    # ---- channels -----------------------------------------------------------------------------

    cdef int on_object(self, void* ctx, Field* f, int nf) except -100:
        """One trade of ``trades.*`` (+ a liquidation when it carries the flag)."""
        cdef Field* v[7]
        cdef double price, amount
        cdef int64_t ts
        cdef int side
        cdef uint32_t inst
        cdef uint64_t id_value
        cdef Field* fid
        cdef Field* flag
        cdef const char* status = NULL
        cdef Py_ssize_t status_len = 0
        pick(f, nf, "instrument_name timestamp price amount direction trade_id liquidation", v)
        fid, flag = v[5], v[6]
        if not is_text(v[0]) or fid == NULL:
            return -E_MISSING
        if not json_millis(v[1], &ts) or not json_number(v[2], &price) or not json_number(v[3], &amount):
            return -E_NUMBER
        side = side_of(v[4])
        if side == 0:
            return -E_VALUE
        # an id is a non-negative JSON integer (kept as its decimal text) or a non-empty string
        if not ((fid.type == T_NUMBER and parse_u64(fid.val, fid.vlen, &id_value)) or is_text(fid)):
            return -E_TEXT
        if flag != NULL and flag.type != T_NULL:
            # the liquidated order is the taker's for T/MT, the resting maker's for M
            if word_is(flag, "M", 1):
                status, status_len = "M", 1
            elif word_is(flag, "T", 1):
                status, status_len = "T", 1
            elif word_is(flag, "MT", 2):
                status, status_len = "MT", 2
            else:
                return -E_VALUE
        if not self.instrument(v[0], &inst):
            return -E_TEXT
        return self.trade_rows(inst, ts, fid.val, fid.vlen, fid.escaped, price, amount, side, status, status_len)

    cdef int trade_rows(self, uint32_t inst, int64_t ts, const char* trade_id, Py_ssize_t id_len, bint escaped,
                        double price, double amount, int side, const char* status, Py_ssize_t status_len) except -100:
        """A trade's row, and a liquidation's when it carries a flag (``status``: M, T or MT)."""
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_trade
        r = append_row(self, b, inst, ts)
        if not b.put_id(TRADE_TRADE_ID_OFF, r, trade_id, id_len, escaped):
            return -E_TEXT
        set_f8(b, TRADE_PRICE, r, price)
        set_f8(b, TRADE_AMOUNT, r, amount)
        set_i1(b, TRADE_SIDE, r, <int8_t>side)
        set_u1(b, TRADE_AGGREGATED, r, 0)
        if status != NULL:
            b = self.b_liq
            r = append_row(self, b, inst, ts)
            # the liquidated order is the taker's for T/MT, the resting maker's for M
            set_i1(b, LIQUIDATION_SIDE, r, <int8_t>(-side if status_len == 1 and status[0] == 77 else side))
            set_f8(b, LIQUIDATION_PRICE, r, price)
            set_f8(b, LIQUIDATION_AMOUNT, r, amount)
            empty_text(b, LIQUIDATION_ORDER_ID_OFF, r)
            b.put_text(LIQUIDATION_STATUS_OFF, r, status, status_len, False)
        return RC_PARSED

    cdef int trades_fast(self, const char* p, const char* end) except -100:
        """The ``trades.*`` data array [p, end) in one pass (see _onepass.pxi); FAST_PATH_MISSED
        with the frame's rows rolled back for anything else."""
        cdef int rc
        if self.lexed or end - p < 3 or p[0] != 91 or end[-1] != 93 or p[1] != 123:
            return FAST_PATH_MISSED
        p += 1
        while True:
            p = self.trade_fast(p, end)
            if p == NULL:
                self.rollback()
                return FAST_PATH_MISSED
            if p[0] == 93 and p + 1 == end:
                return RC_PARSED
            if p[0] != 44 or p[1] != 123:
                self.rollback()
                return FAST_PATH_MISSED
            p += 1

    cdef const char* trade_fast(self, const char* p, const char* end) except? NULL:
        """One trade object at its '{': its rows written, the byte after its '}'; NULL when it
        is not one the one-pass reader takes."""
        cdef const char* key
        cdef const char* sym = NULL
        cdef const char* trade_id = NULL
        cdef const char* word
        cdef const char* status = NULL
        cdef Py_ssize_t klen, sym_n = 0, id_n = 0, word_n, status_n = 0
        cdef uint64_t ms = 0, id_value
        cdef double price = 0, amount = 0
        cdef int side = 0
        cdef unsigned int seen = 0
        cdef bint done = False
        cdef uint32_t inst
        p += 1
        while not done:
            p = fast_name(p, end, &key, &klen)
            if p == NULL:
                return NULL
            if klen == 15 and memcmp(key, b"instrument_name", 15) == 0:
                p = fast_text(p, end, &sym, &sym_n)
                seen |= 1
            elif klen == 9 and memcmp(key, b"timestamp", 9) == 0:
                p = fast_uint(p, &ms)
                seen |= 2
            elif klen == 5 and memcmp(key, b"price", 5) == 0:
                p = fast_number(p, end, &price)
                seen |= 4
            elif klen == 6 and memcmp(key, b"amount", 6) == 0:
                p = fast_number(p, end, &amount)
                seen |= 8
            elif klen == 9 and memcmp(key, b"direction", 9) == 0:
                p = fast_text(p, end, &word, &word_n)
                if p == NULL:
                    return NULL
                if word_n == 3 and memcmp(word, b"buy", 3) == 0:
                    side = 1
                elif word_n == 4 and memcmp(word, b"sell", 4) == 0:
                    side = -1
                else:
                    return NULL
                seen |= 16
            elif klen == 8 and memcmp(key, b"trade_id", 8) == 0:
                if p[0] == 34:
                    p = fast_text(p, end, &trade_id, &id_n)
                else:
                    trade_id = p
                    p = fast_uint(p, &id_value)
                    id_n = (p - trade_id) if p != NULL else 0
                seen |= 32
            elif klen == 11 and memcmp(key, b"liquidation", 11) == 0:
                if p[0] == 110 and end - p > 4 and memcmp(p, b"null", 4) == 0:
                    status = NULL
                    status_n = 0
                    p += 4
                else:
                    p = fast_text(p, end, &word, &word_n)
                    if p == NULL or not ((word_n == 1 and (word[0] == 77 or word[0] == 84))
                                         or (word_n == 2 and word[0] == 77 and word[1] == 84)):
                        return NULL
                    status, status_n = word, word_n
            else:
                p = fast_skip(p, end)
            if p == NULL or p >= end:
                return NULL
            if p[0] == 125:
                done = True
            elif p[0] != 44:
                return NULL
            p += 1
        if seen != 63 or sym_n == 0 or id_n == 0 or ms > MAX_MS:
            return NULL
        if not self.symbols.lookup(sym, sym_n, False, &inst):
            return NULL
        if self.trade_rows(inst, <int64_t>ms * 1000000, trade_id, id_n, False, price, amount, side,
                           status, status_n) < 0:
            return NULL
        return p

    cdef int book(self, Field* f, int nf) except -100:
        cdef Field* v[7]
        cdef LevelContext lc
        cdef int64_t ts
        cdef uint64_t change_id, prev = 0
        cdef int rc
        pick(f, nf, "instrument_name timestamp change_id type prev_change_id bids asks", v)
        if not is_text(v[0]) or v[5] == NULL or v[6] == NULL:
            return -E_MISSING
        if not json_millis(v[1], &ts) or not json_u64(v[2], &change_id):
            return -E_NUMBER
        if v[3] == NULL or v[3].type == T_NULL:
            # grouped books (book.{instrument}.{group}.{depth}.{interval}) send whole books of
            # [price, amount] levels with no type: each one is a snapshot
            lc.grouped = True
            lc.snapshot = 1
        elif word_is(v[3], "snapshot", 8) or word_is(v[3], "change", 6):
            lc.grouped = False
            lc.snapshot = 1 if word_is(v[3], "snapshot", 8) else 0
            if not json_u64_or_zero(v[4], &prev):
                return -E_NUMBER
        else:
            return -E_VALUE
        if v[5].type != T_ARRAY or v[6].type != T_ARRAY:
            return -E_TYPE
        if not truthy(v[5]) and not truthy(v[6]):  # no level changed: a marker row, if wanted
            v[5].type = T_DONE
            v[6].type = T_DONE
            if not self.book_markers:
                return RC_PARSED
            if not self.instrument(v[0], &lc.inst):
                return -E_TEXT
            self.book_marker(lc.inst, ts, change_id, change_id, prev, lc.snapshot, 0)
            return RC_PARSED
        if not self.instrument(v[0], &lc.inst):
            return -E_TEXT
        lc.ts = ts
        lc.update_id = change_id
        lc.prev_update_id = prev
        lc.checksum = 0
        lc.side = 1
        rc = self.each_level(&lc, v[5])
        if rc < 0:
            return rc
        lc.side = -1
        return self.each_level(&lc, v[6])

    cdef int on_level(self, LevelContext* lc, Scalar* row) except -100:
        """``[new|change|delete, price, amount]`` (delete: amount 0), or a grouped book's
        ``[price, amount]``: JSON numbers."""
        cdef double price, amount
        cdef bint delete = False
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_delta
        if lc.grouped:
            if row[1].type == 0 or row[2].type != 0:
                return -E_VALUE
            if not scalar_number(&row[0], &price) or not scalar_number(&row[1], &amount):
                return -E_NUMBER
        else:
            if row[2].type == 0 or row[3].type != 0 or row[0].type != T_STRING:
                return -E_VALUE
            if text_eq(row[0].val, row[0].vlen, row[0].escaped, "delete", 6):
                delete = True
            elif not (text_eq(row[0].val, row[0].vlen, row[0].escaped, "new", 3)
                      or text_eq(row[0].val, row[0].vlen, row[0].escaped, "change", 6)):
                return -E_VALUE
            if not scalar_number(&row[1], &price) or not scalar_number(&row[2], &amount):
                return -E_NUMBER
            if delete:
                amount = 0.0
        r = append_row(self, b, lc.inst, lc.ts)
        set_i1(b, BOOK_DELTA_SIDE, r, lc.side)
        set_f8(b, BOOK_DELTA_PRICE, r, price)
        set_f8(b, BOOK_DELTA_AMOUNT, r, amount)
        set_u8(b, BOOK_DELTA_FIRST_UPDATE_ID, r, lc.update_id)
        set_u8(b, BOOK_DELTA_UPDATE_ID, r, lc.update_id)
        set_u8(b, BOOK_DELTA_PREV_UPDATE_ID, r, lc.prev_update_id)
        set_u1(b, BOOK_DELTA_IS_SNAPSHOT, r, lc.snapshot)
        set_i8(b, BOOK_DELTA_CHECKSUM, r, 0)
        empty_text(b, BOOK_DELTA_PRICE_TEXT_OFF, r)
        empty_text(b, BOOK_DELTA_AMOUNT_TEXT_OFF, r)
        return RC_PARSED

    cdef int quote(self, Field* f, int nf) except -100:
        cdef Field* v[6]
        cdef double d[4]
        cdef int64_t ts
        cdef uint32_t inst
        cdef int j
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_quote
        pick(f, nf, "instrument_name timestamp best_bid_price best_bid_amount best_ask_price best_ask_amount", v)
        if not is_text(v[0]):
            return -E_MISSING
        if not json_millis(v[1], &ts):
            return -E_NUMBER
        for j in range(4):
            if not json_number_or_nan(v[2 + j], &d[j]):
                return -E_NUMBER
        if not self.instrument(v[0], &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        set_f8(b, QUOTE_BID_PRICE, r, d[0])
        set_f8(b, QUOTE_BID_AMOUNT, r, d[1])
        set_f8(b, QUOTE_ASK_PRICE, r, d[2])
        set_f8(b, QUOTE_ASK_AMOUNT, r, d[3])
        set_u8(b, QUOTE_UPDATE_ID, r, 0)
        return RC_PARSED

    cdef int ticker(self, Field* f, int nf) except -100:
        """A ticker (+ open_interest when it carries ``open_interest``, + funding_rate when it
        carries ``current_funding``). ``stats`` holds high/low/volumes; ``greeks`` is ignored."""
        cdef Field sf_stack[MAX_FIELDS]
        cdef Field* sf = sf_stack
        cdef Field* v[13]
        cdef Field* s[5]
        cdef TickerValues t
        cdef int64_t ts
        cdef uint32_t inst
        cdef int j, ns = 0, rc
        pick(f, nf, "instrument_name timestamp stats last_price best_bid_price best_bid_amount "
                    "best_ask_price best_ask_amount mark_price index_price open_interest "
                    "current_funding funding_8h", v)
        if not is_text(v[0]):
            return -E_MISSING
        if not json_millis(v[1], &ts):
            return -E_NUMBER
        if v[2] == NULL or v[2].type == T_NULL:
            for j in range(5):
                t.stats[j] = NAN
        elif v[2].type == T_OBJECT:
            rc = scan_members(v[2].val, v[2].vlen, &sf, &ns, False, NULL, NULL, not self.lexed)
            if rc:
                return -rc
            pick(sf, ns, "high low volume volume_usd price_change", s)
            for j in range(5):
                if not json_number_or_nan(s[j], &t.stats[j]):
                    return -E_NUMBER
            rc = self.check_rest(sf, ns)
            if rc:
                return -rc
            v[2].type = T_DONE
        else:
            return -E_TYPE
        t.has_open_interest = v[10] != NULL
        t.has_funding = v[11] != NULL
        # funding_8h is read only with current_funding, as the funding_rate record's
        for j in range(TICKER_NUMBERS if t.has_funding else TICKER_FUNDING_SLOT):
            if not json_number_or_nan(v[3 + j], &t.d[j]):
                return -E_NUMBER
        if not self.instrument(v[0], &inst):
            return -E_TEXT
        self.ticker_rows(inst, ts, &t)
        return RC_PARSED

    cdef int ticker_fast(self, const char* p, const char* end) except -100:
        """ticker() in one pass over a compact plain-text data object [p, end) (see
        _onepass.pxi); FAST_PATH_MISSED, nothing written, for anything else."""
        cdef TickerValues t
        cdef const char* key
        cdef const char* sym = NULL
        cdef Py_ssize_t klen, sym_n = 0
        cdef uint64_t ms = 0
        cdef bint done = False, has_ts = False
        cdef int slot, j
        cdef uint32_t inst
        if self.lexed or end - p < 2 or p[0] != 123 or end[-1] != 125:
            return FAST_PATH_MISSED
        for j in range(TICKER_NUMBERS):
            t.d[j] = NAN
        for j in range(5):
            t.stats[j] = NAN
        t.has_open_interest = False
        t.has_funding = False
        p += 1
        while not done:
            p = fast_name(p, end, &key, &klen)
            if p == NULL:
                return FAST_PATH_MISSED
            slot = ticker_slot(key, klen)
            if slot >= 0:
                p = fast_number_or_null(p, end, &t.d[slot])
                if slot == TICKER_OPEN_INTEREST_SLOT:
                    t.has_open_interest = True
                elif slot == TICKER_FUNDING_SLOT:
                    t.has_funding = True
            elif slot == SLOT_INSTRUMENT:
                p = fast_text(p, end, &sym, &sym_n)
            elif slot == SLOT_TIMESTAMP:
                p = fast_uint(p, &ms)
                has_ts = True
            elif slot == SLOT_STATS:
                if p[0] == 123:
                    p = stats_fast(p, end, t.stats)
                elif end - p > 4 and memcmp(p, b"null", 4) == 0:
                    for j in range(5):
                        t.stats[j] = NAN
                    p += 4
                else:
                    return FAST_PATH_MISSED
            else:
                p = fast_skip(p, end)
            if p == NULL:
                return FAST_PATH_MISSED
            p = fast_next(p, end, &done)
            if p == NULL:
                return FAST_PATH_MISSED
        if sym_n == 0 or not has_ts or ms > MAX_MS:
            return FAST_PATH_MISSED
        if not self.symbols.lookup(sym, sym_n, False, &inst):
            return FAST_PATH_MISSED
        self.ticker_rows(inst, <int64_t>ms * 1000000, &t)
        return RC_PARSED

    cdef void ticker_rows(self, uint32_t inst, int64_t ts, TickerValues* t) except *:
        cdef double* d = t.d
        cdef double* st = t.stats
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_ticker
        r = append_row(self, b, inst, ts)
        set_f8(b, TICKER_LAST_PRICE, r, d[0])
        set_f8(b, TICKER_LAST_AMOUNT, r, NAN)
        set_f8(b, TICKER_OPEN_PRICE, r, NAN)
        set_f8(b, TICKER_HIGH_PRICE, r, st[0])
        set_f8(b, TICKER_LOW_PRICE, r, st[1])
        set_f8(b, TICKER_VOLUME, r, st[2])
        set_f8(b, TICKER_QUOTE_VOLUME, r, st[3])
        set_f8(b, TICKER_PRICE_CHANGE, r, NAN)
        set_f8(b, TICKER_PRICE_CHANGE_PCT, r, st[4])  # Deribit sends a percentage
        set_f8(b, TICKER_WEIGHTED_AVG_PRICE, r, NAN)
        set_f8(b, TICKER_BID_PRICE, r, d[1])
        set_f8(b, TICKER_BID_AMOUNT, r, d[2])
        set_f8(b, TICKER_ASK_PRICE, r, d[3])
        set_f8(b, TICKER_ASK_AMOUNT, r, d[4])
        set_f8(b, TICKER_MARK_PRICE, r, d[5])
        set_f8(b, TICKER_INDEX_PRICE, r, d[6])
        set_f8(b, TICKER_OPEN_INTEREST, r, d[7])
        set_u8(b, TICKER_TRADE_COUNT, r, 0)
        if t.has_open_interest:
            b = self.b_oi
            r = append_row(self, b, inst, ts)
            set_f8(b, OPEN_INTEREST_OPEN_INTEREST, r, d[7])
            set_f8(b, OPEN_INTEREST_OPEN_INTEREST_VALUE, r, NAN)
        if t.has_funding:
            b = self.b_funding
            r = append_row(self, b, inst, ts)
            set_f8(b, FUNDING_RATE_FUNDING_RATE, r, d[8])
            set_f8(b, FUNDING_RATE_PREDICTED_RATE, r, d[9])
            set_f8(b, FUNDING_RATE_MARK_PRICE, r, d[5])
            set_f8(b, FUNDING_RATE_INDEX_PRICE, r, d[6])
            set_i8(b, FUNDING_RATE_FUNDING_TIME, r, 0)

    cdef int chart(self, const char* ch, Py_ssize_t chn, Field* f, int nf) except -100:
        """``chart.trades.{instrument_name}.{resolution}`` (instrument names hold no '.')."""
        cdef const char* rest = ch + 13
        cdef Py_ssize_t rn = chn - 13
        cdef Py_ssize_t dot = last_dot(rest, rn)
        cdef Field* v[7]
        cdef double d[6]
        cdef int64_t open_time
        cdef uint32_t inst
        cdef int j
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_kline
        if dot <= 0 or dot == rn - 1:  # no instrument, or no resolution
            return -E_VALUE
        pick(f, nf, "tick open high low close volume cost", v)
        if not json_millis(v[0], &open_time):
            return -E_NUMBER
        for j in range(5):
            if not json_number(v[1 + j], &d[j]):
                return -E_NUMBER
        if not json_number_or_nan(v[6], &d[5]):
            return -E_NUMBER
        if not self.symbols.lookup(rest, dot, False, &inst):
            return -E_TEXT
        r = append_row(self, b, inst, self.ts_recv)  # a candle push carries no event time
        if not b.put_text(KLINE_INTERVAL_OFF, r, rest + dot + 1, rn - dot - 1, False):
            return -E_TEXT
        set_i8(b, KLINE_OPEN_TIME, r, open_time)
        set_i8(b, KLINE_CLOSE_TIME, r, 0)
        set_f8(b, KLINE_OPEN, r, d[0])
        set_f8(b, KLINE_HIGH, r, d[1])
        set_f8(b, KLINE_LOW, r, d[2])
        set_f8(b, KLINE_CLOSE, r, d[3])
        set_f8(b, KLINE_VOLUME, r, d[4])
        set_f8(b, KLINE_QUOTE_VOLUME, r, d[5])
        set_f8(b, KLINE_TAKER_BUY_VOLUME, r, NAN)
        set_f8(b, KLINE_TAKER_BUY_QUOTE_VOLUME, r, NAN)
        set_u8(b, KLINE_TRADE_COUNT, r, 0)
        set_u1(b, KLINE_CLOSED, r, 0)
        return RC_PARSED

    cdef int perpetual(self, const char* ch, Py_ssize_t chn, Field* f, int nf) except -100:
        """``perpetual.{instrument_name}.{interval}``: {timestamp, interest, index_price}."""
        cdef const char* rest = ch + 10
        cdef Py_ssize_t rn = chn - 10 if chn > 10 else 0
        cdef Py_ssize_t dot = last_dot(rest, rn)
        cdef Field* v[3]
        cdef double rate, index
        cdef int64_t ts
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_funding
        if dot <= 0:  # no instrument name
            return -E_VALUE
        pick(f, nf, "timestamp interest index_price", v)
        if not json_millis(v[0], &ts) or not json_number(v[1], &rate) or not json_number_or_nan(v[2], &index):
            return -E_NUMBER
        if not self.symbols.lookup(rest, dot, False, &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        set_f8(b, FUNDING_RATE_FUNDING_RATE, r, rate)
        set_f8(b, FUNDING_RATE_PREDICTED_RATE, r, NAN)
        set_f8(b, FUNDING_RATE_MARK_PRICE, r, NAN)
        set_f8(b, FUNDING_RATE_INDEX_PRICE, r, index)
        set_i8(b, FUNDING_RATE_FUNDING_TIME, r, 0)
        return RC_PARSED
