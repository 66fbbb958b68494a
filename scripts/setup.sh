#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (Python 3.11) and builds it:
# system packages (compiler, Python headers, venv; for the tests also the ClickHouse, NATS
# and Redis servers they start), a virtualenv in .venv with the dependencies, and the
# compiled extensions, in place.
#
#   bash scripts/setup.sh          everything: runtime and test dependencies (scripts/test.sh)
#   bash scripts/setup.sh --demo   only what the demo runs: the runtime dependencies of
#                                  pyproject.toml and the build tools, no test extra and no
#                                  test servers
#   bash scripts/setup.sh --check  say what a run would do (dependencies, build), do nothing
#
# A second run is a no-op in about a second: the dependencies are reinstalled only when
# pyproject.toml, setup.py or a requirements file changed (a stamp in .venv), and the
# compiled core is rebuilt only when a Cython source (marketprism_fast/**/*.pyx, .pxi, .pxd, .h),
# records.py (the generated column layout) or setup.py changed, or a module is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
started_ms=$(( $(date +%s%N) / 1000000 ))

PYTHON=${PYTHON:-python3}
MODE=full
CHECK=0
case "${1:-}" in
    "") ;;
    --demo) MODE=demo ;;
    --check) CHECK=1 ;;
    *) echo "setup: unknown option $1 (expected --demo, --check or nothing)" >&2; exit 2 ;;
esac

say() { echo "setup: $*"; }

need_apt=()
command -v gcc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v "$PYTHON" >/dev/null 2>&1 || need_apt+=(python3)
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -c "import venv, ensurepip" >/dev/null 2>&1 || need_apt+=(python3-venv)
fi
"$PYTHON" - <<'PY' >/dev/null 2>&1 || need_apt+=(python3-dev)
import os, sysconfig
assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))
PY
if [ "$MODE" = full ]; then
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
fi
if [ "$CHECK" = 1 ] && [ ! -x .venv/bin/python ]; then
    say "system packages: ${need_apt[*]:-current}; .venv: to create"
    exit 0
fi
if [ ${#need_apt[@]} -gt 0 ] && [ "$CHECK" = 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "please install: ${need_apt[*]} (needs root and apt-get)" >&2
        exit 2
    fi
    say "installing system packages: ${need_apt[*]} (apt-get; a minute or two)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    say "creating the virtualenv .venv"
    "$PYTHON" -m venv .venv
fi
# Installer and compiler chatter goes to a log, shown only when a step fails.
LOG=.venv/setup.log
step() {
    if ! "$@" >>"$LOG" 2>&1; then
        cat "$LOG" >&2
        say "failed: $*" >&2
        exit 1
    fi
}

# Fingerprints of the inputs: the dependency declarations, and the sources of the build.
digest() { cat "$@" 2>/dev/null | sha256sum | cut -c1-32; }
python_version=$(.venv/bin/python -c 'import sys; print(sys.version)')
deps_files=(pyproject.toml setup.py)
for f in requirements*.txt; do [ -e "$f" ] && deps_files+=("$f"); done
deps_stamp="$(printf '%s\n' "$python_version" | sha256sum | cut -c1-16)-$(digest "${deps_files[@]}")"
mapfile -t cython_sources < <(find marketprism_fast -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.h' | grep -v '/_columns\.pxi$' | LC_ALL=C sort)
build_stamp="$deps_stamp-$(digest setup.py marketprism_fast/records.py "${cython_sources[@]}")-$(printf '%s\n' "${cython_sources[@]}" | sha256sum | cut -c1-16)"

DEPS_STAMP=.venv/.setup-deps
BUILD_STAMP=.venv/.setup-build
deps_current() {
    # A full install also serves the demo; the demo's does not serve the tests.
    [ -f "$DEPS_STAMP" ] || return 1
    case "$(cat "$DEPS_STAMP")" in
        "full $deps_stamp") return 0 ;;
        "demo $deps_stamp") [ "$MODE" = demo ] ;;
        *) return 1 ;;
    esac
}
modules_built() {
    local pyx so
    for pyx in $(find marketprism_fast -name '*.pyx'); do
        so=$(ls "${pyx%.pyx}".*.so 2>/dev/null | head -1)
        [ -n "$so" ] && [ "$so" -nt "$pyx" ] || return 1
    done
}

build_current() {
    [ -f "$BUILD_STAMP" ] && [ "$(cat "$BUILD_STAMP")" = "$build_stamp" ] && modules_built
}
if [ "$CHECK" = 1 ]; then
    say "system packages: ${need_apt[*]:-current}"
    if deps_current; then say "dependencies: current"; else say "dependencies: to install"; fi
    if deps_current && build_current; then say "compiled core: current"; else say "compiled core: to build"; fi
    exit 0
fi

if ! deps_current; then
    : > "$LOG"
    rm -f "$BUILD_STAMP"
    if [ "$MODE" = demo ]; then
        say "installing what the demo uses into .venv (the runtime dependencies; a few minutes the first time)"
    else
        say "installing the Python dependencies into .venv (runtime and test; a few minutes the first time)"
    fi
    step .venv/bin/python -m pip install -q --upgrade pip
    # Build requirements first (pyproject's [build-system]: setuptools, Cython, numpy, picows
    # for the transport's listener), then the project without build isolation.
    mapfile -t build_deps < <(.venv/bin/python - <<'PY'
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["build-system"]["requires"]))
PY
)
    step .venv/bin/python -m pip install -q "${build_deps[@]}"
    if [ "$MODE" = demo ]; then
        deps_spec=(-e .)
    else
        deps_spec=(-e ".[test]")
    fi
    # The editable install links the source tree (no extension built here: MPF_ONLY names
    # none); the extensions are built in place below, once.
    step env MPF_ONLY=- .venv/bin/python -m pip install -q --no-build-isolation "${deps_spec[@]}"
    if [ "$MODE" != demo ]; then
        # Optional comparison contenders (the `bench` extra: cryptofeed, pysimdjson); the
        # comparison skips one that is absent with a message, so a failed install is reported, not fatal.
        .venv/bin/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"].get("bench", [])))' > .venv/bench-requirements.txt
        if [ -s .venv/bench-requirements.txt ] && ! .venv/bin/python -m pip install -q -r .venv/bench-requirements.txt >>"$LOG" 2>&1; then
            say "the optional benchmark contenders ($(tr '\n' ' ' < .venv/bench-requirements.txt)) did not install; the comparison skips them"
        fi
    fi
    echo "$MODE $deps_stamp" > "$DEPS_STAMP"
fi

if ! build_current; then
    : >> "$LOG"
    say "building the compiled core (Cython; about a minute when everything changed)"
    step .venv/bin/python setup.py -q build_ext --inplace
    echo "$build_stamp" > "$BUILD_STAMP"
fi
# Every compiled module imports (marketprism_fast/a/_b.pyx -> marketprism_fast.a._b).
.venv/bin/python - "${cython_sources[@]}" <<'PY' \
    || { say "the compiled core does not import; run: rm .venv/.setup-build && bash scripts/setup.sh" >&2; exit 1; }
import importlib, sys
for path in sys.argv[1:]:
    if path.endswith(".pyx"):
        importlib.import_module(path[: -len(".pyx")].replace("/", "."))
PY
elapsed_ms=$(( $(date +%s%N) / 1000000 - started_ms ))
say "compiled core ready ($((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s)"
