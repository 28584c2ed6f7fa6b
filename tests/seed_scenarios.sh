#!/usr/bin/env bash
# The seed article's three scenarios, driven the seed's way: `nc -l` sinks
# writing to files, `cat file | nc` as the producer, sha256sum and wc -l as
# the checks. Each proxy is built from examples/ with `wbc build` (ports
# rewritten to free ones). Prints every step and PASS/FAIL; exits 1 if any
# scenario fails. Every process it starts is stopped on exit.
#
#   bash tests/seed_scenarios.sh            # from anywhere in the repository
#   WBC=/path/to/wbc bash tests/seed_scenarios.sh
#
# Needs: cargo, nc (netcat-openbsd), sha256sum, timeout.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
export WBC_CACHE_DIR=${WBC_CACHE_DIR:-$TARGET/wbc-test-cache}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wbc-seed.XXXXXX")
PIDS=()
FAILED=0

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    if [ "$FAILED" = 0 ]; then rm -rf "$WORK"; else echo "logs kept in $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '  $ %s\n' "$*"; }
PASSES=0
FAILS=0
pass() { printf 'PASS  %s\n' "$*"; PASSES=$((PASSES + 1)); }
fail() { printf 'FAIL  %s\n' "$*"; FAILED=1; FAILS=$((FAILS + 1)); }

for tool in nc sha256sum timeout; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool (apt-get install netcat-openbsd coreutils)"; exit 2; }
done

if [ -z "${WBC:-}" ]; then
    echo "== building wbc"
    cargo build -q -p wbc || { echo "FAIL  cargo build -p wbc"; exit 1; }
    WBC=$TARGET/debug/wbc
fi

# free_port VAR: sets VAR to a port nothing listens on (random, probed with
# `nc -z`, never handed out twice in one run).
USED=" "
free_port() {
    local port tries=0
    while [ $tries -lt 200 ]; do
        # Below the ephemeral range (32768+): such a port cannot be taken as
        # the local end of some outgoing connection before the proxy binds it.
        port=$((20000 + RANDOM % 12000))
        tries=$((tries + 1))
        case "$USED" in *" $port "*) continue ;; esac
        if ! nc -z 127.0.0.1 "$port" 2>/dev/null; then USED="$USED$port "; printf -v "$1" %s "$port"; return 0; fi
    done
    fail "no free port found"
    return 1
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.1
    done
}
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
lines_are() { [ "$(lines "$1")" -ge "$2" ]; }
sum_lines_are() { [ $(( $(lines "$1") + $(lines "$2") )) -ge "$3" ]; }
listening() { nc -z 127.0.0.1 "$1" 2>/dev/null; }
# An established connection whose local port is $1 (the sink side): the
# proxy's tcp.out has connected.
connected() {
    local hex; hex=$(printf '%04X' "$1")
    grep -qE "^ *[0-9]+: [0-9A-F]+:$hex [0-9A-F]+:[0-9A-F]+ 01 " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
sha() { sha256sum | cut -d' ' -f1; }

# sink PORT FILE: the seed's `nc -kl PORT > FILE`.
sink() {
    step "nc -dkl 127.0.0.1 $1 > $(basename "$2") &"
    nc -dkl 127.0.0.1 "$1" > "$2" &
    PIDS+=($!)
    wait_for 10 listening "$1" || fail "sink on port $1 did not start"
}

# build EXAMPLE OUT OLD=NEW...: the example with its ports rewritten, built.
# Two passes through a marker, so that a new port equal to another old one
# (20000=20001 20001=24959) is not rewritten again.
build() {
    local example=$1 out=$2; shift 2
    local sed_args=()
    for pair in "$@"; do sed_args+=(-e "s/port: ${pair%%=*})/port: @${pair%%=*}@)/"); done
    for pair in "$@"; do sed_args+=(-e "s/port: @${pair%%=*}@)/port: ${pair#*=})/"); done
    sed "${sed_args[@]}" "examples/$example" > "$WORK/$out.wb"
    step "wbc build $out.wb -o $out   # examples/$example, ports $*"
    if ! timeout 1200 "$WBC" build "$WORK/$out.wb" -o "$WORK/$out" 2> "$WORK/$out.build.log"; then
        cat "$WORK/$out.build.log"; fail "wbc build $example"; return 1
    fi
}

# start_proxy NAME INPUT_PORT: run the proxy in the background until it listens.
PROXY=
start_proxy() {
    step "./$1 &"
    "$WORK/$1" 2> "$WORK/$1.log" &
    PROXY=$!
    PIDS+=($PROXY)
    wait_for 20 listening "$2" || { cat "$WORK/$1.log"; fail "$1 not listening on $2"; return 1; }
}

# stop_proxy NAME: SIGTERM, exit status must be 0.
stop_proxy() {
    step "kill -TERM \$PID   # $1"
    kill -TERM "$PROXY"
    local waited=0
    while kill -0 "$PROXY" 2>/dev/null && [ $waited -lt 300 ]; do sleep 0.1; waited=$((waited + 1)); done
    if kill -0 "$PROXY" 2>/dev/null; then kill -KILL "$PROXY"; fail "$1 ignored SIGTERM for 30 s"; return 1; fi
    wait "$PROXY"; local status=$?
    [ $status = 0 ] && pass "$1 exited 0 after SIGTERM" || { cat "$WORK/$1.log"; fail "$1 exited $status"; }
}

# send FILE PORT: the seed's `cat FILE | nc localhost PORT`.
send() {
    step "cat $(basename "$1") | nc -N -q 1 127.0.0.1 $2"
    timeout 60 nc -N -q 1 127.0.0.1 "$2" < "$1" > /dev/null || fail "sending $(basename "$1")"
}

check_eq() { # what expected actual
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected $2, got $3"; fi
}

# ---------------------------------------------------------------- scenario I
scenario_1() {
    echo; echo "== scenario I: one input, one output (examples/scenario1_one_to_one.wb)"
    local in out
    free_port in && free_port out || return 1
    build scenario1_one_to_one.wb s1 10000="$in" 20000="$out" || return 1
    step "yes hello | head -n 10000 > hello.txt"
    yes hello | head -n 10000 > "$WORK/hello.txt"
    sink "$out" "$WORK/s1.out"
    start_proxy s1 "$in" || return 1
    send "$WORK/hello.txt" "$in"
    wait_for 60 lines_are "$WORK/s1.out" 10000 || fail "only $(lines "$WORK/s1.out") lines arrived"
    stop_proxy s1
    step "sha256sum hello.txt s1.out"
    check_eq "scenario I: sink sha256 equals input sha256" "$(sha < "$WORK/hello.txt")" "$(sha < "$WORK/s1.out")"
}

# ---------------------------------------------------------------- scenario II
scenario_2() {
    echo; echo "== scenario II: round robin over two outputs (examples/scenario2_roundrobin.wb)"
    local input=$1 label=$2 in o1 o2
    free_port in && free_port o1 && free_port o2 || return 1
    build scenario2_roundrobin.wb "s2$label" 10000="$in" 20000="$o1" 20001="$o2" || return 1
    sink "$o1" "$WORK/s2$label.out1"
    sink "$o2" "$WORK/s2$label.out2"
    start_proxy "s2$label" "$in" || return 1
    wait_for 20 connected "$o1" && wait_for 20 connected "$o2" || fail "outputs did not connect"
    sleep 0.2   # the accept completes a moment before tcp.out marks itself up
    send "$input" "$in"
    wait_for 60 sum_lines_are "$WORK/s2$label.out1" "$WORK/s2$label.out2" 10000 || fail "lines missing"
    stop_proxy "s2$label"
    step "wc -l s2$label.out1 s2$label.out2"
    check_eq "scenario II ($label): output_1 got half" 5000 "$(lines "$WORK/s2$label.out1")"
    check_eq "scenario II ($label): output_2 got half" 5000 "$(lines "$WORK/s2$label.out2")"
    if [ "$label" = hello ]; then
        step "cat s2hello.out1 s2hello.out2 | sha256sum"
        check_eq "scenario II (hello): sinks concatenated hash like the input" \
            "$(sha < "$input")" "$(cat "$WORK/s2$label.out1" "$WORK/s2$label.out2" | sha)"
    else
        step "sort s2$label.out1 s2$label.out2 | sha256sum"
        check_eq "scenario II ($label): same multiset of lines" \
            "$(sort "$input" | sha)" "$(sort "$WORK/s2$label.out1" "$WORK/s2$label.out2" | sha)"
    fi
}

# ---------------------------------------------------------------- scenario III
scenario_3() {
    echo; echo "== scenario III: failover and metrics (examples/scenario3_failover_metrics.wb)"
    local in o1 o2 carbon
    free_port in && free_port o1 && free_port o2 && free_port carbon || return 1
    build scenario3_failover_metrics.wb s3 10000="$in" 20000="$o1" 20001="$o2" 2003="$carbon" || return 1
    seq -f 'down-%05g' 1 10000 > "$WORK/down.txt"
    seq -f 'up-%05g' 1 10000 > "$WORK/up.txt"
    sink "$o1" "$WORK/s3.out1"
    sink "$carbon" "$WORK/s3.carbon"
    echo "  (output_2's sink on port $o2 is not listening)"
    start_proxy s3 "$in" || return 1
    send "$WORK/down.txt" "$in"
    wait_for 60 lines_are "$WORK/s3.out1" 10000 || fail "only $(lines "$WORK/s3.out1") lines reached output_1"
    check_eq "scenario III: every line reached output_1 while output_2 was down" \
        "$(sort "$WORK/down.txt" | sha)" "$(sort "$WORK/s3.out1" | sha)"
    sink "$o2" "$WORK/s3.out2"
    step "wait until output_2 reconnects"
    wait_for 45 connected "$o2" || fail "output_2 did not reconnect"
    sleep 0.3
    send "$WORK/up.txt" "$in"
    wait_for 60 sum_lines_are "$WORK/s3.out1" "$WORK/s3.out2" 20000 || fail "lines missing after recovery"
    stop_proxy s3
    local up1 up2
    up1=$(grep -c '^up-' "$WORK/s3.out1"); up2=$(grep -c '^up-' "$WORK/s3.out2")
    step "grep -c '^up-' s3.out1 s3.out2   # $up1 / $up2"
    if [ "$up1" -ge 2500 ] && [ "$up2" -ge 2500 ]; then pass "scenario III: later lines split between both again ($up1/$up2)"
    else fail "scenario III: later lines not split ($up1/$up2)"; fi
    step "sort s3.out1 s3.out2 | sha256sum"
    check_eq "scenario III: nothing lost or duplicated" \
        "$(sort "$WORK/down.txt" "$WORK/up.txt" | sha)" "$(sort "$WORK/s3.out1" "$WORK/s3.out2" | sha)"
    echo "  ($(lines "$WORK/s3.carbon") graphite lines reached the carbon sink)"
}

scenario_1
yes hello | head -n 10000 > "$WORK/hello2.txt"
scenario_2 "$WORK/hello2.txt" hello
seq -f 'line-%05g' 1 10000 > "$WORK/distinct.txt"
scenario_2 "$WORK/distinct.txt" distinct
scenario_3

echo
echo "seed scenarios: $PASSES passed, $FAILS failed"
if [ "$FAILED" != 0 ]; then exit 1; fi
