#!/usr/bin/env bash
# make chaos: the chaos test of tests/integration/test_chaos.py for
# RUNBOXD_CHAOS_SECONDS (default 60) against a private dockerd; `make check`
# runs the same test for 20 s.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/rel}
if [ -n "${RUNBOXD_TEST_DOCKER_SOCK:-}" ]; then
	sock=$RUNBOXD_TEST_DOCKER_SOCK
else
	sock=$(tests/harness/dockerd.sh start)
	trap 'tests/harness/dockerd.sh stop >/dev/null 2>&1' EXIT
fi
export DOCKER_HOST=unix://$sock RUNBOXD_TEST_DOCKER_SOCK=$sock RUNBOXD_BIN=$BUILD/runboxd
export RUNBOXD_CHAOS_SECONDS=${RUNBOXD_CHAOS_SECONDS:-60}
packaging/images/build.sh "$BUILD/runbox-runner" runbox/sh >&2
python3 tests/integration/test_chaos.py
