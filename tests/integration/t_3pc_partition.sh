# Three-phase commit is not safe under a partition, and xact says so when
# it happens.  The coordinator dies with pa pre-committed and pb, pc only
# prepared.  Then the participants cannot hear each other: first pb and pc
# are stopped (SIGSTOP) while pa runs its termination, then pa while pb and
# pc run theirs.  To a timeout a stopped process and a partitioned one look
# the same, which is the point.  pa, alone and pre-committed, commits; pb
# and pc, seeing only prepared branches, roll back.  When everyone is back,
# the restarted coordinator's termination finds the split: it logs it,
# journals the commit, and records each rolled-back branch as a heuristic
# outcome for the operator.
. tests/lib.sh
xt_init

xt_3pc_up
ledger() { xt_3pc_ledger 950; }
prepared() { xt_3pc_prepared; }
wait_until() { xt_wait_until "$@"; }

# The coordinator stalls after sending PRECOMMIT to pa alone, and dies.
xt_stop coord
XACT_FAILPOINTS="coord.after_precommit_sent=delay:4000" xt_start coord
xt_3pc_xfer 950 --protocol 3pc &
xpid=$!
xt_wait_log "$XT_TMP/coord.log" "failpoint fired name=coord.after_precommit_sent" 10
# pb and pc go silent before their termination timeout runs out.
xt_h pause pb
xt_h pause pc
sleep 0.3
xt_h kill coord
wait $xpid
gid=$(xt_gid_of 950)
[ -n "$gid" ] || { cat "$XT_TMP/x950" >&2; xt_fail "no gid in xactctl's output"; }

# pa's side: alone and pre-committed, it commits.
a_done() { xt_sql "$PGPORT" bank_a "SELECT count(*) FROM ledger WHERE xfer = 950"; }
wait_until 15 a_done 1 || xt_fail "pa did not commit alone"
xt_assert_grep "pa led alone and committed" "gid=$gid .*result=commit" "$XT_TMP/pa.log"

# pb and pc's side: pa silent now, they see only prepared branches.
xt_h pause pa
xt_h resume pb
xt_h resume pc
bc_done() { echo "$(xt_prepared "$PGPORT" bank_b)" "$(sqlite3 -batch "$C-xact-log" "SELECT count(*) FROM branches")"; }
wait_until 15 bc_done "0 0" || xt_fail "pb and pc did not finish: $(bc_done)"
xt_assert_grep "pb led and rolled back" "gid=$gid .*result=abort" "$XT_TMP/pb.log"
xt_h resume pa

# The split: the violation 3PC allows under a partition.
xt_assert_eq "committed on pa only" "1 0 0" "$(ledger)"
xt_assert_eq "nothing prepared" "0 0 0" "$(prepared)"

# The coordinator comes back, terminates, and records what happened.
xt_start coord
xt_wait_log "$XT_TMP/coord.log" "gid=$gid is split" 15
xt_wait_log "$XT_TMP/coord.log" "heuristic outcome gid=$gid .*participant=pb" 15
xt_wait_log "$XT_TMP/coord.log" "heuristic outcome gid=$gid .*participant=pc" 15
i=0
until "$XT_BUILD/xactctl" journal dump "$JOURNAL" >"$XT_TMP/dump" 2>&1 &&
    [ "$(grep -c "$gid" "$XT_TMP/dump")" -ge 3 ]; do
	i=$((i + 1))
	[ $i -gt 50 ] && { cat "$XT_TMP/dump" >&2; xt_fail "the split is not in the journal"; }
	sleep 0.1
done
grep "$gid" "$XT_TMP/dump" >&2
xt_assert_grep "journaled as a commit" "$gid .*commit" "$XT_TMP/dump"
grep "$gid" "$XT_TMP/dump" | grep -q "pb.*aborted" || xt_fail "no heuristic outcome for pb"
grep "$gid" "$XT_TMP/dump" | grep -q "pc.*aborted" || xt_fail "no heuristic outcome for pc"
xt_assert_eq "still split: nothing undone, nothing redone" "1 0 0" "$(ledger)"
echo "ok: a partition split $gid (pa committed, pb and pc rolled back); the coordinator recorded it as heuristic outcomes"
