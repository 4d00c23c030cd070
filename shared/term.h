/*
 * term.h - the three-phase commit termination protocol: what a leader
 * decides from the states of the branches it can reach, and one leader's
 * round, with the calls supplied by the caller (agent.c, coord.c).
 *
 * When a participant of a 3PC transaction has voted and hears nothing from
 * the coordinator for the termination timeout, the lowest-named reachable
 * participant that voted and has not crashed since leads (agent.c); the
 * ballots below make a second leader harmless.  The leader collects the
 * states and decides by Skeen's rules:
 *
 *   any branch committed                     -> commit
 *   any branch aborted, or not prepared      -> abort
 *   none pre-committed (all only prepared)   -> abort
 *   some pre-committed, none aborted         -> pre-commit the others,
 *                                               then commit
 *
 * The rules are safe when "unreachable" means "crashed" (a perfect failure
 * detector): a branch can have committed only after every branch was
 * pre-committed, and pre-commit is sent only after every branch voted YES.
 * Under a network partition each side may pick its own leader and decide
 * differently: one side with a pre-committed branch commits while the other,
 * seeing only prepared ones, aborts (ballots do not help: each side reaches
 * only its own members).  That is 3PC's known unsafety, which the
 * simulation (tests/unit/test_sim3pc.c) exhibits.
 */
#ifndef XACT_TERM_H
#define XACT_TERM_H

#include "branch.h"

#include <stdint.h>

enum term_decision {
	TERM_ABORT,     /* roll every reachable branch back */
	TERM_PRECOMMIT, /* pre-commit the prepared ones first, then decide again */
	TERM_COMMIT,    /* commit every reachable branch */
};

/* Decides from the states of the n reachable branches (n >= 1).  Branches
 * that voted READ-ONLY take no part.  Never fails. */
enum term_decision term_decide(const enum branch_state *states, int n);

const char *term_decision_name(enum term_decision d);

/*
 * Leading one termination round, the same for an agent and for the
 * coordinator (whose journal held a pre-commit); the caller supplies the
 * calls.  The round (the model: tests/unit/test_sim3pc.c):
 *
 *   1. STATE with the ballot to every member: each promises, durably, to
 *      obey no lower ballot, and tells its state and whether it is fresh
 *      (has not crashed since it voted).
 *   2. term_decide() over the members' states; PRECOMMIT: pre-commit every
 *      member, and decide again.
 *   3. COMMIT or ABORT, with the ballot, to every member.
 *
 * A member that does not answer is taken for crashed and leaves the round
 * (an agent's round); a member that is not fresh leaves it too, since what
 * it voted before its crash may have been decided without it.  A round of
 * the coordinator ("everyone") instead needs every member's answer, fresh
 * or not, and gives up without one.  A member that promised a higher
 * ballot ends the round: another leader is at work.
 */
#define TERM_MAX_MEMBERS 32
#define TERM_WHO_COORDINATOR 63 /* members are 1..TERM_MAX_MEMBERS */
/* A promise at or above this is malformed (no clock gets there); taking it
 * would leave no ballot above it. */
#define TERM_BALLOT_LIMIT (1ULL << 62)

enum term_call { TERM_CALL_STATE, TERM_CALL_PRECOMMIT, TERM_CALL_COMMIT, TERM_CALL_ABORT };

struct term_answer {
	int reached;     /* 0: no answer (unreachable): taken for crashed */
	int busy;        /* answered with an error: alive, so the round cannot
	                  * go on without it (INCOMPLETE) */
	int refused;     /* the member promised a higher ballot */
	enum branch_state state;
	int fresh;
	uint64_t promised;
};

enum term_result {
	TERM_LED_COMMIT,     /* every member left in committed */
	TERM_LED_ABORT,      /* every member left in rolled back */
	TERM_LED_REFUSED,    /* a higher ballot was promised: another leads */
	TERM_LED_INCOMPLETE, /* a member needed did not answer, or ended elsewhere */
	TERM_LED_SPLIT,      /* committed, but some member had rolled back for good:
	                      * two leaders decided apart (a partition; term.h) */
};

struct term_round {
	/* in */
	int n;           /* members, at most TERM_MAX_MEMBERS */
	uint64_t ballot;
	int everyone;    /* decide only with every member's state */
	void (*call)(void *arg, int member, enum term_call call, uint64_t ballot,
	    struct term_answer *ans);
	void *arg;
	/* out */
	int in[TERM_MAX_MEMBERS];          /* still a member at the end */
	enum branch_state state[TERM_MAX_MEMBERS];
	uint64_t promised;                 /* the highest promise any member named */
	enum term_decision decision;       /* the last one taken */
	char why[160];                     /* for INCOMPLETE and REFUSED */
};

/* Runs one round.  Blocks as long as the calls do.  Failpoints (in the
 * process that leads): term.after_states, term.after_precommit,
 * term.after_first_decision. */
enum term_result term_lead(struct term_round *r);

/* A ballot above `above`, unique to `who` (1..TERM_MAX_MEMBERS, or
 * TERM_WHO_COORDINATOR) and growing with the clock, so that one restarted
 * never reuses a ballot of its earlier life. */
uint64_t term_ballot(uint64_t above, unsigned who, int64_t now_ms);

const char *term_result_name(enum term_result r);

#endif
