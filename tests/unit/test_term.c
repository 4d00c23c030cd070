/*
 * test_term.c - the termination protocol's rules (participant/term.h):
 * Skeen's decision from the reachable branches' states, and the leader.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
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

static void
the_leader_is_the_lowest_reachable_name(void **state)
{
	const char *names[] = {"pc", "pa", "pb"};
	int all[] = {1, 1, 1}, no_pa[] = {1, 0, 1}, only_pc[] = {1, 0, 0}, none[] = {0, 0, 0};

	(void)state;
	assert_int_equal(term_leader(names, all, 3), 1);
	assert_int_equal(term_leader(names, no_pa, 3), 2);
	assert_int_equal(term_leader(names, only_pc, 3), 0);
	assert_int_equal(term_leader(names, none, 3), -1);
	assert_string_equal(term_decision_name(TERM_PRECOMMIT), "precommit");
	assert_string_equal(term_decision_name((enum term_decision)9), "?");
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
	    cmocka_unit_test(the_leader_is_the_lowest_reachable_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
