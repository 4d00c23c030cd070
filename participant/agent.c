/*
 * agent.c - the participant agent: a REP socket served by a pool of worker
 * threads (one nng context each, so every blocking database call happens
 * on a worker, never in a callback), the table of branches, and the
 * housekeeping that rolls back abandoned unprepared branches.
 *
 * Each branch has its own lock: requests for one gid run one at a time, in
 * arrival order; requests for different gids run in parallel.
 *
 * Failpoints: part.before_exec, part.after_exec (statement run, answer not
 * sent), part.before_vote (prepared durably, vote not sent),
 * part.after_commit (committed, ack not sent), part.after_abort (rolled
 * back, ack not sent).
 */
#include "backend.h"
#include "branch.h"
#include "failpoint.h"
#include "log.h"
#include "part.h"
#include "result.h"
#include "sqlguard.h"
#include "util.h"
#include "wire.h"
#include "xact.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUCKETS 4096
#define FINISHED_KEEP_MS 120000
#define LOCAL_GID_MAX 128

struct pbranch {
	struct pbranch *next;
	char gid[64];
	enum branch_state state;
	void *conn;           /* open local transaction (ACTIVE) */
	uint32_t last_seq;
	nng_msg *last_reply;  /* answer to last_seq, for repeats */
	int64_t touched_ms;
	int64_t prepared_ms;  /* when it became PREPARED (or was re-attached) */
	int refs;             /* workers using it; guarded by the table lock */
	pthread_mutex_t lock; /* serializes requests for this gid */
};

struct agent {
	const struct part_config *cfg;
	nng_socket coord;         /* REQ, to ask the coordinator for outcomes */
	atomic_int executing;     /* workers running a statement */
	atomic_int executing_new; /* ... the first statement of a branch */
	int max_executing;        /* the rest serve PREPARE, COMMIT, ABORT, lists */
	int max_new;              /* first statements may take this many */
	const struct backend_ops *ops;
	void *be;
	nng_socket sock;
	struct worker *workers;
	pthread_mutex_t table_lock;
	struct pbranch *table[BUCKETS];
};

static unsigned
bucket(const char *gid)
{
	return util_hash(gid) % BUCKETS;
}

/* Finds gid, creating it in state NONE; the result is referenced and
 * must be given to release().  NULL when out of memory. */
static struct pbranch *
acquire(struct agent *a, const char *gid)
{
	unsigned h = bucket(gid);
	struct pbranch *b;

	pthread_mutex_lock(&a->table_lock);
	for (b = a->table[h]; b != NULL; b = b->next) {
		if (strcmp(b->gid, gid) == 0) {
			break;
		}
	}
	if (b == NULL && (b = calloc(1, sizeof(*b))) != NULL) {
		snprintf(b->gid, sizeof(b->gid), "%s", gid);
		b->state = BR_NONE;
		pthread_mutex_init(&b->lock, NULL);
		b->next = a->table[h];
		a->table[h] = b;
	}
	if (b != NULL) {
		b->refs++;
		b->touched_ms = util_now_ms();
	}
	pthread_mutex_unlock(&a->table_lock);
	if (b != NULL) {
		pthread_mutex_lock(&b->lock);
	}
	return b;
}

static void
release(struct agent *a, struct pbranch *b)
{
	pthread_mutex_unlock(&b->lock);
	pthread_mutex_lock(&a->table_lock);
	b->refs--;
	b->touched_ms = util_now_ms();
	pthread_mutex_unlock(&a->table_lock);
}

static void
branch_free(struct pbranch *b)
{
	nng_msg_free(b->last_reply);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/*
 * The name of a branch in the database: the global gid plus this agent's
 * name, like XA's (gtrid, bqual).  Prepared transactions are cluster-wide in
 * PostgreSQL, so two agents on databases of one cluster would otherwise
 * collide on the same gid.  It still starts with the gid, which names the
 * coordinator to ask.
 */
static const char *
local_gid(struct agent *a, const char *gid, char *buf)
{
	snprintf(buf, LOCAL_GID_MAX, "%s:%s", gid, a->cfg->name);
	return buf;
}

/* The gid of a database branch name of this agent, or NULL when the name
 * belongs to another agent.  Writes into buf. */
static const char *
global_gid(struct agent *a, const char *local, char *buf)
{
	size_t n = strlen(local), m = strlen(a->cfg->name);

	if (n <= m + 1 || n - m - 1 >= 64 || local[n - m - 1] != ':' ||
	    strcmp(local + n - m, a->cfg->name) != 0) {
		return NULL;
	}
	memcpy(buf, local, n - m - 1);
	buf[n - m - 1] = '\0';
	return buf;
}

/* Runs the backend operation the state machine names.  Returns its
 * result; *reply may receive the backend's exec reply. */
static enum branch_result
run_op(struct agent *a, struct pbranch *b, enum branch_op op, const Xact__Statement *st,
    nng_msg **reply, char *err, size_t errlen)
{
	enum branch_result r = BRES_OK;
	char local[LOCAL_GID_MAX];
	const char *why;

	switch (op) {
	case BOP_BEGIN_EXEC:
		if ((r = a->ops->begin(a->be, &b->conn, err, errlen)) != BRES_OK) {
			b->conn = NULL;
			return r;
		}
		/* fall through */
	case BOP_EXEC:
		if (XACT_FAILPOINT("part.before_exec") != 0) {
			snprintf(err, errlen, "injected failure (part.before_exec)");
			r = BRES_FAILED;
		} else if ((why = sqlguard_check(st->sql)) != NULL) {
			snprintf(err, errlen, "%s", why);
			*reply = result_error(why, "25001"); /* active_sql_transaction */
			r = BRES_FAILED;
		} else {
			r = a->ops->exec(a->be, b->conn, st, reply);
		}
		if (r != BRES_OK) {
			a->ops->rollback(a->be, b->conn);
			b->conn = NULL;
		}
		return r;
	case BOP_PREPARE:
		r = a->ops->prepare(a->be, b->conn, local_gid(a, b->gid, local), err, errlen);
		b->conn = NULL; /* prepare always gives the connection back */
		return r;
	case BOP_ROLLBACK:
		a->ops->rollback(a->be, b->conn);
		b->conn = NULL;
		return BRES_OK;
	case BOP_COMMIT_PREPARED:
		/* Test only: with test.commit_as_abort=error the branch is
		 * rolled back and reported committed - the very violation xact
		 * exists to prevent, which the harness's checker must catch. */
		if (XACT_FAILPOINT("test.commit_as_abort") != 0) {
			return a->ops->rollback_prepared(a->be, local_gid(a, b->gid, local), err, errlen);
		}
		return a->ops->commit_prepared(a->be, local_gid(a, b->gid, local), err, errlen);
	case BOP_ROLLBACK_PREPARED:
		return a->ops->rollback_prepared(a->be, local_gid(a, b->gid, local), err, errlen);
	case BOP_LOG_PRECOMMIT:
		/* No backend records a pre-commit yet, and no request asks for
		 * one (3PC is refused at begin): fail rather than pretend. */
		snprintf(err, errlen, "three-phase commit is not supported by this agent");
		return BRES_FAILED;
	default:
		return BRES_OK;
	}
}

static nng_msg *
vote_reply(enum branch_state s, const char *why)
{
	Xact__Reply rep = XACT__REPLY__INIT;
	Xact__VoteRep v = XACT__VOTE_REP__INIT;

	switch (s) {
	case BR_PREPARED:
	case BR_COMMITTED:
		v.vote = XACT__VOTE_KIND__VOTE_YES;
		break;
	case BR_READ_ONLY:
		v.vote = XACT__VOTE_KIND__VOTE_READ_ONLY;
		break;
	default:
		v.vote = XACT__VOTE_KIND__VOTE_NO;
		v.reason = (char *)why;
		break;
	}
	rep.body_case = XACT__REPLY__BODY_VOTE;
	rep.vote = &v;
	return wire_pack_reply(&rep);
}

/* What an acknowledgement adds when the database, not this agent's memory,
 * gave the answer (from its marker row). */
static const char *
ack_detail(enum branch_req req, enum branch_result r)
{
	if (r == BRES_NOT_FOUND) {
		return req == BREQ_COMMIT ? "neither prepared nor committed here: rolled back "
		                            "outside xact" : "not prepared here";
	}
	if (r == BRES_COMMITTED_ALREADY) {
		return req == BREQ_ABORT ? "committed here (marker found)" : NULL;
	}
	return NULL;
}

static nng_msg *
ack_reply(enum branch_req req, enum branch_state s, const char *detail)
{
	Xact__Reply rep = XACT__REPLY__INIT;
	Xact__AckRep ack = XACT__ACK_REP__INIT;

	/* A read-only branch has nothing to commit or abort: it agrees with
	 * whichever was asked (answering "committed" to an ABORT would look
	 * like a heuristic outcome). */
	if (s == BR_READ_ONLY) {
		s = req == BREQ_ABORT ? BR_ABORTED : BR_COMMITTED;
	}
	ack.outcome = s == BR_ABORTED ? XACT__OUTCOME__OUTCOME_ABORTED
	                              : XACT__OUTCOME__OUTCOME_COMMITTED;
	if (detail != NULL && *detail != '\0') {
		ack.detail = (char *)detail;
	}
	rep.body_case = XACT__REPLY__BODY_ACK;
	rep.ack = &ack;
	return wire_pack_reply(&rep);
}

static nng_msg *handle_branch_locked(struct agent *a, enum branch_req req, const char *gid,
    uint32_t seq, const Xact__Statement *st);

/* Handles EXEC, PREPARE, COMMIT and ABORT for one gid. */
static nng_msg *
handle_branch(struct agent *a, enum branch_req req, const char *gid, uint32_t seq,
    const Xact__Statement *st)
{
	nng_msg *reply;

	if (!backend_gid_is_safe(gid) || strlen(gid) >= sizeof(((struct pbranch *)0)->gid)) {
		return wire_error_reply(XACT_EINVAL,
		    "bad gid (expected xact:[A-Za-z0-9_:-], under 64 bytes)");
	}
	/*
	 * Statements can wait on locks (up to the statement timeout).  If they
	 * took every worker, the commits and aborts that release those locks
	 * could not be served; and if new branches took every statement slot,
	 * the branches holding the locks could not go on.  So a quarter of
	 * the workers never run statements, and first statements get at most
	 * half of all workers.  Beyond that a statement is refused at once:
	 * its transaction aborts before it holds anything.
	 */
	int first = req == BREQ_EXEC && seq == 1;

	if (req == BREQ_EXEC) {
		int busy = atomic_fetch_add(&a->executing, 1) >= a->max_executing;

		if (first) {
			busy |= atomic_fetch_add(&a->executing_new, 1) >= a->max_new;
		}
		if (busy) {
			atomic_fetch_sub(&a->executing, 1);
			if (first) {
				atomic_fetch_sub(&a->executing_new, 1);
			}
			return wire_error_reply(XACT_EDB, "agent busy: too many statements waiting "
			    "(%d workers); try the transaction again", a->cfg->workers);
		}
	}
	reply = handle_branch_locked(a, req, gid, seq, st);
	if (req == BREQ_EXEC) {
		atomic_fetch_sub(&a->executing, 1);
		if (first) {
			atomic_fetch_sub(&a->executing_new, 1);
		}
	}
	return reply;
}

/* handle_branch, once a statement slot is held when one is needed. */
static nng_msg *
handle_branch_locked(struct agent *a, enum branch_req req, const char *gid, uint32_t seq,
    const Xact__Statement *st)
{
	struct pbranch *b;
	enum branch_op op;
	enum branch_state before;
	enum branch_result r;
	nng_msg *reply = NULL, *dup;
	char err[1024] = "";

	if ((b = acquire(a, gid)) == NULL) {
		return wire_error_reply(XACT_ENOMEM, "out of memory");
	}
	if (req == BREQ_EXEC && seq == b->last_seq && b->last_reply != NULL) {
		reply = nng_msg_dup(&dup, b->last_reply) == 0 ? dup : NULL; /* a repeat */
		release(a, b);
		return reply;
	}
	before = b->state;
	op = branch_op_for(before, req);
	if (req == BREQ_EXEC && seq != b->last_seq + 1) {
		/* A gap: earlier statements of this branch are not here (this
		 * agent restarted and lost them).  Running this one alone
		 * would commit part of a transaction. */
		reply = wire_error_reply(XACT_ESTATE, "branch %s: statement %u arrived but %u is "
		    "the next one here (the agent lost the branch's earlier work)", gid, seq,
		    b->last_seq + 1);
		release(a, b);
		return reply;
	}
	if (op == BOP_REFUSE) {
		release(a, b);
		return wire_error_reply(XACT_ESTATE, "branch %s is %s: %s refused", gid,
		    branch_state_name(before), branch_req_name(req));
	}
	r = run_op(a, b, op, st, &reply, err, sizeof(err));
	b->state = branch_after(before, req, r);
	if (b->state == BR_PREPARED && before != BR_PREPARED) {
		b->prepared_ms = util_now_ms();
	}
	if (before != b->state || op != BOP_NONE) {
		log_debug("branch gid=%s state=%s request=%s op=%s from=%s%s%s", gid,
		    branch_state_name(b->state), branch_req_name(req), branch_op_name(op),
		    branch_state_name(before), err[0] ? " error=" : "", err);
	}
	switch (req) {
	case BREQ_EXEC:
		if (reply == NULL) {
			reply = wire_error_reply(XACT_EDB, "database unavailable: %s", err);
		}
		/* Crash here: the statement ran in the open transaction, which
		 * dies with the process; the coordinator sees no answer. */
		XACT_FAILPOINT("part.after_exec");
		b->last_seq = seq;
		nng_msg_free(b->last_reply);
		b->last_reply = NULL;
		/* Kept for a repeat only while the branch can take more. */
		if (b->state == BR_ACTIVE && nng_msg_dup(&dup, reply) == 0) {
			b->last_reply = dup;
		}
		break;
	case BREQ_PREPARE:
		if (err[0] == '\0' && b->state != BR_PREPARED) {
			snprintf(err, sizeof(err), "branch is %s here", branch_state_name(b->state));
		}
		/* Crash here: prepared durably, vote not sent.  The coordinator
		 * sees no vote and aborts; the restarted agent re-attaches. */
		if (b->state == BR_PREPARED) {
			XACT_FAILPOINT("part.before_vote");
		}
		reply = vote_reply(b->state, err);
		break;
	default:
		if (op == BOP_ROLLBACK_PREPARED && r != BRES_OK && r != BRES_NOT_FOUND &&
		    r != BRES_COMMITTED_ALREADY) {
			/* The database may still hold it prepared: say so, and
			 * the coordinator asks again. */
			reply = wire_error_reply(XACT_EDB, "abort of %s not done: %s", gid,
			    err[0] ? err : "try again");
		} else if (b->state == BR_COMMITTED || b->state == BR_ABORTED ||
		    b->state == BR_READ_ONLY) {
			if (b->state == BR_COMMITTED && req == BREQ_COMMIT) {
				XACT_FAILPOINT("part.after_commit");
			} else if (b->state == BR_ABORTED && req == BREQ_ABORT) {
				/* Crash here: rolled back, ack not sent; the
				 * repeated ABORT is answered "not prepared here". */
				XACT_FAILPOINT("part.after_abort");
			}
			reply = ack_reply(req, b->state, ack_detail(req, r));
		} else {
			reply = wire_error_reply(XACT_EDB, "%s of %s not done: %s",
			    branch_req_name(req), gid, err[0] ? err : "try again");
		}
		break;
	}
	release(a, b);
	return reply;
}

/* Keeps, in place, the database names that are this agent's, turned into
 * gids; frees the others.  Returns how many remain. */
static size_t
own_gids(struct agent *a, char **names, size_t n)
{
	size_t kept = 0;
	char buf[64];

	for (size_t i = 0; i < n; i++) {
		const char *gid = global_gid(a, names[i], buf);

		if (gid != NULL && backend_gid_is_safe(gid)) {
			strcpy(names[i], gid); /* shorter: fits */
			names[kept++] = names[i];
		} else {
			free(names[i]);
		}
	}
	return kept;
}

static nng_msg *
handle_list(struct agent *a, const char *prefix)
{
	Xact__Reply rep = XACT__REPLY__INIT;
	Xact__ListPreparedRep lp = XACT__LIST_PREPARED_REP__INIT;
	char **gids = NULL, err[512];
	size_t n = 0;
	nng_msg *msg;

	if (a->ops->list_prepared(a->be, prefix, &gids, &n, err, sizeof(err)) != XACT_OK) {
		return wire_error_reply(XACT_EDB, "cannot list prepared branches: %s", err);
	}
	n = own_gids(a, gids, n);
	lp.n_gids = n;
	lp.gids = gids;
	rep.body_case = XACT__REPLY__BODY_LIST_PREPARED;
	rep.list_prepared = &lp;
	msg = wire_pack_reply(&rep);
	for (size_t i = 0; i < n; i++) {
		free(gids[i]);
	}
	free(gids);
	return msg;
}

static nng_msg *
handle(struct agent *a, nng_msg *in)
{
	Xact__Request *req;
	nng_msg *out;
	int rv = wire_unpack_request(in, &req);

	if (rv != XACT_OK) {
		log_warn("refused a request that does not decode: %s", xact_strerror(rv));
		return wire_error_reply(rv, "%s", rv == XACT_EVERSION
		    ? "unsupported protocol version (this agent speaks 1)" : "malformed request");
	}
	switch (req->body_case) {
	case XACT__REQUEST__BODY_BRANCH_EXEC:
		out = handle_branch(a, BREQ_EXEC, req->branch_exec->gid, req->branch_exec->seq,
		    req->branch_exec->stmt);
		break;
	case XACT__REQUEST__BODY_PREPARE:
		out = handle_branch(a, BREQ_PREPARE, req->prepare->gid, 0, NULL);
		break;
	case XACT__REQUEST__BODY_BRANCH_COMMIT:
		out = handle_branch(a, BREQ_COMMIT, req->branch_commit->gid, 0, NULL);
		break;
	case XACT__REQUEST__BODY_BRANCH_ABORT:
		out = handle_branch(a, BREQ_ABORT, req->branch_abort->gid, 0, NULL);
		break;
	case XACT__REQUEST__BODY_LIST_PREPARED:
		out = handle_list(a, req->list_prepared->prefix);
		break;
	default:
		out = wire_error_reply(XACT_EINVAL, "request '%s' is not served by a participant",
		    wire_request_name(req));
		break;
	}
	xact__request__free_unpacked(req, NULL);
	return out;
}

/* One worker: its context and aio are opened by part_run before it starts,
 * so that no context is opened while the socket is being closed. */
struct worker {
	struct agent *a;
	nng_ctx ctx;
	nng_aio *aio;
	pthread_t thread;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct agent *a = w->a;
	nng_ctx ctx = w->ctx;
	nng_aio *aio = w->aio;

	for (;;) {
		nng_msg *in, *out;
		int rv;

		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if ((rv = nng_aio_result(aio)) != 0) {
			if (rv == NNG_ECLOSED) {
				break;
			}
			continue;
		}
		in = nng_aio_get_msg(aio);
		out = handle(a, in);
		nng_msg_free(in);
		if (out == NULL) {
			continue; /* out of memory: the coordinator's timeout */
		}
		nng_aio_set_msg(aio, out);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0) {
			nng_msg_free(out);
		}
	}
	return NULL;
}

/* Rolls back unprepared branches idle past the branch timeout (their
 * coordinator is gone or forgot them) and drops finished ones. */
static void
housekeeping(struct agent *a)
{
	int64_t now = util_now_ms();
	struct pbranch *stale[64];
	int nstale = 0;

	pthread_mutex_lock(&a->table_lock);
	for (int h = 0; h < BUCKETS; h++) {
		struct pbranch **pp = &a->table[h];

		while (*pp != NULL) {
			struct pbranch *b = *pp;
			int64_t idle = now - b->touched_ms;

			if (b->refs == 0 && b->state == BR_ACTIVE && nstale < 64 &&
			    idle > a->cfg->branch_timeout_ms) {
				b->refs++;
				stale[nstale++] = b;
			} else if (b->refs == 0 && b->state != BR_ACTIVE && b->state != BR_PREPARED &&
			    idle > FINISHED_KEEP_MS) {
				*pp = b->next;
				branch_free(b);
				continue;
			}
			pp = &b->next;
		}
	}
	pthread_mutex_unlock(&a->table_lock);
	for (int i = 0; i < nstale; i++) {
		struct pbranch *b = stale[i];

		pthread_mutex_lock(&b->lock);
		/* Judged idle under the table lock; a statement may have come
		 * in since.  Look again now that the branch is ours. */
		pthread_mutex_lock(&a->table_lock);
		int idle = util_now_ms() - b->touched_ms > a->cfg->branch_timeout_ms;
		pthread_mutex_unlock(&a->table_lock);
		if (b->state == BR_ACTIVE && idle) {
			log_warn("rolling back abandoned branch gid=%s state=%s", b->gid,
			    branch_state_name(b->state));
			a->ops->rollback(a->be, b->conn);
			b->conn = NULL;
			b->state = BR_ABORTED;
		}
		release(a, b);
	}
}

/*
 * Participant recovery: for every branch prepared longer than the orphan
 * grace period, ask the coordinator what was decided and carry it out.
 * Committed: commit.  Aborted (including "no decision and not in flight":
 * presumed abort, so an orphan of a coordinator that died before deciding
 * does not hold its locks for ever): roll back.  Unknown, or no answer:
 * wait; never guess.  Blocks (calls the coordinator): main thread only.
 */
static void
ask_outcomes(struct agent *a)
{
	struct asked {
		char gid[64];
		int prepared;
	} *gids = NULL;
	size_t n = 0, cap = 0;
	int64_t now = util_now_ms();

	pthread_mutex_lock(&a->table_lock);
	for (int h = 0; h < BUCKETS; h++) {
		for (struct pbranch *b = a->table[h]; b != NULL; b = b->next) {
			/* An open branch idle past the grace period may belong to
			 * a transaction its coordinator lost in a crash: it holds
			 * row locks until --branch-timeout unless we ask. */
			int prepared = b->state == BR_PREPARED &&
			               now - b->prepared_ms >= a->cfg->orphan_grace_ms;
			int open = b->state == BR_ACTIVE && now - b->touched_ms >= a->cfg->orphan_grace_ms;

			if (!prepared && !open) {
				continue;
			}
			if (n == cap) {
				void *more = realloc(gids, (cap = cap ? 2 * cap : 16) * sizeof(*gids));

				if (more == NULL) {
					break;
				}
				gids = more;
			}
			snprintf(gids[n].gid, sizeof(gids[n].gid), "%s", b->gid);
			gids[n++].prepared = prepared;
		}
	}
	pthread_mutex_unlock(&a->table_lock);
	for (size_t i = 0; i < n; i++) {
		Xact__Request req = XACT__REQUEST__INIT;
		Xact__OutcomeReq oq = XACT__OUTCOME_REQ__INIT;
		Xact__Reply *rep;
		nng_msg *done;
		const char *st = gids[i].prepared ? "prepared" : "active";
		int rv, commit;

		oq.gid = gids[i].gid;
		req.body_case = XACT__REQUEST__BODY_OUTCOME;
		req.outcome = &oq;
		if ((rv = wire_call(a->coord, &req, &rep, 1000)) != XACT_OK) {
			log_warn("in doubt gid=%s state=%s: coordinator %s: %s", gids[i].gid, st,
			    a->cfg->coordinator, xact_strerror(rv));
			continue;
		}
		commit = rep->body_case == XACT__REPLY__BODY_OUTCOME &&
		         rep->outcome->outcome == XACT__OUTCOME__OUTCOME_COMMITTED;
		if (rep->body_case == XACT__REPLY__BODY_OUTCOME &&
		    rep->outcome->outcome != XACT__OUTCOME__OUTCOME_UNKNOWN &&
		    (gids[i].prepared || !commit)) {
			/* An open branch never takes "committed": only a
			 * prepared one can have been part of a commit. */
			log_info("asked the coordinator gid=%s state=%s outcome=%s", gids[i].gid, st,
			    commit ? "committed" : "aborted");
			done = handle_branch(a, commit ? BREQ_COMMIT : BREQ_ABORT, gids[i].gid, 0, NULL);
			nng_msg_free(done);
		} else if (gids[i].prepared) {
			log_info("in doubt gid=%s state=prepared: coordinator answers %s", gids[i].gid,
			    rep->body_case == XACT__REPLY__BODY_OUTCOME ? "still deciding"
			    : rep->body_case == XACT__REPLY__BODY_ERROR ? rep->error->message
			                                                : "something unexpected");
		}
		xact__reply__free_unpacked(rep, NULL);
	}
	free(gids);
}

/* Re-attaches to the prepared branches the database holds. */
static int
reattach(struct agent *a)
{
	char **gids, err[512];
	size_t n;

	if (a->ops->list_prepared(a->be, "xact:", &gids, &n, err, sizeof(err)) != XACT_OK) {
		log_error("cannot list prepared branches: %s", err);
		return XACT_EDB;
	}
	n = own_gids(a, gids, n);
	for (size_t i = 0; i < n; i++) {
		struct pbranch *b = acquire(a, gids[i]);

		if (b != NULL) {
			b->state = BR_PREPARED;
			b->prepared_ms = util_now_ms();
			log_info("re-attached prepared branch gid=%s state=%s", b->gid,
			    branch_state_name(b->state));
			release(a, b);
		}
		free(gids[i]);
	}
	free(gids);
	return XACT_OK;
}

int
part_run(const struct part_config *cfg, volatile int *stop)
{
	struct agent *a = calloc(1, sizeof(*a));
	char err[1024];
	int rv, started = 0;
	int64_t last_hk = util_now_ms(), last_maint = util_now_ms(), last_ask = util_now_ms();

	if (a == NULL) {
		return XACT_ENOMEM;
	}
	a->cfg = cfg;
	a->max_executing = cfg->workers - (cfg->workers + 3) / 4;
	a->max_new = cfg->workers / 2;
	a->ops = strcmp(cfg->backend, "sqlite") == 0 ? &sqlitebackend_ops : &pgbackend_ops;
	pthread_mutex_init(&a->table_lock, NULL);
	if (a->ops->open(&a->be, cfg, err, sizeof(err)) != XACT_OK) {
		log_error("%s", err);
		free(a);
		return XACT_EDB;
	}
	if ((rv = reattach(a)) != XACT_OK) {
		goto out;
	}
	if ((rv = nng_req0_open(&a->coord)) != 0 ||
	    (rv = nng_dial(a->coord, cfg->coordinator, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		log_error("bad coordinator URL %s: %s", cfg->coordinator, nng_strerror(rv));
		rv = XACT_ECONFIG;
		goto out;
	}
	nng_socket_set_ms(a->coord, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	wire_socket_setup(a->coord, (size_t)cfg->max_message);
	if ((rv = nng_rep0_open(&a->sock)) != 0) {
		log_error("cannot open socket: %s", nng_strerror(rv));
		rv = XACT_EUNREACHABLE;
		goto out;
	}
	wire_socket_setup(a->sock, (size_t)cfg->max_message);
	if ((rv = nng_listen(a->sock, cfg->listen, NULL, 0)) != 0) {
		log_error("cannot listen on %s: %s", cfg->listen, nng_strerror(rv));
		nng_close(a->sock);
		rv = XACT_EUNREACHABLE;
		goto out;
	}
	a->workers = calloc((size_t)cfg->workers, sizeof(*a->workers));
	for (started = 0; a->workers != NULL && started < cfg->workers; started++) {
		struct worker *w = &a->workers[started];

		w->a = a;
		if (nng_ctx_open(&w->ctx, a->sock) != 0) {
			break;
		}
		if (nng_aio_alloc(&w->aio, NULL, NULL) != 0 ||
		    pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			nng_aio_free(w->aio);
			nng_ctx_close(w->ctx);
			break;
		}
	}
	if (started < cfg->workers) {
		log_warn("only %d of %d workers could start", started, cfg->workers);
	}
	log_info("participant name=%s backend=%s listening on %s, coordinator %s, %d workers",
	    cfg->name, a->ops->name, cfg->listen, cfg->coordinator, started);
	while (!*stop) {
		usleep(100 * 1000);
		if (util_now_ms() - last_ask >= a->cfg->recovery_interval_ms) {
			ask_outcomes(a);
			last_ask = util_now_ms();
		}
		if (a->ops->maintain != NULL && util_now_ms() - last_maint >= 60000) {
			a->ops->maintain(a->be);
			last_maint = util_now_ms();
		}
		if (util_now_ms() - last_hk >= 1000) {
			housekeeping(a);
			last_hk = util_now_ms();
		}
	}
	log_info("shutting down");
	nng_close(a->sock);
	for (int i = 0; i < started; i++) {
		pthread_join(a->workers[i].thread, NULL);
	}
	/* Every worker is gone: no aio is in use any more. */
	for (int i = 0; i < started; i++) {
		nng_aio_free(a->workers[i].aio);
	}
	free(a->workers);
	rv = XACT_OK;
out:
	nng_close(a->coord);
	/* Unprepared work is rolled back; prepared branches stay prepared in
	 * the database and are re-attached at the next start. */
	for (int h = 0; h < BUCKETS; h++) {
		while (a->table[h] != NULL) {
			struct pbranch *b = a->table[h];

			a->table[h] = b->next;
			if (b->state == BR_ACTIVE && b->conn != NULL) {
				a->ops->rollback(a->be, b->conn);
			}
			branch_free(b);
		}
	}
	a->ops->close(a->be);
	pthread_mutex_destroy(&a->table_lock);
	free(a);
	return rv;
}
