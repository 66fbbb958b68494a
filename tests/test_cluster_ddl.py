"""The ClickHouse cluster schema: derived from the single-node schema (same columns, types,
partitions and order per shard), a Distributed table per kind under the writer's table
name, and a replicated variant with ON CLUSTER. Run on real 18.16 shards by
tests/test_scale_out.py."""

from __future__ import annotations

import re

import pytest

from marketprism_fast.errors import ConfigurationError
from marketprism_fast.records import KINDS
from marketprism_fast.sinks.clickhouse.cluster import SHARDING_KEY, cluster_statements, main, render_cluster_schema
from marketprism_fast.sinks.clickhouse.ddl import LEGACY, MODERN, create_table


@pytest.mark.parametrize("caps", [LEGACY, MODERN], ids=["18.x", "modern"])
def test_local_tables_are_the_single_node_tables_renamed(caps):
    statements = cluster_statements("marketprism", caps, "mpf")
    assert statements[0] == "CREATE DATABASE IF NOT EXISTS `marketprism`"
    locals_ = statements[1 : 1 + len(KINDS)]
    for kind, statement in zip(KINDS, locals_):
        single = create_table(kind, "marketprism", caps)
        assert statement == single.replace(f"`{kind.table}`", f"`{kind.table}_local`", 1)


def test_distributed_tables_carry_the_writers_names_and_spread_by_batch():
    statements = cluster_statements("marketprism", LEGACY, "mpf")
    distributed = statements[1 + len(KINDS):]
    assert len(distributed) == len(KINDS)
    for kind, statement in zip(KINDS, distributed):
        assert statement == (
            f"CREATE TABLE IF NOT EXISTS `marketprism`.`{kind.table}` AS `marketprism`.`{kind.table}_local`\n"
            f"ENGINE = Distributed(`mpf`, `marketprism`, `{kind.table}_local`, {SHARDING_KEY})"
        )


def test_replicated_variant_runs_on_cluster_with_macros():
    statements = cluster_statements("marketprism", MODERN, "mpf", replicated=True)
    assert all(" ON CLUSTER `mpf`" in s.splitlines()[0] for s in statements)
    for kind, statement in zip(KINDS, statements[1 : 1 + len(KINDS)]):
        assert f"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/marketprism/{kind.table}_local', '{{replica}}')" in statement
        assert "non_replicated_deduplication_window" not in statement
    assert "ENGINE = MergeTree" not in "\n".join(statements)


def test_rendered_file_says_how_to_run_it(capsys):
    text = render_cluster_schema("marketprism", LEGACY, "mpf")
    assert "Run on every server" in text and "insert_distributed_sync = 1" in text
    assert text.count(";\n") == 1 + 2 * len(KINDS)
    assert main(["--cluster", "mpf", "--replicated", "--server-version", "23.8"]) == 0
    assert "ON CLUSTER" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["my cluster", "1x", "a;DROP"])
def test_cluster_name_must_be_an_identifier(bad):
    with pytest.raises(ConfigurationError, match="cluster"):
        cluster_statements("marketprism", LEGACY, bad)
