/*
 * bank - the bank-transfer workload of the integration tests, through the
 * public client API (xact.h).  Each transfer moves an amount from an account
 * on participant A to one on participant B and writes a ledger row on both.
 * Every K-th transfer is made to fail on B (its ledger row breaks a CHECK
 * constraint).  Prints one line per transfer: "XFER OUTCOME GID".
 *
 * usage: bank URL CLIENTS TRANSFERS FAIL_EVERY ACCOUNTS FIRST_XFER A B
 */
#include "xact.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *url, *part_a, *part_b;
static int transfers, fail_every, accounts, first_xfer;
static int next_xfer;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int
take_xfer(void)
{
	int x;

	pthread_mutex_lock(&lock);
	x = next_xfer < transfers ? first_xfer + next_xfer++ : -1;
	pthread_mutex_unlock(&lock);
	return x;
}

static const char *
transfer(xact_client *c, int x, char *gid, size_t n)
{
	char amount[32], neg[32], from[32], to[32], xs[32];
	const char *p[2];
	xact_txn *t;
	xact_outcome out;
	int failing = fail_every > 0 && x % fail_every == 0;

	snprintf(amount, sizeof(amount), "%d", 1 + x % 7);
	snprintf(neg, sizeof(neg), "%d", -(1 + x % 7));
	snprintf(from, sizeof(from), "%d", x % accounts);
	snprintf(to, sizeof(to), "%d", (x * 7) % accounts);
	snprintf(xs, sizeof(xs), "%d", x);
	snprintf(gid, n, "-");
	if (xact_begin(c, XACT_PROTOCOL_2PC, &t) != XACT_OK) {
		return "aborted"; /* nothing started */
	}
	snprintf(gid, n, "%s", xact_txn_gid(t));
	p[0] = amount;
	p[1] = from;
	if (xact_exec(t, part_a, "UPDATE accounts SET balance = balance - $1 WHERE id = $2", 2, p,
	        NULL) != XACT_OK) {
		goto failed;
	}
	p[0] = xs;
	p[1] = amount;
	if (xact_exec(t, part_a, "INSERT INTO ledger (xfer, amount) VALUES ($1, $2)", 2, p, NULL) !=
	    XACT_OK) {
		goto failed;
	}
	p[0] = amount;
	p[1] = to;
	if (xact_exec(t, part_b, "UPDATE accounts SET balance = balance + $1 WHERE id = $2", 2, p,
	        NULL) != XACT_OK) {
		goto failed;
	}
	p[0] = xs;
	p[1] = failing ? neg : amount;
	if (xact_exec(t, part_b, "INSERT INTO ledger (xfer, amount) VALUES ($1, $2)", 2, p, NULL) !=
	    XACT_OK) {
		goto failed;
	}
	if (xact_commit(t, &out, NULL) != XACT_OK) {
		out = XACT_OUTCOME_UNKNOWN;
	}
	xact_txn_free(t);
	return out == XACT_OUTCOME_COMMITTED ? "committed"
	    : out == XACT_OUTCOME_ABORTED    ? "aborted"
	                                     : "unknown";
failed:
	if (failing && strstr(xact_txn_error(t), "ledger_amount_check") == NULL) {
		fprintf(stderr, "bank: xfer %d failed with an unexpected error: %s\n", x,
		    xact_txn_error(t));
	}
	xact_rollback(t);
	xact_txn_free(t);
	return "aborted";
}

static void *
client_main(void *arg)
{
	xact_client *c = arg;
	char gid[128];
	int x;

	while ((x = take_xfer()) >= 0) {
		const char *o = transfer(c, x, gid, sizeof(gid));

		pthread_mutex_lock(&lock);
		printf("%d %s %s\n", x, o, gid);
		fflush(stdout);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	int clients;
	pthread_t th[256];
	xact_client *c;

	/* Started in the background by a script, it would inherit SIGINT
	 * ignored; the tests kill it with SIGINT like a user's Ctrl-C. */
	signal(SIGINT, SIG_DFL);
	if (argc != 9) {
		fprintf(stderr, "usage: bank URL CLIENTS TRANSFERS FAIL_EVERY ACCOUNTS FIRST_XFER A B\n");
		return 2;
	}
	url = argv[1];
	clients = atoi(argv[2]);
	transfers = atoi(argv[3]);
	fail_every = atoi(argv[4]);
	accounts = atoi(argv[5]);
	first_xfer = atoi(argv[6]);
	part_a = argv[7];
	part_b = argv[8];
	if (clients < 1 || clients > 256 || accounts < 1) {
		fprintf(stderr, "bank: bad arguments\n");
		return 2;
	}
	if (xact_open(&c, url, 60000) != XACT_OK) {
		fprintf(stderr, "bank: cannot open %s\n", url);
		return 1;
	}
	for (int i = 0; i < clients; i++) {
		pthread_create(&th[i], NULL, client_main, c);
	}
	for (int i = 0; i < clients; i++) {
		pthread_join(th[i], NULL);
	}
	xact_close(c);
	return 0;
}
