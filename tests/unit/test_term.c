/*
 * test_term.c - the termination protocol (shared/term.h): Skeen's decision
 * from the branches' states, one leader's round against members held in
 * memory, and ballots.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "term.h"

#define S(...) ((const enum branch_state[]){__VA_ARGS__})
#define N(...) (int)(sizeof((const enum branch_state[]){__VA_ARGS__}) / sizeof(enum branch_state))
#define DECIDE(...) term_decide(S(__VA_ARGS__), N(__VA_ARGS__))

static void
any_committed_branch_means_commit(void **state)
{
	(void)state;
	assert_int_equal(DECIDE(BR_COMMITTED, BR_PREPARED), TERM_COMMIT);
	assert_int_equal(DECIDE(BR_PREPARED, BR_PRECOMMITTED, BR_COMMITTED), TERM_COMMIT);
	assert_int_equal(DECIDE(BR_COMMITTED), TERM_COMMIT);
}

static void
an_aborted_or_unvoted_branch_means_abort(void **state)
{
	(void)state;
	assert_int_equal(DECIDE(BR_ABORTED, BR_PRECOMMITTED), TERM_ABORT);
	assert_int_equal(DECIDE(BR_PRECOMMITTED, BR_ACTIVE), TERM_ABORT);
	assert_int_equal(DECIDE(BR_NONE, BR_PREPARED), TERM_ABORT);
}

static void
none_precommitted_means_abort(void **state)
{
	(void)state;
	assert_int_equal(DECIDE(BR_PREPARED, BR_PREPARED, BR_PREPARED), TERM_ABORT);
	assert_int_equal(DECIDE(BR_PREPARED, BR_READ_ONLY), TERM_ABORT);
	assert_int_equal(DECIDE(BR_READ_ONLY), TERM_ABORT);
}

static void
some_precommitted_none_aborted_means_precommit_then_commit(void **state)
{
	(void)state;
	assert_int_equal(DECIDE(BR_PRECOMMITTED, BR_PREPARED), TERM_PRECOMMIT);
	assert_int_equal(DECIDE(BR_PREPARED, BR_READ_ONLY, BR_PRECOMMITTED), TERM_PRECOMMIT);
	assert_int_equal(DECIDE(BR_PRECOMMITTED, BR_PRECOMMITTED), TERM_COMMIT);
	assert_int_equal(DECIDE(BR_PRECOMMITTED, BR_READ_ONLY), TERM_COMMIT);
}

/* Every combination of three states: commit is chosen exactly when a
 * branch committed, or when every voting branch is pre-committed; abort
 * never when one committed; pre-commit only with none aborted. */
static void
every_combination_of_three_follows_the_rules(void **state)
{
	enum branch_state st[3];
	int n = 0;

	(void)state;
	for (int a = 0; a <= BR_PRECOMMITTED; a++) {
		for (int b = 0; b <= BR_PRECOMMITTED; b++) {
			for (int c = 0; c <= BR_PRECOMMITTED; c++) {
				int committed = 0, pc = 0, p = 0, bad = 0;
				enum term_decision d;

				st[0] = a;
				st[1] = b;
				st[2] = c;
				for (int i = 0; i < 3; i++) {
					committed += st[i] == BR_COMMITTED;
					pc += st[i] == BR_PRECOMMITTED;
					p += st[i] == BR_PREPARED;
					bad += st[i] == BR_NONE || st[i] == BR_ACTIVE || st[i] == BR_ABORTED;
				}
				d = term_decide(st, 3);
				if (committed > 0) {
					assert_int_equal(d, TERM_COMMIT);
				} else if (bad > 0 || pc == 0) {
					assert_int_equal(d, TERM_ABORT);
				} else {
					assert_int_equal(d, p > 0 ? TERM_PRECOMMIT : TERM_COMMIT);
				}
				n++;
			}
		}
	}
	assert_int_equal(n, 7 * 7 * 7);
}

/* ---- term_lead: one round against members held in memory, which
 * answer the way agent.c's term_serve does ---------------------------- */

struct member {
	enum branch_state st;
	int fresh;
	uint64_t promised;
	int down;       /* never answers */
	int die_after;  /* answers this many calls, then is down (0: never) */
	int calls;
};

static struct member M[4];

static void
fake_call(void *arg, int i, enum term_call call, uint64_t ballot, struct term_answer *ans)
{
	struct member *m = &M[i];
	int final;

	(void)arg;
	memset(ans, 0, sizeof(*ans));
	if (m->down || (m->die_after > 0 && m->calls >= m->die_after)) {
		m->down = 1;
		return;
	}
	m->calls++;
	final = m->st == BR_COMMITTED || m->st == BR_ABORTED || m->st == BR_READ_ONLY;
	ans->reached = 1;
	if (!final && ballot < m->promised) {
		ans->refused = 1;
	} else if (call == TERM_CALL_STATE) {
		if (!final && ballot > m->promised) {
			m->promised = ballot;
		}
	} else if (call == TERM_CALL_PRECOMMIT) {
		m->st = branch_after(m->st, BREQ_PRECOMMIT, BRES_OK);
	} else {
		m->st = branch_after(m->st, call == TERM_CALL_COMMIT ? BREQ_COMMIT : BREQ_ABORT, BRES_OK);
	}
	ans->state = m->st;
	ans->fresh = m->fresh || final;
	ans->promised = m->promised;
}

static enum term_result
lead(int n, uint64_t ballot, int everyone, struct term_round *r)
{
	memset(r, 0, sizeof(*r));
	r->n = n;
	r->ballot = ballot;
	r->everyone = everyone;
	r->call = fake_call;
	return term_lead(r);
}

static void
set(int i, enum branch_state st, int fresh)
{
	memset(&M[i], 0, sizeof(M[i]));
	M[i].st = st;
	M[i].fresh = fresh;
}

static void
a_round_precommits_the_prepared_then_commits_all(void **state)
{
	struct term_round r;

	(void)state;
	set(0, BR_PREPARED, 1);
	set(1, BR_PRECOMMITTED, 1);
	set(2, BR_PREPARED, 1);
	assert_int_equal(lead(3, 100, 0, &r), TERM_LED_COMMIT);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(M[i].st, BR_COMMITTED);
		assert_int_equal(M[i].promised, 100);
	}
}

static void
a_round_with_nothing_precommitted_aborts_all(void **state)
{
	struct term_round r;

	(void)state;
	set(0, BR_PREPARED, 1);
	set(1, BR_PREPARED, 1);
	set(2, BR_ACTIVE, 1);
	assert_int_equal(lead(3, 7, 0, &r), TERM_LED_ABORT);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(M[i].st, BR_ABORTED);
	}
}

/* An agent's round: an unreachable member and one back from a crash take
 * no part; what the others hold decides. */
static void
unreachable_and_stale_members_take_no_part(void **state)
{
	struct term_round r;

	(void)state;
	set(0, BR_PREPARED, 1);
	M[0].down = 1;
	set(1, BR_PRECOMMITTED, 1);
	set(2, BR_PREPARED, 0); /* crashed since it voted */
	assert_int_equal(lead(3, 9, 0, &r), TERM_LED_COMMIT);
	assert_int_equal(M[0].st, BR_PREPARED);
	assert_int_equal(M[1].st, BR_COMMITTED);
	assert_int_equal(M[2].st, BR_PREPARED); /* learns it later, from member 1 */
	assert_int_equal(M[2].promised, 9);    /* it promised all the same */
	assert_false(r.in[0]);
	assert_true(r.in[1]);
	assert_false(r.in[2]);
}

/* A committed branch decides, even held by one back from a crash. */
static void
a_committed_branch_makes_everyone_commit(void **state)
{
	struct term_round r;

	(void)state;
	set(0, BR_PREPARED, 1);
	set(1, BR_COMMITTED, 0);
	set(2, BR_PRECOMMITTED, 1);
	assert_int_equal(lead(3, 5, 0, &r), TERM_LED_COMMIT);
	assert_int_equal(M[0].st, BR_COMMITTED);
	assert_int_equal(M[2].st, BR_COMMITTED);
}

/* A member that promised a higher ballot stops the round before anything
 * changes; the round reports that promise. */
static void
a_higher_promise_ends_the_round(void **state)
{
	struct term_round r;

	(void)state;
	set(0, BR_PREPARED, 1);
	set(1, BR_PRECOMMITTED, 1);
	M[1].promised = 500;
	set(2, BR_PREPARED, 1);
	assert_int_equal(lead(3, 100, 0, &r), TERM_LED_REFUSED);
	assert_int_equal(r.promised, 500);
	assert_int_equal(M[0].st, BR_PREPARED);
	assert_int_equal(M[2].st, BR_PREPARED);
	assert_int_equal(M[2].promised, 0); /* never asked */
}

/* The coordinator's round needs every member: without one it decides
 * nothing, and a stale member counts. */
static void
the_coordinator_decides_only_with_every_member(void **state)
{
	struct term_round r;

	(void)state;
	set(0, BR_PRECOMMITTED, 1);
	set(1, BR_PREPARED, 0);
	M[1].down = 1;
	assert_int_equal(lead(2, 3, 1, &r), TERM_LED_INCOMPLETE);
	assert_int_equal(M[0].st, BR_PRECOMMITTED);
	M[1].down = 0;
	assert_int_equal(lead(2, 4, 1, &r), TERM_LED_COMMIT);
	assert_int_equal(M[1].st, BR_COMMITTED);
}

/* A member lost after the states were taken is dropped: the others still
 * get the one decision; the lost one keeps its pre-commit and learns later. */
static void
a_member_lost_midway_is_dropped(void **state)
{
	struct term_round r;

	(void)state;
	set(0, BR_PRECOMMITTED, 1);
	set(1, BR_PREPARED, 1);
	M[1].die_after = 2; /* answers STATE and PRECOMMIT, not COMMIT */
	set(2, BR_PREPARED, 1);
	assert_int_equal(lead(3, 11, 0, &r), TERM_LED_COMMIT);
	assert_int_equal(M[0].st, BR_COMMITTED);
	assert_int_equal(M[1].st, BR_PRECOMMITTED);
	assert_int_equal(M[2].st, BR_COMMITTED);
	assert_false(r.in[1]);
}

/* Two leaders that could not see each other decided apart: the round
 * commits what it can and reports the split. */
static void
a_split_is_reported_not_retried(void **state)
{
	struct term_round r;

	(void)state;
	set(0, BR_COMMITTED, 1);
	set(1, BR_ABORTED, 1);
	set(2, BR_PRECOMMITTED, 1);
	assert_int_equal(lead(3, 21, 1, &r), TERM_LED_SPLIT);
	assert_int_equal(r.decision, TERM_COMMIT);
	assert_int_equal(M[1].st, BR_ABORTED);
	assert_int_equal(M[2].st, BR_COMMITTED);
	/* A member merely not done (still pre-committed) is no split. */
	set(0, BR_COMMITTED, 1);
	set(1, BR_PRECOMMITTED, 1);
	M[1].die_after = 1;
	assert_int_equal(lead(2, 22, 1, &r), TERM_LED_INCOMPLETE);
}

static void
ballots_grow_and_never_collide(void **state)
{
	uint64_t a = term_ballot(0, 1, 1000), b = term_ballot(0, 2, 1000);

	(void)state;
	assert_true(a != b);
	assert_true(term_ballot(a, 1, 1000) > a);      /* above what was seen */
	assert_true(term_ballot(0, 1, 2000) > a);      /* later is higher */
	assert_true(term_ballot(b, 1, 0) > b);         /* a clock gone back still climbs */
	assert_int_equal(term_ballot(0, TERM_WHO_COORDINATOR, 1000) & 63, TERM_WHO_COORDINATOR);
	assert_string_equal(term_decision_name(TERM_PRECOMMIT), "precommit");
	assert_string_equal(term_decision_name((enum term_decision)9), "?");
	assert_string_equal(term_result_name(TERM_LED_REFUSED), "refused");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(any_committed_branch_means_commit),
	    cmocka_unit_test(an_aborted_or_unvoted_branch_means_abort),
	    cmocka_unit_test(none_precommitted_means_abort),
	    cmocka_unit_test(some_precommitted_none_aborted_means_precommit_then_commit),
	    cmocka_unit_test(every_combination_of_three_follows_the_rules),
	    cmocka_unit_test(a_round_precommits_the_prepared_then_commits_all),
	    cmocka_unit_test(a_round_with_nothing_precommitted_aborts_all),
	    cmocka_unit_test(unreachable_and_stale_members_take_no_part),
	    cmocka_unit_test(a_committed_branch_makes_everyone_commit),
	    cmocka_unit_test(a_higher_promise_ends_the_round),
	    cmocka_unit_test(the_coordinator_decides_only_with_every_member),
	    cmocka_unit_test(a_member_lost_midway_is_dropped),
	    cmocka_unit_test(a_split_is_reported_not_retried),
	    cmocka_unit_test(ballots_grow_and_never_collide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
