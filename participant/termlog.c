/*
 * termlog.c - the agent's termination log (see termlog.h).
 */
#include "termlog.h"

#include "log.h"
#include "sqlutil.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

extern const char termlog_schema_sql[];

struct termlog {
	sqlite3 *db;
	pthread_mutex_t lock;
};

/* Creates the schema in an empty file, naming agent.  0, or -1 with why. */
static int
create(sqlite3 *db, const char *agent, char *why, size_t n)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlx_run(db, "BEGIN", why, n) != 0 || sqlx_run(db, termlog_schema_sql, why, n) != 0) {
		return -1;
	}
	if (sqlite3_prepare_v2(db, "INSERT INTO meta VALUES ('agent', ?)", -1, &st, NULL) !=
	    SQLITE_OK) {
		snprintf(why, n, "%s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, agent, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(why, n, "%s", sqlite3_errmsg(db));
		return -1;
	}
	return sqlx_run(db, "COMMIT", why, n);
}

/* Checks magic, version and agent name. */
static int
check(sqlite3 *db, const char *agent, char *why, size_t n)
{
	char *magic = sqlx_text(db, "SELECT value FROM meta WHERE key='magic'", NULL);
	char *version = sqlx_text(db, "SELECT value FROM meta WHERE key='schema_version'", NULL);
	char *owner = sqlx_text(db, "SELECT value FROM meta WHERE key='agent'", NULL);
	int rv = -1;

	if (magic == NULL || strcmp(magic, "xact-termlog") != 0) {
		snprintf(why, n, "not a termination log of xact");
	} else if (version == NULL || strcmp(version, "2") != 0) {
		snprintf(why, n, "termination log schema version %s is not supported (this build "
		         "reads 2)", version ? version : "?");
	} else if (owner == NULL || strcmp(owner, agent) != 0) {
		snprintf(why, n, "it belongs to agent '%s', not '%s'", owner ? owner : "?", agent);
	} else {
		rv = 0;
	}
	free(magic);
	free(version);
	free(owner);
	return rv;
}

int
termlog_open(termlog **out, const char *path, const char *agent, char *err, size_t errlen)
{
	termlog *t = calloc(1, sizeof(*t));
	struct stat sb;
	int created = stat(path, &sb) != 0;
	char why[512] = "";
	char *tables;

	*out = NULL;
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&t->lock, NULL);
	if (sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		snprintf(why, sizeof(why), "%s", t->db ? sqlite3_errmsg(t->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(t->db, 5000);
	tables = sqlx_text(t->db, "SELECT count(*) FROM sqlite_master", NULL);
	if (tables == NULL) {
		snprintf(why, sizeof(why), "unreadable: %s", sqlite3_errmsg(t->db));
		goto fail;
	}
	if (atoi(tables) == 0 && create(t->db, agent, why, sizeof(why)) != 0) {
		free(tables);
		goto fail;
	}
	free(tables);
	if (check(t->db, agent, why, sizeof(why)) != 0 || sqlx_durable(t->db, why, sizeof(why)) != 0) {
		goto fail;
	}
	if (created && sqlx_fsync_parent(path) != 0) {
		snprintf(why, sizeof(why), "cannot sync its folder: %s", strerror(errno));
		goto fail;
	}
	*out = t;
	return 0;
fail:
	snprintf(err, errlen, "termination log %s: %s", path, why);
	termlog_close(t);
	return -1;
}

void
termlog_close(termlog *t)
{
	if (t != NULL) {
		sqlite3_close(t->db);
		pthread_mutex_destroy(&t->lock);
		free(t);
	}
}

/* Runs one statement binding gid (and e's fields when e is given). */
static int
write_one(termlog *t, const char *sql, const char *gid, const struct termlog_entry *e)
{
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&t->lock);
	if (sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("termination log: %s", sqlite3_errmsg(t->db));
		pthread_mutex_unlock(&t->lock);
		return -1;
	}
	if (gid != NULL) {
		sqlite3_bind_text(st, 1, gid, -1, SQLITE_STATIC);
	}
	if (e != NULL) {
		sqlite3_bind_text(st, 2, e->readonly ? "readonly"
		                         : e->precommitted ? "precommitted" : "prepared", -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, e->promised);
		sqlite3_bind_text(st, 4, e->peers, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, util_wall_ms());
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_error("termination log: write of gid=%s failed: %s", gid ? gid : "-", sqlite3_errmsg(t->db));
	}
	pthread_mutex_unlock(&t->lock);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
termlog_put(termlog *t, const struct termlog_entry *e)
{
	return write_one(t, "INSERT OR REPLACE INTO terms (gid, state, promised, peers, at) "
	                    "VALUES (?, ?, ?, ?, ?)", e->gid, e);
}

int
termlog_prune_readonly(termlog *t, int64_t before)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "DELETE FROM terms WHERE state = 'readonly' AND at < %lld",
	    (long long)before);
	return write_one(t, sql, NULL, NULL);
}

int
termlog_remove(termlog *t, const char *gid)
{
	return write_one(t, "DELETE FROM terms WHERE gid = ?", gid, NULL);
}

static void
fill(sqlite3_stmt *st, struct termlog_entry *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->gid, sizeof(e->gid), "%s", (const char *)sqlite3_column_text(st, 0));
	e->precommitted = strcmp((const char *)sqlite3_column_text(st, 1), "precommitted") == 0;
	e->readonly = strcmp((const char *)sqlite3_column_text(st, 1), "readonly") == 0;
	e->promised = sqlite3_column_int64(st, 2);
	snprintf(e->peers, sizeof(e->peers), "%s", (const char *)sqlite3_column_text(st, 3));
	e->at = sqlite3_column_int64(st, 4);
}

int
termlog_each(termlog *t, int (*fn)(void *arg, const struct termlog_entry *e), void *arg)
{
	sqlite3_stmt *st;
	struct termlog_entry e;
	int rc = SQLITE_DONE, rv = 0;

	pthread_mutex_lock(&t->lock);
	if (sqlite3_prepare_v2(t->db, "SELECT gid, state, promised, peers, at FROM terms ORDER BY gid",
	        -1, &st, NULL) != SQLITE_OK) {
		log_error("termination log: %s", sqlite3_errmsg(t->db));
		pthread_mutex_unlock(&t->lock);
		return -1;
	}
	while (rv == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		fill(st, &e);
		rv = fn(arg, &e);
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		log_error("termination log: %s", sqlite3_errmsg(t->db));
		rv = -1;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&t->lock);
	return rv;
}

int
termlog_get(termlog *t, const char *gid, struct termlog_entry *e)
{
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&t->lock);
	if (sqlite3_prepare_v2(t->db, "SELECT gid, state, promised, peers, at FROM terms WHERE gid = ?",
	        -1, &st, NULL) != SQLITE_OK) {
		log_error("termination log: %s", sqlite3_errmsg(t->db));
		pthread_mutex_unlock(&t->lock);
		return -1;
	}
	sqlite3_bind_text(st, 1, gid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		fill(st, e);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&t->lock);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}
