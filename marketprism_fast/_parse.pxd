# The compiled core's C-level contract: record buffers, the scanner's field table and the
# parser base. Another extension (the book engine, a transport) may cimport these.

from libc.stdint cimport uint64_t, int64_t, uint32_t, uint16_t, int32_t, int8_t, uint8_t


cdef struct Field:
    const char* key
    Py_ssize_t klen
    const char* val     # strings: first byte of content; others: first byte of the token
    Py_ssize_t vlen     # strings: content length; others: token length (incl. brackets)
    int type
    bint escaped
    bint lazy           # a container skipped without validation (see validate_lazy)
    Py_ssize_t lv_start # an array of scalar arrays (book levels): its first Scalar in Levels
    Py_ssize_t lv_rows  # ... and its number of rows; -1 when not captured as levels
    double num          # numbers the scanner converted while validating (has_num) ...
    uint64_t inum       # ... and plain non-negative integers of at most 19 digits (has_int)
    int8_t has_num
    int8_t has_int


cdef struct Scalar:
    const char* val
    double num          # the value, when has_num (parsed while scanning)
    int32_t vlen
    int8_t type         # 0 when the level had fewer elements
    int8_t escaped
    int8_t has_num


cdef struct Levels:
    # Scalars of the level arrays of the frame being parsed, LEVEL_WIDTH per row.
    # Owned by the parser, reused for every frame (reset, never freed per frame).
    Scalar* items
    Py_ssize_t n
    Py_ssize_t cap
    Py_ssize_t max_items  # at most max_rows_per_frame + 1 rows are captured (then the generic path reads on)


cdef struct Cursor:
    const char* p
    const char* end
    int err


cdef struct ArrayIter:
    Cursor c
    bint first


cdef struct Slot:
    uint64_t hash
    uint32_t code       # instrument code + 1; 0 marks an empty slot
    uint16_t klen
    char key[40]


cdef class RecordBuffer:
    cdef readonly object kind
    cdef readonly int kind_id
    cdef readonly str exchange
    cdef readonly object instruments
    cdef readonly int width
    cdef readonly tuple storage
    cdef int ncols
    cdef Py_ssize_t n
    cdef Py_ssize_t cap
    cdef Py_ssize_t committed
    cdef char* ptr[64]
    cdef list arrays
    cdef object arena_array
    cdef char* arena
    cdef Py_ssize_t arena_n
    cdef Py_ssize_t arena_cap
    cdef Py_ssize_t arena_committed
    cdef list pool

    cdef int _allocate(self, Py_ssize_t rows, Py_ssize_t arena_bytes) except -1
    cdef int grow(self, Py_ssize_t min_rows) except -1
    cdef int grow_arena(self, Py_ssize_t need) except -1
    cdef int put_text(self, int off_col, Py_ssize_t row, const char* s, Py_ssize_t n, bint escaped) except -1
    cdef int put_id(self, int off_col, Py_ssize_t row, const char* s, Py_ssize_t n, bint escaped) except -1
    cdef void put_packed_id(self, int off_col, Py_ssize_t row, uint64_t v) noexcept nogil
    cdef bint _reuse(self)
    cpdef object seal(self)


cdef class InternTable:
    cdef Slot* slots
    cdef Py_ssize_t mask
    cdef Py_ssize_t used
    cdef object registry
    cdef dict long_keys
    cdef Py_ssize_t first_new         # first code registered by the current frame, -1 none
    cdef bint refused                 # the registry refused a new symbol in the current frame

    cdef int forget_from(self, Py_ssize_t code) except -1
    cdef Py_ssize_t _register(self, str text) except -2

    cdef int _insert(self, uint64_t h, const char* s, Py_ssize_t n, uint32_t code) except -1
    cdef int _rehash(self) except -1
    cdef int lookup(self, const char* s, Py_ssize_t n, bint escaped, uint32_t* code) except -1
    cdef int _lookup_plain(self, const char* s, Py_ssize_t n, uint32_t* code) except -1
    cdef int _lookup_long(self, const char* s, Py_ssize_t n, uint32_t* code) except -1


cdef class ParserBase:
    cdef readonly str venue
    cdef readonly object instruments
    cdef InternTable symbols
    cdef list buffers                 # one per kind, in contract order (None for book_snapshot)
    cdef RecordBuffer b_trade
    cdef RecordBuffer b_delta
    cdef RecordBuffer b_quote
    cdef RecordBuffer b_ticker
    cdef RecordBuffer b_kline
    cdef RecordBuffer b_funding
    cdef RecordBuffer b_oi
    cdef RecordBuffer b_liq
    cdef uint32_t frame               # sequence number of the frame being parsed
    cdef int64_t ts_recv              # its receive time (ns)
    cdef uint64_t n_frames
    cdef uint64_t n_parsed
    cdef uint64_t n_malformed
    cdef uint64_t n_test_requests
    cdef uint64_t n_skipped[8]
    cdef uint64_t n_records[16]
    cdef object sampler
    cdef int err_at                   # byte offset hint of the last error (-1 unknown)
    cdef Levels lv                    # level scratch of the current frame
    cdef public bint book_markers     # emit a side-0 book_delta row for a book message with no level
    cdef uint64_t frame_markers       # marker rows written by the current frame (not records)
    cdef bint lexed                   # the frame passed lex_check whole (else it is plain text: see begin_text)
    cdef readonly object limits       # the InputLimits in force
    cdef Py_ssize_t max_frame_bytes
    cdef Py_ssize_t max_rows          # rows one frame may write (of all kinds together)
    cdef bint rows_exceeded           # the current frame wrote past max_rows rows of a kind: it fails
    cdef uint32_t touched             # kinds (1 << kind id) the current frame wrote rows of
    cdef bint negative_prices         # the venue may send negative prices (amounts never)
    cdef uint64_t n_limits[8]         # frames refused per limit (LIMIT_* index)

    cdef void _begin(self, int64_t ts_recv) noexcept
    cdef int _parse(self, int what, const char* p, Py_ssize_t n, str raw_symbol, int first_rc=*) except -100
    cdef int _dispatch(self, int what, const char* p, Py_ssize_t n, str raw_symbol) except -100
    cdef bint _values_ok(self) noexcept
    cdef int refuse(self, object frame, str reason) except -2
    cdef int refuse_at(self, object frame, int64_t ts_recv, str reason) except -2
    cdef int begin_text(self, const char* p, Py_ssize_t n) except -100
    cdef int feed_ptr(self, const char* p, Py_ssize_t n, int64_t ts_recv) except -2
    cdef int parse_frame(self, const char* p, Py_ssize_t n) except -100
    cdef int parse_snapshot(self, const char* p, Py_ssize_t n, str raw_symbol) except -100
    cdef int parse_open_interest(self, const char* p, Py_ssize_t n) except -100
    cdef int _finish(self, int rc, const char* p, Py_ssize_t n) except -2
    cdef void rollback(self) noexcept
    cdef int instrument(self, Field* f, uint32_t* code) except -1
    cdef void log_venue_error(self, Field* code, Field* message) noexcept
    cdef Py_ssize_t row(self, RecordBuffer b, uint32_t inst, int64_t ts_event) except -1
    cdef int book_marker(self, uint32_t inst, int64_t ts, uint64_t first, uint64_t last, uint64_t prev,
                         uint8_t snapshot, int64_t checksum) except -1
