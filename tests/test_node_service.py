"""The running node over real HTTP: /health, /status, /metrics against the venue simulator
(every venue, real WebSockets on loopback); every documented metric family in a scrape;
``promtool check metrics``; the unhealthy verdict; SIGTERM drains to the sink and exits 0."""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from marketprism_fast.config import config_from_data
from marketprism_fast.records import VENUES
from marketprism_fast.service import health
from marketprism_fast.service.metrics import FAMILIES
from marketprism_fast.service.node import Node

from .helpers import REPO, until as wait_until
from .servers import free_loopback_ports

generate = pytest.importorskip("marketprism_fast.sim.generate", reason="the simulator's generator (sim/generate.py) is not in this tree")
from marketprism_fast.sim.simulator import Simulator  # noqa: E402

SECRET = "hunter2-not-for-status"
DEADLINE = 60.0


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


async def until(predicate, what: str, timeout: float = DEADLINE):
    return await wait_until(predicate, what, timeout, 0.05)


def free_port() -> int:
    (port,) = free_loopback_ports(1)
    return port


def http_get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


async def aget(url: str) -> tuple[int, str, str]:
    return await asyncio.get_running_loop().run_in_executor(None, http_get, url)


def venue_sections(sim, kinds_of) -> dict:
    return {
        v: {"symbols": generate.DEFAULT_SYMBOLS[v][:2], "kinds": kinds_of(v), "ws_url": sim.ws_url(v), "rest_url": sim.rest_url(v)}
        for v in VENUES
    }


def kinds_of(venue: str) -> list[str]:
    from marketprism_fast.service.demo import demo_kinds

    return demo_kinds(venue, generate.DEFAULT_SYMBOLS[venue][0])


def test_health_status_metrics_over_http(tmp_path):
    redis_port = free_port()  # nothing listens there: the redis sink is down, the node degraded

    async def scenario():
        async with Simulator(VENUES) as sim:
            for v in VENUES:
                sim.generate(v, rate=500)
            data = {
                "node": {"flush_interval_seconds": 0.2},
                "http": {"port": 0},
                "venues": venue_sections(sim, kinds_of),
                "sinks": {
                    "jsonl": {"enabled": True, "path": str(tmp_path / "records.jsonl")},
                    "redis": {"enabled": True, "url": f"redis://127.0.0.1:{redis_port}/0", "password_env": "MPF_TEST_REDIS_PASSWORD"},
                },
            }
            env = {"MPF_TEST_REDIS_PASSWORD": SECRET}
            os.environ.update(env)
            try:
                config = config_from_data(data, env)
                node = Node(config)
                await node.start()
                try:
                    base = node.http.url
                    assert node.http.config.host == "127.0.0.1"

                    def all_flowing():
                        st = node.status()
                        return all(sum(v["parser"]["records"].values()) > 0 for v in st["venues"].values()) and (
                            st["sinks"]["jsonl"]["batches_written"] > 0
                        )

                    await until(all_flowing, "records from every venue written to the jsonl sink")
                    # parse time is sampled (one fed frame in 64 timed): wait for a few samples per connection
                    await until(
                        lambda: all(c["frames"] >= 256 for v in node.status()["venues"].values() for c in v["connections"]),
                        "256 frames on every connection",
                    )
                    # every configured symbol has produced: a finite age each (NaN before the first record)
                    await until(
                        lambda: all(
                            math.isfinite(a["last_record_age_seconds"]) for v in node.status()["venues"].values() for a in v["symbols"].values()
                        ),
                        "a record from every configured symbol",
                    )

                    code, ctype, body = await aget(base + "/status")
                    assert code == 200 and ctype.startswith("application/json")
                    status = json.loads(body)
                    assert status["config_digest"] == config.digest()
                    assert status["version"] and status["uptime_seconds"] > 0
                    assert set(status["venues"]) == set(VENUES)
                    for venue, v in status["venues"].items():
                        assert v["connections"], venue
                        for c in v["connections"]:
                            assert c["state"] == "open" and c["subscriptions"] and c["frames"] > 0, (venue, c)
                            assert c["url"].startswith("ws://127.0.0.1:")
                        assert v["parser"]["frames"] > 0 and v["parser"]["malformed"] == 0
                        assert set(v["symbols"]) == set(config.venues[venue].symbols)
                        assert all(0 <= a["last_record_age_seconds"] < 60 for a in v["symbols"].values()), (venue, v["symbols"])
                        assert 0 < v["parser"]["parse_seconds"] < status["process"]["cpu_seconds"], venue
                    jsonl = status["sinks"]["jsonl"]
                    assert jsonl["state"] == "ok" and sum(jsonl["rows_written"].values()) > 0
                    assert status["sinks"]["redis"]["state"] in ("down", "degraded")
                    assert status["process"]["rss_bytes"] > 10_000_000 and status["process"]["cpu_seconds"] > 0

                    code, ctype, body = await aget(base + "/health")
                    verdict = json.loads(body)
                    assert code == 200, verdict
                    assert verdict["status"] == "degraded"  # the redis sink is down, the rest works
                    assert verdict["checks"]["sink:redis"]["state"] != "ok"
                    assert verdict["checks"]["sink:jsonl"]["state"] == "ok"
                    assert {f"venue:{v}" for v in VENUES} <= set(verdict["checks"])

                    code, ctype, text = await aget(base + "/metrics")
                    assert code == 200 and ctype.startswith("text/plain")
                    for family in FAMILIES:
                        assert f"# TYPE {family.exposed} {family.type}" in text, family.exposed
                    frames = sum(v["parser"]["frames"] for v in status["venues"].values())
                    scraped = sum(
                        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("marketprism_frames_total{")
                    )
                    assert scraped >= frames  # counters only grow between the two reads
                    parse_lines = [line for line in text.splitlines() if line.startswith("marketprism_parse_seconds_total{")]
                    assert len(parse_lines) == len(VENUES) and all(float(line.rsplit(" ", 1)[1]) > 0 for line in parse_lines)
                    for v in VENUES:
                        assert f'marketprism_connection_state{{connection="{v}.0",state="open",venue="{v}"}} 1.0' in text
                    assert 'marketprism_sink_state{sink="redis",state="ok"} 0.0' in text
                    assert SECRET not in body and SECRET not in text and SECRET not in json.dumps(status)
                    (tmp_path / "scrape.txt").write_text(text)
                finally:
                    assert await node.stop()
            finally:
                for k in env:
                    os.environ.pop(k, None)

    run(scenario())
    if shutil.which("promtool") is None:
        pytest.fail("promtool is missing (Debian package prometheus; scripts/setup.sh installs it)")
    check = subprocess.run(["promtool", "check", "metrics"], input=(tmp_path / "scrape.txt").read_bytes(), capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_health_is_503_when_no_venue_is_connected(tmp_path):
    dead = free_port()

    async def scenario():
        data = {
            "http": {"port": 0},
            "venues": {"okx": {"symbols": ["BTC-USDT"], "ws_url": f"ws://127.0.0.1:{dead}", "reconnect": {"initial_seconds": 0.05, "max_seconds": 0.1}}},
            "sinks": {"null": {"enabled": True}},
        }
        node = Node(config_from_data(data, {}))
        node.start_grace_seconds = 0.0
        await node.start()
        try:
            code, _, body = await aget(node.http.url + "/health")
            verdict = json.loads(body)
            assert code == 503, verdict
            assert verdict["status"] == "unhealthy"
            assert verdict["reasons"] == ["no venue is connected"]
            assert verdict["checks"]["venue:okx"]["state"] == "down"
            assert verdict["checks"]["sink:null"]["state"] == "ok"
        finally:
            await node.stop()

    run(scenario())


def test_health_rules():
    open_ = {"id": "a", "state": "open", "last_frame_age_seconds": 0.1}
    sink_ok = {"state": "ok", "detail": ""}
    ok = health.evaluate({"venues": {"okx": {"connections": [open_]}}, "sinks": {"null": sink_ok}})
    assert ok["status"] == "healthy" and ok["reasons"] == []
    stale = health.evaluate({"venues": {"okx": {"connections": [{**open_, "last_frame_age_seconds": 99}]}}, "sinks": {"null": sink_ok}}, watchdog_seconds={"okx": 30})
    assert stale["status"] == "degraded" and "silent longer than 30s: a" in stale["checks"]["venue:okx"]["detail"]
    half = health.evaluate({"venues": {"okx": {"connections": [open_, {"id": "b", "state": "backoff"}]}, "deribit": {"connections": [{"id": "c", "state": "closed"}]}}, "sinks": {"null": sink_ok}})
    assert half["status"] == "degraded"
    assert half["checks"]["venue:deribit"]["state"] == "down"
    no_sink = health.evaluate({"venues": {"okx": {"connections": [open_]}}, "sinks": {"nats": {"state": "down", "detail": "connection refused"}}})
    assert no_sink["status"] == "unhealthy" and no_sink["reasons"] == ["no sink can be written"]
    starting = health.evaluate({"venues": {"okx": {"connections": [{"id": "a", "state": "connecting"}]}}, "sinks": {"null": sink_ok}}, starting=True)
    assert starting["status"] == "degraded"
    books = health.evaluate({"venues": {"okx": {"connections": [open_], "books": {"out_of_sync": ["BTC-USDT"]}}}, "sinks": {"null": sink_ok}})
    assert books["status"] == "degraded" and "books out of sync: 1" in books["checks"]["venue:okx"]["detail"]


class SimThread:
    """The simulator on its own event loop in a thread, for a node in a subprocess."""

    def __init__(self, venues, rate: float) -> None:
        self.venues, self.rate = list(venues), rate
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.sim: Simulator | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.sim = Simulator(self.venues)

        async def start() -> None:
            await self.sim.start()
            for v in self.venues:
                self.sim.generate(v, rate=self.rate)

        self.loop.run_until_complete(start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.sim.stop())

    def __enter__(self) -> Simulator:
        self.thread.start()
        assert self.ready.wait(30), "simulator did not start"
        assert self.sim is not None
        return self.sim

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


def test_sigterm_drains_buffers_to_the_sink_and_exits_0(tmp_path):
    port = free_port()
    out = tmp_path / "records.jsonl"
    with SimThread(["binance_spot", "okx"], rate=2000) as sim:
        config = {
            # a long flush interval and big batches: at SIGTERM everything is still in the buffers
            "node": {"flush_interval_seconds": 60, "batch_rows": 10_000_000, "shutdown_timeout_seconds": 15},
            "http": {"port": port},
            "logging": {"format": "json"},
            "venues": {
                "binance_spot": {"symbols": ["BTCUSDT", "ETHUSDT"], "kinds": ["trade", "quote"], "ws_url": sim.ws_url("binance_spot")},
                "okx": {"symbols": ["BTC-USDT"], "kinds": ["trade", "book_delta", "book_snapshot"], "ws_url": sim.ws_url("okx")},
            },
            "sinks": {"jsonl": {"enabled": True, "path": str(out)}},
        }
        path = tmp_path / "node.yaml"
        path.write_text(json.dumps(config))  # JSON is YAML
        env = {k: v for k, v in os.environ.items() if not (k.startswith("MPF_") and "__" in k)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "marketprism_fast", "run", "--config", str(path)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            deadline = time.monotonic() + DEADLINE
            while True:
                assert proc.poll() is None, proc.communicate()
                try:
                    status = json.loads(http_get(f"http://127.0.0.1:{port}/status")[2])
                    frames = sum(v["parser"]["frames"] for v in status["venues"].values())
                    spot, okx = (status["venues"][v]["parser"]["records"] for v in ("binance_spot", "okx"))
                    if frames > 2000 and spot["trade"] and spot["quote"] and okx["trade"] and okx["book_delta"]:
                        break
                except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
                    pass
                assert time.monotonic() < deadline, "the node never received 2000 frames of every subscribed kind"
                time.sleep(0.1)
            assert status["sinks"]["jsonl"]["batches_written"] == 0  # all of it still buffered
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, stderr
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert len(events) == len(stderr.splitlines()), stderr  # every log line is JSON
    stopped = [e for e in events if e.get("event") == "stopped"]
    assert len(stopped) == 1, stderr
    taken = stopped[0]["rows_taken"]
    assert taken > 2000 and stopped[0]["drained"] is True
    lines = out.read_text().splitlines()
    assert len(lines) == taken == stopped[0]["rows_written"]["jsonl"]
    kinds = {json.loads(line)["kind"] for line in lines}
    assert {"trade", "quote", "book_delta"} <= kinds


def test_record_writes_the_corpus_layout(tmp_path):
    with SimThread(["binance_usdm", "deribit"], rate=1000) as sim:
        config = {
            "venues": {
                "binance_usdm": {"symbols": ["BTCUSDT"], "kinds": ["trade", "book_delta"], "ws_url": sim.ws_url("binance_usdm"), "rest_url": sim.rest_url("binance_usdm")},
                "deribit": {"symbols": ["BTC-PERPETUAL"], "kinds": ["trade"], "ws_url": sim.ws_url("deribit"), "rest_url": sim.rest_url("deribit")},
            },
        }
        path = tmp_path / "record.yaml"
        path.write_text(json.dumps(config))
        env = {k: v for k, v in os.environ.items() if not (k.startswith("MPF_") and "__" in k)}
        result = subprocess.run(
            [sys.executable, "-m", "marketprism_fast", "record", "--config", str(path), "--out", str(tmp_path / "rec"), "--seconds", "2"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 0, result.stderr
    for venue in ("binance_usdm", "deribit"):
        frames = list((tmp_path / "rec" / venue).glob(f"{venue}.*.frames.jsonl"))
        assert len(frames) == 1, list((tmp_path / "rec").rglob("*"))
        lines = frames[0].read_text().splitlines()
        meta = frames[0].with_name(frames[0].name.replace(".frames.jsonl", ".frames.meta.tsv")).read_text().splitlines()
        assert len(lines) == len(meta) > 10
        assert f"{venue}: {len(lines)} frames" in result.stdout


def test_metrics_reference_is_current():
    from marketprism_fast.service.metrics import REFERENCE_PATH, reference

    assert (REPO / REFERENCE_PATH).read_text() == reference(), "docs/metrics.md is stale: python -m marketprism_fast.service.metrics --write"
    names = [f.exposed for f in FAMILIES]
    assert len(names) == len(set(names))
    for f in FAMILIES:
        assert f.name.startswith("marketprism_")
        assert not f.name.endswith("_total")  # counters get _total when exposed
        assert f.type in ("counter", "gauge", "histogram")


def test_sigterm_while_starting_exits_0_within_the_shutdown_timeout(tmp_path):
    # A REST server that takes connections and never answers: the instrument list at start
    # would wait for rest_timeout_seconds; SIGTERM must not.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = free_port()
    config = {
        "node": {"shutdown_timeout_seconds": 5},
        "http": {"port": port},
        "venues": {"okx": {"symbols": ["BTC-USDT"], "ws_url": f"ws://127.0.0.1:{free_port()}", "rest_url": f"http://127.0.0.1:{silent.getsockname()[1]}", "rest_timeout_seconds": 60}},
        "sinks": {"null": {"enabled": True}},
    }
    path = tmp_path / "node.yaml"
    path.write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not (k.startswith("MPF_") and "__" in k)}
    proc = subprocess.Popen([sys.executable, "-m", "marketprism_fast", "run", "--config", str(path)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + DEADLINE
        while True:  # /health answers while the venue is still starting
            assert proc.poll() is None, proc.communicate()
            try:
                code, _, body = http_get(f"http://127.0.0.1:{port}/health")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert code == 200 and json.loads(body)["status"] == "degraded"  # the start grace period
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr
        # the bound under test is node.shutdown_timeout_seconds (5 s); generous slack for a loaded machine
        assert time.monotonic() - started < 5 + 10
    finally:
        silent.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
