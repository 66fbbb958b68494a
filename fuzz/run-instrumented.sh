#!/usr/bin/env bash
# Runs a harness (python -m fuzz.harness ARGS...) against the instrumented build of
# fuzz/build-instrumented.sh: run it from build/fuzz-instrumented.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$(cd ../.. && pwd)/.venv/bin/python}
RUNTIME=$("$PY" -c "import atheris, os; print(os.path.join(atheris.path(), 'asan_with_fuzzer.so'))")
export LD_PRELOAD=$RUNTIME
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$PY" -m fuzz.harness "$@"
