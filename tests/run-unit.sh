#!/usr/bin/env bash
# Run unit test binaries; each prints "name: N passed, N failed".
set -u
rc=0
for t in "$@"; do
	"$t" || rc=1
done
exit $rc
