/*
 * workload.c - the bank and SQL workloads of xact-harness, driven through
 * the public client API (xact.h) exactly as an application would.
 *
 * Owns: one xact_client per client thread (reopened after a call got no
 * answer), the numbering of transactions, DIR/outcomes, and the wl_result
 * the checks later read.  A transaction whose fate is unknown is recorded as
 * "unknown", never retried: the coordinator decides it.
 * Never: prints to stdout (the caller reports), starts or stops processes,
 * or touches a database except through db_query in wl_bank_reset.
 */
#include "harness.h"
#include "xact.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WL_MAX_CLIENTS 256
#define WL_MAX_STMTS 64 /* statements in one transaction of a SQL file */
#define WL_EXPECTED "ledger_amount_check"

/* One statement to run: participant name, SQL, its $1..$n. */
struct stmt {
	const char *part;
	const char *sql;
	int nparams;
	const char *params[2];
};

/* What one transaction came to. */
struct attempt {
	const char *outcome;  /* "committed", "aborted" or "unknown" */
	char gid[64];         /* "-" when begin failed */
	char error[512];      /* text of the failure, "" when none */
	int exec_failed;      /* a statement failed in its database */
	int reopen;           /* some call got no answer: reopen the client */
};

/* A SQL file, parsed: statements, and blocks of them (transactions). */
struct sql_stmt {
	int part; /* index in sc->parts */
	char *sql;
};

struct sql_block {
	size_t first;
	int n;
};

struct sql_file {
	struct sql_stmt *stmt;
	size_t nstmt, stmtcap;
	struct sql_block *block;
	size_t nblocks, blockcap;
};

/* Shared by the client threads; everything below `lock` is under it. */
struct run {
	const struct scenario *sc;
	char url[H_TEXT];
	int pmap[H_MAX]; /* bank: participant k of the workload -> sc->parts */
	int np;
	struct sql_file sql;
	long first;
	double deadline; /* monotonic ms; 0: none */
	pthread_mutex_t lock;
	long next;
	int stop;
	struct wl_result *r;
	FILE *outf;
	int outf_warned;
	double *lat;
	size_t nlat, latcap;
	char failed[256]; /* why the run must report -1, "" when it need not */
	int sql_warned;
};

struct worker {
	struct run *run;
	xact_client *c;
	pthread_t th;
};

/* Milliseconds of CLOCK_MONOTONIC.  Cannot fail. */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Whether rv means that no answer came.  Cannot fail. */
static int
is_transport(int rv)
{
	return rv == XACT_ETIMEDOUT || rv == XACT_EUNREACHABLE || rv == XACT_ECLOSED;
}

/* ---- results ---- */

/* Appends o to r and counts it.  On out of memory returns -1 and r is
 * unchanged. */
static int
result_add(struct wl_result *r, const struct wl_outcome *o)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct wl_outcome *p = realloc(r->out, cap * sizeof(*p));

		if (p == NULL) {
			return -1;
		}
		r->out = p;
		r->cap = cap;
	}
	r->out[r->n++] = *o;
	if (strcmp(o->outcome, "committed") == 0) {
		r->committed++;
	} else if (strcmp(o->outcome, "aborted") == 0) {
		r->aborted++;
	} else {
		r->unknown++;
	}
	return 0;
}

void
wl_result_free(struct wl_result *r)
{
	free(r->out);
	memset(r, 0, sizeof(*r));
}

/* Whether s is one of the three outcomes.  Cannot fail. */
static int
valid_outcome(const char *s)
{
	return strcmp(s, "committed") == 0 || strcmp(s, "aborted") == 0 ||
	    strcmp(s, "unknown") == 0;
}

/* Parses "XFER OUTCOME GID" into o.  Returns -1 when line is not that. */
static int
parse_outcome(const struct scenario *sc, char *line, struct wl_outcome *o)
{
	char *xs, *oc, *gid, *parts, *end, *save, *psave, *name;

	memset(o, 0, sizeof(*o));
	xs = strtok_r(line, " \t\r\n", &save);
	oc = strtok_r(NULL, " \t\r\n", &save);
	gid = strtok_r(NULL, " \t\r\n", &save);
	parts = strtok_r(NULL, " \t\r\n", &save);
	if (gid == NULL || strtok_r(NULL, " \t\r\n", &save) != NULL) {
		return -1;
	}
	/* The optional fourth field names the participants it wrote on. */
	for (name = parts != NULL ? strtok_r(parts, ",", &psave) : NULL; name != NULL;
	     name = strtok_r(NULL, ",", &psave)) {
		const struct sc_participant *p = sc_part(sc, name);

		if (p == NULL) {
			return -1;
		}
		o->parts[p - sc->parts] = 1;
	}
	errno = 0;
	o->xfer = strtol(xs, &end, 10);
	if (errno != 0 || *end != '\0' || !valid_outcome(oc) || strlen(gid) >= sizeof(o->gid)) {
		return -1;
	}
	strcpy(o->outcome, oc);
	strcpy(o->gid, gid);
	return 0;
}

/* Whether line holds only blanks.  Cannot fail. */
static int
is_blank(const char *line)
{
	return line[strspn(line, " \t\r\n")] == '\0';
}

int
wl_read_outcomes(const struct scenario *sc, const char *path, struct wl_result *r, char *err,
    size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	long lineno = 0;
	struct wl_outcome o;
	int rv = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rv == 0 && getline(&line, &cap, f) != -1) {
		lineno++;
		if (is_blank(line)) {
			continue; /* a trailing empty line of a user's program */
		}
		if (parse_outcome(sc, line, &o) != 0) {
			snprintf(err, errlen, "%s:%ld: expected XFER OUTCOME GID", path, lineno);
			rv = -1;
		} else if (result_add(r, &o) != 0) {
			snprintf(err, errlen, "%s:%ld: out of memory", path, lineno);
			rv = -1;
		}
	}
	if (rv == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rv = -1;
	}
	free(line);
	fclose(f);
	return rv;
}

/* Nearest-rank percentile p of the sorted v[0..n-1]; 0 when n is 0. */
static double
percentile(const double *v, size_t n, int p)
{
	size_t k = (n * (size_t)p + 99) / 100;

	return n == 0 ? 0.0 : v[k > 0 ? k - 1 : 0];
}

/* qsort order of doubles.  Cannot fail. */
static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ---- bank ---- */

int
wl_bank_reset(const struct scenario *sc, char *err, size_t errlen)
{
	char sql[192], why[512];

	for (int i = 0; i < sc->ndatabases; i++) {
		const struct sc_database *d = &sc->databases[i];

		if (!d->bank) {
			continue;
		}
		/* A branch still holding its rows makes this fail, not hang. */
		snprintf(sql, sizeof(sql), "%sDELETE FROM ledger; UPDATE accounts SET balance = %ld",
		    d->kind == DB_POSTGRES ? "SET lock_timeout = 10000; " : "", sc->wl.balance);
		if (db_query(sc, d, sql, NULL, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s: bank reset: %s", d->name, why);
			return -1;
		}
	}
	return 0;
}

/* Maps the workload's participants (all, when it names none) to indexes in
 * sc->parts.  Returns -1 with err on an unknown name or fewer than two. */
static int
bank_map(struct run *run, char *err, size_t errlen)
{
	const struct scenario *sc = run->sc;
	const struct sc_workload *wl = &sc->wl;

	run->np = wl->nparticipants > 0 ? wl->nparticipants : sc->nparts;
	for (int k = 0; k < run->np && wl->nparticipants > 0; k++) {
		const struct sc_participant *p = sc_part(sc, wl->participants[k]);

		if (p == NULL) {
			snprintf(err, errlen, "workload: unknown participant '%s'",
			    wl->participants[k]);
			return -1;
		}
		run->pmap[k] = (int)(p - sc->parts);
	}
	for (int k = 0; k < run->np && wl->nparticipants == 0; k++) {
		run->pmap[k] = k;
	}
	if (run->np < 2 || wl->accounts < 1) {
		snprintf(err, errlen, "workload: bank needs two participants and one account");
		return -1;
	}
	return 0;
}

/* Whether transfer x is chosen to fail: every abort_every-th, or by the
 * abort ratio; deterministic, so that a rerun fails the same transfers.
 * Cannot fail. */
static int
bank_failing(const struct run *run, long x)
{
	if (run->sc->wl.abort_every > 0) {
		return x % run->sc->wl.abort_every == 0;
	}
	return ((unsigned long)x * 2654435761u) % 10000 < run->sc->wl.abort_ratio * 10000;
}

/* The statements of transfer x (four; three within one database), their
 * parameters in b's buffers. */
struct bank_xfer {
	char amount[24], neg[24], from[24], to[24], xs[24];
	struct stmt st[4];
	int nst;
	int src, dst; /* indexes in sc->parts */
	int failing;
};

void
wl_outcome_parts(const struct scenario *sc, const struct wl_outcome *o, char *buf, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < sc->nparts && len < n; i++) {
		if (o->parts[i]) {
			len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "," : "",
			    sc->parts[i].name);
		}
	}
}

void
wl_bank_route(const struct scenario *sc, long x, int *from, int *to)
{
	long n = sc->wl.nparticipants;

	int local = sc->wl.local_every > 0 && x % sc->wl.local_every == 1 % sc->wl.local_every;

	*from = (int)(x % n);
	*to = local ? *from : (int)((*from + 1 + (x / n) % (n - 1)) % n);
}

/* Plans transfer x into b.  Cannot fail. */
static void
bank_plan(const struct run *run, long x, struct bank_xfer *b)
{
	long accounts = run->sc->wl.accounts;
	int i, j;
	const struct sc_participant *parts = run->sc->parts;

	wl_bank_route(run->sc, x, &i, &j);
	b->src = run->pmap[i];
	b->dst = run->pmap[j];
	b->failing = bank_failing(run, x);
	snprintf(b->amount, sizeof(b->amount), "%ld", 1 + x % 7);
	snprintf(b->neg, sizeof(b->neg), "%ld", -(1 + x % 7));
	snprintf(b->from, sizeof(b->from), "%ld", x % accounts);
	snprintf(b->to, sizeof(b->to), "%ld", (x * 7) % accounts);
	snprintf(b->xs, sizeof(b->xs), "%ld", x);
	b->st[0] = (struct stmt){parts[b->src].name,
	    "UPDATE accounts SET balance = balance - $1 WHERE id = $2", 2, {b->amount, b->from}};
	b->st[1] = (struct stmt){parts[b->src].name,
	    "INSERT INTO ledger (xfer, amount) VALUES ($1, $2)", 2, {b->xs, b->amount}};
	b->st[2] = (struct stmt){parts[b->dst].name,
	    "UPDATE accounts SET balance = balance + $1 WHERE id = $2", 2, {b->amount, b->to}};
	b->st[3] = (struct stmt){parts[b->dst].name,
	    "INSERT INTO ledger (xfer, amount) VALUES ($1, $2)", 2,
	    {b->xs, b->failing ? b->neg : b->amount}};
	b->nst = 4;
	if (b->src == b->dst) {
		/* Within one database (one-phase commit): one ledger row. */
		b->st[1] = b->st[2];
		b->st[2] = b->st[3];
		b->nst = 3;
	}
}

/* ---- SQL file ---- */

/* Frees what sql_load built.  Cannot fail. */
static void
sql_free(struct sql_file *f)
{
	for (size_t i = 0; i < f->nstmt; i++) {
		free(f->stmt[i].sql);
	}
	free(f->stmt);
	free(f->block);
	memset(f, 0, sizeof(*f));
}

/* Appends statement (part, sql) to the open block, or opens one.  Returns
 * -1 on out of memory, -2 when the block would pass WL_MAX_STMTS. */
static int
sql_add(struct sql_file *f, int in_block, int part, const char *sql)
{
	if (!in_block || f->nblocks == 0) {
		if (f->nblocks == f->blockcap) {
			size_t cap = f->blockcap ? f->blockcap * 2 : 16;
			struct sql_block *p = realloc(f->block, cap * sizeof(*p));

			if (p == NULL) {
				return -1;
			}
			f->block = p;
			f->blockcap = cap;
		}
		f->block[f->nblocks++] = (struct sql_block){f->nstmt, 0};
	}
	if (f->block[f->nblocks - 1].n == WL_MAX_STMTS) {
		return -2;
	}
	if (f->nstmt == f->stmtcap) {
		size_t cap = f->stmtcap ? f->stmtcap * 2 : 64;
		struct sql_stmt *p = realloc(f->stmt, cap * sizeof(*p));

		if (p == NULL) {
			return -1;
		}
		f->stmt = p;
		f->stmtcap = cap;
	}
	if ((f->stmt[f->nstmt].sql = strdup(sql)) == NULL) {
		return -1;
	}
	f->stmt[f->nstmt++].part = part;
	f->block[f->nblocks - 1].n++;
	return 0;
}

/* Splits "PARTICIPANT SQL..." in place: *name and *sql point into line.
 * Returns -1 when there is no SQL after the name. */
static int
sql_split(char *line, char **name, char **sql)
{
	char *p = line + strspn(line, " \t");
	char *end;

	*name = p;
	p += strcspn(p, " \t");
	if (*p == '\0') {
		return -1;
	}
	*p++ = '\0';
	p += strspn(p, " \t");
	end = p + strlen(p);
	while (end > p && strchr(" \t\r\n", end[-1]) != NULL) {
		*--end = '\0';
	}
	*sql = p;
	return *p == '\0' ? -1 : 0;
}

/* Reads one line of the file into f; *in_block tells whether a block is
 * open.  Returns -1 with err (PATH:LINE: ...) when the line is wrong. */
static int
sql_line(struct run *run, char *line, long lineno, int *in_block, char *err, size_t errlen)
{
	const char *path = run->sc->wl.file;
	const struct sc_participant *p;
	char *name, *sql;
	int rv;

	if (is_blank(line)) {
		*in_block = 0;
		return 0;
	}
	if (line[strspn(line, " \t")] == '#') {
		return 0;
	}
	if (sql_split(line, &name, &sql) != 0) {
		snprintf(err, errlen, "%s:%ld: expected PARTICIPANT SQL", path, lineno);
		return -1;
	}
	if ((p = sc_part(run->sc, name)) == NULL) {
		snprintf(err, errlen, "%s:%ld: unknown participant '%s'", path, lineno, name);
		return -1;
	}
	if ((rv = sql_add(&run->sql, *in_block, (int)(p - run->sc->parts), sql)) != 0) {
		snprintf(err, errlen, "%s:%ld: %s", path, lineno, rv == -2
		    ? "more than 64 statements in one transaction" : "out of memory");
		return -1;
	}
	*in_block = 1;
	return 0;
}

/* Parses sc->wl.file into run->sql.  Returns -1 with err when it cannot be
 * read, is wrong, or holds no transaction; run->sql is then empty. */
static int
sql_load(struct run *run, char *err, size_t errlen)
{
	const char *path = run->sc->wl.file;
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	long lineno = 0;
	int in_block = 0, rv = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rv == 0 && getline(&line, &cap, f) != -1) {
		rv = sql_line(run, line, ++lineno, &in_block, err, errlen);
	}
	if (rv == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rv = -1;
	}
	if (rv == 0 && run->sql.nblocks == 0) {
		snprintf(err, errlen, "%s: no transaction in the file", path);
		rv = -1;
	}
	free(line);
	fclose(f);
	if (rv != 0) {
		sql_free(&run->sql);
	}
	return rv;
}

/* ---- transactions ---- */

/* Ends t after statement failure rv: rolls back, and fills a.  A statement
 * that got no answer may have run: the coordinator decides, so the outcome
 * is unknown to us.  Cannot fail. */
static void
exec_failed(xact_txn *t, int rv, struct attempt *a)
{
	snprintf(a->error, sizeof(a->error), "%s: %s", xact_strerror(rv), xact_txn_error(t));
	a->outcome = is_transport(rv) ? "unknown" : "aborted";
	/* Only a statement's own failure counts: a database restarting or a
	 * participant that forgot the transaction is a fault's doing. */
	a->exec_failed = rv == XACT_ESQL;
	a->reopen = is_transport(rv) || is_transport(xact_rollback(t));
	xact_txn_free(t);
}

/* Runs st[0..n-1] as one global transaction on c and commits.  Fills a;
 * a failure is an outcome, never an error of this function. */
static void
run_txn(xact_client *c, int protocol, const struct stmt *st, int n, struct attempt *a)
{
	xact_outcome out = XACT_OUTCOME_UNKNOWN;
	xact_txn *t;
	int rv;

	memset(a, 0, sizeof(*a));
	a->outcome = "aborted";
	strcpy(a->gid, "-");
	if ((rv = xact_begin(c, (xact_protocol)protocol, &t)) != XACT_OK) {
		snprintf(a->error, sizeof(a->error), "begin: %s", xact_strerror(rv));
		a->reopen = is_transport(rv);
		return; /* nothing started */
	}
	snprintf(a->gid, sizeof(a->gid), "%s", xact_txn_gid(t));
	for (int i = 0; i < n; i++) {
		rv = xact_exec(t, st[i].part, st[i].sql, st[i].nparams, st[i].params, NULL);
		if (rv != XACT_OK) {
			exec_failed(t, rv, a);
			return;
		}
	}
	if ((rv = xact_commit(t, &out, NULL)) != XACT_OK) {
		out = XACT_OUTCOME_UNKNOWN;
		a->reopen = is_transport(rv);
	}
	snprintf(a->error, sizeof(a->error), "%s", xact_txn_error(t));
	xact_txn_free(t);
	a->outcome = out == XACT_OUTCOME_COMMITTED ? "committed"
	    : out == XACT_OUTCOME_ABORTED          ? "aborted"
	                                           : "unknown";
}

/* Transfer x on c into a and o->parts.  Warns on stderr when a transfer
 * meant to fail failed otherwise, or committed. */
static void
bank_txn(struct run *run, xact_client *c, long x, struct attempt *a, struct wl_outcome *o)
{
	struct bank_xfer b;

	bank_plan(run, x, &b);
	run_txn(c, run->sc->wl.protocol, b.st, b.nst, a);
	o->parts[b.src] = o->parts[b.dst] = 1;
	/* (A wait for a lock that timed out first is no surprise under load.) */
	if (b.failing && a->exec_failed && strstr(a->error, WL_EXPECTED) == NULL &&
	    strstr(a->error, "is locked") == NULL && strstr(a->error, "lock timeout") == NULL) {
		fprintf(stderr, "xact-harness: xfer %ld failed with an unexpected error: %s\n", x,
		    a->error);
	} else if (b.failing && strcmp(a->outcome, "committed") == 0) {
		fprintf(stderr, "xact-harness: xfer %ld committed although it breaks %s\n", x,
		    WL_EXPECTED);
	}
}

/* Transaction x of the SQL file on c into a and o->parts.  Shows the first
 * failing statement's error on stderr (a wrong file aborts everything). */
static void
sql_txn(struct run *run, xact_client *c, long x, struct attempt *a, struct wl_outcome *o)
{
	const struct sql_block *bl = &run->sql.block[(size_t)(x - run->first) % run->sql.nblocks];
	struct stmt st[WL_MAX_STMTS];
	int warn;

	for (int i = 0; i < bl->n; i++) {
		const struct sql_stmt *s = &run->sql.stmt[bl->first + (size_t)i];

		st[i] = (struct stmt){run->sc->parts[s->part].name, s->sql, 0, {NULL, NULL}};
		o->parts[s->part] = 1;
	}
	run_txn(c, run->sc->wl.protocol, st, bl->n, a);
	if (!a->exec_failed) {
		return;
	}
	pthread_mutex_lock(&run->lock);
	warn = !run->sql_warned;
	run->sql_warned = 1;
	pthread_mutex_unlock(&run->lock);
	if (warn) {
		fprintf(stderr, "xact-harness: transaction %ld aborted: %s (later ones not shown)\n",
		    x, a->error);
	}
}

/* ---- the run ---- */

/* Hands out the next transaction number, or -1 when the run is over:
 * enough done, deadline passed, interrupted, or stopped. */
static long
take(struct run *run)
{
	const struct sc_workload *wl = &run->sc->wl;
	long x = -1;

	pthread_mutex_lock(&run->lock);
	if (!run->stop && !h_interrupted &&
	    (wl->transfers <= 0 || run->next - run->first < wl->transfers) &&
	    (run->deadline == 0 || now_ms() < run->deadline)) {
		x = run->next++;
	}
	pthread_mutex_unlock(&run->lock);
	return x;
}

/* Adds ms to the latencies.  Returns -1 on out of memory. */
static int
lat_add(struct run *run, double ms)
{
	if (run->nlat == run->latcap) {
		size_t cap = run->latcap ? run->latcap * 2 : 256;
		double *p = realloc(run->lat, cap * sizeof(*p));

		if (p == NULL) {
			return -1;
		}
		run->lat = p;
		run->latcap = cap;
	}
	run->lat[run->nlat++] = ms;
	return 0;
}

/* Records o: a line in DIR/outcomes, r, the latencies.  A write error is
 * warned about once (r still has everything); out of memory stops the run,
 * which then reports -1. */
static void
record(struct run *run, const struct wl_outcome *o, double ms)
{
	char parts[H_MAX * H_NAME];

	wl_outcome_parts(run->sc, o, parts, sizeof(parts));
	pthread_mutex_lock(&run->lock);
	fprintf(run->outf, "%ld %s %s %s\n", o->xfer, o->outcome, o->gid, parts);
	if (fflush(run->outf) != 0 && !run->outf_warned) {
		fprintf(stderr, "xact-harness: %s/outcomes: %s\n", run->sc->dir, strerror(errno));
		run->outf_warned = 1;
	}
	if (result_add(run->r, o) != 0 || lat_add(run, ms) != 0) {
		snprintf(run->failed, sizeof(run->failed), "workload: out of memory");
		run->stop = 1;
	}
	pthread_mutex_unlock(&run->lock);
}

/* Closes w's client and opens a new one.  Returns -1 (warned on stderr)
 * when it cannot: the thread then ends. */
static int
reopen(struct worker *w)
{
	int rv;

	xact_close(w->c);
	w->c = NULL;
	if ((rv = xact_open(&w->c, w->run->url, w->run->sc->wl.timeout_ms)) != XACT_OK) {
		fprintf(stderr, "xact-harness: cannot reopen a client on %s: %s\n", w->run->url,
		    xact_strerror(rv));
		return -1;
	}
	return 0;
}

/* A client thread: transactions until take() says the run is over. */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	struct wl_outcome o;
	struct attempt a;
	double t0;
	long x;

	while ((x = take(run)) >= 0) {
		memset(&o, 0, sizeof(o));
		t0 = now_ms();
		if (run->sc->wl.type == WL_BANK) {
			bank_txn(run, w->c, x, &a, &o);
		} else {
			sql_txn(run, w->c, x, &a, &o);
		}
		o.xfer = x;
		snprintf(o.outcome, sizeof(o.outcome), "%s", a.outcome);
		snprintf(o.gid, sizeof(o.gid), "%s", a.gid);
		record(run, &o, now_ms() - t0);
		/* The coordinator may have been restarted: a new socket. */
		if (a.reopen && reopen(w) != 0) {
			break;
		}
	}
	return NULL;
}

/* Prepares run for sc: URL, participants or the SQL file, DIR/outcomes.
 * Returns -1 with err when the workload cannot run. */
static int
run_init(struct run *run, const struct scenario *sc, long first, struct wl_result *r,
    char *err, size_t errlen)
{
	char path[H_PATH];

	memset(run, 0, sizeof(*run));
	run->sc = sc;
	run->r = r;
	run->first = run->next = first;
	env_coord_url(sc, run->url, sizeof(run->url));
	if (sc->wl.type == WL_NONE || sc->wl.clients < 1 || sc->wl.clients > WL_MAX_CLIENTS) {
		snprintf(err, errlen, "workload: %s", sc->wl.type == WL_NONE
		    ? "the scenario has none" : "clients must be 1..256");
		return -1;
	}
	if (sc->wl.type == WL_BANK ? bank_map(run, err, errlen) : sql_load(run, err, errlen)) {
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/outcomes", sc->dir) >= sizeof(path) ||
	    (run->outf = fopen(path, "ae")) == NULL) {
		snprintf(err, errlen, "%s/outcomes: %s", sc->dir, strerror(errno));
		sql_free(&run->sql);
		return -1;
	}
	pthread_mutex_init(&run->lock, NULL);
	return 0;
}

/* Opens the clients and starts the threads of w[0..n-1]; *started counts
 * the threads running.  Returns -1 with err when one cannot be. */
static int
start_workers(struct run *run, struct worker *w, int n, int *started, char *err, size_t errlen)
{
	int rv;

	*started = 0;
	for (int i = 0; i < n; i++) {
		w[i].run = run;
		if ((rv = xact_open(&w[i].c, run->url, run->sc->wl.timeout_ms)) != XACT_OK) {
			snprintf(err, errlen, "workload: cannot open a client on %s: %s", run->url,
			    xact_strerror(rv));
			return -1;
		}
		if ((rv = pthread_create(&w[i].th, NULL, worker_main, &w[i])) != 0) {
			snprintf(err, errlen, "workload: cannot start a thread: %s", strerror(rv));
			return -1;
		}
		(*started)++;
	}
	return 0;
}

/* Sets the timings of r from run's latencies and the run's wall time. */
static void
finish_timings(struct run *run, struct wl_result *r, double t0)
{
	r->seconds = (now_ms() - t0) / 1000.0;
	qsort(run->lat, run->nlat, sizeof(*run->lat), cmp_double);
	r->p50_ms = percentile(run->lat, run->nlat, 50);
	r->p99_ms = percentile(run->lat, run->nlat, 99);
}

int
wl_run(const struct scenario *sc, long first, struct wl_result *r, char *err, size_t errlen)
{
	struct run run;
	struct worker *w;
	int n = sc->wl.clients, started = 0, rv;
	double t0;

	if (run_init(&run, sc, first, r, err, errlen) != 0) {
		return -1;
	}
	if ((w = calloc((size_t)n, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "workload: out of memory");
		rv = -1;
		goto out;
	}
	t0 = now_ms();
	run.deadline = sc->wl.duration > 0 ? t0 + sc->wl.duration * 1000.0 : 0;
	if ((rv = start_workers(&run, w, n, &started, err, errlen)) != 0) {
		pthread_mutex_lock(&run.lock);
		run.stop = 1; /* the threads already running end after their transaction */
		pthread_mutex_unlock(&run.lock);
	}
	for (int i = 0; i < started; i++) {
		pthread_join(w[i].th, NULL);
	}
	for (int i = 0; i < n; i++) {
		xact_close(w[i].c);
	}
	finish_timings(&run, r, t0);
	if (rv == 0 && run.failed[0] != '\0') {
		snprintf(err, errlen, "%s", run.failed);
		rv = -1;
	}
	free(w);
out:
	fclose(run.outf);
	pthread_mutex_destroy(&run.lock);
	sql_free(&run.sql);
	free(run.lat);
	return rv;
}
