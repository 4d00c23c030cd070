/*
 * xactctl - the command line for applications: run statements on several
 * participants as one atomic transaction (exec) and look at the
 * coordinator (status).  It lives beside the coordinator, whose journal
 * the operator's commands will read.  The usage text matches
 * docs/xactctl.1.
 */
#include "journal.h"
#include "wire.h"
#include "xact.h"

#include <getopt.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_COMMITTED 0
#define EXIT_ABORTED 1
#define EXIT_USAGE 2
#define EXIT_UNKNOWN 3
#define MAX_STMTS 256
#define MAX_PARAMS 64

struct stmt {
	const char *on;
	const char *sql;
	int nparams;
	const char *params[MAX_PARAMS];
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: xactctl [--coordinator URL] [--timeout MS] exec [--protocol 2pc|3pc]\n"
	    "               [--one-shot] [--json]\n"
	    "               --on NAME SQL [--param VALUE]... [--on NAME SQL [--param VALUE]...]...\n"
	    "       xactctl [--coordinator URL] [--timeout MS] status [--json]\n"
	    "       xactctl [--coordinator URL] [--timeout MS] recover list|show GID [--json]\n"
	    "       xactctl [--coordinator URL] [--timeout MS] recover commit|abort|forget GID\n"
	    "               [--heuristic] [--json]\n"
	    "       xactctl journal dump|check [--json] PATH\n"
	    "\n"
	    "  --coordinator URL  the coordinator (default $XACT_COORDINATOR, else tcp://127.0.0.1:7400)\n"
	    "  --timeout MS       give up on an answer after MS milliseconds (30000)\n"
	    "  exec               run every statement, in the order given, as one global\n"
	    "                     transaction on the named participants, then commit\n"
	    "  --protocol P       2pc or 3pc (three-phase commit: the participants can finish\n"
	    "                     without the coordinator); default: the coordinator's own\n"
	    "  --one-shot         send every statement and the commit in one request\n"
	    "                     (xact_run): no rows are printed, only the outcome\n"
	    "  --on NAME SQL      a statement for participant NAME; repeat as needed\n"
	    "  --param VALUE      the next $n parameter of the statement before it\n"
	    "  status             the coordinator's participants and transactions in flight\n"
	    "  recover list       every transaction in doubt: in flight at the coordinator or\n"
	    "                     prepared at a participant, with the coordinator's state,\n"
	    "                     its decision and each branch; a gid the coordinator no\n"
	    "                     longer knows is rolled back everywhere first, so that\n"
	    "                     \"aborted\" is final (\"unknown\": a participant holds it\n"
	    "                     committed, or did not answer)\n"
	    "  recover show GID   the same for one gid\n"
	    "  recover commit GID confirm a journaled commit, or one committed with nothing\n"
	    "                     journaled (one phase, one writer) that the coordinator\n"
	    "                     still holds among its finished; refused for anything else\n"
	    "                     (no decision means presumed abort)\n"
	    "  recover abort GID  roll back a transaction not yet decided; a journaled commit\n"
	    "                     only with --heuristic (recorded as a heuristic outcome);\n"
	    "                     answered once every participant answered\n"
	    "  recover forget GID drop a completed decision from the journal\n"
	    "  journal dump PATH  every decision and heuristic outcome in a journal file;\n"
	    "                     works offline, on a copy or while the coordinator is down\n"
	    "  journal check PATH SQLite's integrity check, the journal's identity, schema\n"
	    "                     version and WAL mode\n"
	    "  --json             machine-readable output\n"
	    "\n"
	    "Exit status of exec: 0 committed, 1 aborted (reason on stderr), 2 usage error,\n"
	    "3 outcome unknown (the transaction may have committed).\n"
	    "Exit status of status: 0 answered, 1 coordinator unreachable, 2 usage error.\n"
	    "Exit status of recover: 0 answered or done, 1 refused or coordinator unreachable,\n"
	    "2 usage error; recover commit, abort and forget: 3 when the outcome is unknown.\n"
	    "Exit status of journal: 0 read (dump) or sound (check), 1 unreadable or damaged,\n"
	    "2 usage error.\n");
}

/* Prints s as a JSON string. */
static void
json_str(FILE *f, const char *s)
{
	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			fprintf(f, "\\%c", ch);
		} else if (ch < 0x20) {
			fprintf(f, "\\u%04x", ch);
		} else {
			fputc(ch, f);
		}
	}
	fputc('"', f);
}

static void
print_result_text(const struct stmt *st, const xact_result *r)
{
	size_t nc = xact_result_ncols(r), nr = xact_result_nrows(r);

	if (nc == 0) {
		printf("%s: %llu row(s) affected\n", st->on,
		    (unsigned long long)xact_result_affected(r));
		return;
	}
	printf("%s:", st->on);
	for (size_t j = 0; j < nc; j++) {
		printf("%s%s", j ? "\t" : " ", xact_result_colname(r, j));
	}
	putchar('\n');
	for (size_t i = 0; i < nr; i++) {
		printf("%s:", st->on);
		for (size_t j = 0; j < nc; j++) {
			const char *v = xact_result_value(r, i, j);

			printf("%s%s", j ? "\t" : " ", v ? v : "NULL");
		}
		putchar('\n');
	}
}

static void
print_result_json(const struct stmt *st, const xact_result *r, int first)
{
	size_t nc = r ? xact_result_ncols(r) : 0, nr = r ? xact_result_nrows(r) : 0;

	printf("%s{\"participant\":", first ? "" : ",");
	json_str(stdout, st->on);
	printf(",\"affected\":%llu,\"columns\":[",
	    (unsigned long long)(r ? xact_result_affected(r) : 0));
	for (size_t j = 0; j < nc; j++) {
		printf("%s", j ? "," : "");
		json_str(stdout, xact_result_colname(r, j));
	}
	printf("],\"rows\":[");
	for (size_t i = 0; i < nr; i++) {
		printf("%s[", i ? "," : "");
		for (size_t j = 0; j < nc; j++) {
			printf("%s", j ? "," : "");
			json_str(stdout, xact_result_value(r, i, j));
		}
		printf("]");
	}
	printf("]}");
}

static int
finish_json(const char *gid, const char *outcome, const char *error, int pending, int code)
{
	printf("],\"gid\":");
	json_str(stdout, gid);
	printf(",\"outcome\":\"%s\",\"completion_pending\":%s,\"error\":", outcome,
	    pending ? "true" : "false");
	json_str(stdout, error && *error ? error : NULL);
	printf("}\n");
	return code;
}

/* exec --one-shot: every statement and the commit in one request. */
static int
exec_one_shot(xact_client *c, xact_protocol protocol, const struct stmt *stmts, int n, int json)
{
	static xact_stmt st[MAX_STMTS];
	char why[1100], gid[64];
	xact_outcome out;
	int rv;

	for (int i = 0; i < n; i++) {
		st[i].participant = stmts[i].on;
		st[i].sql = stmts[i].sql;
		st[i].nparams = stmts[i].nparams;
		st[i].params = stmts[i].params;
	}
	rv = xact_run(c, protocol, st, n, &out, why, sizeof(why), gid);
	if (json) {
		printf("{\"results\":[");
	}
	if (out == XACT_OUTCOME_COMMITTED) {
		if (json) {
			return finish_json(gid, "committed", NULL, 0, EXIT_COMMITTED);
		}
		printf("committed %s\n", gid);
		return EXIT_COMMITTED;
	}
	if (why[0] == '\0') {
		snprintf(why, sizeof(why), "%s", xact_strerror(rv));
	}
	fprintf(stderr, "xactctl: %s %s: %s\n", gid[0] ? gid : "transaction",
	    out == XACT_OUTCOME_ABORTED ? "aborted" : "outcome unknown", why);
	if (out == XACT_OUTCOME_ABORTED) {
		return json ? finish_json(gid[0] ? gid : NULL, "aborted", why, 0, EXIT_ABORTED)
		            : EXIT_ABORTED;
	}
	return json ? finish_json(gid[0] ? gid : NULL, "unknown", why, 0, EXIT_UNKNOWN)
	            : EXIT_UNKNOWN;
}

static int
cmd_exec(xact_client *c, int argc, char **argv)
{
	static struct stmt stmts[MAX_STMTS];
	int n = 0, json = 0, one_shot = 0, rv;
	xact_protocol protocol = XACT_PROTOCOL_DEFAULT;
	xact_txn *t;
	xact_outcome out;
	int pending;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--one-shot") == 0) {
			one_shot = 1;
		} else if (strcmp(argv[i], "--protocol") == 0 && i + 1 < argc &&
		    (strcmp(argv[i + 1], "2pc") == 0 || strcmp(argv[i + 1], "3pc") == 0)) {
			protocol = strcmp(argv[++i], "3pc") == 0 ? XACT_PROTOCOL_3PC : XACT_PROTOCOL_2PC;
		} else if (strcmp(argv[i], "--on") == 0 && i + 2 < argc && n < MAX_STMTS) {
			stmts[n].on = argv[i + 1];
			stmts[n].sql = argv[i + 2];
			stmts[n].nparams = 0;
			n++;
			i += 2;
		} else if (strcmp(argv[i], "--param") == 0 && i + 1 < argc && n > 0 &&
		    stmts[n - 1].nparams < MAX_PARAMS) {
			stmts[n - 1].params[stmts[n - 1].nparams++] = argv[++i];
		} else {
			fprintf(stderr, "xactctl exec: bad or incomplete argument '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (n == 0) {
		fprintf(stderr, "xactctl exec: give at least one --on NAME SQL\n");
		return EXIT_USAGE;
	}
	if (one_shot) {
		return exec_one_shot(c, protocol, stmts, n, json);
	}
	if ((rv = xact_begin(c, protocol, &t)) != XACT_OK) {
		/* Nothing was started: nothing can have committed. */
		fprintf(stderr, "xactctl: cannot begin: %s\n", xact_strerror(rv));
		if (json) {
			printf("{\"results\":[");
			return finish_json(NULL, "aborted", xact_strerror(rv), 0, EXIT_ABORTED);
		}
		return EXIT_ABORTED;
	}
	if (json) {
		printf("{\"results\":[");
	}
	for (int i = 0; i < n; i++) {
		xact_result *r = NULL;

		rv = xact_exec(t, stmts[i].on, stmts[i].sql, stmts[i].nparams, stmts[i].params, &r);
		if (rv != XACT_OK) {
			char why[1100];

			snprintf(why, sizeof(why), "%s", xact_txn_error(t)[0] ? xact_txn_error(t)
			                                                      : xact_strerror(rv));
			/* The coordinator aborts on a failed statement; a rollback
			 * makes sure of it when the failure was ours. */
			xact_rollback(t);
			fprintf(stderr, "xactctl: %s aborted: statement %d on %s failed: %s\n",
			    xact_txn_gid(t), i + 1, stmts[i].on, why);
			rv = json ? finish_json(xact_txn_gid(t), "aborted", why, 0, EXIT_ABORTED)
			          : EXIT_ABORTED;
			xact_txn_free(t);
			return rv;
		}
		if (json) {
			print_result_json(&stmts[i], r, i == 0);
		} else {
			print_result_text(&stmts[i], r);
		}
		xact_result_free(r);
	}
	rv = xact_commit(t, &out, &pending);
	if (rv != XACT_OK || out == XACT_OUTCOME_UNKNOWN) {
		const char *why = xact_txn_error(t)[0] ? xact_txn_error(t) : xact_strerror(rv);

		fprintf(stderr, "xactctl: %s outcome unknown: %s\n", xact_txn_gid(t), why);
		rv = json ? finish_json(xact_txn_gid(t), "unknown", why, 0, EXIT_UNKNOWN) : EXIT_UNKNOWN;
	} else if (out == XACT_OUTCOME_ABORTED) {
		fprintf(stderr, "xactctl: %s aborted: %s\n", xact_txn_gid(t), xact_txn_error(t));
		rv = json ? finish_json(xact_txn_gid(t), "aborted", xact_txn_error(t), 0, EXIT_ABORTED)
		          : EXIT_ABORTED;
	} else {
		if (json) {
			rv = finish_json(xact_txn_gid(t), "committed", NULL, pending, EXIT_COMMITTED);
		} else {
			printf("committed %s%s\n", xact_txn_gid(t),
			    pending ? " (completion pending: the coordinator keeps retrying)" : "");
			rv = EXIT_COMMITTED;
		}
	}
	xact_txn_free(t);
	return rv;
}

static int
cmd_status(const char *url, int timeout_ms, int argc, char **argv)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__StatusReq sr = XACT__STATUS_REQ__INIT;
	Xact__Reply *rep;
	Xact__StatusRep *st;
	nng_socket s;
	int json = 0, rv;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") != 0) {
			fprintf(stderr, "xactctl status: unknown argument '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
		json = 1;
	}
	if (nng_req0_open(&s) != 0 || nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK) != 0) {
		fprintf(stderr, "xactctl: bad coordinator URL %s\n", url);
		return EXIT_USAGE;
	}
	wire_socket_setup(s, 0);
	req.body_case = XACT__REQUEST__BODY_STATUS;
	req.status = &sr;
	if ((rv = wire_call(s, &req, &rep, timeout_ms)) != XACT_OK ||
	    rep->body_case != XACT__REPLY__BODY_STATUS) {
		fprintf(stderr, "xactctl: coordinator %s: %s\n", url,
		    rv ? xact_strerror(rv) : "unexpected reply");
		nng_close(s);
		return 1;
	}
	st = rep->status;
	if (json) {
		printf("{\"coordinator_id\":");
		json_str(stdout, st->coordinator_id);
		printf(",\"participants\":[");
		for (size_t i = 0; i < st->n_participants; i++) {
			printf("%s{\"name\":", i ? "," : "");
			json_str(stdout, st->participants[i]->name);
			printf(",\"url\":");
			json_str(stdout, st->participants[i]->url);
			printf(",\"reachable\":%s}", st->participants[i]->reachable ? "true" : "false");
		}
		printf("],\"transactions\":[");
		for (size_t i = 0; i < st->n_txns; i++) {
			printf("%s{\"gid\":", i ? "," : "");
			json_str(stdout, st->txns[i]->gid);
			printf(",\"state\":");
			json_str(stdout, st->txns[i]->state);
			printf(",\"age_ms\":%llu,\"participants\":[",
			    (unsigned long long)st->txns[i]->age_ms);
			for (size_t j = 0; j < st->txns[i]->n_participants; j++) {
				printf("%s", j ? "," : "");
				json_str(stdout, st->txns[i]->participants[j]);
			}
			printf("]}");
		}
		printf("]");
		if (st->has_txns_total) {
			printf(",\"transactions_total\":%llu", (unsigned long long)st->txns_total);
		}
		if (st->has_commits_sent) {
			printf(",\"commits_sent\":%llu,\"commit_messages\":%llu",
			    (unsigned long long)st->commits_sent, (unsigned long long)st->commit_messages);
		}
		if (st->has_one_phase_commits) {
			printf(",\"one_phase_commits\":%llu,\"one_phase_aborts\":%llu,"
			       "\"one_writer_commits\":%llu",
			    (unsigned long long)st->one_phase_commits,
			    (unsigned long long)st->one_phase_aborts,
			    (unsigned long long)st->one_writer_commits);
		}
		if (st->journal != NULL) {
			printf(",\"journal\":{\"batches\":%llu,\"decisions\":%llu,\"max_batch\":%llu,"
			       "\"busy_ms\":%llu}", (unsigned long long)st->journal->batches,
			    (unsigned long long)st->journal->decisions,
			    (unsigned long long)st->journal->max_batch,
			    (unsigned long long)st->journal->busy_ms);
		}
		printf("}\n");
	} else {
		printf("coordinator %s at %s\n\nPARTICIPANT       REACHABLE  URL\n",
		    st->coordinator_id, url);
		for (size_t i = 0; i < st->n_participants; i++) {
			printf("%-17s %-10s %s\n", st->participants[i]->name,
			    st->participants[i]->reachable ? "yes" : "no", st->participants[i]->url);
		}
		if (st->journal != NULL) {
			printf("\njournal: %llu decision(s) in %llu write(s) (fsyncs), %.1f per write, "
			       "at most %llu; %llu ms writing\n",
			    (unsigned long long)st->journal->decisions,
			    (unsigned long long)st->journal->batches,
			    st->journal->batches ? (double)st->journal->decisions /
			                               (double)st->journal->batches : 0.0,
			    (unsigned long long)st->journal->max_batch,
			    (unsigned long long)st->journal->busy_ms);
		}
		if (st->has_commits_sent) {
			printf("COMMITs: %llu sent in %llu message(s)\n",
			    (unsigned long long)st->commits_sent, (unsigned long long)st->commit_messages);
		}
		if (st->has_one_phase_commits) {
			printf("one-phase: %llu committed, %llu aborted (no PREPARE, no journal write)\n"
			       "one writer, the other branches read only: %llu committed with no "
			       "journal write\n",
			    (unsigned long long)st->one_phase_commits,
			    (unsigned long long)st->one_phase_aborts,
			    (unsigned long long)st->one_writer_commits);
		}
		printf("\n%llu transaction(s) in flight%s\n",
		    (unsigned long long)(st->has_txns_total ? st->txns_total : st->n_txns),
		    st->has_txns_total && st->txns_total > st->n_txns ? " (the first 1000 listed)" : "");
		if (st->n_txns > 0) {
			printf("GID                      STATE              AGE(ms)  PARTICIPANTS\n");
		}
		for (size_t i = 0; i < st->n_txns; i++) {
			printf("%-24s %-18s %8llu ", st->txns[i]->gid, st->txns[i]->state,
			    (unsigned long long)st->txns[i]->age_ms);
			for (size_t j = 0; j < st->txns[i]->n_participants; j++) {
				printf("%s%s", j ? "," : "", st->txns[i]->participants[j]);
			}
			putchar('\n');
		}
	}
	xact__reply__free_unpacked(rep, NULL);
	nng_close(s);
	return 0;
}

/* ---- recover list and show ------------------------------------------------ */

#define MAX_DOUBT 4096

struct doubt {
	char gid[64];
	const char *state; /* coordinator's state, or NULL when not in memory */
	uint64_t age_ms;
	char outcome[16];  /* what the coordinator answers for it */
	unsigned char prepared[64]; /* per participant: 1 prepared, 2 unreachable */
};

static nng_socket
peer(const char *url)
{
	nng_socket s = NNG_SOCKET_INITIALIZER;

	if (nng_req0_open(&s) == 0) {
		nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
		wire_socket_setup(s, 0);
		nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK);
	}
	return s;
}

static struct doubt *
doubt_get(struct doubt *d, int *n, const char *gid)
{
	for (int i = 0; i < *n; i++) {
		if (strcmp(d[i].gid, gid) == 0) {
			return &d[i];
		}
	}
	if (*n == MAX_DOUBT) {
		return NULL;
	}
	memset(&d[*n], 0, sizeof(d[*n]));
	snprintf(d[*n].gid, sizeof(d[*n].gid), "%s", gid);
	return &d[(*n)++];
}

static const char *
outcome_name(Xact__Outcome o)
{
	return o == XACT__OUTCOME__OUTCOME_COMMITTED ? "committed"
	    : o == XACT__OUTCOME__OUTCOME_ABORTED    ? "aborted"
	                                             : "unknown";
}

/* recover commit|abort|forget GID [--heuristic] [--json]: asks the
 * coordinator to carry it out; it refuses what would contradict a decision. */
static int
cmd_resolve(const char *url, int timeout_ms, int argc, char **argv)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__ResolveReq rr = XACT__RESOLVE_REQ__INIT;
	Xact__Reply *rep;
	const char *gid = NULL;
	int json = 0, rv;
	nng_socket s;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--heuristic") == 0) {
			rr.has_heuristic = 1;
			rr.heuristic = 1;
		} else if (gid == NULL) {
			gid = argv[i];
		} else {
			gid = NULL;
			break;
		}
	}
	if (gid == NULL) {
		fprintf(stderr, "xactctl recover %s: want GID [--heuristic] [--json]\n", argv[0]);
		return EXIT_USAGE;
	}
	rr.gid = (char *)gid;
	rr.action = argv[0][0] == 'c' ? XACT__RESOLVE_ACTION__RESOLVE_COMMIT
	    : argv[0][0] == 'a'       ? XACT__RESOLVE_ACTION__RESOLVE_ABORT
	                              : XACT__RESOLVE_ACTION__RESOLVE_FORGET;
	req.body_case = XACT__REQUEST__BODY_RESOLVE;
	req.resolve = &rr;
	s = peer(url);
	rv = wire_call(s, &req, &rep, timeout_ms);
	nng_close(s);
	if (rv != XACT_OK) {
		fprintf(stderr, "xactctl: coordinator %s: %s\n", url, xact_strerror(rv));
		return 1;
	}
	if (rep->body_case == XACT__REPLY__BODY_OUTCOME) {
		const char *why = rep->outcome->reason ? rep->outcome->reason : "";

		if (json) {
			printf("{\"gid\":");
			json_str(stdout, gid);
			printf(",\"done\":true,\"outcome\":\"%s\",\"detail\":",
			    outcome_name(rep->outcome->outcome));
			json_str(stdout, why);
			printf("}\n");
		} else {
			printf("%s: %s%s%s\n", gid, outcome_name(rep->outcome->outcome), *why ? ": " : "",
			    why);
		}
		/* (unknown: a branch committed, or did not answer) */
		rv = rep->outcome->outcome == XACT__OUTCOME__OUTCOME_UNKNOWN ? 3 : 0;
	} else {
		const char *why = rep->body_case == XACT__REPLY__BODY_ERROR ? rep->error->message
		                                                            : "unexpected reply";

		if (json) {
			printf("{\"gid\":");
			json_str(stdout, gid);
			printf(",\"done\":false,\"error\":");
			json_str(stdout, why);
			printf("}\n");
		}
		fprintf(stderr, "xactctl: refused: %s\n", why);
		rv = 1;
	}
	xact__reply__free_unpacked(rep, NULL);
	return rv;
}

/*
 * recover list|show GID: what the coordinator holds in flight and what each
 * participant holds prepared, put together, with what the coordinator
 * answers for each gid.  Not read only: for a gid the coordinator no longer
 * knows, the answer waits while it is rolled back on every participant
 * (presumed abort, which the sweep would do anyway), so that "aborted" is
 * final and a commit with no journal row (one phase, one writer) shows as
 * "unknown", never "aborted".
 */
static int
cmd_recover(const char *url, int timeout_ms, int argc, char **argv)
{
	static struct doubt d[MAX_DOUBT];
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__StatusReq sr = XACT__STATUS_REQ__INIT;
	Xact__Reply *st;
	const char *only = NULL;
	char prefix[64];
	int json = 0, n = 0, rv, show;
	nng_socket cs;

	if (argc > 0 && (strcmp(argv[0], "commit") == 0 || strcmp(argv[0], "abort") == 0 ||
	                    strcmp(argv[0], "forget") == 0)) {
		return cmd_resolve(url, timeout_ms, argc, argv);
	}
	show = argc > 0 && strcmp(argv[0], "show") == 0;
	if (argc < 1 || (!show && strcmp(argv[0], "list") != 0)) {
		fprintf(stderr, "xactctl recover: want list|show GID|commit GID|abort GID|forget GID\n");
		return EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (show && only == NULL) {
			only = argv[i];
		} else {
			fprintf(stderr, "xactctl recover: unexpected argument '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (show && only == NULL) {
		fprintf(stderr, "xactctl recover show: which GID?\n");
		return EXIT_USAGE;
	}
	cs = peer(url);
	req.body_case = XACT__REQUEST__BODY_STATUS;
	req.status = &sr;
	if ((rv = wire_call(cs, &req, &st, timeout_ms)) != XACT_OK ||
	    st->body_case != XACT__REPLY__BODY_STATUS) {
		fprintf(stderr, "xactctl: coordinator %s: %s\n", url,
		    rv ? xact_strerror(rv) : "unexpected reply");
		nng_close(cs);
		return 1;
	}
	snprintf(prefix, sizeof(prefix), "xact:%s:", st->status->coordinator_id);
	for (size_t i = 0; i < st->status->n_txns; i++) {
		Xact__TxnInfo *t = st->status->txns[i];
		struct doubt *x;

		if ((only == NULL || strcmp(t->gid, only) == 0) && (x = doubt_get(d, &n, t->gid))) {
			x->state = t->state;
			x->age_ms = t->age_ms;
		}
	}
	size_t np = st->status->n_participants < 64 ? st->status->n_participants : 64;
	for (size_t p = 0; p < np; p++) {
		Xact__Request lr = XACT__REQUEST__INIT;
		Xact__ListPreparedReq lp = XACT__LIST_PREPARED_REQ__INIT;
		Xact__Reply *rep;
		nng_socket ps = peer(st->status->participants[p]->url);

		lp.prefix = prefix;
		lr.body_case = XACT__REQUEST__BODY_LIST_PREPARED;
		lr.list_prepared = &lp;
		if (wire_call(ps, &lr, &rep, timeout_ms) != XACT_OK ||
		    rep->body_case != XACT__REPLY__BODY_LIST_PREPARED) {
			for (int k = 0; k < n; k++) {
				d[k].prepared[p] = 2;
			}
			fprintf(stderr, "xactctl: participant %s (%s) unreachable: its branches are "
			                "not shown\n", st->status->participants[p]->name,
			    st->status->participants[p]->url);
			nng_close(ps);
			continue;
		}
		for (size_t g = 0; g < rep->list_prepared->n_gids; g++) {
			const char *gid = rep->list_prepared->gids[g];
			struct doubt *x;

			if ((only == NULL || strcmp(gid, only) == 0) && (x = doubt_get(d, &n, gid))) {
				x->prepared[p] = 1;
			}
		}
		xact__reply__free_unpacked(rep, NULL);
		nng_close(ps);
	}
	if (show && n == 0) {
		doubt_get(d, &n, only);
	}
	for (int k = 0; k < n; k++) {
		Xact__Request oreq = XACT__REQUEST__INIT;
		Xact__OutcomeReq oq = XACT__OUTCOME_REQ__INIT;
		Xact__Reply *rep;

		oq.gid = d[k].gid;
		oreq.body_case = XACT__REQUEST__BODY_OUTCOME;
		oreq.outcome = &oq;
		snprintf(d[k].outcome, sizeof(d[k].outcome), "?");
		if (wire_call(cs, &oreq, &rep, timeout_ms) == XACT_OK) {
			if (rep->body_case == XACT__REPLY__BODY_OUTCOME) {
				snprintf(d[k].outcome, sizeof(d[k].outcome), "%s",
				    outcome_name(rep->outcome->outcome));
			}
			xact__reply__free_unpacked(rep, NULL);
		}
	}
	if (json) {
		printf("{\"coordinator_id\":");
		json_str(stdout, st->status->coordinator_id);
		printf(",\"transactions\":[");
	} else if (n == 0) {
		printf("no transaction in doubt\n");
	} else {
		printf("%-28s %-18s %-10s %9s  %s\n", "GID", "COORDINATOR", "DECISION", "AGE(ms)",
		    "BRANCHES");
	}
	for (int k = 0; k < n; k++) {
		if (json) {
			printf("%s{\"gid\":", k ? "," : "");
			json_str(stdout, d[k].gid);
			printf(",\"coordinator_state\":");
			json_str(stdout, d[k].state);
			printf(",\"decision\":\"%s\",\"age_ms\":", d[k].outcome);
			if (d[k].state != NULL) {
				printf("%llu", (unsigned long long)d[k].age_ms);
			} else {
				printf("null");
			}
			printf(",\"branches\":[");
		} else {
			printf("%-28s %-18s %-10s ", d[k].gid, d[k].state ? d[k].state : "-",
			    d[k].outcome);
			if (d[k].state != NULL) {
				printf("%9llu  ", (unsigned long long)d[k].age_ms);
			} else {
				printf("%9s  ", "-");
			}
		}
		for (size_t p = 0, first = 1; p < np; p++) {
			const char *bs = d[k].prepared[p] == 1 ? "prepared"
			    : d[k].prepared[p] == 2            ? "unreachable"
			                                       : NULL;

			if (bs == NULL) {
				continue;
			}
			if (json) {
				printf("%s{\"participant\":", first ? "" : ",");
				json_str(stdout, st->status->participants[p]->name);
				printf(",\"state\":\"%s\"}", bs);
			} else {
				printf("%s%s=%s", first ? "" : " ", st->status->participants[p]->name, bs);
			}
			first = 0;
		}
		printf(json ? "]}" : "\n");
	}
	if (json) {
		printf("]}\n");
	}
	xact__reply__free_unpacked(st, NULL);
	nng_close(cs);
	return 0;
}

/* ---- journal dump and check (offline) ------------------------------------ */

static void
print_time(int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];

	if (ms == 0) {
		printf("%-24s", "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("%s.%03dZ ", buf, (int)(ms % 1000));
}

struct dump {
	int json, n, pending, nh, npc;
	const char *decision; /* "commit", or "precommit" while listing those */
};

static int
count_decision(void *arg, const struct journal_record *r)
{
	struct dump *d = arg;

	d->n++;
	d->pending += r->completed_at == 0;
	return 0;
}

static int
count_heuristic(void *arg, const struct journal_heuristic *h)
{
	(void)h;
	((struct dump *)arg)->nh++;
	return 0;
}

static int
dump_decision(void *arg, const struct journal_record *r)
{
	struct dump *d = arg;

	d->pending += r->completed_at == 0;
	if (d->json) {
		const char *p = r->participants;

		printf("%s{\"gid\":", d->n ? "," : "");
		json_str(stdout, r->gid);
		printf(",\"decision\":\"%s\",\"participants\":[", d->decision);
		for (int k = 0; *p != '\0'; k++) {
			size_t len = strcspn(p, ",");
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)len, p);
			printf("%s", k ? "," : "");
			json_str(stdout, name);
			p += len + (p[len] == ',');
		}
		printf("],\"decided_at_ms\":%lld,\"completed_at_ms\":", (long long)r->decided_at);
		if (r->completed_at) {
			printf("%lld}", (long long)r->completed_at);
		} else {
			printf("null}");
		}
	} else {
		if (d->n == 0) {
			printf("%-28s %-9s %-24s %-24s %s\n", "GID", "DECISION", "DECIDED (UTC)",
			    "COMPLETED (UTC)", "PARTICIPANTS");
		}
		printf("%-28s %-9s ", r->gid, d->decision);
		print_time(r->decided_at);
		print_time(r->completed_at);
		printf("%s\n", r->participants);
	}
	d->n++;
	return 0;
}

static int
dump_heuristic(void *arg, const struct journal_heuristic *h)
{
	struct dump *d = arg;

	if (d->json) {
		printf("%s{\"gid\":", d->nh ? "," : "");
		json_str(stdout, h->gid);
		printf(",\"participant\":");
		json_str(stdout, h->participant);
		printf(",\"decision\":\"%s\",\"outcome\":\"%s\",\"detected_at_ms\":%lld}",
		    h->decision, h->outcome, (long long)h->detected_at);
	} else {
		if (d->nh == 0) {
			printf("\nheuristic outcomes (a branch ended against the decision):\n"
			       "%-28s %-16s %-8s %-9s %s\n", "GID", "PARTICIPANT", "DECISION",
			    "OUTCOME", "DETECTED (UTC)");
		}
		printf("%-28s %-16s %-8s %-9s ", h->gid, h->participant, h->decision, h->outcome);
		print_time(h->detected_at);
		putchar('\n');
	}
	d->nh++;
	return 0;
}

static int
cmd_journal(int argc, char **argv)
{
	const char *path = NULL, *verb = argc > 0 ? argv[0] : "";
	struct dump d = {0, 0, 0, 0, 0, "commit"};
	char err[1024], *owner, *version, *seq;
	journal *j;
	int rv;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			d.json = 1;
		} else if (path == NULL) {
			path = argv[i];
		} else {
			path = NULL;
			break;
		}
	}
	if ((strcmp(verb, "dump") != 0 && strcmp(verb, "check") != 0) || path == NULL) {
		fprintf(stderr, "xactctl journal: want dump|check [--json] PATH\n");
		return EXIT_USAGE;
	}
	if (journal_open_readonly(&j, path, err, sizeof(err)) != XACT_OK ||
	    (verb[0] == 'c' && journal_check(j, err, sizeof(err)) != XACT_OK)) {
		char why[1100];

		/* journal_open_readonly's text names the path already */
		snprintf(why, sizeof(why), "%s%s%s", j ? path : "", j ? ": " : "", err);
		if (d.json) {
			printf("{\"path\":");
			json_str(stdout, path);
			printf(",\"ok\":false,\"error\":");
			json_str(stdout, why);
			printf("}\n");
		}
		fprintf(stderr, "xactctl: journal %s\n", why);
		journal_close(j);
		return 1;
	}
	owner = journal_meta(j, "coordinator_id");
	version = journal_meta(j, "schema_version");
	seq = journal_meta(j, "seq_reserved");
	if (d.json) {
		printf("{\"path\":");
		json_str(stdout, path);
		printf(",\"coordinator_id\":");
		json_str(stdout, owner);
		printf(",\"schema_version\":");
		json_str(stdout, version);
		printf(",\"seq_reserved\":");
		json_str(stdout, seq);
		printf(",\"decisions\":[");
	} else if (verb[0] == 'd') {
		printf("journal %s: coordinator %s, schema %s, gids reserved up to %s\n\n", path,
		    owner ? owner : "?", version ? version : "?", seq ? seq : "?");
	}
	if (verb[0] == 'c' && !d.json) {
		d.json = -1; /* count only */
	}
	rv = journal_foreach_decision(j, d.json == -1 ? count_decision : dump_decision, &d);
	/* 3PC pre-commits with no commit yet: listed as decisions of their own
	 * kind; their outcome is the termination protocol's. */
	if (d.json == 1) {
		printf("],\"precommits\":[");
	}
	if (rv == XACT_OK) {
		int n = d.n, pending = d.pending;

		d.decision = "precommit";
		d.n = d.json == 1 ? 0 : d.n;
		rv = journal_foreach_precommit(j, d.json == -1 ? count_decision : dump_decision, &d);
		d.npc = d.n - (d.json == 1 ? 0 : n);
		d.n = n;
		d.pending = pending;
	}
	if (d.json == 1) {
		printf("],\"heuristics\":[");
	}
	if (rv == XACT_OK) {
		rv = journal_foreach_heuristic(j, d.json == -1 ? count_heuristic : dump_heuristic, &d);
	}
	if (d.json == 1) {
		printf("],\"ok\":%s}\n", rv == XACT_OK ? "true" : "false");
	} else if (rv == XACT_OK && verb[0] == 'd') {
		printf("%s%d decision(s), %d not yet acknowledged by every participant; %d pre-commit(s) "
		       "awaiting an outcome; %d heuristic outcome(s)\n", d.n || d.npc ? "\n" : "", d.n,
		    d.pending, d.npc, d.nh);
	} else if (rv == XACT_OK) {
		printf("journal %s: OK (coordinator %s, schema %s, %d decision(s), %d pending, %d "
		       "pre-commit(s), %d heuristic outcome(s))\n", path, owner ? owner : "?",
		    version ? version : "?", d.n, d.pending, d.npc, d.nh);
	}
	free(owner);
	free(version);
	free(seq);
	journal_close(j);
	if (rv != XACT_OK) {
		fprintf(stderr, "xactctl: journal %s: cannot read its records\n", path);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *url = getenv("XACT_COORDINATOR");
	int timeout_ms = 30000, i = 1, rv;
	xact_client *c;

	setvbuf(stdout, NULL, _IOLBF, 0); /* results and errors interleave in order */
	if (url == NULL || *url == '\0') {
		url = "tcp://127.0.0.1:7400";
	}
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--coordinator") == 0 && i + 1 < argc) {
			url = argv[++i];
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);

			timeout_ms = *end == '\0' && v > 0 && v <= 86400000 ? (int)v : 0;
			if (timeout_ms <= 0) {
				fprintf(stderr, "xactctl: --timeout wants milliseconds > 0\n");
				return EXIT_USAGE;
			}
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "xactctl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "status") == 0) {
		return cmd_status(url, timeout_ms, argc - i - 1, argv + i + 1);
	}
	if (strcmp(argv[i], "journal") == 0) {
		return cmd_journal(argc - i - 1, argv + i + 1);
	}
	if (strcmp(argv[i], "recover") == 0) {
		return cmd_recover(url, timeout_ms, argc - i - 1, argv + i + 1);
	}
	if (strcmp(argv[i], "exec") != 0) {
		fprintf(stderr, "xactctl: unknown command '%s'\n", argv[i]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((rv = xact_open(&c, url, timeout_ms)) != XACT_OK) {
		fprintf(stderr, "xactctl: cannot open coordinator %s: %s\n", url, xact_strerror(rv));
		return EXIT_USAGE;
	}
	rv = cmd_exec(c, argc - i - 1, argv + i + 1);
	xact_close(c);
	return rv;
}
