"""Symbol normalization for every venue (data-model.md, "Symbols" and "Details ...").

    normalize(venue, raw_symbol, metadata) -> Normalized(market, symbol, resolved)

With instrument metadata loaded (``refdata.load_metadata``) base and quote come from the
venue's own reference data; without it, or for an instrument the metadata does not list,
documented name rules decide. A name no rule can split keeps its raw text upper-cased,
``resolved=False``, and a market chosen by the closest rule: it is never dropped (the
instrument registry counts it).

Called once per new instrument, never per record: clarity beats speed here.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import partial
from typing import Callable, Iterable, Mapping, NamedTuple

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

_MONTHS = {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
_YYMMDD = re.compile(r"\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])")
_DERIBIT_DATE = re.compile(r"(\d{1,2})([A-Z]{3})(\d{2})")
_STRIKE = re.compile(r"\d+(\.\d+)?")


class SymbolMetadata:
    """Instrument metadata per venue: raw symbol -> the venue's own metadata entry (a dict).

    Entries are kept as the venue sent them (``exchangeInfo.symbols[i]``, OKX ``data[i]``,
    Deribit ``result[i]``); which venue an entry belongs to is decided when it is loaded
    (``refdata`` tells Binance spot, USD-M and COIN-M entries apart by their shape), so the
    same raw text on two venues (``BTCUSDT`` spot and USD-M) never collides.
    """

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Mapping]] = {v: {} for v in VENUES}

    @classmethod
    def from_bodies(cls, bodies: Iterable[bytes | str | Mapping]) -> "SymbolMetadata":
        """Metadata from reference-data bodies (raw or ``{"recv_ts","url","body"}`` wrapped)."""
        from .refdata import load_metadata

        return load_metadata(bodies)

    def add(self, venue: str, raw_symbol: str, entry: Mapping) -> None:
        _check_venue(venue)
        self._entries[venue][raw_symbol] = entry

    def merge(self, other: "SymbolMetadata") -> None:
        for venue, entries in other._entries.items():
            self._entries[venue].update(entries)

    def entry(self, venue: str, raw_symbol: str) -> Mapping | None:
        _check_venue(venue)
        entries = self._entries[venue]
        found = entries.get(raw_symbol)
        return found if found is not None else entries.get(raw_symbol.upper())

    def symbols(self, venue: str) -> list[str]:
        _check_venue(venue)
        return list(self._entries[venue])

    def count(self, venue: str) -> int:
        _check_venue(venue)
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


def normalize(venue: str, raw_symbol: str, metadata: SymbolMetadata | None = None) -> Normalized:
    """The normalized (market, symbol) of one venue instrument; see the module docstring."""
    _check_venue(venue)
    by_rule, from_metadata = _RULES[venue]
    name = raw_symbol.upper()
    entry = metadata.entry(venue, raw_symbol) if metadata is not None else None
    if entry is not None:
        found = from_metadata(name, entry)
        if found is not None:
            return found
    return by_rule(name)


def split_quote(pair: str) -> tuple[str, str] | None:
    """``BTCUSDT`` -> (``BTC``, ``USDT``) by the longest known quote suffix; None if none fits."""
    for quote in _QUOTES_LONGEST_FIRST:
        if len(pair) > len(quote) and pair.endswith(quote):
            return pair[: -len(quote)], quote
    return None


def _check_venue(venue: str) -> None:
    if venue not in VENUES:
        raise ConfigurationError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}", field="venue")


def _join(*parts: str) -> str:
    return "-".join(parts)


def _date_of_ms(ms: object) -> str:
    """YYMMDD (UTC) of a millisecond timestamp (int or decimal text); "" when absent or bad."""
    try:
        value = int(ms)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ""
    if value <= 0:
        return ""
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc).strftime("%y%m%d")


def _is_yymmdd(text: str) -> bool:
    return _YYMMDD.fullmatch(text) is not None


def _unresolved(market: str, name: str) -> Normalized:
    return Normalized(market, name, False)


# --- Binance -------------------------------------------------------------------------------


def _binance_spot_by_rule(name: str) -> Normalized:
    split = split_quote(name)
    if split is None:
        return _unresolved("spot", name)
    return Normalized("spot", _join(*split), True)


def _binance_futures_by_rule(name: str, *, coin_margined: bool) -> Normalized:
    """USD-M: ``BTCUSDT`` perpetual, ``BTCUSDT_210924`` future. COIN-M: ``BTCUSD_PERP``,
    ``BTCUSD_210924``, always quoted in USD."""
    pair, sep, suffix = name.partition("_")
    if sep and _is_yymmdd(suffix):
        market, tail = "future", suffix
    elif (sep and suffix == "PERP") or (not sep and not coin_margined):
        market, tail = "perpetual", "PERP"
    else:
        # A COIN-M bare pair (``BTCUSD`` names an index, not a contract) or an unknown suffix.
        return _unresolved("future" if sep and suffix.isdigit() else "perpetual", name)
    if coin_margined:
        split = (pair[:-3], "USD") if len(pair) > 3 and pair.endswith("USD") else None
    else:
        split = split_quote(pair)
    if split is None:
        return _unresolved(market, name)
    return Normalized(market, _join(*split, tail), True)


def _binance_spot_from_metadata(name: str, entry: Mapping) -> Normalized | None:
    base, quote = entry.get("baseAsset") or "", entry.get("quoteAsset") or ""
    if not (base and quote):
        return None
    return Normalized("spot", _join(base, quote), True)


def _binance_futures_from_metadata(name: str, entry: Mapping, *, coin_margined: bool) -> Normalized | None:
    """exchangeInfo (fapi/dapi): baseAsset/quoteAsset, contractType, deliveryDate."""
    base, quote = entry.get("baseAsset") or "", entry.get("quoteAsset") or ""
    if not base:
        # COIN-M entries name the pair and the margin (= base) asset even where baseAsset is absent.
        pair, margin = entry.get("pair") or "", entry.get("marginAsset") or ""
        if pair.endswith("USD") and len(pair) > 3:
            base, quote = pair[:-3], quote or "USD"
        elif margin:
            base = margin
    if not (base and quote):
        return None
    contract = str(entry.get("contractType") or "")
    _, sep, suffix = name.partition("_")
    if "PERPETUAL" in contract:
        return Normalized("perpetual", _join(base, quote, "PERP"), True)
    if "QUARTER" in contract or "MONTH" in contract:
        expiry = suffix if sep and _is_yymmdd(suffix) else _date_of_ms(entry.get("deliveryDate"))
        if expiry:
            return Normalized("future", _join(base, quote, expiry), True)
        return None
    # No (or an unknown) contract type, e.g. a symbol pending listing: the name decides the market.
    by_rule = _binance_futures_by_rule(name, coin_margined=coin_margined)
    if not by_rule.resolved:
        return None
    tail = by_rule.symbol.rsplit("-", 1)[1]
    return Normalized(by_rule.market, _join(base, quote, tail), True)


# --- OKX ----------------------------------------------------------------------------------


def _okx_by_rule(name: str) -> Normalized:
    """By instId shape: ``BTC-USDT``, ``BTC-USDT-SWAP``, ``BTC-USD-220527``,
    ``BTC-USD-220527-30000-C``."""
    parts = name.split("-")
    if len(parts) == 2 and all(parts):
        return Normalized("spot", name, True)
    if len(parts) == 3 and parts[0] and parts[1]:
        if parts[2] == "SWAP":
            return Normalized("perpetual", _join(parts[0], parts[1], "PERP"), True)
        if _is_yymmdd(parts[2]):
            return Normalized("future", name, True)
    if (
        len(parts) == 5
        and parts[0]
        and parts[1]
        and _is_yymmdd(parts[2])
        and _STRIKE.fullmatch(parts[3])
        and parts[4] in ("C", "P")
    ):
        return Normalized("option", name, True)
    return _unresolved(_closest_market(parts, perpetual_tags=("SWAP",)), name)


def _closest_market(parts: list[str], *, perpetual_tags: tuple[str, ...]) -> str:
    if any(p in perpetual_tags for p in parts):
        return "perpetual"
    if len(parts) >= 4 and parts[-1] in ("C", "P"):
        return "option"
    if len(parts) >= 2 and any(p[:1].isdigit() for p in parts[1:]):
        return "future"
    return "spot"


def _okx_from_metadata(name: str, entry: Mapping) -> Normalized | None:
    """/api/v5/public/instruments: SPOT/MARGIN baseCcy-quoteCcy; SWAP/FUTURES/OPTION use
    instFamily (or uly) as BASE-QUOTE; option strike is the ``stk`` text."""
    inst_type = str(entry.get("instType") or "").upper()
    if inst_type in ("SPOT", "MARGIN"):
        base, quote = entry.get("baseCcy") or "", entry.get("quoteCcy") or ""
        return Normalized("spot", _join(base, quote), True) if base and quote else None
    family = str(entry.get("instFamily") or entry.get("uly") or "").upper()
    if family.count("-") != 1 or not all(family.split("-")):
        return None
    parts = name.split("-")
    dated = parts[2] if len(parts) >= 3 and _is_yymmdd(parts[2]) else _date_of_ms(entry.get("expTime"))
    if inst_type == "SWAP":
        return Normalized("perpetual", _join(family, "PERP"), True)
    if inst_type == "FUTURES" and dated:
        return Normalized("future", _join(family, dated), True)
    if inst_type == "OPTION" and dated:
        strike = str(entry.get("stk") or (parts[3] if len(parts) == 5 else ""))
        right = str(entry.get("optType") or (parts[4] if len(parts) == 5 else "")).upper()
        if strike and right in ("C", "P"):
            return Normalized("option", _join(family, dated, strike, right), True)
    return None


# --- Deribit ------------------------------------------------------------------------------


def _deribit_currency_pair(head: str) -> tuple[str, str] | None:
    """``BTC`` -> (BTC, USD) (inverse); ``SOL_USDC`` -> (SOL, USDC) (linear)."""
    base, sep, quote = head.partition("_")
    if not base or (sep and not quote) or "_" in quote:
        return None
    return base, quote if sep else "USD"


def _deribit_date(text: str) -> str:
    """``24SEP21`` / ``7MAY21`` -> ``210924`` / ``210507``; "" when it is not such a date."""
    m = _DERIBIT_DATE.fullmatch(text)
    if m is None or m.group(2) not in _MONTHS:
        return ""
    day, month, year = int(m.group(1)), _MONTHS[m.group(2)], m.group(3)
    if not 1 <= day <= 31:
        return ""
    return f"{year}{month:02d}{day:02d}"


def _deribit_strike(text: str) -> str:
    """Strike text with ``d`` as the decimal point (linear options: ``0d625`` -> ``0.625``)."""
    strike = text.replace("d", ".").replace("D", ".")
    return strike if _STRIKE.fullmatch(strike) else ""


def _deribit_by_rule(name: str, *, base: str = "") -> Normalized:
    """``BTC-PERPETUAL``, ``BTC-24SEP21``, ``BTC-24JUN22-15000-C``, ``SOL_USDC-PERPETUAL``,
    ``XRP_USDC-30JUN23-0d625-C``, spot ``BTC_USDC``. ``base`` overrides the name's base."""
    parts = name.split("-")
    pair = _deribit_currency_pair(parts[0])
    if pair is not None:
        b, q = base or pair[0], pair[1]
        if len(parts) == 1 and "_" in parts[0]:
            return Normalized("spot", _join(b, q), True)
        if len(parts) == 2 and parts[1] == "PERPETUAL":
            return Normalized("perpetual", _join(b, q, "PERP"), True)
        if len(parts) == 2 and _deribit_date(parts[1]):
            return Normalized("future", _join(b, q, _deribit_date(parts[1])), True)
        if len(parts) == 4 and _deribit_date(parts[1]) and _deribit_strike(parts[2]) and parts[3] in ("C", "P"):
            return Normalized("option", _join(b, q, _deribit_date(parts[1]), _deribit_strike(parts[2]), parts[3]), True)
    return _unresolved(_closest_market(parts, perpetual_tags=("PERPETUAL",)), name)


_DERIBIT_KIND_MARKET = {"future_combo": "future", "option_combo": "option", "spot": "spot", "option": "option"}


def _deribit_from_metadata(name: str, entry: Mapping) -> Normalized | None:
    """get_instruments: ``kind`` and ``base_currency``; quote, expiry and strike come from the
    name (inverse names quote in USD even where the metadata says otherwise)."""
    base = str(entry.get("base_currency") or "").upper()
    found = _deribit_by_rule(name, base=base)
    if found.resolved:
        return found
    kind = str(entry.get("kind") or "")
    market = "perpetual" if entry.get("settlement_period") == "perpetual" else _DERIBIT_KIND_MARKET.get(kind, "future")
    return _unresolved(market, name)


# venue -> (name rule, metadata rule); a metadata rule answers None when its entry is unusable.
_RULES: dict[str, tuple[Callable[[str], Normalized], Callable[[str, Mapping], Normalized | None]]] = {
    "binance_spot": (_binance_spot_by_rule, _binance_spot_from_metadata),
    "binance_usdm": (
        partial(_binance_futures_by_rule, coin_margined=False),
        partial(_binance_futures_from_metadata, coin_margined=False),
    ),
    "binance_coinm": (
        partial(_binance_futures_by_rule, coin_margined=True),
        partial(_binance_futures_from_metadata, coin_margined=True),
    ),
    "okx": (_okx_by_rule, _okx_from_metadata),
    "deribit": (_deribit_by_rule, _deribit_from_metadata),
}
