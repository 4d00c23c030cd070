/* Tests of participant/sqlguard.c: which statements may run in a branch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sqlguard.h"

static void
ordinary_statements_are_allowed(void **state)
{
	(void)state;
	assert_null(sqlguard_check("UPDATE accounts SET balance = balance - 1 WHERE id = 1"));
	assert_null(sqlguard_check("select 1"));
	assert_null(sqlguard_check("INSERT INTO commits VALUES (1)"));
	assert_null(sqlguard_check("SAVEPOINT a"));
	assert_null(sqlguard_check("ROLLBACK TO SAVEPOINT a"));
	assert_null(sqlguard_check("rollback to a"));
	assert_null(sqlguard_check("PREPARE q AS SELECT 1"));
	assert_null(sqlguard_check("WITH x AS (SELECT 1) SELECT * FROM x"));
	assert_null(sqlguard_check(""));
}

static void
statements_that_end_the_transaction_are_refused(void **state)
{
	(void)state;
	assert_non_null(sqlguard_check("COMMIT"));
	assert_non_null(sqlguard_check("commit work"));
	assert_non_null(sqlguard_check("END"));
	assert_non_null(sqlguard_check("abort"));
	assert_non_null(sqlguard_check("ROLLBACK"));
	assert_non_null(sqlguard_check("rollback;"));
	assert_non_null(sqlguard_check("PREPARE TRANSACTION 'x'"));
	assert_non_null(sqlguard_check("BEGIN"));
	assert_non_null(sqlguard_check("START TRANSACTION"));
}

static void
comments_and_blanks_do_not_hide_a_commit(void **state)
{
	(void)state;
	assert_non_null(sqlguard_check("  \n\tCOMMIT"));
	assert_non_null(sqlguard_check("-- a comment\nCOMMIT"));
	assert_non_null(sqlguard_check("/* a /* nested */ comment */ COMMIT"));
	assert_non_null(sqlguard_check("/* c */ -- d\n  rollback"));
	assert_null(sqlguard_check("/* COMMIT */ SELECT 1"));
	/* Empty statements before it: PostgreSQL drops them. */
	assert_non_null(sqlguard_check(";COMMIT"));
	assert_non_null(sqlguard_check(" ; ;\n; commit"));
	assert_non_null(sqlguard_check("/**/;COMMIT AND CHAIN"));
	assert_non_null(sqlguard_check(";PREPARE TRANSACTION 'mine'"));
	assert_null(sqlguard_check(";SELECT 1"));
	assert_null(sqlguard_check("-- COMMIT\nSELECT 1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ordinary_statements_are_allowed),
		cmocka_unit_test(statements_that_end_the_transaction_are_refused),
		cmocka_unit_test(comments_and_blanks_do_not_hide_a_commit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
