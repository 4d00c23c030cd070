/*
 * term.c - the termination protocol's decision rules (see term.h).
 */
#include "term.h"

#include "failpoint.h"

#include <stdio.h>
#include <string.h>

enum term_decision
term_decide(const enum branch_state *states, int n)
{
	int precommitted = 0, prepared = 0, other = 0;

	for (int i = 0; i < n; i++) {
		if (states[i] == BR_COMMITTED) {
			return TERM_COMMIT; /* someone committed: all must */
		}
	}
	for (int i = 0; i < n; i++) {
		switch (states[i]) {
		case BR_PRECOMMITTED:
			precommitted++;
			break;
		case BR_PREPARED:
			prepared++;
			break;
		case BR_READ_ONLY:
			break; /* finished; takes no part */
		default:
			/* Aborted, still active, or unknown here: it never voted
			 * YES (or was rolled back), so nobody can have committed. */
			other++;
			break;
		}
	}
	if (other > 0 || precommitted == 0) {
		return TERM_ABORT; /* the coordinator cannot have decided commit */
	}
	return prepared > 0 ? TERM_PRECOMMIT : TERM_COMMIT;
}

const char *
term_decision_name(enum term_decision d)
{
	static const char *const names[] = {"abort", "precommit", "commit"};

	return (unsigned)d <= TERM_COMMIT ? names[d] : "?";
}

uint64_t
term_ballot(uint64_t above, unsigned who, int64_t now_ms)
{
	uint64_t round = (above >> 6) + 1;

	if (now_ms > 0 && (uint64_t)now_ms > round) {
		round = (uint64_t)now_ms;
	}
	return round << 6 | (who & 63u);
}

const char *
term_result_name(enum term_result r)
{
	static const char *const names[] = {"commit", "abort", "refused", "incomplete", "split"};

	return (unsigned)r <= TERM_LED_SPLIT ? names[r] : "?";
}

static const char *const call_names[] = {"state", "precommit", "commit", "abort"};

/* One phase: call to every member still in.  Returns -1 when the phase
 * went through, else the round's result. */
static int
phase(struct term_round *r, enum term_call call)
{
	int asked = 0;

	for (int i = 0; i < r->n; i++) {
		struct term_answer a = {0};

		if (!r->in[i]) {
			continue;
		}
		r->call(r->arg, i, call, r->ballot, &a);
		if (a.promised > r->promised) {
			r->promised = a.promised;
		}
		if (a.busy) {
			snprintf(r->why, sizeof(r->why), "member %d could not answer %s", i,
			    call_names[call]);
			return TERM_LED_INCOMPLETE;
		}
		if (!a.reached) {
			if (r->everyone) {
				snprintf(r->why, sizeof(r->why), "member %d did not answer %s", i,
				    call_names[call]);
				return TERM_LED_INCOMPLETE;
			}
			r->in[i] = 0; /* taken for crashed */
			continue;
		}
		if (a.refused) {
			snprintf(r->why, sizeof(r->why), "member %d promised ballot %llu", i,
			    (unsigned long long)a.promised);
			return TERM_LED_REFUSED;
		}
		if (call == TERM_CALL_STATE && !a.fresh && !r->everyone) {
			r->in[i] = 0; /* crashed since it voted: takes no part */
			continue;
		}
		r->state[i] = a.state;
		if (++asked == 1 && (call == TERM_CALL_COMMIT || call == TERM_CALL_ABORT)) {
			/* Crash here: one member has the decision, the others not. */
			XACT_FAILPOINT("term.after_first_decision");
		}
	}
	return -1;
}

/* Decides over the members still in; -1 when none is left. */
static int
decide(struct term_round *r)
{
	enum branch_state st[TERM_MAX_MEMBERS];
	int n = 0;

	for (int i = 0; i < r->n; i++) {
		if (r->in[i]) {
			st[n++] = r->state[i];
		}
	}
	if (n == 0) {
		snprintf(r->why, sizeof(r->why), "no member left");
		return -1;
	}
	r->decision = term_decide(st, n);
	return 0;
}

enum term_result
term_lead(struct term_round *r)
{
	enum branch_state want;
	int rv, split = 0, incomplete = 0;

	if (r->n < 1 || r->n > TERM_MAX_MEMBERS) {
		snprintf(r->why, sizeof(r->why), "bad member count %d", r->n);
		return TERM_LED_INCOMPLETE;
	}
	for (int i = 0; i < r->n; i++) {
		r->in[i] = 1;
		r->state[i] = BR_NONE;
	}
	r->promised = 0;
	r->why[0] = '\0';
	if ((rv = phase(r, TERM_CALL_STATE)) >= 0) {
		return (enum term_result)rv;
	}
	if (decide(r) != 0) {
		return TERM_LED_INCOMPLETE;
	}
	XACT_FAILPOINT("term.after_states");
	if (r->decision == TERM_PRECOMMIT) {
		if ((rv = phase(r, TERM_CALL_PRECOMMIT)) >= 0) {
			return (enum term_result)rv;
		}
		/* Crash here: every member left is pre-committed; nobody has
		 * the decision. */
		XACT_FAILPOINT("term.after_precommit");
		if (decide(r) != 0) {
			return TERM_LED_INCOMPLETE;
		}
		if (r->decision == TERM_PRECOMMIT) {
			snprintf(r->why, sizeof(r->why), "a member could not record its pre-commit");
			return TERM_LED_INCOMPLETE;
		}
	}
	if ((rv = phase(r, r->decision == TERM_COMMIT ? TERM_CALL_COMMIT : TERM_CALL_ABORT)) >= 0) {
		return (enum term_result)rv;
	}
	want = r->decision == TERM_COMMIT ? BR_COMMITTED : BR_ABORTED;
	for (int i = 0; i < r->n; i++) {
		if (r->in[i] && r->state[i] != want && r->state[i] != BR_READ_ONLY) {
			snprintf(r->why, sizeof(r->why), "member %d is %s after %s", i,
			    branch_state_name(r->state[i]), term_decision_name(r->decision));
			/* Rolled back for good while another committed: only two
			 * leaders that could not see each other do that. */
			split |= want == BR_COMMITTED && r->state[i] == BR_ABORTED;
			incomplete |= r->state[i] != BR_ABORTED;
		}
	}
	if (incomplete) {
		return TERM_LED_INCOMPLETE;
	}
	if (split) {
		return TERM_LED_SPLIT;
	}
	return r->decision == TERM_COMMIT ? TERM_LED_COMMIT : TERM_LED_ABORT;
}
