#!/usr/bin/env bash
# Issue 13's availability bench: does the server keep answering `GET /log/checkpoint`
# while a second process sends the worst DSSE entries the limits allow?
#
#   scripts/bench-dsse-flood.sh              # release binary, 20 s, 16 flood connections
#   SECONDS_RUN=30 FLOOD=32 scripts/bench-dsse-flood.sh
#
# Runs, at the same time and against one `vouch serve --dev` on loopback:
# - scripts/bench-dsse-flood.py: FLOOD keep-alive connections posting 8-signature,
#   8-verifier P-384 DSSE entries (64 signature checks each) for SECONDS_RUN seconds;
# - `vouch bench http` on `/log/checkpoint`, 4 connections, for the same time.
# First the checkpoint alone for 5 s (the baseline, same run), then under the flood.
# Prints the three JSON reports (the checkpoint's p50/p99 come from `bench http`).
# Bounded: 127.0.0.1 only, SECONDS_RUN seconds, then the server is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${SECONDS_RUN:-20}
FLOOD=${FLOOD:-16}
root=$(pwd)
bash scripts/py-venv.sh
py="$root/target/py-venv/bin/python"
. scripts/dev-server.sh

echo "baseline: checkpoint alone, 4 connections, 5 s" >&2
"$vouch" bench http --url "$url/log/checkpoint" --concurrency 4 --seconds 5 --json
echo "flood: $FLOOD connections of worst-case DSSE entries; checkpoint: 4 connections; $SECONDS_RUN s" >&2
"$py" scripts/bench-dsse-flood.py "$url" "$SECONDS_RUN" "$FLOOD" >"$data/flood.json" &
flood_pid=$!
sleep 1 # let the flood fill the verification queue first
"$vouch" bench http --url "$url/log/checkpoint" --concurrency 4 \
  --seconds $((SECONDS_RUN - 2)) --json
wait "$flood_pid"
cat "$data/flood.json"
