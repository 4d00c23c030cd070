/*
 * abandon - begins a global transaction, runs one statement and exits
 * without committing or rolling back: a client that went silent.
 * Prints the gid.  With SECONDS, it instead sleeps that long and then
 * commits, printing the gid and the outcome: a client that came back late.
 * usage: abandon URL PARTICIPANT SQL [SECONDS]
 */
#include "xact.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	xact_client *c;
	xact_txn *t;
	int rv;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: abandon URL PARTICIPANT SQL [SECONDS]\n");
		return 2;
	}
	if (xact_open(&c, argv[1], 5000) != XACT_OK || xact_begin(c, XACT_PROTOCOL_2PC, &t) != XACT_OK) {
		fprintf(stderr, "abandon: cannot begin\n");
		return 1;
	}
	if ((rv = xact_exec(t, argv[2], argv[3], 0, NULL, NULL)) != XACT_OK) {
		fprintf(stderr, "abandon: %s: %s\n", xact_strerror(rv), xact_txn_error(t));
		return 1;
	}
	printf("%s\n", xact_txn_gid(t));
	if (argc == 5) {
		xact_outcome o;

		fflush(stdout);
		sleep((unsigned)atoi(argv[4]));
		rv = xact_commit(t, &o, NULL);
		printf("%s\n", rv != XACT_OK ? xact_strerror(rv)
		    : o == XACT_OUTCOME_COMMITTED ? "committed"
		    : o == XACT_OUTCOME_ABORTED ? "aborted" : "unknown");
		return 0;
	}
	return 0; /* no commit, no rollback */
}
