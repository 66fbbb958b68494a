# Decimal text -> float64 and integers, exactly as Python's float() / int() would.
#
# Fast path (Clinger): when the significant digits fit in 53 bits and the decimal exponent
# is within [-22, 22], m * 10**e (or m / 10**-e) is one correctly rounded IEEE operation on
# two exactly representable operands, hence equal to the correctly rounded value of the
# text. Second path (Eisel-Lemire): up to 19 digits (any value below 2**64) and a decimal
# exponent within [EL_Q_MIN, EL_Q_MAX], the correctly rounded value from one or two 64x64
# multiplications by a 128-bit approximation of 5**q (amounts like "525802090.62716611",
# which have more than 53 bits of digits). Everything else (longer mantissas, far exponents)
# goes to CPython's own PyOS_string_to_double, which *is* float(): same algorithm, same result.

from libc.stdint cimport uint64_t, int64_t, uint32_t, int32_t, uint16_t, uint8_t, int8_t

from cpython.ref cimport PyObject
from libc.stdlib cimport malloc, free

cdef extern from "Python.h":
    # overflow_exception NULL: out-of-range values become +-inf, exactly as float() does
    double PyOS_string_to_double(const char *s, char **endptr, PyObject* overflow_exception) except? -1.0

cdef extern from *:
    """
    #include <string.h>
    #include <stdint.h>
    /* Eight ASCII digits at once (little-endian SWAR; big-endian machines take the byte loop). */
    static inline int mpf_eight_digits(const char *p) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint64_t x; memcpy(&x, p, 8);
        return (((x & 0xF0F0F0F0F0F0F0F0ULL) |
                 (((x + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) == 0x3333333333333333ULL);
    #else
        (void)p; return 0;
    #endif
    }
    static inline uint32_t mpf_eight_digits_value(const char *p) {
        uint64_t v; memcpy(&v, p, 8);
        const uint64_t mask = 0x000000FF000000FFULL;
        const uint64_t mul1 = 0x000F424000000064ULL;  /* 100 + (1000000 << 32) */
        const uint64_t mul2 = 0x0000271000000001ULL;  /* 1 + (10000 << 32) */
        v -= 0x3030303030303030ULL;
        v = (v * 10) + (v >> 8);
        v = (((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32;
        return (uint32_t)v;
    }
    """
    bint mpf_eight_digits(const char* p) noexcept nogil
    uint32_t mpf_eight_digits_value(const char* p) noexcept nogil


cdef extern from *:
    """
    #include <string.h>
    #include <stdint.h>
    #if defined(__SSE2__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    #include <emmintrin.h>
    /* The value of the first n (1-8) bytes of x, ASCII digits (the bytes after them may be
       anything: the borrows of the subtraction only move to later bytes, which the shift drops). */
    static inline uint64_t mpf_digits_value(uint64_t x, int n) {
        const uint64_t mask = 0x000000FF000000FFULL;
        const uint64_t mul1 = 0x000F424000000064ULL;  /* 100 + (1000000 << 32) */
        const uint64_t mul2 = 0x0000271000000001ULL;  /* 1 + (10000 << 32) */
        uint64_t v = (x - 0x3030303030303030ULL) << (8 * (8 - n));  /* zeros before the digits */
        v = (v * 10) + (v >> 8);
        return (((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32;
    }

    static const uint64_t mpf_pow10_u64[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

    /* A decimal text's content at p (24 bytes readable), "d+" or "d+.d+" then its closing
       quote within 16 bytes: its length (the quote's offset), *m its digits' value (at most
       14 digits: exact in a double) and *nfrac; 0 for anything else, leading zeros ("01")
       included. The masks of one 16-byte load find the quote and the point, so the length
       does not wait on the digits one by one. */
    static inline int mpf_quoted_decimal16(const char *p, uint64_t *m, int *nfrac) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        unsigned quote = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
        unsigned dot = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')));
        /* signed compares: bytes of 0x80 and above are below '0' too */
        unsigned other = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8('0')),
                                                                  _mm_cmpgt_epi8(v, _mm_set1_epi8('9'))));
        unsigned before;
        uint64_t x, w;
        int len, nint, nf;
        if (quote == 0)
            return 0;
        len = __builtin_ctz(quote);
        before = (1u << len) - 1;
        dot &= before;
        if ((other & before) != dot || (dot & (dot - 1)))  /* nothing but digits and one point at most */
            return 0;
        nint = dot ? __builtin_ctz(dot) : len;
        nf = dot ? len - nint - 1 : 0;
        if (nint == 0 || nint > 8 || (dot && (nf == 0 || nf > 8)) || (nint > 1 && p[0] == '0'))
            return 0;
        memcpy(&x, p, 8);
        w = mpf_digits_value(x, nint);
        if (nf) {
            memcpy(&x, p + nint + 1, 8);
            w = w * mpf_pow10_u64[nf] + mpf_digits_value(x, nf);
        }
        *m = w;
        *nfrac = nf;
        return len;
    }
    #else
    static inline int mpf_quoted_decimal16(const char *p, uint64_t *m, int *nfrac) {
        (void)p; (void)m; (void)nfrac; return 0;  /* the byte loop decides */
    }
    #endif
    """
    int mpf_quoted_decimal16(const char* p, uint64_t* m, int* nfrac) noexcept nogil


cdef extern from *:
    """
    #include <string.h>
    #include <stdint.h>
    /* Eisel-Lemire (D. Lemire, "Number Parsing at a Gigabyte per Second", Software: Practice
       and Experience 51(8), 2021): the double nearest w * 10**q, ties to even, for
       0 < w < 2**64 and MPF_EL_Q_MIN <= q <= MPF_EL_Q_MAX. Within that exponent range the
       128-bit product below always decides (the paper's safe range is [-27, 55]); no
       subnormal or infinite result can come out of it. mpf_pow5_128[2k], [2k+1]: the high
       and low words of 5**(MPF_EL_Q_MIN + k) scaled to [2**127, 2**128) (truncated for
       q >= 0, the reciprocal rounded up for q < 0), filled at import (el_fill_table). */
    #define MPF_EL_Q_MIN (-27)
    #define MPF_EL_Q_MAX 55
    static uint64_t mpf_pow5_128[2 * (MPF_EL_Q_MAX - MPF_EL_Q_MIN + 1)];

    static inline int mpf_eisel_lemire(uint64_t w, int q, double *out) {
    #if defined(__SIZEOF_INT128__)
        const uint64_t *t;
        __uint128_t product;
        uint64_t hi, lo, mantissa, bits;
        int lz, upper, shift, power2;
        if (w == 0 || q < MPF_EL_Q_MIN || q > MPF_EL_Q_MAX)
            return 0;
        t = mpf_pow5_128 + 2 * (q - MPF_EL_Q_MIN);
        lz = __builtin_clzll(w);
        w <<= lz;
        product = (__uint128_t)w * t[0];
        hi = (uint64_t)(product >> 64);
        lo = (uint64_t)product;
        if ((hi & 0x1FF) == 0x1FF) {  /* the 55 bits kept may still change: add the low word's part */
            uint64_t carry = (uint64_t)(((__uint128_t)w * t[1]) >> 64);
            lo += carry;
            if (lo < carry)
                hi++;
        }
        upper = (int)(hi >> 63);
        shift = upper + 9;             /* keep 54 bits: 53 and one to round with */
        mantissa = hi >> shift;
        power2 = (((152170 + 65536) * q) >> 16) + 63 + upper - lz + 1023;
        if (power2 <= 0)
            return 0;
        /* exactly halfway (only possible where 5**q is exact in 64 bits): round to even */
        if (lo <= 1 && q >= -4 && q <= 23 && (mantissa & 3) == 1 && (mantissa << shift) == hi)
            mantissa &= ~(uint64_t)1;
        mantissa += mantissa & 1;
        mantissa >>= 1;
        if (mantissa >= ((uint64_t)2 << 52)) {
            mantissa = (uint64_t)1 << 52;
            power2++;
        }
        mantissa &= ~((uint64_t)1 << 52);
        if (power2 >= 0x7FF)
            return 0;
        bits = mantissa | ((uint64_t)power2 << 52);
        memcpy(out, &bits, 8);
        return 1;
    #else
        (void)w; (void)q; (void)out;
        return 0;
    #endif
    }
    """
    int EL_Q_MIN "MPF_EL_Q_MIN"
    int EL_Q_MAX "MPF_EL_Q_MAX"
    uint64_t* mpf_pow5_128
    bint eisel_lemire "mpf_eisel_lemire"(uint64_t w, int q, double* out) noexcept nogil


cdef extern from *:
    """
    /* Eisel-Lemire as a call: for the number readers whose common case (a mantissa of at
       most 2**53, one division) must stay small enough to be inlined where they are used. */
    static __attribute__((noinline)) int mpf_eisel_lemire_call(uint64_t w, int q, double *out) {
        return mpf_eisel_lemire(w, q, out);
    }
    """
    bint eisel_lemire_call "mpf_eisel_lemire_call"(uint64_t w, int q, double* out) noexcept nogil


cdef int el_fill_table() except -1:
    """mpf_pow5_128 from exact integer arithmetic (Python ints)."""
    cdef int k = 0
    cdef object q, five, c
    cdef object one = 1, top = (<object>1) << 127, mask = ((<object>1) << 64) - 1
    for q in range(EL_Q_MIN, EL_Q_MAX + 1):
        if q < 0:
            five = (<object>5) ** -q
            c = (one << (five.bit_length() + 127)) // five + 1
        else:
            c = (<object>5) ** q
            while c < top:
                c <<= 1
            while c >= top << 1:
                c >>= 1
        mpf_pow5_128[2 * k] = <uint64_t>(c >> 64)
        mpf_pow5_128[2 * k + 1] = <uint64_t>(c & mask)
        k += 1
    return 0


el_fill_table()


cdef inline const char* scan_digits(const char* p, const char* end, uint64_t* m) noexcept nogil:
    """Accumulate decimal digits from p into *m (wrapping on overflow: callers count the
    digits and refuse more than 19); returns the first non-digit position."""
    cdef unsigned int d
    cdef uint64_t acc = m[0]
    while end - p >= 8 and mpf_eight_digits(p):
        acc = acc * 100000000ULL + mpf_eight_digits_value(p)
        p += 8
    while p < end:
        d = <unsigned char>p[0] - 48
        if d > 9:
            break
        acc = acc * 10 + d
        p += 1
    m[0] = acc
    return p


cdef double[23] POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                         1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]

cdef double NAN = float("nan")
cdef uint64_t MAX_EXACT = 9007199254740992ULL  # 2**53: integers up to here are exact doubles
DEF FLOAT_TEXT_MAX = 400   # = limits.MAX_DECIMAL_CHARS


cdef inline bint is_digit(char c) noexcept nogil:
    return <unsigned char>(c - 48) < 10


cdef int parse_double_slow(const char* s, Py_ssize_t n, double* out) except -1:
    """The exact fallback: CPython's correctly rounded conversion on a NUL-terminated copy
    (on the heap for a number token longer than FLOAT_TEXT_MAX: any length converts, as
    float() would; decimal texts are held to limits.MAX_DECIMAL_CHARS before they get here)."""
    cdef char buf[FLOAT_TEXT_MAX + 1]
    cdef char* heap
    if n > FLOAT_TEXT_MAX:
        heap = <char*>malloc(n + 1)
        if heap == NULL:
            raise MemoryError()
        memcpy(heap, s, n)
        heap[n] = 0
        try:
            out[0] = PyOS_string_to_double(heap, NULL, NULL)
        finally:
            free(heap)
        return 1
    memcpy(buf, s, n)
    buf[n] = 0
    out[0] = PyOS_string_to_double(buf, NULL, NULL)
    return 1


cdef inline int parse_double(const char* s, Py_ssize_t n, double* out) except -1:
    """Parse a JSON-grammar decimal (``-?digits(.digits)?([eE][+-]?digits)?``).

    Returns 1 and sets *out on success, 0 when the text is not such a number.
    """
    cdef Py_ssize_t i = 0, start
    cdef bint neg = False
    cdef uint64_t m = 0
    cdef unsigned int d
    cdef int ndigits, nint, nfrac = 0
    cdef int e = 0, esign = 1
    cdef int exp10
    if n <= 0:
        return 0
    if s[0] == 45:  # '-'
        neg = True
        i = 1
    start = i
    i = scan_digits(s + i, s + n, &m) - s
    nint = <int>(i - start)
    if nint == 0 or (nint > 1 and s[start] == 48):  # no digits, or a leading zero
        return 0
    if i < n and s[i] == 46:  # '.'
        i += 1
        start = i
        i = scan_digits(s + i, s + n, &m) - s
        nfrac = <int>(i - start)
        if nfrac == 0:
            return 0
    if i < n and (s[i] == 101 or s[i] == 69):  # e E
        i += 1
        if i < n and (s[i] == 43 or s[i] == 45):
            if s[i] == 45:
                esign = -1
            i += 1
        start = i
        while i < n:
            d = <unsigned char>s[i] - 48
            if d > 9:
                break
            if e < 100000:
                e = e * 10 + <int>d
            i += 1
        if i == start:
            return 0
    if i != n:
        return 0
    ndigits = nint + nfrac
    # m holds every digit exactly only if there were at most 19 of them (leading zeros
    # included, which is conservative); beyond that the exact fallback decides.
    if ndigits > 19:
        return parse_double_slow(s, n, out)
    exp10 = esign * e - nfrac
    if m == 0:
        out[0] = -0.0 if neg else 0.0
        return 1
    if m <= MAX_EXACT and 0 <= exp10 <= 22:
        out[0] = <double>m * POW10[exp10]
    elif m <= MAX_EXACT and -22 <= exp10 < 0:
        out[0] = <double>m / POW10[-exp10]
    elif not eisel_lemire(m, exp10, out):
        return parse_double_slow(s, n, out)
    if neg:
        out[0] = -out[0]
    return 1


cdef inline int parse_u64(const char* s, Py_ssize_t n, uint64_t* out) noexcept nogil:
    """Unsigned decimal integer (no sign, no leading zeros except "0"). 1 ok, 0 not one."""
    cdef Py_ssize_t i
    cdef uint64_t v = 0
    cdef uint64_t d
    if n <= 0 or n > 20 or (n > 1 and s[0] == 48):
        return 0
    for i in range(n):
        if not is_digit(s[i]):
            return 0
        d = <uint64_t>(s[i] - 48)
        if v > (18446744073709551615ULL - d) // 10:
            return 0
        v = v * 10 + d
    out[0] = v
    return 1


cdef inline int parse_i64(const char* s, Py_ssize_t n, int64_t* out) noexcept nogil:
    cdef uint64_t v
    if n > 0 and s[0] == 45:
        if not parse_u64(s + 1, n - 1, &v) or v > 9223372036854775808ULL:
            return 0
        out[0] = <int64_t>(0 - v)
        return 1
    if not parse_u64(s, n, &v) or v > 9223372036854775807ULL:
        return 0
    out[0] = <int64_t>v
    return 1


cdef inline const char* fast_decimal(const char* p, double* out) noexcept nogil:
    """At ``-?(0|[1-9][0-9]*)(.[0-9]+)?`` followed by a byte that is not a digit, '-' or '.'
    (the caller knows one comes before the buffer ends: it is the sentinel of the unchecked
    loops): the first byte after it, *out set with parse_double's exact fast paths (at most
    19 digits: one correctly rounded division, or Eisel-Lemire past 2**53; float()'s value);
    NULL when the text does not start so or is not convertible that way."""
    cdef const char* s
    cdef uint64_t m = 0
    cdef unsigned int d
    cdef Py_ssize_t nint, nfrac = 0
    cdef bint neg = p[0] == 45
    cdef double v
    if neg:
        p += 1
    s = p
    d = <unsigned char>p[0] - 48
    while d <= 9:
        m = m * 10 + d
        p += 1
        d = <unsigned char>p[0] - 48
    nint = p - s
    if nint == 0 or (nint > 1 and s[0] == 48):
        return NULL
    if p[0] == 46:
        p += 1
        s = p
        d = <unsigned char>p[0] - 48
        while d <= 9:
            m = m * 10 + d
            p += 1
            d = <unsigned char>p[0] - 48
        nfrac = p - s
        if nfrac == 0:
            return NULL
    if nint + nfrac > 19:
        return NULL
    if m <= MAX_EXACT:
        v = <double>m
        if nfrac:
            v = v / POW10[nfrac]
    elif not eisel_lemire(m, <int>-nfrac, &v):
        return NULL
    out[0] = -v if neg else v
    return p


cdef inline const char* level_decimal(const char* p, const char* end, double* out) noexcept nogil:
    """fast_decimal for a level text's content (p after its opening quote; a quote ends it):
    the closing quote, or NULL. Texts of at most 14 digits ("61800.30", "0.006") are read
    16 bytes at a time (mpf_quoted_decimal16); any other, or fewer than 24 bytes left, takes
    fast_decimal itself. Same acceptance and the same arithmetic (one correctly rounded
    division of exact operands), so the same double."""
    cdef uint64_t m
    cdef int nfrac, n
    cdef bint neg
    cdef double v
    if end - p >= 24:
        neg = p[0] == 45
        n = mpf_quoted_decimal16(p + neg, &m, &nfrac)
        if n:
            v = <double>m
            if nfrac:
                v = v / POW10[nfrac]
            out[0] = -v if neg else v
            return p + neg + n
    p = fast_decimal(p, out)
    return p if p != NULL and p[0] == 34 else NULL


# 2**1024 - 2**970, halfway between DBL_MAX and 2**1024: float() of a decimal at or above it
# overflows (the tie rounds to even, which is up).
cdef const char* OVERFLOW_DIGITS = (
    b"17976931348623158079372897140530341507993413271003782693617377898044496829276475094664901797758720709"
    b"63302864166928879109465555478519404026306574886715058206819089020007083836762738548458177115317644757"
    b"30270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792")
DEF OVERFLOW_MAGNITUDE = 308  # OVERFLOW_DIGITS is d.ddd... * 10**308 (309 digits)


cdef bint number_finite(const char* s, Py_ssize_t n) noexcept nogil:
    """float() of the JSON number token s[0:n] (grammar already checked) is finite. Decided
    from the decimal magnitude; at the edge of the range, digit by digit against the exact
    overflow threshold (no conversion, no locale)."""
    cdef Py_ssize_t i = 0, m_end, dot, first = -1, k
    cdef int64_t mag, x = 0
    cdef bint xneg = False
    cdef char d
    if i < n and s[i] == 45:
        i += 1
    m_end = i
    while m_end < n and s[m_end] != 101 and s[m_end] != 69:
        m_end += 1
    dot = m_end
    for k in range(i, m_end):
        if s[k] == 46:
            dot = k
        elif first < 0 and s[k] != 48:
            first = k
    if first < 0:
        return True  # zero
    mag = (dot - first - 1) if first < dot else -(first - dot)
    if m_end < n:
        k = m_end + 1
        if k < n and (s[k] == 43 or s[k] == 45):
            xneg = s[k] == 45
            k += 1
        while k < n:
            if x < 100000:
                x = x * 10 + (s[k] - 48)
            k += 1
        mag += -x if xneg else x
    if mag != OVERFLOW_MAGNITUDE:
        return mag < OVERFLOW_MAGNITUDE
    k = first
    for i in range(OVERFLOW_MAGNITUDE + 1):
        if k < m_end and s[k] == 46:
            k += 1
        d = s[k] if k < m_end else 48
        k += 1
        if d != OVERFLOW_DIGITS[i]:
            return d < OVERFLOW_DIGITS[i]
    return False  # equal to the threshold in its 309 digits: at or above it


def float_from_text(text) -> float:
    """The compiled decimal conversion, exposed for tests (``float(text)`` is the oracle)."""
    cdef bytes b = text.encode() if isinstance(text, str) else bytes(text)
    cdef double v
    if not parse_double(b, len(b), &v):
        raise ValueError(f"not a JSON decimal: {text!r}")
    return v
