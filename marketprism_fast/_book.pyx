# cython: language_level=3
"""The compiled order-book engine: price levels per symbol, best bid/ask after every message.

Keys. A level is the float value of its price: two prices are the same level exactly when
their floats are equal (``0.0 == -0.0`` included, as for Python dict keys). Amount 0 removes a
level; removing an absent level changes nothing. Inside a side, levels are ordered by a *key*:
a bid's key is its price, an ask's key is ``-price`` (exact on floats), so both sides share one
code path and the best level always has the largest key.

Two stores per side, every level in exactly one of them:

* the **ladder**: a window of ``ladder_width`` slots of one tick each, near the top of the
  book. Slot = ``floor(key / tick + 0.5) - base``; an occupancy bitmap finds the next level
  below a removed best or while reading the top N. Setting a level in the ladder is O(1). A
  slot holds only the level whose key is the slot's *grid key*, ``(base + slot) * num / den``
  for the tick ``num / den`` (``den`` a power of ten): that division of two exact integers is
  correctly rounded, so it is the very float a price on the grid parses to. A slot therefore
  stores no key, only the amount: finding a level reads the bitmap (a few KB per side) and
  nothing else. In a book without texts, a message's rows on the grid are applied in runs of
  one side (``side_run``), or, when the message's sides alternate at random, in runs of both
  sides' rows with the row's side picked by index (``mixed_run``): whether a row sets,
  replaces or removes its slot's level is computed from the bitmap, not branched on, since a
  depth stream mixes the three in no order a branch predictor learns.
* the **far store**: sorted arrays (binary search + ``memmove``) for everything else: levels
  outside the window, off-grid prices (a key that is not its slot's grid key), and every level
  until the book knows its tick. The arrays keep free slots at both ends, and a change moves
  the shorter run of levels, the ones before it or the ones after: levels that come and go at
  either end (the venue's deepest ones, the ones next to the window) move nothing.

The tick is given, or inferred once from the first levels (smallest price gap, two significant
digits). The ladder re-centres (O(window + levels)) when a better level arrives above the
window or when the top of the book falls into its lowest quarter while levels wait in the far
store; after a re-centre the best level sits at 7/8 of the window. While more levels (over 64)
wait in the far store than sit in the ladder, the window doubles after a message, up to
``max_ladder_width``: sparse books (BTCUSDT at a 0.01 tick) get a wide ladder, thin ones keep
a small one.

Bounded memory: per side, a ladder of at most ``max_ladder_width`` slots (8 bytes each, 40
with texts) plus at most ``max_levels`` levels in all. A new level beyond that evicts the side's *worst* level (farthest from the top), or is
not stored when it is itself the worst; both count in ``evicted``. The top of the book stays
exact unless the book later shrinks past the evicted levels (the venues' snapshot windows
are far smaller than the default bound).

Texts. A book made with ``keep_texts=True`` (OKX) keeps per level the latest original price
and size texts, as the bytes ``price:size`` in a 32-byte slot beside the level (in the ladder,
one slot per ladder slot; in the far store, moved with the level); a text longer than a slot's
30 bytes is kept on the heap instead. The CRC32 checksum is computed over them: the top 25
levels' texts are copied slot by slot, from a few contiguous runs of memory, and no Python
object is made or read per level.

The watched top. The top levels a book_snapshot row copies (``TopBuffer``) and the texts the
OKX checksum covers come from one walk down each side, kept between messages; each side
remembers the key of its last level walked, and only a change at or above that key makes
that side's walk happen again (a change further down alters neither). The checksum is then
gathered from both sides' kept texts.
"""

cimport cython
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.ref cimport Py_REFCNT
from libc.math cimport NAN, INFINITY, isfinite, fabs, floor, log10, pow
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memmove, memset

import numpy as np

cdef extern from *:
    """
    /* A prefetch the compiler keeps. Built with __builtin_prefetch, BookCore.run came out of
       GCC 12 -O3 without any of its prefetches (the inlined _prefetch left no instruction);
       an asm statement is always emitted. */
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    #define mpf_prefetch(p) __asm__ __volatile__("prefetcht0 %0" : : "m"(*(const char *)(p)))
    #else
    #define mpf_prefetch(p) __builtin_prefetch(p)
    #endif
    """
    int __builtin_clzll(unsigned long long) nogil
    int __builtin_ctzll(unsigned long long) nogil
    void mpf_prefetch(const void* p) nogil

DEFAULT_MAX_LEVELS = 10_000
DEFAULT_LADDER_WIDTH = 1024
DEFAULT_MAX_LADDER_WIDTH = 65_536
SIDE_BID = 1
SIDE_ASK = -1

cdef enum:
    MIN_CAPACITY = 16
    MIN_GROWTH_LEVELS = 64  # a far store this small is not worth a wider ladder
    # A ladder widens only while the wider one costs at most this many bytes per level its side
    # holds (a slot is 8 bytes, 40 with texts): a dense book (a level on most ticks, as a
    # BTCUSDT depth stream's ~5,000 per side) may take the whole bound, a sparse one (a few
    # hundred levels scattered over a wide range) stays narrow and keeps its stragglers in the
    # far store instead of spreading over megabytes of mostly empty slots.
    LADDER_BYTES_PER_LEVEL = 128
    CHECKSUM_LEVELS = 25  # levels per side in an OKX checksum
    # A message of at most this many rows patches each change that reaches a side's watched
    # top into it; a longer one makes the side stale (walked again when next read), which is
    # cheaper once many of its changes reach the top (a depth stream's ~70 levels a message).
    PATCH_ROWS = 16

OKX_CHECKSUM_LEVELS = CHECKSUM_LEVELS

cdef uint64_t ALL_BITS = 0xFFFFFFFFFFFFFFFFULL


# ================================================================ level texts, inline

cdef enum:
    TEXT_INLINE = 30  # bytes of ``price:amount`` a text slot holds in itself
    TEXT_HEAP = 255  # LevelText.n of a text too long for its slot: the bytes are on the heap


cdef struct LevelText:  # 32 bytes: a level's latest ``price:amount``, the checksum's unit
    uint8_t n  # bytes in ``text`` (TEXT_HEAP: a HeapText is stored at ``text + 6``)
    uint8_t price_n  # the price's bytes (before the ':'), when inline
    char text[TEXT_INLINE]


cdef struct HeapText:  # a text longer than a slot
    char* data
    uint32_t n
    uint32_t price_n


cdef struct SrcText:  # a row's texts, where the batch keeps them
    const char* price
    const char* amount
    Py_ssize_t price_n
    Py_ssize_t amount_n


cdef inline HeapText text_heap(const LevelText* t) noexcept nogil:
    cdef HeapText h
    memcpy(&h, &t.text[6], sizeof(HeapText))
    return h


cdef inline void short_copy(char* dst, const char* src, Py_ssize_t n) noexcept nogil:
    """Copy n <= 32 bytes with at most two fixed-size moves that overlap (inlined: no call of
    ``memcpy`` for the few bytes of a number), reading and writing nothing outside the n."""
    if n >= 16:
        memcpy(dst, src, 16)
        memcpy(dst + n - 16, src + n - 16, 16)
    elif n >= 8:
        memcpy(dst, src, 8)
        memcpy(dst + n - 8, src + n - 8, 8)
    elif n >= 4:
        memcpy(dst, src, 4)
        memcpy(dst + n - 4, src + n - 4, 4)
    elif n > 0:
        dst[0] = src[0]
        dst[n >> 1] = src[n >> 1]
        dst[n - 1] = src[n - 1]


cdef inline bint text_store_inline(LevelText* t, const SrcText* src) noexcept nogil:
    """Write ``price:amount`` into the slot itself when it fits (True); False: it does not."""
    cdef Py_ssize_t total = src.price_n + 1 + src.amount_n
    if total > TEXT_INLINE:
        return False
    t.n = <uint8_t>total
    t.price_n = <uint8_t>src.price_n
    short_copy(t.text, src.price, src.price_n)
    t.text[src.price_n] = b":"
    short_copy(&t.text[src.price_n + 1], src.amount, src.amount_n)
    return True


cdef inline int text_store(LevelText* t, const SrcText* src) except -1:
    """Write ``price:amount`` into an empty slot (one holding no heap text)."""
    cdef Py_ssize_t total = src.price_n + 1 + src.amount_n
    cdef HeapText h
    if text_store_inline(t, src):
        return 0
    t.n = 0
    h.data = <char*>PyMem_Malloc(total)
    if h.data == NULL:
        raise MemoryError()
    h.n = <uint32_t>total
    h.price_n = <uint32_t>src.price_n
    memcpy(h.data, src.price, src.price_n)
    h.data[src.price_n] = b":"
    memcpy(&h.data[src.price_n + 1], src.amount, src.amount_n)
    memcpy(&t.text[6], &h, sizeof(HeapText))
    t.n = TEXT_HEAP
    return 0


cdef inline void text_release(LevelText* t) noexcept:
    if t.n == TEXT_HEAP:
        PyMem_Free(text_heap(t).data)
    t.n = 0


cdef inline const char* text_bytes(const LevelText* t, Py_ssize_t* n, Py_ssize_t* price_n) noexcept nogil:
    cdef HeapText h
    if t.n != TEXT_HEAP:
        n[0] = t.n
        price_n[0] = t.price_n
        return t.text
    h = text_heap(t)
    n[0] = h.n
    price_n[0] = h.price_n
    return h.data


# ================================================================ far store: sorted arrays

cdef struct Levels:
    # Free slots at both ends: an insert or removal moves the shorter run of levels, the ones
    # before its index or the ones after (inserts at either end cost nothing: a book's deepest
    # levels come and go at the far end, the ones next to the ladder at the near end).
    double* keys  # ascending; best level last; keys[0] lies ``front`` slots into its allocation
    double* amounts
    LevelText* texts  # NULL unless the book keeps texts
    Py_ssize_t n
    Py_ssize_t cap  # slots allocated: ``front`` free before the levels, cap - front - n after
    Py_ssize_t front


cdef inline Py_ssize_t lower_bound(const double* keys, Py_ssize_t n, double key) noexcept nogil:
    """First index i with keys[i] >= key (n when none), galloping down from the top. A key at
    or below the lowest answers at once: a snapshot's levels come best first, each one lower
    than every level stored before it."""
    cdef Py_ssize_t hi, lo, step, count, half
    if n == 0 or keys[n - 1] < key:
        return n
    if keys[0] >= key:
        return 0
    hi = n - 1  # keys[hi] >= key
    step = 1
    lo = hi - step
    while lo >= 0 and keys[lo] >= key:
        hi = lo
        step <<= 1
        lo = hi - step
    # keys[hi] >= key and (lo < 0 or keys[lo] < key): the answer is in (lo, hi]
    lo = lo + 1 if lo >= 0 else 0
    count = hi - lo
    while count > 0:
        half = count >> 1
        if keys[lo + half] < key:
            lo += half + 1
            count -= half + 1
        else:
            count = half
    return lo


cdef void levels_release_arrays(Levels* s) noexcept:
    """Free the arrays (not the texts in them)."""
    if s.keys != NULL:
        PyMem_Free(s.keys - s.front)
        PyMem_Free(s.amounts - s.front)
    if s.texts != NULL:
        PyMem_Free(s.texts - s.front)


cdef int levels_place(Levels* s, Py_ssize_t cap, Py_ssize_t front, bint texts) except -1:
    """Lay the levels out in new arrays of ``cap`` slots, ``front`` of them free before the
    first level (texts move, none is copied or freed)."""
    cdef double* keys = <double*>PyMem_Malloc(cap * sizeof(double))
    cdef double* amounts = <double*>PyMem_Malloc(cap * sizeof(double))
    cdef LevelText* text_slots = <LevelText*>PyMem_Malloc(cap * sizeof(LevelText)) if texts else NULL
    if keys == NULL or amounts == NULL or (texts and text_slots == NULL):
        PyMem_Free(keys)
        PyMem_Free(amounts)
        PyMem_Free(text_slots)
        raise MemoryError()
    if s.n:
        memcpy(keys + front, s.keys, s.n * sizeof(double))
        memcpy(amounts + front, s.amounts, s.n * sizeof(double))
        if texts:
            memcpy(text_slots + front, s.texts, s.n * sizeof(LevelText))
    levels_release_arrays(s)
    s.keys = keys + front
    s.amounts = amounts + front
    s.texts = text_slots + front if texts else NULL
    s.cap = cap
    s.front = front
    return 0


cdef int levels_reserve(Levels* s, Py_ssize_t want, bint texts) except -1:
    """Room for ``want`` levels from keys[0] on."""
    cdef Py_ssize_t cap = s.cap if s.cap else MIN_CAPACITY
    if s.keys != NULL and s.front + want <= s.cap:
        return 0
    while cap < want:
        cap *= 2
    return levels_place(s, cap, 0, texts)


cdef inline bint levels_front_run(const Levels* s, Py_ssize_t i) noexcept nogil:
    """Whether an insert or removal at i moves the levels before i (the shorter run) rather
    than the ones from i on."""
    return i < s.n - i


cdef int levels_make_room(Levels* s, Py_ssize_t i) except -1:
    """Room for one insert at i: a free slot at the end whose run moves (levels_insert_at
    then cannot fail). Without one, the levels are laid out again, centred, with at least
    half as many free slots as levels: the next re-layout is n/4 inserts away or more."""
    cdef Py_ssize_t cap = s.cap if s.cap else MIN_CAPACITY
    if (s.front > 0) if levels_front_run(s, i) else (s.front + s.n < s.cap):
        return 0
    while cap < s.n + s.n // 2 + 2:
        cap *= 2
    return levels_place(s, cap, (cap - s.n) // 2, s.texts != NULL)


cdef inline void levels_reset(Levels* s) noexcept:
    """No levels (their texts already released); every free slot after keys[0]."""
    if s.keys != NULL:
        s.keys -= s.front
        s.amounts -= s.front
        if s.texts != NULL:
            s.texts -= s.front
    s.front = 0
    s.n = 0


cdef inline int replace_text(LevelText* texts, Py_ssize_t i, const SrcText* src) except -1:
    """A level's latest texts replace its previous ones."""
    if texts != NULL:
        text_release(&texts[i])
        text_store(&texts[i], src)
    return 0


cdef void levels_free(Levels* s) noexcept:
    cdef Py_ssize_t i
    if s.texts != NULL:
        for i in range(s.n):
            text_release(&s.texts[i])
    levels_release_arrays(s)
    memset(s, 0, sizeof(Levels))


cdef inline void levels_move(Levels* s, Py_ssize_t dst, Py_ssize_t src, Py_ssize_t count) noexcept nogil:
    if count <= 0:
        return
    memmove(&s.keys[dst], &s.keys[src], count * sizeof(double))
    memmove(&s.amounts[dst], &s.amounts[src], count * sizeof(double))
    if s.texts != NULL:
        memmove(&s.texts[dst], &s.texts[src], count * sizeof(LevelText))


cdef inline void levels_shift_start(Levels* s, Py_ssize_t by) noexcept nogil:
    """keys[0] moves ``by`` slots (the first levels were moved there)."""
    s.keys += by
    s.amounts += by
    if s.texts != NULL:
        s.texts += by
    s.front += by


cdef inline void levels_remove_at(Levels* s, Py_ssize_t i) noexcept:
    if s.texts != NULL:
        text_release(&s.texts[i])
    if levels_front_run(s, i):
        levels_move(s, 1, 0, i)
        levels_shift_start(s, 1)
    else:
        levels_move(s, i, i + 1, s.n - i - 1)
    s.n -= 1


cdef inline void levels_insert_at(Levels* s, Py_ssize_t i, double key, double amount,
                                  const LevelText* text) noexcept:
    """Insert at position i, after ``levels_make_room(s, i)``; ``text`` (books with texts) is
    moved in: the store owns it now. NULL: the slot is left empty, for the caller to store
    the text into it."""
    if levels_front_run(s, i):
        levels_move(s, -1, 0, i)
        levels_shift_start(s, -1)
    else:
        levels_move(s, i + 1, i, s.n - i)
    s.keys[i] = key
    s.amounts[i] = amount
    if s.texts != NULL:
        if text != NULL:
            s.texts[i] = text[0]
        else:
            s.texts[i].n = 0
    s.n += 1


# ================================================================ ladder: one slot per tick

cdef struct Ladder:
    double* amounts  # one per slot; an occupied slot's level has the slot's grid key (slot_key)
    LevelText* texts  # one per slot, NULL unless the book keeps texts
    uint64_t* bits  # occupancy
    double base  # global slot index (an integer) of slot 0
    Py_ssize_t width  # slots, a multiple of 64; 0 until the book knows its tick
    Py_ssize_t count
    Py_ssize_t top  # highest occupied slot, -1 when empty


cdef int ladder_alloc(Ladder* lad, Py_ssize_t width, bint texts) except -1:
    lad.amounts = <double*>PyMem_Malloc(width * sizeof(double))
    lad.bits = <uint64_t*>PyMem_Malloc((width // 64) * sizeof(uint64_t))
    if lad.amounts == NULL or lad.bits == NULL:
        raise MemoryError()
    if texts:
        lad.texts = <LevelText*>PyMem_Malloc(width * sizeof(LevelText))
        if lad.texts == NULL:
            raise MemoryError()
    memset(lad.bits, 0, (width // 64) * sizeof(uint64_t))
    lad.width = width
    lad.count = 0
    lad.top = -1
    return 0


cdef inline bint ladder_has(const Ladder* lad, Py_ssize_t i) noexcept nogil:
    return (lad.bits[i >> 6] >> (i & 63)) & 1


cdef inline Py_ssize_t ladder_prev(const Ladder* lad, Py_ssize_t i) noexcept nogil:
    """Highest occupied slot <= i, or -1."""
    cdef Py_ssize_t w
    cdef uint64_t word
    if i < 0:
        return -1
    w = i >> 6
    word = lad.bits[w] & (ALL_BITS >> (63 - (i & 63)))
    while True:
        if word:
            return (w << 6) + 63 - __builtin_clzll(word)
        w -= 1
        if w < 0:
            return -1
        word = lad.bits[w]


cdef inline Py_ssize_t ladder_next(const Ladder* lad, Py_ssize_t i) noexcept nogil:
    """Lowest occupied slot >= i, or -1."""
    cdef Py_ssize_t w, nw = lad.width >> 6
    cdef uint64_t word
    if i >= lad.width:
        return -1
    w = i >> 6
    word = lad.bits[w] & (ALL_BITS << (i & 63))
    while True:
        if word:
            return (w << 6) + __builtin_ctzll(word)
        w += 1
        if w >= nw:
            return -1
        word = lad.bits[w]


cdef inline void ladder_put(Ladder* lad, Py_ssize_t i, double amount, const LevelText* text) noexcept:
    """Occupy slot i (its level: the slot's grid key); ``text`` (books with texts) is moved in,
    or, NULL, was written into the slot already."""
    lad.bits[i >> 6] |= (<uint64_t>1) << (i & 63)
    lad.amounts[i] = amount
    if lad.texts != NULL and text != NULL:
        lad.texts[i] = text[0]
    lad.count += 1
    if i > lad.top:
        lad.top = i


cdef inline void ladder_remove(Ladder* lad, Py_ssize_t i) noexcept:
    lad.bits[i >> 6] &= ~((<uint64_t>1) << (i & 63))
    if lad.texts != NULL:
        text_release(&lad.texts[i])
    lad.count -= 1
    if i == lad.top:
        lad.top = ladder_prev(lad, i - 1)


cdef void ladder_release_all(Ladder* lad) noexcept:
    """Drop the texts of every occupied slot and mark the ladder empty."""
    cdef Py_ssize_t i
    if lad.width == 0:
        return
    if lad.texts != NULL:
        i = ladder_next(lad, 0)
        while i >= 0:
            text_release(&lad.texts[i])
            i = ladder_next(lad, i + 1)
    memset(lad.bits, 0, (lad.width // 64) * sizeof(uint64_t))
    lad.count = 0
    lad.top = -1


cdef void ladder_free(Ladder* lad) noexcept:
    ladder_release_all(lad)
    PyMem_Free(lad.amounts)
    PyMem_Free(lad.bits)
    PyMem_Free(lad.texts)
    memset(lad, 0, sizeof(Ladder))


# ================================================================ one side: ladder + far store

cdef struct TopLevel:  # a watched level: key, amount and (books with texts) a copy of its text
    double key
    double amount
    LevelText text


cdef struct Side:
    Ladder lad
    Levels far
    Py_ssize_t far_in_window  # far levels whose slot lies inside the ladder window
    Py_ssize_t max_width  # the ladder may widen up to this many slots
    double inv_tick  # den / num
    double tick_num  # the tick is tick_num / tick_den: integers, tick_den a power of ten
    double tick_den
    # The side's watched top (LevelBook.refresh_top): its best ``top_n`` levels (keys, amounts
    # and, books with texts, copies of their texts), ``top_n < top_cap`` only when the side
    # holds fewer. ``watch`` is the key of the last of ``top_cap`` watched levels (-inf while
    # the side has fewer). Only a change at or above it can alter the watched levels (a level
    # below it that comes or goes, or changes its amount, is not among them): such a change
    # in a short message is patched in (side_top_patch, ``patched``); anything else that
    # reaches them makes them ``stale``, walked again when next read. A copied heap text stays
    # valid while its level is unchanged, which is what every watched level's copy is (a
    # change to one is patched, or the side is stale).
    double watch
    bint stale
    bint patched  # a patch changed the watched top since the checksum was last gathered
    TopLevel* top
    Py_ssize_t top_n
    Py_ssize_t top_cap


cdef inline Py_ssize_t slot_of(const Side* s, double key) noexcept nogil:
    """The key's ladder slot, or -1 outside the window (or without a ladder)."""
    # truncation is floor here (d >= 0) and avoids a libm call; NaN fails both tests
    cdef double d = key * s.inv_tick - s.lad.base + 0.5
    if d >= 0.0 and d < <double>s.lad.width:
        return <Py_ssize_t>d
    return -1


cdef inline double slot_key(const Side* s, Py_ssize_t slot) noexcept nogil:
    """The grid key of a ladder slot: the only key its slot holds. (base + slot) * num is an
    exact integer (below 2**53), and dividing it by den is correctly rounded: the float a price
    on the grid parses to, bit for bit."""
    return ((s.lad.base + <double>slot) * s.tick_num) / s.tick_den


cdef inline bint is_grid_key(const Side* s, Py_ssize_t slot, double key) noexcept nogil:
    """Whether ``key`` is the grid key of ``slot`` (from ``slot_of``; -1: outside the window):
    the one level that slot may hold. Every other key lives in the far store."""
    return slot >= 0 and key == slot_key(s, slot)


cdef void tick_grid(double tick, double* num, double* den) noexcept nogil:
    """The tick as ``num / den``: integers, ``den`` the smallest power of ten that makes ``num``
    whole (0.1 -> 1/10, 0.25 -> 25/100, 5 -> 5/1). A tick that is no such decimal keeps
    ``tick / 1``: grid keys are then rarely a parsed price, so its levels live in the far
    store (slower, still exact)."""
    cdef double scale = 1.0, v, r
    cdef int k
    for k in range(16):
        v = tick * scale
        r = floor(v + 0.5)
        if r >= 1.0 and fabs(v - r) <= 1e-9 * r:
            num[0] = r
            den[0] = scale
            return
        scale *= 10.0
    num[0] = tick
    den[0] = 1.0


cdef inline Py_ssize_t side_count(const Side* s) noexcept nogil:
    return s.lad.count + s.far.n


cdef inline bint side_best(const Side* s, double* key, double* amount) noexcept nogil:
    cdef bint in_ladder = s.lad.count > 0
    cdef double top_key
    if in_ladder:
        top_key = slot_key(s, s.lad.top)
        if s.far.n == 0 or top_key > s.far.keys[s.far.n - 1]:
            key[0] = top_key
            amount[0] = s.lad.amounts[s.lad.top]
            return True
    if s.far.n:
        key[0] = s.far.keys[s.far.n - 1]
        amount[0] = s.far.amounts[s.far.n - 1]
        return True
    return False


cdef struct Cursor:
    Py_ssize_t slot  # next ladder slot to read (occupied) or -1
    Py_ssize_t j  # next far index to read (descending) or -1


cdef inline void cursor_start(const Side* s, Cursor* c) noexcept nogil:
    c.slot = s.lad.top if s.lad.count else -1
    c.j = s.far.n - 1


cdef inline bint cursor_next(const Side* s, Cursor* c, double* key, double* amount,
                             const LevelText** text) noexcept nogil:
    """The next level from the top down; False when the side is exhausted."""
    cdef double slot_level = slot_key(s, c.slot) if c.slot >= 0 else 0.0
    if c.slot >= 0 and (c.j < 0 or slot_level > s.far.keys[c.j]):
        key[0] = slot_level
        amount[0] = s.lad.amounts[c.slot]
        if s.lad.texts != NULL:
            text[0] = &s.lad.texts[c.slot]
        c.slot = ladder_prev(&s.lad, c.slot - 1)
        return True
    if c.j >= 0:
        key[0] = s.far.keys[c.j]
        amount[0] = s.far.amounts[c.j]
        if s.far.texts != NULL:
            text[0] = &s.far.texts[c.j]
        c.j -= 1
        return True
    return False


cdef int side_recentre(Side* s, double anchor, Py_ssize_t width) except -1:
    """Put the level ``anchor`` at 7/8 of a window of ``width`` slots; redistribute every level."""
    cdef Py_ssize_t total = side_count(s), k = 0, i, j = 0, slot
    cdef double key
    cdef bint texts = s.far.texts != NULL
    cdef Levels merged
    cdef Ladder* lad = &s.lad
    memset(&merged, 0, sizeof(Levels))
    levels_reserve(&merged, total if total > MIN_CAPACITY else MIN_CAPACITY, texts)
    # merge ladder and far store in ascending key order; texts move, none is copied or freed
    i = ladder_next(lad, 0)
    while i >= 0 or j < s.far.n:
        key = slot_key(s, i) if i >= 0 else INFINITY
        if i >= 0 and (j >= s.far.n or key < s.far.keys[j]):
            merged.keys[k] = key
            merged.amounts[k] = lad.amounts[i]
            if texts:
                merged.texts[k] = lad.texts[i]
            i = ladder_next(lad, i + 1)
        else:
            merged.keys[k] = s.far.keys[j]
            merged.amounts[k] = s.far.amounts[j]
            if texts:
                merged.texts[k] = s.far.texts[j]
            j += 1
        k += 1
    if width != lad.width:  # the texts moved to ``merged``: free the arrays only
        PyMem_Free(lad.amounts)
        PyMem_Free(lad.bits)
        PyMem_Free(lad.texts)
        memset(lad, 0, sizeof(Ladder))
        ladder_alloc(lad, width, texts)
    memset(lad.bits, 0, (lad.width // 64) * sizeof(uint64_t))
    lad.count = 0
    lad.top = -1
    lad.base = floor(anchor * s.inv_tick + 0.5) - <double>(lad.width - lad.width // 8)
    levels_reset(&s.far)
    s.far_in_window = 0
    for k in range(total):
        slot = slot_of(s, merged.keys[k])
        if is_grid_key(s, slot, merged.keys[k]) and not ladder_has(lad, slot):
            ladder_put(lad, slot, merged.amounts[k], &merged.texts[k] if texts else NULL)
        else:
            levels_make_room(&s.far, s.far.n)
            levels_insert_at(&s.far, s.far.n, merged.keys[k], merged.amounts[k],
                             &merged.texts[k] if texts else NULL)
            s.far_in_window += slot >= 0
    merged.n = 0  # its texts now live in the ladder or the far store
    levels_free(&merged)
    return 0


cdef int side_remove_worst(Side* s) except -1:
    cdef Py_ssize_t low = ladder_next(&s.lad, 0) if s.lad.width and s.lad.count else -1
    if side_worst(s) >= s.watch:  # the side holds no more levels than it watches
        s.stale = True
    if low >= 0 and (s.far.n == 0 or slot_key(s, low) < s.far.keys[0]):
        ladder_remove(&s.lad, low)
    else:
        s.far_in_window -= slot_of(s, s.far.keys[0]) >= 0
        levels_remove_at(&s.far, 0)
    return 0


cdef double side_worst(const Side* s) noexcept nogil:
    cdef Py_ssize_t low = ladder_next(&s.lad, 0) if s.lad.width and s.lad.count else -1
    cdef double worst = INFINITY
    if low >= 0:
        worst = slot_key(s, low)
    if s.far.n and s.far.keys[0] < worst:
        worst = s.far.keys[0]
    return worst


cdef inline int side_set(Side* s, double key, double amount, const SrcText* src,
                         Py_ssize_t max_levels, uint64_t* evicted) except -1:
    """Set (amount > 0) or remove (amount == 0) the level ``key``; ``src``: its texts (books
    with texts). The usual case, a level already in the ladder, is inlined into the caller's
    loop; every other case is ``side_set_rest``."""
    cdef Py_ssize_t slot = slot_of(s, key)
    cdef Ladder* lad = &s.lad
    cdef bint on_grid = is_grid_key(s, slot, key)
    if on_grid:  # inside the window, on the grid: in the ladder or nowhere
        if ladder_has(lad, slot):
            if amount == 0.0:
                ladder_remove(lad, slot)
            else:
                lad.amounts[slot] = amount
                replace_text(lad.texts, slot, src)
            return 0
        if amount == 0.0:
            return 0
    return side_set_rest(s, slot, on_grid, key, amount, src, max_levels, evicted)


cdef int side_set_rest(Side* s, Py_ssize_t slot, bint on_grid, double key, double amount,
                       const SrcText* src, Py_ssize_t max_levels, uint64_t* evicted) except -1:
    """``side_set`` for a key not in the ladder (``slot``: its ladder slot, -1 outside;
    ``on_grid``: the key is that slot's grid key, as ``side_set`` found)."""
    cdef Py_ssize_t i
    cdef Ladder* lad = &s.lad
    cdef double best_key, best_amount
    # a key on the grid inside the window is never in the far store (side_set: ladder or nowhere)
    if slot < 0 or (s.far_in_window and not on_grid):
        i = lower_bound(s.far.keys, s.far.n, key)
        if i < s.far.n and s.far.keys[i] == key:
            if amount == 0.0:
                levels_remove_at(&s.far, i)
                s.far_in_window -= slot >= 0
            else:
                s.far.amounts[i] = amount
                replace_text(s.far.texts, i, src)
            return 0
    if amount == 0.0:
        return 0
    # a new level
    if side_count(s) >= max_levels:
        evicted[0] += 1
        if key < side_worst(s):
            return 0
        side_remove_worst(s)
    # a new best above the window: the market moved up; follow it (the window is tested first:
    # most keys outside it lie below, and the best costs a division)
    if (slot < 0 and lad.width and key * s.inv_tick - lad.base + 0.5 >= <double>lad.width
            and (not side_best(s, &best_key, &best_amount) or key > best_key)):
        side_recentre(s, key, lad.width)
        slot = slot_of(s, key)
        on_grid = is_grid_key(s, slot, key)
    if on_grid and not ladder_has(lad, slot):
        # texts are written straight into their slot: written to a temporary and copied, the
        # copy's wide loads would wait on the temporary's fresh narrow stores
        if src != NULL:
            text_store(&lad.texts[slot], src)
        ladder_put(lad, slot, amount, NULL)
    else:
        i = lower_bound(s.far.keys, s.far.n, key)
        levels_make_room(&s.far, i)  # the insert below cannot fail
        levels_insert_at(&s.far, i, key, amount, NULL)
        s.far_in_window += slot >= 0
        if src != NULL:  # (on MemoryError the level keeps an empty text: the next checksum fails)
            text_store(&s.far.texts[i], src)
    return 0


cdef struct RunCounts:  # what a run keeps of its side's ladder while it goes (side_run, mixed_run)
    Py_ssize_t count
    Py_ssize_t top
    bint top_gone  # the top held when the run began was removed


cdef inline bint run_row(double key, double amount, double inv_tick, double base, double num, double den,
                         double width, uint64_t* bits, double* slot_amounts, Py_ssize_t full,
                         RunCounts* c) noexcept nogil:
    """One row of a run (``side_run``, ``mixed_run``): False, nothing done, when the row is not
    the run's (its key is not its slot's grid key, or it is a new level where the side may hold
    no more); else its slot's level set, replaced or removed, or nothing removed, which of
    these computed rather than branched on (a depth stream mixes them in no order a branch
    predictor learns)."""
    cdef double d = key * inv_tick - base + 0.5
    cdef Py_ssize_t slot, count = c.count, top = c.top
    cdef uint64_t had, has, bit
    if not (d >= 0.0 and d < width):
        return False
    slot = <Py_ssize_t>d
    if key != ((base + <double>slot) * num) / den:  # slot_key
        return False
    bit = (<uint64_t>1) << (slot & 63)
    had = (bits[slot >> 6] & bit) != 0
    has = amount != 0.0
    if has & (had ^ 1) & (count >= full):  # side_set evicts (or drops) for a new level here
        return False
    c.top_gone |= had & (has ^ 1) & (slot == top)
    c.top = slot if has & (slot > top) else top
    c.count = count + <Py_ssize_t>has - <Py_ssize_t>had
    bits[slot >> 6] ^= bit & (<uint64_t>0 - (had ^ has))
    slot_amounts[slot] = amount  # (a slot without its bit holds no level: its amount is not read)
    return True


cdef inline void run_close(Ladder* lad, const RunCounts* c) noexcept nogil:
    """The ladder's count and top after a run; a removed top: the highest occupied slot at or
    below it (or the higher one set since)."""
    lad.count = c.count
    lad.top = ladder_prev(lad, c.top) if c.top_gone else c.top


cdef Py_ssize_t side_run(Side* s, const int8_t* sides, const double* prices, const double* amounts,
                         Py_ssize_t i, Py_ssize_t stop, int8_t sd, double sign, Py_ssize_t max_levels,
                         bint* reached) noexcept nogil:
    """``side_set`` for rows from ``i`` on while they are side ``sd``'s (keys: price * ``sign``),
    in a book without texts, each through ``run_row``. Returns the first row it leaves: another
    side's, or one ``run_row`` does not take (off the ladder's grid, or a new level where the
    side may hold no more). That row is never a level in the ladder, so it is
    ``side_set_rest``'s. ``reached``: a key at or above the side's watch was seen (the
    caller's to act on)."""
    cdef Ladder* lad = &s.lad
    # the side's fields in locals: a store to the ladder's amounts could alias a double field
    cdef double inv_tick = s.inv_tick, base = lad.base, num = s.tick_num, den = s.tick_den
    cdef double width = <double>lad.width, watch = s.watch, key
    cdef uint64_t* bits = lad.bits
    cdef double* slot_amounts = lad.amounts
    cdef Py_ssize_t full = max_levels - s.far.n
    cdef RunCounts c
    cdef bint reach = False
    c.count, c.top, c.top_gone = lad.count, lad.top, False
    while i < stop and sides[i] == sd:
        key = prices[i] * sign
        if not run_row(key, amounts[i], inv_tick, base, num, den, width, bits, slot_amounts, full, &c):
            break
        reach |= key >= watch
        i += 1
    run_close(lad, &c)
    reached[0] |= reach
    return i


cdef Py_ssize_t mixed_run(Side* asks, Side* bids, const int8_t* sides, const double* prices,
                          const double* amounts, Py_ssize_t i, Py_ssize_t stop, Py_ssize_t max_levels,
                          bint* asks_reached, bint* bids_reached) noexcept nogil:
    """``side_run`` for rows of both sides in any order (a message whose sides alternate at
    random): each side's fields in a two-entry array of locals, the row's picked by index
    (asks 0, bids 1), since a run of one side would end every row or two, and a branch on the
    side would mispredict as often. Returns the first row it leaves: a marker row, or a row
    ``side_run`` would leave (off its side's grid, or a new level where its side may hold no
    more), which is then ``side_set_rest``'s."""
    cdef Side* by_side[2]
    cdef double sign[2]
    cdef double inv_tick[2]
    cdef double base[2]
    cdef double num[2]
    cdef double den[2]
    cdef double width[2]
    cdef double watch[2]
    cdef uint64_t* bits[2]
    cdef double* slot_amounts[2]
    cdef Py_ssize_t full[2]
    cdef RunCounts c[2]
    cdef bint reach[2]
    cdef Py_ssize_t k
    cdef Side* s
    cdef int8_t sd
    cdef double key
    by_side[0], by_side[1] = asks, bids
    sign[0], sign[1] = -1.0, 1.0
    for k in range(2):
        s = by_side[k]
        inv_tick[k], base[k], num[k], den[k] = s.inv_tick, s.lad.base, s.tick_num, s.tick_den
        width[k], watch[k] = <double>s.lad.width, s.watch
        bits[k], slot_amounts[k] = s.lad.bits, s.lad.amounts
        c[k].count, c[k].top, c[k].top_gone = s.lad.count, s.lad.top, False
        full[k] = max_levels - s.far.n
        reach[k] = False
    while i < stop:
        sd = sides[i]
        if sd == 0:
            break
        k = (sd + 1) >> 1  # (the rows are checked: a side is -1, 0 or 1)
        key = prices[i] * sign[k]
        if not run_row(key, amounts[i], inv_tick[k], base[k], num[k], den[k], width[k], bits[k], slot_amounts[k],
                       full[k], &c[k]):
            break
        reach[k] |= key >= watch[k]
        i += 1
    for k in range(2):
        run_close(&by_side[k].lad, &c[k])
    asks_reached[0] |= reach[0]
    bids_reached[0] |= reach[1]
    return i


cdef int side_settle(Side* s) except -1:
    """After a message: keep the top of the book in the upper part of the window, and widen
    the window (doubled, up to its bound) while more than a fifth as many levels wait in the
    far store as sit in it, as long as the wider ladder stays within LADDER_BYTES_PER_LEVEL."""
    cdef double key, amount, pos
    cdef size_t slot_bytes = sizeof(double) + (sizeof(LevelText) if s.lad.texts != NULL else 0)
    if s.lad.width == 0 or s.far.n == 0 or not side_best(s, &key, &amount):
        return 0
    if (s.far.n > MIN_GROWTH_LEVELS and 5 * s.far.n > s.lad.count and s.lad.width < s.max_width
            and 2 * <size_t>s.lad.width * slot_bytes <= LADDER_BYTES_PER_LEVEL * <size_t>side_count(s)):
        side_recentre(s, key, min(2 * s.lad.width, s.max_width))
        return 0
    pos = key * s.inv_tick - s.lad.base + 0.5
    if pos < <double>(s.lad.width // 4) or pos >= <double>s.lad.width:
        side_recentre(s, key, s.lad.width)
    return 0


cdef int side_top_alloc(Side* s, Py_ssize_t cap) except -1:
    """Room for ``cap`` watched levels, none kept yet (the side is stale: walked when next read)."""
    side_top_free(s)
    s.top = <TopLevel*>PyMem_Malloc((cap if cap else 1) * sizeof(TopLevel))
    if s.top == NULL:
        raise MemoryError()
    s.top_cap = cap
    return 0


cdef void side_top_free(Side* s) noexcept:
    """No watched levels, and no room for them (the side is stale)."""
    PyMem_Free(s.top)
    s.top = NULL
    s.top_cap = 0
    s.top_n = 0
    s.watch = -INFINITY
    s.stale = True


cdef Py_ssize_t walk_top(const Side* s, TopLevel* out, Py_ssize_t cap, double* last) noexcept nogil:
    """The side's best ``cap`` levels into ``out``, texts copied (books with texts); returns
    how many, and into ``last`` the key of the cap-th (-inf when the side has fewer)."""
    cdef Py_ssize_t j = 0
    cdef Cursor c
    cdef double key = -INFINITY, amount
    cdef const LevelText* t = NULL
    cursor_start(s, &c)
    while j < cap and cursor_next(s, &c, &key, &amount, &t):
        out[j].key = key
        out[j].amount = amount
        if t != NULL:
            out[j].text = t[0]
        j += 1
    last[0] = key if j == cap and j > 0 else -INFINITY
    return j


cdef void side_walk_top(Side* s) noexcept nogil:
    """The watched top walked afresh from the side's levels."""
    s.top_n = walk_top(s, s.top, s.top_cap, &s.watch)
    s.stale = False
    s.patched = True


cdef inline void top_text(const Side* s, TopLevel* level, const SrcText* src) noexcept nogil:
    """A patched watched level's text (books with texts: ``src``, the change's texts, just
    stored): written from ``src`` when it fits a slot, else a copy of the stored heap text."""
    if src != NULL and not text_store_inline(&level.text, src):
        level.text = side_text_at(s, level.key)[0]


cdef const LevelText* side_text_at(const Side* s, double key) noexcept nogil:
    """The stored text of the level ``key`` (which the side holds; books with texts)."""
    cdef Py_ssize_t slot = slot_of(s, key)
    if is_grid_key(s, slot, key) and ladder_has(&s.lad, slot):
        return &s.lad.texts[slot]
    return &s.far.texts[lower_bound(s.far.keys, s.far.n, key)]


cdef bint side_below(const Side* s, double key, double* out_key, double* out_amount,
                     const LevelText** text) noexcept nogil:
    """The side's best level below ``key`` (key, amount and, books with texts, stored text);
    False when it holds none."""
    cdef Py_ssize_t slot = -1, j
    cdef double d
    if s.lad.count:
        d = key * s.inv_tick - s.lad.base + 0.5
        if d >= <double>s.lad.width:
            slot = s.lad.top
        elif d >= 0.0:
            slot = ladder_prev(&s.lad, <Py_ssize_t>d)
        while slot >= 0 and slot_key(s, slot) >= key:  # the slot of ``key`` itself (or above it)
            slot = ladder_prev(&s.lad, slot - 1)
    j = lower_bound(s.far.keys, s.far.n, key) - 1  # the far store's best key below ``key``
    if slot >= 0 and (j < 0 or slot_key(s, slot) > s.far.keys[j]):
        out_key[0] = slot_key(s, slot)
        out_amount[0] = s.lad.amounts[slot]
        if s.lad.texts != NULL:
            text[0] = &s.lad.texts[slot]
        return True
    if j >= 0:
        out_key[0] = s.far.keys[j]
        out_amount[0] = s.far.amounts[j]
        if s.far.texts != NULL:
            text[0] = &s.far.texts[j]
        return True
    return False


cdef bint top_patched(Side* s, double key, double amount, const SrcText* src, bint evicted) noexcept nogil:
    """After a change that reached the side's watched top (``src``: its texts, books with
    texts): patch it in (True), unless the side is stale or a level was evicted (the evicted
    level may be a watched one, or the change not stored): False, the side is to be walked
    again."""
    if s.stale or evicted:
        return False
    side_top_patch(s, key, amount, src)
    return True


cdef void side_top_patch(Side* s, double key, double amount, const SrcText* src) noexcept nogil:
    """A change just applied at ``key`` >= ``s.watch`` (the side not stale, no level evicted):
    the watched top follows it, as a walk would leave it: an amount (and text) changed in
    place, a level removed (the ones below move up and the side's next level joins at the
    bottom) or a new one inserted (the ones below move down, the last drops out when full)."""
    cdef Py_ssize_t p = 0, n = s.top_n, cap = s.top_cap
    cdef TopLevel* top = s.top
    cdef double last
    cdef const LevelText* t = NULL
    if cap == 0:
        return
    s.patched = True
    while p < n and top[p].key > key:
        p += 1
    if p < n and top[p].key == key:
        if amount != 0.0:
            top[p].amount = amount
            top_text(s, &top[p], src)
            return
        last = top[n - 1].key
        memmove(&top[p], &top[p + 1], (n - p - 1) * sizeof(TopLevel))
        s.top_n = n - 1
        if n < cap:  # the side held fewer than it watches: nothing below joins
            return
        if side_below(s, last, &top[n - 1].key, &top[n - 1].amount, &t):
            if t != NULL:
                top[n - 1].text = t[0]
            s.top_n = n
            s.watch = top[n - 1].key
        else:
            s.watch = -INFINITY
        return
    if amount == 0.0:  # a level the side does not hold
        return
    if n == cap:
        n -= 1
    memmove(&top[p + 1], &top[p], (n - p) * sizeof(TopLevel))
    top[p].key = key
    top[p].amount = amount
    top_text(s, &top[p], src)
    s.top_n = n + 1
    if s.top_n == cap:
        s.watch = top[cap - 1].key


cdef void side_clear(Side* s) noexcept:
    cdef Py_ssize_t i
    ladder_release_all(&s.lad)
    if s.far.texts != NULL:
        for i in range(s.far.n):
            text_release(&s.far.texts[i])
    levels_reset(&s.far)
    s.far_in_window = 0
    s.watch = -INFINITY
    s.stale = True


cdef dict side_storage(const Side* s):
    return {"ladder": s.lad.count, "far": s.far.n, "far_in_window": s.far_in_window, "base": s.lad.base,
            "width": s.lad.width, "far_capacity": s.far.cap}


# ================================================================ CRC32 (zlib.crc32 semantics)

cdef uint32_t CRC_TABLES[8][256]  # slicing-by-8: CRC_TABLES[0] is the byte-wise table
cdef uint32_t CRC_XOR = 0xFFFFFFFFU


cdef inline int32_t as_signed(uint32_t crc) noexcept nogil:
    return <int32_t>crc


cdef void init_crc_table() noexcept:
    cdef uint32_t c, k, n
    for n in range(256):
        c = n
        for k in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if (c & 1) else (c >> 1)
        CRC_TABLES[0][n] = c
    for n in range(256):
        for k in range(1, 8):
            CRC_TABLES[k][n] = (CRC_TABLES[k - 1][n] >> 8) ^ CRC_TABLES[0][CRC_TABLES[k - 1][n] & 0xFF]


init_crc_table()


cdef inline uint32_t load_le32(const uint8_t* p) noexcept nogil:
    return (<uint32_t>p[0]) | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef inline uint32_t crc_table_update(uint32_t crc, const char* data, Py_ssize_t n) noexcept nogil:
    """Slicing-by-8: the CRC where carry-less multiplication is not available, and every tail."""
    cdef const uint8_t* p = <const uint8_t*>data
    cdef uint32_t one, two
    while n >= 8:
        one = load_le32(p) ^ crc
        two = load_le32(p + 4)
        crc = (CRC_TABLES[7][one & 0xFF] ^ CRC_TABLES[6][(one >> 8) & 0xFF]
               ^ CRC_TABLES[5][(one >> 16) & 0xFF] ^ CRC_TABLES[4][one >> 24]
               ^ CRC_TABLES[3][two & 0xFF] ^ CRC_TABLES[2][(two >> 8) & 0xFF]
               ^ CRC_TABLES[1][(two >> 16) & 0xFF] ^ CRC_TABLES[0][two >> 24])
        p += 8
        n -= 8
    while n > 0:
        crc = CRC_TABLES[0][(crc ^ p[0]) & 0xFF] ^ (crc >> 8)
        p += 1
        n -= 1
    return crc


cdef extern from "_crc32_clmul.h" nogil:
    uint32_t mpf_crc32_clmul(uint32_t crc, const unsigned char* buf, size_t length)
    uint32_t mpf_crc32_vpclmul(uint32_t crc, const unsigned char* buf, size_t length)
    int mpf_crc32_clmul_available()
    int mpf_crc32_vpclmul_available()


cdef enum:  # the CRC32 implementations, slowest first
    CRC_TABLE = 0  # slicing-by-8, anywhere
    CRC_CLMUL = 1  # carry-less multiplication, 128 bits at a time (pclmulqdq, sse4.1)
    CRC_VPCLMUL = 2  # the same, 512 bits at a time (avx512f, vpclmulqdq)

CRC_NAMES = ("table", "clmul", "vpclmul")
# the fastest this CPU has, chosen at import; tests switch (crc32_implementation)
cdef int CRC_BEST = (CRC_VPCLMUL if mpf_crc32_vpclmul_available() else
                     CRC_CLMUL if mpf_crc32_clmul_available() else CRC_TABLE)
cdef int CRC_IMPL = CRC_BEST  # in use


cdef inline uint32_t crc_update(uint32_t crc, const char* data, Py_ssize_t n) noexcept nogil:
    """The CRC register after ``data``: carry-less multiply folding over whole 16-byte blocks
    when the CPU has it (64 bytes at least), the table for the rest."""
    cdef Py_ssize_t bulk
    if CRC_IMPL != CRC_TABLE and n >= 64:
        bulk = n & ~(<Py_ssize_t>15)
        if CRC_IMPL == CRC_VPCLMUL:
            crc = mpf_crc32_vpclmul(crc, <const unsigned char*>data, <size_t>bulk)
        else:
            crc = mpf_crc32_clmul(crc, <const unsigned char*>data, <size_t>bulk)
        data += bulk
        n -= bulk
    return crc_table_update(crc, data, n)


cdef str switch_implementation(str what, tuple names, int best, int* in_use, name):
    """The implementation of ``what`` in ``in_use`` (an index into ``names``, slowest first),
    switched to ``name`` when given: one this CPU runs (up to ``best``), else a one-line
    ValueError. Returns the one in use before the call."""
    before = names[in_use[0]]
    if name is not None:
        if name not in names:
            raise ValueError(f"{what} implementation is one of {', '.join(names)}, got {name!r}")
        if names.index(name) > best:
            raise ValueError(f"this CPU cannot run the {name} {what}: it has {', '.join(names[: best + 1])}")
        in_use[0] = names.index(name)
    return before


def crc32_implementation(name=None) -> str:
    """The CRC32 in use: ``"vpclmul"`` or ``"clmul"`` (carry-less multiplication, 512 or 128
    bits at a time: the fastest the CPU has, chosen at import) or ``"table"`` (slicing-by-8).
    ``name`` switches to one of ``crc32_implementations()``: tests compare them. Returns the
    one in use before the call."""
    return switch_implementation("CRC32", CRC_NAMES, CRC_BEST, &CRC_IMPL, name)


def crc32_implementations() -> list:
    """The CRC32 implementations this CPU runs, slowest first (the last is the one chosen)."""
    return list(CRC_NAMES[: CRC_BEST + 1])


cdef enum:
    CRC_BUFFER = 2048


cdef inline Py_ssize_t crc_level(char* buf, Py_ssize_t n, uint32_t* crc, const LevelText* t) noexcept nogil:
    """Append a level's ``price:amount`` and a ':' to the checksum input gathered in ``buf``
    (``n`` bytes so far, the caller drops the last ':'); returns the new length. An inline
    text is copied as its whole slot (a fixed-size copy), then the end moves by its length.
    The length is a value, not a field: a store into ``buf`` (char) may alias any memory,
    and a length kept in memory would be reloaded after every copy."""
    if n > CRC_BUFFER - TEXT_INLINE - 2 or t.n == TEXT_HEAP:
        return crc_level_flush(buf, n, crc, t)
    memcpy(&buf[n], t.text, TEXT_INLINE)
    n += t.n
    buf[n] = b":"
    return n + 1


cdef Py_ssize_t crc_level_flush(char* buf, Py_ssize_t n, uint32_t* crc, const LevelText* t) noexcept nogil:
    """``crc_level``'s rare cases: the buffer is nearly full, or the text is on the heap."""
    cdef HeapText h
    crc[0] = crc_update(crc[0], buf, n)
    n = 0
    if t.n == TEXT_HEAP:
        h = text_heap(t)
        crc[0] = crc_update(crc[0], h.data, h.n)
    else:
        memcpy(buf, t.text, TEXT_INLINE)
        n = t.n
    buf[n] = b":"
    return n + 1


cdef int64_t checksum_of(const TopLevel* bids, Py_ssize_t nb, const TopLevel* asks, Py_ssize_t na) noexcept nogil:
    """The OKX checksum of walked levels' texts: CRC32 of ``bidPx:bidSz:askPx:askSz:...`` (a
    side that runs out is left out) as a signed int32."""
    cdef char buf[CRC_BUFFER]
    cdef Py_ssize_t j, n = 0
    cdef uint32_t crc = CRC_XOR
    for j in range(nb if nb > na else na):
        if j < nb:
            n = crc_level(buf, n, &crc, &bids[j].text)
        if j < na:
            n = crc_level(buf, n, &crc, &asks[j].text)
    if n:
        n -= 1  # no ':' after the last text
    return as_signed(crc_update(crc, buf, n) ^ CRC_XOR)


cdef TopLevel* walk_both(const Side* bids, const Side* asks, Py_ssize_t cap, Py_ssize_t* nb,
                        Py_ssize_t* na) except NULL:
    """Both sides' best ``cap`` levels walked afresh into a new array (the caller frees it):
    the bids at 0, the asks at ``cap``; how many each has into ``nb``/``na``."""
    cdef double last
    cdef TopLevel* walked = <TopLevel*>PyMem_Malloc((2 * cap if cap else 1) * sizeof(TopLevel))
    if walked == NULL:
        raise MemoryError()
    nb[0] = walk_top(bids, walked, cap, &last)
    na[0] = walk_top(asks, walked + cap, cap, &last)
    return walked


cdef void write_levels(const TopLevel* levels, Py_ssize_t n, double sign, Py_ssize_t depth, double* prices,
                       double* amounts) noexcept nogil:
    """The first ``depth`` of ``n`` walked levels as prices (times ``sign``: asks are kept
    negated) and amounts, NaN-padded."""
    cdef Py_ssize_t j
    if n > depth:
        n = depth
    for j in range(n):
        prices[j] = sign * levels[j].key
        amounts[j] = levels[j].amount
    for j in range(n, depth):
        prices[j] = NAN
        amounts[j] = NAN


def crc32_signed(bytes data) -> int:
    """CRC32 of ``data`` as a signed 32-bit integer (the engine's own CRC, for tests)."""
    return as_signed(crc_update(CRC_XOR, data, len(data)) ^ CRC_XOR)


# ================================================================ rows of a book_delta batch

cdef extern from "numpy/arrayobject.h":
    void* PyArray_DATA(object)


cdef extern from "_rows_scan.h" nogil:
    Py_ssize_t mpf_message_end(const uint32_t* frame, const uint32_t* code, Py_ssize_t start, Py_ssize_t n,
                               int impl)
    Py_ssize_t mpf_first_invalid(const int8_t* side, const double* price, const double* amount,
                                 const uint8_t* text_bad, Py_ssize_t start, Py_ssize_t stop, Py_ssize_t* turns,
                                 int impl)
    int mpf_rows_scan_avx512_available()
    int mpf_rows_scan_avx2_available()
    enum:  # the row scans (message end, validity), slowest first
        SCAN_SCALAR "MPF_SCAN_SCALAR"
        SCAN_AVX2 "MPF_SCAN_AVX2"
        SCAN_AVX512 "MPF_SCAN_AVX512"

SCAN_NAMES = ("scalar", "avx2", "avx512")
cdef int SCAN_BEST = (SCAN_AVX512 if mpf_rows_scan_avx512_available() else
                      SCAN_AVX2 if mpf_rows_scan_avx2_available() else SCAN_SCALAR)
cdef int ROWS_SCAN_IMPL = SCAN_BEST  # in use


def rows_scan_implementation(name=None) -> str:
    """The row scans in use (where a message ends, whether its rows are valid): ``"avx512"``
    (16 or 8 rows a step) or ``"avx2"`` (8 or 4), the widest the CPU has, chosen at import, or
    ``"scalar"``. ``name`` switches to one of ``rows_scan_implementations()``: tests compare
    them. Returns the one in use before the call."""
    return switch_implementation("row scan", SCAN_NAMES, SCAN_BEST, &ROWS_SCAN_IMPL, name)


def rows_scan_implementations() -> list:
    """The row scan implementations this CPU runs, slowest first (the last is the one chosen)."""
    return list(SCAN_NAMES[: SCAN_BEST + 1])


@cython.final
cdef class DeltaRows:
    """Typed views of a book_delta batch's level columns, bound once per batch.

    Texts (needed only by books that keep them): ``price_texts``/``amount_texts`` sequences of
    str, or (``DeltaRows.from_arena``) a batch's text arena with each row's offsets and lengths,
    read in place. Rows with ``side == 0`` carry no level (a message marker) and are skipped.
    """

    cdef const int8_t[::1] side
    cdef const double[::1] price
    cdef const double[::1] amount
    cdef readonly Py_ssize_t n
    cdef bint texts
    cdef object _text_arrays  # keeps the arrays below alive
    cdef const char* arena
    cdef const uint32_t* price_off
    cdef const uint32_t* price_len
    cdef const uint32_t* amount_off
    cdef const uint32_t* amount_len
    cdef const uint8_t* text_bad  # a row whose text was not a str (NULL: none)
    # the last range first_invalid found valid (checked_stop -1: none) and its side turns (how
    # many rows' side differs from the row before; the row before the range counts as side 0)
    cdef Py_ssize_t checked_start, checked_stop
    cdef readonly Py_ssize_t checked_turns

    def __init__(self, side, price, amount, price_texts=None, amount_texts=None):
        self.side = np.ascontiguousarray(side, dtype=np.int8)
        self.price = np.ascontiguousarray(price, dtype=np.float64)
        self.amount = np.ascontiguousarray(amount, dtype=np.float64)
        self.n = self.side.shape[0]
        if self.price.shape[0] != self.n or self.amount.shape[0] != self.n:
            raise ValueError("side, price and amount must have the same length")
        if (price_texts is None) != (amount_texts is None):
            raise ValueError("give both price_texts and amount_texts, or neither")
        if price_texts is not None:
            price_texts = list(price_texts)
            amount_texts = list(amount_texts)
            if len(price_texts) != self.n or len(amount_texts) != self.n:
                raise ValueError("texts must have one entry per row")
            self._texts_of(price_texts, amount_texts)

    @staticmethod
    def from_arena(side, price, amount, arena, price_off, price_len, amount_off, amount_len) -> DeltaRows:
        """Rows whose texts are ``arena[off:off + len]`` (UTF-8), as a parser's batch keeps them."""
        rows = DeltaRows(side, price, amount)
        rows._bind_texts(arena, price_off, price_len, amount_off, amount_len, None)
        return rows

    cdef int _texts_of(self, list price_texts, list amount_texts) except -1:
        """Texts given as str: their UTF-8 bytes in one arena; a row with a text that is not a
        str (or not encodable) is marked invalid."""
        cdef Py_ssize_t i, k, pos = 0, n = self.n
        off = np.zeros((2, n), dtype=np.uint32)
        length = np.zeros((2, n), dtype=np.uint32)
        bad = np.zeros(n, dtype=np.uint8)
        parts = []
        for i in range(n):
            for k, text in enumerate((price_texts[i], amount_texts[i])):
                data = b""
                if type(text) is str:
                    try:
                        data = (<str>text).encode("utf-8")
                    except UnicodeEncodeError:
                        bad[i] = 1
                else:
                    bad[i] = 1
                off[k, i] = pos
                length[k, i] = len(data)
                pos += len(data)
                parts.append(data)
        arena = np.frombuffer(b"".join(parts), dtype=np.uint8) if pos else np.zeros(1, dtype=np.uint8)
        return self._bind_texts(arena, off[0], length[0], off[1], length[1], bad if bad.any() else None)

    cdef int _bind_texts(self, arena, price_off, price_len, amount_off, amount_len, bad) except -1:
        arena = np.ascontiguousarray(arena, dtype=np.uint8)
        if arena.shape[0] == 0:
            arena = np.zeros(1, dtype=np.uint8)
        cols = [np.ascontiguousarray(c, dtype=np.uint32) for c in (price_off, price_len, amount_off, amount_len)]
        for c in cols:
            if c.ndim != 1 or c.shape[0] != self.n:
                raise ValueError("text offsets and lengths must have one entry per row")
        if (texts_end(<const uint32_t*>PyArray_DATA(cols[0]), <const uint32_t*>PyArray_DATA(cols[1]), self.n)
                > <uint64_t>arena.shape[0]
                or texts_end(<const uint32_t*>PyArray_DATA(cols[2]), <const uint32_t*>PyArray_DATA(cols[3]), self.n)
                > <uint64_t>arena.shape[0]):
            raise ValueError("a text reaches beyond the arena")
        if bad is not None:
            bad = np.ascontiguousarray(bad, dtype=np.uint8)
        self._text_arrays = (arena, cols, bad)
        self.arena = <const char*>PyArray_DATA(arena)
        self.price_off = <const uint32_t*>PyArray_DATA(cols[0])
        self.price_len = <const uint32_t*>PyArray_DATA(cols[1])
        self.amount_off = <const uint32_t*>PyArray_DATA(cols[2])
        self.amount_len = <const uint32_t*>PyArray_DATA(cols[3])
        self.text_bad = <const uint8_t*>PyArray_DATA(bad) if bad is not None else NULL
        self.texts = True
        return 0

    cdef inline void text_of(self, Py_ssize_t i, SrcText* src) noexcept nogil:
        src.price = self.arena + self.price_off[i]
        src.price_n = self.price_len[i]
        src.amount = self.arena + self.amount_off[i]
        src.amount_n = self.amount_len[i]

    @property
    def has_texts(self) -> bool:
        return self.texts

    def slice(self, Py_ssize_t start, Py_ssize_t stop):
        """An independent copy of rows [start, stop) (to keep a message beyond its batch)."""
        cdef Py_ssize_t i, k = 0, pos = 0, m = stop - start
        cdef SrcText src
        self._check_range(start, stop)
        side = np.asarray(self.side)[start:stop].copy()
        price = np.asarray(self.price)[start:stop].copy()
        amount = np.asarray(self.amount)[start:stop].copy()
        rows = DeltaRows(side, price, amount)
        if not self.texts:
            return rows
        off = np.zeros((2, m), dtype=np.uint32)
        length = np.zeros((2, m), dtype=np.uint32)
        for i in range(start, stop):
            self.text_of(i, &src)
            off[0, k] = pos
            length[0, k] = src.price_n
            off[1, k] = pos + src.price_n
            length[1, k] = src.amount_n
            pos += src.price_n + src.amount_n
            k += 1
        arena = np.zeros(max(pos, 1), dtype=np.uint8)
        cdef char* out = <char*>PyArray_DATA(arena)
        for i in range(start, stop):
            self.text_of(i, &src)
            k = off[0, i - start]
            memcpy(out + k, src.price, src.price_n)
            memcpy(out + k + src.price_n, src.amount, src.amount_n)
        bad = None
        if self.text_bad != NULL:
            bad = np.asarray(self._text_arrays[2])[start:stop].copy()
        rows._bind_texts(arena, off[0], length[0], off[1], length[1], bad)
        return rows

    cpdef Py_ssize_t first_invalid(self, Py_ssize_t start, Py_ssize_t stop) except -2:
        """Index of the first row in [start, stop) that is not a valid level change, or -1.

        Valid: side +1/-1 with a finite price and a finite amount >= 0 (and, with texts given
        as str, str texts), or side 0 (a marker row).
        """
        cdef Py_ssize_t bad, turns = 0
        self._check_range(start, stop)
        self.checked_stop = -1
        if start < stop:
            bad = mpf_first_invalid(&self.side[0], &self.price[0], &self.amount[0], self.text_bad, start, stop,
                                    &turns, ROWS_SCAN_IMPL)
            if bad >= 0:
                return bad
        self.checked_start = start
        self.checked_stop = stop
        self.checked_turns = turns
        return -1

    cdef inline bint interleaved(self, Py_ssize_t start, Py_ssize_t stop) noexcept:
        """Whether the sides of rows [start, stop) change more than three times (counting
        the first row's side as one change): a venue's message, its bids then its asks, makes
        two. Counted by the last ``first_invalid``, which every caller runs on a message
        before applying it; for any other range the answer is no."""
        return start == self.checked_start and stop == self.checked_stop and self.checked_turns > 3

    cdef int _check_range(self, Py_ssize_t start, Py_ssize_t stop) except -1:
        if start < 0 or stop > self.n or start > stop:
            raise IndexError(f"row range [{start}, {stop}) outside 0..{self.n}")
        return 0


cdef uint64_t texts_end(const uint32_t* off, const uint32_t* length, Py_ssize_t n) noexcept nogil:
    """The end of the furthest of ``n`` texts (offset + length; 0 for none): one pass, no
    temporary arrays (a batch is bound once per take, with thousands of rows)."""
    cdef uint64_t end = 0, e
    cdef Py_ssize_t i
    for i in range(n):
        e = <uint64_t>off[i] + length[i]
        end = e if e > end else end
    return end


cdef class TopBuffer  # below: book_snapshot rows


# ================================================================ one symbol's book

@cython.final
cdef class LevelBook:
    """Both sides of one symbol's book.

    ``tick``: the price grid of the ladder (0: infer it from the first levels).
    ``ladder_width``: initial ladder slots per side (a multiple of 64; 0: far store only).
    ``max_ladder_width``: the most slots a side's ladder widens to when levels crowd the far store.
    """

    cdef Side bids
    cdef Side asks
    cdef readonly Py_ssize_t max_levels
    cdef readonly Py_ssize_t ladder_width
    cdef readonly Py_ssize_t max_ladder_width
    cdef readonly double tick
    cdef readonly bint keep_texts
    cdef readonly uint64_t evicted
    # The watched top of each side (Side.top), kept between messages (refresh_top): enough
    # levels for the last snapshot depth asked (``kept_depth``) and (books with texts) the
    # OKX checksum, which is gathered again only after a side's watched levels changed.
    cdef Py_ssize_t kept_depth
    cdef int64_t kept_checksum
    # the watched top was read since the last message: patching the next one's changes into
    # it pays (a book read after every message); otherwise its sides are left stale
    cdef bint top_read

    def storage(self) -> dict:
        """Where the levels live (for tests and tuning): ladder and far-store counts per side."""
        return {"bids": side_storage(&self.bids), "asks": side_storage(&self.asks)}

    def __cinit__(self, Py_ssize_t max_levels=DEFAULT_MAX_LEVELS, bint keep_texts=False,
                  double tick=0.0, Py_ssize_t ladder_width=DEFAULT_LADDER_WIDTH,
                  Py_ssize_t max_ladder_width=DEFAULT_MAX_LADDER_WIDTH):
        if max_levels < 1:
            raise ValueError(f"max_levels must be at least 1, got {max_levels}")
        if ladder_width < 0 or ladder_width % 64:
            raise ValueError(f"ladder_width must be a non-negative multiple of 64, got {ladder_width}")
        if max_ladder_width < ladder_width or max_ladder_width % 64:
            raise ValueError(f"max_ladder_width must be a multiple of 64 and >= ladder_width, got {max_ladder_width}")
        if not (tick >= 0.0 and isfinite(tick)):
            raise ValueError(f"tick must be a finite number >= 0, got {tick}")
        self.max_levels = max_levels
        self.keep_texts = keep_texts
        self.ladder_width = ladder_width
        self.max_ladder_width = max_ladder_width
        self.bids.max_width = max_ladder_width
        self.asks.max_width = max_ladder_width
        self.bids.lad.top = -1
        self.asks.lad.top = -1
        self.bids.watch = -INFINITY
        self.asks.watch = -INFINITY
        self.bids.stale = True
        self.asks.stale = True
        levels_reserve(&self.bids.far, MIN_CAPACITY, keep_texts)
        levels_reserve(&self.asks.far, MIN_CAPACITY, keep_texts)
        if tick > 0.0 and ladder_width:
            self._use_tick(tick)

    def __dealloc__(self):
        side_clear(&self.bids)
        side_clear(&self.asks)
        ladder_free(&self.bids.lad)
        ladder_free(&self.asks.lad)
        levels_free(&self.bids.far)
        levels_free(&self.asks.far)
        side_top_free(&self.bids)
        side_top_free(&self.asks)

    cdef int _use_tick(self, double tick) except -1:
        cdef Side* sides[2]
        cdef double num, den
        sides[0] = &self.bids
        sides[1] = &self.asks
        tick_grid(tick, &num, &den)
        self.tick = tick
        for k in range(2):
            sides[k].tick_num = num
            sides[k].tick_den = den
            sides[k].inv_tick = den / num
            ladder_alloc(&sides[k].lad, self.ladder_width, self.keep_texts)
            if sides[k].far.n:
                side_recentre(sides[k], sides[k].far.keys[sides[k].far.n - 1], self.ladder_width)
        return 0

    cdef int _infer_tick(self) except -1:
        """Smallest gap between neighbouring levels (two significant digits) once known."""
        cdef double gap = INFINITY, d, e
        cdef Py_ssize_t i
        cdef Levels* far
        cdef Levels* sides[2]
        sides[0] = &self.bids.far
        sides[1] = &self.asks.far
        for k in range(2):
            far = sides[k]
            for i in range(1, far.n if far.n < 256 else 256):
                d = far.keys[far.n - i] - far.keys[far.n - 1 - i]
                if d > 0.0 and d < gap:
                    gap = d
        if not isfinite(gap) or gap <= 0.0:
            return 0
        e = pow(10.0, floor(log10(gap)) - 1.0)
        self._use_tick(floor(gap / e + 0.5) * e)
        return 0

    def clear(self) -> None:
        side_clear(&self.bids)
        side_clear(&self.asks)

    @property
    def bid_count(self) -> int:
        return side_count(&self.bids)

    @property
    def ask_count(self) -> int:
        return side_count(&self.asks)

    @property
    def best_bid(self) -> float:
        cdef double key = NAN, amount
        side_best(&self.bids, &key, &amount)
        return key

    @property
    def best_ask(self) -> float:
        cdef double key = NAN, amount
        return -key if side_best(&self.asks, &key, &amount) else NAN

    def best(self) -> tuple:
        """(bid_price, bid_amount, ask_price, ask_amount), NaN for an empty side."""
        cdef double out[4]
        self._write_best(out)
        return (out[0], out[1], out[2], out[3])

    cpdef bint is_crossed(self):
        """Best bid >= best ask (both sides non-empty)."""
        cdef double bid, ask, amount
        if not side_best(&self.bids, &bid, &amount) or not side_best(&self.asks, &ask, &amount):
            return False
        return bid >= -ask

    cpdef int apply(self, DeltaRows rows, Py_ssize_t start, Py_ssize_t stop) except -1:
        """Apply rows [start, stop) in order as one message; marker rows (side 0) are
        skipped. A row that is not a valid level change (``DeltaRows.first_invalid``: a
        non-finite price or amount, a negative amount, another side) is a ValueError before
        anything is applied: no NaN or infinite level ever enters a book."""
        cdef Py_ssize_t bad
        rows._check_range(start, stop)
        if start == stop:
            return 0
        if self.keep_texts and not rows.texts:
            raise ValueError("this book keeps level texts: the rows must carry price_texts/amount_texts")
        bad = rows.first_invalid(start, stop)
        if bad >= 0:
            raise ValueError(
                f"row {bad} is not a valid level change (side {rows.side[bad]}, price {rows.price[bad]!r}, "
                f"amount {rows.amount[bad]!r}): nothing applied"
            )
        return self.apply_valid(rows, start, stop)

    cdef int apply_valid(self, DeltaRows rows, Py_ssize_t start, Py_ssize_t stop) except -1:
        """``apply`` for rows already checked: in range, valid (``first_invalid`` < 0), with
        texts when the book keeps them (the builder's core checks each message once).

        A change at or above a side's watch reaches its watched top (Side.watch). In a short
        message (PATCH_ROWS) in a venue's order (not interleaved) to a book whose top was read
        since the last one, each such change is patched into the top (``top_patched``), so
        that the next snapshot or checksum reads it without walking the side again; otherwise
        (many changes that reach the top, or a top nobody may read before the next message)
        the side is made stale instead, walked once when next read, as it is when a patch
        cannot follow the change."""
        cdef Py_ssize_t i
        cdef int8_t sd
        cdef SrcText text
        cdef SrcText* src = &text if self.keep_texts else NULL  # the row's texts, read into ``text``
        cdef const int8_t* sides
        cdef const double* prices
        cdef const double* amounts
        cdef bint bids_reached = False, asks_reached = False, completed = False, reach
        cdef bint bids_changed = False, asks_changed = False  # (a settled side stays settled)
        cdef bint patching = self.top_read and stop - start <= PATCH_ROWS
        cdef uint64_t evicted
        if start == stop:
            return 0
        self.top_read = False
        sides = &rows.side[0]
        prices = &rows.price[0]
        amounts = &rows.amount[0]
        try:
            if src == NULL and not patching:  # without texts or patches: see apply_runs
                self.apply_runs(start, stop, sides, prices, amounts, rows.interleaved(start, stop),
                                &bids_changed, &asks_changed, &bids_reached, &asks_reached)
            elif rows.interleaved(start, stop):  # sides alternate row by row: see apply_interleaved
                bids_changed = asks_changed = True
                self.apply_interleaved(rows, start, stop, sides, prices, amounts, src, &bids_reached, &asks_reached)
            else:  # a venue's message: its bids, then its asks (a branch on the side predicts well)
                for i in range(start, stop):
                    sd = sides[i]
                    if src != NULL:
                        rows.text_of(i, src)
                    evicted = self.evicted
                    if sd == 1:
                        bids_changed = True
                        reach = prices[i] >= self.bids.watch
                        side_set(&self.bids, prices[i], amounts[i], src, self.max_levels, &self.evicted)
                        if reach:
                            bids_reached |= not (patching and top_patched(&self.bids, prices[i], amounts[i], src,
                                                                          self.evicted != evicted))
                    elif sd == -1:
                        asks_changed = True
                        reach = -prices[i] >= self.asks.watch
                        side_set(&self.asks, -prices[i], amounts[i], src, self.max_levels, &self.evicted)
                        if reach:
                            asks_reached |= not (patching and top_patched(&self.asks, -prices[i], amounts[i], src,
                                                                          self.evicted != evicted))
            completed = True
        finally:  # (also when a level could not be stored: what was applied counts)
            if bids_reached or not completed:
                self.bids.stale = True
            if asks_reached or not completed:
                self.asks.stale = True
        return self.settle(bids_changed, asks_changed)

    cdef int apply_runs(self, Py_ssize_t start, Py_ssize_t stop, const int8_t* sides, const double* prices,
                        const double* amounts, bint mixed, bint* bids_changed, bint* asks_changed,
                        bint* bids_reached, bint* asks_reached) except -1:
        """``apply_valid``'s loop for a book without texts and a message it does not patch in:
        a venue's message (its bids, then its asks) in runs of one side's rows (``side_run``),
        rows whose sides alternate at random (``mixed``) in runs of both sides' rows
        (``mixed_run``; synthetic 20-level messages: 3.3 -> 4.6 M a second against runs of
        one side, which end every row or two); the rows a run leaves through ``side_set_rest``."""
        cdef Py_ssize_t i = start, slot
        cdef double key
        cdef int8_t sd
        cdef Side* side
        cdef double sign
        cdef bint* reached
        if mixed:
            bids_changed[0] = asks_changed[0] = True
        while i < stop:
            if mixed:
                i = mixed_run(&self.asks, &self.bids, sides, prices, amounts, i, stop, self.max_levels,
                              asks_reached, bids_reached)
                if i == stop:
                    break
            sd = sides[i]
            if sd == 0:  # a marker row
                i += 1
                continue
            if sd == 1:
                side, sign, reached = &self.bids, 1.0, bids_reached
                bids_changed[0] = True
            else:
                side, sign, reached = &self.asks, -1.0, asks_reached
                asks_changed[0] = True
            if not mixed:
                i = side_run(side, sides, prices, amounts, i, stop, sd, sign, self.max_levels, reached)
                if i == stop or sides[i] != sd:
                    continue
            # the row a run left: never a level in the ladder (see side_run)
            key = prices[i] * sign
            slot = slot_of(side, key)
            reached[0] |= key >= side.watch
            side_set_rest(side, slot, is_grid_key(side, slot, key), key, amounts[i], NULL, self.max_levels,
                          &self.evicted)
            i += 1
        return 0

    cdef int apply_interleaved(self, DeltaRows rows, Py_ssize_t start, Py_ssize_t stop, const int8_t* sides,
                               const double* prices, const double* amounts, SrcText* src, bint* bids_reached,
                               bint* asks_reached) except -1:
        """``apply_valid``'s loop for rows whose sides alternate at random, in a book with texts
        or a message patched in (any other goes through ``apply_runs``): the side is picked by
        index, since a branch on it would mispredict every other row. (On an exception
        ``apply_valid`` makes both sides stale.)"""
        cdef Py_ssize_t i, k
        cdef int8_t sd
        cdef double key
        cdef Side* by_side[3]  # by side + 1: asks, (a marker row), bids
        cdef double sign[3]
        cdef double watch[3]
        cdef bint reached[3]
        by_side[0], by_side[1], by_side[2] = &self.asks, NULL, &self.bids
        sign[0], sign[1], sign[2] = -1.0, 0.0, 1.0
        watch[0], watch[1], watch[2] = self.asks.watch, INFINITY, self.bids.watch
        reached[0], reached[1], reached[2] = False, False, False
        for i in range(start, stop):
            sd = sides[i]
            if sd == 0:
                continue
            if src != NULL:
                rows.text_of(i, src)
            k = sd + 1
            key = prices[i] * sign[k]
            reached[k] |= key >= watch[k]
            side_set(by_side[k], key, amounts[i], src, self.max_levels, &self.evicted)
        bids_reached[0] = reached[2]
        asks_reached[0] = reached[0]
        return 0

    cdef int settle(self, bint bids_changed, bint asks_changed) except -1:
        """After a message: infer the tick once enough levels are in, or settle the ladders of
        the sides it changed (a side settled after its last change needs nothing)."""
        if self.bids.lad.width == 0:
            if self.ladder_width and (self.bids.far.n > 1 or self.asks.far.n > 1):
                self._infer_tick()
        else:
            if bids_changed:
                side_settle(&self.bids)
            if asks_changed:
                side_settle(&self.asks)
        return 0

    def apply_messages(self, DeltaRows rows, const int64_t[::1] starts, double[:, ::1] best_out,
                       TopBuffer top=None) -> int:
        """Apply consecutive messages; message k is rows [starts[k], starts[k+1]).

        After each message, writes (bid_price, bid_amount, ask_price, ask_amount) into
        ``best_out[k]`` (and, with ``top``, appends the top levels as a book_snapshot row);
        returns how many message states were crossed.
        """
        cdef Py_ssize_t k, m = starts.shape[0] - 1
        cdef uint64_t crossed = 0
        cdef double* best
        if m < 0 or best_out.shape[0] < m or best_out.shape[1] < 4:
            raise ValueError("need len(starts) >= 1 and best_out of shape (len(starts) - 1, 4)")
        for k in range(m):
            self.apply(rows, starts[k], starts[k + 1])
            best = &best_out[k, 0]
            self._write_best(best)
            if top is not None:
                top.append(self)
            crossed += best[0] >= best[2]  # is_crossed: an empty side is NaN, never >=
        return crossed

    cdef void _write_best(self, double* out) noexcept:
        cdef double key, amount
        if side_best(&self.bids, &key, &amount):
            out[0] = key
            out[1] = amount
        else:
            out[0] = NAN
            out[1] = NAN
        if side_best(&self.asks, &key, &amount):
            out[2] = -key
            out[3] = amount
        else:
            out[2] = NAN
            out[3] = NAN

    cdef int write_top_kept(self, Py_ssize_t depth, double* bid_price, double* bid_amount,
                            double* ask_price, double* ask_amount) except -1:
        """The top ``depth`` levels, as ``top()`` gives them, from the watched top (walked
        again only when it is stale)."""
        self.refresh_top(depth)
        write_levels(self.bids.top, self.bids.top_n, 1.0, depth, bid_price, bid_amount)
        write_levels(self.asks.top, self.asks.top_n, -1.0, depth, ask_price, ask_amount)
        return 0

    cdef int64_t checksum_kept(self) except? -1:
        """The OKX checksum (books with texts) from the watched top."""
        self.refresh_top(self.kept_depth)
        return self.kept_checksum

    cdef int refresh_top(self, Py_ssize_t depth) except -1:
        """Make the watched top current for ``depth`` levels (0: the checksum only): walk
        again the sides that are stale, then (books with texts), when either side's watched
        levels changed, gather the checksum from both sides' copies of their texts."""
        cdef Py_ssize_t crc_levels = CHECKSUM_LEVELS if self.keep_texts else 0
        cdef Py_ssize_t cap = depth if depth > crc_levels else crc_levels
        self.kept_depth = depth
        if cap != self.bids.top_cap:
            side_top_alloc(&self.bids, cap)
            side_top_alloc(&self.asks, cap)
        if self.bids.stale:
            side_walk_top(&self.bids)
        if self.asks.stale:
            side_walk_top(&self.asks)
        if self.keep_texts and (self.bids.patched or self.asks.patched):
            self.kept_checksum = checksum_of(self.bids.top, min(self.bids.top_n, crc_levels),
                                             self.asks.top, min(self.asks.top_n, crc_levels))
        self.bids.patched = False
        self.asks.patched = False
        self.top_read = True
        return 0

    def top(self, Py_ssize_t depth) -> tuple:
        """(bid_price, bid_amount, ask_price, ask_amount) float64 arrays of length depth,
        best first, NaN-padded."""
        if depth < 0:
            raise ValueError("depth must be >= 0")
        out = np.empty((4, depth), dtype=np.float64)
        cdef double[:, ::1] v = out
        cdef Py_ssize_t nb, na
        cdef TopLevel* levels
        if depth:
            levels = walk_both(&self.bids, &self.asks, depth, &nb, &na)
            write_levels(levels, nb, 1.0, depth, &v[0, 0], &v[1, 0])
            write_levels(levels + depth, na, -1.0, depth, &v[2, 0], &v[3, 0])
            PyMem_Free(levels)
        return (out[0], out[1], out[2], out[3])

    cdef Side* _side(self, int side) except NULL:
        if side == SIDE_BID:
            return &self.bids
        if side == SIDE_ASK:
            return &self.asks
        raise ValueError(f"side must be +1 (bid) or -1 (ask), got {side}")

    def levels(self, int side) -> list:
        """Every level of one side as (price, amount), best first (slow; for tests and tools)."""
        cdef Side* s = self._side(side)
        cdef Cursor c
        cdef double key, amount, sign = 1.0 if side == SIDE_BID else -1.0
        cdef const LevelText* unused
        out = []
        cursor_start(s, &c)
        while cursor_next(s, &c, &key, &amount, &unused):
            out.append((sign * key, amount))
        return out

    def level_texts(self, int side) -> list:
        """Every level's (price_text, amount_text), best first (books that keep texts)."""
        cdef Side* s = self._side(side)
        cdef Cursor c
        cdef double key, amount
        cdef const LevelText* t
        cdef const char* data
        cdef Py_ssize_t n, price_n
        if not self.keep_texts:
            raise ValueError("this book does not keep level texts")
        out = []
        cursor_start(s, &c)
        while cursor_next(s, &c, &key, &amount, &t):
            data = text_bytes(t, &n, &price_n)
            out.append((data[:price_n].decode("utf-8", "replace"),
                        data[price_n + 1:n].decode("utf-8", "replace")))
        return out

    def watched_checksum(self) -> int:
        """The OKX checksum as the builder verifies it: from the watched top (patched change by
        change, or walked again), not from a fresh walk as ``checksum()``; the two agree."""
        if not self.keep_texts:
            raise ValueError("checksums need level texts: make the book with keep_texts=True")
        return self.checksum_kept()

    def checksum(self, Py_ssize_t levels=OKX_CHECKSUM_LEVELS) -> int:
        """OKX checksum: CRC32 of ``bidPx:bidSz:askPx:askSz:...`` over the top ``levels`` levels
        (a side that runs out is left out), from the latest original texts, as a signed int32."""
        cdef TopLevel* walked
        cdef Py_ssize_t nb, na
        if not self.keep_texts:
            raise ValueError("checksums need level texts: make the book with keep_texts=True")
        if levels < 0:
            raise ValueError("levels must be >= 0")
        walked = walk_both(&self.bids, &self.asks, levels, &nb, &na)
        try:
            return checksum_of(walked, nb, walked + levels, na)
        finally:
            PyMem_Free(walked)

# ================================================================ book_snapshot rows

cdef class TopBuffer:
    """Growable book_snapshot level columns: one row of ``depth`` levels per emitted state."""

    cdef readonly Py_ssize_t depth
    cdef readonly Py_ssize_t n
    cdef object _arrays  # float64 (4, capacity, depth): bid_price, bid_amount, ask_price, ask_amount
    cdef double[:, :, ::1] _view
    cdef object _spare  # the buffer the last take handed out: refilled once nothing else holds it

    def __init__(self, Py_ssize_t depth, Py_ssize_t capacity=1024):
        if depth < 1 or depth > 65535:
            raise ValueError(f"depth must be between 1 and 65535, got {depth}")
        self.depth = depth
        self.n = 0
        self._grow(max(capacity, 16))

    cdef int _grow(self, Py_ssize_t capacity) except -1:
        arrays = np.empty((4, capacity, self.depth), dtype=np.float64)
        if self.n:
            arrays[:, : self.n] = self._arrays[:, : self.n]
        self._use(arrays)
        return 0

    cdef int _use(self, arrays) except -1:
        self._arrays = arrays
        self._view = arrays
        return 0

    cpdef Py_ssize_t append(self, LevelBook book) except -1:
        """Write the book's top ``depth`` levels as the next row; returns its index."""
        cdef Py_ssize_t row = self.n
        if row == self._view.shape[1]:
            self._grow(2 * row)
        book.write_top_kept(self.depth, &self._view[0, row, 0], &self._view[1, row, 0],
                            &self._view[2, row, 0], &self._view[3, row, 0])
        self.n += 1
        return row

    def take(self) -> tuple:
        """(bid_price, bid_amount, ask_price, ask_amount), each (n, depth); starts afresh.

        What is handed out pins at most twice its own rows. Rows that fill at least half the
        buffer are handed out where they were written, not copied (views of the buffer, which
        they keep alive); the next rows then go into the buffer the previous take handed out
        when nothing holds any part of it any more (its consumer dropped the batch, as a node
        does once the batch is written), else into a new one: two buffers alternate, with no
        copy and no fresh pages per take. Fewer rows (a quiet spell after a burst grew the
        buffer) are copied out, and the buffer is kept."""
        cdef Py_ssize_t capacity = self._view.shape[1]
        filled = self._arrays
        if 2 * self.n < capacity:
            out = filled[:, : self.n].copy()
            self.n = 0
            return (out[0], out[1], out[2], out[3])
        out = filled[:, : self.n]
        spare = self._spare
        self._spare = filled
        self._view = None
        self._arrays = None
        # ``spare`` is this function's reference: one more is a view still held somewhere
        if spare is not None and Py_REFCNT(spare) == 1 and spare.shape == filled.shape:
            self._use(spare)
        else:
            self._use(np.empty(filled.shape, dtype=np.float64))
        self.n = 0
        return (out[0], out[1], out[2], out[3])


include "_book_sync.pxi"
include "_book_core.pxi"
