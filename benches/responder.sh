# Sourced by strace_roundtrip.sh and callgrind_roundtrip.sh: the roundtrip
# bench binary (`bin`, built here unless given), and its responder started in
# a process of its own (`addr`), with a scratch directory (`tmp`); both end
# when the script does.
bin=${bin:-$(cargo bench -j2 --no-run --bench roundtrip 2>&1 |
  grep -o 'target/release/deps/roundtrip-[0-9a-f]*' | tail -1)}
[ -x "$bin" ] || { echo "could not find the roundtrip bench binary"; exit 1; }

tmp=$(mktemp -d)
cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

"$bin" --serve 600 >"$tmp/addr" &
server_pid=$!
for _ in $(seq 50); do [ -s "$tmp/addr" ] && break; sleep 0.1; done
addr=$(head -1 "$tmp/addr")
