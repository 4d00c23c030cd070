# make demo: a throwaway PostgreSQL database and an SQLite database, a
# participant agent for each and a coordinator on loopback; money moves
# between the databases in atomic transfers, one of which fails on the
# SQLite side and is rolled back on both.  Everything started here is
# stopped at the end.
XT_B_BACKEND=sqlite
. tests/lib.sh
XT_ACCOUNTS=3
xt_init
echo "== starting a PostgreSQL cluster, an SQLite database, two participants and a coordinator in $XT_TMP"
xt_bank_up
X="$XT_BUILD/xactctl --coordinator $COORD_URL"

balances() {
	echo "   bank_a, PostgreSQL (participant pa): $(xt_a_sql "SELECT string_agg('#' || id || '=' || balance, ' ' ORDER BY id) FROM accounts")"
	echo "   bank_b, SQLite     (participant pb): $(xt_b_sql "SELECT group_concat('#' || id || '=' || balance, ' ') FROM (SELECT * FROM accounts ORDER BY id)")"
	echo "   total: $(xt_bank_total)"
}

# transfer XFER FROM TO AMOUNT [LEDGER_AMOUNT]: moves AMOUNT from account
# FROM in bank_a to account TO in bank_b, as one global transaction.
transfer() {
	echo
	echo "== transfer $1: $4 from bank_a #$2 (PostgreSQL) to bank_b #$3 (SQLite)"
	echo "   \$ xactctl exec --on pa 'UPDATE accounts SET balance = balance - \$1 WHERE id = \$2' ... --on pb ..."
	$X exec --on pa "UPDATE accounts SET balance = balance - \$1 WHERE id = \$2" --param "$4" --param "$2" \
	        --on pa "INSERT INTO ledger (xfer, amount) VALUES (\$1, \$2)" --param "$1" --param "$4" \
	        --on pb "UPDATE accounts SET balance = balance + \$1 WHERE id = \$2" --param "$4" --param "$3" \
	        --on pb "INSERT INTO ledger (xfer, amount) VALUES (\$1, \$2)" --param "$1" --param "${5:-$4}" \
	    2>&1 | sed 's/^/   /'
}

echo
echo "== balances before"
balances
transfer 1 0 1 250
transfer 2 1 2 100
echo
echo "   (transfer 3 writes a negative ledger amount on bank_b: SQLite's CHECK constraint refuses it)"
transfer 3 2 0 75 -75
echo
echo "== balances after: transfers 1 and 2 on both databases, transfer 3 on neither"
balances
echo "   ledger bank_a: $(xt_a_sql "SELECT string_agg(xfer::text, ',' ORDER BY xfer) FROM ledger")"
echo "   ledger bank_b: $(xt_b_sql "SELECT group_concat(xfer, ',') FROM (SELECT xfer FROM ledger ORDER BY xfer)")"
echo "   prepared branches left: $(( $(xt_prepared "$PGPORT" bank_a) + $(xt_b_prepared) ))"
echo
echo "== stopping everything the demo started"
