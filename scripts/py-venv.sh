#!/usr/bin/env bash
# Creates (once) the Python virtual environment that interoperability tests and the
# sigstore-python comparison bench use (and the /metrics test, for the reference
# Prometheus text-format parser): target/py-venv, with pinned packages from PyPI.
# Idempotent and safe to run concurrently (a lock serialises creation).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/target/py-venv"
stamp="$venv/.vouch-ready-v2"
mkdir -p "$root/target"
exec 9>"$root/target/py-venv.lock"
flock 9
if [ -f "$stamp" ]; then exit 0; fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "sigstore==4.5.1" "joserfc==1.6.5" "prometheus-client==0.26.0"
touch "$stamp"
