/*
 * noopbackend.c - the no-op backend: no database at all.  It exists to
 * measure the coordinator and the agents alone (xact-bench --noop):
 * statements succeed and return no rows, a branch prepares at once, and
 * COMMIT/ROLLBACK PREPARED succeed for the gids it holds prepared.
 *
 * Prepared gids live in memory only.  An agent restarted has lost them: a
 * COMMIT that comes later finds nothing and is reported as a heuristic
 * outcome.  It never holds data; never point an application at it.
 */
#include "backend.h"

#include "part.h"
#include "result.h"
#include "xact.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 65536

struct held {
	struct held *next;
	char gid[];
};

struct noop {
	pthread_mutex_t lock;
	struct held *bucket[BUCKETS];
	size_t max_message;
};

/* A connection: nothing to hold, but begin must hand out something. */
static char noop_conn;

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s != '\0') {
		h = (h ^ (unsigned char)*s++) * 16777619u;
	}
	return h % BUCKETS;
}

static int
noop_open(void **out, const struct part_config *cfg, char *err, size_t errlen)
{
	struct noop *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		snprintf(err, errlen, "out of memory");
		return XACT_ENOMEM;
	}
	pthread_mutex_init(&n->lock, NULL);
	n->max_message = (size_t)cfg->max_message;
	*out = n;
	return XACT_OK;
}

static void
noop_close(void *be)
{
	struct noop *n = be;

	for (size_t i = 0; i < BUCKETS; i++) {
		while (n->bucket[i] != NULL) {
			struct held *h = n->bucket[i];

			n->bucket[i] = h->next;
			free(h);
		}
	}
	pthread_mutex_destroy(&n->lock);
	free(n);
}

static enum branch_result
noop_begin(void *be, void **conn, char *err, size_t errlen)
{
	(void)be;
	(void)err;
	(void)errlen;
	*conn = &noop_conn;
	return BRES_OK;
}

static enum branch_result
noop_exec(void *be, void *conn, const Xact__Statement *st, nng_msg **reply)
{
	struct noop *n = be;
	struct result *r = result_new(0);

	(void)conn;
	(void)st;
	*reply = r != NULL ? result_finish(r, n->max_message) : result_error("out of memory", NULL);
	return *reply != NULL ? BRES_OK : BRES_FAILED;
}

/* Holds gid prepared.  BRES_OK, or FAILED when it already is (as
 * PREPARE TRANSACTION refuses a gid in use) or memory ran out. */
static enum branch_result
hold(struct noop *n, const char *gid, char *err, size_t errlen)
{
	unsigned b = hash(gid);
	struct held *h;

	pthread_mutex_lock(&n->lock);
	for (h = n->bucket[b]; h != NULL; h = h->next) {
		if (strcmp(h->gid, gid) == 0) {
			pthread_mutex_unlock(&n->lock);
			snprintf(err, errlen, "transaction identifier \"%s\" is already in use", gid);
			return BRES_FAILED;
		}
	}
	if ((h = malloc(sizeof(*h) + strlen(gid) + 1)) == NULL) {
		pthread_mutex_unlock(&n->lock);
		snprintf(err, errlen, "out of memory");
		return BRES_FAILED;
	}
	strcpy(h->gid, gid);
	h->next = n->bucket[b];
	n->bucket[b] = h;
	pthread_mutex_unlock(&n->lock);
	return BRES_OK;
}

static enum branch_result
noop_prepare(void *be, void *conn, const char *gid, char *err, size_t errlen)
{
	(void)conn;
	return hold(be, gid, err, errlen);
}

/* Nothing to keep: the branch is over. */
static enum branch_result
noop_commit_one_phase(void *be, void *conn, const char *gid, char *err, size_t errlen)
{
	(void)be;
	(void)conn;
	(void)gid;
	(void)err;
	(void)errlen;
	return BRES_OK;
}

static enum branch_result
noop_run(void *be, Xact__Statement *const *stmts, size_t n, const char *gid, int one_phase,
    char *err, size_t errlen)
{
	(void)stmts;
	(void)n;
	return one_phase ? BRES_OK : hold(be, gid, err, errlen);
}

static void
noop_rollback(void *be, void *conn)
{
	(void)be;
	(void)conn;
}

/* Lets go of gid: BRES_OK, or BRES_NOT_FOUND when it was not held. */
static enum branch_result
let_go(void *be, const char *gid, char *err, size_t errlen)
{
	struct noop *n = be;
	struct held **pp;

	pthread_mutex_lock(&n->lock);
	for (pp = &n->bucket[hash(gid)]; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->gid, gid) == 0) {
			struct held *h = *pp;

			*pp = h->next;
			pthread_mutex_unlock(&n->lock);
			free(h);
			return BRES_OK;
		}
	}
	pthread_mutex_unlock(&n->lock);
	snprintf(err, errlen, "no prepared branch %s (the no-op backend keeps none across "
	                      "a restart)", gid);
	return BRES_NOT_FOUND;
}

static int
noop_list_prepared(void *be, const char *prefix, char ***gids, size_t *count, char *err,
    size_t errlen)
{
	struct noop *n = be;
	size_t k = 0, cap = 0, plen = strlen(prefix);
	char **v = NULL;

	*gids = NULL;
	*count = 0;
	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < BUCKETS; i++) {
		for (struct held *h = n->bucket[i]; h != NULL; h = h->next) {
			if (strncmp(h->gid, prefix, plen) != 0) {
				continue;
			}
			if (k == cap) {
				char **more = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*v));

				if (more == NULL) {
					goto nomem;
				}
				v = more;
			}
			if ((v[k] = strdup(h->gid)) == NULL) {
				goto nomem;
			}
			k++;
		}
	}
	pthread_mutex_unlock(&n->lock);
	*gids = v;
	*count = k;
	return XACT_OK;
nomem:
	pthread_mutex_unlock(&n->lock);
	while (k > 0) {
		free(v[--k]);
	}
	free(v);
	snprintf(err, errlen, "out of memory");
	return XACT_ENOMEM;
}

const struct backend_ops noopbackend_ops = {
	.name = "noop",
	.open = noop_open,
	.close = noop_close,
	.begin = noop_begin,
	.exec = noop_exec,
	.prepare = noop_prepare,
	.commit_one_phase = noop_commit_one_phase,
	.run = noop_run,
	.rollback = noop_rollback,
	.commit_prepared = let_go,
	.rollback_prepared = let_go,
	.list_prepared = noop_list_prepared,
};
