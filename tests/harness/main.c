/*
 * main.c - the xact-harness command: parses the command line, finds the
 * state folder (--dir, else $XACT_HARNESS_DIR) and hands over to env.c,
 * run.c, workload.c, check.c or the proxy.  SIGINT and SIGTERM only set a
 * flag: whatever was started is then stopped before it exits.
 */
#include "harness.h"

#include "xact.h"

#include <nng/nng.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: xact-harness COMMAND [ARGS] [OPTIONS]\n"
    "\n"
    "Environments (a scenario file: see xact-harness(1) and docs/harness.md):\n"
    "  up SCENARIO [--dir DIR]      start clusters, databases, agents, coordinator;\n"
    "                               print NAME=VALUE lines (URLs, ports, conninfo)\n"
    "  down [--keep]                stop everything the state folder records\n"
    "  run SCENARIO [--dir DIR] [--report FILE] [--keep]\n"
    "                               up, workload and faults, checks, report, down\n"
    "  chaos SCENARIO [--runs N] [--seed S] [--duration SEC] [--dir DIR] [--keep]\n"
    "                               N runs with one random fault each (default 50, 1, 2)\n"
    "\n"
    "Processes and faults in a running environment:\n"
    "  start NAME [--env K=V|K]... [--no-wait] [--without PART] [-- FLAG...]\n"
    "                               start again, FLAGs after the scenario's; the\n"
    "                               coordinator --without PART leaves PART out\n"
    "  stop NAME [--signal SIG] [--timeout SEC]\n"
    "  kill NAME [--signal SIG]     send SIGKILL (or SIG) and return at once\n"
    "  pause NAME | resume NAME     SIGSTOP | SIGCONT\n"
    "  wait NAME [--timeout SEC]    wait for NAME to exit; print its status\n"
    "  status                       every process and whether it runs\n"
    "  cut NAME | heal NAME|all | slow NAME MS | reset NAME\n"
    "                               the links between the coordinator and NAME\n"
    "  pg-restart CLUSTER           restart a PostgreSQL cluster (immediate)\n"
    "  env                          print the NAME=VALUE lines again\n"
    "  workload [--clients N] [--transfers N] [--duration SEC] [--abort-every N]\n"
    "           [--abort-ratio R] [--first N] [--client-timeout MS] [--participants A,B]\n"
    "           [--protocol 2pc|3pc]\n"
    "                               run the scenario's workload; print XFER OUTCOME GID\n"
    "  check [--outcomes FILE] [--settle SEC]\n"
    "                               check the invariants; exit 1 on a violation\n"
    "  port                         print a free TCP port of 127.0.0.1\n"
    "\n"
    "The state folder is --dir DIR, else $XACT_HARNESS_DIR.  Exit status: 0 ok,\n"
    "1 a violation (or a failed command), 2 bad usage or could not run.\n";

static void
on_signal(int sig)
{
	(void)sig;
	h_interrupted = 1;
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "xact-harness: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(xact-harness --help shows the usage)\n");
	return 2;
}

/* Options common to all commands, and the positional words. */
struct cli {
	const char *words[4];
	int nwords;
	const char *dir, *report, *outcomes;
	int keep, no_wait, runs, timeout, sig;
	double duration, settle;
	uint64_t seed;
	const char *env[32];
	int nenv;
	char **extra;
	int nextra;
	/* workload overrides */
	int clients, transfers, abort_every, first, wl_timeout;
	double abort_ratio;
	const char *participants;
	const char *without;
	const char *protocol;
};

static int
number(const char *opt, const char *v, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = v != NULL ? strtod(v, &end) : 0;
	if (v == NULL || *v == '\0' || *end != '\0' || errno != 0 || *out < min || *out > max) {
		fprintf(stderr, "xact-harness: %s needs a number in %g..%g\n", opt, min, max);
		return -1;
	}
	return 0;
}

static int
signal_number(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {{"TERM", SIGTERM}, {"KILL", SIGKILL}, {"INT", SIGINT}, {"HUP", SIGHUP},
	    {"STOP", SIGSTOP}, {"CONT", SIGCONT}, {"QUIT", SIGQUIT}, {"USR1", SIGUSR1}};

	if (strncmp(s, "SIG", 3) == 0) {
		s += 3;
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (strcmp(s, sigs[i].name) == 0) {
			return sigs[i].sig;
		}
	}
	return atoi(s) > 0 && atoi(s) < 65 ? atoi(s) : -1;
}

/* Parses one option at argv[*i]; -1 on a bad one. */
static int
option(struct cli *c, int argc, char **argv, int *i)
{
	const char *o = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	double d;

#define TAKE(field)                                                                     \
	do {                                                                                \
		if (v == NULL) {                                                                \
			return usage_error("%s needs a value", o);                                  \
		}                                                                               \
		field = v;                                                                      \
		(*i)++;                                                                         \
		return 0;                                                                       \
	} while (0)
#define NUM(field, min, max)                                                            \
	do {                                                                                \
		if (number(o, v, min, max, &d) != 0) {                                          \
			return 2;                                                                   \
		}                                                                               \
		field = d;                                                                      \
		(*i)++;                                                                         \
		return 0;                                                                       \
	} while (0)
	if (strcmp(o, "--dir") == 0) TAKE(c->dir);
	if (strcmp(o, "--report") == 0) TAKE(c->report);
	if (strcmp(o, "--outcomes") == 0) TAKE(c->outcomes);
	if (strcmp(o, "--participants") == 0) TAKE(c->participants);
	if (strcmp(o, "--protocol") == 0) TAKE(c->protocol);
	if (strcmp(o, "--without") == 0) TAKE(c->without);
	if (strcmp(o, "--runs") == 0) NUM(c->runs, 1, 1000000);
	if (strcmp(o, "--seed") == 0) NUM(c->seed, 0, 1e15);
	if (strcmp(o, "--duration") == 0) NUM(c->duration, 0.1, 86400);
	if (strcmp(o, "--settle") == 0) NUM(c->settle, 1, 600);
	if (strcmp(o, "--timeout") == 0) NUM(c->timeout, 0, 86400);
	if (strcmp(o, "--clients") == 0) NUM(c->clients, 1, 256);
	if (strcmp(o, "--transfers") == 0) NUM(c->transfers, 1, 100000000);
	if (strcmp(o, "--abort-every") == 0) NUM(c->abort_every, 1, 1000000);
	if (strcmp(o, "--abort-ratio") == 0) NUM(c->abort_ratio, 0, 1);
	if (strcmp(o, "--first") == 0) NUM(c->first, 0, 1e9);
	if (strcmp(o, "--client-timeout") == 0) NUM(c->wl_timeout, 100, 600000);
#undef TAKE
#undef NUM
	if (strcmp(o, "--keep") == 0) {
		c->keep = 1;
		return 0;
	}
	if (strcmp(o, "--no-wait") == 0) {
		c->no_wait = 1;
		return 0;
	}
	if (strcmp(o, "--signal") == 0) {
		if (v == NULL || (c->sig = signal_number(v)) < 0) {
			return usage_error("--signal needs a signal (TERM, KILL, INT, ...), got %s",
			    v != NULL ? v : "nothing");
		}
		(*i)++;
		return 0;
	}
	if (strcmp(o, "--env") == 0) {
		if (v == NULL || c->nenv == 31) {
			return usage_error("%s needs K=V (or K to unset)", o);
		}
		c->env[c->nenv++] = v;
		(*i)++;
		return 0;
	}
	return usage_error("unknown option %s", o);
}

static int
parse(struct cli *c, int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			c->extra = argv + i + 1;
			c->nextra = argc - i - 1;
			return 0;
		}
		if (strncmp(argv[i], "--", 2) == 0) {
			int rc = option(c, argc, argv, &i);

			if (rc != 0) {
				return rc;
			}
			continue;
		}
		if (c->nwords == 4) {
			return usage_error("too many arguments (%s)", argv[i]);
		}
		c->words[c->nwords++] = argv[i];
	}
	return 0;
}

static const char *
state_dir(const struct cli *c)
{
	const char *d = c->dir != NULL ? c->dir : getenv("XACT_HARNESS_DIR");

	return d != NULL && *d != '\0' ? d : NULL;
}

/* Loads the scenario of a running state folder. */
static int
load_running(struct scenario *sc, const struct cli *c)
{
	const char *dir = state_dir(c);
	char path[H_PATH + 16], line[H_PATH + 32], err[1024];
	FILE *f;

	if (dir == NULL) {
		fprintf(stderr, "xact-harness: which environment? give --dir DIR or set "
		    "XACT_HARNESS_DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/ports", dir);
	f = fopen(path, "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL || strncmp(line, "scenario ", 9)) {
		fprintf(stderr, "xact-harness: %s is not up (no %s)\n", dir, path);
		if (f != NULL) {
			fclose(f);
		}
		return 2;
	}
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	if (sc_load(sc, line + 9, dir, err, sizeof(err)) != 0 ||
	    sc_load_ports(sc, err, sizeof(err)) != 0) {
		fprintf(stderr, "xact-harness: %s\n", err);
		return 2;
	}
	return 0;
}

/* Loads a scenario for up/run/chaos, with a state folder. */
static int
load_new(struct scenario *sc, const struct cli *c)
{
	char err[1024], tmpl[] = "/tmp/xact-harness.XXXXXX";

	if (c->nwords != 1) {
		return usage_error("%s needs one SCENARIO file", "this command");
	}
	if (sc_load(sc, c->words[0], state_dir(c), err, sizeof(err)) != 0) {
		fprintf(stderr, "xact-harness: %s\n", err);
		return 2;
	}
	if (sc->dir[0] == '\0') {
		if (mkdtemp(tmpl) == NULL) {
			perror("mkdtemp");
			return 2;
		}
		if (sc_set_dir(sc, tmpl, err, sizeof(err)) != 0) {
			fprintf(stderr, "xact-harness: %s\n", err);
			return 2;
		}
		sc->dir_created = 1;
	}
	return 0;
}

static int
cmd_up(const struct cli *c)
{
	static struct scenario sc;
	char err[1024];
	int rc = load_new(&sc, c);

	if (rc != 0) {
		return rc;
	}
	if ((rc = env_up(&sc, err, sizeof(err))) != 0) {
		fprintf(stderr, "xact-harness: %s\n", err);
		if (rc < 0) {
			fprintf(stderr, "xact-harness: everything started was stopped; logs kept in %s\n",
			    sc.dir);
		}
		return 2;
	}
	env_print(&sc);
	return 0;
}

static int
cmd_run(const struct cli *c, int chaos)
{
	static struct scenario sc;
	int rc = load_new(&sc, c);

	if (rc != 0) {
		return rc;
	}
	if (chaos) {
		return run_chaos(&sc, c->runs > 0 ? c->runs : 50, c->seed > 0 ? c->seed : 1,
		    c->duration > 0 ? c->duration : 2, c->keep);
	}
	return run_scenario(&sc, c->report, c->keep);
}

/* The coordinator of sc started without participant name: the others
 * keep their places (and proxy ports). */
static int
start_without(const struct scenario *sc, const struct cli *c, const char *const env[],
    char *err, size_t errlen)
{
	static struct scenario less;
	int k = 0;

	less = *sc;
	for (int i = 0; i < sc->nparts; i++) {
		if (strcmp(sc->parts[i].name, c->without) != 0) {
			less.parts[k] = sc->parts[i];
			less.proxy_ports[k][0] = sc->proxy_ports[i][0];
			less.proxy_ports[k][1] = sc->proxy_ports[i][1];
			k++;
		}
	}
	if (k == sc->nparts || k == 0) {
		snprintf(err, errlen, "--without %s: not a participant (or the only one)", c->without);
		return -1;
	}
	less.nparts = k;
	return env_start(&less, sc->coord.name, c->extra, c->nextra, env, err, errlen);
}

static int
cmd_start(const struct scenario *sc, const struct cli *c, const char *name)
{
	char err[1024];
	const char *env[33];
	int rc;

	memcpy(env, c->env, sizeof(c->env[0]) * (size_t)c->nenv);
	env[c->nenv] = NULL;
	if (c->without != NULL && strcmp(name, sc->coord.name) != 0) {
		return usage_error("--without is for the coordinator, not %s", name);
	}
	rc = c->without != NULL ? start_without(sc, c, env, err, sizeof(err))
	                        : env_start(sc, name, c->extra, c->nextra, env, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "xact-harness: %s\n", err);
		return 1;
	}
	if (!c->no_wait && env_wait_listening(sc, name, err, sizeof(err)) != 0) {
		fprintf(stderr, "xact-harness: %s\n", err);
		return 1;
	}
	return 0;
}

static int
cmd_status(const struct scenario *sc)
{
	for (int i = 0; i <= sc->nparts; i++) {
		const char *name = i < sc->nparts ? sc->parts[i].name : sc->coord.name;
		int pid = proc_pid(sc->dir, name), status;

		if (pid != 0) {
			printf("%-12s running pid=%d\n", name, pid);
		} else if (proc_wait(sc->dir, name, 0, &status) == 0 && status >= 0) {
			printf("%-12s exited status=%d\n", name, status);
		} else {
			printf("%-12s not running\n", name);
		}
	}
	if (sc->coord.proxy) {
		char err[512];

		if (proxy_command(sc->dir, "status", err, sizeof(err)) != 0) {
			printf("proxy        %s\n", err);
		}
	}
	return 0;
}

static int
cmd_workload(struct scenario *sc, const struct cli *c)
{
	struct wl_result r = {0};
	char err[1024];

	if (c->clients > 0) {
		sc->wl.clients = c->clients;
	}
	if (c->transfers > 0) {
		sc->wl.transfers = c->transfers;
		sc->wl.duration = 0;
	}
	if (c->duration > 0) {
		sc->wl.duration = c->duration;
		sc->wl.transfers = 0;
	}
	if (c->abort_every > 0) {
		sc->wl.abort_every = c->abort_every;
	}
	if (c->abort_ratio > 0) {
		sc->wl.abort_ratio = c->abort_ratio;
		sc->wl.abort_every = 0;
	}
	if (c->wl_timeout > 0) {
		sc->wl.timeout_ms = c->wl_timeout;
	}
	if (c->protocol != NULL) {
		if (strcmp(c->protocol, "2pc") != 0 && strcmp(c->protocol, "3pc") != 0) {
			return usage_error("--protocol: 2pc or 3pc, not %s", c->protocol);
		}
		sc->wl.protocol = strcmp(c->protocol, "3pc") == 0 ? XACT_PROTOCOL_3PC
		                                                  : XACT_PROTOCOL_2PC;
	}
	if (c->participants != NULL) {
		char *save, *it, buf[H_TEXT];

		snprintf(buf, sizeof(buf), "%s", c->participants);
		sc->wl.nparticipants = 0;
		for (it = strtok_r(buf, ", \t", &save); it != NULL && sc->wl.nparticipants < H_MAX;
		     it = strtok_r(NULL, ", \t", &save)) {
			if (sc_part(sc, it) == NULL) {
				return usage_error("--participants: no participant %s", it);
			}
			snprintf(sc->wl.participants[sc->wl.nparticipants++], H_NAME, "%s", it);
		}
	}
	sc_default_bank(sc);
	if (sc->wl.type == WL_NONE) {
		return usage_error("%s", "workload: the scenario has none, and its participants "
		    "are not two or more with bank tables");
	}
	if (wl_run(sc, c->first > 0 ? c->first : 1, &r, err, sizeof(err)) != 0) {
		fprintf(stderr, "xact-harness: workload: %s\n", err);
		return 1;
	}
	for (size_t i = 0; i < r.n; i++) {
		char parts[H_MAX * H_NAME];

		wl_outcome_parts(sc, &r.out[i], parts, sizeof(parts));
		printf("%ld %s %s %s\n", r.out[i].xfer, r.out[i].outcome, r.out[i].gid, parts);
	}
	fprintf(stderr, "workload: %zu transactions in %.1f s: %ld committed, %ld aborted, "
	    "%ld unknown; p50 %.2f ms, p99 %.2f ms\n", r.n, r.seconds, r.committed, r.aborted,
	    r.unknown, r.p50_ms, r.p99_ms);
	wl_result_free(&r);
	return 0;
}

static int
cmd_check(struct scenario *sc, const struct cli *c)
{
	struct wl_result r = {0};
	char path[H_PATH + 16], err[1024];
	int v;

	if (c->settle > 0) {
		sc->settle = c->settle;
	}
	sc_default_bank(sc);
	snprintf(path, sizeof(path), "%s/outcomes", sc->dir);
	if (sc->wl.type == WL_BANK &&
	    wl_read_outcomes(sc, c->outcomes != NULL ? c->outcomes : path, &r, err, sizeof(err)) !=
	        0) {
		fprintf(stderr, "xact-harness: %s\n", err);
		return 2;
	}
	if (check_settle(sc) != 0) {
		printf("recovery did not settle in %g s\n", sc->settle);
	}
	v = check_all(sc, &r, NULL, err, sizeof(err));
	wl_result_free(&r);
	if (v < 0) {
		fprintf(stderr, "xact-harness: check: %s\n", err);
		return 2;
	}
	printf("check: %d violation(s)\n", v);
	return v > 0 ? 1 : 0;
}

static int
cmd_link(const struct scenario *sc, const struct cli *c, const char *verb)
{
	char cmd[256], err[512];

	if (c->nwords < 1 || (strcmp(verb, "slow") == 0 && c->nwords < 2)) {
		return usage_error("%s needs a participant (slow: and MS)", verb);
	}
	snprintf(cmd, sizeof(cmd), "%s %s%s%s", verb, c->words[0], c->nwords > 1 ? " " : "",
	    c->nwords > 1 ? c->words[1] : "");
	if (!sc->coord.proxy) {
		fprintf(stderr, "xact-harness: links go through the proxy only with [coordinator] "
		    "proxy = yes\n");
		return 2;
	}
	if (proxy_command(sc->dir, cmd, err, sizeof(err)) != 0) {
		fprintf(stderr, "xact-harness: %s\n", err);
		return 1;
	}
	return 0;
}

/* The commands that work on a running environment. */
static int
on_running(const char *cmd, struct cli *c)
{
	static struct scenario sc;
	const char *name;
	char err[1024];
	int rc, status;

	if (strcmp(cmd, "down") == 0) {
		/* The folder alone says what to stop: the scenario may be gone. */
		if (state_dir(c) == NULL) {
			return usage_error("%s: give --dir DIR or set XACT_HARNESS_DIR", cmd);
		}
		return env_down(state_dir(c), c->keep) == 0 ? 0 : 1;
	}
	if ((rc = load_running(&sc, c)) != 0) {
		return rc;
	}
	name = c->nwords > 0 ? c->words[0] : "";
	if (strcmp(cmd, "env") == 0) {
		env_print(&sc);
		return 0;
	}
	if (strcmp(cmd, "status") == 0) {
		return cmd_status(&sc);
	}
	if (strcmp(cmd, "workload") == 0) {
		return cmd_workload(&sc, c);
	}
	if (strcmp(cmd, "check") == 0) {
		return cmd_check(&sc, c);
	}
	if (strcmp(cmd, "cut") == 0 || strcmp(cmd, "heal") == 0 || strcmp(cmd, "slow") == 0 ||
	    strcmp(cmd, "reset") == 0) {
		return cmd_link(&sc, c, cmd);
	}
	if (strcmp(cmd, "proxy") == 0) {
		return proxy_main(&sc) == 0 ? 0 : 1;
	}
	if (c->nwords != 1) {
		return usage_error("%s needs one NAME", cmd);
	}
	if (strcmp(cmd, "pg-restart") == 0) {
		if (sc_cluster(&sc, name) == NULL) {
			return usage_error("no [postgres %s] in the scenario", name);
		}
		if (db_cluster_restart(sc.dir, name, err, sizeof(err)) != 0) {
			fprintf(stderr, "xact-harness: %s\n", err);
			return 1;
		}
		return 0;
	}
	if (sc_part(&sc, name) == NULL && strcmp(name, sc.coord.name) != 0 &&
	    strcmp(name, "proxy") != 0) {
		return usage_error("no process %s in the scenario", name);
	}
	if (strcmp(cmd, "start") == 0) {
		return cmd_start(&sc, c, name);
	}
	if (strcmp(cmd, "stop") == 0) {
		int sig = c->sig > 0 ? c->sig : SIGTERM;

		return proc_stop(sc.dir, name, sig, c->timeout > 0 ? c->timeout * 1000 : 10000) == 0 ? 0 : 1;
	}
	if (strcmp(cmd, "kill") == 0) {
		if (proc_signal(sc.dir, name, c->sig > 0 ? c->sig : SIGKILL) != 0) {
			fprintf(stderr, "xact-harness: %s is not running\n", name);
			return 1;
		}
		return 0;
	}
	if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0) {
		if (proc_signal(sc.dir, name, cmd[0] == 'p' ? SIGSTOP : SIGCONT) != 0) {
			fprintf(stderr, "xact-harness: %s is not running\n", name);
			return 1;
		}
		return 0;
	}
	if (strcmp(cmd, "wait") == 0) {
		if (proc_wait(sc.dir, name, c->timeout > 0 ? c->timeout * 1000 : 10000, &status) != 0) {
			fprintf(stderr, "xact-harness: %s still runs\n", name);
			return 1;
		}
		printf("%d\n", status);
		return 0;
	}
	return usage_error("unknown command %s", cmd);
}

static int
dispatch(int argc, char **argv)
{
	struct cli c;
	const char *cmd;
	int rc;

	memset(&c, 0, sizeof(c));
	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if ((rc = parse(&c, argc, argv)) != 0) {
		return rc;
	}
	install_signals();
	if (strcmp(cmd, "up") == 0) {
		return cmd_up(&c);
	}
	if (strcmp(cmd, "run") == 0 || strcmp(cmd, "chaos") == 0) {
		return cmd_run(&c, cmd[0] == 'c');
	}
	if (strcmp(cmd, "port") == 0) {
		printf("%d\n", sc_free_port());
		return 0;
	}
	return on_running(cmd, &c);
}

int
main(int argc, char **argv)
{
	int rc = dispatch(argc, argv);

	/* Closed client sockets are reaped in the background: let nng finish
	 * before exit, so that leak checkers see only real leaks. */
	nng_fini();
	return rc;
}
