# Three-phase commit without the coordinator.  Three participants (pa and
# pb on PostgreSQL, pc on SQLite) with a termination timeout of one second.
#
# (1) The coordinator is killed after every branch pre-committed and is not
#     restarted: within the timeout every branch commits by itself and its
#     row locks are free; the coordinator, restarted later, reports the
#     transaction committed and journals it.
# (2) The coordinator is killed after the votes, before any pre-commit:
#     the participants roll back by themselves.  (2b) Killed once the
#     pre-commit was journaled but before any was sent: the same, and the
#     restarted coordinator's own termination agrees and drops it.
# (3) The coordinator dies with one branch pre-committed; the leader (pa)
#     pre-commits the others and is killed; the next leader (pb) commits
#     itself and is killed; pc finishes alone.  pa and pb come back and end
#     the way pc did; so does the coordinator.
# (4) A 3PC request to an agent without a termination log is voted NO.
# (5) pc only reads: it votes READ-ONLY and is restarted (forgetting the
#     branch) before pa's termination asks it; its termination log still
#     says "read only", so pa and pb commit instead of taking the unknown
#     branch for a rolled-back one.
# (6) A leader's promise fences the coordinator: pb promises ballot 999 to
#     a stand-in leader (rawsend) while the coordinator stalls after
#     journaling the pre-commit; pb then refuses the coordinator's PRECOMMIT
#     (ballot 0) but still answers a question, and the coordinator
#     terminates the transaction itself, with a higher ballot: committed.
# (7) pb crashes after its PREPARE TRANSACTION, before its termination
#     record and its vote, and is restarted at once: the transaction ends
#     one way everywhere and nothing stays prepared.  (Were the PREPARE
#     resent to the restarted agent, it would now vote with a record.)
. tests/lib.sh
xt_init

xt_3pc_up
ledger() { xt_3pc_ledger "$@"; }
prepared() { xt_3pc_prepared; }
terms() { # "a b c" termination-log records (other than READ-ONLY votes)
	for p in pa pb pc; do
		sqlite3 -batch "$XT_TMP/$p.termlog" "SELECT count(*) FROM terms WHERE state <> 'readonly'"
	done | tr '\n' ' ' | sed 's/ $//'
}
xfer() { xt_3pc_xfer "$@"; }
gid_of() { xt_gid_of "$1"; }
wait_until() { xt_wait_until "$@"; }
now_ms() { date +%s%3N; }

# A plain 3PC transfer commits everywhere, and leaves nothing behind.
xfer 900 --protocol 3pc
xt_assert_eq "3pc transfer exit status" 0 "$XS"
xt_assert_eq "3pc transfer on every database" "1 1 1" "$(ledger 900)"
xt_assert_eq "no termination records left" "0 0 0" "$(terms)"

# ---- (1) killed after every pre-commit; not restarted ------------------
xt_stop coord
XACT_FAILPOINTS="coord.after_precommits=crash" xt_start coord --protocol 3pc
xfer 901 & # no --protocol: the coordinator's default, 3pc
xpid=$!
xt_wait_exit coord 10 || xt_fail "(1) the coordinator did not crash"
killed=$(now_ms)
xt_assert_eq "(1) coordinator killed" 137 "$XT_STATUS"
wait_until 10 "ledger 901" "1 1 1" || xt_fail "(1) not committed everywhere: $(ledger 901)"
done_ms=$(($(now_ms) - killed))
wait $xpid
XS=$?
xt_assert_eq "(1) xactctl: outcome unknown" 3 "$XS"
gid1=$(gid_of 901)
[ -n "$gid1" ] || { cat "$XT_TMP/x901" >&2; xt_fail "(1) no gid in xactctl's output"; }
xt_assert_eq "(1) nothing prepared" "0 0 0" "$(prepared)"
xt_log "(1) every participant committed ${done_ms} ms after the coordinator died"
[ "$done_ms" -lt 4000 ] || xt_fail "(1) took ${done_ms} ms (termination timeout 1000 ms)"
# The rows are free: another writer gets them at once.
xt_sql "$PGPORT" bank_a "SET lock_timeout = 500; UPDATE accounts SET balance = balance WHERE id = 1" ||
    xt_fail "(1) bank_a row still locked"
xt_sql "$PGPORT" bank_b "SET lock_timeout = 500; UPDATE accounts SET balance = balance WHERE id = 1" ||
    xt_fail "(1) bank_b row still locked"
sqlite3 -batch -cmd ".timeout 500" "$C" "UPDATE accounts SET balance = balance WHERE id = 1" ||
    xt_fail "(1) bank_c still locked"
xt_assert_grep "(1) pa led" "termination: leading gid=$gid1" "$XT_TMP/pa.log"
xt_assert_grep "(1) pa's round committed" "gid=$gid1 .*result=commit" "$XT_TMP/pa.log"
xt_assert_eq "(1) termination records gone" "0 0 0" "$(terms)"
# Restarted later, the coordinator terminates with every branch and
# journals the commit.
sleep 1
xt_start coord
xt_wait_log "$XT_TMP/coord.log" "termination: gid=$gid1 result=commit" 10
xt_wait_not_in_flight "$gid1" 10
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" recover show "$gid1" >"$XT_TMP/show1" 2>&1
xt_assert_grep "(1) reported committed" "commit" "$XT_TMP/show1"
"$XT_BUILD/xactctl" journal dump "$JOURNAL" >"$XT_TMP/dump1" 2>&1
xt_assert_grep "(1) journaled as committed" "$gid1 .*commit" "$XT_TMP/dump1"

# ---- (2) killed after the votes, before any pre-commit -----------------
# crash_before_precommits CASE XFER FAILPOINT: the coordinator dies at
# FAILPOINT during transfer XFER, and the participants roll back by
# themselves; sets GID.
crash_before_precommits() {
	xt_stop coord
	XACT_FAILPOINTS="$3=crash" xt_start coord
	xfer "$2" --protocol 3pc
	xt_wait_exit coord 10 || xt_fail "($1) the coordinator did not crash"
	GID=$(gid_of "$2")
	wait_until 10 prepared "0 0 0" || xt_fail "($1) still prepared: $(prepared)"
	xt_assert_eq "($1) rolled back everywhere" "0 0 0" "$(ledger "$2")"
	xt_assert_grep "($1) pa's round aborted" "gid=$GID .*result=abort" "$XT_TMP/pa.log"
}
crash_before_precommits 2 902 coord.before_precommit
gid2=$GID
xt_start coord
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" recover show "$gid2" >"$XT_TMP/show2" 2>&1
xt_assert_grep "(2) reported aborted" "abort" "$XT_TMP/show2"

# (2b) the pre-commit is journaled, none was sent.
crash_before_precommits 2b 903 coord.after_precommit
gid3=$GID
"$XT_BUILD/xactctl" journal dump "$JOURNAL" >"$XT_TMP/dump3" 2>&1
xt_assert_grep "(2b) pre-commit journaled" "$gid3 .*precommit" "$XT_TMP/dump3"
xt_start coord
xt_wait_log "$XT_TMP/coord.log" "termination: gid=$gid3 result=abort" 10
xt_wait_not_in_flight "$gid3" 10
sleep 0.5 # the pre-commit's removal is written lazily
"$XT_BUILD/xactctl" journal dump "$JOURNAL" >"$XT_TMP/dump3" 2>&1
grep -q "$gid3" "$XT_TMP/dump3" && { cat "$XT_TMP/dump3" >&2; xt_fail "(2b) $gid3 still in the journal"; }

# ---- (3) two leaders killed during the termination ---------------------
xt_stop pa
XACT_FAILPOINTS="term.after_precommit=crash" xt_start pa
xt_stop pb
XACT_FAILPOINTS="term.after_first_decision=crash" xt_start pb
xt_stop coord
XACT_FAILPOINTS="coord.after_precommit_sent=delay:4000" xt_start coord
xfer 904 --protocol 3pc &
xpid=$!
# PRECOMMIT went to pa only; the coordinator stalls, and is killed.
xt_wait_log "$XT_TMP/coord.log" "failpoint fired name=coord.after_precommit_sent" 10
sleep 0.3
xt_h kill coord
wait $xpid
gid4=$(gid_of 904)
xt_wait_exit pa 10 || xt_fail "(3) pa did not crash as a leader"
xt_wait_exit pb 10 || xt_fail "(3) pb did not crash as the next leader"
xt_assert_grep "(3) pa pre-committed the others" "failpoint fired name=term.after_precommit" "$XT_TMP/pa.log"
xt_assert_grep "(3) pb took over" "termination: leading gid=$gid4" "$XT_TMP/pb.log"
# pc is alone and finishes: pb had pre-committed everyone it reached.
c_done() { sqlite3 -batch "$C" "SELECT count(*) FROM ledger WHERE xfer = 904"; }
wait_until 10 c_done 1 || xt_fail "(3) pc did not commit alone"
xt_assert_grep "(3) pc led alone" "gid=$gid4 .*result=commit" "$XT_TMP/pc.log"
xt_assert_eq "(3) pb committed before it died" 1 \
    "$(xt_sql "$PGPORT" bank_b "SELECT count(*) FROM ledger WHERE xfer = 904")"
xt_assert_eq "(3) pa still pre-committed while down" 1 "$(xt_prepared "$PGPORT" bank_a)"
# They come back and end as pc did.
xt_start pa
xt_start pb
wait_until 10 "ledger 904" "1 1 1" || xt_fail "(3) after the restarts: $(ledger 904)"
xt_assert_eq "(3) nothing prepared" "0 0 0" "$(prepared)"
xt_assert_grep "(3) pa learned it" "gid=$gid4 outcome=committed learned from" "$XT_TMP/pa.log"
xt_start coord
xt_wait_log "$XT_TMP/coord.log" "termination: gid=$gid4 result=commit" 10
xt_wait_not_in_flight "$gid4" 10
xt_assert_eq "termination records gone" "0 0 0" "$(terms)"
total=$(($(xt_sql "$PGPORT" bank_a "SELECT sum(balance) FROM accounts") + \
    $(xt_sql "$PGPORT" bank_b "SELECT sum(balance) FROM accounts") + \
    $(sqlite3 -batch "$C" "SELECT sum(balance) FROM accounts")))
seed=$(($(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM accounts") * 3 * 1000))
xt_assert_eq "money is conserved" "$seed" "$total"

# ---- (5) a READ-ONLY vote is remembered across a restart ---------------
xt_stop coord
XACT_FAILPOINTS="coord.after_precommits=crash" xt_start coord
"$XT_BUILD/xactctl" --coordinator "$COORD_URL" --timeout 4000 exec --protocol 3pc \
    --on pa "UPDATE accounts SET balance = balance - 10 WHERE id = 2" \
    --on pa "INSERT INTO ledger (xfer, amount) VALUES (906, 10)" \
    --on pb "UPDATE accounts SET balance = balance + 10 WHERE id = 2" \
    --on pb "INSERT INTO ledger (xfer, amount) VALUES (906, 10)" \
    --on pc "SELECT balance FROM accounts WHERE id = 2" >"$XT_TMP/x906" 2>&1 &
xpid=$!
xt_wait_exit coord 10 || xt_fail "(5) the coordinator did not crash"
xt_h pause pa
xt_h pause pb
xt_stop pc
xt_start pc
xt_h resume pa
xt_h resume pb
wait $xpid
gid6=$(gid_of 906)
ab_done() { echo "$(xt_sql "$PGPORT" bank_a "SELECT count(*) FROM ledger WHERE xfer = 906")" \
    "$(xt_sql "$PGPORT" bank_b "SELECT count(*) FROM ledger WHERE xfer = 906")"; }
wait_until 10 ab_done "1 1" || xt_fail "(5) pa and pb did not commit: $(ab_done) $(prepared)"
xt_assert_grep "(5) pa's round committed" "gid=$gid6 .*result=commit" "$XT_TMP/pa.log"
xt_assert_eq "(5) the read-only vote is on record" readonly \
    "$(sqlite3 -batch "$XT_TMP/pc.termlog" "SELECT state FROM terms WHERE gid = '$gid6'")"
xt_start coord
xt_wait_log "$XT_TMP/coord.log" "termination: gid=$gid6 result=commit" 10

# ---- (6) a promise fences the coordinator's PRECOMMIT ------------------
for p in pa pb pc; do xt_stop $p; xt_start $p --termination-timeout 10000; done
xt_stop coord
XACT_FAILPOINTS="coord.after_precommit=delay:3000" xt_start coord
xfer 907 --protocol 3pc &
xpid=$!
xt_wait_log "$XT_TMP/coord.log" "failpoint fired name=coord.after_precommit action=delay" 10
gid7=$(sqlite3 -batch "$XT_TMP/pb.termlog" "SELECT gid FROM terms WHERE state = 'prepared'")
[ -n "$gid7" ] || xt_fail "(6) no prepared branch on pb"
xt_assert_eq "(6) pb promises ballot 999" "branch prepared fresh=1 promised=999 refused=0" \
    "$("$XT_BUILD/tests/rawsend" "$URL_pb" state "$gid7" 999)"
xt_assert_eq "(6) the coordinator's PRECOMMIT is refused" \
    "branch prepared fresh=1 promised=999 refused=1" \
    "$("$XT_BUILD/tests/rawsend" "$URL_pb" precommit "$gid7" 0)"
xt_assert_eq "(6) a lower ballot is refused" "branch prepared fresh=1 promised=999 refused=1" \
    "$("$XT_BUILD/tests/rawsend" "$URL_pb" state "$gid7" 998)"
xt_assert_eq "(6) a question is answered" "branch prepared fresh=1 promised=999 refused=0" \
    "$("$XT_BUILD/tests/rawsend" "$URL_pb" state "$gid7" 0)"
xt_assert_eq "(6) the promise is durable" 999 \
    "$(sqlite3 -batch "$XT_TMP/pb.termlog" "SELECT promised FROM terms WHERE gid = '$gid7'")"
wait $xpid
xt_wait_log "$XT_TMP/coord.log" "precommit refused gid=$gid7 .*participant=pb" 10
xt_wait_log "$XT_TMP/coord.log" "termination: gid=$gid7 result=commit" 10
wait_until 10 "ledger 907" "1 1 1" || xt_fail "(6) not committed everywhere: $(ledger 907)"
for p in pa pb pc; do xt_stop $p; xt_start $p; done

# ---- (7) a PREPARE resent after a crash between prepare and record ------
xt_stop pb
XACT_FAILPOINTS="pg.after_prepare=crash" xt_start pb
xfer 908 --protocol 3pc &
xpid=$!
xt_wait_exit pb 10 || xt_fail "(7) pb did not crash after its prepare"
xt_start pb
wait $xpid
XS=$?
wait_until 15 prepared "0 0 0" || xt_fail "(7) still prepared: $(prepared) (xactctl: $XS)"
case "$XS:$(ledger 908)" in
0:"1 1 1"|1:"0 0 0") ;;
*) cat "$XT_TMP/x908" >&2; xt_fail "(7) xactctl $XS but the ledgers hold $(ledger 908)" ;;
esac
xt_log "(7) pb restarted after its prepare; the transaction ended with exit $XS: $(ledger 908)"

# ---- (4) an agent without a termination log refuses 3PC ----------------
xt_stop pc
"$XT_BUILD/xact-participant" --name pc --listen "$URL_pc" --coordinator "$COORD_URL" \
    --backend sqlite --database "$C" >"$XT_TMP/pc-nolog.log" 2>&1 &
nolog=$!
xt_wait_log "$XT_TMP/pc-nolog.log" "listening on" 10
xfer 905 --protocol 3pc
kill "$nolog"; wait "$nolog"
xt_assert_eq "(4) aborted" 1 "$XS"
xt_assert_grep "(4) the reason" "needs a termination log" "$XT_TMP/x905"
xt_assert_eq "(4) nowhere" "0 0 0" "$(ledger 905)"
echo "ok: 3PC finished without its coordinator (${done_ms} ms), aborted before any pre-commit, survived two leaders' deaths"
