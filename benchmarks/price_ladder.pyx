# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The plain price ladder the engine is measured against (benchmarks only, built on first use).

One dense array of amounts per side over a fixed tick grid covering every price of the
workload, the best index maintained: the fastest book there is when the price range is known
in advance and small. It knows nothing the engine must handle (unknown tick, off-grid
prices, a market that moves beyond the grid, bounded memory, level texts).
"""

import numpy as np
from libc.math cimport NAN
from libc.stdint cimport int8_t, int64_t


cdef class PriceLadder:
    cdef double[::1] bid
    cdef double[::1] ask
    cdef double lo, tick, inv_tick
    cdef Py_ssize_t n, best_bid, best_ask

    def __init__(self, double lo, double tick, Py_ssize_t n):
        # every page written now, outside the timed run: np.zeros would leave the pages to be
        # faulted in by the first level set on them (a real book's price range is millions of
        # slots, its first touches thousands of faults)
        self.bid = np.full(n, 0.0)
        self.ask = np.full(n, 0.0)
        self.lo = lo
        self.tick = tick
        self.inv_tick = 1.0 / tick
        self.n = n
        self.best_bid = -1
        self.best_ask = n

    cdef inline void set_level(self, int8_t side, double price, double amount) noexcept nogil:
        cdef Py_ssize_t i = <Py_ssize_t>((price - self.lo) * self.inv_tick + 0.5)
        if side == 1:
            self.bid[i] = amount
            if amount > 0.0:
                if i > self.best_bid:
                    self.best_bid = i
            elif i == self.best_bid:
                while self.best_bid >= 0 and self.bid[self.best_bid] == 0.0:
                    self.best_bid -= 1
        else:
            self.ask[i] = amount
            if amount > 0.0:
                if i < self.best_ask:
                    self.best_ask = i
            elif i == self.best_ask:
                while self.best_ask < self.n and self.ask[self.best_ask] == 0.0:
                    self.best_ask += 1

    cdef inline void write_top(self, Py_ssize_t depth, double* out) noexcept nogil:
        """(bid_price, bid_amount, ask_price, ask_amount) rows of ``depth`` levels, NaN-padded."""
        cdef Py_ssize_t j = 0, i = self.best_bid
        while j < depth and i >= 0:
            if self.bid[i] != 0.0:
                out[j] = self.lo + i * self.tick
                out[depth + j] = self.bid[i]
                j += 1
            i -= 1
        while j < depth:
            out[j] = out[depth + j] = NAN
            j += 1
        j = 0
        i = self.best_ask
        while j < depth and i < self.n:
            if self.ask[i] != 0.0:
                out[2 * depth + j] = self.lo + i * self.tick
                out[3 * depth + j] = self.ask[i]
                j += 1
            i += 1
        while j < depth:
            out[2 * depth + j] = out[3 * depth + j] = NAN
            j += 1

    def apply_messages(self, const int8_t[::1] side, const double[::1] price, const double[::1] amount,
                       const int64_t[::1] starts, double[:, ::1] best_out, double[:, ::1] top_out=None) -> None:
        """Like ``LevelBook.apply_messages``: best bid/ask after each message (and, with
        ``top_out`` of shape (messages, 4 * depth), the top levels)."""
        cdef Py_ssize_t k, r, m = starts.shape[0] - 1
        cdef Py_ssize_t depth = top_out.shape[1] // 4 if top_out is not None else 0
        with nogil:
            for k in range(m):
                for r in range(starts[k], starts[k + 1]):
                    self.set_level(side[r], price[r], amount[r])
                best_out[k, 0] = self.lo + self.best_bid * self.tick
                best_out[k, 1] = self.bid[self.best_bid] if self.best_bid >= 0 else 0.0
                best_out[k, 2] = self.lo + self.best_ask * self.tick
                best_out[k, 3] = self.ask[self.best_ask] if self.best_ask < self.n else 0.0
                if depth:
                    self.write_top(depth, &top_out[k, 0])
