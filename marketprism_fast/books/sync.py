"""Per-venue sync rules: what to do with the next message of a symbol (data-model.md, "Books").

A rule only reads ids and the symbol's sync state and answers with an ``Action``; the builder
carries it out and then records the message as the symbol's last (``SyncState.advance``).

* Binance spot: events wait for a REST snapshot (``lastUpdateId``); then events with
  ``u <= lastUpdateId`` are dropped, the first applied has ``U <= lastUpdateId+1 <= u``, and
  every later one ``U == prev_u + 1``.
* Binance futures (USD-M, COIN-M): drop ``u < lastUpdateId``; the first applied has
  ``U <= lastUpdateId <= u``; then ``pu == prev_u`` (``U`` is global across symbols).
* OKX: every snapshot resets the book; updates before one are not applied; the
  ``seqId``/``prevSeqId`` chain is checked when both ids are present. Checksums are the
  builder's business (they need the book).
* Deribit: snapshot resets; then ``prev_change_id`` must equal the previous ``change_id``.

Anything else after sync is a gap: the builder clears the symbol's book until its next snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..errors import ConfigurationError
from ..records import VENUES
from .messages import Message


class Phase(Enum):
    WAITING = "waiting"  # no usable book: waits for a snapshot
    SEEDED = "seeded"  # Binance: REST snapshot applied, its first event not yet seen
    SYNCED = "synced"


class Action(Enum):
    APPLY = "apply"  # apply the levels and emit
    SEED = "seed"  # Binance REST snapshot: reset the book, apply, emit nothing, replay buffered events
    RESET = "reset"  # WS snapshot: reset the book, apply, emit
    BUFFER = "buffer"  # keep for replay after the next REST snapshot
    DROP = "drop"  # before sync, or already covered by the snapshot
    GAP = "gap"  # continuity broken: clear the book until the next snapshot
    IGNORE = "ignore"  # a second REST snapshot for a synced symbol


@dataclass(slots=True)
class SyncState:
    phase: Phase = Phase.WAITING
    last_id: int = 0  # lastUpdateId after a seed; the last applied message's id after that

    def advance(self, action: Action, message: Message) -> None:
        self.phase = Phase.SEEDED if action is Action.SEED else Phase.SYNCED
        self.last_id = message.last_id

    def lose(self) -> None:
        self.phase = Phase.WAITING


class SyncRule:
    """Base of the venue rules. ``rest_snapshots``: events before sync are buffered for a
    REST snapshot; ``checksums``: messages carry a book checksum over level texts."""

    rest_snapshots = False
    checksums = False

    def decide(self, state: SyncState, message: Message) -> Action:
        raise NotImplementedError

    def continuity(self, state: SyncState, message: Message) -> tuple[int, int]:
        """(expected, got) of the id that continuity is checked on (for gap reports)."""
        return state.last_id, message.prev_id


class BinanceRule(SyncRule):
    """REST-snapshot sync; the spot and futures variants differ only in three id tests."""

    rest_snapshots = True

    def covered(self, snapshot_id: int, message: Message) -> bool:
        """The event is already inside the snapshot (dropped)."""
        raise NotImplementedError

    def straddles(self, snapshot_id: int, message: Message) -> bool:
        """The first event to apply after the snapshot."""
        raise NotImplementedError

    def follows(self, last_id: int, message: Message) -> bool:
        """The event continues the previous one."""
        raise NotImplementedError

    def decide(self, state: SyncState, message: Message) -> Action:
        if message.is_snapshot:
            return Action.IGNORE if state.phase is Phase.SYNCED else Action.SEED
        if state.phase is Phase.WAITING:
            return Action.BUFFER
        if state.phase is Phase.SEEDED:
            if self.covered(state.last_id, message):
                return Action.DROP
            return Action.APPLY if self.straddles(state.last_id, message) else Action.GAP
        return Action.APPLY if self.follows(state.last_id, message) else Action.GAP


class BinanceSpotRule(BinanceRule):
    def covered(self, snapshot_id: int, message: Message) -> bool:
        return message.last_id <= snapshot_id

    def straddles(self, snapshot_id: int, message: Message) -> bool:
        return message.first_id <= snapshot_id + 1 <= message.last_id

    def follows(self, last_id: int, message: Message) -> bool:
        return message.first_id == last_id + 1

    def continuity(self, state: SyncState, message: Message) -> tuple[int, int]:
        return state.last_id + 1, message.first_id


class BinanceFuturesRule(BinanceRule):
    def covered(self, snapshot_id: int, message: Message) -> bool:
        return message.last_id < snapshot_id

    def straddles(self, snapshot_id: int, message: Message) -> bool:
        return message.first_id <= snapshot_id <= message.last_id

    def follows(self, last_id: int, message: Message) -> bool:
        return message.prev_id == last_id

    def continuity(self, state: SyncState, message: Message) -> tuple[int, int]:
        if state.phase is Phase.SEEDED:
            return state.last_id, message.first_id
        return state.last_id, message.prev_id


class OkxRule(SyncRule):
    checksums = True

    def decide(self, state: SyncState, message: Message) -> Action:
        if message.is_snapshot:
            return Action.RESET
        if state.phase is not Phase.SYNCED:
            return Action.DROP
        if message.last_id and state.last_id and message.prev_id != state.last_id:
            return Action.GAP
        return Action.APPLY


class DeribitRule(SyncRule):
    def decide(self, state: SyncState, message: Message) -> Action:
        if message.is_snapshot:
            return Action.RESET
        if state.phase is not Phase.SYNCED:
            return Action.DROP
        return Action.APPLY if message.prev_id == state.last_id else Action.GAP


_RULES: dict[str, type[SyncRule]] = {
    "binance_spot": BinanceSpotRule,
    "binance_usdm": BinanceFuturesRule,
    "binance_coinm": BinanceFuturesRule,
    "okx": OkxRule,
    "deribit": DeribitRule,
}


def rule_for(venue: str) -> SyncRule:
    try:
        return _RULES[venue]()
    except KeyError:
        raise ConfigurationError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}", field="venue") from None
