#!/usr/bin/env bash
# A private dockerd for the tests: its own data root, exec root and socket,
# no bridge, no iptables.  Tests never touch a daemon they did not start.
#   dockerd.sh start [DIR]   start it (or reuse ours if it is already up), print the socket
#   dockerd.sh stop [DIR]    stop it; the data root (images) is kept for the next run
set -euo pipefail

dir=${2:-${RUNBOXD_TEST_DOCKER_DIR:-/var/tmp/runboxd-test-docker}}
sock=$dir/docker.sock
pidf=$dir/dockerd.pid

alive() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }
ping() { curl -sf --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; }

start() {
	mkdir -p "$dir/data" "$dir/exec"
	if alive && ping; then
		echo "$sock"
		return 0
	fi
	stop_daemon
	command -v dockerd >/dev/null || { echo "dockerd not installed (apt-get install docker.io)" >&2; exit 1; }
	# setsid: the daemon must not get the terminal's signals meant for the tests.
	setsid dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$pidf" \
		-H "unix://$sock" --bridge=none --iptables=false --ip-masq=false \
		--ip-forward=false --userland-proxy=false >"$dir/dockerd.log" 2>&1 </dev/null &
	for _ in $(seq 1 150); do
		if ping; then
			echo "$sock"
			return 0
		fi
		sleep 0.2
	done
	echo "private dockerd did not come up; last lines of $dir/dockerd.log:" >&2
	tail -n 20 "$dir/dockerd.log" >&2
	exit 1
}

stop_daemon() {
	if [ -f "$pidf" ]; then
		local pid
		pid=$(cat "$pidf")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$pidf"
	fi
	# Whatever the daemon left mounted under its exec root must not outlive it.
	if [ -d "$dir/exec" ]; then
		{ grep -o " $dir/exec[^ ]*" /proc/mounts 2>/dev/null || true; } | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || true
		done
	fi
	rm -f "$sock"
}

case "${1:-}" in
start) start ;;
stop) stop_daemon ;;
*) echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac
