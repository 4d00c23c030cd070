/*
 * branch.c - the transition table of a participant branch (see branch.h).
 */
#include "branch.h"

#include <assert.h>

#define NSTATES (BR_PRECOMMITTED + 1)
#define NREQS (BREQ_COMMIT_ONE_PHASE + 1)

/* op[state][request] */
static const enum branch_op ops[NSTATES][NREQS] = {
	/*                 EXEC            PREPARE       COMMIT                ABORT                  PRECOMMIT          COMMIT_ONE_PHASE */
	[BR_NONE] =      {BOP_BEGIN_EXEC, BOP_NONE,    BOP_COMMIT_PREPARED, BOP_ROLLBACK_PREPARED, BOP_REFUSE,        BOP_FENCE},
	[BR_ACTIVE] =    {BOP_EXEC,       BOP_PREPARE, BOP_REFUSE,          BOP_ROLLBACK,          BOP_REFUSE,        BOP_COMMIT_ONE_PHASE},
	[BR_PREPARED] =  {BOP_REFUSE,     BOP_NONE,    BOP_COMMIT_PREPARED, BOP_ROLLBACK_PREPARED, BOP_LOG_PRECOMMIT, BOP_NONE},
	[BR_COMMITTED] = {BOP_REFUSE,     BOP_NONE,    BOP_NONE,            BOP_NONE,              BOP_NONE,          BOP_NONE},
	[BR_ABORTED] =   {BOP_REFUSE,     BOP_NONE,    BOP_NONE,            BOP_ROLLBACK_PREPARED, BOP_REFUSE,        BOP_NONE},
	[BR_READ_ONLY] = {BOP_REFUSE,     BOP_NONE,    BOP_NONE,            BOP_NONE,              BOP_NONE,          BOP_NONE},
	[BR_PRECOMMITTED] = {BOP_REFUSE,  BOP_NONE,    BOP_COMMIT_PREPARED, BOP_ROLLBACK_PREPARED, BOP_NONE,          BOP_REFUSE},
};

enum branch_op
branch_op_for(enum branch_state s, enum branch_req r)
{
	assert((unsigned)s < NSTATES && (unsigned)r < NREQS);
	return ops[s][r];
}

enum branch_state
branch_after(enum branch_state s, enum branch_req r, enum branch_result res)
{
	switch (branch_op_for(s, r)) {
	case BOP_NONE:
		/* PREPARE of a branch this agent does not hold: vote NO and
		 * remember, so that a late EXEC or PREPARE is refused. */
		return s == BR_NONE && r == BREQ_PREPARE ? BR_ABORTED : s;
	case BOP_REFUSE:
		return s;
	case BOP_BEGIN_EXEC:
	case BOP_EXEC:
		return res == BRES_OK ? BR_ACTIVE : BR_ABORTED;
	case BOP_PREPARE:
	case BOP_COMMIT_ONE_PHASE:
		switch (res) {
		case BRES_OK:
			return r == BREQ_PREPARE ? BR_PREPARED : BR_COMMITTED;
		case BRES_COMMITTED_ALREADY: /* one phase: an earlier run committed */
			return r == BREQ_PREPARE ? BR_ABORTED : BR_COMMITTED;
		case BRES_READ_ONLY:
			return BR_READ_ONLY;
		case BRES_TRANSIENT:
			/* The connection died around PREPARE TRANSACTION (or
			 * COMMIT): it may have been prepared (committed).  NONE
			 * makes a later ABORT roll back by gid, the vote being
			 * NO; a later COMMIT_ONE_PHASE fence it and learn which. */
			return BR_NONE;
		default:
			return BR_ABORTED;
		}
	case BOP_ROLLBACK:
		return BR_ABORTED; /* a lost connection rolls back as well */
	case BOP_COMMIT_PREPARED:
		/* The backend answers a gid it no longer holds from its marker
		 * row: committed earlier (a repeated COMMIT, gpdb#8052) is OK;
		 * NOT_FOUND means it did not commit here, so someone rolled it
		 * back by hand: a heuristic outcome, reported as ABORTED. */
		if (res == BRES_OK || res == BRES_COMMITTED_ALREADY) {
			return BR_COMMITTED;
		}
		return res == BRES_NOT_FOUND ? BR_ABORTED : s;
	case BOP_LOG_PRECOMMIT:
		return res == BRES_OK ? BR_PRECOMMITTED : s; /* not durable: still prepared */
	case BOP_FENCE:
		if (res == BRES_COMMITTED_ALREADY) {
			return BR_COMMITTED;
		}
		/* OK: rolled back (a backend with no fence of its own). */
		return res == BRES_NOT_FOUND || res == BRES_OK ? BR_ABORTED : s; /* else ask again */
	case BOP_ROLLBACK_PREPARED:
		/* Also from ABORTED: a PREPARE TRANSACTION still running when
		 * the branch was given up may complete afterwards, so an ABORT
		 * always asks the database (NOT_FOUND is the usual answer). */
		if (res == BRES_OK || res == BRES_NOT_FOUND) {
			return BR_ABORTED;
		}
		/* Its marker says it committed (by hand, or a decision this
		 * agent did not expect): the database's word wins. */
		return res == BRES_COMMITTED_ALREADY ? BR_COMMITTED : s;
	}
	return s;
}

const char *
branch_state_name(enum branch_state s)
{
	static const char *const names[] = {"none", "active", "prepared", "committed",
		"aborted", "read-only", "precommitted"};

	return (unsigned)s < NSTATES ? names[s] : "?";
}

const char *
branch_req_name(enum branch_req r)
{
	static const char *const names[] = {"exec", "prepare", "commit", "abort", "precommit",
		"commit-one-phase"};

	return (unsigned)r < NREQS ? names[r] : "?";
}

const char *
branch_op_name(enum branch_op op)
{
	static const char *const names[] = {"none", "refuse", "begin-exec", "exec", "prepare",
		"rollback", "commit-prepared", "rollback-prepared", "log-precommit",
		"commit-one-phase", "fence"};

	return (unsigned)op <= BOP_FENCE ? names[op] : "?";
}
