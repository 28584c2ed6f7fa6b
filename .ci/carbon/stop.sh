#!/usr/bin/env bash
# Stop a carbon-cache started by .ci/carbon/start.sh DIR.
#
#   .ci/carbon/stop.sh DIR
#
# Sends SIGTERM (carbon flushes its cache to whisper on a clean stop), waits
# up to 10 s, then SIGKILL. Leaves DIR in place so the whisper files can
# still be read.
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
pidfile="$1/carbon.pid"
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
case $pid in
    '' | *[!0-9]*) echo "bad pid in $pidfile" >&2; exit 1 ;;
esac

kill -TERM "$pid" 2>/dev/null || { rm -f "$pidfile"; exit 0; }
for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; exit 0; }
    sleep 0.1
done
echo "carbon-cache $pid ignored SIGTERM for 10 s; killing it" >&2
kill -KILL "$pid" 2>/dev/null || true
rm -f "$pidfile"
