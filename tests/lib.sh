# tests/lib.sh (bash) - start and stop throwaway PostgreSQL clusters and xact
# daemons for the integration tests and the demo.  Source it; everything it
# starts is recorded and stopped by xt_cleanup (installed as an EXIT trap),
# by PID or data folder, never by name.
#
#   xt_init                      temp folder, trap
#   xt_pg_start NAME [OPTS]      initdb + start a cluster; sets PGPORT_<NAME>
#   xt_sql PORT DB SQL           run SQL, print unaligned tuples
#   xt_coord NAME ARGS...        start xact-coordinator in the background
#   xt_part NAME ARGS...         start xact-participant in the background
#   xt_stop NAME [SIGNAL]        stop one daemon started here
#   xt_wait_port PORT            wait until something listens on PORT
#   xt_free_port                 print a free TCP port on 127.0.0.1

XT_BUILD=${XT_BUILD:-build}
XT_PGBIN=${XT_PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
XT_TMP=""
XT_PIDS=""
XT_CLUSTERS=""

if [ "$(id -u)" = 0 ]; then XT_AS_PG="runuser -u postgres --"; else XT_AS_PG=""; fi

xt_log() { printf '%s\n' "$*" >&2; }
xt_fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

xt_init() {
	XT_TMP=$(mktemp -d /tmp/xact-test.XXXXXX) || exit 1
	chmod 755 "$XT_TMP"
	XT_OWNER=$BASHPID
	trap xt_cleanup EXIT
	trap 'exit 130' INT TERM
}

xt_cleanup() {
	# Only the test's own shell cleans up: a forked child that a signal
	# reaches before it execs (say, one started with & and killed at once)
	# still has these traps, and must not stop everything.
	[ "$BASHPID" = "$XT_OWNER" ] || return 0
	for entry in $XT_PIDS; do
		pid=${entry#*:}
		kill -TERM "$pid" 2>/dev/null
	done
	for entry in $XT_PIDS; do
		pid=${entry#*:}
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$pid" 2>/dev/null
	done
	for dir in $XT_CLUSTERS; do
		$XT_AS_PG "$XT_PGBIN/pg_ctl" -D "$dir" -m immediate stop >/dev/null 2>&1
	done
	if [ -n "$XT_TMP" ] && [ -z "${XT_KEEP:-}" ]; then rm -rf "$XT_TMP"; fi
}

# Ports come from below the kernel's ephemeral range (32768-60999 by
# default), where outgoing connections could already hold them, and are
# never handed out twice in one test.
XT_PORTS_FILE=""
xt_free_port() {
	[ -n "$XT_PORTS_FILE" ] || XT_PORTS_FILE="$XT_TMP/ports"
	while :; do
		p=$(( (RANDOM * 32768 + RANDOM) % 17000 + 15000 ))
		grep -qx "$p" "$XT_PORTS_FILE" 2>/dev/null && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p" >>"$XT_PORTS_FILE"
			echo "$p"
			return
		fi
	done
}

xt_wait_port() {
	i=0
	until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && xt_fail "nothing listens on port $1 after 10 s"
		sleep 0.1
	done
}

# xt_pg_start NAME [extra postgres -c settings...]
xt_pg_start() {
	name=$1; shift
	dir="$XT_TMP/pg-$name"
	port=$(xt_free_port)
	mkdir -p "$dir"
	[ -n "$XT_AS_PG" ] && chown postgres "$dir"
	$XT_AS_PG "$XT_PGBIN/initdb" -D "$dir" -U postgres --auth=trust --no-sync -E UTF8 \
	    >"$XT_TMP/initdb-$name.log" 2>&1 || { cat "$XT_TMP/initdb-$name.log" >&2; xt_fail "initdb $name"; }
	opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off"
	opts="$opts -c max_connections=300 -c max_prepared_transactions=300"
	for o in "$@"; do opts="$opts -c $o"; done
	XT_CLUSTERS="$XT_CLUSTERS $dir"
	$XT_AS_PG "$XT_PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -o "$opts" -w start \
	    >/dev/null 2>&1 || { cat "$dir/server.log" >&2; xt_fail "cannot start PostgreSQL $name"; }
	eval "PGPORT_$name=$port"
}

# xt_pg_restart NAME: stop fast and start again on the same port.
xt_pg_restart() {
	dir="$XT_TMP/pg-$1"
	$XT_AS_PG "$XT_PGBIN/pg_ctl" -D "$dir" -m fast -w restart >/dev/null 2>&1 ||
	    xt_fail "cannot restart PostgreSQL $1"
}

xt_createdb() { # PORT DB
	$XT_AS_PG "$XT_PGBIN/createdb" -h 127.0.0.1 -p "$1" -U postgres "$2" || xt_fail "createdb $2"
}

xt_sql() { # PORT DB SQL
	"$XT_PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "$2" -c "$3"
}

xt_conninfo() { # PORT DB
	echo "host=127.0.0.1 port=$1 dbname=$2 user=postgres"
}

# Starts a daemon in the background, stderr to $XT_TMP/NAME.log.
xt_spawn() {
	name=$1; shift
	"$@" >>"$XT_TMP/$name.log" 2>&1 &
	XT_PIDS="$XT_PIDS $name:$!"
	eval "PID_$name=$!"
}

xt_coord() { name=$1; shift; xt_spawn "$name" "$XT_BUILD/xact-coordinator" "$@"; }
xt_part() { name=$1; shift; xt_spawn "$name" "$XT_BUILD/xact-participant" "$@"; }

xt_pid() { eval "echo \${PID_$1:-}"; }

# xt_stop NAME [SIGNAL]: signal a daemon started here and wait for it.
xt_stop() {
	pid=$(xt_pid "$1")
	[ -n "$pid" ] || return 0
	kill "-${2:-TERM}" "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	wait "$pid" 2>/dev/null
}

# xt_wait_exit NAME SECONDS: wait for a daemon to exit by itself; its exit
# status is in XT_STATUS.
xt_wait_exit() {
	pid=$(xt_pid "$1")
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	kill -0 "$pid" 2>/dev/null && return 1
	wait "$pid" 2>/dev/null
	XT_STATUS=$?
	return 0
}

# The number of prepared transactions of database DB (the view is cluster-wide).
xt_prepared() { # PORT DB
	xt_sql "$1" "$2" "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()"
}

# Waits (up to SECONDS) until pg_prepared_xacts is empty in DB.
xt_wait_no_prepared() { # PORT DB SECONDS
	i=0
	while [ "$(xt_prepared "$1" "$2")" != 0 ]; do
		i=$((i + 1))
		[ $i -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# xt_wait_log FILE PATTERN SECONDS: wait until a log line matches.
xt_wait_log() {
	i=0
	until grep -q -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt $(($3 * 20)) ] && xt_fail "'$2' never appeared in $1"
		sleep 0.05
	done
}

# xt_wait_not_in_flight PATTERN SECONDS: wait until the coordinator at
# $COORD_URL lists no transaction matching PATTERN.
xt_wait_not_in_flight() {
	i=0
	while "$XT_BUILD/xactctl" --coordinator "$COORD_URL" status | grep -q -- "$1"; do
		i=$((i + 1))
		[ $i -gt $(($2 * 10)) ] && xt_fail "'$1' still in flight after $2 s"
		sleep 0.1
	done
}

xt_assert_eq() { # WHAT EXPECTED ACTUAL
	[ "$2" = "$3" ] || xt_fail "$1: expected '$2', got '$3'"
}

xt_assert_grep() { # WHAT PATTERN FILE
	grep -q -- "$2" "$3" || { cat "$3" >&2; xt_fail "$1: '$2' not found in $3"; }
}

# ---- the bank fixture: one cluster with database bank_a behind -----------
# ---- participant pa; bank_b behind pb, a PostgreSQL database or, with ------
# ---- XT_B_BACKEND=sqlite, an SQLite file; one coordinator -----------------

XT_ACCOUNTS=10
XT_SEED_BALANCE=1000
XT_B_BACKEND=${XT_B_BACKEND:-postgres}

xt_bank_schema() { # PORT DB
	xt_createdb "$1" "$2"
	xt_sql "$1" "$2" "
	    CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
	    CREATE TABLE ledger (xfer int PRIMARY KEY,
	                         amount bigint NOT NULL CONSTRAINT ledger_amount_check CHECK (amount > 0));
	    INSERT INTO accounts SELECT g, $XT_SEED_BALANCE FROM generate_series(0, $XT_ACCOUNTS - 1) g;" \
	    >/dev/null || xt_fail "schema for $2"
}

xt_bank_sqlite_schema() { # FILE
	sqlite3 -batch "$1" "
	    CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
	    CREATE TABLE ledger (xfer INTEGER PRIMARY KEY,
	                         amount INTEGER NOT NULL CONSTRAINT ledger_amount_check CHECK (amount > 0));
	    WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x < $XT_ACCOUNTS - 1)
	    INSERT INTO accounts SELECT x, $XT_SEED_BALANCE FROM g;" || xt_fail "schema for $1"
}

# SQL on bank_a, and on bank_b whatever its backend.
xt_a_sql() { xt_sql "$PGPORT" bank_a "$1"; }
xt_b_sql() {
	if [ "$XT_B_BACKEND" = sqlite ]; then
		sqlite3 -batch "$SQLITE_B" "$1"
	else
		xt_sql "$PGPORT" bank_b "$1"
	fi
}

# Prepared branches held for bank_b: PostgreSQL's, or the side log's rows.
xt_b_prepared() {
	if [ "$XT_B_BACKEND" = sqlite ]; then
		sqlite3 -batch "$SQLITE_B-xact-log" "SELECT count(*) FROM branches"
	else
		xt_prepared "$PGPORT" bank_b
	fi
}

xt_wait_b_no_prepared() { # SECONDS
	i=0
	while [ "$(xt_b_prepared)" != 0 ]; do
		i=$((i + 1))
		[ $i -gt $(($1 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# xt_bank_up [extra coordinator flags...]: sets PGPORT, COORD_URL, PA_URL,
# PB_URL, JOURNAL (and SQLITE_B); starts pa, pb and coord.
xt_bank_up() {
	xt_pg_start main
	PGPORT=$PGPORT_main
	xt_bank_schema "$PGPORT" bank_a
	if [ "$XT_B_BACKEND" = sqlite ]; then
		SQLITE_B="$XT_TMP/bank_b.db"
		xt_bank_sqlite_schema "$SQLITE_B"
	else
		xt_bank_schema "$PGPORT" bank_b
	fi
	CPORT=$(xt_free_port); APORT=$(xt_free_port); BPORT=$(xt_free_port)
	COORD_URL="tcp://127.0.0.1:$CPORT"
	PA_URL="tcp://127.0.0.1:$APORT"
	PB_URL="tcp://127.0.0.1:$BPORT"
	JOURNAL="$XT_TMP/journal.db"
	xt_part_a
	xt_part_b
	xt_coord_start "$@"
	xt_wait_port "$APORT"
	xt_wait_port "$BPORT"
	xt_wait_port "$CPORT"
}

xt_part_a() {
	xt_part pa --name pa --listen "$PA_URL" --coordinator "$COORD_URL" --backend postgres \
	    --conninfo "$(xt_conninfo "$PGPORT" bank_a)" "$@"
}
xt_part_b() {
	if [ "$XT_B_BACKEND" = sqlite ]; then
		xt_part pb --name pb --listen "$PB_URL" --coordinator "$COORD_URL" --backend sqlite \
		    --database "$SQLITE_B" "$@"
	else
		xt_part pb --name pb --listen "$PB_URL" --coordinator "$COORD_URL" --backend postgres \
		    --conninfo "$(xt_conninfo "$PGPORT" bank_b)" "$@"
	fi
}
xt_coord_start() {
	xt_coord coord --listen "$COORD_URL" --journal "$JOURNAL" --id c1 \
	    --participant "pa=$PA_URL" --participant "pb=$PB_URL" --call-timeout 3000 \
	    --recovery-interval 1 "$@"
}

xt_bank_total() {
	a=$(xt_a_sql "SELECT sum(balance) FROM accounts")
	b=$(xt_b_sql "SELECT sum(balance) FROM accounts")
	echo $((a + b))
}

# xt_bank_check OUTFILE: the invariants after a bank run.  Every transfer
# reported committed is on both databases, every aborted one on neither;
# the total is unchanged; no prepared transaction is left.
xt_bank_check() {
	out=$1
	xt_wait_no_prepared "$PGPORT" bank_a 15 || xt_fail "prepared transactions left in bank_a"
	xt_wait_b_no_prepared 15 || xt_fail "prepared branches left for bank_b"
	xt_assert_eq "total balance" $((2 * XT_ACCOUNTS * XT_SEED_BALANCE)) "$(xt_bank_total)"
	awk '$2 == "committed" {print $1}' "$out" | sort >"$XT_TMP/committed"
	awk '$2 == "aborted" {print $1}' "$out" | sort >"$XT_TMP/aborted"
	xt_a_sql "SELECT xfer FROM ledger ORDER BY 1" | sort >"$XT_TMP/ledger_a"
	xt_b_sql "SELECT xfer FROM ledger ORDER BY 1" | sort >"$XT_TMP/ledger_b"
	cmp -s "$XT_TMP/ledger_a" "$XT_TMP/ledger_b" || {
		diff "$XT_TMP/ledger_a" "$XT_TMP/ledger_b" >&2
		xt_fail "the two databases disagree on which transfers committed"
	}
	cmp -s "$XT_TMP/committed" "$XT_TMP/ledger_a" || {
		diff "$XT_TMP/committed" "$XT_TMP/ledger_a" >&2
		xt_fail "transfers reported committed differ from those in the databases"
	}
	[ -z "$(comm -12 "$XT_TMP/aborted" "$XT_TMP/ledger_a")" ] ||
	    xt_fail "a transfer reported aborted is in the databases"
}
