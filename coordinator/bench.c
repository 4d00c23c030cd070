/*
 * bench.c - xact-bench: bank transfers between two PostgreSQL databases,
 * through a running coordinator, and in the same invocation the baselines
 * on the same databases: (a) a single-database transaction, (b) two-phase
 * commit driven by hand through libpq with no coordinator and no log.
 * Prints throughput, latency percentiles, aborts, the journal's fsyncs and
 * decisions per fsync, and xact's ratio to each baseline; --json for
 * machines.  A benchmark, not a test: it judges nothing.
 *
 * It owns one table, xact_bench (id, balance), in each database: created,
 * or emptied and filled again, at the start of every invocation.
 */
#include "xact.h"
#include "wire.h"

#include <getopt.h>
#include <libpq-fe.h>
#include <math.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CLIENTS 512
#define MAX_PARTS 8

enum mode { M_XACT, M_SINGLE, M_HAND2PC, M_RUN, M_COUNT };
static const char *const mode_names[] = {"xact", "single-db", "hand-2pc", "xact-run"};

struct opts {
	const char *coordinator;
	const char *conninfo[MAX_PARTS];
	const char *part[MAX_PARTS];
	int nconn, nparts;
	int noop;
	int clients;
	long count; /* stop once this many committed in all (0: no limit) */
	double duration;
	int accounts;
	int baselines;
	int json;
	const char *only;
};

struct result {
	long committed, aborted;
	double seconds;
	double p50, p95, p99; /* ms */
	uint64_t fsyncs, decisions;
	int have_journal;
};

struct client {
	const struct opts *o;
	enum mode mode;
	int id;
	uint64_t rng;
	double *lat; /* ms */
	size_t nlat, cap;
	long committed, aborted;
	char err[256];
	pthread_t thread;
};

/* Committed in the current run, by every client. */
static atomic_long committed_total;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned
rnd(struct client *c, unsigned n)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return (unsigned)(c->rng % n);
}

static void
record(struct client *c, double ms)
{
	if (c->nlat == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 4096;
		double *more = realloc(c->lat, cap * sizeof(*more));

		if (more == NULL) {
			return;
		}
		c->lat = more;
		c->cap = cap;
	}
	c->lat[c->nlat++] = ms;
}

/* One statement through libpq, with up to two parameters: 0, or -1 with
 * the error in c->err. */
static int
pg(struct client *c, PGconn *conn, const char *sql, const char *p1, const char *p2)
{
	const char *params[2] = {p1, p2};
	PGresult *r = PQexecParams(conn, sql, p2 ? 2 : p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok) {
		snprintf(c->err, sizeof(c->err), "%s", PQerrorMessage(conn));
	}
	PQclear(r);
	return ok ? 0 : -1;
}

static const char *const debit_sql = "UPDATE xact_bench SET balance = balance - $2 WHERE id = $1";
static const char *const credit_sql = "UPDATE xact_bench SET balance = balance + 1 WHERE id = $1";

/* Statements of a transfer: one per database, or, with one database, two
 * there (a transfer between two of its accounts: a transaction with one
 * participant, which the coordinator commits in one phase). */
static int
nstmts(const struct opts *o)
{
	return o->nparts == 1 ? 2 : o->nparts;
}

/* The database (participant index) of statement k. */
static int
stmt_db(const struct opts *o, int k)
{
	return k < o->nparts ? k : 0;
}

/* Statement i of a transfer of n: account ids[0] pays n - 1, every other
 * receives 1.  out[2] the parameters. */
static const char *
xfer_stmt(int i, int n, const char *const *ids, const char **out, char *amount, size_t alen)
{
	out[0] = ids[i];
	snprintf(amount, alen, "%d", n - 1);
	out[1] = amount;
	return i == 0 ? debit_sql : credit_sql;
}

/* One transfer: n - 1 from account ids[0] on database 0, 1 to ids[i] on
 * each other database i, statement by statement. */
static int
xfer_xact(struct client *c, xact_client *xc, const char *const *ids)
{
	const struct opts *o = c->o;
	xact_outcome out = XACT_OUTCOME_UNKNOWN;
	xact_txn *t;
	int rv;

	if ((rv = xact_begin(xc, XACT_PROTOCOL_2PC, &t)) != XACT_OK) {
		snprintf(c->err, sizeof(c->err), "begin: %s", xact_strerror(rv));
		return -1;
	}
	for (int i = 0; rv == XACT_OK && i < nstmts(o); i++) {
		const char *params[2];
		char amount[16];
		const char *sql = xfer_stmt(i, nstmts(o), ids, params, amount, sizeof(amount));

		rv = xact_exec(t, o->part[stmt_db(o, i)], sql, i == 0 ? 2 : 1, params, NULL);
	}
	if (rv == XACT_OK) {
		rv = xact_commit(t, &out, NULL);
	}
	if (rv != XACT_OK || out != XACT_OUTCOME_COMMITTED) {
		snprintf(c->err, sizeof(c->err), "%s", xact_txn_error(t)[0] ? xact_txn_error(t)
		                                                            : xact_strerror(rv));
		if (rv != XACT_OK && rv != XACT_ESQL) {
			xact_rollback(t);
		}
		xact_txn_free(t);
		return -1;
	}
	xact_txn_free(t);
	return 0;
}

/* The same transfer as one request (xact_run). */
static int
xfer_run(struct client *c, xact_client *xc, const char *const *ids)
{
	const struct opts *o = c->o;
	const char *params[MAX_PARTS][2];
	char amount[16];
	xact_stmt st[MAX_PARTS];
	xact_outcome out;
	int rv;

	for (int i = 0; i < nstmts(o); i++) {
		st[i].participant = o->part[stmt_db(o, i)];
		st[i].sql = xfer_stmt(i, nstmts(o), ids, params[i], amount, sizeof(amount));
		st[i].nparams = i == 0 ? 2 : 1;
		st[i].params = params[i];
	}
	rv = xact_run(xc, XACT_PROTOCOL_2PC, st, nstmts(o), &out, c->err, sizeof(c->err),
	    NULL);
	return rv == XACT_OK && out == XACT_OUTCOME_COMMITTED ? 0 : -1;
}

/* The transfer on database 0 alone: every account of ids in one
 * transaction. */
static int
xfer_single(struct client *c, PGconn *a, const char *const *ids)
{
	int ok = pg(c, a, "BEGIN", NULL, NULL) == 0;

	for (int i = 0; ok && i < nstmts(c->o); i++) {
		const char *params[2];
		char amount[16];
		const char *sql = xfer_stmt(i, nstmts(c->o), ids, params, amount, sizeof(amount));

		ok = pg(c, a, sql, params[0], i == 0 ? params[1] : NULL) == 0;
	}
	if (!ok ||
	    pg(c, a, "COMMIT", NULL, NULL) != 0) {
		pg(c, a, "ROLLBACK", NULL, NULL);
		return -1;
	}
	return 0;
}

/* BEGIN, UPDATE, PREPARE on each, then COMMIT PREPARED on each. */
static int
xfer_hand(struct client *c, PGconn **db, const char *const *ids, long n)
{
	char prep[96], done[96];
	int prepared = 0, np = c->o->nparts;

	for (int i = 0; i < np; i++) {
		int ok = pg(c, db[i], "BEGIN", NULL, NULL) == 0;

		for (int k = 0; ok && k < nstmts(c->o); k++) {
			const char *params[2];
			char amount[16];
			const char *sql = xfer_stmt(k, nstmts(c->o), ids, params, amount, sizeof(amount));

			ok = stmt_db(c->o, k) != i || pg(c, db[i], sql, params[0],
			                                  k == 0 ? params[1] : NULL) == 0;
		}
		snprintf(prep, sizeof(prep), "PREPARE TRANSACTION 'xact-bench-%d-%ld-%d'", c->id, n, i);
		if (!ok || pg(c, db[i], prep, NULL, NULL) != 0) {
			pg(c, db[i], "ROLLBACK", NULL, NULL);
			for (int k = 0; k < prepared; k++) {
				snprintf(done, sizeof(done), "ROLLBACK PREPARED 'xact-bench-%d-%ld-%d'",
				    c->id, n, k);
				pg(c, db[k], done, NULL, NULL);
			}
			return -1;
		}
		prepared++;
	}
	for (int i = 0; i < np; i++) {
		snprintf(done, sizeof(done), "COMMIT PREPARED 'xact-bench-%d-%ld-%d'", c->id, n, i);
		if (pg(c, db[i], done, NULL, NULL) != 0) {
			return -1; /* stays prepared: the bench reports the error */
		}
	}
	return 0;
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	const struct opts *o = c->o;
	xact_client *xc = NULL;
	PGconn *db[MAX_PARTS] = {NULL};
	double end;
	long n = 0;
	int rv;

	if (c->mode == M_XACT || c->mode == M_RUN) {
		if ((rv = xact_open(&xc, o->coordinator, 30000)) != XACT_OK) {
			snprintf(c->err, sizeof(c->err), "coordinator: %s", xact_strerror(rv));
			return NULL;
		}
	} else {
		for (int i = 0; i < (c->mode == M_SINGLE ? 1 : o->nparts); i++) {
			db[i] = PQconnectdb(o->conninfo[i]);
			if (PQstatus(db[i]) != CONNECTION_OK) {
				snprintf(c->err, sizeof(c->err), "%s", PQerrorMessage(db[i]));
				goto out;
			}
		}
	}
	end = now_s() + o->duration;
	while (now_s() < end && (o->count == 0 || atomic_load(&committed_total) < o->count)) {
		char acct[MAX_PARTS][16];
		const char *ids[MAX_PARTS];
		double t0 = now_s();

		for (int i = 0; i < nstmts(o); i++) {
			snprintf(acct[i], sizeof(acct[i]), "%u", 1 + rnd(c, (unsigned)o->accounts));
			ids[i] = acct[i];
		}
		rv = c->mode == M_XACT     ? xfer_xact(c, xc, ids)
		    : c->mode == M_RUN    ? xfer_run(c, xc, ids)
		    : c->mode == M_SINGLE ? xfer_single(c, db[0], ids)
		                          : xfer_hand(c, db, ids, n);
		n++;
		if (rv == 0) {
			c->committed++;
			atomic_fetch_add(&committed_total, 1);
			record(c, (now_s() - t0) * 1000.0);
		} else {
			c->aborted++;
		}
	}
out:
	for (int i = 0; i < MAX_PARTS; i++) {
		if (db[i] != NULL) {
			PQfinish(db[i]);
		}
	}
	if (xc != NULL) {
		xact_close(xc);
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	if (n == 0) {
		return 0;
	}
	size_t i = (size_t)ceil(p / 100.0 * (double)n);

	return v[i == 0 ? 0 : i - 1];
}

/* The coordinator's journal statistics: 0, or -1. */
static int
journal_stats(const char *url, uint64_t *fsyncs, uint64_t *decisions)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__StatusReq sr = XACT__STATUS_REQ__INIT;
	Xact__Reply *rep;
	nng_socket s;
	int rv = -1;

	if (nng_req0_open(&s) != 0) {
		return -1;
	}
	if (nng_dial(s, url, NULL, 0) == 0) {
		req.body_case = XACT__REQUEST__BODY_STATUS;
		req.status = &sr;
		if (wire_call(s, &req, &rep, 5000) == XACT_OK) {
			if (rep->body_case == XACT__REPLY__BODY_STATUS && rep->status->journal != NULL) {
				*fsyncs = rep->status->journal->batches;
				*decisions = rep->status->journal->decisions;
				rv = 0;
			}
			xact__reply__free_unpacked(rep, NULL);
		}
	}
	nng_close(s);
	return rv;
}

static int
run(const struct opts *o, enum mode mode, struct result *r)
{
	static struct client cl[MAX_CLIENTS];
	uint64_t f0 = 0, d0 = 0, f1 = 0, d1 = 0;
	double *all, t0;
	size_t n = 0;
	const char *err = NULL;

	memset(r, 0, sizeof(*r));
	memset(cl, 0, sizeof(cl));
	atomic_store(&committed_total, 0);
	r->have_journal = (mode == M_XACT || mode == M_RUN) &&
	                  journal_stats(o->coordinator, &f0, &d0) == 0;
	t0 = now_s();
	for (int i = 0; i < o->clients; i++) {
		cl[i].o = o;
		cl[i].mode = mode;
		cl[i].id = i;
		cl[i].rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1) + (uint64_t)mode;
		pthread_create(&cl[i].thread, NULL, client_main, &cl[i]);
	}
	for (int i = 0; i < o->clients; i++) {
		pthread_join(cl[i].thread, NULL);
		r->committed += cl[i].committed;
		r->aborted += cl[i].aborted;
		n += cl[i].nlat;
		if (cl[i].committed == 0 && cl[i].err[0] != '\0') {
			err = cl[i].err;
		}
	}
	r->seconds = now_s() - t0;
	if (r->have_journal && journal_stats(o->coordinator, &f1, &d1) == 0) {
		r->fsyncs = f1 - f0;
		r->decisions = d1 - d0;
	}
	if ((all = malloc((n ? n : 1) * sizeof(*all))) == NULL) {
		return -1;
	}
	n = 0;
	for (int i = 0; i < o->clients; i++) {
		memcpy(all + n, cl[i].lat, cl[i].nlat * sizeof(*all));
		n += cl[i].nlat;
		free(cl[i].lat);
	}
	qsort(all, n, sizeof(*all), cmp_double);
	r->p50 = pct(all, n, 50);
	r->p95 = pct(all, n, 95);
	r->p99 = pct(all, n, 99);
	free(all);
	if (r->committed == 0) {
		fprintf(stderr, "xact-bench: %s: nothing committed%s%s\n", mode_names[mode],
		    err ? ": " : "", err ? err : "");
		return -1;
	}
	if (err != NULL) {
		fprintf(stderr, "xact-bench: %s: a client failed: %s\n", mode_names[mode], err);
	}
	return 0;
}

static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Creates (or empties and fills) xact_bench in every database. */
static int
setup(const struct opts *o)
{
	for (int i = 0; i < o->nconn; i++) {
		PGconn *c = PQconnectdb(o->conninfo[i]);
		char sql[256];
		PGresult *r;
		int ok;

		if (PQstatus(c) != CONNECTION_OK) {
			fprintf(stderr, "xact-bench: database %d: %s", i + 1, PQerrorMessage(c));
			PQfinish(c);
			return -1;
		}
		PQsetNoticeProcessor(c, quiet, NULL); /* "already exists, skipping" */
		snprintf(sql, sizeof(sql),
		    "CREATE TABLE IF NOT EXISTS xact_bench (id int PRIMARY KEY, balance bigint NOT NULL);"
		    "TRUNCATE xact_bench; INSERT INTO xact_bench SELECT g, 1000000 FROM "
		    "generate_series(1, %d) g", o->accounts);
		r = PQexec(c, sql);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (ok) {
			PQclear(r);
			r = PQexec(c, "VACUUM ANALYZE xact_bench");
			ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		}
		if (!ok) {
			fprintf(stderr, "xact-bench: database %d: %s", i + 1, PQerrorMessage(c));
		}
		PQclear(r);
		PQfinish(c);
		if (!ok) {
			return -1;
		}
	}
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: xact-bench --conninfo-a CONNINFO [--conninfo-b CONNINFO [--conninfo CONNINFO]...]\n"
	    "                  [--coordinator URL] [--participants A,B,...] [--clients N]\n"
	    "                  [--duration SECONDS] [--count N] [--accounts N] [--no-baselines]\n"
	    "                  [--only xact|xact-run|single-db|hand-2pc] [--json]\n"
	    "       xact-bench --noop [--coordinator URL] [--participants A,B,...] [--clients N]\n"
	    "                  [--duration SECONDS] [--count N] [--only xact|xact-run] [--json]\n"
	    "\n"
	    "Bank transfers between PostgreSQL databases (two, or up to %d) for DURATION\n"
	    "seconds with N clients: database a pays 1 to each of the others.  Through the\n"
	    "coordinator (the participants, in order, must be the agents of the databases)\n"
	    "statement by statement (xact) and as one request (xact-run, xact_run()), and,\n"
	    "on the same databases, (a) a single-database transaction on a and (b) two-phase\n"
	    "commit by hand through libpq (BEGIN, UPDATE, PREPARE TRANSACTION on each, then\n"
	    "COMMIT PREPARED on each; no log).  Prints throughput, latency percentiles,\n"
	    "aborts, the journal's fsyncs and decisions per fsync, and xact's ratio to each\n"
	    "baseline.  Creates, or empties and refills, a table xact_bench in every\n"
	    "database.  With --noop the participants are agents with --backend noop: no\n"
	    "database, no baseline; it measures the coordinator and the agents alone.\n"
	    "\n"
	    "  --conninfo-a, --conninfo-b CONNINFO  the first two databases (one participant:\n"
	    "                       --conninfo-a alone; a transfer between two accounts of\n"
	    "                       database a, which the coordinator commits in one phase)\n"
	    "  --conninfo CONNINFO  one more database (repeat; up to %d in all)\n"
	    "  --noop               the participants hold no database (see above)\n"
	    "  --coordinator URL    default $XACT_COORDINATOR, else tcp://127.0.0.1:7400\n"
	    "  --participants A,B,...  the agents, one per database, in order (pa,pb); one\n"
	    "                       agent alone runs transfers within its database\n"
	    "  --clients N          concurrent clients, 1 to %d (8)\n"
	    "  --duration SECONDS   of each run (8)\n"
	    "  --count N            end a run once N transactions committed (within DURATION)\n"
	    "  --accounts N         rows of xact_bench (100000)\n"
	    "  --no-baselines       run through the coordinator only (xact and xact-run)\n"
	    "  --only MODE          run one of xact, xact-run, single-db, hand-2pc\n"
	    "  --json               one JSON object instead of the table\n"
	    "\n"
	    "Exit status: 0 measured, 1 a run committed nothing, 2 usage error.\n", MAX_PARTS,
	    MAX_PARTS, MAX_CLIENTS);
}

static double
ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

/* xact's runs against the baselines: JSON members, or lines of text. */
static void
print_ratios(const struct result *r, const int *done, int json)
{
	static const struct {
		enum mode a, b;
		const char *key, *text;
	} pairs[] = {
		{M_XACT, M_HAND2PC, "xact_vs_hand_2pc", "xact / hand-2pc"},
		{M_XACT, M_SINGLE, "xact_vs_single_db", "xact / single-db"},
		{M_RUN, M_HAND2PC, "xact_run_vs_hand_2pc", "xact-run / hand-2pc"},
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(*pairs); i++) {
		const struct result *a = &r[pairs[i].a], *b = &r[pairs[i].b];
		double tps;

		if (!done[pairs[i].a] || !done[pairs[i].b]) {
			continue;
		}
		tps = ratio(a->committed / a->seconds, b->committed / b->seconds);
		if (json) {
			printf(",\"%s\":{\"tps\":%.3f,\"p50\":%.3f,\"p99\":%.3f}", pairs[i].key, tps,
			    ratio(a->p50, b->p50), ratio(a->p99, b->p99));
		} else {
			printf("%s: throughput %.2f, p50 %.2f, p99 %.2f\n", pairs[i].text, tps,
			    ratio(a->p50, b->p50), ratio(a->p99, b->p99));
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"coordinator", required_argument, NULL, 'c'},
		{"conninfo-a", required_argument, NULL, 'a'},
		{"conninfo-b", required_argument, NULL, 'b'},
		{"conninfo", required_argument, NULL, 'C'},
		{"noop", no_argument, NULL, 'O'},
		{"participants", required_argument, NULL, 'p'},
		{"clients", required_argument, NULL, 'n'},
		{"duration", required_argument, NULL, 'd'},
		{"count", required_argument, NULL, 'k'},
		{"accounts", required_argument, NULL, 'A'},
		{"no-baselines", no_argument, NULL, 'N'},
		{"only", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct opts o = {.part = {"pa", "pb"}, .nparts = 2, .clients = 8, .duration = 8.0,
		.accounts = 100000, .baselines = 1};
	struct result r[M_COUNT];
	int done[M_COUNT] = {0}, opt, failed = 0;
	char parts[512], *tok, *save;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'c': o.coordinator = optarg; break;
		case 'a': o.conninfo[0] = optarg; o.nconn = o.nconn < 1 ? 1 : o.nconn; break;
		case 'b': o.conninfo[1] = optarg; o.nconn = o.nconn < 2 ? 2 : o.nconn; break;
		case 'C':
			if (o.nconn < 2 || o.nconn == MAX_PARTS) {
				fprintf(stderr, "xact-bench: --conninfo comes after --conninfo-a and -b, "
				                "up to %d databases\n", MAX_PARTS);
				return 2;
			}
			o.conninfo[o.nconn++] = optarg;
			break;
		case 'O': o.noop = 1; break;
		case 'p':
			snprintf(parts, sizeof(parts), "%s", optarg);
			o.nparts = 0;
			for (tok = strtok_r(parts, ",", &save); tok != NULL;
			     tok = strtok_r(NULL, ",", &save)) {
				if (o.nparts == MAX_PARTS) {
					fprintf(stderr, "xact-bench: at most %d participants\n", MAX_PARTS);
					return 2;
				}
				o.part[o.nparts++] = tok;
			}
			break;
		case 'n': o.clients = atoi(optarg); break;
		case 'd': o.duration = atof(optarg); break;
		case 'k': o.count = atol(optarg); break;
		case 'A': o.accounts = atoi(optarg); break;
		case 'N': o.baselines = 0; break;
		case 'o': o.only = optarg; break;
		case 'j': o.json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o.noop && (o.nconn > 0 || (o.only != NULL && strcmp(o.only, "xact") != 0 &&
	                                     strcmp(o.only, "xact-run") != 0))) {
		fprintf(stderr, "xact-bench: --noop runs xact and xact-run only, with no database\n");
		return 2;
	}
	if (o.noop) {
		o.baselines = 0;
	} else if (o.conninfo[0] == NULL || (o.nparts > 1 && o.conninfo[1] == NULL) ||
	    o.nconn != o.nparts) {
		fprintf(stderr, "xact-bench: give --conninfo-a, --conninfo-b (and --conninfo) for "
		                "each of the %d participants, or --noop\n", o.nparts);
		return 2;
	}
	if (o.nparts < 1 || optind != argc || o.count < 0 ||
	    o.clients < 1 || o.clients > MAX_CLIENTS || o.duration <= 0 || o.accounts < 2 ||
	    (o.only != NULL && strcmp(o.only, "xact") != 0 && strcmp(o.only, "single-db") != 0 &&
	        strcmp(o.only, "hand-2pc") != 0 && strcmp(o.only, "xact-run") != 0)) {
		usage(stderr);
		return 2;
	}
	if (o.coordinator == NULL) {
		o.coordinator = getenv("XACT_COORDINATOR") ? getenv("XACT_COORDINATOR")
		                                           : "tcp://127.0.0.1:7400";
	}
	if (!o.noop && setup(&o) != 0) {
		return 1;
	}
	for (int m = 0; m < M_COUNT; m++) {
		if ((o.only != NULL && strcmp(o.only, mode_names[m]) != 0) ||
		    (o.only == NULL && !o.baselines && m != M_XACT && m != M_RUN)) {
			continue;
		}
		done[m] = 1;
		failed |= run(&o, (enum mode)m, &r[m]) != 0;
	}
	if (o.json) {
		int first = 1;

		printf("{\"clients\":%d,\"duration\":%.1f,\"accounts\":%d,\"participants\":%d,"
		       "\"noop\":%s,\"runs\":{", o.clients, o.duration, o.accounts, o.nparts,
		    o.noop ? "true" : "false");
		for (int m = 0; m < M_COUNT; m++) {
			if (!done[m]) {
				continue;
			}
			printf("%s\"%s\":{\"tps\":%.1f,\"committed\":%ld,\"aborted\":%ld,\"p50_ms\":%.3f,"
			       "\"p95_ms\":%.3f,\"p99_ms\":%.3f", first ? "" : ",", mode_names[m],
			    r[m].committed / r[m].seconds, r[m].committed, r[m].aborted, r[m].p50,
			    r[m].p95, r[m].p99);
			if (r[m].have_journal) {
				printf(",\"fsyncs\":%llu,\"decisions\":%llu,\"decisions_per_fsync\":%.2f",
				    (unsigned long long)r[m].fsyncs, (unsigned long long)r[m].decisions,
				    ratio((double)r[m].decisions, (double)r[m].fsyncs));
			}
			printf("}");
			first = 0;
		}
		printf("}");
		print_ratios(r, done, 1);
		printf("}\n");
		return failed;
	}
	printf("xact-bench: %d client(s), %.1f s per run, %d accounts, transfers %s %d %s\n",
	    o.clients, o.duration, o.accounts, o.nparts == 1 ? "within" : "across", o.nparts,
	    o.noop ? (o.nparts == 1 ? "no-op participant" : "no-op participants")
	           : (o.nparts == 1 ? "database" : "databases"));
	printf("%-10s %10s %9s %9s %9s %8s %8s %10s\n", "run", "tx/s", "p50 ms", "p95 ms",
	    "p99 ms", "aborted", "fsyncs", "dec/fsync");
	for (int m = 0; m < M_COUNT; m++) {
		if (!done[m]) {
			continue;
		}
		printf("%-10s %10.1f %9.2f %9.2f %9.2f %8ld", mode_names[m],
		    r[m].committed / r[m].seconds, r[m].p50, r[m].p95, r[m].p99, r[m].aborted);
		if (r[m].have_journal) {
			printf(" %8llu %10.2f\n", (unsigned long long)r[m].fsyncs,
			    ratio((double)r[m].decisions, (double)r[m].fsyncs));
		} else {
			printf(" %8s %10s\n", "-", "-");
		}
	}
	print_ratios(r, done, 0);
	return failed;
}
