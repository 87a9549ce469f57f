#!/usr/bin/env bash
# The two system users runboxd drops to when started as root (make run,
# make check, a hand install): SERVER_FRONT_USER and SERVER_AGENT_USER at
# their defaults.  The agent user joins group docker (made by the docker.io
# package) to reach the Docker socket; the front user joins nothing.
# Prints nothing when all is there.
set -euo pipefail
front=${SERVER_FRONT_USER:-runboxd-front}
agent=${SERVER_AGENT_USER:-runboxd}
[ "$(id -u)" = 0 ] || exit 0
nologin=$(command -v nologin || echo /usr/sbin/nologin)
for u in "$agent" "$front"; do
	if ! getent passwd "$u" >/dev/null; then
		echo "creating system user $u" >&2
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell "$nologin" "$u"
	fi
done
getent group docker >/dev/null || groupadd --system docker
if ! id -nG "$agent" | tr ' ' '\n' | grep -qx docker; then
	echo "adding $agent to group docker" >&2
	usermod -a -G docker "$agent"
fi
