/*
 * part.h - the participant agent: configuration and the serving loop.
 */
#ifndef XACT_PART_H
#define XACT_PART_H

#include <stddef.h>

struct part_config {
	char name[33];
	char listen[256];
	char coordinator[256];
	char backend[16];
	char conninfo[1024];  /* postgres */
	char database[1024];  /* sqlite: the database file */
	long lock_timeout_ms; /* sqlite: wait this long for the write lock */
	long statement_timeout_ms; /* postgres: statement_timeout and lock_timeout */
	long marker_retention_ms;  /* commit markers are kept this long */
	long recovery_interval_ms; /* how often prepared branches are checked */
	long orphan_grace_ms;      /* prepared this long: ask the coordinator */
	int workers;          /* threads serving requests */
	int pool_size;        /* most database connections held */
	long branch_timeout_ms; /* an unprepared branch idle this long is rolled back */
	long max_message;
	int log_level;
	char termlog[1024];   /* 3PC: the termination log; empty: 3PC refused */
	long termination_timeout_ms; /* 3PC: coordinator silent this long: terminate */
};

void part_config_defaults(struct part_config *cfg);
int part_config_set(void *cfg, const char *section, const char *key, const char *value,
    char *err, size_t errlen);
int part_config_check(const struct part_config *cfg, char *err, size_t errlen);

/* Opens the backend (re-attaching to its prepared branches), listens and
 * serves until *stop.  Returns 0 after a clean stop, else an xact_err. */
int part_run(const struct part_config *cfg, volatile int *stop);

#endif
