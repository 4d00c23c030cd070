/*
 * coord.h - the coordinator daemon: the client-facing REP socket, one REQ
 * socket per participant, the event loop that feeds the transaction state
 * machine (txn.c) and carries out its actions, start-up recovery and the
 * periodic recovery sweep.
 *
 * Threads: nng's aio callbacks only queue events; one loop thread owns every
 * transaction and runs every transition; the journal's writer thread does
 * the fsyncs of decisions (the loop thread syncs only to reserve a block of
 * gids, once per 10000).  No lock is held across a network round trip.
 */
#ifndef XACT_COORD_H
#define XACT_COORD_H

#include <stddef.h>

#define COORD_MAX_PARTICIPANTS 64

struct coord_participant_cfg {
	char name[33];
	char url[256];
};

struct coord_config {
	char id[33];
	char listen[256];
	char journal[1024];
	int nparticipants;
	struct coord_participant_cfg participants[COORD_MAX_PARTICIPANTS];
	long txn_timeout_ms;      /* client silence before abort */
	long call_timeout_ms;     /* one request to a participant */
	long recovery_interval_ms;/* presumed-abort sweep period */
	long retention_ms;        /* completed decisions kept this long */
	long group_commit_ms;     /* a forced write waits this long for more (group commit) */
	long max_message;         /* NNG_OPT_RECVMAXSZ */
	int log_level;
	int protocol;             /* XACT_PROTOCOL_2PC or _3PC: when the client names none */
	int one_phase;            /* a 2PC transaction with one participant commits in one phase */
};

/* Fills defaults. */
void coord_config_defaults(struct coord_config *cfg);

/* Applies one INI value (config_handler signature). */
int coord_config_set(void *cfg, const char *section, const char *key,
    const char *value, char *err, size_t errlen);

/* Adds or replaces a participant from "NAME=URL"; -1 with err on error. */
int coord_config_add_participant(struct coord_config *cfg, const char *spec,
    char *err, size_t errlen);

/* Checks the whole configuration; -1 with err when unusable. */
int coord_config_check(const struct coord_config *cfg, char *err, size_t errlen);

/*
 * Opens the journal, recovers, listens and serves until *stop becomes
 * non-zero (set it from a signal handler).  Returns 0 after a clean
 * shutdown, or an xact_err when start-up failed (already logged).
 */
int coord_run(const struct coord_config *cfg, volatile int *stop);

#endif
