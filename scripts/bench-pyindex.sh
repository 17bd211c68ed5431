#!/usr/bin/env bash
# Measures the Python index's simple pages (`GET /simple/<project>/`, PEP 503 HTML, and
# `GET /simple/`) of a real `vouch serve --dev`, with the load coming from a second
# process (`vouch bench http`) over loopback keep-alive connections.
#
#   scripts/bench-pyindex.sh                # release binary, 10 s, 64 connections
#   SECONDS_RUN=20 CONCURRENCY=128 scripts/bench-pyindex.sh
#   VOUCH=target/debug/vouch scripts/bench-pyindex.sh   # an already built binary
#
# The project gets its files the way CI uploads them: a pending trusted-publisher
# binding, a dev OIDC token from the GitHub-Actions-shaped endpoint, mint-token, and
# `POST /legacy/` of a wheel and an sdist built by uv (target/py-venv). Prints the JSON
# report of `vouch bench http`. Bounded: 127.0.0.1 only; the server is stopped and its
# data removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${SECONDS_RUN:-10}
CONCURRENCY=${CONCURRENCY:-64}
root=$(pwd)
bash scripts/py-venv.sh
. scripts/dev-server.sh

proj="$data/proj"
mkdir -p "$proj/src/bench_pkg"
printf '[project]\nname = "bench-pkg"\nversion = "1.0.0"\nrequires-python = ">=3.8"\n\n[build-system]\nrequires = ["uv_build>=0.13,<0.14"]\nbuild-backend = "uv_build"\n' >"$proj/pyproject.toml"
echo 'X = 1' >"$proj/src/bench_pkg/__init__.py"
(cd "$proj" && "$root/target/py-venv/bin/uv" build --offline --quiet)

owner=$(cat "$data/srv/owner.token")
curl -sf -o /dev/null -H "Authorization: Bearer $owner" -H 'Content-Type: application/json' \
  --data '{"package":"@pypi/bench-pkg","provider":"github","repository":"bench/pkg","workflow":".github/workflows/release.yml"}' \
  "$url/api/v1/publishers"
aud=$(curl -sf "$url/_/oidc/audience" | sed 's/.*"audience":"\([^"]*\)".*/\1/')
req=$(printf '%s' '{"repository":"bench/pkg","workflow":".github/workflows/release.yml","ref":"refs/heads/main"}' | basenc --base64url -w0 | tr -d '=')
jwt=$(curl -sf -G --data-urlencode "audience=$aud" -H "Authorization: bearer $req" "$url/oidc/github/token" | sed 's/.*"value":"\([^"]*\)".*/\1/')
token=$(curl -sf -H 'Content-Type: application/json' --data "{\"token\":\"$jwt\"}" "$url/_/oidc/mint-token" | sed 's/.*"token":"\([^"]*\)".*/\1/')
for f in "$proj"/dist/*; do
  case "$f" in *.whl) t=bdist_wheel ;; *) t=sdist ;; esac
  curl -sf -o /dev/null -u "__token__:$token" -F ':action=file_upload' -F 'protocol_version=1' \
    -F 'name=bench-pkg' -F 'version=1.0.0' -F "filetype=$t" -F "content=@$f" "$url/legacy/"
done

echo "load: /simple/bench-pkg/ and /simple/, $CONCURRENCY connections, $SECONDS_RUN s" >&2
"$vouch" bench http --url "$url/simple/bench-pkg/" --url "$url/simple/" \
  --concurrency "$CONCURRENCY" --seconds "$SECONDS_RUN" --json
