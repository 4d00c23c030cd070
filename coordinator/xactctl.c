/*
 * xactctl - the command line for applications: run statements on several
 * participants as one atomic transaction (exec) and look at the
 * coordinator (status).  It lives beside the coordinator, whose journal
 * the operator's commands will read.  The usage text matches
 * docs/xactctl.1.
 */
#include "wire.h"
#include "xact.h"

#include <getopt.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	    "usage: xactctl [--coordinator URL] [--timeout MS] exec [--json]\n"
	    "               --on NAME SQL [--param VALUE]... [--on NAME SQL [--param VALUE]...]...\n"
	    "       xactctl [--coordinator URL] [--timeout MS] status [--json]\n"
	    "\n"
	    "  --coordinator URL  the coordinator (default $XACT_COORDINATOR, else tcp://127.0.0.1:7400)\n"
	    "  --timeout MS       give up on an answer after MS milliseconds (30000)\n"
	    "  exec               run every statement, in the order given, as one global\n"
	    "                     transaction on the named participants, then commit\n"
	    "  --on NAME SQL      a statement for participant NAME; repeat as needed\n"
	    "  --param VALUE      the next $n parameter of the statement before it\n"
	    "  status             the coordinator's participants and transactions in flight\n"
	    "  --json             machine-readable output\n"
	    "\n"
	    "Exit status of exec: 0 committed, 1 aborted (reason on stderr), 2 usage error,\n"
	    "3 outcome unknown (the transaction may have committed).\n"
	    "Exit status of status: 0 answered, 1 coordinator unreachable, 2 usage error.\n");
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

static int
cmd_exec(xact_client *c, int argc, char **argv)
{
	static struct stmt stmts[MAX_STMTS];
	int n = 0, json = 0, rv;
	xact_txn *t;
	xact_outcome out;
	int pending;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
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
	if ((rv = xact_begin(c, XACT_PROTOCOL_2PC, &t)) != XACT_OK) {
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
		printf("]}\n");
	} else {
		printf("coordinator %s at %s\n\nPARTICIPANT       REACHABLE  URL\n",
		    st->coordinator_id, url);
		for (size_t i = 0; i < st->n_participants; i++) {
			printf("%-17s %-10s %s\n", st->participants[i]->name,
			    st->participants[i]->reachable ? "yes" : "no", st->participants[i]->url);
		}
		printf("\n%zu transaction(s) in flight\n", st->n_txns);
		if (st->n_txns > 0) {
			printf("GID                      STATE        AGE(ms)  PARTICIPANTS\n");
		}
		for (size_t i = 0; i < st->n_txns; i++) {
			printf("%-24s %-12s %8llu ", st->txns[i]->gid, st->txns[i]->state,
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
