#!/usr/bin/env bash
# make run: runboxd on 127.0.0.1:8088 with a working default, on a fresh
# Debian machine.  Uses the system dockerd if one answers on
# /var/run/docker.sock, else starts a private one; builds the default image
# (runbox/sh) when it is missing; generates a token and prints curl lines.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/rel}
PORT=${SERVER_LISTEN_PORT:-8088}
private=
sock=/var/run/docker.sock

if ! curl -sf --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
	echo "no dockerd answers on $sock: starting a private one" >&2
	private=${RUNBOXD_RUN_DOCKER_DIR:-/var/tmp/runboxd-run-docker}
	sock=$(tests/harness/dockerd.sh start "$private")
	trap 'tests/harness/dockerd.sh stop "$private"' EXIT
fi
export DOCKER_HOST=unix://$sock
packaging/images/build.sh "$BUILD/runbox-runner" runbox/sh >&2

token=${API_ACCESS_TOKEN:-$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}
cat <<MSG

runboxd is starting on http://127.0.0.1:$PORT (Docker: $sock)
token: $token

  curl -s http://127.0.0.1:$PORT/
  curl -s -H 'X-Access-Token: $token' http://127.0.0.1:$PORT/version
  curl -s -H 'X-Access-Token: $token' -H 'Content-Type: application/json' \\
    -d '{"image":"runbox/sh","payload":{"language":"sh","files":[{"name":"main.sh","content":"echo Hello World"}]}}' \\
    http://127.0.0.1:$PORT/run
  curl -s -H 'X-Access-Token: $token' -H 'Content-Type: application/json' \\
    -d '{"script":"echo Hello World; cat","stdin":"from stdin"}' \\
    http://127.0.0.1:$PORT/execute
  curl -sN -H 'X-Access-Token: $token' -H 'Content-Type: application/json' \\
    -d '{"image":"runbox/sh","payload":{"language":"sh","files":[{"name":"main.sh","content":"for i in 1 2 3; do echo tick \$i; sleep 1; done"}]}}' \\
    'http://127.0.0.1:$PORT/run?stream=1'
  curl -s http://127.0.0.1:$PORT/health
  curl -s -H 'X-Access-Token: $token' http://127.0.0.1:$PORT/metrics
  curl -s http://127.0.0.1:$PORT/openapi.json | head -c 300

Ctrl-C stops it.
MSG
API_ACCESS_TOKEN=$token DOCKER_UNIX_SOCKET_PATH=$sock SERVER_LISTEN_PORT=$PORT \
	"$BUILD/runboxd" -c conf/runboxd.env &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; [ -n "$private" ] && tests/harness/dockerd.sh stop "$private"' EXIT INT TERM
wait $pid
