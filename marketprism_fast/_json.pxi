# A validating JSON scanner that never allocates.
#
# ``scan_object`` walks one object and records, for each member, the key bytes and the
# value's span and type in a caller-owned Field table (on the stack). Nested objects and
# arrays are validated and skipped; their span is recorded so that a handler can scan them
# in turn. Keys are compared as raw bytes (venue keys carry no escapes). String values
# keep a flag saying whether they contain escapes, so that text columns can be unescaped
# when they are copied out.

from libc.string cimport memchr, memcmp, memcpy

DEF MAX_FIELDS = 48
DEF MAX_DEPTH = 64

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
)


cdef inline void skip_ws(Cursor* c) noexcept nogil:
    cdef char ch
    while c.p < c.end:
        ch = c.p[0]
        if ch == 32 or ch == 10 or ch == 13 or ch == 9:
            c.p += 1
        else:
            return


cdef inline bint fail(Cursor* c, int err) noexcept nogil:
    if c.err == E_OK:
        c.err = E_TRUNCATED if c.p >= c.end else err
    return False


cdef inline bint scan_string(Cursor* c, const char** start, Py_ssize_t* n, bint* escaped) noexcept nogil:
    """At an opening quote: find the closing one. Sets the content span."""
    cdef const char* s = c.p + 1
    cdef const char* q = s
    cdef const char* b
    while True:
        q = <const char*>memchr(q, 34, c.end - q)
        if q == NULL:
            c.p = c.end
            return fail(c, E_TRUNCATED)
        # a quote preceded by an odd number of backslashes is itself escaped
        b = q
        while b > s and (b - 1)[0] == 92:
            b -= 1
        if (q - b) & 1:
            q += 1
            continue
        break
    escaped[0] = memchr(s, 92, q - s) != NULL
    start[0] = s
    n[0] = q - s
    c.p = q + 1
    return True


cdef inline bint scan_number_token(Cursor* c) noexcept nogil:
    cdef char ch
    cdef const char* s = c.p
    while c.p < c.end:
        ch = c.p[0]
        if is_digit(ch) or ch == 45 or ch == 43 or ch == 46 or ch == 101 or ch == 69:
            c.p += 1
        else:
            break
    if c.p == s:
        return fail(c, E_SYNTAX)
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
                if depth >= MAX_DEPTH:
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


cdef inline bint scan_value(Cursor* c, Field* f) noexcept nogil:
    """At a value: record its type and span in *f and move past it."""
    cdef char ch = c.p[0]
    cdef const char* s = c.p
    f.escaped = False
    if ch == 34:
        f.type = T_STRING
        return scan_string(c, &f.val, &f.vlen, &f.escaped)
    f.val = s
    if ch == 123 or ch == 91:
        f.type = T_OBJECT if ch == 123 else T_ARRAY
        if not skip_container(c):
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
        if not scan_number_token(c):
            return False
    f.vlen = c.p - s
    return True


cdef int scan_object(const char* p, Py_ssize_t n, Field* fields, int* count) noexcept nogil:
    """Scan the object spanning exactly p[0:n] (leading/trailing whitespace allowed).

    Fills fields[0:count]. Returns E_OK or an error code. Members beyond MAX_FIELDS are an
    error rather than silently dropped (no venue message comes near that many).
    """
    cdef Cursor c
    cdef Field* f
    cdef int k = 0
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
            skip_ws(&c)
            if c.p >= c.end:
                return E_TRUNCATED
            if c.p[0] != 34:
                return E_SYNTAX
            if k >= MAX_FIELDS:
                return E_TOO_MANY_FIELDS
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
            if not scan_value(&c, f):
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


cdef inline Field* find_field(Field* fields, int count, const char* key, Py_ssize_t klen) noexcept nogil:
    cdef int i
    for i in range(count):
        if fields[i].klen == klen and memcmp(fields[i].key, key, klen) == 0:
            return &fields[i]
    return NULL


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
    if not scan_value(&it.c, out):
        return -1
    return 1


# ---- typed field access -----------------------------------------------------------------

cdef inline int field_double(Field* f, double* out) except -1:
    """String or number -> float64; null or empty string -> NaN. 0 when not a number."""
    if f == NULL:
        out[0] = NAN
        return 1
    if f.type == T_STRING or f.type == T_NUMBER:
        if f.vlen == 0 and f.type == T_STRING:
            out[0] = NAN
            return 1
        if f.escaped:
            return 0
        return parse_double(f.val, f.vlen, out)
    if f.type == T_NULL:
        out[0] = NAN
        return 1
    return 0


cdef inline int field_u64(Field* f, uint64_t* out) noexcept nogil:
    if f.type == T_NUMBER or (f.type == T_STRING and not f.escaped):
        return parse_u64(f.val, f.vlen, out)
    return 0


cdef inline int field_i64(Field* f, int64_t* out) noexcept nogil:
    if f.type == T_NUMBER or (f.type == T_STRING and not f.escaped):
        return parse_i64(f.val, f.vlen, out)
    return 0


cdef inline int field_ms_to_ns(Field* f, int64_t* out) noexcept nogil:
    """Millisecond timestamp (number or numeric string) -> ns since the epoch."""
    cdef int64_t v
    if not field_i64(f, &v) or v < 0 or v > 9223372036854LL:
        return 0
    out[0] = v * 1000000
    return 1


cdef inline bint field_is(Field* f, const char* text, Py_ssize_t n) noexcept nogil:
    return f != NULL and f.type == T_STRING and f.vlen == n and memcmp(f.val, text, n) == 0


cdef inline bint key_is(Field* f, const char* text, Py_ssize_t n) noexcept nogil:
    return f.klen == n and memcmp(f.key, text, n) == 0
