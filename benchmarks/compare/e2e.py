"""End to end, and under injected faults: the venue simulator over loopback WebSocket into
ClickHouse + NATS JetStream + Redis, for one contender per process.

    python benchmarks/compare/e2e.py '{"contender": "new", "mode": "throughput", "seconds": 10}'
    python benchmarks/compare/e2e.py '{"contender": "legacy", "mode": "faults", "seconds": 12, "rate": 1500}'
    python benchmarks/compare/e2e.py '{"contender": "cryptofeed", "mode": "throughput", "seconds": 10}'

This process starts private servers (``tests/servers.py``: its own ClickHouse, ``nats-server
-js`` and ``redis-server`` on free loopback ports), runs the simulator (``marketprism_fast.sim``,
binance_usdm: trade, bookTicker and depth@100ms of two symbols) in its own event loop, and the
contender as a child process:

* ``new``: the node, ``python -m marketprism_fast run --config FILE`` (all three sinks);
* ``legacy``: the old design, ``benchmarks/legacy/collector.py`` on the same streams;
* ``cryptofeed``: its own FeedHandler and BinanceFutures feed, pointed at the simulator
  (``benchmarks/contenders/cryptofeed_live.py``). It has no ClickHouse backend, so no servers
  are started for it: its callbacks count records (and keep their keys under faults), and
  its rate is WS + decode + callback, written nowhere. Its TRADES channel is Binance's
  ``aggTrade`` stream (cryptofeed reads no ``trade`` events), so the simulator sends it
  aggTrade frames where the others get trade frames; bookTicker and depth@100ms are the same.

``throughput``: the simulator generates as fast as the client reads for ``seconds``, then
stops; the contender gets SIGTERM and drains. Rate = rows in ClickHouse / (feed start ->
contender exit), so writing is included (cryptofeed: records its callbacks got over the same
span). The contender's RSS is sampled every 0.2 s.

``faults``: a paced feed (``rate`` frames/s, which both contenders keep up with) and, at fixed
times: malformed frames injected, every connection dropped without a close frame, ClickHouse
stopped for 3 s, NATS stopped for 3 s. Every data frame written to a connection is kept
by the simulator; trades (symbol, trade id) and quotes (symbol, update id) sent are then
compared key by key with the rows in ClickHouse (cryptofeed: with the keys its callbacks
got; the sink outages do not apply to it): lost = sent and absent, duplicated = rows beyond
one per key. Prints one JSON line; ``skipped`` with the reason when cryptofeed is not
importable.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from tests import servers  # noqa: E402

VENUE = "binance_usdm"
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
# Throughput: trades and quotes (their frames can repeat, see ``Pump``); under faults the
# paced generator's depth stream too.
KINDS = {"throughput": ["trade", "quote"], "faults": ["trade", "quote", "book_delta"]}
POOL_FRAMES = 60_000
PUMP_BATCH = 1024
# The streams the node subscribes to for these kinds (venues/binance/protocol.py, depth at
# 100 ms); the old collector is given the same ones in its combined-stream URL.
STREAM_SUFFIXES = {"trade": "@trade", "quote": "@bookTicker", "book_delta": "@depth@100ms"}
# cryptofeed's own channel per kind, and the stream it subscribes to where it differs
# (contenders/cryptofeed_live.py: TRADES is aggTrade on Binance).
CRYPTOFEED_CHANNELS = {"trade": "trades", "quote": "ticker", "book_delta": "l2_book"}
CONTENDER_SUFFIXES = {"cryptofeed": {"trade": "@aggTrade"}}
# Contenders that write into the servers (and are counted by their rows); the others only count.
SINK_CONTENDERS = ("new", "legacy")
SAMPLE_INTERVAL_S = 0.2
SUBSCRIBE_TIMEOUT_S = 90.0
EXIT_TIMEOUT_S = 180.0
OUTAGE_S = 3.0


def expected_streams(mode: str, contender: str = "new") -> list[str]:
    suffixes = {**STREAM_SUFFIXES, **CONTENDER_SUFFIXES.get(contender, {})}
    return [f"{s.lower()}{suffixes[k]}" for s in SYMBOLS for k in KINDS[mode]]


def unavailable(contender: str) -> str | None:
    """Why a contender cannot run here (None: it can)."""
    if contender != "cryptofeed":
        return None
    try:
        importlib.import_module("cryptofeed.exchanges.binance_futures")
    except Exception as exc:  # ImportError, or a broken build of its compiled parts
        return f"cryptofeed is not importable ({type(exc).__name__}: {exc}; pip install '.[bench]'); skipped"
    return None


class Pump:
    """The simulator's frames at the rate the client reads them, without the generator's
    per-frame cost in the timed window: ``POOL_FRAMES`` frames made by the simulator's own
    generator for the subscribed streams beforehand, then sent over and over through the
    simulator (``publish_many``: its routing, framing and flow control). Trade ids and quote
    update ids repeat from one round to the next; nothing here counts rows by key."""

    def __init__(self, server, generator) -> None:
        keys = server.subscribed_keys()
        self.items = []
        for i in range(POOL_FRAMES):
            made = generator.frame(keys[i % len(keys)])
            if made is not None:
                self.items.append((keys[i % len(keys)], made[0], made[1], -1))
        self.server = server
        self.running = False

    async def run(self) -> None:
        server, items, i = self.server, self.items, 0
        self.running = True
        while self.running:
            try:  # never write past the client's flow control; look at ``running`` meanwhile
                await asyncio.wait_for(server.drain(), 0.05)
            except asyncio.TimeoutError:
                continue
            server.publish_many(items[i : i + PUMP_BATCH])
            i = (i + PUMP_BATCH) % len(items)
            await asyncio.sleep(0)


def rss_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cpu_seconds_of(pid: int) -> float | None:
    """User + system CPU time of a running process (``/proc/PID/stat``)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def node_config(path: Path, mode: str, sim_ws: str, sim_rest: str, ch, nats, redis, http_port: int) -> Path:
    config = {
        "node": {"name": "bench", "flush_interval_seconds": 0.5},
        "venues": {VENUE: {"ws_url": sim_ws, "rest_url": sim_rest, "symbols": SYMBOLS, "kinds": KINDS[mode],
                           "depth_interval_ms": 100, "book": {"enabled": False}}},
        "sinks": {
            "clickhouse": {"enabled": True, "url": ch.native_url, "database": "new",
                           "spool": {"directory": str(path.parent / "spool-ch")}},
            "nats": {"enabled": True, "url": nats.url, "spool": {"directory": str(path.parent / "spool-nats")}},
            "redis": {"enabled": True, "url": redis.url},
        },
        "http": {"enabled": True, "host": "127.0.0.1", "port": http_port},
        "logging": {"level": "WARNING"},
    }
    path.write_text(json.dumps(config, indent=1))  # JSON is YAML
    return path


def start_contender(name: str, mode: str, tmp: Path, sim, ch, nats, redis) -> tuple[subprocess.Popen, int | None]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = (tmp / f"{name}.log").open("wb")
    if name == "new":
        http_port = servers.free_loopback_ports(1)[0]
        config = node_config(tmp / "node.yaml", mode, sim.ws_url(VENUE), sim.rest_url(VENUE), ch, nats, redis, http_port)
        command = [sys.executable, "-m", "marketprism_fast", "run", "--config", str(config)]
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT), http_port
    if name == "legacy":
        url = f"{sim.ws_url(VENUE)}/stream?streams={'/'.join(expected_streams(mode))}"
        command = [sys.executable, str(REPO / "benchmarks" / "legacy" / "collector.py"), "--ws-url", url, "--venue", VENUE,
                   "--nats", nats.url, "--clickhouse", ch.native_url.removeprefix("clickhouse://"), "--database", "legacy",
                   "--redis", redis.url, "--create-tables", "--seconds", "0"]
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log), None
    if name == "cryptofeed":
        channels = ",".join(CRYPTOFEED_CHANNELS[k] for k in KINDS[mode])
        command = [sys.executable, str(REPO / "benchmarks" / "contenders" / "cryptofeed_live.py"), "--ws-url", sim.ws_url(VENUE),
                   "--rest-url", sim.rest_url(VENUE), "--symbols", ",".join(SYMBOLS), "--channels", channels]
        if mode == "faults":
            command += ["--keys", str(tmp / "cryptofeed-keys.json")]
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log), None
    raise SystemExit(f"unknown e2e contender {name!r}")


def node_status(port: int | None) -> dict:
    if port is None:
        return {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
            return json.loads(r.read())
    except OSError:
        return {}


async def wait_for(condition, timeout: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise RuntimeError(f"the contender exited (status {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


async def fault_script(sim, ch, nats, events: list, t0: float, seconds: float) -> None:
    """The same faults at the same moments for every contender (fractions of the window);
    ``ch`` and ``nats`` are None for a contender without sinks (no outage applies to it)."""
    faults = sim.faults(VENUE)
    loop = asyncio.get_running_loop()

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, t0 + fraction * seconds - time.monotonic()))

    await at(0.10)
    for _ in range(5):
        faults.inject_malformed()
    faults.corrupt(3, "truncate")
    events.append((time.monotonic() - t0, "5 malformed frames injected, 3 data frames truncated"))
    await at(0.25)
    faults.disconnect()
    events.append((time.monotonic() - t0, "every connection dropped (no close frame)"))
    if ch is None or nats is None:
        events.append((time.monotonic() - t0, "no sink: the ClickHouse and NATS outages do not apply"))
        return
    await at(0.45)
    events.append((time.monotonic() - t0, f"ClickHouse stopped for {OUTAGE_S:.0f} s"))
    await loop.run_in_executor(None, ch.stop)
    await asyncio.sleep(OUTAGE_S)
    await loop.run_in_executor(None, ch.start)
    events.append((time.monotonic() - t0, "ClickHouse back"))
    await at(0.70)
    events.append((time.monotonic() - t0, f"NATS stopped for {OUTAGE_S:.0f} s"))
    await loop.run_in_executor(None, nats.stop)
    await asyncio.sleep(OUTAGE_S)
    await loop.run_in_executor(None, nats.start)
    events.append((time.monotonic() - t0, "NATS back"))


def sent_keys(sent_log: list) -> dict[str, set]:
    """Keys of the records the sent frames hold: trades (symbol, trade id), quotes (symbol,
    update id), book deltas (symbol, update id, side, price): one row per key on each path."""
    keys: dict[str, set] = {"trade": set(), "quote": set(), "book_delta": set()}
    for _key, kind, frame in sent_log:
        if kind not in keys:
            continue
        try:
            message = orjson.loads(frame)
        except orjson.JSONDecodeError:
            continue  # a frame corrupted on purpose: no record can come of it
        event = message.get("data", message)
        if kind == "trade":
            # a trade event's id is "t"; an aggTrade's (cryptofeed's trade stream) is its own id "a"
            keys["trade"].add((event["s"], str(event["a"] if event.get("e") == "aggTrade" else event["t"])))
        elif kind == "quote":
            keys["quote"].add((event["s"], int(event["u"])))
        else:
            for side, levels in ((1, event["b"]), (-1, event["a"])):
                for price, _amount in levels:
                    keys["book_delta"].add((event["s"], int(event["u"]), side, float(price)))
    return keys


def stored_keys(ch, database: str) -> dict[str, list]:
    server = ch.server
    out = {}
    queries = {
        "trade": (f"SELECT raw_symbol, trade_id FROM {database}.trades", lambda r: (r["raw_symbol"], str(r["trade_id"]))),
        "quote": (f"SELECT raw_symbol, update_id FROM {database}.quotes", lambda r: (r["raw_symbol"], int(r["update_id"]))),
        "book_delta": (f"SELECT raw_symbol, update_id, side, price FROM {database}.book_deltas",
                       lambda r: (r["raw_symbol"], int(r["update_id"]), int(r["side"]), float(r["price"]))),
    }
    for kind, (sql, key) in queries.items():
        try:
            rows = server.rows(sql)
        except servers.ServerError:
            rows = []
        out[kind] = [key(r) for r in rows]
    return out


def callback_keys(path: Path) -> dict[str, list]:
    """The keys cryptofeed's callbacks got (``cryptofeed_live.py --keys``), in ``sent_keys``' form."""
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        kept = {}
    return {
        "trade": [(s, str(i)) for s, i in kept.get("trade", [])],
        "quote": [(s, int(u)) for s, u in kept.get("quote", [])],
        "book_delta": [(s, int(u), int(side), float(p)) for s, u, side, p in kept.get("book_delta", [])],
    }


def table_rows(ch, database: str) -> dict[str, int]:
    out = {}
    for table in ("trades", "quotes", "book_deltas"):
        try:
            out[table] = int(ch.server.query(f"SELECT count() FROM {database}.{table}").strip() or 0)
        except servers.ServerError:
            out[table] = 0
    return out


async def run(case: dict) -> dict:
    from marketprism_fast.sim.simulator import Simulator

    name, mode, seconds = case["contender"], case["mode"], float(case.get("seconds", 10))
    reason = unavailable(name)
    if reason:
        return {"status": "skipped", "reason": reason}
    database = "new" if name == "new" else "legacy"
    sinks = name in SINK_CONTENDERS
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="mpf-compare-") as tmpdir:
        tmp = Path(tmpdir)
        ch = nats = redis = None
        if sinks:
            ch = stack.enter_context(servers.managed(servers.ManagedClickHouse, all_cpus=True))
            nats = stack.enter_context(servers.managed(servers.ManagedNats, all_cpus=True))
            redis = stack.enter_context(servers.managed(servers.ManagedRedis, all_cpus=True))
        async with Simulator([VENUE]) as sim:
            server = sim.server(VENUE)
            server.keep_sent = mode == "faults"
            generator = sim.generate(VENUE, rate=float(case.get("rate", 1000)), symbols=SYMBOLS)
            generator.pause()
            proc, http_port = start_contender(name, mode, tmp, sim, ch, nats, redis)
            pump = pumping = None
            try:
                wanted = set(expected_streams(mode, name))
                await wait_for(lambda: wanted <= set(server.subscribed_keys()), SUBSCRIBE_TIMEOUT_S, "its subscriptions", proc)
                if name == "new":
                    await wait_for(lambda: bool(node_status(http_port).get("sinks")), 30.0, "the node's /status", proc)
                await asyncio.sleep(0.5)  # the node's depth snapshots and the old collector's table setup
                samples: list[tuple[float, int]] = []
                cpu = [cpu_seconds_of(proc.pid) or 0.0, 0.0]  # at the feed's start, the last reading
                events: list[tuple[float, str]] = []
                if mode == "throughput":
                    pump = Pump(server, generator)
                t0 = time.monotonic()
                if pump is not None:
                    pumping = asyncio.create_task(pump.run())
                else:
                    generator.resume()

                async def sample() -> None:
                    while True:
                        rss, used = rss_of(proc.pid), cpu_seconds_of(proc.pid)
                        if rss is not None:
                            samples.append((time.monotonic() - t0, rss))
                        if used is not None:
                            cpu[1] = used
                        await asyncio.sleep(SAMPLE_INTERVAL_S)

                unsubscribed = [0.0]

                async def watch_subscriptions() -> None:
                    """Feed time with some wanted stream not subscribed: the contender reconnecting.
                    Frames published then reach no connection and are not counted as sent."""
                    last = time.monotonic()
                    while True:
                        await asyncio.sleep(0.01)
                        now = time.monotonic()
                        if not wanted <= set(server.subscribed_keys()):
                            unsubscribed[0] += now - last
                        last = now

                sampler = asyncio.create_task(sample())
                script = watcher = None
                if mode == "faults":
                    script = asyncio.create_task(fault_script(sim, ch, nats, events, t0, seconds))
                    watcher = asyncio.create_task(watch_subscriptions())
                await asyncio.sleep(seconds)
                if script is not None:
                    await script
                generator.pause()
                if pump is not None:
                    pump.running = False
                    await pumping
                t_feed_end = time.monotonic() - t0
                if watcher is not None:
                    watcher.cancel()
                if mode == "faults":  # every frame sent is read before the stop
                    await asyncio.sleep(2.0)
                status = node_status(http_port)
                proc.send_signal(signal.SIGTERM)
                deadline = time.monotonic() + EXIT_TIMEOUT_S
                while proc.poll() is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                t_exit = time.monotonic() - t0
                sampler.cancel()
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            counters = {}
            if name in ("legacy", "cryptofeed") and proc.stdout is not None:
                lines = proc.stdout.read().decode().strip().splitlines()
                try:
                    counters = json.loads(lines[-1]) if lines else {}
                except ValueError:  # it ended without its counters: the exit status and log say why
                    counters = {}
            elif status:
                venue = status.get("venues", {}).get(VENUE, {})
                counters = {
                    "frames": sum(c.get("frames", 0) for c in venue.get("connections", [])),
                    "reconnects": sum(c.get("reconnects", 0) for c in venue.get("connections", [])),
                    "parser": {k: v for k, v in venue.get("parser", {}).items() if isinstance(v, (int, float, dict))},
                    "sinks": {k: {f: s.get(f) for f in ("errors", "dropped_batches", "batches_written", "rows_written")}
                              for k, s in status.get("sinks", {}).items()},
                }
            sent = server.sent()
            result = {
                "status": "ok", "exit_status": proc.returncode, "seconds": seconds, "feed_seconds": t_feed_end,
                "run_seconds": t_exit, "frames_sent": sent["deliveries"], "counters": counters, "sink": sinks,
                "rows": table_rows(ch, database) if sinks else {}, "rss_samples": samples, "events": events,
                "peak_rss_bytes": max((r for _, r in samples), default=0),
                # the simulator's side: WS connections the contender opened, REST calls it made
                "sim_connections": len(sent["connections"]), "rest_requests": sent["rest"],
                "log_tail": (tmp / f"{name}.log").read_text(errors="replace")[-600:] if proc.returncode else "",
            }
            # CPU the contender used from the feed's start to its last sample (~0.2 s before it exited)
            result["cpu_seconds"] = max(0.0, cpu[1] - cpu[0])
            if sinks:
                rows = sum(result["rows"].values())
                result["rows_per_s"] = rows / t_exit if t_exit else 0.0
                result["cpu_us_per_row"] = result["cpu_seconds"] / rows * 1e6 if rows else None
            else:  # no sink: records handed to its callbacks over the same span, written nowhere
                result["records"] = dict(counters.get("records", {}))
                records = sum(result["records"].values())
                result["rows_per_s"] = result["cpu_us_per_row"] = None
                result["records_per_s"] = records / t_exit if t_exit else 0.0
                result["cpu_us_per_record"] = result["cpu_seconds"] / records * 1e6 if records else None
            frames = counters.get("frames") or 0
            result["frames_per_s"] = frames / t_exit if t_exit else 0.0
            if mode == "faults":
                expected = sent_keys(server.sent_log)
                stored = stored_keys(ch, database) if sinks else callback_keys(tmp / "cryptofeed-keys.json")
                faults = {}
                for kind in ("trade", "quote", "book_delta"):
                    have = stored[kind]
                    distinct = set(have)
                    faults[kind] = {"sent": len(expected[kind]), "stored_rows": len(have),
                                    "lost": len(expected[kind] - distinct), "duplicated": len(have) - len(distinct),
                                    "unexpected": len(distinct - expected[kind])}
                result["faults"] = faults
                result["unsubscribed_seconds"] = unsubscribed[0]
                result["fault_counts"] = sent.get("faults", {})
            return result


def main() -> int:
    case = json.loads(sys.argv[1])
    try:
        result = asyncio.run(run(case))
    except (RuntimeError, servers.ServerError, OSError) as exc:
        result = {"status": "failed", "reason": " ".join(str(exc).split())[:500]}
    print(json.dumps({**case, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
