"""Splitting instruments across nodes: every instrument of the config owned by exactly one
node, by a stable hash or an explicit list."""

from __future__ import annotations

import pytest

from marketprism_fast.config import Config, config_from_data
from marketprism_fast.errors import ConfigurationError
from marketprism_fast.service.sharding import Sharding, coverage, instrument_key

SPOT = [f"SYM{i}USDT" for i in range(40)]
OKX = [f"SYM{i}-USDT-SWAP" for i in range(30)]


def _config(**extra) -> Config:
    data = {
        "venues": {
            "binance_spot": {"symbols": SPOT, "channels": ["!miniTicker@arr"]},
            "okx": {"symbols": OKX},
            "deribit": {"symbols": ["BTC-PERPETUAL"], "enabled": False},
        },
        "sinks": {"null": {"enabled": True}},
    }
    data.update(extra)
    return config_from_data(data)


def _every_instrument(config: Config) -> set[str]:
    return {instrument_key(v, s) for v, vc in config.enabled_venues().items() for s in vc.symbols}


def test_hash_split_gives_every_instrument_to_exactly_one_node():
    config = _config()
    sharding = Sharding(("a", "b", "c"))
    parts = sharding.split(config)
    owned = coverage(parts.values())
    assert set(owned) == _every_instrument(config)
    assert all(len(nodes) == 1 for nodes in owned.values()), {k: v for k, v in owned.items() if len(v) != 1}
    # each node got a fair share of 70 instruments (rendezvous hashing is near uniform)
    counts = {n: sum(1 for v in owned.values() if v == [n]) for n in "abc"}
    assert all(10 <= c <= 40 for c in counts.values()), counts
    # every part is still a valid config, with the node's own name
    for name, part in parts.items():
        assert part.node.name == name
        assert Config.model_validate(part.model_dump()) == part


def test_hash_owner_is_stable_across_processes():
    # blake2b, not Python's salted hash(): the same owner in every process and release
    sharding = Sharding(("node-a", "node-b"))
    owners = sharding.owners(_config())
    assert owners["binance_spot:SYM0USDT"] == "node-a"
    assert owners["binance_spot:SYM1USDT"] == "node-b"
    assert owners["okx:SYM0-USDT-SWAP"] == "node-b"
    assert sharding.owners(_config()) == owners


def test_adding_a_node_moves_only_what_the_new_node_takes():
    config = _config()
    before = Sharding(("a", "b")).owners(config)
    after = Sharding(("a", "b", "c")).owners(config)
    moved = {k for k in before if before[k] != after[k]}
    assert moved, "the new node took nothing"
    assert all(after[k] == "c" for k in moved)


def test_channels_go_with_the_first_symbols_owner_and_empty_venues_are_disabled():
    config = _config()
    sharding = Sharding(("a", "b", "c"))
    first_owner = sharding.owners(config)["binance_spot:SYM0USDT"]
    parts = sharding.split(config)
    with_channels = [n for n, c in parts.items() if c.venues["binance_spot"].channels]
    assert with_channels == [first_owner]

    explicit = Sharding(("a", "b"), "explicit", {"a": ("binance_spot",), "b": ("okx",)}).split(config)
    assert not explicit["a"].venues["okx"].enabled and explicit["a"].venues["okx"].symbols == []
    assert explicit["a"].venues["binance_spot"].symbols == SPOT
    assert list(explicit["b"].enabled_venues()) == ["okx"]


def test_explicit_symbols_override_a_venue_entry():
    config = _config()
    sharding = Sharding(("a", "b"), "explicit", {"a": ("binance_spot", "okx"), "b": ("binance_spot:sym3usdt", "okx:SYM0-USDT-SWAP")})
    owned = coverage(sharding.split(config).values())
    assert owned["binance_spot:SYM3USDT"] == ["b"]
    assert owned["okx:SYM0-USDT-SWAP"] == ["b"]
    assert owned["binance_spot:SYM4USDT"] == ["a"]
    assert all(len(v) == 1 for v in owned.values()) and set(owned) == _every_instrument(config)


@pytest.mark.parametrize(
    "nodes, method, assign, message",
    [
        (("a", "b"), "explicit", {"a": ("binance_spot",), "b": ("binance_spot", "okx")}, "given to both 'a' and 'b'"),
        (("a", "b"), "explicit", {"a": ("binance_spot:SYM1USDT",), "b": ("binance_spot:SYM1USDT", "okx")}, "given to both"),
        (("a", "b"), "explicit", {"a": ("binance_spot",)}, "no node owns okx:SYM0-USDT-SWAP"),
        (("a", "b"), "explicit", {"a": ("binance_spot", "okx:NOPE")}, "'okx:NOPE' is not a symbol of an enabled venue"),
        (("a", "b"), "explicit", {"a": ("binance_spot", "okx", "deribit")}, "'deribit' is not an enabled venue"),
        (("a", "b"), "explicit", {"c": ("binance_spot",)}, "node 'c' is not in sharding.nodes"),
        (("a", "a"), "hash", {}, "listed twice"),
        ((), "hash", {}, "at least one"),
        (("a",), "hash", {"a": ("okx",)}, "only with method explicit"),
    ],
)
def test_bad_assignments_are_one_clear_error(nodes, method, assign, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        Sharding(nodes, method, assign).split(_config())


def test_a_node_not_in_the_list_is_refused():
    with pytest.raises(ConfigurationError, match="node.name = 'x': not one of sharding.nodes"):
        Sharding(("a", "b")).for_node(_config(), "x")
