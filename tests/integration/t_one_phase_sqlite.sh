# One-phase commit on an SQLite participant (see t_one_phase.sh).
XT_B_BACKEND=sqlite
XT_ONE_PHASE_ON=pb
. tests/integration/t_one_phase.sh
