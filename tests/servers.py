"""Real servers for the tests: started for the test session on free loopback ports in a
temporary directory, or an already running one named by an environment variable.

ClickHouse: ``MPF_CLICKHOUSE_HTTP`` (for example ``http://127.0.0.1:8123``) names a running
server, reached over its HTTP interface (and ``MPF_CLICKHOUSE_TCP_PORT`` gives its native
port, which the sink tests need); otherwise ``/usr/sbin/clickhouse-server``
(Debian's 18.16, installed by ``scripts/setup.sh``) is started with its own config. An
18.x server given by URL needs ``allow_experimental_low_cardinality_type=1`` in its default
profile, as the started one has.

NATS (``nats-server -js``) and Redis (``redis-server``): ``MPF_NATS_URL`` and
``MPF_REDIS_URL`` name running servers; otherwise one of each is started on free loopback
ports with its own data directory. The fault tests always start private servers
(``ManagedClickHouse``, ``ManagedNats``, ``ManagedRedis``), since they stop, kill and restart them.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

CLICKHOUSE_SERVER = Path("/usr/sbin/clickhouse-server")
CLICKHOUSE_URL_VARIABLE = "MPF_CLICKHOUSE_HTTP"
CLICKHOUSE_TCP_PORT_VARIABLE = "MPF_CLICKHOUSE_TCP_PORT"  # its native port, for the sink tests
# Not UTC, and ahead of it: an expression that forgets 'UTC' puts a late-evening UTC
# timestamp on the next day and a test sees it.
CLICKHOUSE_TIME_ZONE = "Asia/Tokyo"

READY_WITHIN_S = 30.0
STOP_WITHIN_S = 30.0
POLL_INTERVAL_S = 0.01
START_ATTEMPTS = 3  # a free port can be taken between choosing it and the server binding it
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class ServerError(Exception):
    """A test server could not be started, or refused a query."""


@dataclass(frozen=True)
class ClickHouse:
    """A ClickHouse server reached over its HTTP interface."""

    http_url: str
    tcp_port: int | None = None  # native protocol, for clickhouse-client; None when not known

    def query(self, sql: str, *, data: bytes | None = None, settings: Mapping[str, object] | None = None) -> str:
        """Run one statement and return the response body. With ``data``, the statement
        (an INSERT ... FORMAT ...) goes in the URL and ``data`` is the body."""
        params = {k: str(v) for k, v in (settings or {}).items()}
        if data is None:
            body = sql.encode()
        else:
            params["query"] = sql
            body = data
        url = self.http_url + "/?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=60) as response:
                return response.read().decode()
        except urllib.error.HTTPError as exc:
            message = " ".join(exc.read().decode(errors="replace").split())
            raise ServerError(f"ClickHouse refused {' '.join(sql.split())[:300]!r}: {message}") from None

    def rows(self, sql: str) -> list[dict]:
        """The result as one dict per row, columns in order, 64-bit integers as numbers."""
        text = self.query(sql + " FORMAT JSONEachRow", settings={"output_format_json_quote_64bit_integers": 0})
        return [json.loads(line) for line in text.splitlines()]

    def insert_rows(self, table: str, rows: list[dict]) -> None:
        self.query(f"INSERT INTO {table} FORMAT JSONEachRow", data="\n".join(map(json.dumps, rows)).encode())

    def version(self) -> str:
        return self.query("SELECT version()").strip()

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.http_url + "/ping", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False


# Ports of our servers come from a slice of their own below the kernel's ephemeral range, one
# slice per pytest worker: a server that a fault test stops keeps its ports for its restart,
# and in the meantime no outgoing connection can be given one of them (the kernel hands those
# out of the ephemeral range only) nor another worker pick it (its slice is another).
PORT_SLICE_START = 10_000
PORT_SLICE_SIZE = 2_000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def port_slice() -> range | None:
    """This process's slice of ports (by its pytest-xdist worker, ``gwN``), or None where the
    slices would reach the ephemeral range (or it cannot be read): then any free port."""
    try:
        ephemeral_low = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = PORT_SLICE_START + index * PORT_SLICE_SIZE
    if start + PORT_SLICE_SIZE > ephemeral_low:
        return None
    return range(start, start + PORT_SLICE_SIZE)


_slice_cursor = 0  # where the next search of this process's slice starts: a port is handed out once per turn


def free_loopback_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (held open together, so they differ), from this process's
    slice (``port_slice``) where there is one."""
    global _slice_cursor
    ports = port_slice()
    sockets: list[socket.socket] = []
    try:
        if ports is None:
            for _ in range(count):
                sockets.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                sockets[-1].bind(("127.0.0.1", 0))
        else:
            for _ in range(len(ports)):
                port = ports[_slice_cursor % len(ports)]
                _slice_cursor += 1
                candidate = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    candidate.bind(("127.0.0.1", port))
                except OSError:  # in use (or still in TIME_WAIT): the next one
                    candidate.close()
                    continue
                sockets.append(candidate)
                if len(sockets) == count:
                    break
            if len(sockets) < count:
                raise ServerError(f"fewer than {count} free loopback ports in {ports.start}-{ports.stop - 1}")
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _clickhouse_config(root: Path, *, http_port: int, tcp_port: int, interserver_port: int) -> str:
    return f"""<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{root}/log/server.log</log>
        <errorlog>{root}/log/server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <interserver_http_port>{interserver_port}</interserver_http_port>
    <path>{root}/data/</path>
    <tmp_path>{root}/tmp/</tmp_path>
    <user_files_path>{root}/user_files/</user_files_path>
    <users_config>{root}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>{CLICKHOUSE_TIME_ZONE}</timezone>
    <mark_cache_size>268435456</mark_cache_size>
</yandex>
"""


_CLICKHOUSE_USERS = """<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default></default></quotas>
</yandex>
"""


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _end_with_parent() -> None:
    """In the child before exec: a test run that is killed takes its server with it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start_clickhouse(root: Path) -> tuple[ClickHouse, subprocess.Popen]:
    """One attempt: a server on fresh ports, ready to answer, or ServerError with its logs."""
    http_port, tcp_port, interserver_port = free_loopback_ports(3)
    config = root / "config.xml"
    config.write_text(
        _clickhouse_config(root, http_port=http_port, tcp_port=tcp_port, interserver_port=interserver_port)
    )
    (root / "users.xml").write_text(_CLICKHOUSE_USERS)
    console = root / "console.log"
    with console.open("wb") as out:
        process = subprocess.Popen(
            [str(CLICKHOUSE_SERVER), f"--config-file={config}"],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_end_with_parent,
        )
    server = ClickHouse(f"http://127.0.0.1:{http_port}", tcp_port=tcp_port)
    try:
        deadline = time.monotonic() + READY_WITHIN_S
        while not server.is_ready():
            if process.poll() is not None or time.monotonic() > deadline:
                state = f"exited with status {process.returncode}" if process.poll() is not None else "did not answer"
                raise ServerError(
                    f"clickhouse-server {state} (ports {http_port}/{tcp_port}/{interserver_port}):\n"
                    f"{_tail(console)}\n{_tail(root / 'log' / 'server.err.log')}"
                )
            time.sleep(POLL_INTERVAL_S)
    except BaseException:
        _stop(process)
        raise
    return server, process


@contextmanager
def started_clickhouse() -> Iterator[ClickHouse]:
    """A fresh clickhouse-server in a temporary directory, stopped (SIGTERM) and removed at the end."""
    if not CLICKHOUSE_SERVER.exists():
        raise ServerError(
            f"{CLICKHOUSE_SERVER} not found: run scripts/setup.sh, or set {CLICKHOUSE_URL_VARIABLE} to a running server"
        )
    with tempfile.TemporaryDirectory(prefix="mpf-clickhouse-") as tmp:
        for attempt in range(1, START_ATTEMPTS + 1):
            root = Path(tmp) / f"attempt{attempt}"
            root.mkdir()
            try:
                server, process = _start_clickhouse(root)
                break
            except ServerError:
                if attempt == START_ATTEMPTS:
                    raise
        try:
            yield server
        finally:
            _stop(process)


@contextmanager
def clickhouse() -> Iterator[ClickHouse]:
    """The server named by MPF_CLICKHOUSE_HTTP, or one started for the duration."""
    url = os.environ.get(CLICKHOUSE_URL_VARIABLE)
    if url:
        tcp_port = os.environ.get(CLICKHOUSE_TCP_PORT_VARIABLE)
        server = ClickHouse(url.rstrip("/"), tcp_port=int(tcp_port) if tcp_port else None)
        if not server.is_ready():
            raise ServerError(f"{CLICKHOUSE_URL_VARIABLE}={url}: no ClickHouse answers /ping there")
        yield server
    else:
        with started_clickhouse() as server:
            yield server


# ---- servers the fault tests stop, kill and restart ----------------------------------------


class ManagedServer:
    """A server process of our own on fixed loopback ports and a data directory kept across
    restarts, so that a test can stop (SIGTERM), kill (SIGKILL) and start it again."""

    name = "server"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None
        self.ports: list[int] = []

    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    def port_count(self) -> int:
        return 1

    def start(self) -> None:
        """Start on fresh ports the first time (retried: a port can be taken meanwhile), on
        the same ports and data directory after that (a restart)."""
        if self.running:
            return
        attempts = 1 if self.ports else START_ATTEMPTS
        for attempt in range(1, attempts + 1):
            if attempts > 1:
                self.ports = free_loopback_ports(self.port_count())
            if self._start_once():
                return
        raise ServerError(f"{self.name} did not start on ports {self.ports}:\n{_tail(self.root / 'console.log')}")

    # Benchmarks pin themselves to one core; a server of theirs gets every core back.
    all_cpus = False

    def _preexec(self) -> None:
        _end_with_parent()
        if self.all_cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, range(os.cpu_count() or 1))

    def _start_once(self) -> bool:
        with (self.root / "console.log").open("ab") as out:
            self.process = subprocess.Popen(
                self.command(), cwd=self.root, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=self._preexec,
            )
        deadline = time.monotonic() + READY_WITHIN_S
        while not self.is_ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                _stop(self.process)
                return False
            time.sleep(POLL_INTERVAL_S)
        return True

    def stop(self) -> None:
        """SIGTERM, and wait for the process to end."""
        if self.process is not None:
            _stop(self.process)

    def kill(self) -> None:
        """SIGKILL: no shutdown at all."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class ManagedClickHouse(ManagedServer):
    name = "clickhouse-server"

    def port_count(self) -> int:
        return 3

    def command(self) -> list[str]:
        http_port, tcp_port, interserver_port = self.ports
        config = self.root / "config.xml"
        config.write_text(_clickhouse_config(self.root, http_port=http_port, tcp_port=tcp_port, interserver_port=interserver_port))
        (self.root / "users.xml").write_text(_CLICKHOUSE_USERS)
        return [str(CLICKHOUSE_SERVER), f"--config-file={config}"]

    @property
    def server(self) -> ClickHouse:
        return ClickHouse(f"http://127.0.0.1:{self.ports[0]}", tcp_port=self.ports[1])

    @property
    def native_url(self) -> str:
        return f"clickhouse://127.0.0.1:{self.ports[1]}"

    def is_ready(self) -> bool:
        return self.server.is_ready()


NATS_SERVER = Path("/usr/sbin/nats-server")
NATS_URL_VARIABLE = "MPF_NATS_URL"
REDIS_SERVER = Path("/usr/bin/redis-server")
REDIS_URL_VARIABLE = "MPF_REDIS_URL"


class ManagedNats(ManagedServer):
    """``nats-server -js`` with its own store directory (streams survive a restart)."""

    name = "nats-server"

    def port_count(self) -> int:
        return 2

    def command(self) -> list[str]:
        port, monitor = self.ports
        binary = shutil_which("nats-server") or str(NATS_SERVER)
        return [binary, "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor), "-js", "-sd", str(self.root / "store")]

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.ports[0]}"

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[1]}/healthz?js-enabled-only=true", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False


class ManagedRedis(ManagedServer):
    name = "redis-server"

    def command(self) -> list[str]:
        binary = shutil_which("redis-server") or str(REDIS_SERVER)
        return [binary, "--bind", "127.0.0.1", "--port", str(self.ports[0]), "--save", "", "--appendonly", "no", "--dir", str(self.root)]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def is_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.ports[0]), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


@contextmanager
def managed(server_class: type[ManagedServer], *, all_cpus: bool = False) -> Iterator[ManagedServer]:
    """A private server of that class, started; stopped and its directory removed at the end."""
    with tempfile.TemporaryDirectory(prefix=f"mpf-{server_class.name}-") as tmp:
        server = server_class(Path(tmp))
        server.all_cpus = all_cpus
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def nats_url() -> Iterator[str]:
    """The NATS server MPF_NATS_URL names, or a private ``nats-server -js`` for the duration."""
    url = os.environ.get(NATS_URL_VARIABLE)
    if url:
        yield url
    else:
        with managed(ManagedNats) as server:
            yield server.url  # type: ignore[attr-defined]


@contextmanager
def redis_url() -> Iterator[str]:
    """The Redis server MPF_REDIS_URL names, or a private ``redis-server`` for the duration."""
    url = os.environ.get(REDIS_URL_VARIABLE)
    if url:
        yield url
    else:
        with managed(ManagedRedis) as server:
            yield server.url  # type: ignore[attr-defined]
