#!/usr/bin/env bash
# Measures the signing services of `vouch serve` on loopback, from a second process:
# certificate issuance per second (`vouch bench ca`) and Rekor v2 log entries per
# second (`vouch bench rekor`), against a release-mode `vouch serve --dev` in a
# throwaway data directory. Prints one line per bench and, with --json, the raw JSON.
#
# Usage: scripts/bench-signing.sh [--entries N] [--concurrency C] [--json]
# Environment: CARGO (default cargo).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
entries=40000
concurrency=512
json=0
while [ $# -gt 0 ]; do
  case "$1" in
    --entries) entries="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --json) json=1; shift ;;
    *) echo "usage: $0 [--entries N] [--concurrency C] [--json]" >&2; exit 2 ;;
  esac
done

. "$root/scripts/dev-server.sh"
echo "server: $url (release build, $(nproc) cores, data in a temp dir)"

status=0
echo "== certificate issuance (vouch bench ca)"
if ! "$vouch" bench ca --help >/dev/null 2>&1; then
  echo "vouch bench ca is not available in this build" >&2
  status=2
elif [ "$json" = 1 ]; then
  "$vouch" bench ca --server "$url" --json || status=$?
else
  "$vouch" bench ca --server "$url" || status=$?
fi

echo "== log entries (vouch bench rekor, $entries entries, $concurrency connections)"
if [ "$json" = 1 ]; then
  "$vouch" bench rekor --server "$url" --entries "$entries" --concurrency "$concurrency" --json || status=$?
else
  "$vouch" bench rekor --server "$url" --entries "$entries" --concurrency "$concurrency" || status=$?
fi
exit "$status"
