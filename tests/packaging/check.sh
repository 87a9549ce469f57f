#!/usr/bin/env bash
# make check-packaging: the package tests against a private dockerd (as
# tests/check.sh starts it), with the runner images built.  Last line:
# "packaging: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/rel}
if [ -n "${RUNBOXD_TEST_DOCKER_SOCK:-}" ]; then
	sock=$RUNBOXD_TEST_DOCKER_SOCK
else
	sock=$(tests/harness/dockerd.sh start) || { echo "packaging: 0 passed, 1 failed"; exit 1; }
	trap 'tests/harness/dockerd.sh stop >/dev/null 2>&1' EXIT
fi
export DOCKER_HOST=unix://$sock RUNBOXD_TEST_DOCKER_SOCK=$sock
packaging/images/build.sh "$BUILD/runbox-runner" runbox/sh >/dev/null || { echo "packaging: 0 passed, 1 failed"; exit 1; }
timeout 1200 python3 tests/packaging/test_packages.py
