#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the test suite. Extra arguments go to pytest.
#
# The suite runs in one pytest worker per usable CPU, at most 4: every worker starts its own
# ClickHouse, NATS and Redis servers on free loopback ports, so workers share nothing. Where a
# server is named by the environment (MPF_CLICKHOUSE_HTTP, MPF_NATS_URL, MPF_REDIS_URL), the
# workers would share it, so the suite runs in this process instead. MPF_TEST_WORKERS=n picks
# the count; MPF_TEST_WORKERS=0 runs everything in this process.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${MPF_TEST_WORKERS:-}" ]; then
    workers=$MPF_TEST_WORKERS
    if ! [[ $workers =~ ^[0-9]+$ ]]; then
        echo "test: MPF_TEST_WORKERS must be a whole number (0: no workers), got '$workers'" >&2
        exit 2
    fi
elif [ -n "${MPF_CLICKHOUSE_HTTP:-}${MPF_NATS_URL:-}${MPF_REDIS_URL:-}" ]; then
    workers=0
else
    workers=$(nproc)
    [ "$workers" -le 4 ] || workers=4
fi
bash scripts/setup.sh
# The compiled core must be the one under test: a broken build may not pass as the fallback.
export MPF_REQUIRE_COMPILED=1
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider -n "$workers" "$@"
