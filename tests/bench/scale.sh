# `make bench-scale`: transfers across 2, 4 and 8 PostgreSQL databases
# (two clusters, fsync on, the databases spread over them), an agent for
# each and a coordinator.  For each count, one xact-bench invocation at
# CLIENTS (16) clients: xact, xact-run and hand-rolled 2PC over the same
# databases.  Prints a table.  Not a test: it asserts nothing.
. tests/lib.sh
xt_init
CLIENTS=${CLIENTS:-16}
DURATION=${DURATION:-5}

{
	printf '[postgres ca]\nfsync = yes\n[postgres cb]\nfsync = yes\n'
	for i in 1 2 3 4 5 6 7 8; do
		printf '[database d%s]\ntype = postgres\ncluster = %s\n' "$i" "$([ $((i % 2)) = 1 ] && echo ca || echo cb)"
		printf '[participant p%s]\ndatabase = d%s\n' "$i" "$i"
	done
	printf '[coordinator coord]\nid = c1\n'
} >"$XT_TMP/scale.ini"
xt_up "$XT_TMP/scale.ini"

echo "Machine: $(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -r), PostgreSQL" \
    "$("$XT_PGBIN/postgres" --version | awk '{print $3}') (two clusters, fsync on), $(date -u +%Y-%m-%d)."
echo "xact-bench --clients $CLIENTS --duration $DURATION; database d1 pays 1 to each of the others."
echo
echo "| participants | run | tx/s | p50 ms | p99 ms | tx/s ratio to hand-2pc | decisions per fsync |"
echo "|---|---|---|---|---|---|---|"
for n in 2 4 8; do
	set -- --conninfo-a "$CONNINFO_d1" --conninfo-b "$CONNINFO_d2"
	parts=p1,p2
	i=3
	while [ $i -le $n ]; do
		set -- "$@" --conninfo "$(eval echo "\"\$CONNINFO_d$i\"")"
		parts=$parts,p$i
		i=$((i + 1))
	done
	"$XT_BUILD/xact-bench" --coordinator "$URL_coord" --participants "$parts" "$@" \
	    --clients "$CLIENTS" --duration "$DURATION" --json >"$XT_TMP/s$n.json" ||
	    xt_fail "xact-bench with $n participants failed"
	python3 - "$XT_TMP/s$n.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
h = b["runs"]["hand-2pc"]
for name in ("xact", "xact-run", "hand-2pc"):
    x = b["runs"][name]
    dpf = "%.2f" % x["decisions_per_fsync"] if "decisions_per_fsync" in x else "-"
    print("| %d | %s | %.0f | %.2f | %.2f | %.2f | %s |" % (b["participants"], name, x["tps"],
        x["p50_ms"], x["p99_ms"], x["tps"] / h["tps"], dpf))
PY
done
