# Definite answers and heuristic outcomes.  Every writing branch leaves a
# marker row with its data, so an agent asked about a gid it no longer
# holds answers "committed" or "aborted" from the database, never a guess.
# A branch rolled back by hand against a journaled commit is detected when
# recovery re-drives the commit: reported, and recorded in the journal.
. tests/lib.sh
xt_init
xt_bank_up

# A finished transfer: a repeated COMMIT and an ABORT of it are answered
# from the markers (gpdb#8052), with the gids as the databases know them.
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" exec \
    --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 1" \
    --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 1" >"$XT_TMP/x1" ||
    xt_fail "a transfer"
gid=$(sed -n 's/^committed \(xact:[^ ]*\).*/\1/p' "$XT_TMP/x1")
xt_assert_eq "marker written with the data" 1 \
    "$(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM xact.markers WHERE gid = '$gid:pa'")"
xt_assert_eq "repeated COMMIT of a committed gid" "ack committed" \
    "$("$XT_BUILD/tests/rawsend" "$PA_URL" commit "$gid")"
r=$("$XT_BUILD/tests/rawsend" "$PA_URL" abort "$gid")
case "$r" in "ack committed"*) ;; *) xt_fail "ABORT of a committed gid: got '$r'" ;; esac
# The coordinator answers the same question from its journal.
xt_assert_eq "coordinator: outcome of a committed gid" "outcome committed" \
    "$("$XT_BUILD/tests/rawsend" "$COORD_URL" outcome "$gid")"
# A number not handed out yet: nothing to settle (t_one_phase.sh settles
# one that was), and nothing said that a later transaction could belie.
xt_assert_eq "coordinator: outcome of a gid not issued yet" "outcome unknown" \
    "$("$XT_BUILD/tests/rawsend" "$COORD_URL" outcome "xact:c1:999999")"
xt_assert_eq "coordinator: outcome of a malformed gid" "outcome unknown" \
    "$("$XT_BUILD/tests/rawsend" "$COORD_URL" outcome "xact:c1:12x")"
# A gid that never committed here is answered aborted, definitely.
r=$("$XT_BUILD/tests/rawsend" "$PA_URL" abort "xact:c1:424242")
xt_assert_eq "ABORT of an unknown gid" "ack aborted not prepared here" "$r"
# and fenced: a commit of it still on its way (one phase) cannot land now
xt_assert_eq "the unknown gid fenced" t \
    "$(xt_a_sql "SELECT fenced FROM xact.markers WHERE gid = 'xact:c1:424242:pa'")"
# A read-only branch writes no marker.
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" exec --on pa "SELECT 1" >/dev/null || xt_fail "read"
xt_assert_eq "no marker for read-only branches" 1 \
    "$(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM xact.markers WHERE NOT fenced")"

# The commit decision is journaled, the coordinator dies before sending it;
# meanwhile a DBA rolls pa's branch back by hand.
xt_stop coord
XACT_FAILPOINTS=coord.after_decision=crash xt_coord_start
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" --timeout 2000 exec \
    --on pa "UPDATE accounts SET balance = balance - 5 WHERE id = 2" \
    --on pb "UPDATE accounts SET balance = balance + 5 WHERE id = 2" >/dev/null 2>&1
xt_wait_exit coord 10 || xt_fail "the coordinator did not crash"
local_gid=$(xt_sql "$PGPORT" bank_a "SELECT gid FROM pg_prepared_xacts WHERE database = current_database()")
[ -n "$local_gid" ] || xt_fail "pa's branch is not prepared"
xt_sql "$PGPORT" bank_a "ROLLBACK PREPARED '$local_gid'" >/dev/null
xt_coord_start
xt_wait_log "$XT_TMP/coord.log" "heuristic outcome gid=.* participant=pa branch=aborted decision=commit" 15
xt_wait_no_prepared "$PGPORT" bank_b 15 || xt_fail "pb's branch still prepared"
xt_assert_eq "pb committed as decided" 1005 \
    "$(xt_sql "$PGPORT" bank_b "SELECT balance FROM accounts WHERE id = 2")"
xt_assert_eq "pa rolled back by hand" 1000 \
    "$(xt_sql "$PGPORT" bank_a "SELECT balance FROM accounts WHERE id = 2")"
# Its journal row says commit; asked, the coordinator says unknown, from the
# heuristic record, also after a restart (its finished list is gone).
hgid=$(sqlite3 -batch "$JOURNAL" "SELECT gid FROM heuristics")
xt_stop coord
xt_coord_start
xt_assert_eq "outcome of a commit rolled back by hand: unknown" "outcome unknown" \
    "$("$XT_BUILD/tests/rawsend" "$COORD_URL" outcome "$hgid")"
xt_stop coord
xt_assert_eq "the heuristic outcome is in the journal" "pa|commit|aborted" \
    "$(sqlite3 -batch "$JOURNAL" "SELECT participant, decision, outcome FROM heuristics")"

# The operator reads it offline: xactctl journal dump and check.
"$XT_BUILD/xactctl" journal dump "$JOURNAL" >"$XT_TMP/dump" || xt_fail "journal dump"
xt_assert_grep "dump: the committed transfer" "^$gid  *commit " "$XT_TMP/dump"
xt_assert_grep "dump: the heuristic outcome" "^xact:c1:[0-9]*  *pa  *commit  *aborted" "$XT_TMP/dump"
"$XT_BUILD/xactctl" journal dump --json "$JOURNAL" >"$XT_TMP/dump.json" || xt_fail "journal dump --json"
xt_assert_grep "dump --json" '"heuristics":\[{"gid":"xact:c1:[0-9]*","participant":"pa","decision":"commit","outcome":"aborted"' "$XT_TMP/dump.json"
xt_assert_grep "dump --json: participants" "\"gid\":\"$gid\",\"decision\":\"commit\",\"participants\":\[\"pa\",\"pb\"\]" "$XT_TMP/dump.json"
"$XT_BUILD/xactctl" journal check "$JOURNAL" >"$XT_TMP/check" || xt_fail "journal check"
xt_assert_grep "check" "OK (coordinator c1, schema 3, 2 decision(s), 0 pending, 0 pre-commit(s), 1 heuristic" "$XT_TMP/check"
# A damaged copy and a file that is no journal fail the check.
cp "$JOURNAL" "$XT_TMP/damaged.db"
sqlite3 -batch "$XT_TMP/damaged.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
# (pages 2 onwards are the tables' b-trees: scribble over their headers)
for page in 2 3 4 5 6 7 8; do
	dd if=/dev/urandom of="$XT_TMP/damaged.db" bs=1 seek=$(((page - 1) * 4096)) count=64 \
	    conv=notrunc 2>/dev/null
done
"$XT_BUILD/xactctl" journal check "$XT_TMP/damaged.db" >/dev/null 2>"$XT_TMP/check2"
xt_assert_eq "check of a damaged journal: exit status" 1 $?
"$XT_BUILD/xactctl" journal check --json "$XT_TMP/dump" >"$XT_TMP/check3" 2>/dev/null
xt_assert_eq "check of a text file: exit status" 1 $?
xt_assert_grep "check --json of a text file" '"ok":false' "$XT_TMP/check3"

# A decision deleted with its age (--retention 1 s here; garbage collection
# every 10 s) is not taken for "no decision" afterwards: its gid, and every
# lower number, is answered unknown, neither presumed aborted nor rolled back
# everywhere to find out.
xt_stop coord
xt_start coord --retention 1
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" exec \
    --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 2" \
    --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 2" >"$XT_TMP/old" 2>&1 ||
    xt_fail "transfer: $(cat "$XT_TMP/old")"
gold=$(sed -n 's/.*\(xact:c1:[0-9]*\).*/\1/p' "$XT_TMP/old" | head -n 1)
[ -n "$gold" ] || xt_fail "no gid in: $(cat "$XT_TMP/old")"
rows_of_gold() { sqlite3 -batch "$JOURNAL" "SELECT count(*) FROM decisions WHERE gid = '$gold'"; }
xt_wait_until 30 rows_of_gold 0 || xt_fail "the decision of $gold was not deleted"
xt_stop coord
xt_start coord
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" recover show "$gold" --json >"$XT_TMP/old2"
xt_assert_grep "a deleted decision: unknown" '"decision":"unknown"' "$XT_TMP/old2"
xt_assert_eq "the reason" "outcome unknown" \
    "$("$XT_BUILD/tests/rawsend" "$COORD_URL" outcome "$gold")"
if grep -q "settling gid=$gold" "$XT_TMP/coord.log"; then
	xt_fail "a gid whose decision was deleted was rolled back to find out"
fi
# The operator's requests say so too, and roll nothing back without
# --heuristic.
for act in commit abort; do
	"$XT_BUILD/xactctl" --coordinator "$COORD_URL" recover $act "$gold" >"$XT_TMP/old3" 2>&1
	xt_assert_eq "recover $act of it: refused" 1 $?
	xt_assert_grep "recover $act: why" "were deleted since" "$XT_TMP/old3"
done
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" recover forget "$gold" >"$XT_TMP/old4" 2>&1
xt_assert_eq "recover forget of it: unknown" 3 $?

# An agent asking about a gid found nowhere holds a branch of it that did
# not commit: aborted at once, and kept.  To anyone else that is no proof
# (the agent's COMMIT may have landed with its result lost): the gid is
# settled before the answer.
rs() { "$XT_BUILD/tests/rawsend" "$COORD_URL" "$@"; }
gp=$(rs begin | sed -n 's/^gid //p')
[ -n "$gp" ] || xt_fail "no gid begun"
xt_stop coord
xt_start coord
xt_assert_eq "an agent's question: aborted at once" "outcome aborted" "$(rs branch-outcome "$gp")"
xt_assert_eq "then the operator's: settled, then aborted" "outcome aborted $gp" "$(rs outcome "$gp")"
xt_assert_grep "settled, not taken from the agent's answer" "settling gid=$gp" "$XT_TMP/coord.log"

# A participant left out of the configuration: a gid from before may have a
# branch there, so it is not settled without it, even once it is back; a gid
# begun afterwards is.
gq=$(rs begin | sed -n 's/^gid //p')
xt_stop coord
xt_h start coord --without pb || xt_fail "coordinator without pb"
xt_assert_eq "pb left out: a gid from before is unknown" "outcome unknown" "$(rs outcome "$gq")"
xt_stop coord
xt_start coord
xt_assert_eq "pb back: still unknown" "outcome unknown" "$(rs outcome "$gq")"
# a run id carries no number: as old as any
xt_assert_eq "a run id: unknown" "outcome unknown" \
    "$(rs outcome xact:c1:r0123456789abcdef0123456789abcdef)"
gr=$(rs begin | sed -n 's/^gid //p')
xt_stop coord
xt_start coord
xt_assert_eq "a gid begun since: settled" "outcome aborted $gr" "$(rs outcome "$gr")"
echo ok
