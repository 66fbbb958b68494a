"""Real servers for the tests: started for the test session on free loopback ports in a
temporary directory, or an already running one named by an environment variable.

ClickHouse: ``MPF_CLICKHOUSE_HTTP`` (for example ``http://127.0.0.1:8123``) names a running
server, reached over its HTTP interface; otherwise ``/usr/sbin/clickhouse-server``
(Debian's 18.16, installed by ``scripts/setup.sh``) is started with its own config. An
18.x server given by URL needs ``allow_experimental_low_cardinality_type=1`` in its default
profile, as the started one has.
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


def free_loopback_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (held open together, so they differ)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
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
        server = ClickHouse(url.rstrip("/"))
        if not server.is_ready():
            raise ServerError(f"{CLICKHOUSE_URL_VARIABLE}={url}: no ClickHouse answers /ping there")
        yield server
    else:
        with started_clickhouse() as server:
            yield server
