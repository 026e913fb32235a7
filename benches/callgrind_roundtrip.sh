#!/usr/bin/env bash
# User-space instructions per call of one `roundtrip` contender, counted by
# valgrind's callgrind: the client runs N1 then N2 calls against a responder
# in another process (not counted), and (Ir at N2 - Ir at N1) / (N2 - N1) is
# the figure, so set-up and tear-down cancel out. It repeats to 0.1% whatever
# else the machine is doing: use it for changes smaller than timing noise.
#
# Run: bash benches/callgrind_roundtrip.sh [CONTENDER] [BINARY]
#   CONTENDER: a contender's name in benches/roundtrip.rs (default
#   "signalwire-pubsub"); BINARY: a roundtrip bench binary to measure
#   instead of this checkout's (to compare two builds side by side).
# Needs valgrind (Debian: apt-get install valgrind). About 10 s.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "skipped: valgrind is not installed"; exit 0; }

name=${1:-signalwire-pubsub}
N1=${N1:-200}
N2=${N2:-1200}
bin=${2:-}
. benches/responder.sh

instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out.$1" \
    "$bin" --calls "$name" "$1" "$addr" >/dev/null 2>"$tmp/log.$1"
  awk '/^(summary|totals):/ { print $2; exit }' "$tmp/out.$1"
}
a=$(instructions "$N1")
b=$(instructions "$N2")
echo "$name: $(( (b - a) / (N2 - N1) )) instructions per call ($N1 calls: $a, $N2 calls: $b)"
