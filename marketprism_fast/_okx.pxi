# OKX v5 public channels (compiled). See reference/okx.py for the oracle.


cdef class OkxParser(ParserBase):
    """Compiled parser for okx."""

    cdef int parse_frame(self, const char* p, Py_ssize_t n) except -100:
        return -E_VALUE
