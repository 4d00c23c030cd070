# tests/lib.sh (bash) - helpers of the integration tests and the demo.
# Every cluster, database and daemon is started and stopped by xact-harness
# (tests/harness/); this file only drives it and holds the assertions.
# xt_init installs xt_cleanup as an EXIT trap: it brings down every
# environment the test brought up, by what their state folders record.
#
#   xt_init                      temp folder, trap
#   xt_h ARGS...                 xact-harness on the test's main environment
#   xt_up SCENARIO [DIR]         bring a scenario up; its NAME=VALUE lines
#                                become shell variables
#   xt_pg_start NAME [SETTING]   an extra cluster; sets PORT_<NAME>
#   xt_start NAME [FLAGS...]     start a daemon of the environment again
#   xt_stop NAME [SIGNAL]        stop one, and wait for it
#   xt_wait_exit NAME SECONDS    wait for one to exit; XT_STATUS
#   xt_sql PORT DB SQL           run SQL, print unaligned tuples
#   xt_free_port                 a free TCP port on 127.0.0.1

XT_BUILD=${XT_BUILD:-build}
XT_PGBIN=${XT_PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
XT_TMP=""
XT_ENVS=""
export XACT_PGBIN=$XT_PGBIN

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
	# reaches before it execs still has these traps.
	[ "$BASHPID" = "$XT_OWNER" ] || return 0
	for dir in $XT_ENVS; do
		[ -e "$dir/ports" ] && "$XT_BUILD/xact-harness" down --dir "$dir" --keep
	done
	if [ -n "$XT_TMP" ] && [ -z "${XT_KEEP:-}" ]; then rm -rf "$XT_TMP"; fi
}

xt_h() { "$XT_BUILD/xact-harness" "$@"; }

# xt_up SCENARIO [DIR]: DIR defaults to the test's folder, which makes the
# daemons' logs $XT_TMP/NAME.log; the first environment becomes the one
# xt_h and the other helpers act on.
xt_up() {
	dir=${2:-$XT_TMP}
	XT_ENVS="$XT_ENVS $dir"
	env=$(xt_h up "$1" --dir "$dir") || xt_fail "xact-harness up $1"
	eval "$env"
	[ -n "${XT_MAIN_ENV:-}" ] || XT_MAIN_ENV=$dir
	export XACT_HARNESS_DIR=$XT_MAIN_ENV
}

# xt_pg_start NAME [SETTING]: one more cluster, in its own environment.
xt_pg_start() {
	printf '[postgres %s]\nsettings = %s\n' "$1" "${2:-log_min_messages=warning}" \
	    >"$XT_TMP/$1.ini"
	xt_up "$XT_TMP/$1.ini" "$XT_TMP/env-$1"
}

xt_pg_restart() { xt_h pg-restart "$1" || xt_fail "cannot restart PostgreSQL $1"; }
xt_free_port() { xt_h port; }

xt_sql() { # PORT DB SQL
	"$XT_PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "$2" -c "$3"
}

xt_conninfo() { # PORT DB
	echo "host=127.0.0.1 port=$1 dbname=$2 user=postgres"
}

# xt_start NAME [FLAGS...]: starts a daemon of the scenario again, with
# FLAGS after its scenario's; XACT_FAILPOINTS passes through.  Returns
# once it listens.
xt_start() {
	name=$1; shift
	xt_h start "$name" -- "$@" || xt_fail "cannot start $name"
}

# xt_stop NAME [SIGNAL]: signal a daemon and wait for it (10 s, then KILL).
xt_stop() { xt_h stop "$1" --signal "${2:-TERM}"; }

# xt_wait_exit NAME SECONDS: wait for a daemon to exit by itself; its exit
# status is in XT_STATUS.
xt_wait_exit() {
	XT_STATUS=$(xt_h wait "$1" --timeout "$2" 2>/dev/null) || return 1
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

# xt_bank_scenario [coordinator flags...]: the fixture as a scenario file.
xt_bank_scenario() {
	if [ "$XT_B_BACKEND" = sqlite ]; then
		b="type = sqlite"
	else
		b="type = postgres
cluster = main"
	fi
	cat <<EOF
[postgres main]
[database bank_a]
type = postgres
cluster = main
bank = yes
[database bank_b]
$b
bank = yes
[participant pa]
database = bank_a
[participant pb]
database = bank_b
[coordinator coord]
id = c1
args = --call-timeout 3000 --recovery-interval 1 $*
[workload]
type = bank
accounts = $XT_ACCOUNTS
balance = $XT_SEED_BALANCE
clients = 16
transfers = 200
EOF
}

# xt_bank_up [extra coordinator flags...]: sets PGPORT, COORD_URL, PA_URL,
# PB_URL, CPORT, APORT, BPORT, JOURNAL (and SQLITE_B).
xt_bank_up() {
	xt_bank_scenario "$@" >"$XT_TMP/bank.ini"
	xt_up "$XT_TMP/bank.ini"
	PGPORT=$PORT_main
	COORD_URL=$URL_coord; PA_URL=$URL_pa; PB_URL=$URL_pb
	CPORT=${COORD_URL##*:}; APORT=${PA_URL##*:}; BPORT=${PB_URL##*:}
	SQLITE_B=${FILE_bank_b:-}
}

xt_part_a() { xt_start pa "$@"; }
xt_part_b() { xt_start pb "$@"; }
xt_coord_start() { xt_start coord "$@"; }

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

xt_bank_total() {
	a=$(xt_a_sql "SELECT sum(balance) FROM accounts")
	b=$(xt_b_sql "SELECT sum(balance) FROM accounts")
	echo $((a + b))
}

# xt_bank_check OUTFILE: the harness's invariants after a bank run, for the
# transfers listed in OUTFILE ("XFER OUTCOME GID").
xt_bank_check() {
	xt_h check --outcomes "$1" --settle 15 >"$XT_TMP/check" 2>&1 ||
	    { cat "$XT_TMP/check" >&2; xt_fail "the invariants do not hold"; }
}

# ---- the three-phase commit fixture: pa on bank_a and pb on bank_b ------
# ---- (PostgreSQL), pc on bank_c (SQLite), a termination timeout of one ---
# ---- second; one coordinator ---------------------------------------------

# xt_3pc_up [two]: brings it up ("two": pa and pb only); sets PGPORT,
# COORD_URL and C (bank_c's file).
xt_3pc_up() {
	{
		printf '[postgres main]\n'
		for x in a b; do
			printf '[database bank_%s]\ntype = postgres\ncluster = main\nbank = yes\n' $x
		done
		[ "${1:-}" = two ] || printf '[database bank_c]\ntype = sqlite\nbank = yes\n'
		for x in a b c; do
			[ $x = c ] && [ "${1:-}" = two ] && continue
			printf '[participant p%s]\ndatabase = bank_%s\nargs = --termination-timeout %s\n' \
			    $x $x "${XT_TERM_MS:-1000}"
		done
		printf '[coordinator coord]\nid = c1\nargs = --call-timeout 2000 --recovery-interval 1\n'
		printf '[workload]\ntype = bank\nclients = 1\naccounts = 100\n'
	} >"$XT_TMP/3pc.ini"
	xt_up "$XT_TMP/3pc.ini"
	PGPORT=$PORT_main
	COORD_URL=$URL_coord
	C=${FILE_bank_c:-}
}

# xt_3pc_ledger XFER: "a b c", the ledger rows each database holds for it.
xt_3pc_ledger() {
	echo "$(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM ledger WHERE xfer = $1")" \
	    "$(xt_sql "$PGPORT" bank_b "SELECT count(*) FROM ledger WHERE xfer = $1")" \
	    "$(sqlite3 -batch "$C" "SELECT count(*) FROM ledger WHERE xfer = $1")"
}

# xt_3pc_prepared: "a b c", the branches each still holds prepared.
xt_3pc_prepared() {
	echo "$(xt_prepared "$PGPORT" bank_a)" "$(xt_prepared "$PGPORT" bank_b)" \
	    "$(sqlite3 -batch "$C-xact-log" "SELECT count(*) FROM branches")"
}

# xt_3pc_xfer N [xactctl flags]: N moves 10 from pa to pb and pc (5 each);
# the output goes to $XT_TMP/xN; returns (and sets XS to) xactctl's status.
xt_3pc_xfer() {
	n=$1; shift
	"$XT_BUILD/xactctl" --coordinator "$COORD_URL" --timeout 4000 exec "$@" \
	    --on pa "UPDATE accounts SET balance = balance - 10 WHERE id = 1" \
	    --on pa "INSERT INTO ledger (xfer, amount) VALUES ($n, 10)" \
	    --on pb "UPDATE accounts SET balance = balance + 5 WHERE id = 1" \
	    --on pb "INSERT INTO ledger (xfer, amount) VALUES ($n, 5)" \
	    --on pc "UPDATE accounts SET balance = balance + 5 WHERE id = 1" \
	    --on pc "INSERT INTO ledger (xfer, amount) VALUES ($n, 5)" >"$XT_TMP/x$n" 2>&1
	XS=$?
	return $XS
}

# The gid xactctl printed for transfer N.
xt_gid_of() { sed -n 's/.*\(xact:c1:[0-9]*\).*/\1/p' "$XT_TMP/x$1" | head -n 1; }

# xt_wait_until SECONDS CMD EXPECTED: polls CMD until it prints EXPECTED.
xt_wait_until() {
	i=0
	while [ "$($2)" != "$3" ]; do
		i=$((i + 1))
		[ $i -gt $(($1 * 10)) ] && return 1
		sleep 0.1
	done
}
