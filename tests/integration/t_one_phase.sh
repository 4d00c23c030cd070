# One-phase commit: a two-phase commit transaction with one participant
# commits there at once, with no PREPARE and no journal write, and the
# branch's answer is the outcome.  Checked, on participant $P (pa,
# PostgreSQL; t_one_phase_sqlite.sh runs the same on an SQLite pb):
# statement by statement and one-shot, it commits with a marker and no
# journal decision; a read-only one commits with no marker; two
# participants still journal; a COMMIT the database refuses (a deferred
# constraint) aborts with its message; the agent killed right after its
# local COMMIT, before answering, is restarted and the coordinator's
# repeat is answered COMMITTED from the marker, applied once; killed
# right before it, the open branch is lost and the repeat fences the gid
# (statement by statement: ABORTED, and the fence stops any late commit)
# or runs it afresh (one-shot: its only run commits); and the coordinator
# killed right after sending it leaves nothing prepared and the change
# applied exactly when its marker is there.  One writer among read-only
# branches: two phases with no journal write; the client is answered only
# once the writer acknowledged its COMMIT (the coordinator killed before
# that: unknown to the client, rolled back by presumed abort), and a writer
# killed after its COMMIT is answered from its marker.  With no journal row,
# `xactctl recover show` answers a finished one-phase commit from the list
# of the finished (committed), and, after a coordinator restart, asks every
# participant first: never "aborted" for one whose branch committed.
. tests/lib.sh
xt_init
xt_bank_up
P=${XT_ONE_PHASE_ON:-pa}

ctl() { "$XT_BUILD/xactctl" --coordinator "$COORD_URL" "$@"; }
psql_p() { if [ "$P" = pa ]; then xt_a_sql "$1"; else xt_b_sql "$1"; fi; }
balance() { psql_p "SELECT balance FROM accounts WHERE id = 5"; }
ledger() { psql_p "SELECT count(*) FROM ledger WHERE xfer = $1"; }
status() { # PYTHON-EXPRESSION on the status JSON d
	ctl status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
gid_of() { sed -n 's/.*\(xact:c1:[0-9a-z]*\).*/\1/p' "$XT_TMP/x$1" | head -n 1; }
# marker GID: "committed", "fenced" or "none", from $P's database
marker() {
	if [ "$P" = pa ]; then
		v=$(xt_a_sql "SELECT CASE WHEN fenced THEN 'fenced' ELSE 'committed' END FROM xact.markers WHERE gid = '$1:$P'")
	else
		v=$(xt_b_sql "SELECT 'committed' FROM xact_markers WHERE gid = '$1:$P'")
	fi
	echo "${v:-none}"
}
prepared() { if [ "$P" = pa ]; then xt_prepared "$PGPORT" bank_a; else xt_b_prepared; fi; }
# bump N [exec flags]: one transaction on $P alone: account 5 gets 1 more,
# ledger row N; xactctl's output in $XT_TMP/xN, its exit status in XS.
bump() {
	n=$1; shift
	ctl --timeout "${WT:-20000}" exec "$@" \
	    --on "$P" "UPDATE accounts SET balance = balance + 1 WHERE id = 5" \
	    --on "$P" "INSERT INTO ledger (xfer, amount) VALUES ($n, 1)" >"$XT_TMP/x$n" 2>&1
	XS=$?
	return $XS
}

# ---- commits in one phase, both ways ------------------------------------
decisions0=$(status 'd["journal"]["decisions"]')
b0=$(balance)
bump 1
xt_assert_eq "statement by statement: committed" 0 "$XS"
bump 2 --one-shot
xt_assert_eq "one-shot: committed" 0 "$XS"
xt_assert_eq "applied once each" "$((b0 + 2)) 1 1" "$(balance) $(ledger 1) $(ledger 2)"
xt_assert_eq "counted as one-phase commits" 2 "$(status 'd["one_phase_commits"]')"
xt_assert_eq "no journal decision" "$decisions0" "$(status 'd["journal"]["decisions"]')"
xt_assert_eq "nothing prepared" 0 "$(prepared)"
g2=$(gid_of 2)
[ -n "$g2" ] || xt_fail "no gid in: $(cat "$XT_TMP/x2")"
xt_assert_eq "a marker for the one-shot branch" committed "$(marker "$g2")"
# Its outcome, with no journal row, from the list of the finished.
decision() { ctl recover show "$1" --json | sed -n 's/.*"decision":"\([a-z?]*\)".*/\1/p'; }
xt_assert_eq "outcome: committed, from the finished" committed "$(decision "$g2")"
ctl recover abort "$g2" >"$XT_TMP/ra0" 2>&1
xt_assert_grep "recover abort refused: committed" "committed (with no journal row now" "$XT_TMP/ra0"
# A number the coordinator has not handed out: nothing to settle.
xt_assert_eq "a gid not issued yet: unknown" unknown "$(decision xact:c1:999999999)"

ctl exec --on "$P" "SELECT count(*) FROM accounts" >"$XT_TMP/ro" 2>&1 ||
    xt_fail "read only: $(cat "$XT_TMP/ro")"
xt_assert_eq "read only: counted" 3 "$(status 'd["one_phase_commits"]')"

# Two participants: two-phase commit, journaled.
ctl exec --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 1" \
    --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 1" >"$XT_TMP/two" 2>&1 ||
    xt_fail "two participants: $(cat "$XT_TMP/two")"
xt_assert_eq "two participants: one decision journaled" "$((decisions0 + 1))" \
    "$(status 'd["journal"]["decisions"]')"
xt_assert_eq "and not one-phase" 3 "$(status 'd["one_phase_commits"]')"

# ---- straight to the agent ---------------------------------------------
URL_P=$([ "$P" = pa ] && echo "$PA_URL" || echo "$PB_URL")
"$XT_BUILD/tests/rawsend" "$URL_P" onephase xact:c9:77 3pc >"$XT_TMP/r1"
xt_assert_grep "refused under 3PC" "^error .*one-phase commit of a three-phase" "$XT_TMP/r1"
"$XT_BUILD/tests/rawsend" "$URL_P" onephase "bad gid" >"$XT_TMP/r2"
xt_assert_grep "a bad gid" "^error .*bad gid" "$XT_TMP/r2"
# A gid the agent never saw: nothing to commit, answered NO (and, on
# PostgreSQL, fenced so that nothing of it can commit later).
"$XT_BUILD/tests/rawsend" "$URL_P" onephase xact:c9:78 >"$XT_TMP/r3"
xt_assert_grep "unknown gid: no" "^vote no" "$XT_TMP/r3"
"$XT_BUILD/tests/rawsend" "$URL_P" onephase "$g2" >"$XT_TMP/r4"
xt_assert_eq "a repeat after the commit" "vote committed" "$(cat "$XT_TMP/r4")"
if [ "$P" = pa ]; then
	xt_assert_eq "the unknown gid fenced" fenced "$(marker xact:c9:78)"
fi
# A branch prepared in two phases (by an earlier attempt of its gid) is not
# committed in one phase: it votes YES again, and stays prepared.
"$XT_BUILD/tests/rawsend" "$URL_P" exec1 >"$XT_TMP/r5"
xt_assert_eq "prepared in two phases" "vote yes" "$("$XT_BUILD/tests/rawsend" "$URL_P" prepare xact:c1:999998)"
xt_assert_eq "then asked for one phase: yes" "vote yes" \
    "$("$XT_BUILD/tests/rawsend" "$URL_P" onephase xact:c1:999998)"
xt_assert_eq "still prepared" 1 "$(prepared)"
xt_assert_eq "rolled back" "ack aborted" "$("$XT_BUILD/tests/rawsend" "$URL_P" abort xact:c1:999998)"

# ---- an agent upgraded over a markers table with no fenced column -------
# A branch prepared with a marker holds the table's lock, so the column
# cannot be added at start: the agent starts anyway and prepares what it is
# asked to commit in one phase (two phases, nothing journaled: one writer).
if [ "$P" = pa ]; then
	xt_stop pa
	xt_a_sql "ALTER TABLE xact.markers DROP COLUMN fenced" >/dev/null
	xt_a_sql "BEGIN; INSERT INTO xact.markers (gid) VALUES ('upgrade-hold');
	    PREPARE TRANSACTION 'upgrade-hold'" >/dev/null
	xt_start pa
	xt_assert_grep "started without the column" "has no fenced column and it cannot be added now" \
	    "$XT_TMP/pa.log"
	c1=$(status 'd["one_phase_commits"]')
	w1=$(status 'd["one_writer_commits"]')
	bump 50
	xt_assert_eq "committed in two phases instead" "0 1 $c1 $((w1 + 1))" \
	    "$XS $(ledger 50) $(status 'd["one_phase_commits"]') $(status 'd["one_writer_commits"]')"
	xt_a_sql "ROLLBACK PREPARED 'upgrade-hold'" >/dev/null
	xt_stop pa
	xt_start pa
	xt_assert_grep "the column added" "fenced column added" "$XT_TMP/pa.log"
	bump 51
	xt_assert_eq "one phase again" "0 1 $((c1 + 1))" "$XS $(ledger 51) $(status 'd["one_phase_commits"]')"
fi

# ---- the database refuses the COMMIT ------------------------------------
if [ "$P" = pa ]; then
	xt_a_sql "CREATE TABLE parent_later (id int PRIMARY KEY, up int,
	    CONSTRAINT up_fk FOREIGN KEY (up) REFERENCES parent_later (id)
	    DEFERRABLE INITIALLY DEFERRED)" >/dev/null
	for how in "" --one-shot; do
		ctl exec $how --on pa "INSERT INTO parent_later VALUES (1, 99)" >"$XT_TMP/fk" 2>&1
		xt_assert_eq "a COMMIT refused aborts ($how)" 1 "$?"
		xt_assert_grep "with the database's message" "up_fk" "$XT_TMP/fk"
	done
	xt_assert_eq "nothing written" 0 "$(xt_a_sql "SELECT count(*) FROM parent_later")"
	xt_assert_eq "counted as one-phase aborts" 2 "$(status 'd["one_phase_aborts"]')"
fi

# ---- the agent dies right after its local COMMIT ------------------------
# wait_and_restart: $P must die (a failpoint), then comes back without it.
wait_and_restart() {
	xt_wait_exit "$P" 15 || xt_fail "$P did not crash"
	xt_start "$P"
}
for how in "" --one-shot; do
	n=$([ -z "$how" ] && echo 10 || echo 11)
	xt_stop "$P"
	XACT_FAILPOINTS="part.after_commit_one_phase=crash" xt_start "$P"
	b0=$(balance)
	bump "$n" $how &
	wait_and_restart
	wait $!
	XS=$?
	xt_assert_eq "committed, answered after the restart ($how)" 0 "$XS"
	xt_assert_eq "applied once ($how)" "$((b0 + 1)) 1" "$(balance) $(ledger "$n")"
	xt_assert_eq "its marker ($how)" committed "$(marker "$(gid_of "$n")")"
done

# ---- the agent dies right before it -------------------------------------
xt_stop "$P"
XACT_FAILPOINTS="part.before_commit_one_phase=crash" xt_start "$P"
b0=$(balance)
bump 20 &
wait_and_restart
wait $!
XS=$?
xt_assert_eq "statement by statement: aborted, the branch was lost" 1 "$XS"
xt_assert_eq "nothing applied" "$b0 0" "$(balance) $(ledger 20)"
if [ "$P" = pa ]; then
	xt_assert_eq "the gid is fenced" fenced "$(marker "$(gid_of 20)")"
fi
xt_stop "$P"
XACT_FAILPOINTS="part.before_commit_one_phase=crash" xt_start "$P"
bump 21 --one-shot &
wait_and_restart
wait $!
XS=$?
xt_assert_eq "one-shot: the repeat ran it, once" "0 $((b0 + 1)) 1" "$XS $(balance) $(ledger 21)"

# ---- one writer among read-only branches: two phases, no journal write --
Q=$([ "$P" = pa ] && echo pb || echo pa)
after_commit_fp=$([ "$P" = pa ] && echo pg.after_commit_prepared || echo sqlite.after_commit)
before_commit_fp=$([ "$P" = pa ] && echo pg.before_commit_prepared || echo sqlite.before_commit)
# committing_gid: the gid of the one transaction committing (waits 10 s).
committing_gid() {
	i=0
	until g=$(ctl status | awk '$2 == "committing" { print $1; exit }') && [ -n "$g" ]; do
		i=$((i + 1)); [ $i -gt 100 ] && xt_fail "no transaction committing"; sleep 0.1
	done
	echo "$g"
}
# writer N: account 5 on $P gets 1 more, ledger row N there; $Q only reads.
writer() { bump "$1" --on "$Q" "SELECT count(*) FROM accounts"; }
decisions0=$(status 'd["journal"]["decisions"]')
w0=$(status 'd["one_writer_commits"]')
b0=$(balance)
writer 40
xt_assert_eq "one writer: committed, applied" "0 $((b0 + 1)) 1" "$XS $(balance) $(ledger 40)"
xt_assert_eq "one writer: no journal decision" "$decisions0" "$(status 'd["journal"]["decisions"]')"
xt_assert_eq "one writer: counted" "$((w0 + 1))" "$(status 'd["one_writer_commits"]')"
# The writer dies after its COMMIT, before the ack: the client is answered
# only once the restarted agent acknowledges the repeated COMMIT.
xt_stop "$P"
XACT_FAILPOINTS="$after_commit_fp=crash" xt_start "$P"
writer 41 &
wait_and_restart
wait $!
XS=$?
xt_assert_eq "one writer, crash after its commit: committed once" "0 $((b0 + 2)) 1" \
    "$XS $(balance) $(ledger 41)"
# The writer's COMMIT keeps failing and the coordinator is killed meanwhile:
# the client was never told COMMITTED, and presumed abort rolls it back.
xt_stop "$P"
XACT_FAILPOINTS="$before_commit_fp=error" xt_start "$P"
WT=4000 writer 43 &
wp=$!
g43=$(committing_gid)
# Nothing journaled: not committed until the writer acknowledges.
xt_assert_eq "one writer committing: outcome unknown" unknown "$(decision "$g43")"
xt_wait_log "$XT_TMP/coord.log" "no ack gid=$g43 state=committing participant=$P" 10
xt_stop coord KILL
wait $wp
XS=$?
xt_assert_eq "one writer: not answered before its ack" 3 "$XS"
xt_stop "$P"
xt_start "$P"
xt_start coord
xt_wait_until 15 prepared 0 || xt_fail "still prepared: $(prepared)"
xt_assert_eq "one writer: rolled back by presumed abort" "$((b0 + 2)) 0" "$(balance) $(ledger 43)"
# The operator forces an abort of one whose writer's COMMIT keeps failing:
# refused without --heuristic; with it, the waiting client hears "unknown"
# at once, and the writer is rolled back.
xt_stop "$P"
XACT_FAILPOINTS="$before_commit_fp=error" xt_start "$P"
WT=20000 writer 44 &
wp=$!
g44=$(committing_gid)
ctl recover abort "$g44" >"$XT_TMP/ra1" 2>&1
xt_assert_grep "refused without --heuristic" "its commit is decided" "$XT_TMP/ra1"
t0=$(date +%s)
ctl recover abort "$g44" --heuristic >"$XT_TMP/ra2" 2>&1 || xt_fail "heuristic abort: $(cat "$XT_TMP/ra2")"
wait $wp
XS=$?
xt_assert_eq "the waiting client told unknown, at once" "3 1" "$XS $(( $(date +%s) - t0 < 10 ))"
xt_stop "$P"
xt_start "$P"
xt_wait_until 15 prepared 0 || xt_fail "still prepared: $(prepared)"
xt_assert_eq "rolled back by the operator" "$((b0 + 2)) 0" "$(balance) $(ledger 44)"
# The coordinator dies once every vote is in, before the COMMIT: nothing
# journaled, so presumed abort rolls the prepared writer back.
xt_stop coord
XACT_FAILPOINTS="coord.before_decision=crash" xt_start coord
writer 42
xt_wait_exit coord 10 || xt_fail "the coordinator did not crash"
xt_assert_eq "one writer, coordinator crash: outcome unknown" 3 "$XS"
xt_start coord
xt_wait_until 15 prepared 0 || xt_fail "still prepared: $(prepared)"
xt_assert_eq "rolled back" "$((b0 + 2)) 0" "$(balance) $(ledger 42)"

# ---- the coordinator dies right after sending it ------------------------
xt_stop coord
XACT_FAILPOINTS="coord.after_one_phase=crash" xt_start coord
b0=$(balance)
bump 30 --one-shot
xt_wait_exit coord 10 || xt_fail "the coordinator did not crash"
xt_assert_eq "outcome unknown to the client" 3 "$XS"
xt_start coord
# The agent finishes (or never got) the run by itself, in one phase:
# nothing prepared, and the change is there exactly when its row and its
# marker are.
g30=$(gid_of 30)
[ -n "$g30" ] || xt_fail "no gid in: $(cat "$XT_TMP/x30")"
xt_assert_eq "nothing prepared" 0 "$(prepared)"
applied=$(( $(balance) - b0 ))
xt_assert_eq "applied at most once, with its row" "$applied" "$(ledger 30)"
xt_assert_eq "and with its marker" "$applied" "$([ "$(marker "$g30")" = committed ] && echo 1 || echo 0)"
xt_log "the coordinator's crash left transfer 30 applied $applied time(s)"
# Nothing of it is journaled: the restarted coordinator asks every
# participant before it answers, and never says "aborted" for a commit.
want=$([ "$applied" = 1 ] && echo unknown || echo aborted)
xt_assert_eq "its outcome after the restart" "$want" "$(decision "$g30")"
xt_assert_eq "and the answer changed nothing" "$applied $applied" "$(( $(balance) - b0 )) $(ledger 30)"
# One that aborted before the restart (transfer 20, its branch lost): the
# coordinator no longer knows it, rolls it back everywhere, then says so.
g20=$(gid_of 20)
xt_assert_eq "an aborted gid, forgotten by the restart: aborted" aborted "$(decision "$g20")"
xt_assert_grep "settled before answering" "settling gid=$g20" "$XT_TMP/coord.log"
xt_wait_not_in_flight "xact:c1:" 15
bump 31
xt_assert_eq "the restarted coordinator commits in one phase" 0 "$XS"
echo "ok: one-phase commits on $P, crashes before and after the local COMMIT, coordinator crash"
