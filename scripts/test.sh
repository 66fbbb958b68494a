#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the test suite. Extra arguments go to pytest.
# The suite runs in pytest workers; scripts/workers.sh says how many and why.
set -euo pipefail
cd "$(dirname "$0")/.."
# the worker count (decided before the set-up, so that a bad MPF_TEST_WORKERS stops at once)
source scripts/workers.sh
bash scripts/setup.sh
# The compiled core must be the one under test: a broken build may not pass as the fallback.
export MPF_REQUIRE_COMPILED=1
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider -n "$workers" "$@"
