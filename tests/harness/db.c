/*
 * db.c - the harness's databases: throwaway PostgreSQL clusters in the
 * state folder (DIR/pg-NAME, initdb and pg_ctl run as `postgres` when the
 * harness runs as root, since PostgreSQL refuses root), and SQL on
 * PostgreSQL (libpq) and SQLite databases for set-up and checks.  Stops a
 * cluster only by its data folder in the state folder.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The newest PostgreSQL under /usr/lib/postgresql, or $XACT_PGBIN. */
static const char *
pgbin(void)
{
	static char best[H_PATH];
	const char *env = getenv("XACT_PGBIN");
	DIR *d;
	struct dirent *e;
	long top = -1;

	if (env != NULL && *env != '\0') {
		return env;
	}
	if (best[0] != '\0') {
		return best;
	}
	d = opendir("/usr/lib/postgresql");
	if (d == NULL) {
		return "/usr/lib/postgresql/15/bin";
	}
	while ((e = readdir(d)) != NULL) {
		long v = strtol(e->d_name, NULL, 10);

		if (v > top) {
			top = v;
			snprintf(best, sizeof(best), "/usr/lib/postgresql/%ld/bin", v);
		}
	}
	closedir(d);
	return best[0] != '\0' ? best : "/usr/lib/postgresql/15/bin";
}

/* Runs a PostgreSQL tool with args (NULL-terminated, at most 10) as
 * `postgres` when we are root; output to log.  Its exit status, or -1. */
static int
pg_tool(const char *log, const char *tool, const char *const args[])
{
	char path[H_PATH + 32];
	char *argv[16];
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", pgbin(), tool);
	if (geteuid() == 0) {
		argv[n++] = "runuser";
		argv[n++] = "-u";
		argv[n++] = "postgres";
		argv[n++] = "--";
	}
	argv[n++] = path;
	for (int i = 0; args[i] != NULL && n < 15; i++) {
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	return proc_run(argv, log);
}

static void
cluster_dir(char *buf, size_t n, const char *dir, const char *name)
{
	snprintf(buf, n, "%s/pg-%s", dir, name);
}

/* Prints the last lines of a log to stderr, for a tool that failed. */
static void
show_tail(const char *path)
{
	char *argv[] = {"tail", "-n", "15", (char *)path, NULL};

	proc_run(argv, NULL);
}

int
db_cluster_up(const struct scenario *sc, const struct sc_cluster *c, char *err, size_t errlen)
{
	char dir[H_PATH + 64], log[H_PATH + 96], opts[H_PATH + H_TEXT * 2], *s, *save;
	char settings[H_TEXT], ctl[H_PATH + 96];
	struct passwd *pw = getpwnam("postgres");

	cluster_dir(dir, sizeof(dir), sc->dir, c->name);
	snprintf(log, sizeof(log), "%s/initdb-%s.log", sc->dir, c->name);
	if (mkdir(dir, 0700) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && (pw == NULL || chown(dir, pw->pw_uid, pw->pw_gid) != 0)) {
		snprintf(err, errlen, "%s: cannot hand it to the postgres user (PostgreSQL refuses "
		    "to run as root)", dir);
		return -1;
	}
	if (pg_tool(log, "initdb", (const char *[]){"-D", dir, "-U", "postgres", "--auth=trust",
	                               "--no-sync", "-E", "UTF8", NULL}) != 0) {
		show_tail(log);
		snprintf(err, errlen, "initdb of cluster %s failed (log: %s)", c->name, log);
		return -1;
	}
	snprintf(opts, sizeof(opts), "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=%s "
	    "-c max_connections=300 -c max_prepared_transactions=300", c->port, dir,
	    c->fsync ? "on" : "off");
	snprintf(settings, sizeof(settings), "%s", c->settings);
	for (s = strtok_r(settings, ",", &save); s != NULL; s = strtok_r(NULL, ",", &save)) {
		s += strspn(s, " \t");
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), " -c %s", s);
	}
	snprintf(log, sizeof(log), "%s/server.log", dir);
	snprintf(ctl, sizeof(ctl), "%s/pg_ctl-%s.log", sc->dir, c->name);
	if (pg_tool(ctl, "pg_ctl",
	        (const char *[]){"-D", dir, "-l", log, "-o", opts, "-w", "start", NULL}) != 0) {
		show_tail(ctl);
		show_tail(log);
		snprintf(err, errlen, "PostgreSQL cluster %s did not start (log: %s)", c->name, log);
		return -1;
	}
	return 0;
}

int
db_cluster_stop(const char *dir, const char *name)
{
	char d[H_PATH + 64], pidf[H_PATH + 96];

	cluster_dir(d, sizeof(d), dir, name);
	snprintf(pidf, sizeof(pidf), "%s/postmaster.pid", d);
	if (access(pidf, F_OK) != 0) {
		return 0; /* not running */
	}
	return pg_tool("/dev/null", "pg_ctl",
	           (const char *[]){"-D", d, "-m", "immediate", "-w", "stop", NULL}) == 0 ? 0 : -1;
}

int
db_cluster_restart(const char *dir, const char *name, char *err, size_t errlen)
{
	char d[H_PATH + 64];

	cluster_dir(d, sizeof(d), dir, name);
	if (pg_tool("/dev/null", "pg_ctl",
	        (const char *[]){"-D", d, "-m", "immediate", "-w", "restart", NULL}) != 0) {
		snprintf(err, errlen, "PostgreSQL cluster %s did not restart (log: %s/server.log)",
		    name, d);
		return -1;
	}
	return 0;
}

void
db_conninfo(const struct scenario *sc, const struct sc_database *d, char *buf, size_t n)
{
	const struct sc_cluster *c = sc_cluster(sc, d->cluster);

	snprintf(buf, n, "host=127.0.0.1 port=%d dbname=%s user=postgres connect_timeout=5",
	    c != NULL ? c->port : 0, d->dbname);
}

struct rows {
	void (*row)(void *arg, const char *value);
	void *arg;
};

/* PostgreSQL: runs sql (several statements allowed) on conninfo. */
static int
pg_each(const char *conninfo, const char *sql, struct rows *rw, char *err, size_t errlen)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;
	int rc = 0;

	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect (%s): %s", conninfo, PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		for (int i = 0; i < PQntuples(r) && rw != NULL; i++) {
			rw->row(rw->arg, PQgetisnull(r, i, 0) ? "" : PQgetvalue(r, i, 0));
		}
	} else if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_EMPTY_QUERY) {
		snprintf(err, errlen, "%s", PQerrorMessage(c));
		err[strcspn(err, "\n")] = '\0';
		rc = -1;
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}

static int
sqlite_row(void *arg, int ncol, char **vals, char **names)
{
	struct rows *rw = arg;

	(void)names;
	if (rw != NULL && ncol > 0) {
		rw->row(rw->arg, vals[0] != NULL ? vals[0] : "");
	}
	return 0;
}

/* SQLite: runs sql on file; creates it only when create is set. */
static int
sqlite_each(const char *file, int create, const char *sql, struct rows *rw, char *err,
    size_t errlen)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);

	if (sqlite3_open_v2(file, &db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", file, db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, sql, sqlite_row, rw, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", file, msg != NULL ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		sqlite3_close(db);
		return -1;
	}
	sqlite3_close(db);
	return 0;
}

int
db_each(const struct scenario *sc, const struct sc_database *d, const char *sql,
    void (*row)(void *arg, const char *value), void *arg, char *err, size_t errlen)
{
	struct rows rw = {row, arg};
	char ci[512];

	if (d->kind == DB_SQLITE) {
		return sqlite_each(d->file, 0, sql, &rw, err, errlen);
	}
	db_conninfo(sc, d, ci, sizeof(ci));
	return pg_each(ci, sql, &rw, err, errlen);
}

static void
keep_first(void *arg, const char *value)
{
	char **out = arg;

	if (*out == NULL) {
		*out = strdup(value);
	}
}

int
db_query(const struct scenario *sc, const struct sc_database *d, const char *sql, char **out,
    char *err, size_t errlen)
{
	char *first = NULL;

	if (db_each(sc, d, sql, keep_first, &first, err, errlen) != 0) {
		free(first);
		return -1;
	}
	if (out != NULL) {
		*out = first != NULL ? first : strdup("");
		if (*out == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	} else {
		free(first);
	}
	return 0;
}

long
db_prepared(const struct scenario *sc, const struct sc_database *d, char *err, size_t errlen)
{
	char log[H_PATH + 16], *v = NULL;
	long n;

	if (d->kind == DB_SQLITE) {
		struct rows rw = {keep_first, &v};

		snprintf(log, sizeof(log), "%s-xact-log", d->file);
		if (access(log, F_OK) != 0) {
			return 0; /* no agent has served it yet */
		}
		if (sqlite_each(log, 0, "SELECT count(*) FROM branches", &rw, err, errlen) != 0) {
			return -1;
		}
	} else if (db_query(sc, d, "SELECT count(*) FROM pg_prepared_xacts "
	                           "WHERE database = current_database()", &v, err, errlen) != 0) {
		return -1;
	}
	n = v != NULL ? strtol(v, NULL, 10) : 0;
	free(v);
	return n;
}

/* Reads a whole SQL file; NULL with err. */
static char *
slurp(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (cap - n < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "out of memory");
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static int
run_file(const struct scenario *sc, const struct sc_database *d, const char *path, char *err,
    size_t errlen)
{
	char why[512];
	char *sql;
	int rc;

	if (path[0] == '\0') {
		return 0;
	}
	sql = slurp(path, err, errlen);
	if (sql == NULL) {
		return -1;
	}
	rc = db_query(sc, d, sql, NULL, why, sizeof(why));
	if (rc != 0) {
		snprintf(err, errlen, "database %s: %s: %s", d->name, path, why);
	}
	free(sql);
	return rc;
}

/* The bank tables: accounts 0..N-1 with the seed balance, and a ledger
 * whose CHECK constraint is what the workload's failing transfers break. */
static int
bank_tables(const struct scenario *sc, const struct sc_database *d, char *err, size_t errlen)
{
	char sql[1024], why[512];

	snprintf(sql, sizeof(sql),
	    "CREATE TABLE accounts (id %s PRIMARY KEY, balance %s NOT NULL);"
	    "CREATE TABLE ledger (xfer %s PRIMARY KEY, amount %s NOT NULL "
	    "CONSTRAINT ledger_amount_check CHECK (amount > 0));"
	    "WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x < %d) "
	    "INSERT INTO accounts SELECT x, %ld FROM g;",
	    d->kind == DB_SQLITE ? "INTEGER" : "int", d->kind == DB_SQLITE ? "INTEGER" : "bigint",
	    d->kind == DB_SQLITE ? "INTEGER" : "bigint", d->kind == DB_SQLITE ? "INTEGER" : "bigint",
	    sc->wl.accounts - 1, sc->wl.balance);
	if (db_query(sc, d, sql, NULL, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "database %s: bank tables: %s", d->name, why);
		return -1;
	}
	return 0;
}

int
db_create(const struct scenario *sc, const struct sc_database *d, char *err, size_t errlen)
{
	char ci[512], sql[256], why[512];

	if (d->kind == DB_SQLITE) {
		if (access(d->file, F_OK) == 0) {
			snprintf(err, errlen, "database %s: %s exists; the harness creates its SQLite "
			    "files and never overwrites one", d->name, d->file);
			return -1;
		}
		if (sqlite_each(d->file, 1, "PRAGMA user_version", NULL, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "database %s: %s", d->name, why);
			return -1;
		}
	} else {
		struct sc_database pg = *d;

		snprintf(pg.dbname, sizeof(pg.dbname), "postgres");
		db_conninfo(sc, &pg, ci, sizeof(ci));
		snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", d->dbname);
		if (pg_each(ci, sql, NULL, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "database %s: %s", d->name, why);
			return -1;
		}
	}
	if (d->bank && bank_tables(sc, d, err, errlen) != 0) {
		return -1;
	}
	if (run_file(sc, d, d->schema, err, errlen) != 0 || run_file(sc, d, d->seed, err, errlen) != 0) {
		return -1;
	}
	return 0;
}
