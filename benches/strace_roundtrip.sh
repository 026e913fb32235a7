#!/usr/bin/env bash
# Syscalls per call of each `roundtrip` contender (the floor, the crate, bare
# ureq configured as the crate but without its transport, bare ureq without
# timeouts), client side only (all its threads, `strace -f`), against a
# responder in another process.
#
# Run: bash benches/strace_roundtrip.sh   (needs strace; under a minute)
#
# Each contender makes N1 then N2 calls in two traced runs; the table shows
# (count at N2 - count at N1) / (N2 - N1) per syscall, so set-up and
# tear-down cancel out. Not pinned; strace slows everything, so only the
# counts mean something here, not the times.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v strace >/dev/null || { echo "skipped: strace is not installed"; exit 0; }

N1=${N1:-200}
N2=${N2:-1200}
. benches/responder.sh

contenders=(
  "floor (raw TcpStream)"
  "signalwire-pubsub"
  "bare ureq + miniserde"
  "bare ureq, no timeouts"
)

# strace -c lines: % time, seconds, usecs/call, calls, [errors], syscall.
counts() { awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { print $NF, $4 }' "$1" | sort; }

for i in "${!contenders[@]}"; do
  name=${contenders[$i]}
  for n in "$N1" "$N2"; do
    strace -f -c -o "$tmp/$i.$n" "$bin" --calls "$name" "$n" "$addr" 2>/dev/null
  done
  join -a2 -e 0 -o 0,1.2,2.2 <(counts "$tmp/$i.$N1") <(counts "$tmp/$i.$N2") |
    awk -v d=$((N2 - N1)) '{ v = ($3 - $2) / d; if (v >= 0.05) printf "%s %.2f\n", $1, v }' \
      >"$tmp/$i.per"
done

echo "syscalls per call (client process, all threads; ($N2 - $N1 calls) difference)"
all=$(cat "$tmp"/*.per | awk '{ print $1 }' | sort -u)
printf '%-17s' "syscall"
for i in "${!contenders[@]}"; do printf ' | %8s' "c$((i + 1))"; done
echo
for s in $all; do
  printf '%-17s' "$s"
  for i in "${!contenders[@]}"; do
    v=$(awk -v s="$s" '$1 == s { print $2 }' "$tmp/$i.per")
    printf ' | %8s' "${v:--}"
  done
  echo
done
printf '%-17s' "total"
for i in "${!contenders[@]}"; do
  printf ' | %8s' "$(awk '{ t += $2 } END { printf "%.1f", t }' "$tmp/$i.per")"
done
echo
for i in "${!contenders[@]}"; do echo "c$((i + 1)) = ${contenders[$i]}"; done
