# Text rows (JSON Lines objects, CSV rows) built from a batch's columns in C.
#
# writers.py decides what each column becomes (a "plan"); this module only copies bytes:
# floats as repr(float) (CPython's own shortest round-trip formatting, PyOS_double_to_string
# with 'r'), NaN/±inf as the plan's null text, integers in decimal, texts as pre-encoded
# pieces (a dictionary and a code per row) or as arena bytes the caller checked need no
# escaping. No Python object is made per value.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.conversion cimport PyOS_double_to_string
from cpython.mem cimport PyMem_Free
from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t
from libc.stdlib cimport malloc, realloc, free
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


cdef int put_f64(Out* o, double v, const char* null, Py_ssize_t null_n) except -1:
    cdef char* text
    if not isfinite(v):
        return put(o, null, null_n)
    text = PyOS_double_to_string(v, b'r', 0, Py_DTSF_ADD_DOT_0, NULL)
    try:
        put(o, text, strlen(text))
    finally:
        PyMem_Free(text)
    return 0


cdef class _Column:
    cdef int kind
    cdef bytes prefix
    cdef bint quote
    cdef bytes null
    cdef const double[::1] f64
    cdef const int64_t[::1] i64
    cdef const uint64_t[::1] u64
    cdef const int64_t[::1] codes
    cdef list texts
    cdef const uint8_t[::1] arena
    cdef const int64_t[::1] off
    cdef const int64_t[::1] length
    cdef const double[:, ::1] rows


def encode_rows(list plan, Py_ssize_t n, bytes end):
    """Rows ``0..n-1`` as text; returns ``(data, ends)``: row i is ``data[ends[i-1]:ends[i]]``.

    ``plan`` is a list of ``(prefix, kind, a, b, c, quote, null)``: the bytes written before
    the value, one of the kinds above, its arrays (``a``; ``b`` and ``c`` for ARENA/DICT), whether
    ARENA/F64_ROWS values are wrapped in double quotes, and the text for NaN/±inf. ``end`` is
    written after the last value of each row.
    """
    cdef list cols = []
    cdef _Column c
    cdef Out o
    cdef Py_ssize_t i, j, k, w
    cdef int64_t code
    cdef bytes piece
    cdef const char* null
    cdef Py_ssize_t null_n
    cdef const char* endp = PyBytes_AS_STRING(end)
    cdef Py_ssize_t end_n = PyBytes_GET_SIZE(end)
    ends = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] ends_v = ends
    for prefix, kind, a, b, cc, quote, null_text in plan:
        c = _Column()
        c.kind = kind
        c.prefix = prefix
        c.quote = quote
        c.null = null_text
        if kind == F64:
            c.f64 = a
        elif kind == I64:
            c.i64 = a
        elif kind == U64:
            c.u64 = a
        elif kind == DICT:
            c.texts = list(a)
            c.codes = b
            for piece in c.texts:  # checked once here, not per row
                if piece is None:
                    raise TypeError("DICT texts must be bytes")
            if len(c.codes) and (np.min(b) < 0 or np.max(b) >= len(c.texts)):
                raise ValueError("DICT code out of range")
        elif kind == ARENA:
            c.arena = a
            c.off = b
            c.length = cc
        elif kind == F64_ROWS:
            c.rows = a
        else:
            raise ValueError(f"unknown column kind {kind!r}")
        cols.append(c)
    o.p = NULL
    o.n = 0
    o.cap = 0
    try:
        reserve(&o, max(n * 64, 1024))
        for i in range(n):
            for c in cols:
                put(&o, PyBytes_AS_STRING(c.prefix), PyBytes_GET_SIZE(c.prefix))
                if c.kind == F64:
                    put_f64(&o, c.f64[i], PyBytes_AS_STRING(c.null), PyBytes_GET_SIZE(c.null))
                elif c.kind == I64:
                    put_i64(&o, c.i64[i])
                elif c.kind == U64:
                    put_u64(&o, c.u64[i])
                elif c.kind == DICT:
                    code = c.codes[i]
                    piece = <bytes>c.texts[code]
                    put(&o, PyBytes_AS_STRING(piece), PyBytes_GET_SIZE(piece))
                elif c.kind == ARENA:
                    if c.quote:
                        put_char(&o, 34)
                    if c.length[i]:
                        put(&o, <const char*>&c.arena[c.off[i]], c.length[i])
                    if c.quote:
                        put_char(&o, 34)
                else:  # F64_ROWS
                    w = c.rows.shape[1]
                    null = PyBytes_AS_STRING(c.null)
                    null_n = PyBytes_GET_SIZE(c.null)
                    if c.quote:
                        put_char(&o, 34)
                    put_char(&o, 91)
                    for k in range(w):
                        if k:
                            put_char(&o, 44)
                        put_f64(&o, c.rows[i, k], null, null_n)
                    put_char(&o, 93)
                    if c.quote:
                        put_char(&o, 34)
            put(&o, endp, end_n)
            ends_v[i] = o.n
        data = PyBytes_FromStringAndSize(o.p, o.n)
    finally:
        free(o.p)
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
