/*
 * test_journal.c - the coordinator's SQLite decision journal
 * (coordinator/journal.h): opening and refusing files, gid sequence
 * reservation, group-committed decisions and their callbacks, completion,
 * and a failing write.  Every journal lives in a fresh mkdtemp folder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "failpoint.h"
#include "journal.h"
#include "xact.h"

#define RETENTION_MS (3600LL * 1000)
#define MAX_CALLS 256

/* ---- helpers ---- */

static int
group_setup(void **state)
{
	(void)state;
	return tmpdir_make("journal");
}

static int
group_teardown(void **state)
{
	(void)state;
	return tmpdir_remove();
}

static int
reset_failpoints(void **state)
{
	(void)state;
	return failpoint_configure(NULL);
}

/* A fresh path in the test folder. */
static void
path_for(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
	unlink(buf);
}

static int64_t
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static journal *
open_ok(const char *path, const char *id)
{
	journal *j = NULL;
	char err[512] = "";
	int rv = journal_open(&j, path, id, err, sizeof(err));

	if (rv != XACT_OK) {
		fail_msg("journal_open(%s, %s): %d: %s", path, id, rv, err);
	}
	assert_non_null(j);
	return j;
}

/* journal_open must refuse: returns the error text. */
static void
open_refused(const char *path, const char *id, char *err, size_t errlen)
{
	journal *j = (journal *)(uintptr_t)1;

	err[0] = '\0';
	assert_int_equal(journal_open(&j, path, id, err, errlen), XACT_EJOURNAL);
	assert_null(j);
	assert_true(strlen(err) > 0);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Runs SQL on the file with a connection of our own. */
static void
sql_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fail_msg("%s: %s", sql, msg ? msg : "?");
	}
	sqlite3_close(db);
}

/* One text value from our own connection; "" when no row. */
static void
sql_text(const char *path, const char *sql, char *out, size_t n)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	out[0] = '\0';
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL) {
		snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Collects journal callbacks. */
struct waiter {
	pthread_mutex_t m;
	pthread_cond_t cv;
	int calls;
	int errors;
	char gids[MAX_CALLS][64];
	int errs[MAX_CALLS];
	char last_msg[512];
	sqlite3 *probe;      /* when set: is the row already committed? */
	int durable_in_cb;   /* callbacks that found their row with probe */
};

static void
waiter_init(struct waiter *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->m, NULL);
	pthread_cond_init(&w->cv, NULL);
}

static void
waiter_destroy(struct waiter *w)
{
	if (w->probe != NULL) {
		sqlite3_close(w->probe);
	}
	pthread_mutex_destroy(&w->m);
	pthread_cond_destroy(&w->cv);
}

static int
probe_has(sqlite3 *db, const char *gid)
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM decisions WHERE gid = ?", -1, &st,
	        NULL) != SQLITE_OK) {
		return 0;
	}
	sqlite3_bind_text(st, 1, gid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		found = sqlite3_column_int(st, 0) == 1;
	}
	sqlite3_finalize(st);
	return found;
}

static void
on_decision(void *arg, const char *gid, int err, const char *msg)
{
	struct waiter *w = arg;
	int durable = w->probe != NULL && err == 0 && probe_has(w->probe, gid);

	pthread_mutex_lock(&w->m);
	if (w->calls < MAX_CALLS) {
		snprintf(w->gids[w->calls], sizeof(w->gids[0]), "%s", gid);
		w->errs[w->calls] = err;
	}
	w->calls++;
	w->errors += err != 0;
	w->durable_in_cb += durable;
	snprintf(w->last_msg, sizeof(w->last_msg), "%s", msg ? msg : "");
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->m);
}

/* Waits (at most 10 s) for n callbacks in all. */
static void
wait_calls(struct waiter *w, int n)
{
	struct timespec deadline;
	int timed_out = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&w->m);
	while (w->calls < n && !timed_out) {
		timed_out = pthread_cond_timedwait(&w->cv, &w->m, &deadline) == ETIMEDOUT;
	}
	pthread_mutex_unlock(&w->m);
	if (w->calls < n) {
		fail_msg("only %d of %d journal callbacks arrived", w->calls, n);
	}
}

static int
calls_for(struct waiter *w, const char *gid)
{
	int n = 0;

	pthread_mutex_lock(&w->m);
	for (int i = 0; i < w->calls && i < MAX_CALLS; i++) {
		n += strcmp(w->gids[i], gid) == 0;
	}
	pthread_mutex_unlock(&w->m);
	return n;
}

struct pending_list {
	int n;
	char gids[64][64];
	char parts[64][64];
	int stop_after; /* 0: never */
};

static int
collect(void *arg, const struct journal_record *r)
{
	struct pending_list *l = arg;

	if (l->n < 64) {
		snprintf(l->gids[l->n], sizeof(l->gids[0]), "%s", r->gid);
		snprintf(l->parts[l->n], sizeof(l->parts[0]), "%.63s", r->participants);
	}
	l->n++;
	if (r->completed_at != 0) {
		return XACT_EINTERNAL; /* a completed record is not pending */
	}
	return l->stop_after != 0 && l->n == l->stop_after ? 42 : 0;
}

static int
list_has(const struct pending_list *l, const char *gid)
{
	for (int i = 0; i < l->n && i < 64; i++) {
		if (strcmp(l->gids[i], gid) == 0) {
			return 1;
		}
	}
	return 0;
}

/* ---- opening ---- */

static void
open_creates_a_new_journal_that_reopens_for_the_same_coordinator(void **state)
{
	char path[512];
	journal *j;
	struct stat sb;

	(void)state;
	path_for(path, sizeof(path), "new.db");
	j = open_ok(path, "c1");
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	journal_close(j);
	j = open_ok(path, "c1");
	journal_close(j);
	assert_int_equal(journal_open_readonly(&j, path, (char[256]){0}, 256), XACT_OK);
	assert_non_null(j);
	journal_close(j);
}

static void
new_journal_is_in_wal_mode_with_xact_meta_readable_by_sqlite(void **state)
{
	char path[512], v[128];
	journal *j;

	(void)state;
	path_for(path, sizeof(path), "meta.db");
	j = open_ok(path, "coord-7");
	sql_text(path, "PRAGMA journal_mode", v, sizeof(v));
	assert_string_equal(v, "wal");
	sql_text(path, "SELECT value FROM meta WHERE key='magic'", v, sizeof(v));
	assert_string_equal(v, "xact-journal");
	sql_text(path, "SELECT value FROM meta WHERE key='schema_version'", v, sizeof(v));
	assert_int_equal(atoi(v), JOURNAL_SCHEMA_VERSION);
	sql_text(path, "SELECT value FROM meta WHERE key='coordinator_id'", v, sizeof(v));
	assert_string_equal(v, "coord-7");
	sql_text(path, "SELECT count(*) FROM decisions", v, sizeof(v));
	assert_string_equal(v, "0");
	journal_close(j);
}

static void
reopen_puts_a_journal_back_in_wal_mode(void **state)
{
	char path[512], v[64];
	journal *j;

	(void)state;
	path_for(path, sizeof(path), "delete-mode.db");
	journal_close(open_ok(path, "c1"));
	sql_exec(path, "PRAGMA journal_mode=DELETE");
	sql_text(path, "PRAGMA journal_mode", v, sizeof(v));
	assert_string_equal(v, "delete");
	j = open_ok(path, "c1");
	sql_text(path, "PRAGMA journal_mode", v, sizeof(v));
	assert_string_equal(v, "wal");
	journal_close(j);
}

static void
refuses_a_file_that_is_not_sqlite_and_leaves_it_untouched(void **state)
{
	static const char text[] =
	    "This is the coordinator's README, not a journal.\n"
	    "Whoever points --journal at it must get an error, and keep the file.\n"
	    "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\n";
	char path[512], err[512], *after;
	size_t len;
	FILE *f;
	journal *j = (journal *)(uintptr_t)1;

	(void)state;
	path_for(path, sizeof(path), "garbage.db");
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	open_refused(path, "c1", err, sizeof(err));
	assert_non_null(strstr(err, path));
	after = read_file(path, &len);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(after, text, len);
	free(after);
	assert_int_equal(journal_open_readonly(&j, path, err, sizeof(err)), XACT_EJOURNAL);
	assert_null(j);
}

static void
refuses_an_sqlite_file_without_xact_meta_and_leaves_it_untouched(void **state)
{
	char path[512], err[512], v[64];

	(void)state;
	path_for(path, sizeof(path), "other-app.db");
	sql_exec(path, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER);"
	               "INSERT INTO accounts VALUES (1, 100);");
	open_refused(path, "c1", err, sizeof(err));
	assert_non_null(strstr(err, "not an xact journal"));
	sql_text(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('meta', 'decisions')",
	    v, sizeof(v));
	assert_string_equal(v, "0");
	sql_text(path, "SELECT balance FROM accounts WHERE id = 1", v, sizeof(v));
	assert_string_equal(v, "100");

	/* a meta table of somebody else's is not enough either */
	sql_exec(path, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
	               "INSERT INTO meta VALUES ('magic', 'other-journal');"
	               "INSERT INTO meta VALUES ('schema_version', '1');");
	open_refused(path, "c1", err, sizeof(err));
	assert_non_null(strstr(err, "not an xact journal"));
}

static void
refuses_a_journal_of_another_coordinator_id(void **state)
{
	char path[512], err[512];

	(void)state;
	path_for(path, sizeof(path), "owned.db");
	journal_close(open_ok(path, "c1"));
	open_refused(path, "c2", err, sizeof(err));
	assert_non_null(strstr(err, "'c1'"));
	assert_non_null(strstr(err, "'c2'"));
	journal_close(open_ok(path, "c1")); /* still fine for its owner */
}

static void
refuses_a_journal_of_an_unknown_schema_version(void **state)
{
	char path[512], err[512];
	journal *j = (journal *)(uintptr_t)1;

	(void)state;
	path_for(path, sizeof(path), "future.db");
	journal_close(open_ok(path, "c1"));
	sql_exec(path, "UPDATE meta SET value='4' WHERE key='schema_version'");
	open_refused(path, "c1", err, sizeof(err));
	assert_non_null(strstr(err, "schema version 4"));
	assert_int_equal(journal_open_readonly(&j, path, err, sizeof(err)), XACT_EJOURNAL);
	assert_null(j);
	assert_non_null(strstr(err, "schema version 4"));

	sql_exec(path, "DELETE FROM meta WHERE key='schema_version'");
	open_refused(path, "c1", err, sizeof(err));
	assert_non_null(strstr(err, "schema version"));
}

static void
refuses_a_path_in_a_missing_folder_with_a_message(void **state)
{
	char path[512], err[512];
	journal *j = (journal *)(uintptr_t)1;

	(void)state;
	snprintf(path, sizeof(path), "%s/no/such/folder/j.db", dir);
	open_refused(path, "c1", err, sizeof(err));
	assert_non_null(strstr(err, path));
	assert_int_equal(journal_open_readonly(&j, path, err, sizeof(err)), XACT_EJOURNAL);
	assert_null(j);
}

/* ---- gid sequence ---- */

static void
reserve_seq_never_hands_out_a_number_twice_across_reopen(void **state)
{
	char path[512], v[64];
	journal *j;
	uint64_t first, next = 1;
	static const uint64_t counts[] = {10, 1, 5, 1000, 3, 1, 7};
	static unsigned char seen[2000];

	(void)state;
	memset(seen, 0, sizeof(seen));
	path_for(path, sizeof(path), "seq.db");
	j = open_ok(path, "c1");
	for (size_t i = 0; i < sizeof(counts) / sizeof(*counts); i++) {
		if (i == 3 || i == 5) { /* reopen in between */
			journal_close(j);
			j = open_ok(path, "c1");
		}
		assert_int_equal(journal_reserve_seq(j, counts[i], &first), XACT_OK);
		assert_true(first >= 1);
		assert_int_equal(first, next); /* no gap, no overlap */
		for (uint64_t k = first; k < first + counts[i]; k++) {
			assert_true(k < sizeof(seen));
			assert_int_equal(seen[k], 0);
			seen[k] = 1;
		}
		next = first + counts[i];
	}
	journal_close(j);
	sql_text(path, "SELECT value FROM meta WHERE key='seq_reserved'", v, sizeof(v));
	assert_int_equal(strtoull(v, NULL, 10), next - 1);
}

/* A journal whose sequence row is gone must not start again from 1: those
 * gids may have decisions already. */
static void
a_journal_without_its_sequence_row_is_refused_and_reserves_nothing(void **state)
{
	char path[512], err[512];
	journal *j;
	uint64_t first = 0;

	(void)state;
	path_for(path, sizeof(path), "noseq.db");
	j = open_ok(path, "c1");
	assert_int_equal(journal_reserve_seq(j, 10, &first), XACT_OK);
	/* The row disappears under an open journal: reserving fails. */
	sql_exec(path, "DELETE FROM meta WHERE key='seq_reserved'");
	first = 0;
	assert_int_equal(journal_reserve_seq(j, 10, &first), XACT_EJOURNAL);
	assert_int_equal(first, 0);
	journal_close(j);
	/* ... and the journal is refused at the next open. */
	open_refused(path, "c1", err, sizeof(err));
	assert_non_null(strstr(err, "seq_reserved"));
	sql_exec(path, "INSERT INTO meta VALUES ('seq_reserved', 'garbage')");
	j = open_ok(path, "c1");
	assert_int_equal(journal_reserve_seq(j, 10, &first), XACT_EJOURNAL);
	journal_close(j);
}

static void
reserve_seq_works_while_the_writer_is_running(void **state)
{
	char path[512], gid[64];
	journal *j;
	struct waiter w;
	uint64_t a, b;

	(void)state;
	waiter_init(&w);
	path_for(path, sizeof(path), "seq-running.db");
	j = open_ok(path, "c1");
	assert_int_equal(journal_reserve_seq(j, 100, &a), XACT_OK);
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	for (int i = 0; i < 50; i++) {
		snprintf(gid, sizeof(gid), "xact:c1:%d", i);
		assert_int_equal(journal_submit_commit(j, gid, "a,b", on_decision, &w), XACT_OK);
		if (i % 10 == 0) {
			uint64_t before = a;

			assert_int_equal(journal_reserve_seq(j, 100, &a), XACT_OK);
			assert_int_equal(a, before + 100);
		}
	}
	wait_calls(&w, 50);
	assert_int_equal(w.errors, 0);
	assert_int_equal(journal_reserve_seq(j, 1, &b), XACT_OK);
	assert_int_equal(b, a + 100);
	journal_close(j);
	waiter_destroy(&w);
}

/* ---- decisions ---- */

static void
submitted_commits_are_durable_when_their_callback_runs_and_found_by_lookup(void **state)
{
	char path[512], gid[64], parts[64];
	journal *j;
	struct waiter w;
	struct journal_record r;
	struct journal_stats st;
	int64_t t0, t1;
	const int n = 40;

	(void)state;
	waiter_init(&w);
	path_for(path, sizeof(path), "commits.db");
	j = open_ok(path, "c1");
	assert_int_equal(sqlite3_open_v2(path, &w.probe, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	t0 = now_ms();
	for (int i = 0; i < n; i++) {
		snprintf(gid, sizeof(gid), "xact:c1:%d", 1000 + i);
		snprintf(parts, sizeof(parts), "bank-a,bank-%c", 'b' + i % 3);
		assert_int_equal(journal_submit_commit(j, gid, parts, on_decision, &w), XACT_OK);
	}
	wait_calls(&w, n);
	t1 = now_ms();
	assert_int_equal(w.errors, 0);
	assert_int_equal(w.durable_in_cb, n); /* committed before the callback */
	for (int i = 0; i < n; i++) {
		snprintf(gid, sizeof(gid), "xact:c1:%d", 1000 + i);
		snprintf(parts, sizeof(parts), "bank-a,bank-%c", 'b' + i % 3);
		assert_int_equal(calls_for(&w, gid), 1);
		memset(&r, 0x55, sizeof(r));
		assert_int_equal(journal_lookup(j, gid, &r), XACT_OK);
		assert_string_equal(r.gid, gid);
		assert_string_equal(r.participants, parts);
		assert_true(r.decided_at >= t0 - 1000 && r.decided_at <= t1 + 1000);
		assert_int_equal(r.completed_at, 0);
	}
	assert_int_equal(journal_lookup(j, "xact:c1:999999", &r), XACT_ENOTFOUND);
	journal_get_stats(j, &st);
	assert_int_equal(st.decisions, n);
	assert_true(st.batches >= 1 && st.batches <= (uint64_t)n);
	assert_true(st.max_batch >= 1 && st.max_batch <= (uint64_t)n);
	assert_true(st.max_batch * st.batches >= (uint64_t)n);
	journal_close(j);
	waiter_destroy(&w);
}

static void
foreach_pending_lists_every_decision_not_yet_completed(void **state)
{
	char path[512];
	journal *j;
	struct waiter w;
	struct pending_list l;
	const char *gids[] = {"xact:c1:1", "xact:c1:2", "xact:c1:3"};

	(void)state;
	waiter_init(&w);
	path_for(path, sizeof(path), "pending.db");
	j = open_ok(path, "c1");
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_foreach_pending(j, collect, &l), XACT_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(journal_submit_commit(j, gids[i], "a,b,c", on_decision, &w), XACT_OK);
	}
	wait_calls(&w, 3);
	assert_int_equal(w.errors, 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_foreach_pending(j, collect, &l), XACT_OK);
	assert_int_equal(l.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(list_has(&l, gids[i]));
	}
	assert_string_equal(l.parts[0], "a,b,c");
	/* the callback's non-zero answer stops the walk and is returned */
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	assert_int_equal(journal_foreach_pending(j, collect, &l), 42);
	assert_int_equal(l.n, 2);
	journal_close(j);
	waiter_destroy(&w);
}

/* 3PC: a pre-commit is listed until its commit replaces it in one write,
 * or the termination's abort removes it. */
static void
a_precommit_is_listed_until_its_commit_or_abort_replaces_it(void **state)
{
	char path[512];
	journal *j;
	struct waiter w;
	struct pending_list l;
	struct journal_record r;
	int64_t deadline;

	(void)state;
	waiter_init(&w);
	path_for(path, sizeof(path), "precommit.db");
	j = open_ok(path, "c1");
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	assert_int_equal(journal_submit_precommit(j, "xact:c1:1", "a,b", on_decision, &w), XACT_OK);
	assert_int_equal(journal_submit_precommit(j, "xact:c1:2", "a,b", on_decision, &w), XACT_OK);
	wait_calls(&w, 2); /* durable: the callback runs as for a commit */
	assert_int_equal(w.errors, 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_foreach_precommit(j, collect, &l), XACT_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.parts[0], "a,b");
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_foreach_pending(j, collect, &l), XACT_OK);
	assert_int_equal(l.n, 0); /* a pre-commit is no commit decision */
	assert_int_equal(journal_lookup(j, "xact:c1:1", &r), XACT_ENOTFOUND);

	assert_int_equal(journal_submit_commit(j, "xact:c1:1", "a,b", on_decision, &w), XACT_OK);
	wait_calls(&w, 3);
	assert_int_equal(journal_lookup(j, "xact:c1:1", &r), XACT_OK);
	assert_int_equal(journal_submit_unprecommit(j, "xact:c1:2"), XACT_OK);
	deadline = now_ms() + 10000;
	do {
		memset(&l, 0, sizeof(l));
		assert_int_equal(journal_foreach_precommit(j, collect, &l), XACT_OK);
	} while (l.n > 0 && now_ms() < deadline && usleep(10000) == 0);
	assert_int_equal(l.n, 0);
	journal_close(j);
	waiter_destroy(&w);
	/* gone from the file too, not only hidden */
	{
		char v[64];

		sql_text(path, "SELECT count(*) FROM precommits", v, sizeof(v));
		assert_string_equal(v, "0");
	}
}

/* A version 2 journal (no precommits table) is brought to version 3 by a
 * coordinator, keeping its decisions; a reader reads it as it is. */
static void
a_version_2_journal_is_brought_to_version_3(void **state)
{
	char path[512], err[512], v[64];
	journal *j;
	struct pending_list l;

	(void)state;
	path_for(path, sizeof(path), "v2.db");
	journal_close(open_ok(path, "c1"));
	sql_exec(path, "DROP TABLE precommits;"
	               "UPDATE meta SET value='2' WHERE key='schema_version';"
	               "INSERT INTO decisions (gid, decision, participants, decided_at) "
	               "VALUES ('xact:c1:5', 'commit', 'a,b', 1)");
	assert_int_equal(journal_open_readonly(&j, path, err, sizeof(err)), XACT_OK);
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_foreach_precommit(j, collect, &l), XACT_OK);
	assert_int_equal(l.n, 0);
	journal_close(j);
	sql_text(path, "SELECT value FROM meta WHERE key='schema_version'", v, sizeof(v));
	assert_string_equal(v, "2"); /* a reader changes nothing */

	j = open_ok(path, "c1");
	sql_text(path, "SELECT value FROM meta WHERE key='schema_version'", v, sizeof(v));
	assert_string_equal(v, "3");
	sql_text(path, "SELECT count(*) FROM precommits", v, sizeof(v));
	assert_string_equal(v, "0");
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_foreach_pending(j, collect, &l), XACT_OK);
	assert_int_equal(l.n, 1);
	assert_true(list_has(&l, "xact:c1:5"));
	journal_close(j);
	journal_close(open_ok(path, "c1")); /* and reopens as version 3 */
}

static void
completion_removes_a_decision_from_pending_once_the_writer_flushed_it(void **state)
{
	char path[512];
	journal *j;
	struct waiter w;
	struct journal_record r;
	struct pending_list l;
	int64_t deadline;

	(void)state;
	waiter_init(&w);
	path_for(path, sizeof(path), "complete.db");
	j = open_ok(path, "c1");
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	assert_int_equal(journal_submit_commit(j, "xact:c1:1", "a,b", on_decision, &w), XACT_OK);
	assert_int_equal(journal_submit_commit(j, "xact:c1:2", "a,b", on_decision, &w), XACT_OK);
	wait_calls(&w, 2);
	assert_int_equal(w.errors, 0);
	assert_int_equal(journal_submit_complete(j, "xact:c1:1"), XACT_OK);
	/* lazily written: wait for the writer to get to it */
	deadline = now_ms() + 10000;
	do {
		assert_int_equal(journal_lookup(j, "xact:c1:1", &r), XACT_OK);
	} while (r.completed_at == 0 && now_ms() < deadline && usleep(10000) == 0);
	assert_true(r.completed_at >= r.decided_at);
	assert_true(r.completed_at > 0);
	assert_int_equal(w.calls, 2); /* completion has no callback */
	journal_close(j);

	j = open_ok(path, "c1");
	assert_int_equal(journal_lookup(j, "xact:c1:1", &r), XACT_OK);
	assert_true(r.completed_at > 0);
	assert_int_equal(journal_lookup(j, "xact:c1:2", &r), XACT_OK);
	assert_int_equal(r.completed_at, 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_foreach_pending(j, collect, &l), XACT_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.gids[0], "xact:c1:2");
	journal_close(j);
	waiter_destroy(&w);
}

/* A forgotten decision leaves its mark: a missing row up to its number may
 * have been a commit.  A run id carries no number: never marked. */
static void
a_forgotten_decision_marks_every_number_up_to_it_dropped(void **state)
{
	char path[512];
	journal *j;
	struct waiter w;
	struct journal_record r;

	(void)state;
	waiter_init(&w);
	path_for(path, sizeof(path), "dropped.db");
	j = open_ok(path, "c1");
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	assert_int_equal(journal_submit_commit(j, "xact:c1:5", "a,b", on_decision, &w), XACT_OK);
	assert_int_equal(journal_submit_commit(j, "xact:c1:9", "a,b", on_decision, &w), XACT_OK);
	assert_int_equal(journal_submit_commit(j, "xact:c1:r00ff", "a,b", on_decision, &w), XACT_OK);
	wait_calls(&w, 3);
	assert_int_equal(w.errors, 0);
	/* nothing deleted yet */
	assert_int_equal(journal_dropped(j, "xact:c1:1"), 0);
	assert_int_equal(journal_dropped(j, "xact:c1:rabcd"), 0);
	assert_int_equal(journal_submit_forget(j, "xact:c1:5"), XACT_OK);
	journal_close(j); /* flushes the forget */

	j = open_ok(path, "c1");
	assert_int_equal(journal_lookup(j, "xact:c1:5", &r), XACT_ENOTFOUND);
	assert_int_equal(journal_dropped(j, "xact:c1:5"), 1);
	assert_int_equal(journal_dropped(j, "xact:c1:2"), 1);
	assert_int_equal(journal_dropped(j, "xact:c1:6"), 0);
	assert_int_equal(journal_dropped(j, "xact:c1:rabcd"), 0);
	assert_int_equal(journal_dropped(j, "not a gid"), 0);
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	assert_int_equal(journal_submit_forget(j, "xact:c1:r00ff"), XACT_OK);
	journal_close(j);

	j = open_ok(path, "c1");
	assert_int_equal(journal_dropped(j, "xact:c1:5"), 1);
	assert_int_equal(journal_dropped(j, "xact:c1:9"), 0);
	assert_int_equal(journal_lookup(j, "xact:c1:9", &r), XACT_OK);
	assert_int_equal(journal_dropped(j, "xact:c1:rabcd"), 0);
	assert_int_equal(journal_lookup(j, "xact:c1:r00ff", &r), XACT_ENOTFOUND);
	/* the highest stays: 9 forgotten, then 5 again */
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	assert_int_equal(journal_submit_forget(j, "xact:c1:9"), XACT_OK);
	assert_int_equal(journal_submit_forget(j, "xact:c1:5"), XACT_OK);
	journal_close(j);
	j = open_ok(path, "c1");
	assert_int_equal(journal_dropped(j, "xact:c1:7"), 1);
	assert_int_equal(journal_dropped(j, "xact:c1:9"), 1);
	assert_int_equal(journal_dropped(j, "xact:c1:10"), 0);
	journal_close(j);
	waiter_destroy(&w);
}

/* A journal made before the mark may have deleted decisions unmarked: once
 * opened, every number it reserved counts as possibly deleted, and none it
 * reserves afterwards. */
static void
a_journal_from_before_the_mark_counts_every_reserved_number_dropped(void **state)
{
	char path[512];
	journal *j;
	uint64_t first;

	(void)state;
	path_for(path, sizeof(path), "old-marks.db");
	j = open_ok(path, "c1");
	assert_int_equal(journal_reserve_seq(j, 100, &first), XACT_OK);
	assert_int_equal(journal_dropped(j, "xact:c1:50"), 0); /* new: nothing deleted */
	journal_close(j);
	sql_exec(path, "DELETE FROM meta WHERE key = 'dropped_seq'"); /* as an older build made it */
	j = open_ok(path, "c1");
	assert_int_equal(journal_dropped(j, "xact:c1:50"), 1);
	assert_int_equal(journal_dropped(j, "xact:c1:100"), 1);
	assert_int_equal(journal_reserve_seq(j, 100, &first), XACT_OK);
	assert_int_equal(first, 101);
	assert_int_equal(journal_dropped(j, "xact:c1:101"), 0);
	journal_close(j);
}

/* A heuristic outcome is found by its gid, durably. */
static void
a_heuristic_outcome_is_found_by_its_gid(void **state)
{
	char path[512];
	journal *j;

	(void)state;
	path_for(path, sizeof(path), "heur-gid.db");
	j = open_ok(path, "c1");
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	assert_int_equal(journal_has_heuristic(j, "xact:c1:3"), 0);
	assert_int_equal(journal_submit_heuristic(j, "xact:c1:3", "pa", "abort", "committed"),
	    XACT_OK);
	journal_close(j);
	j = open_ok(path, "c1");
	assert_int_equal(journal_has_heuristic(j, "xact:c1:3"), 1);
	assert_int_equal(journal_has_heuristic(j, "xact:c1:4"), 0);
	journal_close(j);
}

static void
close_flushes_every_commit_and_completion_submitted_before_it(void **state)
{
	char path[512], gid[64];
	journal *j;
	struct waiter w;
	struct journal_record r;
	struct pending_list l;
	const int n = 60;

	(void)state;
	waiter_init(&w);
	path_for(path, sizeof(path), "flush.db");
	j = open_ok(path, "c1");
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	for (int i = 0; i < n; i++) {
		snprintf(gid, sizeof(gid), "xact:c1:%d", i);
		assert_int_equal(journal_submit_commit(j, gid, "a", on_decision, &w), XACT_OK);
	}
	assert_int_equal(journal_submit_complete(j, "xact:c1:0"), XACT_OK);
	journal_close(j); /* no waiting before */
	assert_int_equal(w.calls, n);
	assert_int_equal(w.errors, 0);

	j = open_ok(path, "c1");
	for (int i = 0; i < n; i++) {
		snprintf(gid, sizeof(gid), "xact:c1:%d", i);
		assert_int_equal(journal_lookup(j, gid, &r), XACT_OK);
	}
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_foreach_pending(j, collect, &l), XACT_OK);
	assert_int_equal(l.n, n - 1);
	assert_false(list_has(&l, "xact:c1:0"));
	journal_close(j);
	waiter_destroy(&w);
}

static void
journal_write_failpoint_reports_the_error_and_stores_nothing(void **state)
{
	char path[512];
	journal *j;
	struct waiter w;
	struct journal_record r;
	struct journal_stats st;
	struct pending_list l;

	(void)state;
	waiter_init(&w);
	path_for(path, sizeof(path), "failing.db");
	j = open_ok(path, "c1");
	assert_int_equal(failpoint_configure("journal.write=error"), 0);
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	assert_int_equal(journal_submit_commit(j, "xact:c1:1", "a,b", on_decision, &w), XACT_OK);
	wait_calls(&w, 1);
	assert_int_equal(w.errs[0], XACT_EJOURNAL);
	assert_string_equal(w.gids[0], "xact:c1:1");
	assert_non_null(strstr(w.last_msg, "journal.write"));
	assert_int_equal(journal_lookup(j, "xact:c1:1", &r), XACT_ENOTFOUND);
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_foreach_pending(j, collect, &l), XACT_OK);
	assert_int_equal(l.n, 0);
	journal_get_stats(j, &st);
	assert_int_equal(st.batches, 0);
	assert_int_equal(st.decisions, 0);

	/* once the failure is gone, the retried decision is stored */
	assert_int_equal(failpoint_configure(NULL), 0);
	assert_int_equal(journal_submit_commit(j, "xact:c1:1", "a,b", on_decision, &w), XACT_OK);
	wait_calls(&w, 2);
	assert_int_equal(w.errs[1], XACT_OK);
	assert_int_equal(journal_lookup(j, "xact:c1:1", &r), XACT_OK);
	assert_string_equal(r.participants, "a,b");
	journal_close(j);
	waiter_destroy(&w);

	/* the failure survives no reopen: nothing of it is on disk */
	j = open_ok(path, "c1");
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_foreach_pending(j, collect, &l), XACT_OK);
	assert_int_equal(l.n, 1);
	journal_close(j);
}

static void
journal_write_failing_once_fails_only_that_batch(void **state)
{
	char path[512];
	journal *j;
	struct waiter w;
	struct journal_record r;

	(void)state;
	waiter_init(&w);
	path_for(path, sizeof(path), "failing-once.db");
	j = open_ok(path, "c1");
	assert_int_equal(failpoint_configure("journal.write=error@1"), 0);
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	assert_int_equal(journal_submit_commit(j, "xact:c1:1", "a", on_decision, &w), XACT_OK);
	wait_calls(&w, 1);
	assert_int_equal(w.errs[0], XACT_EJOURNAL);
	assert_int_equal(journal_submit_commit(j, "xact:c1:2", "a", on_decision, &w), XACT_OK);
	wait_calls(&w, 2);
	assert_int_equal(w.errs[1], XACT_OK);
	assert_int_equal(journal_lookup(j, "xact:c1:1", &r), XACT_ENOTFOUND);
	assert_int_equal(journal_lookup(j, "xact:c1:2", &r), XACT_OK);
	journal_close(j);
	waiter_destroy(&w);
}

static void
submit_before_start_is_refused_without_a_callback(void **state)
{
	char path[512];
	journal *j;
	struct waiter w;
	struct journal_record r;

	(void)state;
	waiter_init(&w);
	path_for(path, sizeof(path), "not-started.db");
	j = open_ok(path, "c1");
	assert_int_equal(journal_submit_commit(j, "xact:c1:1", "a", on_decision, &w), XACT_ECLOSED);
	assert_int_equal(journal_submit_complete(j, "xact:c1:1"), XACT_ECLOSED);
	journal_close(j);
	assert_int_equal(w.calls, 0);
	j = open_ok(path, "c1");
	assert_int_equal(journal_lookup(j, "xact:c1:1", &r), XACT_ENOTFOUND);
	journal_close(j);
	waiter_destroy(&w);
}

static void
repeated_decision_for_a_gid_keeps_the_first_record(void **state)
{
	char path[512];
	journal *j;
	struct waiter w;
	struct journal_record r1, r2;

	(void)state;
	waiter_init(&w);
	path_for(path, sizeof(path), "repeat.db");
	j = open_ok(path, "c1");
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	assert_int_equal(journal_submit_commit(j, "xact:c1:5", "a,b", on_decision, &w), XACT_OK);
	wait_calls(&w, 1);
	assert_int_equal(journal_lookup(j, "xact:c1:5", &r1), XACT_OK);
	usleep(5000);
	assert_int_equal(journal_submit_commit(j, "xact:c1:5", "c", on_decision, &w), XACT_OK);
	wait_calls(&w, 2);
	assert_int_equal(w.errors, 0);
	assert_int_equal(journal_lookup(j, "xact:c1:5", &r2), XACT_OK);
	assert_string_equal(r2.participants, "a,b");
	assert_int_equal(r2.decided_at, r1.decided_at);
	journal_close(j);
	waiter_destroy(&w);
}

static void
readonly_journal_reads_decisions_without_a_writer(void **state)
{
	char path[512], err[512];
	journal *j, *ro;
	struct waiter w;
	struct journal_record r;
	struct pending_list l;

	(void)state;
	waiter_init(&w);
	path_for(path, sizeof(path), "readonly.db");
	j = open_ok(path, "c1");
	assert_int_equal(journal_start(j, RETENTION_MS, 0), XACT_OK);
	assert_int_equal(journal_submit_commit(j, "xact:c1:9", "x,y", on_decision, &w), XACT_OK);
	wait_calls(&w, 1);
	journal_close(j);
	assert_int_equal(journal_open_readonly(&ro, path, err, sizeof(err)), XACT_OK);
	assert_int_equal(journal_lookup(ro, "xact:c1:9", &r), XACT_OK);
	assert_string_equal(r.participants, "x,y");
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_foreach_pending(ro, collect, &l), XACT_OK);
	assert_int_equal(l.n, 1);
	journal_close(ro);
	waiter_destroy(&w);
}

/* ---- group commit ---- */

/* A journal in the test folder, started with a group-commit wait of
 * wait_ms. */
static journal *
group_open(const char *name, int wait_ms)
{
	char path[512];
	journal *j;

	path_for(path, sizeof(path), name);
	j = open_ok(path, "c1");
	assert_int_equal(journal_start(j, RETENTION_MS, wait_ms), XACT_OK);
	return j;
}

/* What the coordinator does: a live transaction leaves the count of those
 * on their way just after its decision is submitted. */
static void
decide(journal *j, struct waiter *w, int i)
{
	char gid[64];

	snprintf(gid, sizeof(gid), "xact:c1:%d", 5000 + i);
	assert_int_equal(journal_submit_commit(j, gid, "a,b", on_decision, w), XACT_OK);
	journal_expect(j, -1, -1);
}

static int
calls_now(struct waiter *w)
{
	int n;

	pthread_mutex_lock(&w->m);
	n = w->calls;
	pthread_mutex_unlock(&w->m);
	return n;
}

static void
group_commit_holds_a_decision_for_those_on_their_way_then_writes_them_at_once(void **state)
{
	journal *j;
	struct waiter w;
	struct journal_stats st;
	int64_t t0;

	(void)state;
	waiter_init(&w);
	j = group_open("group.db", 5000);
	t0 = now_ms();
	journal_expect(j, 21, 21); /* 21 live transactions gathering votes */
	decide(j, &w, 0);
	decide(j, &w, 1);
	usleep(200 * 1000);
	assert_int_equal(calls_now(&w), 0); /* held: 19 more are on their way */
	for (int i = 2; i < 21; i++) {
		decide(j, &w, i);
	}
	wait_calls(&w, 21);
	/* Written once the 21st was queued, not when the 5 s wait ran out. */
	assert_true(now_ms() - t0 < 4000);
	assert_int_equal(w.errors, 0);
	journal_get_stats(j, &st);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.decisions, 21);
	assert_int_equal(st.max_batch, 21);
	journal_close(j);
	waiter_destroy(&w);
}

static void
group_commit_does_not_wait_with_few_on_their_way_nor_past_its_limit(void **state)
{
	journal *j;
	struct waiter w;
	int64_t t0;

	(void)state;
	waiter_init(&w);
	j = group_open("group-few.db", 5000);
	/* Three live transactions: too few to be worth a wait. */
	journal_expect(j, 3, 3);
	t0 = now_ms();
	decide(j, &w, 0);
	wait_calls(&w, 1);
	assert_true(now_ms() - t0 < 2500);
	journal_close(j);

	/* Many on their way that never come: written when the wait ends. */
	j = group_open("group-limit.db", 300);
	journal_expect(j, 40, 40);
	t0 = now_ms();
	decide(j, &w, 1);
	wait_calls(&w, 2);
	assert_true(now_ms() - t0 >= 250);
	assert_int_equal(w.errors, 0);
	journal_close(j);
	waiter_destroy(&w);
}

/* Many live sessions, none gathering votes (idle, or running statements):
 * nothing is on its way soon, so a decision is written at once. */
static void
group_commit_does_not_wait_for_idle_sessions(void **state)
{
	journal *j;
	struct waiter w;
	int64_t t0;

	(void)state;
	waiter_init(&w);
	j = group_open("group-idle.db", 5000);
	journal_expect(j, 40, 1); /* 40 live, one of them voting */
	t0 = now_ms();
	decide(j, &w, 0);
	wait_calls(&w, 1);
	assert_true(now_ms() - t0 < 2500);
	journal_close(j);
	waiter_destroy(&w);
}

/* A transaction that aborts (leaves without a decision) ends the wait once
 * none is left on its way. */
static void
group_commit_ends_its_wait_when_the_others_leave_without_a_decision(void **state)
{
	journal *j;
	struct waiter w;
	int64_t t0;

	(void)state;
	waiter_init(&w);
	j = group_open("group-leave.db", 5000);
	journal_expect(j, 20, 20);
	t0 = now_ms();
	decide(j, &w, 0);
	usleep(100 * 1000);
	assert_int_equal(calls_now(&w), 0);
	journal_expect(j, -19, -19); /* they all aborted */
	wait_calls(&w, 1);
	assert_true(now_ms() - t0 < 4000);
	journal_close(j);
	waiter_destroy(&w);
}

/* Of those at work when the wait began, some stop without a decision (a
 * commit in one phase, a statement done): the wait waits for the others
 * only, and one write takes them all. */
static void
group_commit_waits_only_for_those_still_at_work(void **state)
{
	journal *j;
	struct waiter w;
	struct journal_stats st;
	int64_t t0;

	(void)state;
	waiter_init(&w);
	j = group_open("group-fewer.db", 5000);
	journal_expect(j, 21, 21);
	t0 = now_ms();
	decide(j, &w, 0); /* waits for the 20 others at work */
	usleep(100 * 1000); /* (the writer takes it and starts waiting) */
	for (int i = 1; i < 6; i++) {
		decide(j, &w, i); /* 5 of them decide */
	}
	journal_expect(j, -10, -10); /* 10 end without a decision */
	usleep(100 * 1000);          /* (the writer counts them out) */
	journal_expect(j, 3, 3);     /* 3 start work after the wait began */
	usleep(200 * 1000);
	assert_int_equal(calls_now(&w), 0); /* 6 queued, 5 of those counted still at work */
	for (int i = 6; i < 11; i++) {
		decide(j, &w, i);
	}
	wait_calls(&w, 11);
	assert_true(now_ms() - t0 < 4000); /* not the 5 s limit (the 3 are not waited for) */
	journal_get_stats(j, &st);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.decisions, 11);
	journal_close(j);
	waiter_destroy(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_creates_a_new_journal_that_reopens_for_the_same_coordinator),
		cmocka_unit_test(a_journal_without_its_sequence_row_is_refused_and_reserves_nothing),
		cmocka_unit_test(new_journal_is_in_wal_mode_with_xact_meta_readable_by_sqlite),
		cmocka_unit_test(reopen_puts_a_journal_back_in_wal_mode),
		cmocka_unit_test(refuses_a_file_that_is_not_sqlite_and_leaves_it_untouched),
		cmocka_unit_test(refuses_an_sqlite_file_without_xact_meta_and_leaves_it_untouched),
		cmocka_unit_test(refuses_a_journal_of_another_coordinator_id),
		cmocka_unit_test(refuses_a_journal_of_an_unknown_schema_version),
		cmocka_unit_test(a_precommit_is_listed_until_its_commit_or_abort_replaces_it),
		cmocka_unit_test(a_version_2_journal_is_brought_to_version_3),
		cmocka_unit_test(refuses_a_path_in_a_missing_folder_with_a_message),
		cmocka_unit_test(reserve_seq_never_hands_out_a_number_twice_across_reopen),
		cmocka_unit_test(reserve_seq_works_while_the_writer_is_running),
		cmocka_unit_test(submitted_commits_are_durable_when_their_callback_runs_and_found_by_lookup),
		cmocka_unit_test(foreach_pending_lists_every_decision_not_yet_completed),
		cmocka_unit_test(completion_removes_a_decision_from_pending_once_the_writer_flushed_it),
		cmocka_unit_test(close_flushes_every_commit_and_completion_submitted_before_it),
		cmocka_unit_test(a_forgotten_decision_marks_every_number_up_to_it_dropped),
		cmocka_unit_test(a_journal_from_before_the_mark_counts_every_reserved_number_dropped),
		cmocka_unit_test(a_heuristic_outcome_is_found_by_its_gid),
		cmocka_unit_test_teardown(journal_write_failpoint_reports_the_error_and_stores_nothing,
		    reset_failpoints),
		cmocka_unit_test_teardown(journal_write_failing_once_fails_only_that_batch,
		    reset_failpoints),
		cmocka_unit_test(submit_before_start_is_refused_without_a_callback),
		cmocka_unit_test(repeated_decision_for_a_gid_keeps_the_first_record),
		cmocka_unit_test(readonly_journal_reads_decisions_without_a_writer),
		cmocka_unit_test(group_commit_holds_a_decision_for_those_on_their_way_then_writes_them_at_once),
		cmocka_unit_test(group_commit_does_not_wait_with_few_on_their_way_nor_past_its_limit),
		cmocka_unit_test(group_commit_ends_its_wait_when_the_others_leave_without_a_decision),
		cmocka_unit_test(group_commit_does_not_wait_for_idle_sessions),
		cmocka_unit_test(group_commit_waits_only_for_those_still_at_work),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
