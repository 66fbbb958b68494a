# Columnar record buffers and the raw-symbol intern table.
#
# A RecordBuffer holds one numpy array per storage column (records.Kind.storage), all of
# the same capacity, plus a byte arena for text. Rows are appended through raw pointers.
# Frame atomicity: ``committed`` marks the end of the last complete frame; a failed frame
# rolls back to it, so no partial frame ever reaches a batch. Capacity grows (doubling)
# only when one frame does not fit: never per row in the steady state, where the owner
# seals the buffer into a Batch at its size threshold and starts a fresh one.

from cpython.mem cimport PyMem_Malloc, PyMem_Calloc, PyMem_Free
from cpython.unicode cimport PyUnicode_DecodeUTF8
from cpython.ref cimport PyObject  # noqa

cdef extern from "Python.h":
    Py_ssize_t Py_REFCNT(PyObject* o)
cimport numpy as cnp

cnp.import_array()

from .batch import Batch as _Batch
from .errors import LimitExceeded as _LimitExceeded

DEF TEXT_BYTES_PER_ROW = 16
DEF KEY_MAX = 40  # must match Slot.key in _parse.pxd
DEF POOL_SETS = 4     # sealed array sets kept for reuse once their batches are released
DEF COMPACT_BELOW = 4  # a batch of at most 1/COMPACT_BELOW of the capacity is copied out at seal
DEF PACKED_ID_LIMIT = 140737488355328  # 2**47: ids below are held packed (put_id; batch.PACKED_ID_FLAG)


cdef bint unreferenced(list arrays):
    """True when nothing but this list holds the arrays (no batch or view still alive)."""
    cdef Py_ssize_t i
    for i in range(len(arrays)):
        if Py_REFCNT(<PyObject*>arrays[i]) > 1:
            return False
    return True


cdef Py_ssize_t unescape_json(const char* s, Py_ssize_t n, char* out) noexcept nogil:
    """JSON string content -> UTF-8 bytes in *out (room for n bytes suffices). -1 if invalid."""
    cdef Py_ssize_t i = 0, o = 0
    cdef unsigned int cp, lo
    cdef int k
    cdef char ch, h
    while i < n:
        ch = s[i]
        if ch != 92:
            out[o] = ch
            o += 1
            i += 1
            continue
        if i + 1 >= n:
            return -1
        ch = s[i + 1]
        i += 2
        if ch == 34 or ch == 92 or ch == 47:
            out[o] = ch
        elif ch == 98:
            out[o] = 8
        elif ch == 102:
            out[o] = 12
        elif ch == 110:
            out[o] = 10
        elif ch == 114:
            out[o] = 13
        elif ch == 116:
            out[o] = 9
        elif ch == 117:
            if i + 4 > n:
                return -1
            cp = 0
            for k in range(4):
                h = s[i + k]
                cp <<= 4
                if 48 <= h <= 57:
                    cp |= <unsigned int>(h - 48)
                elif 97 <= h <= 102:
                    cp |= <unsigned int>(h - 87)
                elif 65 <= h <= 70:
                    cp |= <unsigned int>(h - 55)
                else:
                    return -1
            i += 4
            if 0xD800 <= cp <= 0xDBFF:
                # a surrogate pair: \uD8xx\uDCxx (6 input bytes -> 4 output bytes)
                if i + 6 > n or s[i] != 92 or s[i + 1] != 117:
                    return -1
                lo = 0
                for k in range(4):
                    h = s[i + 2 + k]
                    lo <<= 4
                    if 48 <= h <= 57:
                        lo |= <unsigned int>(h - 48)
                    elif 97 <= h <= 102:
                        lo |= <unsigned int>(h - 87)
                    elif 65 <= h <= 70:
                        lo |= <unsigned int>(h - 55)
                    else:
                        return -1
                if not (0xDC00 <= lo <= 0xDFFF):
                    return -1
                i += 6
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
            elif 0xDC00 <= cp <= 0xDFFF:
                return -1
            # \uXXXX is 6 input bytes and at most 3 output bytes (4 for a 12-byte pair)
            if cp < 0x80:
                out[o] = <char>cp
            elif cp < 0x800:
                out[o] = <char>(0xC0 | (cp >> 6))
                o += 1
                out[o] = <char>(0x80 | (cp & 0x3F))
            elif cp < 0x10000:
                out[o] = <char>(0xE0 | (cp >> 12))
                o += 1
                out[o] = <char>(0x80 | ((cp >> 6) & 0x3F))
                o += 1
                out[o] = <char>(0x80 | (cp & 0x3F))
            else:
                out[o] = <char>(0xF0 | (cp >> 18))
                o += 1
                out[o] = <char>(0x80 | ((cp >> 12) & 0x3F))
                o += 1
                out[o] = <char>(0x80 | ((cp >> 6) & 0x3F))
                o += 1
                out[o] = <char>(0x80 | (cp & 0x3F))
        else:
            return -1
        o += 1
    return o


cdef inline void empty_text(RecordBuffer b, int off_col, Py_ssize_t row) noexcept:
    (<uint32_t*>b.ptr[off_col])[row] = 0
    (<uint16_t*>b.ptr[off_col + 1])[row] = 0


cdef class RecordBuffer:
    """Rows of one kind for one venue, in storage form (see records.Kind.storage)."""

    def __init__(self, kind, str exchange, object instruments, Py_ssize_t capacity, int width=0):
        self.kind = kind
        self.kind_id = _KIND_IDS[kind.name]
        self.exchange = exchange
        self.instruments = instruments
        self.width = width
        self.storage = tuple(kind.storage)
        self.ncols = len(self.storage)
        if self.ncols > 64:
            raise ValueError("too many storage columns")
        self.cap = max(16, capacity)
        self.pool = []
        self._allocate(self.cap, self.cap * TEXT_BYTES_PER_ROW)

    cdef int _allocate(self, Py_ssize_t rows, Py_ssize_t arena_bytes) except -1:
        cdef int i
        cdef cnp.ndarray a
        self.arrays = []
        for i in range(self.ncols):
            col = self.storage[i]
            if col.type == "f8[]":
                a = np.empty((rows, max(self.width, 1)), dtype=np.float64)
            else:
                a = np.empty(rows, dtype=col.dtype)
            self.arrays.append(a)
            self.ptr[i] = <char*>cnp.PyArray_DATA(a)
        self.arena_array = np.empty(max(arena_bytes, 64), dtype=np.uint8)
        self.arena = <char*>cnp.PyArray_DATA(self.arena_array)
        self.arena_cap = len(self.arena_array)
        self.cap = rows
        self.n = 0
        self.committed = 0
        self.arena_n = 0
        self.arena_committed = 0
        return 0

    cdef int grow(self, Py_ssize_t min_rows) except -1:
        cdef Py_ssize_t rows = self.cap * 2
        cdef int i
        cdef cnp.ndarray a
        while rows < min_rows:
            rows *= 2
        for i in range(self.ncols):
            old = self.arrays[i]
            if old.ndim == 2:
                a = np.empty((rows, old.shape[1]), dtype=old.dtype)
            else:
                a = np.empty(rows, dtype=old.dtype)
            a[: self.n] = old[: self.n]
            self.arrays[i] = a
            self.ptr[i] = <char*>cnp.PyArray_DATA(a)
        self.cap = rows
        return 0

    cdef int grow_arena(self, Py_ssize_t need) except -1:
        cdef Py_ssize_t size = self.arena_cap * 2
        while size < self.arena_n + need:
            size *= 2
        a = np.empty(size, dtype=np.uint8)
        a[: self.arena_n] = self.arena_array[: self.arena_n]
        self.arena_array = a
        self.arena = <char*>cnp.PyArray_DATA(a)
        self.arena_cap = size
        return 0

    cdef int put_text(self, int off_col, Py_ssize_t row, const char* s, Py_ssize_t n, bint escaped) except -1:
        """Copy text into the arena and point the row's (off, len) columns at it.

        Returns 1, or 0 when the text is not valid JSON string content or too long.
        """
        cdef Py_ssize_t m
        if n > 6 * MAX_TEXT_BYTES or (not escaped and n > MAX_TEXT_BYTES):
            set_limit(LIMIT_TEXT)  # unescaped, longer than limits.MAX_TEXT_BYTES
            return 0
        if self.arena_n + n > self.arena_cap:
            self.grow_arena(n)
        if escaped:
            m = unescape_json(s, n, self.arena + self.arena_n)
            if m < 0:
                return 0
            if m > MAX_TEXT_BYTES:
                set_limit(LIMIT_TEXT)
                return 0
        else:
            memcpy(self.arena + self.arena_n, s, n)
            m = n
        (<uint32_t*>self.ptr[off_col])[row] = <uint32_t>self.arena_n
        (<uint16_t*>self.ptr[off_col + 1])[row] = <uint16_t>m
        self.arena_n += m
        return 1

    cdef int put_id(self, int off_col, Py_ssize_t row, const char* s, Py_ssize_t n, bint escaped) except -1:
        """An id text (trade ids): held packed in the row's (off, len) columns, no arena
        byte, when it is the canonical decimal text of an integer below 2**47 (digits only,
        no leading zero; every id a venue sends today); put_text otherwise.

        Packed form (records.py, PACKED_ID_FLAG): len = 0x8000 | (value >> 32), off = the
        low 32 bits. Text lengths never reach 0x8000 (limits.MAX_TEXT_BYTES), so the flag
        cannot be confused with a length; the batch turns packed ids back into the same
        text (batch.py: unpack_ids), so the contract's ``trade_id`` text is unchanged."""
        cdef uint64_t v = 0
        cdef Py_ssize_t i
        cdef unsigned int d
        if escaped or n < 1 or n > 15 or (s[0] == 48 and n > 1):
            return self.put_text(off_col, row, s, n, escaped)
        for i in range(n):
            d = <unsigned char>s[i] - 48
            if d > 9:
                return self.put_text(off_col, row, s, n, escaped)
            v = v * 10 + d
        if v >= PACKED_ID_LIMIT:
            return self.put_text(off_col, row, s, n, escaped)
        self.put_packed_id(off_col, row, v)
        return 1

    cdef void put_packed_id(self, int off_col, Py_ssize_t row, uint64_t v) noexcept nogil:
        """An id below 2**47 whose text is its canonical decimal form (the caller knows: a
        JSON integer token has no sign and no leading zero), packed (see put_id)."""
        (<uint32_t*>self.ptr[off_col])[row] = <uint32_t>v  # the low 32 bits
        (<uint16_t*>self.ptr[off_col + 1])[row] = <uint16_t>(0x8000 | (v >> 32))

    @property
    def size(self) -> int:
        return self.n

    @property
    def capacity(self) -> int:
        return self.cap

    def nbytes_per_row(self) -> float:
        """Bytes of storage per held row: every column plus the arena bytes in use."""
        cdef Py_ssize_t per_row = 0
        for a in self.arrays:
            per_row += a.itemsize * (a.shape[1] if a.ndim == 2 else 1)
        if self.n == 0:
            return float(per_row)
        return per_row + self.arena_n / <double>self.n

    cpdef object seal(self):
        """The committed rows as an immutable Batch; the buffer starts afresh. None if empty."""
        if self.committed == 0:
            return None
        if self.n != self.committed:
            raise RuntimeError("seal() inside a frame")
        names = [c.name for c in self.storage]
        if self.n * COMPACT_BELOW <= self.cap:
            # A batch far smaller than the buffer gets its own tight copy of its rows: held by
            # a sink, it pins its rows only, not a buffer's capacity (the untouched tail of
            # every column, a partly used page per column); the buffer keeps its arrays.
            storage = {names[i]: self.arrays[i][: self.n].copy() for i in range(self.ncols)}
            batch = _Batch(self.kind, self.exchange, self.n, storage=storage,
                           arena=self.arena_array[: self.arena_n].copy(), instruments=self.instruments)
            self.n = 0
            self.committed = 0
            self.arena_n = 0
            self.arena_committed = 0
            return batch
        storage = {names[i]: self.arrays[i] for i in range(self.ncols)}
        batch = _Batch(self.kind, self.exchange, self.n, storage=storage,
                       arena=self.arena_array[: self.arena_n], instruments=self.instruments)
        self.pool.append(self.arrays + [self.arena_array])
        storage = None
        if not self._reuse():
            if len(self.pool) > POOL_SETS:
                del self.pool[0]
            self._allocate(self.cap, self.arena_cap)
        return batch

    cdef bint _reuse(self):
        """Take back a sealed array set whose batches were all released (no page faults,
        no allocation: the steady state of a buffer whose consumers keep up)."""
        cdef Py_ssize_t k, i
        cdef list arrays
        for k in range(len(self.pool) - 1):  # the newest set is the batch just sealed
            arrays = self.pool[k]
            if not unreferenced(arrays):
                continue
            if len(arrays[0]) < self.cap or len(arrays[self.ncols]) < self.arena_cap:
                continue
            del self.pool[k]
            self.arrays = arrays[: self.ncols]
            self.arena_array = arrays[self.ncols]
            for i in range(self.ncols):
                self.ptr[i] = <char*>cnp.PyArray_DATA(<cnp.ndarray>self.arrays[i])
            self.arena = <char*>cnp.PyArray_DATA(<cnp.ndarray>self.arena_array)
            self.n = 0
            self.committed = 0
            self.arena_n = 0
            self.arena_committed = 0
            return True
        return False


cdef class InternTable:
    """Raw symbol bytes -> instrument code, without allocating on a hit.

    Open addressing with linear probing, FNV-1a hashes, keys stored inline. On a miss the
    Python registry resolves the symbol once; its code is then cached here.
    """

    def __cinit__(self):
        self.mask = 255
        self.used = 0
        self.slots = <Slot*>PyMem_Calloc(self.mask + 1, sizeof(Slot))
        if self.slots == NULL:
            raise MemoryError()

    def __init__(self, registry):
        self.registry = registry
        self.long_keys = {}
        self.first_new = -1

    def __dealloc__(self):
        PyMem_Free(self.slots)

    cdef int _insert(self, uint64_t h, const char* s, Py_ssize_t n, uint32_t code) except -1:
        cdef Py_ssize_t i
        if (self.used + 1) * 2 > self.mask + 1:
            self._rehash()
        i = h & self.mask
        while self.slots[i].code != 0:
            i = (i + 1) & self.mask
        self.slots[i].hash = h
        self.slots[i].code = code + 1
        self.slots[i].klen = <uint16_t>n
        memcpy(self.slots[i].key, s, n)
        self.used += 1
        return 0

    cdef int _rehash(self) except -1:
        cdef Py_ssize_t old_size = self.mask + 1
        cdef Slot* old = self.slots
        cdef Py_ssize_t i, j
        cdef Py_ssize_t new_mask = old_size * 2 - 1
        cdef Slot* new = <Slot*>PyMem_Calloc(new_mask + 1, sizeof(Slot))
        if new == NULL:
            raise MemoryError()
        for i in range(old_size):
            if old[i].code != 0:
                j = old[i].hash & new_mask
                while new[j].code != 0:
                    j = (j + 1) & new_mask
                new[j] = old[i]
        self.slots = new
        self.mask = new_mask
        PyMem_Free(old)
        return 0

    cdef int lookup(self, const char* s, Py_ssize_t n, bint escaped, uint32_t* code) except -1:
        """Sets *code; returns 1, or 0 when the symbol text is empty or invalid."""
        cdef uint64_t h = 14695981039346656037ULL
        cdef Py_ssize_t i
        cdef Slot* slot
        cdef char scratch[6 * MAX_TEXT_BYTES]
        cdef Py_ssize_t m
        if n <= 0:
            return 0
        if escaped:
            if n > 6 * MAX_TEXT_BYTES:
                set_limit(LIMIT_TEXT)
                return 0
            m = unescape_json(s, n, scratch)
            if m <= 0:
                return 0
            if m > MAX_TEXT_BYTES:
                set_limit(LIMIT_TEXT)
                return 0
            return self._lookup_plain(scratch, m, code)
        if n > MAX_TEXT_BYTES:
            set_limit(LIMIT_TEXT)
            return 0
        return self._lookup_plain(s, n, code)

    cdef int _lookup_plain(self, const char* s, Py_ssize_t n, uint32_t* code) except -1:
        cdef uint64_t h = 14695981039346656037ULL
        cdef Py_ssize_t i
        cdef Slot* slot
        if n > KEY_MAX:
            return self._lookup_long(s, n, code)
        for i in range(n):
            h = (h ^ <unsigned char>s[i]) * 1099511628211ULL
        i = h & self.mask
        while True:
            slot = &self.slots[i]
            if slot.code == 0:
                break
            if slot.hash == h and slot.klen == n and memcmp(slot.key, s, n) == 0:
                code[0] = slot.code - 1
                return 1
            i = (i + 1) & self.mask
        if self.refused:  # this frame already met the limit (a fast path, then the general one)
            set_limit(LIMIT_INSTRUMENTS)
            return 0
        text = PyUnicode_DecodeUTF8(s, n, "replace")
        c = self._register(text)
        if c < 0:
            return 0
        self._insert(h, s, n, <uint32_t>c)
        code[0] = <uint32_t>c
        return 1

    cdef int _lookup_long(self, const char* s, Py_ssize_t n, uint32_t* code) except -1:
        key = PyUnicode_DecodeUTF8(s, n, "replace")
        c = self.long_keys.get(key)
        if c is None:
            if self.refused:
                set_limit(LIMIT_INSTRUMENTS)
                return 0
            c = self._register(key)
            if c < 0:
                return 0
            self.long_keys[key] = c
        code[0] = <uint32_t>c
        return 1

    cdef Py_ssize_t _register(self, str text) except -2:
        """A new symbol's code from the registry; -1 when the registry is full (it counted
        and logged the refusal; g_limit says why the frame fails)."""
        cdef Py_ssize_t before = len(self.registry)
        try:
            c = self.registry.intern(text)
        except _LimitExceeded:
            set_limit(LIMIT_INSTRUMENTS)
            self.refused = True
            return -1
        if self.first_new < 0 and c >= before:
            self.first_new = c
        return c

    cdef int forget_from(self, Py_ssize_t first) except -1:
        """Drop the symbols with codes >= ``first`` (registered by a frame that failed) from
        this table and from the registry: the table is rebuilt without them."""
        cdef Py_ssize_t i, size = self.mask + 1
        cdef Slot* old = self.slots
        cdef Slot* new = <Slot*>PyMem_Calloc(size, sizeof(Slot))
        cdef Py_ssize_t j
        if new == NULL:
            raise MemoryError()
        self.used = 0
        for i in range(size):
            if old[i].code != 0 and <Py_ssize_t>old[i].code - 1 < first:
                j = old[i].hash & self.mask
                while new[j].code != 0:
                    j = (j + 1) & self.mask
                new[j] = old[i]
                self.used += 1
        self.slots = new
        PyMem_Free(old)
        if self.long_keys:
            self.long_keys = {k: v for k, v in self.long_keys.items() if v < first}
        self.registry.truncate(first)
        self.first_new = -1
        return 0
