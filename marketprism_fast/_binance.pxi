# Binance spot, USD-M and COIN-M: raw (`{"e":...}`) and combined (`{"stream":..,"data":..}`)
# frames, and the REST depth-snapshot and openInterest bodies. reference/binance.py is the
# oracle: same records, same verdicts (parsed / skipped / malformed) for every frame.
#
# Binance keys are single letters (`s` symbol, `E` event time, `T` trade/transaction time,
# `p` price, `q` quantity, `m` buyer-is-maker, `U`/`u` first/final update id, `pu` previous
# final update id, `b`/`a` bids/asks), case-sensitive, in any order.

# Members the one-pass readers of trade, aggTrade, bookTicker and depthUpdate (event_fast) have seen.
DEF HAS_S = 1
DEF HAS_P = 2
DEF HAS_Q = 4
DEF HAS_T = 8
DEF HAS_ID = 16
DEF HAS_M = 32
DEF HAS_U = 64
DEF HAS_BID = 128
DEF HAS_BID_AMOUNT = 256
DEF HAS_ASK = 512
DEF HAS_ASK_AMOUNT = 1024
DEF HAS_E_TIME = 2048
DEF HAS_FIRST_ID = 4096
DEF HAS_PREV_ID = 8192
DEF DEPTH_REQUIRED = HAS_S | HAS_E_TIME | HAS_FIRST_ID | HAS_U | HAS_BID | HAS_ASK


cdef class BinanceParser(ParserBase):
    """Compiled parser for binance_spot / binance_usdm / binance_coinm."""

    cdef int parse_frame(self, const char* p, Py_ssize_t n) except -100:
        cdef Field top_stack[MAX_FIELDS]
        cdef Field* top = top_stack
        cdef Field* w[5]
        cdef uint8_t letters[128]
        cdef int nt = 0, rc
        cdef Field *stream, *data
        cdef Py_ssize_t s = 0
        rc = self.begin_text(p, n)
        if rc < 0:
            return rc
        while s < n and (p[s] == 32 or p[s] == 10 or p[s] == 13 or p[s] == 9):
            s += 1
        if s < n and p[s] == 91:  # a raw all-market stream sends a JSON array of events
            return self.event_array(p + s, n - s, True)
        rc = self.combined_fast(p, n)
        if rc == FAST_PATH_MISSED:
            rc = self.event_fast(p, p + n)
        if rc != FAST_PATH_MISSED:
            return rc
        memset(letters, 0, 128)
        rc = scan_members(p, n, &top, &nt, True, &self.lv, letters, not self.lexed)
        if rc:
            return -rc
        pick(top, nt, "stream data error result id", w)
        stream, data = w[0], w[1]
        if stream != NULL:  # a combined-stream frame: its data is the event (or events)
            if stream.type != T_STRING or data == NULL:
                return -E_MISSING
            if data.type == T_OBJECT:
                rc = self.event_object(data.val, data.vlen)
            elif data.type == T_ARRAY:
                rc = self.event_array(data.val, data.vlen, True)
            else:
                return -E_TYPE
            data.lazy = False
        elif w[2] != NULL:
            self.report_error_event(w[2])
            rc = RC_SKIP + SKIP_ERROR_EVENT
        elif w[3] != NULL and w[4] != NULL:
            rc = RC_SKIP + SKIP_ACK
        else:
            return self.dispatch(top, nt, letters)
        if rc >= 0:
            nt = validate_lazy(top, nt)
            if nt:
                return -nt
        return rc

    cdef int combined_fast(self, const char* p, Py_ssize_t n) except -100:
        """``{"stream":"...","data":{...}}`` exactly as Binance sends it, in one scan.
        Any other shape returns FAST_PATH_MISSED (before writing anything) and takes the
        general path."""
        cdef Cursor c
        cdef const char* s
        cdef Py_ssize_t sn
        cdef bint esc
        cdef const char* e = p + n
        cdef const char* d
        cdef Field f_stack[MAX_FIELDS]
        cdef Field* f = f_stack
        cdef uint8_t letters[128]
        cdef int nf = 0, rc
        if n < 20 or memcmp(p, b'{"stream":"', 11) != 0:
            return FAST_PATH_MISSED
        c.p = p + 10
        c.end = e
        c.err = E_OK
        if not scan_string(&c, &s, &sn, &esc) or e - c.p < 9 or memcmp(c.p, b',"data":{', 9) != 0:
            return FAST_PATH_MISSED
        d = c.p + 8
        while e > d and (e[-1] == 32 or e[-1] == 10 or e[-1] == 13 or e[-1] == 9):
            e -= 1
        if e - d < 2 or e[-1] != 125:
            return FAST_PATH_MISSED
        rc = self.event_fast(d, e - 1)
        if rc != FAST_PATH_MISSED:
            return rc
        memset(letters, 0, 128)
        if scan_members(d, (e - 1) - d, &f, &nf, True, &self.lv, letters, not self.lexed) != E_OK:
            return FAST_PATH_MISSED
        return self.dispatch(f, nf, letters)

    cdef int event_object(self, const char* p, Py_ssize_t n) except -100:
        cdef Field f_stack[MAX_FIELDS]
        cdef Field* f = f_stack
        cdef uint8_t letters[128]
        cdef int nf = 0
        cdef int rc
        memset(letters, 0, 128)
        rc = scan_members(p, n, &f, &nf, True, &self.lv, letters, not self.lexed)
        if rc:
            return -rc
        return self.dispatch(f, nf, letters)

    cdef int dispatch(self, Field* f, int nf, const uint8_t* letters) except -100:
        """Route one event object (``letters``: scan_members' index of its one-character
        member names); containers no handler consumed are validated after."""
        cdef int rc = self.route(f, nf, letters)
        cdef int v
        if rc >= 0:
            v = validate_lazy(f, nf)
            if v:
                return -v
        return rc

    cdef int event_array(self, const char* p, Py_ssize_t n, bint validate) except -100:
        """Every element an event object (e.g. ``!markPrice@arr``). Parsed when every event
        is of a known type (an empty array too), skipped when none is, malformed when known
        and unknown types mix or any event is malformed."""
        cdef Cursor c
        cdef ArrayIter it
        cdef Field elem
        cdef int got, rc
        cdef bint known = False, unknown = False
        if validate:
            c.p = p
            c.end = p + n
            c.err = E_OK
            if not skip_container(&c):
                return -c.err
            skip_ws(&c)
            if c.p != c.end:
                return -E_SYNTAX
        array_begin(&it, p, n)
        while True:
            got = array_next(&it, &elem)
            if got == 0:
                break
            if got < 0:
                return -it.c.err
            if elem.type != T_OBJECT:
                return -E_TYPE
            rc = self.event_object(elem.val, elem.vlen)
            if rc < 0:
                return rc
            if rc == RC_PARSED:
                known = True
            else:
                unknown = True
            if known and unknown:
                return -E_VALUE
        return RC_SKIP + SKIP_UNKNOWN_CHANNEL if unknown else RC_PARSED

    cdef int route(self, Field* f, int nf, const uint8_t* letters) except -100:
        """The handler for an event by its ``e`` (spot bookTicker has none: its keys tell
        it); an event of another type is an unknown channel."""
        cdef Field* e = letter(f, letters, b"e")
        if e != NULL and e.type != T_NULL:
            if e.type == T_OBJECT or e.type == T_ARRAY:
                return -E_TYPE  # not a type name at all
            if word_is(e, "trade", 5):
                return self.on_trade(f, letters, False)
            if word_is(e, "aggTrade", 8):
                return self.on_trade(f, letters, True)
            if word_is(e, "depthUpdate", 11):
                return self.on_depth(f, nf, letters)
            if word_is(e, "bookTicker", 10):
                return self.on_book_ticker(f, letters)
            if word_is(e, "24hrTicker", 10):
                return self.on_ticker(f, letters)
            if word_is(e, "kline", 5):
                return self.on_kline(f, letters)
            if word_is(e, "markPriceUpdate", 15):
                return self.on_mark_price(f, letters)
            if word_is(e, "forceOrder", 10):
                return self.on_force_order(f, letters)
            return RC_SKIP + SKIP_UNKNOWN_CHANNEL
        if (letter(f, letters, b"u") != NULL and letter(f, letters, b"s") != NULL
                and letter(f, letters, b"b") != NULL and letter(f, letters, b"B") != NULL
                and letter(f, letters, b"a") != NULL and letter(f, letters, b"A") != NULL):
            return self.on_book_ticker(f, letters)  # spot bookTicker carries no event type
        return RC_SKIP + SKIP_UNKNOWN_CHANNEL

    cdef void report_error_event(self, Field* err) noexcept:
        """``{"error":{"code":..,"msg":..}}``, or an error that is not an object: logged."""
        cdef Field f_stack[MAX_FIELDS]
        cdef Field* f = f_stack
        cdef Field* w[2]
        cdef int nf = 0
        if err.type == T_OBJECT and scan_object(err.val, err.vlen, &f, &nf, False) == E_OK:
            pick(f, nf, "code msg", w)
            self.log_venue_error(w[0], w[1])
        else:
            self.log_venue_error(NULL, err)

    # ---- the fast path (see fast_key) ---------------------------------------------------------

    cdef int event_fast(self, const char* p, const char* end) except -100:
        """A trade, aggTrade or bookTicker event spanning [p, end) (its closing brace last),
        in one pass; FAST_PATH_MISSED (nothing written) for any other event or shape."""
        if self.lexed or end - p < 16 or end[-1] != 125:
            return FAST_PATH_MISSED
        if memcmp(p, b'{"e":"trade",', 13) == 0:
            return self.trade_fast(p + 13, end, False)
        if memcmp(p, b'{"e":"aggTrade",', 16) == 0:
            return self.trade_fast(p + 16, end, True)
        if memcmp(p, b'{"e":"bookTicker",', 18) == 0:
            return self.book_ticker_fast(p + 18, end, True)
        if memcmp(p, b'{"u":', 5) == 0:
            return self.book_ticker_fast(p + 1, end, False)
        if end - p > 20 and memcmp(p, b'{"e":"depthUpdate",', 19) == 0:
            return self.depth_fast(p + 19, end)
        return FAST_PATH_MISSED

    cdef int trade_fast(self, const char* p, const char* end, bint agg) except -100:
        cdef char key
        cdef char id_key = 97 if agg else 116  # a / t
        cdef unsigned int seen = 0
        cdef bint done = False, buyer_maker = False
        cdef const char* sym = NULL
        cdef const char* id_text = NULL
        cdef Py_ssize_t sym_n = 0, id_n = 0
        cdef double price = 0, amount = 0
        cdef uint64_t ms = 0, trade_id
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_trade
        while not done:
            p = fast_key(p, end, &key)
            if p == NULL:
                return FAST_PATH_MISSED
            if key == 115:  # s
                p = fast_text(p, end, &sym, &sym_n)
                seen |= HAS_S
            elif key == 112:  # p
                p = fast_decimal_text(p, &price)
                seen |= HAS_P
            elif key == 113:  # q
                p = fast_decimal_text(p, &amount)
                seen |= HAS_Q
            elif key == 84:  # T
                p = fast_uint(p, &ms)
                seen |= HAS_T
            elif key == id_key:
                id_text = p
                p = fast_uint(p, &trade_id)
                id_n = (p - id_text) if p != NULL else 0
                seen |= HAS_ID
            elif key == 109:  # m
                if end - p > 4 and memcmp(p, b"true", 4) == 0:
                    buyer_maker = True
                    p += 4
                elif end - p > 5 and memcmp(p, b"false", 5) == 0:
                    buyer_maker = False
                    p += 5
                else:
                    return FAST_PATH_MISSED
                seen |= HAS_M
            elif key == 101:  # a second event type: the general path decides
                return FAST_PATH_MISSED
            else:
                p = fast_other(p, end)
            if p == NULL:
                return FAST_PATH_MISSED
            p = fast_next(p, end, &done)
            if p == NULL:
                return FAST_PATH_MISSED
        if seen != (HAS_S | HAS_P | HAS_Q | HAS_T | HAS_ID | HAS_M) or sym_n == 0 or ms > MAX_MS:
            return FAST_PATH_MISSED
        if not self.symbols.lookup(sym, sym_n, False, &inst):
            return FAST_PATH_MISSED
        r = append_row(self, b, inst, <int64_t>ms * 1000000)
        if trade_id < PACKED_ID_LIMIT:  # fast_uint read a canonical integer token: its text is its value
            b.put_packed_id(TRADE_TRADE_ID_OFF, r, trade_id)
        elif not b.put_text(TRADE_TRADE_ID_OFF, r, id_text, id_n, False):
            return -E_TEXT
        set_f8(b, TRADE_PRICE, r, price)
        set_f8(b, TRADE_AMOUNT, r, amount)
        set_i1(b, TRADE_SIDE, r, -1 if buyer_maker else 1)  # the buyer was the maker: the taker sold
        set_u1(b, TRADE_AGGREGATED, r, 1 if agg else 0)
        return RC_PARSED

    cdef int book_ticker_fast(self, const char* p, const char* end, bint typed) except -100:
        """Futures ``{"e":"bookTicker",...}`` (typed), COIN-M ``{"u":..,"e":"bookTicker",...}``
        or spot ``{"u":...}`` (no event type, no event time): every one of u s b B a A
        present, as the router wants with or without the type."""
        cdef char key
        cdef unsigned int seen = 0
        cdef unsigned int required = HAS_U | HAS_S | HAS_BID | HAS_BID_AMOUNT | HAS_ASK | HAS_ASK_AMOUNT
        cdef bint done = False
        cdef const char* sym = NULL
        cdef Py_ssize_t sym_n = 0
        cdef double bp = 0, bq = 0, ap = 0, aq = 0
        cdef uint64_t uid = 0, ms = 0
        cdef int64_t ts
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_quote
        while not done:
            p = fast_key(p, end, &key)
            if p == NULL:
                return FAST_PATH_MISSED
            if key == 117:  # u
                p = fast_uint(p, &uid)
                seen |= HAS_U
            elif key == 115:  # s
                p = fast_text(p, end, &sym, &sym_n)
                seen |= HAS_S
            elif key == 98:  # b
                p = fast_decimal_text(p, &bp)
                seen |= HAS_BID
            elif key == 66:  # B
                p = fast_decimal_text(p, &bq)
                seen |= HAS_BID_AMOUNT
            elif key == 97:  # a
                p = fast_decimal_text(p, &ap)
                seen |= HAS_ASK
            elif key == 65:  # A
                p = fast_decimal_text(p, &aq)
                seen |= HAS_ASK_AMOUNT
            elif key == 69:  # E
                p = fast_uint(p, &ms)
                seen |= HAS_E_TIME
            elif key == 101:  # e: COIN-M sends it after u; any other or a second: the general path decides
                if typed or end - p < 13 or memcmp(p, b'"bookTicker"', 12) != 0:
                    return FAST_PATH_MISSED
                typed = True
                p += 12
            else:
                p = fast_other(p, end)
            if p == NULL:
                return FAST_PATH_MISSED
            p = fast_next(p, end, &done)
            if p == NULL:
                return FAST_PATH_MISSED
        if (seen & required) != required or sym_n == 0:
            return FAST_PATH_MISSED
        if seen & HAS_E_TIME:
            if ms > MAX_MS:
                return FAST_PATH_MISSED
            ts = <int64_t>ms * 1000000
        else:
            ts = self.ts_recv  # spot bookTicker has no event time
        if not self.symbols.lookup(sym, sym_n, False, &inst):
            return FAST_PATH_MISSED
        r = append_row(self, b, inst, ts)
        set_f8(b, QUOTE_BID_PRICE, r, bp)
        set_f8(b, QUOTE_BID_AMOUNT, r, bq)
        set_f8(b, QUOTE_ASK_PRICE, r, ap)
        set_f8(b, QUOTE_ASK_AMOUNT, r, aq)
        set_u8(b, QUOTE_UPDATE_ID, r, uid)
        return RC_PARSED

    cdef int depth_fast(self, const char* p, const char* end) except -100:
        """on_depth in one pass: the members read as the cursor passes, the level texts
        converted straight into b_delta rows past b.n (fast_levels), bids before asks. The
        rows count only once the frame has read whole: a member read twice, the asks before
        the bids, anything fast_levels refuses, or more rows than the frame may write, and
        the general path decides (it sets the verdict and its errors)."""
        cdef char key
        cdef unsigned int seen = 0, bit
        cdef bint done = False
        cdef const char* sym = NULL
        cdef Py_ssize_t sym_n = 0, bids = 0, asks = 0
        cdef uint64_t ms = 0, first = 0, last = 0, prev = 0
        cdef uint32_t inst
        cdef int64_t ts
        cdef RecordBuffer b = self.b_delta
        cdef Py_ssize_t r0 = b.n
        # room for as many levels as the frame could hold (one takes 9 bytes or more), so that
        # fast_levels need not grow the buffer under its uncommitted rows
        cdef Py_ssize_t room = r0 + (end - p) // 9 + 1
        if room > b.cap and room - b.committed <= self.max_rows:
            b.grow(room)
        while not done:
            p = fast_key(p, end, &key)
            if p == NULL:
                break
            bit = 0
            if key == 115:  # s
                p = fast_text(p, end, &sym, &sym_n)
                bit = HAS_S
            elif key == 69:  # E
                p = fast_uint(p, &ms)
                bit = HAS_E_TIME
            elif key == 85:  # U
                p = fast_uint(p, &first)
                bit = HAS_FIRST_ID
            elif key == 117:  # u
                p = fast_uint(p, &last)
                bit = HAS_U
            elif key == 98:  # b
                p = self.fast_levels(p, end, r0, &bids)
                bit = HAS_BID
            elif key == 97:  # a, after b: its rows follow the bids'
                p = self.fast_levels(p, end, r0 + bids, &asks) if seen & HAS_BID else NULL
                bit = HAS_ASK
            elif key == 0 and memcmp(p - 5, b'"pu":', 5) == 0:
                # futures send pu = -1 on the first event after a reset: no predecessor then
                if p[0] == 45 and p[1] == 49 and not is_digit(p[2]):
                    p += 2
                else:
                    p = fast_uint(p, &prev)
                bit = HAS_PREV_ID
            elif key == 101:  # a second event type
                break
            else:
                p = fast_other(p, end)
            if p == NULL or seen & bit:
                break
            seen |= bit
            p = fast_next(p, end, &done)
            if p == NULL:
                break
        if not (done and (seen & DEPTH_REQUIRED) == DEPTH_REQUIRED and sym_n > 0 and ms <= MAX_MS
                and r0 + bids + asks - b.committed <= self.max_rows
                and self.symbols.lookup(sym, sym_n, False, &inst)):
            return FAST_PATH_MISSED
        ts = <int64_t>ms * 1000000
        self.touched |= 1u << b.kind_id  # as reserve_rows notes a bulk write
        self.level_columns(r0, bids, 1, inst, ts, first, last, prev, 0)
        self.level_columns(r0 + bids, asks, -1, inst, ts, first, last, prev, 0)
        b.n = r0 + bids + asks
        if bids == 0 and asks == 0:
            self.book_marker(inst, ts, first, last, prev, 0, 0)
        return RC_PARSED

    # ---- messages ---------------------------------------------------------------------------

    cdef int on_trade(self, Field* f, const uint8_t* letters, bint agg) except -100:
        cdef Field* fs = letter(f, letters, b"s")
        cdef Field* fid = letter(f, letters, b"a" if agg else b"t")
        cdef double price, amount
        cdef int64_t ts
        cdef uint64_t trade_id
        cdef bint buyer_maker
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_trade
        if not is_text(fs):
            return -E_MISSING
        if not json_millis(letter(f, letters, b"T"), &ts) or not json_u64(fid, &trade_id):
            return -E_NUMBER
        if not decimal(letter(f, letters, b"p"), &price) or not decimal(letter(f, letters, b"q"), &amount):
            return -E_NUMBER
        if not json_bool(letter(f, letters, b"m"), &buyer_maker):
            return -E_TYPE
        if not self.instrument(fs, &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        # an integer token is the decimal text of its value: the id text as sent
        if not b.put_id(TRADE_TRADE_ID_OFF, r, fid.val, fid.vlen, False):
            return -E_TEXT
        set_f8(b, TRADE_PRICE, r, price)
        set_f8(b, TRADE_AMOUNT, r, amount)
        set_i1(b, TRADE_SIDE, r, -1 if buyer_maker else 1)  # the buyer was the maker: the taker sold
        set_u1(b, TRADE_AGGREGATED, r, 1 if agg else 0)
        return RC_PARSED

    cdef Py_ssize_t levels(self, Field* arr, int8_t side, uint32_t inst, int64_t ts, uint64_t first,
                           uint64_t last, uint64_t prev, uint8_t snapshot) except -100:
        """One book_delta row per level of a ``[["price","amount", ...], ...]`` array (decimal
        texts; elements past the second ignored); returns the number of rows."""
        cdef Py_ssize_t i, r0, rows = arr.lv_rows
        cdef Scalar* lv
        cdef RecordBuffer b = self.b_delta
        if arr.type != T_ARRAY:
            return -E_TYPE
        if rows < 0:  # a level held a container: not captured while scanning
            return self.uncaptured_levels(arr, side, inst, ts, first, last, prev, snapshot)
        if not reserve_rows(self, b, rows):
            return -E_LIMIT
        if b.n + rows > b.cap:
            b.grow(b.n + rows)
        r0 = b.n
        cdef double* c_price = <double*>b.ptr[BOOK_DELTA_PRICE] + r0
        cdef double* c_amount = <double*>b.ptr[BOOK_DELTA_AMOUNT] + r0
        lv = self.lv.items + arr.lv_start
        for i in range(rows):
            if not scalar_decimal(&lv[0], &c_price[i]) or not scalar_decimal(&lv[1], &c_amount[i]):
                return -E_NUMBER  # rows past b.n are not committed: nothing to undo
            lv += LEVEL_WIDTH
        self.level_columns(r0, rows, side, inst, ts, first, last, prev, snapshot)
        b.n = r0 + rows
        arr.lazy = False
        return rows

    cdef void level_columns(self, Py_ssize_t r0, Py_ssize_t rows, int8_t side, uint32_t inst, int64_t ts,
                            uint64_t first, uint64_t last, uint64_t prev, uint8_t snapshot) noexcept:
        """The columns every level row b_delta[r0:r0 + rows] shares (price and amount are
        written already; the rows are within the capacity)."""
        cdef RecordBuffer b = self.b_delta
        cdef Py_ssize_t i
        # Column pointers held in locals: the stores below go through char-typed pointers,
        # which may alias anything, so reading b.ptr[] inside the loop would reload it.
        cdef uint32_t* c_inst = <uint32_t*>b.ptr[COL_INSTRUMENT] + r0
        cdef uint32_t* c_frame = <uint32_t*>b.ptr[COL_FRAME] + r0
        cdef int64_t* c_ts = <int64_t*>b.ptr[COL_TS_EVENT] + r0
        cdef int64_t* c_recv = <int64_t*>b.ptr[COL_TS_RECV] + r0
        cdef int8_t* c_side = <int8_t*>b.ptr[BOOK_DELTA_SIDE] + r0
        cdef uint64_t* c_first = <uint64_t*>b.ptr[BOOK_DELTA_FIRST_UPDATE_ID] + r0
        cdef uint64_t* c_last = <uint64_t*>b.ptr[BOOK_DELTA_UPDATE_ID] + r0
        cdef uint64_t* c_prev = <uint64_t*>b.ptr[BOOK_DELTA_PREV_UPDATE_ID] + r0
        cdef uint8_t* c_snap = <uint8_t*>b.ptr[BOOK_DELTA_IS_SNAPSHOT] + r0
        cdef int64_t* c_sum = <int64_t*>b.ptr[BOOK_DELTA_CHECKSUM] + r0
        cdef uint32_t* c_ptoff = <uint32_t*>b.ptr[BOOK_DELTA_PRICE_TEXT_OFF] + r0
        cdef uint16_t* c_ptlen = <uint16_t*>b.ptr[BOOK_DELTA_PRICE_TEXT_LEN] + r0
        cdef uint32_t* c_atoff = <uint32_t*>b.ptr[BOOK_DELTA_AMOUNT_TEXT_OFF] + r0
        cdef uint16_t* c_atlen = <uint16_t*>b.ptr[BOOK_DELTA_AMOUNT_TEXT_LEN] + r0
        cdef uint32_t frame = self.frame
        cdef int64_t recv = self.ts_recv
        # no exit in the loop: the compiler vectorizes it
        for i in range(rows):
            c_inst[i] = inst
            c_frame[i] = frame
            c_ts[i] = ts
            c_recv[i] = recv
            c_side[i] = side
            c_first[i] = first
            c_last[i] = last
            c_prev[i] = prev
            c_snap[i] = snapshot
            c_sum[i] = 0
            c_ptoff[i] = 0
            c_ptlen[i] = 0
            c_atoff[i] = 0
            c_atlen[i] = 0

    cdef const char* fast_levels(self, const char* p, const char* end, Py_ssize_t r0, Py_ssize_t* rows) noexcept:
        """At a compact ``[["price","amount"],...]`` (two plain decimal texts per level): the
        prices and amounts converted straight into b_delta rows r0, r0 + 1, ... (past b.n:
        not committed until the caller says so), *rows their number; the byte after the
        array. NULL for any other shape, or when the capacity runs out: the general path
        then decides."""
        cdef RecordBuffer b = self.b_delta
        cdef double* c_price = <double*>b.ptr[BOOK_DELTA_PRICE]
        cdef double* c_amount = <double*>b.ptr[BOOK_DELTA_AMOUNT]
        cdef Py_ssize_t r = r0
        if p[0] != 91:
            return NULL
        p += 1
        if p[0] == 93:
            rows[0] = 0
            return p + 1
        while True:
            # a level is at least 9 bytes; the array and the frame's braces follow it
            if r >= b.cap or end - p < 12 or p[0] != 91 or p[1] != 34:
                return NULL
            p = level_decimal(p + 2, end, &c_price[r])
            if p == NULL or end - p < 6 or p[1] != 44 or p[2] != 34:
                return NULL
            p = level_decimal(p + 3, end, &c_amount[r])
            if p == NULL or end - p < 4 or p[1] != 93:
                return NULL
            r += 1
            p += 2
            if p[0] == 44:
                p += 1
            elif p[0] == 93:
                rows[0] = r - r0
                return p + 1
            else:
                return NULL

    cdef Py_ssize_t uncaptured_levels(self, Field* arr, int8_t side, uint32_t inst, int64_t ts, uint64_t first,
                                      uint64_t last, uint64_t prev, uint8_t snapshot) except -100:
        """levels() element by element, for an array the scanner did not capture as rows."""
        cdef ArrayIter it, row_it
        cdef Field level, v
        cdef Scalar pa[2]
        cdef double price, amount
        cdef Py_ssize_t rows = 0, r
        cdef int got, k
        cdef RecordBuffer b = self.b_delta
        array_begin(&it, arr.val, arr.vlen)
        while True:
            got = array_next(&it, &level)  # validates the element strictly
            if got == 0:
                break
            if got < 0:
                return -it.c.err
            if level.type != T_ARRAY:
                return -E_TYPE
            array_begin(&row_it, level.val, level.vlen)
            k = 0
            while True:
                got = array_next(&row_it, &v)
                if got == 0:
                    break
                if got < 0:
                    return -row_it.c.err
                if k < 2:
                    set_scalar(&pa[k], &v)
                k += 1
            if k < 2:
                return -E_VALUE
            if not scalar_decimal(&pa[0], &price) or not scalar_decimal(&pa[1], &amount):
                return -E_NUMBER
            r = append_row(self, b, inst, ts)
            set_i1(b, BOOK_DELTA_SIDE, r, side)
            set_f8(b, BOOK_DELTA_PRICE, r, price)
            set_f8(b, BOOK_DELTA_AMOUNT, r, amount)
            set_u8(b, BOOK_DELTA_FIRST_UPDATE_ID, r, first)
            set_u8(b, BOOK_DELTA_UPDATE_ID, r, last)
            set_u8(b, BOOK_DELTA_PREV_UPDATE_ID, r, prev)
            set_u1(b, BOOK_DELTA_IS_SNAPSHOT, r, snapshot)
            set_i8(b, BOOK_DELTA_CHECKSUM, r, 0)
            empty_text(b, BOOK_DELTA_PRICE_TEXT_OFF, r)
            empty_text(b, BOOK_DELTA_AMOUNT_TEXT_OFF, r)
            rows += 1
        arr.lazy = False
        return rows

    cdef int book_message(self, Field* fb, Field* fa, uint32_t inst, int64_t ts, uint64_t first,
                          uint64_t last, uint64_t prev, uint8_t snapshot) except -100:
        """The rows of one book message: all bids as listed, then all asks (a marker row
        when it changes no level)."""
        cdef Py_ssize_t bids, asks
        bids = self.levels(fb, 1, inst, ts, first, last, prev, snapshot)
        if bids < 0:
            return <int>bids
        asks = self.levels(fa, -1, inst, ts, first, last, prev, snapshot)
        if asks < 0:
            return <int>asks
        if bids == 0 and asks == 0:
            self.book_marker(inst, ts, first, last, prev, snapshot, 0)
        return RC_PARSED

    cdef int on_depth(self, Field* f, int nf, const uint8_t* letters) except -100:
        cdef Field* fs = letter(f, letters, b"s")
        cdef Field* fb = letter(f, letters, b"b")
        cdef Field* fa = letter(f, letters, b"a")
        cdef Field* w[1]
        cdef int64_t ts
        cdef uint64_t first, last, prev = 0
        cdef uint32_t inst
        if not is_text(fs):
            return -E_MISSING
        if fb == NULL or fa == NULL:
            return -E_MISSING
        if not json_millis(letter(f, letters, b"E"), &ts):
            return -E_NUMBER
        if not json_u64(letter(f, letters, b"U"), &first) or not json_u64(letter(f, letters, b"u"), &last):
            return -E_NUMBER
        pick(f, nf, "pu", w)
        if not json_u64_or_zero(w[0], &prev):
            # futures send pu = -1 on the first event after a reset: no predecessor then
            if not (w[0].type == T_NUMBER and w[0].vlen == 2 and w[0].val[0] == 45 and w[0].val[1] == 49):
                return -E_NUMBER
            prev = 0
        if not self.instrument(fs, &inst):
            return -E_TEXT
        return self.book_message(fb, fa, inst, ts, first, last, prev, 0)

    cdef int on_book_ticker(self, Field* f, const uint8_t* letters) except -100:
        cdef Field* fs = letter(f, letters, b"s")
        cdef Field* fE = letter(f, letters, b"E")
        cdef int64_t ts
        cdef uint64_t uid
        cdef double bp, bq, ap, aq
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_quote
        if not is_text(fs):
            return -E_MISSING
        if not json_u64(letter(f, letters, b"u"), &uid):
            return -E_NUMBER
        if fE == NULL:
            ts = self.ts_recv  # spot bookTicker has no event time
        elif not json_millis(fE, &ts):
            return -E_NUMBER
        if not (decimal(letter(f, letters, b"b"), &bp) and decimal(letter(f, letters, b"B"), &bq)
                and decimal(letter(f, letters, b"a"), &ap) and decimal(letter(f, letters, b"A"), &aq)):
            return -E_NUMBER
        if not self.instrument(fs, &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        set_f8(b, QUOTE_BID_PRICE, r, bp)
        set_f8(b, QUOTE_BID_AMOUNT, r, bq)
        set_f8(b, QUOTE_ASK_PRICE, r, ap)
        set_f8(b, QUOTE_ASK_AMOUNT, r, aq)
        set_u8(b, QUOTE_UPDATE_ID, r, uid)
        return RC_PARSED

    cdef int on_ticker(self, Field* f, const uint8_t* letters) except -100:
        # 24hrTicker: c Q o h l v q p P w b B a A n -> ticker columns (data-model.md)
        cdef Field* fs = letter(f, letters, b"s")
        cdef int j
        cdef int64_t ts
        cdef uint64_t count
        cdef double v[14]
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_ticker
        cdef const char* keys = b"cQohlvqpPwbBaA"
        cdef int cols[14]
        cols[:] = [TICKER_LAST_PRICE, TICKER_LAST_AMOUNT, TICKER_OPEN_PRICE, TICKER_HIGH_PRICE,
                   TICKER_LOW_PRICE, TICKER_VOLUME, TICKER_QUOTE_VOLUME, TICKER_PRICE_CHANGE,
                   TICKER_PRICE_CHANGE_PCT, TICKER_WEIGHTED_AVG_PRICE, TICKER_BID_PRICE,
                   TICKER_BID_AMOUNT, TICKER_ASK_PRICE, TICKER_ASK_AMOUNT]
        if not is_text(fs):
            return -E_MISSING
        if not json_millis(letter(f, letters, b"E"), &ts):
            return -E_NUMBER
        for j in range(14):
            if not decimal_or_nan(letter(f, letters, keys[j]), &v[j]):
                return -E_NUMBER
        if not json_u64_or_zero(letter(f, letters, b"n"), &count):
            return -E_NUMBER
        if not self.instrument(fs, &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        for j in range(14):
            set_f8(b, cols[j], r, v[j])
        set_f8(b, TICKER_MARK_PRICE, r, NAN)
        set_f8(b, TICKER_INDEX_PRICE, r, NAN)
        set_f8(b, TICKER_OPEN_INTEREST, r, NAN)
        set_u8(b, TICKER_TRADE_COUNT, r, count)
        return RC_PARSED

    cdef int on_kline(self, Field* f, const uint8_t* letters) except -100:
        cdef Field kf_stack[MAX_FIELDS]
        cdef Field* kf = kf_stack
        cdef uint8_t kl[128]
        cdef int nk = 0, j, rc
        cdef Field* fs = letter(f, letters, b"s")
        cdef Field* fk = letter(f, letters, b"k")
        cdef Field *fi
        cdef double v[8]
        cdef int64_t ts, t_open, t_close
        cdef uint64_t count
        cdef bint closed
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_kline
        # o h l c v are required, q V Q may be absent (NaN)
        cdef const char* keys = b"ohlcvqVQ"
        cdef int cols[8]
        cols[:] = [KLINE_OPEN, KLINE_HIGH, KLINE_LOW, KLINE_CLOSE, KLINE_VOLUME, KLINE_QUOTE_VOLUME,
                   KLINE_TAKER_BUY_VOLUME, KLINE_TAKER_BUY_QUOTE_VOLUME]
        if not is_text(fs):
            return -E_MISSING
        if not json_millis(letter(f, letters, b"E"), &ts):
            return -E_NUMBER
        if fk == NULL:
            return -E_MISSING
        if fk.type != T_OBJECT:
            return -E_TYPE
        memset(kl, 0, 128)
        rc = scan_members(fk.val, fk.vlen, &kf, &nk, False, NULL, kl, not self.lexed)
        if rc:
            return -rc
        fk.lazy = False
        fi = letter(kf, kl, b"i")
        if not is_text(fi):
            return -E_MISSING
        if not json_millis(letter(kf, kl, b"t"), &t_open) or not json_millis(letter(kf, kl, b"T"), &t_close):
            return -E_NUMBER
        for j in range(5):
            if not decimal(letter(kf, kl, keys[j]), &v[j]):
                return -E_NUMBER
        for j in range(5, 8):
            if not decimal_or_nan(letter(kf, kl, keys[j]), &v[j]):
                return -E_NUMBER
        if not json_u64_or_zero(letter(kf, kl, b"n"), &count):
            return -E_NUMBER
        if not json_bool(letter(kf, kl, b"x"), &closed):
            return -E_TYPE
        if not self.instrument(fs, &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        if not b.put_text(KLINE_INTERVAL_OFF, r, fi.val, fi.vlen, fi.escaped):
            return -E_TEXT
        set_i8(b, KLINE_OPEN_TIME, r, t_open)
        set_i8(b, KLINE_CLOSE_TIME, r, t_close)
        for j in range(8):
            set_f8(b, cols[j], r, v[j])
        set_u8(b, KLINE_TRADE_COUNT, r, count)
        set_u1(b, KLINE_CLOSED, r, 1 if closed else 0)
        return RC_PARSED

    cdef int on_mark_price(self, Field* f, const uint8_t* letters) except -100:
        cdef Field* fs = letter(f, letters, b"s")
        cdef Field* fT = letter(f, letters, b"T")
        cdef int64_t ts, t_funding = 0
        cdef double mark, index, rate
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_funding
        if not is_text(fs):
            return -E_MISSING
        if not json_millis(letter(f, letters, b"E"), &ts):
            return -E_NUMBER
        if not (decimal_or_nan(letter(f, letters, b"r"), &rate) and decimal(letter(f, letters, b"p"), &mark)
                and decimal_or_nan(letter(f, letters, b"i"), &index)):
            return -E_NUMBER
        if fT != NULL and fT.type != T_NULL and not json_millis(fT, &t_funding):
            return -E_NUMBER
        if not self.instrument(fs, &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        set_f8(b, FUNDING_RATE_FUNDING_RATE, r, rate)
        set_f8(b, FUNDING_RATE_PREDICTED_RATE, r, NAN)
        set_f8(b, FUNDING_RATE_MARK_PRICE, r, mark)
        set_f8(b, FUNDING_RATE_INDEX_PRICE, r, index)
        set_i8(b, FUNDING_RATE_FUNDING_TIME, r, t_funding)
        return RC_PARSED

    cdef int on_force_order(self, Field* f, const uint8_t* letters) except -100:
        cdef Field of_stack[MAX_FIELDS]
        cdef Field* of = of_stack
        cdef uint8_t ol[128]
        cdef int no = 0, rc
        cdef Field* fo = letter(f, letters, b"o")
        cdef Field *fs, *fS, *fX
        cdef int64_t ts
        cdef double price, amount
        cdef int8_t side
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_liq
        if fo == NULL:
            return -E_MISSING
        if fo.type != T_OBJECT:
            return -E_TYPE
        memset(ol, 0, 128)
        rc = scan_members(fo.val, fo.vlen, &of, &no, False, NULL, ol, not self.lexed)
        if rc:
            return -rc
        fo.lazy = False
        fs = letter(of, ol, b"s")
        fS = letter(of, ol, b"S")
        fX = letter(of, ol, b"X")
        if not is_text(fs):
            return -E_MISSING
        if not json_millis(letter(of, ol, b"T"), &ts):
            return -E_NUMBER
        if word_is(fS, "BUY", 3):
            side = 1
        elif word_is(fS, "SELL", 4):
            side = -1
        else:
            return -E_VALUE
        if not (decimal(letter(of, ol, b"p"), &price) and decimal(letter(of, ol, b"q"), &amount)):
            return -E_NUMBER
        if not text_or_empty(fX):
            return -E_TYPE
        if not self.instrument(fs, &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        set_i1(b, LIQUIDATION_SIDE, r, side)
        set_f8(b, LIQUIDATION_PRICE, r, price)
        set_f8(b, LIQUIDATION_AMOUNT, r, amount)
        empty_text(b, LIQUIDATION_ORDER_ID_OFF, r)
        if fX != NULL and fX.type == T_STRING:
            if not b.put_text(LIQUIDATION_STATUS_OFF, r, fX.val, fX.vlen, fX.escaped):
                return -E_TEXT
        else:
            empty_text(b, LIQUIDATION_STATUS_OFF, r)
        return RC_PARSED

    # ---- REST bodies ------------------------------------------------------------------------

    cdef int rest_object(self, const char* p, Py_ssize_t n, Field** f, int* nf) except -100:
        """A REST body: one JSON object, not a Binance error reply (``code`` and ``msg``);
        its members in *f (see scan_object)."""
        cdef Field* w[2]
        cdef int rc = self.begin_text(p, n)
        if rc < 0:
            return rc
        rc = scan_object(p, n, f, nf, True, &self.lv)
        if rc:
            return -rc
        pick(f[0], nf[0], "code msg", w)
        if w[0] != NULL and w[1] != NULL:
            return -E_VALUE
        return 0

    cdef int parse_snapshot(self, const char* p, Py_ssize_t n, str raw_symbol) except -100:
        cdef Field f_stack[MAX_FIELDS]
        cdef Field* f = f_stack
        cdef Field* w[4]
        cdef int nf = 0, rc
        cdef uint64_t last
        cdef uint32_t inst
        cdef bytes sym
        rc = self.rest_object(p, n, &f, &nf)
        if rc < 0:
            return rc
        pick(f, nf, "lastUpdateId bids asks symbol", w)
        if raw_symbol:
            sym = raw_symbol.encode()
            if not self.symbols.lookup(sym, len(sym), False, &inst):
                return -E_TEXT
        elif not is_text(w[3]) or not self.instrument(w[3], &inst):
            return -E_MISSING
        if not json_u64(w[0], &last):
            return -E_NUMBER
        if w[1] == NULL or w[2] == NULL:
            return -E_MISSING
        rc = self.book_message(w[1], w[2], inst, self.ts_recv, last, last, 0, 1)
        if rc < 0:
            return rc
        rc = validate_lazy(f, nf)
        return -rc if rc else RC_PARSED

    cdef int parse_open_interest(self, const char* p, Py_ssize_t n) except -100:
        cdef Field f_stack[MAX_FIELDS]
        cdef Field* f = f_stack
        cdef Field* w[3]
        cdef int nf = 0, rc
        cdef double oi
        cdef int64_t ts
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_oi
        rc = self.rest_object(p, n, &f, &nf)
        if rc < 0:
            return rc
        pick(f, nf, "openInterest symbol time", w)
        if not is_text(w[1]):
            return -E_MISSING
        if not json_millis(w[2], &ts):
            return -E_NUMBER
        if not decimal(w[0], &oi):
            return -E_NUMBER
        if not self.instrument(w[1], &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        set_f8(b, OPEN_INTEREST_OPEN_INTEREST, r, oi)
        set_f8(b, OPEN_INTEREST_OPEN_INTEREST_VALUE, r, NAN)
        rc = validate_lazy(f, nf)
        return -rc if rc else RC_PARSED
