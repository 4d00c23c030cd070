# `make bench-noop`: the coordinator and its agents alone, with no
# database: agents with --backend noop, a coordinator with its journal on
# (fsync as always).  Prints
#   (1) xact-bench --noop at 1, 8, 32 and 64 clients (2 participants);
#   (2) the same at 32 clients with 2, 4 and 8 participants;
#   (3) recovery: N (100000) transactions left in doubt by a coordinator
#       crash (their COMMITs never sent: failpoint coord.before_commit_send),
#       and the time the restarted coordinator takes to commit them all.
# Not a test: it asserts nothing about the figures.
. tests/lib.sh
xt_init
CLIENTS=${CLIENTS:-"1 8 32 64"}
DURATION=${DURATION:-5}
IN_DOUBT=${IN_DOUBT:-100000}
PIDS=""

trap 'for p in $PIDS; do kill -9 "$p" 2>/dev/null; done; xt_cleanup' EXIT

COORD_PORT=$(xt_free_port)
COORD_URL="tcp://127.0.0.1:$COORD_PORT"
JOURNAL="$XT_TMP/journal.db"
PARTS=""
for i in 1 2 3 4 5 6 7 8; do
	port=$(xt_free_port)
	"$XT_BUILD/xact-participant" --name "n$i" --listen "tcp://127.0.0.1:$port" \
	    --coordinator "$COORD_URL" --backend noop >"$XT_TMP/n$i.log" 2>&1 &
	PIDS="$PIDS $!"
	disown $! # killed at exit, without a word from the shell
	PARTS="$PARTS --participant n$i=tcp://127.0.0.1:$port"
done

coord_up() { "$XT_BUILD/xactctl" --coordinator "$COORD_URL" status >/dev/null 2>&1 && echo up; }

# coord_start [ENV...]: the coordinator, in the background; COORD_PID.
coord_start() {
	env "$@" "$XT_BUILD/xact-coordinator" --listen "$COORD_URL" --journal "$JOURNAL" \
	    $PARTS >>"$XT_TMP/coord.log" 2>&1 &
	COORD_PID=$!
	PIDS="$PIDS $COORD_PID"
	xt_wait_until 10 coord_up up ||
	    xt_fail "the coordinator did not start: $(tail -n 5 "$XT_TMP/coord.log")"
}

bench() { # PARTICIPANTS CLIENTS [xact-bench flags]
	p=$1 n=$2; shift 2
	"$XT_BUILD/xact-bench" --noop --coordinator "$COORD_URL" --participants "$p" \
	    --clients "$n" --duration "$DURATION" "$@"
}

coord_start
echo "Machine: $(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -r), $(date -u +%Y-%m-%d)."
echo
echo "(1) no-op participants n1,n2; xact-bench --noop --duration $DURATION"
echo "clients run tx/s p50_ms p99_ms decisions_per_fsync"
for n in $CLIENTS; do
	bench n1,n2 "$n" | awk -v n="$n" '$1 == "xact" || $1 == "xact-run" {print n, $1, $2, $3, $5, $8}'
done
echo
echo "(2) 32 clients, 2, 4 and 8 no-op participants"
echo "participants run tx/s p50_ms p99_ms decisions_per_fsync"
for p in n1,n2 n1,n2,n3,n4 n1,n2,n3,n4,n5,n6,n7,n8; do
	k=$(echo "$p" | tr ',' '\n' | wc -l)
	bench "$p" 32 | awk -v k="$k" '$1 == "xact" || $1 == "xact-run" {print k, $1, $2, $3, $5, $8}'
done

echo
echo "(3) recovery of $IN_DOUBT transactions left in doubt"
{ kill -TERM "$COORD_PID"; wait "$COORD_PID"; } 2>/dev/null
coord_start XACT_FAILPOINTS=coord.before_commit_send=error
bench n1,n2 64 --only xact-run --count "$IN_DOUBT" --duration 900 >"$XT_TMP/fill.out" ||
    xt_fail "filling: $(cat "$XT_TMP/fill.out")"
{ kill -KILL "$COORD_PID"; wait "$COORD_PID"; } 2>/dev/null
pending() { sqlite3 -batch "$JOURNAL" "SELECT count(*) FROM decisions WHERE completed_at IS NULL"; }
left=$(pending)
echo "in doubt when the coordinator was killed: $left decisions journaled, not completed"
[ "$left" -ge "$IN_DOUBT" ] || xt_fail "expected at least $IN_DOUBT in doubt, found $left"
t0=$(date +%s%N)
coord_start
until [ "$(pending)" -eq 0 ]; do
	sleep 0.1
	[ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt 900 ] ||
	    xt_fail "recovery did not end in 900 s: $(pending) left"
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "recovered: the $left transactions committed, every participant acknowledging," \
    "$(( (ms + 50) / 1000 )).$(( ((ms + 50) % 1000) / 100 )) s after the restart ($((left * 1000 / ms)) per second)"
