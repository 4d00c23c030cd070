/*
 * term.h - the three-phase commit termination protocol's rules, without
 * I/O: what a leader decides from the states of the branches it can reach,
 * and who leads.
 *
 * When a participant of a 3PC transaction has voted and hears nothing from
 * the coordinator for the termination timeout, the reachable participants
 * of that transaction choose a leader (the lowest name among them); the
 * leader collects their states and decides by Skeen's rules:
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
 * seeing only prepared ones, aborts.  That is 3PC's known unsafety, which
 * the simulation (tests/unit/test_sim3pc.c) exhibits.
 */
#ifndef XACT_TERM_H
#define XACT_TERM_H

#include "branch.h"

enum term_decision {
	TERM_ABORT,     /* roll every reachable branch back */
	TERM_PRECOMMIT, /* pre-commit the prepared ones first, then decide again */
	TERM_COMMIT,    /* commit every reachable branch */
};

/* Decides from the states of the n reachable branches (n >= 1).  Branches
 * that voted READ-ONLY take no part.  Never fails. */
enum term_decision term_decide(const enum branch_state *states, int n);

/* The index of the leader among n participants: the lowest name whose
 * reachable[i] is set; -1 when none is reachable. */
int term_leader(const char *const *names, const int *reachable, int n);

const char *term_decision_name(enum term_decision d);

#endif
