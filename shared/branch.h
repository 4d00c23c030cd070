/*
 * branch.h - the participant's branch state machine, without I/O.
 *
 * A branch is one global transaction's work on this agent's database.  For
 * every (state, request) the table in branch.c names the one backend
 * operation to run (or none), and for every result of it the next state.
 * The agent (agent.c) runs the operation and answers from the new state.
 *
 *            EXEC ok                PREPARE ok (wrote)        COMMIT ok
 *   NONE ------------> ACTIVE ------------------> PREPARED -----------> COMMITTED
 *                        |  \ PREPARE ok (read only)  | ABORT ok / not found
 *        EXEC failed,    |   +--> READ_ONLY           v
 *        ABORT           +----------------------->  ABORTED
 *
 * Invariants:
 *  - PREPARED is entered only after the backend made the prepared state
 *    durable (YES is sent only then).
 *  - COMMITTED and ABORTED are final; a repeated or late COMMIT is
 *    answered from them.  (Only the database's marker overrides them: an
 *    ABORT of a branch whose marker says committed ends COMMITTED.)  A repeated ABORT asks the database again
 *    (ROLLBACK PREPARED, usually "not found"), since a prepare cut off by a
 *    crash may complete after the branch was given up.
 *  - A late EXEC or PREPARE for an ABORTED branch is refused.
 *  - A transient failure (connection lost, server restarting) of COMMIT or
 *    ABORT PREPARED leaves the branch PREPARED: the coordinator retries.
 *
 * Three-phase commit adds one state between PREPARED and COMMITTED:
 *
 *   PREPARED --PRECOMMIT ok--> PRECOMMITTED --COMMIT ok--> COMMITTED
 *                                   | ABORT ok (the termination protocol's
 *                                   v  decision, see term.h)
 *                                ABORTED
 *
 *  - PRECOMMITTED is entered only after the pre-commit is durable here.
 *  - A PRECOMMIT for an ABORTED (or unknown, or still active) branch is
 *    refused: it never follows an abort.
 *
 * One-phase commit (a transaction with this branch as its only
 * participant) takes an active branch straight to its end:
 *
 *   ACTIVE --COMMIT_ONE_PHASE ok--> COMMITTED (or READ_ONLY)
 *      | failed                        ^ fenced: marker found
 *      v                               |
 *   ABORTED <--fenced: no marker--- NONE <--transient (outcome unknown)
 *
 *  - A PREPARED branch (a two-phase attempt of the same gid, from before a
 *    coordinator restart) is not committed in one phase: it votes YES, and
 *    the coordinator goes on in two phases.
 *  - Its answer is the transaction's outcome, so it is never guessed: a
 *    commit whose result was lost (connection cut) leaves the branch NONE,
 *    and a COMMIT_ONE_PHASE of a NONE branch fences the gid in the
 *    database, which then tells (marker: committed) and makes sure a
 *    commit still on its way can no longer succeed (no marker: aborted).
 *  - For the same reason the agent fences a NONE branch's ABORT
 *    (rollback-prepared) on a backend that has a fence: "not prepared
 *    here" then also means that no commit of it can land later.
 */
#ifndef XACT_BRANCH_H
#define XACT_BRANCH_H

enum branch_state {
	BR_NONE,      /* unknown here: never seen, or forgotten */
	BR_ACTIVE,    /* local transaction open; statements run in it */
	BR_PREPARED,  /* prepared state durable; voted YES; holds locks */
	BR_COMMITTED, /* final */
	BR_ABORTED,   /* final */
	BR_READ_ONLY, /* final: wrote nothing, committed locally, voted READ-ONLY */
	BR_PRECOMMITTED, /* 3PC: prepared, and the pre-commit is durable here */
};

enum branch_req {
	BREQ_EXEC,
	BREQ_PREPARE,
	BREQ_COMMIT,
	BREQ_ABORT,
	BREQ_PRECOMMIT, /* 3PC: every branch voted YES; get ready to commit */
	BREQ_COMMIT_ONE_PHASE, /* the only branch: commit now, no PREPARE */
};

enum branch_op {
	BOP_NONE,              /* answer from the state alone */
	BOP_REFUSE,            /* answer with an error; nothing changes */
	BOP_BEGIN_EXEC,        /* open a local transaction and run the statement */
	BOP_EXEC,              /* run the statement in the open transaction */
	BOP_PREPARE,           /* make the prepared state durable (or detect read only) */
	BOP_ROLLBACK,          /* roll back the open local transaction */
	BOP_COMMIT_PREPARED,   /* commit the prepared branch by gid */
	BOP_ROLLBACK_PREPARED, /* roll back the prepared branch by gid */
	BOP_LOG_PRECOMMIT,     /* 3PC: make the pre-commit durable */
	BOP_COMMIT_ONE_PHASE,  /* commit the open transaction with its marker */
	BOP_FENCE,             /* settle an unknown gid: marker, or never commit */
};

enum branch_result {
	BRES_OK,
	BRES_READ_ONLY, /* BOP_PREPARE: nothing written; committed locally */
	BRES_FAILED,    /* definite failure: the local work is rolled back */
	BRES_TRANSIENT, /* not done, may be retried (connection lost...) */
	BRES_NOT_FOUND, /* *_PREPARED: no such prepared gid, and no marker: it did
	                 * not commit here */
	BRES_COMMITTED_ALREADY, /* ROLLBACK PREPARED, FENCE: no such prepared gid,
	                         * but its marker says it committed */
};

/* The operation that request r needs in state s. */
enum branch_op branch_op_for(enum branch_state s, enum branch_req r);

/* The state after the operation for (s, r) ended with res.  For BOP_NONE
 * and BOP_REFUSE, s is returned. */
enum branch_state branch_after(enum branch_state s, enum branch_req r, enum branch_result res);

const char *branch_state_name(enum branch_state s);
const char *branch_req_name(enum branch_req r);
const char *branch_op_name(enum branch_op op);

#endif
