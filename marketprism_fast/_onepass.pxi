# One-pass readers for compact plain-text objects: each member read straight into its typed
# value as the cursor passes, with no member table.
#
# A venue's fast path uses them for the canonical shape of its hot messages only: compact
# plain text (begin_text said so: the next quote ends a string), the values the reference
# accepts. Anything else gives NULL, the fast path answers FAST_PATH_MISSED before it writes
# a row, and the general path decides: verdicts and records are the general path's, by
# construction.

DEF FAST_PATH_MISSED = -99


cdef inline const char* fast_key(const char* p, const char* end, char* key) noexcept nogil:
    """At a member: its one-letter key ``"k":`` (0 for a longer name, such as COIN-M's ``ps``:
    no reader reads one, as letter() finds none), the value's first byte after it; else NULL."""
    cdef const char* name
    cdef Py_ssize_t n
    if end - p >= 6 and p[0] == 34 and p[1] != 34 and p[2] == 34 and p[3] == 58:
        key[0] = p[1]
        return p + 4
    key[0] = 0
    return fast_name(p, end, &name, &n)


cdef inline const char* fast_uint(const char* p, uint64_t* out) noexcept nogil:
    """A JSON integer token of at most 19 digits (no sign, no leading zero), the byte after it
    a sentinel that is not a digit; NULL otherwise."""
    cdef const char* s = p
    cdef uint64_t v = 0
    cdef unsigned int d = <unsigned char>p[0] - 48
    while d <= 9:
        v = v * 10 + d
        p += 1
        d = <unsigned char>p[0] - 48
    if p == s or p - s > 19 or (p - s > 1 and s[0] == 48):
        return NULL
    out[0] = v
    return p


cdef inline const char* fast_text(const char* p, const char* end, const char** s, Py_ssize_t* n) noexcept nogil:
    """A string of plain text at its opening quote: content span, the byte after it; else NULL."""
    cdef const char* q
    if p[0] != 34:
        return NULL
    q = mpf_find_quote(p + 1, end)
    if q >= end:
        return NULL
    s[0] = p + 1
    n[0] = q - (p + 1)
    return q + 1


cdef inline const char* fast_decimal_text(const char* p, double* out) noexcept nogil:
    """A decimal text ``"-?d+(.d+)?"`` the exact fast path converts; the byte after it, or NULL."""
    cdef const char* q
    if p[0] != 34:
        return NULL
    q = fast_decimal(p + 1, out)
    if q == NULL or q[0] != 34:
        return NULL
    return q + 1


cdef inline const char* fast_other(const char* p, const char* end) noexcept nogil:
    """Past a scalar the handler does not read (validated as the scanner would); NULL for a
    container or anything unusual. A number is checked, not converted: its token is one
    quick_number takes (so it is finite)."""
    cdef const char* s
    cdef Py_ssize_t n
    cdef uint64_t m
    cdef int nfrac
    if p[0] == 34:
        return fast_text(p, end, &s, &n)
    if p[0] == 116:
        return p + 4 if end - p > 4 and memcmp(p, b"true", 4) == 0 else NULL
    if p[0] == 102:
        return p + 5 if end - p > 5 and memcmp(p, b"false", 5) == 0 else NULL
    if p[0] == 110:
        return p + 4 if end - p > 4 and memcmp(p, b"null", 4) == 0 else NULL
    if p[0] == 45 or is_digit(p[0]):
        return quick_number_token(p, end, &m, &nfrac)
    return NULL


cdef inline const char* fast_next(const char* p, const char* end, bint* done) noexcept nogil:
    """After a value: past its ',' (or, at the object's closing brace, *done); else NULL."""
    if p >= end:
        return NULL
    if p[0] == 44:
        return p + 1
    if p[0] == 125 and p + 1 == end:
        done[0] = True
        return p
    return NULL


cdef inline const char* fast_name(const char* p, const char* end, const char** key, Py_ssize_t* klen) noexcept nogil:
    """At a member: its key ``"name":``, the value's first byte after it; else NULL."""
    cdef const char* q
    if end - p < 4 or p[0] != 34:
        return NULL
    q = mpf_find_quote(p + 1, end)
    if end - q < 3 or q[1] != 58:
        return NULL
    key[0] = p + 1
    klen[0] = q - (p + 1)
    return q + 2


cdef inline const char* plain_member(const char* p, const char* end, const char* name, Py_ssize_t n,
                                     const char** val, Py_ssize_t* vlen) noexcept nogil:
    """At ``"name":"text"`` then ',' or the object's end ``end``: the text's span, the byte
    after the ',' (or ``end``); NULL for anything else, or when p is NULL (so that members
    chain without a check each)."""
    cdef const char* q
    if p == NULL or end - p < n + 5 or p[0] != 34 or p[n + 1] != 34 or p[n + 2] != 58 or p[n + 3] != 34 \
            or memcmp(p + 1, name, n) != 0:
        return NULL
    val[0] = p + n + 4
    q = mpf_find_quote(val[0], end)
    if q >= end:
        return NULL
    vlen[0] = q - val[0]
    q += 1
    if q < end and q[0] == 44:
        return q + 1
    return q if q == end else NULL


cdef inline const char* fast_number(const char* p, const char* end, double* out) noexcept nogil:
    """A JSON number the scanner's fast conversion takes; NULL otherwise (null too)."""
    cdef Field f
    cdef Cursor c
    c.p = p
    c.end = end
    if not quick_number(&c, &f) or not f.has_num:
        return NULL
    out[0] = f.num
    return c.p


cdef inline const char* fast_number_or_null(const char* p, const char* end, double* out) noexcept nogil:
    """A JSON number the scanner's fast conversion takes, or null (NaN); NULL otherwise."""
    if p[0] == 110:
        if end - p > 4 and memcmp(p, b"null", 4) == 0:
            out[0] = NAN
            return p + 4
        return NULL
    return fast_number(p, end, out)


cdef inline const char* flat_object_end(const char* p, const char* end) noexcept nogil:
    """At a '{': past a compact object whose values are scalars fast_other takes (a subset of
    what skip_container accepts); NULL for any other, which skip_container then judges."""
    cdef const char* key
    cdef Py_ssize_t klen
    p += 1
    if p < end and p[0] == 125:
        return p + 1
    while True:
        p = fast_name(p, end, &key, &klen)
        if p == NULL:
            return NULL
        p = fast_other(p, end)
        if p == NULL or p >= end:
            return NULL
        if p[0] == 125:
            return p + 1
        if p[0] != 44:
            return NULL
        p += 1


cdef inline const char* fast_skip(const char* p, const char* end) noexcept nogil:
    """Past any value the handler does not read: scalars as fast_other takes them, containers
    validated strictly; NULL for anything else."""
    cdef Cursor c
    cdef const char* q
    if p[0] == 123:  # most often a flat object of scalars (Deribit's greeks): walked here
        q = flat_object_end(p, end)
        if q != NULL:
            return q
    if p[0] == 123 or p[0] == 91:
        c.p = p
        c.end = end
        c.err = E_OK
        return c.p if skip_container(&c) else NULL
    return fast_other(p, end)
