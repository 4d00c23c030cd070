# The coordinator is killed with SIGKILL (a) after the commit decision is
# journaled and before any COMMIT is sent, and (b) after every vote is in
# but before the decision is journaled.  After a restart the transfer is
# committed on both databases in (a) and on neither in (b), with no
# prepared transaction left.
. tests/lib.sh
xt_init
xt_bank_up

# xfer ID FAILPOINT: one transfer through xactctl with the coordinator
# armed to crash at FAILPOINT; returns once the coordinator is dead.
crash_xfer() {
	xt_stop coord
	XACT_FAILPOINTS="$2=crash" xt_coord_start --log-level debug
	"$XT_BUILD/xactctl" --coordinator "$COORD_URL" --timeout 2000 exec \
	    --on pa "UPDATE accounts SET balance = balance - 10 WHERE id = 3" \
	    --on pa "INSERT INTO ledger (xfer, amount) VALUES ($1, 10)" \
	    --on pb "UPDATE accounts SET balance = balance + 10 WHERE id = 4" \
	    --on pb "INSERT INTO ledger (xfer, amount) VALUES ($1, 10)" >"$XT_TMP/x$1" 2>&1
	status=$?
	xt_wait_exit coord 10 || xt_fail "coordinator did not crash at $2"
	xt_assert_eq "coordinator killed at $2" 137 "$XT_STATUS"
	xt_assert_eq "xactctl exit status (outcome unknown)" 3 "$status"
	xt_assert_grep "failpoint fired" "failpoint fired name=$2" "$XT_TMP/coord.log"
	# Both branches are prepared and wait for a decision.
	xt_assert_eq "prepared in bank_a" 1 "$(xt_prepared "$PGPORT" bank_a)"
	xt_assert_eq "prepared in bank_b" 1 "$(xt_prepared "$PGPORT" bank_b)"
	xt_coord_start
	xt_wait_no_prepared "$PGPORT" bank_a 15 || xt_fail "bank_a still prepared after restart ($2)"
	xt_wait_no_prepared "$PGPORT" bank_b 15 || xt_fail "bank_b still prepared after restart ($2)"
}

# (a) decision durable, no COMMIT sent: recovery commits everywhere.
crash_xfer 901 coord.after_decision
xt_assert_eq "(a) bank_a has the transfer" 1 "$(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM ledger WHERE xfer = 901")"
xt_assert_eq "(a) bank_b has the transfer" 1 "$(xt_sql "$PGPORT" bank_b "SELECT count(*) FROM ledger WHERE xfer = 901")"
xt_assert_eq "(a) debit applied" 990 "$(xt_sql "$PGPORT" bank_a "SELECT balance FROM accounts WHERE id = 3")"
xt_assert_eq "(a) credit applied" 1010 "$(xt_sql "$PGPORT" bank_b "SELECT balance FROM accounts WHERE id = 4")"
xt_assert_grep "(a) re-driven from the journal" "re-driving commit gid=" "$XT_TMP/coord.log"

# (b) votes in, nothing journaled: presumed abort rolls both back.
crash_xfer 902 coord.before_decision
xt_assert_eq "(b) bank_a lacks the transfer" 0 "$(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM ledger WHERE xfer = 902")"
xt_assert_eq "(b) bank_b lacks the transfer" 0 "$(xt_sql "$PGPORT" bank_b "SELECT count(*) FROM ledger WHERE xfer = 902")"
xt_assert_eq "(b) balance unchanged" 990 "$(xt_sql "$PGPORT" bank_a "SELECT balance FROM accounts WHERE id = 3")"
xt_assert_grep "(b) presumed abort" "presumed abort gid=" "$XT_TMP/coord.log"
xt_assert_eq "total balance" $((2 * XT_ACCOUNTS * XT_SEED_BALANCE)) "$(xt_bank_total)"

# The restarted coordinator answers for (a) from its journal.
gid=$(sed -n 's/.*\(xact:c1:[0-9]*\).*/\1/p' "$XT_TMP/x901" | head -n 1)
[ -n "$gid" ] || xt_fail "no gid in xactctl's output"
echo "ok: (a) $gid committed after restart, (b) rolled back"
