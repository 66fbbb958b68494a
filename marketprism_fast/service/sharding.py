"""Splitting venues and symbols across several nodes: every instrument owned by one node.

All nodes of a cluster read the same config file (venues with all their symbols) and the
same ``sharding`` settings; each keeps only what it owns (``Sharding.for_node``), so no
two nodes ever subscribe to one instrument and none is left out, without the nodes
talking to each other.

Two methods:

- ``hash`` (rendezvous hashing): an instrument ``venue:SYMBOL`` belongs to the node whose
  ``blake2b(node, instrument)`` is highest. Stable across processes, machines and Python
  versions; adding or removing a node moves only the instruments that node gains or loses
  (about 1/N of them), never reshuffles the rest.
- ``explicit``: ``assign`` maps each node to entries ``venue`` (every symbol of that venue
  not listed elsewhere by name) or ``venue:SYMBOL``. An instrument listed by two nodes, an
  instrument nobody owns, or an entry naming nothing in the config is an error.

A venue's extra raw ``channels`` (not instruments) go with the owner of the venue's first
listed symbol, so each is subscribed once as well. A node owning no symbol of a venue has
that venue disabled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Literal, Mapping

from ..config import Config
from ..errors import ConfigurationError

Method = Literal["hash", "explicit"]


def instrument_key(venue: str, symbol: str) -> str:
    """The name an instrument is owned by: ``venue:SYMBOL`` (symbols compare upper-cased)."""
    return f"{venue}:{symbol.upper()}"


def _weight(node: str, key: str) -> int:
    digest = hashlib.blake2b(f"{node}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class Sharding:
    """The cluster's nodes and how instruments are assigned to them."""

    nodes: tuple[str, ...]
    method: Method = "hash"
    assign: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.nodes:
            raise ConfigurationError("sharding.nodes: list every node of the cluster (at least one)", field="sharding.nodes")
        seen: set[str] = set()
        for node in self.nodes:
            if not node or node in seen:
                raise ConfigurationError(f"sharding.nodes: {node!r} is empty or listed twice", field="sharding.nodes")
            seen.add(node)
        if self.method not in ("hash", "explicit"):
            raise ConfigurationError(f"sharding.method = {self.method!r}: must be hash or explicit", field="sharding.method")
        if self.method == "hash" and self.assign:
            raise ConfigurationError("sharding.assign: only with method explicit", field="sharding.assign")
        for node in self.assign:
            if node not in seen:
                raise ConfigurationError(
                    f"sharding.assign: node {node!r} is not in sharding.nodes ({', '.join(self.nodes)})", field="sharding.assign"
                )

    # ------------------------------------------------------------------ ownership

    def owners(self, config: Config) -> dict[str, str]:
        """``venue:SYMBOL`` -> node, for every symbol of every enabled venue. Raises
        ConfigurationError when the explicit assignment leaves one out, claims one twice,
        or names one the config does not have."""
        instruments = [
            (venue, symbol) for venue, vc in config.enabled_venues().items() for symbol in vc.symbols
        ]
        if self.method == "hash":
            return {
                instrument_key(v, s): max(self.nodes, key=lambda n: _weight(n, instrument_key(v, s)))
                for v, s in instruments
            }
        return self._explicit(instruments)

    def _explicit(self, instruments: list[tuple[str, str]]) -> dict[str, str]:
        by_symbol: dict[str, str] = {}
        by_venue: dict[str, str] = {}
        venues = {v for v, _ in instruments}
        keys = {instrument_key(v, s) for v, s in instruments}
        for node, entries in self.assign.items():
            for entry in entries:
                venue, sep, symbol = entry.partition(":")
                if sep:
                    key = instrument_key(venue, symbol)
                    if key not in keys:
                        raise ConfigurationError(
                            f"sharding.assign.{node}: {entry!r} is not a symbol of an enabled venue", field="sharding.assign"
                        )
                    table, name = by_symbol, key
                else:
                    if venue not in venues:
                        raise ConfigurationError(
                            f"sharding.assign.{node}: {entry!r} is not an enabled venue", field="sharding.assign"
                        )
                    table, name = by_venue, venue
                if name in table and table[name] != node:
                    raise ConfigurationError(
                        f"sharding.assign: {entry!r} is given to both {table[name]!r} and {node!r}; each instrument belongs to one node",
                        field="sharding.assign",
                    )
                table[name] = node
        owners: dict[str, str] = {}
        for venue, symbol in instruments:
            key = instrument_key(venue, symbol)
            owner = by_symbol.get(key) or by_venue.get(venue)
            if owner is None:
                raise ConfigurationError(
                    f"sharding.assign: no node owns {key}; list it (or its venue) under one node", field="sharding.assign"
                )
            owners[key] = owner
        return owners

    def for_node(self, config: Config, node: str) -> Config:
        """``config`` with only what ``node`` owns: each enabled venue keeps the node's
        symbols (and its channels when the node owns the venue's first symbol), or is
        disabled when the node owns none of them."""
        if node not in self.nodes:
            raise ConfigurationError(
                f"node.name = {node!r}: not one of sharding.nodes ({', '.join(self.nodes)})", field="node.name"
            )
        owners = self.owners(config)
        venues = dict(config.venues)
        for venue, vc in config.enabled_venues().items():
            mine = [s for s in vc.symbols if owners[instrument_key(venue, s)] == node]
            if mine:
                channels = vc.channels if owners[instrument_key(venue, vc.symbols[0])] == node else []
                venues[venue] = vc.model_copy(update={"symbols": mine, "channels": channels})
            else:
                venues[venue] = vc.model_copy(update={"enabled": False, "symbols": [], "channels": []})
        return config.model_copy(update={"venues": venues, "node": config.node.model_copy(update={"name": node})})

    def split(self, config: Config) -> dict[str, Config]:
        """Every node's config (what each node computes for itself)."""
        return {node: self.for_node(config, node) for node in self.nodes}


def sharding_of(config: Config) -> Sharding | None:
    """The config's ``sharding`` section as a Sharding, or None when it has none (or its
    node list is empty: one node owns everything)."""
    section = getattr(config, "sharding", None)
    if section is None or not section.nodes:
        return None
    return Sharding(
        tuple(section.nodes), section.method, {n: tuple(e) for n, e in (section.assign or {}).items()}
    )


def apply_sharding(config: Config) -> Config:
    """What this node (``node.name``) runs: the whole config without sharding, its share with."""
    sharding = sharding_of(config)
    return config if sharding is None else sharding.for_node(config, config.node.name)


def coverage(configs: Iterable[Config]) -> dict[str, list[str]]:
    """``venue:SYMBOL`` -> the node names subscribing to it, over several nodes' configs
    (one name each in a correct split)."""
    out: dict[str, list[str]] = {}
    for c in configs:
        for venue, vc in c.enabled_venues().items():
            for symbol in vc.symbols:
                out.setdefault(instrument_key(venue, symbol), []).append(c.node.name)
    return out
