"""One import for venue parsers: the compiled core when it is built, else the reference.

``implementation="auto"`` picks the compiled parser when the extension imports; set
``MPF_REQUIRE_COMPILED=1`` to make its absence an error instead of a silent fallback
(CI does, so that a broken build cannot pass as the slow path).
"""

from __future__ import annotations

import os

from .errors import ConfigurationError
from .instruments import InstrumentRegistry
from .parsing import Parser
from .records import VENUES

IMPLEMENTATIONS = ("auto", "compiled", "reference")


def compiled_available(venue: str | None = None) -> bool:
    """Whether the compiled core is built (and, given a venue, has that venue's parser)."""
    try:
        from . import _parse
    except ImportError:
        return False
    return venue is None or venue in _parse.COMPILED_VENUES


def make_parser(
    venue: str,
    instruments: InstrumentRegistry | None = None,
    *,
    implementation: str = "auto",
    capacity: int = 65536,
    book_markers: bool = False,
) -> Parser:
    """A parser for ``venue``. ``book_markers``: a book message that changes no level gets
    one ``side == 0`` book_delta row so that a book builder sees it (not a record: writers
    drop such rows)."""
    if venue not in VENUES:
        raise ConfigurationError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}", field="venue")
    if implementation not in IMPLEMENTATIONS:
        raise ConfigurationError(
            f"unknown parser implementation {implementation!r}; expected one of {', '.join(IMPLEMENTATIONS)}",
            field="implementation",
        )
    instruments = instruments if instruments is not None else InstrumentRegistry(venue)
    if implementation == "auto":
        if compiled_available(venue):
            implementation = "compiled"
        elif os.environ.get("MPF_REQUIRE_COMPILED") == "1" and not compiled_available():
            raise ConfigurationError("the compiled parser is not built (MPF_REQUIRE_COMPILED=1)", field="implementation")
        else:
            implementation = "reference"
    if implementation == "compiled":
        from . import _parse

        return _parse.make_parser(venue, instruments, capacity, book_markers)
    from . import reference

    return reference.make_parser(venue, instruments, book_markers=book_markers)
