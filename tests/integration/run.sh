#!/bin/sh
# Runs every integration test (tests/integration/t_*.sh) against the
# binaries in the build folder given as $1, each in its own throwaway
# PostgreSQL cluster, and prints "N passed, N failed".
build=${1:-build}
pass=0
fail=0
failed=""
for t in tests/integration/t_*.sh; do
	name=$(basename "$t" .sh)
	start=$(date +%s)
	if XT_BUILD=$build timeout 300 bash "$t" >"$build/$name.out" 2>&1; then
		pass=$((pass + 1))
		echo "PASS $name ($(( $(date +%s) - start )) s)"
	else
		fail=$((fail + 1))
		failed="$failed $name"
		echo "FAIL $name ($(( $(date +%s) - start )) s); its output:"
		sed 's/^/    /' "$build/$name.out" | tail -n 60
	fi
done
echo "integration: $pass passed, $fail failed"
[ $fail -eq 0 ]
