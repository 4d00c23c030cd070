# Batched COMMITs: under load the coordinator sends a participant the
# COMMITs of several transactions in one message (BranchCommitBatchReq) and
# the PostgreSQL agent commits them in one round trip.  Checked: with 16
# clients most COMMITs travel in batches (xactctl status counts them) and
# every transfer is whole; an agent killed after committing a batch, before
# answering it (pg.after_commit_prepared), is restarted and every decision
# still ends committed on both databases, nothing prepared, the money
# conserved; and a malformed batch is refused with a reason, while unknown
# gids in a batch are each answered on their own line.
. tests/lib.sh
xt_init
xt_bank_up
ctl() { "$XT_BUILD/xactctl" --coordinator "$COORD_URL" "$@"; }
total() { # the money in xact_bench on both databases
	echo $(( $(xt_sql "$PGPORT" bank_a "SELECT sum(balance) FROM xact_bench") + \
	    $(xt_sql "$PGPORT" bank_b "SELECT sum(balance) FROM xact_bench") ))
}
bench() { # DURATION
	"$XT_BUILD/xact-bench" --coordinator "$COORD_URL" --conninfo-a "$CONNINFO_bank_a" \
	    --conninfo-b "$CONNINFO_bank_b" --no-baselines --only xact-run --clients 16 \
	    --accounts 1000 --duration "$1"
}

bench 3 >"$XT_TMP/b1" 2>&1 || xt_fail "xact-bench: $(cat "$XT_TMP/b1")"
ctl status --json >"$XT_TMP/st1" || xt_fail "status"
read -r sent msgs <<EOF
$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["commits_sent"], d["commit_messages"])' "$XT_TMP/st1")
EOF
xt_log "COMMITs: $sent in $msgs messages"
[ "$sent" -gt 0 ] || xt_fail "no COMMIT sent"
[ "$msgs" -lt "$sent" ] || xt_fail "no COMMIT was batched: $sent in $msgs messages"
xt_assert_eq "money conserved" 2000000000 "$(total)"

# pa dies at its 5th COMMIT PREPARED, the batch committed, its answer unsent.
xt_stop pa
XACT_FAILPOINTS="pg.after_commit_prepared=crash@5" xt_start pa
bench 3 >"$XT_TMP/b2" 2>&1
xt_wait_exit pa 10 || xt_fail "pa did not crash"
xt_start pa
xt_wait_not_in_flight "xact:c1:" 30
xt_assert_eq "nothing prepared" "0 0" "$(xt_prepared "$PGPORT" bank_a) $(xt_prepared "$PGPORT" bank_b)"
xt_assert_eq "money conserved after the crash" 2000000000 "$(total)"
if grep -q "heuristic" "$XT_TMP/coord.log" 2>/dev/null; then
	xt_fail "heuristic outcome: $(grep heuristic "$XT_TMP/coord.log" | head -n 2)"
fi

# Malformed batches, straight to the agent.
"$XT_BUILD/tests/rawsend" "$PA_URL" batch xact:c9:1 xact:c9:1 >"$XT_TMP/r1"
xt_assert_grep "a gid twice" "^error .*twice in one batch" "$XT_TMP/r1"
"$XT_BUILD/tests/rawsend" "$PA_URL" batch +300 >"$XT_TMP/r2"
xt_assert_grep "too many gids" "^error .*1 to 256 gids, not 300" "$XT_TMP/r2"
"$XT_BUILD/tests/rawsend" "$PA_URL" batch "xact:c9:1" "bad gid" >"$XT_TMP/r3"
xt_assert_grep "a bad gid" "^error .*bad gid" "$XT_TMP/r3"
"$XT_BUILD/tests/rawsend" "$PA_URL" batch xact:c9:2 xact:c9:3 >"$XT_TMP/r4"
xt_assert_eq "each unknown gid answered, in order" \
    "1: ack aborted neither prepared nor committed here: rolled back outside xact
2: ack aborted neither prepared nor committed here: rolled back outside xact" "$(cat "$XT_TMP/r4")"
echo "ok: $sent COMMITs in $msgs messages; a crash after a batched COMMIT PREPARED lost nothing"
