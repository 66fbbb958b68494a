# Lexical strictness: what a strict JSON decoder (the reference parsers use orjson) rejects
# and the structural scanner lets through.
#
# The scanner validates structure and number grammar (and the double range of the numbers it
# reads), but accepts any string bytes. A frame of plain printable ASCII without backslashes
# (every real frame) cannot hold a bad string; any other frame goes through lex_check once,
# whole: control characters, bad escapes, invalid UTF-8 and number tokens are checked there.

from libc.math cimport isfinite

cdef extern from *:
    """
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* 1 when p[0:n] is printable ASCII without a backslash: no byte < 0x20, >= 0x80 or '\\'. */
    static inline int mpf_plain_text(const char *p, Py_ssize_t n) {
        Py_ssize_t i = 0;
    #if defined(__SSE2__)
        const __m128i space = _mm_set1_epi8(0x20);
        const __m128i backslash = _mm_set1_epi8(0x5c);
        /* signed compare: bytes >= 0x80 are negative, hence below 0x20 too */
        #define MPF_BAD(v) _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, backslash))
        for (; i + 32 <= n; i += 32) {
            __m128i a = _mm_loadu_si128((const __m128i *)(p + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(p + i + 16));
            if (_mm_movemask_epi8(_mm_or_si128(MPF_BAD(a), MPF_BAD(b)))) return 0;
        }
        if (n >= 16) {  /* the rest: at most two loads, the last one overlapping */
            if (i + 16 <= n) {
                __m128i a = _mm_loadu_si128((const __m128i *)(p + i));
                if (_mm_movemask_epi8(MPF_BAD(a))) return 0;
            }
            __m128i z = _mm_loadu_si128((const __m128i *)(p + n - 16));
            return !_mm_movemask_epi8(MPF_BAD(z));
        }
        #undef MPF_BAD
    #endif
        for (; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c < 0x20 || c >= 0x80 || c == 0x5c) return 0;
        }
        return 1;
    }
    """
    bint mpf_plain_text(const char* p, Py_ssize_t n) nogil


# ---- lexical checks (what orjson rejects and the scanner lets through) ---------------------

cdef inline bint is_number_char(char ch) noexcept nogil:
    return is_digit(ch) or ch == 45 or ch == 43 or ch == 46 or ch == 101 or ch == 69


cdef int number_token_ok(const char* s, Py_ssize_t n) except -1:
    """A JSON number token: ``-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?``, finite as a double."""
    cdef Py_ssize_t i = 0, start
    cdef bint exponent = False
    if n > 0 and s[0] == 45:
        i = 1
    if i >= n or not is_digit(s[i]):
        return 0
    if s[i] == 48:
        i += 1
    else:
        while i < n and is_digit(s[i]):
            i += 1
    if i < n and s[i] == 46:
        i += 1
        start = i
        while i < n and is_digit(s[i]):
            i += 1
        if i == start:
            return 0
    if i < n and (s[i] == 101 or s[i] == 69):
        exponent = True
        i += 1
        if i < n and (s[i] == 43 or s[i] == 45):
            i += 1
        start = i
        while i < n and is_digit(s[i]):
            i += 1
        if i == start:
            return 0
    if i != n:
        return 0
    if exponent or n > 300:  # only these can leave the double range
        return number_finite(s, n)
    return 1


cdef inline int hex4(const char* s, unsigned int* out) noexcept nogil:
    cdef unsigned int v = 0
    cdef int k
    cdef char h
    for k in range(4):
        h = s[k]
        v <<= 4
        if 48 <= h <= 57:
            v |= <unsigned int>(h - 48)
        elif 97 <= h <= 102:
            v |= <unsigned int>(h - 87)
        elif 65 <= h <= 70:
            v |= <unsigned int>(h - 55)
        else:
            return 0
    out[0] = v
    return 1


cdef inline int utf8_sequence(const unsigned char* s, Py_ssize_t n) noexcept nogil:
    """Length of the valid UTF-8 sequence (no overlong form, no surrogate) at s; 0 if none."""
    cdef unsigned char c = s[0]
    cdef unsigned char lo = 0x80, hi = 0xBF
    cdef int k, need
    if 0xC2 <= c <= 0xDF:
        need = 1
    elif 0xE0 <= c <= 0xEF:
        need = 2
        if c == 0xE0:
            lo = 0xA0
        elif c == 0xED:
            hi = 0x9F
    elif 0xF0 <= c <= 0xF4:
        need = 3
        if c == 0xF0:
            lo = 0x90
        elif c == 0xF4:
            hi = 0x8F
    else:
        return 0
    if n <= need or not (lo <= s[1] <= hi):
        return 0
    for k in range(2, need + 1):
        if not (0x80 <= s[k] <= 0xBF):
            return 0
    return need + 1


cdef int lex_string(const char* p, Py_ssize_t n, Py_ssize_t* at) noexcept nogil:
    """At an opening quote: check the string's content and move past its closing quote."""
    cdef Py_ssize_t i = at[0] + 1
    cdef unsigned char ch
    cdef unsigned int cp, low
    cdef int k
    while True:
        if i >= n:
            return E_TRUNCATED
        ch = <unsigned char>p[i]
        if ch == 34:
            at[0] = i + 1
            return E_OK
        if ch == 92:
            if i + 1 >= n:
                return E_TRUNCATED
            ch = <unsigned char>p[i + 1]
            if ch == 34 or ch == 92 or ch == 47 or ch == 98 or ch == 102 or ch == 110 or ch == 114 or ch == 116:
                i += 2
                continue
            if ch != 117 or i + 6 > n or not hex4(p + i + 2, &cp):
                return E_TEXT
            i += 6
            if 0xD800 <= cp <= 0xDBFF:  # must pair with a low surrogate
                if i + 6 > n or p[i] != 92 or p[i + 1] != 117 or not hex4(p + i + 2, &low) or not (0xDC00 <= low <= 0xDFFF):
                    return E_TEXT
                i += 6
            elif 0xDC00 <= cp <= 0xDFFF:
                return E_TEXT
            continue
        if ch < 0x20:
            return E_TEXT
        if ch < 0x80:
            i += 1
            continue
        k = utf8_sequence(<const unsigned char*>p + i, n - i)
        if k == 0:
            return E_TEXT
        i += k


cdef int lex_check(const char* p, Py_ssize_t n) except -1:
    """E_OK when every string and number token in p[0:n] is valid JSON text (orjson's rules).
    Structure is the scanner's business; anything outside strings that is neither structure,
    whitespace, a number nor a literal's letters is an error here too."""
    cdef Py_ssize_t i = 0, j
    cdef unsigned char ch
    cdef int rc
    while i < n:
        ch = <unsigned char>p[i]
        if ch == 34:
            rc = lex_string(p, n, &i)
            if rc:
                return rc
        elif ch == 45 or is_digit(ch):
            j = i + 1
            while j < n and is_number_char(p[j]):
                j += 1
            if not number_token_ok(p + i, j - i):
                return E_NUMBER
            i = j
        elif ch == 116 or ch == 102 or ch == 110:  # true false null: the scanner checks the word
            i += 1
            while i < n and 97 <= p[i] <= 122:
                i += 1
        elif ch == 123 or ch == 125 or ch == 91 or ch == 93 or ch == 44 or ch == 58 or ch == 32 or ch == 9 or ch == 10 or ch == 13:
            i += 1
        else:
            return E_SYNTAX
    return E_OK
