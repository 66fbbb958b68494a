# Deribit JSON-RPC subscriptions (compiled). See reference/deribit.py for the oracle.


cdef class DeribitParser(ParserBase):
    """Compiled parser for deribit."""

    cdef int parse_frame(self, const char* p, Py_ssize_t n) except -100:
        return -E_VALUE
