#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (Python 3.11) and builds it:
# system packages (compiler, Python headers, venv, the ClickHouse server the tests run
# against), a virtualenv in .venv with the runtime and test dependencies, and the compiled
# extensions. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

need_apt=()
command -v gcc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v "$PYTHON" >/dev/null 2>&1 || need_apt+=(python3)
"$PYTHON" -c "import venv, ensurepip" >/dev/null 2>&1 || need_apt+=(python3-venv)
"$PYTHON" - <<'PY' >/dev/null 2>&1 || need_apt+=(python3-dev)
import os, sysconfig
assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))
PY
# The tests start their own ClickHouse server (tests/servers.py; Debian's is 18.16), in a
# time zone other than UTC, so they need the zone files too.
[ -x /usr/sbin/clickhouse-server ] || need_apt+=(clickhouse-server)
command -v clickhouse-client >/dev/null 2>&1 || need_apt+=(clickhouse-client)
[ -e /usr/share/zoneinfo/Asia/Tokyo ] || need_apt+=(tzdata)
# NATS JetStream and Redis for the sink tests (started by the tests on free ports); promtool
# (Debian prometheus) to check the metrics text.
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need_apt+=(nats-server)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
# Deployment checks: docker-compose validates the compose file (no engine needed), headless
# Chromium and its driver load the node's status page.
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: please install: ${need_apt[*]} (needs root and apt-get)" >&2
        exit 2
    fi
    echo "setup: installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# Installer and compiler chatter goes to a log, shown only when a step fails.
LOG=.venv/setup.log
: > "$LOG"
step() {
    if ! "$@" >>"$LOG" 2>&1; then
        cat "$LOG" >&2
        echo "setup: failed: $*" >&2
        exit 1
    fi
}
step .venv/bin/python -m pip install -q --upgrade pip
# Build requirements first, then the project without build isolation (one build, in place).
step .venv/bin/python -m pip install -q "setuptools>=68" wheel "Cython>=3.0" "numpy>=2.0" "picows>=2.3"
step .venv/bin/python -m pip install -q --no-build-isolation -e ".[test]"
# The editable install builds the extensions; build in place too so that a plain checkout
# (tests run from the source tree) always imports the current compiled core.
step .venv/bin/python setup.py -q build_ext --inplace
.venv/bin/python -c "from marketprism_fast import _parse, _book; from marketprism_fast.transport import _listener; print('setup: compiled core ready')"
