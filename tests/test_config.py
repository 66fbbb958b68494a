"""Config loading: YAML, environment overrides (general and the old services' names),
one-line errors, secrets, digest, and the generated reference and example being current."""

from __future__ import annotations

import json

import pytest

from marketprism_fast import configdoc
from marketprism_fast.config import (
    LEGACY_VARIABLES,
    Config,
    config_from_data,
    load_config,
    require_runnable,
    resolve_password,
)
from marketprism_fast.errors import ConfigurationError

from .helpers import REPO

BASE = {"venues": {"okx": {"symbols": ["BTC-USDT"]}}, "sinks": {"null": {"enabled": True}}}


def write(tmp_path, text: str):
    path = tmp_path / "node.yaml"
    path.write_text(text)
    return path


def test_yaml_file_loads_with_defaults(tmp_path):
    path = write(tmp_path, "venues:\n  okx:\n    symbols: [BTC-USDT]\nsinks:\n  jsonl: {enabled: true}\nnode:\n  flush_interval_seconds: 1\n")
    config = load_config(path, {})
    assert config.venues["okx"].symbols == ["BTC-USDT"]
    assert config.node.flush_interval_seconds == 1.0  # an integer is a number
    assert config.sinks.enabled() == ["jsonl"]
    assert config.http.host == "127.0.0.1" and config.http.port == 8080
    require_runnable(config)


def test_empty_file_is_the_defaults_but_not_runnable(tmp_path):
    config = load_config(write(tmp_path, ""), {})
    assert config == Config()
    with pytest.raises(ConfigurationError, match="no venue is enabled"):
        require_runnable(config)


def test_general_overrides_by_key_path():
    env = {
        "MPF_NODE__BATCH_ROWS": "5000",
        "MPF_NODE__FLUSH_INTERVAL_SECONDS": "0.25",
        "MPF_VENUES__OKX__SYMBOLS": "BTC-USDT, ETH-USDT",
        "MPF_VENUES__OKX__BOOK__DEPTH": "5",
        "MPF_VENUES__OKX__OPEN_INTEREST_POLL_SECONDS": "null",
        "MPF_VENUES__DERIBIT__SYMBOLS": "[BTC-PERPETUAL]",
        "MPF_VENUES__DERIBIT__DEPTH_INTERVAL_MS": "1000",
        "MPF_SINKS__NATS__ENABLED": "yes",
        "mpf_http__port": "0",
        "MPF_REQUIRE_COMPILED": "1",  # no "__": not config
    }
    config = config_from_data(BASE, env)
    assert config.node.batch_rows == 5000 and config.node.flush_interval_seconds == 0.25
    assert config.venues["okx"].symbols == ["BTC-USDT", "ETH-USDT"]
    assert config.venues["okx"].book.depth == 5
    assert config.venues["okx"].open_interest_poll_seconds is None
    assert config.venues["deribit"].symbols == ["BTC-PERPETUAL"]
    assert config.venues["deribit"].depth_interval_ms == 1000
    assert config.sinks.nats.enabled is True
    assert config.http.port == 0


def test_general_override_wins_over_legacy_name():
    config = config_from_data(BASE, {"HTTP_PORT": "9000", "MPF_HTTP__PORT": "9100"})
    assert config.http.port == 9100


def test_legacy_names():
    env = {
        "SYMBOLS": "btcusdt,ETHUSDT,okx:BTC-USDT-SWAP",
        "ENABLE_BINANCE": "true",
        "NATS_URL": "nats://nats.internal:4222",
        "CLICKHOUSE_URL": "http://ch.internal:8123",
        "CLICKHOUSE_DIRECT_WRITE": "1",
        "REDIS_URL": "redis://cache:6379/2",
        "REDIS_CACHE": "on",
        "HTTP_PORT": "9090",
        "LOG_LEVEL": "warn",
    }
    config = config_from_data(BASE, env)
    assert config.venues["binance_spot"].enabled and config.venues["binance_spot"].symbols == ["BTCUSDT", "ETHUSDT"]
    assert config.venues["okx"].symbols == ["BTC-USDT-SWAP"]  # replaces the file's list
    assert config.sinks.nats.enabled and config.sinks.nats.url == "nats://nats.internal:4222"
    assert config.sinks.clickhouse.enabled and config.sinks.clickhouse.url == "clickhouse://ch.internal:9000"
    assert config.sinks.redis.enabled and config.sinks.redis.url == "redis://cache:6379/2"
    assert config.http.port == 9090
    assert config.logging.level == "WARNING"
    assert set(env) == set(LEGACY_VARIABLES)  # every documented name is exercised


def test_legacy_enable_binance_false_disables_binance_spot():
    data = {**BASE, "venues": {**BASE["venues"], "binance_spot": {"symbols": ["BTCUSDT"]}}}
    config = config_from_data(data, {"ENABLE_BINANCE": "false"})
    assert not config.venues["binance_spot"].enabled
    assert list(config.enabled_venues()) == ["okx"]


def test_legacy_clickhouse_https_and_native_urls():
    assert config_from_data(BASE, {"CLICKHOUSE_URL": "https://ch:8443"}).sinks.clickhouse.url == "clickhouses://ch:9440"
    assert config_from_data(BASE, {"CLICKHOUSE_URL": "clickhouse://ch:9001"}).sinks.clickhouse.url == "clickhouse://ch:9001"
    with pytest.raises(ConfigurationError, match=r"^environment CLICKHOUSE_URL: sinks.clickhouse.url = 'http://ch:1234': .*clickhouse://"):
        config_from_data(BASE, {"CLICKHOUSE_URL": "http://ch:1234"})


@pytest.mark.parametrize(
    "env, message",
    [
        ({"MPF_NODE__BATCH_ROWS": "many"}, "environment MPF_NODE__BATCH_ROWS: node.batch_rows = 'many': must be an integer"),
        ({"MPF_NODE__BATCH_ROWS": "0"}, "config: node.batch_rows = 0: must be > 0 (set by environment MPF_NODE__BATCH_ROWS)"),
        ({"MPF_NODE__BATCHROWS": "1"}, "environment MPF_NODE__BATCHROWS: unknown key 'batchrows' in node; allowed: name, flush_interval_seconds"),
        ({"MPF_VENUES__KRAKEN__SYMBOLS": "X"}, "environment MPF_VENUES__KRAKEN__SYMBOLS: unknown key 'kraken' in venues; allowed: binance_spot"),
        ({"MPF_SINKS__NATS": "on"}, "environment MPF_SINKS__NATS: sinks.nats: is a section, not an option"),
        ({"MPF_SINKS": "on"}, None),  # no "__": not config, ignored
        ({"MPF_SINKS__NATS__ENABLED": "perhaps"}, "environment MPF_SINKS__NATS__ENABLED: sinks.nats.enabled = 'perhaps': must be true or false"),
        ({"MPF_SINKS__NATS__OVERFLOW": "x"}, "environment MPF_SINKS__NATS__OVERFLOW: sinks.nats.overflow: is a section, not an option"),
        ({"ENABLE_BINANCE": "sometimes"}, "environment ENABLE_BINANCE: venues.binance_spot.enabled = 'sometimes': must be true or false"),
        ({"SYMBOLS": "kraken:XBTUSD"}, "environment SYMBOLS: venues.<venue>.symbols = 'kraken:XBTUSD': unknown venue 'kraken'"),
        ({"LOG_LEVEL": "chatty"}, "config: logging.level = 'CHATTY': must be one of 'DEBUG', 'INFO', 'WARNING' or 'ERROR' (set by environment LOG_LEVEL)"),
        ({"HTTP_PORT": "http"}, "environment HTTP_PORT: http.port = 'http': must be an integer"),
        ({"NATS_URL": "nats://user:secret@host:4222"}, "config: sinks.nats.url: holds a password"),
    ],
)
def test_bad_environment_values_are_one_line_errors(env, message):
    if message is None:
        config_from_data(BASE, env)
        return
    with pytest.raises(ConfigurationError) as info:
        config_from_data(BASE, env)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(message), text
    assert "secret" not in text


def test_secrets_are_names_checked_at_load_and_never_shown(tmp_path):
    secret_file = tmp_path / "pw"
    secret_file.write_text("s3cret-file\n")
    data = {
        **BASE,
        "sinks": {
            "clickhouse": {"enabled": True, "password_env": "CH_PASSWORD"},
            "redis": {"enabled": True, "password_file": str(secret_file)},
        },
    }
    with pytest.raises(ConfigurationError, match=r"sinks.clickhouse.password_env = 'CH_PASSWORD': no such environment variable"):
        config_from_data(data, {})
    config = config_from_data(data, {"CH_PASSWORD": "s3cret-env"})
    assert resolve_password(config.sinks.clickhouse, {"CH_PASSWORD": "s3cret-env"}) == "s3cret-env"
    assert resolve_password(config.sinks.redis) == "s3cret-file"
    shown = json.dumps(config.redacted())
    assert "s3cret" not in shown and "CH_PASSWORD" in shown
    missing = {**data, "sinks": {"redis": {"enabled": True, "password_file": str(tmp_path / "nope")}}}
    with pytest.raises(ConfigurationError, match="password_file = .*nope': no readable file there"):
        config_from_data(missing, {})


def test_digest_identifies_the_effective_config():
    a = config_from_data(BASE, {})
    assert a.digest() == config_from_data(BASE, {}).digest()
    assert len(a.digest()) == 16 and int(a.digest(), 16) >= 0
    assert a.digest() != config_from_data(BASE, {"MPF_NODE__BATCH_ROWS": "7"}).digest()


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    path = write(tmp_path, "node:\n  name: [unclosed\n")
    with pytest.raises(ConfigurationError) as info:
        load_config(path, {})
    assert str(info.value).startswith(f"{path}: not valid YAML at line 3")
    assert "\n" not in str(info.value)


def test_generated_reference_is_current():
    text = (REPO / "config" / "README.md").read_text()
    assert configdoc.readme_with_reference(text) == text, "config/README.md is stale: python -m marketprism_fast.configdoc --write"
    for name in LEGACY_VARIABLES:
        assert f"`{name}`" in text


def test_example_config_is_current_and_valid():
    path = REPO / "config" / "marketprism.yaml"
    assert path.read_text() == configdoc.render_example(), "config/marketprism.yaml is stale: python -m marketprism_fast.configdoc --write"
    config = load_config(path, {})
    assert config == configdoc.example_config()
    require_runnable(config)
    # every option of every section appears in the example with a comment above it
    text = path.read_text()
    for section in (Config,):
        for name in section.model_fields:
            assert f"\n{name}:" in text
