#!/usr/bin/env bash
# A private Podman serving its Docker-compatible API, for the tests: its own
# storage root, run root and socket (rootful).  runc is its OCI runtime
# when installed: Debian 12's crun refuses hosts with hybrid cgroups.
#   podman.sh start [DIR]   start it (or reuse ours if it is up), print the socket
#   podman.sh stop [DIR]    stop it; the storage root (images) is kept
set -euo pipefail

dir=${2:-${RUNBOXD_TEST_PODMAN_DIR:-/var/tmp/runboxd-test-podman}}
sock=$dir/podman.sock
pidf=$dir/podman.pid

alive() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }
ping() { curl -sf --max-time 5 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; }

podman_cmd() {
	local rt=()
	command -v runc >/dev/null && rt=(--runtime "$(command -v runc)")
	TMPDIR=$dir/tmp ${PODMAN_EXEC:-} podman --root "$dir/root" --runroot "$dir/run" --storage-driver overlay \
		--cgroup-manager cgroupfs --events-backend file "${rt[@]}" "$@"
}

# As dockerd shares its socket: group docker, 0660.  runboxd's agents, which
# drop to a user of group docker when started as root, must reach it.
share() {
	if getent group docker >/dev/null; then
		chgrp docker "$sock" 2>/dev/null && chmod 0660 "$sock" 2>/dev/null || true
	fi
}

start() {
	mkdir -p "$dir/root" "$dir/run" "$dir/tmp"
	if alive && ping; then
		share
		echo "$sock"
		return 0
	fi
	stop_service
	command -v podman >/dev/null || { echo "podman not installed (apt-get install podman)" >&2; exit 1; }
	# setsid: the service must not get the terminal's signals meant for the tests.
	setsid bash -c "$(declare -f podman_cmd); dir='$dir'; PODMAN_EXEC=exec podman_cmd system service --time=0 'unix://$sock'" \
		>"$dir/podman.log" 2>&1 </dev/null &
	echo $! >"$pidf"
	for _ in $(seq 1 300); do
		if ping; then
			share
			echo "$sock"
			return 0
		fi
		alive || break
		sleep 0.2
	done
	echo "private podman did not come up; last lines of $dir/podman.log:" >&2
	tail -n 20 "$dir/podman.log" >&2
	exit 1
}

stop_service() {
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
	rm -f "$sock"
}

case "${1:-}" in
start) start ;;
stop) stop_service ;;
load)
	# podman.sh load DIR < docker-save-stream
	mkdir -p "$dir/root" "$dir/run" "$dir/tmp"
	podman_cmd load >&2
	;;
*)
	echo "usage: $0 start|stop|load [DIR]" >&2
	exit 2
	;;
esac
