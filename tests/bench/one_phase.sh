# One-phase commit against two-phase commit for a transaction on one
# database (`make bench-one-phase`): one PostgreSQL cluster (fsync on), one
# agent, one coordinator, run once with one-phase commit (the default) and
# once with --one-phase off.  Each xact-bench invocation also runs, on the
# same database, a plain local transaction (single-db) and PREPARE/COMMIT
# PREPARED by hand (hand-2pc), so each row's ratios are to baselines of the
# same run.  A transfer is two UPDATEs between accounts of the database.
# Prints a table.  Not a test: it asserts nothing.
. tests/lib.sh
xt_init
DURATION=${DURATION:-5}
CLIENTS=${CLIENTS:-1 32}

printf '[postgres ca]\nfsync = yes\n[database d1]\ntype = postgres\ncluster = ca\n[participant p1]\ndatabase = d1\n[coordinator coord]\nid = c1\n' \
    >"$XT_TMP/one.ini"
xt_up "$XT_TMP/one.ini"

echo "Machine: $(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -r), PostgreSQL" \
    "$("$XT_PGBIN/postgres" --version | awk '{print $3}') (fsync on), $(date -u +%Y-%m-%d)."
echo "xact-bench --participants p1 --duration $DURATION: a transfer between two accounts of one database."
echo
echo "| one-phase | clients | run | tx/s | p50 ms | p99 ms | tx/s ratio to single-db | tx/s ratio to hand-2pc | p50 ratio to single-db | journal decisions |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for mode in on off; do
	xt_stop coord
	xt_start coord --one-phase "$mode"
	for n in $CLIENTS; do
		"$XT_BUILD/xact-bench" --coordinator "$URL_coord" --participants p1 \
		    --conninfo-a "$CONNINFO_d1" --clients "$n" --duration "$DURATION" --json \
		    >"$XT_TMP/b.json" || xt_fail "xact-bench failed (one-phase $mode, $n clients)"
		python3 - "$XT_TMP/b.json" "$mode" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
s, h = b["runs"]["single-db"], b["runs"]["hand-2pc"]
for name in ("xact", "xact-run", "single-db", "hand-2pc"):
    x = b["runs"][name]
    dec = str(x.get("decisions", "-"))
    print("| %s | %d | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |" % (sys.argv[2],
        b["clients"], name, x["tps"], x["p50_ms"], x["p99_ms"], x["tps"] / s["tps"],
        x["tps"] / h["tps"], x["p50_ms"] / s["p50_ms"], dec))
PY
	done
done
