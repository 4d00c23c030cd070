/*
 * backend.h - the one interface between the agent and a local database.
 * A backend is reached only through its ops table.
 *
 * Every operation blocks (it talks to the database): call them from the
 * agent's worker threads only, never from an nng callback.  A connection
 * ("conn") belongs to one branch from begin until prepare or rollback,
 * which give it back to the backend.
 *
 * Results use enum branch_result: OK, READ_ONLY (prepare only), FAILED
 * (definite; the local work is rolled back), TRANSIENT (not done; may be
 * retried), NOT_FOUND (no such prepared gid).  err receives a readable
 * message, the database's own text where there is one.
 */
#ifndef XACT_BACKEND_H
#define XACT_BACKEND_H

#include "branch.h"
#include "xact.pb-c.h"

#include <nng/nng.h>
#include <stddef.h>

struct part_config;

/* One branch of commit_many: gid in, r and err out. */
struct backend_commit {
	const char *gid;
	enum branch_result r;
	char err[256];
};

struct backend_ops {
	const char *name;
	/* Connects and checks the database can hold prepared branches. */
	int (*open)(void **be, const struct part_config *cfg, char *err, size_t errlen);
	void (*close)(void *be);
	/* Takes a connection and opens a local transaction. */
	enum branch_result (*begin)(void *be, void **conn, char *err, size_t errlen);
	/* Runs one statement; *reply is a packed Reply{exec} carrying the rows
	 * or the database's error, owned by the caller. */
	enum branch_result (*exec)(void *be, void *conn, const Xact__Statement *st,
	    nng_msg **reply);
	/* Makes the branch's prepared state durable under gid, or commits a
	 * branch that wrote nothing (READ_ONLY).  Always gives conn back. */
	enum branch_result (*prepare)(void *be, void *conn, const char *gid,
	    char *err, size_t errlen);
	/* One-phase commit of the only branch of a transaction: commits the
	 * open transaction with its marker row under gid (READ_ONLY, no
	 * marker, when it wrote nothing).  OK: committed; FAILED: rolled back;
	 * TRANSIENT: the outcome is unknown (the connection died around the
	 * COMMIT) and fence() will tell.  Always gives conn back. */
	enum branch_result (*commit_one_phase)(void *be, void *conn, const char *gid,
	    char *err, size_t errlen);
	/* Optional (NULL: rollback_prepared does, for a backend where no
	 * commit can be on its way once the agent has let go of it): settles
	 * the outcome of a one-phase commit whose result was lost.
	 * COMMITTED_ALREADY when gid's marker is there; NOT_FOUND when not,
	 * and then a commit of gid still on its way can never succeed;
	 * TRANSIENT when it cannot tell now. */
	enum branch_result (*fence)(void *be, const char *gid, char *err, size_t errlen);
	/* Optional (NULL: the agent calls begin, exec for each, then
	 * prepare or commit_one_phase): a one-shot branch at once, with a
	 * connection of its own: BEGIN, the n statements, and the prepare
	 * under gid (one_phase: the commit), results as prepare's (as
	 * commit_one_phase's, COMMITTED_ALREADY when an earlier run of gid
	 * committed).  FAILED when a statement failed ("statement K: ..." in
	 * err) or, two-phase, a result would not fit a message, nothing then
	 * prepared; TRANSIENT when it may be.  No rows are returned. */
	enum branch_result (*run)(void *be, Xact__Statement *const *stmts, size_t n,
	    const char *gid, int one_phase, char *err, size_t errlen);
	/* Rolls back the open transaction; gives conn back. */
	void (*rollback)(void *be, void *conn);
	enum branch_result (*commit_prepared)(void *be, const char *gid, char *err, size_t errlen);
	/* Optional (NULL: commit_prepared for each): commit_prepared of the
	 * n gids at once (one round trip), each result and error into its
	 * own struct backend_commit, as commit_prepared would give them. */
	void (*commit_many)(void *be, struct backend_commit *c, size_t n);
	enum branch_result (*rollback_prepared)(void *be, const char *gid, char *err, size_t errlen);
	/* The gids of prepared branches starting with prefix; *gids is an
	 * array of *n malloc'd strings, freed by the caller. */
	int (*list_prepared)(void *be, const char *prefix, char ***gids, size_t *n,
	    char *err, size_t errlen);
	/* Optional (NULL): periodic clean-up, called about once a minute. */
	void (*maintain)(void *be);
	/* Optional (NULL: always): 1 when commit_one_phase, fence and run's
	 * one_phase may be used; 0 while they are not safe (PostgreSQL: the
	 * marker table has no fenced column yet).  The agent then prepares a
	 * branch asked to commit in one phase, and votes as for a PREPARE;
	 * the coordinator goes on in two phases. */
	int (*one_phase_ok)(void *be);
};

extern const struct backend_ops pgbackend_ops;
extern const struct backend_ops sqlitebackend_ops;
extern const struct backend_ops noopbackend_ops;

/* A gid is interpolated into SQL (PREPARE TRANSACTION takes no parameter):
 * only "xact:" followed by [A-Za-z0-9_:-], under 200 bytes, is accepted.
 * (The agent itself takes global gids under 64 bytes only.) */
int backend_gid_is_safe(const char *gid);

#endif
