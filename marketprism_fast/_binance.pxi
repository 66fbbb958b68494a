# Binance spot, USD-M and COIN-M: raw (`{"e":...}`) and combined (`{"stream":..,"data":..}`)
# frames, and the REST depth-snapshot and openInterest bodies.
#
# Binance keys are single letters (`s` symbol, `E` event time, `T` trade/transaction time,
# `p` price, `q` quantity, `m` buyer-is-maker, `U`/`u` first/final update id, `pu` previous
# final update id, `b`/`a` bids/asks), case-sensitive, in any order.

DEF ID_TEXT_MAX = 64
DEF FAST_PATH_MISSED = -99


cdef class BinanceParser(ParserBase):
    """Compiled parser for binance_spot / binance_usdm / binance_coinm."""

    cdef int parse_frame(self, const char* p, Py_ssize_t n) except -100:
        cdef Field top[MAX_FIELDS]
        cdef uint8_t letters[128]
        cdef int nt = 0, rc, i
        cdef Field* data = NULL
        cdef Field* stream = NULL
        cdef Py_ssize_t s = 0
        rc = self.begin_text(p, n)
        if rc < 0:
            return rc
        while s < n and (p[s] == 32 or p[s] == 10 or p[s] == 13 or p[s] == 9):
            s += 1
        if s < n and p[s] == 91:  # a raw all-market stream sends a JSON array of events
            return self.event_array(p + s, n - s, True)
        rc = self.combined_fast(p, n)
        if rc != FAST_PATH_MISSED:
            return rc
        memset(letters, 0, 128)
        rc = scan_members(p, n, top, &nt, True, &self.lv, letters, not self.lexed)
        if rc:
            return -rc
        for i in range(nt):
            if key_is(&top[i], "data", 4):
                data = &top[i]
            elif key_is(&top[i], "stream", 6):
                stream = &top[i]
        if data != NULL and stream != NULL:
            if stream.type != T_STRING:
                return -E_TYPE
            if data.type == T_OBJECT:
                rc = self.event_object(data.val, data.vlen)
            elif data.type == T_ARRAY:
                rc = self.event_array(data.val, data.vlen, True)
            else:
                return -E_TYPE
            data.lazy = False
            if rc >= 0:
                nt = validate_lazy(top, nt)
                if nt:
                    return -nt
            return rc
        return self.dispatch(top, nt, letters)

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
        cdef Field f[MAX_FIELDS]
        cdef uint8_t letters[128]
        cdef int nf = 0
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
        memset(letters, 0, 128)
        if scan_members(d, (e - 1) - d, f, &nf, True, &self.lv, letters, not self.lexed) != E_OK:
            return FAST_PATH_MISSED
        return self.dispatch(f, nf, letters)

    cdef int event_object(self, const char* p, Py_ssize_t n) except -100:
        cdef Field f[MAX_FIELDS]
        cdef uint8_t letters[128]
        cdef int nf = 0
        cdef int rc
        memset(letters, 0, 128)
        rc = scan_members(p, n, f, &nf, True, &self.lv, letters, not self.lexed)
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
        """Every element an event object (e.g. ``!markPrice@arr``); the frame's status is
        that of its events: parsed if any parsed, malformed if any is malformed."""
        cdef Cursor c
        cdef ArrayIter it
        cdef Field elem
        cdef int got, rc, result = RC_SKIP + SKIP_UNKNOWN_CHANNEL
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
                result = RC_PARSED
        return result

    cdef int route(self, Field* f, int nf, const uint8_t* letters) except -100:
        cdef Field* e = letter(f, letters, b"e")
        cdef int i
        if e != NULL:
            if e.type != T_STRING:
                return -E_TYPE
            if field_is(e, "trade", 5):
                return self.on_trade(f, letters, False)
            if field_is(e, "aggTrade", 8):
                return self.on_trade(f, letters, True)
            if field_is(e, "depthUpdate", 11):
                return self.on_depth(f, nf, letters)
            if field_is(e, "bookTicker", 10):
                return self.on_book_ticker(f, letters)
            if field_is(e, "24hrTicker", 10):
                return self.on_ticker(f, nf)
            if field_is(e, "kline", 5):
                return self.on_kline(f, nf)
            if field_is(e, "markPriceUpdate", 15):
                return self.on_mark_price(f, nf)
            if field_is(e, "forceOrder", 10):
                return self.on_force_order(f, nf)
            return RC_SKIP + SKIP_UNKNOWN_CHANNEL
        if letter(f, letters, b"u") != NULL:  # spot bookTicker carries no event type
            return self.on_book_ticker(f, letters)
        for i in range(nf):
            if key_is(&f[i], "result", 6) or key_is(&f[i], "id", 2):
                for i in range(nf):
                    if key_is(&f[i], "error", 5):
                        self.report_error_event(f, nf)
                        return RC_SKIP + SKIP_ERROR_EVENT
                return RC_SKIP + SKIP_ACK
            if key_is(&f[i], "error", 5):
                self.report_error_event(f, nf)
                return RC_SKIP + SKIP_ERROR_EVENT
        return RC_SKIP + SKIP_UNKNOWN_CHANNEL

    cdef void report_error_event(self, Field* f, int nf) noexcept:
        cdef Field* err = find_field(f, nf, "error", 5)
        try:
            text = (err.val[:err.vlen] if err != NULL else b"").decode("utf-8", "replace")
            _log.warning("%s: error event from the venue: %s", self.venue, text[:200])
        except Exception:
            pass

    # ---- messages ---------------------------------------------------------------------------

    cdef int on_trade(self, Field* f, const uint8_t* letters, bint agg) except -100:
        cdef Field* fs = letter(f, letters, b"s")
        cdef Field* fp = letter(f, letters, b"p")
        cdef Field* fq = letter(f, letters, b"q")
        cdef Field* fT = letter(f, letters, b"T")
        cdef Field* fm = letter(f, letters, b"m")
        cdef Field* fid = letter(f, letters, b"a" if agg else b"t")
        cdef double price, amount
        cdef int64_t ts
        cdef uint32_t inst
        cdef int8_t side = 0
        cdef Py_ssize_t r
        if fs == NULL or fp == NULL or fq == NULL or fT == NULL or fid == NULL:
            return -E_MISSING
        if not field_double(fp, &price) or not field_double(fq, &amount):
            return -E_NUMBER
        if not field_ms_to_ns(fT, &ts):
            return -E_NUMBER
        if fm != NULL:
            if fm.type == T_TRUE:
                side = -1  # the buyer was the maker: the taker sold
            elif fm.type == T_FALSE:
                side = 1
            else:
                return -E_TYPE
        if fid.type != T_NUMBER and fid.type != T_STRING:
            return -E_TYPE
        if fid.vlen == 0 or fid.vlen > ID_TEXT_MAX:
            return -E_TEXT
        if not self.instrument(fs, &inst):
            return -E_TEXT
        r = append_row(self, self.b_trade, inst, ts)
        if not self.b_trade.put_text(TRADE_TRADE_ID_OFF, r, fid.val, fid.vlen, fid.escaped):
            return -E_TEXT
        set_f8(self.b_trade, TRADE_PRICE, r, price)
        set_f8(self.b_trade, TRADE_AMOUNT, r, amount)
        set_i1(self.b_trade, TRADE_SIDE, r, side)
        set_u1(self.b_trade, TRADE_AGGREGATED, r, 1 if agg else 0)
        return RC_PARSED

    cdef int levels(self, Field* arr, int8_t side, uint32_t inst, int64_t ts, uint64_t first,
                    uint64_t last, uint64_t prev, uint8_t snapshot) except -100:
        """One book_delta row per level of a ``[["p","q"], ...]`` array."""
        cdef Py_ssize_t i, r0, rows = arr.lv_rows
        cdef Scalar* lv
        cdef RecordBuffer b = self.b_delta
        if arr.type != T_ARRAY or rows < 0:
            return -E_TYPE
        if b.n + rows > b.cap:
            b.grow(b.n + rows)
        r0 = b.n
        # Column pointers held in locals: the stores below go through char-typed pointers,
        # which may alias anything, so reading b.ptr[] inside the loop would reload it.
        cdef uint32_t* c_inst = <uint32_t*>b.ptr[COL_INSTRUMENT] + r0
        cdef uint32_t* c_frame = <uint32_t*>b.ptr[COL_FRAME] + r0
        cdef int64_t* c_ts = <int64_t*>b.ptr[COL_TS_EVENT] + r0
        cdef int64_t* c_recv = <int64_t*>b.ptr[COL_TS_RECV] + r0
        cdef int8_t* c_side = <int8_t*>b.ptr[BOOK_DELTA_SIDE] + r0
        cdef double* c_price = <double*>b.ptr[BOOK_DELTA_PRICE] + r0
        cdef double* c_amount = <double*>b.ptr[BOOK_DELTA_AMOUNT] + r0
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
        lv = self.lv.items + arr.lv_start
        for i in range(rows):
            if not scalar_double(&lv[0], &c_price[i]) or not scalar_double(&lv[1], &c_amount[i]):
                return -E_NUMBER  # rows past b.n are not committed: nothing to undo
            lv += LEVEL_WIDTH
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
        b.n = r0 + rows
        return 0

    cdef int on_depth(self, Field* f, int nf, const uint8_t* letters) except -100:
        cdef Field* fs = letter(f, letters, b"s")
        cdef Field* fE = letter(f, letters, b"E")
        cdef Field* fU = letter(f, letters, b"U")
        cdef Field* fu = letter(f, letters, b"u")
        cdef Field* fb = letter(f, letters, b"b")
        cdef Field* fa = letter(f, letters, b"a")
        cdef Field* fpu = NULL
        cdef int i, rc
        cdef int64_t ts
        cdef uint64_t first = 0, last = 0, prev = 0
        cdef uint32_t inst
        for i in range(nf):
            if key_is(&f[i], "pu", 2):
                fpu = &f[i]
        if fs == NULL or fE == NULL or fU == NULL or fu == NULL or fb == NULL or fa == NULL:
            return -E_MISSING
        if not field_ms_to_ns(fE, &ts) or not field_u64(fU, &first) or not field_u64(fu, &last):
            return -E_NUMBER
        if fpu != NULL and not field_u64(fpu, &prev):
            # futures send pu = -1 on the first event after a reset; no predecessor then
            if not (fpu.type == T_NUMBER and fpu.vlen == 2 and fpu.val[0] == 45 and fpu.val[1] == 49):
                return -E_NUMBER
            prev = 0
        if not self.instrument(fs, &inst):
            return -E_TEXT
        rc = self.levels(fb, 1, inst, ts, first, last, prev, 0)
        if rc < 0:
            return rc
        rc = self.levels(fa, -1, inst, ts, first, last, prev, 0)
        if rc < 0:
            return rc
        if fb.lv_rows == 0 and fa.lv_rows == 0:
            self.book_marker(inst, ts, first, last, prev, 0, 0)
        return RC_PARSED

    cdef int on_book_ticker(self, Field* f, const uint8_t* letters) except -100:
        cdef Field* fs = letter(f, letters, b"s")
        cdef Field* fE = letter(f, letters, b"E")
        cdef Field* fu = letter(f, letters, b"u")
        cdef Field* fb = letter(f, letters, b"b")
        cdef Field* fB = letter(f, letters, b"B")
        cdef Field* fa = letter(f, letters, b"a")
        cdef Field* fA = letter(f, letters, b"A")
        cdef int64_t ts
        cdef uint64_t uid
        cdef double bp, bq, ap, aq
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_quote
        if fs == NULL or fu == NULL or fb == NULL or fB == NULL or fa == NULL or fA == NULL:
            return -E_MISSING
        if not field_u64(fu, &uid):
            return -E_NUMBER
        if fE != NULL:
            if not field_ms_to_ns(fE, &ts):
                return -E_NUMBER
        else:
            ts = self.ts_recv  # spot bookTicker has no event time
        if not (field_double(fb, &bp) and field_double(fB, &bq) and field_double(fa, &ap) and field_double(fA, &aq)):
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

    cdef int on_ticker(self, Field* f, int nf) except -100:
        # 24hrTicker: c Q o h l v q p P w b B a A n -> ticker columns (data-model.md)
        cdef Field* slot[15]
        cdef Field *fs = NULL, *fE = NULL
        cdef int i, j
        cdef char k
        cdef int64_t ts
        cdef uint64_t count = 0
        cdef double v[14]
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_ticker
        cdef const char* keys = b"cQohlvqpPwbBaAn"
        cdef int cols[14]
        cols[:] = [TICKER_LAST_PRICE, TICKER_LAST_AMOUNT, TICKER_OPEN_PRICE, TICKER_HIGH_PRICE,
                   TICKER_LOW_PRICE, TICKER_VOLUME, TICKER_QUOTE_VOLUME, TICKER_PRICE_CHANGE,
                   TICKER_PRICE_CHANGE_PCT, TICKER_WEIGHTED_AVG_PRICE, TICKER_BID_PRICE,
                   TICKER_BID_AMOUNT, TICKER_ASK_PRICE, TICKER_ASK_AMOUNT]
        for j in range(15):
            slot[j] = NULL
        for i in range(nf):
            if f[i].klen != 1:
                continue
            k = f[i].key[0]
            if k == ord("s"):
                fs = &f[i]
            elif k == ord("E"):
                fE = &f[i]
            else:
                for j in range(15):
                    if keys[j] == k:
                        slot[j] = &f[i]
                        break
        if fs == NULL or fE == NULL:
            return -E_MISSING
        if not field_ms_to_ns(fE, &ts):
            return -E_NUMBER
        for j in range(14):
            if not field_double(slot[j], &v[j]):
                return -E_NUMBER
        if slot[14] != NULL and not field_u64(slot[14], &count):
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

    cdef int on_kline(self, Field* f, int nf) except -100:
        cdef Field kf[MAX_FIELDS]
        cdef int nk = 0, i, j, rc
        cdef Field *fs = NULL, *fE = NULL, *fk = NULL, *ft = NULL, *fT = NULL, *fi = NULL
        cdef Field *fn = NULL, *fx = NULL
        cdef Field* slot[8]
        cdef double v[8]
        cdef char k
        cdef int64_t ts, t_open, t_close
        cdef uint64_t count = 0
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_kline
        cdef const char* keys = b"ohlcvqVQ"
        cdef int cols[8]
        cols[:] = [KLINE_OPEN, KLINE_HIGH, KLINE_LOW, KLINE_CLOSE, KLINE_VOLUME, KLINE_QUOTE_VOLUME,
                   KLINE_TAKER_BUY_VOLUME, KLINE_TAKER_BUY_QUOTE_VOLUME]
        for i in range(nf):
            if f[i].klen != 1:
                continue
            k = f[i].key[0]
            if k == ord("s"):
                fs = &f[i]
            elif k == ord("E"):
                fE = &f[i]
            elif k == ord("k"):
                fk = &f[i]
        if fE == NULL or fk == NULL:
            return -E_MISSING
        if fk.type != T_OBJECT:
            return -E_TYPE
        rc = scan_object(fk.val, fk.vlen, kf, &nk, False)
        if rc:
            return -rc
        fk.lazy = False
        for j in range(8):
            slot[j] = NULL
        for i in range(nk):
            if kf[i].klen != 1:
                continue
            k = kf[i].key[0]
            if k == ord("t"):
                ft = &kf[i]
            elif k == ord("T"):
                fT = &kf[i]
            elif k == ord("i"):
                fi = &kf[i]
            elif k == ord("n"):
                fn = &kf[i]
            elif k == ord("x"):
                fx = &kf[i]
            elif k == ord("s") and fs == NULL:
                fs = &kf[i]
            else:
                for j in range(8):
                    if keys[j] == k:
                        slot[j] = &kf[i]
                        break
        if fs == NULL or ft == NULL or fT == NULL or fi == NULL:
            return -E_MISSING
        if fi.type != T_STRING or fi.vlen == 0 or fi.vlen > 16:
            return -E_TEXT
        if not (field_ms_to_ns(fE, &ts) and field_ms_to_ns(ft, &t_open) and field_ms_to_ns(fT, &t_close)):
            return -E_NUMBER
        for j in range(8):
            if not field_double(slot[j], &v[j]):
                return -E_NUMBER
        if fn != NULL and not field_u64(fn, &count):
            return -E_NUMBER
        if fx != NULL and fx.type != T_TRUE and fx.type != T_FALSE:
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
        set_u1(b, KLINE_CLOSED, r, 1 if (fx != NULL and fx.type == T_TRUE) else 0)
        return RC_PARSED

    cdef int on_mark_price(self, Field* f, int nf) except -100:
        cdef Field *fs = NULL, *fE = NULL, *fp = NULL, *fi = NULL, *fr = NULL, *fT = NULL
        cdef int i
        cdef char k
        cdef int64_t ts, t_funding = 0
        cdef double mark, index, rate
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_funding
        for i in range(nf):
            if f[i].klen != 1:
                continue
            k = f[i].key[0]
            if k == ord("s"):
                fs = &f[i]
            elif k == ord("E"):
                fE = &f[i]
            elif k == ord("p"):
                fp = &f[i]
            elif k == ord("i"):
                fi = &f[i]
            elif k == ord("r"):
                fr = &f[i]
            elif k == ord("T"):
                fT = &f[i]
        if fs == NULL or fE == NULL:
            return -E_MISSING
        if not field_ms_to_ns(fE, &ts):
            return -E_NUMBER
        if not (field_double(fp, &mark) and field_double(fi, &index) and field_double(fr, &rate)):
            return -E_NUMBER
        if fT != NULL and not field_ms_to_ns(fT, &t_funding):
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

    cdef int on_force_order(self, Field* f, int nf) except -100:
        cdef Field of[MAX_FIELDS]
        cdef int no = 0, i, rc
        cdef Field *fo = NULL, *fs = NULL, *fS = NULL, *fq = NULL, *fp = NULL, *fX = NULL, *fT = NULL
        cdef char k
        cdef int64_t ts
        cdef double price, amount
        cdef int8_t side
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_liq
        fo = find_field(f, nf, "o", 1)
        if fo == NULL:
            return -E_MISSING
        if fo.type != T_OBJECT:
            return -E_TYPE
        rc = scan_object(fo.val, fo.vlen, of, &no, False)
        if rc:
            return -rc
        fo.lazy = False
        for i in range(no):
            if of[i].klen != 1:
                continue
            k = of[i].key[0]
            if k == ord("s"):
                fs = &of[i]
            elif k == ord("S"):
                fS = &of[i]
            elif k == ord("q"):
                fq = &of[i]
            elif k == ord("p"):
                fp = &of[i]
            elif k == ord("X"):
                fX = &of[i]
            elif k == ord("T"):
                fT = &of[i]
        if fs == NULL or fS == NULL or fq == NULL or fp == NULL or fT == NULL:
            return -E_MISSING
        if field_is(fS, "BUY", 3):
            side = 1
        elif field_is(fS, "SELL", 4):
            side = -1
        else:
            return -E_VALUE
        if not (field_double(fp, &price) and field_double(fq, &amount)):
            return -E_NUMBER
        if not field_ms_to_ns(fT, &ts):
            return -E_NUMBER
        if fX != NULL and fX.type != T_STRING:
            return -E_TYPE
        if not self.instrument(fs, &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        set_i1(b, LIQUIDATION_SIDE, r, side)
        set_f8(b, LIQUIDATION_PRICE, r, price)
        set_f8(b, LIQUIDATION_AMOUNT, r, amount)
        empty_text(b, LIQUIDATION_ORDER_ID_OFF, r)
        if fX != NULL:
            if not b.put_text(LIQUIDATION_STATUS_OFF, r, fX.val, fX.vlen, fX.escaped):
                return -E_TEXT
        else:
            empty_text(b, LIQUIDATION_STATUS_OFF, r)
        return RC_PARSED

    # ---- REST bodies ------------------------------------------------------------------------

    cdef int parse_snapshot(self, const char* p, Py_ssize_t n, str raw_symbol) except -100:
        cdef Field f[MAX_FIELDS]
        cdef int nf = 0, rc
        cdef Field *fid = NULL, *fb = NULL, *fa = NULL, *fs = NULL
        cdef uint64_t last
        cdef uint32_t inst
        cdef bytes sym
        rc = self.begin_text(p, n)
        if rc < 0:
            return rc
        rc = scan_object(p, n, f, &nf, True, &self.lv)
        if rc:
            return -rc
        fid = find_field(f, nf, "lastUpdateId", 12)
        fb = find_field(f, nf, "bids", 4)
        fa = find_field(f, nf, "asks", 4)
        fs = find_field(f, nf, "symbol", 6)
        if fid == NULL or fb == NULL or fa == NULL:
            return -E_MISSING
        if not field_u64(fid, &last):
            return -E_NUMBER
        if raw_symbol:
            sym = raw_symbol.encode()
            if not self.symbols.lookup(sym, len(sym), False, &inst):
                return -E_TEXT
        elif not self.instrument(fs, &inst):
            return -E_MISSING
        rc = self.levels(fb, 1, inst, self.ts_recv, last, last, 0, 1)
        if rc < 0:
            return rc
        rc = self.levels(fa, -1, inst, self.ts_recv, last, last, 0, 1)
        if rc < 0:
            return rc
        if fb.lv_rows == 0 and fa.lv_rows == 0:
            self.book_marker(inst, self.ts_recv, last, last, 0, 1, 0)
        rc = validate_lazy(f, nf)
        return -rc if rc else RC_PARSED

    cdef int parse_open_interest(self, const char* p, Py_ssize_t n) except -100:
        cdef Field f[MAX_FIELDS]
        cdef int nf = 0, rc
        cdef Field *fo, *fs, *ft
        cdef double oi
        cdef int64_t ts
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_oi
        rc = self.begin_text(p, n)
        if rc < 0:
            return rc
        rc = scan_object(p, n, f, &nf)
        if rc:
            return -rc
        fo = find_field(f, nf, "openInterest", 12)
        fs = find_field(f, nf, "symbol", 6)
        ft = find_field(f, nf, "time", 4)
        if fo == NULL or fs == NULL or ft == NULL:
            return -E_MISSING
        if not field_double(fo, &oi):
            return -E_NUMBER
        if not field_ms_to_ns(ft, &ts):
            return -E_NUMBER
        if not self.instrument(fs, &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        set_f8(b, OPEN_INTEREST_OPEN_INTEREST, r, oi)
        set_f8(b, OPEN_INTEREST_OPEN_INTEREST_VALUE, r, NAN)
        rc = validate_lazy(f, nf)
        return -rc if rc else RC_PARSED
