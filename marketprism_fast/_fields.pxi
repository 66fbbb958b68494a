# Typed values by the reference parsers' rules (reference/fields.py): a decimal text, a JSON
# number, an integer, a millisecond timestamp, a non-empty text... Every venue parser reads
# its fields through these, so the compiled and the reference parsers accept and reject the
# same values.

DEF T_DONE = 0            # a field a handler consumed and validated (check_rest skips it)
DEF SHAPE_MISSED = -97    # a fast path saw an unexpected shape: take the general path
DEF TEXT_SCRATCH = 3072   # 6 * MAX_TEXT_BYTES: an escaped text longer than this unescapes to more than MAX_TEXT_BYTES

cdef uint64_t MAX_MS = 9223372036854ULL  # the largest ms timestamp whose ns fit int64


cdef inline int decode_text(const char* s, Py_ssize_t n, bint escaped, char* buf, const char** out, Py_ssize_t* m) noexcept nogil:
    """The text of a string value (unescaped into buf, TEXT_SCRATCH bytes, when needed).
    1 done; 0 not valid string content; 2 an escaped text too long for buf (its text is
    longer than MAX_TEXT_BYTES, so it equals none of a venue's words: *out, *m hold an empty
    text)."""
    if not escaped:
        out[0] = s
        m[0] = n
        return 1
    if n > TEXT_SCRATCH:
        out[0] = s
        m[0] = 0
        return 2
    m[0] = unescape_json(s, n, buf)
    out[0] = buf
    return m[0] >= 0


cdef object unescaped_long(const char* s, Py_ssize_t n):
    """The unescaped content of a string value too long for a stack scratch (decode_text
    said 2), as bytes; None when it is not valid string content."""
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef Py_ssize_t m = unescape_json(s, n, PyBytes_AS_STRING(out))
    if m < 0:
        return None
    return out[:m]


cdef inline bint text_eq(const char* s, Py_ssize_t n, bint escaped, const char* word, Py_ssize_t wn) noexcept nogil:
    cdef char buf[TEXT_SCRATCH]
    cdef const char* t
    cdef Py_ssize_t m
    if not escaped:
        return n == wn and memcmp(s, word, wn) == 0
    if n > 12 * wn:  # each unescaped byte takes at most 12 bytes of escapes: too long to be equal
        return False
    return decode_text(s, n, True, buf, &t, &m) == 1 and m == wn and memcmp(t, word, wn) == 0


cdef inline bint word_is(Field* f, const char* word, Py_ssize_t wn) noexcept nogil:
    """The field is the JSON string ``word`` (as decoded)."""
    return f != NULL and f.type == T_STRING and text_eq(f.val, f.vlen, f.escaped, word, wn)


cdef inline bint is_text(Field* f) noexcept nogil:
    """A non-empty JSON string (reference ``text``)."""
    return f != NULL and f.type == T_STRING and f.vlen > 0


cdef inline int side_of(Field* f) noexcept nogil:
    """+1 for "buy", -1 for "sell", 0 for anything else (reference ``side_from_word``)."""
    if word_is(f, "buy", 3):
        return 1
    if word_is(f, "sell", 4):
        return -1
    return 0


cdef int decimal_text(const char* s, Py_ssize_t n, bint escaped, double* out) except -1:
    """float() of a string value's content in JSON-number grammar, finite, at most
    MAX_DECIMAL_CHARS characters; 0 when it is not one (g_limit says when it was too long).
    (Unescaped content is followed by its closing quote, fast_decimal's sentinel.)"""
    cdef char buf[TEXT_SCRATCH]
    cdef const char* t
    cdef Py_ssize_t m
    cdef int rc
    if not escaped and n > 0 and fast_decimal(s, out) == s + n:
        return 1  # at most 19 digits, no exponent: finite
    rc = decode_text(s, n, escaped, buf, &t, &m)
    if rc == 0:
        return 0
    if rc == 2 or m > MAX_DECIMAL_CHARS:
        set_limit(LIMIT_DECIMAL)
        return 0
    return parse_double(t, m, out) and isfinite(out[0])


cdef inline int decimal(Field* f, double* out) except -1:
    """A required decimal text (reference ``decimal``)."""
    if f == NULL or f.type != T_STRING:
        return 0
    return decimal_text(f.val, f.vlen, f.escaped, out)


cdef inline int decimal_or_nan(Field* f, double* out) except -1:
    """Absent, null or "" -> NaN; else a decimal text (reference ``decimal_or_nan``)."""
    if f == NULL or f.type == T_NULL or (f.type == T_STRING and f.vlen == 0):
        out[0] = NAN
        return 1
    return decimal(f, out)


cdef inline int scalar_decimal(Scalar* v, double* out) except -1:
    """A level element that must be a decimal text."""
    if v.type != T_STRING:
        return 0
    if v.has_num:
        out[0] = v.num
        return 1
    return decimal_text(v.val, v.vlen, v.escaped, out)


cdef inline int scalar_number(Scalar* v, double* out) except -1:
    """A level element that must be a JSON number."""
    if v.type != T_NUMBER:
        return 0
    if v.has_num:
        out[0] = v.num
        return 1
    return parse_double(v.val, v.vlen, out) and isfinite(out[0])


cdef inline int millis_text(const char* s, Py_ssize_t n, bint escaped, int64_t* out) noexcept nogil:
    """A millisecond timestamp sent as digit text -> ns (reference ``millis_text``); s[0:n]
    is a string value's content."""
    cdef char buf[128]
    cdef const char* t
    cdef Py_ssize_t m
    cdef uint64_t v = 0
    cdef const char* q = s
    cdef unsigned int d
    if not escaped and 0 < n <= 19 and (n == 1 or s[0] != 48):  # no overflow possible
        d = <unsigned char>q[0] - 48
        while d <= 9:  # unchecked: the string's closing quote follows its content
            v = v * 10 + d
            q += 1
            d = <unsigned char>q[0] - 48
        if q != s + n or v > MAX_MS:
            return 0
        out[0] = <int64_t>v * 1000000
        return 1
    if escaped and n > 120:  # unescapes to more than 20 characters: not a u64
        return 0
    if decode_text(s, n, escaped, buf, &t, &m) != 1 or not parse_u64(t, m, &v) or v > MAX_MS:
        return 0
    out[0] = <int64_t>v * 1000000
    return 1


cdef inline int field_millis_text(Field* f, int64_t* out) noexcept nogil:
    if f == NULL or f.type != T_STRING:
        return 0
    return millis_text(f.val, f.vlen, f.escaped, out)


cdef inline int json_number(Field* f, double* out) except -1:
    """A required JSON number (reference ``number``)."""
    if f == NULL or f.type != T_NUMBER:
        return 0
    if f.has_num:
        out[0] = f.num
        return 1
    return parse_double(f.val, f.vlen, out) and isfinite(out[0])


cdef inline int json_number_or_nan(Field* f, double* out) except -1:
    if f == NULL or f.type == T_NULL:
        out[0] = NAN
        return 1
    return json_number(f, out)


cdef inline int json_u64(Field* f, uint64_t* out) noexcept nogil:
    """A JSON integer token in [0, 2**64) (``-0`` decodes to a float: not one)."""
    if f == NULL or f.type != T_NUMBER:
        return 0
    if f.has_int:
        out[0] = f.inum
        return 1
    return parse_u64(f.val, f.vlen, out)


cdef inline int json_u64_or_zero(Field* f, uint64_t* out) noexcept nogil:
    if f == NULL or f.type == T_NULL:
        out[0] = 0
        return 1
    return json_u64(f, out)


cdef inline int json_millis(Field* f, int64_t* out) noexcept nogil:
    """A JSON-integer millisecond timestamp -> ns (reference ``millis``)."""
    cdef uint64_t v
    if not json_u64(f, &v) or v > MAX_MS:
        return 0
    out[0] = <int64_t>v * 1000000
    return 1


cdef bint truthy(Field* f) except -1:
    """Python truthiness of the decoded value (absent counts as None)."""
    cdef const char* s
    cdef const char* e
    cdef double v
    if f == NULL or f.type == T_NULL or f.type == T_FALSE:
        return False
    if f.type == T_STRING:
        return f.vlen > 0
    if f.type == T_NUMBER:
        return not parse_double(f.val, f.vlen, &v) or v != 0.0
    if f.type == T_OBJECT or f.type == T_ARRAY:
        # A container nobody has parsed yet was only skipped by bracket depth, so "[}" is
        # possible here: it counts as non-empty, and the handler that then reads it strictly
        # rejects it (an empty one is marked consumed and never read again).
        if f.val[f.vlen - 1] != f.val[0] + 2:  # '[' 91 -> ']' 93, '{' 123 -> '}' 125
            return True
        s = f.val + 1
        e = f.val + f.vlen - 1
        while s < e and (s[0] == 32 or s[0] == 9 or s[0] == 10 or s[0] == 13):
            s += 1
        return s < e
    return True


cdef inline bint same_key(const char* a, const char* b, Py_ssize_t n) noexcept nogil:
    """Member names are short: a byte loop beats a call to memcmp."""
    cdef Py_ssize_t k
    for k in range(n):
        if a[k] != b[k]:
            return False
    return True


cdef void pick(Field* f, int nf, const char* names, Field** out) noexcept nogil:
    """out[j] = the member named by the j-th space-separated word of ``names`` (the last
    one of that name, as a decoded object keeps), or NULL."""
    cdef const char* s = names
    cdef const char* e
    cdef Py_ssize_t kl
    cdef int i, j = 0
    while True:
        e = s
        while e[0] != 0 and e[0] != 32:
            e += 1
        kl = e - s
        out[j] = NULL
        i = nf - 1
        while i >= 0:
            if f[i].klen == kl and f[i].key[0] == s[0] and same_key(f[i].key, s, kl):
                out[j] = &f[i]
                break
            i -= 1
        if e[0] == 0:
            return
        s = e + 1
        j += 1


cdef inline void set_scalar(Scalar* v, Field* f) noexcept nogil:
    v.val = f.val
    v.vlen = <int32_t>f.vlen
    v.type = <int8_t>f.type
    v.escaped = f.escaped
    v.has_num = f.has_num if f.type == T_NUMBER else 0
    v.num = f.num


cdef inline int json_bool(Field* f, bint* out) noexcept nogil:
    """A required JSON true or false (reference ``boolean``)."""
    if f == NULL or (f.type != T_TRUE and f.type != T_FALSE):
        return 0
    out[0] = f.type == T_TRUE
    return 1


cdef inline int text_or_empty(Field* f) noexcept nogil:
    """Absent, null or a JSON string (reference ``text_or_empty``); 0 for anything else."""
    return f == NULL or f.type == T_NULL or f.type == T_STRING
