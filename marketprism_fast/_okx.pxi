# OKX v5 public channels (compiled). reference/okx.py is the oracle: same records, same
# verdicts (parsed / skipped / malformed) for every frame.
#
# This file also holds StrictParser, the base of the OKX and Deribit parsers (Deribit's file
# is included after this one). Their frames nest records in arrays of objects and carry values
# the scanner only skips, so on top of the scanner and the lexical checks (_lexical.pxi) it
# adds: objects inside arrays (``"data":[{...}]``), scanned once each, levels captured in the
# pass; and check_rest, which validates what no handler consumed.

cdef inline void copy_short(char* d, const char* s, Py_ssize_t n) noexcept nogil:
    """memcpy for the short texts of levels, inline: fixed-size blocks, the last one
    overlapping (nothing read or written outside the n bytes)."""
    cdef Py_ssize_t i = 0
    if n >= 8:
        while i + 8 < n:
            memcpy(d + i, s + i, 8)
            i += 8
        memcpy(d + n - 8, s + n - 8, 8)
    elif n >= 4:
        memcpy(d, s, 4)
        memcpy(d + n - 4, s + n - 4, 4)
    else:
        while i < n:
            d[i] = s[i]
            i += 1


cdef inline bint arena_text(RecordBuffer b, int off_col, Py_ssize_t row, Scalar* v) noexcept nogil:
    """put_text of an unescaped text into arena room the caller made sure of; False for
    an escaped one (put_text unescapes it)."""
    if v.escaped or v.vlen > 65535:
        return False
    copy_short(b.arena + b.arena_n, v.val, v.vlen)
    (<uint32_t*>b.ptr[off_col])[row] = <uint32_t>b.arena_n
    (<uint16_t*>b.ptr[off_col + 1])[row] = <uint16_t>v.vlen
    b.arena_n += v.vlen
    return True


cdef inline const char* after_scalar(Scalar* v) noexcept nogil:
    """The first byte after a captured level element (past a string's closing quote)."""
    return v.val + v.vlen + (1 if v.type == T_STRING else 0)


cdef struct LevelContext:
    # what every book_delta row of one side of one book message shares
    int8_t side
    uint8_t snapshot
    bint grouped             # Deribit grouped books: [price, amount] levels
    uint32_t inst
    int64_t ts
    uint64_t update_id
    uint64_t prev_update_id
    int64_t checksum


cdef const char* row_tail(const char* s, const char* end) except? NULL:
    """Past the elements of a captured level row beyond LEVEL_WIDTH (``, scalar`` groups,
    which capture_levels only counts): the row's ']', or NULL if they are not valid."""
    cdef Cursor c
    cdef const char* v
    cdef Py_ssize_t vn
    cdef bint esc
    cdef char ch
    c.p = s
    c.end = end
    c.err = E_OK
    while True:
        skip_ws(&c)
        if c.p >= c.end:
            return NULL
        if c.p[0] == 93:
            return c.p
        if c.p[0] != 44:
            return NULL
        c.p += 1
        skip_ws(&c)
        if c.p >= c.end:
            return NULL
        ch = c.p[0]
        v = c.p
        if ch == 34:
            if not scan_string(&c, &v, &vn, &esc):
                return NULL
        elif ch == 116:
            if not scan_literal(&c, "true", 4):
                return NULL
        elif ch == 102:
            if not scan_literal(&c, "false", 5):
                return NULL
        elif ch == 110:
            if not scan_literal(&c, "null", 4):
                return NULL
        elif not scan_number_token(&c):
            return NULL


cdef inline bint short_decimal(Cursor* c, Scalar* out) noexcept nogil:
    """At a level text's opening quote: a plain decimal (fast_decimal) and its closing
    quote into *out, cursor past it; False with the cursor unchanged for anything else.
    quick_decimal without its set-up cost, for the short texts of OKX levels."""
    cdef const char* q
    cdef char last = (c.end - 1)[0]
    if is_digit(last) or last == 45 or last == 46:  # fast_decimal needs a sentinel
        return False
    q = fast_decimal(c.p + 1, &out.num)
    if q == NULL or q >= c.end or q[0] != 34:
        return False
    out.has_num = 1
    out.escaped = 0
    out.type = T_STRING
    out.val = c.p + 1
    out.vlen = <int32_t>(q - out.val)
    c.p = q + 1
    return True


cdef inline bint compact_level(Cursor* c, Scalar* row) noexcept nogil:
    """After a level's '[': the compact ``"price","size","text","text"]`` with two plain
    decimals, price and size into row[0:2] and the cursor past the ']'; else False with
    the cursor unchanged (plain text only: the next quote ends a string)."""
    cdef const char* save = c.p
    cdef const char* q
    cdef const char* end = c.end
    if c.p < end and c.p[0] == 34 and short_decimal(c, &row[0]) and end - c.p > 2 \
            and c.p[0] == 44 and c.p[1] == 34:
        c.p += 1
        if short_decimal(c, &row[1]) and end - c.p > 2 and c.p[0] == 44 and c.p[1] == 34:
            q = c.p + 2
            while q < end and q[0] != 34:
                q += 1
            if end - q > 3 and q[1] == 44 and q[2] == 34:
                q += 3
                while q < end and q[0] != 34:
                    q += 1
                if end - q > 1 and q[1] == 93:
                    c.p = q + 1  # at the ']', as the general loop leaves it
                    return True
    c.p = save
    return False


cdef bint flat_strings(const char* s, Py_ssize_t n, Field* fields, int* count) noexcept nogil:
    """Plain text only: ``{"key":"text",...}`` exactly (compact, every value a string) into
    fields as scan_object records them; False for any other shape (scan_object then reads
    it). Without backslashes the next quote ends a string, so one quote search per string."""
    cdef const char* p = s
    cdef const char* end = s + n
    cdef const char* q
    cdef Field* f
    cdef int k = 0
    if n < 2 or p[0] != 123 or p[1] == 125:
        return False
    p += 1
    while True:
        if k >= MAX_FIELDS or p >= end or p[0] != 34:
            return False
        q = mpf_find_quote(p + 1, end)
        if end - q < 3 or q[1] != 58 or q[2] != 34:
            return False
        f = &fields[k]
        f.key = p + 1
        f.klen = q - f.key
        f.val = q + 3
        q = mpf_find_quote(f.val, end)
        if q >= end:
            return False
        f.vlen = q - f.val
        f.type = T_STRING
        f.escaped = False
        f.lazy = False
        f.lv_rows = -1
        k += 1
        p = q + 1
        if p < end and p[0] == 44:
            p += 1
        elif p + 1 == end and p[0] == 125:
            count[0] = k
            return True
        else:
            return False


cdef inline int captured_levels(Field* f, const char* start, const char* end, Py_ssize_t first, Py_ssize_t rows) noexcept nogil:
    """Mark ``f`` as an array captured into levels (as capture_levels does). E_OK."""
    f.val = start
    f.vlen = end - start
    f.type = T_ARRAY
    f.escaped = False
    f.lazy = False
    f.lv_start = first
    f.lv_rows = rows
    return E_OK


cdef class StrictParser(ParserBase):
    """Base of the OKX and Deribit parsers: lexical strictness and arrays of objects."""

    cdef int check_rest(self, Field* f, int nf) except -1:
        """Validate the members no handler consumed: lazily skipped containers strictly (the
        scanner checks number tokens wherever it reads them, and begin_text the strings).
        E_* code."""
        cdef Cursor c
        cdef int i
        for i in range(nf):
            if f[i].type == T_OBJECT or f[i].type == T_ARRAY:
                if f[i].lazy:
                    c.p = f[i].val
                    c.end = f[i].val + f[i].vlen
                    c.err = E_OK
                    if not skip_container(&c):
                        return c.err if c.err != E_OK else E_SYNTAX
                    if c.p != c.end:  # a span a fast path guessed may run past the value
                        return E_SYNTAX
                    f[i].lazy = False
        return E_OK

    cdef int check_captured(self, Field* arr) except -1:
        """Captured level rows of a plain frame, walked row by row: every row must end right
        after its last captured element (a number token that failed just before a row's ']'
        can leave the row captured short), and elements beyond the captured width must be
        valid too. E_* code."""
        cdef Py_ssize_t r
        cdef Scalar* row
        cdef const char* s = arr.val + 1
        cdef const char* end = arr.val + arr.vlen
        cdef int k, last
        for r in range(arr.lv_rows):
            row = self.lv.items + arr.lv_start + r * LEVEL_WIDTH
            while s < end and s[0] == 32:
                s += 1
            if s >= end or s[0] != 91:
                return E_SYNTAX
            s += 1
            last = -1
            for k in range(LEVEL_WIDTH):
                if row[k].type == 0:
                    break
                last = k
            if last >= 0:
                s = after_scalar(&row[last])
            if last == LEVEL_WIDTH - 1:  # maybe more elements: check them up to the row's end
                s = row_tail(s, end)
                if s == NULL:
                    return E_SYNTAX
            while s < end and s[0] == 32:
                s += 1
            if s >= end or s[0] != 93:
                return E_SYNTAX
            s += 1
            while s < end and s[0] == 32:
                s += 1
            if s < end and s[0] == 44:
                s += 1
        return E_OK

    cdef int row_of(self, Field* elem, Scalar* row, int width, int* count) except -1:
        """The first ``width`` elements of an array value as Scalars (the rest marked absent);
        every element is checked. E_* code."""
        cdef ArrayIter it
        cdef Field v
        cdef int k = 0, got
        array_begin(&it, elem.val, elem.vlen)
        while True:
            got = array_next(&it, &v)
            if got == 0:
                break
            if got < 0:
                return it.c.err if it.c.err != E_OK else E_SYNTAX
            if k < width:
                set_scalar(&row[k], &v)
            k += 1
        for got in range(k, width):
            row[got].type = 0
            row[got].has_num = 0
        count[0] = k
        return E_OK

    cdef int on_level(self, LevelContext* lc, Scalar* row) except -100:
        """One level row (LEVEL_WIDTH Scalars, absent ones typed 0) of each_level."""
        raise NotImplementedError

    cdef int each_level(self, LevelContext* lc, Field* arr) except -100:
        """on_level for every row of a levels array: from the rows captured while scanning,
        else (a level holding a container) element by element. Consumes ``arr``."""
        cdef Py_ssize_t i
        cdef int rc, count, got
        cdef Scalar row[LEVEL_WIDTH]
        cdef ArrayIter it
        cdef Field elem
        cdef RecordBuffer b = self.b_delta
        if arr.type != T_ARRAY:
            return -E_TYPE
        if arr.lv_rows >= 0:
            if not self.lexed:
                rc = self.check_captured(arr)
                if rc:
                    return -rc
            if b.n + arr.lv_rows > b.cap:
                b.grow(b.n + arr.lv_rows)
            for i in range(arr.lv_rows):
                rc = self.on_level(lc, self.lv.items + arr.lv_start + i * LEVEL_WIDTH)
                if rc < 0:
                    return rc
            arr.type = T_DONE
            return RC_PARSED
        array_begin(&it, arr.val, arr.vlen)
        while True:
            got = array_next(&it, &elem)
            if got == 0:
                break
            if got < 0:
                return -it.c.err if it.c.err != E_OK else -E_SYNTAX
            if elem.type != T_ARRAY:
                return -E_TYPE
            rc = self.row_of(&elem, row, LEVEL_WIDTH, &count)
            if rc:
                return -rc
            rc = self.on_level(lc, row)
            if rc < 0:
                return rc
        rc = self.array_end(&it)
        if rc:
            return -rc
        arr.type = T_DONE
        return RC_PARSED

    cdef int on_object(self, void* ctx, Field* f, int nf) except -100:
        """One object of an array handed to each_object."""
        raise NotImplementedError

    cdef int scan_item(self, void* ctx, const char* s, Py_ssize_t n, Field** f, int* nf, Levels* lv) except -1:
        """Scan one object of each_object (a venue may read some shapes its own way) into *f
        (see scan_object). E_*."""
        return scan_object(s, n, f, nf, True, lv)

    cdef int each_object(self, void* ctx, Field* arr, bint capture) except -100:
        """on_object for every element of an array value, each scanned strictly once (an
        element that is not an object is an error). The common one-element array is
        scanned in place; otherwise elements are delimited first. ``capture``: level arrays
        in the objects are captured while scanning (else left to plain_levels)."""
        cdef Field f_stack[MAX_FIELDS]
        cdef Field* f = f_stack
        cdef int nf = 0, rc
        cdef Cursor c
        cdef const char* s
        cdef const char* e
        cdef Py_ssize_t mark
        cdef Levels* lv = &self.lv if capture else NULL
        if arr.type != T_ARRAY:
            return -E_TYPE
        if arr.lv_rows >= 0:  # captured as rows: empty, or its elements are arrays
            return RC_PARSED if arr.lv_rows == 0 else -E_TYPE
        if arr.vlen < 2 or arr.val[arr.vlen - 1] != 93:
            return -E_SYNTAX
        s = arr.val + 1
        e = arr.val + arr.vlen - 1
        while s < e and (s[0] == 32 or s[0] == 9 or s[0] == 10 or s[0] == 13):
            s += 1
        while e > s and ((e - 1)[0] == 32 or (e - 1)[0] == 9 or (e - 1)[0] == 10 or (e - 1)[0] == 13):
            e -= 1
        if s == e:
            return RC_PARSED
        if s[0] == 123 and (e - 1)[0] == 125:
            mark = self.lv.n
            if self.scan_item(ctx, s, e - s, &f, &nf, lv) == E_OK:
                return self.object_done(ctx, f, nf)
            self.lv.n = mark  # more than one element (or a bad one): delimit them
        c.p = arr.val + 1
        c.end = arr.val + arr.vlen
        c.err = E_OK
        while True:
            skip_ws(&c)
            if c.p >= c.end:
                return -E_TRUNCATED
            if c.p[0] != 123:
                return -E_TYPE
            s = c.p
            if not skip_balanced(&c):
                return -E_TRUNCATED
            rc = self.scan_item(ctx, s, c.p - s, &f, &nf, lv)
            if rc:
                return -rc
            rc = self.object_done(ctx, f, nf)
            if rc < 0:
                return rc
            skip_ws(&c)
            if c.p >= c.end:
                return -E_TRUNCATED
            if c.p[0] == 44:
                c.p += 1
            elif c.p[0] == 93 and c.p + 1 == c.end:
                return RC_PARSED
            else:
                return -E_SYNTAX

    cdef int object_done(self, void* ctx, Field* f, int nf) except -100:
        cdef int rc = self.on_object(ctx, f, nf)
        if rc < 0:
            return rc
        rc = self.check_rest(f, nf)
        return -rc if rc else RC_PARSED

    cdef int array_end(self, ArrayIter* it) noexcept:
        """After array_next returned 0: E_OK when the closing bracket ends the value's span."""
        return E_OK if it.c.p + 1 == it.c.end else E_SYNTAX


# ---- OKX ---------------------------------------------------------------------------------------

DEF OKX_TRADES = 1
DEF OKX_BOOKS = 2
DEF OKX_BOOKS5 = 3
DEF OKX_BBO = 4
DEF OKX_TICKERS = 5
DEF OKX_CANDLES = 6
DEF OKX_FUNDING = 7
DEF OKX_OPEN_INTEREST = 8
DEF OKX_MARK_PRICE = 9
DEF OKX_LIQUIDATIONS = 10
DEF OKX_LIQUIDATION_DETAIL = 11
DEF CANDLE_WIDTH = 9   # [ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]


cdef class OkxParser  # defined below; okx_level takes one


cdef struct OkxContext:
    int channel
    Field* arg_inst          # the arg's instId (NULL when absent): items without one use it
    uint8_t snapshot         # books: the action is a snapshot
    Field* inst              # liquidation details: their item's instId
    uint32_t code            # ... and its instrument code, once resolved
    bint resolved


# A ticker's members after instType and instId as OKX sends them (ts follows): ticker_fast
DEF TICKER_MEMBERS = 13
cdef const char* OKX_TICKER_NAMES[TICKER_MEMBERS]
cdef Py_ssize_t OKX_TICKER_NAME_LENS[TICKER_MEMBERS]
OKX_TICKER_NAMES[:] = [b"last", b"lastSz", b"askPx", b"askSz", b"bidPx", b"bidSz", b"open24h", b"high24h",
                       b"low24h", b"sodUtc0", b"sodUtc8", b"volCcy24h", b"vol24h"]
for _j in range(TICKER_MEMBERS):
    OKX_TICKER_NAME_LENS[_j] = strlen(OKX_TICKER_NAMES[_j])


cdef int okx_channel(const char* s, Py_ssize_t n) noexcept nogil:
    if text_eq(s, n, False, "trades", 6) or text_eq(s, n, False, "trades-all", 10):
        return OKX_TRADES
    if text_eq(s, n, False, "books", 5) or text_eq(s, n, False, "books-l2-tbt", 12) or text_eq(s, n, False, "books50-l2-tbt", 14):
        return OKX_BOOKS
    if text_eq(s, n, False, "books5", 6):
        return OKX_BOOKS5
    if text_eq(s, n, False, "bbo-tbt", 7):
        return OKX_BBO
    if text_eq(s, n, False, "tickers", 7):
        return OKX_TICKERS
    if text_eq(s, n, False, "funding-rate", 12):
        return OKX_FUNDING
    if text_eq(s, n, False, "open-interest", 13):
        return OKX_OPEN_INTEREST
    if text_eq(s, n, False, "mark-price", 10):
        return OKX_MARK_PRICE
    if text_eq(s, n, False, "liquidation-orders", 18):
        return OKX_LIQUIDATIONS
    if n >= 6 and memcmp(s, b"candle", 6) == 0:
        return OKX_CANDLES
    return 0


cdef int spot_like(Field* inst_type, Field* inst_id) except -1:
    """SPOT/MARGIN by ``instType`` when it is set, else by the id's shape (``BASE-QUOTE``)."""
    cdef char buf[TEXT_SCRATCH]
    cdef const char* t
    cdef Py_ssize_t m, i, dashes = 0
    if truthy(inst_type):
        return word_is(inst_type, "SPOT", 4) or word_is(inst_type, "MARGIN", 6)
    if not decode_text(inst_id.val, inst_id.vlen, inst_id.escaped, buf, &t, &m):
        return 0
    for i in range(m):
        if t[i] == 45:
            dashes += 1
    return dashes == 1


cdef inline int okx_level(OkxParser self, RecordBuffer b, LevelContext* lc, Scalar* row) except -100:
    """A level ``[price, size, ...]`` of decimal texts -> a book_delta row, the texts kept
    as sent too (the book builder verifies OKX checksums over the venue's own texts)."""
    cdef double price, amount
    cdef Py_ssize_t r
    if row[1].type == 0:
        return -E_VALUE
    if not scalar_decimal(&row[0], &price) or not scalar_decimal(&row[1], &amount):
        return -E_NUMBER
    r = append_row(self, b, lc.inst, lc.ts)
    set_i1(b, BOOK_DELTA_SIDE, r, lc.side)
    set_f8(b, BOOK_DELTA_PRICE, r, price)
    set_f8(b, BOOK_DELTA_AMOUNT, r, amount)
    set_u8(b, BOOK_DELTA_FIRST_UPDATE_ID, r, lc.update_id)
    set_u8(b, BOOK_DELTA_UPDATE_ID, r, lc.update_id)
    set_u8(b, BOOK_DELTA_PREV_UPDATE_ID, r, lc.prev_update_id)
    set_u1(b, BOOK_DELTA_IS_SNAPSHOT, r, lc.snapshot)
    set_i8(b, BOOK_DELTA_CHECKSUM, r, lc.checksum)
    if not (b.arena_n + row[0].vlen + row[1].vlen <= b.arena_cap and arena_text(b, BOOK_DELTA_PRICE_TEXT_OFF, r, &row[0])
            and arena_text(b, BOOK_DELTA_AMOUNT_TEXT_OFF, r, &row[1])):
        if not b.put_text(BOOK_DELTA_PRICE_TEXT_OFF, r, row[0].val, row[0].vlen, row[0].escaped):
            return -E_TEXT
        if not b.put_text(BOOK_DELTA_AMOUNT_TEXT_OFF, r, row[1].val, row[1].vlen, row[1].escaped):
            return -E_TEXT
    return RC_PARSED


cdef class OkxParser(StrictParser):
    """Compiled parser for okx."""

    cdef int parse_frame(self, const char* p, Py_ssize_t n) except -100:
        cdef Field top_stack[MAX_FIELDS]
        cdef Field* top = top_stack
        cdef int nt = 0, rc
        if n == 4 and memcmp(p, b"pong", 4) == 0:
            return RC_SKIP + SKIP_PONG
        rc = self.begin_text(p, n)
        if rc < 0:
            return rc
        if rc == 1:
            rc = self.push_fast(p, n)
            if rc != SHAPE_MISSED:
                return rc
        rc = scan_object(p, n, &top, &nt, True, &self.lv)
        if rc:
            return -rc
        return self.message(top, nt, NULL, -1)

    cdef int push_fast(self, const char* p, Py_ssize_t n) except -100:
        """``{"arg":{..},["action":"..",]"data":[..]}`` as OKX sends pushes, without scanning
        ``data`` twice. Any other shape, or a failure (which the general path then reports),
        returns SHAPE_MISSED with nothing written."""
        cdef Field top[3]
        cdef Field af[2]
        cdef Cursor c
        cdef int nt = 1, na = -1, rc
        if n < 20 or memcmp(p, b'{"arg":{', 8) != 0 or p[n - 2] != 93 or p[n - 1] != 125:
            return SHAPE_MISSED
        c.p = p + 7
        c.end = p + n
        c.err = E_OK
        top[0].key = p + 2
        top[0].klen = 3
        top[0].val = p + 7
        top[0].type = T_OBJECT
        top[0].escaped = False
        top[0].lazy = True
        top[0].lv_rows = -1
        if self.arg_fast(&c, af):  # {"channel":"..","instId":".."}, read in the same pass
            top[0].type = T_DONE
            na = 2
        elif not skip_balanced(&c):
            return SHAPE_MISSED
        top[0].vlen = c.p - (p + 7)
        if c.end - c.p > 11 and memcmp(c.p, b',"action":"', 11) == 0:
            top[1].key = c.p + 2
            top[1].klen = 6
            c.p += 10
            top[1].type = T_STRING
            top[1].lazy = False
            top[1].lv_rows = -1
            if not scan_string(&c, &top[1].val, &top[1].vlen, &top[1].escaped):
                return SHAPE_MISSED
            nt = 2
        if c.end - c.p < 10 or memcmp(c.p, b',"data":[', 9) != 0:
            return SHAPE_MISSED
        top[nt].key = c.p + 2
        top[nt].klen = 4
        top[nt].val = c.p + 8
        top[nt].vlen = (p + n - 1) - top[nt].val
        top[nt].type = T_ARRAY
        top[nt].escaped = False
        top[nt].lazy = True
        top[nt].lv_rows = -1
        rc = self.message(top, nt + 1, af, na)
        if rc < 0:
            self.rollback()
            return SHAPE_MISSED
        return rc

    cdef bint arg_fast(self, Cursor* c, Field* af) noexcept:
        """At the arg object: ``{"channel":"..","instId":".."}`` into af[0:2] (cursor past
        it), or False with the cursor unchanged."""
        cdef const char* start = c.p
        cdef int k
        if c.end - c.p < 24 or memcmp(c.p, b'{"channel":"', 12) != 0:
            return False
        af[0].key = c.p + 2
        af[0].klen = 7
        c.p += 11
        if scan_string(c, &af[0].val, &af[0].vlen, &af[0].escaped) and c.end - c.p > 12 \
                and memcmp(c.p, b',"instId":"', 11) == 0:
            af[1].key = c.p + 2
            af[1].klen = 6
            c.p += 10
            if scan_string(c, &af[1].val, &af[1].vlen, &af[1].escaped) and c.p < c.end and c.p[0] == 125:
                c.p += 1
                for k in range(2):
                    af[k].type = T_STRING
                    af[k].lazy = False
                    af[k].lv_rows = -1
                return True
        c.p = start
        c.err = E_OK
        return False

    cdef int message(self, Field* top, int nt, Field* arg_fields, int n_arg_fields) except -100:
        """One OKX message; ``arg_fields`` are its arg's members when a fast path read them
        (``n_arg_fields >= 0``, the arg field then marked consumed)."""
        cdef Field scanned_stack[MAX_FIELDS]
        cdef Field* scanned = scanned_stack
        cdef Field* af = arg_fields
        cdef int na = n_arg_fields, rc, i
        cdef Field *event = NULL, *arg = NULL, *data = NULL, *action = NULL
        cdef Field *channel, *arg_inst
        cdef Field* want[2]
        cdef OkxContext x
        cdef char buf[TEXT_SCRATCH]
        cdef const char* ch
        cdef Py_ssize_t chn
        for i in range(nt):
            if key_is(&top[i], "event", 5):
                event = &top[i]
            elif key_is(&top[i], "arg", 3):
                arg = &top[i]
            elif key_is(&top[i], "data", 4):
                data = &top[i]
            elif key_is(&top[i], "action", 6):
                action = &top[i]
        if event != NULL:
            rc = self.check_rest(top, nt)
            if rc:
                return -rc
            if word_is(event, "error", 5):
                pick(top, nt, "code msg", want)
                self.log_venue_error(want[0], want[1])
                return RC_SKIP + SKIP_ERROR_EVENT
            return RC_SKIP + SKIP_EVENT
        if na < 0:
            if arg == NULL:
                return -E_MISSING
            if arg.type != T_OBJECT:
                return -E_TYPE
            af = scanned
            rc = scan_object(arg.val, arg.vlen, &af, &na, False)
            if rc:
                return -rc
            arg.type = T_DONE
            rc = self.check_rest(af, na)
            if rc:
                return -rc
        if af == arg_fields and na == 2:  # arg_fast's [channel, instId]
            channel, arg_inst = &af[0], &af[1]
        else:
            pick(af, na, "channel instId", want)
            channel, arg_inst = want[0], want[1]
        if not is_text(channel):
            return -E_MISSING
        rc = decode_text(channel.val, channel.vlen, channel.escaped, buf, &ch, &chn)
        if rc == 0:
            return -E_TEXT
        if rc == 2:  # a long escaped channel name: decoded on the heap (held until return)
            long_text = unescaped_long(channel.val, channel.vlen)
            if long_text is None:
                return -E_TEXT
            ch = PyBytes_AS_STRING(long_text)
            chn = PyBytes_GET_SIZE(long_text)
        x.channel = okx_channel(ch, chn)
        x.arg_inst = arg_inst
        x.snapshot = 0
        x.resolved = False
        if x.channel == 0:
            rc = self.check_rest(top, nt)
            return -rc if rc else RC_SKIP + SKIP_UNKNOWN_CHANNEL
        if data == NULL:
            return -E_MISSING
        if data.type != T_ARRAY:
            return -E_TYPE
        if x.channel == OKX_BOOKS or x.channel == OKX_BOOKS5:
            if action == NULL:
                if x.channel != OKX_BOOKS5:
                    return -E_MISSING
                x.snapshot = 1  # books5 pushes whole top-5 books: snapshots
            elif word_is(action, "snapshot", 8):
                x.snapshot = 1
            elif word_is(action, "update", 6):
                x.snapshot = 0
            else:
                return -E_VALUE
        if x.channel == OKX_CANDLES:
            rc = self.candles(data, ch + 6, chn - 6, arg_inst, af, na)
        elif x.channel == OKX_MARK_PRICE:
            rc = RC_PARSED  # no record kind holds a bare mark price; data stays for check_rest
        else:
            rc = FAST_PATH_MISSED
            if x.channel == OKX_TICKERS and not self.lexed:
                rc = self.ticker_fast(&x, data)
            if rc == FAST_PATH_MISSED:
                rc = self.each_object(&x, data, self.lexed)
            data.type = T_DONE
        if rc < 0:
            return rc
        rc = self.check_rest(top, nt)
        return -rc if rc else RC_PARSED

    cdef int on_object(self, void* ctx, Field* f, int nf) except -100:
        cdef OkxContext* x = <OkxContext*>ctx
        cdef int c = x.channel
        if c == OKX_BOOKS or c == OKX_BOOKS5:
            return self.book(x, f, nf)
        if c == OKX_TRADES:
            return self.trade(x, f, nf)
        if c == OKX_BBO:
            return self.bbo(x, f, nf)
        if c == OKX_TICKERS:
            return self.ticker(x, f, nf)
        if c == OKX_FUNDING:
            return self.funding(x, f, nf)
        if c == OKX_OPEN_INTEREST:
            return self.open_interest(x, f, nf)
        if c == OKX_LIQUIDATIONS:
            return self.liquidation(x, f, nf)
        if c == OKX_LIQUIDATION_DETAIL:
            return self.liquidation_detail(x, f, nf)
        return -E_VALUE

    cdef inline Field* item_inst(self, OkxContext* x, Field* own) noexcept:
        """An item's instrument: its own ``instId`` when it has the key, else the arg's."""
        return own if own != NULL else x.arg_inst

    # ---- channels ---------------------------------------------------------------------------

    cdef int trade(self, OkxContext* x, Field* f, int nf) except -100:
        cdef Field *fi = NULL, *fid = NULL, *fp = NULL, *fs = NULL, *fside = NULL, *fts = NULL
        cdef const char* k
        cdef int i, side
        cdef double price, amount
        cdef int64_t ts
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_trade
        for i in range(nf):  # constant-size comparisons: the compiler inlines them
            k = f[i].key
            if f[i].klen == 2:
                if k[0] == ord("p") and k[1] == ord("x"):
                    fp = &f[i]
                elif k[0] == ord("s") and k[1] == ord("z"):
                    fs = &f[i]
                elif k[0] == ord("t") and k[1] == ord("s"):
                    fts = &f[i]
            elif f[i].klen == 6 and memcmp(k, b"instId", 6) == 0:
                fi = &f[i]
            elif f[i].klen == 7 and memcmp(k, b"tradeId", 7) == 0:
                fid = &f[i]
            elif f[i].klen == 4 and memcmp(k, b"side", 4) == 0:
                fside = &f[i]
        fi = self.item_inst(x, fi)
        if not is_text(fi) or not is_text(fid):
            return -E_MISSING
        if not field_millis_text(fts, &ts) or not decimal(fp, &price) or not decimal(fs, &amount):
            return -E_NUMBER
        side = side_of(fside)
        if side == 0:
            return -E_VALUE
        if not self.instrument(fi, &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        if not b.put_id(TRADE_TRADE_ID_OFF, r, fid.val, fid.vlen, fid.escaped):
            return -E_TEXT
        set_f8(b, TRADE_PRICE, r, price)
        set_f8(b, TRADE_AMOUNT, r, amount)
        set_i1(b, TRADE_SIDE, r, <int8_t>side)
        set_u1(b, TRADE_AGGREGATED, r, 0)
        return RC_PARSED

    cdef int book(self, OkxContext* x, Field* f, int nf) except -100:
        cdef Field *fi = NULL, *fts = NULL, *fb = NULL, *fa = NULL, *fseq = NULL, *fprev = NULL, *fsum = NULL
        cdef int i, rc
        cdef int64_t ts, checksum = 0
        cdef uint64_t seq, prev
        cdef double minus_one
        cdef LevelContext lc
        for i in range(nf):
            if f[i].klen == 4:
                if memcmp(f[i].key, b"bids", 4) == 0:
                    fb = &f[i]
                elif memcmp(f[i].key, b"asks", 4) == 0:
                    fa = &f[i]
            elif key_is(&f[i], "ts", 2):
                fts = &f[i]
            elif key_is(&f[i], "seqId", 5):
                fseq = &f[i]
            elif key_is(&f[i], "instId", 6):
                fi = &f[i]
            elif key_is(&f[i], "checksum", 8):
                fsum = &f[i]
            elif key_is(&f[i], "prevSeqId", 9):
                fprev = &f[i]
        fi = self.item_inst(x, fi)
        if not is_text(fi) or fb == NULL or fa == NULL:
            return -E_MISSING
        if fb.type != T_ARRAY or fa.type != T_ARRAY:
            return -E_TYPE
        if not json_u64_or_zero(fseq, &seq) or not field_millis_text(fts, &ts):
            return -E_NUMBER
        # prevSeqId: absent, null or -1 (a snapshot's "none") -> 0
        if fprev == NULL or fprev.type == T_NULL:
            prev = 0
        elif fprev.type == T_NUMBER and parse_double(fprev.val, fprev.vlen, &minus_one) and minus_one == -1.0:
            prev = 0
        elif not json_u64(fprev, &prev):
            return -E_NUMBER
        if fsum != NULL and fsum.type != T_NULL:
            # the integer token "-0" is -0.0 to the reference decoder, not an integer; "-1".."-9" are
            if fsum.type != T_NUMBER or (fsum.vlen == 2 and fsum.val[0] == 45 and fsum.val[1] == 48) or not parse_i64(fsum.val, fsum.vlen, &checksum):
                return -E_NUMBER
            if checksum < -2147483648 or checksum > 2147483647:
                return -E_NUMBER
        if not truthy(fb) and not truthy(fa):  # no level changed: a marker row, if wanted
            fb.type = T_DONE
            fa.type = T_DONE
            if not self.book_markers:
                return RC_PARSED
            if not self.instrument(fi, &lc.inst):
                return -E_TEXT
            self.book_marker(lc.inst, ts, seq, seq, prev, x.snapshot, checksum)
            return RC_PARSED
        if not self.instrument(fi, &lc.inst):
            return -E_TEXT
        lc.ts = ts
        lc.update_id = seq
        lc.prev_update_id = prev
        lc.snapshot = x.snapshot
        lc.checksum = checksum
        lc.grouped = False
        lc.side = 1
        rc = self.book_side(&lc, fb)
        if rc < 0:
            return rc
        lc.side = -1
        return self.book_side(&lc, fa)

    cdef int book_side(self, LevelContext* lc, Field* arr) except -100:
        """The rows of one side: levels plain_rows captured (validated, unescaped) written
        here, anything else through each_level."""
        cdef Py_ssize_t i, r0, rows = arr.lv_rows, used, n
        cdef Scalar* lv
        cdef RecordBuffer b = self.b_delta
        if self.lexed or rows < 0:
            return self.each_level(lc, arr)
        if not reserve_rows(self, b, rows):
            return -E_LIMIT
        if b.n + rows > b.cap:
            b.grow(b.n + rows)
        if b.arena_n + arr.vlen > b.arena_cap:  # the texts lie within the array's own span
            b.grow_arena(arr.vlen)
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
        cdef char* arena = b.arena
        cdef uint32_t frame = self.frame, inst = lc.inst
        cdef int64_t recv = self.ts_recv, ts = lc.ts, checksum = lc.checksum
        cdef uint64_t update_id = lc.update_id, prev = lc.prev_update_id
        cdef int8_t side = lc.side
        cdef uint8_t snapshot = lc.snapshot
        used = b.arena_n
        lv = self.lv.items + arr.lv_start
        for i in range(rows):
            if lv[1].type == 0:
                return -E_VALUE  # a level is [price, size, ...]; rows past b.n are not kept
            if not scalar_decimal(&lv[0], &c_price[i]) or not scalar_decimal(&lv[1], &c_amount[i]):
                return -E_NUMBER
            if lv[0].vlen > 65535 or lv[1].vlen > 65535:
                return -E_TEXT
            c_inst[i] = inst
            c_frame[i] = frame
            c_ts[i] = ts
            c_recv[i] = recv
            c_side[i] = side
            c_first[i] = update_id
            c_last[i] = update_id
            c_prev[i] = prev
            c_snap[i] = snapshot
            c_sum[i] = checksum
            # the book builder verifies OKX checksums over the venue's own texts
            n = lv[0].vlen
            copy_short(arena + used, lv[0].val, n)
            c_ptoff[i] = <uint32_t>used
            c_ptlen[i] = <uint16_t>n
            used += n
            n = lv[1].vlen
            copy_short(arena + used, lv[1].val, n)
            c_atoff[i] = <uint32_t>used
            c_atlen[i] = <uint16_t>n
            used += n
            lv += LEVEL_WIDTH
        b.n = r0 + rows
        b.arena_n = used
        arr.type = T_DONE
        return RC_PARSED

    cdef int on_level(self, LevelContext* lc, Scalar* row) except -100:
        return okx_level(self, self.b_delta, lc, row)

    cdef int scan_item(self, void* ctx, const char* s, Py_ssize_t n, Field** f, int* nf, Levels* lv) except -1:
        """Plain text: a book item in one pass (its ``bids``/``asks`` levels captured by
        plain_rows), a flat object of texts by flat_strings; else scan_object."""
        cdef int c = (<OkxContext*>ctx).channel
        if self.lexed:
            return scan_object(s, n, f, nf, True, lv)
        if c == OKX_BOOKS or c == OKX_BOOKS5:
            return self.scan_book_item(s, n, f, nf)
        if flat_strings(s, n, f[0], nf):  # trades, tickers, funding, open interest
            return E_OK
        return scan_object(s, n, f, nf, True, lv)

    cdef int scan_book_item(self, const char* s, Py_ssize_t n, Field** table, int* count) except -1:
        # scan_object's member loop (plain text: no name to decode); it cannot call plain_rows
        # (the core's capture converts every element of a level, and OKX levels have four of
        # which two are read)
        cdef Cursor c
        cdef Field* fields = table[0]
        cdef Field* f
        cdef int k = 0, rc
        cdef int cap = MAX_FIELDS
        c.p = s
        c.end = s + n
        c.err = E_OK
        skip_ws(&c)
        if c.p >= c.end or c.p[0] != 123:
            return E_SYNTAX
        c.p += 1
        skip_ws(&c)
        if c.p < c.end and c.p[0] == 125:
            c.p += 1
        else:
            while True:
                skip_ws(&c)
                if c.p >= c.end:
                    return E_TRUNCATED
                if c.p[0] != 34:
                    return E_SYNTAX
                if k >= cap:  # more members than the table holds: a larger one (rare)
                    fields = grow_fields(fields, k, &cap)
                    if fields == NULL:
                        return E_TOO_MANY_FIELDS
                    table[0] = fields
                f = &fields[k]
                if not scan_string(&c, &f.key, &f.klen, &f.escaped):
                    return c.err
                skip_ws(&c)
                if c.p >= c.end:
                    return E_TRUNCATED
                if c.p[0] != 58:
                    return E_SYNTAX
                c.p += 1
                skip_ws(&c)
                if c.p >= c.end:
                    return E_TRUNCATED
                if c.p[0] == 91 and f.klen == 4 and (memcmp(f.key, b"bids", 4) == 0 or memcmp(f.key, b"asks", 4) == 0):
                    rc = self.plain_rows(&c, f)
                    if rc:
                        return rc
                elif not scan_value(&c, f, True, NULL):
                    return c.err
                k += 1
                skip_ws(&c)
                if c.p >= c.end:
                    return E_TRUNCATED
                if c.p[0] == 44:
                    c.p += 1
                    continue
                if c.p[0] == 125:
                    c.p += 1
                    break
                return E_SYNTAX
        skip_ws(&c)
        if c.p != c.end:
            return E_SYNTAX
        count[0] = k
        return E_OK

    cdef int plain_rows(self, Cursor* at, Field* f) except -1:
        """At the '[' of a plain-text levels array ``[[price, size, liq, orders], ...]``:
        price and size into self.lv (LEVEL_WIDTH per row, the other two absent), every other
        element validated; ``f`` becomes the captured array. An element that is not a level,
        or a level holding a container, leaves the array lazy for the element-by-element
        path. E_*."""
        # the cursor and the level count live in locals: stores into the rows (int8 fields
        # may alias anything) would otherwise force them to be reloaded after every write
        cdef Cursor cur = at[0]
        cdef Cursor* c = &cur
        cdef const char* start = c.p
        cdef Py_ssize_t first = self.lv.n, used = self.lv.n, rows = 0
        cdef Scalar* row
        cdef const char* t
        cdef int k
        cdef char ch
        c.p += 1
        skip_ws(c)
        if c.p < c.end and c.p[0] == 93:
            at.p = c.p + 1
            return captured_levels(f, start, at.p, first, 0)
        while True:
            if c.p >= c.end:
                return E_TRUNCATED
            if c.p[0] != 91:
                return self.not_levels(at, f, start, first)
            c.p += 1
            if used + LEVEL_WIDTH > self.lv.cap:
                self.grow_levels()
            row = self.lv.items + used
            if compact_level(c, row):  # the common shape, in one go
                k = 4
            else:
                row[0].type = 0
                row[1].type = 0
                skip_ws(c)
                k = 0
            if k == 0 and c.p < c.end and c.p[0] != 93:
                while True:
                    if c.p >= c.end:
                        return E_TRUNCATED
                    ch = c.p[0]
                    if ch == 91 or ch == 123:
                        return self.not_levels(at, f, start, first)
                    if ch == 34:
                        if k >= 2 or not quick_decimal(c, &row[k], True):
                            t = c.p + 1  # plain text: no escapes, the next quote ends it
                            c.p = t
                            while c.p < c.end and c.p[0] != 34:
                                c.p += 1
                            if c.p >= c.end:
                                return E_TRUNCATED
                            if k < 2:
                                row[k].type = T_STRING
                                row[k].has_num = 0
                                row[k].val = t
                                row[k].vlen = <int32_t>(c.p - t)
                                row[k].escaped = False
                            c.p += 1
                    else:
                        t = c.p
                        if ch == 116:
                            if not scan_literal(c, "true", 4):
                                return c.err
                        elif ch == 102:
                            if not scan_literal(c, "false", 5):
                                return c.err
                        elif ch == 110:
                            if not scan_literal(c, "null", 4):
                                return c.err
                        elif not scan_number_token(c):
                            return c.err
                        if k < 2:
                            row[k].type = T_NUMBER  # not a decimal text: the reader rejects it
                            row[k].has_num = 0
                            row[k].val = t
                    k += 1
                    skip_ws(c)
                    if c.p >= c.end:
                        return E_TRUNCATED
                    if c.p[0] == 44:
                        c.p += 1
                        skip_ws(c)
                    elif c.p[0] == 93:
                        break
                    else:
                        return E_SYNTAX
            c.p += 1
            used += LEVEL_WIDTH
            self.lv.n = used
            rows += 1
            skip_ws(c)
            if c.p >= c.end:
                return E_TRUNCATED
            if c.p[0] == 44:
                c.p += 1
                skip_ws(c)
            elif c.p[0] == 93:
                at.p = c.p + 1
                return captured_levels(f, start, at.p, first, rows)
            else:
                return E_SYNTAX

    cdef void grow_levels(self) except *:
        cdef Scalar* grown = <Scalar*>realloc(self.lv.items, (self.lv.cap * 2 + 64 * LEVEL_WIDTH) * sizeof(Scalar))
        if grown == NULL:
            raise MemoryError()
        self.lv.items = grown
        self.lv.cap = self.lv.cap * 2 + 64 * LEVEL_WIDTH

    cdef int not_levels(self, Cursor* c, Field* f, const char* start, Py_ssize_t first) except -1:
        """Give up capturing an array: skip it lazily from its start, as scan_value does."""
        self.lv.n = first
        c.p = start
        c.err = E_OK
        return E_OK if scan_value(c, f, True, NULL) else c.err

    cdef int best(self, Field* arr, double* price, double* amount) except -100:
        """bbo-tbt: the first level of a side (NaN, NaN when the side is empty)."""
        cdef Scalar row[LEVEL_WIDTH]
        cdef Scalar* first
        cdef ArrayIter it
        cdef Field elem
        cdef int got, rc, count
        if arr.type != T_ARRAY:
            return -E_TYPE
        if arr.lv_rows >= 0:
            if not self.lexed:
                rc = self.check_captured(arr)
                if rc:
                    return -rc
            if arr.lv_rows == 0:
                price[0] = NAN
                amount[0] = NAN
                return RC_PARSED
            first = self.lv.items + arr.lv_start
        else:
            array_begin(&it, arr.val, arr.vlen)
            got = array_next(&it, &elem)
            if got < 0:
                return -it.c.err if it.c.err != E_OK else -E_SYNTAX
            if got == 0:
                price[0] = NAN
                amount[0] = NAN
                return -self.array_end(&it)
            if elem.type != T_ARRAY:
                return -E_TYPE
            rc = self.row_of(&elem, row, LEVEL_WIDTH, &count)
            if rc:
                return -rc
            first = row  # the field stays lazy: check_rest validates the elements not read
        if first[1].type == 0:
            return -E_VALUE
        if not scalar_decimal(&first[0], price) or not scalar_decimal(&first[1], amount):
            return -E_NUMBER
        return RC_PARSED

    cdef int bbo(self, OkxContext* x, Field* f, int nf) except -100:
        cdef Field* v[5]
        cdef double bp, bq, ap, aq
        cdef uint64_t seq
        cdef int64_t ts
        cdef uint32_t inst
        cdef int rc
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_quote
        pick(f, nf, "instId ts bids asks seqId", v)
        v[0] = self.item_inst(x, v[0])
        if not is_text(v[0]) or v[2] == NULL or v[3] == NULL:
            return -E_MISSING
        rc = self.best(v[2], &bp, &bq)
        if rc < 0:
            return rc
        rc = self.best(v[3], &ap, &aq)
        if rc < 0:
            return rc
        if v[2].lv_rows >= 0:
            v[2].type = T_DONE
        if v[3].lv_rows >= 0:
            v[3].type = T_DONE
        if not field_millis_text(v[1], &ts) or not json_u64_or_zero(v[4], &seq):
            return -E_NUMBER
        if not self.instrument(v[0], &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        set_f8(b, QUOTE_BID_PRICE, r, bp)
        set_f8(b, QUOTE_BID_AMOUNT, r, bq)
        set_f8(b, QUOTE_ASK_PRICE, r, ap)
        set_f8(b, QUOTE_ASK_AMOUNT, r, aq)
        set_u8(b, QUOTE_UPDATE_ID, r, seq)
        return RC_PARSED

    cdef int ticker(self, OkxContext* x, Field* f, int nf) except -100:
        # instType instId ts, then the decimal texts in ticker column order
        cdef Field* v[14]
        cdef double d[9]
        cdef double volume, quote_volume
        cdef int64_t ts
        cdef uint32_t inst
        cdef int j, spot
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_ticker
        pick(f, nf, "instType instId ts last lastSz open24h high24h low24h bidPx bidSz askPx askSz vol24h volCcy24h", v)
        v[1] = self.item_inst(x, v[1])
        if not is_text(v[1]):
            return -E_MISSING
        for j in range(9):
            if not decimal_or_nan(v[3 + j], &d[j]):
                return -E_NUMBER
        if not field_millis_text(v[2], &ts):
            return -E_NUMBER
        spot = spot_like(v[0], v[1])
        if spot:
            if not decimal_or_nan(v[12], &volume) or not decimal_or_nan(v[13], &quote_volume):
                return -E_NUMBER
        else:  # derivatives count vol24h in contracts (not read); volCcy24h is the base quantity
            if not decimal_or_nan(v[13], &volume):
                return -E_NUMBER
            quote_volume = NAN
        if not self.instrument(v[1], &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        set_f8(b, TICKER_LAST_PRICE, r, d[0])
        set_f8(b, TICKER_LAST_AMOUNT, r, d[1])
        set_f8(b, TICKER_OPEN_PRICE, r, d[2])
        set_f8(b, TICKER_HIGH_PRICE, r, d[3])
        set_f8(b, TICKER_LOW_PRICE, r, d[4])
        set_f8(b, TICKER_VOLUME, r, volume)
        set_f8(b, TICKER_QUOTE_VOLUME, r, quote_volume)
        set_f8(b, TICKER_PRICE_CHANGE, r, NAN)
        set_f8(b, TICKER_PRICE_CHANGE_PCT, r, NAN)
        set_f8(b, TICKER_WEIGHTED_AVG_PRICE, r, NAN)
        set_f8(b, TICKER_BID_PRICE, r, d[5])
        set_f8(b, TICKER_BID_AMOUNT, r, d[6])
        set_f8(b, TICKER_ASK_PRICE, r, d[7])
        set_f8(b, TICKER_ASK_AMOUNT, r, d[8])
        set_f8(b, TICKER_MARK_PRICE, r, NAN)
        set_f8(b, TICKER_INDEX_PRICE, r, NAN)
        set_f8(b, TICKER_OPEN_INTEREST, r, NAN)
        set_u8(b, TICKER_TRADE_COUNT, r, 0)
        return RC_PARSED

    cdef int ticker_fast(self, OkxContext* x, Field* data) except -100:
        """ticker() on ``[{ticker}]`` of plain text with the members OKX sends, in its order,
        read in one pass; FAST_PATH_MISSED, nothing written, for anything else (another
        order, a member missing or added, a value not a string...): the general path then
        decides. Each value goes through the general path's own readers, so what this
        accepts it decodes identically."""
        cdef const char* p = data.val
        cdef const char* end = data.val + data.vlen
        cdef Field inst_id
        cdef const char* kind
        cdef const char* s
        cdef Py_ssize_t kn, n
        cdef double d[TICKER_MEMBERS]  # by OKX_TICKER_NAMES (sodUtc0, sodUtc8 not read)
        cdef int64_t ts
        cdef uint32_t inst
        cdef bint spot
        cdef int j
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_ticker
        if data.vlen < 4 or memcmp(p, b"[{", 2) != 0 or memcmp(end - 2, b"}]", 2) != 0:
            return FAST_PATH_MISSED
        end -= 2  # at the object's closing brace
        p = plain_member(p + 2, end, b"instType", 8, &kind, &kn)
        p = plain_member(p, end, b"instId", 6, &inst_id.val, &inst_id.vlen)
        if p == NULL or kn == 0 or inst_id.vlen == 0:
            return FAST_PATH_MISSED
        spot = (kn == 4 and memcmp(kind, b"SPOT", 4) == 0) or (kn == 6 and memcmp(kind, b"MARGIN", 6) == 0)
        for j in range(TICKER_MEMBERS):
            p = plain_member(p, end, OKX_TICKER_NAMES[j], OKX_TICKER_NAME_LENS[j], &s, &n)
            if p == NULL:
                return FAST_PATH_MISSED
            if j == 9 or j == 10 or (j == 12 and not spot):
                continue  # sodUtc0, sodUtc8 unread; vol24h is read for spot only
            if n == 0:
                d[j] = NAN  # "" as decimal_or_nan reads it
            elif not decimal_text(s, n, False, &d[j]):
                return FAST_PATH_MISSED
        p = plain_member(p, end, b"ts", 2, &s, &n)
        if p != end or not millis_text(s, n, False, &ts):
            return FAST_PATH_MISSED
        inst_id.type = T_STRING
        inst_id.escaped = False
        if not self.instrument(&inst_id, &inst):
            return FAST_PATH_MISSED
        r = append_row(self, b, inst, ts)
        set_f8(b, TICKER_LAST_PRICE, r, d[0])
        set_f8(b, TICKER_LAST_AMOUNT, r, d[1])
        set_f8(b, TICKER_OPEN_PRICE, r, d[6])
        set_f8(b, TICKER_HIGH_PRICE, r, d[7])
        set_f8(b, TICKER_LOW_PRICE, r, d[8])
        # derivatives count vol24h in contracts (not read); volCcy24h is the base quantity
        set_f8(b, TICKER_VOLUME, r, d[12] if spot else d[11])
        set_f8(b, TICKER_QUOTE_VOLUME, r, d[11] if spot else NAN)
        set_f8(b, TICKER_PRICE_CHANGE, r, NAN)
        set_f8(b, TICKER_PRICE_CHANGE_PCT, r, NAN)
        set_f8(b, TICKER_WEIGHTED_AVG_PRICE, r, NAN)
        set_f8(b, TICKER_BID_PRICE, r, d[4])
        set_f8(b, TICKER_BID_AMOUNT, r, d[5])
        set_f8(b, TICKER_ASK_PRICE, r, d[2])
        set_f8(b, TICKER_ASK_AMOUNT, r, d[3])
        set_f8(b, TICKER_MARK_PRICE, r, NAN)
        set_f8(b, TICKER_INDEX_PRICE, r, NAN)
        set_f8(b, TICKER_OPEN_INTEREST, r, NAN)
        set_u8(b, TICKER_TRADE_COUNT, r, 0)
        return RC_PARSED

    cdef int candles(self, Field* data, const char* interval, Py_ssize_t ilen, Field* arg_inst,
                     Field* af, int na) except -100:
        """``candle{interval}``: data rows ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``
        (the last two came later)."""
        cdef Field* arg_type
        cdef ArrayIter it
        cdef Field elem
        cdef Scalar row[CANDLE_WIDTH]
        cdef double v[7]
        cdef double volume, quote_volume
        cdef int64_t open_time
        cdef uint32_t inst
        cdef bint resolved = False
        cdef int got, rc, count, j, spot
        cdef uint8_t closed
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_kline
        pick(af, na, "instType", &arg_type)
        if not is_text(arg_inst):
            return -E_MISSING
        spot = spot_like(arg_type, arg_inst)
        array_begin(&it, data.val, data.vlen)
        while True:
            got = array_next(&it, &elem)
            if got == 0:
                break
            if got < 0:
                return -it.c.err if it.c.err != E_OK else -E_SYNTAX
            if elem.type != T_ARRAY:
                return -E_TYPE
            rc = self.row_of(&elem, row, CANDLE_WIDTH, &count)
            if rc:
                return -rc
            if count < 7:
                return -E_VALUE
            if row[0].type != T_STRING or not millis_text(row[0].val, row[0].vlen, row[0].escaped, &open_time):
                return -E_NUMBER
            for j in range(6):
                if not scalar_decimal(&row[1 + j], &v[j]):
                    return -E_NUMBER
            if count > 7:
                if not scalar_decimal(&row[7], &v[6]):
                    return -E_NUMBER
            else:
                v[6] = NAN
            closed = 0
            if count > 8:
                if row[8].type != T_STRING:
                    return -E_VALUE
                if text_eq(row[8].val, row[8].vlen, row[8].escaped, "1", 1):
                    closed = 1
                elif not text_eq(row[8].val, row[8].vlen, row[8].escaped, "0", 1):
                    return -E_VALUE
            if spot:
                volume = v[4]
                quote_volume = v[6] if count > 7 else v[5]
            else:
                volume, quote_volume = v[5], v[6]
            if not resolved:
                if not self.instrument(arg_inst, &inst):
                    return -E_TEXT
                resolved = True
            r = append_row(self, b, inst, self.ts_recv)  # a candle push carries no event time
            if not b.put_text(KLINE_INTERVAL_OFF, r, interval, ilen, False):
                return -E_TEXT
            set_i8(b, KLINE_OPEN_TIME, r, open_time)
            set_i8(b, KLINE_CLOSE_TIME, r, 0)
            set_f8(b, KLINE_OPEN, r, v[0])
            set_f8(b, KLINE_HIGH, r, v[1])
            set_f8(b, KLINE_LOW, r, v[2])
            set_f8(b, KLINE_CLOSE, r, v[3])
            set_f8(b, KLINE_VOLUME, r, volume)
            set_f8(b, KLINE_QUOTE_VOLUME, r, quote_volume)
            set_f8(b, KLINE_TAKER_BUY_VOLUME, r, NAN)
            set_f8(b, KLINE_TAKER_BUY_QUOTE_VOLUME, r, NAN)
            set_u8(b, KLINE_TRADE_COUNT, r, 0)
            set_u1(b, KLINE_CLOSED, r, closed)
        rc = self.array_end(&it)
        if rc:
            return -rc
        data.type = T_DONE
        return RC_PARSED

    cdef int funding(self, OkxContext* x, Field* f, int nf) except -100:
        cdef Field* v[5]
        cdef double rate, predicted
        cdef int64_t ts, funding_time = 0
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_funding
        pick(f, nf, "instId ts fundingRate nextFundingRate fundingTime", v)
        v[0] = self.item_inst(x, v[0])
        if not is_text(v[0]):
            return -E_MISSING
        if truthy(v[1]):
            if not field_millis_text(v[1], &ts):
                return -E_NUMBER
        else:
            ts = self.ts_recv
        if not decimal(v[2], &rate) or not decimal_or_nan(v[3], &predicted):
            return -E_NUMBER
        if truthy(v[4]) and not field_millis_text(v[4], &funding_time):
            return -E_NUMBER
        if not self.instrument(v[0], &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        set_f8(b, FUNDING_RATE_FUNDING_RATE, r, rate)
        set_f8(b, FUNDING_RATE_PREDICTED_RATE, r, predicted)
        set_f8(b, FUNDING_RATE_MARK_PRICE, r, NAN)
        set_f8(b, FUNDING_RATE_INDEX_PRICE, r, NAN)
        set_i8(b, FUNDING_RATE_FUNDING_TIME, r, funding_time)
        return RC_PARSED

    cdef int open_interest(self, OkxContext* x, Field* f, int nf) except -100:
        cdef Field* v[4]
        cdef double oi, value
        cdef int64_t ts
        cdef uint32_t inst
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_oi
        pick(f, nf, "instId ts oi oiUsd", v)
        v[0] = self.item_inst(x, v[0])
        if not is_text(v[0]):
            return -E_MISSING
        if not field_millis_text(v[1], &ts) or not decimal(v[2], &oi) or not decimal_or_nan(v[3], &value):
            return -E_NUMBER
        if not self.instrument(v[0], &inst):
            return -E_TEXT
        r = append_row(self, b, inst, ts)
        set_f8(b, OPEN_INTEREST_OPEN_INTEREST, r, oi)
        set_f8(b, OPEN_INTEREST_OPEN_INTEREST_VALUE, r, value)
        return RC_PARSED

    cdef int liquidation(self, OkxContext* x, Field* f, int nf) except -100:
        """One liquidation per ``details`` entry, under the item's instrument."""
        cdef Field* v[2]
        cdef OkxContext detail
        cdef int rc
        pick(f, nf, "instId details", v)
        v[0] = self.item_inst(x, v[0])
        if not is_text(v[0]) or v[1] == NULL:
            return -E_MISSING
        detail = x[0]
        detail.channel = OKX_LIQUIDATION_DETAIL
        detail.inst = v[0]
        detail.resolved = False
        rc = self.each_object(&detail, v[1], False)
        v[1].type = T_DONE
        return rc

    cdef int liquidation_detail(self, OkxContext* x, Field* f, int nf) except -100:
        cdef Field* v[4]
        cdef double price, amount
        cdef int64_t ts
        cdef int side
        cdef Py_ssize_t r
        cdef RecordBuffer b = self.b_liq
        pick(f, nf, "ts side bkPx sz", v)
        if not field_millis_text(v[0], &ts):
            return -E_NUMBER
        side = side_of(v[1])
        if side == 0:
            return -E_VALUE
        if not decimal(v[2], &price) or not decimal(v[3], &amount):
            return -E_NUMBER
        if not x.resolved:
            if not self.instrument(x.inst, &x.code):
                return -E_TEXT
            x.resolved = True
        r = append_row(self, b, x.code, ts)
        set_i1(b, LIQUIDATION_SIDE, r, <int8_t>side)
        set_f8(b, LIQUIDATION_PRICE, r, price)
        set_f8(b, LIQUIDATION_AMOUNT, r, amount)
        empty_text(b, LIQUIDATION_ORDER_ID_OFF, r)
        empty_text(b, LIQUIDATION_STATUS_OFF, r)
        return RC_PARSED

    # ---- REST ---------------------------------------------------------------------------------

    cdef int parse_open_interest(self, const char* p, Py_ssize_t n) except -100:
        """``GET /api/v5/public/open-interest``: ``{"code":"0","data":[{instId, oi, ts...}]}``."""
        cdef Field top_stack[MAX_FIELDS]
        cdef Field* top = top_stack
        cdef Field* v[2]
        cdef int nt = 0, rc
        cdef OkxContext x
        rc = self.begin_text(p, n)
        if rc < 0:
            return rc
        rc = scan_object(p, n, &top, &nt, True, &self.lv)
        if rc:
            return -rc
        pick(top, nt, "code data", v)
        if not word_is(v[0], "0", 1):
            return -E_VALUE
        if v[1] == NULL:
            return -E_MISSING
        x.channel = OKX_OPEN_INTEREST
        x.arg_inst = NULL
        x.resolved = False
        rc = self.each_object(&x, v[1], False)
        if rc < 0:
            return rc
        v[1].type = T_DONE
        rc = self.check_rest(top, nt)
        return -rc if rc else RC_PARSED
