# Many transactions on one hot row: statements wait on the row lock at most
# --statement-timeout, a quarter of the agent's workers never run
# statements, so the commits and aborts that release the lock are always
# served.  Every transfer ends, nothing stays prepared, the invariants hold,
# the row is free again afterwards (transfers by one client all commit),
# and the agent still stops cleanly on SIGTERM.  How many of the 24 clients'
# transfers commit depends on timing (few do: a statement that cannot get
# the row within the timeout fails), so it is printed, not asserted.
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
xt_h workload --clients 1 --transfers 5 --first 1001 >>"$XT_TMP/out" ||
    xt_fail "the follow-up workload did not run"
xt_assert_eq "transfers by one client after the load, committed" 5 \
    "$(awk '$1 > 1000 && $2 == "committed"' "$XT_TMP/out" | wc -l)"
xt_bank_check "$XT_TMP/out"
for p in pa pb; do
	xt_h kill "$p" --signal TERM
	xt_wait_exit "$p" 10 || xt_fail "$p did not stop within 10 s of SIGTERM"
	xt_assert_eq "$p's exit status after SIGTERM" 0 "$XT_STATUS"
done
echo "committed=$committed of 150 on one row"
