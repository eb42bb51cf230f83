#!/bin/sh
# The demo: naive_backend (the event stream) and www (the page that shows
# it, from another origin), started together; Ctrl-C stops both.
#
#   run.sh NAIVE_BACKEND WWW
#
# `cmake --build build --target demo` runs it with the programs it built.
# Environment: DEMO_HOST (default 127.0.0.1), DEMO_WWW_PORT (8080) and
# DEMO_BACKEND_PORT (8081), for when those ports are taken.
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 NAIVE_BACKEND WWW" >&2
  exit 2
fi
backend_program=$1
www_program=$2
host=${DEMO_HOST:-127.0.0.1}
www_port=${DEMO_WWW_PORT:-8080}
backend_port=${DEMO_BACKEND_PORT:-8081}

# The host as a local browser reaches it.
case $host in
  0.0.0.0) url_host=127.0.0.1 ;;
  ::) url_host="[::1]" ;;
  *:*) url_host="[$host]" ;;  # IPv6
  *) url_host=$host ;;
esac
www_origin="http://$url_host:$www_port"
page="$www_origin/front.html"

# The page lives on the www origin: the backend must allow it (CORS). The
# page finds the backend on port 8081 of its own host unless told otherwise.
"$backend_program" --host "$host" --port "$backend_port" \
  --cors "$www_origin" --cors "http://localhost:$www_port" &
backend_pid=$!
if [ "$backend_port" = 8081 ]; then
  "$www_program" --host "$host" --port "$www_port" &
else
  backend="http://$url_host:$backend_port/events"
  "$www_program" --host "$host" --port "$www_port" --backend "$backend" &
  page="$page?backend=$(printf %s "$backend" | sed 's/%/%25/g; s/:/%3A/g; s|/|%2F|g; s/\[/%5B/g; s/]/%5D/g')"
fi
www_pid=$!

stop() {
  # Both servers stop gracefully on SIGTERM. On Ctrl-C the terminal has
  # already sent them SIGINT; a second signal does no harm.
  kill -TERM "$backend_pid" "$www_pid" 2>/dev/null
  wait "$backend_pid" 2>/dev/null
  wait "$www_pid" 2>/dev/null
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

# Both programs print a line once listening; a port taken ends one of them
# at once. Then say what to open, and wait while both run.
sleep 1
if kill -0 "$backend_pid" 2>/dev/null && kill -0 "$www_pid" 2>/dev/null; then
  echo "demo: open $page in a browser; Ctrl-C stops the demo"
fi
while kill -0 "$backend_pid" 2>/dev/null && kill -0 "$www_pid" 2>/dev/null; do
  sleep 1
done
stop
echo "demo: a server stopped (see its message above); demo over" >&2
exit 1
