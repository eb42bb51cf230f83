#!/bin/sh
# The rtk_query demo: rtk_query_server with the page Vite built, on one
# origin. Ctrl-C stops it.
#
#   run.sh RTK_QUERY_SERVER WEB_DIR
#
# `cmake --build build --target demo_rtk_query` runs it with what it built.
# Environment: RTK_QUERY_HOST (default 127.0.0.1), RTK_QUERY_PORT (8090).
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 RTK_QUERY_SERVER WEB_DIR" >&2
  exit 2
fi
host=${RTK_QUERY_HOST:-127.0.0.1}
port=${RTK_QUERY_PORT:-8090}
echo "demo_rtk_query: open http://$host:$port/ (sign in), and http://$host:$port/admin in a"
echo "demo_rtk_query: second tab to publish; Ctrl-C stops the server"
# exec: the server gets Ctrl-C's SIGINT itself and stops gracefully.
exec "$1" --host "$host" --port "$port" --static "$2" --heartbeat-ms 15000
