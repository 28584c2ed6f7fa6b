#!/usr/bin/env bash
# bench/placement.sh - where a wbc relay's CPU goes, in each placement of relay, sender and sink.
#
#   OUT=/tmp/wbc-bench REPS=5 bash bench/placement.sh                 # wbc-one, three placements
#   RELAYS="wbc-rr wbc-rr-funnel wbc-fanout" PLACEMENTS=any bash bench/placement.sh
#
# Needs a finished `bench/run.sh` with the same OUT (its proxies, its 64-byte data) and `perf`.
# For each relay of RELAYS (names of run.sh's wbc rows) and each placement of PLACEMENTS
# ("R S K": relay on core R, sender on core S, sink on core K; "any": not pinned, the
# scheduler's choice), REPS times, interleaved: one run of the data under /usr/bin/time (the
# relay's CPU seconds, the sink's voluntary context switches: how often it was woken) and one
# under `perf record -e cpu-clock` (this VM has no hardware counters). Then, per relay and
# placement, the median CPU and the perf samples of the symbols that take more than 2 % of the
# relay's time, summed over the runs. perf's own process competes with the relay, so the perf
# runs are slower than the timed ones: compare samples between rows, not with the CPU column.
# PERFORMANCE.md ("the machine", "profiles") holds runs of it. Not run by CI. Ports as in run.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/wbc-bench}; REPS=${REPS:-5}; FREQ=${FREQ:-2000}
PLACEMENTS=${PLACEMENTS:-"0 1 1|0 1 0|0 0 1"}; RELAYS=${RELAYS:-wbc-one}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release
DATA=$(ls "$OUT"/data/d64-*.txt 2>/dev/null | head -1) || true; LINES=${DATA##*-}; LINES=${LINES%.txt}
W=$OUT/placement; rm -rf "$W"; mkdir -p "$W"
L=31000; B1=32000; B2=32001
busy() { ss -Hltn "sport = :$1" | grep -q .; }
wait_listen() { local i; for ((i = 0; i < 250; i++)); do busy "$1" && return 0; sleep 0.02; done; return 1; }
for p in $L $B1 $B2; do busy $p && { echo "port $p is taken" >&2; exit 1; }; done
[ -s "$DATA" ] || { echo "run bench/run.sh with OUT=$OUT first" >&2; exit 1; }
for relay in $RELAYS; do
  [ -x "$OUT/bin/$relay" ] || { echo "no $OUT/bin/$relay: run bench/run.sh with OUT=$OUT first" >&2; exit 1; }
done

# A placement's cores, "any" being all of them (the scheduler's choice), and its name in paths.
cores() { [ "$1" = any ] && echo "0-1 0-1 0-1" || echo "$1"; }
label() { [ "$1" = any ] && echo any || tr -d ' ' <<< "$1"; }
run() { # relay placement mode rep
  local relay=$1 mode=$3 rep=$4 r s k rp sp
  read -r r s k <<< "$(cores "$2")"
  local bin=$OUT/bin/$relay d=$W/$relay.$(label "$2").$mode.$rep expect=$LINES
  [ "$relay" = wbc-fanout ] && expect=$((2 * LINES))
  mkdir -p "$d"
  taskset -c "$k" /usr/bin/time -f "%w" -o "$d/sink.time" "$TARGET/sink" --lines "$expect" \
    --idle-ms 5000 --start-ms 30000 --max-ms 60000 $B1 $B2 > "$d/sink.txt" 2> "$d/sink.err" &
  sp=$!
  wait_listen $B1 && wait_listen $B2 ||
    { echo "the sink did not listen on $B1 and $B2 (see $d)" >&2; kill $sp; exit 1; }
  if [ "$mode" = perf ]; then
    taskset -c "$r" perf record -q -F "$FREQ" -e cpu-clock -g -o "$d/perf.data" -- "$bin" > "$d/relay.out" 2>&1 &
  else
    taskset -c "$r" /usr/bin/time -f "%U %S" -o "$d/relay.time" "$bin" > "$d/relay.out" 2>&1 &
  fi
  rp=$!
  wait_listen $L || { echo "the relay did not listen on $L (see $d)" >&2; kill $sp $rp; exit 1; }
  timeout 60 taskset -c "$s" "$TARGET/send" $L "$DATA" > "$d/send.txt" 2> "$d/send.err" || true
  wait $sp || true
  # The relay is the only child of perf or time with that path: signal it alone, by its path.
  pkill -INT -f "^$bin\$" || true
  wait $rp 2>/dev/null || true
  sleep 0.3
}

IFS='|' read -r -a places <<< "$PLACEMENTS"
for rep in $(seq "$REPS"); do
  for relay in $RELAYS; do
    for place in "${places[@]}"; do
      run "$relay" "$place" time "$rep"
      run "$relay" "$place" perf "$rep"
    done
  done
done

median() { sort -n | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
for relay in $RELAYS; do for place in "${places[@]}"; do
  read -r r s k <<< "$place"; tag="$relay.$(label "$place")"
  cpu=$(for f in "$W"/$tag.time.*/relay.time; do awk '{print $1 + $2}' "$f"; done | median)
  wakes=$(for f in "$W"/$tag.time.*/sink.time; do tail -1 "$f"; done | median)
  lines=$(for f in "$W"/$tag.time.*/sink.txt; do grep -o 'lines=[0-9]*' "$f" | cut -d= -f2; done | sort -u | tr '\n' ' ')
  where="relay on core $r, sender on $s, sink on $k"; [ "$r" = any ] && where="not pinned"
  printf '\n%s, %s: relay CPU %s s (median of %s), sink woken %s times, lines at the sinks: %s\n' \
    "$relay" "$where" "$cpu" "$REPS" "$wakes" "$lines"
  for f in "$W"/$tag.perf.*/perf.data; do
    perf report -i "$f" --no-children --sort sym -n -q --stdio -g none 2>/dev/null
  done | awk '{s = $3; for (i = 4; i <= NF; i++) s = s " " $i; n[s] += $2; t += $2}
    END {printf "  perf samples at %s Hz, %d runs: %d\n", '"$FREQ"', '"$REPS"', t;
         for (s in n) if (n[s] > t / 50) printf "  %7d %5.1f %%  %s\n", n[s], 100 * n[s] / t, s}' |
    { read -r head; echo "  $head"; sort -k1,1nr; }
  # Samples taken inside the wake-up of the sink's reader: the relay's write runs the
  # loopback receive path, which wakes the sink (sock_def_readable) with interrupts off.
  for f in "$W"/$tag.perf.*/perf.data; do perf script -i "$f" -F ip,sym 2>/dev/null; done |
    awk 'BEGIN {RS = ""} /sock_def_readable/ {n++} END {printf "  of them inside waking the sink (sock_def_readable): %d\n", n}'
done; done
