# Many transactions on one hot row: statements wait on the row lock at most
# --statement-timeout, a quarter of the agent's workers never run
# statements, so the commits and aborts that release the lock are always
# served.  Every transfer ends, nothing stays prepared, the invariants hold,
# and the agent still stops cleanly on SIGTERM.
. tests/lib.sh
xt_init
XT_ACCOUNTS=1
xt_bank_up --call-timeout 3000
for p in pa pb; do xt_stop $p; done
xt_part_a --workers 4 --statement-timeout 1000
xt_part_b --workers 4 --statement-timeout 1000
xt_wait_port "$APORT"
xt_wait_port "$BPORT"
timeout 120 "$XT_BUILD/tests/bank" "$COORD_URL" 24 150 0 1 1 pa pb >"$XT_TMP/out" ||
    xt_fail "the workload did not finish"
xt_assert_eq "transfers run" 150 "$(wc -l <"$XT_TMP/out")"
committed=$(awk '$2 == "committed"' "$XT_TMP/out" | wc -l)
[ "$committed" -ge 1 ] || xt_fail "no transfer on the hot row committed"
xt_bank_check "$XT_TMP/out"
for p in pa pb; do
	pid=$(xt_pid $p)
	kill -TERM "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && xt_fail "$p did not stop within 10 s of SIGTERM"
		sleep 0.1
	done
done
echo "committed=$committed of 150 on one row"
