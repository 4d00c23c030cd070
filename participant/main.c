/*
 * main.c - xact-participant: options, signals, then part_run().
 * The usage text matches docs/xact-participant.8.
 */
#include "config.h"
#include "failpoint.h"
#include "log.h"
#include "part.h"
#include "xact.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile int stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: xact-participant [--config FILE] --name NAME --listen URL --coordinator URL\n"
	    "                        --backend postgres --conninfo CONNINFO [--workers N]\n"
	    "                        [--pool-size N] [--branch-timeout SECONDS]\n"
	    "                        [--log-level LEVEL] [--check]\n"
	    "\n"
	    "  --config FILE           INI file ([participant]); flags override it\n"
	    "  --name NAME             this participant's name, as the coordinator knows it\n"
	    "  --listen URL            where the coordinator connects (tcp://HOST:PORT)\n"
	    "  --coordinator URL       the coordinator that owns this agent's branches\n"
	    "  --backend postgres      the local database kind\n"
	    "  --conninfo CONNINFO     libpq connection string of the local database\n"
	    "  --workers N             threads serving requests (32)\n"
	    "  --pool-size N           most database connections held (64)\n"
	    "  --branch-timeout SECONDS  roll back an unprepared branch idle this long (300)\n"
	    "  --log-level LEVEL       error, warn, info or debug (info)\n"
	    "  --check                 check the configuration, print \"configuration OK\", exit\n"
	    "  --help                  this text\n"
	    "\n"
	    "Runs in the foreground, logs to stderr, stops cleanly on SIGTERM or SIGINT.\n"
	    "Exit status: 0 after a clean stop or a good --check, 1 on a start-up error\n"
	    "(database unreachable, prepared transactions disabled), 2 on a usage or\n"
	    "configuration error.\n");
}

enum { OPT_WORKERS = 256, OPT_POOL, OPT_BRANCH_TIMEOUT, OPT_LOG, OPT_CHECK };

static const struct option options[] = {
	{"config", required_argument, NULL, 'c'},
	{"name", required_argument, NULL, 'n'},
	{"listen", required_argument, NULL, 'l'},
	{"coordinator", required_argument, NULL, 'C'},
	{"backend", required_argument, NULL, 'b'},
	{"conninfo", required_argument, NULL, 'd'},
	{"workers", required_argument, NULL, OPT_WORKERS},
	{"pool-size", required_argument, NULL, OPT_POOL},
	{"branch-timeout", required_argument, NULL, OPT_BRANCH_TIMEOUT},
	{"log-level", required_argument, NULL, OPT_LOG},
	{"check", no_argument, NULL, OPT_CHECK},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static const char *
flag_key(int opt)
{
	switch (opt) {
	case 'n': return "name";
	case 'l': return "listen";
	case 'C': return "coordinator";
	case 'b': return "backend";
	case 'd': return "conninfo";
	case OPT_WORKERS: return "workers";
	case OPT_POOL: return "pool_size";
	case OPT_BRANCH_TIMEOUT: return "branch_timeout";
	case OPT_LOG: return "log_level";
	default: return NULL;
	}
}

int
main(int argc, char **argv)
{
	struct part_config cfg;
	char err[1024];
	int opt, check = 0, rv;

	xlog_init("participant", XLOG_INFO);
	part_config_defaults(&cfg);
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'c' && config_load(optarg, part_config_set, &cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "xact-participant: %s\n", err);
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
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		const char *key = flag_key(opt);

		if (opt == OPT_CHECK) {
			check = 1;
		} else if (key != NULL &&
		    part_config_set(&cfg, "participant", key, optarg, err, sizeof(err)) != 0) {
			fprintf(stderr, "xact-participant: %s\n", err);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xact-participant: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (part_config_check(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "xact-participant: %s\n", err);
		return 2;
	}
	if (check) {
		printf("configuration OK\n");
		return 0;
	}
	xlog_init(cfg.name, cfg.log_level);
	if (failpoint_init() != 0) {
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rv = part_run(&cfg, &stop_flag);
	return rv == XACT_OK ? 0 : 1;
}
