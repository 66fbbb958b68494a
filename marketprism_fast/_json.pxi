# A validating JSON scanner that never allocates.
#
# ``scan_object`` walks one object and records, for each member, its name and the value's
# span and type in a caller-owned Field table (on the stack; an object with more members
# than it holds moves to a larger table in the frame scratch, see scan_members). Nested
# objects and arrays are validated and skipped; their span is recorded so that a handler can
# scan them in turn. Names are compared as decoded text, as a JSON decoder gives them: a name
# with an escape (``"\u0070"`` is ``p``) is unescaped into the frame scratch once, when it is
# scanned, and the member then holds the decoded name, so every lookup compares plain bytes.
# String values keep a flag saying whether they contain escapes, so that text columns can be
# unescaped when they are copied out.

from libc.string cimport memchr, memcmp, memcpy, memset, strlen
from libc.stdlib cimport realloc, free, malloc

cdef extern from *:
    """
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* The first '"' or '\\' in [p, end), or end: sixteen bytes a step where SSE2 exists. */
    static inline const char *mpf_find_quote_or_backslash(const char *p, const char *end) {
    #if defined(__SSE2__)
        const __m128i quote = _mm_set1_epi8(0x22);
        const __m128i backslash = _mm_set1_epi8(0x5c);
        for (; end - p >= 16; p += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
            if (mask) return p + __builtin_ctz((unsigned)mask);
        }
    #endif
        while (p < end && *p != 0x22 && *p != 0x5c) p++;
        return p;
    }
    /* The first '"' in [p, end), or end. */
    static inline const char *mpf_find_quote(const char *p, const char *end) {
    #if defined(__SSE2__)
        const __m128i quote = _mm_set1_epi8(0x22);
        for (; end - p >= 16; p += 16) {
            int mask = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), quote));
            if (mask) return p + __builtin_ctz((unsigned)mask);
        }
    #endif
        while (p < end && *p != 0x22) p++;
        return p;
    }
    """
    const char* mpf_find_quote_or_backslash(const char* p, const char* end) noexcept nogil
    const char* mpf_find_quote(const char* p, const char* end) noexcept nogil

DEF MAX_FIELDS = 48    # members a caller's stack table holds; scan_members moves a larger object to the scratch
DEF LETTER_SLOTS = 255  # positions a letters index (uint8_t, 1 + position) can name
DEF LEVEL_WIDTH = 4   # scalars kept per level row (Binance sends 2, Deribit 3, OKX 4)
DEF MAX_DEPTH = 64       # limits.MAX_DEPTH: containers open at once anywhere in a frame
# Walkers (skip_container, skip_balanced) count depth from the container they start at, and
# venue handlers start them at most DEPTH_MARGIN levels down the frame. So a frame whose
# walkers all stay within MAX_DEPTH - DEPTH_MARGIN is within MAX_DEPTH; a walker that goes
# deeper fails with E_NESTING, and only then is the whole frame measured (frame_depth) and,
# if it is in fact within the limit, parsed again with walkers allowed MAX_DEPTH.
DEF DEPTH_MARGIN = 16
cdef int g_depth_limit = MAX_DEPTH - DEPTH_MARGIN
DEF MAX_TEXT_BYTES = 512     # limits.MAX_TEXT_BYTES: a text of a record (instrument name, text column), unescaped
DEF MAX_DECIMAL_CHARS = 400  # limits.MAX_DECIMAL_CHARS: a decimal text, unescaped

# Field value types
DEF T_STRING = 1
DEF T_NUMBER = 2
DEF T_OBJECT = 3
DEF T_ARRAY = 4
DEF T_TRUE = 5
DEF T_FALSE = 6
DEF T_NULL = 7

# Scan/parse errors (index into ERROR_TEXT)
DEF E_OK = 0
DEF E_TRUNCATED = 1
DEF E_SYNTAX = 2
DEF E_TOO_MANY_FIELDS = 3
DEF E_MISSING = 4
DEF E_TYPE = 5
DEF E_NUMBER = 6
DEF E_TEXT = 7
DEF E_NESTING = 8
DEF E_VALUE = 9
DEF E_LIMIT = 10        # an input limit (g_limit says which)
DEF E_NEGATIVE = 11
DEF E_NOT_FRAME = 12

# Input limits (limits.LIMIT_NAMES order, 1-based): the one the current frame ran into.
DEF LIMIT_NONE = 0
DEF LIMIT_FRAME_BYTES = 1
DEF LIMIT_DEPTH = 2
DEF LIMIT_DECIMAL = 3
DEF LIMIT_TEXT = 4
DEF LIMIT_ROWS = 5
DEF LIMIT_INSTRUMENTS = 6
cdef int g_limit = LIMIT_NONE   # set where a limit refuses a value; read when the frame fails


cdef inline void set_limit(int which) noexcept nogil:
    global g_limit
    if g_limit == LIMIT_NONE:
        g_limit = which

# ---- the frame scratch ---------------------------------------------------------------------
# Room that lives until the next frame begins (ParserBase._begin calls scratch_reset): the
# decoded names of members whose names hold escapes, and the tables of objects with more
# members than a stack table holds. Real frames never use it. Blocks are chained, never
# moved, so a pointer into the scratch stays valid for the whole frame; what one frame uses
# is bounded by its size (a decoded name is never longer than its escaped text; a member
# table costs sizeof(Field) per member, doubled while it grows).

DEF SCRATCH_FIRST = 4096   # the size of the block kept between frames
DEF SCRATCH_HEAD = 16      # a block starts with the block before it and its own size
cdef char* g_scratch = NULL
cdef Py_ssize_t g_scratch_n = SCRATCH_HEAD
cdef Py_ssize_t g_scratch_cap = 0


cdef void* scratch_alloc(Py_ssize_t size) noexcept nogil:
    """``size`` bytes (16-aligned) valid until scratch_reset; NULL when memory ran out."""
    global g_scratch, g_scratch_n, g_scratch_cap
    cdef char* block
    cdef Py_ssize_t cap
    cdef void* out
    size = (size + 15) & ~(<Py_ssize_t>15)
    if g_scratch == NULL or g_scratch_n + size > g_scratch_cap:
        cap = g_scratch_cap * 2 if g_scratch_cap >= SCRATCH_FIRST else SCRATCH_FIRST
        if cap < size + SCRATCH_HEAD:
            cap = size + SCRATCH_HEAD
        block = <char*>malloc(cap)
        if block == NULL:
            return NULL
        (<void**>block)[0] = g_scratch
        (<Py_ssize_t*>block)[1] = cap
        g_scratch = block
        g_scratch_n = SCRATCH_HEAD
        g_scratch_cap = cap
    out = g_scratch + g_scratch_n
    g_scratch_n += size
    return out


cdef inline void scratch_reset() noexcept nogil:
    """Forget the previous frame's scratch (nothing to do after a frame that used none):
    only a first-size block that nothing was chained before is kept."""
    global g_scratch, g_scratch_n, g_scratch_cap
    cdef char* prev
    if g_scratch_n == SCRATCH_HEAD:
        return
    while g_scratch != NULL and ((<void**>g_scratch)[0] != NULL or g_scratch_cap != SCRATCH_FIRST):
        prev = <char*>(<void**>g_scratch)[0]
        free(g_scratch)
        g_scratch = prev
        g_scratch_cap = (<Py_ssize_t*>prev)[1] if prev != NULL else 0
    g_scratch_n = SCRATCH_HEAD


ERROR_TEXT = (
    "ok",
    "truncated frame",
    "JSON syntax error",
    "too many members in an object",
    "required field missing",
    "field has the wrong JSON type",
    "bad number",
    "bad text value",
    "nesting too deep",
    "unexpected value",
    "input limit",
    "negative price or amount",
    "not a frame",
)


cdef inline void skip_ws(Cursor* c) noexcept nogil:
    cdef unsigned char ch
    while c.p < c.end:
        ch = <unsigned char>c.p[0]
        if ch > 32:  # the common case first: compact JSON has no whitespace
            return
        if ch == 32 or ch == 10 or ch == 13 or ch == 9:
            c.p += 1
        else:
            return


cdef inline bint is_hex(char ch) noexcept nogil:
    return is_digit(ch) or (97 <= ch <= 102) or (65 <= ch <= 70)


cdef inline bint fail(Cursor* c, int err) noexcept nogil:
    if c.err == E_OK:
        c.err = E_TRUNCATED if c.p >= c.end else err
    return False


cdef inline bint scan_string(Cursor* c, const char** start, Py_ssize_t* n, bint* escaped) noexcept nogil:
    """At an opening quote: find the closing one. Sets the content span."""
    cdef const char* s = c.p + 1
    cdef const char* q = s
    cdef const char* end = c.end
    cdef char ch
    escaped[0] = False
    while True:
        q = mpf_find_quote_or_backslash(q, end)
        if q >= end:
            break
        if q[0] == 34:
            start[0] = s
            n[0] = q - s
            c.p = q + 1
            return True
        # backslash: a valid JSON escape must follow
        escaped[0] = True
        if q + 1 >= end:
            break
        ch = q[1]
        if ch == 117:  # \uXXXX
            if q + 6 > end or not (is_hex(q[2]) and is_hex(q[3]) and is_hex(q[4]) and is_hex(q[5])):
                c.p = q
                return fail(c, E_SYNTAX)
            q += 6
            continue
        if not (ch == 34 or ch == 92 or ch == 47 or ch == 98 or ch == 102 or ch == 110 or ch == 114 or ch == 116):
            c.p = q
            return fail(c, E_SYNTAX)
        q += 2
    c.p = end
    return fail(c, E_TRUNCATED)


cdef inline bint skip_balanced(Cursor* c) noexcept nogil:
    """At '{' or '[': move past the matching closer, minding strings, without validating
    the grammar inside. Whoever consumes the container parses it strictly; containers
    nobody consumes are validated by validate_lazy before a frame counts as parsed."""
    cdef int depth = 0
    cdef char ch
    cdef const char* s
    cdef Py_ssize_t n
    cdef bint esc
    while c.p < c.end:
        ch = c.p[0]
        if ch == 34:
            if not scan_string(c, &s, &n, &esc):
                return False
            continue
        if ch == 123 or ch == 91:
            depth += 1
            if depth > g_depth_limit:
                return fail(c, E_NESTING)
        elif ch == 125 or ch == 93:
            depth -= 1
            if depth == 0:
                c.p += 1
                return True
        c.p += 1
    return fail(c, E_TRUNCATED)


cdef int frame_depth(const char* p, Py_ssize_t n) noexcept nogil:
    """The deepest nesting of containers in p[0:n], strings minded (exact for valid JSON)."""
    cdef Py_ssize_t i = 0
    cdef int depth = 0, deepest = 0
    cdef char ch
    while i < n:
        ch = p[i]
        if ch == 34:
            i += 1
            while i < n and p[i] != 34:
                if p[i] == 92:
                    i += 1
                i += 1
        elif ch == 123 or ch == 91:
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch == 125 or ch == 93:
            depth -= 1
        i += 1
    return deepest


cdef inline bint scan_number_token(Cursor* c) noexcept nogil:
    """A JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, finite as a double
    (validated here, so a number nobody reads still makes a damaged frame malformed)."""
    cdef const char* p = c.p
    cdef const char* end = c.end
    cdef const char* d
    cdef bint exponent = False
    if p < end and p[0] == 45:
        p += 1
    d = p
    while p < end and is_digit(p[0]):
        p += 1
    if p == d or (p - d > 1 and d[0] == 48):
        c.p = p
        return fail(c, E_SYNTAX)
    if p < end and p[0] == 46:
        p += 1
        d = p
        while p < end and is_digit(p[0]):
            p += 1
        if p == d:
            c.p = p
            return fail(c, E_SYNTAX)
    if p < end and (p[0] == 101 or p[0] == 69):
        exponent = True
        p += 1
        if p < end and (p[0] == 43 or p[0] == 45):
            p += 1
        d = p
        while p < end and is_digit(p[0]):
            p += 1
        if p == d:
            c.p = p
            return fail(c, E_SYNTAX)
    # only these can leave the double range (a strict decoder rejects such a number)
    if (exponent or p - c.p > 300) and not number_finite(c.p, p - c.p):
        return fail(c, E_NUMBER)
    c.p = p
    return True


cdef inline bint scan_literal(Cursor* c, const char* lit, Py_ssize_t n) noexcept nogil:
    if c.end - c.p < n:
        c.p = c.end
        return fail(c, E_TRUNCATED)
    if memcmp(c.p, lit, n) != 0:
        return fail(c, E_SYNTAX)
    c.p += n
    return True


cdef bint skip_container(Cursor* c) noexcept nogil:
    """At '{' or '[': validate and skip the whole container (iteratively, bounded depth)."""
    cdef char stack[MAX_DEPTH]
    cdef int depth = 0
    cdef char ch
    cdef const char* s
    cdef Py_ssize_t n
    cdef bint esc
    cdef bint expect_value
    cdef bint just_opened
    stack[0] = c.p[0]
    depth = 1
    c.p += 1
    # state: after an opening bracket or a comma we expect a member/element (or a closer
    # right after the opener); after a value we expect ',' or the closer.
    expect_value = True
    just_opened = True
    while True:
        skip_ws(c)
        if c.p >= c.end:
            return fail(c, E_TRUNCATED)
        ch = c.p[0]
        if expect_value:
            if just_opened and ((ch == 125 and stack[depth - 1] == 123) or (ch == 93 and stack[depth - 1] == 91)):
                c.p += 1
                depth -= 1
                if depth == 0:
                    return True
                expect_value = False
                just_opened = False
                continue
            if stack[depth - 1] == 123:  # object member: "key" :
                if ch != 34:
                    return fail(c, E_SYNTAX)
                if not scan_string(c, &s, &n, &esc):
                    return False
                skip_ws(c)
                if c.p >= c.end:
                    return fail(c, E_TRUNCATED)
                if c.p[0] != 58:
                    return fail(c, E_SYNTAX)
                c.p += 1
                skip_ws(c)
                if c.p >= c.end:
                    return fail(c, E_TRUNCATED)
                ch = c.p[0]
            just_opened = False
            if ch == 123 or ch == 91:
                if depth >= g_depth_limit:
                    return fail(c, E_NESTING)
                stack[depth] = ch
                depth += 1
                c.p += 1
                just_opened = True
                continue
            if ch == 34:
                if not scan_string(c, &s, &n, &esc):
                    return False
            elif ch == 116:
                if not scan_literal(c, "true", 4):
                    return False
            elif ch == 102:
                if not scan_literal(c, "false", 5):
                    return False
            elif ch == 110:
                if not scan_literal(c, "null", 4):
                    return False
            else:
                if not scan_number_token(c):
                    return False
            expect_value = False
        else:
            if ch == 44:
                c.p += 1
                expect_value = True
            elif (ch == 125 and stack[depth - 1] == 123) or (ch == 93 and stack[depth - 1] == 91):
                c.p += 1
                depth -= 1
                if depth == 0:
                    return True
            else:
                return fail(c, E_SYNTAX)


cdef inline bint quick_decimal(Cursor* c, Scalar* out, bint quoted) noexcept nogil:
    """The common case of a level element, parsed in the same pass that scans it: a plain
    decimal ("61800.20", 0.014) of at most 19 digits whose value the fast paths convert
    exactly (same arithmetic as parse_double). False, cursor unchanged, for anything else."""
    cdef const char* p = c.p + (1 if quoted else 0)
    cdef const char* end = c.end
    cdef const char* start
    cdef uint64_t m = 0
    cdef unsigned int d
    cdef int nint, nfrac = 0
    cdef bint neg = False
    cdef double v
    if p < end and p[0] == 45:
        neg = True
        p += 1
    start = p
    p = scan_digits(p, end, &m)
    nint = <int>(p - start)
    if nint == 0 or (nint > 1 and start[0] == 48):
        return False
    if p < end and p[0] == 46:
        p += 1
        start = p
        p = scan_digits(p, end, &m)
        nfrac = <int>(p - start)
        if nfrac == 0:
            return False
    if p >= end or nint + nfrac > 19:
        return False
    if quoted:
        if p[0] != 34:
            return False
    elif p[0] == 101 or p[0] == 69 or p[0] == 46:
        return False
    if m == 0:
        v = 0.0
    elif m > MAX_EXACT:
        if not eisel_lemire(m, -nfrac, &v):
            return False
    elif nfrac:
        v = <double>m / POW10[nfrac]
    else:
        v = <double>m
    out.num = -v if neg else v
    out.has_num = 1
    out.escaped = 0
    out.val = c.p + (1 if quoted else 0)
    out.vlen = <int32_t>(p - out.val)
    out.type = T_STRING if quoted else T_NUMBER
    c.p = p + (1 if quoted else 0)
    return True


cdef bint capture_levels(Cursor* c, Field* f, Levels* lv) noexcept nogil:
    """At '[': parse an array of arrays of scalars strictly, keeping up to LEVEL_WIDTH
    scalar spans per row in *lv. False (cursor and *lv unchanged) if it is not one."""
    cdef const char* s = c.p
    cdef Py_ssize_t start = lv.n
    cdef Py_ssize_t rows = 0
    cdef Scalar* row
    cdef Scalar* grown
    cdef int k
    cdef char ch
    cdef const char* vs
    cdef const char* save
    cdef Py_ssize_t vn
    cdef bint esc
    cdef bint fast
    c.p += 1
    skip_ws(c)
    if c.p < c.end and c.p[0] == 93:
        c.p += 1
        f.lv_start = start
        f.lv_rows = 0
        f.vlen = c.p - s
        return True
    while True:
        skip_ws(c)
        if c.p >= c.end or c.p[0] != 91:
            break
        c.p += 1
        if lv.n + LEVEL_WIDTH > lv.max_items:
            break  # more rows than a frame may write: the generic path reads on (and fails)
        if lv.n + LEVEL_WIDTH > lv.cap:
            grown = <Scalar*>realloc(lv.items, (lv.cap * 2 + 64 * LEVEL_WIDTH) * sizeof(Scalar))
            if grown == NULL:
                break
            lv.items = grown
            lv.cap = lv.cap * 2 + 64 * LEVEL_WIDTH
        row = lv.items + lv.n
        # the common shape first: compact ["price","amount"] with two plain decimals
        fast = False
        save = c.p
        if c.end - c.p > 1 and c.p[0] == 34 and quick_decimal(c, &row[0], True):
            if c.end - c.p > 2 and c.p[0] == 44 and c.p[1] == 34:
                c.p += 1
                if quick_decimal(c, &row[1], True) and c.p < c.end and c.p[0] == 93:
                    c.p += 1
                    row[2].type = 0
                    row[2].has_num = 0
                    row[3].type = 0
                    row[3].has_num = 0
                    fast = True
        if not fast:
            c.p = save
            for k in range(LEVEL_WIDTH):
                row[k].type = 0
                row[k].has_num = 0
            k = 0
            skip_ws(c)
            if c.p < c.end and c.p[0] == 93:
                c.p += 1
            else:
                while c.p < c.end:
                    ch = c.p[0]
                    vs = c.p
                    esc = False
                    if k < LEVEL_WIDTH and (ch == 34 or ch == 45 or is_digit(ch)) and quick_decimal(c, &row[k], ch == 34):
                        pass
                    elif ch == 34:
                        if not scan_string(c, &vs, &vn, &esc):
                            break
                        if k < LEVEL_WIDTH:
                            row[k].type = T_STRING
                            row[k].val = vs
                            row[k].vlen = <int32_t>vn
                            row[k].escaped = esc
                    elif ch == 123 or ch == 91:
                        break
                    else:
                        if ch == 116:
                            if not scan_literal(c, "true", 4):
                                break
                        elif ch == 102:
                            if not scan_literal(c, "false", 5):
                                break
                        elif ch == 110:
                            if not scan_literal(c, "null", 4):
                                break
                        elif not scan_number_token(c):
                            break
                        vn = c.p - vs
                        if k < LEVEL_WIDTH:
                            row[k].type = T_NULL if ch == 110 else (T_TRUE if ch == 116 else (T_FALSE if ch == 102 else T_NUMBER))
                            row[k].val = vs
                            row[k].vlen = <int32_t>vn
                            row[k].escaped = esc
                    k += 1
                    skip_ws(c)
                    if c.p >= c.end:
                        break
                    if c.p[0] == 44:
                        c.p += 1
                        skip_ws(c)
                        continue
                    if c.p[0] == 93:
                        break
                    k = -1
                    break
                # an element that failed to scan may leave the cursor at a ']' (a trailing comma)
                if c.p >= c.end or c.p[0] != 93 or k < 0 or c.err != E_OK:
                    break
                c.p += 1
        lv.n += LEVEL_WIDTH
        rows += 1
        skip_ws(c)
        if c.p >= c.end:
            break
        if c.p[0] == 44:
            c.p += 1
            continue
        if c.p[0] == 93:
            c.p += 1
            f.lv_start = start
            f.lv_rows = rows
            f.vlen = c.p - s
            return True
        break
    # not an array of scalar arrays (or broken): leave it to the generic path
    c.p = s
    c.err = E_OK
    lv.n = start
    return False


cdef inline const char* quick_number_token(const char* p, const char* end, uint64_t* m, int* nfrac) noexcept nogil:
    """The token quick_number takes, ``-?(0|[1-9]d*)(.d+)?`` of at most 19 digits followed by
    a byte before ``end`` that is not part of a number: the byte after it, its digits as an
    integer in *m and the count of those after the point in *nfrac; NULL for anything else."""
    cdef const char* start
    cdef int nint
    m[0] = 0
    nfrac[0] = 0
    if p < end and p[0] == 45:
        p += 1
    start = p
    p = scan_digits(p, end, m)
    nint = <int>(p - start)
    if nint == 0 or (nint > 1 and start[0] == 48):
        return NULL
    if p < end and p[0] == 46:
        p += 1
        start = p
        p = scan_digits(p, end, m)
        nfrac[0] = <int>(p - start)
        if nfrac[0] == 0:
            return NULL
    if p >= end or p[0] == 101 or p[0] == 69 or p[0] == 46 or nint + nfrac[0] > 19:
        return NULL
    return p


cdef inline bint quick_number(Cursor* c, Field* f) noexcept nogil:
    """The common JSON number token (quick_number_token), validated and converted in one
    pass. Sets f.inum and has_int for a non-negative integer, f.num and has_num when the fast
    paths convert it exactly (parse_double's arithmetic: the value float() gives). False,
    cursor unchanged, for anything else (exponents, long mantissas), which
    scan_number_token then takes."""
    cdef uint64_t m
    cdef int nfrac
    cdef bint neg = c.p < c.end and c.p[0] == 45
    cdef double v
    cdef const char* p = quick_number_token(c.p, c.end, &m, &nfrac)
    if p == NULL:
        return False
    f.inum = m
    f.has_int = not neg and nfrac == 0
    if m <= MAX_EXACT:
        v = <double>m / POW10[nfrac] if nfrac else <double>m
        f.num = -v if neg else v
        f.has_num = 1
    elif eisel_lemire_call(m, -nfrac, &v):
        f.num = -v if neg else v
        f.has_num = 1
    else:
        f.has_num = 0
    c.p = p
    return True


cdef inline bint scan_value(Cursor* c, Field* f, bint lazy, Levels* lv=NULL) noexcept nogil:
    """At a value: record its type and span in *f and move past it."""
    cdef char ch = c.p[0]
    cdef const char* s = c.p
    f.escaped = False
    f.lazy = False
    f.lv_rows = -1
    if ch == 34:
        f.type = T_STRING
        return scan_string(c, &f.val, &f.vlen, &f.escaped)
    f.val = s
    if ch == 123 or ch == 91:
        f.type = T_OBJECT if ch == 123 else T_ARRAY
        if lazy and ch == 91 and lv != NULL and capture_levels(c, f, lv):
            return True
        if lazy:
            f.lazy = True
            if not skip_balanced(c):
                return False
        elif not skip_container(c):
            return False
    elif ch == 116:
        f.type = T_TRUE
        if not scan_literal(c, "true", 4):
            return False
    elif ch == 102:
        f.type = T_FALSE
        if not scan_literal(c, "false", 5):
            return False
    elif ch == 110:
        f.type = T_NULL
        if not scan_literal(c, "null", 4):
            return False
    else:
        f.type = T_NUMBER
        if not quick_number(c, f):
            f.has_num = 0
            f.has_int = 0
            if not scan_number_token(c):
                return False
    f.vlen = c.p - s
    return True


cdef inline int scan_object(const char* p, Py_ssize_t n, Field** table, int* count, bint lazy=True,
                            Levels* lv=NULL) noexcept nogil:
    """Scan the object spanning exactly p[0:n] (leading/trailing whitespace allowed).

    Fills table[0][0:count]: ``*table`` is the caller's table of MAX_FIELDS members; an
    object with more members moves to a larger table in the frame scratch and *table then
    points there (any number of members, as a JSON decoder takes them). Returns E_OK or an
    error code.
    """
    return scan_members(p, n, table, count, lazy, lv, NULL)


cdef inline Field* letter(Field* fields, const uint8_t* letters, char key) noexcept nogil:
    """The member with the one-character name ``key`` in a scan_members letters index."""
    cdef uint8_t i = letters[<unsigned char>key]
    return &fields[i - 1] if i else NULL


cdef inline void index_letter(uint8_t* letters, Field* f, int k) noexcept nogil:
    if letters != NULL and f.klen == 1 and <unsigned char>f.key[0] < 128 and k < LETTER_SLOTS:
        letters[<unsigned char>f.key[0]] = <uint8_t>(k + 1)


cdef bint decode_name(Field* f) noexcept nogil:
    """A member name that holds an escape, decoded into the frame scratch: f.key/klen then
    hold the name a JSON decoder gives (``"\u0070"`` -> ``p``). False when it is not valid
    string content (or memory ran out)."""
    cdef char* out = <char*>scratch_alloc(f.klen)
    cdef Py_ssize_t m
    if out == NULL:
        return False
    m = unescape_json(f.key, f.klen, out)
    if m < 0:
        return False
    f.key = out
    f.klen = m
    return True


cdef Field* grow_fields(Field* fields, int k, int* cap) noexcept nogil:
    """A table of twice *cap members in the frame scratch holding fields[0:k]; NULL when
    memory ran out."""
    cdef Field* grown = <Field*>scratch_alloc(<Py_ssize_t>cap[0] * 2 * sizeof(Field))
    if grown == NULL:
        return NULL
    memcpy(grown, fields, <Py_ssize_t>k * sizeof(Field))
    cap[0] *= 2
    return grown


cdef int fold_letters(Field* fields, int* count, uint8_t* letters) noexcept nogil:
    """An object of more members than a letters index can name (LETTER_SLOTS): members of
    one-character names folded as a decoded object keeps them (the first one's place, the
    last one's value; a value dropped is validated as validate_lazy would have) and moved to
    the front, every other member after them in its order, and the index rebuilt. A lookup
    by name sees the same members as before. E_OK or an error code."""
    cdef int k = count[0]
    cdef int slot[128]
    cdef Field* moved
    cdef Cursor c
    cdef int i, j, m = 0
    cdef unsigned char ch
    for i in range(128):
        slot[i] = -1
    for i in range(k):
        if fields[i].klen != 1 or <unsigned char>fields[i].key[0] >= 128:
            continue
        ch = <unsigned char>fields[i].key[0]
        j = slot[ch]
        if j < 0:
            slot[ch] = i
            continue
        if fields[j].lazy:
            c.p = fields[j].val
            c.end = fields[j].val + fields[j].vlen
            c.err = E_OK
            if not skip_container(&c):
                return c.err if c.err != E_OK else E_SYNTAX
        fields[j] = fields[i]
        fields[i].klen = -1  # folded into fields[j]
    moved = <Field*>scratch_alloc(<Py_ssize_t>k * sizeof(Field))
    if moved == NULL:
        return E_TOO_MANY_FIELDS
    memset(letters, 0, 128)
    for i in range(k):
        if fields[i].klen == 1 and <unsigned char>fields[i].key[0] < 128:
            moved[m] = fields[i]
            letters[<unsigned char>fields[i].key[0]] = <uint8_t>(m + 1)
            m += 1
    for i in range(k):
        if fields[i].klen >= 0 and not (fields[i].klen == 1 and <unsigned char>fields[i].key[0] < 128):
            moved[m] = fields[i]
            m += 1
    memcpy(fields, moved, <Py_ssize_t>m * sizeof(Field))
    count[0] = m
    return E_OK


cdef inline int plain_members(Cursor* c, Field* fields, int k, int cap, uint8_t* letters, bint* closed) noexcept nogil:
    """Members of an object in compact plain text (no backslash anywhere, so the next quote
    ends a string), from the one at the cursor, which is fields[k]: those with a string,
    number or literal value are recorded as scan_value would, in one tight pass, while the
    table (``cap`` members) has room. Stops at the first member it does not take (a
    container, whitespace, anything unusual), cursor at that member's start for the general
    loop; *closed when it took the object's closing brace. Returns the number of members
    recorded so far."""
    cdef const char* p = c.p
    cdef const char* end = c.end
    cdef const char* q
    cdef const char* v
    cdef const char* nxt
    cdef Field* f
    cdef Cursor num
    cdef char ch
    closed[0] = False
    while k < cap and end - p > 4 and p[0] == 34:
        q = mpf_find_quote(p + 1, end)
        if end - q < 3 or q[1] != 58:
            break
        v = q + 2
        ch = v[0]
        f = &fields[k]
        if ch == 34:
            nxt = mpf_find_quote(v + 1, end)
            if nxt >= end:
                break
            f.type = T_STRING
            f.val = v + 1
            f.vlen = nxt - f.val
            nxt += 1
        elif ch == 45 or is_digit(ch):
            num.p = v
            num.end = end
            if not quick_number(&num, f):
                break
            f.type = T_NUMBER
            f.val = v
            f.vlen = num.p - v
            nxt = num.p
        elif ch == 116 and end - v > 4 and memcmp(v, b"true", 4) == 0:
            f.type = T_TRUE
            f.val = v
            f.vlen = 4
            nxt = v + 4
        elif ch == 102 and end - v > 5 and memcmp(v, b"false", 5) == 0:
            f.type = T_FALSE
            f.val = v
            f.vlen = 5
            nxt = v + 5
        elif ch == 110 and end - v > 4 and memcmp(v, b"null", 4) == 0:
            f.type = T_NULL
            f.val = v
            f.vlen = 4
            nxt = v + 4
        else:
            break
        if nxt >= end or (nxt[0] != 44 and nxt[0] != 125):
            break
        f.key = p + 1
        f.klen = q - f.key
        f.escaped = False
        f.lazy = False
        f.lv_rows = -1
        if f.type != T_NUMBER:
            f.has_num = 0
            f.has_int = 0
        index_letter(letters, f, k)
        k += 1
        p = nxt + 1
        if nxt[0] == 125:
            closed[0] = True
            break
    c.p = p
    return k


cdef int scan_members(const char* p, Py_ssize_t n, Field** table, int* count, bint lazy, Levels* lv,
                      uint8_t* letters, bint plain=False) noexcept nogil:
    """scan_object; with ``letters`` (128 zeroed bytes) also an index of the one-character
    ASCII member names: letters[c] = 1 + the position of the last member named c (a decoded
    object keeps the last of equal keys), so handlers of terse venues need no member walk.
    ``plain``: the text holds no backslash (see plain_members)."""
    cdef Cursor c
    cdef Field* fields = table[0]
    cdef Field* f
    cdef int k = 0, rc
    cdef int cap = MAX_FIELDS
    cdef bint closed = False
    c.p = p
    c.end = p + n
    c.err = E_OK
    skip_ws(&c)
    if c.p >= c.end:
        return E_TRUNCATED
    if c.p[0] != 123:
        return E_SYNTAX
    c.p += 1
    skip_ws(&c)
    if c.p < c.end and c.p[0] == 125:
        c.p += 1
    else:
        while True:
            if plain:  # the common members in one tight pass, the rest one by one below
                k = plain_members(&c, fields, k, cap, letters, &closed)
                if closed:
                    break
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
            if f.escaped and not decode_name(f):
                return E_SYNTAX
            index_letter(letters, f, k)
            skip_ws(&c)
            if c.p >= c.end:
                return E_TRUNCATED
            if c.p[0] != 58:
                return E_SYNTAX
            c.p += 1
            skip_ws(&c)
            if c.p >= c.end:
                return E_TRUNCATED
            if not scan_value(&c, f, lazy, lv):
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
    if letters != NULL and k > LETTER_SLOTS:
        rc = fold_letters(fields, &k, letters)
        if rc:
            return rc
    count[0] = k
    return E_OK


cdef int validate_lazy(Field* fields, int count) noexcept nogil:
    """Strictly validate the containers that were skipped lazily and nobody consumed."""
    cdef Cursor c
    cdef int i
    for i in range(count):
        if fields[i].lazy:
            c.p = fields[i].val
            c.end = fields[i].val + fields[i].vlen
            c.err = E_OK
            if not skip_container(&c):
                return c.err if c.err != E_OK else E_SYNTAX
            fields[i].lazy = False
    return E_OK


# ---- arrays -------------------------------------------------------------------------

cdef inline void array_begin(ArrayIter* it, const char* p, Py_ssize_t n) noexcept nogil:
    """p[0:n] is an array token already validated by the scanner."""
    it.c.p = p + 1
    it.c.end = p + n
    it.c.err = E_OK
    it.first = True


cdef inline int array_next(ArrayIter* it, Field* out) noexcept nogil:
    """Next element into *out: 1 got one, 0 end of array, -1 error (it.c.err)."""
    skip_ws(&it.c)
    if it.c.p >= it.c.end:
        fail(&it.c, E_TRUNCATED)
        return -1
    if it.c.p[0] == 93:
        return 0
    if not it.first:
        if it.c.p[0] != 44:
            fail(&it.c, E_SYNTAX)
            return -1
        it.c.p += 1
        skip_ws(&it.c)
    it.first = False
    if not scan_value(&it.c, out, False):
        return -1
    return 1


# ---- member names -----------------------------------------------------------------------

cdef inline bint key_is(Field* f, const char* text, Py_ssize_t n) noexcept nogil:
    return f.klen == n and memcmp(f.key, text, n) == 0
