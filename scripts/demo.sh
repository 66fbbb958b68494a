#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the main job: `demo`, the live node on this machine.
#
#   bash scripts/demo.sh                  # 10 s: every venue and kind from the local simulator
#   bash scripts/demo.sh --seconds 60     # longer; any `demo` option (see `demo --help`)
#
# The venue simulator serves Binance spot/USD-M/COIN-M, OKX and Deribit on loopback; the
# node subscribes to every kind over real WebSockets, keeps the order books and writes to the
# embedded ClickHouse store in out/demo/store. A progress line shows on a terminal; the
# summary (frames, records per kind, gaps, reconnects, where the data went and a query to
# look at it) goes to standard output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
exec .venv/bin/python -m marketprism_fast demo "$@"
