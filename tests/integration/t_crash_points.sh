# The crash matrix: a crash (SIGKILL, by failpoint) at every step of the
# protocol, one step per round, on the coordinator and on a participant:
# the process that crashed is restarted, recovery settles, and the transfer
# is on both databases or on neither, never on one; nothing stays prepared
# (no prepared transaction, no side-log record); the outcome the client was
# told, when it was told one, is the one applied; the total holds.  Steps
# after the commit decision must end committed.  With XT_B_BACKEND=sqlite
# the second participant is SQLite and its own steps are crashed too.
. tests/lib.sh
xt_init
xt_bank_up
total=$((2 * XT_ACCOUNTS * XT_SEED_BALANCE))
AGENT_FLAGS="--recovery-interval 1 --orphan-grace 2"

start_all() { # COORD_ENV PA_ENV PB_ENV
	XACT_FAILPOINTS=$1 xt_coord_start
	XACT_FAILPOINTS=$2 xt_part_a $AGENT_FLAGS
	XACT_FAILPOINTS=$3 xt_part_b $AGENT_FLAGS
}
stop_all() {
	for p in coord pa pb; do xt_stop $p; done
}

# round N PROCESS FAILPOINT FLOW EXPECT: FLOW is commit (a transfer that
# commits unless a crash stops it) or abort (pa votes NO by an injected
# error, so pb's prepared branch is rolled back); EXPECT is both, neither
# or either.
round() {
	n=$1 proc=$2 fp=$3 flow=$4 expect=$5
	stop_all
	cenv=""; aenv=""; benv=""
	[ "$flow" = abort ] && aenv="pg.before_prepare=error"
	case $proc in
	coord) cenv="$fp=crash" ;;
	pb) benv="$fp=crash" ;;
	esac
	# pa's NO can reach the coordinator before pb has even taken its
	# PREPARE; the ABORT then finds pb's branch still active and rolls it
	# back locally, and its ROLLBACK PREPARED steps never run.  Held back
	# a little, the ABORT comes after pb's PREPARE, as these rounds need.
	[ "$flow" = abort ] && [ "$proc" = pb ] && cenv="coord.before_abort=delay:300"
	start_all "$cenv" "$aenv" "$benv"
	"$XT_BUILD/xactctl" --coordinator "$COORD_URL" --timeout 3000 exec \
	    --on pa "UPDATE accounts SET balance = balance - $n WHERE id = 1" \
	    --on pa "INSERT INTO ledger (xfer, amount) VALUES ($n, $n)" \
	    --on pb "UPDATE accounts SET balance = balance + $n WHERE id = 1" \
	    --on pb "INSERT INTO ledger (xfer, amount) VALUES ($n, $n)" >/dev/null 2>&1
	told=$?
	xt_wait_log "$XT_TMP/$proc.log" "failpoint fired name=$fp " 10
	xt_wait_exit "$proc" 10 || xt_fail "$fp: $proc did not crash"
	# Back without failpoints (pa keeps voting NO in the abort flow until
	# restarted too).
	stop_all
	start_all "" "" ""
	xt_wait_no_prepared "$PGPORT" bank_a 20 || xt_fail "$fp: bank_a still prepared"
	xt_wait_b_no_prepared 20 || xt_fail "$fp: bank_b still prepared"
	# and the coordinator has every acknowledgement: nothing carries over
	xt_wait_not_in_flight "xact:" 20
	a=$(xt_a_sql "SELECT count(*) FROM ledger WHERE xfer = $n")
	b=$(xt_b_sql "SELECT count(*) FROM ledger WHERE xfer = $n")
	[ "$a" = "$b" ] || xt_fail "$fp: the transfer is on one database only (a=$a b=$b)"
	case $expect in
	both) [ "$a" = 1 ] || xt_fail "$fp: decided commit, yet not committed" ;;
	neither) [ "$a" = 0 ] || xt_fail "$fp: committed, yet it could not have been decided" ;;
	esac
	case $told in
	0) [ "$a" = 1 ] || xt_fail "$fp: the client was told committed, yet it is not" ;;
	1) [ "$a" = 0 ] || xt_fail "$fp: the client was told aborted, yet it committed" ;;
	esac
	xt_assert_eq "$fp: total" "$total" "$(xt_bank_total)"
	printf '  %-28s %-6s %-7s client told %-9s -> %s on both\n' "$fp" "$proc" "$flow" \
	    "$(case $told in 0) echo committed ;; 1) echo aborted ;; *) echo unknown ;; esac)" \
	    "$([ "$a" = 1 ] && echo committed || echo aborted)"
}

echo "crash matrix ($XT_B_BACKEND participant pb):"
round 11 coord coord.before_prepare commit neither
round 12 coord coord.before_decision commit neither
round 13 coord journal.write commit neither
round 14 coord journal.after_write commit both
round 15 coord coord.after_decision commit both
round 16 coord coord.after_commit_sent commit both
round 17 coord coord.before_abort abort neither
round 18 pb part.before_exec commit neither
round 19 pb part.after_exec commit neither
round 22 pb part.before_vote commit neither
round 25 pb part.after_commit commit both
round 28 pb part.after_abort abort neither
if [ "$XT_B_BACKEND" = sqlite ]; then
	round 31 pb sqlite.before_log commit neither
	round 32 pb sqlite.after_log commit neither
	round 33 pb sqlite.before_commit commit both
	round 34 pb sqlite.after_commit commit both
else
	round 20 pb pg.before_prepare commit neither
	round 21 pb pg.after_prepare commit neither
	round 23 pb pg.before_commit_prepared commit both
	round 24 pb pg.after_commit_prepared commit both
	round 26 pb pg.before_rollback_prepared abort neither
	round 27 pb pg.after_rollback_prepared abort neither
fi
echo ok
