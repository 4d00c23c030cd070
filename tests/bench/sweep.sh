# `make bench`: throwaway PostgreSQL clusters (two, fsync on), an agent for
# each and a coordinator; xact-bench at 1, 8, 32 and 64 clients, each with
# its baselines in the same invocation; the table goes to
# docs/performance.md (between its "bench:begin" and "bench:end" marks) and
# to standard output.  Not a test: it asserts nothing about the figures.
. tests/lib.sh
xt_init
CLIENTS=${CLIENTS:-"1 8 32 64"}
DURATION=${DURATION:-8}
OUT=${OUT:-docs/performance.md}

cat >"$XT_TMP/bench.ini" <<INI
[postgres ca]
fsync = yes
[postgres cb]
fsync = yes
[database bank_a]
type = postgres
cluster = ca
[database bank_b]
type = postgres
cluster = cb
[participant pa]
database = bank_a
[participant pb]
database = bank_b
[coordinator coord]
id = c1
INI
xt_up "$XT_TMP/bench.ini"

table="$XT_TMP/table.md"
{
	echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)," \
	    "$(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -r), PostgreSQL" \
	    "$("$XT_PGBIN/postgres" --version | awk '{print $3}') (two clusters, fsync on), $(date -u +%Y-%m-%d)."
	echo "Each group of rows: one \`xact-bench --clients N --duration $DURATION\` invocation: xact statement by statement, its baselines, and xact-run (one request per transaction), on the same databases."
	echo
	echo "| clients | run | tx/s | p50 ms | p99 ms | tx/s ratio to hand-2pc | p50 ratio | p99 ratio | decisions per fsync |"
	echo "|---|---|---|---|---|---|---|---|---|"
} >"$table"
for n in $CLIENTS; do
	xt_log "bench: $n client(s)"
	"$XT_BUILD/xact-bench" --coordinator "$URL_coord" --conninfo-a "$CONNINFO_bank_a" \
	    --conninfo-b "$CONNINFO_bank_b" --clients "$n" --duration "$DURATION" --json \
	    >"$XT_TMP/b$n.json" || xt_fail "xact-bench --clients $n failed"
	python3 - "$XT_TMP/b$n.json" >>"$table" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
h = b["runs"]["hand-2pc"]
for name in ("xact", "xact-run", "hand-2pc", "single-db"):
    x = b["runs"][name]
    dpf = "%.2f" % x["decisions_per_fsync"] if "decisions_per_fsync" in x else "-"
    print("| %d | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |" % (
        b["clients"], name, x["tps"], x["p50_ms"], x["p99_ms"], x["tps"] / h["tps"],
        x["p50_ms"] / h["p50_ms"], x["p99_ms"] / h["p99_ms"], dpf))
PY
done
cat "$table"
if [ -f "$OUT" ] && grep -q "bench:begin" "$OUT"; then
	python3 - "$OUT" "$table" <<'PY'
import sys
path, table = sys.argv[1], open(sys.argv[2]).read()
doc = open(path).read()
a = doc.index("<!-- bench:begin -->") + len("<!-- bench:begin -->")
b = doc.index("<!-- bench:end -->")
open(path, "w").write(doc[:a] + "\n" + table + doc[b:])
PY
	xt_log "bench: the table is in $OUT"
fi
