#!/usr/bin/env bash
# make bench: runboxd against the raw Docker API floor and `docker run`,
# all on a private dockerd of its own (RUNBOXD_TEST_DOCKER_DIR, default
# /var/tmp/runboxd-bench-docker), so the machine's own Docker is not touched.
# BENCH_RUNTIME=runsc registers gVisor on that dockerd and adds its peers.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/rel}
export RUNBOXD_TEST_DOCKER_DIR=${RUNBOXD_TEST_DOCKER_DIR:-/var/tmp/runboxd-bench-docker}
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }
case "${BENCH_RUNTIME:-runc}" in
runc) rt= ;;
runsc) rt=runsc; command -v runsc >/dev/null || { echo "bench: runsc is missing (apt-get install runsc)" >&2; exit 1; } ;;
*) echo "bench: BENCH_RUNTIME=$BENCH_RUNTIME: runc or runsc" >&2; exit 2 ;;
esac
# The runtime goes to the daemon only: each peer names its own.
unset RUNBOXD_TEST_RUNTIME
sock=$(RUNBOXD_TEST_RUNTIME=$rt tests/harness/dockerd.sh start)
trap 'tests/harness/dockerd.sh stop >/dev/null 2>&1' EXIT
export DOCKER_HOST=unix://$sock RUNBOXD_TEST_DOCKER_SOCK=$sock RUNBOXD_BIN=$BUILD/runboxd
packaging/images/build.sh "$BUILD/runbox-runner" runbox/sh >&2
python3 tests/bench.py "$@"
