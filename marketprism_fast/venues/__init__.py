"""Where each venue family lives.

Everything the Python side knows about one venue family sits in ``venues/<family>/``: its
reference parser (``reference.py``), its symbol rules (``symbols.py``), and, for the live
node, its client protocol (``protocol.py``: URLs, stream names, subscribe messages, limits,
keep-alive) and the simulator's side of that protocol (``simulator.py``). Its compiled
parser is ``_<family>.pxi``, included by ``_parse.pyx``. Adding a venue touches that folder,
the table below and the compiled core.
"""

from __future__ import annotations

from typing import Mapping

from ..records import VENUES
from ..symbols import Normalized, check_venue
from .binance.symbols import RULES as _BINANCE_RULES
from .deribit.symbols import RULES as _DERIBIT_RULES
from .okx.symbols import RULES as _OKX_RULES

# venue id -> family folder
FAMILIES: dict[str, str] = {
    "binance_spot": "binance",
    "binance_usdm": "binance",
    "binance_coinm": "binance",
    "okx": "okx",
    "deribit": "deribit",
}

_SYMBOL_RULES = {**_BINANCE_RULES, **_OKX_RULES, **_DERIBIT_RULES}
assert set(FAMILIES) == set(VENUES) == set(_SYMBOL_RULES)


def normalize_symbol(venue: str, raw_symbol: str, metadata=None) -> Normalized:
    """The normalized (market, symbol) of one venue instrument.

    With instrument metadata (``refdata.load_metadata``) base and quote come from the venue's
    own reference data; without it, or for an instrument the metadata does not list, the
    venue's documented name rules decide. A name no rule splits keeps its raw text
    upper-cased with ``resolved=False`` and is never dropped.
    """
    check_venue(venue)
    by_rule, from_metadata = _SYMBOL_RULES[venue]
    name = raw_symbol.upper()
    entry: Mapping | None = metadata.entry(venue, raw_symbol) if metadata is not None else None
    if entry is not None:
        found = from_metadata(name, entry)
        if found is not None:
            return found
    return by_rule(name)
