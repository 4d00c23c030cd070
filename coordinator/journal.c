/*
 * journal.c - the decision log and its group-commit writer thread.
 *
 * Life of a decision: journal_submit_commit() appends it to the queue; the
 * writer takes everything queued, writes it in one BEGIN IMMEDIATE ...
 * COMMIT (one fsync, synchronous=FULL in WAL mode), and only then calls each
 * decision's callback.  Crash before that COMMIT returns: the decision is
 * not durable and nobody was told it was (no COMMIT has left, no client was
 * answered), so recovery presumes abort.  Crash after: recovery finds the
 * row and re-drives the commit.
 */
#include "journal.h"

#include "failpoint.h"
#include "log.h"
#include "sqlutil.h"
#include "util.h"
#include "xact.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* sql/journal.sql, turned into a C string by the Makefile. */
extern const char journal_schema_sql[];

/* How long a record nobody waits on may wait for a decision to share its
 * write (group commit). */
#define LAZY_MS 100
/* Group commit: a forced write waits for decisions on their way only when
 * at least this many are (fewer: the wait would cost the clients more than
 * the fsync it saves), and for at most this many of them. */
#define GROUP_SIBLINGS 16
#define GROUP_MAX 64

enum item_kind {
	ITEM_COMMIT, ITEM_COMPLETE, ITEM_HEURISTIC, ITEM_FORGET, ITEM_PRECOMMIT, ITEM_UNPRECOMMIT
};

struct item {
	struct item *next;
	enum item_kind kind;
	char gid[64];
	char *participants; /* ITEM_HEURISTIC: "participant decision outcome" */
	journal_cb cb;
	void *arg;
};

struct journal {
	sqlite3 *wdb; /* writer thread only */
	sqlite3 *sdb; /* gid sequence reservations, from the caller's thread */
	sqlite3 *rdb; /* reads; serialized by rlock */
	pthread_mutex_t rlock;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct item *head, **tail;
	int stopping, started;
	int urgent;   /* queued items someone waits on (a callback) */
	int coming;   /* decisions that may come: live undecided transactions */
	int voting;   /* of those, the ones at work (a statement, or votes) */
	int group_want; /* while a group wait runs: the decisions it waits for; else 0 */
	int group_wait_ms;
	pthread_t thread;
	int64_t retention_ms;
	struct journal_stats stats;
};

static int64_t
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Runs one statement that returns nothing; on error fills err. */
static int
exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	return sqlx_run(db, sql, err, errlen) == 0 ? XACT_OK : XACT_EJOURNAL;
}

static int
has_seq(sqlite3 *db)
{
	char *v = sqlx_text(db, "SELECT value FROM meta WHERE key='seq_reserved'", NULL);
	int ok = v != NULL && *v != '\0';

	free(v);
	return ok;
}

/* Checks that the file is an xact journal of our version (and, when
 * coord_id is given, of this coordinator). */
/* Brings a version 2 journal to version 3: the part of the schema below
 * "-- schema 3", and the version, in one transaction.  0, or -1 with err. */
static int
migrate_2_to_3(sqlite3 *db, char *err, size_t errlen)
{
	const char *part = strstr(journal_schema_sql, "-- schema 3\n");
	char *version = sqlx_text(db, "SELECT value FROM meta WHERE key='schema_version'", NULL);
	int needed = version != NULL && strcmp(version, "2") == 0;

	free(version);
	if (!needed) {
		return 0;
	}
	if (part == NULL || exec_sql(db, "BEGIN IMMEDIATE", err, errlen) != XACT_OK) {
		return -1;
	}
	if (exec_sql(db, part, err, errlen) != XACT_OK ||
	    exec_sql(db, "UPDATE meta SET value='3' WHERE key='schema_version'", err, errlen) !=
	        XACT_OK ||
	    exec_sql(db, "COMMIT", err, errlen) != XACT_OK) {
		char ignore[128];

		exec_sql(db, "ROLLBACK", ignore, sizeof(ignore));
		return -1;
	}
	log_info("journal: schema version 2 brought to 3 (table precommits)");
	return 0;
}

static int
check_identity(sqlite3 *db, const char *coord_id, char *err, size_t errlen)
{
	char *magic, *version, *owner;
	int rv = XACT_EJOURNAL;

	magic = sqlx_text(db, "SELECT value FROM meta WHERE key='magic'", NULL);
	version = sqlx_text(db, "SELECT value FROM meta WHERE key='schema_version'", NULL);
	owner = sqlx_text(db, "SELECT value FROM meta WHERE key='coordinator_id'", NULL);
	if (magic == NULL || strcmp(magic, "xact-journal") != 0) {
		snprintf(err, errlen, "not an xact journal (no xact meta table)");
	} else if (version == NULL ||
	           (atoi(version) != JOURNAL_SCHEMA_VERSION && (coord_id != NULL || atoi(version) != 2))) {
		/* A reader (xactctl) also reads version 2; a coordinator has
		 * brought it to 3 before getting here. */
		snprintf(err, errlen, "journal schema version %s is not supported "
		         "(this build reads version %d)", version ? version : "?",
		    JOURNAL_SCHEMA_VERSION);
	} else if (!has_seq(db)) {
		snprintf(err, errlen, "journal has no gid sequence (meta row seq_reserved): "
		         "damaged, refusing to hand out gids again");
	} else if (coord_id != NULL && owner != NULL && strcmp(owner, coord_id) != 0) {
		snprintf(err, errlen, "journal belongs to coordinator id '%s', not '%s'",
		    owner, coord_id);
	} else {
		rv = XACT_OK;
	}
	free(magic);
	free(version);
	free(owner);
	return rv;
}

/* sqlx_durable for a writing connection (synchronous is set per
 * connection), with the journal's path in the message. */
static int
durable(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	char why[512];

	if (sqlx_durable(db, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "refusing journal %s: %s", path, why);
		return XACT_EJOURNAL;
	}
	return XACT_OK;
}

static int
has_tables(sqlite3 *db, int *any)
{
	char *n = sqlx_text(db, "SELECT count(*) FROM sqlite_master", NULL);

	if (n == NULL) {
		return XACT_EJOURNAL;
	}
	*any = atoi(n) > 0;
	free(n);
	return XACT_OK;
}

static journal *
journal_alloc(void)
{
	journal *j = calloc(1, sizeof(*j));

	if (j != NULL) {
		pthread_mutex_init(&j->lock, NULL);
		pthread_mutex_init(&j->rlock, NULL);
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&j->cv, &ca);
		pthread_condattr_destroy(&ca);
		j->tail = &j->head;
	}
	return j;
}

/* Opens one connection and makes sure the file is an SQLite database. */
static int
open_conn(const char *path, int flags, sqlite3 **db, int *any, char *err, size_t errlen)
{
	if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open journal %s: %s", path,
		    *db ? sqlite3_errmsg(*db) : "out of memory");
		return XACT_EJOURNAL;
	}
	sqlite3_busy_timeout(*db, 5000);
	sqlite3_extended_result_codes(*db, 1);
	if (has_tables(*db, any) != XACT_OK) {
		snprintf(err, errlen, "journal %s is unreadable: %s", path,
		    sqlite3_errmsg(*db));
		return XACT_EJOURNAL;
	}
	return XACT_OK;
}

int
journal_open(journal **out, const char *path, const char *coord_id, char *err,
    size_t errlen)
{
	journal *j;
	struct stat sb;
	int created = stat(path, &sb) != 0, any;
	char why[512];

	*out = NULL;
	if ((j = journal_alloc()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return XACT_ENOMEM;
	}
	if (open_conn(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &j->wdb, &any,
	        err, errlen) != XACT_OK) {
		goto fail;
	}
	if (!any) {
		if (exec_sql(j->wdb, "BEGIN", why, sizeof(why)) != XACT_OK ||
		    exec_sql(j->wdb, journal_schema_sql, why, sizeof(why)) != XACT_OK) {
			snprintf(err, errlen, "cannot create journal %s: %s", path, why);
			goto fail;
		}
		sqlite3_stmt *st;
		sqlite3_prepare_v2(j->wdb, "INSERT INTO meta VALUES ('coordinator_id', ?)",
		    -1, &st, NULL);
		sqlite3_bind_text(st, 1, coord_id, -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_finalize(st);
		if (exec_sql(j->wdb, "COMMIT", why, sizeof(why)) != XACT_OK) {
			snprintf(err, errlen, "cannot create journal %s: %s", path, why);
			goto fail;
		}
	}
	if (any && migrate_2_to_3(j->wdb, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "cannot bring journal %s to schema version 3: %s", path, why);
		goto fail;
	}
	if (check_identity(j->wdb, coord_id, why, sizeof(why)) != XACT_OK) {
		snprintf(err, errlen, "refusing journal %s: %s", path, why);
		goto fail;
	}
	/* A journal made before dropped_seq (new ones start with 0) may have
	 * deleted decisions unmarked: count every number reserved so far as
	 * possibly deleted. */
	if (!created && exec_sql(j->wdb, "INSERT OR IGNORE INTO meta (key, value) SELECT "
	                                 "'dropped_seq', value FROM meta WHERE key = 'seq_reserved'",
	                    why, sizeof(why)) != XACT_OK) {
		snprintf(err, errlen, "cannot mark journal %s: %s", path, why);
		goto fail;
	}
	if (durable(j->wdb, path, err, errlen) != XACT_OK) {
		goto fail;
	}
	if (created && sqlx_fsync_parent(path) != 0) {
		snprintf(err, errlen, "cannot sync the folder of %s: %s", path, strerror(errno));
		goto fail;
	}
	if (open_conn(path, SQLITE_OPEN_READWRITE, &j->sdb, &any, err, errlen) != XACT_OK ||
	    durable(j->sdb, path, err, errlen) != XACT_OK) {
		goto fail;
	}
	if (open_conn(path, SQLITE_OPEN_READONLY, &j->rdb, &any, err, errlen) != XACT_OK) {
		goto fail;
	}
	*out = j;
	return XACT_OK;
fail:
	journal_close(j);
	return XACT_EJOURNAL;
}

int
journal_open_readonly(journal **out, const char *path, char *err, size_t errlen)
{
	journal *j;
	int any;
	char why[512];

	*out = NULL;
	if ((j = journal_alloc()) == NULL) {
		return XACT_ENOMEM;
	}
	if (open_conn(path, SQLITE_OPEN_READONLY, &j->rdb, &any, err, errlen) != XACT_OK) {
		goto fail;
	}
	if (check_identity(j->rdb, NULL, why, sizeof(why)) != XACT_OK) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto fail;
	}
	*out = j;
	return XACT_OK;
fail:
	journal_close(j);
	return XACT_EJOURNAL;
}

int
journal_reserve_seq(journal *j, uint64_t count, uint64_t *first)
{
	char sql[256], why[512] = "update failed";
	char *cur, *end = NULL;
	uint64_t base;

	if (exec_sql(j->sdb, "BEGIN IMMEDIATE", why, sizeof(why)) != XACT_OK) {
		log_error("journal: cannot reserve gids: %s", why);
		return XACT_EJOURNAL;
	}
	/* No row, or one that does not read back: refuse.  Starting again
	 * from 1 would hand out gids that already have decisions. */
	cur = sqlx_text(j->sdb, "SELECT value FROM meta WHERE key='seq_reserved'", NULL);
	base = cur ? strtoull(cur, &end, 10) : 0;
	if (cur == NULL || *cur == '\0' || *end != '\0') {
		snprintf(why, sizeof(why), "the seq_reserved row is missing or unreadable");
		free(cur);
		exec_sql(j->sdb, "ROLLBACK", sql, sizeof(sql));
		log_error("journal: cannot reserve gids: %s", why);
		return XACT_EJOURNAL;
	}
	free(cur);
	snprintf(sql, sizeof(sql),
	    "UPDATE meta SET value='%llu' WHERE key='seq_reserved'",
	    (unsigned long long)(base + count));
	if (exec_sql(j->sdb, sql, why, sizeof(why)) != XACT_OK || sqlite3_changes(j->sdb) != 1 ||
	    exec_sql(j->sdb, "COMMIT", why, sizeof(why)) != XACT_OK) {
		exec_sql(j->sdb, "ROLLBACK", sql, sizeof(sql));
		log_error("journal: cannot reserve gids: %s", why);
		return XACT_EJOURNAL;
	}
	*first = base + 1;
	return XACT_OK;
}

static void
fill_record(sqlite3_stmt *st, struct journal_record *r)
{
	snprintf(r->gid, sizeof(r->gid), "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(r->participants, sizeof(r->participants), "%s",
	    (const char *)sqlite3_column_text(st, 1));
	r->decided_at = sqlite3_column_int64(st, 2);
	r->completed_at = sqlite3_column_int64(st, 3);
}

/* Runs a query of decisions and calls fn on each row. */
static int
foreach_decision(journal *j, const char *sql, int (*fn)(void *, const struct journal_record *),
    void *arg)
{
	sqlite3_stmt *st;
	struct journal_record r;
	int rc, rv = XACT_OK;

	pthread_mutex_lock(&j->rlock);
	if (sqlite3_prepare_v2(j->rdb, sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("journal: %s", sqlite3_errmsg(j->rdb));
		pthread_mutex_unlock(&j->rlock);
		return XACT_EJOURNAL;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && rv == XACT_OK) {
		fill_record(st, &r);
		rv = fn(arg, &r);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_error("journal: %s", sqlite3_errmsg(j->rdb));
		rv = XACT_EJOURNAL;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&j->rlock);
	return rv;
}

int
journal_foreach_pending(journal *j, int (*fn)(void *, const struct journal_record *),
    void *arg)
{
	return foreach_decision(j,
	    "SELECT gid, participants, decided_at, coalesce(completed_at, 0) "
	    "FROM decisions WHERE completed_at IS NULL ORDER BY decided_at", fn, arg);
}

int
journal_foreach_decision(journal *j, int (*fn)(void *, const struct journal_record *),
    void *arg)
{
	return foreach_decision(j,
	    "SELECT gid, participants, decided_at, coalesce(completed_at, 0) "
	    "FROM decisions ORDER BY decided_at, gid", fn, arg);
}

int
journal_foreach_precommit(journal *j, int (*fn)(void *, const struct journal_record *),
    void *arg)
{
	/* A read-only reader of a version 2 journal has no such table. */
	char *has = sqlx_text(j->rdb, "SELECT count(*) FROM sqlite_master WHERE name='precommits'",
	    NULL);
	int present = has != NULL && atoi(has) > 0;

	free(has);
	if (!present) {
		return XACT_OK;
	}
	return foreach_decision(j,
	    "SELECT gid, participants, decided_at, 0 FROM precommits "
	    "WHERE gid NOT IN (SELECT gid FROM decisions) ORDER BY decided_at, gid", fn, arg);
}

int
journal_foreach_heuristic(journal *j, int (*fn)(void *, const struct journal_heuristic *),
    void *arg)
{
	sqlite3_stmt *st;
	struct journal_heuristic h;
	int rc, rv = XACT_OK;

	pthread_mutex_lock(&j->rlock);
	if (sqlite3_prepare_v2(j->rdb, "SELECT gid, participant, decision, outcome, detected_at "
	                               "FROM heuristics ORDER BY detected_at, gid", -1, &st,
	        NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&j->rlock);
		return XACT_EJOURNAL;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && rv == XACT_OK) {
		snprintf(h.gid, sizeof(h.gid), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(h.participant, sizeof(h.participant), "%s",
		    (const char *)sqlite3_column_text(st, 1));
		snprintf(h.decision, sizeof(h.decision), "%s", (const char *)sqlite3_column_text(st, 2));
		snprintf(h.outcome, sizeof(h.outcome), "%s", (const char *)sqlite3_column_text(st, 3));
		h.detected_at = sqlite3_column_int64(st, 4);
		rv = fn(arg, &h);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rv = XACT_EJOURNAL;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&j->rlock);
	return rv;
}

/* How far the next name of a comma-separated list is from p. */
static size_t
next_name(const char *p)
{
	size_t len = strcspn(p, ",");

	return len + (p[len] == ',');
}

/* Whether the len bytes at p are one of the n names. */
static int
among(const char *const *names, int n, const char *p, size_t len)
{
	for (int i = 0; i < n; i++) {
		if (strlen(names[i]) == len && strncmp(names[i], p, len) == 0) {
			return 1;
		}
	}
	return 0;
}

int
journal_note_participants(journal *j, const char *const *names, int n, uint64_t *absent_upto)
{
	char *prev, *v, *now = calloc(1, (size_t)n * 65 + 1);
	char why[256];
	int gone = 0, rv = XACT_OK;

	if (now == NULL) {
		return XACT_ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		strcat(strcat(now, i ? "," : ""), names[i]);
	}
	prev = sqlx_text(j->wdb, "SELECT value FROM meta WHERE key = 'participants'", NULL);
	for (const char *p = prev ? prev : ""; *p != '\0'; p += next_name(p)) {
		size_t len = strcspn(p, ",");

		gone |= len > 0 && !among(names, n, p, len);
	}
	if (exec_sql(j->wdb, "BEGIN IMMEDIATE", why, sizeof(why)) != XACT_OK) {
		rv = XACT_EJOURNAL;
		goto out;
	}
	if (gone) {
		/* gids reserved so far may have a branch on the one gone */
		rv = exec_sql(j->wdb, "INSERT OR REPLACE INTO meta (key, value) SELECT "
		                      "'absent_upto', value FROM meta WHERE key = 'seq_reserved'",
		    why, sizeof(why));
	}
	if (rv == XACT_OK) {
		sqlite3_stmt *st;

		rv = XACT_EJOURNAL;
		if (sqlite3_prepare_v2(j->wdb, "INSERT OR REPLACE INTO meta (key, value) VALUES "
		                               "('participants', ?)", -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
			rv = sqlite3_step(st) == SQLITE_DONE ? XACT_OK : XACT_EJOURNAL;
			sqlite3_finalize(st);
		}
	}
	if (rv != XACT_OK || exec_sql(j->wdb, "COMMIT", why, sizeof(why)) != XACT_OK) {
		exec_sql(j->wdb, "ROLLBACK", why, sizeof(why));
		rv = XACT_EJOURNAL;
		goto out;
	}
	v = sqlx_text(j->wdb, "SELECT value FROM meta WHERE key = 'absent_upto'", NULL);
	*absent_upto = v ? strtoull(v, NULL, 10) : 0;
	free(v);
out:
	free(prev);
	free(now);
	return rv;
}

/* sqlx_text() on the readers' connection. */
static char *
read_text(journal *j, const char *sql, const char *param)
{
	char *v;

	pthread_mutex_lock(&j->rlock);
	v = sqlx_text(j->rdb, sql, param);
	pthread_mutex_unlock(&j->rlock);
	return v;
}

int
journal_has_heuristic(journal *j, const char *gid)
{
	char *v = read_text(j, "SELECT gid FROM heuristics WHERE gid = ? LIMIT 1", gid);
	int found = v != NULL;

	free(v);
	return found;
}

char *
journal_meta(journal *j, const char *key)
{
	return read_text(j, "SELECT value FROM meta WHERE key = ?", key);
}

int
journal_check(journal *j, char *err, size_t errlen)
{
	char *ok, *mode;
	int rv = XACT_OK;

	pthread_mutex_lock(&j->rlock);
	ok = sqlx_text(j->rdb, "PRAGMA integrity_check", NULL);
	mode = sqlx_text(j->rdb, "PRAGMA journal_mode", NULL);
	pthread_mutex_unlock(&j->rlock);
	if (ok == NULL || strcmp(ok, "ok") != 0) {
		snprintf(err, errlen, "integrity check failed: %s", ok ? ok : "cannot run it");
		rv = XACT_EJOURNAL;
	} else if (mode == NULL || strcmp(mode, "wal") != 0) {
		snprintf(err, errlen, "journal_mode is '%s', not 'wal'", mode ? mode : "?");
		rv = XACT_EJOURNAL;
	}
	free(ok);
	free(mode);
	return rv;
}

/* Runs sql (one parameter, the gid) for one record. */
static int
lookup_one(journal *j, const char *sql, const char *gid, struct journal_record *r)
{
	sqlite3_stmt *st;
	int rc, rv;

	pthread_mutex_lock(&j->rlock);
	if (sqlite3_prepare_v2(j->rdb, sql, -1, &st, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&j->rlock);
		return XACT_EJOURNAL;
	}
	sqlite3_bind_text(st, 1, gid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		fill_record(st, r);
		rv = XACT_OK;
	} else {
		rv = rc == SQLITE_DONE ? XACT_ENOTFOUND : XACT_EJOURNAL;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&j->rlock);
	return rv;
}

int
journal_lookup(journal *j, const char *gid, struct journal_record *r)
{
	return lookup_one(j, "SELECT gid, participants, decided_at, coalesce(completed_at, 0) "
	                     "FROM decisions WHERE gid = ?", gid, r);
}

int
journal_lookup_precommit(journal *j, const char *gid, struct journal_record *r)
{
	return lookup_one(j, "SELECT gid, participants, decided_at, 0 FROM precommits WHERE gid = ? "
	                     "AND gid NOT IN (SELECT gid FROM decisions)", gid, r);
}

/* Writes one batch in one transaction.  Returns 0 or fills why. */
/* Writes one heuristic report ("participant decision outcome"). */
static int
write_heuristic(journal *j, const struct item *it, int64_t now)
{
	char participant[64], decision[16], outcome[16];
	sqlite3_stmt *st;
	int rc;

	if (sscanf(it->participants, "%63s %15s %15s", participant, decision, outcome) != 3 ||
	    sqlite3_prepare_v2(j->wdb, "INSERT OR IGNORE INTO heuristics (gid, participant, "
	                               "decision, outcome, detected_at) VALUES (?, ?, ?, ?, ?)",
	        -1, &st, NULL) != SQLITE_OK) {
		return XACT_EJOURNAL;
	}
	sqlite3_bind_text(st, 1, it->gid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, participant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, decision, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, outcome, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? XACT_OK : XACT_EJOURNAL;
}

/* Inserts a pre-commit (st binds gid, participants, time) or deletes one
 * (st binds gid). */
static int
write_precommit(journal *j, sqlite3_stmt *st, const struct item *it, int64_t now)
{
	(void)j;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, it->gid, -1, SQLITE_STATIC);
	if (it->kind == ITEM_PRECOMMIT) {
		sqlite3_bind_text(st, 2, it->participants, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now);
	}
	return sqlite3_step(st) == SQLITE_DONE ? XACT_OK : XACT_EJOURNAL;
}

/*
 * A decision deleted (retention, forget) leaves its mark in meta, in the
 * same write: the highest gid number deleted (dropped_seq), so that a
 * missing row is not taken for "no decision" (journal_dropped).  Run ids
 * carry no number: not marked.
 */
static int
mark_dropped(sqlite3 *db, uint64_t maxn, char *why, size_t whylen)
{
	char sql[256];

	if (maxn > 0) {
		snprintf(sql, sizeof(sql), "INSERT INTO meta (key, value) VALUES ('dropped_seq', '%llu') "
		         "ON CONFLICT (key) DO UPDATE SET value = excluded.value "
		         "WHERE CAST(meta.value AS INTEGER) < %llu", (unsigned long long)maxn,
		    (unsigned long long)maxn);
		if (exec_sql(db, sql, why, whylen) != XACT_OK) {
			return XACT_EJOURNAL;
		}
	}
	return XACT_OK;
}

static int
write_batch(journal *j, struct item *batch, char *why, size_t whylen, uint64_t *ncommits)
{
	sqlite3_stmt *ins = NULL, *done = NULL, *pc = NULL, *unpc = NULL;
	int64_t now = now_ms();
	int rv = XACT_EJOURNAL;

	*ncommits = 0;
	if (XACT_FAILPOINT("journal.write") != 0) {
		snprintf(why, whylen, "injected failure (journal.write)");
		return XACT_EJOURNAL;
	}
	if (exec_sql(j->wdb, "BEGIN IMMEDIATE", why, whylen) != XACT_OK) {
		return XACT_EJOURNAL;
	}
	if (sqlite3_prepare_v2(j->wdb,
	        "INSERT OR IGNORE INTO decisions (gid, decision, participants, decided_at) "
	        "VALUES (?, 'commit', ?, ?)", -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(j->wdb,
	        "UPDATE decisions SET completed_at = ? WHERE gid = ?", -1, &done,
	        NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(j->wdb,
	        "INSERT OR IGNORE INTO precommits (gid, participants, decided_at) VALUES (?, ?, ?)",
	        -1, &pc, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(j->wdb, "DELETE FROM precommits WHERE gid = ?", -1, &unpc,
	        NULL) != SQLITE_OK) {
		snprintf(why, whylen, "%s", sqlite3_errmsg(j->wdb));
		goto out;
	}
	for (struct item *it = batch; it != NULL; it = it->next) {
		sqlite3_stmt *st = it->kind == ITEM_COMMIT ? ins : done;

		if (it->kind == ITEM_PRECOMMIT || it->kind == ITEM_UNPRECOMMIT ||
		    it->kind == ITEM_COMMIT) {
			/* A commit replaces its pre-commit in the same write. */
			if (write_precommit(j, it->kind == ITEM_PRECOMMIT ? pc : unpc, it, now) !=
			    XACT_OK) {
				snprintf(why, whylen, "%s", sqlite3_errmsg(j->wdb));
				goto out;
			}
			if (it->kind != ITEM_COMMIT) {
				continue;
			}
		}
		if (it->kind == ITEM_FORGET) {
			char sql[160];
			uint64_t n = 0;
			int kind = util_gid_number(it->gid, &n);

			snprintf(sql, sizeof(sql), "DELETE FROM decisions WHERE gid = '%s'", it->gid);
			if (exec_sql(j->wdb, sql, why, whylen) != XACT_OK ||
			    mark_dropped(j->wdb, kind == 1 ? n : 0, why, whylen) != XACT_OK) {
				goto out;
			}
			continue;
		}
		if (it->kind == ITEM_HEURISTIC) {
			if (write_heuristic(j, it, now) != XACT_OK) {
				snprintf(why, whylen, "%s", sqlite3_errmsg(j->wdb));
				goto out;
			}
			continue;
		}
		sqlite3_reset(st);
		if (it->kind == ITEM_COMMIT) {
			sqlite3_bind_text(st, 1, it->gid, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, it->participants, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, now);
			(*ncommits)++;
		} else {
			sqlite3_bind_int64(st, 1, now);
			sqlite3_bind_text(st, 2, it->gid, -1, SQLITE_STATIC);
		}
		if (sqlite3_step(st) != SQLITE_DONE) {
			snprintf(why, whylen, "%s", sqlite3_errmsg(j->wdb));
			goto out;
		}
	}
	/* The fsync.  Crash before it returns: no decision of this batch is
	 * durable and none was announced.  After: all are. */
	if (exec_sql(j->wdb, "COMMIT", why, whylen) == XACT_OK) {
		rv = XACT_OK;
	}
out:
	sqlite3_finalize(ins);
	sqlite3_finalize(done);
	sqlite3_finalize(pc);
	sqlite3_finalize(unpc);
	if (rv != XACT_OK) {
		char ignore[256];

		exec_sql(j->wdb, "ROLLBACK", ignore, sizeof(ignore));
	}
	return rv;
}

/* Deletes the completed decisions older than the retention, and marks them
 * dropped, in one write. */
static void
garbage_collect(journal *j)
{
	sqlite3_stmt *st = NULL, *del = NULL;
	int64_t cut = now_ms() - j->retention_ms;
	uint64_t maxn = 0, n;
	int rc;
	char why[256] = "";

	if (exec_sql(j->wdb, "BEGIN IMMEDIATE", why, sizeof(why)) != XACT_OK) {
		log_warn("journal: garbage collection failed: %s", why);
		return;
	}
	if (sqlite3_prepare_v2(j->wdb, "SELECT gid FROM decisions WHERE completed_at IS NOT NULL "
	                               "AND completed_at < ?", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(j->wdb, "DELETE FROM decisions WHERE completed_at IS NOT NULL AND "
	                               "completed_at < ?", -1, &del, NULL) != SQLITE_OK) {
		snprintf(why, sizeof(why), "%s", sqlite3_errmsg(j->wdb));
		goto out;
	}
	sqlite3_bind_int64(st, 1, cut);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *gid = (const char *)sqlite3_column_text(st, 0);

		if (gid != NULL && util_gid_number(gid, &n) == 1 && n > maxn) {
			maxn = n;
		}
	}
	if (rc != SQLITE_DONE) {
		snprintf(why, sizeof(why), "%s", sqlite3_errmsg(j->wdb));
		goto out;
	}
	sqlite3_bind_int64(del, 1, cut);
	if (mark_dropped(j->wdb, maxn, why, sizeof(why)) != XACT_OK) {
		goto out;
	}
	if (sqlite3_step(del) != SQLITE_DONE) {
		snprintf(why, sizeof(why), "%s", sqlite3_errmsg(j->wdb));
		goto out;
	}
	if (exec_sql(j->wdb, "COMMIT", why, sizeof(why)) == XACT_OK) {
		why[0] = '\0';
	}
out:
	sqlite3_finalize(st);
	sqlite3_finalize(del);
	if (why[0] != '\0') {
		log_warn("journal: garbage collection failed: %s", why);
	}
	if (!sqlite3_get_autocommit(j->wdb)) {
		char ignore[256];

		exec_sql(j->wdb, "ROLLBACK", ignore, sizeof(ignore));
	}
}

int
journal_dropped(journal *j, const char *gid)
{
	uint64_t n = 0;
	int kind = util_gid_number(gid, &n);
	char *v;
	int dropped;

	if (kind != 1 || (v = journal_meta(j, "dropped_seq")) == NULL) {
		return 0;
	}
	dropped = strtoull(v, NULL, 10) >= n;
	free(v);
	return dropped;
}

static void
deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += ms * 1000000L;
	ts->tv_sec += ts->tv_nsec / 1000000000L;
	ts->tv_nsec %= 1000000000L;
}

/*
 * Group commit (j->lock held): a decision is queued while many transactions
 * are live and undecided (j->coming): wait, at most group_wait_ms, until as
 * many more are queued as were at work (running a statement or gathering
 * votes) when the wait began (those decide soon; an idle session may
 * never), or none is at work any more.  Those counted may also stop work
 * without a decision (a statement done, an abort, a commit in one phase):
 * the wait never waits for more than are queued and still at work.
 * One fsync then makes them all durable.  Under load that costs the first
 * of them a few ms and saves the writer a write per decision; with few
 * clients nothing waits.
 */
static void
group_wait(journal *j)
{
	struct timespec until;
	int want = j->urgent + j->voting;

	if (want > GROUP_MAX) {
		want = GROUP_MAX;
	}
	deadline_in(&until, j->group_wait_ms);
	for (;;) {
		if (j->urgent + j->voting < want) {
			want = j->urgent + j->voting; /* some left without a decision */
		}
		if (j->urgent >= want || j->voting <= 0 || j->stopping) {
			break;
		}
		j->group_want = want;
		if (pthread_cond_timedwait(&j->cv, &j->lock, &until) == ETIMEDOUT) {
			break;
		}
	}
	j->group_want = 0;
}

static void *
writer_main(void *arg)
{
	journal *j = arg;
	int64_t last_gc = now_ms();

	pthread_mutex_lock(&j->lock);
	for (;;) {
		struct item *batch;
		uint64_t n = 0;
		char why[512] = "";
		int rv;
		int64_t t0;

		while (j->head == NULL && !j->stopping) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&j->cv, &j->lock, &ts);
			if (j->head == NULL && now_ms() - last_gc > 10000) {
				pthread_mutex_unlock(&j->lock);
				garbage_collect(j);
				pthread_mutex_lock(&j->lock);
				last_gc = now_ms();
			}
		}
		if (j->head == NULL && j->stopping) {
			break;
		}
		/* Nobody waits on what is queued ("complete" records, forgets,
		 * heuristic reports): it may wait LAZY_MS to ride along with
		 * the next decision's write instead of taking an fsync of its
		 * own. */
		if (j->urgent == 0 && !j->stopping) {
			struct timespec until;

			deadline_in(&until, LAZY_MS);
			while (j->urgent == 0 && !j->stopping &&
			    pthread_cond_timedwait(&j->cv, &j->lock, &until) != ETIMEDOUT) {
			}
		}
		if (j->urgent > 0 && j->group_wait_ms > 0 && j->coming >= GROUP_SIBLINGS &&
		    !j->stopping) {
			group_wait(j);
		}
		batch = j->head;
		j->head = NULL;
		j->tail = &j->head;
		j->urgent = 0;
		pthread_mutex_unlock(&j->lock);

		t0 = now_ms();
		rv = write_batch(j, batch, why, sizeof(why), &n);
		if (rv != XACT_OK) {
			log_error("journal: write of a batch failed: %s", why);
		} else {
			/* Crash here: the batch is durable and nobody was told;
			 * recovery re-drives every decision in it. */
			XACT_FAILPOINT("journal.after_write");
			/* Counted before the callbacks: whoever a callback wakes
			 * sees the batch in the statistics. */
			pthread_mutex_lock(&j->lock);
			j->stats.batches++;
			j->stats.decisions += n;
			j->stats.busy_ms += (uint64_t)(now_ms() - t0);
			if (n > j->stats.max_batch) {
				j->stats.max_batch = n;
			}
			pthread_mutex_unlock(&j->lock);
		}
		while (batch != NULL) {
			struct item *next = batch->next;

			if (batch->cb != NULL) {
				batch->cb(batch->arg, batch->gid, rv, why);
			}
			free(batch->participants);
			free(batch);
			batch = next;
		}
		if (now_ms() - last_gc > 10000) {
			garbage_collect(j); /* also under constant load */
			last_gc = now_ms();
		}
		pthread_mutex_lock(&j->lock);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

int
journal_start(journal *j, int64_t retention_ms, int group_wait_ms)
{
	j->retention_ms = retention_ms;
	j->group_wait_ms = group_wait_ms;
	if (pthread_create(&j->thread, NULL, writer_main, j) != 0) {
		return XACT_ENOMEM;
	}
	j->started = 1;
	return XACT_OK;
}

static int
submit(journal *j, enum item_kind kind, const char *gid, const char *parts,
    journal_cb cb, void *arg)
{
	struct item *it = calloc(1, sizeof(*it));

	if (it == NULL || (parts != NULL && (it->participants = strdup(parts)) == NULL)) {
		free(it);
		return XACT_ENOMEM;
	}
	it->kind = kind;
	snprintf(it->gid, sizeof(it->gid), "%s", gid);
	it->cb = cb;
	it->arg = arg;
	pthread_mutex_lock(&j->lock);
	if (j->stopping || !j->started) {
		pthread_mutex_unlock(&j->lock);
		free(it->participants);
		free(it);
		return XACT_ECLOSED;
	}
	*j->tail = it;
	j->tail = &it->next;
	j->urgent += cb != NULL;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->lock);
	return XACT_OK;
}

int
journal_submit_commit(journal *j, const char *gid, const char *participants,
    journal_cb cb, void *arg)
{
	return submit(j, ITEM_COMMIT, gid, participants, cb, arg);
}

int
journal_submit_precommit(journal *j, const char *gid, const char *participants,
    journal_cb cb, void *arg)
{
	return submit(j, ITEM_PRECOMMIT, gid, participants, cb, arg);
}

int
journal_submit_unprecommit(journal *j, const char *gid)
{
	return submit(j, ITEM_UNPRECOMMIT, gid, NULL, NULL, NULL);
}

int
journal_submit_complete(journal *j, const char *gid)
{
	return submit(j, ITEM_COMPLETE, gid, NULL, NULL, NULL);
}

int
journal_submit_forget(journal *j, const char *gid)
{
	/* gids are "xact:" and [A-Za-z0-9_:-] (the coordinator made them) */
	if (strspn(gid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:-") !=
	    strlen(gid)) {
		return XACT_EINVAL;
	}
	return submit(j, ITEM_FORGET, gid, NULL, NULL, NULL);
}

int
journal_submit_heuristic(journal *j, const char *gid, const char *participant,
    const char *decision, const char *outcome)
{
	char what[128];

	snprintf(what, sizeof(what), "%s %s %s", participant, decision, outcome);
	return submit(j, ITEM_HEURISTIC, gid, what, NULL, NULL);
}

void
journal_expect(journal *j, int live, int voting)
{
	pthread_mutex_lock(&j->lock);
	j->coming += live;
	j->voting += voting;
	if (j->voting <= 0 || (j->group_want > 0 && j->urgent + j->voting < j->group_want)) {
		pthread_cond_signal(&j->cv); /* a group wait may end, or wait for fewer */
	}
	pthread_mutex_unlock(&j->lock);
}

void
journal_get_stats(journal *j, struct journal_stats *st)
{
	pthread_mutex_lock(&j->lock);
	*st = j->stats;
	pthread_mutex_unlock(&j->lock);
}

void
journal_close(journal *j)
{
	if (j == NULL) {
		return;
	}
	if (j->started) {
		pthread_mutex_lock(&j->lock);
		j->stopping = 1;
		pthread_cond_signal(&j->cv);
		pthread_mutex_unlock(&j->lock);
		pthread_join(j->thread, NULL);
	}
	sqlite3_close(j->rdb);
	sqlite3_close(j->sdb);
	sqlite3_close(j->wdb);
	pthread_mutex_destroy(&j->lock);
	pthread_mutex_destroy(&j->rlock);
	pthread_cond_destroy(&j->cv);
	free(j);
}
