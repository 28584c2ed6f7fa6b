# bench/extras.sh - the one-client measurements of bench/run.sh (section 8): latency at half
# load, p99 against the offered rate (wbc-one, socat, haproxy), RSS with 10,000 idle
# connections and with 10,000 agents that send a line every second (their CPU and the
# backend's too; both also with IDLE_PEERS=4000 beside the peers; agents also through
# wbc-one with `linger: 1ms` and with `--coalesce 1ms`), warm `wbc build`. Sourced by run.sh
# after the throughput table, whose results (RES, LINES) give the latency rates; not run on
# its own.
# shellcheck shell=bash

: > "$EXTRA"
# wbc-one with tcp.out's `linger: 1ms` (fewer, larger writes to the backend) for the light-load
# latency and the agents rows: what it saves the relay and the backend, what it costs in latency.
if [[ " $EXTRAS " == *" idle "* || " $EXTRAS " == *" latency "* ]] && [ -x "$BIN/wbc-one" ]; then
  sed 's/tcp\.out(\(.*\))/tcp.out(\1, linger: 1ms)/' "$CFG/one.wb" > "$CFG/one_linger.wb"
  "$WBC" build "$CFG/one_linger.wb" -o "$BIN/wbc-one-linger" > "$OUT/build-wbc-one-linger.log" 2>&1 \
    || log "wbc build of one_linger.wb failed, see $OUT/build-wbc-one-linger.log"
fi
extra() { echo "$*" | tee -a "$EXTRA"; }
max_rate() { # row -> median 64-byte lines/s of that row in this run (empty if not run)
  awk -F'\t' -v r="$1" '$1 == 64 && $2 == r && $3 ~ /^r/ && $5 == "complete" { print $7 }' "$RES" | sort -g \
    | awk -v n="${LINES[64]}" '{ w[++c] = $1 } END { if (c) printf "%d", n / w[int((c + 1) / 2)] }'
}
latency_row() { # row cmd rate rep
  local row=$1 cmd=$2 rate=$3 rep=$4 d=$RUNS/latency.$1.$3.$4 i
  rm -rf "$d"; mkdir -p "$d"
  for p in $L $B1 $B2; do busy "$p" && { log "port $p busy before latency/$row"; return 1; }; done
  local to=$L; [ -n "$cmd" ] || to=$B1 # no relay: the tool's own floor (sender straight into its sink)
  timeout 60 "$TARGET/latency" --to $to --rate "$rate" --seconds 3 --warmup-s 0.5 --wait-ms 10000 $B1 $B2 \
    > "$d/latency.txt" 2> "$d/latency.err" &
  local lat_pid=$!; EXTRA_PIDS=("$lat_pid")
  wait_listen $B1 && wait_listen $B2 || { log "latency sink not listening"; stop_extras; return 1; }
  if [ -n "$cmd" ]; then
    /usr/bin/time -o "$d/time.txt" -f 'rss_kb=%M usr=%U sys=%S' "${RELAY_ON[@]}" sh -c "exec $cmd" > "$d/relay.log" 2>&1 &
    TIME_PID=$!
  fi
  wait "$lat_pid" 2>/dev/null || true; EXTRA_PIDS=()
  stop_relay
  local f=$d/latency.txt
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$row" "$rate" "$rep" "$(kv "$f" achieved_rate)" "$(kv "$f" p50_us)" \
    "$(kv "$f" p99_us)" "$(kv "$f" p999_us)" "$(kv "$f" slow_ms)" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$(kv "$f" tool_late_p99_us)" "$(kv "$f" arrival_p99_us)" >> "${LAT_TSV:-$LAT}"
  log "  latency $row at $rate lines/s, rep $rep: $(cat "$f")"
}
# Every relay of a rate point is measured at the same offered rate, LAT_REPS times,
# interleaved; the table shows the median of each percentile and every run's p99.
# The median of a space-separated list of numbers (awk), shared by the latency table and verdicts.
# A run that gave no p99 (the tool failed, or measured nothing) counts as unbounded latency.
AWK_MED='function p99of(v) { return (v == "" || tolower(v) ~ /nan/) ? 1e12 : v }
function med(s,   n, a, i, j, t) { n = split(s, a, " "); for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }; return n ? a[int((n + 1) / 2)] : "-" }'
latency_table() {
  awk -F'\t' "$AWK_MED"'
  NR > 1 { k = $2 SUBSEP $1; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
           ach[k] = ach[k] " " $4; p50[k] = p50[k] " " $5; p99[k] = p99[k] " " p99of($6); p999[k] = p999[k] " " $7; slow[k] = slow[k] " " $8; late[k] = late[k] " " $10; arr[k] = arr[k] " " $11 }
  END {
    printf "%-10s %-10s %12s %9s %9s %9s %9s %9s  %-30s %s\n", "rate", "row", "achieved", "p50_us", "p99_us", "p999_us", "late_us", "arr_p99", "p99_us of each run", "slow_ms of each run"
    for (i = 1; i <= n; i++) { split(order[i], kk, SUBSEP)
      printf "%-10s %-10s %12.0f %9.1f %9.1f %9.1f %9.1f %9.1f  %-30s %s\n", kk[1], kk[2], med(ach[order[i]]), med(p50[order[i]]), med(p99[order[i]]), med(p999[order[i]]), med(late[order[i]]), med(arr[order[i]]), p99[order[i]], slow[order[i]] } }' "$LAT"
}
latency_cmd() { # row -> the command that runs it ("" for limit: no relay); fails if not built
  case $1 in
    limit) echo "" ;;
    haproxy) echo "haproxy -db -f $CFG/haproxy.cfg" ;;
    # A relay that only copies (reads as large as tcp.in's largest): the tail that the
    # machine leaves a relay doing no work of its own, at the same offered rate.
    socat) echo "socat -b 262144 TCP-LISTEN:$L,bind=127.0.0.1,reuseaddr TCP:127.0.0.1:$B1" ;;
    ref-rr) echo "$TARGET/minrelay $L $B1 $B2" ;;
    wbc-one-coalesce) [ -x "$BIN/wbc-one" ] && echo "$BIN/wbc-one --coalesce 1ms" ;;
    *) [ -x "$BIN/$1" ] && echo "$BIN/$1" ;;
  esac
}
latency_points() { # "rate|row row ..." ...: each row at each rate, LAT_REPS times, interleaved
  local point rate rep row cmd
  for point in "$@"; do
    rate=${point%%|*}
    for ((rep = 1; rep <= LAT_REPS; rep++)); do
      for row in ${point#*|}; do
        cmd=$(latency_cmd "$row") || continue
        latency_row "$row" "$cmd" "$rate" "$rep" || true
      done
    done
  done
}
LAT_REPS=${LAT_REPS:-3}
LAT_HEAD='row\trate\trep\tachieved\tp50_us\tp99_us\tp999_us\tslow_ms\tload1\ttool_late_p99_us\tarrival_p99_us\n'
if [[ " $EXTRAS " == *" latency "* ]]; then
  LAT=$OUT/latency.tsv; : > "$OUT/stalls.txt"
  printf "$LAT_HEAD" > "$LAT"
  rr_rate=$(max_rate wbc-rr); one_rate=$(max_rate wbc-one)
  points=() # "rate|row row ..." - half of wbc-rr's and of wbc-one's measured maximum, then a light load
  [ -n "$rr_rate" ] && points+=("$((rr_rate / 2))|limit haproxy socat ref-rr wbc-rr wbc-one")
  [ -n "$one_rate" ] && points+=("$((one_rate / 2))|limit haproxy socat wbc-one wbc-one-coalesce")
  [ ${#points[@]} -gt 0 ] || points+=("${LAT_RATE:-1000000}|limit haproxy socat ref-rr wbc-rr wbc-one")
  points+=("${LAT_LOW:-100000}|haproxy wbc-rr wbc-one wbc-one-linger wbc-one-coalesce")
  # A trickle, where --coalesce 1ms counts traffic as light and waits: what that costs.
  points+=("${LAT_TRICKLE:-10000}|wbc-one wbc-one-coalesce")
  latency_points "${points[@]}"
  # What the machine itself allows: one spinning thread per core, gaps in its clock readings.
  for ((rep = 1; rep <= LAT_REPS; rep++)); do
    "$TARGET/stalls" --seconds 3 | sed "s/^/stalls run $rep: /" >> "$OUT/stalls.txt"
  done
  extra "machine stalls (bench/src/bin/stalls.rs: one thread per core spinning 3 s, gaps between clock readings):"
  sed 's/^/  /' "$OUT/stalls.txt" | tee -a "$EXTRA"
  extra "latency, 64-byte lines, 3 s per run (first 0.5 s left out), median of $LAT_REPS runs; rates: half of"
  extra "the measured maximum of wbc-rr (${rr_rate:-?} lines/s) and of wbc-one (${one_rate:-?} lines/s), and a light load;"
  extra "slow_ms K/M: K of the run's M one-millisecond windows of traffic held a line slower than 1 ms;"
  extra "late_us: p99 of how late the tool itself made the lines, beyond its 50 us pacing (not in the latencies);"
  extra "arr_p99: p99 measured to the line's arrival in the sink's socket (kernel receive time), not to the tool's read;"
  extra "socat: one hop that only copies (-b 262144, tcp.in's largest read): the tail the machine leaves a relay doing no work"
  latency_table | tee -a "$EXTRA"
  # Issue 5's target: p99 under 1 ms at half load, for each wbc proxy at half of its own maximum.
  for pair in "wbc-rr|${rr_rate:-}" "wbc-one|${one_rate:-}"; do
    row=${pair%%|*}; rate=${pair#*|}; [ -n "$rate" ] || continue; rate=$((rate / 2))
    awk -F'\t' -v r="$row" -v rate="$rate" "$AWK_MED"'
      $1 == r && $2 == rate { p99 = p99 " " p99of($6); arr = arr " " $11; n++ }
      $1 == "socat" && $2 == rate { floor = floor " " p99of($6) }
      END { if (!n) exit; m = med(p99)
            printf "  %-5s %s p99 at half load (%d lines/s): %.1f us, median of %d runs (target under 1000 us)", (m < 1000 ? "MET" : "NOT"), r, rate, m, n
            printf "; to arrival in the sink socket: %.1f us", med(arr)
            if (floor != "") printf "; socat (copies only): %.1f us", med(floor)
            printf "\n" }' \
      "$LAT" | tee -a "$EXTRA"
  done
fi
# p99 against the offered rate (64-byte lines) for wbc-one, socat (a hop that only copies) and
# haproxy, at fixed rates: where each one's tail passes 1 ms on this machine, the load
# generator included, whatever maximum the throughput table drew.
if [[ " $EXTRAS " == *" curve "* ]]; then
  CURVE=$OUT/curve.tsv; printf "$LAT_HEAD" > "$CURVE"
  curve=()
  for rate in ${LAT_CURVE:-6000000 12000000 15000000 18000000 21000000 24000000}; do
    curve+=("$rate|socat wbc-one haproxy")
  done
  LAT_TSV=$CURVE latency_points "${curve[@]}"
  extra "p99 against the offered rate: $LAT_REPS interleaved runs per relay and rate, 3 s each (first 0.5 s left out);"
  extra "under_1ms: runs whose p99 was under 1 ms; held: runs that achieved 99 % of the offered rate"
  awk -F'\t' "$AWK_MED"'
    NR > 1 { k = $2 SUBSEP $1; if (!(k in n)) order[++m] = k; n[k]++; p99[k] = p99[k] " " p99of($6)
             if (p99of($6) + 0 < 1000) under[k]++; if ($4 + 0 >= 0.99 * $2) held[k]++ }
    END { printf "%-10s %-8s %10s %9s %5s  %s\n", "rate", "row", "p99_us", "under_1ms", "held", "p99_us of each run"
          for (i = 1; i <= m; i++) { k = order[i]; split(k, kk, SUBSEP)
            printf "%-10s %-8s %10.1f %6d/%-2d %2d/%-2d %s\n", kk[1], kk[2], med(p99[k]), under[k], n[k], held[k], n[k], p99[k] } }' \
    "$CURVE" | tee -a "$EXTRA"
fi
idle_row() { # row cmd count [lines each client sends first] [every-ms: send them again this often]
  local row=$1 cmd=$2 count=$3 said=${4:-0} every=${5:-0} d pid i before after hwm
  # Agents: the sink stops once it has every line, or 2 s after the last if fewer connected.
  local hold=4000 expect=0 quiet=60000
  [ "$every" -gt 0 ] && { hold=8000; expect=$((count * said * (1 + hold / every))); quiet=2000; }
  d=$RUNS/idle.$row.$count.$said.$every
  rm -rf "$d"; mkdir -p "$d"
  for p in $L $B1 $B2; do busy "$p" && { log "port $p busy before idle/$row"; return 1; }; done
  "$TARGET/sink" --lines "$expect" --drain-ms 1000 --idle-ms $quiet --start-ms 60000 --max-ms 90000 $B1 $B2 > "$d/sink.txt" 2>&1 &
  SINK_PID=$!; wait_listen $B1 || true; wait_listen $B2 || true
  /usr/bin/time -o "$d/time.txt" -f 'rss_kb=%M usr=%U sys=%S' "${RELAY_ON[@]}" sh -c "exec $cmd" > "$d/relay.log" 2>&1 &
  TIME_PID=$!; wait_listen $L || { log "idle/$row: nothing listens"; stop_relay; stop_sink; return 1; }
  sleep 0.5
  pid=$(cat "/proc/$TIME_PID/task/$TIME_PID/children" 2>/dev/null | cut -d' ' -f1)
  before=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
  timeout 90 "$TARGET/idle" --to $L --count "$count" --hold-ms $hold --lines "$said" --every-ms "$every" > "$d/idle.txt" 2>&1 &
  EXTRA_PIDS=($!)
  for ((i = 0; i < 600; i++)); do grep -q opened= "$d/idle.txt" 2>/dev/null && break; sleep 0.1; done
  local cpu0 sink0 t0 cpu; cpu0=$(ticks "$pid"); sink0=$(ticks "$SINK_PID"); t0=$(date +%s.%N)
  # Idle: let the relay accept and set up the last connections (and connect their backends).
  # Agents: sample during their last rounds, with every connection still open.
  if [ "$every" -gt 0 ]; then sleep $((hold / 1000 - 1)); else sleep 1.5; fi
  after=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status"); hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
  local backends; backends=$(ss -Htn state established "dport = :$B1 or dport = :$B2" | wc -l)
  if [ "$every" -gt 0 ]; then # the relay's CPU over all their rounds, then what the sinks got
    wait "${EXTRA_PIDS[0]}" 2>/dev/null || true; EXTRA_PIDS=()
    cpu=$(awk -v a="$cpu0" -v b="$(ticks "$pid")" -v c="$sink0" -v d="$(ticks "$SINK_PID")" -v t="$t0" -v u="$(date +%s.%N)" \
      'BEGIN { printf "%.3f s of CPU per second (the backend, our sink: %.3f)", (b - a) / 100 / (u - t), (d - c) / 100 / (u - t) }')
  fi
  for ((i = 0; i < 80 && expect > 0; i++)); do kill -0 "$SINK_PID" 2>/dev/null || break; sleep 0.05; done
  stop_extras; stop_relay; stop_sink
  local opened; opened=$(sed -n 's/.*opened=\([0-9]*\).*/\1/p' "$d/idle.txt")
  local who="idle $row"
  [ "$said" -gt 0 ] && who+=", clients that sent $said line(s) each first"
  [ "$every" -gt 0 ] && who="agents $row, clients that send $said line(s) every $every ms"
  extra "$who: $(paste -sd' ' "$d/idle.txt"); backend connections $backends; relay RSS before ${before} KiB, with the connections open ${after} KiB (peak ${hwm} KiB): $(awk -v a="$after" -v b="$before" -v n="${opened:-0}" 'BEGIN { if (n > 0) printf "%.2f KiB per connection opened", (a - b) / n; else printf "no connection opened" }')$([ "$every" -gt 0 ] && echo "; $cpu; the sinks got $(kv "$d/sink.txt" lines) of the $(kv "$d/idle.txt" sent) lines sent")"
}
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; } # user + system, 1/100 s
# wbc-one with issue 5's 10,000 connections, then every relay that takes one process (socat
# forks one per client) with IDLE_PEERS connections: haproxy and nginx open a backend
# connection per client, two descriptors each, and 10,000 of them do not fit this machine's
# hard limit of 20,000 descriptors per process.
if [[ " $EXTRAS " == *" idle "* ]]; then
  [ -x "$BIN/wbc-one" ] && { idle_row wbc-one "$BIN/wbc-one" 10000 || true; }
  # Agents that reported once and went quiet, and agents that report every second.
  [ -x "$BIN/wbc-one" ] && { idle_row wbc-one "$BIN/wbc-one" 10000 1 || true; }
  [ -x "$BIN/wbc-one" ] && { idle_row wbc-one "$BIN/wbc-one" 10000 1 1000 || true; }
  for r in "${ROWS[@]}"; do
    name=${r%%|*}
    case $name in wbc-one | haproxy | nginx | ccr-any_of) ;; *) continue ;; esac
    selected "$name" && { idle_row "$name" "${r##*|}" "${IDLE_PEERS:-4000}" || true; }
    selected "$name" && { idle_row "$name" "${r##*|}" "${IDLE_PEERS:-4000}" 1 1000 || true; }
  done
  if [ -x "$BIN/wbc-one-linger" ] && selected wbc-one; then
    idle_row wbc-one-linger "$BIN/wbc-one-linger" 10000 1 1000 || true
    idle_row wbc-one-linger "$BIN/wbc-one-linger" "${IDLE_PEERS:-4000}" 1 1000 || true
  fi
  if [ -x "$BIN/wbc-one" ] && selected wbc-one; then
    idle_row wbc-one-coalesce "$BIN/wbc-one --coalesce 1ms" 10000 1 1000 || true
    idle_row wbc-one-coalesce "$BIN/wbc-one --coalesce 1ms" "${IDLE_PEERS:-4000}" 1 1000 || true
  fi
fi
if [[ " $EXTRAS " == *" build "* ]]; then
  times=()
  for i in 1 2 3; do # a changed routing file each time: another output port, so main.rs changes
    sed "s/port: 32000/port: $((32100 + i + RANDOM % 800))/" "$ROOT/bench/routes/one.wb" > "$OUT/changed.wb"
    s=$(date +%s.%N)
    "$WBC" build "$OUT/changed.wb" -o "$BIN/changed" > "$OUT/build-changed.log" 2>&1 || { log "changed build failed"; break; }
    times+=("$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')")
  done
  extra "warm wbc build of a changed routing file (3 changes, s): ${times[*]:-failed}; target under 10 s"
  # Large files: the wiring function grows with the file (runtime/src/wiring.rs says why it
  # stays linear). A changed first port each time, so main.rs changes.
  big_file() { # kind n first_port
    awk -v kind="$1" -v n="$2" -v p="$3" 'BEGIN {
      if (kind == "pairs") {
        for (i = 0; i < n; i++) printf "in_%d = tcp.in(port: %d)\nout_%d = tcp.out(port: %d)\nin_%d -> out_%d\n", i, p + i, i, 30000 + i, i, i
      } else {
        printf "input = tcp.in(port: %d)\n", p
        for (i = 0; i < n; i++) { printf "o_%d = tcp.out(port: %d)\n", i, 30000 + i; members = members (i ? ", " : "") "o_" i }
        printf "input -> roundrobin(%s) fallback funnel\n", members
      }
    }'
  }
  for big in "pairs 200" "rr 1000"; do
    big_file $big $((10000 + RANDOM % 5000)) > "$OUT/big.wb"
    s=$(date +%s.%N)
    if "$WBC" build "$OUT/big.wb" -o "$BIN/big" > "$OUT/build-big.log" 2>&1; then
      t=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    else t=failed; log "build of a large file ($big) failed, see $OUT/build-big.log"; fi
    case $big in pairs*) what="200 tcp.in -> tcp.out pairs (400 modules)" ;; *) what="roundrobin of 1,000 tcp.out with fallback funnel" ;; esac
    extra "warm wbc build of a large routing file, $what (s): $t"
  done
fi
