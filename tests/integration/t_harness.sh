# xact-harness itself.
#  - Its checker can fail: a test-only failpoint makes pb roll back its
#    third committed branch and report it committed; `run` exits 1 and
#    names that transfer's gid, which the databases confirm.
#  - A scenario with faults (kill -9, pause, a cut link) and one with the
#    user's own SQL workload, invariant and checks pass; the JSON report
#    says so.
#  - Links on the command line: a cut link delays, heal delivers; a slow
#    link costs at least its delay per hop.
#  - Bad scenarios get their error with the line named; a cluster that
#    will not start, a port in use and an interrupted `up` leave nothing
#    running.
. tests/lib.sh
xt_init
H="$XT_BUILD/xact-harness"
# Brought down by xt_cleanup whatever happens (those not up are skipped).
XT_ENVS="$XT_TMP/broken $XT_TMP/faults $XT_TMP/userrun $XT_TMP/bad $XT_TMP/int"

# Nothing of dir runs: no process names it, no cluster has a pid file.
nothing_runs() { # WHAT DIR
	ps -eo args | grep -F "$2" | grep -v grep >"$XT_TMP/left" &&
	    { cat "$XT_TMP/left" >&2; xt_fail "$1: processes left running"; }
	[ -z "$(ls "$2"/pg-*/postmaster.pid 2>/dev/null)" ] || xt_fail "$1: a cluster is left running"
}

# ---- the checker catches a broken commit ---------------------------------
# The fixture's scenario with bank_b on SQLite; a section given again adds
# to the first.
XT_B_BACKEND=sqlite xt_bank_scenario >"$XT_TMP/broken.ini"
cat >>"$XT_TMP/broken.ini" <<EOF
[participant pb]
env = XACT_FAILPOINTS=test.commit_as_abort=error@3
[workload]
clients = 1
transfers = 10
EOF
"$H" run "$XT_TMP/broken.ini" --dir "$XT_TMP/broken" --report "$XT_TMP/broken.json" --keep \
    >"$XT_TMP/broken.out" 2>&1
xt_assert_eq "run with a broken participant: exit status" 1 $?
cat "$XT_TMP/broken.out"
xt_assert_grep "the broken transfer is named with its gid" \
    "VIOLATION xfer=3 gid=xact:c1:[0-9]* told=committed; bank_a: present, bank_b: absent; journal: commit decided" \
    "$XT_TMP/broken.out"
xt_assert_grep "the total is off" "VIOLATION total" "$XT_TMP/broken.out"
xt_assert_eq "only that transfer is reported" 1 "$(grep -c 'VIOLATION xfer=' "$XT_TMP/broken.out")"
xt_assert_grep "the report counts it" '"violations":2' "$XT_TMP/broken.json"
# --keep leaves it running for inspection; the databases agree with the report.
eval "$("$H" env --dir "$XT_TMP/broken")"
xt_assert_eq "bank_a holds transfer 3" 1 "$(xt_sql "$PORT_main" bank_a "SELECT count(*) FROM ledger WHERE xfer = 3")"
xt_assert_eq "bank_b lacks transfer 3" 0 "$(sqlite3 "$FILE_bank_b" "SELECT count(*) FROM ledger WHERE xfer = 3")"
"$H" down --dir "$XT_TMP/broken" || xt_fail "down after a violation"
[ ! -e "$XT_TMP/broken" ] || xt_fail "down left the state folder"

# ---- faults from the scenario, and a user's SQL workload ------------------
# The chaos scenario (two PostgreSQL databases, one SQLite, links through
# the proxy) with three faults of our choosing.
cp tests/scenarios/chaos.ini "$XT_TMP/faults.ini"
cat >>"$XT_TMP/faults.ini" <<EOF
[workload]
duration = 4
abort_ratio = 0.2
[fault kill_pb]
type = kill
target = pb
at = 0.5
duration = 0.5
[fault cut_pc]
type = cut
target = pc
at = 1.5
duration = 1
[fault pause_coord]
type = pause
target = coord
at = 3
duration = 0.5
EOF
"$H" run "$XT_TMP/faults.ini" --dir "$XT_TMP/faults" --report "$XT_TMP/faults.json" \
    >"$XT_TMP/faults.out" 2>&1
status=$?
cat "$XT_TMP/faults.out"
xt_assert_eq "run with faults: exit status" 0 "$status"
xt_assert_grep "kill applied" "kill -9 pb" "$XT_TMP/faults.out"
xt_assert_grep "cut applied" "cut pc" "$XT_TMP/faults.out"
xt_assert_grep "pause applied" "pause coord" "$XT_TMP/faults.out"
xt_assert_grep "report" '"violations":0' "$XT_TMP/faults.json"
nothing_runs "run" "$XT_TMP/faults"

mkdir -p "$XT_TMP/user"
cat >"$XT_TMP/user/schema.sql" <<EOF
CREATE TABLE stock (item text NOT NULL PRIMARY KEY, qty integer NOT NULL CHECK (qty >= 0));
EOF
cat >"$XT_TMP/user/seed.sql" <<EOF
INSERT INTO stock VALUES ('bolt', 1000), ('nut', 1000);
EOF
cat >"$XT_TMP/user/moves.sql" <<EOF
# move a bolt from the warehouse to the shop
wh UPDATE stock SET qty = qty - 1 WHERE item = 'bolt'
shop UPDATE stock SET qty = qty + 1 WHERE item = 'bolt'

# and a nut the other way
shop UPDATE stock SET qty = qty - 1 WHERE item = 'nut'
wh UPDATE stock SET qty = qty + 1 WHERE item = 'nut'
EOF
cat >"$XT_TMP/user/user.ini" <<EOF
[postgres pg]
[database warehouse]
type = postgres
cluster = pg
schema = schema.sql
seed = seed.sql
[database shop]
type = sqlite
schema = schema.sql
seed = seed.sql
[participant wh]
database = warehouse
[participant shop]
database = shop
[workload]
type = sql
file = moves.sql
clients = 1
transfers = 200
invariant = SELECT sum(qty) FROM stock
[check bolts]
database = warehouse
query = SELECT qty FROM stock WHERE item = 'bolt'
expect = 900
EOF
"$H" run "$XT_TMP/user/user.ini" --dir "$XT_TMP/userrun" >"$XT_TMP/user.out" 2>&1
status=$?
cat "$XT_TMP/user.out"
xt_assert_eq "user SQL workload: exit status" 0 "$status"
xt_assert_grep "200 transactions" "200 transactions" "$XT_TMP/user.out"

# ---- links from the command line ------------------------------------------
xt_up tests/scenarios/chaos.ini "$XT_TMP/links"
X="$XT_BUILD/xactctl --coordinator $XACT_COORDINATOR"
xt_h cut pb || xt_fail "cut"
xt_h status | grep -q "pb=cut" || xt_fail "status does not show the cut"
$X --timeout 1500 exec --on pb "SELECT 1" >/dev/null 2>&1
[ $? -ne 0 ] || xt_fail "exec across a cut link succeeded"
xt_h heal pb || xt_fail "heal"
$X exec --on pb "SELECT 1" >/dev/null || xt_fail "exec after heal"
xt_h slow pb 300 || xt_fail "slow"
start=$(date +%s%N)
$X exec --on pb "SELECT 1" >/dev/null || xt_fail "exec across a slow link"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -ge 600 ] || xt_fail "a 300 ms link answered a round trip in $ms ms"
xt_h heal all || xt_fail "heal all"
xt_h pause pa || xt_fail "pause"
$X --timeout 1500 exec --on pa "SELECT 1" >/dev/null 2>&1
[ $? -ne 0 ] || xt_fail "a paused agent answered"
xt_h resume pa || xt_fail "resume"
$X exec --on pa "SELECT 1" >/dev/null || xt_fail "exec after resume"
xt_h check --outcomes /dev/null >"$XT_TMP/links.check" || { cat "$XT_TMP/links.check"; xt_fail "check"; }
xt_h kill nobody 2>"$XT_TMP/e1"
xt_assert_eq "unknown process: exit status" 2 $?
xt_assert_grep "unknown process" "no process nobody" "$XT_TMP/e1"

# ---- a folder of the user's, a scenario that is gone, the default workload -
mkdir -p "$XT_TMP/mine"
echo keep >"$XT_TMP/mine/notes.txt"
printf '[database a]\ntype = sqlite\nbank = yes\n[database b]\ntype = sqlite\nbank = yes\n[participant pa]\ndatabase = a\n[participant pb]\ndatabase = b\n' \
    >"$XT_TMP/gone.ini"
XT_ENVS="$XT_ENVS $XT_TMP/mine"
"$H" up "$XT_TMP/gone.ini" --dir "$XT_TMP/mine" >/dev/null || xt_fail "up into a folder with files"
XACT_HARNESS_DIR="$XT_TMP/mine" "$H" workload --transfers 20 --clients 1 >"$XT_TMP/mine.out" ||
    xt_fail "workload of a scenario with no [workload]"
xt_assert_eq "the default bank workload ran" 20 "$(wc -l <"$XT_TMP/mine.out")"
XACT_HARNESS_DIR="$XT_TMP/mine" "$H" check >"$XT_TMP/mine.check" ||
    { cat "$XT_TMP/mine.check"; xt_fail "check of the default bank workload"; }
rm "$XT_TMP/gone.ini"
"$H" down --dir "$XT_TMP/mine" || xt_fail "down of an environment whose scenario is gone"
nothing_runs "down without its scenario" "$XT_TMP/mine"
xt_assert_eq "a file of the folder's own is kept" keep "$(cat "$XT_TMP/mine/notes.txt")"

# ---- bad scenarios ---------------------------------------------------------
bad() { # WHAT EXPECTED-MESSAGE (scenario on stdin)
	cat >"$XT_TMP/bad.ini"
	"$H" up "$XT_TMP/bad.ini" --dir "$XT_TMP/bad" >/dev/null 2>"$XT_TMP/bad.err"
	st=$?
	[ "$st" = 2 ] || xt_fail "$1: exit status $st, expected 2"
	xt_assert_grep "$1" "$2" "$XT_TMP/bad.err"
	nothing_runs "$1" "$XT_TMP/bad"
	[ ! -e "$XT_TMP/bad/ports" ] || "$H" down --dir "$XT_TMP/bad" 2>/dev/null
	rm -rf "$XT_TMP/bad"
}
printf '[postgres main]\n[database a]\ntype = postgres\ncluster = main\nbogus = 1\n' |
    bad "unknown key" "bad.ini:5: \[database\]: unknown key 'bogus'"
printf '[postgres main]\n[databse a]\ntype = postgres\n' | bad "unknown section" "unknown section \[databse a\]"
printf '[database a]\ntype = sqlite\nschema = nowhere.sql\n' | bad "missing file" "cannot read .*nowhere.sql"
printf '[postgres main]\n[database a]\ntype = postgres\ncluster = main\n[database b]\ntype = postgres\ncluster = main\ndbname = a\n' |
    bad "two names for one database" "are one database"
printf '[database a]\ntype = sqlite\n[participant proxy]\ndatabase = a\n' | bad "a reserved name" "the name is taken"
printf '[postgres coord]\n[database a]\ntype = sqlite\n[participant pa]\ndatabase = a\n' |
    bad "a cluster named like a process" "taken by a process"
printf '[database a]\ntype = sqlite\n[participant pa]\ndatabase = b\n' | bad "unknown database" "database 'b' is not a \[database\] section"
printf '[postgres a]\nport = 20001\n[postgres b]\nport = 20001\n' | bad "clashing ports" "port 20001 is given twice"
printf '[postgres a]\nport = %s\n' "$PORT_main" | bad "a port in use" "port $PORT_main is in use"
printf '[database a]\ntype = sqlite\n[participant pa]\ndatabase = a\n[fault f]\ntype = cut\ntarget = pa\n' |
    bad "a cut without the proxy" "proxy = yes"
printf '[database a]\ntype = sqlite\n[participant pa]\ndatabase = a\n[fault f]\ntype = crash_at\ntarget = pa\nfailpoint = part.nowhere\n' |
    bad "an unknown failpoint" "failpoint 'part.nowhere' is not one of xact's"
printf '[postgres a]\n[postgres b]\nsettings = shared_buffers=lots\n' |
    bad "a cluster that will not start" "cluster b did not start"

# Interrupted half-way (SIGINT, as Ctrl-C), everything started is stopped.
printf '[postgres a]\n[postgres b]\n[postgres c]\n[postgres d]\n' >"$XT_TMP/slow.ini"
"$H" up "$XT_TMP/slow.ini" --dir "$XT_TMP/int" >/dev/null 2>"$XT_TMP/int.err" &
up=$!
sleep 1.5
kill -INT $up
wait $up
st=$?
[ "$st" -ne 0 ] || xt_fail "an interrupted up succeeded"
xt_assert_grep "interrupted" "interrupted" "$XT_TMP/int.err"
nothing_runs "interrupted up" "$XT_TMP/int"
echo ok
