#!/bin/bash
# slapd-stop.sh DIR — stop the slapd started by slapd-start.sh DIR (by pid),
# and wait (<= ~5 s, then SIGKILL) until it is gone. Also resumes a slapd
# that a test stopped with SIGSTOP. Exit 0 if nothing was running.
set -u
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
PIDFILE="$1/slapd.pid"
[ -s "$PIDFILE" ] || exit 0
PID=$(cat "$PIDFILE")
case "$PID" in
    ''|*[!0-9]*) echo "slapd-stop.sh: bad pid in $PIDFILE" >&2; exit 1 ;;
esac
kill -0 "$PID" 2>/dev/null || { rm -f "$PIDFILE"; exit 0; }
kill -TERM "$PID" 2>/dev/null
kill -CONT "$PID" 2>/dev/null
for _ in $(seq 1 50); do
    kill -0 "$PID" 2>/dev/null || { rm -f "$PIDFILE"; exit 0; }
    sleep 0.1
done
kill -KILL "$PID" 2>/dev/null
sleep 0.2
rm -f "$PIDFILE"
exit 0
