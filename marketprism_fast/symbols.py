"""What every venue's symbol rules share (data-model.md, "Symbols" and "Details ...").

Each venue's rules live in ``venues/<venue>/symbols.py``; ``venues.normalize_symbol(venue,
raw_symbol, metadata) -> Normalized(market, symbol, resolved)`` picks them. With instrument metadata loaded (``refdata.load_metadata``) base and quote come from the
venue's own reference data; without it, or for an instrument the metadata does not list,
documented name rules decide. A name no rule can split keeps its raw text upper-cased,
``resolved=False``, and a market chosen by the closest rule: it is never dropped (the
instrument registry counts it).

Called once per new instrument, never per record: clarity beats speed here.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Mapping, NamedTuple

from .errors import ConfigurationError
from .records import VENUES


class Normalized(NamedTuple):
    market: str
    symbol: str
    resolved: bool  # False when no metadata or rule could split it (symbol = raw upper-cased)


# Binance spot quote assets (data-model.md), tried longest first; the base must stay non-empty.
SPOT_QUOTE_ASSETS: tuple[str, ...] = tuple(
    "FDUSD USDT USDC BUSD TUSD USDP USDS IDRT BIDR BVND BKRW GYEN DAI PAX UST VAI BTC ETH BNB XRP "
    "TRX DOGE DOT EUR GBP AUD BRL TRY RUB UAH NGN ZAR PLN RON ARS JPY MXN COP CZK USD".split()
)
_QUOTES_LONGEST_FIRST = sorted(SPOT_QUOTE_ASSETS, key=len, reverse=True)  # stable: list order on ties

_YYMMDD = re.compile(r"\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])")
STRIKE = re.compile(r"\d+(\.\d+)?")


class SymbolMetadata:
    """Instrument metadata per venue: raw symbol -> the venue's own metadata entry (a dict).

    Entries are kept as the venue sent them (``exchangeInfo.symbols[i]``, OKX ``data[i]``,
    Deribit ``result[i]``); which venue an entry belongs to is decided when it is loaded
    (``refdata`` tells Binance spot, USD-M and COIN-M entries apart by their shape), so the
    same raw text on two venues (``BTCUSDT`` spot and USD-M) never collides.
    """

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Mapping]] = {v: {} for v in VENUES}

    def add(self, venue: str, raw_symbol: str, entry: Mapping) -> None:
        check_venue(venue)
        self._entries[venue][raw_symbol] = entry

    def merge(self, other: "SymbolMetadata") -> None:
        for venue, entries in other._entries.items():
            self._entries[venue].update(entries)

    def entry(self, venue: str, raw_symbol: str) -> Mapping | None:
        check_venue(venue)
        entries = self._entries[venue]
        found = entries.get(raw_symbol)
        return found if found is not None else entries.get(raw_symbol.upper())

    def symbols(self, venue: str) -> list[str]:
        check_venue(venue)
        return list(self._entries[venue])

    def count(self, venue: str) -> int:
        check_venue(venue)
        return len(self._entries[venue])

    def __len__(self) -> int:
        return sum(len(e) for e in self._entries.values())

    @property
    def by_raw(self) -> dict[str, Mapping]:
        """Every entry by raw symbol, all venues merged (a raw text listed by two venues keeps
        the later venue's entry in ``VENUES`` order). Prefer ``entry(venue, raw)``."""
        merged: dict[str, Mapping] = {}
        for entries in self._entries.values():
            merged.update(entries)
        return merged

    def __repr__(self) -> str:
        counts = ", ".join(f"{v}={len(e)}" for v, e in self._entries.items() if e)
        return f"SymbolMetadata({counts or 'empty'})"


def split_quote(pair: str) -> tuple[str, str] | None:
    """``BTCUSDT`` -> (``BTC``, ``USDT``) by the longest known quote suffix; None if none fits."""
    for quote in _QUOTES_LONGEST_FIRST:
        if len(pair) > len(quote) and pair.endswith(quote):
            return pair[: -len(quote)], quote
    return None


def check_venue(venue: str) -> None:
    if venue not in VENUES:
        raise ConfigurationError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}", field="venue")


def join(*parts: str) -> str:
    return "-".join(parts)


def date_of_ms(ms: object) -> str:
    """YYMMDD (UTC) of a millisecond timestamp (int or decimal text); "" when absent or bad."""
    try:
        value = int(ms)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ""
    if value <= 0:
        return ""
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc).strftime("%y%m%d")


def is_yymmdd(text: str) -> bool:
    return _YYMMDD.fullmatch(text) is not None


def unresolved(market: str, name: str) -> Normalized:
    return Normalized(market, name, False)


def closest_market(parts: list[str], *, perpetual_tags: tuple[str, ...]) -> str:
    if any(p in perpetual_tags for p in parts):
        return "perpetual"
    if len(parts) >= 4 and parts[-1] in ("C", "P"):
        return "option"
    if len(parts) >= 2 and any(p[:1].isdigit() for p in parts[1:]):
        return "future"
    return "spot"
