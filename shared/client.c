/*
 * client.c - the public client API (xact.h) over one nng REQ socket.  Each
 * call opens its own context, so one client serves many threads at once.
 *
 * REQ resends an unanswered request only when its connection breaks
 * (NNG_OPT_REQ_RESENDTIME is set to the call timeout); the coordinator
 * answers a repeated request by its key (token, gid+seq, gid).
 */
#include "wire.h"
#include "xact.h"

#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_URL "tcp://127.0.0.1:7400"
#define DEFAULT_TIMEOUT_MS 30000

struct xact_client {
	nng_socket sock;
	int timeout_ms;
	/* "xact:<coordinator id>:", learned from the first gid, for the gids
	 * of runs named by a run id (xact_run); old_coord: the coordinator
	 * cannot decode those (it predates them): always begin. */
	pthread_mutex_t lock;
	char prefix[64];
	int old_coord;
};

struct xact_txn {
	xact_client *client;
	char gid[256];
	uint32_t seq;
	int broken; /* a statement's fate is unknown: only rollback is allowed */
	char error[1024];
};

struct xact_result {
	size_t ncols, nrows;
	char **cols;
	char **values; /* nrows * ncols, NULL for SQL NULL */
	uint64_t affected;
};

int
xact_open(xact_client **out, const char *url, int timeout_ms)
{
	xact_client *c;
	int rv;

	*out = NULL;
	if (url == NULL) {
		url = getenv("XACT_COORDINATOR");
	}
	if (url == NULL || *url == '\0') {
		url = DEFAULT_URL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return XACT_ENOMEM;
	}
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	pthread_mutex_init(&c->lock, NULL);
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return wire_nng_err(rv);
	}
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, c->timeout_ms);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 1000);
	wire_socket_setup(c->sock, 0);
	if ((rv = nng_dial(c->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		nng_close(c->sock);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? XACT_EINVAL
		                                                 : wire_nng_err(rv);
	}
	*out = c;
	return XACT_OK;
}

void
xact_close(xact_client *c)
{
	if (c != NULL) {
		nng_close(c->sock);
		pthread_mutex_destroy(&c->lock);
		free(c);
	}
}

/* The error code an Error reply carries (XACT_EPROTO when out of range). */
static int
error_code(const Xact__Error *e)
{
	return e->code > 0 && e->code < XACT_ERR_COUNT ? (int)e->code : XACT_EPROTO;
}

/* wire_call(); a transport failure also says so in reason, when given. */
static int
call_or_say(xact_client *c, Xact__Request *req, Xact__Reply **rep, char *reason,
    size_t reasonlen)
{
	int rv = wire_call(c->sock, req, rep, c->timeout_ms);

	if (rv != XACT_OK && reason != NULL && reasonlen > 0) {
		snprintf(reason, reasonlen, "coordinator: %s", xact_strerror(rv));
	}
	return rv;
}

/* Sends req and takes the reply apart into an error code and text.  On
 * success *out holds the reply, which the caller frees. */
static int
call(xact_client *c, xact_txn *t, Xact__Request *req, Xact__Reply **out)
{
	int rv = call_or_say(c, req, out, t != NULL ? t->error : NULL, t != NULL ? sizeof(t->error) : 0);

	if (rv != XACT_OK) {
		return rv;
	}
	if ((*out)->body_case == XACT__REPLY__BODY_ERROR) {
		Xact__Error *e = (*out)->error;

		rv = error_code(e);
		if (t != NULL) {
			snprintf(t->error, sizeof(t->error), "%s", e->message);
		}
		xact__reply__free_unpacked(*out, NULL);
		*out = NULL;
	}
	return rv;
}

static uint64_t
random_token(void)
{
	struct timespec ts;
	static __thread uint64_t x;

	if (x == 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
		    ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)&ts;
	}
	/* xorshift64*: tokens only need to differ between begins. */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	return x * 2685821657736338717ULL;
}

int
xact_begin(xact_client *c, xact_protocol protocol, xact_txn **out)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__BeginReq b = XACT__BEGIN_REQ__INIT;
	Xact__Reply *rep;
	xact_txn *t;
	int rv;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		return XACT_ENOMEM;
	}
	t->client = c;
	b.token = random_token();
	if (protocol != XACT_PROTOCOL_2PC && protocol != XACT_PROTOCOL_3PC &&
	    protocol != XACT_PROTOCOL_DEFAULT) {
		free(t);
		return XACT_EINVAL;
	}
	b.has_protocol = protocol != XACT_PROTOCOL_DEFAULT;
	b.protocol = protocol == XACT_PROTOCOL_3PC ? XACT__PROTOCOL__PROTOCOL_3PC
	                                           : XACT__PROTOCOL__PROTOCOL_2PC;
	req.body_case = XACT__REQUEST__BODY_BEGIN;
	req.begin = &b;
	if ((rv = call(c, NULL, &req, &rep)) != XACT_OK) {
		free(t);
		return rv;
	}
	if (rep->body_case != XACT__REPLY__BODY_BEGIN ||
	    strlen(rep->begin->gid) >= sizeof(t->gid)) {
		xact__reply__free_unpacked(rep, NULL);
		free(t);
		return XACT_EPROTO;
	}
	strcpy(t->gid, rep->begin->gid);
	xact__reply__free_unpacked(rep, NULL);
	*out = t;
	return XACT_OK;
}

const char *
xact_txn_gid(const xact_txn *t)
{
	return t->gid;
}

const char *
xact_txn_error(const xact_txn *t)
{
	return t->error;
}

void
xact_txn_free(xact_txn *t)
{
	free(t);
}

/* Copies a Result into an xact_result; returns NULL when out of memory. */
static xact_result *
result_from_wire(const Xact__Result *w)
{
	xact_result *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		return NULL;
	}
	r->ncols = w->n_columns;
	r->nrows = w->n_rows;
	r->affected = w->has_affected ? w->affected : 0;
	r->cols = calloc(r->ncols + 1, sizeof(char *));
	r->values = calloc(r->ncols * r->nrows + 1, sizeof(char *));
	if (r->cols == NULL || r->values == NULL) {
		goto err;
	}
	for (size_t i = 0; i < r->ncols; i++) {
		if ((r->cols[i] = strdup(w->columns[i])) == NULL) {
			goto err;
		}
	}
	for (size_t i = 0; i < r->nrows; i++) {
		const Xact__Row *row = w->rows[i];

		for (size_t j = 0; j < r->ncols && j < row->n_values; j++) {
			const Xact__Param *v = row->values[j];
			char *s;

			if (!v->has_value) {
				continue;
			}
			if ((s = malloc(v->value.len + 1)) == NULL) {
				goto err;
			}
			memcpy(s, v->value.data, v->value.len);
			s[v->value.len] = '\0';
			r->values[i * r->ncols + j] = s;
		}
	}
	return r;
err:
	xact_result_free(r);
	return NULL;
}

/* The wire form of n text parameters (NULL: SQL NULL), pointing into them. */
static void
set_params(Xact__Param *pv, Xact__Param **pp, int n, const char *const *params)
{
	for (int i = 0; i < n; i++) {
		xact__param__init(&pv[i]);
		if (params[i] != NULL) {
			pv[i].has_value = 1;
			pv[i].value.data = (uint8_t *)params[i];
			pv[i].value.len = strlen(params[i]);
		}
		pp[i] = &pv[i];
	}
}

int
xact_exec(xact_txn *t, const char *participant, const char *sql, int nparams,
    const char *const *params, xact_result **res)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__ExecReq e = XACT__EXEC_REQ__INIT;
	Xact__Statement st = XACT__STATEMENT__INIT;
	Xact__Param *pv = NULL, **pp = NULL;
	Xact__Reply *rep;
	int rv;

	if (res != NULL) {
		*res = NULL;
	}
	t->error[0] = '\0';
	if (t->broken) {
		snprintf(t->error, sizeof(t->error), "an earlier statement's outcome is unknown "
		         "(no answer from the coordinator): roll back");
		return XACT_ESTATE;
	}
	if (participant == NULL || sql == NULL || nparams < 0 ||
	    (nparams > 0 && params == NULL)) {
		return XACT_EINVAL;
	}
	if (nparams > 0) {
		pv = calloc((size_t)nparams, sizeof(*pv));
		pp = calloc((size_t)nparams, sizeof(*pp));
		if (pv == NULL || pp == NULL) {
			free(pv);
			free(pp);
			return XACT_ENOMEM;
		}
	}
	set_params(pv, pp, nparams, params);
	st.sql = (char *)sql;
	st.n_params = (size_t)nparams;
	st.params = pp;
	e.gid = t->gid;
	e.seq = ++t->seq;
	e.participant = (char *)participant;
	e.stmt = &st;
	req.body_case = XACT__REQUEST__BODY_EXEC;
	req.exec = &e;
	rv = call(t->client, t, &req, &rep);
	free(pv);
	free(pp);
	if (rv == XACT_ETIMEDOUT || rv == XACT_EUNREACHABLE || rv == XACT_ECLOSED) {
		/* The statement may or may not have run: a retry would run it
		 * again under a new number, a commit would commit either way. */
		t->broken = 1;
	}
	if (rv != XACT_OK) {
		return rv;
	}
	if (rep->body_case != XACT__REPLY__BODY_EXEC) {
		rv = XACT_EPROTO;
	} else if (rep->exec->result->error != NULL) {
		snprintf(t->error, sizeof(t->error), "%s", rep->exec->result->error);
		rv = XACT_ESQL;
	} else if (res != NULL && (*res = result_from_wire(rep->exec->result)) == NULL) {
		rv = XACT_ENOMEM;
	}
	xact__reply__free_unpacked(rep, NULL);
	return rv;
}

/* Sends a commit or rollback and reads the outcome. */
static int
finish(xact_txn *t, int commit, xact_outcome *out, int *pending)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__CommitReq c = XACT__COMMIT_REQ__INIT;
	Xact__RollbackReq r = XACT__ROLLBACK_REQ__INIT;
	Xact__Reply *rep;
	int rv;

	*out = XACT_OUTCOME_UNKNOWN;
	if (pending != NULL) {
		*pending = 0;
	}
	t->error[0] = '\0';
	if (commit && t->broken) {
		snprintf(t->error, sizeof(t->error), "an earlier statement's outcome is unknown: "
		         "roll back instead");
		return XACT_ESTATE;
	}
	if (commit) {
		c.gid = t->gid;
		req.body_case = XACT__REQUEST__BODY_COMMIT;
		req.commit = &c;
	} else {
		r.gid = t->gid;
		req.body_case = XACT__REQUEST__BODY_ROLLBACK;
		req.rollback = &r;
	}
	if ((rv = call(t->client, t, &req, &rep)) != XACT_OK) {
		return rv;
	}
	if (rep->body_case != XACT__REPLY__BODY_OUTCOME) {
		xact__reply__free_unpacked(rep, NULL);
		return XACT_EPROTO;
	}
	*out = (xact_outcome)rep->outcome->outcome;
	if (rep->outcome->reason != NULL) {
		snprintf(t->error, sizeof(t->error), "%s", rep->outcome->reason);
	}
	if (pending != NULL && rep->outcome->has_completion_pending) {
		*pending = rep->outcome->completion_pending;
	}
	xact__reply__free_unpacked(rep, NULL);
	return XACT_OK;
}

int
xact_run(xact_client *c, xact_protocol protocol, const xact_stmt *stmts, int n,
    xact_outcome *out, char *reason, size_t reasonlen, char gid[64])
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__RunReq run = XACT__RUN_REQ__INIT;
	Xact__RunStmt *rs = NULL, **rp = NULL;
	Xact__Statement *st = NULL;
	Xact__Param *pv = NULL, **pp = NULL;
	Xact__Reply *rep;
	xact_txn *t = NULL;
	int nparams = 0, k = 0, rv = XACT_OK;
	char prefix[64], named[64];
	uint8_t run_id[16];

	*out = XACT_OUTCOME_UNKNOWN;
	if (reason != NULL && reasonlen > 0) {
		reason[0] = '\0';
	}
	if (gid != NULL) {
		gid[0] = '\0';
	}
	if (stmts == NULL || n < 1 || n > 1024 ||
	    (protocol != XACT_PROTOCOL_2PC && protocol != XACT_PROTOCOL_3PC &&
	        protocol != XACT_PROTOCOL_DEFAULT)) {
		return XACT_EINVAL;
	}
	for (int i = 0; i < n; i++) {
		if (stmts[i].participant == NULL || stmts[i].sql == NULL || stmts[i].nparams < 0 ||
		    (stmts[i].nparams > 0 && stmts[i].params == NULL)) {
			return XACT_EINVAL;
		}
		nparams += stmts[i].nparams;
	}
	rs = calloc((size_t)n, sizeof(*rs));
	rp = calloc((size_t)n, sizeof(*rp));
	st = calloc((size_t)n, sizeof(*st));
	pv = calloc((size_t)nparams + 1, sizeof(*pv));
	pp = calloc((size_t)nparams + 1, sizeof(*pp));
	if (rs == NULL || rp == NULL || st == NULL || pv == NULL || pp == NULL) {
		rv = XACT_ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		xact__run_stmt__init(&rs[i]);
		xact__statement__init(&st[i]);
		st[i].sql = (char *)stmts[i].sql;
		st[i].n_params = (size_t)stmts[i].nparams;
		st[i].params = &pp[k];
		set_params(&pv[k], &pp[k], stmts[i].nparams, stmts[i].params);
		k += stmts[i].nparams;
		rs[i].participant = (char *)stmts[i].participant;
		rs[i].stmt = &st[i];
		rp[i] = &rs[i];
	}
	/* The run needs a name, so that a repeat of the request (the
	 * transport resends it on a new connection) is never run twice, even
	 * by a coordinator that restarted meanwhile.  The first run of a
	 * client takes a gid (begin), which tells the coordinator's id; later
	 * ones name themselves with 16 random bytes and save that round trip
	 * (the coordinator makes the gid "<prefix>r<hex>" of them). */
again:
	pthread_mutex_lock(&c->lock);
	snprintf(prefix, sizeof(prefix), "%s", c->old_coord ? "" : c->prefix);
	pthread_mutex_unlock(&c->lock);
	if (prefix[0] != '\0' && getrandom(run_id, sizeof(run_id), 0) == (ssize_t)sizeof(run_id)) {
		wire_run_gid(named, sizeof(named), prefix, run_id);
		run.has_run_id = 1;
		run.run_id.data = run_id;
		run.run_id.len = sizeof(run_id);
		run.has_protocol = protocol != XACT_PROTOCOL_DEFAULT;
		run.protocol = protocol == XACT_PROTOCOL_3PC ? XACT__PROTOCOL__PROTOCOL_3PC
		                                             : XACT__PROTOCOL__PROTOCOL_2PC;
	} else {
		const char *colon;

		if ((rv = xact_begin(c, protocol, &t)) != XACT_OK) {
			if (reason != NULL && reasonlen > 0) {
				snprintf(reason, reasonlen, "cannot begin: %s", xact_strerror(rv));
			}
			*out = XACT_OUTCOME_ABORTED; /* nothing ran */
			goto out;
		}
		snprintf(named, sizeof(named), "%.63s", t->gid);
		if ((colon = strrchr(t->gid, ':')) != NULL && (size_t)(colon - t->gid) < 60) {
			pthread_mutex_lock(&c->lock);
			snprintf(c->prefix, sizeof(c->prefix), "%.*s", (int)(colon - t->gid + 1), t->gid);
			pthread_mutex_unlock(&c->lock);
		}
		run.gid = t->gid;
	}
	if (gid != NULL) {
		snprintf(gid, 64, "%.63s", named);
	}
	run.n_stmts = (size_t)n;
	run.stmts = rp;
	req.body_case = XACT__REQUEST__BODY_RUN;
	req.run = &run;
	if ((rv = call_or_say(c, &req, &rep, reason, reasonlen)) != XACT_OK) {
		goto out;
	}
	if (rep->body_case == XACT__REPLY__BODY_ERROR && rep->error->code == XACT_EPROTO &&
	    t == NULL) {
		/* A coordinator that cannot decode a run named by its id (it
		 * predates them): nothing ran; from now on this client begins. */
		xact__reply__free_unpacked(rep, NULL);
		pthread_mutex_lock(&c->lock);
		c->old_coord = 1;
		pthread_mutex_unlock(&c->lock);
		xact__run_req__init(&run);
		goto again;
	}
	if (rep->body_case == XACT__REPLY__BODY_ERROR) {
		rv = error_code(rep->error);
		if (reason != NULL && reasonlen > 0) {
			snprintf(reason, reasonlen, "%s", rep->error->message);
		}
		/* These refusals come before anything ran: the transaction is
		 * rolled back rather than left to the coordinator's timeout. */
		if (rv == XACT_EINVAL || rv == XACT_ENOPART) {
			*out = XACT_OUTCOME_ABORTED;
			if (t != NULL) {
				xact_rollback(t);
			} /* (a run named by its id left nothing behind) */
		}
	} else if (rep->body_case != XACT__REPLY__BODY_OUTCOME) {
		rv = XACT_EPROTO;
	} else {
		*out = (xact_outcome)rep->outcome->outcome;
		if (rep->outcome->reason != NULL && reason != NULL && reasonlen > 0) {
			snprintf(reason, reasonlen, "%s", rep->outcome->reason);
		}
		if (rep->outcome->gid != NULL && gid != NULL) {
			snprintf(gid, 64, "%.63s", rep->outcome->gid); /* the coordinator's word */
		}

	}
	xact__reply__free_unpacked(rep, NULL);
out:
	xact_txn_free(t);
	free(rs);
	free(rp);
	free(st);
	free(pv);
	free(pp);
	return rv;
}

int
xact_outcome_of(xact_client *c, const char *gid, xact_outcome *out, char *reason,
    size_t reasonlen)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__OutcomeReq oq = XACT__OUTCOME_REQ__INIT;
	Xact__Reply *rep;
	int rv;

	*out = XACT_OUTCOME_UNKNOWN;
	if (reason != NULL && reasonlen > 0) {
		reason[0] = '\0';
	}
	if (c == NULL || gid == NULL || gid[0] == '\0') {
		return XACT_EINVAL;
	}
	oq.gid = (char *)gid; /* (no from_branch: an unknown gid is settled first) */
	req.body_case = XACT__REQUEST__BODY_OUTCOME;
	req.outcome = &oq;
	if ((rv = call_or_say(c, &req, &rep, reason, reasonlen)) != XACT_OK) {
		return rv;
	}
	if (rep->body_case == XACT__REPLY__BODY_ERROR) {
		rv = error_code(rep->error);
		if (reason != NULL && reasonlen > 0) {
			snprintf(reason, reasonlen, "%s", rep->error->message);
		}
		xact__reply__free_unpacked(rep, NULL);
		return rv;
	}
	if (rep->body_case != XACT__REPLY__BODY_OUTCOME ||
	    (unsigned)rep->outcome->outcome > XACT_OUTCOME_ABORTED) {
		xact__reply__free_unpacked(rep, NULL);
		return XACT_EPROTO;
	}
	*out = (xact_outcome)rep->outcome->outcome;
	if (rep->outcome->reason != NULL && reason != NULL && reasonlen > 0) {
		snprintf(reason, reasonlen, "%s", rep->outcome->reason);
	}
	xact__reply__free_unpacked(rep, NULL);
	return XACT_OK;
}

int
xact_commit(xact_txn *t, xact_outcome *out, int *pending)
{
	return finish(t, 1, out, pending);
}

int
xact_rollback(xact_txn *t)
{
	xact_outcome o;
	int rv = finish(t, 0, &o, NULL);

	if (rv == XACT_OK && o != XACT_OUTCOME_ABORTED) {
		rv = o == XACT_OUTCOME_COMMITTED ? XACT_ESTATE : XACT_ETIMEDOUT;
	}
	return rv;
}

size_t
xact_result_nrows(const xact_result *r)
{
	return r->nrows;
}

size_t
xact_result_ncols(const xact_result *r)
{
	return r->ncols;
}

const char *
xact_result_colname(const xact_result *r, size_t col)
{
	return col < r->ncols ? r->cols[col] : NULL;
}

const char *
xact_result_value(const xact_result *r, size_t row, size_t col)
{
	if (row >= r->nrows || col >= r->ncols) {
		return NULL;
	}
	return r->values[row * r->ncols + col];
}

uint64_t
xact_result_affected(const xact_result *r)
{
	return r->affected;
}

void
xact_result_free(xact_result *r)
{
	if (r == NULL) {
		return;
	}
	for (size_t i = 0; r->cols != NULL && i < r->ncols; i++) {
		free(r->cols[i]);
	}
	for (size_t i = 0; r->values != NULL && i < r->ncols * r->nrows; i++) {
		free(r->values[i]);
	}
	free(r->cols);
	free(r->values);
	free(r);
}
