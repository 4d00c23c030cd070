/*
 * xact.h - the public client API of xact (libxact).
 *
 * An application opens a client on a coordinator URL, begins a global
 * transaction, executes parameterized statements on named participants and
 * commits or rolls back.  Either every database commits or none does.
 *
 * Threads: an xact_client may be shared by any number of threads; each call
 * is independent.  An xact_txn belongs to one thread at a time (calls on the
 * same transaction must not overlap).  Every call blocks until the
 * coordinator answers or the client's timeout expires.
 *
 * Errors: every function returning int returns 0 (XACT_OK) or an xact_err;
 * xact_strerror() names it.  The text the coordinator or a database sent
 * (say, PostgreSQL's error message) is kept on the transaction:
 * xact_txn_error().
 */
#ifndef XACT_H
#define XACT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes.  0 is success.  Values are stable: they travel on the wire. */
typedef enum xact_err {
	XACT_OK = 0,
	XACT_EINVAL = 1,       /* invalid argument or usage */
	XACT_ENOMEM = 2,       /* out of memory */
	XACT_EPROTO = 3,       /* malformed message */
	XACT_EVERSION = 4,     /* peer speaks another protocol version */
	XACT_ETOOBIG = 5,      /* message or field too large */
	XACT_EUNREACHABLE = 6, /* peer cannot be reached */
	XACT_ETIMEDOUT = 7,    /* no answer in time */
	XACT_ENOTFOUND = 8,    /* unknown transaction (gid) */
	XACT_ENOPART = 9,      /* unknown participant name */
	XACT_ESQL = 10,        /* a statement failed in its database */
	XACT_EABORTED = 11,    /* the transaction was aborted */
	XACT_ESTATE = 12,      /* operation not allowed in this state */
	XACT_EJOURNAL = 13,    /* journal cannot be read or written */
	XACT_EDB = 14,         /* database unavailable or refused */
	XACT_ECONFIG = 15,     /* bad configuration */
	XACT_EFAILPOINT = 16,  /* error injected by a failpoint */
	XACT_ECLOSED = 17,     /* object closed or shutting down */
	XACT_EINTERNAL = 18,   /* a bug in xact: please report it */
	XACT_ERR_COUNT
} xact_err;

/* Final outcome of a global transaction as the coordinator decided it. */
typedef enum xact_outcome {
	XACT_OUTCOME_UNKNOWN = 0, /* not known: neither may be assumed */
	XACT_OUTCOME_COMMITTED = 1,
	XACT_OUTCOME_ABORTED = 2,
} xact_outcome;

typedef enum xact_protocol {
	XACT_PROTOCOL_2PC = 0,
	XACT_PROTOCOL_3PC = 1,
	XACT_PROTOCOL_DEFAULT = 2, /* the coordinator's --protocol (2pc unless set) */
} xact_protocol;

typedef struct xact_client xact_client;
typedef struct xact_txn xact_txn;
typedef struct xact_result xact_result;

/* Names an error code; never NULL, never to be freed. */
const char *xact_strerror(int err);

/*
 * Opens a client on a coordinator URL (tcp://host:port or ipc:///path).
 * NULL means $XACT_COORDINATOR, else tcp://127.0.0.1:7400.  Does not block:
 * the connection is made in the background and re-made when lost.
 * timeout_ms bounds every later call (0: 30000).  On error *out is NULL.
 */
int xact_open(xact_client **out, const char *url, int timeout_ms);

/* Closes the client.  Transactions still open are abandoned: the
 * coordinator aborts them after its transaction timeout. */
void xact_close(xact_client *c);

/* Begins a global transaction.  On success *out is owned by the caller and
 * must be given to xact_txn_free() after commit or rollback. */
int xact_begin(xact_client *c, xact_protocol protocol, xact_txn **out);

/* The global transaction id ("xact:<coordinator>:<seq>"); owned by txn. */
const char *xact_txn_gid(const xact_txn *t);

/* The last error text from the coordinator or a database ("" if none);
 * owned by txn, valid until the next call on it. */
const char *xact_txn_error(const xact_txn *t);

/*
 * Executes one statement on the participant named `participant`.  params are
 * $1..$n as text; a NULL entry is SQL NULL.  On success, when res is not
 * NULL, *res holds the rows (free with xact_result_free()).  A statement that
 * fails in its database returns XACT_ESQL with the database's message in
 * xact_txn_error(); the whole global transaction is then aborted on every
 * participant, and commit reports XACT_OUTCOME_ABORTED.  When no answer
 * came (XACT_ETIMEDOUT, XACT_EUNREACHABLE, XACT_ECLOSED) the statement may or may not
 * have run: the transaction then refuses further statements and commit
 * (XACT_ESTATE); roll it back.
 */
int xact_exec(xact_txn *t, const char *participant, const char *sql,
    int nparams, const char *const *params, xact_result **res);

/*
 * Commits.  Returns 0 when the coordinator gave an outcome, stored in *out:
 * COMMITTED (every database has, or will have once recovery finishes,
 * the changes), ABORTED (no database has them; reason in xact_txn_error()),
 * or UNKNOWN.  Returns an error, with *out UNKNOWN, when no outcome could be
 * learned (the coordinator unreachable): the transaction may have committed.
 * *pending, when not NULL, is set to 1 when the outcome is COMMITTED but some
 * participant has not yet acknowledged (the coordinator keeps retrying).
 */
int xact_commit(xact_txn *t, xact_outcome *out, int *pending);

/* One statement of a one-shot transaction (xact_run).  params are $1..$n
 * as text; a NULL entry is SQL NULL. */
typedef struct xact_stmt {
	const char *participant;
	const char *sql;
	int nparams;
	const char *const *params;
} xact_stmt;

/*
 * A one-shot transaction: runs the n statements (1 to 1024), in order per
 * participant, as one global transaction and commits it, all in one request;
 * the coordinator sends each participant its statements and PREPARE in one
 * message.  No rows come back.  Returns 0 when the coordinator gave an
 * outcome, stored in *out: COMMITTED, or ABORTED when a statement failed or
 * a participant voted NO (why in reason, when reason is not NULL), or
 * UNKNOWN.  Returns an error, with *out UNKNOWN, when no outcome could be
 * learned: the transaction may have committed; or with *out ABORTED when
 * nothing ran: the begin failed, or the coordinator refused the run
 * (XACT_EINVAL, XACT_ENOPART; nothing is left behind).  The run has a
 * name, so that a request repeated by the transport, even to a coordinator
 * that restarted meanwhile, is answered, never run twice: a client's first
 * run takes a gid first (a `begin`), which also tells the coordinator's id;
 * later runs name themselves with 16 random bytes, the gid being
 * "xact:<coordinator id>:r" and their 32 hex digits, and save that round
 * trip.  gid, when not NULL, receives the gid ("" when none was given).
 * A client may be shared by threads.
 */
int xact_run(xact_client *c, xact_protocol protocol, const xact_stmt *stmts, int n,
    xact_outcome *out, char *reason, size_t reasonlen, char gid[64]);

/*
 * What was decided for gid (xact_txn_gid(), or xact_run()'s gid): for a
 * transaction whose xact_commit() or xact_run() got no answer, for example
 * when the coordinator restarted meanwhile.  Returns 0 when the coordinator
 * answered, with *out COMMITTED, ABORTED, or UNKNOWN (still being decided,
 * or, for a transaction committed in one phase or as one writer, which
 * journal nothing, found committed by a participant after the coordinator
 * forgot it); why in reason, when reason is not NULL.  A gid the
 * coordinator no longer knows is first rolled back on every participant
 * (presumed abort), so ABORTED is final: nothing of it commits later.
 * Returns an error, with *out UNKNOWN, when no answer came.
 */
int xact_outcome_of(xact_client *c, const char *gid, xact_outcome *out, char *reason,
    size_t reasonlen);

/* Rolls back.  Returns 0 once the coordinator has aborted the transaction. */
int xact_rollback(xact_txn *t);

/* Frees a transaction handle.  Does not roll back. */
void xact_txn_free(xact_txn *t);

/* Result rows of one statement.  Values are text, NUL-terminated. */
size_t xact_result_nrows(const xact_result *r);
size_t xact_result_ncols(const xact_result *r);
const char *xact_result_colname(const xact_result *r, size_t col);
/* NULL for SQL NULL or out of range. */
const char *xact_result_value(const xact_result *r, size_t row, size_t col);
uint64_t xact_result_affected(const xact_result *r);
void xact_result_free(xact_result *r);

#ifdef __cplusplus
}
#endif
#endif /* XACT_H */
