/*
 * run.c - `run` and `chaos`: bring a scenario up, drive its workload while
 * a fault thread injects the faults (one after another, in the order of
 * their moments, each undone after its duration), restart whatever is
 * down, let recovery settle, check the invariants, report, and bring it
 * down.  chaos repeats this on one environment with one random fault per
 * run, drawn from a seed that replays it.
 */
#include "harness.h"

#include "xact.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct fault_log {
	char text[4096];
	size_t len;
};

struct faulter {
	const struct scenario *sc;
	const struct sc_fault *faults;
	int n;
	double t0;          /* when the workload started (monotonic s) */
	volatile int done;  /* the workload ended: finish what is pending */
	struct fault_log log;
	int killed[H_MAX + 1]; /* down on purpose: a fault stopped it, not yet back */
	int unexpected;        /* an armed process died otherwise than at its failpoint */
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: the one random source of a run, so a seed replays it. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static double
rnd_between(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * (double)(rnd(s) >> 11) / (double)(1ULL << 53);
}

/* Appends "t=SECONDS " and the formatted line to the fault log; a log
 * that is full drops the line. */
static void __attribute__((format(printf, 2, 3)))
note(struct faulter *fz, const char *fmt, ...)
{
	size_t room = sizeof(fz->log.text) - fz->log.len;
	int n = snprintf(fz->log.text + fz->log.len, room, "t=%.2f ", now_s() - fz->t0);
	va_list ap;

	if (n > 0 && (size_t)n < room) {
		va_start(ap, fmt);
		int m = vsnprintf(fz->log.text + fz->log.len + n, room - (size_t)n, fmt, ap);
		va_end(ap);
		if (m >= 0 && (size_t)(n + m) < room) {
			fz->log.len += (size_t)(n + m);
		} else {
			fz->log.text[fz->log.len] = '\0';
		}
	}
}

/* Sleeps until t (monotonic s) or the workload ends. */
static void
sleep_until(struct faulter *fz, double t, int even_if_done)
{
	while (now_s() < t && !h_interrupted && (even_if_done || !fz->done)) {
		h_sleep_ms(10);
	}
}

static int
proc_index(const struct scenario *sc, const char *name)
{
	const struct sc_participant *p = sc_part(sc, name);

	return p != NULL ? (int)(p - sc->parts) : sc->nparts; /* else the coordinator */
}

/* Stops name (if it runs) and starts it with env; once it runs again, a
 * later death of it is its own doing. */
static void
restart(struct faulter *fz, const char *name, const char *const env[])
{
	char err[512];

	proc_stop(fz->sc->dir, name, SIGTERM, 10000);
	if (env_start(fz->sc, name, NULL, 0, env, err, sizeof(err)) != 0) {
		note(fz, "cannot restart %s: %s\n", name, err);
		return;
	}
	fz->killed[proc_index(fz->sc, name)] = 0;
}

/* crash_at: restart armed; once it died (or the workload ended), wait the
 * downtime and restart plain. */
static void
fault_crash_at(struct faulter *fz, const struct sc_fault *f)
{
	static const char *const plain[] = {"XACT_FAILPOINTS", NULL};
	char spec[128], envv[160];
	const char *armed[] = {envv, NULL};
	int status;

	snprintf(spec, sizeof(spec), "%s=crash@%d", f->failpoint, f->hit);
	snprintf(envv, sizeof(envv), "XACT_FAILPOINTS=%s", spec);
	note(fz, "arm %s with %s\n", f->target, spec);
	restart(fz, f->target, armed);
	while (!fz->done && !h_interrupted && proc_pid(fz->sc->dir, f->target) != 0) {
		h_sleep_ms(10);
	}
	fz->killed[proc_index(fz->sc, f->target)] = 1;
	if (proc_pid(fz->sc->dir, f->target) != 0) {
		note(fz, "%s not hit; disarmed\n", f->target);
	} else if (proc_wait(fz->sc->dir, f->target, 5000, &status) == 0 && status == 137) {
		note(fz, "%s crashed at its failpoint\n", f->target); /* SIGKILL, by itself */
	} else {
		note(fz, "%s died with status %d while armed, not at its failpoint\n", f->target, status);
		fz->unexpected++;
	}
	sleep_until(fz, now_s() + f->duration, 1);
	restart(fz, f->target, plain);
}

static void
fault_apply(struct faulter *fz, const struct sc_fault *f)
{
	const struct scenario *sc = fz->sc;
	char cmd[128], err[512];

	switch (f->type) {
	case F_KILL:
		note(fz, "kill -9 %s\n", f->target);
		fz->killed[proc_index(sc, f->target)] = 1;
		proc_stop(sc->dir, f->target, SIGKILL, 5000);
		sleep_until(fz, now_s() + f->duration, 1);
		note(fz, "restart %s\n", f->target);
		restart(fz, f->target, NULL);
		break;
	case F_CRASH_AT:
		fault_crash_at(fz, f);
		break;
	case F_PAUSE:
		note(fz, "pause %s\n", f->target);
		proc_signal(sc->dir, f->target, SIGSTOP);
		sleep_until(fz, now_s() + f->duration, 1);
		proc_signal(sc->dir, f->target, SIGCONT);
		note(fz, "resume %s\n", f->target);
		break;
	case F_CUT:
	case F_SLOW:
		if (f->type == F_CUT) {
			snprintf(cmd, sizeof(cmd), "cut %s", f->target);
		} else {
			snprintf(cmd, sizeof(cmd), "slow %s %d", f->target, f->delay_ms);
		}
		note(fz, "%s%s\n", cmd, proxy_command(sc->dir, cmd, err, sizeof(err)) ? " (failed)" : "");
		sleep_until(fz, now_s() + f->duration, 1);
		snprintf(cmd, sizeof(cmd), "heal %s", f->target);
		note(fz, "%s%s\n", cmd, proxy_command(sc->dir, cmd, err, sizeof(err)) ? " (failed)" : "");
		break;
	case F_PG_RESTART:
		note(fz, "restart PostgreSQL %s\n", f->target);
		if (db_cluster_restart(sc->dir, f->target, err, sizeof(err)) != 0) {
			note(fz, "%s\n", err);
		}
		break;
	default:
		break;
	}
}

static int
by_moment(const void *a, const void *b)
{
	const struct sc_fault *x = a, *y = b;

	return (x->at > y->at) - (x->at < y->at);
}

static void *
faulter_main(void *arg)
{
	struct faulter *fz = arg;

	for (int i = 0; i < fz->n && !h_interrupted; i++) {
		sleep_until(fz, fz->t0 + fz->faults[i].at, 0);
		if (h_interrupted) {
			break;
		}
		if (fz->done && fz->faults[i].type != F_CRASH_AT) {
			note(fz, "fault %s skipped: the workload ended first\n", fz->faults[i].name);
			continue;
		}
		fault_apply(fz, &fz->faults[i]);
	}
	return NULL;
}

/* Restarts every process that is not running.  One that ended without a
 * fault stopping it is reported: a daemon must not die by itself. */
static int
revive(struct faulter *fz)
{
	const struct scenario *sc = fz->sc;
	int bad = 0;

	for (int i = 0; i < sc->nparts + (sc->nparts > 0); i++) {
		const char *name = i < sc->nparts ? sc->parts[i].name : sc->coord.name;
		char err[512];
		int status;

		if (proc_pid(sc->dir, name) != 0) {
			continue;
		}
		if (!fz->killed[i] && proc_wait(sc->dir, name, 0, &status) == 0) {
			printf("VIOLATION %s exited by itself with status %d (log: %s/%s.log)\n", name,
			    status, sc->dir, name);
			bad++;
		}
		if (env_start(sc, name, NULL, 0, NULL, err, sizeof(err)) != 0) {
			printf("cannot restart %s: %s\n", name, err);
			bad++;
		}
	}
	return bad;
}

struct outcome {
	struct wl_result r;
	struct fault_log log;
	int violations;
	int settled;
	int failed; /* could not run or check */
	char err[512];
};

static void
print_workload(const struct wl_result *r)
{
	printf("workload: %zu transactions in %.1f s: %ld committed, %ld aborted, %ld unknown; "
	       "latency p50 %.1f ms, p99 %.1f ms\n", r->n, r->seconds, r->committed, r->aborted,
	    r->unknown, r->p50_ms, r->p99_ms);
	fflush(stdout);
}

/* One round: the workload with faults, revive, settle, check; verbose
 * prints the workload's figures before the checks' findings. */
static void
round_run(struct scenario *sc, long first, const struct sc_fault *faults, int nfaults,
    struct outcome *o, int verbose)
{
	struct faulter fz = {.sc = sc, .faults = faults, .n = nfaults};
	long before = 0, *inv = NULL;
	pthread_t th;
	int have_thread;

	memset(o, 0, sizeof(*o));
	if (sc->wl.invariant[0] != '\0') {
		if (check_invariant(sc, &before, o->err, sizeof(o->err)) != 0) {
			o->failed = 1;
			return;
		}
		inv = &before;
	}
	fz.t0 = now_s();
	have_thread = pthread_create(&th, NULL, faulter_main, &fz) == 0;
	if (sc->wl.type != WL_NONE && wl_run(sc, first, &o->r, o->err, sizeof(o->err)) != 0) {
		o->failed = 1;
	} else if (sc->wl.type == WL_NONE) {
		sleep_until(&fz, fz.t0 + sc->wl.duration, 0);
	}
	fz.done = 1;
	if (have_thread) {
		pthread_join(th, NULL);
	}
	o->log = fz.log;
	o->violations += fz.unexpected;
	if (verbose) {
		print_workload(&o->r);
		if (o->log.len > 0) {
			printf("faults:\n%s", o->log.text);
		}
	}
	o->violations += revive(&fz);
	o->settled = check_settle(sc) == 0;
	if (!o->failed) {
		int v = check_all(sc, &o->r, inv, o->err, sizeof(o->err));

		if (v < 0) {
			o->failed = 1;
		} else {
			o->violations += v;
		}
	}
	fflush(stdout);
}

static void
json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			fprintf(f, "\\%c", *s);
		} else if ((unsigned char)*s < 0x20) {
			fprintf(f, "\\u%04x", *s);
		} else {
			fputc(*s, f);
		}
	}
	fputc('"', f);
}

static int
write_report(const struct scenario *sc, const struct outcome *o, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		perror(path);
		return -1;
	}
	fprintf(f, "{\"scenario\":");
	json_string(f, sc->path);
	fprintf(f, ",\"transactions\":%zu,\"committed\":%ld,\"aborted\":%ld,\"unknown\":%ld,"
	    "\"seconds\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"settled\":%s,\"violations\":%d,"
	    "\"faults\":", o->r.n, o->r.committed, o->r.aborted, o->r.unknown, o->r.seconds,
	    o->r.p50_ms, o->r.p99_ms, o->settled ? "true" : "false", o->violations);
	json_string(f, o->log.text);
	fprintf(f, ",\"error\":");
	json_string(f, o->err);
	fprintf(f, "}\n");
	return fclose(f) == 0 ? 0 : -1;
}

/* `at = random`: a moment in the first 70% of the workload (its duration,
 * or 5 s when it runs a number of transactions), drawn from [harness] seed
 * so that a rerun injects at the same moments. */
static void
draw_moments(struct scenario *sc)
{
	uint64_t s = sc->seed * 0x9E3779B97F4A7C15ULL + 7;
	double span = sc->wl.duration > 0 ? sc->wl.duration : 5;

	for (int i = 0; i < sc->nfaults; i++) {
		if (sc->faults[i].at_random) {
			sc->faults[i].at = rnd_between(&s, 0.05, 0.7) * span;
		}
	}
}

/* With keep, everything is left running for inspection; else it is
 * stopped, and the state folder (logs, journal, databases) kept only when
 * something went wrong. */
static void
finish(const struct scenario *sc, int keep, int failed)
{
	if (keep) {
		printf("left running: %s (xact-harness env --dir %s; xact-harness down --dir %s)\n",
		    sc->dir, sc->dir, sc->dir);
		return;
	}
	if (failed) {
		printf("stopped; files kept for inspection in %s\n", sc->dir);
	}
	env_down(sc->dir, failed);
}

int
run_scenario(struct scenario *sc, const char *report, int keep)
{
	char err[1024];
	struct outcome o;
	int rc;

	if (env_up(sc, err, sizeof(err)) != 0) {
		fprintf(stderr, "xact-harness: %s\n", err);
		return 2;
	}
	printf("up: %s (state folder %s)\n", sc->path, sc->dir);
	fflush(stdout);
	draw_moments(sc);
	qsort(sc->faults, (size_t)sc->nfaults, sizeof(sc->faults[0]), by_moment);
	round_run(sc, 1, sc->faults, sc->nfaults, &o, 1);
	if (o.failed) {
		printf("error: %s\n", o.err);
	}
	printf("recovery %s; %d violation(s)\n", o.settled ? "settled" : "did NOT settle",
	    o.violations);
	if (report != NULL && write_report(sc, &o, report) == 0) {
		printf("report: %s\n", report);
	}
	if (h_interrupted) {
		printf("interrupted: the checks above may be incomplete\n");
	}
	rc = o.failed || h_interrupted ? 2 : o.violations > 0 ? 1 : 0;
	finish(sc, keep, rc != 0);
	wl_result_free(&o.r);
	return rc;
}

/* ---- chaos ---- */

static const char *const coord_points[] = {
	"coord.before_prepare", "coord.before_decision", "coord.after_decision",
	"coord.after_commit_sent", "coord.before_abort", "journal.write", "journal.after_write",
	"coord.before_one_phase", "coord.after_one_phase",
};
static const char *const part_points[] = {
	"part.before_exec", "part.after_exec", "part.before_vote", "part.after_commit",
	"part.after_abort", "part.before_commit_one_phase", "part.after_commit_one_phase",
};
static const char *const pg_points[] = {
	"pg.before_prepare", "pg.after_prepare", "pg.before_commit_prepared",
	"pg.after_commit_prepared", "pg.before_rollback_prepared", "pg.after_rollback_prepared",
};
static const char *const sqlite_points[] = {
	"sqlite.before_log", "sqlite.after_log", "sqlite.before_commit", "sqlite.after_commit",
};
/* Three-phase commit's own, drawn instead when the workload runs 3PC. */
static const char *const coord_3pc_points[] = {
	"coord.before_prepare", "coord.before_precommit", "coord.after_precommit",
	"coord.after_precommit_sent", "coord.after_precommits", "coord.after_decision",
	"coord.after_commit_sent", "journal.write", "journal.after_write",
	"term.after_states", "term.after_precommit", "term.after_first_decision",
};
static const char *const part_3pc_points[] = {
	"part.before_vote", "part.before_precommit_ack", "part.after_commit", "part.after_abort",
	"term.after_states", "term.after_precommit", "term.after_first_decision",
};

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A failpoint of target's code, drawn from s. */
static const char *
pick_failpoint(const struct scenario *sc, const char *target, uint64_t *s)
{
	const struct sc_participant *p = sc_part(sc, target);
	const struct sc_database *d;
	int k;

	int tpc = sc->wl.protocol == XACT_PROTOCOL_3PC;

	if (p == NULL) {
		return tpc ? coord_3pc_points[rnd(s) % NELEM(coord_3pc_points)]
		           : coord_points[rnd(s) % NELEM(coord_points)];
	}
	d = sc_database(sc, p->database);
	k = (int)(rnd(s) % 2);
	if (k == 0) {
		return tpc ? part_3pc_points[rnd(s) % NELEM(part_3pc_points)]
		           : part_points[rnd(s) % NELEM(part_points)];
	}
	return d->kind == DB_SQLITE ? sqlite_points[rnd(s) % NELEM(sqlite_points)]
	                            : pg_points[rnd(s) % NELEM(pg_points)];
}

/* Draws run's one fault from its seed. */
static void
draw_fault(const struct scenario *sc, uint64_t seed, double duration, struct sc_fault *f)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
	enum fault_type types[F_COUNT];
	int nt = 0, np = sc->nparts + 1;

	for (int t = 0; t < F_COUNT; t++) {
		if ((t != F_CUT && t != F_SLOW) || sc->coord.proxy) {
			if (t != F_PG_RESTART || sc->nclusters > 0) {
				types[nt++] = (enum fault_type)t;
			}
		}
	}
	rnd(&s);
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "chaos");
	f->type = types[rnd(&s) % (uint64_t)nt];
	f->at = rnd_between(&s, 0.1, 0.6) * duration;
	f->duration = rnd_between(&s, 0.2, 1.5);
	f->hit = 1 + (int)(rnd(&s) % 8);
	f->delay_ms = 10 + (int)(rnd(&s) % 190);
	if (f->type == F_PG_RESTART) {
		snprintf(f->target, sizeof(f->target), "%s",
		    sc->clusters[rnd(&s) % (uint64_t)sc->nclusters].name);
	} else if (f->type == F_CUT || f->type == F_SLOW) {
		snprintf(f->target, sizeof(f->target), "%s",
		    sc->parts[rnd(&s) % (uint64_t)sc->nparts].name);
	} else {
		int k = (int)(rnd(&s) % (uint64_t)np);

		snprintf(f->target, sizeof(f->target), "%s",
		    k < sc->nparts ? sc->parts[k].name : sc->coord.name);
	}
	if (f->type == F_CRASH_AT) {
		f->at = 0;
		snprintf(f->failpoint, sizeof(f->failpoint), "%s", pick_failpoint(sc, f->target, &s));
	}
}

/* Prints text's lines, the first after head, the others aligned with it. */
static void
print_indented(const char *head, const char *text)
{
	const char *line = text;

	printf("%s", head);
	while (*line != '\0') {
		const char *nl = strchr(line, '\n');
		int len = nl != NULL ? (int)(nl - line) : (int)strlen(line);

		printf("%s%.*s\n", line == text ? "" : "             ", len, line);
		line += len + (nl != NULL);
	}
}

static void
describe(const struct sc_fault *f, char *buf, size_t n)
{
	switch (f->type) {
	case F_CRASH_AT:
		snprintf(buf, n, "crash_at %s@%d", f->failpoint, f->hit);
		break;
	case F_SLOW:
		snprintf(buf, n, "slow %dms %.1fs at %.1fs", f->delay_ms, f->duration, f->at);
		break;
	case F_PG_RESTART:
		snprintf(buf, n, "pg_restart at %.1fs", f->at);
		break;
	default:
		snprintf(buf, n, "%s %.1fs at %.1fs", sc_fault_name(f->type), f->duration, f->at);
	}
}

int
run_chaos(struct scenario *sc, int runs, uint64_t seed, double duration, int keep)
{
	char err[1024], what[160];
	int failed_runs = 0, errors = 0;

	if (sc->wl.type != WL_BANK) {
		fprintf(stderr, "xact-harness: chaos needs a bank workload ([workload] type = bank)\n");
		rmdir(sc->dir); /* made for this run, still empty */
		return 2;
	}
	sc->wl.transfers = 0;
	sc->wl.duration = duration;
	if (env_up(sc, err, sizeof(err)) != 0) {
		fprintf(stderr, "xact-harness: %s\n", err);
		return 2;
	}
	printf("chaos: %d runs of %.1f s from seed %llu on %s (state folder %s)\n", runs, duration,
	    (unsigned long long)seed, sc->path, sc->dir);
	printf("%-4s %-8s %-10s %-44s %6s %6s %6s  %s\n", "run", "seed", "target", "fault",
	    "commit", "abort", "unknwn", "verdict");
	for (int k = 0; k < runs && !h_interrupted; k++) {
		uint64_t rs = seed + (uint64_t)k;
		struct sc_fault f;
		struct outcome o;

		draw_fault(sc, rs, duration, &f);
		describe(&f, what, sizeof(what));
		if (wl_bank_reset(sc, err, sizeof(err)) != 0) {
			printf("cannot reset the bank tables: %s\n", err);
			errors++;
			break;
		}
		round_run(sc, (long)(k + 1) * 1000000L, &f, 1, &o, 0);
		printf("%-4d %-8llu %-10s %-44s %6ld %6ld %6ld  %s\n", k + 1, (unsigned long long)rs,
		    f.target, what, o.r.committed, o.r.aborted, o.r.unknown,
		    o.failed ? "ERROR" : o.violations > 0 ? "VIOLATION" : "ok");
		if (o.failed) {
			printf("     error: %s\n", o.err);
			errors++;
		}
		if (o.violations > 0 || o.failed) {
			print_indented("     faults: ", o.log.text);
			printf("     reproduce: xact-harness chaos %s --runs 1 --seed %llu --duration %g\n",
			    sc->path, (unsigned long long)rs, duration);
			failed_runs++;
		}
		fflush(stdout);
		wl_result_free(&o.r);
		if (errors > 0 || failed_runs > 0) {
			/* What a violation left (a branch still prepared, a stray
			 * row) would be blamed on the next seed: stop here. */
			break;
		}
	}
	if (h_interrupted) {
		printf("chaos: interrupted\n");
		errors++;
	}
	printf("chaos: %d run(s) with violations or errors\n", failed_runs);
	finish(sc, keep, failed_runs > 0 || errors > 0);
	return errors > 0 ? 2 : failed_runs > 0 ? 1 : 0;
}
