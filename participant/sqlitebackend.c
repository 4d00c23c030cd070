/*
 * sqlitebackend.c - the SQLite backend.  SQLite has no PREPARE TRANSACTION,
 * so the agent makes the prepared state itself (docs/sqlite.md):
 *
 *   1. A branch runs in its own connection's transaction; a session object
 *      (SQLite's session extension) records every row it changes.
 *   2. PREPARE: the session's changeset is force-written to the side log
 *      (an SQLite file beside the database, sql/sidelog.sql) and the
 *      transaction is kept open, holding the write lock.  Only then YES.
 *   3. COMMIT: a marker row for the gid is inserted in the same transaction
 *      as the data, and the transaction commits (synchronous=FULL).  Then
 *      the side-log row is deleted.
 *   4. Start-up: for every side-log row, a marker means the branch
 *      committed (the row is deleted); no marker means it is still
 *      prepared: the changeset is applied again in an open transaction,
 *      which is held as the prepared branch.  Nothing is applied twice,
 *      nothing is lost; the changeset carries the values the branch wrote,
 *      so random() or datetime('now') are reproduced exactly.
 *
 * The agent must be the database's only writer: a changeset is applied on
 * top of what is on disk.  A changeset that no longer applies stops the
 * agent, which keeps the side-log row for the operator.
 *
 * Failpoints: sqlite.before_log (changeset not yet logged), sqlite.after_log
 * (logged, vote not sent), sqlite.before_commit, sqlite.after_commit (data
 * and marker committed, side-log row not deleted).
 */
#define SQLITE_ENABLE_SESSION
#define SQLITE_ENABLE_PREUPDATE_HOOK
#include "backend.h"

#include "failpoint.h"
#include "log.h"
#include "part.h"
#include "result.h"
#include "sqlutil.h"
#include "xact.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define SIDELOG_VERSION 1

/* sql/sidelog.sql and sql/markers.sql, made C strings by the Makefile. */
extern const char sidelog_schema_sql[];
extern const char markers_schema_sql[];

struct sconn {
	struct sconn *next;
	sqlite3 *db;
	sqlite3_session *sess;
	int internal; /* the backend's own statements: the authorizer allows */
};

struct prepared {
	struct prepared *next;
	char gid[128];
	struct sconn *c;
};

struct sl {
	char *path, *logpath;
	char name[40]; /* ":<agent name>": the suffix of this agent's branches */
	int lock_timeout_ms;
	long marker_retention_ms;
	size_t max_message;
	int lockfd;               /* the database file, flock'ed: one agent per inode */
	sqlite3 *log;             /* the side log; guarded by log_lock */
	pthread_mutex_t log_lock;
	pthread_mutex_t lock;     /* idle, prepared */
	struct sconn *idle;
	struct prepared *prepared;
};

static int64_t
wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- connections -------------------------------------------------------- */

/*
 * Branch statements may read and write the application's tables, nothing
 * else: no schema change (a changeset does not carry one), no ATTACH, no
 * PRAGMA, no transaction control, and no write to the agent's own xact_
 * tables.
 */
static int
authorize(void *arg, int action, const char *a, const char *b, const char *db, const char *t)
{
	struct sconn *c = arg;

	(void)b;
	(void)db;
	(void)t;
	if (c->internal) {
		return SQLITE_OK;
	}
	switch (action) {
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE:
		return a != NULL && strncasecmp(a, "xact_", 5) == 0 ? SQLITE_DENY : SQLITE_OK;
	case SQLITE_PRAGMA:
		/* The session extension reads a table's layout itself. */
		return a != NULL && (strcmp(a, "table_info") == 0 || strcmp(a, "table_xinfo") == 0)
		    ? SQLITE_OK : SQLITE_DENY;
	case SQLITE_SELECT:
	case SQLITE_READ:
	case SQLITE_FUNCTION:
	case SQLITE_RECURSIVE:
	case SQLITE_SAVEPOINT:
		return SQLITE_OK;
	default:
		return SQLITE_DENY;
	}
}

/* Opens a read-write connection to path with the agent's settings. */
static int
open_db(const char *path, int busy_ms, sqlite3 **out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, busy_ms);
	if (sqlx_run(db, "PRAGMA synchronous=FULL", err, errlen) != 0) {
		if ((sqlite3_errcode(db) & 0xff) == SQLITE_BUSY) {
			snprintf(err, errlen, "database %s is locked by another process (%s): the "
			         "agent must be its only writer", path, sqlite3_errmsg(db));
		} else {
			snprintf(err, errlen, "%s is not a usable SQLite database: %s", path,
			    sqlite3_errmsg(db));
		}
		sqlite3_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

/* Runs the backend's own statement (BEGIN, COMMIT...) past the authorizer. */
static int
run_internal(struct sconn *c, const char *sql, char *err, size_t errlen)
{
	int rv;

	c->internal = 1;
	rv = sqlx_run(c->db, sql, err, errlen);
	c->internal = 0;
	return rv;
}

static void
conn_close(struct sconn *c)
{
	if (c != NULL) {
		if (c->sess != NULL) {
			sqlite3session_delete(c->sess);
		}
		sqlite3_close(c->db);
		free(c);
	}
}

static struct sconn *
conn_get(struct sl *s, char *err, size_t errlen)
{
	struct sconn *c;

	pthread_mutex_lock(&s->lock);
	if ((c = s->idle) != NULL) {
		s->idle = c->next;
	}
	pthread_mutex_unlock(&s->lock);
	if (c != NULL) {
		return c;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (open_db(s->path, s->lock_timeout_ms, &c->db, err, errlen) != 0) {
		free(c);
		return NULL;
	}
	sqlite3_set_authorizer(c->db, authorize, c);
	return c;
}

/* Gives a connection back, its session deleted.  One still inside a
 * transaction (a failed ROLLBACK) is closed, which rolls back. */
static void
conn_put(struct sl *s, struct sconn *c)
{
	if (c->sess != NULL) {
		sqlite3session_delete(c->sess);
		c->sess = NULL;
	}
	c->internal = 0;
	if (!sqlite3_get_autocommit(c->db)) {
		conn_close(c);
		return;
	}
	pthread_mutex_lock(&s->lock);
	c->next = s->idle;
	s->idle = c;
	pthread_mutex_unlock(&s->lock);
}

/* Sessions record the application's tables only. */
static int
table_filter(void *arg, const char *table)
{
	(void)arg;
	return strncasecmp(table, "xact_", 5) != 0; /* SQLite names ignore case */
}

/* ---- the side log ------------------------------------------------------- */

static int
log_insert(struct sl *s, const char *gid, const void *cs, int n, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&s->log_lock);
	if (sqlite3_prepare_v2(s->log, "INSERT OR REPLACE INTO branches (gid, changeset, created_at) "
	                               "VALUES (?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "side log: %s", sqlite3_errmsg(s->log));
		pthread_mutex_unlock(&s->log_lock);
		return -1;
	}
	sqlite3_bind_text(st, 1, gid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, cs, n, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, wall_ms());
	/* Autocommit with synchronous=FULL: durable when it returns. */
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "side log: %s", sqlite3_errmsg(s->log));
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->log_lock);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void
log_delete(struct sl *s, const char *gid)
{
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->log_lock);
	if (sqlite3_prepare_v2(s->log, "DELETE FROM branches WHERE gid = ?", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, gid, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			/* Harmless: at the next start the marker (or its
			 * absence after a rollback) settles the row. */
			log_warn("side log: cannot delete gid=%s: %s", gid, sqlite3_errmsg(s->log));
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->log_lock);
}

/* Reads the side-log record of gid: 1 and a malloc'd copy of its changeset
 * in *cs (when cs is not NULL), 0 when there is none, -1 on error. */
static int
log_lookup(struct sl *s, const char *gid, void **cs, int *n)
{
	sqlite3_stmt *st;
	int rv = -1, rc;

	pthread_mutex_lock(&s->log_lock);
	if (sqlite3_prepare_v2(s->log, "SELECT changeset FROM branches WHERE gid = ?", -1, &st,
	        NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, gid, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		rv = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
		if (rv == 1 && cs != NULL) {
			*n = sqlite3_column_bytes(st, 0);
			if ((*cs = malloc((size_t)*n + 1)) == NULL) {
				rv = -1;
			} else {
				memcpy(*cs, sqlite3_column_blob(st, 0), (size_t)*n);
			}
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->log_lock);
	return rv;
}

/* ---- prepared branches -------------------------------------------------- */

static void
prepared_add(struct sl *s, struct prepared *p)
{
	pthread_mutex_lock(&s->lock);
	p->next = s->prepared;
	s->prepared = p;
	pthread_mutex_unlock(&s->lock);
}

/* Removes and returns the prepared branch gid, or NULL. */
static struct prepared *
prepared_take(struct sl *s, const char *gid)
{
	struct prepared **pp, *p = NULL;

	pthread_mutex_lock(&s->lock);
	for (pp = &s->prepared; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->gid, gid) == 0) {
			p = *pp;
			*pp = p->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return p;
}

/* gid's marker: 1 there, 0 not, -1 when it cannot be read (never taken
 * for "not there": that would answer "not committed" for a commit). */
static int
has_marker(sqlite3 *db, const char *gid)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM xact_markers WHERE gid = ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		return -1;
	}
	sqlite3_bind_text(st, 1, gid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int
conflict(void *arg, int kind, sqlite3_changeset_iter *it)
{
	(void)arg;
	(void)kind;
	(void)it;
	return SQLITE_CHANGESET_ABORT; /* the database changed behind the agent */
}

/* Applies a logged changeset in a new open transaction and holds it as the
 * prepared branch gid.  Returns 0, or -1 with err. */
static int
reapply(struct sl *s, const char *gid, const void *cs, int n, char *err, size_t errlen)
{
	struct sconn *c = conn_get(s, err, errlen);
	struct prepared *p;
	int rc;

	if (c == NULL) {
		return -1;
	}
	c->internal = 1;
	if (sqlx_run(c->db, "BEGIN IMMEDIATE", err, errlen) != 0) {
		conn_close(c);
		return -1;
	}
	rc = sqlite3changeset_apply(c->db, n, (void *)cs, NULL, conflict, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "the changeset of %s no longer applies to %s (%s): the "
		         "database was changed by another writer; its record is kept in %s",
		    gid, s->path, sqlite3_errstr(rc), s->logpath);
		conn_close(c);
		return -1;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		conn_close(c);
		return -1;
	}
	snprintf(p->gid, sizeof(p->gid), "%s", gid);
	p->c = c;
	prepared_add(s, p);
	return 0;
}

/* Settles every side-log row at start-up (see the file comment, step 4). */
static int
recover(struct sl *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	char **done = NULL;
	size_t ndone = 0;
	int rc = SQLITE_DONE, rv = 0, committed;

	if (open_db(s->path, s->lock_timeout_ms, &db, err, errlen) != 0) {
		return -1;
	}
	if (sqlite3_prepare_v2(s->log, "SELECT gid, changeset FROM branches ORDER BY created_at",
	        -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "side log %s: %s", s->logpath, sqlite3_errmsg(s->log));
		sqlite3_close(db);
		return -1;
	}
	while (rv == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *gid = (const char *)sqlite3_column_text(st, 0);
		char **more;

		if (gid == NULL) {
			continue;
		}
		if (strlen(gid) <= strlen(s->name) ||
		    strcmp(gid + strlen(gid) - strlen(s->name), s->name) != 0) {
			/* Re-applied, it would hold the write lock while no
			 * coordinator ever asks this agent about it. */
			snprintf(err, errlen, "side log %s holds branch %s, which is not this agent's "
			         "(%s): start the agent under the name it had", s->logpath, gid,
			    s->name + 1);
			rv = -1;
			break;
		}
		if ((committed = has_marker(db, gid)) < 0) {
			snprintf(err, errlen, "cannot read the markers of %s: %s", s->path,
			    sqlite3_errmsg(db));
			rv = -1;
			break;
		}
		if (!committed) {
			log_info("recovery: branch gid=%s state=prepared; applying its changeset again",
			    gid);
			rv = reapply(s, gid, sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1),
			    err, errlen);
			continue;
		}
		/* Committed before the crash: the record only has to go. */
		log_info("recovery: branch gid=%s state=committed (marker found)", gid);
		if ((more = realloc(done, (ndone + 1) * sizeof(*done))) != NULL &&
		    (more[ndone] = strdup(gid)) != NULL) {
			done = more;
			ndone++;
		} else if (more != NULL) {
			done = more;
		}
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		snprintf(err, errlen, "side log %s: %s", s->logpath, sqlite3_errmsg(s->log));
		rv = -1;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < ndone; i++) {
		if (rv == 0) {
			log_delete(s, done[i]);
		}
		free(done[i]);
	}
	free(done);
	sqlite3_close(db);
	return rv;
}

/* ---- opening ------------------------------------------------------------ */

static int
random_id(char *out, size_t n)
{
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY);

	if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
		if (fd >= 0) {
			close(fd);
		}
		return -1;
	}
	close(fd);
	for (size_t i = 0; i < sizeof(b) && 2 * i + 2 < n; i++) {
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	}
	return 0;
}

/* Checks the database file and prepares it: WAL, the agent's tables, its
 * id (stored in *id, 33 bytes), a primary key on every table. */
static int
open_database(struct sl *s, char *id, int *served_before, char *err, size_t errlen)
{
	sqlite3 *db;
	char why[512], *v;
	int rv = -1;

	if (access(s->path, R_OK | W_OK) != 0) {
		snprintf(err, errlen, "database %s is read-only for this agent: %s", s->path,
		    strerror(errno));
		return -1;
	}
	if (open_db(s->path, 1000, &db, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if ((v = sqlx_text(db, "SELECT count(*) FROM sqlite_master", NULL)) == NULL) {
		snprintf(err, errlen, "%s is not a usable SQLite database: %s", s->path,
		    sqlite3_errmsg(db));
		goto out;
	}
	free(v);
	if (sqlx_run(db, "BEGIN IMMEDIATE", why, sizeof(why)) != 0) {
		snprintf(err, errlen, "database %s is locked by another process (%s): the agent must "
		         "be its only writer", s->path, why);
		goto out;
	}
	if (sqlx_run(db, markers_schema_sql, why, sizeof(why)) != 0 || sqlx_run(db, "COMMIT", why, sizeof(why))) {
		snprintf(err, errlen, "cannot prepare database %s: %s", s->path, why);
		goto out;
	}
	if ((v = sqlx_text(db, "PRAGMA journal_mode=WAL", NULL)) == NULL || strcmp(v, "wal") != 0) {
		snprintf(err, errlen, "database %s cannot use WAL mode: %s", s->path,
		    v ? v : sqlite3_errmsg(db));
		free(v);
		goto out;
	}
	free(v);
	/* A database never served gets its id only once its side log exists
	 * (save_id): an id without a side log means one was lost. */
	v = sqlx_text(db, "SELECT value FROM xact_meta WHERE key = 'db_id'", NULL);
	*served_before = v != NULL;
	if (v == NULL && random_id(id, 33) != 0) {
		snprintf(err, errlen, "cannot read /dev/urandom");
		goto out;
	}
	if (v != NULL) {
		snprintf(id, 33, "%s", v);
	}
	free(v);
	v = sqlx_text(db,
	    "SELECT m.name FROM sqlite_master AS m WHERE m.type = 'table' "
	    "AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name NOT LIKE 'xact\\_%' ESCAPE '\\' "
	    "AND NOT EXISTS (SELECT 1 FROM pragma_table_info(m.name) AS t WHERE t.pk > 0) LIMIT 1",
	    NULL);
	if (v != NULL) {
		snprintf(err, errlen, "table %s of %s has no PRIMARY KEY: the SQLite backend records "
		         "changes by primary key and cannot serve it", v, s->path);
		free(v);
		goto out;
	}
	/* The session extension silently skips rows whose key holds NULL: a
	 * key column that may be NULL could lose a branch's write. */
	v = sqlx_text(db,
	    "SELECT m.name || '.' || t.name FROM sqlite_master AS m, pragma_table_info(m.name) AS t "
	    "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
	    "AND m.name NOT LIKE 'xact\\_%' ESCAPE '\\' AND t.pk > 0 AND t.\"notnull\" = 0 "
	    "AND NOT (upper(t.type) = 'INTEGER' AND "
	    "(SELECT count(*) FROM pragma_table_info(m.name) AS u WHERE u.pk > 0) = 1) LIMIT 1",
	    NULL);
	if (v != NULL) {
		snprintf(err, errlen, "primary key column %s of %s may hold NULL: declare it NOT "
		         "NULL (changes to such rows cannot be recorded)", v, s->path);
		free(v);
		goto out;
	}
	/* Applying a changeset again fires triggers again: their writes
	 * would be doubled or conflict at recovery. */
	v = sqlx_text(db, "SELECT name FROM sqlite_master WHERE type = 'trigger' LIMIT 1", NULL);
	if (v != NULL) {
		snprintf(err, errlen, "%s has trigger %s: the SQLite backend cannot serve a database "
		         "with triggers (recovery would run them twice)", s->path, v);
		free(v);
		goto out;
	}
	rv = 0;
out:
	sqlite3_close(db);
	return rv;
}

/* Opens the side log, creating it for a database never served before, and
 * checks it belongs to the database with id. */
static int
open_sidelog(struct sl *s, const char *id, int served_before, char *err, size_t errlen)
{
	struct stat sb;
	/* Empty: a first start stopped before the schema was written. */
	int created = stat(s->logpath, &sb) != 0 || (sb.st_size == 0 && !served_before);
	char why[512], *magic, *version, *owner;
	int fd, rv = -1;

	if (created && served_before) {
		snprintf(err, errlen, "side log %s is missing, but an agent served %s before: "
		         "prepared branches may be lost with it.  Put it back; if you know no "
		         "branch was prepared, delete the row db_id from xact_meta to start afresh",
		    s->logpath, s->path);
		return -1;
	}
	/* It holds the application's data: readable by the agent alone.
	 * SQLite gives its -wal and -shm files the same mode. */
	if (created && ((fd = open(s->logpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	                   close(fd) != 0)) {
		snprintf(err, errlen, "cannot create side log %s: %s", s->logpath, strerror(errno));
		return -1;
	}
	/* The busy timeout comes first: after a crash, the first statement
	 * recovers the WAL, and a reader of the file (an operator's sqlite3,
	 * a test's check) can hold it for a moment.  That is no corruption. */
	if (sqlite3_open_v2(s->logpath, &s->log, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
		sqlite3_busy_timeout(s->log, 5000);
	}
	if (s->log == NULL || sqlite3_errcode(s->log) != SQLITE_OK ||
	    sqlx_run(s->log, "PRAGMA synchronous=FULL", why, sizeof(why)) != 0) {
		if (s->log != NULL && (sqlite3_errcode(s->log) & 0xff) == SQLITE_BUSY) {
			snprintf(err, errlen, "side log %s is locked by another process (%s)",
			    s->logpath, sqlite3_errmsg(s->log));
			return -1;
		}
		snprintf(err, errlen, "side log %s is corrupt or not an xact side log (%s): refusing "
		         "to guess what was prepared", s->logpath,
		    s->log ? sqlite3_errmsg(s->log) : "no memory");
		return -1;
	}
	if (created) {
		char sql[128];

		snprintf(sql, sizeof(sql), "INSERT INTO meta VALUES ('db_id', '%s')", id);
		if (sqlx_run(s->log, "BEGIN", why, sizeof(why)) != 0 ||
		    sqlx_run(s->log, sidelog_schema_sql, why, sizeof(why)) != 0 ||
		    sqlx_run(s->log, sql, why, sizeof(why)) != 0 || sqlx_run(s->log, "COMMIT", why, sizeof(why))) {
			snprintf(err, errlen, "cannot create side log %s: %s", s->logpath, why);
			return -1;
		}
	}
	magic = sqlx_text(s->log, "SELECT value FROM meta WHERE key = 'magic'", NULL);
	version = sqlx_text(s->log, "SELECT value FROM meta WHERE key = 'schema_version'", NULL);
	owner = sqlx_text(s->log, "SELECT value FROM meta WHERE key = 'db_id'", NULL);
	if (magic == NULL || strcmp(magic, "xact-sidelog") != 0) {
		snprintf(err, errlen, "side log %s is corrupt or not an xact side log (%s): refusing "
		         "to guess what was prepared", s->logpath, sqlite3_errmsg(s->log));
	} else if (version == NULL || atoi(version) != SIDELOG_VERSION) {
		snprintf(err, errlen, "side log %s has schema version %s; this build reads %d",
		    s->logpath, version ? version : "?", SIDELOG_VERSION);
	} else if (owner == NULL || strcmp(owner, id) != 0) {
		snprintf(err, errlen, "side log %s belongs to another database (id %s; %s has id %s)",
		    s->logpath, owner ? owner : "?", s->path, id);
	} else {
		char *mode = sqlx_text(s->log, "PRAGMA journal_mode=WAL", NULL);

		if (mode == NULL || strcmp(mode, "wal") != 0) {
			snprintf(err, errlen, "side log %s cannot use WAL mode", s->logpath);
		} else if (created && sqlx_fsync_parent(s->logpath) != 0) {
			snprintf(err, errlen, "cannot sync the folder of %s: %s", s->logpath,
			    strerror(errno));
		} else {
			rv = 0;
		}
		free(mode);
	}
	free(magic);
	free(version);
	free(owner);
	return rv;
}

static void sq_close(void *be);

/* Records the database's id, once its side log exists. */
static int
save_id(struct sl *s, const char *id, char *err, size_t errlen)
{
	sqlite3 *db;
	char sql[128], why[512];
	int rv;

	if (open_db(s->path, 1000, &db, err, errlen) != 0) {
		return -1;
	}
	snprintf(sql, sizeof(sql), "INSERT INTO xact_meta VALUES ('db_id', '%s')", id);
	if ((rv = sqlx_run(db, sql, why, sizeof(why))) != 0) {
		snprintf(err, errlen, "cannot write to %s: %s", s->path, why);
	}
	sqlite3_close(db);
	return rv;
}

/*
 * One agent per database: an flock on the database file itself, so that
 * other paths to it (symbolic or hard links) are caught too.  The
 * descriptor stays open until sq_close, after SQLite's own connections
 * are closed (closing it earlier would drop SQLite's POSIX locks).
 */
static int
lock_database(struct sl *s, char *err, size_t errlen)
{
	struct stat sb;

	if ((s->lockfd = open(s->path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT) {
			snprintf(err, errlen, "database %s does not exist (the agent does not create "
			         "databases)", s->path);
		} else {
			snprintf(err, errlen, "cannot open database %s: %s", s->path, strerror(errno));
		}
		return -1;
	}
	if (fstat(s->lockfd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "database %s is not a regular file", s->path);
		return -1;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "database %s is already served by another agent", s->path);
		return -1;
	}
	return 0;
}

static int
sq_open(void **out, const struct part_config *cfg, char *err, size_t errlen)
{
	struct sl *s = calloc(1, sizeof(*s));
	char id[33] = "";
	int served_before = 0;

	*out = NULL;
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return XACT_ENOMEM;
	}
	s->lockfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->log_lock, NULL);
	s->lock_timeout_ms = (int)cfg->lock_timeout_ms;
	s->marker_retention_ms = cfg->marker_retention_ms;
	s->max_message = (size_t)cfg->max_message;
	if ((s->path = strdup(cfg->database)) == NULL ||
	    (s->logpath = malloc(strlen(cfg->database) + 10)) == NULL) {
		snprintf(err, errlen, "out of memory");
		sq_close(s);
		return XACT_ENOMEM;
	}
	sprintf(s->logpath, "%s-xact-log", cfg->database);
	snprintf(s->name, sizeof(s->name), ":%s", cfg->name);
	if (lock_database(s, err, errlen) != 0 ||
	    open_database(s, id, &served_before, err, errlen) != 0 ||
	    open_sidelog(s, id, served_before, err, errlen) != 0 ||
	    (!served_before && save_id(s, id, err, errlen) != 0) || recover(s, err, errlen) != 0) {
		sq_close(s);
		return XACT_EDB;
	}
	*out = s;
	return XACT_OK;
}

static void
sq_close(void *be)
{
	struct sl *s = be;

	/* Prepared branches stay prepared: their rows remain in the side log
	 * and closing their connections rolls the open transactions back;
	 * the next start applies the changesets again. */
	while (s->prepared != NULL) {
		struct prepared *p = s->prepared;

		s->prepared = p->next;
		conn_close(p->c);
		free(p);
	}
	while (s->idle != NULL) {
		struct sconn *c = s->idle;

		s->idle = c->next;
		conn_close(c);
	}
	sqlite3_close(s->log);
	if (s->lockfd >= 0) {
		close(s->lockfd);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->log_lock);
	free(s->path);
	free(s->logpath);
	free(s);
}

/* ---- branch operations -------------------------------------------------- */

static enum branch_result
sq_begin(void *be, void **out, char *err, size_t errlen)
{
	struct sl *s = be;
	struct sconn *c = conn_get(s, err, errlen);

	if (c == NULL) {
		return BRES_TRANSIENT;
	}
	if (run_internal(c, "BEGIN", err, errlen) != 0 ||
	    sqlite3session_create(c->db, "main", &c->sess) != SQLITE_OK) {
		snprintf(err, errlen, "cannot begin: %s", sqlite3_errmsg(c->db));
		conn_close(c);
		return BRES_TRANSIENT;
	}
	sqlite3session_table_filter(c->sess, table_filter, NULL);
	if (sqlite3session_attach(c->sess, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot record changes: %s", sqlite3_errmsg(c->db));
		conn_close(c);
		return BRES_TRANSIENT;
	}
	*out = c;
	return BRES_OK;
}

static int
only_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ';') {
		p++;
	}
	return *p == '\0';
}

/*
 * The index of parameter n ("$n", as PostgreSQL numbers them).  SQLite
 * numbers "$n" parameters in the order they first appear, not by n, so
 * "VALUES ($2, $1)" must be bound by name.  "?n" and a bare "?" (by
 * position) work too.  0 when the statement has no such parameter.
 */
static int
param_index(sqlite3_stmt *stmt, size_t n)
{
	char name[24];
	int idx;

	snprintf(name, sizeof(name), "$%zu", n);
	if ((idx = sqlite3_bind_parameter_index(stmt, name)) != 0) {
		return idx;
	}
	snprintf(name, sizeof(name), "?%zu", n);
	if ((idx = sqlite3_bind_parameter_index(stmt, name)) != 0) {
		return idx;
	}
	if ((int)n <= sqlite3_bind_parameter_count(stmt) &&
	    sqlite3_bind_parameter_name(stmt, (int)n) == NULL) {
		return (int)n; /* a bare "?" */
	}
	return 0;
}

static enum branch_result
sq_exec(void *be, void *vconn, const Xact__Statement *st, nng_msg **reply)
{
	struct sl *s = be;
	struct sconn *c = vconn;
	sqlite3_stmt *stmt = NULL;
	const char *tail = NULL;
	struct result *r = NULL;
	int rc, ncols;
	char msg[1024];
	const char *state = NULL;

	*reply = NULL;
	if (sqlite3_prepare_v2(c->db, st->sql, -1, &stmt, &tail) != SQLITE_OK || stmt == NULL) {
		snprintf(msg, sizeof(msg), "%s", stmt == NULL && sqlite3_errcode(c->db) == SQLITE_OK
		                                     ? "empty statement" : sqlite3_errmsg(c->db));
		goto failed;
	}
	if (!only_blanks(tail)) {
		snprintf(msg, sizeof(msg), "one statement per call: text after the first statement");
		goto failed;
	}
	for (size_t i = 0; i < st->n_params; i++) {
		const Xact__Param *p = st->params[i];
		int idx = param_index(stmt, i + 1);

		if (idx == 0) {
			continue; /* the statement does not use $i+1 */
		}
		rc = p->has_value ? sqlite3_bind_text(stmt, idx, (const char *)p->value.data,
		                        (int)p->value.len, SQLITE_STATIC)
		                  : sqlite3_bind_null(stmt, idx);
		if (rc != SQLITE_OK) {
			snprintf(msg, sizeof(msg), "parameter $%zu: %s", i + 1, sqlite3_errmsg(c->db));
			goto failed;
		}
	}
	ncols = sqlite3_column_count(stmt);
	if ((r = result_new((size_t)ncols)) == NULL) {
		snprintf(msg, sizeof(msg), "out of memory");
		goto failed;
	}
	for (int j = 0; j < ncols; j++) {
		if (result_set_column(r, (size_t)j, sqlite3_column_name(stmt, j)) != 0) {
			snprintf(msg, sizeof(msg), "out of memory");
			goto failed;
		}
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (result_add_row(r) != 0) {
			snprintf(msg, sizeof(msg), "out of memory");
			goto failed;
		}
		for (int j = 0; j < ncols; j++) {
			const void *v = sqlite3_column_type(stmt, j) == SQLITE_NULL
			    ? NULL : sqlite3_column_text(stmt, j);

			if (result_set_value(r, (size_t)j, v, (size_t)sqlite3_column_bytes(stmt, j)) != 0) {
				snprintf(msg, sizeof(msg), "out of memory");
				goto failed;
			}
		}
	}
	if (rc != SQLITE_DONE) {
		snprintf(msg, sizeof(msg), "%s%s", sqlite3_errmsg(c->db),
		    (rc & 0xff) == SQLITE_BUSY ? " (the write lock is held by a prepared or running "
		                                 "branch, or the branch read an older snapshot)"
		                               : "");
		goto failed;
	}
	if (sqlite3_get_autocommit(c->db)) {
		snprintf(msg, sizeof(msg), "the statement ended the branch's transaction");
		state = "25P01";
		goto failed;
	}
	result_set_affected(r, sqlite3_stmt_readonly(stmt) ? 0 : (uint64_t)sqlite3_changes(c->db));
	sqlite3_finalize(stmt);
	*reply = result_finish(r, s->max_message);
	return BRES_OK;
failed:
	result_free(r);
	sqlite3_finalize(stmt);
	*reply = result_error(msg, state);
	return BRES_FAILED;
}

static void
sq_rollback(void *be, void *vconn)
{
	struct sconn *c = vconn;
	char ignore[256];

	run_internal(c, "ROLLBACK", ignore, sizeof(ignore));
	conn_put(be, c);
}

/* The branch's changeset into *cs (*n bytes, 0: it wrote nothing): 0, or
 * -1 with err and the branch rolled back (conn given back). */
static int
changes(void *be, struct sconn *c, void **cs, int *n, char *err, size_t errlen)
{
	int rc;

	/* Not sqlite3session_isempty(): a session that failed to record says
	 * "empty" there, and only the changeset call reports the failure.  A
	 * write taken for a read would commit outside the protocol. */
	if ((rc = sqlite3session_changeset(c->sess, n, cs)) != SQLITE_OK) {
		snprintf(err, errlen, "cannot capture the branch's changes: %s", sqlite3_errstr(rc));
		sq_rollback(be, c);
		return -1;
	}
	return 0;
}

static enum branch_result
sq_prepare(void *be, void *vconn, const char *gid, char *err, size_t errlen)
{
	struct sl *s = be;
	struct sconn *c = vconn;
	struct prepared *p;
	void *cs = NULL;
	int n = 0;

	if (changes(be, c, &cs, &n, err, errlen) != 0) {
		return BRES_FAILED;
	}
	if (n == 0) {
		/* Read only (or changes that cancel out): nothing to keep. */
		sqlite3_free(cs);
		if (run_internal(c, "COMMIT", err, errlen) != 0) {
			sq_rollback(be, c);
			return BRES_FAILED;
		}
		conn_put(s, c);
		return BRES_READ_ONLY;
	}
	if (XACT_FAILPOINT("sqlite.before_log") != 0) {
		snprintf(err, errlen, "injected failure (sqlite.before_log)");
		sqlite3_free(cs);
		sq_rollback(be, c);
		return BRES_FAILED;
	}
	/* The write-ahead step.  Crash before it returns: no record, the
	 * open transaction dies with the process, the vote was never sent:
	 * the coordinator aborts.  After: the record survives; at restart the
	 * changeset is applied again and held as prepared. */
	if (log_insert(s, gid, cs, n, err, errlen) != 0 || (p = calloc(1, sizeof(*p))) == NULL) {
		sqlite3_free(cs);
		sq_rollback(be, c);
		log_delete(s, gid);
		return BRES_FAILED;
	}
	sqlite3_free(cs);
	/* Crash here: logged, vote not sent; recovery prepares it again and
	 * the coordinator, which heard no vote, aborts it. */
	XACT_FAILPOINT("sqlite.after_log");
	sqlite3session_delete(c->sess);
	c->sess = NULL;
	snprintf(p->gid, sizeof(p->gid), "%s", gid);
	p->c = c;
	prepared_add(s, p);
	return BRES_OK;
}

/* Holds gid prepared again from its side-log record (after SQLite rolled
 * back a failed COMMIT, or when a record outlived its connection).
 * Returns 0, or -1 with err. */
static int
restore(struct sl *s, const char *gid, char *err, size_t errlen)
{
	void *cs = NULL;
	int n = 0, rv;

	if (log_lookup(s, gid, &cs, &n) != 1) {
		snprintf(err, errlen, "no side-log record for %s", gid);
		return -1;
	}
	rv = reapply(s, gid, cs, n, err, errlen);
	free(cs);
	return rv;
}

/*
 * COMMIT or ABORT of a gid not held prepared.  Its marker says it
 * committed.  Without one, a side-log record means it is still prepared on
 * disk only: a COMMIT holds it again and asks to be retried, an ABORT drops
 * the record.  Neither: the database never had it (NOT_FOUND).
 */
static enum branch_result
not_held(struct sl *s, int commit, const char *gid, char *err, size_t errlen)
{
	struct sconn *c = conn_get(s, err, errlen);
	int committed, logged;

	if (c == NULL) {
		return BRES_TRANSIENT;
	}
	committed = has_marker(c->db, gid);
	if (committed < 0) {
		snprintf(err, errlen, "cannot read the markers: %s", sqlite3_errmsg(c->db));
	}
	conn_put(s, c);
	if (committed < 0) {
		return BRES_TRANSIENT;
	}
	if (committed) {
		return commit ? BRES_OK : BRES_COMMITTED_ALREADY;
	}
	if ((logged = log_lookup(s, gid, NULL, NULL)) < 0) {
		snprintf(err, errlen, "side log unreadable: %s", sqlite3_errmsg(s->log));
		return BRES_TRANSIENT;
	}
	if (!logged) {
		return BRES_NOT_FOUND;
	}
	if (!commit) {
		log_delete(s, gid);
		return BRES_OK;
	}
	if (restore(s, gid, err, errlen) == 0) {
		snprintf(err, errlen, "branch %s prepared again from the side log; try again", gid);
	}
	return BRES_TRANSIENT;
}

/* Inserts gid's marker in c's open transaction: SQLITE_DONE, or the
 * error code with err (SQLITE_CONSTRAINT: gid has one already). */
static int
put_marker(struct sconn *c, const char *gid, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	c->internal = 1;
	if ((rc = sqlite3_prepare_v2(c->db, "INSERT INTO xact_markers (gid, committed_at) "
	                                    "VALUES (?, ?)", -1, &st, NULL)) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, gid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, wall_ms());
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	c->internal = 0;
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "cannot write the marker: %s", sqlite3_errmsg(c->db));
	}
	return rc;
}

/*
 * One-phase commit: the data and the marker commit together, with no
 * side-log record (nothing is prepared).  A marker already there is an
 * earlier run of this very branch that committed (COMMITTED_ALREADY).  A
 * COMMIT that failed with the transaction still open is rolled back
 * (FAILED); one SQLite ended by itself may have committed (TRANSIENT:
 * rollback_prepared, from the marker, tells).  Nothing of a branch can be
 * on its way once this returns: the connection is this process's.
 */
static enum branch_result
sq_commit_one_phase(void *be, void *vconn, const char *gid, char *err, size_t errlen)
{
	struct sl *s = be;
	struct sconn *c = vconn;
	void *cs = NULL;
	int n = 0, rc;

	if (changes(be, c, &cs, &n, err, errlen) != 0) {
		return BRES_FAILED;
	}
	sqlite3_free(cs);
	if (n > 0 && (rc = put_marker(c, gid, err, errlen)) != SQLITE_DONE) {
		sq_rollback(be, c);
		if ((rc & 0xff) != SQLITE_CONSTRAINT) {
			return BRES_FAILED;
		}
		/* Its marker is there: an earlier run of this branch committed,
		 * unless it cannot be read (the fence, later, tells). */
		switch (not_held(s, 0, gid, err, errlen)) {
		case BRES_COMMITTED_ALREADY:
			err[0] = '\0';
			return BRES_COMMITTED_ALREADY;
		case BRES_TRANSIENT:
			return BRES_TRANSIENT;
		default:
			return BRES_FAILED;
		}
	}
	if (run_internal(c, "COMMIT", err, errlen) != 0) {
		if (!sqlite3_get_autocommit(c->db)) {
			sq_rollback(be, c);
			return BRES_FAILED;
		}
		conn_close(c);
		return BRES_TRANSIENT;
	}
	conn_put(s, c);
	return n > 0 ? BRES_OK : BRES_READ_ONLY;
}

static enum branch_result
sq_commit_prepared(void *be, const char *gid, char *err, size_t errlen)
{
	struct sl *s = be;
	struct prepared *p = prepared_take(s, gid);
	int rc;

	if (p == NULL) {
		return not_held(s, 1, gid, err, errlen);
	}
	if (XACT_FAILPOINT("sqlite.before_commit") != 0) {
		snprintf(err, errlen, "injected failure (sqlite.before_commit)");
		prepared_add(s, p);
		return BRES_TRANSIENT;
	}
	/* The data and the marker commit together, synced. */
	rc = put_marker(p->c, gid, err, errlen);
	p->c->internal = 1;
	if (rc != SQLITE_DONE || sqlx_run(p->c->db, "COMMIT", err, errlen) != 0) {
		p->c->internal = 0;
		if (!sqlite3_get_autocommit(p->c->db)) {
			prepared_add(s, p); /* still prepared: the coordinator retries */
			return BRES_TRANSIENT;
		}
		/* SQLite rolled the transaction back: prepare it again from its
		 * record, so that the coordinator's retry can commit it. */
		log_error("commit of gid=%s failed and SQLite rolled it back: %s", gid, err);
		conn_close(p->c);
		free(p);
		if (restore(s, gid, err, errlen) != 0) {
			log_error("gid=%s stays in the side log only: %s", gid, err);
		}
		return BRES_TRANSIENT;
	}
	/* Crash here: committed with its marker, side-log record still there;
	 * recovery sees the marker and only drops the record. */
	XACT_FAILPOINT("sqlite.after_commit");
	log_delete(s, gid);
	conn_put(s, p->c);
	free(p);
	return BRES_OK;
}

static enum branch_result
sq_rollback_prepared(void *be, const char *gid, char *err, size_t errlen)
{
	struct sl *s = be;
	struct prepared *p = prepared_take(s, gid);

	if (p == NULL) {
		return not_held(s, 0, gid, err, errlen);
	}
	sq_rollback(s, p->c);
	/* Crash here: no marker, the record is still there: recovery prepares
	 * it again and the coordinator's abort rolls it back once more. */
	log_delete(s, gid);
	free(p);
	return BRES_OK;
}

static int
sq_list_prepared(void *be, const char *prefix, char ***gids, size_t *n, char *err, size_t errlen)
{
	struct sl *s = be;
	size_t cap = 0;

	(void)err;
	(void)errlen;
	*gids = NULL;
	*n = 0;
	pthread_mutex_lock(&s->lock);
	for (struct prepared *p = s->prepared; p != NULL; p = p->next) {
		cap++;
	}
	if ((*gids = calloc(cap + 1, sizeof(char *))) == NULL) {
		pthread_mutex_unlock(&s->lock);
		return XACT_ENOMEM;
	}
	for (struct prepared *p = s->prepared; p != NULL; p = p->next) {
		if (strncmp(p->gid, prefix, strlen(prefix)) == 0 &&
		    ((*gids)[*n] = strdup(p->gid)) != NULL) {
			(*n)++;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return XACT_OK;
}

/* Is gid held prepared by this agent? */
static int
held(struct sl *s, const char *gid)
{
	int found = 0;

	pthread_mutex_lock(&s->lock);
	for (struct prepared *p = s->prepared; p != NULL && !found; p = p->next) {
		found = strcmp(p->gid, gid) == 0;
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

/*
 * Once a minute.  First, side-log records whose delete failed after their
 * commit (they have a marker) are dropped.  Then markers older than an
 * hour go, except those of gids that still have a record.
 */
static void
sq_maintain(void *be)
{
	struct sl *s = be;
	char err[256], *keep;
	struct sconn *c = conn_get(s, err, sizeof(err));
	sqlite3_stmt *st;
	char **gids = NULL;
	size_t n = 0;

	if (c == NULL) {
		return;
	}
	pthread_mutex_lock(&s->log_lock);
	if (sqlite3_prepare_v2(s->log, "SELECT gid FROM branches", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			char **more = realloc(gids, (n + 1) * sizeof(*gids));

			if (more == NULL) {
				break;
			}
			gids = more;
			if ((gids[n] = strdup((const char *)sqlite3_column_text(st, 0))) != NULL) {
				n++;
			}
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->log_lock);
	for (size_t i = 0; i < n; i++) {
		if (!held(s, gids[i]) && has_marker(c->db, gids[i]) == 1) {
			log_info("dropping the side-log record of committed gid=%s", gids[i]);
			log_delete(s, gids[i]);
		}
		free(gids[i]);
	}
	free(gids);
	/* The gids that still have a record keep their markers, whatever
	 * their age: without it, a record whose delete failed after its
	 * commit would look prepared and be applied a second time. */
	pthread_mutex_lock(&s->log_lock);
	keep = sqlx_text(s->log, "SELECT json_group_array(gid) FROM branches", NULL);
	pthread_mutex_unlock(&s->log_lock);
	if (keep == NULL) {
		conn_put(s, c);
		return;
	}
	/* Short lock wait: a prepared branch may hold the write lock; the
	 * next minute will do. */
	sqlite3_busy_timeout(c->db, 50);
	c->internal = 1;
	if (sqlite3_prepare_v2(c->db, "DELETE FROM xact_markers WHERE committed_at < ? "
	                              "AND gid NOT IN (SELECT value FROM json_each(?))",
	        -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, wall_ms() - s->marker_retention_ms);
		sqlite3_bind_text(st, 2, keep, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			log_debug("marker clean-up skipped: %s", sqlite3_errmsg(c->db));
		}
		sqlite3_finalize(st);
	}
	free(keep);
	c->internal = 0;
	sqlite3_busy_timeout(c->db, s->lock_timeout_ms);
	conn_put(s, c);
}

const struct backend_ops sqlitebackend_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.exec = sq_exec,
	.prepare = sq_prepare,
	.commit_one_phase = sq_commit_one_phase,
	.rollback = sq_rollback,
	.commit_prepared = sq_commit_prepared,
	.rollback_prepared = sq_rollback_prepared,
	.list_prepared = sq_list_prepared,
	.maintain = sq_maintain,
};
