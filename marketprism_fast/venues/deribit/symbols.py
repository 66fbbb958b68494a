"""Deribit symbol rules (data-model.md): by instrument metadata when loaded, else by name."""

from __future__ import annotations

import re
from typing import Mapping

from ...symbols import Normalized, join, unresolved, closest_market, STRIKE

_MONTHS = {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
_DERIBIT_DATE = re.compile(r"(\d{1,2})([A-Z]{3})(\d{2})")


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
    return strike if STRIKE.fullmatch(strike) else ""


def _deribit_by_rule(name: str, *, base: str = "") -> Normalized:
    """``BTC-PERPETUAL``, ``BTC-24SEP21``, ``BTC-24JUN22-15000-C``, ``SOL_USDC-PERPETUAL``,
    ``XRP_USDC-30JUN23-0d625-C``, spot ``BTC_USDC``. ``base`` overrides the name's base."""
    parts = name.split("-")
    pair = _deribit_currency_pair(parts[0])
    if pair is not None:
        b, q = base or pair[0], pair[1]
        if len(parts) == 1 and "_" in parts[0]:
            return Normalized("spot", join(b, q), True)
        if len(parts) == 2 and parts[1] == "PERPETUAL":
            return Normalized("perpetual", join(b, q, "PERP"), True)
        if len(parts) == 2 and _deribit_date(parts[1]):
            return Normalized("future", join(b, q, _deribit_date(parts[1])), True)
        if len(parts) == 4 and _deribit_date(parts[1]) and _deribit_strike(parts[2]) and parts[3] in ("C", "P"):
            return Normalized("option", join(b, q, _deribit_date(parts[1]), _deribit_strike(parts[2]), parts[3]), True)
    return unresolved(closest_market(parts, perpetual_tags=("PERPETUAL",)), name)


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
    return unresolved(market, name)

RULES = {"deribit": (_deribit_by_rule, _deribit_from_metadata)}
