"""Per-venue sync rules: what to do with the next message of a symbol (data-model.md, "Books").

The rules themselves are written once, in the compiled core (``_book_sync.pxi``), where the
builder's hot path runs them per message. This module is their Python face for everyone
else who follows a depth stream (the builder's rare-event path, the offline ``normalize``
snapshot attribution): a rule reads only ids, the snapshot flag and the symbol's
``SyncState``, and answers with an ``Action``; the caller carries it out and then records
the message as the symbol's last (``SyncState.advance``).

* Binance spot: events wait for a REST snapshot (``lastUpdateId``); then events with
  ``u <= lastUpdateId`` are dropped, the first applied has ``U <= lastUpdateId+1 <= u``, and
  every later one ``U == prev_u + 1``.
* Binance futures (USD-M, COIN-M): drop ``u < lastUpdateId``; the first applied has
  ``U <= lastUpdateId <= u``; then ``pu == prev_u`` (``U`` is global across symbols).
* OKX: every snapshot resets the book; updates before one are not applied; the
  ``seqId``/``prevSeqId`` chain is checked when both ids are present. Checksums need the
  book: its keeper verifies them.
* Deribit: snapshot resets; then ``prev_change_id`` must equal the previous ``change_id``.

Anything else after sync is a gap: the book is cleared until its next snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from .._book import RULES, sync_continuity, sync_decide, sync_straddles
from ..errors import ConfigurationError
from ..records import VENUES

if TYPE_CHECKING:
    from .messages import Message


class Phase(IntEnum):
    """A symbol's sync phase (the compiled core's codes)."""

    WAITING = 0  # no usable book: waits for a snapshot
    SEEDED = 1  # Binance: REST snapshot applied, its first event not yet seen
    SYNCED = 2


class Action(IntEnum):
    """What a rule answers (the compiled core's codes)."""

    APPLY = 0  # apply the levels and emit
    SEED = 1  # Binance REST snapshot: reset the book, apply, emit nothing, replay buffered events
    RESET = 2  # WS snapshot: reset the book, apply, emit
    BUFFER = 3  # keep for replay after the next REST snapshot
    DROP = 4  # before sync, or already covered by the snapshot
    GAP = 5  # continuity broken: clear the book until the next snapshot
    IGNORE = 6  # a second REST snapshot for a synced symbol


@dataclass(slots=True)
class SyncState:
    phase: Phase = Phase.WAITING
    last_id: int = 0  # lastUpdateId after a seed; the last applied message's id after that

    def advance(self, action: Action, last_id: int) -> None:
        self.phase = Phase.SEEDED if action is Action.SEED else Phase.SYNCED
        self.last_id = last_id

    def lose(self) -> None:
        self.phase = Phase.WAITING


class SyncRule:
    """One venue's rule. ``rest_snapshots``: events before sync are buffered for a REST
    snapshot; ``checksums``: messages carry a book checksum over level texts."""

    __slots__ = ("venue", "code", "rest_snapshots", "checksums")

    def __init__(self, venue: str) -> None:
        try:
            self.code = RULES[venue]
        except KeyError:
            raise ConfigurationError(
                f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}", field="venue"
            ) from None
        self.venue = venue
        self.rest_snapshots = venue.startswith("binance_")
        self.checksums = venue == "okx"

    def decide_ids(self, phase: int, last_id: int, is_snapshot: bool, first: int, last: int, prev: int) -> Action:
        """The action for a message with these ids, for a symbol in ``phase`` after ``last_id``."""
        return Action(sync_decide(self.code, phase, last_id, is_snapshot, first, last, prev))

    def decide(self, state: SyncState, message: "Message") -> Action:
        return self.decide_ids(
            state.phase, state.last_id, message.is_snapshot, message.first_id, message.last_id, message.prev_id
        )

    def straddles(self, snapshot_id: int, first: int, last: int) -> bool:
        """Binance: an event ``first..last`` is the first to apply after a snapshot ``snapshot_id``."""
        return sync_straddles(self.code, snapshot_id, first, last)

    def continuity(self, phase: int, last_id: int, first: int, prev: int) -> tuple[int, int]:
        """(expected, got) of the id that continuity is checked on (for gap reports)."""
        return sync_continuity(self.code, phase, last_id, first, prev)


def rule_for(venue: str) -> SyncRule:
    return SyncRule(venue)
