# A COMMIT PREPARED cut off by a PostgreSQL restart is retried, not reported
# as final: the client is told "committed", and the branch commits once the
# server is back.
. tests/lib.sh
xt_init
# No sweep during the test: it would use, and so discard, the dead pooled
# connection before the COMMIT PREPARED does.
xt_bank_up --recovery-interval 60
# Four transfers at once: each agent keeps four idle pooled connections,
# all of which the restart below kills.
for k in 1 2 3 4; do
	"$XT_BUILD/xactctl" --coordinator "$COORD_URL" exec --one-shot \
	    --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = $((k + 2))" \
	    --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = $((k + 2))" >/dev/null 2>&1 &
done
wait
xt_stop pa
XACT_FAILPOINTS="pg.before_commit_prepared=delay:2000@1" xt_part_a --log-level debug
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" --timeout 20000 exec \
    --on pa "UPDATE accounts SET balance = balance - 30 WHERE id = 1" \
    --on pa "INSERT INTO ledger (xfer, amount) VALUES (77, 30)" \
    --on pb "UPDATE accounts SET balance = balance + 30 WHERE id = 2" \
    --on pb "INSERT INTO ledger (xfer, amount) VALUES (77, 30)" >"$XT_TMP/x" 2>&1 &
xpid=$!
# pa now sits in the delay before COMMIT PREPARED; restart the server under it.
xt_wait_log "$XT_TMP/pa.log" "failpoint fired name=pg.before_commit_prepared" 5
# The operator's view of that moment: decided, pb done, pa still prepared.
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" recover list >"$XT_TMP/list" || xt_fail "recover list"
xt_assert_grep "recover list" "^xact:c1:[0-9]*  *committing  *committed  *[0-9]*  pa=prepared$" "$XT_TMP/list"
gid=$(awk '/pa=prepared/ {print $1; exit}' "$XT_TMP/list")
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" recover show "$gid" --json >"$XT_TMP/show" ||
    xt_fail "recover show"
xt_assert_grep "recover show --json" "\"coordinator_state\":\"committing\",\"decision\":\"committed\",\"age_ms\":[0-9]*,\"branches\":\[{\"participant\":\"pa\",\"state\":\"prepared\"}\]" "$XT_TMP/show"
xt_pg_restart main
wait $xpid
xt_assert_eq "client told committed" 0 $?
xt_assert_grep "committed" "committed xact:c1:" "$XT_TMP/x"
xt_assert_grep "the cut-off commit was retried" "no ack gid=.* participant=pa" "$XT_TMP/coord.log"
xt_wait_no_prepared "$PGPORT" bank_a 20 || xt_fail "pa's branch still prepared"
xt_wait_no_prepared "$PGPORT" bank_b 20 || xt_fail "pb's branch still prepared"
xt_assert_eq "pa committed" 1 "$(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM ledger WHERE xfer = 77")"
xt_assert_eq "pb committed" 1 "$(xt_sql "$PGPORT" bank_b "SELECT count(*) FROM ledger WHERE xfer = 77")"
xt_assert_eq "total" $((2 * XT_ACCOUNTS * XT_SEED_BALANCE)) "$(xt_bank_total)"
# pb still holds its dead idle connections: a one-shot transfer commits at
# once all the same (the first dead one found makes the agent drop the
# others, and its retry opens a fresh connection).
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" exec --one-shot \
    --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 1" \
    --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 2" >"$XT_TMP/x2" 2>&1 ||
    xt_fail "one-shot transfer after the restart: $(cat "$XT_TMP/x2")"
# The agents reconnect by themselves: a new transfer commits.
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" exec \
    --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 1" \
    --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 2" >/dev/null ||
    xt_fail "transfer after the restart"
echo ok
