"""The WebSocket transport over real loopback sockets (picows client, aiohttp test server)."""

from __future__ import annotations

import asyncio
import json

import pytest

from marketprism_fast.config import Backoff, VenueConfig
from marketprism_fast.parser import make_parser
from marketprism_fast.transport import _listener
from marketprism_fast.transport.ws import VenueTransport

from .helpers import corpus_dir, read_lines
from .wsserver import WsServer, binance_reply, deribit_reply, okx_reply, wait_for

FAST = Backoff(initial_seconds=0.05, max_seconds=0.2)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def trade(i: int, symbol: str = "BTCUSDT") -> str:
    return json.dumps({"stream": f"{symbol.lower()}@trade", "data": {"e": "trade", "E": 1700000000000 + i, "s": symbol, "t": i,
                       "p": "100.5", "q": "0.25", "T": 1700000000000 + i, "m": bool(i % 2), "M": True}}, separators=(",", ":"))


def rows_without_ts_recv(batches) -> list[dict]:
    out = []
    for b in batches:
        for r in b.rows():
            if r["ts_event"] == r.pop("ts_recv"):  # spot bookTicker carries no event time
                r["ts_event"] = None
            r["kind"] = b.kind.name
            out.append(r)
    return out


def test_frames_reach_the_parser_through_feed_ptr():
    frames = [f for f in read_lines(corpus_dir() / "binance_spot" / "binance_spot.hbt_2024-08-08_btcusdt.frames.jsonl.zst")[:3000]]

    async def scenario():
        server = await WsServer(binance_reply).start()
        parser = make_parser("binance_spot")
        config = VenueConfig(ws_url=server.url, symbols=["BTCUSDT"], kinds=["trade", "book_delta", "quote"], reconnect=FAST)
        transport = VenueTransport("binance_spot", config, parser)
        await transport.start()
        await wait_for(lambda: server.open_clients() and server.open_clients()[0].received, what="subscription")
        client = server.open_clients()[0]
        sub = json.loads(client.received[0])
        assert sub["method"] == "SUBSCRIBE"
        assert sub["params"] == ["btcusdt@trade", "btcusdt@depth@100ms", "btcusdt@bookTicker"]
        assert client.path == "/stream"
        for f in frames:
            await client.send(f)
        await wait_for(lambda: parser.stats()["frames"] == len(frames) + 1, what="every frame parsed")
        stats = transport.stats()[0]
        await transport.close()
        await server.close()
        return parser, stats

    parser, stats = run(scenario())
    assert stats["frames"] == len(frames) + 1  # + the subscription reply
    assert stats["bytes"] == sum(len(f) for f in frames) + len(b'{"result": null, "id": 1}')
    assert stats["state"] == "open" and stats["reconnects"] == 0
    got = parser.take()
    assert all((b.column("ts_recv") > 1_600_000_000 * 10**9).all() for b in got)
    expected_parser = make_parser("binance_spot")
    for f in frames:
        expected_parser.feed(f, 0)
    assert rows_without_ts_recv(got) == rows_without_ts_recv(expected_parser.take())
    assert parser.stats()["skipped"]["ack"] == 1


def test_server_pings_are_answered_with_their_payload():
    async def scenario():
        server = await WsServer(binance_reply).start()
        transport = VenueTransport("binance_spot", VenueConfig(ws_url=server.url, symbols=["BTCUSDT"], reconnect=FAST), make_parser("binance_spot"))
        await transport.start()
        await wait_for(lambda: server.open_clients() and server.open_clients()[0].received, what="subscription")
        client = server.open_clients()[0]
        for i in range(3):
            await client.ws.ping(b"p%d" % i)
        await wait_for(lambda: client.pongs == 3, what="three pongs")
        pings = transport.stats()[0]["pings"]
        await transport.close()
        await server.close()
        return pings

    assert run(scenario()) == 3


def test_reconnects_with_backoff_and_resubscribes_after_a_drop_and_refusals():
    async def scenario():
        server = await WsServer(binance_reply).start()
        parser = make_parser("binance_spot")
        reconnected = []
        config = VenueConfig(ws_url=server.url, symbols=["BTCUSDT", "ETHUSDT"], kinds=["trade"], reconnect=FAST)
        transport = VenueTransport("binance_spot", config, parser, on_reconnect=lambda v, s: reconnected.append((v, s)))
        await transport.start()
        await wait_for(lambda: server.open_clients() and server.open_clients()[0].received, what="subscription")
        first = server.open_clients()[0]
        await first.send(trade(1))
        await wait_for(lambda: parser.stats()["records"]["trade"] == 1)
        server.refuse = 2
        await first.drop()
        await wait_for(lambda: len(server.open_clients()) == 1 and server.open_clients()[0] is not first
                       and server.open_clients()[0].received, what="resubscription")
        second = server.open_clients()[0]
        await second.send(trade(2))
        await wait_for(lambda: parser.stats()["records"]["trade"] == 2)
        stats = transport.stats()[0]
        await transport.close()
        await server.close()
        return first, second, stats, reconnected, server

    first, second, stats, reconnected, server = run(scenario())
    assert json.loads(second.received[0])["params"] == json.loads(first.received[0])["params"] == ["btcusdt@trade", "ethusdt@trade"]
    assert server.refused == 2
    assert stats["reconnects"] == 1 and stats["connect_errors"] == 2
    assert stats["frames"] == 4  # ack + trade on each connection
    assert reconnected == [("binance_spot", ["BTCUSDT", "ETHUSDT"])]


def test_backoff_is_capped_exponential_with_full_jitter():
    import random

    from marketprism_fast.transport.pacing import Backoff as B

    b = B(0.5, 30.0, random.Random(7))
    assert [b.ceiling(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    delays = [b.delay(10) for _ in range(2000)]
    assert 0 <= min(delays) < 1.0 and 29.0 < max(delays) <= 30.0


def test_watchdog_reconnects_a_silent_connection():
    async def scenario():
        server = await WsServer(binance_reply).start()
        config = VenueConfig(ws_url=server.url, symbols=["BTCUSDT"], kinds=["trade"], watchdog_seconds=0.3, reconnect=FAST)
        transport = VenueTransport("binance_spot", config, make_parser("binance_spot"))
        await transport.start()
        # the client counts a reconnect once its new connection is open, after the server
        # has accepted it: wait on the client's own counters
        await wait_for(lambda: transport.stats()[0]["reconnects"] >= 2, what="two watchdog reconnects")
        stats = transport.stats()[0]
        connects = server.connects
        await transport.close()
        await server.close()
        return stats, connects

    stats, connects = run(scenario())
    assert stats["watchdog_trips"] >= 2 and stats["reconnects"] >= 2
    assert connects >= 3


def test_streams_are_sharded_at_the_configured_limit():
    symbols = ["AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT", "EEEUSDT"]

    async def scenario():
        server = await WsServer(binance_reply).start()
        config = VenueConfig(ws_url=server.url, symbols=symbols, kinds=["trade", "quote"], streams_per_connection=4,
                             subscribe_messages_per_second=50.0, reconnect=FAST)
        transport = VenueTransport("binance_usdm", config, make_parser("binance_usdm"))
        await transport.start()
        await wait_for(lambda: len(server.open_clients()) == 3 and all(c.received for c in server.open_clients()), what="three shards")
        subs = sorted(json.loads(c.received[0])["params"] for c in server.open_clients())
        ids = [c["id"] for c in transport.stats()]
        await transport.close()
        await server.close()
        return subs, ids

    subs, ids = run(scenario())
    assert sorted(len(s) for s in subs) == [2, 4, 4]
    assert sorted(s for group in subs for s in group) == sorted(f"{x.lower()}@{k}" for x in symbols for k in ("trade", "bookTicker"))
    assert ids == ["binance_usdm.0", "binance_usdm.1", "binance_usdm.2"]


@pytest.mark.parametrize("implementation", ["compiled", "reference"])
def test_deribit_heartbeat_set_and_every_test_request_answered(implementation):
    test_request = '{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}'

    async def scenario():
        server = await WsServer(deribit_reply).start()
        parser = make_parser("deribit", implementation=implementation)
        config = VenueConfig(ws_url=server.url, symbols=["BTC-PERPETUAL"], kinds=["trade"], heartbeat_seconds=15, reconnect=FAST)
        transport = VenueTransport("deribit", config, parser)
        await transport.start()
        await wait_for(lambda: server.open_clients() and len(server.open_clients()[0].received) >= 2, what="heartbeat + subscribe")
        client = server.open_clients()[0]
        for _ in range(3):
            await client.send(test_request)
            await client.send('{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}')
        await wait_for(lambda: sum('"public/test"' in m for m in client.received) == 3, what="three public/test")
        stats = transport.stats()[0]
        await transport.close()
        await server.close()
        return client, stats, parser

    client, stats, parser = run(scenario())
    first, second = (json.loads(m) for m in client.received[:2])
    assert first["method"] == "public/set_heartbeat" and first["params"] == {"interval": 15}
    assert second["method"] == "public/subscribe" and second["params"] == {"channels": ["trades.BTC-PERPETUAL.raw"]}
    assert client.path == "/ws/api/v2"
    assert stats["test_requests"] == 3 and parser.stats()["test_requests"] == 3


@pytest.mark.parametrize("answers", [True, False])
def test_okx_pings_when_idle_and_reconnects_without_a_pong(answers):
    async def scenario():
        def replies(text):
            return okx_reply(text) if answers or text != "ping" else []

        server = await WsServer(replies).start()
        config = VenueConfig(ws_url=server.url, symbols=["BTC-USDT"], kinds=["trade"], heartbeat_seconds=2, watchdog_seconds=8.0,
                             reconnect=FAST)
        transport = VenueTransport("okx", config, make_parser("okx"))
        await transport.start()
        await wait_for(lambda: server.clients and server.clients[0].received.count("ping") >= (2 if answers else 1), what="idle pings")
        if answers:
            # the server has read the second ping; its pong reaches the client a moment later
            await wait_for(lambda: transport.stats()[0]["pongs"] >= 2, what="two pongs counted by the client")
        else:
            # counted by the client once its new connection is open (after the server accepted it)
            await wait_for(lambda: transport.stats()[0]["reconnects"] >= 1, what="a reconnect after the missing pong")
        stats = transport.stats()[0]
        await transport.close()
        await server.close()
        return server, stats

    server, stats = run(scenario())
    first = server.clients[0]
    assert json.loads(first.received[0]) == {"op": "subscribe", "args": [{"channel": "trades", "instId": "BTC-USDT"}]}
    assert first.path == "/ws/v5/public"
    if answers:
        assert server.connects == 1 and stats["reconnects"] == 0 and stats["pongs"] >= 2
    else:
        assert stats["reconnects"] >= 1 and stats["watchdog_trips"] == 0  # dropped for the missing pong


def test_connection_replaced_before_its_age_limit_without_loss_or_repeats():
    """Binance's 24 h limit, shortened: the server streams trades to every subscribed client;
    across two rollovers each trade id reaches the parser exactly once."""

    async def scenario():
        server = await WsServer(binance_reply).start()
        parser = make_parser("binance_spot")
        config = VenueConfig(ws_url=server.url, symbols=["BTCUSDT"], kinds=["trade"], max_connection_age_seconds=1.5,
                             subscribe_messages_per_second=50.0, reconnect=FAST)
        transport = VenueTransport("binance_spot", config, parser)
        await transport.start()
        stop = asyncio.Event()

        async def feed():
            i = 0
            while not stop.is_set():
                i += 1
                for c in server.open_clients():
                    if c.received:  # subscribed
                        try:
                            await c.send(trade(i))
                        except ConnectionResetError:
                            pass  # the replaced connection closed between the listing and the send
                await asyncio.sleep(0.002)
            return i

        feeder = asyncio.get_running_loop().create_task(feed())
        await wait_for(lambda: transport.stats()[0]["rollovers"] >= 2, timeout=20, what="two rollovers")
        await wait_for(lambda: parser.stats()["records"]["trade"] > 0)
        stop.set()
        await feeder
        await asyncio.sleep(0)
        stats = transport.stats()[0]
        await transport.close()
        await server.close()
        return parser, stats

    parser, stats = run(scenario())
    ids = [int(t) for b in parser.take() for t in b.column("trade_id")]
    assert stats["rollovers"] >= 2 and stats["reconnects"] == 0
    assert stats["duplicates_dropped"] > 0
    assert len(ids) == len(set(ids)), "a trade was fed twice"
    assert ids == list(range(ids[0], ids[0] + len(ids))), "a trade is missing or out of order"


def test_listener_modes_and_counters_without_a_socket():
    listener = _listener.FrameListener(make_parser("binance_spot"))
    assert listener.mode == _listener.FEED and listener.counters()["frames"] == 0
    assert listener.last_frame_ns == 0 and not listener.connected


@pytest.mark.parametrize("venue,symbols,expected", [
    ("okx", ["BTC-USDT", "ETH-USDT"], [{"op": "unsubscribe", "args": [{"channel": "books", "instId": "ETH-USDT"}]},
                                       {"op": "subscribe", "args": [{"channel": "books", "instId": "ETH-USDT"}]}]),
    ("deribit", ["BTC-PERPETUAL", "ETH-PERPETUAL"], [{"jsonrpc": "2.0", "id": 2, "method": "public/unsubscribe", "params": {"channels": ["book.ETH-PERPETUAL.raw"]}},
                                                     {"jsonrpc": "2.0", "id": 3, "method": "public/subscribe", "params": {"channels": ["book.ETH-PERPETUAL.raw"]}}]),
])
def test_book_stream_of_one_symbol_resubscribed(venue, symbols, expected):
    async def scenario():
        server = await WsServer(okx_reply if venue == "okx" else deribit_reply).start()
        config = VenueConfig(ws_url=server.url, symbols=symbols, kinds=["trade", "book_delta"], subscribe_messages_per_second=50.0,
                             heartbeat_seconds=20, reconnect=FAST)
        transport = VenueTransport(venue, config, make_parser(venue))
        await transport.start()
        initial = 1 if venue == "okx" else 2  # deribit: set_heartbeat, then subscribe
        await wait_for(lambda: transport.stats()[0]["state"] == "open" and len(server.open_clients()[0].received) == initial)
        before = initial
        done = await transport.resubscribe(["ETH-PERPETUAL" if venue == "deribit" else "ETH-USDT"])
        await wait_for(lambda: len(server.open_clients()[0].received) == before + 2, what="unsubscribe + subscribe")
        received = [json.loads(m) for m in server.open_clients()[0].received[before:]]
        stats = transport.stats()[0]
        await transport.close()
        await server.close()
        return done, received, stats

    done, received, stats = run(scenario())
    assert done == 1 and stats["resubscriptions"] == 1 and stats["reconnects"] == 0
    assert received == expected


def test_connection_attempts_are_rate_limited():
    """A bucket of 2 with 20 refills per second: 6 attempts in a row wait at least 4 times and
    take at least 0.2 s (the rate, not a speed target)."""
    import time

    from marketprism_fast.transport.pacing import TokenBucket

    async def scenario():
        bucket = TokenBucket(20.0, 2.0)
        t0 = time.monotonic()
        for _ in range(6):
            await bucket.acquire()
        return bucket.waited, time.monotonic() - t0

    waited, elapsed = run(scenario())
    assert waited >= 1 and elapsed >= 0.2 - 0.01


def test_a_fragmented_message_is_joined_before_parsing():
    from .wsserver import RawWsServer, ws_frame

    whole = trade(42).encode()
    script = ws_frame(whole[:30], 0x1, fin=False) + ws_frame(b"hi", 0x9) + ws_frame(whole[30:70], 0x0, fin=False) \
        + ws_frame(whole[70:], 0x0, fin=True) + ws_frame(trade(43).encode())

    async def scenario():
        server = await RawWsServer(script).start()
        parser = make_parser("binance_spot")
        transport = VenueTransport("binance_spot", VenueConfig(ws_url=server.url, symbols=["BTCUSDT"], kinds=["trade"], reconnect=FAST), parser)
        await transport.start()
        await wait_for(lambda: parser.stats()["records"]["trade"] == 2, what="both trades")
        stats = transport.stats()[0]
        await transport.close()
        await server.close()
        return parser, stats

    parser, stats = run(scenario())
    assert [int(t) for b in parser.take() for t in b.column("trade_id")] == [42, 43]
    assert stats["frames"] == 2 and stats["fragmented"] == 1 and stats["pings"] == 1 and parser.stats()["malformed"] == 0
