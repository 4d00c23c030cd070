/*
 * test_branch.c - the participant branch transition table
 * (participant/branch.h): which backend operation each request needs in
 * each state, and where every result of it leads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "branch.h"

#define NSTATES (BR_PRECOMMITTED + 1)
#define NREQS (BREQ_COMMIT_ONE_PHASE + 1)
#define NRESULTS (BRES_COMMITTED_ALREADY + 1)

static const enum branch_result all_results[NRESULTS] = {
	BRES_OK, BRES_READ_ONLY, BRES_FAILED, BRES_TRANSIENT, BRES_NOT_FOUND,
	BRES_COMMITTED_ALREADY,
};

static const char *
res_name(enum branch_result r)
{
	static const char *const n[] = {"ok", "read-only", "failed", "transient", "not-found",
		"committed-already"};

	return n[r];
}

#define ASSERT_OP(s, r, want) do { \
	enum branch_op got_ = branch_op_for(s, r); \
	if (got_ != (want)) { \
		fail_msg("%s + %s: op %s, want %s", branch_state_name(s), branch_req_name(r), \
		    branch_op_name(got_), branch_op_name(want)); \
	} \
} while (0)

#define ASSERT_AFTER(s, r, res, want) do { \
	enum branch_state got_ = branch_after(s, r, res); \
	if (got_ != (want)) { \
		fail_msg("%s + %s -> %s: state %s, want %s", branch_state_name(s), \
		    branch_req_name(r), res_name(res), branch_state_name(got_), \
		    branch_state_name(want)); \
	} \
} while (0)

/* ---- branch_op_for, one state at a time ---- */

static void
unknown_branch_begins_on_exec_votes_from_state_on_prepare_and_finishes_by_gid(void **state)
{
	(void)state;
	ASSERT_OP(BR_NONE, BREQ_EXEC, BOP_BEGIN_EXEC);
	ASSERT_OP(BR_NONE, BREQ_PREPARE, BOP_NONE);
	/* forgotten after a restart: the database may still hold it prepared */
	ASSERT_OP(BR_NONE, BREQ_COMMIT, BOP_COMMIT_PREPARED);
	ASSERT_OP(BR_NONE, BREQ_ABORT, BOP_ROLLBACK_PREPARED);
}

static void
active_branch_runs_statements_prepares_rolls_back_and_refuses_commit(void **state)
{
	(void)state;
	ASSERT_OP(BR_ACTIVE, BREQ_EXEC, BOP_EXEC);
	ASSERT_OP(BR_ACTIVE, BREQ_PREPARE, BOP_PREPARE);
	ASSERT_OP(BR_ACTIVE, BREQ_COMMIT, BOP_REFUSE); /* never voted YES */
	ASSERT_OP(BR_ACTIVE, BREQ_ABORT, BOP_ROLLBACK);
}

static void
prepared_branch_refuses_statements_revotes_and_finishes_by_gid(void **state)
{
	(void)state;
	ASSERT_OP(BR_PREPARED, BREQ_EXEC, BOP_REFUSE);
	ASSERT_OP(BR_PREPARED, BREQ_PREPARE, BOP_NONE); /* votes YES again */
	ASSERT_OP(BR_PREPARED, BREQ_COMMIT, BOP_COMMIT_PREPARED);
	ASSERT_OP(BR_PREPARED, BREQ_ABORT, BOP_ROLLBACK_PREPARED);
}

static void
committed_branch_refuses_statements_and_answers_the_rest_from_its_state(void **state)
{
	(void)state;
	ASSERT_OP(BR_COMMITTED, BREQ_EXEC, BOP_REFUSE);
	ASSERT_OP(BR_COMMITTED, BREQ_PREPARE, BOP_NONE);
	ASSERT_OP(BR_COMMITTED, BREQ_COMMIT, BOP_NONE);
	ASSERT_OP(BR_COMMITTED, BREQ_ABORT, BOP_NONE);
}

static void
late_exec_on_aborted_branch_is_refused_and_late_prepare_answered_from_state(void **state)
{
	(void)state;
	ASSERT_OP(BR_ABORTED, BREQ_EXEC, BOP_REFUSE);
	ASSERT_OP(BR_ABORTED, BREQ_PREPARE, BOP_NONE); /* no operation: votes NO */
	ASSERT_OP(BR_ABORTED, BREQ_COMMIT, BOP_NONE);
	/* A repeated ABORT asks the database again: a PREPARE cut off by a
	 * crash may have completed after the branch was given up. */
	ASSERT_OP(BR_ABORTED, BREQ_ABORT, BOP_ROLLBACK_PREPARED);
	for (int i = 0; i < NRESULTS; i++) {
		ASSERT_AFTER(BR_ABORTED, BREQ_EXEC, all_results[i], BR_ABORTED);
		ASSERT_AFTER(BR_ABORTED, BREQ_PREPARE, all_results[i], BR_ABORTED);
		/* ... and the database's marker has the last word */
		ASSERT_AFTER(BR_ABORTED, BREQ_ABORT, all_results[i],
		    all_results[i] == BRES_COMMITTED_ALREADY ? BR_COMMITTED : BR_ABORTED);
	}
}

static void
read_only_branch_is_finished_and_runs_nothing_more(void **state)
{
	(void)state;
	ASSERT_OP(BR_READ_ONLY, BREQ_EXEC, BOP_REFUSE);
	ASSERT_OP(BR_READ_ONLY, BREQ_PREPARE, BOP_NONE);
	ASSERT_OP(BR_READ_ONLY, BREQ_COMMIT, BOP_NONE);
	ASSERT_OP(BR_READ_ONLY, BREQ_ABORT, BOP_NONE);
}

/* ---- branch_after, one operation at a time ---- */

static void
begin_exec_ok_activates_and_every_failure_aborts(void **state)
{
	(void)state;
	ASSERT_AFTER(BR_NONE, BREQ_EXEC, BRES_OK, BR_ACTIVE);
	ASSERT_AFTER(BR_NONE, BREQ_EXEC, BRES_FAILED, BR_ABORTED);
	ASSERT_AFTER(BR_NONE, BREQ_EXEC, BRES_TRANSIENT, BR_ABORTED);
	ASSERT_AFTER(BR_NONE, BREQ_EXEC, BRES_READ_ONLY, BR_ABORTED);
	ASSERT_AFTER(BR_NONE, BREQ_EXEC, BRES_NOT_FOUND, BR_ABORTED);
}

static void
exec_in_active_branch_ok_stays_active_and_every_failure_aborts(void **state)
{
	(void)state;
	ASSERT_AFTER(BR_ACTIVE, BREQ_EXEC, BRES_OK, BR_ACTIVE);
	ASSERT_AFTER(BR_ACTIVE, BREQ_EXEC, BRES_FAILED, BR_ABORTED);
	ASSERT_AFTER(BR_ACTIVE, BREQ_EXEC, BRES_TRANSIENT, BR_ABORTED);
	ASSERT_AFTER(BR_ACTIVE, BREQ_EXEC, BRES_READ_ONLY, BR_ABORTED);
	ASSERT_AFTER(BR_ACTIVE, BREQ_EXEC, BRES_NOT_FOUND, BR_ABORTED);
}

static void
prepare_ok_prepares_read_only_finishes_transient_forgets_and_failure_aborts(void **state)
{
	(void)state;
	ASSERT_AFTER(BR_ACTIVE, BREQ_PREPARE, BRES_OK, BR_PREPARED);
	ASSERT_AFTER(BR_ACTIVE, BREQ_PREPARE, BRES_READ_ONLY, BR_READ_ONLY);
	/* may or may not be prepared: NONE, so that ABORT rolls back by gid */
	ASSERT_AFTER(BR_ACTIVE, BREQ_PREPARE, BRES_TRANSIENT, BR_NONE);
	ASSERT_AFTER(BR_ACTIVE, BREQ_PREPARE, BRES_FAILED, BR_ABORTED);
	ASSERT_AFTER(BR_ACTIVE, BREQ_PREPARE, BRES_NOT_FOUND, BR_ABORTED);
	/* a transiently failed PREPARE is then aborted by gid */
	ASSERT_OP(branch_after(BR_ACTIVE, BREQ_PREPARE, BRES_TRANSIENT), BREQ_ABORT,
	    BOP_ROLLBACK_PREPARED);
}

static void
rollback_of_an_active_branch_aborts_whatever_the_result(void **state)
{
	(void)state;
	for (int i = 0; i < NRESULTS; i++) {
		ASSERT_AFTER(BR_ACTIVE, BREQ_ABORT, all_results[i], BR_ABORTED);
	}
}

static void
commit_prepared_ok_commits_not_found_is_a_heuristic_abort(void **state)
{
	(void)state;
	ASSERT_AFTER(BR_PREPARED, BREQ_COMMIT, BRES_OK, BR_COMMITTED);
	/* gone with its marker: an earlier COMMIT whose answer was lost */
	ASSERT_AFTER(BR_PREPARED, BREQ_COMMIT, BRES_COMMITTED_ALREADY, BR_COMMITTED);
	/* gone without a marker: rolled back by hand, reported as aborted */
	ASSERT_AFTER(BR_PREPARED, BREQ_COMMIT, BRES_NOT_FOUND, BR_ABORTED);
	ASSERT_AFTER(BR_PREPARED, BREQ_COMMIT, BRES_TRANSIENT, BR_PREPARED);
	ASSERT_AFTER(BR_PREPARED, BREQ_COMMIT, BRES_FAILED, BR_PREPARED);
	ASSERT_AFTER(BR_PREPARED, BREQ_COMMIT, BRES_READ_ONLY, BR_PREPARED);

	ASSERT_AFTER(BR_NONE, BREQ_COMMIT, BRES_OK, BR_COMMITTED);
	ASSERT_AFTER(BR_NONE, BREQ_COMMIT, BRES_NOT_FOUND, BR_ABORTED);
	ASSERT_AFTER(BR_NONE, BREQ_COMMIT, BRES_TRANSIENT, BR_NONE);
	ASSERT_AFTER(BR_NONE, BREQ_COMMIT, BRES_FAILED, BR_NONE);
	ASSERT_AFTER(BR_NONE, BREQ_COMMIT, BRES_READ_ONLY, BR_NONE);
}

static void
rollback_prepared_ok_or_not_found_aborts_and_other_results_keep_the_state(void **state)
{
	(void)state;
	ASSERT_AFTER(BR_PREPARED, BREQ_ABORT, BRES_OK, BR_ABORTED);
	ASSERT_AFTER(BR_PREPARED, BREQ_ABORT, BRES_NOT_FOUND, BR_ABORTED);
	ASSERT_AFTER(BR_PREPARED, BREQ_ABORT, BRES_TRANSIENT, BR_PREPARED);
	ASSERT_AFTER(BR_PREPARED, BREQ_ABORT, BRES_FAILED, BR_PREPARED);
	ASSERT_AFTER(BR_PREPARED, BREQ_ABORT, BRES_READ_ONLY, BR_PREPARED);

	ASSERT_AFTER(BR_NONE, BREQ_ABORT, BRES_OK, BR_ABORTED);
	ASSERT_AFTER(BR_NONE, BREQ_ABORT, BRES_NOT_FOUND, BR_ABORTED);
	ASSERT_AFTER(BR_NONE, BREQ_ABORT, BRES_TRANSIENT, BR_NONE);
	ASSERT_AFTER(BR_NONE, BREQ_ABORT, BRES_FAILED, BR_NONE);
	ASSERT_AFTER(BR_NONE, BREQ_ABORT, BRES_READ_ONLY, BR_NONE);
}

static void
prepare_of_an_unknown_branch_votes_no_and_remembers_it_aborted(void **state)
{
	(void)state;
	for (int i = 0; i < NRESULTS; i++) {
		ASSERT_AFTER(BR_NONE, BREQ_PREPARE, all_results[i], BR_ABORTED);
	}
	/* so that a statement arriving after that PREPARE is refused */
	ASSERT_OP(branch_after(BR_NONE, BREQ_PREPARE, BRES_OK), BREQ_EXEC, BOP_REFUSE);
}

static void
no_op_and_refused_requests_leave_the_state_whatever_the_result(void **state)
{
	int checked = 0;

	(void)state;
	for (int s = 0; s < NSTATES; s++) {
		for (int r = 0; r < NREQS; r++) {
			enum branch_op op = branch_op_for((enum branch_state)s, (enum branch_req)r);

			if (op != BOP_NONE && op != BOP_REFUSE) {
				continue;
			}
			if (s == BR_NONE && r == BREQ_PREPARE) {
				continue; /* the one remembered NO vote, tested above */
			}
			for (int i = 0; i < NRESULTS; i++) {
				ASSERT_AFTER((enum branch_state)s, (enum branch_req)r, all_results[i],
				    (enum branch_state)s);
			}
			checked++;
		}
	}
	/* 3 final states x 6, less ABORTED's ABORT (it asks the database),
	 * + PREPARED (EXEC, PREPARE, COMMIT_ONE_PHASE: NONE) + ACTIVE (COMMIT,
	 * PRECOMMIT) + NONE's PRECOMMIT + PRECOMMITTED (EXEC, PREPARE,
	 * PRECOMMIT, COMMIT_ONE_PHASE) */
	assert_int_equal(checked, 3 * 6 - 1 + 3 + 2 + 1 + 4);
}

/* ---- the whole table at once ---- */

static void
every_cell_of_the_table_matches_the_documented_transitions(void **state)
{
	static const enum branch_op ops[NSTATES][NREQS] = {
		[BR_NONE] = {BOP_BEGIN_EXEC, BOP_NONE, BOP_COMMIT_PREPARED, BOP_ROLLBACK_PREPARED,
		    BOP_REFUSE, BOP_FENCE},
		[BR_ACTIVE] = {BOP_EXEC, BOP_PREPARE, BOP_REFUSE, BOP_ROLLBACK, BOP_REFUSE,
		    BOP_COMMIT_ONE_PHASE},
		[BR_PREPARED] = {BOP_REFUSE, BOP_NONE, BOP_COMMIT_PREPARED, BOP_ROLLBACK_PREPARED,
		    BOP_LOG_PRECOMMIT, BOP_NONE},
		[BR_COMMITTED] = {BOP_REFUSE, BOP_NONE, BOP_NONE, BOP_NONE, BOP_NONE, BOP_NONE},
		[BR_ABORTED] = {BOP_REFUSE, BOP_NONE, BOP_NONE, BOP_ROLLBACK_PREPARED, BOP_REFUSE,
		    BOP_NONE},
		[BR_READ_ONLY] = {BOP_REFUSE, BOP_NONE, BOP_NONE, BOP_NONE, BOP_NONE, BOP_NONE},
		[BR_PRECOMMITTED] = {BOP_REFUSE, BOP_NONE, BOP_COMMIT_PREPARED, BOP_ROLLBACK_PREPARED,
		    BOP_NONE, BOP_REFUSE},
	};
#define N BR_NONE
#define AC BR_ACTIVE
#define P BR_PREPARED
#define CO BR_COMMITTED
#define AB BR_ABORTED
#define RO BR_READ_ONLY
#define PC BR_PRECOMMITTED
	/* after[state][request][result]: OK, READ_ONLY, FAILED, TRANSIENT, NOT_FOUND */
	static const enum branch_state after[NSTATES][NREQS][NRESULTS] = {
		/* results: ok, read-only, failed, transient, not-found, committed-already */
		[BR_NONE] = {
			{AC, AB, AB, AB, AB, AB}, {AB, AB, AB, AB, AB, AB},
			{CO, N, N, N, AB, CO}, {AB, N, N, N, AB, CO}, {N, N, N, N, N, N},
			{AB, N, N, N, AB, CO}},
		[BR_ACTIVE] = {
			{AC, AB, AB, AB, AB, AB}, {P, RO, AB, N, AB, AB},
			{AC, AC, AC, AC, AC, AC}, {AB, AB, AB, AB, AB, AB}, {AC, AC, AC, AC, AC, AC},
			{CO, RO, AB, N, AB, CO}},
		[BR_PREPARED] = {
			{P, P, P, P, P, P}, {P, P, P, P, P, P},
			{CO, P, P, P, AB, CO}, {AB, P, P, P, AB, CO}, {PC, P, P, P, P, P},
			{P, P, P, P, P, P}},
		[BR_COMMITTED] = {
			{CO, CO, CO, CO, CO, CO}, {CO, CO, CO, CO, CO, CO},
			{CO, CO, CO, CO, CO, CO}, {CO, CO, CO, CO, CO, CO}, {CO, CO, CO, CO, CO, CO},
			{CO, CO, CO, CO, CO, CO}},
		[BR_ABORTED] = {
			{AB, AB, AB, AB, AB, AB}, {AB, AB, AB, AB, AB, AB},
			{AB, AB, AB, AB, AB, AB}, {AB, AB, AB, AB, AB, CO}, {AB, AB, AB, AB, AB, AB},
			{AB, AB, AB, AB, AB, AB}},
		[BR_READ_ONLY] = {
			{RO, RO, RO, RO, RO, RO}, {RO, RO, RO, RO, RO, RO},
			{RO, RO, RO, RO, RO, RO}, {RO, RO, RO, RO, RO, RO}, {RO, RO, RO, RO, RO, RO},
			{RO, RO, RO, RO, RO, RO}},
		[BR_PRECOMMITTED] = {
			{PC, PC, PC, PC, PC, PC}, {PC, PC, PC, PC, PC, PC},
			{CO, PC, PC, PC, AB, CO}, {AB, PC, PC, PC, AB, CO}, {PC, PC, PC, PC, PC, PC},
			{PC, PC, PC, PC, PC, PC}},
	};
#undef N
#undef AC
#undef P
#undef CO
#undef AB
#undef RO
#undef PC
	int bad = 0;

	(void)state;
	for (int s = 0; s < NSTATES; s++) {
		for (int r = 0; r < NREQS; r++) {
			enum branch_op op = branch_op_for((enum branch_state)s, (enum branch_req)r);

			if (op != ops[s][r]) {
				print_error("op %s + %s: %s, want %s\n",
				    branch_state_name((enum branch_state)s),
				    branch_req_name((enum branch_req)r), branch_op_name(op),
				    branch_op_name(ops[s][r]));
				bad++;
			}
			for (int i = 0; i < NRESULTS; i++) {
				enum branch_state got = branch_after((enum branch_state)s,
				    (enum branch_req)r, all_results[i]);

				if (got != after[s][r][i]) {
					print_error("after %s + %s -> %s: %s, want %s\n",
					    branch_state_name((enum branch_state)s),
					    branch_req_name((enum branch_req)r), res_name(all_results[i]),
					    branch_state_name(got), branch_state_name(after[s][r][i]));
					bad++;
				}
			}
		}
	}
	assert_int_equal(bad, 0);
}

/* ---- invariants of branch.h, over every (state, request, result) ---- */

static void
prepared_is_entered_only_by_a_successful_prepare(void **state)
{
	(void)state;
	for (int s = 0; s < NSTATES; s++) {
		for (int r = 0; r < NREQS; r++) {
			for (int i = 0; i < NRESULTS; i++) {
				enum branch_state to = branch_after((enum branch_state)s,
				    (enum branch_req)r, all_results[i]);

				if (to == BR_PREPARED && s != BR_PREPARED) {
					assert_int_equal(branch_op_for((enum branch_state)s,
					    (enum branch_req)r), BOP_PREPARE);
					assert_int_equal(all_results[i], BRES_OK);
				}
			}
		}
	}
}

static void
final_states_never_change_and_run_no_operation(void **state)
{
	const enum branch_state finals[] = {BR_COMMITTED, BR_ABORTED, BR_READ_ONLY};

	(void)state;
	for (size_t f = 0; f < sizeof(finals) / sizeof(*finals); f++) {
		for (int r = 0; r < NREQS; r++) {
			enum branch_op op = branch_op_for(finals[f], (enum branch_req)r);

			if (finals[f] == BR_ABORTED && r == BREQ_ABORT) {
				assert_int_equal(op, BOP_ROLLBACK_PREPARED);
			} else {
				assert_true(op == BOP_NONE || op == BOP_REFUSE);
			}
			for (int i = 0; i < NRESULTS; i++) {
				/* the one exception: the marker says it committed */
				int marker = finals[f] == BR_ABORTED && r == BREQ_ABORT &&
				    all_results[i] == BRES_COMMITTED_ALREADY;

				ASSERT_AFTER(finals[f], (enum branch_req)r, all_results[i],
				    marker ? BR_COMMITTED : finals[f]);
			}
		}
	}
}

static void
transient_failure_of_commit_or_abort_leaves_a_prepared_branch_prepared(void **state)
{
	(void)state;
	ASSERT_AFTER(BR_PREPARED, BREQ_COMMIT, BRES_TRANSIENT, BR_PREPARED);
	ASSERT_AFTER(BR_PREPARED, BREQ_ABORT, BRES_TRANSIENT, BR_PREPARED);
	/* and the retry runs the operation again */
	ASSERT_OP(BR_PREPARED, BREQ_COMMIT, BOP_COMMIT_PREPARED);
	ASSERT_OP(BR_PREPARED, BREQ_ABORT, BOP_ROLLBACK_PREPARED);
}

/* Drives a branch through requests as the agent would. */
static enum branch_state
run(enum branch_state s, enum branch_req r, enum branch_result res, enum branch_op *op)
{
	*op = branch_op_for(s, r);
	return branch_after(s, r, res);
}

static void
life_of_a_committed_branch_runs_each_operation_once(void **state)
{
	enum branch_state s = BR_NONE;
	enum branch_op op;

	(void)state;
	s = run(s, BREQ_EXEC, BRES_OK, &op);
	assert_int_equal(op, BOP_BEGIN_EXEC);
	s = run(s, BREQ_EXEC, BRES_OK, &op);
	assert_int_equal(op, BOP_EXEC);
	s = run(s, BREQ_PREPARE, BRES_OK, &op);
	assert_int_equal(op, BOP_PREPARE);
	assert_int_equal(s, BR_PREPARED);
	s = run(s, BREQ_PREPARE, BRES_OK, &op); /* repeated PREPARE */
	assert_int_equal(op, BOP_NONE);
	s = run(s, BREQ_COMMIT, BRES_TRANSIENT, &op);
	assert_int_equal(s, BR_PREPARED);
	s = run(s, BREQ_COMMIT, BRES_OK, &op);
	assert_int_equal(op, BOP_COMMIT_PREPARED);
	assert_int_equal(s, BR_COMMITTED);
	s = run(s, BREQ_COMMIT, BRES_OK, &op); /* repeated COMMIT */
	assert_int_equal(op, BOP_NONE);
	s = run(s, BREQ_ABORT, BRES_OK, &op); /* late ABORT */
	assert_int_equal(op, BOP_NONE);
	assert_int_equal(s, BR_COMMITTED);
}

static void
life_of_a_failed_branch_refuses_what_comes_late(void **state)
{
	enum branch_state s = BR_NONE;
	enum branch_op op;

	(void)state;
	s = run(s, BREQ_EXEC, BRES_OK, &op);
	s = run(s, BREQ_EXEC, BRES_FAILED, &op);
	assert_int_equal(s, BR_ABORTED);
	s = run(s, BREQ_EXEC, BRES_OK, &op);
	assert_int_equal(op, BOP_REFUSE);
	s = run(s, BREQ_PREPARE, BRES_OK, &op);
	assert_int_equal(op, BOP_NONE);
	assert_int_equal(s, BR_ABORTED);
	s = run(s, BREQ_ABORT, BRES_NOT_FOUND, &op);
	assert_int_equal(op, BOP_ROLLBACK_PREPARED);
	assert_int_equal(s, BR_ABORTED);
}

/* One-phase commit: its answer is the outcome, so a lost result is never
 * taken for an abort; the next request fences the gid and learns it. */
static void
one_phase_commit_whose_result_is_lost_is_settled_by_a_fence(void **state)
{
	enum branch_state s = BR_NONE;
	enum branch_op op;

	(void)state;
	s = run(s, BREQ_EXEC, BRES_OK, &op);
	s = run(s, BREQ_COMMIT_ONE_PHASE, BRES_TRANSIENT, &op);
	assert_int_equal(op, BOP_COMMIT_ONE_PHASE);
	assert_int_equal(s, BR_NONE);
	s = run(s, BREQ_COMMIT_ONE_PHASE, BRES_TRANSIENT, &op); /* database still away */
	assert_int_equal(op, BOP_FENCE);
	assert_int_equal(s, BR_NONE);
	s = run(s, BREQ_COMMIT_ONE_PHASE, BRES_COMMITTED_ALREADY, &op);
	assert_int_equal(s, BR_COMMITTED);
	s = run(s, BREQ_COMMIT_ONE_PHASE, BRES_FAILED, &op); /* a repeat */
	assert_int_equal(op, BOP_NONE);
	assert_int_equal(s, BR_COMMITTED);
	/* no marker: fenced, it can never commit; a late statement is refused */
	s = run(BR_NONE, BREQ_COMMIT_ONE_PHASE, BRES_NOT_FOUND, &op);
	assert_int_equal(s, BR_ABORTED);
	assert_int_equal(branch_op_for(s, BREQ_EXEC), BOP_REFUSE);
	assert_int_equal(branch_op_for(s, BREQ_COMMIT_ONE_PHASE), BOP_NONE);
	/* a prepared branch is 2PC's: never committed in one phase (it votes
	 * YES again, and the coordinator goes on in two phases) */
	assert_int_equal(branch_op_for(BR_PREPARED, BREQ_COMMIT_ONE_PHASE), BOP_NONE);
	assert_int_equal(branch_after(BR_PREPARED, BREQ_COMMIT_ONE_PHASE, BRES_OK), BR_PREPARED);
	assert_int_equal(branch_op_for(BR_PRECOMMITTED, BREQ_COMMIT_ONE_PHASE), BOP_REFUSE);
}

/* A branch ends COMMITTED only by a commit that succeeded or by its marker. */
static void
committed_is_entered_only_by_a_commit_or_a_marker(void **state)
{
	(void)state;
	for (int s = 0; s < NSTATES; s++) {
		for (int r = 0; r < NREQS; r++) {
			enum branch_op op = branch_op_for((enum branch_state)s, (enum branch_req)r);

			for (int i = 0; i < NRESULTS; i++) {
				enum branch_state to = branch_after((enum branch_state)s,
				    (enum branch_req)r, all_results[i]);

				if (to != BR_COMMITTED || s == BR_COMMITTED) {
					continue;
				}
				if (all_results[i] == BRES_COMMITTED_ALREADY) {
					continue; /* the marker says so */
				}
				assert_int_equal(all_results[i], BRES_OK);
				assert_true(op == BOP_COMMIT_PREPARED || op == BOP_COMMIT_ONE_PHASE);
			}
		}
	}
}

static void
names_are_distinct_and_out_of_range_is_question_mark(void **state)
{
	(void)state;
	for (int i = 0; i < NSTATES; i++) {
		assert_string_not_equal(branch_state_name((enum branch_state)i), "?");
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(branch_state_name((enum branch_state)i),
			    branch_state_name((enum branch_state)j));
		}
	}
	for (int i = 0; i < NREQS; i++) {
		assert_string_not_equal(branch_req_name((enum branch_req)i), "?");
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(branch_req_name((enum branch_req)i),
			    branch_req_name((enum branch_req)j));
		}
	}
	for (int i = 0; i <= BOP_FENCE; i++) {
		assert_string_not_equal(branch_op_name((enum branch_op)i), "?");
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(branch_op_name((enum branch_op)i),
			    branch_op_name((enum branch_op)j));
		}
	}
	assert_string_equal(branch_state_name(BR_PREPARED), "prepared");
	assert_string_equal(branch_req_name(BREQ_ABORT), "abort");
	assert_string_equal(branch_op_name(BOP_COMMIT_PREPARED), "commit-prepared");
	assert_string_equal(branch_state_name((enum branch_state)NSTATES), "?");
	assert_string_equal(branch_req_name((enum branch_req)NREQS), "?");
	assert_string_equal(branch_op_name((enum branch_op)(BOP_FENCE + 1)), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unknown_branch_begins_on_exec_votes_from_state_on_prepare_and_finishes_by_gid),
		cmocka_unit_test(active_branch_runs_statements_prepares_rolls_back_and_refuses_commit),
		cmocka_unit_test(prepared_branch_refuses_statements_revotes_and_finishes_by_gid),
		cmocka_unit_test(committed_branch_refuses_statements_and_answers_the_rest_from_its_state),
		cmocka_unit_test(late_exec_on_aborted_branch_is_refused_and_late_prepare_answered_from_state),
		cmocka_unit_test(read_only_branch_is_finished_and_runs_nothing_more),
		cmocka_unit_test(begin_exec_ok_activates_and_every_failure_aborts),
		cmocka_unit_test(exec_in_active_branch_ok_stays_active_and_every_failure_aborts),
		cmocka_unit_test(prepare_ok_prepares_read_only_finishes_transient_forgets_and_failure_aborts),
		cmocka_unit_test(rollback_of_an_active_branch_aborts_whatever_the_result),
		cmocka_unit_test(commit_prepared_ok_commits_not_found_is_a_heuristic_abort),
		cmocka_unit_test(rollback_prepared_ok_or_not_found_aborts_and_other_results_keep_the_state),
		cmocka_unit_test(prepare_of_an_unknown_branch_votes_no_and_remembers_it_aborted),
		cmocka_unit_test(no_op_and_refused_requests_leave_the_state_whatever_the_result),
		cmocka_unit_test(every_cell_of_the_table_matches_the_documented_transitions),
		cmocka_unit_test(prepared_is_entered_only_by_a_successful_prepare),
		cmocka_unit_test(final_states_never_change_and_run_no_operation),
		cmocka_unit_test(transient_failure_of_commit_or_abort_leaves_a_prepared_branch_prepared),
		cmocka_unit_test(life_of_a_committed_branch_runs_each_operation_once),
		cmocka_unit_test(life_of_a_failed_branch_refuses_what_comes_late),
		cmocka_unit_test(one_phase_commit_whose_result_is_lost_is_settled_by_a_fence),
		cmocka_unit_test(committed_is_entered_only_by_a_commit_or_a_marker),
		cmocka_unit_test(names_are_distinct_and_out_of_range_is_question_mark),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
