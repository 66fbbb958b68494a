"""``python -m marketprism_fast sim``: run the venue simulator on loopback.

    sim --venue okx --generate 5000                      # synthetic streams, 5000 frames/s
    sim --venue binance_usdm --generate max --seconds 30 # as fast as the clients read
    sim --venue binance_spot --replay X.frames.jsonl.zst --speed 10
    sim --venue okx --replay FILE --speed max --wait-subscribers 30

One line per venue names its WS and REST base URLs (point a node's ``ws_url``/``rest_url``
there); at the end one JSON line per venue says what was sent. SIGINT/SIGTERM stop cleanly.

The command-line module wires it in with ``add_parser(subparsers)`` and ``main(args)``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import IO

import orjson

from ..errors import ConfigurationError, MarketPrismError
from ..records import VENUES

EXIT_OK, EXIT_USAGE = 0, 2


def _rate(text: str) -> float | None:
    if text in ("max", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected frames per second or 'max', got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive rate or 'max', got {text!r}")
    return value


def _venues(text: str) -> list[str]:
    venues = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in venues if v not in VENUES]
    if unknown or not venues:
        raise argparse.ArgumentTypeError(f"unknown venue {', '.join(unknown) or text!r}; expected one of {', '.join(VENUES)}")
    return venues


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sim",
        help="run the venue simulator (replay captures or generate streams) on loopback",
        description="Serve each venue's public WS and REST protocol on loopback, fed by replayed captures or synthetic streams.",
    )
    p.add_argument("--venue", type=_venues, default=list(VENUES), metavar="VENUES",
                   help=f"comma-separated venues (default all): {', '.join(VENUES)}")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--replay", nargs="+", metavar="FRAMES", help="capture files (X.frames.jsonl[.zst]) of one venue")
    source.add_argument("--generate", type=_rate, metavar="RATE", help="synthetic frames per second per venue, or 'max'")
    p.add_argument("--speed", type=_rate, default=1.0, metavar="N",
                   help="replay pace: 1 as recorded, N times faster, 'max' as fast as the clients read (default 1)")
    p.add_argument("--symbols", metavar="SYMBOLS", help="comma-separated venue symbols to generate (default a few per venue)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, metavar="BASE",
                   help="first port: venue i listens on BASE+2i (WS) and BASE+2i+1 (REST); 0 picks free ports")
    p.add_argument("--seconds", type=float, default=None, metavar="N", help="stop after N seconds (default: run until stopped)")
    p.add_argument("--wait-subscribers", type=float, default=0.0, metavar="S",
                   help="replay: wait up to S seconds for clients to subscribe to every stream of the capture")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="venue protocol setting, e.g. ping_interval=5 or idle_timeout=10 (repeatable; numbers)")
    p.set_defaults(run=main)
    return p


def _settings(pairs: list[str]) -> dict:
    out: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--set expects KEY=VALUE, got {pair!r}", field="set")
        try:
            out[key] = int(value)
        except ValueError:
            try:
                out[key] = float(value)
            except ValueError:
                raise ConfigurationError(f"--set {key}: expected a number, got {value!r}", field=key) from None
    return out


async def _serve(args: argparse.Namespace, out: IO[str]) -> dict:
    from .simulator import Simulator

    venues: list[str] = args.venue
    if args.replay and len(venues) != 1:
        raise ConfigurationError("--replay takes the captures of one venue: give --venue VENUE", field="venue")
    settings = _settings(args.set)
    ports = {v: (args.port + 2 * i, args.port + 2 * i + 1) for i, v in enumerate(venues)} if args.port else None
    sim = Simulator(venues, host=args.host, settings={v: settings for v in venues}, ports=ports)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with sim:
        for v in venues:
            print(f"{v}: ws {sim.ws_url(v)} rest {sim.rest_url(v)}", file=out, flush=True)
        work: asyncio.Task | None = None
        if args.generate is not None or not args.replay:
            symbols = [s.strip() for s in args.symbols.split(",")] if args.symbols else None
            for v in venues:
                sim.generate(v, rate=args.generate, symbols=symbols)
        else:
            replay = sim.load_replay(venues[0], args.replay)

            async def replay_all() -> None:
                if args.wait_subscribers > 0 and not await replay.wait_subscribed(args.wait_subscribers):
                    print(f"{venues[0]}: not every stream was subscribed; replaying anyway", file=out, flush=True)
                await replay.run(speed=args.speed)
                print(f"{venues[0]}: replay done ({len(replay.items)} frames offered)", file=out, flush=True)

            work = asyncio.create_task(replay_all())
        waiters = [asyncio.create_task(stop.wait())]
        if args.seconds is not None:
            waiters.append(asyncio.create_task(asyncio.sleep(args.seconds)))
        if work is not None and args.seconds is None:
            waiters.append(work)
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters + ([work] if work is not None else []):
            if not w.done():
                w.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await w
        if work is not None and work.done() and not work.cancelled() and work.exception():
            raise work.exception()  # type: ignore[misc]
        return {v: sim.sent(v) for v in venues}


def main(args: argparse.Namespace, *, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        sent = asyncio.run(_serve(args, out))
    except (MarketPrismError, OSError) as exc:
        print(f"sim: {exc}", file=err)
        return EXIT_USAGE
    for venue, report in sent.items():
        summary = {k: report[k] for k in ("frames", "deliveries", "bytes", "by_kind", "faults", "events")}
        print(orjson.dumps({"venue": venue, **summary}).decode(), file=out, flush=True)
    return EXIT_OK


def run_standalone(argv: list[str] | None = None) -> int:
    """``python -m marketprism_fast.sim.cli ...`` until the main CLI wires ``sim`` in."""
    parser = argparse.ArgumentParser(prog="marketprism_fast")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sim", *(argv if argv is not None else sys.argv[1:])])
    return main(args)


if __name__ == "__main__":
    sys.exit(run_standalone())
