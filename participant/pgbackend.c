/*
 * pgbackend.c - the PostgreSQL backend: a pool of libpq connections;
 * BEGIN, the statements (PQexecParams only: client SQL is never spliced),
 * PREPARE TRANSACTION 'gid', COMMIT PREPARED / ROLLBACK PREPARED.
 *
 * It never touches a prepared transaction whose gid does not start with
 * "xact:" nor one of another database.
 *
 * Failpoints: pg.before_prepare, pg.after_prepare (prepared, not yet
 * reported), pg.before_commit_prepared, pg.after_commit_prepared,
 * pg.before_rollback_prepared, pg.after_rollback_prepared.
 */
#include "backend.h"

#include "failpoint.h"
#include "log.h"
#include "part.h"
#include "result.h"
#include "wire.h"
#include "xact.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL_WAIT_S 10
#define GID_MAX 199
/* COMMIT/ROLLBACK PREPARED and listings may open this many connections
 * beyond the pool's size: branches holding every pooled connection must
 * not keep a decision from being carried out. */
#define CONTROL_EXTRA 4

/* sql/pgmarkers.sql, made a C string by the Makefile. */
extern const char pgmarkers_schema_sql[];

struct pg {
	char *conninfo;
	char options[128]; /* -c statement_timeout=... -c lock_timeout=... */
	long marker_retention_s;
	size_t max_message;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	PGconn **idle;
	int nidle, total, max;
	atomic_int fences;   /* xact.markers has its fenced column: one phase is safe */
};

int
backend_gid_is_safe(const char *gid)
{
	size_t n = strlen(gid);

	return n > 5 && n <= GID_MAX && strncmp(gid, "xact:", 5) == 0 &&
	    strspn(gid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:-") == n;
}

/* The first line of libpq's error text, without the trailing newline. */
static void
pg_error(PGconn *conn, const PGresult *res, char *err, size_t errlen)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	size_t n;

	snprintf(err, errlen, "%s", msg ? msg : PQerrorMessage(conn));
	n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' ')) {
		err[--n] = '\0';
	}
}

static int
conn_broken(PGconn *conn)
{
	return PQstatus(conn) != CONNECTION_OK;
}

static void
quiet_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("database notice: %.200s", message);
}

/* Opens a connection: libpq's connect timeout and keepalives, and the
 * agent's statement and lock timeouts as session defaults (they survive
 * DISCARD ALL).  Settings in the conninfo string override these. */
static PGconn *
pg_connect(struct pg *pg)
{
	const char *keys[] = {"connect_timeout", "keepalives", "keepalives_idle", "options",
		"dbname", NULL};
	const char *values[] = {"5", "1", "30", pg->options, pg->conninfo, NULL};

	PGconn *conn = PQconnectdbParams(keys, values, 1);

	/* Notices ("already exists"...) are not errors: keep stderr for the
	 * agent's own log lines. */
	PQsetNoticeProcessor(conn, quiet_notice, NULL);
	return conn;
}

/* Takes an idle connection, or opens one while under the pool's size (plus
 * CONTROL_EXTRA for control work), or waits up to POOL_WAIT_S for one.
 * NULL (with err) on failure. */
static PGconn *
pool_get(struct pg *pg, int control, char *err, size_t errlen)
{
	struct timespec until;
	PGconn *conn = NULL;
	int max = pg->max + (control ? CONTROL_EXTRA : 0);

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += POOL_WAIT_S;
	pthread_mutex_lock(&pg->lock);
	while (pg->nidle == 0 && pg->total >= max) {
		if (pthread_cond_timedwait(&pg->cv, &pg->lock, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&pg->lock);
			snprintf(err, errlen, "all %d database connections busy", max);
			return NULL;
		}
	}
	if (pg->nidle > 0) {
		conn = pg->idle[--pg->nidle];
		pthread_mutex_unlock(&pg->lock);
		return conn;
	}
	pg->total++;
	pthread_mutex_unlock(&pg->lock);
	conn = pg_connect(pg);
	if (conn_broken(conn)) {
		pg_error(conn, NULL, err, errlen);
		PQfinish(conn);
		pthread_mutex_lock(&pg->lock);
		pg->total--;
		pthread_cond_signal(&pg->cv);
		pthread_mutex_unlock(&pg->lock);
		return NULL;
	}
	return conn;
}

/*
 * Gives a connection back; a broken one, or one still in a transaction, is
 * closed.  dirty: client SQL ran on it, so session state it may have set
 * (SET, advisory locks, cursors WITH HOLD, LISTEN...) is discarded first:
 * it must not leak into the next branch.
 */
static void
pool_put(struct pg *pg, PGconn *conn, int dirty)
{
	int keep = !conn_broken(conn) && PQtransactionStatus(conn) == PQTRANS_IDLE;

	if (keep && dirty) {
		PGresult *res = PQexec(conn, "DISCARD ALL");

		keep = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
	}
	pthread_mutex_lock(&pg->lock);
	if (!keep || pg->nidle == pg->max) {
		PQfinish(conn);
		pg->total--;
	} else {
		pg->idle[pg->nidle++] = conn;
	}
	pthread_cond_signal(&pg->cv);
	pthread_mutex_unlock(&pg->lock);
}

/* A pooled connection failed before the server answered anything: a
 * server restart, most often, which killed the idle ones too.  They all
 * go, so that a retry, and the next branches, open fresh connections
 * instead of failing on each dead one in turn. */
static void
pool_drop_idle(struct pg *pg)
{
	PGconn **stale;
	int n;

	pthread_mutex_lock(&pg->lock);
	n = pg->nidle;
	stale = n > 0 ? malloc((size_t)n * sizeof(*stale)) : NULL;
	if (stale != NULL) {
		memcpy(stale, pg->idle, (size_t)n * sizeof(*stale));
		pg->nidle = 0;
		pg->total -= n;
		pthread_cond_broadcast(&pg->cv);
	} else {
		n = 0;
	}
	pthread_mutex_unlock(&pg->lock);
	for (int i = 0; i < n; i++) {
		PQfinish(stale[i]);
	}
	free(stale);
	if (n > 0) {
		log_info("database connection lost; %d idle connection(s) dropped", n);
	}
}

/* What a failed result means: TRANSIENT (shutdown, lost connection, or no
 * SQLSTATE to tell), NOT_FOUND (no such prepared transaction), or FAILED. */
static enum branch_result
failure_kind(PGconn *conn, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (conn_broken(conn) || state == NULL || strncmp(state, "57", 2) == 0 ||
	    strncmp(state, "08", 2) == 0) {
		return BRES_TRANSIENT;
	}
	return strcmp(state, "42704") == 0 ? BRES_NOT_FOUND : BRES_FAILED;
}

/* Runs a command with no result rows.  Maps the outcome. */
static enum branch_result
command(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	enum branch_result r = BRES_OK;

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		pg_error(conn, res, err, errlen);
		log_debug("database command failed sql=\"%.60s\" sqlstate=%s error=\"%s\"", sql,
		    state ? state : "none", err);
		r = failure_kind(conn, res);
	}
	PQclear(res);
	return r;
}

/* One statement of a pipeline, and what became of it. */
struct pstmt {
	const char *sql;
	int nparams;
	const char *const *params;
	int sync_after; /* a Sync follows it (always after the last) */
	ExecStatusType st; /* out */
	long tuples;       /* out: rows affected */
	size_t bytes;      /* out: size of the rows returned */
	enum branch_result r; /* out: BRES_OK, or as failure_kind (TRANSIENT: no answer) */
	char sqlstate[6];  /* out: its SQLSTATE when it failed, else "" */
	char *err;         /* if set: 256 bytes for its own error */
};

/*
 * libpq pipeline mode: n statements sent at once, one round trip.  Each
 * segment ending in a Sync succeeds or fails on its own, so that DISCARD
 * ALL, which refuses a transaction block, may have one.  s[i].st, .tuples
 * and .bytes receive each statement's outcome, err the first failure and
 * *failed its index (-1: none).  Returns BRES_OK when every statement
 * succeeded, BRES_TRANSIENT when the connection failed, else BRES_FAILED
 * (BRES_NOT_FOUND for a prepared gid that does not exist, as command()).
 */
static enum branch_result
pipeline(PGconn *conn, struct pstmt *s, int n, int *failed, char *err, size_t errlen)
{
	enum branch_result r = BRES_OK;
	int sent = 0;

	*failed = -1;
	for (int i = 0; i < n; i++) {
		s[i].st = PGRES_FATAL_ERROR;
		s[i].tuples = 0;
		s[i].bytes = 0;
		s[i].r = BRES_TRANSIENT;
		s[i].sqlstate[0] = '\0';
		if (s[i].err != NULL) {
			snprintf(s[i].err, 256, "no answer from the database");
		}
	}
	if (PQenterPipelineMode(conn) != 1) {
		pg_error(conn, NULL, err, errlen);
		*failed = 0;
		return BRES_TRANSIENT;
	}
	for (int i = 0; i < n; i++) {
		int sync = s[i].sync_after || i == n - 1;

		if (PQsendQueryParams(conn, s[i].sql, s[i].nparams, NULL, s[i].params, NULL, NULL,
		        0) != 1 ||
		    (sync && PQpipelineSync(conn) != 1)) {
			/* What was sent may have run (even PREPARE TRANSACTION:
			 * a Sync only ends the segment), but its results may
			 * never be flushed to us: no reading.  Still in pipeline
			 * mode, the connection is not idle, and pool_put closes
			 * it; every statement counts as unanswered. */
			pg_error(conn, NULL, err, errlen);
			*failed = 0;
			return BRES_TRANSIENT;
		}
		sent++;
	}
	for (int i = 0; i < sent; i++) {
		PGresult *res = PQgetResult(conn);

		if (res == NULL) {
			if (r == BRES_OK) {
				pg_error(conn, NULL, err, errlen);
				*failed = i;
				r = BRES_TRANSIENT;
			}
			break; /* the connection is gone */
		}
		s[i].st = PQresultStatus(res);
		s[i].tuples = strtol(PQcmdTuples(res), NULL, 10);
		if (s[i].st == PGRES_TUPLES_OK) {
			for (int row = 0; row < PQntuples(res); row++) {
				for (int col = 0; col < PQnfields(res); col++) {
					s[i].bytes += (size_t)PQgetlength(res, row, col) + 4;
				}
			}
		}
		s[i].r = s[i].st == PGRES_COMMAND_OK || s[i].st == PGRES_TUPLES_OK
		             ? BRES_OK : failure_kind(conn, res);
		if (s[i].r != BRES_OK && PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL) {
			snprintf(s[i].sqlstate, sizeof(s[i].sqlstate), "%s",
			    PQresultErrorField(res, PG_DIAG_SQLSTATE));
		}
		if (s[i].err != NULL) {
			s[i].err[0] = '\0';
			if (s[i].r != BRES_OK) {
				pg_error(conn, res, s[i].err, 256);
			}
		}
		if (s[i].r != BRES_OK && r == BRES_OK) {
			pg_error(conn, res, err, errlen);
			*failed = i;
			r = s[i].r;
		}
		PQclear(res);
		PQclear(PQgetResult(conn)); /* the NULL that ends each statement */
		if (s[i].sync_after || i == n - 1) {
			PQclear(PQgetResult(conn)); /* its Sync */
		}
	}
	if (PQexitPipelineMode(conn) != 1 && r == BRES_OK) {
		pg_error(conn, NULL, err, errlen);
		*failed = n - 1;
		r = BRES_TRANSIENT;
	}
	return r;
}

/* The marker table is there (1), with its fenced column (2): no DDL (nor
 * the privilege for it) needed; 0: no table. */
static int
markers_exist(PGconn *conn)
{
	PGresult *res = PQexec(conn, "SELECT to_regclass('xact.markers') IS NOT NULL, "
	                             "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
	                             "to_regclass('xact.markers') AND attname = 'fenced' AND "
	                             "NOT attisdropped)");
	int n = 0;

	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		n = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 1 + (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		                                            : 0;
	}
	PQclear(res);
	return n;
}

/*
 * Adds the fenced column to a markers table made before one-phase commit.
 * The ALTER needs the table's exclusive lock, which every branch prepared
 * with a marker holds: it waits a second at most, and until it succeeds
 * (retried by maintain) the agent prepares where one phase was asked.
 */
static void
add_fence_column(struct pg *pg, PGconn *conn)
{
	char why[512];

	if (markers_exist(conn) == 2) { /* added by its owner meanwhile */
		atomic_store(&pg->fences, 1);
		log_info("xact.markers: fenced column found; one-phase commit enabled");
		return;
	}
	/* (a waiting ALTER queues the branches' marker INSERTs behind it) */
	if (command(conn, "SET lock_timeout = '200ms'", why, sizeof(why)) == BRES_OK &&
	    command(conn, "ALTER TABLE xact.markers ADD COLUMN IF NOT EXISTS fenced boolean "
	                  "NOT NULL DEFAULT false", why, sizeof(why)) == BRES_OK) {
		atomic_store(&pg->fences, 1);
		log_info("xact.markers: fenced column added; one-phase commit enabled");
	} else if (!atomic_load(&pg->fences)) {
		log_warn("xact.markers has no fenced column and it cannot be added now (%s): "
		         "branches asked to commit in one phase are prepared instead; retried "
		         "every minute", why);
	}
	command(conn, "RESET lock_timeout", why, sizeof(why));
}

static int
pg_open(void **out, const struct part_config *cfg, char *err, size_t errlen)
{
	struct pg *pg = calloc(1, sizeof(*pg));
	PGconn *conn;
	PGresult *res;
	long mpt;
	char why[512];

	*out = NULL;
	if (pg == NULL || (pg->conninfo = strdup(cfg->conninfo)) == NULL ||
	    (pg->idle = calloc((size_t)cfg->pool_size + 1, sizeof(PGconn *))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	pg->max = cfg->pool_size;
	pg->marker_retention_s = cfg->marker_retention_ms / 1000;
	pg->max_message = (size_t)cfg->max_message;
	snprintf(pg->options, sizeof(pg->options), "-c statement_timeout=%ld -c lock_timeout=%ld",
	    cfg->statement_timeout_ms, cfg->statement_timeout_ms);
	pthread_mutex_init(&pg->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pg->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((conn = pool_get(pg, 1, err, errlen)) == NULL) {
		char why[512];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s", why);
		goto fail;
	}
	res = PQexec(conn, "SELECT current_setting('max_prepared_transactions')::int");
	mpt = PQresultStatus(res) == PGRES_TUPLES_OK ? atol(PQgetvalue(res, 0, 0)) : -1;
	PQclear(res);
	if (mpt > 0 && markers_exist(conn) == 0 &&
	    command(conn, pgmarkers_schema_sql, why, sizeof(why)) != BRES_OK &&
	    command(conn, pgmarkers_schema_sql, why, sizeof(why)) != BRES_OK) {
		/* (tried twice: two agents creating the schema at once race) */
		snprintf(err, errlen, "cannot create the xact.markers table: %s", why);
		pool_put(pg, conn, 0);
		goto fail;
	}
	if (mpt > 0) {
		add_fence_column(pg, conn); /* (finds the column there, mostly) */
	}
	pool_put(pg, conn, 0);
	if (mpt <= 0) {
		snprintf(err, errlen, mpt == 0
		    ? "PostgreSQL has max_prepared_transactions = 0: prepared transactions "
		      "are disabled; set it above 0 in postgresql.conf and restart the server"
		    : "cannot read max_prepared_transactions from PostgreSQL");
		goto fail;
	}
	*out = pg;
	return XACT_OK;
fail:
	if (pg != NULL) {
		for (int i = 0; i < pg->nidle; i++) {
			PQfinish(pg->idle[i]);
		}
		free(pg->idle);
		free(pg->conninfo);
		free(pg);
	}
	return XACT_EDB;
}

static void
pg_close(void *be)
{
	struct pg *pg = be;

	for (int i = 0; i < pg->nidle; i++) {
		PQfinish(pg->idle[i]);
	}
	free(pg->idle);
	free(pg->conninfo);
	pthread_mutex_destroy(&pg->lock);
	pthread_cond_destroy(&pg->cv);
	free(pg);
}

static enum branch_result
pg_begin(void *be, void **out, char *err, size_t errlen)
{
	struct pg *pg = be;
	PGconn *conn;
	enum branch_result r;

	/* A pooled connection may have died while idle (server restart):
	 * one retry on a fresh connection. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((conn = pool_get(pg, 0, err, errlen)) == NULL) {
			return BRES_TRANSIENT;
		}
		if ((r = command(conn, "BEGIN", err, errlen)) == BRES_OK) {
			*out = conn;
			return BRES_OK;
		}
		pool_put(pg, conn, 0);
		if (r == BRES_TRANSIENT) {
			pool_drop_idle(pg);
		}
	}
	return r;
}

/* Copies a PGresult's rows into a reply. */
static nng_msg *
rows_result(struct pg *pg, PGresult *res)
{
	int nc = PQnfields(res), nr = PQntuples(res);
	struct result *r = result_new((size_t)nc);

	if (r == NULL) {
		return NULL;
	}
	for (int j = 0; j < nc; j++) {
		if (result_set_column(r, (size_t)j, PQfname(res, j)) != 0) {
			goto nomem;
		}
	}
	for (int i = 0; i < nr; i++) {
		if (result_add_row(r) != 0) {
			goto nomem;
		}
		for (int j = 0; j < nc; j++) {
			if (!PQgetisnull(res, i, j) &&
			    result_set_value(r, (size_t)j, PQgetvalue(res, i, j),
			        (size_t)PQgetlength(res, i, j)) != 0) {
				goto nomem;
			}
		}
	}
	result_set_affected(r, strtoull(PQcmdTuples(res), NULL, 10));
	return result_finish(r, pg->max_message);
nomem:
	result_free(r);
	return result_error("out of memory", NULL);
}

/* A statement's parameters as libpq takes them, into values[] (malloc'd
 * copies, NULL for SQL NULL).  0, or -1 (a NUL byte, or no memory). */
static int
param_values(const Xact__Statement *st, char **values)
{
	for (size_t i = 0; i < st->n_params; i++) {
		const Xact__Param *p = st->params[i];

		values[i] = NULL;
		if (p->has_value && (memchr(p->value.data, 0, p->value.len) != NULL ||
		                        (values[i] = strndup((const char *)p->value.data,
		                             p->value.len)) == NULL)) {
			return -1;
		}
	}
	return 0;
}

static enum branch_result
pg_exec(void *be, void *conn, const Xact__Statement *st, nng_msg **reply)
{
	struct pg *pg = be;
	char **values = calloc(st->n_params + 1, sizeof(char *));
	enum branch_result r = BRES_FAILED;
	PGresult *res = NULL;
	char err[1024];

	*reply = NULL;
	if (values == NULL) {
		*reply = result_error("out of memory", NULL);
		return BRES_FAILED;
	}
	if (param_values(st, values) != 0) {
		*reply = result_error("parameter holds a NUL byte or memory ran out", "22021");
		goto out;
	}
	res = PQexecParams(conn, st->sql, (int)st->n_params, NULL,
	    (const char *const *)values, NULL, NULL, 0);
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
			/* Something ended the transaction block: the branch's
			 * work can no longer be prepared as one unit. */
			*reply = result_error("the statement ended the branch's transaction", "25P01");
			r = BRES_FAILED;
			break;
		}
		*reply = rows_result(pg, res);
		r = BRES_OK;
		break;
	default:
		pg_error(conn, res, err, sizeof(err));
		*reply = result_error(err, PQresultErrorField(res, PG_DIAG_SQLSTATE));
		r = conn_broken(conn) ? BRES_TRANSIENT : BRES_FAILED;
		break;
	}
out:
	PQclear(res);
	for (size_t i = 0; i < st->n_params; i++) {
		free(values[i]);
	}
	free(values);
	return r;
}

#define MARKER_SQL                                                                   \
	"INSERT INTO xact.markers (gid, committed_at) SELECT $1, clock_timestamp() "     \
	"WHERE pg_current_xact_id_if_assigned() IS NOT NULL"

/*
 * The end of a pipelined vote: s[0..2] are the marker row, PREPARE
 * TRANSACTION and DISCARD ALL as pipeline() left them, r its result.
 * A branch that wrote gets a marker row; an INSERT of no row takes no
 * transaction id, so none means read only (PostgreSQL has no read-only
 * vote): the empty prepared transaction is committed at once.  Rolls back
 * what failed and gives the connection back.
 */
static enum branch_result
voted(struct pg *pg, PGconn *conn, const struct pstmt *s, enum branch_result r,
    const char *gid, char *err, size_t errlen)
{
	char commit[256], ignore[256];
	int clean = s[2].st == PGRES_COMMAND_OK;

	if (s[0].st == PGRES_COMMAND_OK && s[1].st == PGRES_COMMAND_OK) {
		r = BRES_OK; /* prepared (a failed DISCARD only costs the connection) */
		if (s[0].tuples == 0) {
			snprintf(commit, sizeof(commit), "COMMIT PREPARED '%s'", gid);
			r = command(conn, commit, err, errlen) == BRES_OK ? BRES_READ_ONLY : BRES_FAILED;
			pool_put(pg, conn, !clean);
			return r;
		}
	} else {
		if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
			command(conn, "ROLLBACK", ignore, sizeof(ignore));
		}
		clean = 0;
		r = r == BRES_TRANSIENT ? BRES_TRANSIENT : BRES_FAILED;
	}
	pool_put(pg, conn, !clean);
	/* Crash here: prepared in PostgreSQL, vote not sent.  At restart the
	 * agent re-attaches the branch; the coordinator, which saw no vote,
	 * aborts it. */
	XACT_FAILPOINT("pg.after_prepare");
	return r;
}

/* The marker row, PREPARE TRANSACTION and, in a segment of its own, the
 * DISCARD ALL that cleans the connection: s[0..2]. */
static void
vote_stmts(struct pstmt *s, const char *const *gidp, char *prep, size_t n, const char *gid)
{
	snprintf(prep, n, "PREPARE TRANSACTION '%s'", gid);
	s[0] = (struct pstmt){.sql = MARKER_SQL, .nparams = 1, .params = gidp};
	s[1] = (struct pstmt){.sql = prep, .sync_after = 1};
	s[2] = (struct pstmt){.sql = "DISCARD ALL", .sync_after = 1};
}

/* The marker row, COMMIT and DISCARD ALL: a one-phase commit's end. */
static void
commit_stmts(struct pstmt *s, const char *const *gidp)
{
	s[0] = (struct pstmt){.sql = MARKER_SQL, .nparams = 1, .params = gidp};
	s[1] = (struct pstmt){.sql = "COMMIT", .sync_after = 1};
	s[2] = (struct pstmt){.sql = "DISCARD ALL", .sync_after = 1};
}

static enum branch_result marker(struct pg *pg, PGconn *conn, const char *gid, char *err,
    size_t errlen);

/*
 * The end of a one-phase commit: s[0..2] as commit_stmts left them, r the
 * pipeline's result.  Committed with its marker (OK), or with none when it
 * wrote nothing (READ_ONLY).  A COMMIT that failed rolled back (FAILED);
 * one whose answer never came may have committed (TRANSIENT: the fence
 * tells).  A marker already there (unique violation) is an earlier run of
 * this very branch that committed (COMMITTED_ALREADY), or a fence (FAILED).
 * Gives the connection back.
 */
static enum branch_result
committed(struct pg *pg, PGconn *conn, const struct pstmt *s, enum branch_result r,
    const char *gid, char *err, size_t errlen)
{
	char ignore[256];
	int clean = s[2].st == PGRES_COMMAND_OK;

	if (s[0].st == PGRES_COMMAND_OK && s[1].st == PGRES_COMMAND_OK) {
		pool_put(pg, conn, !clean);
		return s[0].tuples == 0 ? BRES_READ_ONLY : BRES_OK;
	}
	/* COMMIT skipped (an earlier statement failed), or refused: rolled
	 * back.  Anything else, no answer included: it may have committed. */
	if (s[1].st != PGRES_PIPELINE_ABORTED &&
	    !(s[1].st == PGRES_FATAL_ERROR && s[1].r == BRES_FAILED)) {
		pool_put(pg, conn, 1);
		return BRES_TRANSIENT;
	}
	if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
		command(conn, "ROLLBACK", ignore, sizeof(ignore));
	}
	if (strcmp(s[0].sqlstate, "23505") == 0) {
		r = marker(pg, conn, gid, ignore, sizeof(ignore)); /* (a fence is no marker) */
		if (r == BRES_COMMITTED_ALREADY) {
			err[0] = '\0';
		} else {
			snprintf(err, errlen, "%s was fenced: its one-phase commit was given up", gid);
			r = r == BRES_TRANSIENT ? BRES_TRANSIENT : BRES_FAILED;
		}
	} else {
		r = BRES_FAILED;
	}
	pool_put(pg, conn, 1);
	return r;
}

/* One round trip: the marker and COMMIT on the branch's open transaction. */
static enum branch_result
pg_commit_one_phase(void *be, void *vconn, const char *gid, char *err, size_t errlen)
{
	const char *params[1] = {gid};
	struct pstmt s[3];
	int failed;
	enum branch_result r;

	commit_stmts(s, params);
	r = pipeline(vconn, s, 3, &failed, err, errlen);
	return committed(be, vconn, s, r, gid, err, errlen);
}

/*
 * Settles gid: its marker, or a fence in its place.  The INSERT waits for
 * a transaction that inserted the marker and is still on its way to
 * COMMIT (the agent that sent it may be gone), then finds its marker, or
 * inserts the fence, on which that COMMIT, should it come later, fails.
 * A branch of gid held prepared (a two-phase attempt whose vote was lost)
 * would hold its marker's lock for good: it is rolled back first, as
 * presumed abort would (the coordinator asking in one phase decided no
 * commit of it).
 */
static enum branch_result finish_prepared(struct pg *pg, const char *verb, const char *gid,
    char *err, size_t errlen);

static enum branch_result
pg_fence(void *be, const char *gid, char *err, size_t errlen)
{
	struct pg *pg = be;
	const char *params[1] = {gid};
	PGconn *conn;
	PGresult *res;
	enum branch_result r = finish_prepared(pg, "ROLLBACK PREPARED", gid, err, errlen);
	int held = r == BRES_OK;

	if (held) {
		log_info("fence gid=%s: its branch was held prepared; rolled back", gid);
	} else if (r != BRES_NOT_FOUND) {
		return r; /* its marker (committed), or not settled now */
	}
	if ((conn = pool_get(pg, 1, err, errlen)) == NULL) {
		return BRES_TRANSIENT;
	}
	err[0] = '\0';
	res = PQexecParams(conn, "INSERT INTO xact.markers (gid, committed_at, fenced) "
	                         "VALUES ($1, clock_timestamp(), true) ON CONFLICT (gid) DO UPDATE "
	                         "SET fenced = xact.markers.fenced RETURNING fenced",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pg_error(conn, res, err, errlen);
		r = BRES_TRANSIENT;
	} else {
		r = strcmp(PQgetvalue(res, 0, 0), "f") == 0 ? BRES_COMMITTED_ALREADY : BRES_NOT_FOUND;
	}
	PQclear(res);
	pool_put(pg, conn, r == BRES_TRANSIENT);
	return held && r == BRES_NOT_FOUND ? BRES_OK : r; /* OK: it was, and is rolled back */
}

/* One round trip: the vote (vote_stmts) on the branch's open transaction. */
static enum branch_result
pg_prepare(void *be, void *vconn, const char *gid, char *err, size_t errlen)
{
	struct pg *pg = be;
	PGconn *conn = vconn;
	char prep[256], ignore[256];
	const char *params[1] = {gid};
	struct pstmt s[3];
	int failed;
	enum branch_result r;

	if (XACT_FAILPOINT("pg.before_prepare") != 0) {
		snprintf(err, errlen, "injected failure (pg.before_prepare)");
		command(conn, "ROLLBACK", ignore, sizeof(ignore));
		pool_put(pg, conn, 1);
		return BRES_FAILED;
	}
	vote_stmts(s, params, prep, sizeof(prep), gid);
	r = pipeline(conn, s, 3, &failed, err, errlen);
	return voted(pg, conn, s, r, gid, err, errlen);
}

/* The first of n statements whose rows would not fit one message (1-based),
 * or 0. */
static int
too_large(const struct pg *pg, const struct pstmt *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i].bytes + 64 > pg->max_message) {
			return (int)i + 1;
		}
	}
	return 0;
}

/*
 * A one-shot branch in one round trip: BEGIN, the statements, the marker
 * row and PREPARE TRANSACTION in one segment, DISCARD ALL in the next.  A
 * failing statement skips the rest of its segment; the transaction is then
 * rolled back.  A connection that failed before BEGIN answered (a pooled
 * one the server closed while idle) is tried once more on a fresh one: if
 * the first attempt did reach PREPARE TRANSACTION, the second finds the
 * gid in use and fails, and the vote is NO, which rolls the first back.
 */
static enum branch_result
pg_run(void *be, Xact__Statement *const *stmts, size_t n, const char *gid, int one_phase,
    char *err, size_t errlen)
{
	struct pg *pg = be;
	const char *gidp[1] = {gid};
	char prep[256], ***values;
	struct pstmt *s;
	enum branch_result r = BRES_FAILED;
	int failed = -1, big, m = (int)n + 4;
	char ignore[256];

	if (XACT_FAILPOINT("pg.before_prepare") != 0) {
		snprintf(err, errlen, "injected failure (pg.before_prepare)");
		return BRES_FAILED;
	}
	s = calloc((size_t)m, sizeof(*s));
	values = calloc(n + 1, sizeof(*values));
	if (s == NULL || values == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	s[0] = (struct pstmt){.sql = "BEGIN"};
	for (size_t i = 0; i < n; i++) {
		if ((values[i] = calloc(stmts[i]->n_params + 1, sizeof(char *))) == NULL ||
		    param_values(stmts[i], values[i]) != 0) {
			snprintf(err, errlen, "statement %zu: a parameter holds a NUL byte or memory "
			    "ran out", i + 1);
			goto out;
		}
		s[i + 1] = (struct pstmt){.sql = stmts[i]->sql, .nparams = (int)stmts[i]->n_params,
		    .params = (const char *const *)values[i]};
	}
	if (one_phase) {
		commit_stmts(s + n + 1, gidp);
	} else {
		vote_stmts(s + n + 1, gidp, prep, sizeof(prep), gid);
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		PGconn *conn = pool_get(pg, 0, err, errlen);

		if (conn == NULL) {
			r = BRES_TRANSIENT;
			break;
		}
		r = pipeline(conn, s, m, &failed, err, errlen);
		if (r == BRES_OK && !one_phase && (big = too_large(pg, s + 1, n)) > 0) {
			/* As a statement's own answer would be (result.c): the run
			 * fails, and what it prepared is rolled back. */
			snprintf(err, errlen, "result too large for one message");
			failed = big;
			r = BRES_FAILED;
			s[n + 2].st = PGRES_FATAL_ERROR; /* voted() takes it as not prepared */
			snprintf(prep, sizeof(prep), "ROLLBACK PREPARED '%s'", gid);
			if (command(conn, prep, ignore, sizeof(ignore)) != BRES_OK) {
				r = BRES_TRANSIENT; /* may still be prepared */
			}
		}
		if (failed > 0 && failed <= (int)n) {
			char why[768];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "statement %d: %s", failed, why);
		}
		r = one_phase ? committed(pg, conn, s + n + 1, r, gid, err, errlen)
		              : voted(pg, conn, s + n + 1, r, gid, err, errlen);
		if (!(r == BRES_TRANSIENT && s[0].st != PGRES_COMMAND_OK)) {
			break; /* (the retry: BEGIN never answered) */
		}
		pool_drop_idle(pg);
	}
out:
	for (size_t i = 0; values != NULL && i < n; i++) {
		for (size_t j = 0; values[i] != NULL && j < stmts[i]->n_params; j++) {
			free(values[i][j]);
		}
		free(values[i]);
	}
	free(values);
	free(s);
	return r;
}

static void
pg_rollback(void *be, void *conn)
{
	char ignore[256];

	command(conn, "ROLLBACK", ignore, sizeof(ignore));
	pool_put(be, conn, 1);
}

/* Answers for a gid the database holds no prepared transaction of:
 * BRES_COMMITTED_ALREADY when its marker is there, BRES_NOT_FOUND when
 * not, BRES_TRANSIENT when the question cannot be asked now. */
static enum branch_result
marker(struct pg *pg, PGconn *conn, const char *gid, char *err, size_t errlen)
{
	const char *params[1] = {gid};
	PGresult *res = PQexecParams(conn, atomic_load(&pg->fences)
	    ? "SELECT 1 FROM xact.markers WHERE gid = $1 AND NOT fenced"
	    : "SELECT 1 FROM xact.markers WHERE gid = $1", 1, NULL, params, NULL, NULL, 0);
	enum branch_result r;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_error(conn, res, err, errlen);
		r = BRES_TRANSIENT;
	} else {
		r = PQntuples(res) > 0 ? BRES_COMMITTED_ALREADY : BRES_NOT_FOUND;
	}
	PQclear(res);
	return r;
}

/* COMMIT PREPARED / ROLLBACK PREPARED on any pooled connection (outside a
 * transaction block, as PostgreSQL requires). */
static enum branch_result
finish_prepared(struct pg *pg, const char *verb, const char *gid, char *err, size_t errlen)
{
	PGconn *conn;
	enum branch_result r;
	char sql[256];

	if (!backend_gid_is_safe(gid)) {
		snprintf(err, errlen, "refusing unsafe gid");
		return BRES_FAILED;
	}
	if ((conn = pool_get(pg, 1, err, errlen)) == NULL) {
		return BRES_TRANSIENT;
	}
	snprintf(sql, sizeof(sql), "%s '%s'", verb, gid);
	r = command(conn, sql, err, errlen);
	if (r == BRES_NOT_FOUND) {
		/* Not prepared (any more): its marker tells whether it
		 * committed, here or earlier. */
		r = marker(pg, conn, gid, err, errlen);
	}
	pool_put(pg, conn, 0);
	return r;
}

static enum branch_result
pg_commit_prepared(void *be, const char *gid, char *err, size_t errlen)
{
	enum branch_result r;

	if (XACT_FAILPOINT("pg.before_commit_prepared") != 0) {
		snprintf(err, errlen, "injected failure (pg.before_commit_prepared)");
		return BRES_TRANSIENT;
	}
	r = finish_prepared(be, "COMMIT PREPARED", gid, err, errlen);
	if (r == BRES_COMMITTED_ALREADY) {
		r = BRES_OK; /* an earlier COMMIT did it: gpdb#8052 */
	}
	/* Crash here: committed in PostgreSQL, ack not sent.  The coordinator
	 * resends COMMIT; the gid is gone, which answers "committed". */
	XACT_FAILPOINT("pg.after_commit_prepared");
	return r;
}

/*
 * COMMIT PREPARED of n gids in one round trip, each in a segment of its own
 * (COMMIT PREPARED refuses a transaction block); a gid no longer prepared
 * is then answered from its marker, as finish_prepared does.  The
 * failpoints fire for each gid as in pg_commit_prepared.
 */
static void
pg_commit_many(void *be, struct backend_commit *c, size_t n)
{
	struct pg *pg = be;
	struct pstmt *s = calloc(n + 1, sizeof(*s));
	char (*sql)[256] = calloc(n + 1, sizeof(*sql));
	size_t *which = calloc(n + 1, sizeof(*which)), m = 0;
	char err[256];
	PGconn *conn = NULL;
	int failed;

	for (size_t i = 0; i < n; i++) {
		c[i].r = BRES_TRANSIENT;
		snprintf(c[i].err, sizeof(c[i].err), "out of memory");
	}
	if (s == NULL || sql == NULL || which == NULL) {
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		c[i].err[0] = '\0';
		if (XACT_FAILPOINT("pg.before_commit_prepared") != 0) {
			snprintf(c[i].err, sizeof(c[i].err), "injected failure (pg.before_commit_prepared)");
			continue;
		}
		if (!backend_gid_is_safe(c[i].gid)) {
			c[i].r = BRES_FAILED;
			snprintf(c[i].err, sizeof(c[i].err), "refusing unsafe gid");
			continue;
		}
		snprintf(sql[m], sizeof(sql[m]), "COMMIT PREPARED '%s'", c[i].gid);
		s[m] = (struct pstmt){.sql = sql[m], .sync_after = 1, .err = c[i].err};
		which[m++] = i;
	}
	if (m > 0 && (conn = pool_get(pg, 1, err, sizeof(err))) == NULL) {
		for (size_t k = 0; k < m; k++) {
			snprintf(c[which[k]].err, sizeof(c[which[k]].err), "%s", err);
		}
		goto out;
	}
	if (m > 0) {
		pipeline(conn, s, (int)m, &failed, err, sizeof(err));
	}
	for (size_t k = 0; k < m; k++) {
		struct backend_commit *b = &c[which[k]];

		b->r = s[k].r;
		if (b->r == BRES_NOT_FOUND) {
			/* Not prepared (any more): committed earlier if its
			 * marker is there (gpdb#8052), else rolled back. */
			b->r = marker(pg, conn, b->gid, b->err, sizeof(b->err));
			b->r = b->r == BRES_COMMITTED_ALREADY ? BRES_OK : b->r;
		}
	}
	if (conn != NULL) {
		pool_put(pg, conn, 0);
	}
	for (size_t k = 0; k < m; k++) {
		/* Crash here: committed, acks not sent (pg_commit_prepared). */
		XACT_FAILPOINT("pg.after_commit_prepared");
	}
out:
	free(s);
	free(sql);
	free(which);
}

static enum branch_result
pg_rollback_prepared(void *be, const char *gid, char *err, size_t errlen)
{
	enum branch_result r;

	if (XACT_FAILPOINT("pg.before_rollback_prepared") != 0) {
		snprintf(err, errlen, "injected failure (pg.before_rollback_prepared)");
		return BRES_TRANSIENT;
	}
	r = finish_prepared(be, "ROLLBACK PREPARED", gid, err, errlen);
	/* Crash here: rolled back, ack not sent; a repeated ABORT finds no
	 * prepared transaction and no marker: "not prepared here". */
	XACT_FAILPOINT("pg.after_rollback_prepared");
	return r;
}

static int
pg_list_prepared(void *be, const char *prefix, char ***gids, size_t *n, char *err,
    size_t errlen)
{
	struct pg *pg = be;
	const char *params[1] = {prefix};
	PGconn *conn;
	PGresult *res;
	int nr;

	*gids = NULL;
	*n = 0;
	if ((conn = pool_get(pg, 1, err, errlen)) == NULL) {
		return XACT_EDB;
	}
	res = PQexecParams(conn,
	    "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() "
	    "AND left(gid, length($1)) = $1 ORDER BY prepared", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_error(conn, res, err, errlen);
		PQclear(res);
		pool_put(pg, conn, 0);
		return XACT_EDB;
	}
	nr = PQntuples(res);
	if ((*gids = calloc((size_t)nr + 1, sizeof(char *))) == NULL) {
		PQclear(res);
		pool_put(pg, conn, 0);
		return XACT_ENOMEM;
	}
	for (int i = 0; i < nr; i++) {
		if (((*gids)[*n] = strdup(PQgetvalue(res, i, 0))) != NULL) {
			(*n)++;
		}
	}
	PQclear(res);
	pool_put(pg, conn, 0);
	return XACT_OK;
}

/* Markers outlive any COMMIT or ABORT the coordinator may still send
 * (it retries only while its journal keeps the decision). */
static void
pg_maintain(void *be)
{
	struct pg *pg = be;
	char err[256], sql[160];
	PGconn *conn = pool_get(pg, 1, err, sizeof(err));

	if (conn == NULL) {
		return;
	}
	snprintf(sql, sizeof(sql), "DELETE FROM xact.markers WHERE committed_at < now() - "
	                           "interval '%ld seconds'", pg->marker_retention_s);
	if (command(conn, sql, err, sizeof(err)) != BRES_OK) {
		log_warn("marker clean-up failed: %s", err);
	}
	if (!atomic_load(&pg->fences)) {
		add_fence_column(pg, conn);
	}
	pool_put(pg, conn, 0);
}

static int
pg_one_phase_ok(void *be)
{
	return atomic_load(&((struct pg *)be)->fences);
}

const struct backend_ops pgbackend_ops = {
	.name = "postgres",
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.exec = pg_exec,
	.prepare = pg_prepare,
	.commit_one_phase = pg_commit_one_phase,
	.fence = pg_fence,
	.run = pg_run,
	.rollback = pg_rollback,
	.commit_prepared = pg_commit_prepared,
	.commit_many = pg_commit_many,
	.rollback_prepared = pg_rollback_prepared,
	.list_prepared = pg_list_prepared,
	.maintain = pg_maintain,
	.one_phase_ok = pg_one_phase_ok,
};
