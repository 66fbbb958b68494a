"""The node's commands: ``run``, ``check-config``, ``demo``, ``record``, ``sim``, ``consume``.

Each has an ``_add_<command>`` that declares its arguments and a ``_run_<command>`` that
runs it and returns the exit status (cli.py's conventions: 0 success, 2 bad usage or a bad
config, reported as one line on standard error).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import IO

from ..config import Config, load_config, require_runnable
from . import bench
from .sharding import apply_sharding
from ..errors import ConfigurationError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
CONFIG_VARIABLE = "MPF_CONFIG"


def _add_logging(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-format", choices=("text", "json"), help="log lines as text or one JSON object each (default: the config's)")
    p.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="least severe level logged (default: the config's)")


def add_commands(commands) -> None:
    p = commands.add_parser("run", help="run the ingest node", description="Run the ingest node until SIGTERM/SIGINT (then drain to the sinks and exit).")
    p.add_argument("--config", metavar="FILE", default=os.environ.get(CONFIG_VARIABLE), help=f"config file (default: ${CONFIG_VARIABLE})")
    _add_logging(p)

    p = commands.add_parser("check-config", help="validate a config file", description="Validate a config file with the environment's overrides; exit 0 if the node can run with it.")
    p.add_argument("config", metavar="FILE")
    p.add_argument("--show", action="store_true", help="print the effective config (JSON, no secrets)")

    p = commands.add_parser(
        "demo",
        help="the node against the local venue simulator, every venue and kind",
        description="Run the venue simulator generating every venue and kind, the node reading it over loopback "
        "WebSockets, and the embedded store; print a summary and where the data went.",
    )
    p.add_argument("--seconds", type=float, default=10.0, metavar="N", help="how long to run (default 10)")
    p.add_argument("--rate", type=float, default=2000.0, metavar="R", help="frames per second per venue (default 2000)")
    p.add_argument("--out", default="out/demo", metavar="DIR", help="where the data goes (default out/demo)")
    p.add_argument("--sink", choices=("embedded", "jsonl"), default=None, help="embedded store (default) or a JSON Lines file")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto", help="the live progress line (auto: on a terminal)")
    _add_logging(p)

    p = commands.add_parser("query", help="run SQL on an embedded store", description="Run one SQL statement on an embedded store (the demo's, or sinks.embedded.path) and print the result.")
    p.add_argument("store", metavar="STORE", help="the store's directory (e.g. out/demo/store)")
    p.add_argument("sql", metavar="SQL")
    p.add_argument("--format", default="PrettyCompactNoEscapes", help="ClickHouse output format (default PrettyCompactNoEscapes)")

    p = commands.add_parser("record", help="record raw frames in the corpus layout", description="Connect as the config says and record raw frames, receive times and REST bodies under DIR in the corpus layout, for replay.")
    p.add_argument("--config", metavar="FILE", required=True)
    p.add_argument("--out", metavar="DIR", required=True)
    p.add_argument("--seconds", type=float, default=None, metavar="N", help="stop after N seconds (default: until SIGTERM/SIGINT)")
    _add_logging(p)

    # listed here for --help; its arguments are the simulator's own (sim/cli.py)
    p = commands.add_parser("sim", help="run the venue simulator (see `sim --help`)", add_help=False)
    p.add_argument("sim_args", nargs=argparse.REMAINDER)

    p = commands.add_parser(
        "consume",
        help="NATS -> ClickHouse consumer",
        description="Consume batch messages from NATS JetStream (sinks.nats) and write each once into ClickHouse (sinks.clickhouse), until SIGTERM/SIGINT.",
    )
    p.add_argument("--config", metavar="FILE", default=os.environ.get(CONFIG_VARIABLE), help=f"config file (default: ${CONFIG_VARIABLE})")
    _add_logging(p)

    bench.add_parser(commands)


def _setup_logging(args: argparse.Namespace, config: Config | None, stderr: IO[str]):
    from .logs import configure

    level = args.log_level or (config.logging.level if config else "INFO")
    fmt = args.log_format or (config.logging.format if config else "text")
    return configure(level, fmt, stderr)


def _uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a runtime dependency
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# ------------------------------------------------------------------------------ run


async def serve(config: Config, *, on_started=None) -> int:
    """Run a node until SIGTERM/SIGINT; 0 when it drained within its shutdown timeout."""
    from .node import Node

    node = Node(config)
    node.install_signal_handlers()
    starting = asyncio.ensure_future(node.start())
    stopping = asyncio.ensure_future(node.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():  # SIGTERM while starting: stop starting, then stop
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
    elif starting.exception() is not None:
        stopping.cancel()
        await node.stop()
        raise starting.exception()  # type: ignore[misc]
    elif on_started is not None:
        on_started(node)
    await stopping
    drained = await node.stop()
    return EXIT_OK if drained else EXIT_FAILED


def _run_run(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    if not args.config:
        raise ConfigurationError(f"run: give --config FILE (or set {CONFIG_VARIABLE})", field="config")
    config = apply_sharding(load_config(args.config))
    require_runnable(config)
    _setup_logging(args, config, stderr)
    _uvloop()
    return asyncio.run(serve(config))


def _run_check_config(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    config = apply_sharding(load_config(args.config))
    require_runnable(config)
    venues = ", ".join(f"{name} ({len(v.symbols)} symbols)" for name, v in config.enabled_venues().items())
    line = f"{args.config}: ok; digest {config.digest()}; venues {venues}; sinks {', '.join(config.sinks.enabled())}\n"
    stdout.write(line.encode())
    if args.show:
        import json

        stdout.write((json.dumps(config.redacted(), indent=1) + "\n").encode())
    stdout.flush()
    return EXIT_OK


# ------------------------------------------------------------------------------ demo


def _run_demo(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    from .demo import DemoOptions, run_demo

    if not args.seconds > 0:
        raise ConfigurationError(f"demo: --seconds = {args.seconds}: must be > 0", field="seconds")
    if not args.rate > 0:
        raise ConfigurationError(f"demo: --rate = {args.rate}: must be > 0", field="rate")
    _setup_logging(args, None, stderr).setLevel(args.log_level or "WARNING")
    _uvloop()
    options = DemoOptions(seconds=args.seconds, rate=args.rate, out=args.out, sink=args.sink, progress=args.progress)
    return asyncio.run(run_demo(options, stderr=stderr))


def _run_query(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    from pathlib import Path

    if not Path(args.store).is_dir():
        raise ConfigurationError(f"query: {args.store}: no such store directory", field="store")
    try:
        from ..sinks.embedded import EmbeddedStore
    except ImportError:
        raise _missing("query", "marketprism_fast.sinks.embedded") from None
    store = EmbeddedStore(args.store, "marketprism")
    try:
        result = store.query(args.sql, args.format)
    except Exception as exc:  # chdb raises its own error type for bad SQL
        raise ConfigurationError(f"query: {' '.join(str(exc).split())[:300]}", field="sql") from None
    finally:
        store.close()
    stdout.write(bytes(result.bytes()) if hasattr(result, "bytes") else str(result).encode())
    stdout.flush()
    return EXIT_OK


# ------------------------------------------------------------------------------ wired commands


def _missing(what: str, module: str) -> ConfigurationError:
    return ConfigurationError(f"{what} is not part of this build (no {module})", field="command")


def _run_record(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    config = load_config(args.config)
    if not config.enabled_venues():
        raise ConfigurationError("venues: no venue is enabled; nothing to record", field="venues")
    _setup_logging(args, config, stderr)
    try:
        from ..transport.recorder import record
    except ImportError:
        raise _missing("record", "marketprism_fast.transport.recorder") from None
    _uvloop()

    async def recording() -> dict:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await record(config, args.out, seconds=args.seconds, stop=stop)

    result = asyncio.run(recording())
    for venue, r in (result or {}).items():
        stdout.write(f"{venue}: {r.get('frames', 0)} frames, {r.get('bodies', 0)} REST bodies -> {r.get('prefix', '')}.*\n".encode())
    stdout.flush()
    return EXIT_OK


def _run_sim(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    """The simulator's own command line (``sim/cli.py``), handed its arguments as they are."""
    try:
        from ..sim.cli import run_standalone
    except ImportError:
        raise _missing("sim", "marketprism_fast.sim.cli") from None
    try:
        return int(run_standalone(args.sim_args) or 0)
    except SystemExit as exc:  # its argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)


def _run_consume(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    if not args.config:
        raise ConfigurationError(f"consume: give --config FILE (or set {CONFIG_VARIABLE})", field="config")
    config = load_config(args.config)
    try:
        from ..sinks.consumer import consume
    except ImportError:
        raise _missing("consume", "marketprism_fast.sinks.consumer") from None
    _setup_logging(args, config, stderr)
    _uvloop()

    async def consuming() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await consume(config, stop=stop)

    asyncio.run(consuming())
    return EXIT_OK


COMMANDS = {
    "run": _run_run,
    "check-config": _run_check_config,
    "demo": _run_demo,
    "query": _run_query,
    "record": _run_record,
    "sim": _run_sim,
    "consume": _run_consume,
    "bench": bench.main,
}
