/* sqlutil.c - see sqlutil.h. */
#include "sqlutil.h"

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
sqlx_run(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

char *
sqlx_text(sqlite3 *db, const char *sql, const char *param)
{
	sqlite3_stmt *st;
	char *out = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		return NULL;
	}
	if (param != NULL) {
		sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
	}
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL) {
		out = strdup((const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return out;
}

int
sqlx_fsync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd, rv = -1;

	if (copy == NULL) {
		return -1;
	}
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY)) >= 0) {
		rv = fsync(fd);
		close(fd);
	}
	free(copy);
	return rv;
}

/* Sets and reads back WAL and synchronous=FULL: refuses anything weaker. */
int
sqlx_durable(sqlite3 *db, char *err, size_t errlen)
{
	char *mode, *sync;
	int rv = 0;

	if (sqlx_run(db, "PRAGMA synchronous=FULL", err, errlen) != 0) {
		return -1;
	}
	mode = sqlx_text(db, "PRAGMA journal_mode=WAL", NULL);
	sync = sqlx_text(db, "PRAGMA synchronous", NULL);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		snprintf(err, errlen, "journal_mode reads back '%s', not 'wal'",
		    mode ? mode : "?");
		rv = -1;
	} else if (sync == NULL || (atoi(sync) != 2 && atoi(sync) != 3)) {
		snprintf(err, errlen, "synchronous reads back %s, not FULL or EXTRA",
		    sync ? sync : "?");
		rv = -1;
	}
	free(mode);
	free(sync);
	return rv;
}
