#!/usr/bin/env bash
# A private dockerd for the tests: its own data root, exec root and socket,
# no bridge, no iptables.  Tests never touch a daemon they did not start.
#   dockerd.sh start [DIR]   start it (or reuse ours if it is already up), print the socket
#   dockerd.sh stop [DIR]    stop it; the data root (images) is kept for the next run
# RUNBOXD_TEST_RUNTIME=runsc registers gVisor (Debian's runsc package) as
# the runtime "runsc" in the daemon's config; a running daemon whose config
# differs from the one asked for is restarted.  Only ptrace works without
# /dev/kvm (Debian's build knows no systrap); gVisor's own network stays off
# since the containers have none.
set -euo pipefail

dir=${2:-${RUNBOXD_TEST_DOCKER_DIR:-/var/tmp/runboxd-test-docker}}
sock=$dir/docker.sock
pidf=$dir/dockerd.pid
conf=$dir/daemon.json
runtime=${RUNBOXD_TEST_RUNTIME:-}

alive() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }
ping() { curl -sf --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; }

# The daemon's JSON config for the runtime asked for.
want_conf() {
	case "$runtime" in
	'' | runc) echo '{}' ;;
	runsc)
		local bin
		bin=$(command -v runsc) || { echo "runsc not installed (apt-get install runsc)" >&2; exit 1; }
		printf '{"runtimes": {"runsc": {"path": "%s", "runtimeArgs": ["--platform=ptrace", "--network=none"]}}}\n' "$bin"
		;;
	*) echo "RUNBOXD_TEST_RUNTIME: unknown runtime $runtime (runc or runsc)" >&2; exit 1 ;;
	esac
}

start() {
	local want
	mkdir -p "$dir/data" "$dir/exec"
	want=$(want_conf)
	# A daemon with some runtime registered serves runc runs as well: reuse it
	# unless the runtime asked for is missing from its config.
	if alive && ping && { [ "$want" = '{}' ] || [ "$want" = "$(cat "$conf" 2>/dev/null)" ]; }; then
		echo "$sock"
		return 0
	fi
	stop_daemon
	command -v dockerd >/dev/null || { echo "dockerd not installed (apt-get install docker.io)" >&2; exit 1; }
	printf '%s\n' "$want" >"$conf"
	# setsid: the daemon must not get the terminal's signals meant for the tests.
	setsid dockerd --config-file "$conf" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$pidf" \
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
