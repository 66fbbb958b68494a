"""What a decode contender is: frames in, normalized records out, one chunk at a time."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from .normalized import Columns


class Contender(ABC):
    """One way of turning received frames into normalized records.

    ``decode`` handles one chunk and returns that chunk's records in the contender's own
    form (batches, lists, model instances). The timed loop drops each chunk's output right
    away, as a sink releases what it has written; ``columns`` turns kept outputs into the
    common form for the equivalence check.
    """

    name: ClassVar[str]
    venues: ClassVar[frozenset[str]]

    def __init__(self, venue: str) -> None:
        if venue not in self.venues:
            raise ValueError(f"contender {self.name} does not decode {venue}")
        self.venue = venue

    @abstractmethod
    def decode(self, frames: list[bytes]) -> Any:
        """One chunk of frames -> its records (a fresh output object)."""

    @abstractmethod
    def columns(self, outputs: list[Any]) -> Columns:
        """Outputs of consecutive ``decode`` calls -> contract columns per kind."""

    def run(self, chunks: list[list[bytes]]) -> None:
        """The timed unit: decode every chunk, releasing each chunk's records at once."""
        decode = self.decode
        for chunk in chunks:
            decode(chunk)

    def decode_all(self, chunks: list[list[bytes]]) -> Columns:
        return self.columns([self.decode(chunk) for chunk in chunks])
