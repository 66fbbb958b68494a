"""The input limits: how much of anything one frame, one parser or one book builder takes.

A live node reads whatever a socket delivers, for weeks; every cost that grows with what
the venue (or anyone on the path) sends is capped here. The compiled and the reference
parsers enforce the same limits with the same verdict: a frame past a limit is malformed,
leaves no row, and its log line names the limit (``limit_reason``). ``docs/limits.md`` says
why each value was chosen and gives the worst-case memory of a node as a formula of them.

Fixed limits are part of the wire contract (the compiled core sizes stack buffers from
them); the others are ``InputLimits`` fields a deployment may raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

import numpy as np

from .errors import ConfigurationError, limit_reason  # noqa: F401 - limit_reason: the parsers take it from here

# ---- fixed (compile-time in the core: _json.pxi, _numbers.pxi, _fields.pxi) ----------------

# Containers open at once anywhere in a frame (the frame's own object or array counts 1).
# Real frames nest at most 6 deep.
MAX_DEPTH = 64
# Characters of a decimal text (a price or amount sent as a JSON string), after unescaping.
# JSON number tokens have no such limit: the frame size bounds them.
MAX_DECIMAL_CHARS = 400
# UTF-8 bytes of a text that becomes part of a record (an instrument name, a trade id, a
# kline interval, a liquidation status, a level's price or amount text), after unescaping.
# Texts a parser only compares with the venue's words (channel names, sides) may be longer.
MAX_TEXT_BYTES = 512

# ---- configurable ---------------------------------------------------------------------------

DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024  # = the default of config.py VenueConfig.max_frame_bytes (the transport and the parser share it)
DEFAULT_MAX_ROWS_PER_FRAME = 50_000
DEFAULT_MAX_INSTRUMENTS = 20_000
DEFAULT_MAX_BOOKS = 1_000

# Names as they appear in log lines, in ``stats()["limits"]`` and in the config.
LIMIT_NAMES = (
    "max_frame_bytes",
    "max_depth",
    "max_decimal_chars",
    "max_text_bytes",
    "max_rows_per_frame",
    "max_instruments",
)


@dataclass(frozen=True)
class InputLimits:
    """The limits a deployment may raise (see ``docs/limits.md`` before raising one).

    ``max_frame_bytes``: a WebSocket frame or REST body (the transport's maximum message size
    is set from it too). ``max_rows_per_frame``: rows of one kind one frame or body may
    write (book levels, trades of one push, tickers of an all-market array). ``max_instruments``:
    distinct instruments one parser's registry holds; a frame naming one more is refused.
    """

    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_rows_per_frame: int = DEFAULT_MAX_ROWS_PER_FRAME
    max_instruments: int = DEFAULT_MAX_INSTRUMENTS

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int or not 1 <= value <= 2**31 - 1:
                raise ConfigurationError(
                    f"{f.name} must be an integer between 1 and {2**31 - 1}, got {value!r}", field=f.name
                )

    def value_of(self, name: str) -> int:
        """The value of a limit by its name (fixed or configurable)."""
        if name in FIXED_LIMITS:
            return FIXED_LIMITS[name]
        return getattr(self, name)


FIXED_LIMITS = {
    "max_depth": MAX_DEPTH,
    "max_decimal_chars": MAX_DECIMAL_CHARS,
    "max_text_bytes": MAX_TEXT_BYTES,
}

DEFAULT_LIMITS = InputLimits()


def text_within_limit(text: str) -> bool:
    """At most MAX_TEXT_BYTES of UTF-8 (cheap for the common short text)."""
    n = len(text)
    if n * 4 <= MAX_TEXT_BYTES:
        return True
    if n > MAX_TEXT_BYTES:
        return False
    return len(text.encode("utf-8", "surrogatepass")) <= MAX_TEXT_BYTES


def nesting_depth(frame: bytes) -> int:
    """The deepest nesting of brackets in a frame, strings minded: for any bytes, exactly what
    the compiled core's ``frame_depth`` says (a string runs to its closing quote or the end,
    a backslash in it takes the next byte along). Cheap when the frame has few brackets."""
    if frame.count(b"[") + frame.count(b"{") <= 1:
        return 1 if b"[" in frame or b"{" in frame else 0
    brackets = np.frombuffer(_NOT_BRACKET.sub(b"", _STRING.sub(b"", frame)), dtype=np.uint8)
    if not len(brackets):
        return 0
    steps = np.where((brackets == 0x5B) | (brackets == 0x7B), 1, -1)
    return max(int(np.cumsum(steps).max()), 0)


def nesting_depth_exceeds(frame: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether brackets nest deeper than ``limit`` in a frame (``nesting_depth``); at most
    ``limit`` opening brackets cannot."""
    if frame.count(b"[") + frame.count(b"{") <= limit:
        return False
    return nesting_depth(frame) > limit


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
