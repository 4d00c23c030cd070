# xactctl recover commit|abort|forget: the operator's forced outcomes.  An
# undecided transaction can be aborted; a journaled commit is only
# confirmed, or, with --heuristic, rolled back where it has not committed
# yet and recorded as a heuristic outcome; nothing without a decision is
# ever committed; a completed decision can be forgotten.
. tests/lib.sh
xt_init
xt_bank_up
R="$XT_BUILD/xactctl --coordinator $COORD_URL recover"

# An open transaction whose client went away: aborted on request.
gid=$("$XT_BUILD/tests/abandon" "$COORD_URL" pa "UPDATE accounts SET balance = balance - 9 WHERE id = 9") ||
    xt_fail "abandon"
$R forget "$gid" 2>"$XT_TMP/f1"
xt_assert_eq "forget of a transaction in flight: exit status" 1 $?
$R abort "$gid" >"$XT_TMP/a1" || xt_fail "recover abort of an active transaction"
xt_assert_grep "aborted" "^$gid: aborted" "$XT_TMP/a1"
i=0
while [ "$(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")" != 0 ]; do
	i=$((i + 1)); [ $i -gt 50 ] && xt_fail "pa's branch still open after recover abort"
	sleep 0.1
done
xt_assert_eq "abort: pa untouched" 1000 "$(xt_sql "$PGPORT" bank_a "SELECT balance FROM accounts WHERE id = 9")"

# No decision: never committed by hand.
$R commit "xact:c1:777777" 2>"$XT_TMP/c1"
xt_assert_eq "commit without a decision: exit status" 1 $?
xt_assert_grep "commit without a decision" "presumed abort" "$XT_TMP/c1"
$R abort "xact:c9:1" 2>/dev/null
xt_assert_eq "another coordinator's gid: exit status" 1 $?

# A journaled commit that cannot reach pa (it dies at COMMIT PREPARED).
xt_stop pa
XACT_FAILPOINTS=pg.before_commit_prepared=crash xt_part_a
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" --timeout 5000 exec \
    --on pa "UPDATE accounts SET balance = balance - 4 WHERE id = 4" \
    --on pa "INSERT INTO ledger (xfer, amount) VALUES (44, 4)" \
    --on pb "UPDATE accounts SET balance = balance + 4 WHERE id = 4" \
    --on pb "INSERT INTO ledger (xfer, amount) VALUES (44, 4)" >"$XT_TMP/x" 2>&1
xt_wait_exit pa 10 || xt_fail "pa did not crash at COMMIT PREPARED"
gid=$(sed -n 's/.*\(xact:c1:[0-9]*\).*/\1/p' "$XT_TMP/x" | head -n 1)
[ -n "$gid" ] || xt_fail "no gid"
$R abort "$gid" 2>"$XT_TMP/a2"
xt_assert_eq "abort of a journaled commit without --heuristic: exit status" 1 $?
xt_assert_grep "refused, with the way out" "its commit is journaled; --heuristic" "$XT_TMP/a2"
$R commit "$gid" >"$XT_TMP/c2" || xt_fail "commit of a journaled commit"
xt_assert_grep "confirmed" "^$gid: committed" "$XT_TMP/c2"
$R forget "$gid" 2>/dev/null
xt_assert_eq "forget before every ack: exit status" 1 $?
$R abort "$gid" --heuristic --json >"$XT_TMP/a3" || xt_fail "heuristic abort"
xt_assert_grep "heuristic abort --json" "\"gid\":\"$gid\",\"done\":true,\"outcome\":\"aborted\"" "$XT_TMP/a3"
xt_part_a
xt_wait_no_prepared "$PGPORT" bank_a 15 || xt_fail "pa's branch not rolled back"
xt_assert_eq "pa rolled back by the operator" 0 "$(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM ledger WHERE xfer = 44")"
xt_assert_eq "pb committed as decided" 1 "$(xt_sql "$PGPORT" bank_b "SELECT count(*) FROM ledger WHERE xfer = 44")"
xt_wait_not_in_flight "$gid" 10
# The heuristic record is written lazily (it waits up to 100 ms to share a
# decision's write): wait for it to be durable, then check it.
heuristic_journaled() {
	"$XT_BUILD/xactctl" journal dump "$JOURNAL" >"$XT_TMP/dump" &&
	    grep -q "^$gid  *pa  *commit  *aborted" "$XT_TMP/dump" && echo yes
}
xt_wait_until 10 heuristic_journaled yes
xt_assert_grep "the heuristic outcome is journaled" "^$gid  *pa  *commit  *aborted" "$XT_TMP/dump"
$R forget "$gid" >"$XT_TMP/f2" || xt_fail "forget of a completed decision"
sleep 1.5
"$XT_BUILD/xactctl" journal dump "$JOURNAL" >"$XT_TMP/dump2"
if grep -q "^$gid  *commit" "$XT_TMP/dump2"; then
	xt_fail "the forgotten decision is still in the journal"
fi
xt_assert_grep "the heuristic record stays" "^$gid  *pa  *commit  *aborted" "$XT_TMP/dump2"
echo ok
