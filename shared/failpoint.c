/*
 * failpoint.c - the table of armed failpoints.  It is written once, at
 * start-up, before any thread runs, and only read afterwards; hit counters
 * are atomic.
 */
#include "failpoint.h"

#include "log.h"
#include "xact.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FP_MAX 32

enum fp_action { FP_CRASH, FP_ERROR, FP_DELAY };

struct failpoint {
	char name[64];
	enum fp_action action;
	long delay_ms;
	long nth; /* 0: every hit */
	atomic_long hits;
};

/* Every failpoint in the code; XACT_FAILPOINTS naming another is refused,
 * so that a typo cannot make a fault test pass by testing nothing. */
static const char *const known[] = {
	"coord.before_prepare", "coord.before_decision", "coord.after_decision",
	"coord.after_commit_sent", "coord.before_commit_send", "coord.before_abort", "journal.write", "journal.after_write",
	"part.before_exec", "part.after_exec", "part.before_vote", "part.after_commit",
	"part.after_abort", "pg.before_prepare", "pg.after_prepare", "pg.before_commit_prepared",
	"pg.after_commit_prepared", "pg.before_rollback_prepared", "pg.after_rollback_prepared",
	"sqlite.before_log", "sqlite.after_log", "sqlite.before_commit", "sqlite.after_commit",
	"coord.before_precommit", "coord.after_precommit", "coord.after_precommit_sent",
	"coord.after_precommits", "part.before_precommit_ack", "term.after_states",
	"term.after_precommit", "term.after_first_decision",
	"coord.before_one_phase", "coord.after_one_phase", "part.before_commit_one_phase",
	"part.after_commit_one_phase",
	"test.commit_as_abort", /* breaks atomicity on purpose: tests of the checker only */
};

int failpoint_armed;
static struct failpoint points[FP_MAX];
static int npoints;

int
failpoint_known(const char *name)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++) {
		if (strcmp(known[i], name) == 0) {
			return 1;
		}
	}
	return 0;
}

static int
parse_one(char *item)
{
	char *eq = strchr(item, '=');
	char *at, *end;
	struct failpoint *fp;

	if (eq == NULL || eq == item || npoints == FP_MAX) {
		return -1;
	}
	*eq = '\0';
	fp = &points[npoints];
	if (!failpoint_known(item)) {
		return -1;
	}
	strcpy(fp->name, item);
	fp->nth = 0;
	if ((at = strchr(eq + 1, '@')) != NULL) {
		*at = '\0';
		fp->nth = strtol(at + 1, &end, 10);
		if (fp->nth <= 0 || *end != '\0') {
			return -1;
		}
	}
	if (strcmp(eq + 1, "crash") == 0) {
		fp->action = FP_CRASH;
	} else if (strcmp(eq + 1, "error") == 0) {
		fp->action = FP_ERROR;
	} else if (strncmp(eq + 1, "delay:", 6) == 0) {
		fp->action = FP_DELAY;
		fp->delay_ms = strtol(eq + 7, &end, 10);
		if (fp->delay_ms <= 0 || *end != '\0') {
			return -1;
		}
	} else {
		return -1;
	}
	atomic_init(&fp->hits, 0);
	npoints++;
	return 0;
}

int
failpoint_configure(const char *spec)
{
	char buf[1024];
	char *save = NULL;

	npoints = 0;
	failpoint_armed = 0;
	if (spec == NULL || *spec == '\0') {
		return 0;
	}
	if (strlen(spec) >= sizeof(buf)) {
		return -1;
	}
	strcpy(buf, spec);
	for (char *it = strtok_r(buf, ",;", &save); it != NULL;
	     it = strtok_r(NULL, ",;", &save)) {
		if (parse_one(it) != 0) {
			npoints = 0;
			return -1;
		}
	}
	failpoint_armed = npoints > 0;
	return 0;
}

int
failpoint_init(void)
{
	const char *spec = getenv("XACT_FAILPOINTS");

	if (failpoint_configure(spec) != 0) {
		log_error("bad XACT_FAILPOINTS value=\"%s\" (expected NAME=crash|error|delay:MS[@N],... "
		          "with NAME one of the failpoints in docs/protocol.md)", spec);
		return -1;
	}
	return 0;
}

int
failpoint_set(const char *name)
{
	for (int i = 0; failpoint_armed && i < npoints; i++) {
		if (strcmp(points[i].name, name) == 0) {
			return 1;
		}
	}
	return 0;
}

int
failpoint_hit(const char *name)
{
	for (int i = 0; i < npoints; i++) {
		struct failpoint *fp = &points[i];
		long n;

		if (strcmp(fp->name, name) != 0) {
			continue;
		}
		n = atomic_fetch_add(&fp->hits, 1) + 1;
		if (fp->nth != 0 && n != fp->nth) {
			return 0;
		}
		log_warn("failpoint fired name=%s action=%s hit=%ld", name,
		    fp->action == FP_CRASH ? "crash" :
		    fp->action == FP_ERROR ? "error" : "delay", n);
		switch (fp->action) {
		case FP_CRASH:
			kill(getpid(), SIGKILL);
			_exit(137);
		case FP_ERROR:
			return XACT_EFAILPOINT;
		case FP_DELAY: {
			struct timespec ts = {fp->delay_ms / 1000,
			    (fp->delay_ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
			return 0;
		}
		}
	}
	return 0;
}
