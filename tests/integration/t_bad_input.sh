# Bad input gets a clear error and loses nothing: a failing statement, an
# unknown participant, a participant down at begin, during statements and
# during prepare, malformed and oversized messages, a bad journal, a server
# without prepared transactions, bad configuration.
. tests/lib.sh
xt_init
xt_bank_up
X="$XT_BUILD/xactctl --coordinator $COORD_URL --timeout 10000"
total=$((2 * XT_ACCOUNTS * XT_SEED_BALANCE))

balance() { xt_sql "$PGPORT" "$1" "SELECT balance FROM accounts WHERE id = $2"; }

# A statement fails on one participant: aborted everywhere, and the
# database's own message reaches the client.
$X exec --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 0" \
        --on pb "INSERT INTO ledger (xfer, amount) VALUES (1, -5)" 2>"$XT_TMP/e1"
xt_assert_eq "failing statement: exit status" 1 $?
xt_assert_grep "database error text" 'violates check constraint "ledger_amount_check"' "$XT_TMP/e1"
xt_assert_eq "failing statement: pa untouched" 1000 "$(balance bank_a 0)"

# A statement that would end the branch's own transaction is refused:
# run, it would commit part of the global transaction behind its back.
$X exec --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 0" \
        --on pa "COMMIT" \
        --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 0" 2>"$XT_TMP/e1b"
xt_assert_eq "COMMIT inside a branch: exit status" 1 $?
xt_assert_grep "COMMIT inside a branch: reason" "transaction control statements are not allowed" "$XT_TMP/e1b"
xt_assert_eq "COMMIT inside a branch: pa untouched" 1000 "$(balance bank_a 0)"

# Session state set by one branch does not leak into later ones through
# the agent's connection pool.
$X exec --on pa "SET default_transaction_read_only = on" \
        --on pa "SELECT pg_advisory_lock(42)" >/dev/null || xt_fail "session-state branch"
xt_assert_eq "advisory lock released with the branch" 0 \
    "$(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")"
for i in 1 2 3; do
	$X exec --on pa "UPDATE accounts SET balance = balance + 0 WHERE id = 9" >/dev/null ||
	    xt_fail "a SET from an earlier branch leaked into a later one"
done

# ";COMMIT" is a COMMIT to PostgreSQL: refused like one.
$X exec --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 0" \
        --on pa ";COMMIT" 2>"$XT_TMP/e1c"
xt_assert_eq ";COMMIT inside a branch: exit status" 1 $?
xt_assert_eq ";COMMIT inside a branch: pa untouched" 1000 "$(balance bank_a 0)"

# An unknown participant name.
$X exec --on nosuch "SELECT 1" 2>"$XT_TMP/e2"
xt_assert_eq "unknown participant: exit status" 1 $?
xt_assert_grep "unknown participant" "unknown participant 'nosuch'" "$XT_TMP/e2"

# Usage errors exit 2.
$X exec 2>/dev/null; xt_assert_eq "exec without statements" 2 $?
$X exec --on pa 2>/dev/null; xt_assert_eq "exec with a half statement" 2 $?
$X frobnicate 2>/dev/null; xt_assert_eq "unknown command" 2 $?

# A participant down at begin: the statement on it fails, nothing changes.
xt_stop pb
$X exec --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 0" \
        --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 0" 2>"$XT_TMP/e3"
xt_assert_eq "participant down: exit status" 1 $?
xt_assert_grep "participant down: reason" "participant pb unreachable" "$XT_TMP/e3"
xt_assert_eq "participant down: pa rolled back" 1000 "$(balance bank_a 0)"
$XT_BUILD/xactctl --coordinator "$COORD_URL" status >"$XT_TMP/st"
xt_assert_grep "status shows pb unreachable" "^pb  *no" "$XT_TMP/st"

# A participant that dies during the statements (its second one).
XACT_FAILPOINTS=part.before_exec=crash@2 xt_part_b
$X exec --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 0" \
        --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 0" \
        --on pb "INSERT INTO ledger (xfer, amount) VALUES (2, 1)" 2>"$XT_TMP/e4"
xt_assert_eq "participant dies during statements: exit status" 1 $?
xt_wait_exit pb 5 || xt_fail "pb did not crash"
xt_assert_eq "dies during statements: pa rolled back" 1000 "$(balance bank_a 0)"

# ... and one that is back before the coordinator gives up on the call:
# the call fails (connection reset), the transaction aborts, nothing of it
# remains on either side.
XACT_FAILPOINTS=part.before_exec=crash@2 xt_part_b
$X exec --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 0" \
        --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 0" \
        --on pb "INSERT INTO ledger (xfer, amount) VALUES (3, 1)" 2>"$XT_TMP/e4b" &
xpid=$!
xt_wait_exit pb 5 || xt_fail "pb did not crash at its second statement"
xt_part_b
wait $xpid
xt_assert_eq "participant back at once: exit status" 1 $?
xt_assert_eq "participant back at once: pa rolled back" 1000 "$(balance bank_a 0)"
xt_assert_eq "participant back at once: pb untouched" 1000 "$(balance bank_b 0)"
xt_assert_eq "participant back at once: no ledger row" 0 "$(xt_sql "$PGPORT" bank_b "SELECT count(*) FROM ledger WHERE xfer = 3")"
xt_stop pb

# A participant that dies during prepare, before PREPARE TRANSACTION.
XACT_FAILPOINTS=pg.before_prepare=crash xt_part_b
$X exec --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 0" \
        --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 0" 2>"$XT_TMP/e5"
xt_assert_eq "participant dies before prepare: exit status" 1 $?
xt_wait_exit pb 5 || xt_fail "pb did not crash before prepare"

# ... and after PREPARE TRANSACTION, before its vote: the branch is
# prepared in PostgreSQL; the coordinator aborts; once the agent is back
# it re-attaches the branch and the abort reaches it.
XACT_FAILPOINTS=pg.after_prepare=crash xt_part_b
$X exec --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 0" \
        --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 0" 2>"$XT_TMP/e6"
xt_assert_eq "participant dies after prepare: exit status" 1 $?
xt_wait_exit pb 5 || xt_fail "pb did not crash after prepare"
xt_assert_eq "branch left prepared in bank_b" 1 "$(xt_prepared "$PGPORT" bank_b)"
xt_part_b
xt_wait_no_prepared "$PGPORT" bank_b 15 || xt_fail "orphan branch not rolled back after pb returned"
xt_assert_grep "re-attached" "re-attached prepared branch" "$XT_TMP/pb.log"
xt_assert_eq "after prepare crash: pa" 1000 "$(balance bank_a 0)"
xt_assert_eq "after prepare crash: pb" 1000 "$(balance bank_b 0)"

# A statement numbered 2 for a branch the agent does not know (say, resent
# to an agent that restarted after running statement 1) is refused: run
# alone it would commit part of a transaction.
r=$("$XT_BUILD/tests/rawsend" "$PB_URL" exec2)
case "$r" in
"error 12 "*"lost the branch's earlier work"*) ;;
*) xt_fail "statement 2 of an unknown branch: got '$r'" ;;
esac
xt_assert_eq "statement 2 of an unknown branch: no ledger row" 0 \
    "$(xt_sql "$PGPORT" bank_b "SELECT count(*) FROM ledger WHERE xfer = 4")"

# Malformed and oversized messages straight to both sockets: answered
# with an error or dropped, and both keep serving.
for url in "$COORD_URL" "$PA_URL"; do
	for kind in garbage empty version nobody; do
		r=$("$XT_BUILD/tests/rawsend" "$url" $kind)
		case "$r" in
		"error 3 "*|"error 4 "*) ;;
		*) xt_fail "$kind message to $url: got '$r'" ;;
		esac
	done
	r=$("$XT_BUILD/tests/rawsend" "$url" big 8388608)
	case "$r" in "no reply"*) ;; *) xt_fail "oversized message to $url: got '$r'" ;; esac
done
$X exec --on pa "UPDATE accounts SET balance = balance - 7 WHERE id = 5" \
        --on pb "UPDATE accounts SET balance = balance + 7 WHERE id = 5" >/dev/null ||
    xt_fail "a transfer after bad messages did not commit"
xt_assert_eq "after bad messages: pa" 993 "$(balance bank_a 5)"
xt_assert_eq "after bad messages: pb" 1007 "$(balance bank_b 5)"
xt_assert_eq "total" "$total" "$(xt_bank_total)"

# Journal that cannot be opened, that is not SQLite, not an xact journal.
C="$XT_BUILD/xact-coordinator --listen tcp://127.0.0.1:$(xt_free_port) --participant pa=$PA_URL"
$C --journal /nonexistent/folder/j.db 2>"$XT_TMP/j1"
xt_assert_eq "journal in a missing folder: exit status" 1 $?
xt_assert_grep "journal cannot be opened" "cannot open journal" "$XT_TMP/j1"
echo "this is not a database, just some text that is long enough to look like a header" >"$XT_TMP/text.db"
$C --journal "$XT_TMP/text.db" 2>"$XT_TMP/j2"
xt_assert_eq "text journal: exit status" 1 $?
xt_assert_grep "text journal" "file is not a database" "$XT_TMP/j2"
sqlite3 "$XT_TMP/other.db" "CREATE TABLE t (x); INSERT INTO t VALUES (1);" || xt_fail "sqlite3"
$C --journal "$XT_TMP/other.db" 2>"$XT_TMP/j3"
xt_assert_eq "foreign SQLite journal: exit status" 1 $?
xt_assert_grep "foreign SQLite file" "not an xact journal" "$XT_TMP/j3"
$C --journal "$JOURNAL" --id other 2>"$XT_TMP/j4"
xt_assert_eq "journal of another coordinator: exit status" 1 $?
xt_assert_grep "journal of another coordinator" "belongs to coordinator id 'c1'" "$XT_TMP/j4"

# A PostgreSQL server without prepared transactions.
xt_pg_start noprep max_prepared_transactions=0
"$XT_BUILD/xact-participant" --name px --listen "tcp://127.0.0.1:$(xt_free_port)" \
    --coordinator "$COORD_URL" --backend postgres \
    --conninfo "$(xt_conninfo "$PORT_noprep" postgres)" 2>"$XT_TMP/p1"
xt_assert_eq "no prepared transactions: exit status" 1 $?
xt_assert_grep "no prepared transactions" "max_prepared_transactions = 0" "$XT_TMP/p1"
"$XT_BUILD/xact-participant" --name px --listen "tcp://127.0.0.1:$(xt_free_port)" \
    --coordinator "$COORD_URL" --backend postgres \
    --conninfo "host=127.0.0.1 port=1 dbname=x user=postgres connect_timeout=2" 2>"$XT_TMP/p2"
xt_assert_eq "unreachable database: exit status" 1 $?
xt_assert_grep "unreachable database" "cannot connect to PostgreSQL" "$XT_TMP/p2"

# Bad configuration files and flags exit 2 with the place named.
printf '[coordinator]\nlisten = tcp://127.0.0.1:1\ntxn_timout = 5\n' >"$XT_TMP/bad.ini"
"$XT_BUILD/xact-coordinator" --config "$XT_TMP/bad.ini" --check 2>"$XT_TMP/c1"
xt_assert_eq "unknown config key: exit status" 2 $?
xt_assert_grep "unknown key with its line" "bad.ini:3: unknown key 'txn_timout'" "$XT_TMP/c1"
"$XT_BUILD/xact-coordinator" --config "$XT_TMP/missing.ini" 2>"$XT_TMP/c2"
xt_assert_eq "missing config: exit status" 2 $?
xt_assert_grep "missing config" "cannot open" "$XT_TMP/c2"
"$XT_BUILD/xact-coordinator" --participant pa=$PA_URL --txn-timeout soon 2>"$XT_TMP/c3"
xt_assert_eq "bad flag value: exit status" 2 $?
xt_assert_grep "bad flag value" "txn_timeout must be" "$XT_TMP/c3"
"$XT_BUILD/xact-coordinator" --bogus 2>/dev/null
xt_assert_eq "unknown flag: exit status" 2 $?
"$XT_BUILD/xact-coordinator" --journal x.db 2>"$XT_TMP/c4"
xt_assert_eq "no participants: exit status" 2 $?
printf '[coordinator]\nid = c9\n[participants]\npa = %s\n' "$PA_URL" >"$XT_TMP/good.ini"
"$XT_BUILD/xact-coordinator" --config "$XT_TMP/good.ini" --check >"$XT_TMP/c5" ||
    xt_fail "a good config was refused"
xt_assert_grep "config check" "configuration OK" "$XT_TMP/c5"
"$XT_BUILD/xact-participant" --name pa --listen "$PA_URL" --backend postgres 2>"$XT_TMP/c6"
xt_assert_eq "participant without --coordinator: exit status" 2 $?
xt_assert_grep "missing flag named" "is required" "$XT_TMP/c6"
"$XT_BUILD/xact-participant" --name pa --listen "$PA_URL" --coordinator "$COORD_URL" \
    --backend mysql --conninfo x 2>"$XT_TMP/c7"
xt_assert_eq "unknown backend: exit status" 2 $?

# A failpoint name that does not exist is refused, not ignored.
XACT_FAILPOINTS=coord.no_such_step=crash "$XT_BUILD/xact-coordinator" --journal "$XT_TMP/fp.db" \
    --participant "pa=$PA_URL" --listen "tcp://127.0.0.1:$(xt_free_port)" 2>"$XT_TMP/c8"
xt_assert_eq "unknown failpoint: exit status" 2 $?
xt_assert_grep "unknown failpoint" "bad XACT_FAILPOINTS" "$XT_TMP/c8"

# SIGTERM at any moment of start-up stops an agent within a few seconds
# (its workers' contexts are opened before they start, so closing the
# socket never races with opening one).
conninfo=$(xt_conninfo "$PGPORT" bank_a)
for i in 1 2 3 4 5 6; do
	port=$(xt_free_port)
	"$XT_BUILD/xact-participant" --name px --listen "tcp://127.0.0.1:$port" \
	    --coordinator "$COORD_URL" --backend postgres --conninfo "$conninfo" 2>/dev/null &
	pid=$!
	sleep "0.0$i"
	kill -TERM $pid
	j=0
	while kill -0 $pid 2>/dev/null; do
		j=$((j + 1))
		[ $j -gt 50 ] && { kill -KILL $pid; xt_fail "an agent did not stop on SIGTERM at start-up"; }
		sleep 0.1
	done
done

# Nothing was lost on the way.
xt_wait_no_prepared "$PGPORT" bank_a 15 || xt_fail "prepared left in bank_a"
xt_wait_no_prepared "$PGPORT" bank_b 15 || xt_fail "prepared left in bank_b"
xt_assert_eq "total at the end" "$total" "$(xt_bank_total)"
echo ok
