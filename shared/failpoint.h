/*
 * failpoint.h - named hooks at every protocol step, switched on by the
 * environment variable XACT_FAILPOINTS:
 *
 *   XACT_FAILPOINTS="coord.after_decision=crash,part.before_vote=error"
 *
 * Actions: crash (the process kills itself with SIGKILL, like kill -9),
 * error (the step fails with XACT_EFAILPOINT), delay:MS (sleeps MS ms).
 * An action may end in @N: it fires only at the Nth hit of that point.
 * With the variable unset, a failpoint costs one load and one branch.
 */
#ifndef XACT_FAILPOINT_H
#define XACT_FAILPOINT_H

extern int failpoint_armed;

/* Reads XACT_FAILPOINTS.  Returns 0, or -1 (and logs) when it is malformed. */
int failpoint_init(void);
/* Parses a specification; used by failpoint_init and tests. */
int failpoint_configure(const char *spec);
/* Returns 1 when name is a failpoint of the code. */
int failpoint_known(const char *name);
/* Returns 1 when XACT_FAILPOINTS names name (whatever its hits); no hit. */
int failpoint_set(const char *name);
/* Runs the action configured for name: 0, or XACT_EFAILPOINT for error. */
int failpoint_hit(const char *name);

#define XACT_FAILPOINT(name) (failpoint_armed ? failpoint_hit(name) : 0)

#endif
