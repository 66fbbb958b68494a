# Sourced by scripts/test.sh and scripts/ci-hardening.sh: sets ``workers``, the number of
# pytest workers (pytest-xdist) the tests run in.
#
# One worker per usable CPU, at most 4 (every worker of the full suite starts its own
# ClickHouse, NATS and Redis; the cap keeps a large machine from starting dozens). Where a
# server is named by the environment (MPF_CLICKHOUSE_HTTP, MPF_NATS_URL, MPF_REDIS_URL), the
# workers would share it, so the tests run in one process instead. MPF_TEST_WORKERS=n picks
# the count; 0 runs everything in the calling process. A bad value stops the caller.
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
