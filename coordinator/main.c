/*
 * main.c - xact-coordinator: options, signals, then coord_run().
 * Flags override the configuration file; the usage text below matches
 * docs/xact-coordinator.8.
 */
#include "config.h"
#include "coord.h"
#include "failpoint.h"
#include "log.h"
#include "xact.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1; /* only a flag: the loop does the work */
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: xact-coordinator [--config FILE] [--listen URL] [--journal PATH] [--id ID]\n"
	    "                        [--participant NAME=URL]... [--txn-timeout SECONDS]\n"
	    "                        [--call-timeout MS] [--recovery-interval SECONDS]\n"
	    "                        [--retention SECONDS] [--log-level LEVEL] [--check]\n"
	    "\n"
	    "  --config FILE             INI file ([coordinator], [participants]); flags override it\n"
	    "  --listen URL              where applications connect (tcp://127.0.0.1:7400)\n"
	    "  --journal PATH            the SQLite decision journal (xact-journal.db)\n"
	    "  --id ID                   coordinator id, part of every gid (c1)\n"
	    "  --participant NAME=URL    a participant agent; repeat for each\n"
	    "  --txn-timeout SECONDS     abort a transaction whose client is silent this long (60)\n"
	    "  --call-timeout MS         wait this long for a participant's answer (10000)\n"
	    "  --recovery-interval SECONDS  period of the presumed-abort sweep (10)\n"
	    "  --retention SECONDS       keep completed decisions this long (3600)\n"
	    "  --log-level LEVEL         error, warn, info or debug (info)\n"
	    "  --check                   check the configuration, print \"configuration OK\", exit\n"
	    "  --help                    this text\n"
	    "\n"
	    "Runs in the foreground, logs to stderr, stops cleanly on SIGTERM or SIGINT.\n"
	    "Exit status: 0 after a clean stop or a good --check, 1 on a start-up error,\n"
	    "2 on a usage or configuration error.\n");
}

enum { OPT_TXN_TIMEOUT = 256, OPT_CALL_TIMEOUT, OPT_RECOVERY, OPT_RETENTION, OPT_LOG, OPT_CHECK };

static const struct option options[] = {
	{"config", required_argument, NULL, 'c'},
	{"listen", required_argument, NULL, 'l'},
	{"journal", required_argument, NULL, 'j'},
	{"id", required_argument, NULL, 'i'},
	{"participant", required_argument, NULL, 'p'},
	{"txn-timeout", required_argument, NULL, OPT_TXN_TIMEOUT},
	{"call-timeout", required_argument, NULL, OPT_CALL_TIMEOUT},
	{"recovery-interval", required_argument, NULL, OPT_RECOVERY},
	{"retention", required_argument, NULL, OPT_RETENTION},
	{"log-level", required_argument, NULL, OPT_LOG},
	{"check", no_argument, NULL, OPT_CHECK},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Maps a flag onto the INI key it overrides. */
static const char *
flag_key(int opt)
{
	switch (opt) {
	case 'l': return "listen";
	case 'j': return "journal";
	case 'i': return "id";
	case OPT_TXN_TIMEOUT: return "txn_timeout";
	case OPT_CALL_TIMEOUT: return "call_timeout_ms";
	case OPT_RECOVERY: return "recovery_interval";
	case OPT_RETENTION: return "retention";
	case OPT_LOG: return "log_level";
	default: return NULL;
	}
}

int
main(int argc, char **argv)
{
	struct coord_config cfg;
	char err[1024];
	int opt, check = 0, rv;

	xlog_init("coordinator", XLOG_INFO);
	coord_config_defaults(&cfg);
	/* First pass: the config file, so that flags override it. */
	while ((opt = getopt_long(argc, argv, "c:l:j:i:p:h", options, NULL)) != -1) {
		if (opt == 'c' && config_load(optarg, coord_config_set, &cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "xact-coordinator: %s\n", err);
			return 2;
		} else if (opt == 'h') {
			usage(stdout);
			return 0;
		} else if (opt == '?') {
			usage(stderr);
			return 2;
		}
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:l:j:i:p:h", options, NULL)) != -1) {
		const char *key = flag_key(opt);

		if (opt == 'p') {
			rv = coord_config_add_participant(&cfg, optarg, err, sizeof(err));
		} else if (opt == OPT_CHECK) {
			check = 1;
			rv = 0;
		} else if (key != NULL) {
			rv = coord_config_set(&cfg, "coordinator", key, optarg, err, sizeof(err));
		} else {
			rv = 0;
		}
		if (rv != 0) {
			fprintf(stderr, "xact-coordinator: %s\n", err);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xact-coordinator: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (coord_config_check(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "xact-coordinator: %s\n", err);
		return 2;
	}
	if (check) {
		printf("configuration OK\n");
		return 0;
	}
	xlog_init("coordinator", cfg.log_level);
	if (failpoint_init() != 0) {
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rv = coord_run(&cfg, &stop_flag);
	return rv == XACT_OK ? 0 : 1;
}
