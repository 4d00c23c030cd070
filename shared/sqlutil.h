/*
 * sqlutil.h - the few SQLite and file helpers that the coordinator's journal
 * and the SQLite participant's side log share.  They block (file I/O).
 */
#ifndef XACT_SQLUTIL_H
#define XACT_SQLUTIL_H

#include <sqlite3.h>
#include <stddef.h>

/* Runs SQL that returns no rows.  0, or -1 with SQLite's message in err. */
int sqlx_run(sqlite3 *db, const char *sql, char *err, size_t errlen);

/* The first column of the first row as a malloc'd string, with an optional
 * text parameter; NULL when there is no row, the value is NULL, or on error. */
char *sqlx_text(sqlite3 *db, const char *sql, const char *param);

/* Sets WAL and synchronous=FULL on db's connection and reads both back.
 * 0, or -1 with why in err: anything weaker is refused. */
int sqlx_durable(sqlite3 *db, char *err, size_t errlen);

/* fsyncs the folder holding path: SQLite does not sync the folder of a
 * database file it creates.  0, or -1 (errno set). */
int sqlx_fsync_parent(const char *path);

#endif
