#!/usr/bin/env bash
# make bench: speed and memory of runboxd, each as a ratio against a
# baseline measured in the same run on the same private dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/rel}
sock=$(tests/harness/dockerd.sh start)
trap 'tests/harness/dockerd.sh stop >/dev/null 2>&1' EXIT
export DOCKER_HOST=unix://$sock RUNBOXD_TEST_DOCKER_SOCK=$sock RUNBOXD_BIN=$BUILD/runboxd
packaging/images/build.sh "$BUILD/runbox-runner" runbox/sh >&2
python3 tests/bench.py "$@"
