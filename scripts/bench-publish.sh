#!/usr/bin/env bash
# Measures trusted publishing end to end on loopback and the lockfile audit:
#   1. `vouch bench publish`: COUNT small packages through a release-mode
#      `vouch serve --dev` (CA certificate, timestamp, Rekor v2 entry, upload, the
#      registry's full verification, indexing and integrity record), C in flight;
#      prints publishes/s. Archives are packed and identity tokens minted before the
#      clock starts: both are the CI runner's work, not the registry's.
#   2. `vouch bench audit`: `vouch audit signatures` over the lockfile step 1 wrote
#      (one entry per publish, bundles and archives cached beside it); prints seconds.
# Server and client share the machine, as on a 2-core CI runner.
#
# Usage: scripts/bench-publish.sh [--count N] [--concurrency C] [--json]
# Environment: CARGO (default cargo).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
count=1000
concurrency=32
json=0
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --json) json=1; shift ;;
    *) echo "usage: $0 [--count N] [--concurrency C] [--json]" >&2; exit 2 ;;
  esac
done

. "$root/scripts/dev-server.sh"

publish_json="$("$vouch" bench publish --server "$url" --token-file "$data/srv/owner.token" \
  --count "$count" --concurrency "$concurrency" --lockfile "$data/work/vouch.lock")"
audit_json="$("$vouch" bench audit --lockfile "$data/work/vouch.lock" --runs 3)"

if [ "$json" = 1 ]; then
  printf '%s\n%s\n' "$publish_json" "$audit_json"
else
  field() { printf '%s' "$1" | sed -n "s/^  \"$2\": \\(.*\\),\\{0,1\\}$/\\1/p" | tr -d ','; }
  echo "publish: $(field "$publish_json" count) packages, concurrency $(field "$publish_json" concurrency): $(field "$publish_json" publishes_per_sec) publishes/s"
  echo "audit signatures: $(field "$audit_json" entries) entries in $(field "$audit_json" median_seconds) s (median of 3, $(field "$audit_json" threads) threads)"
fi
