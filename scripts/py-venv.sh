#!/usr/bin/env bash
# Creates (once) the Python virtual environment that interoperability tests and the
# sigstore-python comparison bench use (and the /metrics test, for the reference
# Prometheus text-format parser; pip, uv, twine and pypi-attestations for the Python index; python-tuf for TUF): target/py-venv, with pinned packages from PyPI.
# Idempotent and safe to run concurrently (a lock serialises creation).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/target/py-venv"
stamp="$venv/.vouch-ready-v3"
mkdir -p "$root/target"
exec 9>"$root/target/py-venv.lock"
flock 9
if [ -f "$stamp" ]; then exit 0; fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "sigstore==4.5.1" "joserfc==1.6.5" "prometheus-client==0.26.0" \
  "pypi-attestations==0.0.31" "uv==0.13.9" "twine==7.0.0" "tuf==7.0.1" "build==1.3.0"
touch "$stamp"
