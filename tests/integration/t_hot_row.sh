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
timeout 120 "$XT_BUILD/xact-harness" workload --clients 24 --transfers 150 --first 1 >"$XT_TMP/out" ||
    xt_fail "the workload did not finish"
xt_assert_eq "transfers run" 150 "$(wc -l <"$XT_TMP/out")"
committed=$(awk '$2 == "committed"' "$XT_TMP/out" | wc -l)
[ "$committed" -ge 1 ] || xt_fail "no transfer on the hot row committed"
xt_bank_check "$XT_TMP/out"
for p in pa pb; do
	xt_h kill "$p" --signal TERM
	xt_wait_exit "$p" 10 || xt_fail "$p did not stop within 10 s of SIGTERM"
	xt_assert_eq "$p's exit status after SIGTERM" 0 "$XT_STATUS"
done
echo "committed=$committed of 150 on one row"
