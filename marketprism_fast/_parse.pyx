# cython: language_level=3
"""The compiled core: a validating JSON scanner, exact decimal conversion, columnar record
buffers, and the venue parsers that decode frames straight into them.

Hot-path rule: one call per frame, no Python object per record, no allocation per
record. Python is reached only on a new instrument (once per symbol), on a malformed
frame (sampled logging) and when a buffer is sealed.
"""

import logging

import numpy as np

_log = logging.getLogger("marketprism_fast.parse")

include "_columns.pxi"
include "_numbers.pxi"
include "_json.pxi"
include "_lexical.pxi"
include "_buffers.pxi"
include "_base.pxi"
include "_fields.pxi"
include "_onepass.pxi"
include "_binance.pxi"
include "_okx.pxi"
include "_deribit.pxi"

# Venues whose compiled parser is complete (make_parser falls back to the reference
# implementation for the others).
COMPILED_VENUES = frozenset({"binance_spot", "binance_usdm", "binance_coinm", "okx", "deribit"})

_PARSERS = {
    "binance_spot": BinanceParser,
    "binance_usdm": BinanceParser,
    "binance_coinm": BinanceParser,
    "okx": OkxParser,
    "deribit": DeribitParser,
}


def make_parser(str venue, instruments, Py_ssize_t capacity=65536, bint book_markers=False, limits=None):
    """The compiled parser for ``venue``, writing into buffers of ``capacity`` rows, within
    ``limits`` (a ``limits.InputLimits``; the defaults when None).

    ``book_markers``: give a book message that changes no level one side-0 book_delta row
    (for a book builder downstream; see ParserBase.book_marker)."""
    try:
        cls = _PARSERS[venue]
    except KeyError:
        raise ValueError(f"no compiled parser for venue {venue!r}") from None
    return cls(venue, instruments, capacity, book_markers, limits)
