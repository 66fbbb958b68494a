# Per-venue book sync rules (data-model.md, "Books"): the one place they are written.
#
# A rule reads only ids, the snapshot flag and the symbol's sync phase, and answers with an
# action; whoever keeps the symbol's state carries it out (the compiled BookCore on the hot
# path, ``books.builder`` for rare events, ``offline.normalize``'s snapshot attribution) and
# then records the message as the symbol's last. ``books/sync.py`` is the Python face.
#
# * Binance spot: events wait for a REST snapshot (``lastUpdateId``); then events with
#   ``u <= lastUpdateId`` are dropped, the first applied has ``U <= lastUpdateId+1 <= u``,
#   and every later one ``U == prev_u + 1``.
# * Binance futures (USD-M, COIN-M): drop ``u < lastUpdateId``; the first applied has
#   ``U <= lastUpdateId <= u``; then ``pu == prev_u`` (``U`` is global across symbols).
# * OKX: every snapshot resets the book; updates before one are not applied; the
#   ``seqId``/``prevSeqId`` chain is checked when both ids are present. Checksums need the
#   book: the book's keeper verifies them.
# * Deribit: snapshot resets; then ``prev_change_id`` must equal the previous ``change_id``.
#
# Anything else after sync is a gap: the keeper clears the symbol's book until its next snapshot.

cdef enum:
    RULE_BINANCE_SPOT = 0
    RULE_BINANCE_FUTURES = 1
    RULE_OKX = 2
    RULE_DERIBIT = 3

cdef enum:
    PHASE_WAITING = 0  # no usable book: waits for a snapshot
    PHASE_SEEDED = 1  # Binance: REST snapshot applied, its first event not yet seen
    PHASE_SYNCED = 2

cdef enum:
    ACT_APPLY = 0  # apply the levels and emit
    ACT_SEED = 1  # Binance REST snapshot: reset the book, apply, emit nothing, replay buffered events
    ACT_RESET = 2  # WS snapshot: reset the book, apply, emit
    ACT_BUFFER = 3  # keep for replay after the next REST snapshot
    ACT_DROP = 4  # before sync, or already covered by the snapshot
    ACT_GAP = 5  # continuity broken: clear the book until the next snapshot
    ACT_IGNORE = 6  # a second REST snapshot for a synced symbol

RULES = {"binance_spot": RULE_BINANCE_SPOT, "binance_usdm": RULE_BINANCE_FUTURES,
         "binance_coinm": RULE_BINANCE_FUTURES, "okx": RULE_OKX, "deribit": RULE_DERIBIT}


cdef inline bint rule_rest_snapshots(int rule) noexcept nogil:
    return rule == RULE_BINANCE_SPOT or rule == RULE_BINANCE_FUTURES


cdef inline bint rule_checksums(int rule) noexcept nogil:
    return rule == RULE_OKX


cdef inline bint rule_straddles(int rule, uint64_t snapshot_id, uint64_t first, uint64_t last) noexcept nogil:
    """Binance: the event is the first to apply after a snapshot with this ``lastUpdateId``."""
    if rule == RULE_BINANCE_SPOT:
        return first <= snapshot_id + 1 and snapshot_id + 1 <= last
    return first <= snapshot_id and snapshot_id <= last


cdef inline int rule_decide(int rule, int phase, uint64_t last_id, bint is_snapshot,
                            uint64_t first, uint64_t last, uint64_t prev) noexcept nogil:
    if rule == RULE_BINANCE_SPOT or rule == RULE_BINANCE_FUTURES:
        if is_snapshot:
            return ACT_IGNORE if phase == PHASE_SYNCED else ACT_SEED
        if phase == PHASE_WAITING:
            return ACT_BUFFER
        if phase == PHASE_SEEDED:
            # covered by the snapshot: spot u <= L, futures u < L
            if last < last_id or (rule == RULE_BINANCE_SPOT and last == last_id):
                return ACT_DROP
            return ACT_APPLY if rule_straddles(rule, last_id, first, last) else ACT_GAP
        if rule == RULE_BINANCE_SPOT:
            return ACT_APPLY if first == last_id + 1 else ACT_GAP
        return ACT_APPLY if prev == last_id else ACT_GAP
    if is_snapshot:
        return ACT_RESET
    if phase != PHASE_SYNCED:
        return ACT_DROP
    if rule == RULE_OKX:
        if last != 0 and last_id != 0 and prev != last_id:
            return ACT_GAP
        return ACT_APPLY
    return ACT_APPLY if prev == last_id else ACT_GAP


cdef inline void rule_continuity(int rule, int phase, uint64_t last_id, uint64_t first, uint64_t prev,
                                 uint64_t* expected, uint64_t* got) noexcept nogil:
    """(expected, got) of the id that continuity is checked on (for gap reports)."""
    if rule == RULE_BINANCE_SPOT:
        expected[0] = last_id + 1
        got[0] = first
    elif rule == RULE_BINANCE_FUTURES and phase == PHASE_SEEDED:
        expected[0] = last_id
        got[0] = first
    else:
        expected[0] = last_id
        got[0] = prev


cdef int rule_code(str venue) except -1:
    code = RULES.get(venue)
    if code is None:
        raise KeyError(venue)
    return code


def sync_decide(int rule, int phase, uint64_t last_id, bint is_snapshot,
                uint64_t first, uint64_t last, uint64_t prev) -> int:
    """The action (``ACT_*`` code) for the next message of a symbol in ``phase``."""
    return rule_decide(rule, phase, last_id, is_snapshot, first, last, prev)


def sync_straddles(int rule, uint64_t snapshot_id, uint64_t first, uint64_t last) -> bool:
    return rule_straddles(rule, snapshot_id, first, last)


def sync_continuity(int rule, int phase, uint64_t last_id, uint64_t first, uint64_t prev) -> tuple:
    cdef uint64_t expected, got
    rule_continuity(rule, phase, last_id, first, prev, &expected, &got)
    return (expected, got)
