# Text rows (JSON Lines objects, CSV rows) built from a batch's columns in C.
#
# writers.py decides what each column becomes (a "plan"); this module only copies bytes:
# floats as repr(float) (prices and amounts, short decimals, written directly; any other
# value by CPython's own shortest round-trip formatting, PyOS_double_to_string with 'r'),
# NaN/±inf as the plan's null text, integers in decimal, texts as pre-encoded
# pieces (a dictionary and a code per row) or as arena bytes the caller checked need no
# escaping. No Python object is made per value.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.conversion cimport PyOS_double_to_string
from cpython.mem cimport PyMem_Free
from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t
from libc.stdlib cimport calloc, malloc, realloc, free
from libc.string cimport memcpy, strlen

import numpy as np

# Column kinds of a plan (writers.py builds the plan with these names).
F64 = 0        # float64 values: repr, or the null text for NaN/±inf
I64 = 1        # int64 values
U64 = 2        # uint64 values
DICT = 3       # pre-encoded texts: values is a list of bytes, codes an int64 array
ARENA = 4      # arena bytes, int64 offsets and lengths; copied as they are (quoted if asked)
F64_ROWS = 5   # float64 (n, width) rows as a JSON array text: [a,b,...] (null for NaN/±inf)

DEF Py_DTSF_ADD_DOT_0 = 0x02


cdef struct Out:
    char* p
    Py_ssize_t n
    Py_ssize_t cap


cdef int reserve(Out* o, Py_ssize_t more) except -1:
    cdef Py_ssize_t cap
    cdef char* p
    if o.n + more <= o.cap:
        return 0
    cap = o.cap * 2 if o.cap else 1 << 16
    while cap < o.n + more:
        cap *= 2
    p = <char*>realloc(o.p, cap)
    if p == NULL:
        raise MemoryError()
    o.p = p
    o.cap = cap
    return 0


cdef inline int put(Out* o, const char* s, Py_ssize_t n) except -1:
    if o.n + n > o.cap:
        reserve(o, n)
    memcpy(o.p + o.n, s, n)
    o.n += n
    return 0


cdef inline int put_char(Out* o, char c) except -1:
    if o.n + 1 > o.cap:
        reserve(o, 1)
    o.p[o.n] = c
    o.n += 1
    return 0


cdef int put_u64(Out* o, uint64_t v) except -1:
    cdef char tmp[24]
    cdef int k = 24
    if v == 0:
        return put_char(o, 48)
    while v:
        k -= 1
        tmp[k] = <char>(48 + v % 10)
        v //= 10
    return put(o, tmp + k, 24 - k)


cdef int put_i64(Out* o, int64_t v) except -1:
    if v < 0:
        put_char(o, 45)
        return put_u64(o, <uint64_t>(-(v + 1)) + 1)
    return put_u64(o, <uint64_t>v)


cdef double[18] POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
                         1e14, 1e15, 1e16, 1e17]
cdef int64_t[18] IPOW10 = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
                           1000000000, 10000000000, 100000000000, 1000000000000, 10000000000000,
                           100000000000000, 1000000000000000, 10000000000000000, 100000000000000000]
DEF TWO_52 = 4503599627370496.0


cdef inline bint short_decimal(double a, int64_t* digits, int* scale) noexcept:
    """The decimal with the fewest digits after the point that reads back as ``a`` (> 0),
    when ``a * 10**scale < 2**52``: then decimals 10**-scale apart are further apart than
    ``a``'s ulp, so at most one of them reads back as ``a``, and the first scale that has
    one gives the shortest text (repr's digits). m/10**k is one correctly rounded division
    of exact operands: it equals ``a`` exactly when the text m·10**-k reads back as ``a``."""
    cdef int k
    cdef double p, d
    cdef int64_t m, c
    for k in range(18):
        p = a * POW10[k]
        if p >= TWO_52:
            return False
        m = <int64_t>(p + 0.5)
        # A decimal at this scale that reads back as a is within 10**k * ulp(a) / 2 of
        # a * 10**k, and p within ulp(p) / 2 of that: both under p * 2**-52. Further from
        # an integer, no decimal here: skip the divisions.
        d = p - <double>m
        if d < 0:
            d = -d
        if d > p * 2.220446049250313e-16 + 1e-300:
            continue
        for c in (m, m - 1, m + 1):  # the product's own rounding may be one off
            if c > 0 and <double>c / POW10[k] == a:
                digits[0] = c
                scale[0] = k
                return True
    return False


cdef int put_f64(Out* o, double v, const char* null, Py_ssize_t null_n) except -1:
    cdef char* text
    cdef char tmp[48]
    cdef int64_t m, whole, frac
    cdef int k, i, j
    cdef double a
    if not isfinite(v):
        return put(o, null, null_n)
    a = -v if v < 0 else v
    # repr's positional range is 1e-4 <= |v| < 1e16; there a short decimal is written here,
    # digit for digit what repr writes (tests/test_encode.py compares them)
    if 1e-4 <= a < 1e16 and short_decimal(a, &m, &k):
        if v < 0:
            put_char(o, 45)
        whole = m // IPOW10[k]
        frac = m - whole * IPOW10[k]
        put_u64(o, <uint64_t>whole)
        put_char(o, 46)
        if k == 0:
            return put_char(o, 48)
        for i in range(k - 1, -1, -1):
            tmp[i] = <char>(48 + frac % 10)
            frac //= 10
        return put(o, tmp, k)
    text = PyOS_double_to_string(v, b'r', 0, Py_DTSF_ADD_DOT_0, NULL)
    try:
        put(o, text, strlen(text))
    finally:
        PyMem_Free(text)
    return 0


cdef struct Col:
    int kind
    const char* prefix
    Py_ssize_t prefix_n
    bint quote
    const char* null
    Py_ssize_t null_n
    const char* data        # F64/I64/U64 values, F64_ROWS rows, ARENA bytes
    Py_ssize_t width        # F64_ROWS: values per row
    const int64_t* codes    # DICT codes, ARENA offsets
    const int64_t* length   # ARENA lengths
    const char** texts      # DICT: each text's bytes ...
    Py_ssize_t* text_n      # ... and length


def format_float(double v):
    """One float as the encoder writes it (for tests): repr(v), or 'null' for NaN/±inf."""
    cdef Out o
    o.p = NULL
    o.n = 0
    o.cap = 0
    try:
        put_f64(&o, v, b"null", 4)
        return PyBytes_FromStringAndSize(o.p, o.n).decode()
    finally:
        free(o.p)


def encode_rows(list plan, Py_ssize_t n, bytes end):
    """Rows ``0..n-1`` as text; returns ``(data, ends)``: row i is ``data[ends[i-1]:ends[i]]``.

    ``plan`` is a list of ``(prefix, kind, a, b, c, quote, null)``: the bytes written before
    the value, one of the kinds above, its arrays (``a``; ``b`` and ``c`` for ARENA/DICT), whether
    ARENA/F64_ROWS values are wrapped in double quotes, and the text for NaN/±inf. ``end`` is
    written after the last value of each row. The row loop runs in C over raw pointers; the
    objects behind them are held by ``keep`` until it ends.
    """
    cdef Py_ssize_t ncols = len(plan)
    cdef Col* cols = <Col*>calloc(ncols if ncols else 1, sizeof(Col))
    cdef Col* c
    cdef Out o
    cdef Py_ssize_t i, j, k, t
    cdef int64_t code
    cdef bytes piece
    cdef const char* endp = PyBytes_AS_STRING(end)
    cdef Py_ssize_t end_n = PyBytes_GET_SIZE(end)
    cdef list keep = []
    cdef const uint8_t[::1] u8view
    cdef const int64_t[::1] i64view
    cdef const int64_t[::1] lenview
    cdef const double[:, ::1] rowsview
    cdef const double[::1] f64view
    cdef const uint64_t[::1] u64view
    ends = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] ends_v = ends
    if cols == NULL:
        raise MemoryError()
    o.p = NULL
    o.n = 0
    o.cap = 0
    try:
        for j, (prefix, kind, a, b, cc, quote, null_text) in enumerate(plan):
            c = &cols[j]
            keep.append((prefix, null_text))
            c.kind = kind
            c.prefix = PyBytes_AS_STRING(prefix)
            c.prefix_n = PyBytes_GET_SIZE(prefix)
            c.quote = quote
            c.null = PyBytes_AS_STRING(null_text)
            c.null_n = PyBytes_GET_SIZE(null_text)
            if kind == F64:
                f64view = a
                if f64view.shape[0] < n:
                    raise ValueError("column shorter than the rows")
                keep.append(f64view)
                c.data = <const char*>&f64view[0] if n else NULL
            elif kind == I64:
                i64view = a
                if i64view.shape[0] < n:
                    raise ValueError("column shorter than the rows")
                keep.append(i64view)
                c.data = <const char*>&i64view[0] if n else NULL
            elif kind == U64:
                u64view = a
                if u64view.shape[0] < n:
                    raise ValueError("column shorter than the rows")
                keep.append(u64view)
                c.data = <const char*>&u64view[0] if n else NULL
            elif kind == DICT:
                texts = list(a)
                keep.append(texts)
                c.texts = <const char**>malloc((len(texts) or 1) * sizeof(char*))
                c.text_n = <Py_ssize_t*>malloc((len(texts) or 1) * sizeof(Py_ssize_t))
                if c.texts == NULL or c.text_n == NULL:
                    raise MemoryError()
                for t in range(len(texts)):
                    piece = texts[t]  # a TypeError here for anything but bytes
                    if piece is None:
                        raise TypeError("DICT texts must be bytes")
                    c.texts[t] = PyBytes_AS_STRING(piece)
                    c.text_n[t] = PyBytes_GET_SIZE(piece)
                i64view = b
                if i64view.shape[0] < n:
                    raise ValueError("codes shorter than the rows")
                if n and (np.min(b[:n]) < 0 or np.max(b[:n]) >= len(texts)):
                    raise ValueError("DICT code out of range")
                keep.append(i64view)
                c.codes = &i64view[0] if n else NULL
            elif kind == ARENA:
                u8view = a
                i64view = b
                lenview = cc
                if i64view.shape[0] < n or lenview.shape[0] < n:
                    raise ValueError("offsets shorter than the rows")
                if n and (np.min(b[:n]) < 0 or np.min(cc[:n]) < 0 or np.max(b[:n] + cc[:n]) > u8view.shape[0]):
                    raise ValueError("ARENA reference outside the arena")
                keep.append((u8view, i64view, lenview))
                c.data = <const char*>&u8view[0] if u8view.shape[0] else NULL
                c.codes = &i64view[0] if n else NULL
                c.length = &lenview[0] if n else NULL
            elif kind == F64_ROWS:
                rowsview = a
                if rowsview.shape[0] < n:
                    raise ValueError("rows shorter than the rows")
                keep.append(rowsview)
                c.width = rowsview.shape[1]
                c.data = <const char*>&rowsview[0, 0] if (n and c.width) else NULL
            else:
                raise ValueError(f"unknown column kind {kind!r}")
        reserve(&o, max(n * 64, 1024))
        for i in range(n):
            for j in range(ncols):
                c = &cols[j]
                put(&o, c.prefix, c.prefix_n)
                if c.kind == F64:
                    put_f64(&o, (<const double*>c.data)[i], c.null, c.null_n)
                elif c.kind == I64:
                    put_i64(&o, (<const int64_t*>c.data)[i])
                elif c.kind == U64:
                    put_u64(&o, (<const uint64_t*>c.data)[i])
                elif c.kind == DICT:
                    code = c.codes[i]
                    put(&o, c.texts[code], c.text_n[code])
                elif c.kind == ARENA:
                    if c.quote:
                        put_char(&o, 34)
                    if c.length[i]:
                        put(&o, c.data + c.codes[i], c.length[i])
                    if c.quote:
                        put_char(&o, 34)
                else:  # F64_ROWS
                    if c.quote:
                        put_char(&o, 34)
                    put_char(&o, 91)
                    for k in range(c.width):
                        if k:
                            put_char(&o, 44)
                        put_f64(&o, (<const double*>c.data)[i * c.width + k], c.null, c.null_n)
                    put_char(&o, 93)
                    if c.quote:
                        put_char(&o, 34)
            put(&o, endp, end_n)
            ends_v[i] = o.n
        data = PyBytes_FromStringAndSize(o.p, o.n)
    finally:
        free(o.p)
        for j in range(ncols):
            free(cols[j].texts)
            free(cols[j].text_n)
        free(cols)
    return data, ends


def gather_rows(list parts, const int64_t[::1] order):
    """Rows of several ``(data, ends)`` parts, concatenated, then taken in ``order``
    (indices into the concatenation) -> one bytes."""
    cdef Py_ssize_t total = 0, nrows = 0, i, r, p
    cdef list datas = []
    cdef list endss = []
    for data, ends in parts:
        total += len(data)
        nrows += len(ends)
    starts = np.empty(nrows, dtype=np.int64)
    stops = np.empty(nrows, dtype=np.int64)
    which = np.empty(nrows, dtype=np.int64)
    r = 0
    for p, (data, ends) in enumerate(parts):
        k = len(ends)
        if k:
            stops[r : r + k] = ends
            starts[r] = 0
            starts[r + 1 : r + k] = ends[:-1]
            which[r : r + k] = p
        datas.append(data)
        r += k
    cdef const int64_t[::1] sv = starts
    cdef const int64_t[::1] ev = stops
    cdef const int64_t[::1] wv = which
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef char* dst = PyBytes_AS_STRING(out)
    cdef Py_ssize_t at = 0, length
    cdef bytes src
    if order.shape[0] != nrows:
        raise ValueError("order names every row once")
    for i in range(nrows):
        r = order[i]
        src = <bytes>datas[wv[r]]
        length = ev[r] - sv[r]
        memcpy(dst + at, PyBytes_AS_STRING(src) + sv[r], length)
        at += length
    return out
