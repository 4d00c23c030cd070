/*
 * check.c - the invariants xact-harness checks once recovery has settled:
 *
 *   1. nothing is left prepared (pg_prepared_xacts, SQLite side logs);
 *   2. bank: the total across the databases is what the seed put there;
 *   3. bank: every transfer the client was told committed is on all of
 *      its databases, every one told aborted on none, and one whose
 *      outcome the client never learned on all or none, and as the
 *      coordinator answers when asked afterwards (xact_outcome_of): on
 *      all when it says committed, on none when it says aborted;
 *   4. the journal agrees: a transfer with a commit decision is on all of
 *      its databases, one without on none (presumed abort);
 *   5. the scenario's own [check] queries and its SQL invariant.
 *
 * A violation is printed with the gid, what every database holds and the
 * journal's record.  Changes no data: asking the coordinator about a gid it
 * no longer knows makes it roll the gid back everywhere first (presumed
 * abort, as its sweep does anyway), and the ledgers are read after that.
 */
#include "harness.h"

#include "journal.h"
#include "xact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ledger {
	long *xfer;
	size_t n, cap;
};

static void
ledger_add(void *arg, const char *value)
{
	struct ledger *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		long *nx = realloc(l->xfer, cap * sizeof(*nx));

		if (nx == NULL) {
			return; /* a missing row is then reported, not hidden */
		}
		l->xfer = nx;
		l->cap = cap;
	}
	l->xfer[l->n++] = strtol(value, NULL, 10);
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static int
ledger_has(const struct ledger *l, long x)
{
	return bsearch(&x, l->xfer, l->n, sizeof(long), cmp_long) != NULL;
}

struct gids;
static long pending_precommits(const struct scenario *sc, struct gids *keep);

int
check_settle(const struct scenario *sc)
{
	char err[512];

	for (int waited = 0; waited < (int)(sc->settle * 1000) && !h_interrupted; waited += 100) {
		long left = 0;

		for (int i = 0; i < sc->nparts; i++) {
			const struct sc_database *d = sc_database(sc,
			    sc->parts[i].database);
			long n = db_prepared(sc, d, err, sizeof(err));

			left += n < 0 ? 1 : n;
		}
		/* 3PC: the participants may have finished by themselves; the
		 * coordinator has not journaled the outcome yet. */
		left += pending_precommits(sc, NULL) != 0;
		if (left == 0) {
			return 0;
		}
		h_sleep_ms(100);
	}
	return -1;
}

/* 1: no prepared branch may be left on any participant's database. */
static int
check_prepared(const struct scenario *sc, char *err, size_t errlen)
{
	int bad = 0;

	for (int i = 0; i < sc->nparts; i++) {
		const struct sc_database *d = sc_database(sc, sc->parts[i].database);
		long n = db_prepared(sc, d, err, errlen);

		if (n < 0) {
			return -1;
		}
		if (n > 0) {
			printf("VIOLATION prepared: %ld branch(es) still prepared on %s (participant %s) "
			       "after %g s\n", n, d->name, sc->parts[i].name, sc->settle);
			bad++;
		}
	}
	return bad;
}

/* The databases of the bank workload, in its participant order. */
static int
bank_dbs(const struct scenario *sc, const struct sc_database *dbs[])
{
	for (int i = 0; i < sc->wl.nparticipants; i++) {
		const struct sc_participant *p = sc_part(sc, sc->wl.participants[i]);

		dbs[i] = sc_database(sc, p->database);
	}
	return sc->wl.nparticipants;
}

/* 2: the total balance. */
static int
check_total(const struct scenario *sc, char *err, size_t errlen)
{
	const struct sc_database *dbs[H_MAX];
	int n = bank_dbs(sc, dbs);
	long total = 0, expect = (long)n * sc->wl.accounts * sc->wl.balance;

	for (int i = 0; i < n; i++) {
		char *v;

		if (db_query(sc, dbs[i], "SELECT coalesce(sum(balance), 0) FROM accounts", &v, err,
		        errlen) != 0) {
			return -1;
		}
		total += strtol(v, NULL, 10);
		free(v);
	}
	if (total != expect) {
		printf("VIOLATION total: the balances add up to %ld, the seed put %ld\n", total, expect);
		return 1;
	}
	return 0;
}

/* The 3PC pre-commits without a commit decision: gids, sorted. */
struct gids {
	char (*gid)[64];
	size_t n, cap;
};

static int
gid_add(void *arg, const struct journal_record *r)
{
	struct gids *g = arg;

	if (g->n == g->cap) {
		void *more = realloc(g->gid, (g->cap = g->cap ? 2 * g->cap : 64) * sizeof(*g->gid));

		if (more == NULL) {
			return XACT_ENOMEM;
		}
		g->gid = more;
	}
	snprintf(g->gid[g->n++], 64, "%s", r->gid);
	return 0;
}

static int
cmp_gid(const void *a, const void *b)
{
	return strcmp(a, b);
}

static struct gids precommits; /* read by check_transfers */

/* The number of pre-commits without a commit in the scenario's journal
 * (its coordinator is still terminating them); -1 when unreadable. */
static long
pending_precommits(const struct scenario *sc, struct gids *keep)
{
	char path[H_PATH + 16], err[512];
	struct gids g = {NULL, 0, 0};
	journal *j;
	int rv;

	snprintf(path, sizeof(path), "%s/journal.db", sc->dir);
	if (access(path, F_OK) != 0) {
		return 0;
	}
	if (journal_open_readonly(&j, path, err, sizeof(err)) != 0) {
		return -1;
	}
	rv = journal_foreach_precommit(j, gid_add, &g);
	journal_close(j);
	if (rv != 0) {
		free(g.gid);
		return -1;
	}
	qsort(g.gid, g.n, sizeof(*g.gid), cmp_gid);
	if (keep != NULL) {
		free(keep->gid);
		*keep = g;
		return (long)g.n;
	}
	free(g.gid);
	return (long)g.n;
}

/* What the journal holds for gid, as text for a report.  *decided: 1 a
 * commit decision, 2 a 3PC pre-commit only (its outcome is the
 * termination's: all or none), 0 none, -1 unreadable. */
static void
journal_says(journal *j, const char *gid, char *buf, size_t n, int *decided)
{
	struct journal_record r;
	int rc;

	*decided = 0;
	if (j == NULL || strcmp(gid, "-") == 0) {
		snprintf(buf, n, "%s", j == NULL ? "no journal" : "no gid");
		return;
	}
	rc = journal_lookup(j, gid, &r);
	if (rc == XACT_OK) {
		*decided = 1;
		snprintf(buf, n, "commit decided for %s%s", r.participants,
		    r.completed_at ? ", completed" : ", not completed");
	} else if (rc == XACT_ENOTFOUND && precommits.n > 0 &&
	    bsearch(gid, precommits.gid, precommits.n, sizeof(*precommits.gid), cmp_gid) != NULL) {
		*decided = 2;
		snprintf(buf, n, "pre-commit only (three-phase commit, still terminating)");
	} else if (rc == XACT_ENOTFOUND) {
		snprintf(buf, n, "no decision (presumed abort)");
	} else {
		*decided = -1;
		snprintf(buf, n, "cannot be read");
	}
}

/* The databases transfer o wrote on: from the outcome when it says, else
 * from the workload's routing. */
static void
transfer_dbs(const struct scenario *sc, const struct wl_outcome *o, int on[H_MAX])
{
	int any = 0, from, to;

	for (int i = 0; i < sc->wl.nparticipants; i++) {
		int p = (int)(sc_part(sc, sc->wl.participants[i]) - sc->parts);

		on[i] = o->parts[p];
		any |= on[i];
	}
	if (!any) {
		wl_bank_route(sc, o->xfer, &from, &to);
		on[from] = on[to] = 1;
	}
}

/* What the coordinator answers now for transfers whose client never
 * learned the outcome: "committed", "aborted" or "unknown" per transfer
 * (NULL when not asked).  Counts each answer in seen[3]. */
static const char **
ask_unknowns(const struct scenario *sc, const struct wl_result *r, long seen[3])
{
	const char **asked = calloc(r->n ? r->n : 1, sizeof(*asked));
	xact_client *c = NULL;
	char url[H_TEXT];

	if (asked == NULL) {
		return NULL;
	}
	env_coord_url(sc, url, sizeof(url));
	for (size_t i = 0; i < r->n; i++) {
		const struct wl_outcome *o = &r->out[i];
		xact_outcome out;
		char why[256];

		if (strcmp(o->outcome, "unknown") != 0 || strcmp(o->gid, "-") == 0) {
			continue;
		}
		if (c == NULL && xact_open(&c, url, sc->wl.timeout_ms) != XACT_OK) {
			printf("note: cannot ask the coordinator on %s about unknown outcomes\n", url);
			break;
		}
		if (xact_outcome_of(c, o->gid, &out, why, sizeof(why)) != XACT_OK) {
			out = XACT_OUTCOME_UNKNOWN;
		}
		asked[i] = out == XACT_OUTCOME_COMMITTED ? "committed"
		    : out == XACT_OUTCOME_ABORTED        ? "aborted"
		                                         : "unknown";
		seen[out == XACT_OUTCOME_COMMITTED ? 0 : out == XACT_OUTCOME_ABORTED ? 1 : 2]++;
	}
	if (c != NULL) {
		xact_close(c);
	}
	return asked;
}

/* 3 and 4 for one transfer; asked: what the coordinator answered about
 * it afterwards, or NULL. */
static int
check_transfer(const struct scenario *sc, const struct wl_outcome *o, const char *asked,
    struct ledger *ledgers, const struct sc_database *dbs[], int ndb, journal *j)
{
	int on[H_MAX], want = 0, have = 0, stray = 0, decided, bad = 0;
	char jtext[2300], held[1024] = "";

	transfer_dbs(sc, o, on);
	for (int i = 0; i < ndb; i++) {
		int has = ledger_has(&ledgers[i], o->xfer);

		want += on[i];
		have += on[i] && has;
		stray += !on[i] && has;
		snprintf(held + strlen(held), sizeof(held) - strlen(held), "%s%s: %s", i ? ", " : "",
		    dbs[i]->name, has ? "present" : "absent");
	}
	journal_says(j, o->gid, jtext, sizeof(jtext), &decided);
	if (stray > 0 || (have != 0 && have != want)) {
		bad = 1; /* atomicity, whatever the client was told */
	} else if (strcmp(o->outcome, "committed") == 0 && have != want) {
		bad = 1;
	} else if (strcmp(o->outcome, "aborted") == 0 && have != 0) {
		bad = 1;
	} else if (asked != NULL && strcmp(asked, "committed") == 0 && have != want) {
		bad = 1;
	} else if (asked != NULL && strcmp(asked, "aborted") == 0 && have != 0) {
		bad = 1;
	} else if (decided == 1 && have != want) {
		bad = 1;
	} else if (decided == 0 && j != NULL && strcmp(o->gid, "-") != 0 && have != 0 &&
	    want > 1) {
		/* Present with no decision: presumed abort says it must not be.
		 * (The harness starts coordinators with a 30-day --retention,
		 * so that completed decisions stay to be checked.)  A transfer
		 * on one database commits there in one phase, unjournaled. */
		bad = 1;
	}
	if (bad) {
		printf("VIOLATION xfer=%ld gid=%s told=%s%s%s; %s; journal: %s\n", o->xfer, o->gid,
		    o->outcome, asked ? ", asked afterwards: " : "", asked ? asked : "", held, jtext);
	}
	return bad;
}

/* Ledger rows no outcome accounts for (a transfer nobody started?). */
static int
check_strays(const struct wl_result *r, struct ledger *ledgers, const struct sc_database *dbs[],
    int ndb)
{
	struct ledger known = {0};
	int bad = 0;

	for (size_t i = 0; i < r->n; i++) {
		char v[32];

		snprintf(v, sizeof(v), "%ld", r->out[i].xfer);
		ledger_add(&known, v);
	}
	qsort(known.xfer, known.n, sizeof(long), cmp_long);
	for (int d = 0; d < ndb; d++) {
		for (size_t i = 0; i < ledgers[d].n; i++) {
			if (!ledger_has(&known, ledgers[d].xfer[i])) {
				printf("VIOLATION xfer=%ld is in %s's ledger but no client ran it\n",
				    ledgers[d].xfer[i], dbs[d]->name);
				bad++;
			}
		}
	}
	free(known.xfer);
	return bad;
}

static int
check_transfers(const struct scenario *sc, const struct wl_result *r, char *err, size_t errlen)
{
	const struct sc_database *dbs[H_MAX];
	struct ledger ledgers[H_MAX] = {{0}};
	int ndb = bank_dbs(sc, dbs), bad = 0;
	char jpath[H_PATH + 16], jerr[512];
	journal *j = NULL;
	const char **asked = NULL;
	long seen[3] = {0, 0, 0};

	snprintf(jpath, sizeof(jpath), "%s/journal.db", sc->dir);
	if (access(jpath, F_OK) == 0 && journal_open_readonly(&j, jpath, jerr, sizeof(jerr)) != 0) {
		snprintf(err, errlen, "journal %s: %s", jpath, jerr);
		return -1;
	}
	if (pending_precommits(sc, &precommits) < 0) {
		precommits.n = 0;
	}
	/* before the ledgers: an answer of "aborted" is final once given */
	if ((asked = ask_unknowns(sc, r, seen)) == NULL) {
		snprintf(err, errlen, "out of memory");
		bad = -1;
		goto out;
	}
	if (seen[0] + seen[1] + seen[2] > 0) {
		printf("unknown outcomes asked of the coordinator afterwards: %ld committed, "
		       "%ld aborted, %ld still unknown\n", seen[0], seen[1], seen[2]);
	}
	for (int i = 0; i < ndb; i++) {
		if (db_each(sc, dbs[i], "SELECT xfer FROM ledger", ledger_add, &ledgers[i], err,
		        errlen) != 0) {
			bad = -1;
			goto out;
		}
		qsort(ledgers[i].xfer, ledgers[i].n, sizeof(long), cmp_long);
	}
	for (size_t i = 0; i < r->n; i++) {
		bad += check_transfer(sc, &r->out[i], asked[i], ledgers, dbs, ndb, j);
	}
	bad += check_strays(r, ledgers, dbs, ndb);
out:
	free(asked);
	free(precommits.gid);
	memset(&precommits, 0, sizeof(precommits));
	for (int i = 0; i < ndb; i++) {
		free(ledgers[i].xfer);
	}
	if (j != NULL) {
		journal_close(j);
	}
	return bad;
}

/* 5: the scenario's [check] sections. */
static int
check_queries(const struct scenario *sc, char *err, size_t errlen)
{
	int bad = 0;

	for (int i = 0; i < sc->nchecks; i++) {
		const struct sc_check *c = &sc->checks[i];
		const struct sc_database *d = sc_database(sc, c->database);
		char *v;

		if (db_query(sc, d, c->query, &v, err, errlen) != 0) {
			return -1;
		}
		if (strcmp(v, c->expect) != 0) {
			printf("VIOLATION check %s: %s on %s gave '%s', expected '%s'\n", c->name,
			    c->query, d->name, v, c->expect);
			bad++;
		}
		free(v);
	}
	return bad;
}

int
check_invariant(const struct scenario *sc, long *sum, char *err, size_t errlen)
{
	*sum = 0;
	for (int i = 0; i < sc->nparts; i++) {
		const struct sc_database *d = sc_database(sc, sc->parts[i].database);
		char *v;

		if (db_query(sc, d, sc->wl.invariant, &v, err, errlen) != 0) {
			return -1;
		}
		*sum += strtol(v, NULL, 10);
		free(v);
	}
	return 0;
}

int
check_all(const struct scenario *sc, const struct wl_result *r, const long *invariant,
    char *err, size_t errlen)
{
	int bad = 0, n;

	n = check_prepared(sc, err, errlen);
	if (n < 0) {
		return -1;
	}
	bad += n;
	if (sc->wl.type == WL_BANK) {
		if ((n = check_total(sc, err, errlen)) < 0) {
			return -1;
		}
		bad += n;
		if ((n = check_transfers(sc, r, err, errlen)) < 0) {
			return -1;
		}
		bad += n;
	}
	if (invariant != NULL && sc->wl.invariant[0] != '\0') {
		long now;

		if (check_invariant(sc, &now, err, errlen) != 0) {
			return -1;
		}
		if (now != *invariant) {
			printf("VIOLATION invariant: %s summed over the databases gave %ld before the "
			       "workload and %ld after\n", sc->wl.invariant, *invariant, now);
			bad++;
		}
	}
	if ((n = check_queries(sc, err, errlen)) < 0) {
		return -1;
	}
	return bad + n;
}
