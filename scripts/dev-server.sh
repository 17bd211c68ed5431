# Sourced by the bench scripts: builds the release `vouch` (or takes the binary $VOUCH
# names, e.g. target/debug/vouch, as it is), starts `vouch serve --dev` on an ephemeral
# loopback port in a throwaway data directory, and stops it (and removes the directory)
# when the sourcing script exits.
# Needs: $root (the checkout). Sets: $vouch (the binary), $data (a temp directory; the
# server's data is $data/srv), $url (the server's base URL).
if [ -n "${VOUCH:-}" ]; then
  vouch="$VOUCH"
else
  "${CARGO:-cargo}" build --release --quiet --bin vouch --manifest-path "$root/Cargo.toml"
  vouch="$root/target/release/vouch"
fi

data="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

"$vouch" serve --dev --listen 127.0.0.1:0 --data "$data/srv" >"$data/serve.out" 2>"$data/serve.err" &
server_pid=$!
# The log key is the last line of the start-up banner.
for _ in $(seq 1 100); do
  if grep -q '^log key ' "$data/serve.out" 2>/dev/null; then break; fi
  sleep 0.1
done
url="$(sed -n 's/^listening on //p' "$data/serve.out" | head -n1)"
if [ -z "$url" ]; then
  echo "vouch serve did not start:" >&2
  cat "$data/serve.err" >&2
  exit 2
fi
