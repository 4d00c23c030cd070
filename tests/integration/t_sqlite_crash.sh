# The SQLite agent is killed with SIGKILL (a) after the changeset is logged
# and before its vote is sent, (b) after voting YES, (c) after the data
# commit and before the side-log record is removed.  After a restart each
# transfer is committed on both databases or on neither, as the coordinator
# decided; nothing is applied twice; the total balance holds.  The transfer
# of (b) also writes random(): the value on disk after recovery is the one
# the branch voted on.
XT_B_BACKEND=sqlite
. tests/lib.sh
xt_init
xt_bank_up
total=$((2 * XT_ACCOUNTS * XT_SEED_BALANCE))
sqlite3 -batch "$SQLITE_B" "CREATE TABLE rnd (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO rnd VALUES (1, 0);"

# transfer XFER [extra pb statement...]: 10 from bank_a #3 to bank_b #4.
transfer() {
	x=$1; shift
	"$XT_BUILD/xactctl" --coordinator "$COORD_URL" --timeout 20000 exec \
	    --on pa "UPDATE accounts SET balance = balance - 10 WHERE id = 3" \
	    --on pa "INSERT INTO ledger (xfer, amount) VALUES ($x, 10)" \
	    --on pb "UPDATE accounts SET balance = balance + 10 WHERE id = 4" \
	    --on pb "INSERT INTO ledger (xfer, amount) VALUES ($x, 10)" "$@"
}
restart_pb() {
	xt_stop pb KILL
	xt_part_b "$@"
}
count() { # XFER: on how many databases the transfer is
	echo $(( $(xt_a_sql "SELECT count(*) FROM ledger WHERE xfer = $1") + \
	         $(xt_b_sql "SELECT count(*) FROM ledger WHERE xfer = $1") ))
}

# (a) Logged, vote not sent: the coordinator hears no vote and aborts; the
# restarted agent prepares the branch again from its side log, and the
# abort (retried, or the recovery sweep) rolls it back.
restart_pb --log-level debug
XACT_FAILPOINTS=part.before_vote=crash restart_pb
transfer 801 >"$XT_TMP/a.out" 2>&1
xt_assert_eq "(a) the client is told aborted" 1 $?
xt_wait_exit pb 5 || xt_fail "(a) the agent did not crash before its vote"
xt_assert_eq "(a) the changeset is in the side log" 1 "$(xt_b_prepared)"
restart_pb
xt_wait_b_no_prepared 15 || xt_fail "(a) the re-prepared branch was not rolled back"
xt_assert_grep "(a) recovered from the side log" "applying its changeset again" "$XT_TMP/pb.log"
xt_assert_eq "(a) on neither database" 0 "$(count 801)"
xt_assert_eq "(a) total" "$total" "$(xt_bank_total)"

# (b) Voted YES, killed before the decision reaches it: the coordinator
# commits; the restarted agent re-prepares and commits exactly once.
xt_stop coord
XACT_FAILPOINTS=coord.before_decision=delay:2500 xt_coord_start
transfer 802 --on pb "UPDATE rnd SET v = random() WHERE id = 1 RETURNING v" >"$XT_TMP/b.out" 2>&1 &
xpid=$!
xt_wait_log "$XT_TMP/coord.log" "failpoint fired name=coord.before_decision" 5
voted=$(sed -n 's/^pb: \(-\{0,1\}[0-9][0-9]*\)$/\1/p' "$XT_TMP/b.out")
[ -n "$voted" ] || { cat "$XT_TMP/b.out"; xt_fail "(b) no random() value in the statement's result"; }
xt_stop pb KILL
restart_pb
wait $xpid
xt_assert_eq "(b) the client is told committed" 0 $?
xt_wait_b_no_prepared 15 || xt_fail "(b) branch still prepared"
xt_assert_eq "(b) on both databases" 2 "$(count 802)"
xt_assert_eq "(b) random() value on disk is the one voted on" "$voted" \
    "$(xt_b_sql "SELECT v FROM rnd WHERE id = 1")"
xt_assert_eq "(b) credited once" 1010 "$(xt_b_sql "SELECT balance FROM accounts WHERE id = 4")"
xt_assert_eq "(b) total" "$total" "$(xt_bank_total)"
xt_stop coord
xt_coord_start

# (c) Committed with its marker, side-log record not yet removed: the
# restarted agent sees the marker and only drops the record; the
# coordinator's repeated COMMIT is answered from the marker.
XACT_FAILPOINTS=sqlite.after_commit=crash restart_pb
transfer 803 >"$XT_TMP/c.out" 2>&1
xt_assert_eq "(c) the client is told committed" 0 $?
xt_wait_exit pb 5 || xt_fail "(c) the agent did not crash after its commit"
xt_assert_eq "(c) the side-log record is still there" 1 "$(xt_b_prepared)"
restart_pb
xt_wait_b_no_prepared 15 || xt_fail "(c) side-log record not dropped"
xt_assert_grep "(c) marker found" "state=committed (marker found)" "$XT_TMP/pb.log"
xt_assert_eq "(c) on both databases" 2 "$(count 803)"
xt_assert_eq "(c) credited once more, not twice" 1020 "$(xt_b_sql "SELECT balance FROM accounts WHERE id = 4")"
xt_assert_eq "(c) total" "$total" "$(xt_bank_total)"
xt_wait_not_in_flight "xact:" 10
xt_wait_no_prepared "$PGPORT" bank_a 10 || xt_fail "bank_a still prepared"
echo ok
