#!/usr/bin/env bash
# Builds the project's wheel (with the compiled core) into OUTDIR: the build stage of the
# Dockerfile runs exactly this, and tests/test_docker.py runs it without a container engine.
#
#   bash scripts/build_wheel.sh OUTDIR      (PYTHON=... picks the interpreter; default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: build_wheel.sh OUTDIR}
PYTHON=${PYTHON:-python3}
# Build requirements first (pyproject's [build-system]), then the wheel without build
# isolation (the same tools build it here and in the image; no second download inside pip).
mapfile -t build_deps < <("$PYTHON" - <<'PY'
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["build-system"]["requires"]))
PY
)
"$PYTHON" -m pip install -q "${build_deps[@]}"
"$PYTHON" -m pip wheel -q --no-deps --no-build-isolation --wheel-dir "$OUT" .
