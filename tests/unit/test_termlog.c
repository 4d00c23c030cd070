/*
 * test_termlog.c - the agent's termination log (participant/termlog.h):
 * records survive a reopen, replace and go away by gid, are walked in
 * order; a file that is not a termination log, or is another agent's, is
 * refused and left as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tmpdir.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "termlog.h"

static int
group_setup(void **state)
{
	(void)state;
	return tmpdir_make("termlog");
}

static int
group_teardown(void **state)
{
	(void)state;
	return tmpdir_remove();
}

static termlog *
open_ok(const char *path, const char *agent)
{
	char err[512] = "";
	termlog *t = NULL;

	if (termlog_open(&t, path, agent, err, sizeof(err)) != 0) {
		fail_msg("termlog_open %s: %s", path, err);
	}
	return t;
}

struct seen {
	int n;
	struct termlog_entry e[8];
	int stop_after;
};

static int
collect(void *arg, const struct termlog_entry *e)
{
	struct seen *s = arg;

	if (s->n < 8) {
		s->e[s->n] = *e;
	}
	s->n++;
	return s->stop_after > 0 && s->n == s->stop_after ? 7 : 0;
}

static void
records_survive_a_reopen_and_are_replaced_and_removed_by_gid(void **state)
{
	char path[512];
	termlog *t;
	struct termlog_entry e = {0}, got;
	struct seen s = {0};

	(void)state;
	snprintf(path, sizeof(path), "%s/a.termlog", dir);
	t = open_ok(path, "pa");
	snprintf(e.gid, sizeof(e.gid), "xact:c1:2");
	snprintf(e.peers, sizeof(e.peers), "pb=tcp://127.0.0.1:7402,pc=tcp://127.0.0.1:7403");
	assert_int_equal(termlog_put(t, &e), 0);
	snprintf(e.gid, sizeof(e.gid), "xact:c1:1");
	assert_int_equal(termlog_put(t, &e), 0);
	termlog_close(t);

	t = open_ok(path, "pa"); /* durable: read back after a reopen */
	assert_int_equal(termlog_each(t, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.e[0].gid, "xact:c1:1"); /* in gid order */
	assert_false(s.e[0].precommitted);
	assert_int_equal(s.e[0].promised, 0);
	assert_string_equal(s.e[1].peers, "pb=tcp://127.0.0.1:7402,pc=tcp://127.0.0.1:7403");

	e.precommitted = 1;
	e.promised = 1234567890123LL;
	assert_int_equal(termlog_put(t, &e), 0); /* replaces xact:c1:1 */
	assert_int_equal(termlog_get(t, "xact:c1:1", &got), 0);
	assert_true(got.precommitted);
	assert_int_equal(got.promised, 1234567890123LL);
	assert_int_equal(termlog_get(t, "xact:c1:9", &got), 1);

	assert_int_equal(termlog_remove(t, "xact:c1:1"), 0);
	assert_int_equal(termlog_remove(t, "xact:c1:1"), 0); /* again: no error */
	memset(&s, 0, sizeof(s));
	assert_int_equal(termlog_each(t, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.e[0].gid, "xact:c1:2");
	termlog_close(t);
}

/* READ-ONLY votes are kept, with the time of their write, until pruned. */
static void
read_only_records_are_kept_until_pruned(void **state)
{
	char path[512];
	termlog *t;
	struct termlog_entry e = {0}, got;

	(void)state;
	snprintf(path, sizeof(path), "%s/ro.termlog", dir);
	t = open_ok(path, "pa");
	snprintf(e.gid, sizeof(e.gid), "xact:c1:5");
	e.readonly = 1;
	assert_int_equal(termlog_put(t, &e), 0);
	snprintf(e.gid, sizeof(e.gid), "xact:c1:6");
	e.readonly = 0; /* a prepared one: never pruned */
	assert_int_equal(termlog_put(t, &e), 0);
	assert_int_equal(termlog_get(t, "xact:c1:5", &got), 0);
	assert_true(got.readonly);
	assert_false(got.precommitted);
	assert_true(got.at > 1700000000000LL); /* unix ms */
	assert_int_equal(termlog_prune_readonly(t, got.at), 0); /* not older than itself */
	assert_int_equal(termlog_get(t, "xact:c1:5", &got), 0);
	assert_int_equal(termlog_prune_readonly(t, got.at + 1), 0);
	assert_int_equal(termlog_get(t, "xact:c1:5", &got), 1);
	assert_int_equal(termlog_get(t, "xact:c1:6", &got), 0);
	assert_false(got.readonly);
	termlog_close(t);
}

static void
a_walk_stops_at_a_non_zero_answer(void **state)
{
	char path[512];
	termlog *t;
	struct termlog_entry e = {0};
	struct seen s = {0};

	(void)state;
	snprintf(path, sizeof(path), "%s/walk.termlog", dir);
	t = open_ok(path, "pa");
	for (int i = 0; i < 3; i++) {
		snprintf(e.gid, sizeof(e.gid), "xact:c1:%d", i);
		assert_int_equal(termlog_put(t, &e), 0);
	}
	s.stop_after = 2;
	assert_int_equal(termlog_each(t, collect, &s), 7);
	assert_int_equal(s.n, 2);
	termlog_close(t);
}

static void
another_agents_log_and_other_files_are_refused_untouched(void **state)
{
	char path[512], other[512], err[512];
	termlog *t = (termlog *)(uintptr_t)1;
	sqlite3 *db;

	(void)state;
	snprintf(path, sizeof(path), "%s/owned.termlog", dir);
	termlog_close(open_ok(path, "pa"));
	assert_int_equal(termlog_open(&t, path, "pb", err, sizeof(err)), -1);
	assert_null(t);
	assert_non_null(strstr(err, "belongs to agent 'pa', not 'pb'"));
	termlog_close(open_ok(path, "pa")); /* still fine for its owner */

	snprintf(other, sizeof(other), "%s/app.db", dir);
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", NULL,
	                     NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(termlog_open(&t, other, "pa", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a termination log"));
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "SELECT x FROM t", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(records_survive_a_reopen_and_are_replaced_and_removed_by_gid),
	    cmocka_unit_test(read_only_records_are_kept_until_pruned),
	    cmocka_unit_test(a_walk_stops_at_a_non_zero_answer),
	    cmocka_unit_test(another_agents_log_and_other_files_are_refused_untouched),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
