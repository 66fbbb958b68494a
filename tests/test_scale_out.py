"""Scale-out on loopback with real distributed engines: two nodes split the simulator's
symbols (sharding by hash), publish to a three-server NATS JetStream cluster (an R3
stream), two consumers sharing one durable write to a two-shard ClickHouse 18.16 through
a Distributed table; the stream's leader is killed mid-run and restarted. At the end every
record is in the cluster exactly once and every instrument's rows came from one node, the
one that owns it."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections import Counter, defaultdict

import pytest

from marketprism_fast.config import config_from_data
from marketprism_fast.records import KINDS
from marketprism_fast.service.sharding import Sharding
from marketprism_fast.sinks.clickhouse.cluster import cluster_statements, local_kind
from marketprism_fast.sinks.clickhouse.ddl import LEGACY, table_columns

from .cluster import CLUSTER_NAME, clickhouse_cluster, nats_cluster
from .servers import CLICKHOUSE_SERVER, shutil_which

generate = pytest.importorskip("marketprism_fast.sim.generate", reason="the simulator's generator (sim/generate.py) is not in this tree")
from marketprism_fast.pipeline.identity import batch_id  # noqa: E402
from marketprism_fast.service.consumer_service import ConsumerService  # noqa: E402
from marketprism_fast.service.node import Node  # noqa: E402
from marketprism_fast.sim.simulator import Simulator  # noqa: E402
from marketprism_fast.sinks.nats import NatsSink  # noqa: E402

from .helpers import until as wait_until

pytestmark = pytest.mark.skipif(
    not (CLICKHOUSE_SERVER.exists() and shutil_which("nats-server")),
    reason="needs clickhouse-server and nats-server (scripts/setup.sh installs them)",
)

NODES = ("node-a", "node-b")
SYMBOLS = {
    "binance_spot": ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT"],
    "okx": ["BTC-USDT", "ETH-USDT", "SOL-USDT", "BTC-USDT-SWAP", "ETH-USDT-SWAP"],
}
KINDS_USED = ["trade", "book_delta", "book_snapshot", "quote"]  # book_snapshot: rows of the books the nodes keep
RATE = 100  # frames per second per venue: the box is shared; what matters is the faults
DEADLINE = 90.0
STREAM = "MPF_SCALE"


async def until(predicate, what: str, timeout: float = DEADLINE):
    return await wait_until(predicate, what, timeout, 0.1)


class RecordingNatsSink(NatsSink):
    """The real NATS sink, noting which node sent each batch (ids are hashes; the test
    needs the node behind each row in ClickHouse)."""

    def __init__(self, config, node: str, sent_by: dict[int, str]) -> None:
        super().__init__(config)
        self.node = node
        self.sent_by = sent_by
        self.rows: dict[int, tuple[str, int]] = {}  # batch id -> (kind, rows) handed to the sink

    async def write(self, batches):
        for b in batches:
            if len(b):
                self.sent_by[batch_id(b)] = self.node
                self.rows[batch_id(b)] = (b.kind.name, len(b))
        await super().write(batches)


def _base_config(sim, nats_url: str, clickhouse_url: str) -> dict:
    return {
        "node": {"flush_interval_seconds": 0.2, "shutdown_timeout_seconds": 30.0},
        "http": {"enabled": False},
        "venues": {v: {"symbols": s, "kinds": KINDS_USED, "ws_url": sim.ws_url(v), "rest_url": sim.rest_url(v)} for v, s in SYMBOLS.items()},
        "sinks": {
            "nats": {
                "enabled": True, "url": nats_url, "stream": STREAM, "replicas": 3, "ack_timeout_seconds": 2.0,
                "consumer_durable": "scale", "consumer_ack_wait_seconds": 5.0,
            },
            "clickhouse": {"url": clickhouse_url},
        },
    }


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_two_nodes_nats_cluster_clickhouse_shards_exactly_once(tmp_path):
    with nats_cluster(3) as members, clickhouse_cluster(2) as shards:
        for shard in shards:  # no ZooKeeper: the cluster schema runs on every server
            for statement in cluster_statements("marketprism", LEGACY, CLUSTER_NAME):
                shard.server.query(statement)
        asyncio.run(asyncio.wait_for(_scenario(members, shards, tmp_path), 300))


async def _scenario(members, shards, tmp_path):
    sent_by: dict[int, str] = {}
    async with Simulator(list(SYMBOLS)) as sim:
        for v in SYMBOLS:
            sim.generate(v, rate=RATE)
        base = config_from_data(_base_config(sim, members[0].url, shards[0].native_url), {})
        sharding = Sharding(NODES)
        owners = sharding.owners(base)
        assert set(owners.values()) == set(NODES), "each node should own some instruments"

        # two consumers sharing the durable, entering the cluster through different shards
        consumers = []
        for i, shard in enumerate(shards):
            data = _base_config(sim, members[i].url, shard.native_url)
            data["http"] = {"port": 0}
            data["node"]["name"] = f"consumer-{i}"
            consumers.append(ConsumerService(config_from_data(data, {})))
        consumer_tasks = [asyncio.create_task(c.run()) for c in consumers]

        nodes = []
        for name in NODES:
            cfg = sharding.for_node(base, name)
            spool = {"directory": str(tmp_path / name / "spool")}
            cfg = cfg.model_copy(update={"sinks": cfg.sinks.model_copy(update={"nats": cfg.sinks.nats.model_copy(update={"spool": cfg.sinks.nats.spool.model_copy(update=spool)})})})
            node = Node(cfg, sinks=[RecordingNatsSink(cfg.sinks.nats, name, sent_by)])
            await node.start()
            nodes.append(node)
        try:
            def written(node) -> int:
                return sum((node.fanout.stats()["nats"].get("rows_written") or {}).values())

            await until(lambda: all(written(n) > 0 for n in nodes), "both nodes publishing")
            await until(lambda: int(shards[0].server.query("SELECT count() FROM marketprism.trades")) > 0, "rows in ClickHouse")

            # kill the stream's leader mid-run, let the cluster elect another, restart it
            leader = await _stream_leader(members[0].url if members[0].running else members[1].url)
            victim = next(m for m in members if m.server_name == leader)
            before = [written(n) for n in nodes]
            victim.kill()
            await until(lambda: all(written(n) > b for n, b in zip(nodes, before)), "publishing to go on without the leader", 60)
            victim.start()
            before = [written(n) for n in nodes]
            await until(lambda: all(written(n) > b for n, b in zip(nodes, before)), "publishing after the restart")
            # what was spooled while the leader was away is written back before the stop (a
            # stop leaves an unwritten spool on disk for the next start: not what this checks)
            await until(lambda: all(n.fanout.stats()["nats"]["spool_files"] == 0 for n in nodes), "the spools to be written back", 120)
        finally:
            drained = [await n.stop() for n in nodes]
        assert drained == [True, True], "a node did not drain to NATS within its shutdown timeout"

        # what the nodes took from their buffers went to NATS: every batch handed to the
        # sink once, nothing dropped, nothing left in a spool
        taken = {n.config.node.name: n.batcher.stats()["rows"] for n in nodes}
        published: Counter = Counter()
        for n in nodes:
            s = n.fanout.stats()["nats"]
            assert s["dropped_batches"] == 0 and s["spool_files"] == 0, s
            # every batch counted once, retried publishes and the drain at stop included
            assert sum(s["rows_written"].values()) == n.batcher.stats()["rows"], s
            for kind, rows in n.sinks[0].rows.values():
                published[kind] += rows
        assert sum(published.values()) == sum(taken.values())

        # the consumers empty the stream into ClickHouse
        def in_clickhouse() -> Counter:
            return Counter({k.name: int(shards[1].server.query(f"SELECT count() FROM marketprism.{k.table}")) for k in KINDS})

        await until(lambda: +in_clickhouse() == +published, f"ClickHouse to hold the {sum(published.values())} published rows", 120)
        # the consumers' own account, as Prometheus scrapes it: every row inserted once, nothing pending
        loop = asyncio.get_running_loop()
        scrapes = [await loop.run_in_executor(None, _scrape, c.port) for c in consumers]
        assert sum(m["marketprism_consumer_rows_inserted_total"] for m in scrapes) == sum(published.values())
        assert all(m['marketprism_consumer_pending_messages{durable="scale"}'] == 0 for m in scrapes), scrapes
        assert sum(m["marketprism_consumer_messages_total"] for m in scrapes) >= len(sent_by)
        for c in consumers:
            c.stop()
        await asyncio.gather(*consumer_tasks)
        inserted = sum(c.stats.rows_inserted for c in consumers)

    # exactly once: no row twice (whole rows, batch id included), nothing missing
    total = 0
    for kind in KINDS:
        if not published.get(kind.name):
            continue
        names = [c.name for c in table_columns(kind)]
        rows = shards[0].server.rows(f"SELECT {', '.join(names)} FROM marketprism.{kind.table}")
        counts = Counter(json.dumps(r, sort_keys=True) for r in rows)
        repeated = [r for r, n in counts.items() if n > 1]
        assert not repeated, f"{kind.name}: {len(repeated)} rows written more than once, e.g. {repeated[0][:300]}"
        assert len(rows) == published[kind.name]
        total += len(rows)

        # every instrument from one node: the one the sharding gives it
        nodes_of = defaultdict(set)
        for r in rows:
            nodes_of[r["raw_symbol"].upper()].add(sent_by[r["_batch_id"]])
        for symbol, senders in nodes_of.items():
            venue_key = next(k for k in owners if k.split(":", 1)[1] == symbol)
            assert senders == {owners[venue_key]}, f"{kind.name} {symbol}: rows from {senders}, owner {owners[venue_key]}"
    assert total == inserted == sum(published.values())
    assert {sent_by[b] for b in sent_by} == set(NODES)

    # the Distributed table spread the rows over both shards
    per_shard = [int(s.server.query(f"SELECT count() FROM marketprism.{local_kind(KINDS[0]).table}")) for s in shards]
    assert all(n > 0 for n in per_shard) and sum(per_shard) == published["trade"], per_shard


async def _stream_leader(url: str) -> str:
    import nats

    nc = await nats.connect(servers=[url])
    try:
        info = await nc.jetstream().stream_info(STREAM)
        return info.cluster.leader
    finally:
        await nc.close()
