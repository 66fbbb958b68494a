"""The reference parsers on messages the corpus lacks, shaped as the venues document them.

Each case is one frame and the records data-model.md says it must give. Expected values are
written from the frame's own texts (``float("9425.5")`` for a ``"9425.5"`` price, ms * 10**6
for a timestamp), never taken from the parser. Only the columns a case lists are compared;
every case lists the kind's whole value set where defaults (NaN, 0, "") matter.
"""

from __future__ import annotations

import logging
import math

import pytest

from marketprism_fast.parser import FrameStatus
from marketprism_fast.records import kind
from marketprism_fast.parser import reference_parser as make_parser
from tests.helpers import records_by_frame, same_value

NAN = math.nan
TS_RECV = 1_700_000_000_123_456_789
MS = 1_000_000  # ns per ms


def feed_one(venue: str, frame: str | bytes, ts_recv: int = TS_RECV) -> tuple[int, list[dict]]:
    parser = make_parser(venue)
    ((status, rows),) = records_by_frame(parser, [frame if isinstance(frame, bytes) else frame.encode()], [ts_recv])
    return status, rows


def assert_records(rows: list[dict], expected: list[tuple[str, dict]]) -> None:
    assert [r["kind"] for r in rows] == [k for k, _ in expected]
    for row, (kind_name, values) in zip(rows, expected):
        for column, value in values.items():
            assert same_value(row[column], value), f"{kind_name}.{column}: got {row[column]!r}, want {value!r}"


def ticker_values(**given: float) -> dict:
    """A ticker's value columns: NaN unless given, trade_count 0 unless given."""
    values = {c.name: NAN for c in kind("ticker").own}
    values["trade_count"] = 0
    values.update(given)
    return values


# ---- Binance ----------------------------------------------------------------------------------

SPOT_24HR = (
    '{"e":"24hrTicker","E":1672515782136,"s":"BNBBTC","p":"0.0015","P":"250.00","w":"0.0018",'
    '"x":"0.0009","c":"0.0025","Q":"10","b":"0.0024","B":"10","a":"0.0026","A":"100","o":"0.0010",'
    '"h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":86400000,"F":0,"L":18150,"n":18151}'
)
FUTURES_24HR = (
    '{"stream":"btcusdt@ticker","data":{"e":"24hrTicker","E":123456789,"s":"BTCUSDT","p":"0.0015",'
    '"P":"250.00","w":"0.0018","c":"0.0025","Q":"10","o":"0.0010","h":"0.0025","l":"0.0010",'
    '"v":"10000","q":"18","O":0,"C":86400000,"F":0,"L":18150,"n":18151}}'
)


def test_binance_spot_24hr_ticker_maps_every_field() -> None:
    status, rows = feed_one("binance_spot", SPOT_24HR)
    assert status == FrameStatus.PARSED
    want = ticker_values(
        last_price=0.0025, last_amount=10.0, open_price=0.001, high_price=0.0025, low_price=0.001,
        volume=10000.0, quote_volume=18.0, price_change=0.0015, price_change_pct=250.0,
        weighted_avg_price=0.0018, bid_price=0.0024, bid_amount=10.0, ask_price=0.0026,
        ask_amount=100.0, trade_count=18151,
    )
    assert_records(rows, [("ticker", {"raw_symbol": "BNBBTC", "ts_event": 1672515782136 * MS, "ts_recv": TS_RECV, **want})])


def test_binance_futures_24hr_ticker_without_book_fields_has_nan_there() -> None:
    status, rows = feed_one("binance_usdm", FUTURES_24HR)
    assert status == FrameStatus.PARSED
    want = ticker_values(
        last_price=0.0025, last_amount=10.0, open_price=0.001, high_price=0.0025, low_price=0.001,
        volume=10000.0, quote_volume=18.0, price_change=0.0015, price_change_pct=250.0,
        weighted_avg_price=0.0018, trade_count=18151,
    )
    assert_records(rows, [("ticker", {"ts_event": 123456789 * MS, **want})])


def test_binance_force_order_is_a_liquidation_at_the_order_time() -> None:
    frame = (
        '{"e":"forceOrder","E":1591154240950,"o":{"s":"BTCUSD_200925","ps":"BTCUSD","S":"SELL",'
        '"o":"LIMIT","f":"IOC","q":"1","p":"9425.5","ap":"9496.5","X":"FILLED","l":"1","z":"1",'
        '"T":1591154240949}}'
    )
    status, rows = feed_one("binance_coinm", frame)
    assert status == FrameStatus.PARSED
    assert_records(rows, [("liquidation", {
        "raw_symbol": "BTCUSD_200925", "ts_event": 1591154240949 * MS, "side": -1,
        "price": 9425.5, "amount": 1.0, "order_id": "", "status": "FILLED",
    })])


def test_binance_mark_price_update_of_a_delivery_contract() -> None:
    frame = (
        '{"e":"markPriceUpdate","E":1596095725000,"s":"BTCUSD_201225","p":"10934.62615417",'
        '"P":"10962.17178236","i":"10933.62615417","r":""}'
    )
    status, rows = feed_one("binance_coinm", frame)
    assert status == FrameStatus.PARSED
    assert_records(rows, [("funding_rate", {
        "ts_event": 1596095725000 * MS, "funding_rate": NAN, "predicted_rate": NAN,
        "mark_price": 10934.62615417, "index_price": 10933.62615417, "funding_time": 0,
    })])


def test_binance_mark_price_array_stream_gives_a_record_per_event() -> None:
    frame = (
        '{"stream":"!markPrice@arr","data":['
        '{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000",'
        '"i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000},'
        '{"e":"markPriceUpdate","E":1562305380000,"s":"ETHUSDT","p":"300.1","i":"300.2","r":"-0.0001","T":1562306400000}]}'
    )
    status, rows = feed_one("binance_usdm", frame)
    assert status == FrameStatus.PARSED
    assert_records(rows, [
        ("funding_rate", {"raw_symbol": "BTCUSDT", "funding_rate": 0.00038167, "mark_price": 11794.15,
                          "index_price": 11784.62659091, "funding_time": 1562306400000 * MS}),
        ("funding_rate", {"raw_symbol": "ETHUSDT", "funding_rate": -0.0001, "mark_price": 300.1,
                          "index_price": 300.2, "funding_time": 1562306400000 * MS}),
    ])


def test_binance_raw_and_combined_frames_in_any_key_order_agree() -> None:
    trade = (
        '{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,'
        '"m":true,"M":true,"X":"INSURANCE_FUND"}'
    )
    raw = feed_one("binance_spot", trade)
    combined = feed_one("binance_spot", '{"data":' + trade + ',"stream":"bnbbtc@trade"}')
    assert raw[0] == combined[0] == FrameStatus.PARSED
    assert_records(raw[1], [("trade", {"trade_id": "12345", "price": 0.001, "amount": 100.0, "side": -1, "aggregated": 0,
                                       "ts_event": 1672515782136 * MS})])
    assert raw[1] == combined[1]


def test_binance_book_ticker_time_is_the_event_time_or_the_receive_time() -> None:
    spot = '{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}'
    futures = (
        '{"e":"bookTicker","u":400900217,"E":1568014460893,"T":1568014460891,"s":"BNBUSDT",'
        '"b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}'
    )
    quote = {"bid_price": 25.3519, "bid_amount": 31.21, "ask_price": 25.3652, "ask_amount": 40.66, "update_id": 400900217}
    assert_records(feed_one("binance_spot", spot)[1], [("quote", {"ts_event": TS_RECV, **quote})])
    assert_records(feed_one("binance_usdm", futures)[1], [("quote", {"ts_event": 1568014460893 * MS, **quote})])


def test_binance_rest_depth_snapshot_rows() -> None:
    body = b'{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"],["3.9","0"]],"asks":[["4.00000200","12.00000000"]]}'
    parser = make_parser("binance_spot")
    assert parser.feed_snapshot(body, TS_RECV, "BNBBTC") == FrameStatus.PARSED
    ((batch,),) = [parser.take()]
    rows = batch.rows()
    snapshot = {"ts_event": TS_RECV, "ts_recv": TS_RECV, "first_update_id": 1027024, "update_id": 1027024,
                "prev_update_id": 0, "is_snapshot": 1, "checksum": 0, "raw_symbol": "BNBBTC"}
    for r in rows:
        r["kind"] = batch.kind.name
    assert_records(rows, [
        ("book_delta", {"side": 1, "price": 4.0, "amount": 431.0, **snapshot}),
        ("book_delta", {"side": 1, "price": 3.9, "amount": 0.0, **snapshot}),
        ("book_delta", {"side": -1, "price": 4.000002, "amount": 12.0, **snapshot}),
    ])
    assert batch.column("price_text").tolist() == ["", "", ""]


def test_binance_rest_snapshot_names_its_own_symbol_when_none_is_given() -> None:
    body = b'{"lastUpdateId":5,"E":1,"T":1,"symbol":"BTCUSD_PERP","pair":"BTCUSD","bids":[["1.0","2"]],"asks":[]}'
    parser = make_parser("binance_coinm")
    assert parser.feed_snapshot(body, TS_RECV) == FrameStatus.PARSED
    assert parser.take()[0].column("raw_symbol").tolist() == ["BTCUSD_PERP"]
    assert parser.feed_snapshot(b'{"lastUpdateId":5,"bids":[],"asks":[]}', TS_RECV) == FrameStatus.MALFORMED
    assert parser.feed_snapshot(b'{"code":-1121,"msg":"Invalid symbol."}', TS_RECV, "X") == FrameStatus.MALFORMED


def test_binance_rest_open_interest() -> None:
    parser = make_parser("binance_usdm")
    body = b'{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}'
    assert parser.feed_open_interest(body, TS_RECV) == FrameStatus.PARSED
    (batch,) = parser.take()
    assert batch.kind.name == "open_interest"
    (row,) = batch.rows()
    assert row["raw_symbol"] == "BTCUSDT" and row["ts_event"] == 1589437530011 * MS and row["ts_recv"] == TS_RECV
    assert same_value(row["open_interest"], 10659.509) and math.isnan(row["open_interest_value"])


# ---- OKX --------------------------------------------------------------------------------------


def test_okx_books5_is_a_snapshot_with_its_texts_and_seq_id() -> None:
    frame = (
        '{"arg":{"channel":"books5","instId":"BCH-USDT-SWAP"},"data":[{"asks":[["111.06","55154","0","2"],'
        '["111.07","53276","0","2"]],"bids":[["111.05","57745","0","2"]],"instId":"BCH-USDT-SWAP",'
        '"ts":"1670324386802","seqId":363996337}]}'
    )
    parser = make_parser("okx")
    assert parser.feed(frame.encode(), TS_RECV) == FrameStatus.PARSED
    (batch,) = parser.take()
    common = {"ts_event": 1670324386802 * MS, "first_update_id": 363996337, "update_id": 363996337,
              "prev_update_id": 0, "is_snapshot": 1, "checksum": 0}
    rows = [dict(r, kind="book_delta") for r in batch.rows()]
    assert_records(rows, [
        ("book_delta", {"side": 1, "price": 111.05, "amount": 57745.0, **common}),
        ("book_delta", {"side": -1, "price": 111.06, "amount": 55154.0, **common}),
        ("book_delta", {"side": -1, "price": 111.07, "amount": 53276.0, **common}),
    ])
    assert batch.column("price_text").tolist() == ["111.05", "111.06", "111.07"]
    assert batch.column("amount_text").tolist() == ["57745", "55154", "53276"]


def test_okx_books_sequence_ids_and_checksum() -> None:
    snapshot = (
        '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["8476.98","415","0","13"]],'
        '"bids":[["8476.97","256","0","12"]],"ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}'
    )
    update = (
        '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],'
        '"bids":[["8476.97","0","0","0"]],"ts":"1597026383086","checksum":2147483647,"prevSeqId":123456,"seqId":123457}]}'
    )
    _, rows = feed_one("okx", snapshot)
    ids = {"first_update_id": 123456, "update_id": 123456, "prev_update_id": 0, "is_snapshot": 1, "checksum": -855196043}
    assert_records(rows, [("book_delta", {"side": 1, "price": 8476.97, **ids}), ("book_delta", {"side": -1, "price": 8476.98, **ids})])
    _, rows = feed_one("okx", update)
    assert_records(rows, [("book_delta", {"side": 1, "amount": 0.0, "first_update_id": 123457, "update_id": 123457,
                                          "prev_update_id": 123456, "is_snapshot": 0, "checksum": 2147483647})])


def test_okx_bbo_tbt_is_a_quote() -> None:
    frame = (
        '{"arg":{"channel":"bbo-tbt","instId":"BCH-USDT-SWAP"},"data":[{"asks":[["111.06","55154","0","2"]],'
        '"bids":[["111.05","57745","0","2"]],"ts":"1670324386802","seqId":363996337}]}'
    )
    status, rows = feed_one("okx", frame)
    assert status == FrameStatus.PARSED
    assert_records(rows, [("quote", {"ts_event": 1670324386802 * MS, "bid_price": 111.05, "bid_amount": 57745.0,
                                     "ask_price": 111.06, "ask_amount": 55154.0, "update_id": 363996337})])


def test_okx_tickers_volume_depends_on_the_instrument_type() -> None:
    spot = (
        '{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT",'
        '"last":"9999.99","lastSz":"0.1","askPx":"9999.99","askSz":"11","bidPx":"8888.88","bidSz":"5","open24h":"9000",'
        '"high24h":"10000","low24h":"8888.88","volCcy24h":"2222","vol24h":"2222","sodUtc0":"0.1","sodUtc8":"0.1","ts":"1597026383085"}]}'
    )
    swap = (
        '{"arg":{"channel":"tickers","instId":"BTC-USD-SWAP"},"data":[{"instType":"SWAP","instId":"BTC-USD-SWAP",'
        '"last":"100","lastSz":"","askPx":"101","askSz":"2","bidPx":"","bidSz":"","open24h":"90","high24h":"110",'
        '"low24h":"80","volCcy24h":"12.5","vol24h":"1250","ts":"1597026383085"}]}'
    )
    _, rows = feed_one("okx", spot)
    assert_records(rows, [("ticker", ticker_values(
        last_price=9999.99, last_amount=0.1, open_price=9000.0, high_price=10000.0, low_price=8888.88,
        volume=2222.0, quote_volume=2222.0, bid_price=8888.88, bid_amount=5.0, ask_price=9999.99, ask_amount=11.0))])
    _, rows = feed_one("okx", swap)
    assert_records(rows, [("ticker", ticker_values(
        last_price=100.0, open_price=90.0, high_price=110.0, low_price=80.0, volume=12.5,
        ask_price=101.0, ask_amount=2.0))])


def test_okx_candles() -> None:
    spot = (
        '{"arg":{"channel":"candle1D","instId":"BTC-USDT"},"data":[["1597026383085","8533.02","8553.74","8527.17",'
        '"8548.26","45247","529.5858061","529.5858062","1"]]}'
    )
    swap_old_shape = (
        '{"arg":{"channel":"candle1m","instId":"BTC-USDT-SWAP"},"data":[["1597026383085","8533.02","8553.74",'
        '"8527.17","8548.26","45247","4.5247"]]}'
    )
    candle = {"ts_event": TS_RECV, "open_time": 1597026383085 * MS,  # no event time is sent "close_time": 0, "open": 8533.02,
              "high": 8553.74, "low": 8527.17, "close": 8548.26, "taker_buy_volume": NAN,
              "taker_buy_quote_volume": NAN, "trade_count": 0}
    _, rows = feed_one("okx", spot)
    assert_records(rows, [("kline", {**candle, "interval": "1D", "volume": 45247.0, "quote_volume": 529.5858062, "closed": 1})])
    _, rows = feed_one("okx", swap_old_shape)
    assert_records(rows, [("kline", {**candle, "interval": "1m", "volume": 4.5247, "quote_volume": NAN, "closed": 0})])


def test_okx_funding_rate_open_interest_and_liquidations() -> None:
    funding = (
        '{"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"fundingRate":"0.0001875391284828",'
        '"fundingTime":"1700726400000","instId":"BTC-USD-SWAP","instType":"SWAP","method":"current_period",'
        '"nextFundingRate":"","nextFundingTime":"1700755200000","ts":"1700724675402"}]}'
    )
    open_interest = (
        '{"arg":{"channel":"open-interest","instId":"LTC-USD-SWAP"},"data":[{"instId":"LTC-USD-SWAP","instType":"SWAP",'
        '"oi":"5000","oiCcy":"555.55","ts":"1597026383085"}]}'
    )
    liquidations = (
        '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"0.007831",'
        '"ccy":"","posSide":"short","side":"buy","sz":"13","ts":"1692266434010"},{"bkLoss":"0","bkPx":"0.0079",'
        '"ccy":"","posSide":"long","side":"sell","sz":"2","ts":"1692266434011"}],"instFamily":"IOST-USDT",'
        '"instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"}]}'
    )
    _, rows = feed_one("okx", funding)
    assert_records(rows, [("funding_rate", {"raw_symbol": "BTC-USD-SWAP", "ts_event": 1700724675402 * MS,
                                            "funding_rate": 0.0001875391284828, "predicted_rate": NAN, "mark_price": NAN,
                                            "index_price": NAN, "funding_time": 1700726400000 * MS})])
    _, rows = feed_one("okx", open_interest)
    assert_records(rows, [("open_interest", {"ts_event": 1597026383085 * MS, "open_interest": 5000.0, "open_interest_value": NAN})])
    _, rows = feed_one("okx", liquidations)
    liq = {"raw_symbol": "IOST-USDT-SWAP", "order_id": "", "status": ""}
    assert_records(rows, [
        ("liquidation", {**liq, "ts_event": 1692266434010 * MS, "side": 1, "price": 0.007831, "amount": 13.0}),
        ("liquidation", {**liq, "ts_event": 1692266434011 * MS, "side": -1, "price": 0.0079, "amount": 2.0}),
    ])


def test_okx_rest_open_interest() -> None:
    parser = make_parser("okx")
    body = b'{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","oi":"5000","oiCcy":"555.55","oiUsd":"50000","ts":"1597026383085"}]}'
    assert parser.feed_open_interest(body, TS_RECV) == FrameStatus.PARSED
    (row,) = parser.take()[0].rows()
    assert row["raw_symbol"] == "BTC-USDT-SWAP" and row["open_interest"] == 5000.0 and row["open_interest_value"] == 50000.0
    assert parser.feed_open_interest(b'{"code":"51001","msg":"Instrument ID does not exist","data":[]}', TS_RECV) == FrameStatus.MALFORMED


def test_okx_mark_price_is_parsed_without_records() -> None:
    frame = '{"arg":{"channel":"mark-price","instId":"LTC-USD-190628"},"data":[{"instType":"FUTURES","instId":"LTC-USD-190628","markPx":"0.1","ts":"1597026383085"}]}'
    assert feed_one("okx", frame) == (FrameStatus.PARSED, [])


def test_okx_error_event_is_logged_with_code_and_message(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="marketprism_fast"):
        make_parser("okx").feed(b'{"event":"error","code":"60012","msg":"Invalid request: argss"}', TS_RECV)
    assert "60012" in caplog.text and "Invalid request: argss" in caplog.text


# ---- Deribit ----------------------------------------------------------------------------------


def _deribit(channel: str, data: str) -> str:
    return '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"' + channel + '","data":' + data + "}}"


def test_deribit_trades_with_liquidations() -> None:
    trade = (
        '{{"trade_seq":30289432,"trade_id":"{id}","timestamp":1590484156350,"tick_direction":0,"price":8950.0,'
        '"mark_price":8948.9,"instrument_name":"BTC-PERPETUAL","index_price":8955.88,"direction":"{side}",'
        '"amount":10{liq}}}'
    )
    data = "[" + ",".join([
        trade.format(id="1", side="sell", liq=""),
        trade.format(id="2", side="sell", liq=',"liquidation":"M"'),
        trade.format(id="3", side="buy", liq=',"liquidation":"T"'),
        trade.format(id="4", side="sell", liq=',"liquidation":"MT"'),
    ]) + "]"
    status, rows = feed_one("deribit", _deribit("trades.BTC-PERPETUAL.100ms", data))
    assert status == FrameStatus.PARSED
    common = {"raw_symbol": "BTC-PERPETUAL", "ts_event": 1590484156350 * MS, "price": 8950.0, "amount": 10.0}
    assert_records(rows, [
        ("trade", {**common, "trade_id": "1", "side": -1, "aggregated": 0}),
        ("trade", {**common, "trade_id": "2", "side": -1}),
        ("trade", {**common, "trade_id": "3", "side": 1}),
        ("trade", {**common, "trade_id": "4", "side": -1}),
        ("liquidation", {**common, "side": 1, "order_id": "", "status": "M"}),  # the resting buyer was liquidated
        ("liquidation", {**common, "side": 1, "status": "T"}),
        ("liquidation", {**common, "side": -1, "status": "MT"}),
    ])


def test_deribit_book_change_rows_bids_then_asks_and_delete_is_zero() -> None:
    data = (
        '{"type":"change","timestamp":1554373911330,"prev_change_id":297217,"instrument_name":"BTC-PERPETUAL",'
        '"change_id":297218,"bids":[["delete",5042.34,0],["change",5041.94,20]],"asks":[["new",5042.64,10]]}'
    )
    _, rows = feed_one("deribit", _deribit("book.BTC-PERPETUAL.100ms", data))
    ids = {"ts_event": 1554373911330 * MS, "first_update_id": 297218, "update_id": 297218, "prev_update_id": 297217,
           "is_snapshot": 0, "checksum": 0}
    assert_records(rows, [
        ("book_delta", {"side": 1, "price": 5042.34, "amount": 0.0, **ids}),
        ("book_delta", {"side": 1, "price": 5041.94, "amount": 20.0, **ids}),
        ("book_delta", {"side": -1, "price": 5042.64, "amount": 10.0, **ids}),
    ])


def test_deribit_quote() -> None:
    frame = (
        '{"params":{"data":{"timestamp":1550658624149,"instrument_name":"BTC-PERPETUAL","best_bid_price":3914.97,'
        '"best_bid_amount":40,"best_ask_price":3996.61,"best_ask_amount":50},"channel":"quote.BTC-PERPETUAL"},'
        '"method":"subscription","jsonrpc":"2.0"}'
    )
    _, rows = feed_one("deribit", frame)
    assert_records(rows, [("quote", {"ts_event": 1550658624149 * MS, "bid_price": 3914.97, "bid_amount": 40.0,
                                     "ask_price": 3996.61, "ask_amount": 50.0, "update_id": 0})])


def test_deribit_perpetual_ticker_gives_ticker_open_interest_and_funding() -> None:
    data = (
        '{"timestamp":1623060194301,"stats":{"volume_usd":284061480,"volume":7871.02139035,"price_change":0.7229,'
        '"low":35213.5,"high":36824.5},"state":"open","settlement_price":36169.49,"open_interest":502097590,'
        '"min_price":35898.37,"max_price":36991.72,"mark_price":36446.51,"last_price":36457.5,'
        '"instrument_name":"BTC-PERPETUAL","index_price":36441.64,"funding_8h":0.0000211,'
        '"estimated_delivery_price":36441.64,"current_funding":0,"best_bid_price":36442.5,"best_bid_amount":5000,'
        '"best_ask_price":null,"best_ask_amount":0.0}'
    )
    _, rows = feed_one("deribit", _deribit("ticker.BTC-PERPETUAL.raw", data))
    at = {"ts_event": 1623060194301 * MS}
    assert_records(rows, [
        ("ticker", {**at, **ticker_values(
            last_price=36457.5, high_price=36824.5, low_price=35213.5, volume=7871.02139035,
            quote_volume=284061480.0, price_change_pct=0.7229, bid_price=36442.5, bid_amount=5000.0,
            ask_amount=0.0, mark_price=36446.51, index_price=36441.64, open_interest=502097590.0)}),
        ("funding_rate", {**at, "funding_rate": 0.0, "predicted_rate": 0.0000211, "mark_price": 36446.51,
                          "index_price": 36441.64, "funding_time": 0}),
        ("open_interest", {**at, "open_interest": 502097590.0, "open_interest_value": NAN}),
    ])


def test_deribit_chart_trades_and_perpetual() -> None:
    chart = '{"volume":0.05219351,"tick":1573645080000,"open":8869.79,"low":8788.25,"high":8870.31,"cost":460,"close":8791.25}'
    _, rows = feed_one("deribit", _deribit("chart.trades.BTC-PERPETUAL.1", chart))
    assert_records(rows, [("kline", {
        "raw_symbol": "BTC-PERPETUAL", "ts_event": TS_RECV, "interval": "1", "open_time": 1573645080000 * MS,
        "close_time": 0, "open": 8869.79, "high": 8870.31, "low": 8788.25, "close": 8791.25, "volume": 0.05219351,
        "quote_volume": 460.0, "taker_buy_volume": NAN, "taker_buy_quote_volume": NAN, "trade_count": 0, "closed": 0})])
    perpetual = '{"interest":0.004999511380756577,"timestamp":1571386349530,"index_price":7872.88}'
    _, rows = feed_one("deribit", _deribit("perpetual.BTC-PERPETUAL.100ms", perpetual))
    assert_records(rows, [("funding_rate", {
        "raw_symbol": "BTC-PERPETUAL", "ts_event": 1571386349530 * MS, "funding_rate": 0.004999511380756577,
        "predicted_rate": NAN, "mark_price": NAN, "index_price": 7872.88, "funding_time": 0})])


def test_deribit_test_requests_are_skipped_and_counted() -> None:
    parser = make_parser("deribit")
    test_request = b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}'
    assert [parser.feed(test_request, TS_RECV) for _ in range(3)] == [FrameStatus.SKIPPED] * 3
    stats = parser.stats()
    assert stats["test_requests"] == 3 and stats["skipped"]["heartbeat"] == 3 and stats["parsed"] == 0


# ---- frames that carry no data --------------------------------------------------------------

SKIPPED_FRAMES = [
    ("binance_spot", '{"result":null,"id":1}', "ack"),
    ("binance_spot", '{"id":3,"result":["btcusdt@trade"]}', "ack"),
    ("binance_spot", '{"error":{"code":2,"msg":"Invalid request: unknown variant"},"id":4}', "error_event"),
    ("binance_spot", '{"stream":"btcusdt@miniTicker","data":{"e":"24hrMiniTicker","E":1,"s":"BTCUSDT","c":"1"}}', "unknown_channel"),
    ("binance_spot", '{"stream":"btcusdt@depth5","data":{"lastUpdateId":160,"bids":[["0.1","1"]],"asks":[]}}', "unknown_channel"),
    ("okx", "pong", "pong"),
    ("okx", '{"event":"subscribe","arg":{"channel":"tickers","instId":"LTC-USD-200327"},"connId":"a4d3ae55"}', "event"),
    ("okx", '{"event":"unsubscribe","arg":{"channel":"tickers","instId":"LTC-USD-200327"}}', "event"),
    ("okx", '{"event":"error","code":"60012","msg":"Invalid request","connId":"a4d3ae55"}', "error_event"),
    ("okx", '{"arg":{"channel":"index-tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","idxPx":"1"}]}', "unknown_channel"),
    ("deribit", '{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}', "heartbeat"),
    ("deribit", '{"jsonrpc":"2.0","id":7,"result":["book.BTC-PERPETUAL.100ms"],"usIn":1,"usOut":2,"usDiff":1}', "rpc_result"),
    ("deribit", '{"jsonrpc":"2.0","id":8,"error":{"message":"Invalid params","code":-32602}}', "error_event"),
    ("deribit", _deribit("deribit_price_index.btc_usd", '{"index_name":"btc_usd","price":3937.89,"timestamp":1550588002899}'), "unknown_channel"),
]


@pytest.mark.parametrize("venue,frame,reason", SKIPPED_FRAMES)
def test_frames_without_data_are_skipped_by_reason(venue: str, frame: str, reason: str) -> None:
    parser = make_parser(venue)
    assert parser.feed(frame.encode(), TS_RECV) == FrameStatus.SKIPPED
    stats = parser.stats()
    assert stats["skipped"][reason] == 1 and stats["frames"] == 1 and stats["parsed"] == 0
    assert stats["test_requests"] == 0
    assert parser.take() == []
