/*
 * termlog.h - the agent's termination log: what a three-phase commit branch
 * must still know after a crash, whatever the backend.  One SQLite file per
 * agent (schema: sql/termlog.sql), WAL with synchronous=FULL: every call
 * that changes it returns only once the change is durable.
 *
 * For each 3PC branch the agent voted YES for: its state (prepared or
 * pre-committed), the highest termination ballot it promised to obey, and
 * the transaction's other participants (name=url,...).  The agent writes a
 * record before its YES vote, before acknowledging a PRECOMMIT and before
 * answering a ballot; it deletes it once the branch committed or rolled
 * back.  Never decides anything: the termination rules are term.h's.
 *
 * Thread-safe; every function blocks (file I/O).  Errors: 0, or -1 with a
 * message in err (open) or logged (the others).
 */
#ifndef XACT_TERMLOG_H
#define XACT_TERMLOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct termlog termlog;

/* Room for 32 participants' names and URLs. */
#define TERMLOG_PEERS_MAX (32 * (33 + 256 + 2))

struct termlog_entry {
	char gid[64];
	int precommitted; /* 0: prepared */
	int readonly;     /* voted READ-ONLY: nothing prepared (precommitted is 0) */
	int64_t promised; /* highest ballot promised; 0: none */
	char peers[TERMLOG_PEERS_MAX];
	int64_t at;       /* unix ms of the last write (set by termlog_put) */
};

/* Opens (creating when missing) the log at path for agent.  Refuses a file
 * that is not a termination log, or one of another agent name. */
int termlog_open(termlog **out, const char *path, const char *agent, char *err, size_t errlen);
void termlog_close(termlog *t);

/* Records e, replacing any record of its gid. */
int termlog_put(termlog *t, const struct termlog_entry *e);
/* Reads gid's record into e: 0, 1 when there is none, -1 on error. */
int termlog_get(termlog *t, const char *gid, struct termlog_entry *e);
/* Forgets gid (nothing to forget is no error). */
int termlog_remove(termlog *t, const char *gid);
/* Forgets the READ-ONLY records written before unix ms `before`. */
int termlog_prune_readonly(termlog *t, int64_t before);
/* Calls fn for every record; a non-zero answer stops and is returned. */
int termlog_each(termlog *t, int (*fn)(void *arg, const struct termlog_entry *e), void *arg);

#endif
