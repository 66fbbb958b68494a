"""The venue simulator as a benchmark sender, in a process of its own.

    python sim_sender.py FRAMES_FILE REPEAT   -> prints the simulator's WS port

Serves binance_spot; once a client has subscribed ``btcusdt@trade`` it writes the file's frames
(encoded once) REPEAT times to it with the simulator's ``publish_encoded``, waiting for the
client's flow control between writes, then keeps serving until killed.
"""

from __future__ import annotations

import asyncio
import sys

from marketprism_fast.sim.server import Simulator, encode_text_frames

KEY = "btcusdt@trade"


async def main() -> None:
    path, repeat = sys.argv[1], int(sys.argv[2])
    with open(path, "rb") as f:
        frames = [line for line in f.read().split(b"\n") if line]
    buffer = encode_text_frames(frames)
    async with Simulator(["binance_spot"]) as sim:
        server = sim.server("binance_spot")
        print(server.ws_port, flush=True)
        while KEY not in server.subscribed_keys():
            await asyncio.sleep(0.005)
        for _ in range(repeat):
            server.publish_encoded(KEY, buffer, len(frames), "trade")
            await server.drain()
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
