/*
 * main.c - xact-participant: options, signals, then part_run().
 * The usage text matches docs/xact-participant.8.
 */
#include "daemon.h"
#include "failpoint.h"
#include "log.h"
#include "part.h"
#include "xact.h"

#include <stdio.h>

static volatile int stop_flag;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: xact-participant [--config FILE] --name NAME --listen URL --coordinator URL\n"
	    "                        --backend postgres --conninfo CONNINFO\n"
	    "                        | --backend sqlite --database PATH [--lock-timeout MS]\n"
	    "                        | --backend noop\n"
	    "                        [--statement-timeout MS] [--workers N] [--pool-size N]\n"
	    "                        [--branch-timeout SECONDS] [--marker-retention SECONDS]\n"
	    "                        [--recovery-interval SECONDS] [--orphan-grace SECONDS]\n"
	    "                        [--termlog PATH] [--termination-timeout MS]\n"
	    "                        [--log-level LEVEL] [--check]\n"
	    "\n"
	    "  --config FILE           INI file ([participant]); flags override it\n"
	    "  --name NAME             this participant's name, as the coordinator knows it\n"
	    "  --listen URL            where the coordinator connects (tcp://HOST:PORT)\n"
	    "  --coordinator URL       the coordinator that owns this agent's branches\n"
	    "  --backend KIND          the local database: postgres or sqlite; or noop, which\n"
	    "                          holds nothing (measures xact alone: xact-bench --noop)\n"
	    "  --conninfo CONNINFO     postgres: libpq connection string of the database\n"
	    "  --database PATH         sqlite: the database file (it must exist); its side log\n"
	    "                          is PATH-xact-log, and this agent must be its only writer\n"
	    "  --lock-timeout MS       sqlite: wait this long for the write lock, then fail (2000)\n"
	    "  --statement-timeout MS  postgres: a statement, or a wait for a lock, fails after\n"
	    "                          MS; keep it below the coordinator's --call-timeout (5000)\n"
	    "  --workers N             threads serving requests, at least 2 (128); a quarter\n"
	    "                          of them never run statements, so that commits, aborts\n"
	    "                          and recovery are served while statements wait on locks,\n"
	    "                          and at most half run the first statement of a branch\n"
	    "  --pool-size N           most database connections held (64)\n"
	    "  --branch-timeout SECONDS  roll back an unprepared branch idle this long (300)\n"
	    "  --recovery-interval SECONDS  how often prepared branches are checked (10)\n"
	    "  --orphan-grace SECONDS  a branch prepared (or open and idle) this long is\n"
	    "                          settled by asking the coordinator what was decided (60)\n"
	    "  --marker-retention SECONDS  keep each committed branch's marker row this long;\n"
	    "                          keep it above the coordinator's --retention (86400)\n"
	    "  --termlog PATH          three-phase commit: the termination log (SQLite, created\n"
	    "                          when missing); without it 3PC transactions are refused\n"
	    "  --termination-timeout MS  three-phase commit: a voted branch whose coordinator\n"
	    "                          is silent this long starts the termination (5000)\n"
	    "  --log-level LEVEL       error, warn, info or debug (info)\n"
	    "  --check                 check the configuration, print \"configuration OK\", exit\n"
	    "  --help                  this text\n"
	    "\n"
	    "Runs in the foreground, logs to stderr, stops cleanly on SIGTERM or SIGINT.\n"
	    "Exit status: 0 after a clean stop or a good --check, 1 on a start-up error\n"
	    "(database unreachable, prepared transactions disabled), 2 on a usage or\n"
	    "configuration error.\n");
}

enum { OPT_WORKERS = 256, OPT_POOL, OPT_BRANCH_TIMEOUT, OPT_LOG, OPT_DATABASE, OPT_LOCK_TIMEOUT,
	OPT_STATEMENT_TIMEOUT, OPT_MARKER_RETENTION, OPT_RECOVERY, OPT_ORPHAN_GRACE, OPT_TERMLOG,
	OPT_TERMINATION_TIMEOUT };

static const struct option options[] = {
	{"config", required_argument, NULL, 'c'},
	{"name", required_argument, NULL, 'n'},
	{"listen", required_argument, NULL, 'l'},
	{"coordinator", required_argument, NULL, 'C'},
	{"backend", required_argument, NULL, 'b'},
	{"conninfo", required_argument, NULL, 'd'},
	{"database", required_argument, NULL, OPT_DATABASE},
	{"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
	{"statement-timeout", required_argument, NULL, OPT_STATEMENT_TIMEOUT},
	{"marker-retention", required_argument, NULL, OPT_MARKER_RETENTION},
	{"recovery-interval", required_argument, NULL, OPT_RECOVERY},
	{"orphan-grace", required_argument, NULL, OPT_ORPHAN_GRACE},
	{"workers", required_argument, NULL, OPT_WORKERS},
	{"pool-size", required_argument, NULL, OPT_POOL},
	{"branch-timeout", required_argument, NULL, OPT_BRANCH_TIMEOUT},
	{"termlog", required_argument, NULL, OPT_TERMLOG},
	{"termination-timeout", required_argument, NULL, OPT_TERMINATION_TIMEOUT},
	{"log-level", required_argument, NULL, OPT_LOG},
	{"check", no_argument, NULL, DAEMON_OPT_CHECK},
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
	case OPT_DATABASE: return "database";
	case OPT_LOCK_TIMEOUT: return "lock_timeout_ms";
	case OPT_STATEMENT_TIMEOUT: return "statement_timeout_ms";
	case OPT_MARKER_RETENTION: return "marker_retention";
	case OPT_RECOVERY: return "recovery_interval";
	case OPT_ORPHAN_GRACE: return "orphan_grace";
	case OPT_WORKERS: return "workers";
	case OPT_POOL: return "pool_size";
	case OPT_BRANCH_TIMEOUT: return "branch_timeout";
	case OPT_LOG: return "log_level";
	case OPT_TERMLOG: return "termlog";
	case OPT_TERMINATION_TIMEOUT: return "termination_timeout_ms";
	default: return NULL;
	}
}

static int
check(const void *cfg, char *err, size_t errlen)
{
	return part_config_check(cfg, err, errlen);
}

int
main(int argc, char **argv)
{
	struct part_config cfg;
	struct daemon_spec d = {
		.prog = "xact-participant",
		.section = "participant",
		.shortopts = "c:h",
		.options = options,
		.set = part_config_set,
		.cfg = &cfg,
		.flag_key = flag_key,
		.check = check,
		.usage = usage,
	};
	int rv;

	xlog_init("participant", XLOG_INFO);
	part_config_defaults(&cfg);
	if ((rv = daemon_parse(&d, argc, argv)) >= 0) {
		return rv;
	}
	xlog_init(cfg.name, cfg.log_level);
	if (failpoint_init() != 0) {
		return 2;
	}
	daemon_signals(&stop_flag);
	rv = part_run(&cfg, &stop_flag);
	return rv == XACT_OK ? 0 : 1;
}
