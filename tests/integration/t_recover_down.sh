# A participant down during COMMIT for 10 seconds, then back: the commit
# completes without operator action.  Meanwhile `xactctl recover list`
# shows the transaction in doubt and names the participant it cannot reach,
# and `recover commit` resolves it (confirms the journaled commit) once the
# participant is back.  Bad gids and damaged journals get clear errors.
. tests/lib.sh
xt_init
xt_bank_up
R="$XT_BUILD/xactctl --coordinator $COORD_URL --timeout 3000 recover"
xt_stop pa
XACT_FAILPOINTS=pg.before_commit_prepared=crash xt_part_a
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" --timeout 5000 exec \
    --on pa "UPDATE accounts SET balance = balance - 2 WHERE id = 2" \
    --on pa "INSERT INTO ledger (xfer, amount) VALUES (22, 2)" \
    --on pb "UPDATE accounts SET balance = balance + 2 WHERE id = 2" \
    --on pb "INSERT INTO ledger (xfer, amount) VALUES (22, 2)" >"$XT_TMP/x" 2>&1
xt_assert_eq "the client is told committed (completion pending)" 0 $?
xt_wait_exit pa 10 || xt_fail "pa did not go down at COMMIT PREPARED"
down_at=$(date +%s)
gid=$(sed -n 's/.*\(xact:c1:[0-9]*\).*/\1/p' "$XT_TMP/x" | head -n 1)

# While pa is down: in doubt, and pa named as unreachable.
$R list >"$XT_TMP/list" 2>"$XT_TMP/list.err" || xt_fail "recover list"
xt_assert_grep "in doubt while pa is down" "^$gid  *committing  *committed " "$XT_TMP/list"
xt_assert_grep "pa named unreachable" "participant pa .* unreachable" "$XT_TMP/list.err"
$R show "$gid" --json >"$XT_TMP/show" || xt_fail "recover show"
xt_assert_grep "show while pa is down" "\"gid\":\"$gid\",\"coordinator_state\":\"committing\"" "$XT_TMP/show"

# Ten seconds down, then back without failpoints: recovery commits it.
while [ $(( $(date +%s) - down_at )) -lt 10 ]; do sleep 0.5; done
xt_assert_eq "still prepared after 10 s down" 1 "$(xt_prepared "$PGPORT" bank_a)"
xt_part_a
$R commit "$gid" >"$XT_TMP/c" || xt_fail "recover commit"
xt_assert_grep "recover commit" "^$gid: committed" "$XT_TMP/c"
xt_wait_no_prepared "$PGPORT" bank_a 15 || xt_fail "pa's branch never committed"
xt_assert_eq "pa committed after its return" 1 "$(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM ledger WHERE xfer = 22")"
xt_assert_eq "pb committed" 1 "$(xt_sql "$PGPORT" bank_b "SELECT count(*) FROM ledger WHERE xfer = 22")"
xt_wait_not_in_flight "$gid" 10
$R list >"$XT_TMP/list2" || xt_fail "recover list"
xt_assert_eq "nothing in doubt afterwards" "no transaction in doubt" "$(cat "$XT_TMP/list2")"

# Bad gids: refused with a reason, exit status 1; bad usage: 2.
for verb in commit abort forget; do
	$R $verb "not-a-gid" 2>"$XT_TMP/bad"
	xt_assert_eq "recover $verb of a bad gid: exit status" 1 $?
	xt_assert_grep "recover $verb of a bad gid" "is not a gid of coordinator c1" "$XT_TMP/bad"
done
# a number not handed out yet: unknown, nothing settled
$R show "xact:c1:999999" >"$XT_TMP/s2" || xt_fail "recover show of an unknown gid"
xt_assert_grep "recover show of a gid not issued" "^xact:c1:999999  *-  *unknown" "$XT_TMP/s2"
$R show 2>/dev/null; xt_assert_eq "recover show without a gid" 2 $?
$R frob 2>/dev/null; xt_assert_eq "recover with an unknown verb" 2 $?
"$XT_BUILD/xactctl" --coordinator "tcp://127.0.0.1:1" --timeout 500 recover list 2>/dev/null
xt_assert_eq "recover list with the coordinator unreachable" 1 $?

# journal dump and check on a file that is not a journal, and on a
# damaged copy.
xt_stop coord
"$XT_BUILD/xactctl" journal dump "$XT_TMP/x" 2>"$XT_TMP/d1"
xt_assert_eq "dump of a text file: exit status" 1 $?
xt_assert_grep "dump of a text file" "not a database\|unreadable" "$XT_TMP/d1"
cp "$JOURNAL" "$XT_TMP/damaged.db"
sqlite3 -batch "$XT_TMP/damaged.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
for page in 2 3 4 5 6 7 8; do
	dd if=/dev/urandom of="$XT_TMP/damaged.db" bs=1 seek=$(((page - 1) * 4096)) count=64 \
	    conv=notrunc 2>/dev/null
done
"$XT_BUILD/xactctl" journal check "$XT_TMP/damaged.db" >/dev/null 2>&1
xt_assert_eq "check of a damaged journal" 1 $?
"$XT_BUILD/xactctl" journal dump "$XT_TMP/damaged.db" >/dev/null 2>&1
xt_assert_eq "dump of a damaged journal" 1 $?
"$XT_BUILD/xactctl" journal dump 2>/dev/null; xt_assert_eq "journal dump without a path" 2 $?
echo ok
