"""Recording: what the venues send, written in the corpus layout over real loopback sockets."""

from __future__ import annotations

import asyncio

import orjson

from marketprism_fast.config import Backoff, Config, VenueConfig
from marketprism_fast.parser import make_parser
from marketprism_fast.transport.recorder import record

from .wsserver import HttpServer, WsServer, binance_reply, wait_for

FAST = Backoff(initial_seconds=0.02, max_seconds=0.1)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def ok(body: bytes) -> tuple:
    return (200, {"Content-Type": "application/json"}, body)


def test_record_writes_the_corpus_layout(tmp_path):
    snapshot = b'{"lastUpdateId":7,"bids":[["1.0","2.0"]],"asks":[["1.5","3.0"]]}'
    frames = [b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":8,"u":8,"b":[["1.0","0"]],"a":[]}}',
              b'{"stream":"btcusdt@trade","data":{"e":"trade","E":2,"s":"BTCUSDT","t":1,"p":"1.2","q":"1","T":2,"m":true,"M":true}}']

    async def scenario():
        ws = await WsServer(binance_reply).start()
        http = await HttpServer().start()
        http.scripts["/api/v3/depth"] = [ok(snapshot)]
        http.scripts["/api/v3/exchangeInfo"] = [ok(b'{"symbols":[{"symbol":"BTCUSDT","baseAsset":"BTC","quoteAsset":"USDT"}]}')]
        config = Config(venues={"binance_spot": VenueConfig(ws_url=ws.url, rest_url=http.url, symbols=["BTCUSDT"],
                                                             kinds=["trade", "book_delta"], reconnect=FAST)})
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(record(config, tmp_path, stop=stop))
        await wait_for(lambda: ws.open_clients() and ws.open_clients()[0].received and len(http.hits) == 2, what="subscribed")
        for f in frames:
            await ws.open_clients()[0].send(f)
        files = lambda: list((tmp_path / "binance_spot").glob("*.frames.jsonl"))  # noqa: E731
        await wait_for(lambda: files() and files()[0].stat().st_size > 0 and len(files()[0].read_bytes().splitlines()) == 3,
                       what="frames on disk")
        stop.set()
        summary = await task
        await ws.close()
        await http.close()
        return summary

    summary = run(scenario())
    prefix = summary["binance_spot"]["prefix"]
    lines = open(prefix + ".frames.jsonl", "rb").read().splitlines()
    assert lines == [b'{"result": null, "id": 1}', *frames]
    meta = [line.split("\t") for line in open(prefix + ".frames.meta.tsv").read().splitlines()]
    assert [m[1] for m in meta] == ["binance_spot.0"] * 3 and all(float(m[0]) > 1.6e9 for m in meta)
    assert open(prefix + ".snapshots.jsonl", "rb").read() == snapshot + b"\n"
    assert open(prefix + ".snapshots.meta.tsv").read().split("\t")[1].strip().endswith("/api/v3/depth?symbol=BTCUSDT&limit=1000")
    ref = [orjson.loads(x) for x in open(prefix + ".refdata.jsonl", "rb")]
    assert ref[0]["url"].endswith("/api/v3/exchangeInfo") and orjson.loads(ref[0]["body"])["symbols"][0]["symbol"] == "BTCUSDT"
    sent = [orjson.loads(x) for x in open(prefix + ".sent.jsonl", "rb")]
    assert [s["kind"] for s in sent] == ["connect", "send"]
    assert orjson.loads(sent[1]["payload"])["params"] == ["btcusdt@trade", "btcusdt@depth@100ms"]
    session = orjson.loads(open(prefix + ".session.json", "rb").read())
    assert session["frames"] == 3 and session["rest_bodies"] == 2
    # the recording parses like a corpus capture
    parser = make_parser("binance_spot")
    for line in lines:
        parser.feed(line, 0)
    assert parser.stats()["records"]["trade"] == 1 and parser.stats()["records"]["book_delta"] == 1
