# The crash matrix with an SQLite participant (see t_crash_points.sh).
XT_B_BACKEND=sqlite
. tests/integration/t_crash_points.sh
