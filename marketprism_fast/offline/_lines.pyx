# Capture blocks in C: lines fed to a compiled parser without a Python call per frame, and
# the receive times of a meta block read without a Python object per line.
#
# A block is whole lines, each ending in "\n" (capture.iter_blocks guarantees it): a line
# is fed without its terminator, a "\r" before it is kept (it is received text).

from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memchr

from marketprism_fast._parse cimport ParserBase

# Seconds with more digits before the dot than this go to the exact Python reader (the
# product with 10**9 must stay far inside int64).
DEF MAX_WHOLE_DIGITS = 10
# capture.parse_recv_time reads at most this many digits exactly (Decimal's precision).
DEF EXACT_DIGITS = 28


def feed_lines(ParserBase parser, const unsigned char[::1] block, Py_ssize_t pos,
               const int64_t[::1] ts, Py_ssize_t first, Py_ssize_t stop, int64_t until,
               uint64_t[::1] statuses):
    """Feed lines ``first .. stop-1`` of ``block`` (line ``first`` starts at byte ``pos``),
    line i received at ``ts[i]``; stop before a line received after ``until``.

    Counts each frame's status (FrameStatus) in ``statuses``. Returns ``(lines fed, byte
    position of the next line)``.
    """
    cdef Py_ssize_t i = first
    cdef Py_ssize_t end = block.shape[0]
    cdef const char* base
    cdef const char* p
    cdef const char* nl
    cdef int rc
    if end == 0 or stop > ts.shape[0]:
        return 0, pos
    base = <const char*>&block[0]
    while i < stop and pos < end:
        if ts[i] > until:
            break
        p = base + pos
        nl = <const char*>memchr(p, 10, end - pos)
        if nl == NULL:
            raise ValueError("a capture block must end with a newline")
        rc = parser.feed_ptr(p, nl - p, ts[i])
        statuses[rc] += 1
        pos = (nl - base) + 1
        i += 1
    return i - first, pos


cdef inline bint is_space(unsigned char c) noexcept:
    # bytes.strip()'s whitespace
    return c == 32 or c == 9 or c == 10 or c == 13 or c == 11 or c == 12


def meta_times(const unsigned char[::1] block, Py_ssize_t pos, int64_t[::1] out, Py_ssize_t at):
    """Receive times (ns) of the meta lines of ``block`` from byte ``pos`` into ``out[at:]``.

    Reads the common form ``SECONDS[.FRACTION]`` (digits only) of the first column; stops at
    the first line of another form, which the caller reads with ``capture.parse_recv_time``
    (same value, exact rules). Returns ``(lines read, byte position of the next line)``.
    """
    cdef Py_ssize_t end = block.shape[0]
    cdef Py_ssize_t i = at
    cdef Py_ssize_t a, b, j, whole_digits, frac_digits, line_end
    cdef const unsigned char* s
    cdef const unsigned char* nl
    cdef int64_t whole, frac
    cdef unsigned char c
    if end == 0:
        return 0, pos
    s = &block[0]
    while pos < end and i < out.shape[0]:
        nl = <const unsigned char*>memchr(s + pos, 10, end - pos)
        line_end = end if nl == NULL else nl - s
        a = pos
        b = line_end
        j = a
        while j < b and s[j] != 9:  # first column: up to the first tab
            j += 1
        b = j
        while a < b and is_space(s[a]):
            a += 1
        while b > a and is_space(s[b - 1]):
            b -= 1
        whole = 0
        frac = 0
        whole_digits = 0
        frac_digits = 0
        j = a
        while j < b and 48 <= s[j] <= 57:
            whole = whole * 10 + (s[j] - 48) if whole_digits < MAX_WHOLE_DIGITS else whole
            whole_digits += 1
            j += 1
        if j < b and s[j] == 46:  # "."
            j += 1
            while j < b and 48 <= s[j] <= 57:
                if frac_digits < 9:
                    frac = frac * 10 + (s[j] - 48)
                frac_digits += 1
                j += 1
        if j != b or whole_digits == 0 or whole_digits > MAX_WHOLE_DIGITS or whole_digits + frac_digits > EXACT_DIGITS:
            break  # another form: the caller reads this line
        while frac_digits < 9:
            frac *= 10
            frac_digits += 1
        out[i] = whole * 1000000000 + frac
        i += 1
        pos = line_end + 1
    return i - at, pos


def count_lines(const unsigned char[::1] block):
    """The number of ``\\n`` in ``block`` (memchr: several times faster than bytes.count)."""
    cdef Py_ssize_t n = block.shape[0], count = 0
    cdef const unsigned char* p
    cdef const unsigned char* end
    if n == 0:
        return 0
    p = &block[0]
    end = p + n
    while p < end:
        p = <const unsigned char*>memchr(p, 10, end - p)
        if p == NULL:
            break
        count += 1
        p += 1
    return count
