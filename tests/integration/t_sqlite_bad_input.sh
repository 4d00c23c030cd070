# The SQLite agent and bad input: a database file that is missing, not
# SQLite, read-only, locked by another process, or has a table without a
# primary key; a side log that is corrupt or belongs to another database; a
# statement error; a schema change; a changeset that no longer applies at
# recovery.  Also: a branch waits behind a prepared one only up to
# --lock-timeout, and a branch that only read votes READ-ONLY.
XT_B_BACKEND=sqlite
. tests/lib.sh
xt_init
xt_bank_up
xt_stop pb
xt_part_b --log-level debug
X="$XT_BUILD/xactctl --coordinator $COORD_URL --timeout 20000"
total=$((2 * XT_ACCOUNTS * XT_SEED_BALANCE))

# agent FILE ARGS...: runs an SQLite agent in the foreground on FILE; it
# must refuse to start.  Its stderr is in $XT_TMP/agent.err.
agent() {
	f=$1; shift
	timeout 20 "$@" --name px --listen "tcp://127.0.0.1:$(xt_free_port)" \
	    --coordinator "$COORD_URL" --backend sqlite --database "$f" 2>"$XT_TMP/agent.err"
}
refused() { # WHAT PATTERN EXIT_STATUS
	xt_assert_eq "$1: exit status" 1 "$3"
	xt_assert_grep "$1" "$2" "$XT_TMP/agent.err"
}

agent "$XT_TMP/missing.db" "$XT_BUILD/xact-participant"
refused "missing database" "does not exist" $?

echo "plain text, not a database at all; long enough to fill a header page" >"$XT_TMP/text.db"
agent "$XT_TMP/text.db" "$XT_BUILD/xact-participant"
refused "not SQLite" "is not a usable SQLite database" $?

sqlite3 -batch "$XT_TMP/nopk.db" "CREATE TABLE t (a INTEGER, b TEXT);"
agent "$XT_TMP/nopk.db" "$XT_BUILD/xact-participant"
refused "table without primary key" "table t of .* has no PRIMARY KEY" $?

sqlite3 -batch "$XT_TMP/nullpk.db" "CREATE TABLE t (a TEXT PRIMARY KEY, b INTEGER);"
agent "$XT_TMP/nullpk.db" "$XT_BUILD/xact-participant"
refused "primary key that may hold NULL" "primary key column t.a of .* may hold NULL" $?

sqlite3 -batch "$XT_TMP/trig.db" "CREATE TABLE t (a INTEGER PRIMARY KEY, b INTEGER);
    CREATE TABLE audit (id INTEGER PRIMARY KEY, a INTEGER);
    CREATE TRIGGER t_audit AFTER UPDATE ON t BEGIN INSERT INTO audit (a) VALUES (new.a); END;"
agent "$XT_TMP/trig.db" "$XT_BUILD/xact-participant"
refused "database with a trigger" "has trigger t_audit" $?

# A database already served by an agent, also under another path.
agent "$SQLITE_B" "$XT_BUILD/xact-participant"
refused "second agent on one database" "already served by another agent" $?
ln -s "$SQLITE_B" "$XT_TMP/alias.db"
agent "$XT_TMP/alias.db" "$XT_BUILD/xact-participant"
refused "second agent through a symbolic link" "already served by another agent" $?

# Read-only for the agent's user (root writes anything, so the agent runs
# as postgres on a file it may only read).
if [ -n "$XT_AS_PG" ]; then
	sqlite3 -batch "$XT_TMP/ro.db" "CREATE TABLE t (a INTEGER PRIMARY KEY);"
	chmod 644 "$XT_TMP/ro.db"
	cp "$XT_BUILD/xact-participant" "$XT_TMP/agent-bin"
	agent "$XT_TMP/ro.db" $XT_AS_PG "$XT_TMP/agent-bin"
	refused "read-only database" "is read-only for this agent" $?
fi

# Locked by another process.
sqlite3 -batch "$XT_TMP/locked.db" "CREATE TABLE t (a INTEGER PRIMARY KEY);"
{ echo "BEGIN EXCLUSIVE;"; sleep 8; } | sqlite3 -batch "$XT_TMP/locked.db" &
lockpid=$!
sleep 0.5
agent "$XT_TMP/locked.db" "$XT_BUILD/xact-participant"
refused "locked database" "is locked by another process" $?
kill "$lockpid" 2>/dev/null; wait "$lockpid" 2>/dev/null

# A side log another process holds for a moment (after a crash the first
# reader recovers its WAL; an operator's sqlite3 may be reading) is waited
# for; one held longer is reported locked, not corrupt.
xt_stop pb
{ echo "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; SELECT count(*) FROM branches;"; sleep 1.5; } |
    sqlite3 -batch "$SQLITE_B-xact-log" >/dev/null &
lockpid=$!
sleep 0.3
xt_part_b --log-level debug
wait "$lockpid" 2>/dev/null
xt_stop pb
{ echo "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; SELECT count(*) FROM branches;"; sleep 8; } |
    sqlite3 -batch "$SQLITE_B-xact-log" >/dev/null &
lockpid=$!
sleep 0.3
agent "$SQLITE_B" "$XT_BUILD/xact-participant"
refused "side log held by another process" "side log .* is locked by another process" $?
kill "$lockpid" 2>/dev/null; wait "$lockpid" 2>/dev/null
xt_part_b --log-level debug

# Side logs: corrupt, and one that belongs to another database.
sqlite3 -batch "$XT_TMP/one.db" "CREATE TABLE t (a INTEGER PRIMARY KEY);"
sqlite3 -batch "$XT_TMP/two.db" "CREATE TABLE t (a INTEGER PRIMARY KEY);"
for f in one two; do
	timeout 1 "$XT_BUILD/xact-participant" --name p$f --listen "tcp://127.0.0.1:$(xt_free_port)" \
	    --coordinator "$COORD_URL" --backend sqlite --database "$XT_TMP/$f.db" 2>/dev/null
done
[ -s "$XT_TMP/one.db-xact-log" ] || xt_fail "no side log made beside one.db"
xt_assert_eq "side log readable by the agent alone" 600 "$(stat -c %a "$XT_TMP/one.db-xact-log")"
# A first start that stopped before writing the side log's schema.
sqlite3 -batch "$XT_TMP/first.db" "CREATE TABLE t (a INTEGER PRIMARY KEY);"
: >"$XT_TMP/first.db-xact-log"
timeout 1 "$XT_BUILD/xact-participant" --name pf --listen "tcp://127.0.0.1:$(xt_free_port)" \
    --coordinator "$COORD_URL" --backend sqlite --database "$XT_TMP/first.db" 2>"$XT_TMP/first.err"
xt_assert_eq "empty side log of a first start: served until stopped" 124 $?
xt_assert_eq "its schema written" xact-sidelog \
    "$(sqlite3 -batch "$XT_TMP/first.db-xact-log" "SELECT value FROM meta WHERE key = 'magic'")"
cp "$XT_TMP/two.db-xact-log" "$XT_TMP/one.db-xact-log"
agent "$XT_TMP/one.db" "$XT_BUILD/xact-participant"
refused "side log of another database" "belongs to another database" $?
head -c 4096 /dev/urandom >"$XT_TMP/two.db-xact-log"
agent "$XT_TMP/two.db" "$XT_BUILD/xact-participant"
refused "corrupt side log" "is corrupt or not an xact side log" $?
rm "$XT_TMP/two.db-xact-log"
agent "$XT_TMP/two.db" "$XT_BUILD/xact-participant"
refused "side log missing beside a database served before" "is missing, but an agent served" $?

# A statement error and a schema change: clear errors, nothing changes.
$X exec --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 0" \
        --on pb "INSERT INTO ledger (xfer, amount) VALUES (1, -5)" 2>"$XT_TMP/e1"
xt_assert_eq "statement error: exit status" 1 $?
xt_assert_grep "statement error text" "CHECK constraint failed" "$XT_TMP/e1"
$X exec --on pb "CREATE TABLE x (a INTEGER PRIMARY KEY)" 2>"$XT_TMP/e2"
xt_assert_eq "schema change: exit status" 1 $?
xt_assert_grep "schema change refused" "not authorized" "$XT_TMP/e2"
xt_assert_eq "after errors: total" "$total" "$(xt_bank_total)"

# Parameters bind by their number, not by where they appear.
$X exec --on pb "INSERT INTO ledger (amount, xfer) VALUES (\$2, \$1)" --param 7001 --param 3 \
        --on pb "SELECT amount FROM ledger WHERE xfer = \$1" --param 7001 >"$XT_TMP/p.out" ||
    xt_fail "insert with parameters out of order"
xt_assert_grep "\$2 bound to the second value" "^pb: 3$" "$XT_TMP/p.out"

# A branch that only read votes READ-ONLY: committed, nothing journaled.
$X exec --on pb "SELECT count(*) AS n FROM accounts" >"$XT_TMP/ro.out" || xt_fail "read-only exec"
gid=$(sed -n 's/^committed \(xact:[^ ]*\).*/\1/p' "$XT_TMP/ro.out")
xt_assert_grep "read-only vote" "branch gid=$gid state=read-only" "$XT_TMP/pb.log"
xt_assert_eq "read-only: no journal record" 0 \
    "$(sqlite3 -batch "$JOURNAL" "SELECT count(*) FROM decisions WHERE gid = '$gid'")"

# A prepared branch holds the write lock; another writer waits only
# --lock-timeout, then fails cleanly.
xt_stop pb
xt_part_b --log-level debug --lock-timeout 300
xt_stop coord
XACT_FAILPOINTS=coord.before_decision=delay:3000 xt_coord_start
$X exec --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 1" \
        --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 1" >"$XT_TMP/first" 2>&1 &
first=$!
xt_wait_log "$XT_TMP/coord.log" "failpoint fired name=coord.before_decision" 5
# The coordinator's loop sleeps in the failpoint; go straight to the agent.
r=$("$XT_BUILD/tests/rawsend" "$PB_URL" exec1)
case "$r" in
*"database is locked"*"write lock"*) ;;
*) xt_fail "a writer behind a prepared branch: got '$r'" ;;
esac
wait $first
xt_assert_eq "the prepared transfer commits" 0 $?
xt_stop coord
xt_coord_start

# A changeset that no longer applies at recovery: the agent refuses to
# serve the database, says why, and keeps the side-log record.
xt_stop pb
XACT_FAILPOINTS=part.before_vote=crash xt_part_b
$X exec --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 2" \
        --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 2" 2>/dev/null
xt_wait_exit pb 5 || xt_fail "pb did not crash before its vote"
xt_assert_eq "branch logged" 1 "$(xt_b_prepared)"
# Started under another name, the agent would hold the branch while no
# coordinator ever asks it: refused.
agent "$SQLITE_B" "$XT_BUILD/xact-participant"
refused "side log of another agent name" "which is not this agent's" $?
sqlite3 -batch "$SQLITE_B" "UPDATE accounts SET balance = 5 WHERE id = 2;"
xt_h start pb --no-wait || xt_fail "cannot start pb"
xt_wait_exit pb 10 || xt_fail "pb served a database whose changeset no longer applies"
xt_assert_eq "changeset does not apply: exit status" 1 "$XT_STATUS"
xt_assert_grep "changeset does not apply" "no longer applies" "$XT_TMP/pb.log"
xt_assert_eq "the side-log record is kept" 1 "$(xt_b_prepared)"
echo ok
