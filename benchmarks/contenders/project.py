"""The project's own parsers as contenders: the compiled core and the pure-Python reference."""

from __future__ import annotations

from marketprism_fast.batch import Batch
from marketprism_fast.parser import make_parser
from marketprism_fast.records import VENUES

from .base import Contender
from .corpus import TS_RECV
from .normalized import Columns, from_batches


def compiled_venues() -> frozenset[str]:
    """Venues whose compiled parser is complete (empty when the extension is not built)."""
    try:
        from marketprism_fast import _parse
    except ImportError:
        return frozenset()
    return frozenset(_parse.COMPILED_VENUES)


class _ProjectContender(Contender):
    """A ``make_parser`` parser; its batches are the records."""

    implementation: str

    def __init__(self, venue: str) -> None:
        super().__init__(venue)
        self.parser = make_parser(venue, implementation=self.implementation)

    def columns(self, outputs: list[list[Batch]]) -> Columns:
        return from_batches(batch for batches in outputs for batch in batches)


class CompiledContender(_ProjectContender):
    """The production hot path: ``feed_many`` per chunk (one C call per frame inside), then
    ``take()``; the batches are dropped, so the buffers reuse their arrays."""

    name = "compiled"
    implementation = "compiled"
    venues = compiled_venues()

    def decode(self, frames: list[bytes]) -> list[Batch]:
        self.parser.feed_many(frames, TS_RECV)
        return self.parser.take()


class ReferenceContender(_ProjectContender):
    """The pure-Python reference parser (orjson + strict field readers), frame by frame."""

    name = "reference"
    implementation = "reference"
    venues = frozenset(VENUES)

    def decode(self, frames: list[bytes]) -> list[Batch]:
        feed = self.parser.feed
        for frame in frames:
            feed(frame, TS_RECV)
        return self.parser.take()
