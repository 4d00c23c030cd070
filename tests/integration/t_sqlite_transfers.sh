# The 200-transfer concurrent test with one PostgreSQL and one SQLite
# participant (see t_transfers.sh).
XT_B_BACKEND=sqlite
. tests/integration/t_transfers.sh
