/*
 * main.c - xact-coordinator: options, signals, then coord_run().
 * Flags override the configuration file; the usage text below matches
 * docs/xact-coordinator.8.
 */
#include "coord.h"
#include "daemon.h"
#include "failpoint.h"
#include "log.h"
#include "xact.h"

#include <stdio.h>

static volatile int stop_flag;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: xact-coordinator [--config FILE] [--listen URL] [--journal PATH] [--id ID]\n"
	    "                        [--participant NAME=URL]... [--txn-timeout SECONDS]\n"
	    "                        [--call-timeout MS] [--recovery-interval SECONDS]\n"
	    "                        [--retention SECONDS] [--group-commit MS]\n"
	    "                        [--protocol 2pc|3pc] [--one-phase on|off]\n"
	    "                        [--log-level LEVEL] [--check]\n"
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
	    "  --group-commit MS         a decision waits up to MS for those on their way to\n"
	    "                            share its fsync; 0: never waits (30)\n"
	    "  --protocol 2pc|3pc        for transactions whose client names none (2pc)\n"
	    "  --one-phase on|off        a 2pc transaction with one participant commits in\n"
	    "                            one phase: no PREPARE, no journal write (on)\n"
	    "  --log-level LEVEL         error, warn, info or debug (info)\n"
	    "  --check                   check the configuration, print \"configuration OK\", exit\n"
	    "  --help                    this text\n"
	    "\n"
	    "Runs in the foreground, logs to stderr, stops cleanly on SIGTERM or SIGINT.\n"
	    "Exit status: 0 after a clean stop or a good --check, 1 on a start-up error,\n"
	    "2 on a usage or configuration error.\n");
}

enum { OPT_TXN_TIMEOUT = 256, OPT_CALL_TIMEOUT, OPT_RECOVERY, OPT_RETENTION, OPT_LOG,
	OPT_PROTOCOL, OPT_GROUP, OPT_ONE_PHASE };

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
	{"protocol", required_argument, NULL, OPT_PROTOCOL},
	{"group-commit", required_argument, NULL, OPT_GROUP},
	{"one-phase", required_argument, NULL, OPT_ONE_PHASE},
	{"log-level", required_argument, NULL, OPT_LOG},
	{"check", no_argument, NULL, DAEMON_OPT_CHECK},
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
	case OPT_PROTOCOL: return "protocol";
	case OPT_GROUP: return "group_commit_ms";
	case OPT_ONE_PHASE: return "one_phase";
	default: return NULL;
	}
}

static int
participant_flag(void *cfg, int opt, const char *arg, char *err, size_t errlen)
{
	return opt == 'p' ? coord_config_add_participant(cfg, arg, err, errlen) : 0;
}

static int
check(const void *cfg, char *err, size_t errlen)
{
	return coord_config_check(cfg, err, errlen);
}

int
main(int argc, char **argv)
{
	struct coord_config cfg;
	struct daemon_spec d = {
		.prog = "xact-coordinator",
		.section = "coordinator",
		.shortopts = "c:l:j:i:p:h",
		.options = options,
		.set = coord_config_set,
		.cfg = &cfg,
		.flag_key = flag_key,
		.other_flag = participant_flag,
		.check = check,
		.usage = usage,
	};
	int rv;

	xlog_init("coordinator", XLOG_INFO);
	coord_config_defaults(&cfg);
	if ((rv = daemon_parse(&d, argc, argv)) >= 0) {
		return rv;
	}
	xlog_init("coordinator", cfg.log_level);
	if (failpoint_init() != 0) {
		return 2;
	}
	daemon_signals(&stop_flag);
	rv = coord_run(&cfg, &stop_flag);
	return rv == XACT_OK ? 0 : 1;
}
