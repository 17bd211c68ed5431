#!/usr/bin/env bash
# Compares bundle-verification throughput of `vouch bench verify` (release build; all
# cores, and one thread) with sigstore-python 4.x verifying the same bundle in a loop in
# one Python process. Offline on both sides: the public-good trusted root from this
# repository and the conformance happy-path bundle (../shared/vectors or $VOUCH_VECTORS).
# The three measurements are interleaved for ROUNDS rounds so that they see the same
# machine load; the medians are compared.
#
# usage: scripts/bench-verify-vs-sigstore-python.sh [SECONDS_PER_RUN [ROUNDS]]   (5 and 3)
#        VOUCH_BIN=path/to/vouch skips the release build and measures that binary.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-5}"
rounds="${2:-3}"
vectors="${VOUCH_VECTORS:-$root/../shared/vectors}"
case_dir="$vectors/sigstore-conformance/bundle-verify"
bundle="$case_dir/happy-path-v0.3/bundle.sigstore.json"
artifact="$case_dir/a.txt"
trusted_root="$root/crates/verify/trust-roots/public-good/trusted_root.json"
identity="https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
issuer="https://token.actions.githubusercontent.com"

bash "$root/scripts/py-venv.sh"
if [ -z "${VOUCH_BIN:-}" ]; then
  (cd "$root" && cargo build --release --quiet --bin vouch)
fi
vouch="${VOUCH_BIN:-$root/target/release/vouch}"

run_vouch() {
  "$vouch" bench verify --bundle "$bundle" --artifact "$artifact" \
    --certificate-identity "$identity" --certificate-oidc-issuer "$issuer" \
    --trusted-root "$trusted_root" --seconds "$seconds" --json "$@"
}
run_python() {
  "$root/target/py-venv/bin/python" "$root/scripts/bench-verify-vs-sigstore-python.py" \
    "$bundle" "$artifact" "$trusted_root" "$identity" "$issuer" "$seconds"
}

results=()
for _ in $(seq "$rounds"); do
  results+=("$(run_python | tr -d '\n')" "$(run_vouch --threads 1 | tr -d '\n')" "$(run_vouch | tr -d '\n')")
done

python3 - "${results[@]}" <<'PY'
import json, os, statistics, sys
runs = [json.loads(a) for a in sys.argv[1:]]
py, one, all_ = runs[0::3], runs[1::3], runs[2::3]
med = lambda rs: statistics.median(r["verifies_per_s"] for r in rs)
p, o, a = med(py), med(one), med(all_)
print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (after the runs)")
print(f"rounds: {len(py)}, per round (python / vouch 1 thread / vouch all): " + "; ".join(
    f"{x['verifies_per_s']:.0f} / {y['verifies_per_s']:.0f} / {z['verifies_per_s']:.0f}" for x, y, z in zip(py, one, all_)))
print(f"sigstore-python {py[0]['sigstore_python']} (1 process): {p:>8.1f} verifies/s (median)")
print(f"vouch bench verify (1 thread):     {o:>8.1f} verifies/s  ({o / p:.1f}x)")
print(f"vouch bench verify ({all_[0]['threads']} threads):    {a:>8.1f} verifies/s  ({a / p:.1f}x)")
fo = statistics.median(r["floor_verifies_per_s"] for r in one)
fa = statistics.median(r["floor_verifies_per_s"] for r in all_)
print(f"floor, same runs (1 thread / {all_[0]['threads']} threads): {fo:.1f} / {fa:.1f} bundles' signature checks/s; "
      f"vouch at {o / fo:.0%} / {a / fa:.0%} of it")
PY
