# The no-op backend (agents with --backend noop, which xact-bench --noop
# measures the coordinator with): transactions commit through it statement
# by statement and in one request; decisions left pending by a coordinator
# crash are completed after its restart; and a coordinator with more than
# 1000 transactions in flight still answers a status (it lists 1000 and
# counts them all).
. tests/lib.sh
xt_init
PIDS=""
trap 'for p in $PIDS; do kill -9 "$p" 2>/dev/null; done; xt_cleanup' EXIT

COORD_URL="tcp://127.0.0.1:$(xt_free_port)"
JOURNAL="$XT_TMP/journal.db"
PARTS=""
for i in 1 2; do
	port=$(xt_free_port)
	"$XT_BUILD/xact-participant" --name "n$i" --listen "tcp://127.0.0.1:$port" \
	    --coordinator "$COORD_URL" --backend noop >"$XT_TMP/n$i.log" 2>&1 &
	PIDS="$PIDS $!"
	disown $!
	PARTS="$PARTS --participant n$i=tcp://127.0.0.1:$port"
done

coord_up() { "$XT_BUILD/xactctl" --coordinator "$COORD_URL" status >/dev/null 2>&1 && echo up; }
coord_start() { # [ENV...]
	env "$@" "$XT_BUILD/xact-coordinator" --listen "$COORD_URL" --journal "$JOURNAL" \
	    $PARTS >>"$XT_TMP/coord.log" 2>&1 &
	COORD_PID=$!
	PIDS="$PIDS $COORD_PID"
	xt_wait_until 10 coord_up up || xt_fail "no coordinator: $(tail -n 5 "$XT_TMP/coord.log")"
}
pending() { sqlite3 -batch "$JOURNAL" "SELECT count(*) FROM decisions WHERE completed_at IS NULL"; }
ctl() { "$XT_BUILD/xactctl" --coordinator "$COORD_URL" "$@"; }

"$XT_BUILD/xact-participant" --name x --listen tcp://127.0.0.1:1 --coordinator "$COORD_URL" \
    --backend noop --conninfo "dbname=x" --check >"$XT_TMP/check" 2>&1
xt_assert_eq "noop takes no database (exit status)" 2 "$?"
xt_assert_grep "and says so" "neither --database nor --conninfo" "$XT_TMP/check"

coord_start
ctl exec --on n1 "UPDATE t SET x = 1" --on n2 "UPDATE t SET x = 2" >"$XT_TMP/x1" 2>&1
xt_assert_eq "statement by statement commits" 0 "$?"
xt_assert_grep "committed" "committed" "$XT_TMP/x1"
ctl exec --one-shot --on n1 "UPDATE t SET x = 1" --on n2 "UPDATE t SET x = 2" >"$XT_TMP/x2" 2>&1
xt_assert_eq "one request commits" 0 "$?"

# 1200 commits whose COMMITs are never sent: in flight, pending in the
# journal.  The status lists 1000 of them and counts them all.
{ kill -TERM "$COORD_PID"; wait "$COORD_PID"; } 2>/dev/null
coord_start XACT_FAILPOINTS=coord.before_commit_send=error
"$XT_BUILD/xact-bench" --noop --coordinator "$COORD_URL" --participants n1,n2 --clients 8 \
    --only xact-run --count 1200 --duration 60 >"$XT_TMP/fill" 2>&1 || xt_fail "fill: $(cat "$XT_TMP/fill")"
n=$(pending)
[ "$n" -ge 1200 ] || xt_fail "only $n decisions pending"
ctl status >"$XT_TMP/status" 2>&1 || xt_fail "status failed: $(tail -n 3 "$XT_TMP/status")"
xt_assert_grep "counted all" "^$n transaction(s) in flight (the first 1000 listed)" "$XT_TMP/status"
xt_assert_eq "listed 1000" 1000 "$(grep -c ' committing ' "$XT_TMP/status")"
ctl status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["transactions_total"], len(d["transactions"]))' >"$XT_TMP/js"
xt_assert_eq "JSON too" "$n 1000" "$(cat "$XT_TMP/js")"

# The coordinator dies; its restart commits every pending decision.
kill -KILL "$COORD_PID"; wait "$COORD_PID" 2>/dev/null
coord_start
xt_wait_until 60 pending 0 || xt_fail "still pending after the restart: $(pending)"
xt_assert_grep "re-driven" "recovery: re-driving commit" "$XT_TMP/coord.log"
if grep -q "heuristic" "$XT_TMP/coord.log"; then
	xt_fail "a heuristic outcome: $(grep heuristic "$XT_TMP/coord.log" | head -n 3)"
fi
echo "ok: no-op participants commit, $n pending decisions completed after a crash, status lists 1000 of $n"
