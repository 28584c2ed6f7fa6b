#!/usr/bin/env bash
# Start a private carbon-cache (Debian's graphite-carbon) for tests.
#
#   .ci/carbon/start.sh DIR PORT
#
# DIR   a directory this carbon owns: its config goes to DIR/conf, whisper files
#       to DIR/storage/whisper/<metric path with dots as slashes>.wsp, its log to
#       DIR/carbon.log and its pid to DIR/carbon.pid.
# PORT  the plaintext (line protocol) port, on 127.0.0.1. Pick a free one.
#
# Runs `carbon-cache --config=DIR/conf/carbon.conf --nodaemon start` in the
# background (Debian 12's carbon 1.1.7 wraps twistd; --nodaemon keeps it as
# the process we started, so the pid printed is carbon's own), waits up to
# 30 s for the port to accept connections and prints the pid on stdout.
# Exit status 1 with the tail of carbon's log when it does not come up.
# Stop it with .ci/carbon/stop.sh DIR.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 DIR PORT" >&2
    exit 2
fi
dir=$1
port=$2
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v carbon-cache >/dev/null 2>&1; then
    echo "carbon-cache not found; install it with .ci/carbon/install.sh" >&2
    exit 1
fi
case $port in
    '' | *[!0-9]*) echo "PORT must be a number, got \`$port\`" >&2; exit 2 ;;
esac

# carbon binds with SO_REUSEPORT, so a second carbon on a taken port would
# start and silently share the traffic with the first. A plain bind fails on
# any port in use (a SO_REUSEPORT socket included): check with one first.
if ! python3 -c 'import socket, sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null; then
    echo "port $port on 127.0.0.1 is in use; pick a free one" >&2
    exit 1
fi

mkdir -p "$dir/conf" "$dir/storage/whisper" "$dir/log"
dir=$(cd "$dir" && pwd)
# The markers are replaced literally; `|` cannot occur in a path we create.
sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" "$here/carbon.conf" >"$dir/conf/carbon.conf"
cp "$here/storage-schemas.conf" "$dir/conf/storage-schemas.conf"

# setsid: carbon gets its own process group, so a Ctrl-C aimed at the test
# runner does not race our stop, and stop.sh can signal the whole group.
setsid carbon-cache --config="$dir/conf/carbon.conf" --nodaemon start \
    >"$dir/carbon.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$dir/carbon.pid"

# Bounded wait: 300 probes of 100 ms.
for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "carbon-cache exited during start-up; its log ($dir/carbon.log):" >&2
        tail -n 30 "$dir/carbon.log" >&2 || true
        exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "$pid"
        exit 0
    fi
    sleep 0.1
done
echo "carbon-cache did not listen on 127.0.0.1:$port within 30 s; its log ($dir/carbon.log):" >&2
tail -n 30 "$dir/carbon.log" >&2 || true
kill "$pid" 2>/dev/null || true
exit 1
