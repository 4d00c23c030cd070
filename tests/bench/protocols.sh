# Two-phase against three-phase commit on the same databases in the same
# run (`make bench-protocols`): the latency of one bank transfer across two
# PostgreSQL databases with one client (median and p99), and how long the
# transfer's rows stay locked when the coordinator dies once every branch
# is ready to commit and is brought back HOLD seconds later.  Prints a table
# with the 3PC/2PC ratios.  Not a test: it asserts nothing about timing.
. tests/lib.sh
xt_init
TRANSFERS=${TRANSFERS:-2000}
HOLD=${HOLD:-10}
TERM_MS=${TERM_MS:-1000}

XT_TERM_MS=$TERM_MS xt_3pc_up two

# latency PROTOCOL FIRST: "p50 p99" in ms of one run of TRANSFERS transfers.
latency() {
	xt_h workload --protocol "$1" --clients 1 --transfers "$TRANSFERS" --first "$2" \
	    >/dev/null 2>"$XT_TMP/wl" || xt_fail "workload $1 failed: $(cat "$XT_TMP/wl")"
	sed -n 's/.*p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms.*/\1 \2/p' "$XT_TMP/wl" | tail -n 1
}

# Rows of bank_a's account 1 free now? (a writer gets the lock in 50 ms)
row_free() {
	xt_sql "$PGPORT" bank_a "SET lock_timeout = 50; UPDATE accounts SET balance = balance WHERE id = 1" \
	    >/dev/null 2>&1
}
now_ms() { date +%s%3N; }

# blocked PROTOCOL FAILPOINT: the coordinator crashes at FAILPOINT during
# one transfer and comes back HOLD s later.  Prints the ms the row stayed
# locked after the crash.
blocked() {
	xt_stop coord
	XACT_FAILPOINTS="$2=crash" xt_start coord
	"$XT_BUILD/xactctl" --coordinator "$URL_coord" --timeout 2000 exec --protocol "$1" \
	    --on pa "UPDATE accounts SET balance = balance - 1 WHERE id = 1" \
	    --on pb "UPDATE accounts SET balance = balance + 1 WHERE id = 1" >/dev/null 2>&1 &
	xpid=$!
	xt_wait_exit coord 10 || xt_fail "the coordinator did not crash at $2"
	dead=$(now_ms)
	freed=""
	while [ $(($(now_ms) - dead)) -lt $((HOLD * 1000)) ]; do
		if row_free; then freed=$(($(now_ms) - dead)); break; fi
		sleep 0.05
	done
	xt_start coord
	if [ -z "$freed" ]; then
		until row_free; do sleep 0.05; done
		freed=$(($(now_ms) - dead))
	fi
	wait $xpid
	echo "$freed"
}

xt_log "bench: warming up"
latency 2pc 1000000 >/dev/null
latency 3pc 2000000 >/dev/null
set -- $(latency 2pc 3000000); p50_2=$1; p99_2=$2
set -- $(latency 3pc 4000000); p50_3=$1; p99_3=$2
set -- $(latency 2pc 5000000); p50_2b=$1; p99_2b=$2
set -- $(latency 3pc 6000000); p50_3b=$1; p99_3b=$2
b2=$(blocked 2pc coord.after_decision)
b3=$(blocked 3pc coord.after_precommits)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mean() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (a + b) / 2 }'; }
m50_2=$(mean "$p50_2" "$p50_2b"); m99_2=$(mean "$p99_2" "$p99_2b")
m50_3=$(mean "$p50_3" "$p50_3b"); m99_3=$(mean "$p99_3" "$p99_3b")
echo "machine: $(nproc) cores, $(uname -sr), PostgreSQL $("$XT_PGBIN/postgres" --version | awk '{print $3}')"
echo "one client, $TRANSFERS transfers per run across two PostgreSQL databases, two runs each (interleaved)"
printf '%-36s %12s %12s %8s\n' "" "2PC" "3PC" "3PC/2PC"
printf '%-36s %12s %12s %8s\n' "latency p50 (ms), runs 1 and 2" "$p50_2 $p50_2b" "$p50_3 $p50_3b" "$(ratio "$m50_3" "$m50_2")"
printf '%-36s %12s %12s %8s\n' "latency p99 (ms), runs 1 and 2" "$p99_2 $p99_2b" "$p99_3 $p99_3b" "$(ratio "$m99_3" "$m99_2")"
printf '%-36s %12s %12s %8s\n' "rows locked after a coordinator crash (ms)" "$b2" "$b3" "$(ratio "$b3" "$b2")"
echo "(the coordinator died once every branch was ready to commit and came back after ${HOLD} s;"
echo " 2PC holds the rows until it returns, 3PC participants finish after --termination-timeout ${TERM_MS} ms)"
