"""Binance symbol rules (data-model.md): by instrument metadata when loaded, else by name."""

from __future__ import annotations

from functools import partial
from typing import Mapping

from ...symbols import Normalized, split_quote, join, date_of_ms, is_yymmdd, unresolved

def _binance_spot_by_rule(name: str) -> Normalized:
    split = split_quote(name)
    if split is None:
        return unresolved("spot", name)
    return Normalized("spot", join(*split), True)


def _binance_futures_by_rule(name: str, *, coin_margined: bool) -> Normalized:
    """USD-M: ``BTCUSDT`` perpetual, ``BTCUSDT_210924`` future. COIN-M: ``BTCUSD_PERP``,
    ``BTCUSD_210924``, always quoted in USD."""
    pair, sep, suffix = name.partition("_")
    if sep and is_yymmdd(suffix):
        market, tail = "future", suffix
    elif (sep and suffix == "PERP") or (not sep and not coin_margined):
        market, tail = "perpetual", "PERP"
    else:
        # A COIN-M bare pair (``BTCUSD`` names an index, not a contract) or an unknown suffix.
        return unresolved("future" if sep and suffix.isdigit() else "perpetual", name)
    if coin_margined:
        split = (pair[:-3], "USD") if len(pair) > 3 and pair.endswith("USD") else None
    else:
        split = split_quote(pair)
    if split is None:
        return unresolved(market, name)
    return Normalized(market, join(*split, tail), True)


def _binance_spot_from_metadata(name: str, entry: Mapping) -> Normalized | None:
    base, quote = entry.get("baseAsset") or "", entry.get("quoteAsset") or ""
    if not (base and quote):
        return None
    return Normalized("spot", join(base, quote), True)


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
        return Normalized("perpetual", join(base, quote, "PERP"), True)
    if "QUARTER" in contract or "MONTH" in contract:
        expiry = suffix if sep and is_yymmdd(suffix) else date_of_ms(entry.get("deliveryDate"))
        if expiry:
            return Normalized("future", join(base, quote, expiry), True)
        return None
    # No (or an unknown) contract type, e.g. a symbol pending listing: the name decides the market.
    by_rule = _binance_futures_by_rule(name, coin_margined=coin_margined)
    if not by_rule.resolved:
        return None
    tail = by_rule.symbol.rsplit("-", 1)[1]
    return Normalized(by_rule.market, join(base, quote, tail), True)

# venue -> (name rule, metadata rule); a metadata rule answers None when its entry is unusable.
RULES = {
    "binance_spot": (_binance_spot_by_rule, _binance_spot_from_metadata),
    "binance_usdm": (
        partial(_binance_futures_by_rule, coin_margined=False),
        partial(_binance_futures_from_metadata, coin_margined=False),
    ),
    "binance_coinm": (
        partial(_binance_futures_by_rule, coin_margined=True),
        partial(_binance_futures_from_metadata, coin_margined=True),
    ),
}
