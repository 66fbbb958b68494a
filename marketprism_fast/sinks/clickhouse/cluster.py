"""ClickHouse DDL for a cluster: per-shard tables plus a ``Distributed`` table per kind.

The single-node schema (``ddl.py``) stays the one source of columns, types, partitioning
and sorting; this module only renames the per-shard tables, chooses their engine and adds
the ``Distributed`` table under the name the writer and the queries use. So the writer
(``writer.py``) and the consumer write to a cluster exactly as to one server: they insert
into ``db.trades`` and the Distributed engine puts each row on a shard.

Two layouts:

- **Without a coordination service** (no ZooKeeper/Keeper): ``MergeTree`` per-shard tables.
  There is no distributed DDL, so ``statements_for_each_server`` are run on every server
  (the per-shard tables, then the Distributed table, which reads and writes them all).
- **With ZooKeeper/Keeper** (``replicated=True``): ``ReplicatedMergeTree`` per-shard tables
  with ``{shard}``/``{replica}`` macros, and every statement ``ON CLUSTER``, run once.

Rows are spread by ``intHash64(_batch_id)``: all rows of one batch land on one shard, so a
batch's insert is one part on one server, all there or not there, which is what the
writer's check of an uncertain retry relies on. The servers' profile must set
``insert_distributed_sync = 1`` so that an insert returns only once the shard has the rows
(the writer acknowledges after the insert returns; an asynchronous distributed insert
could be lost with the entry server's disk queue, and a retry's check would not see rows
still queued).
"""

from __future__ import annotations

import dataclasses

from ...records import KINDS, Kind
from .ddl import ServerCapabilities, check_identifier, create_database, create_table, quote

LOCAL_SUFFIX = "_local"
SHARDING_KEY = "intHash64(`_batch_id`)"
REPLICATED_PATH = "/clickhouse/tables/{shard}/%s/%s"  # database, table
REQUIRED_SETTINGS = {"insert_distributed_sync": 1}


def local_kind(kind: Kind) -> Kind:
    return dataclasses.replace(kind, table=kind.table + LOCAL_SUFFIX)


def _on_cluster(statement: str, head: str, cluster: str | None) -> str:
    if cluster is None:
        return statement
    assert statement.startswith(head), statement[:80]
    return head + f" ON CLUSTER {quote(cluster)}" + statement[len(head):]


def create_local_table(kind: Kind, database: str, capabilities: ServerCapabilities, *, replicated: bool = False, cluster: str | None = None) -> str:
    """The per-shard table of ``kind``: the single-node table under ``<table>_local``."""
    local = local_kind(kind)
    statement = create_table(local, database, capabilities)
    name = f"{quote(database)}.{quote(local.table)}"
    if replicated:
        engine = "ENGINE = MergeTree\n"
        assert engine in statement
        path = REPLICATED_PATH % (database, local.table)
        statement = statement.replace(engine, f"ENGINE = ReplicatedMergeTree('{path}', '{{replica}}')\n", 1)
        statement = statement.split("\nSETTINGS non_replicated_deduplication_window")[0]  # replicated tables deduplicate anyway
    return _on_cluster(statement, f"CREATE TABLE IF NOT EXISTS {name}", cluster)


def create_distributed_table(kind: Kind, database: str, cluster: str, *, on_cluster: bool = False) -> str:
    """``<table>`` over every shard's ``<table>_local``, rows spread by batch."""
    check_identifier(cluster, field="cluster")
    local = local_kind(kind)
    name = f"{quote(database)}.{quote(kind.table)}"
    statement = (
        f"CREATE TABLE IF NOT EXISTS {name} AS {quote(database)}.{quote(local.table)}\n"
        f"ENGINE = Distributed({quote(cluster)}, {quote(database)}, {quote(local.table)}, {SHARDING_KEY})"
    )
    return _on_cluster(statement, f"CREATE TABLE IF NOT EXISTS {name}", cluster if on_cluster else None)


def cluster_statements(
    database: str, capabilities: ServerCapabilities, cluster: str, *, replicated: bool = False
) -> list[str]:
    """The cluster schema. ``replicated=False``: run these on every server of the cluster
    (no distributed DDL without a coordination service). ``replicated=True``: every
    statement is ``ON CLUSTER``; run them once, on any server."""
    check_identifier(cluster, field="cluster")
    on = cluster if replicated else None
    db = _on_cluster(create_database(database), f"CREATE DATABASE IF NOT EXISTS {quote(database)}", on)
    out = [db]
    out += [create_local_table(kind, database, capabilities, replicated=replicated, cluster=on) for kind in KINDS]
    out += [create_distributed_table(kind, database, cluster, on_cluster=replicated) for kind in KINDS]
    return out


def render_cluster_schema(database: str, capabilities: ServerCapabilities, cluster: str, *, replicated: bool = False) -> str:
    how = (
        "-- Run once on any server (ON CLUSTER; needs ZooKeeper/Keeper and the {shard}/{replica} macros).\n"
        if replicated
        else "-- Run on every server of the cluster (no coordination service: no distributed DDL).\n"
    )
    settings = ", ".join(f"{k} = {v}" for k, v in REQUIRED_SETTINGS.items())
    head = f"-- Cluster {cluster!r}: per-shard tables *_local and a Distributed table per kind.\n{how}-- The servers' profile must set {settings}.\n"
    return head + ";\n\n".join(cluster_statements(database, capabilities, cluster, replicated=replicated)) + ";\n"


def main(argv: list[str] | None = None) -> int:
    import argparse

    from .ddl import DEFAULT_DATABASE, LEGACY, MODERN

    p = argparse.ArgumentParser(prog="python -m marketprism_fast.sinks.clickhouse.cluster", description="Print the ClickHouse cluster schema.")
    p.add_argument("--cluster", required=True, help="cluster name from the servers' <remote_servers>")
    p.add_argument("--database", default=DEFAULT_DATABASE)
    p.add_argument("--replicated", action="store_true", help="ReplicatedMergeTree + ON CLUSTER (needs ZooKeeper/Keeper)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--server-version", metavar="X.Y")
    group.add_argument("--legacy", action="store_true", help="18.x servers")
    args = p.parse_args(argv)
    caps = ServerCapabilities.from_version(args.server_version) if args.server_version else LEGACY if args.legacy else MODERN
    print(render_cluster_schema(args.database, caps, args.cluster, replicated=args.replicated), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
