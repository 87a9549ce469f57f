#!/usr/bin/env bash
# Run each libFuzzer target for SECONDS; print one result line per target.
# A crash keeps its reproducer under build/fuzz/crashes/.
set -u
secs=$1
shift
mkdir -p build/fuzz/crashes
pass=0 fail=0
for f in "$@"; do
	name=$(basename "$f")
	corpus=build/fuzz/corpus/$name
	mkdir -p "$corpus"
	seeds=tests/fuzz/corpus/$name
	[ -d "$seeds" ] || seeds=
	if "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
		-artifact_prefix=build/fuzz/crashes/"$name"- "$corpus" $seeds >build/fuzz/"$name".log 2>&1; then
		echo "fuzz $name: ok (${secs}s)"
		pass=$((pass + 1))
	else
		echo "FAIL fuzz $name: see build/fuzz/$name.log"
		tail -n 30 build/fuzz/"$name".log
		fail=$((fail + 1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
