/* daemon.c - option parsing and signals shared by the daemons. */
#include "daemon.h"

#include <signal.h>
#include <string.h>

static volatile int *stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	*stop_flag = 1; /* only a flag: the daemon's loop does the work */
}

void
daemon_signals(volatile int *flag)
{
	struct sigaction sa;

	stop_flag = flag;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Applies one flag of the second pass. */
static int
apply_flag(const struct daemon_spec *d, int opt, char *err, size_t errlen)
{
	const char *key = d->flag_key(opt);

	if (key != NULL) {
		return d->set(d->cfg, d->section, key, optarg, err, errlen);
	}
	if (d->other_flag != NULL && opt != 'c' && opt != DAEMON_OPT_CHECK) {
		return d->other_flag(d->cfg, opt, optarg, err, errlen);
	}
	return 0;
}

int
daemon_parse(const struct daemon_spec *d, int argc, char **argv)
{
	char err[1024];
	int opt, check = 0;

	/* First pass: the config file, so that flags override it. */
	while ((opt = getopt_long(argc, argv, d->shortopts, d->options, NULL)) != -1) {
		if (opt == 'c' && config_load(optarg, d->set, d->cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: %s\n", d->prog, err);
			return 2;
		} else if (opt == 'h') {
			d->usage(stdout);
			return 0;
		} else if (opt == '?') {
			d->usage(stderr);
			return 2;
		}
		check |= opt == DAEMON_OPT_CHECK;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, d->shortopts, d->options, NULL)) != -1) {
		if (apply_flag(d, opt, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: %s\n", d->prog, err);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", d->prog, argv[optind]);
		d->usage(stderr);
		return 2;
	}
	if (d->check(d->cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", d->prog, err);
		return 2;
	}
	if (check) {
		printf("configuration OK\n");
		return 0;
	}
	return -1;
}
