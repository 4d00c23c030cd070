/*
 * term.c - the termination protocol's decision rules (see term.h).
 */
#include "term.h"

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

int
term_leader(const char *const *names, const int *reachable, int n)
{
	int best = -1;

	for (int i = 0; i < n; i++) {
		if (reachable[i] && (best < 0 || strcmp(names[i], names[best]) < 0)) {
			best = i;
		}
	}
	return best;
}

const char *
term_decision_name(enum term_decision d)
{
	static const char *const names[] = {"abort", "precommit", "commit"};

	return (unsigned)d <= TERM_COMMIT ? names[d] : "?";
}
