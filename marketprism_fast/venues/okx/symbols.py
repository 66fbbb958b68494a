"""OKX symbol rules (data-model.md): by instrument metadata when loaded, else by name."""

from __future__ import annotations

from typing import Mapping

from ...symbols import Normalized, join, date_of_ms, is_yymmdd, unresolved, closest_market, STRIKE

def _okx_by_rule(name: str) -> Normalized:
    """By instId shape: ``BTC-USDT``, ``BTC-USDT-SWAP``, ``BTC-USD-220527``,
    ``BTC-USD-220527-30000-C``."""
    parts = name.split("-")
    if len(parts) == 2 and all(parts):
        return Normalized("spot", name, True)
    if len(parts) == 3 and parts[0] and parts[1]:
        if parts[2] == "SWAP":
            return Normalized("perpetual", join(parts[0], parts[1], "PERP"), True)
        if is_yymmdd(parts[2]):
            return Normalized("future", name, True)
    if (
        len(parts) == 5
        and parts[0]
        and parts[1]
        and is_yymmdd(parts[2])
        and STRIKE.fullmatch(parts[3])
        and parts[4] in ("C", "P")
    ):
        return Normalized("option", name, True)
    return unresolved(closest_market(parts, perpetual_tags=("SWAP",)), name)


def _okx_from_metadata(name: str, entry: Mapping) -> Normalized | None:
    """/api/v5/public/instruments: SPOT/MARGIN baseCcy-quoteCcy; SWAP/FUTURES/OPTION use
    instFamily (or uly) as BASE-QUOTE; option strike is the ``stk`` text."""
    inst_type = str(entry.get("instType") or "").upper()
    if inst_type in ("SPOT", "MARGIN"):
        base, quote = entry.get("baseCcy") or "", entry.get("quoteCcy") or ""
        return Normalized("spot", join(base, quote), True) if base and quote else None
    family = str(entry.get("instFamily") or entry.get("uly") or "").upper()
    if family.count("-") != 1 or not all(family.split("-")):
        return None
    parts = name.split("-")
    dated = parts[2] if len(parts) >= 3 and is_yymmdd(parts[2]) else date_of_ms(entry.get("expTime"))
    if inst_type == "SWAP":
        return Normalized("perpetual", join(family, "PERP"), True)
    if inst_type == "FUTURES" and dated:
        return Normalized("future", join(family, dated), True)
    if inst_type == "OPTION" and dated:
        strike = str(entry.get("stk") or (parts[3] if len(parts) == 5 else ""))
        right = str(entry.get("optType") or (parts[4] if len(parts) == 5 else "")).upper()
        if strike and right in ("C", "P"):
            return Normalized("option", join(family, dated, strike, right), True)
    return None

RULES = {"okx": (_okx_by_rule, _okx_from_metadata)}
