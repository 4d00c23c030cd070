# Participant recovery.  The coordinator dies after every vote is in and
# before it decides.  It comes back no longer configured with pb, so its
# own sweep cannot reach pb's orphan: pb, asking about a branch prepared
# longer than its grace period, learns "no decision, not in flight"
# (presumed abort) and rolls it back by itself.  While the coordinator is
# down the agents wait: they never guess.
. tests/lib.sh
xt_init
xt_bank_up
for p in pa pb; do xt_stop $p; done
xt_part_a --recovery-interval 1 --orphan-grace 2
xt_part_b --recovery-interval 1 --orphan-grace 2
xt_stop coord
XACT_FAILPOINTS=coord.before_decision=crash xt_coord_start
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" --timeout 2000 exec \
    --on pa "UPDATE accounts SET balance = balance - 7 WHERE id = 3" \
    --on pb "UPDATE accounts SET balance = balance + 7 WHERE id = 3" >/dev/null 2>&1
xt_wait_exit coord 10 || xt_fail "the coordinator did not crash before deciding"
xt_assert_eq "pa prepared, in doubt" 1 "$(xt_prepared "$PGPORT" bank_a)"
xt_assert_eq "pb prepared, in doubt" 1 "$(xt_prepared "$PGPORT" bank_b)"
# While the coordinator is down the agents wait: they never guess.
xt_wait_log "$XT_TMP/pa.log" "in doubt gid=.* state=prepared" 10
xt_assert_eq "still in doubt while the coordinator is down" 1 "$(xt_prepared "$PGPORT" bank_a)"
xt_h start coord --without pb -- --recovery-interval 3600 || xt_fail "coordinator without pb"
xt_wait_no_prepared "$PGPORT" bank_a 15 || xt_fail "pa's orphan was not rolled back"
xt_wait_no_prepared "$PGPORT" bank_b 15 || xt_fail "pb's orphan was not rolled back"
xt_assert_grep "pb asked" "asked the coordinator gid=.* outcome=aborted" "$XT_TMP/pb.log"
# The coordinator's answer for a gid it journaled as committed, and for
# one of another coordinator.
r=$("$XT_BUILD/tests/rawsend" "$COORD_URL" outcome "xact:c9:1")
case "$r" in "outcome unknown"*) ;; *) xt_fail "outcome of another coordinator's gid: '$r'" ;; esac
xt_assert_eq "total" $((2 * XT_ACCOUNTS * XT_SEED_BALANCE)) "$(xt_bank_total)"
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" recover list >"$XT_TMP/list2" || xt_fail "recover list"
xt_assert_eq "nothing in doubt at the end" "no transaction in doubt" "$(cat "$XT_TMP/list2")"
echo ok
