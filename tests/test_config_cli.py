"""Bad configs stop ``run`` and ``check-config`` with one line naming the key path, the
value and what is allowed, and exit status 2 (subprocesses, as an operator runs them)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .helpers import REPO

GOOD = """\
http: {port: 0}
venues:
  okx:
    symbols: [BTC-USDT]
sinks:
  null: {enabled: true}
"""

# (name, YAML text, environment, the start of the one line on stderr after "<prog> <command>: error: ")
BAD_CONFIGS = [
    ("unknown top-level key", "nodes: {}\n" + GOOD, {}, "{path}: nodes: unknown key 'nodes' in the top level; allowed: node, venues, sinks, http, logging"),
    ("misspelled option", "node: {batch_row: 10}\n" + GOOD, {}, "{path}: node.batch_row: unknown key 'batch_row' in node; allowed: name, flush_interval_seconds, batch_rows"),
    ("unknown venue", "venues:\n  kraken: {symbols: [XBTUSD]}\nsinks: {null: {enabled: true}}\n", {}, "{path}: venues.kraken: unknown key 'kraken'; allowed: binance_spot, binance_usdm, binance_coinm, okx, deribit"),
    ("quoted number", GOOD.replace("{port: 0}", "{port: '8080'}"), {}, "{path}: http.port = '8080' (str): must be an integer"),
    ("port out of range", GOOD.replace("{port: 0}", "{port: 70000}"), {}, "{path}: http.port = 70000: must be <= 65535"),
    ("negative batch rows", "node: {batch_rows: -5}\n" + GOOD, {}, "{path}: node.batch_rows = -5: must be > 0"),
    ("flush interval too long", "node: {flush_interval_seconds: 600}\n" + GOOD, {}, "{path}: node.flush_interval_seconds = 600: must be <= 60"),
    ("symbols not a list", GOOD.replace("[BTC-USDT]", "BTC-USDT"), {}, "{path}: venues.okx.symbols = 'BTC-USDT' (str): must be a list"),
    ("no symbols", GOOD.replace("[BTC-USDT]", "[]"), {}, "{path}: venues.okx.symbols: an enabled venue needs at least one symbol"),
    ("unknown kind", GOOD.replace("[BTC-USDT]", "[BTC-USDT]\n    kinds: [trades]"), {}, "{path}: venues.okx.kinds[0] = 'trades': must be one of 'trade', 'book_delta'"),
    ("websocket URL scheme", GOOD.replace("[BTC-USDT]", "[BTC-USDT]\n    ws_url: http://127.0.0.1:1"), {}, "{path}: venues.okx.ws_url = 'http://127.0.0.1:1': not a WebSocket URL; allowed: ws://HOST[:PORT] or wss://HOST[:PORT]"),
    ("watchdog shorter than heartbeat", GOOD.replace("[BTC-USDT]", "[BTC-USDT]\n    watchdog_seconds: 5"), {}, "{path}: venues.okx.watchdog_seconds = 5.0: must exceed heartbeat_seconds (10) on okx"),
    ("backoff reversed", GOOD.replace("[BTC-USDT]", "[BTC-USDT]\n    reconnect: {initial_seconds: 60, max_seconds: 1}"), {}, "{path}: venues.okx.reconnect.initial_seconds = 60.0: must not exceed max_seconds (1.0)"),
    ("book depth zero", GOOD.replace("[BTC-USDT]", "[BTC-USDT]\n    book: {depth: 0}"), {}, "{path}: venues.okx.book.depth = 0: must be >= 1"),
    ("spool policy on a sink without spool", GOOD + "  redis: {enabled: true, overflow: {policy: spool}}\n", {}, "{path}: sinks.redis.overflow: policy 'spool' needs a spool"),
    ("password in a URL", GOOD + "  nats: {enabled: true, url: 'nats://app:hunter2@127.0.0.1:4222'}\n", {}, "{path}: sinks.nats.url: holds a password; a password may only come from password_env or password_file"),
    ("password env not set", GOOD + "  clickhouse: {enabled: true, password_env: MPF_TEST_NOT_SET}\n", {}, "sinks.clickhouse.password_env = 'MPF_TEST_NOT_SET': no such environment variable is set"),
    ("both password sources", GOOD + "  clickhouse: {enabled: true, password_env: X, password_file: /etc/x}\n", {}, "{path}: sinks.clickhouse.password_file: given with password_env"),
    ("log level", "logging: {level: verbose}\n" + GOOD, {}, "{path}: logging.level = 'verbose': must be one of 'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    ("section given a list", "node: [1, 2]\n" + GOOD, {}, "{path}: node = [1, 2] (list): must be a section"),
    ("no sink enabled", GOOD.replace("  null: {enabled: true}\n", "  null: {enabled: false}\n"), {}, "sinks: no sink is enabled; enable one of clickhouse, nats, redis, embedded, jsonl, null"),
    ("not YAML", "venues: [unclosed\n", {}, "{path}: not valid YAML at line 2"),
    ("top level not a mapping", "- a\n- b\n", {}, "{path}: the top level must be a mapping of sections"),
    ("no such file", None, {}, "{path}: no such config file"),
    ("bad environment value", GOOD, {"MPF_NODE__BATCH_ROWS": "lots"}, "environment MPF_NODE__BATCH_ROWS: node.batch_rows = 'lots': must be an integer"),
    ("bad legacy variable", GOOD, {"ENABLE_BINANCE": "maybe"}, "environment ENABLE_BINANCE: venues.binance_spot.enabled = 'maybe': must be true or false"),
]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MPF_") or "__" not in k}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "marketprism_fast", *args],
        cwd=REPO, env=full_env, capture_output=True, text=True, timeout=60,
    )


def test_the_table_is_big_enough():
    assert len(BAD_CONFIGS) >= 15


@pytest.mark.parametrize("name, text, env, expected", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
@pytest.mark.parametrize("command", ["check-config", "run"])
def test_bad_config_one_line_and_exit_2(tmp_path, command, name, text, env, expected):
    path = tmp_path / "node.yaml"
    if text is not None:
        path.write_text(text)
    args = [command, str(path)] if command == "check-config" else [command, "--config", str(path)]
    result = _run(args, env)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    prefix = f"marketprism_fast {command}: error: "
    assert lines[0].startswith(prefix), lines[0]
    message = lines[0][len(prefix) :]
    assert message.startswith(expected.format(path=path)), message
    assert "hunter2" not in result.stderr
    assert result.stdout == ""


def test_good_config_passes_check_config(tmp_path):
    path = tmp_path / "node.yaml"
    path.write_text(GOOD)
    result = _run(["check-config", str(path)], {})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{path}: ok; digest ")
    assert "venues okx (1 symbols); sinks null" in result.stdout


def test_check_config_on_the_example_and_with_legacy_environment():
    example = REPO / "config" / "marketprism.yaml"
    result = _run(["check-config", str(example)], {"CLICKHOUSE_URL": "http://ch:8123", "NATS_URL": "nats://n:4222", "SYMBOLS": "BTCUSDT"})
    assert result.returncode == 0, result.stderr
    assert "sinks clickhouse, nats" in result.stdout
    result = _run(["check-config", "--show", str(example)], {"CLICKHOUSE_URL": "http://ch:8123"})
    assert '"url": "clickhouse://ch:9000"' in result.stdout
