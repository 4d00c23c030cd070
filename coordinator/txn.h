/*
 * txn.h - the coordinator's transaction state machine, without I/O.
 *
 * txn_step() takes one event and returns the actions the I/O layer
 * (coord.c) must carry out; it never blocks, sends or writes.  Every
 * transition is listed here and in docs/protocol.md.
 *
 *            EXEC            EXEC_DONE
 *   ACTIVE ---------> EXECUTING ------> ACTIVE
 *     |  COMMIT                 \ EXEC_FAILED, ROLLBACK, TIMEOUT
 *     v                          v
 *   PREPARING --- any NO, unreachable, TIMEOUT -> ABORTING --acks--> ABORTED
 *     | every vote YES or READ-ONLY     ^
 *     | (no YES at all: COMMITTED)      | ROLLBACK, TIMEOUT (from ACTIVE)
 *     v
 *   LOGGING --LOGGED--> COMMITTING --every ack--> COMMITTED
 *     ^  | LOG_FAILED (retry; outcome unknown until the write succeeds)
 *     +--+
 *   (PREPARING --one YES, every other READ-ONLY--> COMMITTING, nothing
 *    journaled: "one writer", below)
 *
 * Three-phase commit (protocol 3PC) puts two steps between the votes and
 * LOGGING, and a state for when a termination leader took over:
 *
 *   PREPARING --every vote YES--> PRECOMMIT_LOGGING --PRECOMMIT_LOGGED-->
 *   PRECOMMITTING --every YES branch acknowledged--> LOGGING -> ...
 *        | a branch refused (it obeys a termination leader's ballot)
 *        v
 *   TERMINATING --TERM_COMMIT--> LOGGING    --TERM_ABORT--> ABORTING
 *
 * One-phase commit (2PC, a transaction with one participant, t->one_phase
 * set by the I/O layer): no PREPARE and no journal write; the branch
 * commits by itself and its answer is the outcome.
 *
 *   ACTIVE --COMMIT, one branch--> ONE_PHASE --COMMITTED, READ-ONLY--> COMMITTED
 *                                    |  ^  \--NO--> ABORTED
 *                    answer lost     v  | RETRY (the same request again)
 *                                   (retry)
 *                                    \--YES (an agent that prepared instead)--> LOGGING
 *
 * The coordinator never decides a ONE_PHASE transaction: it neither
 * aborts it (no timeout does) nor answers its client before the branch
 * told the outcome.  A lost answer is asked again until one comes; the
 * agent fences the gid when it cannot tell (branch.h).
 *
 * Once the pre-commit decision is forced the coordinator never aborts by
 * itself: a termination may have committed.  In TERMINATING the I/O layer
 * decides as a leader, only with every branch's state (the model:
 * tests/unit/test_sim3pc.c), and reports the outcome.
 *
 * One writer (2PC, t->one_phase set): when every vote is in and exactly
 * one branch voted YES, every other READ-ONLY, nothing else depends on
 * that branch's commit, so no decision is journaled: PREPARING goes
 * straight to COMMITTING (t->unjournaled), and the client is answered
 * COMMITTED only once that branch acknowledged.  Before that, a crash
 * leaves the branch prepared and presumed abort rolls it back; the client
 * was told nothing.
 *
 * Invariants:
 *  - SEND_COMMIT is only ever emitted in COMMITTING, i.e. after LOGGED: the
 *    decision is durable before any COMMIT leaves (write-ahead); or, one
 *    writer, to the only branch that holds anything.
 *  - Once in COMMITTING the transaction never aborts; once in ABORTING it
 *    never commits.  Presumed abort: no journal record means abort.
 *  - The client is answered COMMITTED only after LOGGED (one writer: after
 *    its ack; one phase: after the branch said so), ABORTED only after the
 *    abort began (no journal write is needed for an abort).
 *  - At most one statement is outstanding (EXECUTING).
 */
#ifndef XACT_TXN_H
#define XACT_TXN_H

#include "xact.h"

#include <stdint.h>

#define TXN_MAX_PARTS 32
#define TXN_MAX_ACTIONS (TXN_MAX_PARTS + 4)
/* ABORT is resent this many times; afterwards the recovery sweep, which
 * lists every participant's prepared gids, is what finishes an orphan. */
#define TXN_ABORT_ATTEMPTS 5

enum txn_state {
	TXN_ACTIVE,     /* accepting statements; none outstanding */
	TXN_EXECUTING,  /* one statement forwarded, its result awaited */
	TXN_PREPARING,  /* PREPARE sent to every branch; votes awaited */
	TXN_LOGGING,    /* all voted YES; commit decision being forced */
	TXN_COMMITTING, /* decision durable (one writer: none needed); COMMIT sent; acks awaited */
	TXN_ABORTING,   /* abort decided; ABORT sent; acks awaited */
	TXN_COMMITTED,  /* final: every branch committed */
	TXN_ABORTED,    /* final: every branch aborted (or never prepared) */
	TXN_PRECOMMIT_LOGGING, /* 3PC: all voted YES; pre-commit being forced */
	TXN_PRECOMMITTING,     /* 3PC: pre-commit durable; PRECOMMIT sent; acks awaited */
	TXN_TERMINATING,       /* 3PC: decided by a termination, with every branch */
	TXN_ONE_PHASE,         /* the only branch asked to commit at once; its answer awaited */
};

/* What the coordinator knows of one branch (participant) of a txn. */
enum txn_part_state {
	TP_ENLISTED,     /* statements sent; not asked to prepare yet */
	TP_PREPARE_SENT, /* PREPARE sent; vote awaited */
	TP_YES,          /* voted YES: prepared, holds locks */
	TP_READ_ONLY,    /* voted READ-ONLY: finished, out of phase 2 */
	TP_NO,           /* voted NO or could not be reached */
	TP_ACKED,        /* acknowledged the final COMMIT or ABORT */
	TP_GAVE_UP,      /* ABORT unacknowledged TXN_ABORT_ATTEMPTS times */
	TP_PRECOMMITTED, /* 3PC: acknowledged PRECOMMIT */
};

enum txn_event_type {
	TXN_EV_EXEC,          /* client statement for participant pid */
	TXN_EV_EXEC_DONE,     /* participant pid returned the result */
	TXN_EV_EXEC_FAILED,   /* statement failed or pid unreachable (err) */
	TXN_EV_COMMIT,        /* client asks to commit */
	TXN_EV_ROLLBACK,      /* client asks to roll back */
	TXN_EV_TIMEOUT,       /* client silent past the transaction timeout */
	TXN_EV_VOTE_YES,      /* pid prepared durably */
	TXN_EV_VOTE_NO,       /* pid refused, or could not be reached */
	TXN_EV_VOTE_READ_ONLY,/* pid wrote nothing and is finished */
	TXN_EV_LOGGED,        /* commit decision durable in the journal */
	TXN_EV_LOG_FAILED,    /* journal write failed; it will be retried */
	TXN_EV_ACK,           /* pid acknowledged COMMIT or ABORT */
	TXN_EV_ACK_FAILED,    /* pid did not acknowledge (unreachable) */
	TXN_EV_RETRY,         /* retry timer fired (t->retry was set) */
	TXN_EV_PRECOMMIT_LOGGED,   /* 3PC: pre-commit decision durable */
	TXN_EV_PRECOMMIT_ACK,      /* 3PC: pid is pre-committed */
	TXN_EV_PRECOMMIT_REFUSED,  /* 3PC: pid follows a termination leader */
	TXN_EV_TERM_COMMIT,        /* 3PC: the termination decided commit */
	TXN_EV_TERM_ABORT,         /* 3PC: the termination decided abort */
	TXN_EV_ONE_PHASE_COMMITTED, /* pid committed in one phase */
	TXN_EV_ONE_PHASE_LOST,      /* pid's one-phase answer did not come (reason) */
	TXN_EV_ACK_COMMITTED,       /* pid answered an orphan's ABORT: committed here (UNKNOWN) */
};

enum txn_action_type {
	TXN_ACT_SEND_EXEC,     /* forward the pending statement to pid */
	TXN_ACT_SEND_PREPARE,  /* PREPARE to pid */
	TXN_ACT_FORCE_COMMIT,  /* force-write the commit decision */
	TXN_ACT_SEND_COMMIT,   /* COMMIT to pid */
	TXN_ACT_SEND_ABORT,    /* ABORT to pid */
	TXN_ACT_REPLY_EXEC,    /* answer the statement: result if err == 0 */
	TXN_ACT_REPLY_OUTCOME, /* answer commit/rollback with t->outcome */
	TXN_ACT_LOG_COMPLETE,  /* lazily record that every branch finished */
	TXN_ACT_FORGET,        /* final and answered: drop from memory */
	TXN_ACT_FORCE_PRECOMMIT, /* 3PC: force-write the pre-commit decision */
	TXN_ACT_SEND_PRECOMMIT,  /* 3PC: PRECOMMIT to pid */
	TXN_ACT_SEND_ONE_PHASE,  /* PREPARE asking pid to commit at once */
};

struct txn_event {
	enum txn_event_type type;
	int pid;            /* participant index, for events about one branch */
	int err;            /* xact_err for EXEC_FAILED */
	const char *reason; /* text for EXEC_FAILED, VOTE_NO, LOG_FAILED */
};

struct txn_action {
	enum txn_action_type type;
	int pid;
	int err;
};

struct txn_actions {
	int n;
	struct txn_action a[TXN_MAX_ACTIONS];
};

struct txn_part {
	int pid;
	enum txn_part_state state;
	int attempts; /* unacknowledged COMMIT/ABORT sends */
	uint32_t stmts; /* statements sent to this branch; numbers them from 1 */
};

struct txn {
	char gid[64];
	xact_protocol protocol; /* XACT_PROTOCOL_2PC unless set after init */
	int one_phase;      /* 2PC with one branch may commit in one phase (set after init) */
	int journal_always; /* a run named by a run id: may come again to a restarted
	                     * coordinator, which knows it only from the journal, and
	                     * run again: no one-writer shortcut (set after init) */
	enum txn_state state;
	int nparts;
	struct txn_part parts[TXN_MAX_PARTS];
	int exec_pid;       /* participant of the outstanding statement, or -1 */
	int client_waiting; /* a commit/rollback request awaits its outcome */
	int retry;          /* the I/O layer should send TXN_EV_RETRY later */
	int round;          /* COMMIT/ABORT sends not yet answered this round */
	xact_outcome outcome;
	int pending;        /* answered COMMITTED before every ack was in */
	int unjournaled;    /* COMMITTING with no journal row (one writer): the ack is the outcome */
	int orphan;         /* made by txn_init_orphan: no decision known, presumed abort */
	int found_committed;/* an orphan's branch answered its ABORT: committed here (or a
	                     * heuristic abort's orphan: its journal row says commit) */
	char reason[512];
};

/* Initializes an ACTIVE transaction. */
void txn_init(struct txn *t, const char *gid);

/* Initializes a transaction found committed in the journal at start-up:
 * COMMITTING with every listed participant voted YES and retry set. */
void txn_init_recovered(struct txn *t, const char *gid, const int *pids, int n);

/* Initializes a 3PC transaction whose pre-commit (and no commit) was found
 * in the journal at start-up: TERMINATING, every participant voted YES. */
void txn_init_recovered_precommit(struct txn *t, const char *gid, const int *pids, int n);

/* Initializes an ABORTING transaction for a prepared branch that no
 * decision covers (presumed abort), with retry set.  No journal row does
 * not prove no commit: a one-phase or one-writer commit writes none, and
 * one still on its way may win.  So an orphan answers a client only once
 * its branches answered, and one whose branch answers "committed here"
 * (ACK_COMMITTED), or does not answer at all (gave up), ends with the
 * outcome UNKNOWN, never ABORTED. */
void txn_init_orphan(struct txn *t, const char *gid, int pid);

/* Adds pid to an orphan's ABORTING set (another participant holds the same
 * gid prepared).  Returns 0, or XACT_ETOOBIG when full. */
int txn_add_orphan_part(struct txn *t, int pid);

/* A one-shot transaction (ACTIVE): enlists pid for stmts statements that
 * go with its PREPARE (the I/O layer sends them; TXN_EV_COMMIT follows).
 * Returns 0, XACT_ETOOBIG when full, or XACT_ESTATE when not ACTIVE. */
int txn_enlist(struct txn *t, int pid, uint32_t stmts);

/*
 * Applies one event.  Returns 0 and fills out (possibly with no action), or
 * XACT_ESTATE when the event is not allowed in the current state (nothing
 * changed; the caller answers the request with an error), or XACT_ETOOBIG
 * when a statement would enlist more than TXN_MAX_PARTS participants.
 */
int txn_step(struct txn *t, const struct txn_event *ev, struct txn_actions *out);

/* The branch of participant pid, or NULL when pid is not enlisted. */
const struct txn_part *txn_find_part(const struct txn *t, int pid);

/* Names, for logs and status; never NULL. */
const char *txn_state_name(enum txn_state s);
const char *txn_part_state_name(enum txn_part_state s);
const char *txn_event_name(enum txn_event_type e);

/* True in COMMITTED and ABORTED. */
int txn_is_final(const struct txn *t);

#endif
