# Failures other coordinators shipped as bugs.
#  - citus#1030: recovery running in a loop during 2PC load never rolls back
#    a gid whose commit is journaled (the sweep every second, the agents
#    asking about every branch prepared for a second).
#  - citus#3780: COMMIT fails on one participant in phase 2: the client is
#    told "committed, completion pending", and recovery finishes it.
#  - citus#2287: clients killed (SIGKILL) at any step: no prepared
#    transaction outlives the transaction timeout and one recovery interval.
. tests/lib.sh
xt_init
xt_bank_up --txn-timeout 2
for p in pa pb; do xt_stop $p; done
xt_part_a --recovery-interval 1 --orphan-grace 1
xt_part_b --recovery-interval 1 --orphan-grace 1

# citus#1030
xt_h workload --clients 16 --transfers 400 --abort-every 5 --first 1 >"$XT_TMP/out" ||
    xt_fail "bank workload"
xt_assert_eq "unknown outcomes" 0 "$(awk '$2 == "unknown"' "$XT_TMP/out" | wc -l)"
xt_bank_check "$XT_TMP/out"
xt_assert_eq "no heuristic outcome under recovery load" 0 \
    "$(grep -c "heuristic outcome" "$XT_TMP/coord.log")"

# citus#3780
xt_stop pb
XACT_FAILPOINTS=pg.before_commit_prepared=error@1 xt_part_b --recovery-interval 1 --orphan-grace 1
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" exec \
    --on pa "UPDATE accounts SET balance = balance - 3 WHERE id = 6" \
    --on pa "INSERT INTO ledger (xfer, amount) VALUES (3780, 3)" \
    --on pb "UPDATE accounts SET balance = balance + 3 WHERE id = 6" \
    --on pb "INSERT INTO ledger (xfer, amount) VALUES (3780, 3)" >"$XT_TMP/x3780" 2>&1
xt_assert_eq "phase 2 failure: the client is told committed" 0 $?
xt_assert_grep "completion pending" "committed xact:c1:[0-9]* (completion pending" "$XT_TMP/x3780"
xt_wait_no_prepared "$PGPORT" bank_b 15 || xt_fail "pb's branch never completed"
xt_assert_eq "pb finished by recovery" 1 "$(xt_sql "$PGPORT" bank_b "SELECT count(*) FROM ledger WHERE xfer = 3780")"

# citus#2287
for round in 1 2 3 4 5; do
	"$XT_BUILD/xact-harness" workload --clients 8 --transfers 100000 --first $((round * 100000)) \
	    >"$XT_TMP/killed$round" &
	bank=$!
	sleep "0.$((RANDOM % 8 + 2))"
	kill -KILL $bank
	wait $bank 2>/dev/null
done
# The coordinator aborts what the dead clients left open after its
# transaction timeout (2 s); what they left committing it finishes.
sleep 3
xt_wait_no_prepared "$PGPORT" bank_a 10 || xt_fail "prepared transactions outlived the clients in bank_a"
xt_wait_no_prepared "$PGPORT" bank_b 10 || xt_fail "prepared transactions outlived the clients in bank_b"
xt_wait_not_in_flight "xact:" 10
xt_assert_grep "dead clients' transactions were timed out" "client silent, aborting gid=" "$XT_TMP/coord.log"
xt_assert_eq "total after killed clients" $((2 * XT_ACCOUNTS * XT_SEED_BALANCE)) "$(xt_bank_total)"
a=$(xt_a_sql "SELECT count(*) FROM ledger")
b=$(xt_b_sql "SELECT count(*) FROM ledger")
xt_assert_eq "both databases hold the same transfers" "$a" "$b"
xt_a_sql "SELECT xfer FROM ledger ORDER BY 1" >"$XT_TMP/la"
xt_b_sql "SELECT xfer FROM ledger ORDER BY 1" >"$XT_TMP/lb"
cmp -s "$XT_TMP/la" "$XT_TMP/lb" || xt_fail "the databases disagree on which transfers committed"
echo "ok: $a transfers on each database"
