#!/usr/bin/env bash
# Measures the transparency log's HTTP read endpoints (checkpoint, full and partial
# hash tiles, entry bundles) of a real `vouch serve --dev`, with the load coming from a
# second process (`vouch bench http`) over loopback keep-alive connections.
#
#   scripts/bench-http.sh                # release binary, 10 s, 64 connections
#   ENTRIES=20000 SECONDS_RUN=20 CONCURRENCY=128 scripts/bench-http.sh
#
# Prints the JSON report of `vouch bench http`. Bounded: one run of SECONDS_RUN
# seconds against 127.0.0.1 only; the server is stopped and its data removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ENTRIES=${ENTRIES:-5000}
SECONDS_RUN=${SECONDS_RUN:-10}
CONCURRENCY=${CONCURRENCY:-64}
root=$(pwd)
. scripts/dev-server.sh
ADDR=${url#http://}
TOKEN=$(cat "$data/srv/internal.token")

# Fill the log through the authenticated internal endpoint, 32 requests at a time.
seq "$ENTRIES" | xargs -P 32 -I{} curl -sf -o /dev/null \
  -H "Authorization: Bearer $TOKEN" --data-binary "bench entry {}" \
  "http://$ADDR/log/internal/add-entry"

SIZE=$(curl -sf "http://$ADDR/log/checkpoint" | sed -n 2p)
FULL=$((SIZE / 256))
REM=$((SIZE % 256))
idx() { printf '%03d' "$1"; } # indexes below 1000 need no x-prefixed groups
URLS=(
  "http://$ADDR/log/checkpoint"
  "http://$ADDR/log/tile/0/$(idx 0)"
  "http://$ADDR/log/tile/0/$(idx $((FULL - 1)))"
  "http://$ADDR/log/tile/entries/$(idx 0)"
  "http://$ADDR/log/tile/entries/$(idx $((FULL / 2)))"
)
[ "$REM" -gt 0 ] && URLS+=("http://$ADDR/log/tile/0/$(idx "$FULL").p/$REM")
[ "$FULL" -gt 0 ] && URLS+=("http://$ADDR/log/tile/1/000.p/$FULL")
ARGS=()
for u in "${URLS[@]}"; do ARGS+=(--url "$u"); done

echo "log size $SIZE; load: ${#URLS[@]} URLs, $CONCURRENCY connections, $SECONDS_RUN s" >&2
"$vouch" bench http "${ARGS[@]}" --concurrency "$CONCURRENCY" --seconds "$SECONDS_RUN" --json
