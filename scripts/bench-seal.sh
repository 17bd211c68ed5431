#!/usr/bin/env bash
# Benchmark `vouch release seal` (SHA-256 and BLAKE3 of every file, both cores) against
# GNU `sha256sum` (SHA-256 only, one core) on the same directory of large files.
# Not part of CI: it writes N x SIZE_MIB MiB under DIR and takes a minute or more.
#
#   scripts/bench-seal.sh                      # 4 x 512 MiB in /tmp/vouch-bench-seal
#   N=2 SIZE_MIB=256 RUNS=5 scripts/bench-seal.sh
#
# Both tools read from the page cache (the files are read once before timing), so the
# numbers compare hashing pipelines, not disks. Best of RUNS for each tool.
set -euo pipefail

N=${N:-4}
SIZE_MIB=${SIZE_MIB:-512}
RUNS=${RUNS:-3}
DIR=${DIR:-/tmp/vouch-bench-seal}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VOUCH=${VOUCH:-$ROOT/target/release/vouch}

if [[ ! -x $VOUCH ]]; then
    (cd "$ROOT" && cargo build --release --bin vouch)
fi

mkdir -p "$DIR"
for i in $(seq 1 "$N"); do
    f="$DIR/asset-$i.bin"
    if [[ ! -f $f || $(stat -c %s "$f") -ne $((SIZE_MIB << 20)) ]]; then
        head -c $((SIZE_MIB << 20)) /dev/urandom >"$f"
    fi
done
cat "$DIR"/asset-*.bin >/dev/null # warm the page cache

now() { date +%s.%N; }
best() { # best wall time of "$@" over RUNS runs
    local best=
    for _ in $(seq 1 "$RUNS"); do
        local t0 t1 dt
        t0=$(now)
        "$@" >/dev/null
        t1=$(now)
        dt=$(echo "$t1 - $t0" | bc -l)
        if [[ -z $best ]] || (($(echo "$dt < $best" | bc -l))); then best=$dt; fi
    done
    echo "$best"
}

total_mib=$((N * SIZE_MIB))
t_sha=$(best sha256sum "$DIR"/asset-*.bin)
t_seal=$(best "$VOUCH" release seal "$DIR" --time 2026-01-01T00:00:00Z)
# For reference: sha256sum given every core too, one process per file.
t_sha_par=$(best sh -c "ls '$DIR'/asset-*.bin | xargs -P $(nproc) -n 1 sha256sum")

printf 'files: %d x %d MiB (%d MiB) in %s, %d core(s), best of %d\n' "$N" "$SIZE_MIB" "$total_mib" "$DIR" "$(nproc)" "$RUNS"
row() { printf '%-40s %6.2f s  %7.0f MiB/s\n' "$1" "$2" "$(echo "$total_mib / $2" | bc -l)"; }
row "sha256sum (SHA-256, 1 process)" "$t_sha"
row "sha256sum, xargs -P $(nproc) (reference)" "$t_sha_par"
row "vouch release seal (SHA-256 + BLAKE3)" "$t_seal"
printf '%-40s %6.2fx (target >= 0.9x)\n' "seal speed relative to sha256sum" "$(echo "$t_sha / $t_seal" | bc -l)"
