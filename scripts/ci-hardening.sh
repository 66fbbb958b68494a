#!/usr/bin/env bash
# Hostile-input checks for CI (.ci/run calls this after the test suite):
#  1. a short differential fuzz run of each harness (fuzz/harness.py: frames, REST bodies,
#     book builder; every venue), FUZZ_SECONDS each (default 30) on the release build;
#  2. the parser and book tests under the debug build (MPF_DEBUG=1: bounds and wraparound
#     checks), built in a copy of the tree (build/debug-tree) so that the release build the
#     other tests use stays in place; in pytest workers as the suite (scripts/workers.sh).
# An input a harness fails on is copied into fuzz/regressions/<harness>/ (commit it: the tests
# replay it from then on) and the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
# A fixed seed keeps the CI run reproducible (the same inputs every run); long campaigns explore.
FUZZ_SEED=${FUZZ_SEED:-1}
export MPF_CORPUS=${MPF_CORPUS:-$(cd "$ROOT/.." && pwd)/shared/corpus}
source scripts/workers.sh
[ -x "$PY" ] || bash scripts/setup.sh

echo "== short fuzz run: ${FUZZ_SECONDS}s per harness"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mpf-ci-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failed=0
for harness in frames rest books; do
    if ! "$PY" -m fuzz.harness "$harness" --seconds "$FUZZ_SECONDS" --workdir "$WORK/$harness" -seed="$FUZZ_SEED" >"$WORK/$harness.log" 2>&1; then
        failed=1
        echo "fuzz $harness: FAILED"
        tail -n 40 "$WORK/$harness.log"
        for crash in "$WORK/$harness"/artifacts/*; do
            [ -e "$crash" ] || continue
            cp "$crash" "fuzz/regressions/$harness/$(basename "$crash")"
            echo "fuzz $harness: failing input kept as fuzz/regressions/$harness/$(basename "$crash")"
        done
    else
        grep -E "^(#[0-9]+\s+DONE|Done [0-9]+ runs)" "$WORK/$harness.log" | tail -n 2 | sed "s/^/fuzz $harness: /"
    fi
done
[ "$failed" = 0 ] || { echo "ci-hardening: a fuzz harness found a failing input"; exit 1; }

echo "== debug build (MPF_DEBUG=1) in build/debug-tree"
DEBUG_TREE=$ROOT/build/debug-tree
rm -rf "$DEBUG_TREE"
mkdir -p "$DEBUG_TREE"
git ls-files -z --cached --others --exclude-standard | grep -zv '^build/' | xargs -0 cp --parents -t "$DEBUG_TREE"
(cd "$DEBUG_TREE" && MPF_DEBUG=1 "$PY" setup.py -q build_ext --inplace >"$DEBUG_TREE/build.log" 2>&1) \
    || { tail -n 40 "$DEBUG_TREE/build.log"; exit 1; }
# The tree's own package comes first on sys.path (pytest runs from there); check it is the debug one.
(cd "$DEBUG_TREE" && "$PY" -c "import marketprism_fast._parse as m, sys; assert m.__file__.startswith(sys.argv[1]), m.__file__" "$DEBUG_TREE")
cd "$DEBUG_TREE"
MPF_REQUIRE_COMPILED=1 "$PY" -m pytest -q -p no:cacheprovider -n "$workers" \
    tests/test_compiled_binance.py tests/test_compiled_binance_strict.py tests/test_compiled_okx.py \
    tests/test_compiled_deribit.py tests/test_decimal.py tests/test_hardening.py tests/test_parity_mutations.py \
    tests/test_fuzz_regressions.py tests/test_book_engine.py tests/test_book_builder.py tests/test_book_gaps.py \
    tests/test_book_okx_seq.py tests/test_book_golden.py
