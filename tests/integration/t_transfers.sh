# 200 transfers between two databases from 16 concurrent clients, one in
# five made to fail on the second database.  Afterwards no prepared
# transaction is left, the total balance is unchanged, every transfer
# reported committed is on both databases and every aborted one on neither.
. tests/lib.sh
xt_init
xt_bank_up
before=$(xt_bank_total)
"$XT_BUILD/tests/bank" "$COORD_URL" 16 200 5 "$XT_ACCOUNTS" 1 pa pb >"$XT_TMP/out" ||
    xt_fail "bank workload"
xt_assert_eq "transfers run" 200 "$(wc -l <"$XT_TMP/out")"
xt_assert_eq "unknown outcomes" 0 "$(awk '$2 == "unknown"' "$XT_TMP/out" | wc -l)"
# Every fifth transfer must have aborted; most others commit.
xt_assert_eq "failing transfers committed" 0 "$(awk '$1 % 5 == 0 && $2 == "committed"' "$XT_TMP/out" | wc -l)"
committed=$(awk '$2 == "committed"' "$XT_TMP/out" | wc -l)
[ "$committed" -ge 100 ] || xt_fail "only $committed of 160 good transfers committed"
xt_bank_check "$XT_TMP/out"
xt_assert_eq "total" "$before" "$(xt_bank_total)"
echo "committed=$committed aborted=$(awk '$2 == "aborted"' "$XT_TMP/out" | wc -l)"
