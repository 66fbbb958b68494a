"""Symbol normalization (data-model.md "Symbols"): a table of real venue instruments, the
golden outputs of the corpus, and the registry's count of names no rule can split."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import zstandard

from marketprism_fast.errors import ConfigurationError
from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.refdata import load_metadata_files
from marketprism_fast.symbols import SPOT_QUOTE_ASSETS, Normalized, SymbolMetadata, split_quote
from marketprism_fast.venues import normalize_symbol as normalize

from .helpers import FIXTURES, corpus_dir

REFDATA_FIXTURES = {
    "binance_spot": FIXTURES / "binance_spot" / "exchangeInfo.json",
    "binance_usdm": FIXTURES / "binance_usdm" / "exchangeInfo.json",
    "binance_coinm": FIXTURES / "binance_coinm" / "exchangeInfo.json",
    "okx": FIXTURES / "okx" / "instruments.refdata.jsonl",
    "deribit": FIXTURES / "deribit" / "get_instruments.refdata.jsonl",
}

U = object()  # "same as without metadata"

# venue, raw, (market, symbol, resolved) without metadata, the same with the fixture metadata (U: unchanged)
TABLE = [
    # Binance spot: quote-suffix rule, longest first, base never empty.
    ("binance_spot", "BTCUSDT", ("spot", "BTC-USDT", True), U),
    ("binance_spot", "ETHBTC", ("spot", "ETH-BTC", True), U),
    ("binance_spot", "BNBBUSD", ("spot", "BNB-BUSD", True), U),
    ("binance_spot", "AAVEUPUSDT", ("spot", "AAVEUP-USDT", True), U),
    ("binance_spot", "BUSDTRY", ("spot", "BUSD-TRY", True), U),
    ("binance_spot", "BTCFDUSD", ("spot", "BTC-FDUSD", True), U),
    ("binance_spot", "ADARUB", ("spot", "ADA-RUB", True), U),
    ("binance_spot", "RUNEEUR", ("spot", "RUNE-EUR", True), U),
    ("binance_spot", "1INCHBTC", ("spot", "1INCH-BTC", True), U),
    ("binance_spot", "SHIBDOGE", ("spot", "SHIB-DOGE", True), U),
    ("binance_spot", "btcusdt", ("spot", "BTC-USDT", True), U),
    # quote assets outside the rule's list: only metadata gets them right
    ("binance_spot", "BTCAEUR", ("spot", "BTCA-EUR", True), ("spot", "BTC-AEUR", True)),
    ("binance_spot", "BTCEURI", ("spot", "BTCEURI", False), ("spot", "BTC-EURI", True)),
    ("binance_spot", "USDT", ("spot", "USDT", False), U),
    # Binance USD-M: no "_" is a perpetual, "_YYMMDD" a dated future.
    ("binance_usdm", "BTCUSDT", ("perpetual", "BTC-USDT-PERP", True), U),
    ("binance_usdm", "1000SHIBUSDT", ("perpetual", "1000SHIB-USDT-PERP", True), U),
    ("binance_usdm", "ETHBTC", ("perpetual", "ETH-BTC-PERP", True), U),
    ("binance_usdm", "BTCDOMUSDT", ("perpetual", "BTCDOM-USDT-PERP", True), U),
    ("binance_usdm", "BTCUSDT_231229", ("future", "BTC-USDT-231229", True), U),
    ("binance_usdm", "BTCUSDT_240329", ("future", "BTC-USDT-240329", True), U),
    ("binance_usdm", "BTCSTUSDT", ("perpetual", "BTCST-USDT-PERP", True), U),  # pending: contractType ""
    ("binance_usdm", "ZZZ", ("perpetual", "ZZZ", False), U),
    # Binance COIN-M: always quoted in USD.
    ("binance_coinm", "BTCUSD_PERP", ("perpetual", "BTC-USD-PERP", True), U),
    ("binance_coinm", "BNBUSD_PERP", ("perpetual", "BNB-USD-PERP", True), U),
    ("binance_coinm", "ADAUSD_PERP", ("perpetual", "ADA-USD-PERP", True), U),
    ("binance_coinm", "BTCUSD_231229", ("future", "BTC-USD-231229", True), U),
    ("binance_coinm", "LINKUSD_231229", ("future", "LINK-USD-231229", True), U),
    ("binance_coinm", "BTCUSD_200925", ("future", "BTC-USD-200925", True), U),  # expired: not in the metadata
    ("binance_coinm", "BTCUSD", ("perpetual", "BTCUSD", False), U),  # a pair (index), not a contract
    # OKX: by instId shape, or baseCcy/quoteCcy and instFamily/uly from the instruments.
    ("okx", "BTC-USDT", ("spot", "BTC-USDT", True), U),
    ("okx", "ETH-BTC", ("spot", "ETH-BTC", True), U),
    ("okx", "BTC-USDT-SWAP", ("perpetual", "BTC-USDT-PERP", True), U),
    ("okx", "BTC-USD-SWAP", ("perpetual", "BTC-USD-PERP", True), U),
    ("okx", "IOST-USDT-SWAP", ("perpetual", "IOST-USDT-PERP", True), U),
    ("okx", "BTC-USD-231229", ("future", "BTC-USD-231229", True), U),
    ("okx", "BTC-USDT-231229", ("future", "BTC-USDT-231229", True), U),
    ("okx", "BTC-USD-231229-40000-C", ("option", "BTC-USD-231229-40000-C", True), U),
    ("okx", "BTC-USD-231124-37000-P", ("option", "BTC-USD-231124-37000-P", True), U),
    ("okx", "BTC-USD-231229-40000", ("future", "BTC-USD-231229-40000", False), U),
    # Deribit: inverse names quote in USD (even where the metadata says BTC), linear "_USDC" in USDC.
    ("deribit", "BTC-PERPETUAL", ("perpetual", "BTC-USD-PERP", True), U),
    ("deribit", "ETH-PERPETUAL", ("perpetual", "ETH-USD-PERP", True), U),
    ("deribit", "BTC-29DEC23", ("future", "BTC-USD-231229", True), U),
    ("deribit", "BTC-24SEP21", ("future", "BTC-USD-210924", True), U),
    ("deribit", "BTC-24JUN22-15000-C", ("option", "BTC-USD-220624-15000-C", True), U),
    ("deribit", "BTC-24NOV23-37000-C", ("option", "BTC-USD-231124-37000-C", True), U),
    ("deribit", "ETH-7MAY21-2100-P", ("option", "ETH-USD-210507-2100-P", True), U),
    ("deribit", "SOL_USDC-PERPETUAL", ("perpetual", "SOL-USDC-PERP", True), U),
    ("deribit", "XRP_USDC-30JUN23-0d625-C", ("option", "XRP-USDC-230630-0.625-C", True), U),
    ("deribit", "BTC_USDC", ("spot", "BTC-USDC", True), U),
    ("deribit", "BTC-FS-29DEC23_PERP", ("future", "BTC-FS-29DEC23_PERP", False), U),  # a combo
]


@pytest.fixture(scope="module")
def fixture_metadata() -> SymbolMetadata:
    return load_metadata_files(REFDATA_FIXTURES.values())


def test_table_covers_every_venue_and_market() -> None:
    assert len(TABLE) >= 40
    assert {venue for venue, *_ in TABLE} == set(REFDATA_FIXTURES)
    assert {without[0] for *_, without, _ in TABLE} == {"spot", "perpetual", "future", "option"}


@pytest.mark.parametrize(("venue", "raw", "without", "with_metadata"), TABLE, ids=[f"{v}:{r}" for v, r, *_ in TABLE])
def test_symbol_table(venue, raw, without, with_metadata, fixture_metadata) -> None:
    assert normalize(venue, raw) == Normalized(*without)
    assert normalize(venue, raw, SymbolMetadata()) == Normalized(*without)
    expected = without if with_metadata is U else with_metadata
    assert normalize(venue, raw, fixture_metadata) == Normalized(*expected)


def test_metadata_instruments_in_table_are_listed(fixture_metadata) -> None:
    """Each venue's fixture metadata really lists the table's resolved instruments it claims to."""
    listed = {venue: set(fixture_metadata.symbols(venue)) for venue in REFDATA_FIXTURES}
    for venue, raw in [("binance_spot", "BTCAEUR"), ("binance_usdm", "BTCSTUSDT"), ("okx", "IOST-USDT-SWAP"),
                       ("deribit", "XRP_USDC-30JUN23-0d625-C"), ("binance_coinm", "LINKUSD_231229")]:
        assert raw in listed[venue]
    assert "BTCUSD_200925" not in listed["binance_coinm"]


def test_unresolved_are_counted_by_the_registry(fixture_metadata) -> None:
    for metadata in (None, fixture_metadata):
        registry = InstrumentRegistry("binance_spot", metadata)
        for raw in ("BTCUSDT", "USDT", "USDT", "FOOBAR", "BTCUSDT"):
            registry.intern(raw)
        assert registry.unresolved == {"USDT": 1, "FOOBAR": 1}  # once per new instrument
        foobar = registry[registry.code_of("FOOBAR")]
        assert (foobar.market, foobar.symbol, foobar.raw_symbol, foobar.by_rule) == ("spot", "FOOBAR", "FOOBAR", True)
        btc = registry[registry.code_of("BTCUSDT")]
        assert (btc.symbol, btc.by_rule) == ("BTC-USDT", False)

    registry = InstrumentRegistry("binance_spot")
    registry.intern("BTCEURI")
    assert registry.unresolved == {"BTCEURI": 1}
    registry = InstrumentRegistry("binance_spot", fixture_metadata)
    registry.intern("BTCEURI")
    assert registry.unresolved == {}


def test_spot_quote_rule_prefers_the_longest_quote() -> None:
    assert split_quote("ETHTUSD") == ("ETH", "TUSD")
    assert split_quote("BTCFDUSD") == ("BTC", "FDUSD")
    assert split_quote("XRPUSD") == ("XRP", "USD")
    assert split_quote("BNBUSD") == ("BN", "BUSD")  # the rule as written: longest suffix wins
    assert split_quote("BUSD") == ("B", "USD")  # BUSD itself would leave no base
    assert split_quote("USD") is None
    # data-model.md, "Binance symbols without metadata", word for word
    assert SPOT_QUOTE_ASSETS == tuple(
        "FDUSD USDT USDC BUSD TUSD USDP USDS IDRT BIDR BVND BKRW GYEN DAI PAX UST VAI BTC ETH BNB XRP "
        "TRX DOGE DOT EUR GBP AUD BRL TRY RUB UAH NGN ZAR PLN RON ARS JPY MXN COP CZK USD".split()
    )


def test_metadata_of_one_venue_never_names_another_venues_instrument(fixture_metadata) -> None:
    """BTCUSDT is listed by spot and USD-M: each venue reads its own entry."""
    assert normalize("binance_spot", "BTCUSDT", fixture_metadata).market == "spot"
    assert normalize("binance_usdm", "BTCUSDT", fixture_metadata).market == "perpetual"
    spot_only = load_metadata_files([REFDATA_FIXTURES["binance_spot"]])
    assert spot_only.entry("binance_usdm", "BTCUSDT") is None
    assert normalize("binance_usdm", "BTCAEUR", spot_only) == Normalized("perpetual", "BTCA-EUR-PERP", True)


def test_metadata_fields_decide_over_the_name() -> None:
    """Futures base/quote, contract type and delivery date come from exchangeInfo when listed."""
    metadata = SymbolMetadata()
    metadata.add("binance_usdm", "XYZUSDT_240628",
                 {"symbol": "XYZUSDT_240628", "baseAsset": "XY", "quoteAsset": "ZUSDT", "contractType": "CURRENT_QUARTER"})
    metadata.add("binance_coinm", "ABCUSD_PERP", {"symbol": "ABCUSD_PERP", "pair": "ABCUSD", "contractType": "PERPETUAL"})
    metadata.add("binance_coinm", "ABCUSD_NOW",
                 {"symbol": "ABCUSD_NOW", "baseAsset": "ABC", "quoteAsset": "USD", "contractType": "CURRENT_QUARTER",
                  "deliveryDate": 1719561600000})
    metadata.add("okx", "X-Y-SWAP", {"instType": "SWAP", "instId": "X-Y-SWAP", "instFamily": "", "uly": "XX-YY"})
    assert normalize("binance_usdm", "XYZUSDT_240628", metadata) == Normalized("future", "XY-ZUSDT-240628", True)
    assert normalize("binance_coinm", "ABCUSD_PERP", metadata) == Normalized("perpetual", "ABC-USD-PERP", True)
    assert normalize("binance_coinm", "ABCUSD_NOW", metadata) == Normalized("future", "ABC-USD-240628", True)
    assert normalize("okx", "X-Y-SWAP", metadata) == Normalized("perpetual", "XX-YY-PERP", True)


def test_unknown_venue_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown venue 'kraken'"):
        normalize("kraken", "XBTUSD")


# The golden files write the instrument columns in contract order; matching them as text (and
# checking that every record matched) keeps this fast on the multi-million-record sessions.
_INSTRUMENT = re.compile(rb'"market":"([a-z]+)","symbol":"([^"]*)","raw_symbol":"([^"]*)"')


def _golden_triples(path: Path) -> set[tuple[str, str, str]]:
    data = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    found = _INSTRUMENT.findall(data)
    assert len(found) == data.count(b"\n"), f"{path.name}: a record without the instrument columns in order"
    first = json.loads(data[: data.index(b"\n")])
    assert first["market"].encode() == found[0][0] and first["raw_symbol"].encode() == found[0][2]
    return {(raw.decode(), market.decode(), symbol.decode()) for market, symbol, raw in set(found)}


def _golden_cases() -> list[tuple[str, str]]:
    root = corpus_dir()
    return [tuple(p.name.split(".")[:2]) for p in sorted((root / "golden").glob("*.records.jsonl.zst"))]


@pytest.mark.corpus
def test_every_golden_instrument_with_and_without_session_refdata() -> None:
    root = corpus_dir()
    checked = 0
    for venue, session in _golden_cases():
        refdata = root / venue / f"{venue}.{session}.refdata.jsonl.zst"
        metadata = load_metadata_files([refdata]) if refdata.exists() else None
        for raw, market, symbol in _golden_triples(root / "golden" / f"{venue}.{session}.records.jsonl.zst"):
            for md in (metadata, None):
                assert normalize(venue, raw, md) == Normalized(market, symbol, True), (venue, session, raw)
                checked += 1
    assert checked >= 100
