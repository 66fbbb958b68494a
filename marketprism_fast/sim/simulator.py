"""Loopback venues for tests, benchmarks and the demo: one ``VenueServer`` (``server.py``) per
venue id, started and stopped together, fed by a generator (``generate.py``) or a replay of
capture files (``replay.py``).

    async with Simulator(["binance_usdm", "okx"]) as sim:
        url = sim.ws_url("okx")                 # ws://127.0.0.1:PORT (the venue's paths below it)
        sim.generate("okx", rate=1000)          # or: await sim.replay("okx", [frames_file])
        ...
        sim.sent()                              # what was sent, per venue, stream and kind
        sim.faults("okx").disconnect()          # fault injection (faults.py)
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterable, Sequence

from ..errors import ConfigurationError
from ..records import VENUES
from ..tasks import cancel_and_wait
from .faults import Faults
from .generate import generator_for
from .replay import Replay
from .server import HOST, VenueServer


class Simulator:
    """Loopback servers for several venues; ``async with`` starts and stops them."""

    def __init__(
        self,
        venues: Iterable[str] = VENUES,
        *,
        host: str = HOST,
        settings: dict[str, dict] | None = None,
        ports: dict[str, tuple[int, int]] | None = None,
    ) -> None:
        venues = list(venues)
        for v in venues:
            if v not in VENUES:
                raise ConfigurationError(f"unknown venue {v!r}; expected one of {', '.join(VENUES)}", field="venue")
        settings = settings or {}
        self.ports = ports or {}
        self.servers = {v: VenueServer(v, host=host, settings=settings.get(v)) for v in venues}
        self._tasks: list[asyncio.Task] = []
        self._generators: dict[str, Any] = {}

    async def start(self) -> None:
        for venue, server in self.servers.items():
            await server.start(*self.ports.get(venue, (0, 0)))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        for server in self.servers.values():
            await server.stop()

    async def __aenter__(self) -> "Simulator":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def server(self, venue: str) -> VenueServer:
        try:
            return self.servers[venue]
        except KeyError:
            raise ConfigurationError(f"the simulator does not serve {venue!r}", field="venue") from None

    def ws_url(self, venue: str) -> str:
        return self.server(venue).ws_url

    def rest_url(self, venue: str) -> str:
        return self.server(venue).rest_url

    def faults(self, venue: str) -> Faults:
        return self.server(venue).faults

    def sent(self, venue: str | None = None) -> dict:
        if venue is not None:
            return self.server(venue).sent()
        return {v: s.sent() for v, s in self.servers.items()}

    # ---- sources -------------------------------------------------------------------------------
    def generate(self, venue: str, rate: float | None = 1000.0, **options: Any):
        """Start a synthetic stream (generate.py) on ``venue``: ``rate`` frames/s in total over the
        subscribed streams, ``None`` for as fast as the clients take them. Returns the generator."""
        server = self.server(venue)
        gen = generator_for(venue, server, **options)
        server.sources.insert(0, gen)
        self._generators[venue] = gen
        self._tasks.append(asyncio.create_task(gen.run(rate), name=f"sim-{venue}-generate"))
        return gen

    def load_replay(self, venue: str, frames: Sequence[str], **options: Any):
        """Load capture files for ``venue`` (replay.py); serve their snapshots and refdata."""
        server = self.server(venue)
        replay = Replay(server, frames, **options)
        server.sources.append(replay)
        return replay

    async def replay(self, venue: str, frames: Sequence[str], *, speed: float | None = None, **options: Any):
        """Replay capture files to the subscribed clients; returns when every frame was offered.
        ``speed``: 1.0 recorded pace, N for N times faster, None as fast as possible."""
        replay = self.load_replay(venue, frames, **options)
        await replay.run(speed=speed)
        return replay
