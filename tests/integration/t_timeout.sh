# A client that goes silent with a transaction open: the coordinator aborts
# it after --txn-timeout, the participant's branch is rolled back and its
# row lock released; xactctl status shows it in flight meanwhile.
. tests/lib.sh
xt_init
xt_bank_up --txn-timeout 2
gid=$("$XT_BUILD/tests/abandon" "$COORD_URL" pa "UPDATE accounts SET balance = balance - 100 WHERE id = 7") ||
    xt_fail "abandon"
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" status --json >"$XT_TMP/st1" || xt_fail "status"
xt_assert_grep "transaction in flight" "\"gid\":\"$gid\",\"state\":\"active\"" "$XT_TMP/st1"
xt_assert_grep "participants in status" '"name":"pa","url":"tcp://127.0.0.1' "$XT_TMP/st1"
# The branch holds the row: an update from outside waits on it.
xt_assert_eq "branch open in bank_a" 1 \
    "$(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")"
xt_wait_not_in_flight "$gid" 10
xt_assert_grep "timeout logged" "client silent, aborting gid=$gid" "$XT_TMP/coord.log"
i=0
while [ "$(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")" != 0 ]; do
	i=$((i + 1)); [ $i -gt 50 ] && xt_fail "branch still open in bank_a"
	sleep 0.1
done
xt_assert_eq "debit rolled back" 1000 "$(xt_sql "$PGPORT" bank_a "SELECT balance FROM accounts WHERE id = 7")"
# A client that comes back after the timeout learns its transaction aborted.
"$XT_BUILD/tests/abandon" "$COORD_URL" pb "UPDATE accounts SET balance = balance + 1 WHERE id = 7" 4 >"$XT_TMP/late" ||
    xt_fail "late client"
xt_assert_eq "late commit answered" aborted "$(sed -n 2p "$XT_TMP/late")"
xt_assert_eq "late commit: pb untouched" 1000 "$(xt_sql "$PGPORT" bank_b "SELECT balance FROM accounts WHERE id = 7")"
xt_assert_eq "total" $((2 * XT_ACCOUNTS * XT_SEED_BALANCE)) "$(xt_bank_total)"
# status exits non-zero when the coordinator cannot be reached.
xt_stop coord
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" --timeout 1000 status 2>"$XT_TMP/st2"
xt_assert_eq "status with the coordinator down" 1 $?
echo ok
