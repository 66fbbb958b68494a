#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the main job: `normalize` over a recorded capture.
#
#   bash scripts/demo.sh                      # a Binance USD-M session of ../shared/corpus
#   bash scripts/demo.sh --venue okx FILE...  # your own capture: any normalize arguments
#
# Records go to out/demo.records.jsonl, maintained books to out/demo.books.jsonl, and the
# summary (frames, records per kind, skipped, gaps, checksum failures) to the terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --demo >/dev/null
mkdir -p out
if [ $# -gt 0 ]; then
    exec .venv/bin/python -m marketprism_fast normalize "$@"
fi
CORPUS=${MPF_CORPUS:-../shared/corpus}
S="$CORPUS/binance_usdm/binance_usdm.hbt_2024-08-08_btcusdt"
if [ ! -f "$S.frames.jsonl.zst" ]; then
    echo "demo: no capture at $S.frames.jsonl.zst; pass your own: bash scripts/demo.sh --venue VENUE FILE..." >&2
    exit 2
fi
echo "== records: normalize --venue binance_usdm $(basename "$S").frames.jsonl.zst --snapshots ..."
.venv/bin/python -m marketprism_fast normalize --venue binance_usdm "$S.frames.jsonl.zst" \
    --snapshots "$S.snapshots.jsonl.zst" --out out/demo.records.jsonl
echo "== books: the same with --books --book-every-update --kinds book_snapshot"
.venv/bin/python -m marketprism_fast normalize --venue binance_usdm "$S.frames.jsonl.zst" \
    --snapshots "$S.snapshots.jsonl.zst" --books --book-every-update --kinds book_snapshot \
    --out out/demo.books.jsonl
echo "== wrote $(wc -l < out/demo.records.jsonl) records to out/demo.records.jsonl and $(wc -l < out/demo.books.jsonl) book snapshots to out/demo.books.jsonl"
head -c 400 out/demo.books.jsonl; echo
