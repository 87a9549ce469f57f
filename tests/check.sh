#!/usr/bin/env bash
# make check: unit tests, a short fuzz run of every parser, then the
# integration tests against a private dockerd with real images.  Every part
# prints "name: N passed, N failed"; the last line sums them all.
# RUNTIME=runsc (make check-runsc): only the integration tests, with every
# container under gVisor (Debian's runsc, registered on the private dockerd
# by tests/harness/dockerd.sh); checks that cannot hold there print
# "skip <check>: <why>".
set -u
cd "$(dirname "$0")/.."
case "${RUNTIME:-}" in
'' | runc) ;;
runsc)
	export RUNBOXD_TEST_RUNTIME=runsc
	RUNBOXD_SKIP_UNIT=1 RUNBOXD_SKIP_FUZZ=1
	;;
*) echo "RUNTIME=$RUNTIME: unknown (runc or runsc)" >&2; exit 2 ;;
esac
BUILD=${BUILD:-build/rel}
export BUILD
FUZZ_SECONDS=${FUZZ_SECONDS:-5}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
passed=0 failed=0

# Run one part; its output is shown and its "N passed, N failed" lines summed.
part() {
	local name=$1
	shift
	local t0=$SECONDS
	echo "== $name"
	"$@" 2>&1 | tee "$log/out"
	local rc=${PIPESTATUS[0]}
	echo "-- $name took $((SECONDS - t0)) s"
	local p f
	p=$(grep -E '^[A-Za-z0-9_/.-]+: [0-9]+ passed, [0-9]+ failed$' "$log/out" | awk '{s+=$2} END {print s+0}')
	f=$(grep -E '^[A-Za-z0-9_/.-]+: [0-9]+ passed, [0-9]+ failed$' "$log/out" | awk '{s+=$4} END {print s+0}')
	# A part that died without reporting (or reported no failure but failed) counts as a failure.
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name exited with status $rc"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

if [ -z "${RUNBOXD_SKIP_UNIT:-}" ]; then
	part unit tests/run-unit.sh $(ls "$BUILD"/tests/test_* 2>/dev/null)
fi
if [ -z "${RUNBOXD_SKIP_FUZZ:-}" ]; then
	part fuzz tests/fuzz.sh "$FUZZ_SECONDS" $(ls build/fuzz/fuzz_* 2>/dev/null | grep -v '\.log$')
fi

if [ -z "${RUNBOXD_SKIP_INTEGRATION:-}" ]; then
	if [ -n "${RUNBOXD_TEST_DOCKER_SOCK:-}" ]; then
		sock=$RUNBOXD_TEST_DOCKER_SOCK
	else
		sock=$(tests/harness/dockerd.sh start) || { echo "FAIL cannot start a private dockerd"; failed=$((failed + 1)); sock=; }
		trap 'tests/harness/dockerd.sh stop >/dev/null 2>&1; rm -rf "$log"' EXIT
	fi
	if [ -n "$sock" ]; then
		runner=${IMAGE_RUNNER:-$BUILD/runbox-runner}
		export DOCKER_HOST=unix://$sock RUNBOXD_TEST_DOCKER_SOCK=$sock RUNBOXD_BIN=$BUILD/runboxd RUNBOXD_TESTHOOKS_BIN=$BUILD/runboxd-testhooks RUNBOX_RUNNER=$runner
		part images-build packaging/images/build.sh "$runner"
		for t in tests/integration/test_*.py; do
			part "$(basename "$t" .py)" timeout 1200 python3 "$t"
		done
	fi
fi
echo "-- all took $SECONDS s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
