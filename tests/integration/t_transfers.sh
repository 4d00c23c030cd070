# 200 transfers between two databases from 16 concurrent clients, one in
# five made to fail on the second database.  Afterwards no prepared
# transaction is left, the total balance is unchanged, every transfer
# reported committed is on both databases and every aborted one on neither.
# With XT_B_BACKEND=sqlite the second database is an SQLite file.
. tests/lib.sh
xt_init
xt_bank_up
before=$(xt_bank_total)
# Prepared transactions that are not this coordinator's: made by hand, and
# by another coordinator (c9) through an agent of the same name.  xact must
# never touch them.
xt_sql "$PGPORT" bank_a "BEGIN; INSERT INTO ledger VALUES (90001, 1); PREPARE TRANSACTION 'manual-1';" >/dev/null
foreign_expected="manual-1"
if [ "$XT_B_BACKEND" = postgres ]; then
	xt_sql "$PGPORT" bank_b "BEGIN; INSERT INTO ledger VALUES (90002, 1); PREPARE TRANSACTION 'xact:c9:1:pb';" >/dev/null
	foreign_expected="manual-1,xact:c9:1:pb"
fi
xt_h workload --clients 16 --transfers 200 --abort-every 5 --first 1 >"$XT_TMP/out" ||
    xt_fail "bank workload"
xt_assert_eq "transfers run" 200 "$(wc -l <"$XT_TMP/out")"
xt_assert_eq "unknown outcomes" 0 "$(awk '$2 == "unknown"' "$XT_TMP/out" | wc -l)"
# Every fifth transfer must have aborted; most others commit.
xt_assert_eq "failing transfers committed" 0 "$(awk '$1 % 5 == 0 && $2 == "committed"' "$XT_TMP/out" | wc -l)"
committed=$(awk '$2 == "committed"' "$XT_TMP/out" | wc -l)
[ "$committed" -ge 100 ] || xt_fail "only $committed of 160 good transfers committed"
# Restart everything: recovery and the sweeps run again.
xt_stop coord; xt_stop pa; xt_stop pb
xt_part_a; xt_part_b; xt_coord_start
sleep 2.5
foreign=$(xt_sql "$PGPORT" postgres "SELECT string_agg(gid, ',' ORDER BY gid) FROM pg_prepared_xacts")
xt_assert_eq "foreign prepared transactions untouched" "$foreign_expected" "$foreign"
xt_sql "$PGPORT" bank_a "ROLLBACK PREPARED 'manual-1'" >/dev/null
if [ "$XT_B_BACKEND" = postgres ]; then
	xt_sql "$PGPORT" bank_b "ROLLBACK PREPARED 'xact:c9:1:pb'" >/dev/null
fi
xt_bank_check "$XT_TMP/out"

# xactctl exec --json: the rows, the gid and the outcome.
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" exec --json \
    --on pa "SELECT id, balance FROM accounts WHERE id = \$1" --param 0 \
    --on pb "SELECT count(*) AS n FROM ledger" >"$XT_TMP/json" || xt_fail "exec --json"
xt_assert_grep "json columns" '"columns":\["id","balance"\]' "$XT_TMP/json"
xt_assert_grep "json outcome" '"gid":"xact:c1:[0-9]*","outcome":"committed"' "$XT_TMP/json"
xt_assert_eq "total" "$before" "$(xt_bank_total)"
echo "committed=$committed aborted=$(awk '$2 == "aborted"' "$XT_TMP/out" | wc -l)"
