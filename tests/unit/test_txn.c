/*
 * test_txn.c - the coordinator's transaction state machine (coordinator/txn.h).
 *
 * Every test drives a struct txn through txn_step() and checks the exact
 * actions it asks the I/O layer to carry out, in order, and the state left
 * behind.  Participant ids are deliberately not 0..n-1 so that a mix-up of
 * index and pid shows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "txn.h"
#include "xact.h"

#define A 3
#define B 7
#define C 11

static const int PIDS[3] = {A, B, C};

/* Actions of the last step. */
static struct txn_actions acts;

struct want {
	enum txn_action_type type;
	int pid;
	int err;
};

static const char *
act_name(enum txn_action_type t)
{
	switch (t) {
	case TXN_ACT_SEND_EXEC: return "SEND_EXEC";
	case TXN_ACT_SEND_PREPARE: return "SEND_PREPARE";
	case TXN_ACT_FORCE_COMMIT: return "FORCE_COMMIT";
	case TXN_ACT_SEND_COMMIT: return "SEND_COMMIT";
	case TXN_ACT_SEND_ABORT: return "SEND_ABORT";
	case TXN_ACT_REPLY_EXEC: return "REPLY_EXEC";
	case TXN_ACT_REPLY_OUTCOME: return "REPLY_OUTCOME";
	case TXN_ACT_LOG_COMPLETE: return "LOG_COMPLETE";
	case TXN_ACT_FORGET: return "FORGET";
	case TXN_ACT_FORCE_PRECOMMIT: return "FORCE_PRECOMMIT";
	case TXN_ACT_SEND_PRECOMMIT: return "SEND_PRECOMMIT";
	case TXN_ACT_SEND_ONE_PHASE: return "SEND_ONE_PHASE";
	}
	return "?";
}

static void
print_actions(const char *what, const struct txn_actions *a)
{
	print_error("%s (%d):", what, a->n);
	for (int i = 0; i < a->n; i++) {
		print_error(" %s(pid=%d,err=%d)", act_name(a->a[i].type), a->a[i].pid, a->a[i].err);
	}
	print_error("\n");
}

static void
check_actions(const struct want *w, int n, const char *file, int line)
{
	int ok = acts.n == n;

	for (int i = 0; ok && i < n; i++) {
		ok = acts.a[i].type == w[i].type && acts.a[i].pid == w[i].pid &&
		    acts.a[i].err == w[i].err;
	}
	if (!ok) {
		struct txn_actions exp = {0};

		for (int i = 0; i < n; i++) {
			exp.a[i].type = w[i].type;
			exp.a[i].pid = w[i].pid;
			exp.a[i].err = w[i].err;
		}
		exp.n = n;
		print_actions("expected", &exp);
		print_actions("got     ", &acts);
		_fail(file, line);
	}
}

/* Exact list of actions of the last step, in order. */
#define W(type, pid) {TXN_ACT_##type, pid, 0}
#define WE(type, pid, err) {TXN_ACT_##type, pid, err}
#define NOPID (-1)
#define EXPECT(...) do { \
	const struct want w_[] = {__VA_ARGS__}; \
	check_actions(w_, (int)(sizeof(w_) / sizeof(*w_)), __FILE__, __LINE__); \
} while (0)
#define EXPECT_NONE() _assert_int_equal(acts.n, 0, __FILE__, __LINE__)

static int
step_full(struct txn *t, enum txn_event_type type, int pid, int err, const char *reason)
{
	struct txn_event e = {type, pid, err, reason};

	return txn_step(t, &e, &acts);
}

static int
step(struct txn *t, enum txn_event_type type, int pid)
{
	return step_full(t, type, pid, 0, NULL);
}

/* The step is accepted. */
#define STEP(t, type, pid) _assert_int_equal(step(t, TXN_EV_##type, pid), 0, __FILE__, __LINE__)
#define STEPR(t, type, pid, err, reason) \
	_assert_int_equal(step_full(t, TXN_EV_##type, pid, err, reason), 0, __FILE__, __LINE__)

/* The step returns rv, emits nothing and leaves the transaction unchanged. */
static void
no_change(struct txn *t, enum txn_event_type type, int pid, int rv, const char *file, int line)
{
	struct txn before = *t;
	int got = step(t, type, pid);

	if (got != rv || acts.n != 0 || memcmp(&before, t, sizeof(before)) != 0) {
		print_error("event %s pid=%d in state %s: rv %d (want %d), %d actions, %s\n",
		    txn_event_name(type), pid, txn_state_name(before.state), got, rv, acts.n,
		    memcmp(&before, t, sizeof(before)) ? "txn changed" : "txn unchanged");
		_fail(file, line);
	}
}

#define REFUSED(t, type, pid) no_change(t, TXN_EV_##type, pid, XACT_ESTATE, __FILE__, __LINE__)
#define IGNORED(t, type, pid) no_change(t, TXN_EV_##type, pid, 0, __FILE__, __LINE__)

static int
count_type(enum txn_action_type type)
{
	int n = 0;

	for (int i = 0; i < acts.n; i++) {
		n += acts.a[i].type == type;
	}
	return n;
}

static const struct txn_part *
part_of(const struct txn *t, int pid)
{
	for (int i = 0; i < t->nparts; i++) {
		if (t->parts[i].pid == pid) {
			return &t->parts[i];
		}
	}
	fail_msg("pid %d is not a participant", pid);
	return NULL;
}

/* ---- builders: a transaction in a given state, with n participants ---- */

static void
make_active(struct txn *t, int n)
{
	txn_init(t, "xact:c1:42");
	for (int i = 0; i < n; i++) {
		STEP(t, EXEC, PIDS[i]);
		STEP(t, EXEC_DONE, PIDS[i]);
	}
	assert_int_equal(t->state, TXN_ACTIVE);
	assert_int_equal(t->nparts, n);
}

static void
make_executing(struct txn *t, int n, int pid)
{
	make_active(t, n);
	STEP(t, EXEC, pid);
	assert_int_equal(t->state, TXN_EXECUTING);
}

static void
make_preparing(struct txn *t, int n)
{
	make_active(t, n);
	STEP(t, COMMIT, NOPID);
	assert_int_equal(t->state, TXN_PREPARING);
}

static void
make_logging(struct txn *t, int n)
{
	make_preparing(t, n);
	for (int i = 0; i < n; i++) {
		STEP(t, VOTE_YES, PIDS[i]);
	}
	assert_int_equal(t->state, TXN_LOGGING);
}

static void
make_committing(struct txn *t, int n)
{
	make_logging(t, n);
	STEP(t, LOGGED, NOPID);
	assert_int_equal(t->state, TXN_COMMITTING);
}

/* Rolled back by the client, who has been answered; ABORT sent to all. */
static void
make_aborting(struct txn *t, int n)
{
	make_active(t, n);
	STEP(t, ROLLBACK, NOPID);
	assert_int_equal(t->state, TXN_ABORTING);
}

static void
make_committed(struct txn *t)
{
	make_committing(t, 2);
	STEP(t, ACK, A);
	STEP(t, ACK, B);
	assert_int_equal(t->state, TXN_COMMITTED);
}

static void
make_aborted(struct txn *t)
{
	make_aborting(t, 2);
	STEP(t, ACK, A);
	STEP(t, ACK, B);
	assert_int_equal(t->state, TXN_ABORTED);
}

/* ---- initial states ---- */

static void
init_starts_active_with_no_branch_and_outcome_unknown(void **state)
{
	struct txn t;
	char longgid[200];

	(void)state;
	memset(&t, 0x5a, sizeof(t));
	txn_init(&t, "xact:c1:1");
	assert_string_equal(t.gid, "xact:c1:1");
	assert_int_equal(t.state, TXN_ACTIVE);
	assert_int_equal(t.nparts, 0);
	assert_int_equal(t.exec_pid, -1);
	assert_int_equal(t.client_waiting, 0);
	assert_int_equal(t.retry, 0);
	assert_int_equal(t.round, 0);
	assert_int_equal(t.pending, 0);
	assert_int_equal(t.outcome, XACT_OUTCOME_UNKNOWN);
	assert_string_equal(t.reason, "");
	assert_false(txn_is_final(&t));

	memset(longgid, 'g', sizeof(longgid) - 1);
	longgid[sizeof(longgid) - 1] = '\0';
	txn_init(&t, longgid);
	assert_int_equal(strlen(t.gid), sizeof(t.gid) - 1);
}

/* ---- ACTIVE ---- */

static void
exec_in_active_enlists_the_participant_and_forwards_the_statement(void **state)
{
	struct txn t;

	(void)state;
	txn_init(&t, "g");
	STEP(&t, EXEC, B);
	EXPECT(W(SEND_EXEC, B));
	assert_int_equal(t.state, TXN_EXECUTING);
	assert_int_equal(t.exec_pid, B);
	assert_int_equal(t.nparts, 1);
	assert_int_equal(t.parts[0].pid, B);
	assert_int_equal(t.parts[0].state, TP_ENLISTED);
}

static void
exec_done_returns_to_active_and_answers_the_statement(void **state)
{
	struct txn t;

	(void)state;
	make_executing(&t, 0, C);
	STEP(&t, EXEC_DONE, C);
	EXPECT(WE(REPLY_EXEC, C, 0));
	assert_int_equal(t.state, TXN_ACTIVE);
	assert_int_equal(t.exec_pid, -1);
	assert_int_equal(part_of(&t, C)->state, TP_ENLISTED);
}

static void
statement_on_an_enlisted_participant_does_not_enlist_it_twice(void **state)
{
	struct txn t;

	(void)state;
	make_active(&t, 2);
	STEP(&t, EXEC, A);
	EXPECT(W(SEND_EXEC, A));
	assert_int_equal(t.nparts, 2);
	STEP(&t, EXEC_DONE, A);
	STEP(&t, EXEC, C);
	assert_int_equal(t.nparts, 3);
	assert_int_equal(t.parts[2].pid, C);
}

static void
statement_beyond_txn_max_parts_is_refused_with_etoobig_and_changes_nothing(void **state)
{
	struct txn t, before;

	(void)state;
	txn_init(&t, "g");
	for (int i = 0; i < TXN_MAX_PARTS; i++) {
		STEP(&t, EXEC, 100 + i);
		STEP(&t, EXEC_DONE, 100 + i);
	}
	assert_int_equal(t.nparts, TXN_MAX_PARTS);
	before = t;
	assert_int_equal(step(&t, TXN_EV_EXEC, 999), XACT_ETOOBIG);
	EXPECT_NONE();
	assert_memory_equal(&before, &t, sizeof(t));
	/* an enlisted participant is still served */
	STEP(&t, EXEC, 100 + TXN_MAX_PARTS - 1);
	EXPECT(W(SEND_EXEC, 100 + TXN_MAX_PARTS - 1));
}

static void
commit_with_no_participant_commits_at_once_without_journal_write(void **state)
{
	struct txn t;

	(void)state;
	txn_init(&t, "g");
	STEP(&t, COMMIT, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_COMMITTED);
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_int_equal(t.pending, 0);
	assert_int_equal(t.client_waiting, 0);
	assert_true(txn_is_final(&t));
}

static void
commit_sends_prepare_to_every_participant_in_enlistment_order(void **state)
{
	struct txn t;

	(void)state;
	make_active(&t, 3);
	STEP(&t, COMMIT, NOPID);
	EXPECT(W(SEND_PREPARE, A), W(SEND_PREPARE, B), W(SEND_PREPARE, C));
	assert_int_equal(t.state, TXN_PREPARING);
	assert_int_equal(t.client_waiting, 1);
	assert_int_equal(t.outcome, XACT_OUTCOME_UNKNOWN);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(t.parts[i].state, TP_PREPARE_SENT);
	}
}

static void
rollback_in_active_answers_aborted_and_sends_abort_to_every_branch(void **state)
{
	struct txn t;

	(void)state;
	make_active(&t, 2);
	STEP(&t, ROLLBACK, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(SEND_ABORT, A), W(SEND_ABORT, B));
	assert_int_equal(t.state, TXN_ABORTING);
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
	assert_string_equal(t.reason, "rolled back by the client");
	assert_int_equal(t.client_waiting, 0);
	assert_int_equal(t.round, 2);
	assert_int_equal(t.pending, 0);
}

static void
rollback_with_no_participant_finishes_aborted_at_once(void **state)
{
	struct txn t;

	(void)state;
	txn_init(&t, "g");
	STEP(&t, ROLLBACK, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_ABORTED);
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
}

static void
timeout_in_active_aborts_every_branch_without_answering_anyone(void **state)
{
	struct txn t;

	(void)state;
	make_active(&t, 2);
	STEP(&t, TIMEOUT, NOPID);
	EXPECT(W(SEND_ABORT, A), W(SEND_ABORT, B));
	assert_int_equal(t.state, TXN_ABORTING);
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
	assert_non_null(strstr(t.reason, "timeout"));

	txn_init(&t, "g");
	STEP(&t, TIMEOUT, NOPID);
	EXPECT(W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_ABORTED);
}

static void
active_refuses_events_of_other_states_and_changes_nothing(void **state)
{
	struct txn t;

	(void)state;
	make_active(&t, 2);
	REFUSED(&t, EXEC_DONE, A);
	REFUSED(&t, EXEC_FAILED, A);
	REFUSED(&t, VOTE_YES, A);
	REFUSED(&t, VOTE_NO, A);
	REFUSED(&t, VOTE_READ_ONLY, A);
	REFUSED(&t, LOGGED, NOPID);
	REFUSED(&t, LOG_FAILED, NOPID);
	REFUSED(&t, ACK, A);
	REFUSED(&t, ACK_FAILED, A);
	REFUSED(&t, RETRY, NOPID);
}

/* ---- EXECUTING ---- */

static void
statement_failure_answers_the_error_and_aborts_every_branch(void **state)
{
	struct txn t;

	(void)state;
	make_executing(&t, 1, B);
	STEPR(&t, EXEC_FAILED, B, XACT_ESQL, "duplicate key value");
	EXPECT(WE(REPLY_EXEC, B, XACT_ESQL), W(SEND_ABORT, A), W(SEND_ABORT, B));
	assert_int_equal(t.state, TXN_ABORTING);
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
	assert_int_equal(t.exec_pid, -1);
	assert_string_equal(t.reason, "duplicate key value");
	STEP(&t, ACK, A);
	EXPECT_NONE();
	STEP(&t, ACK, B);
	EXPECT(W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_ABORTED);
}

static void
statement_failure_without_code_is_answered_esql_and_keeps_other_codes(void **state)
{
	struct txn t;

	(void)state;
	make_executing(&t, 0, A);
	STEP(&t, EXEC_FAILED, A);
	EXPECT(WE(REPLY_EXEC, A, XACT_ESQL), W(SEND_ABORT, A));
	assert_string_equal(t.reason, "statement failed");

	make_executing(&t, 0, A);
	STEPR(&t, EXEC_FAILED, A, XACT_EUNREACHABLE, "connection refused");
	EXPECT(WE(REPLY_EXEC, A, XACT_EUNREACHABLE), W(SEND_ABORT, A));
	assert_string_equal(t.reason, "connection refused");
}

static void
result_from_another_participant_than_the_outstanding_one_is_refused(void **state)
{
	struct txn t;

	(void)state;
	make_executing(&t, 2, A);
	REFUSED(&t, EXEC_DONE, B);
	REFUSED(&t, EXEC_FAILED, B);
	REFUSED(&t, EXEC_DONE, 99);
	assert_int_equal(t.exec_pid, A);
}

static void
executing_refuses_a_second_statement_commit_and_protocol_events(void **state)
{
	struct txn t;

	(void)state;
	make_executing(&t, 2, A);
	REFUSED(&t, EXEC, A);
	REFUSED(&t, EXEC, B);
	REFUSED(&t, EXEC, C);
	REFUSED(&t, COMMIT, NOPID);
	REFUSED(&t, VOTE_YES, A);
	REFUSED(&t, VOTE_NO, A);
	REFUSED(&t, VOTE_READ_ONLY, A);
	REFUSED(&t, LOGGED, NOPID);
	REFUSED(&t, LOG_FAILED, NOPID);
	REFUSED(&t, ACK, A);
	REFUSED(&t, ACK_FAILED, A);
	REFUSED(&t, RETRY, NOPID);
}

static void
rollback_while_executing_answers_the_statement_aborted_and_aborts_every_branch(void **state)
{
	struct txn t;

	(void)state;
	make_executing(&t, 1, B);
	STEP(&t, ROLLBACK, NOPID);
	EXPECT(WE(REPLY_EXEC, B, XACT_EABORTED), W(REPLY_OUTCOME, NOPID), W(SEND_ABORT, A),
	    W(SEND_ABORT, B));
	assert_int_equal(t.state, TXN_ABORTING);
	assert_int_equal(t.exec_pid, -1);
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
	STEP(&t, ACK, A);
	EXPECT_NONE();
	STEP(&t, ACK, B);
	EXPECT(W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_ABORTED);
	/* the statement's own result, arriving late, is dropped */
	IGNORED(&t, EXEC_DONE, B);
}

static void
timeout_while_executing_answers_the_statement_aborted_and_drops_its_late_result(void **state)
{
	struct txn t;

	(void)state;
	make_executing(&t, 0, A);
	STEP(&t, TIMEOUT, NOPID);
	EXPECT(WE(REPLY_EXEC, A, XACT_EABORTED), W(SEND_ABORT, A));
	assert_int_equal(t.state, TXN_ABORTING);
	assert_int_equal(t.exec_pid, -1);
	assert_non_null(strstr(t.reason, "timeout"));
	IGNORED(&t, EXEC_FAILED, A);
	IGNORED(&t, EXEC_DONE, A);
	IGNORED(&t, EXEC_DONE, B);
	STEP(&t, ACK, A);
	EXPECT(W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_ABORTED);
}

static void
statements_are_numbered_per_branch_from_one(void **state)
{
	struct txn t;

	(void)state;
	txn_init(&t, "g");
	STEP(&t, EXEC, A);
	assert_int_equal(part_of(&t, A)->stmts, 1);
	REFUSED(&t, EXEC, A); /* one outstanding at a time: not counted */
	STEP(&t, EXEC_DONE, A);
	STEP(&t, EXEC, B);
	assert_int_equal(part_of(&t, B)->stmts, 1);
	STEP(&t, EXEC_FAILED, B); /* sent, hence counted */
	assert_int_equal(part_of(&t, B)->stmts, 1);
	STEP(&t, EXEC, A); /* aborting: answered, never sent */
	EXPECT(WE(REPLY_EXEC, A, XACT_EABORTED));
	assert_int_equal(part_of(&t, A)->stmts, 1);

	make_active(&t, 2);
	STEP(&t, EXEC, A);
	STEP(&t, EXEC_DONE, A);
	STEP(&t, EXEC, A);
	STEP(&t, EXEC_DONE, A);
	assert_int_equal(part_of(&t, A)->stmts, 3);
	assert_int_equal(part_of(&t, B)->stmts, 1);
}

/* ---- PREPARING ---- */

static void
commit_with_every_vote_yes_forces_decision_before_any_commit(void **state)
{
	struct txn t;

	(void)state;
	make_preparing(&t, 3);
	STEP(&t, VOTE_YES, A);
	EXPECT_NONE();
	STEP(&t, VOTE_YES, B);
	EXPECT_NONE();
	STEP(&t, VOTE_YES, C);
	EXPECT(W(FORCE_COMMIT, NOPID));
	assert_int_equal(t.state, TXN_LOGGING);
	/* nobody may assume the commit before the decision is durable */
	assert_int_equal(t.outcome, XACT_OUTCOME_UNKNOWN);
	assert_int_equal(t.client_waiting, 1);
	STEP(&t, LOGGED, NOPID);
	EXPECT(W(SEND_COMMIT, A), W(SEND_COMMIT, B), W(SEND_COMMIT, C));
	assert_int_equal(t.state, TXN_COMMITTING);
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_int_equal(t.round, 3);
	assert_int_equal(t.client_waiting, 1); /* answered after the round */
}

static void
votes_in_any_order_decide_only_on_the_last_one(void **state)
{
	struct txn t;

	(void)state;
	make_preparing(&t, 3);
	STEP(&t, VOTE_YES, C);
	EXPECT_NONE();
	STEP(&t, VOTE_READ_ONLY, A);
	EXPECT_NONE();
	assert_int_equal(t.state, TXN_PREPARING);
	STEP(&t, VOTE_YES, B);
	EXPECT(W(FORCE_COMMIT, NOPID));
	assert_int_equal(part_of(&t, A)->state, TP_READ_ONLY);
	assert_int_equal(part_of(&t, B)->state, TP_YES);
	assert_int_equal(part_of(&t, C)->state, TP_YES);
}

static void
vote_no_aborts_answers_the_client_and_sends_abort_to_every_branch_that_may_hold_work(void **state)
{
	struct txn t;

	(void)state;
	make_preparing(&t, 3);
	STEP(&t, VOTE_YES, A);
	STEPR(&t, VOTE_NO, B, 0, "could not serialize access");
	EXPECT(W(REPLY_OUTCOME, NOPID), W(SEND_ABORT, A), W(SEND_ABORT, B), W(SEND_ABORT, C));
	assert_int_equal(t.state, TXN_ABORTING);
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
	assert_string_equal(t.reason, "could not serialize access");
	assert_int_equal(part_of(&t, B)->state, TP_NO);
	/* C's vote arrives after the decision: ignored, C still owes an ack */
	IGNORED(&t, VOTE_YES, C);
	STEP(&t, ACK, A);
	EXPECT_NONE();
	STEP(&t, ACK, B);
	EXPECT_NONE();
	STEP(&t, ACK, C);
	EXPECT(W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_ABORTED);
}

static void
vote_no_without_reason_records_voted_no(void **state)
{
	struct txn t;

	(void)state;
	make_preparing(&t, 1);
	STEP(&t, VOTE_NO, A);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(SEND_ABORT, A));
	assert_string_equal(t.reason, "voted no");
}

static void
read_only_branch_is_left_out_of_phase_two(void **state)
{
	struct txn t;

	(void)state;
	make_preparing(&t, 2);
	STEP(&t, VOTE_READ_ONLY, A);
	EXPECT_NONE();
	STEP(&t, VOTE_YES, B);
	EXPECT(W(FORCE_COMMIT, NOPID));
	STEP(&t, LOGGED, NOPID);
	EXPECT(W(SEND_COMMIT, B));
	assert_int_equal(t.round, 1);
	IGNORED(&t, ACK, A); /* a read-only branch owes nothing */
	STEP(&t, ACK, B);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(LOG_COMPLETE, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_COMMITTED);
	assert_int_equal(t.pending, 0);
}

static void
all_read_only_commit_finishes_committed_without_journal_write(void **state)
{
	struct txn t;

	(void)state;
	make_preparing(&t, 2);
	STEP(&t, VOTE_READ_ONLY, B);
	EXPECT_NONE();
	STEP(&t, VOTE_READ_ONLY, A);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_COMMITTED);
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_int_equal(t.pending, 0);
	assert_int_equal(t.client_waiting, 0);
}

static void
read_only_branch_is_not_sent_abort_when_another_votes_no(void **state)
{
	struct txn t;

	(void)state;
	make_preparing(&t, 2);
	STEP(&t, VOTE_READ_ONLY, A);
	STEP(&t, VOTE_NO, B);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(SEND_ABORT, B));
	STEP(&t, ACK, B);
	EXPECT(W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_ABORTED);
}

static void
duplicate_and_stray_votes_while_preparing_change_nothing(void **state)
{
	struct txn t;

	(void)state;
	make_preparing(&t, 2);
	STEP(&t, VOTE_YES, A);
	IGNORED(&t, VOTE_YES, A);
	IGNORED(&t, VOTE_NO, A); /* a second, contradicting vote does not abort */
	IGNORED(&t, VOTE_READ_ONLY, A);
	IGNORED(&t, VOTE_YES, 99);
	IGNORED(&t, VOTE_NO, 99);
	assert_int_equal(part_of(&t, A)->state, TP_YES);
	STEP(&t, VOTE_YES, B);
	EXPECT(W(FORCE_COMMIT, NOPID));
}

static void
repeated_commit_while_preparing_is_answered_once_at_the_decision(void **state)
{
	struct txn t;

	(void)state;
	make_preparing(&t, 2);
	IGNORED(&t, COMMIT, NOPID);
	assert_int_equal(t.client_waiting, 1);
	STEP(&t, VOTE_YES, A);
	STEP(&t, VOTE_NO, B);
	assert_int_equal(count_type(TXN_ACT_REPLY_OUTCOME), 1);
	assert_int_equal(t.client_waiting, 0);
}

static void
timeout_while_preparing_counts_missing_votes_as_no(void **state)
{
	struct txn t;

	(void)state;
	make_preparing(&t, 3);
	STEP(&t, VOTE_YES, A);
	STEP(&t, VOTE_READ_ONLY, B);
	STEP(&t, TIMEOUT, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(SEND_ABORT, A), W(SEND_ABORT, C));
	assert_int_equal(t.state, TXN_ABORTING);
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
	assert_non_null(strstr(t.reason, "votes missing"));
	IGNORED(&t, VOTE_YES, C); /* too late */
	STEP(&t, ACK, C);
	STEP(&t, ACK, A);
	EXPECT(W(FORGET, NOPID));
}

static void
preparing_ignores_retry(void **state)
{
	struct txn t;

	(void)state;
	make_preparing(&t, 2);
	IGNORED(&t, RETRY, NOPID);
	STEP(&t, VOTE_YES, A);
	IGNORED(&t, RETRY, NOPID);
	assert_int_equal(t.state, TXN_PREPARING);
}

static void
preparing_refuses_statements_rollback_and_phase_two_events(void **state)
{
	struct txn t;

	(void)state;
	make_preparing(&t, 2);
	REFUSED(&t, EXEC, A);
	REFUSED(&t, EXEC, C);
	REFUSED(&t, EXEC_DONE, A);
	REFUSED(&t, EXEC_FAILED, A);
	REFUSED(&t, ROLLBACK, NOPID);
	REFUSED(&t, LOGGED, NOPID);
	REFUSED(&t, LOG_FAILED, NOPID);
	REFUSED(&t, ACK, A);
	REFUSED(&t, ACK_FAILED, A);
}

/* ---- LOGGING ---- */

static void
logged_sends_commit_to_every_yes_branch_and_answers_only_after_the_round(void **state)
{
	struct txn t;

	(void)state;
	make_logging(&t, 2);
	STEP(&t, LOGGED, NOPID);
	EXPECT(W(SEND_COMMIT, A), W(SEND_COMMIT, B));
	assert_int_equal(t.round, 2);
	assert_int_equal(t.retry, 0);
	STEP(&t, ACK, A);
	EXPECT_NONE();
	assert_int_equal(part_of(&t, A)->state, TP_ACKED);
	STEP(&t, ACK, B);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(LOG_COMPLETE, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_COMMITTED);
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_int_equal(t.pending, 0);
	assert_int_equal(t.retry, 0);
}

static void
log_failure_answers_outcome_unknown_and_asks_for_a_retry_never_an_abort(void **state)
{
	struct txn t;

	(void)state;
	make_logging(&t, 2);
	STEPR(&t, LOG_FAILED, NOPID, XACT_EJOURNAL, "disk I/O error");
	EXPECT(W(REPLY_OUTCOME, NOPID));
	assert_int_equal(t.state, TXN_LOGGING);
	assert_int_equal(t.outcome, XACT_OUTCOME_UNKNOWN);
	assert_int_equal(t.retry, 1);
	assert_int_equal(t.pending, 0);
	assert_int_equal(t.client_waiting, 0);
	assert_non_null(strstr(t.reason, "journal write failed"));
	assert_non_null(strstr(t.reason, "disk I/O error"));
	REFUSED(&t, ROLLBACK, NOPID);
	IGNORED(&t, TIMEOUT, NOPID);
	assert_int_equal(t.state, TXN_LOGGING);
}

static void
retry_after_log_failure_forces_the_decision_again_until_it_is_logged(void **state)
{
	struct txn t;

	(void)state;
	make_logging(&t, 2);
	STEPR(&t, LOG_FAILED, NOPID, XACT_EJOURNAL, "full");
	STEP(&t, RETRY, NOPID);
	EXPECT(W(FORCE_COMMIT, NOPID));
	assert_int_equal(t.retry, 0);
	STEPR(&t, LOG_FAILED, NOPID, XACT_EJOURNAL, "still full");
	EXPECT_NONE(); /* the client already knows "unknown" */
	assert_int_equal(t.retry, 1);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(FORCE_COMMIT, NOPID));
	STEP(&t, LOGGED, NOPID);
	EXPECT(W(SEND_COMMIT, A), W(SEND_COMMIT, B));
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_string_equal(t.reason, "");
	STEP(&t, ACK, A);
	EXPECT_NONE();
	STEP(&t, ACK, B);
	EXPECT(W(LOG_COMPLETE, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_COMMITTED);
}

static void
commit_repeated_while_logging_waits_for_the_decision(void **state)
{
	struct txn t;

	(void)state;
	make_logging(&t, 2);
	STEP(&t, LOG_FAILED, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID));
	STEP(&t, COMMIT, NOPID); /* the client asks again */
	EXPECT_NONE();
	assert_int_equal(t.client_waiting, 1);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(FORCE_COMMIT, NOPID));
	STEP(&t, LOGGED, NOPID);
	EXPECT(W(SEND_COMMIT, A), W(SEND_COMMIT, B));
	STEP(&t, ACK, B);
	EXPECT_NONE();
	STEP(&t, ACK, A);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(LOG_COMPLETE, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
}

static void
logging_refuses_rollback_statements_and_acks_and_changes_nothing(void **state)
{
	struct txn t;

	(void)state;
	make_logging(&t, 2);
	REFUSED(&t, ROLLBACK, NOPID);
	REFUSED(&t, EXEC, A);
	REFUSED(&t, EXEC_DONE, A);
	REFUSED(&t, EXEC_FAILED, A);
	REFUSED(&t, ACK, A);
	REFUSED(&t, ACK_FAILED, A);
	IGNORED(&t, TIMEOUT, NOPID);
	IGNORED(&t, COMMIT, NOPID);
	assert_int_equal(t.state, TXN_LOGGING);
}

/* Every vote is in once LOGGING: a vote can only be a duplicate.  It is
 * ignored, as in PREPARING and the later states: nothing may change. */
static void
late_vote_while_logging_is_ignored_and_changes_nothing(void **state)
{
	struct txn t;

	(void)state;
	make_logging(&t, 2);
	IGNORED(&t, VOTE_YES, A);
	IGNORED(&t, VOTE_NO, A);
	IGNORED(&t, VOTE_READ_ONLY, B);
	assert_int_equal(t.state, TXN_LOGGING);
}

/* ---- COMMITTING ---- */

static void
acks_in_any_order_commit_answer_the_client_log_completion_and_forget(void **state)
{
	struct txn t;

	(void)state;
	make_committing(&t, 3);
	STEP(&t, ACK, C);
	EXPECT_NONE();
	STEP(&t, ACK, A);
	EXPECT_NONE();
	assert_int_equal(t.state, TXN_COMMITTING);
	STEP(&t, ACK, B);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(LOG_COMPLETE, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_COMMITTED);
	assert_true(txn_is_final(&t));
}

static void
unacknowledged_commit_answers_committed_with_pending_and_is_retried(void **state)
{
	struct txn t;

	(void)state;
	make_committing(&t, 2);
	STEP(&t, ACK, A);
	EXPECT_NONE();
	STEPR(&t, ACK_FAILED, B, XACT_EUNREACHABLE, "connection refused");
	EXPECT(W(REPLY_OUTCOME, NOPID));
	assert_int_equal(t.state, TXN_COMMITTING);
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_int_equal(t.pending, 1);
	assert_int_equal(t.retry, 1);
	assert_int_equal(t.round, 0);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(SEND_COMMIT, B)); /* only the branch that owes an ack */
	assert_int_equal(t.retry, 0);
	STEP(&t, ACK, B);
	EXPECT(W(LOG_COMPLETE, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_COMMITTED);
	assert_int_equal(t.pending, 0);
}

static void
commit_is_resent_for_ever_and_never_gives_up(void **state)
{
	struct txn t;

	(void)state;
	make_committing(&t, 1);
	for (int i = 0; i < 3 * TXN_ABORT_ATTEMPTS; i++) {
		STEP(&t, ACK_FAILED, A);
		if (i == 0) {
			EXPECT(W(REPLY_OUTCOME, NOPID));
		} else {
			EXPECT_NONE();
		}
		assert_int_equal(t.state, TXN_COMMITTING);
		assert_int_equal(part_of(&t, A)->state, TP_YES);
		assert_int_equal(t.retry, 1);
		assert_int_equal(t.pending, 1);
		STEP(&t, RETRY, NOPID);
		EXPECT(W(SEND_COMMIT, A));
	}
	STEP(&t, ACK, A);
	EXPECT(W(LOG_COMPLETE, NOPID), W(FORGET, NOPID));
}

static void
retry_while_a_round_is_unanswered_sends_nothing(void **state)
{
	struct txn t;

	(void)state;
	make_committing(&t, 2);
	STEP(&t, ACK_FAILED, A);
	EXPECT_NONE(); /* B's COMMIT is still out */
	assert_int_equal(t.retry, 1);
	assert_int_equal(t.round, 1);
	/* The retry waits for the round: it sends nothing and is disarmed, so
	 * that it does not fire on every tick; the round's end re-arms it. */
	STEP(&t, RETRY, NOPID);
	EXPECT_NONE();
	assert_int_equal(t.retry, 0);
	STEP(&t, ACK, B);
	EXPECT(W(REPLY_OUTCOME, NOPID));
	assert_int_equal(t.retry, 1);
	assert_int_equal(t.pending, 1);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(SEND_COMMIT, A));
}

static void
duplicate_and_stray_acks_while_committing_change_nothing(void **state)
{
	struct txn t;

	(void)state;
	make_committing(&t, 2);
	STEP(&t, ACK, A);
	IGNORED(&t, ACK, A);
	IGNORED(&t, ACK_FAILED, A);
	IGNORED(&t, ACK, 99);
	IGNORED(&t, ACK_FAILED, 99);
	assert_int_equal(t.round, 1);
	STEP(&t, ACK, B);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(LOG_COMPLETE, NOPID), W(FORGET, NOPID));
}

static void
late_votes_and_timeout_while_committing_are_ignored(void **state)
{
	struct txn t;

	(void)state;
	make_committing(&t, 2);
	IGNORED(&t, VOTE_NO, A);
	IGNORED(&t, VOTE_YES, B);
	IGNORED(&t, VOTE_READ_ONLY, A);
	IGNORED(&t, TIMEOUT, NOPID);
	assert_int_equal(t.state, TXN_COMMITTING);
}

static void
commit_or_rollback_after_the_round_is_answered_committed_never_aborted(void **state)
{
	struct txn t;

	(void)state;
	make_committing(&t, 2);
	STEP(&t, ACK_FAILED, A);
	STEP(&t, ACK, B);
	EXPECT(W(REPLY_OUTCOME, NOPID));
	STEP(&t, COMMIT, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_int_equal(t.pending, 1);
	STEP(&t, ROLLBACK, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_int_equal(t.state, TXN_COMMITTING);
	assert_int_equal(t.client_waiting, 0);
}

static void
request_during_an_unanswered_commit_round_waits_for_the_round(void **state)
{
	struct txn t;

	(void)state;
	make_logging(&t, 2);
	STEP(&t, LOG_FAILED, NOPID);
	STEP(&t, RETRY, NOPID);
	STEP(&t, LOGGED, NOPID);
	EXPECT(W(SEND_COMMIT, A), W(SEND_COMMIT, B));
	assert_int_equal(t.client_waiting, 0);
	STEP(&t, COMMIT, NOPID);
	EXPECT_NONE();
	assert_int_equal(t.client_waiting, 1);
	STEP(&t, ACK, A);
	EXPECT_NONE();
	STEP(&t, ACK, B);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(LOG_COMPLETE, NOPID), W(FORGET, NOPID));
}

static void
committing_refuses_statements_and_journal_events(void **state)
{
	struct txn t;

	(void)state;
	make_committing(&t, 2);
	REFUSED(&t, EXEC, A);
	REFUSED(&t, EXEC, C);
	REFUSED(&t, LOGGED, NOPID);
	REFUSED(&t, LOG_FAILED, NOPID);
	/* no statement can be outstanding: a result is late and dropped */
	IGNORED(&t, EXEC_DONE, A);
	IGNORED(&t, EXEC_FAILED, A);
}

/* ---- ABORTING ---- */

static void
every_abort_ack_finishes_aborted_without_log_complete(void **state)
{
	struct txn t;

	(void)state;
	make_aborting(&t, 2);
	STEP(&t, ACK, B);
	EXPECT_NONE();
	STEP(&t, ACK, A);
	EXPECT(W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_ABORTED);
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
	assert_int_equal(t.retry, 0);
	assert_true(txn_is_final(&t));
}

static void
abort_gives_up_on_a_branch_after_txn_abort_attempts_unanswered_sends(void **state)
{
	struct txn t;
	int sends = 1; /* the ROLLBACK sent the first ABORT */

	(void)state;
	make_aborting(&t, 1);
	for (int i = 1; i < TXN_ABORT_ATTEMPTS; i++) {
		STEP(&t, ACK_FAILED, A);
		EXPECT_NONE();
		assert_int_equal(t.state, TXN_ABORTING);
		assert_int_equal(part_of(&t, A)->attempts, i);
		assert_int_equal(t.retry, 1);
		STEP(&t, RETRY, NOPID);
		EXPECT(W(SEND_ABORT, A));
		sends++;
	}
	STEP(&t, ACK_FAILED, A);
	EXPECT(W(FORGET, NOPID));
	assert_int_equal(sends, TXN_ABORT_ATTEMPTS);
	assert_int_equal(part_of(&t, A)->state, TP_GAVE_UP);
	assert_int_equal(t.state, TXN_ABORTED);
	assert_int_equal(t.retry, 0);
}

static void
giving_up_on_one_branch_keeps_aborting_the_others(void **state)
{
	struct txn t;

	(void)state;
	txn_init_orphan(&t, "xact:c1:9", A);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(SEND_ABORT, A));
	STEP(&t, ACK_FAILED, A);
	assert_int_equal(txn_add_orphan_part(&t, B), 0);
	/* A is one failure ahead of B from here on */
	for (int i = 2; i <= TXN_ABORT_ATTEMPTS; i++) {
		STEP(&t, RETRY, NOPID);
		EXPECT(W(SEND_ABORT, A), W(SEND_ABORT, B));
		STEP(&t, ACK_FAILED, A);
		EXPECT_NONE();
		STEP(&t, ACK_FAILED, B);
		EXPECT_NONE();
	}
	assert_int_equal(part_of(&t, A)->state, TP_GAVE_UP);
	assert_int_equal(part_of(&t, B)->state, TP_YES);
	assert_int_equal(t.state, TXN_ABORTING);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(SEND_ABORT, B)); /* not to the branch given up */
	STEP(&t, ACK, B);
	EXPECT(W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_ABORTED);
}

static void
statement_for_an_aborting_transaction_is_answered_aborted_without_enlisting(void **state)
{
	struct txn t;

	(void)state;
	make_aborting(&t, 1);
	STEP(&t, EXEC, B);
	EXPECT(WE(REPLY_EXEC, B, XACT_EABORTED));
	assert_int_equal(t.nparts, 1);
	assert_int_equal(t.exec_pid, -1);
	assert_int_equal(t.state, TXN_ABORTING);
	STEP(&t, EXEC, A);
	EXPECT(WE(REPLY_EXEC, A, XACT_EABORTED));
}

static void
commit_or_rollback_of_an_aborting_transaction_is_answered_aborted_at_once(void **state)
{
	struct txn t;

	(void)state;
	make_active(&t, 2);
	STEP(&t, TIMEOUT, NOPID); /* nobody waiting; ABORTs out */
	STEP(&t, COMMIT, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
	assert_int_equal(t.pending, 0);
	assert_int_equal(t.client_waiting, 0);
	STEP(&t, ROLLBACK, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID));
	assert_int_equal(t.state, TXN_ABORTING);
}

static void
late_votes_acks_and_timeout_while_aborting_are_ignored(void **state)
{
	struct txn t;

	(void)state;
	make_aborting(&t, 2);
	IGNORED(&t, VOTE_YES, A);
	IGNORED(&t, VOTE_NO, B);
	IGNORED(&t, VOTE_READ_ONLY, A);
	IGNORED(&t, TIMEOUT, NOPID);
	IGNORED(&t, ACK, 99);
	STEP(&t, ACK, A);
	IGNORED(&t, ACK, A);
	IGNORED(&t, ACK_FAILED, A);
	assert_int_equal(t.round, 1);
}

static void
aborting_never_accepts_a_commit_decision(void **state)
{
	struct txn t;

	(void)state;
	make_aborting(&t, 2);
	REFUSED(&t, LOGGED, NOPID);
	REFUSED(&t, LOG_FAILED, NOPID);
	IGNORED(&t, EXEC_DONE, A); /* late result: dropped */
	IGNORED(&t, EXEC_FAILED, B);
	assert_int_equal(t.state, TXN_ABORTING);
}

/* ---- final states ---- */

static void
committed_answers_repeated_requests_committed_and_refuses_statements(void **state)
{
	struct txn t;

	(void)state;
	make_committed(&t);
	STEP(&t, COMMIT, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_int_equal(t.pending, 0);
	STEP(&t, ROLLBACK, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	REFUSED(&t, EXEC, A);
	assert_int_equal(t.state, TXN_COMMITTED);
}

static void
aborted_answers_requests_aborted_and_statements_eaborted(void **state)
{
	struct txn t;

	(void)state;
	make_aborted(&t);
	STEP(&t, COMMIT, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
	STEP(&t, ROLLBACK, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID));
	STEP(&t, EXEC, C);
	EXPECT(WE(REPLY_EXEC, C, XACT_EABORTED));
	assert_int_equal(t.nparts, 2);
	assert_int_equal(t.state, TXN_ABORTED);
}

static void
final_states_ignore_every_late_message(void **state)
{
	struct txn t[2];

	(void)state;
	make_committed(&t[0]);
	make_aborted(&t[1]);
	for (int i = 0; i < 2; i++) {
		IGNORED(&t[i], EXEC_DONE, A);
		IGNORED(&t[i], EXEC_FAILED, A);
		IGNORED(&t[i], TIMEOUT, NOPID);
		IGNORED(&t[i], VOTE_YES, A);
		IGNORED(&t[i], VOTE_NO, A);
		IGNORED(&t[i], VOTE_READ_ONLY, A);
		IGNORED(&t[i], LOGGED, NOPID);
		IGNORED(&t[i], LOG_FAILED, NOPID);
		IGNORED(&t[i], ACK, A);
		IGNORED(&t[i], ACK_FAILED, B);
		IGNORED(&t[i], RETRY, NOPID);
	}
}

/* ---- recovery ---- */

static void
recovered_transaction_resends_commit_to_every_participant_and_forgets_after_acks(void **state)
{
	struct txn t;
	const int pids[2] = {4, 9};

	(void)state;
	txn_init_recovered(&t, "xact:c1:77", pids, 2);
	assert_string_equal(t.gid, "xact:c1:77");
	assert_int_equal(t.state, TXN_COMMITTING);
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_int_equal(t.retry, 1);
	assert_int_equal(t.client_waiting, 0);
	assert_int_equal(t.nparts, 2);
	assert_int_equal(t.parts[0].pid, 4);
	assert_int_equal(t.parts[1].pid, 9);
	assert_int_equal(t.parts[0].state, TP_YES);
	assert_int_equal(t.parts[1].state, TP_YES);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(SEND_COMMIT, 4), W(SEND_COMMIT, 9));
	STEP(&t, ACK, 4);
	EXPECT_NONE();
	STEP(&t, ACK_FAILED, 9);
	EXPECT_NONE(); /* nobody is waiting for an answer */
	assert_int_equal(t.retry, 1);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(SEND_COMMIT, 9));
	STEP(&t, ACK, 9);
	EXPECT(W(LOG_COMPLETE, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_COMMITTED);
}

static void
recovered_transaction_never_aborts(void **state)
{
	struct txn t;
	const int pids[1] = {4};

	(void)state;
	txn_init_recovered(&t, "g", pids, 1);
	STEP(&t, ROLLBACK, NOPID);
	EXPECT(W(REPLY_OUTCOME, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	IGNORED(&t, TIMEOUT, NOPID);
	IGNORED(&t, VOTE_NO, 4);
	REFUSED(&t, LOG_FAILED, NOPID);
	assert_int_equal(t.state, TXN_COMMITTING);
}

static void
orphan_branch_is_aborted_on_retry_and_forgotten_after_its_ack(void **state)
{
	struct txn t;

	(void)state;
	txn_init_orphan(&t, "xact:c1:5", 6);
	assert_string_equal(t.gid, "xact:c1:5");
	assert_int_equal(t.state, TXN_ABORTING);
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
	assert_int_equal(t.retry, 1);
	assert_int_equal(t.nparts, 1);
	assert_int_equal(t.parts[0].pid, 6);
	assert_int_equal(t.parts[0].state, TP_YES);
	assert_non_null(strstr(t.reason, "presumed abort"));
	STEP(&t, RETRY, NOPID);
	EXPECT(W(SEND_ABORT, 6));
	assert_int_equal(t.retry, 0);
	STEP(&t, ACK, 6);
	EXPECT(W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_ABORTED);
}

/* No journal row does not prove no commit (one phase, one writer): an
 * orphan answers its client only once its branch did, never ABORTED for a
 * branch that committed or never answered. */
static void
orphan_answers_a_client_only_after_its_branch_and_never_says_aborted_in_doubt(void **state)
{
	struct txn t;

	(void)state;
	txn_init_orphan(&t, "xact:c1:5", 6);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(SEND_ABORT, 6));
	STEP(&t, COMMIT, NOPID); /* the client's resent commit */
	EXPECT_NONE();
	STEP(&t, ACK_FAILED, 6);
	EXPECT_NONE(); /* still not answered */
	STEP(&t, RETRY, NOPID);
	EXPECT(W(SEND_ABORT, 6));
	STEP(&t, ACK_COMMITTED, 6);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_UNKNOWN);
	assert_non_null(strstr(t.reason, "committed with nothing journaled"));
	/* aborted by the branch: the client learns ABORTED then */
	txn_init_orphan(&t, "xact:c1:6", 6);
	STEP(&t, RETRY, NOPID);
	STEP(&t, ROLLBACK, NOPID);
	EXPECT_NONE();
	STEP(&t, ACK, 6);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
	/* a branch that never answers: given up, and UNKNOWN */
	txn_init_orphan(&t, "xact:c1:7", 6);
	STEP(&t, COMMIT, NOPID);
	for (int i = 0; i < TXN_ABORT_ATTEMPTS; i++) {
		STEP(&t, RETRY, NOPID);
		STEP(&t, ACK_FAILED, 6);
	}
	assert_int_equal(t.state, TXN_ABORTED);
	assert_int_equal(t.outcome, XACT_OUTCOME_UNKNOWN);
	assert_int_equal(count_type(TXN_ACT_REPLY_OUTCOME), 1);
	/* two branches, one committed: UNKNOWN too */
	txn_init_orphan(&t, "xact:c1:8", 6);
	assert_int_equal(txn_add_orphan_part(&t, 9), 0);
	STEP(&t, RETRY, NOPID);
	STEP(&t, ACK_COMMITTED, 6);
	STEP(&t, ACK, 9);
	assert_int_equal(t.state, TXN_ABORTED);
	assert_int_equal(t.outcome, XACT_OUTCOME_UNKNOWN);
}

static void
orphan_gives_up_after_txn_abort_attempts(void **state)
{
	struct txn t;
	int sends = 0;

	(void)state;
	txn_init_orphan(&t, "g", 6);
	for (int i = 0; i < TXN_ABORT_ATTEMPTS; i++) {
		assert_int_equal(t.retry, 1);
		STEP(&t, RETRY, NOPID);
		EXPECT(W(SEND_ABORT, 6));
		sends++;
		STEP(&t, ACK_FAILED, 6);
	}
	EXPECT(W(FORGET, NOPID));
	assert_int_equal(sends, TXN_ABORT_ATTEMPTS);
	assert_int_equal(t.state, TXN_ABORTED);
	assert_int_equal(t.parts[0].state, TP_GAVE_UP);
}

static void
add_orphan_part_joins_the_abort_once_and_refuses_beyond_txn_max_parts(void **state)
{
	struct txn t;

	(void)state;
	txn_init_orphan(&t, "g", 0);
	STEP(&t, RETRY, NOPID);
	assert_int_equal(t.retry, 0);
	assert_int_equal(txn_add_orphan_part(&t, 0), 0);
	assert_int_equal(t.nparts, 1);
	assert_int_equal(txn_add_orphan_part(&t, 1), 0);
	assert_int_equal(t.nparts, 2);
	assert_int_equal(t.parts[1].pid, 1);
	assert_int_equal(t.parts[1].state, TP_YES);
	assert_int_equal(t.parts[1].attempts, 0);
	assert_int_equal(t.retry, 1);
	for (int p = 2; p < TXN_MAX_PARTS; p++) {
		assert_int_equal(txn_add_orphan_part(&t, p), 0);
	}
	assert_int_equal(t.nparts, TXN_MAX_PARTS);
	assert_int_equal(txn_add_orphan_part(&t, TXN_MAX_PARTS), XACT_ETOOBIG);
	assert_int_equal(t.nparts, TXN_MAX_PARTS);
	assert_int_equal(txn_add_orphan_part(&t, 5), 0); /* present already */
	/* the first round is still out: the retry waits for it, and the
	 * round's end re-arms it for the branches that joined meanwhile */
	STEP(&t, RETRY, NOPID);
	EXPECT_NONE();
	STEP(&t, ACK, 0);
	assert_int_equal(t.retry, 1);
	STEP(&t, RETRY, NOPID);
	assert_int_equal(acts.n, TXN_MAX_PARTS - 1);
	for (int i = 0; i < acts.n; i++) {
		assert_int_equal(acts.a[i].type, TXN_ACT_SEND_ABORT);
		assert_int_equal(acts.a[i].pid, i + 1);
	}
}

/* ---- three-phase commit ---- */

static void
make_3pc_preparing(struct txn *t)
{
	make_active(t, 2);
	t->protocol = XACT_PROTOCOL_3PC;
	STEP(t, COMMIT, NOPID);
	assert_int_equal(t->state, TXN_PREPARING);
}

static void
make_precommitting(struct txn *t)
{
	make_3pc_preparing(t);
	STEP(t, VOTE_YES, A);
	STEP(t, VOTE_YES, B);
	STEP(t, PRECOMMIT_LOGGED, NOPID);
	assert_int_equal(t->state, TXN_PRECOMMITTING);
}

static void
three_pc_forces_precommit_then_precommits_then_commits(void **state)
{
	struct txn t;

	(void)state;
	make_3pc_preparing(&t);
	STEP(&t, VOTE_YES, A);
	EXPECT_NONE();
	STEP(&t, VOTE_YES, B);
	EXPECT(W(FORCE_PRECOMMIT, NOPID)); /* durable before any PRECOMMIT */
	assert_int_equal(t.state, TXN_PRECOMMIT_LOGGING);
	STEP(&t, PRECOMMIT_LOGGED, NOPID);
	EXPECT(W(SEND_PRECOMMIT, A), W(SEND_PRECOMMIT, B));
	STEP(&t, PRECOMMIT_ACK, A);
	EXPECT_NONE();
	STEP(&t, PRECOMMIT_ACK, A); /* duplicate */
	EXPECT_NONE();
	STEP(&t, PRECOMMIT_ACK, B);
	EXPECT(W(FORCE_COMMIT, NOPID));
	assert_int_equal(t.state, TXN_LOGGING);
	STEP(&t, LOGGED, NOPID);
	EXPECT(W(SEND_COMMIT, A), W(SEND_COMMIT, B));
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	STEP(&t, ACK, A);
	STEP(&t, ACK, B);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(LOG_COMPLETE, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_COMMITTED);
}

static void
three_pc_aborts_on_a_no_vote_before_any_precommit(void **state)
{
	struct txn t;

	(void)state;
	make_3pc_preparing(&t);
	STEP(&t, VOTE_YES, A);
	STEP(&t, VOTE_NO, B);
	assert_int_equal(t.state, TXN_ABORTING);
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
}

static void
three_pc_never_aborts_by_itself_once_the_precommit_may_be_durable(void **state)
{
	struct txn t;

	(void)state;
	make_3pc_preparing(&t);
	STEP(&t, VOTE_YES, A);
	STEP(&t, VOTE_YES, B);
	STEPR(&t, LOG_FAILED, NOPID, 0, "disk full");
	EXPECT(W(REPLY_OUTCOME, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_UNKNOWN);
	STEP(&t, TIMEOUT, NOPID);
	assert_int_equal(t.state, TXN_PRECOMMIT_LOGGING);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(FORCE_PRECOMMIT, NOPID));
	STEP(&t, PRECOMMIT_LOGGED, NOPID);
	STEP(&t, TIMEOUT, NOPID);
	STEP(&t, ACK_FAILED, B); /* unreachable: asked again later */
	assert_int_equal(t.state, TXN_PRECOMMITTING);
	assert_true(t.retry);
	STEP(&t, PRECOMMIT_ACK, A);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(SEND_PRECOMMIT, B)); /* only the one not in */
	assert_int_equal(step(&t, TXN_EV_ROLLBACK, NOPID), XACT_ESTATE);
	assert_int_equal(t.state, TXN_PRECOMMITTING);
}

static void
three_pc_hands_over_to_a_termination_when_a_branch_refuses(void **state)
{
	struct txn t, u;

	(void)state;
	make_precommitting(&t);
	STEP(&t, PRECOMMIT_ACK, A);
	STEPR(&t, PRECOMMIT_REFUSED, B, 0, "ballot 7 promised");
	assert_int_equal(t.state, TXN_TERMINATING);
	assert_int_equal(t.outcome, XACT_OUTCOME_UNKNOWN);
	STEP(&t, PRECOMMIT_ACK, B); /* late: ignored */
	assert_int_equal(t.state, TXN_TERMINATING);
	u = t;
	STEP(&t, TERM_COMMIT, NOPID);
	EXPECT(W(FORCE_COMMIT, NOPID)); /* journaled, then committed everywhere */
	STEP(&u, TERM_ABORT, NOPID);
	assert_int_equal(u.state, TXN_ABORTING);
	assert_int_equal(u.outcome, XACT_OUTCOME_ABORTED);
}

static void
a_recovered_precommit_waits_for_the_termination(void **state)
{
	struct txn t;
	const int pids[] = {A, B};

	(void)state;
	txn_init_recovered_precommit(&t, "xact:c1:9", pids, 2);
	assert_int_equal(t.state, TXN_TERMINATING);
	assert_int_equal(t.protocol, XACT_PROTOCOL_3PC);
	assert_int_equal(t.outcome, XACT_OUTCOME_UNKNOWN);
	STEP(&t, RETRY, NOPID);
	EXPECT_NONE();
	STEP(&t, TERM_COMMIT, NOPID);
	STEP(&t, LOGGED, NOPID);
	EXPECT(W(SEND_COMMIT, A), W(SEND_COMMIT, B));
}

/* ---- the whole table ---- */

#define NSTATES (TXN_ABORTED + 1)
#define NEVENTS (TXN_EV_RETRY + 1)
#define R0 0
#define RE XACT_ESTATE
#define SAME (-1)

/* The event is about participant A; B also is a participant. */
static void
build_state(struct txn *t, enum txn_state s)
{
	switch (s) {
	case TXN_ACTIVE: make_active(t, 2); break;
	case TXN_EXECUTING: make_executing(t, 2, A); break;
	case TXN_PREPARING: make_preparing(t, 2); break;
	case TXN_LOGGING: make_logging(t, 2); break;
	case TXN_COMMITTING: make_committing(t, 2); break;
	case TXN_ABORTING: make_aborting(t, 2); break;
	case TXN_COMMITTED: make_committed(t); break;
	case TXN_ABORTED: make_aborted(t); break;
	case TXN_PRECOMMIT_LOGGING:
	case TXN_PRECOMMITTING:
	case TXN_TERMINATING:
	case TXN_ONE_PHASE:
		fail_msg("3PC and one-phase states are tested on their own"); /* not in this table */
		break;
	}
}

static void
every_state_answers_every_event_as_documented(void **state)
{
	/* return code for [state][event] */
	static const int rv[NSTATES][NEVENTS] = {
		/*              EXEC DONE FAIL COMM ROLL TOUT YES  NO   RO   LOGD LOGF ACK  ACKF RETRY */
		[TXN_ACTIVE] =     {R0, RE, RE, R0, R0, R0, RE, RE, RE, RE, RE, RE, RE, RE},
		[TXN_EXECUTING] =  {RE, R0, R0, RE, R0, R0, RE, RE, RE, RE, RE, RE, RE, RE},
		[TXN_PREPARING] =  {RE, RE, RE, R0, RE, R0, R0, R0, R0, RE, RE, RE, RE, R0},
		[TXN_LOGGING] =    {RE, RE, RE, R0, RE, R0, R0, R0, R0, R0, R0, RE, RE, R0},
		[TXN_COMMITTING] = {RE, R0, R0, R0, R0, R0, R0, R0, R0, RE, RE, R0, R0, R0},
		[TXN_ABORTING] =   {R0, R0, R0, R0, R0, R0, R0, R0, R0, RE, RE, R0, R0, R0},
		[TXN_COMMITTED] =  {RE, R0, R0, R0, R0, R0, R0, R0, R0, R0, R0, R0, R0, R0},
		[TXN_ABORTED] =    {R0, R0, R0, R0, R0, R0, R0, R0, R0, R0, R0, R0, R0, R0},
	};
	/* state after [state][event]; SAME: unchanged */
	static const int next[NSTATES][NEVENTS] = {
		[TXN_ACTIVE] = {TXN_EXECUTING, SAME, SAME, TXN_PREPARING, TXN_ABORTING,
			TXN_ABORTING, SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME},
		[TXN_EXECUTING] = {SAME, TXN_ACTIVE, TXN_ABORTING, SAME, TXN_ABORTING,
			TXN_ABORTING, SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME},
		[TXN_PREPARING] = {SAME, SAME, SAME, SAME, SAME, TXN_ABORTING, SAME, TXN_ABORTING,
			SAME, SAME, SAME, SAME, SAME, SAME},
		[TXN_LOGGING] = {SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME,
			TXN_COMMITTING, SAME, SAME, SAME, SAME},
		[TXN_COMMITTING] = {SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME,
			SAME, SAME, SAME, SAME},
		[TXN_ABORTING] = {SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME,
			SAME, SAME, SAME, SAME},
		[TXN_COMMITTED] = {SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME,
			SAME, SAME, SAME, SAME},
		[TXN_ABORTED] = {SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME, SAME,
			SAME, SAME, SAME, SAME},
	};
	int failures = 0;

	(void)state;
	for (int s = 0; s < NSTATES; s++) {
		for (int e = 0; e < NEVENTS; e++) {
			struct txn t;
			int pid = (e == TXN_EV_EXEC && s != TXN_EXECUTING) ? C : A;
			int got, want_state;

			build_state(&t, (enum txn_state)s);
			got = step(&t, (enum txn_event_type)e, pid);
			want_state = next[s][e] == SAME ? s : next[s][e];
			if (got != rv[s][e] || (int)t.state != want_state) {
				print_error("%s + %s: rv %d (want %d), state %s (want %s)\n",
				    txn_state_name((enum txn_state)s),
				    txn_event_name((enum txn_event_type)e), got, rv[s][e],
				    txn_state_name(t.state),
				    txn_state_name((enum txn_state)want_state));
				failures++;
			}
		}
	}
	assert_int_equal(failures, 0);
}

/* From every state before the decision is durable, no event whatsoever
 * makes SEND_COMMIT appear. */
static void
no_event_sends_commit_before_the_decision_is_logged(void **state)
{
	const enum txn_state before_log[] = {TXN_ACTIVE, TXN_EXECUTING, TXN_PREPARING,
		TXN_LOGGING};
	const int pids[] = {A, B, C, 99, NOPID};

	(void)state;
	for (size_t s = 0; s < sizeof(before_log) / sizeof(*before_log); s++) {
		for (int e = 0; e < NEVENTS; e++) {
			if (e == TXN_EV_LOGGED) {
				continue;
			}
			for (size_t p = 0; p < sizeof(pids) / sizeof(*pids); p++) {
				struct txn t;

				build_state(&t, before_log[s]);
				step(&t, (enum txn_event_type)e, pids[p]);
				assert_int_equal(count_type(TXN_ACT_SEND_COMMIT), 0);
				assert_int_not_equal(t.state, TXN_COMMITTING);
			}
		}
	}
}

/* ---- randomized sequences ---- */

static uint64_t rng_state;

static uint32_t
rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

static int
is_commit_side(enum txn_state s)
{
	return s == TXN_COMMITTING || s == TXN_COMMITTED;
}

static int
is_abort_side(enum txn_state s)
{
	return s == TXN_ABORTING || s == TXN_ABORTED;
}

static void
random_event_sequences_never_abort_a_commit_nor_commit_an_abort(void **state)
{
	/* weighted: protocol events more often than the ones that abort early */
	static const enum txn_event_type pool[] = {
		TXN_EV_EXEC, TXN_EV_EXEC, TXN_EV_EXEC_DONE, TXN_EV_EXEC_DONE, TXN_EV_EXEC_DONE,
		TXN_EV_EXEC_FAILED, TXN_EV_COMMIT, TXN_EV_COMMIT, TXN_EV_ROLLBACK,
		TXN_EV_TIMEOUT, TXN_EV_VOTE_YES, TXN_EV_VOTE_YES, TXN_EV_VOTE_YES,
		TXN_EV_VOTE_YES, TXN_EV_VOTE_NO, TXN_EV_VOTE_READ_ONLY, TXN_EV_VOTE_READ_ONLY,
		TXN_EV_LOGGED, TXN_EV_LOGGED, TXN_EV_LOG_FAILED, TXN_EV_ACK, TXN_EV_ACK,
		TXN_EV_ACK, TXN_EV_ACK_FAILED, TXN_EV_ACK_FAILED, TXN_EV_RETRY, TXN_EV_RETRY,
	};
	int reached[NSTATES] = {0};
	long steps = 0;

	(void)state;
	rng_state = 0x9e3779b97f4a7c15ULL;
	for (int run = 0; run < 20000; run++) {
		struct txn t;
		int np = 2 + (int)(rnd() % 2);
		int logged = 0, forgotten = 0;
		unsigned kind = rnd() % 10;

		if (kind == 0) {
			const int pids[3] = {0, 1, 2};

			txn_init_recovered(&t, "xact:r:1", pids, np);
			logged = 1;
		} else if (kind == 1) {
			txn_init_orphan(&t, "xact:o:1", 0);
			if (np == 3) {
				assert_int_equal(txn_add_orphan_part(&t, 2), 0);
			}
		} else {
			txn_init(&t, "xact:g:1");
		}
		for (int k = 0; k < 60; k++) {
			struct txn before = t;
			struct txn_event e;
			int rv;

			e.type = pool[rnd() % (sizeof(pool) / sizeof(*pool))];
			e.pid = (int)(rnd() % (unsigned)np);
			e.err = rnd() % 3 == 0 ? XACT_EUNREACHABLE : 0;
			e.reason = rnd() % 2 ? "random reason" : NULL;
			rv = txn_step(&t, &e, &acts);
			steps++;
			reached[t.state]++;
			if (rv != 0) {
				if ((rv != XACT_ESTATE && rv != XACT_ETOOBIG) || acts.n != 0 ||
				    memcmp(&before, &t, sizeof(t)) != 0) {
					fail_msg("run %d step %d: refused %s in %s changed something",
					    run, k, txn_event_name(e.type),
					    txn_state_name(before.state));
				}
				continue;
			}
			if (e.type == TXN_EV_LOGGED && before.state == TXN_LOGGING) {
				logged = 1;
			}
			for (int i = 0; i < acts.n; i++) {
				const struct txn_action *a = &acts.a[i];

				if (a->type == TXN_ACT_SEND_ABORT &&
				    (is_commit_side(before.state) || is_commit_side(t.state))) {
					fail_msg("run %d step %d: SEND_ABORT from %s -> %s", run, k,
					    txn_state_name(before.state), txn_state_name(t.state));
				}
				if ((a->type == TXN_ACT_SEND_COMMIT || a->type == TXN_ACT_FORCE_COMMIT) &&
				    (is_abort_side(before.state) || is_abort_side(t.state))) {
					fail_msg("run %d step %d: %s from %s -> %s", run, k,
					    act_name(a->type), txn_state_name(before.state),
					    txn_state_name(t.state));
				}
				if (a->type == TXN_ACT_SEND_COMMIT && !logged) {
					fail_msg("run %d step %d: SEND_COMMIT before LOGGED", run, k);
				}
				if (a->type == TXN_ACT_FORGET &&
				    (i != acts.n - 1 || !txn_is_final(&t) || forgotten)) {
					fail_msg("run %d step %d: FORGET out of place", run, k);
				}
				if (a->type == TXN_ACT_REPLY_OUTCOME &&
				    t.outcome == XACT_OUTCOME_COMMITTED && !logged) {
					/* only the all-read-only commit needs no journal */
					for (int p = 0; p < t.nparts; p++) {
						if (t.parts[p].state == TP_YES ||
						    t.parts[p].state == TP_ACKED) {
							fail_msg("run %d step %d: COMMITTED answered "
							         "before LOGGED", run, k);
						}
					}
				}
				if (a->type == TXN_ACT_FORGET) {
					forgotten = 1;
				}
			}
			if (is_commit_side(before.state) && !is_commit_side(t.state)) {
				fail_msg("run %d step %d: left commit side %s -> %s", run, k,
				    txn_state_name(before.state), txn_state_name(t.state));
			}
			if (is_abort_side(before.state) && !is_abort_side(t.state)) {
				fail_msg("run %d step %d: left abort side %s -> %s", run, k,
				    txn_state_name(before.state), txn_state_name(t.state));
			}
			if (txn_is_final(&before) && before.state != t.state) {
				fail_msg("run %d step %d: final state changed", run, k);
			}
			if (is_commit_side(t.state) && t.outcome != XACT_OUTCOME_COMMITTED) {
				fail_msg("run %d step %d: %s with outcome %d", run, k,
				    txn_state_name(t.state), t.outcome);
			}
			/* (an orphan's may be unknown: txn_init_orphan) */
			if (is_abort_side(t.state) && t.outcome != XACT_OUTCOME_ABORTED &&
			    !(t.orphan && t.outcome == XACT_OUTCOME_UNKNOWN)) {
				fail_msg("run %d step %d: %s with outcome %d", run, k,
				    txn_state_name(t.state), t.outcome);
			}
			if (t.exec_pid >= 0 && t.state != TXN_EXECUTING) {
				fail_msg("run %d step %d: statement outstanding in %s", run, k,
				    txn_state_name(t.state));
			}
			if (t.pending && t.state != TXN_COMMITTING) {
				fail_msg("run %d step %d: pending in %s", run, k,
				    txn_state_name(t.state));
			}
		}
	}
	/* the walk must have visited every state to mean something */
	for (int s = 0; s < NSTATES; s++) {
		if (reached[s] < 100) {
			fail_msg("state %s reached only %d times in %ld steps",
			    txn_state_name((enum txn_state)s), reached[s], steps);
		}
	}
}

/* ---- names ---- */

static void
names_cover_every_state_branch_state_and_event(void **state)
{
	(void)state;
	for (int i = 0; i <= TXN_ONE_PHASE; i++) {
		assert_string_not_equal(txn_state_name((enum txn_state)i), "?");
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(txn_state_name((enum txn_state)i),
			    txn_state_name((enum txn_state)j));
		}
	}
	for (int i = 0; i <= TP_PRECOMMITTED; i++) {
		assert_string_not_equal(txn_part_state_name((enum txn_part_state)i), "?");
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(txn_part_state_name((enum txn_part_state)i),
			    txn_part_state_name((enum txn_part_state)j));
		}
	}
	for (int i = 0; i <= TXN_EV_ACK_COMMITTED; i++) {
		assert_string_not_equal(txn_event_name((enum txn_event_type)i), "?");
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(txn_event_name((enum txn_event_type)i),
			    txn_event_name((enum txn_event_type)j));
		}
	}
	assert_string_equal(txn_state_name(TXN_COMMITTING), "committing");
	assert_string_equal(txn_state_name((enum txn_state)(TXN_ONE_PHASE + 1)), "?");
	assert_string_equal(txn_state_name((enum txn_state)-1), "?");
	assert_string_equal(txn_part_state_name((enum txn_part_state)(TP_PRECOMMITTED + 1)), "?");
	assert_string_equal(txn_event_name((enum txn_event_type)(TXN_EV_ACK_COMMITTED + 1)), "?");
	assert_string_equal(txn_event_name((enum txn_event_type)-1), "?");
}

static void
only_committed_and_aborted_are_final(void **state)
{
	(void)state;
	for (int s = 0; s < NSTATES; s++) {
		struct txn t;

		build_state(&t, (enum txn_state)s);
		assert_int_equal(txn_is_final(&t), s == TXN_COMMITTED || s == TXN_ABORTED);
	}
}

/* ---- one-phase commit ---- */

static void
make_one_phase(struct txn *t)
{
	make_active(t, 1);
	t->one_phase = 1;
	STEP(t, COMMIT, NOPID);
	EXPECT(W(SEND_ONE_PHASE, A));
	assert_int_equal(t->state, TXN_ONE_PHASE);
	assert_int_equal(part_of(t, A)->state, TP_PREPARE_SENT);
}

static void
one_branch_commits_in_one_phase_with_no_prepare_and_no_journal_write(void **state)
{
	struct txn t;

	(void)state;
	make_one_phase(&t);
	STEP(&t, ONE_PHASE_COMMITTED, A);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(FORGET, NOPID)); /* no FORCE_COMMIT, no LOG_COMPLETE */
	assert_int_equal(t.state, TXN_COMMITTED);
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_int_equal(t.pending, 0);
}

static void
one_phase_needs_the_option_one_branch_and_two_phase_commit(void **state)
{
	struct txn t;

	(void)state;
	make_active(&t, 2);
	t.one_phase = 1;
	STEP(&t, COMMIT, NOPID);
	EXPECT(W(SEND_PREPARE, A), W(SEND_PREPARE, B));
	make_active(&t, 1); /* one_phase unset */
	STEP(&t, COMMIT, NOPID);
	EXPECT(W(SEND_PREPARE, A));
	make_active(&t, 1);
	t.one_phase = 1;
	t.protocol = XACT_PROTOCOL_3PC;
	STEP(&t, COMMIT, NOPID);
	EXPECT(W(SEND_PREPARE, A));
	assert_int_equal(t.state, TXN_PREPARING);
}

static void
one_phase_answer_lost_is_asked_again_and_nothing_aborts_it(void **state)
{
	struct txn t;

	(void)state;
	make_one_phase(&t);
	STEPR(&t, ONE_PHASE_LOST, A, 0, "connection reset");
	EXPECT_NONE(); /* the client is not answered: the outcome is not known */
	assert_int_equal(t.state, TXN_ONE_PHASE);
	assert_int_equal(t.retry, 1);
	assert_non_null(strstr(t.reason, "connection reset"));
	IGNORED(&t, TIMEOUT, NOPID);
	REFUSED(&t, ROLLBACK, NOPID);
	REFUSED(&t, EXEC, A);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(SEND_ONE_PHASE, A));
	assert_int_equal(t.retry, 0);
	STEP(&t, COMMIT, NOPID); /* a repeated commit waits for the outcome */
	EXPECT_NONE();
	STEP(&t, ONE_PHASE_LOST, A);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(SEND_ONE_PHASE, A));
	STEP(&t, ONE_PHASE_COMMITTED, A);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_string_equal(t.reason, "");
}

static void
one_phase_no_aborts_at_once_and_sends_no_abort(void **state)
{
	struct txn t;

	(void)state;
	make_one_phase(&t);
	STEPR(&t, VOTE_NO, A, 0, "deferred constraint violated");
	EXPECT(W(REPLY_OUTCOME, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.state, TXN_ABORTED);
	assert_int_equal(t.outcome, XACT_OUTCOME_ABORTED);
	assert_string_equal(t.reason, "deferred constraint violated");
	assert_int_equal(count_type(TXN_ACT_SEND_ABORT), 0);
}

static void
one_phase_read_only_commits_and_a_stray_answer_changes_nothing(void **state)
{
	struct txn t;

	(void)state;
	make_one_phase(&t);
	IGNORED(&t, ONE_PHASE_COMMITTED, B); /* not its branch */
	IGNORED(&t, VOTE_NO, C);
	STEP(&t, VOTE_READ_ONLY, A);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_int_equal(part_of(&t, A)->state, TP_READ_ONLY);
}

static void
one_phase_answered_yes_by_an_agent_that_prepared_goes_on_in_two_phases(void **state)
{
	struct txn t;

	(void)state;
	make_one_phase(&t);
	STEP(&t, VOTE_YES, A);
	/* the only writer: its COMMIT needs no journal row (one writer) */
	EXPECT(W(SEND_COMMIT, A));
	assert_int_equal(t.state, TXN_COMMITTING);
	assert_int_equal(t.unjournaled, 1);
	STEP(&t, ACK, A);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(FORGET, NOPID));
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
}

static void
one_writer_among_read_only_branches_commits_with_no_journal_write(void **state)
{
	struct txn t;

	(void)state;
	make_active(&t, 2);
	t.one_phase = 1;
	STEP(&t, COMMIT, NOPID);
	EXPECT(W(SEND_PREPARE, A), W(SEND_PREPARE, B));
	STEP(&t, VOTE_READ_ONLY, A);
	EXPECT_NONE();
	STEP(&t, VOTE_YES, B);
	EXPECT(W(SEND_COMMIT, B)); /* no FORCE_COMMIT, and no answer yet */
	assert_int_equal(t.state, TXN_COMMITTING);
	assert_int_equal(t.unjournaled, 1);
	STEP(&t, COMMIT, NOPID); /* a repeated commit waits for the ack */
	EXPECT_NONE();
	STEP(&t, ACK_FAILED, B);
	EXPECT_NONE(); /* not answered while the one writer has not acked */
	assert_int_equal(t.retry, 1);
	STEP(&t, RETRY, NOPID);
	EXPECT(W(SEND_COMMIT, B));
	STEP(&t, ACK, B);
	EXPECT(W(REPLY_OUTCOME, NOPID), W(FORGET, NOPID)); /* no LOG_COMPLETE */
	assert_int_equal(t.outcome, XACT_OUTCOME_COMMITTED);
	assert_int_equal(t.pending, 0);
}

static void
two_writers_or_no_option_journal_the_decision(void **state)
{
	struct txn t;

	(void)state;
	make_active(&t, 2);
	t.one_phase = 1;
	STEP(&t, COMMIT, NOPID);
	STEP(&t, VOTE_YES, A);
	STEP(&t, VOTE_YES, B);
	EXPECT(W(FORCE_COMMIT, NOPID));
	make_active(&t, 2); /* one_phase unset */
	STEP(&t, COMMIT, NOPID);
	STEP(&t, VOTE_READ_ONLY, A);
	STEP(&t, VOTE_YES, B);
	EXPECT(W(FORCE_COMMIT, NOPID));
	assert_int_equal(t.unjournaled, 0);
	make_active(&t, 2); /* a run named by a run id: found again only in the journal */
	t.one_phase = 1;
	t.journal_always = 1;
	STEP(&t, COMMIT, NOPID);
	STEP(&t, VOTE_READ_ONLY, A);
	STEP(&t, VOTE_YES, B);
	EXPECT(W(FORCE_COMMIT, NOPID));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(init_starts_active_with_no_branch_and_outcome_unknown),
		cmocka_unit_test(one_branch_commits_in_one_phase_with_no_prepare_and_no_journal_write),
		cmocka_unit_test(one_phase_needs_the_option_one_branch_and_two_phase_commit),
		cmocka_unit_test(one_phase_answer_lost_is_asked_again_and_nothing_aborts_it),
		cmocka_unit_test(one_phase_no_aborts_at_once_and_sends_no_abort),
		cmocka_unit_test(one_phase_read_only_commits_and_a_stray_answer_changes_nothing),
		cmocka_unit_test(one_phase_answered_yes_by_an_agent_that_prepared_goes_on_in_two_phases),
		cmocka_unit_test(orphan_answers_a_client_only_after_its_branch_and_never_says_aborted_in_doubt),
		cmocka_unit_test(one_writer_among_read_only_branches_commits_with_no_journal_write),
		cmocka_unit_test(two_writers_or_no_option_journal_the_decision),
		cmocka_unit_test(exec_in_active_enlists_the_participant_and_forwards_the_statement),
		cmocka_unit_test(exec_done_returns_to_active_and_answers_the_statement),
		cmocka_unit_test(statement_on_an_enlisted_participant_does_not_enlist_it_twice),
		cmocka_unit_test(statement_beyond_txn_max_parts_is_refused_with_etoobig_and_changes_nothing),
		cmocka_unit_test(commit_with_no_participant_commits_at_once_without_journal_write),
		cmocka_unit_test(commit_sends_prepare_to_every_participant_in_enlistment_order),
		cmocka_unit_test(rollback_in_active_answers_aborted_and_sends_abort_to_every_branch),
		cmocka_unit_test(rollback_with_no_participant_finishes_aborted_at_once),
		cmocka_unit_test(timeout_in_active_aborts_every_branch_without_answering_anyone),
		cmocka_unit_test(active_refuses_events_of_other_states_and_changes_nothing),
		cmocka_unit_test(statement_failure_answers_the_error_and_aborts_every_branch),
		cmocka_unit_test(statement_failure_without_code_is_answered_esql_and_keeps_other_codes),
		cmocka_unit_test(result_from_another_participant_than_the_outstanding_one_is_refused),
		cmocka_unit_test(executing_refuses_a_second_statement_commit_and_protocol_events),
		cmocka_unit_test(rollback_while_executing_answers_the_statement_aborted_and_aborts_every_branch),
		cmocka_unit_test(timeout_while_executing_answers_the_statement_aborted_and_drops_its_late_result),
		cmocka_unit_test(statements_are_numbered_per_branch_from_one),
		cmocka_unit_test(commit_with_every_vote_yes_forces_decision_before_any_commit),
		cmocka_unit_test(votes_in_any_order_decide_only_on_the_last_one),
		cmocka_unit_test(vote_no_aborts_answers_the_client_and_sends_abort_to_every_branch_that_may_hold_work),
		cmocka_unit_test(vote_no_without_reason_records_voted_no),
		cmocka_unit_test(read_only_branch_is_left_out_of_phase_two),
		cmocka_unit_test(all_read_only_commit_finishes_committed_without_journal_write),
		cmocka_unit_test(read_only_branch_is_not_sent_abort_when_another_votes_no),
		cmocka_unit_test(duplicate_and_stray_votes_while_preparing_change_nothing),
		cmocka_unit_test(repeated_commit_while_preparing_is_answered_once_at_the_decision),
		cmocka_unit_test(timeout_while_preparing_counts_missing_votes_as_no),
		cmocka_unit_test(preparing_ignores_retry),
		cmocka_unit_test(preparing_refuses_statements_rollback_and_phase_two_events),
		cmocka_unit_test(logged_sends_commit_to_every_yes_branch_and_answers_only_after_the_round),
		cmocka_unit_test(log_failure_answers_outcome_unknown_and_asks_for_a_retry_never_an_abort),
		cmocka_unit_test(retry_after_log_failure_forces_the_decision_again_until_it_is_logged),
		cmocka_unit_test(commit_repeated_while_logging_waits_for_the_decision),
		cmocka_unit_test(logging_refuses_rollback_statements_and_acks_and_changes_nothing),
		cmocka_unit_test(late_vote_while_logging_is_ignored_and_changes_nothing),
		cmocka_unit_test(acks_in_any_order_commit_answer_the_client_log_completion_and_forget),
		cmocka_unit_test(unacknowledged_commit_answers_committed_with_pending_and_is_retried),
		cmocka_unit_test(commit_is_resent_for_ever_and_never_gives_up),
		cmocka_unit_test(retry_while_a_round_is_unanswered_sends_nothing),
		cmocka_unit_test(duplicate_and_stray_acks_while_committing_change_nothing),
		cmocka_unit_test(late_votes_and_timeout_while_committing_are_ignored),
		cmocka_unit_test(commit_or_rollback_after_the_round_is_answered_committed_never_aborted),
		cmocka_unit_test(request_during_an_unanswered_commit_round_waits_for_the_round),
		cmocka_unit_test(committing_refuses_statements_and_journal_events),
		cmocka_unit_test(every_abort_ack_finishes_aborted_without_log_complete),
		cmocka_unit_test(abort_gives_up_on_a_branch_after_txn_abort_attempts_unanswered_sends),
		cmocka_unit_test(giving_up_on_one_branch_keeps_aborting_the_others),
		cmocka_unit_test(statement_for_an_aborting_transaction_is_answered_aborted_without_enlisting),
		cmocka_unit_test(commit_or_rollback_of_an_aborting_transaction_is_answered_aborted_at_once),
		cmocka_unit_test(late_votes_acks_and_timeout_while_aborting_are_ignored),
		cmocka_unit_test(aborting_never_accepts_a_commit_decision),
		cmocka_unit_test(committed_answers_repeated_requests_committed_and_refuses_statements),
		cmocka_unit_test(aborted_answers_requests_aborted_and_statements_eaborted),
		cmocka_unit_test(final_states_ignore_every_late_message),
		cmocka_unit_test(recovered_transaction_resends_commit_to_every_participant_and_forgets_after_acks),
		cmocka_unit_test(recovered_transaction_never_aborts),
		cmocka_unit_test(orphan_branch_is_aborted_on_retry_and_forgotten_after_its_ack),
		cmocka_unit_test(orphan_gives_up_after_txn_abort_attempts),
		cmocka_unit_test(add_orphan_part_joins_the_abort_once_and_refuses_beyond_txn_max_parts),
		cmocka_unit_test(every_state_answers_every_event_as_documented),
		cmocka_unit_test(no_event_sends_commit_before_the_decision_is_logged),
		cmocka_unit_test(random_event_sequences_never_abort_a_commit_nor_commit_an_abort),
		cmocka_unit_test(names_cover_every_state_branch_state_and_event),
		cmocka_unit_test(three_pc_forces_precommit_then_precommits_then_commits),
		cmocka_unit_test(three_pc_aborts_on_a_no_vote_before_any_precommit),
		cmocka_unit_test(three_pc_never_aborts_by_itself_once_the_precommit_may_be_durable),
		cmocka_unit_test(three_pc_hands_over_to_a_termination_when_a_branch_refuses),
		cmocka_unit_test(a_recovered_precommit_waits_for_the_termination),
		cmocka_unit_test(only_committed_and_aborted_are_final),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
