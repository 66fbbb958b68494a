"""The venue simulator as a benchmark sender, in a process of its own.

    python sim_sender.py FRAMES_FILE REPEAT [RATE]   -> prints the simulator's WS port

Serves binance_spot; once a client has subscribed ``btcusdt@trade`` it writes the file's frames
(encoded once) REPEAT times to it with the simulator's ``publish_encoded``, waiting for the
client's flow control between writes, then keeps serving until killed.

With RATE (frames/s) the frames go out paced instead: a run of RATE/100 frames every 10 ms
on an absolute schedule (a late tick sends its run at once, no catch-up burst beyond it),
for the latency of a feed below the node's capacity.
"""

from __future__ import annotations

import asyncio
import sys
import time

from marketprism_fast.sim.server import encode_text_frames
from marketprism_fast.sim.simulator import Simulator

KEY = "btcusdt@trade"
TICK_SECONDS = 0.01


async def main() -> None:
    path, repeat = sys.argv[1], int(sys.argv[2])
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    with open(path, "rb") as f:
        frames = [line for line in f.read().split(b"\n") if line]
    async with Simulator(["binance_spot"]) as sim:
        server = sim.server("binance_spot")
        print(server.ws_port, flush=True)
        while KEY not in server.subscribed_keys():
            await asyncio.sleep(0.005)
        if rate <= 0:
            buffer = encode_text_frames(frames)
            for _ in range(repeat):
                server.publish_encoded(KEY, buffer, len(frames), "trade")
                await server.drain()
        else:
            per_tick = max(int(rate * TICK_SECONDS), 1)
            runs = [encode_text_frames(frames[i : i + per_tick]) for i in range(0, len(frames) - per_tick + 1, per_tick)]
            start = time.monotonic()
            tick = 0
            for _ in range(repeat):
                for run in runs:
                    server.publish_encoded(KEY, run, per_tick, "trade")
                    tick += 1
                    delay = start + tick * TICK_SECONDS - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    else:
                        await server.drain()
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
