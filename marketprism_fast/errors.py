"""One error hierarchy, with structured fields. Messages say what, where, and what to do."""

from __future__ import annotations


class MarketPrismError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigurationError(MarketPrismError, ValueError):
    """A setting, argument or option is wrong. ``field`` names it."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class InputError(MarketPrismError):
    """An input file or stream cannot be read. ``path`` names it."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class OutputError(MarketPrismError):
    """An output file or stream cannot be written (disk full, ...). ``path`` names it."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class TransportError(MarketPrismError):
    """A connection could not be made or was lost."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class ParseError(MarketPrismError):
    """A frame or body could not be decoded.

    Parsers never raise this into a feed loop (they count and sample malformed frames);
    it is raised by the explicit, non-streaming entry points such as REST body parsing.
    """

    def __init__(self, message: str, *, venue: str = "", channel: str = "", excerpt: bytes = b"") -> None:
        super().__init__(message)
        self.venue = venue
        self.channel = channel
        self.excerpt = excerpt[:200]


def limit_reason(name: str, value: int) -> str:
    """The log reason of a frame refused by an input limit (both parsers say exactly this)."""
    return f"input limit {name}={value} exceeded"


class LimitExceeded(ParseError):
    """Input past one of the input limits (``limits.py``): ``limit`` names it, ``value`` is
    its setting. Parsers count such a frame as malformed with this message as the reason."""

    def __init__(self, limit: str, value: int, *, venue: str = "") -> None:
        super().__init__(limit_reason(limit, value), venue=venue)
        self.limit = limit
        self.value = value


class SequenceGap(MarketPrismError):
    """An order-book update did not follow the previous one for a symbol."""

    def __init__(self, message: str, *, venue: str = "", symbol: str = "", expected: int = 0, got: int = 0) -> None:
        super().__init__(message)
        self.venue = venue
        self.symbol = symbol
        self.expected = expected
        self.got = got


class SinkError(MarketPrismError):
    """A sink could not take a batch."""

    def __init__(self, message: str, *, sink: str = "", retriable: bool = True) -> None:
        super().__init__(message)
        self.sink = sink
        self.retriable = retriable


class SinkUnavailable(SinkError):
    """The sink's server cannot be reached; the batch is kept for a retry."""


class SinkRejected(SinkError):
    """The sink's server refused the batch; retrying the same batch will not help."""

    def __init__(self, message: str, *, sink: str = "") -> None:
        super().__init__(message, sink=sink, retriable=False)
