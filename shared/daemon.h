/*
 * daemon.h - what the two daemons share around main(): a configuration
 * file read first, flags that override its keys, --check and --help, and
 * signal handlers that only set a flag (ntpd-style).
 */
#ifndef XACT_DAEMON_H
#define XACT_DAEMON_H

#include "config.h"

#include <getopt.h>
#include <stdio.h>

#define DAEMON_OPT_CHECK 300 /* the --check option's value in every table */

struct daemon_spec {
	const char *prog;             /* for messages */
	const char *section;          /* the INI section flags map onto */
	const char *shortopts;        /* 'c' (--config) and 'h' (--help) included */
	const struct option *options;
	config_handler set;           /* applies one INI key */
	void *cfg;
	/* The INI key a flag overrides, or NULL. */
	const char *(*flag_key)(int opt);
	/* A flag that is no INI key (say --participant): 0, or -1 with err. */
	int (*other_flag)(void *cfg, int opt, const char *arg, char *err, size_t errlen);
	/* Checks the whole configuration: 0, or -1 with err. */
	int (*check)(const void *cfg, char *err, size_t errlen);
	void (*usage)(FILE *f);
};

/*
 * Reads the config file (--config) and then the flags.  Returns -1 when
 * the daemon should run, or the exit status to leave with: 0 after --help
 * or a good --check ("configuration OK"), 2 on a usage or configuration
 * error (already said on stderr).
 */
int daemon_parse(const struct daemon_spec *d, int argc, char **argv);

/* Sets *flag to 1 on SIGTERM and SIGINT; ignores SIGPIPE. */
void daemon_signals(volatile int *flag);

#endif
