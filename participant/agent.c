/*
 * agent.c - the participant agent: a REP socket served by a pool of worker
 * threads (one nng context each, so every blocking database call happens
 * on a worker, never in a callback), the table of branches, and the
 * housekeeping that rolls back abandoned unprepared branches.
 *
 * Each branch has its own lock: requests for one gid run one at a time, in
 * arrival order; requests for different gids run in parallel.
 *
 * Three-phase commit: a branch voted YES under 3PC is recorded in the
 * termination log (termlog.h) before the vote, with the transaction's
 * participants; a pre-commit and every ballot promised are recorded there
 * before they are answered.  A thread watches those branches: when the
 * coordinator has been silent for --termination-timeout it asks the
 * coordinator, then the other participants, and the lowest-named fresh one
 * leads a termination round (term.h) with a ballot of its own.
 *
 * Failpoints: part.before_exec, part.after_exec (statement run, answer not
 * sent), part.before_vote (prepared durably, vote not sent),
 * part.after_commit (committed, ack not sent), part.after_abort (rolled
 * back, ack not sent), part.before_precommit_ack (pre-commit durable, not
 * acknowledged); a leader's term.* (term.h).
 */
#include "backend.h"
#include "config.h"
#include "branch.h"
#include "failpoint.h"
#include "log.h"
#include "part.h"
#include "result.h"
#include "sqlguard.h"
#include "term.h"
#include "termlog.h"
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
#define MAX_PEER_SOCKETS 64
#define PEERS_MAX TERMLOG_PEERS_MAX

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
	/* Three-phase commit (tpc set: voted YES under 3PC). */
	int tpc;
	int fresh;            /* voted in this process's lifetime (no crash since) */
	uint64_t promised;    /* highest ballot promised; durable in the termlog */
	uint64_t seen;        /* highest ballot a refusal named (for our next one) */
	int64_t heard_ms;     /* last word from the coordinator or a leader */
	int64_t tried_ms;     /* last termination attempt */
	char *peers;          /* "name=url,..." sorted by name, this agent included */
	/* A batch of COMMITs ran COMMIT PREPARED for it already (commit_many):
	 * the result its own BOP_COMMIT_PREPARED takes instead of running. */
	int preset;
	enum branch_result preset_r;
	char preset_err[256];
};

struct peer_sock {
	char url[256];
	nng_socket sock;
};

/* One participant of a 3PC transaction, from its list (name=url,...). */
struct tpeer {
	char name[33];
	char url[256];
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
	termlog *tl;              /* NULL: no --termlog, 3PC is refused */
	volatile int *stop;
	pthread_mutex_t peer_lock;
	struct peer_sock peer_socks[MAX_PEER_SOCKETS];
	int npeer_socks;
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
		b->fresh = 1;
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
	free(b->peers);
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

/* Writes b's termination record (durable on return): 0, or -1.  A branch
 * that voted READ-ONLY is recorded as such (termlog.h). */
static int
record_term(struct agent *a, struct pbranch *b, int precommitted)
{
	struct termlog_entry e;

	memset(&e, 0, sizeof(e));
	snprintf(e.gid, sizeof(e.gid), "%s", b->gid);
	e.precommitted = precommitted;
	e.readonly = b->state == BR_READ_ONLY;
	e.promised = (int64_t)b->promised;
	snprintf(e.peers, sizeof(e.peers), "%s", b->peers ? b->peers : "");
	return termlog_put(a->tl, &e);
}

/* Whether the backend can commit in one phase, and fence, safely now
 * (PostgreSQL: not while xact.markers lacks its fenced column). */
static int
one_phase_ready(struct agent *a)
{
	return a->ops->one_phase_ok == NULL || a->ops->one_phase_ok(a->be);
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
		if (b->preset) {
			b->preset = 0;
			snprintf(err, errlen, "%s", b->preset_err);
			return b->preset_r;
		}
		if (XACT_FAILPOINT("test.commit_as_abort") != 0) {
			return a->ops->rollback_prepared(a->be, local_gid(a, b->gid, local), err, errlen);
		}
		return a->ops->commit_prepared(a->be, local_gid(a, b->gid, local), err, errlen);
	case BOP_ROLLBACK_PREPARED:
	case BOP_FENCE:
		/* An ABORT of a branch not held here: a COMMIT of it may
		 * still be on its way in the database (one phase, its
		 * connection lost).  The fence waits for it or stops it, so
		 * "not prepared here" stays true (branch.h).  A backend with
		 * no fence rolls back by gid. */
		local_gid(a, b->gid, local);
		if (a->ops->fence != NULL &&
		    (op == BOP_FENCE || (b->state == BR_NONE && one_phase_ready(a)))) {
			return a->ops->fence(a->be, local, err, errlen);
		}
		return a->ops->rollback_prepared(a->be, local, err, errlen);
	case BOP_COMMIT_ONE_PHASE:
		/* Crash here: the open transaction dies with the process; the
		 * coordinator's repeat fences the gid and hears ABORTED. */
		if (XACT_FAILPOINT("part.before_commit_one_phase") != 0) {
			snprintf(err, errlen, "injected failure (part.before_commit_one_phase)");
			a->ops->rollback(a->be, b->conn);
			b->conn = NULL;
			return BRES_FAILED;
		}
		r = a->ops->commit_one_phase(a->be, b->conn, local_gid(a, b->gid, local), err,
		    errlen);
		b->conn = NULL; /* given back, as by prepare */
		return r;
	case BOP_LOG_PRECOMMIT:
		/* The pre-commit is this agent's to remember, whatever the
		 * backend: the termination log, durable before the answer. */
		if (!b->tpc || a->tl == NULL || record_term(a, b, 1) != 0) {
			snprintf(err, errlen, "cannot record the pre-commit in the termination log");
			return BRES_FAILED;
		}
		return BRES_OK;
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
	case BR_PRECOMMITTED:
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

/*
 * The answer to a one-phase commit, from the branch's state: COMMITTED,
 * READ_ONLY or NO are the transaction's outcome.  A branch left NONE (its
 * COMMIT's result was lost, or its fence could not be written) has no
 * outcome to tell yet: an Error, and the coordinator asks again.
 */
static nng_msg *
one_phase_reply(struct pbranch *b, const char *why)
{
	Xact__Reply rep = XACT__REPLY__INIT;
	Xact__VoteRep v = XACT__VOTE_REP__INIT;

	switch (b->state) {
	case BR_COMMITTED:
		/* Crash here: committed, answer not sent; the repeat finds
		 * the marker (fence) and answers COMMITTED. */
		XACT_FAILPOINT("part.after_commit_one_phase");
		v.vote = XACT__VOTE_KIND__VOTE_COMMITTED;
		break;
	case BR_ABORTED:
		return vote_reply(b->state, why[0] ? why : "branch is aborted here");
	case BR_READ_ONLY:
	case BR_PREPARED: /* by a two-phase attempt of the gid: YES, go on in two */
		return vote_reply(b->state, why);
	default:
		return wire_error_reply(XACT_EDB, "outcome of the one-phase commit of %s not known "
		    "here yet (%s): ask again", b->gid, why[0] ? why : branch_state_name(b->state));
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
    uint32_t seq, const Xact__Statement *st, const char *peers);

static int
gid_ok(const char *gid)
{
	return backend_gid_is_safe(gid) && strlen(gid) < sizeof(((struct pbranch *)0)->gid);
}

#define BAD_GID "bad gid (expected xact:[A-Za-z0-9_:-], under 64 bytes)"

/* A statement slot (handle_branch says why they are limited), and for the
 * first statement of a branch a new-branch slot too: 1, or 0 when the
 * limits are reached (nothing taken). */
static int
take_slot(struct agent *a, int first)
{
	int busy = atomic_fetch_add(&a->executing, 1) >= a->max_executing;

	if (first) {
		busy |= atomic_fetch_add(&a->executing_new, 1) >= a->max_new;
	}
	if (busy) {
		atomic_fetch_sub(&a->executing, 1);
		if (first) {
			atomic_fetch_sub(&a->executing_new, 1);
		}
	}
	return !busy;
}

static void
give_slot(struct agent *a, int first)
{
	atomic_fetch_sub(&a->executing, 1);
	if (first) {
		atomic_fetch_sub(&a->executing_new, 1);
	}
}

/* Handles EXEC, PREPARE, COMMIT and ABORT for one gid.  peers: a PREPARE
 * under three-phase commit ("name=url,..." sorted), else NULL. */
static nng_msg *
handle_branch(struct agent *a, enum branch_req req, const char *gid, uint32_t seq,
    const Xact__Statement *st, const char *peers)
{
	nng_msg *reply;

	if (!gid_ok(gid)) {
		return wire_error_reply(XACT_EINVAL, BAD_GID);
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

	if (req == BREQ_EXEC && !take_slot(a, first)) {
		return wire_error_reply(XACT_EDB, "agent busy: too many statements waiting "
		    "(%d workers); try the transaction again", a->cfg->workers);
	}
	reply = handle_branch_locked(a, req, gid, seq, st, peers);
	if (req == BREQ_EXEC) {
		give_slot(a, first);
	}
	return reply;
}

static int
is_final(enum branch_state s)
{
	return s == BR_COMMITTED || s == BR_ABORTED || s == BR_READ_ONLY;
}

/*
 * Runs request req on b (locked): the operation the table names, then the
 * state it leads to.  *op receives the operation (BOP_REFUSE: nothing ran,
 * nothing changed).  A three-phase commit branch that ends is dropped from
 * the termination log: the database (its marker) knows the rest.
 */
static enum branch_result
step(struct agent *a, struct pbranch *b, enum branch_req req, const Xact__Statement *st,
    nng_msg **reply, char *err, size_t errlen, enum branch_op *opp)
{
	enum branch_state before = b->state;
	enum branch_op op = branch_op_for(before, req);
	enum branch_result r = BRES_OK;

	*opp = op;
	if (op == BOP_REFUSE) {
		return BRES_FAILED;
	}
	r = run_op(a, b, op, st, reply, err, errlen);
	b->state = branch_after(before, req, r);
	if (b->state == BR_PREPARED && before != BR_PREPARED) {
		b->prepared_ms = util_now_ms();
	}
	if (before != b->state || op != BOP_NONE) {
		log_debug("branch gid=%s state=%s request=%s op=%s from=%s%s%s", b->gid,
		    branch_state_name(b->state), branch_req_name(req), branch_op_name(op),
		    branch_state_name(before), err[0] ? " error=" : "", err);
	}
	if (b->tpc && is_final(b->state) && !is_final(before) && a->tl != NULL) {
		termlog_remove(a->tl, b->gid); /* a leftover is removed at start-up */
	}
	return r;
}

/* 3PC: after a YES vote's prepare, the termination record, before the vote.
 * Returns 0, or -1 with the branch rolled back and why in err. */
static int
prepared_3pc(struct agent *a, struct pbranch *b, const char *peers, char *err, size_t errlen)
{
	enum branch_op op;
	nng_msg *none = NULL;
	char why[512] = "";

	b->heard_ms = util_now_ms(); /* before tpc: the termination thread reads both */
	free(b->peers);
	b->peers = strdup(peers);
	b->fresh = 1;
	b->tpc = 1;
	if (b->peers != NULL && record_term(a, b, 0) == 0) {
		return 0;
	}
	/* Without the record a crash would forget the peers: vote NO. */
	b->tpc = 0;
	step(a, b, BREQ_ABORT, NULL, &none, why, sizeof(why), &op);
	nng_msg_free(none);
	snprintf(err, errlen, "cannot write the termination log; rolled back%s%s",
	    why[0] ? ": " : "", why);
	return -1;
}

/* 3PC: a READ-ONLY vote is remembered (termlog.h says why) before it is
 * sent; without the record the vote is NO (nothing was written, nothing is
 * lost).  0, or -1 with the branch ABORTED and why in err. */
static int
readonly_3pc(struct agent *a, struct pbranch *b, const char *peers, char *err, size_t errlen)
{
	b->peers = strdup(peers);
	if (b->peers != NULL && record_term(a, b, 0) == 0) {
		return 0;
	}
	b->state = BR_ABORTED;
	snprintf(err, errlen, "cannot write the termination log");
	return -1;
}

/* The vote after a PREPARE (or a one-shot run) took b from state before;
 * err: why it failed, if it did.  Under 3PC (peers) the termination record
 * comes first. */
static nng_msg *
vote_for(struct agent *a, struct pbranch *b, enum branch_state before, const char *peers,
    char *err, size_t errlen)
{
	/* (PREPARED without a record: prepared, then a crash before the
	 * record and the vote; the PREPARE is resent to this restart.) */
	if (peers != NULL && b->state == BR_PREPARED && (before == BR_ACTIVE || !b->tpc) &&
	    prepared_3pc(a, b, peers, err, errlen) != 0) {
		/* No record: NO, even if the rollback failed and the
		 * branch is still prepared (the coordinator aborts it). */
		return vote_reply(BR_ABORTED, err);
	}
	if (peers != NULL && b->state == BR_READ_ONLY && before == BR_ACTIVE) {
		readonly_3pc(a, b, peers, err, errlen);
	}
	if (err[0] == '\0' && b->state != BR_PREPARED && b->state != BR_PRECOMMITTED) {
		snprintf(err, errlen, "branch is %s here", branch_state_name(b->state));
	}
	/* Crash here: prepared durably, vote not sent.  The coordinator
	 * sees no vote and aborts; the restarted agent re-attaches. */
	if (b->state == BR_PREPARED) {
		XACT_FAILPOINT("part.before_vote");
	}
	return vote_reply(b->state, err);
}

/* One request on branch b, acquired (locked) by the caller, who releases
 * it.  Returns the answer. */
static nng_msg *
serve_branch(struct agent *a, struct pbranch *b, enum branch_req req, uint32_t seq,
    const Xact__Statement *st, const char *peers)
{
	const char *gid = b->gid;
	enum branch_op op;
	enum branch_state before;
	enum branch_result r;
	nng_msg *reply = NULL, *dup;
	char err[1024] = "";

	if (req == BREQ_EXEC && seq == b->last_seq && b->last_reply != NULL) {
		return nng_msg_dup(&dup, b->last_reply) == 0 ? dup : NULL; /* a repeat */
	}
	before = b->state;
	if (req == BREQ_EXEC && seq != b->last_seq + 1) {
		/* A gap: earlier statements of this branch are not here (this
		 * agent restarted and lost them).  Running this one alone
		 * would commit part of a transaction. */
		return wire_error_reply(XACT_ESTATE, "branch %s: statement %u arrived but %u is "
		    "the next one here (the agent lost the branch's earlier work)", gid, seq,
		    b->last_seq + 1);
	}
	if (req != BREQ_EXEC && req != BREQ_PREPARE && b->tpc) {
		b->heard_ms = util_now_ms(); /* the coordinator is there */
	}
	r = step(a, b, req, st, &reply, err, sizeof(err), &op);
	if (op == BOP_REFUSE) {
		return wire_error_reply(XACT_ESTATE, "branch %s is %s: %s refused", gid,
		    branch_state_name(before), branch_req_name(req));
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
		reply = vote_for(a, b, before, peers, err, sizeof(err));
		break;
	case BREQ_COMMIT_ONE_PHASE:
		reply = one_phase_reply(b, err);
		break;
	default:
		if (op == BOP_ROLLBACK_PREPARED && r != BRES_OK && r != BRES_NOT_FOUND &&
		    r != BRES_COMMITTED_ALREADY) {
			/* The database may still hold it prepared: say so, and
			 * the coordinator asks again. */
			reply = wire_error_reply(XACT_EDB, "abort of %s not done: %s", gid,
			    err[0] ? err : "try again");
		} else if (is_final(b->state)) {
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
	return reply;
}

/* handle_branch, once a statement slot is held when one is needed. */
static nng_msg *
handle_branch_locked(struct agent *a, enum branch_req req, const char *gid, uint32_t seq,
    const Xact__Statement *st, const char *peers)
{
	struct pbranch *b = acquire(a, gid);
	nng_msg *reply;

	if (b == NULL) {
		return wire_error_reply(XACT_ENOMEM, "out of memory");
	}
	reply = serve_branch(a, b, req, seq, st, peers);
	release(a, b);
	return reply;
}

/* ---- three-phase commit: what a leader or the coordinator asks --------- */

/*
 * Serves one termination call on gid (STATE, PRECOMMIT, COMMIT, ABORT) with
 * ballot (0: the coordinator's PRECOMMIT, or a question that promises
 * nothing), for a peer's request or for this agent leading.  ans->reached
 * is 0 when the branch could not answer (a log write failed; err says why).
 * Fencing (tests/unit/test_sim3pc.c): a call below the ballot promised is
 * refused and changes nothing, except that a final state is always told.
 */
static void
term_serve(struct agent *a, enum term_call call, const char *gid, uint64_t ballot,
    struct term_answer *ans, char *err, size_t errlen)
{
	static const enum branch_req reqs[] = {BREQ_ABORT, BREQ_PRECOMMIT, BREQ_COMMIT, BREQ_ABORT};
	struct pbranch *b = acquire(a, gid);
	struct termlog_entry rec;
	int got = 1;
	enum branch_op op;
	nng_msg *none = NULL;

	memset(ans, 0, sizeof(*ans));
	if (b == NULL) {
		snprintf(err, errlen, "out of memory");
		return;
	}
	if (b->state == BR_NONE && a->tl != NULL && (got = termlog_get(a->tl, gid, &rec)) < 0) {
		snprintf(err, errlen, "cannot read the termination log");
		release(a, b);
		return; /* no answer: a READ-ONLY vote may be on record */
	}
	if (b->state == BR_NONE && got == 0 && rec.readonly) {
		b->state = BR_READ_ONLY; /* voted READ-ONLY, then forgotten */
	}
	if (b->state == BR_NONE) {
		/* Not known here: not prepared (every prepared branch is
		 * re-attached at start-up), so it can only have committed
		 * (its marker says so) or be rolled back for good.  Settle it,
		 * so that nobody is ever told "unknown" about a commit. */
		step(a, b, BREQ_ABORT, NULL, &none, err, errlen, &op);
		nng_msg_free(none);
		none = NULL;
		log_info("termination: settled unknown branch gid=%s state=%s", gid,
		    branch_state_name(b->state));
		if (b->state == BR_NONE) {
			/* The database did not say: no answer rather than one a
			 * leader would take for "never voted". */
			release(a, b);
			return;
		}
	}
	ans->reached = 1;
	/* A question (STATE with ballot 0) promises nothing and is never
	 * refused; everything else below the promise is, the coordinator's
	 * PRECOMMIT (ballot 0) included: a leader has the branch now. */
	if (!is_final(b->state) && ballot < b->promised && (call != TERM_CALL_STATE || ballot > 0)) {
		ans->refused = 1;
	} else if (call == TERM_CALL_STATE) {
		if (ballot > b->promised && !is_final(b->state)) {
			uint64_t old = b->promised;

			b->promised = ballot;
			if (b->tpc && a->tl != NULL &&
			    record_term(a, b, b->state == BR_PRECOMMITTED) != 0) {
				b->promised = old;
				ans->reached = 0;
				b->fresh = 0; /* a round may go on without it: never lead */
				snprintf(err, errlen, "cannot record the promise in the termination log");
			}
		}
		if (ballot > 0) {
			b->heard_ms = util_now_ms(); /* a leader is at work */
		}
	} else {
		if (ballot == 0 && call == TERM_CALL_PRECOMMIT) {
			b->heard_ms = util_now_ms(); /* the coordinator's PRECOMMIT */
		}
		err[0] = '\0';
		step(a, b, reqs[call], NULL, &none, err, errlen, &op);
		nng_msg_free(none);
		if (call == TERM_CALL_PRECOMMIT && b->state == BR_PRECOMMITTED) {
			/* Crash here: pre-commit durable, not acknowledged. */
			XACT_FAILPOINT("part.before_precommit_ack");
		}
		if (op == BOP_LOG_PRECOMMIT && b->state != BR_PRECOMMITTED) {
			ans->reached = 0; /* the log write failed: no answer */
			b->fresh = 0;     /* as if it had crashed: never lead */
		}
	}
	ans->state = b->state;
	ans->fresh = b->fresh || is_final(b->state);
	ans->promised = b->promised;
	release(a, b);
}

static Xact__BranchState
wire_state(enum branch_state s)
{
	return (Xact__BranchState)s; /* the enums match (xact.proto) */
}

/* A termination call from the network: a BranchStateRep, or an Error. */
static nng_msg *
handle_term(struct agent *a, enum term_call call, const char *gid, uint64_t ballot)
{
	Xact__Reply rep = XACT__REPLY__INIT;
	Xact__BranchStateRep bs = XACT__BRANCH_STATE_REP__INIT;
	struct term_answer ans;
	char err[512] = "";

	if (!gid_ok(gid)) {
		return wire_error_reply(XACT_EINVAL, BAD_GID);
	}
	term_serve(a, call, gid, ballot, &ans, err, sizeof(err));
	if (!ans.reached) {
		return wire_error_reply(XACT_EDB, "branch %s: %s", gid, err[0] ? err : "no answer");
	}
	bs.state = wire_state(ans.state);
	bs.has_fresh = 1;
	bs.fresh = ans.fresh != 0;
	bs.has_promised = 1;
	bs.promised = ans.promised;
	bs.has_refused = 1;
	bs.refused = ans.refused != 0;
	rep.body_case = XACT__REPLY__BODY_BRANCH_STATE;
	rep.branch_state = &bs;
	return wire_pack_reply(&rep);
}

static int
cmp_peer(const void *x, const void *y)
{
	return strcmp(((const Xact__Peer *const *)x)[0]->name, ((const Xact__Peer *const *)y)[0]->name);
}

/* PREPARE under 3PC: checks the coordinator's list of participants and
 * writes it sorted by name into buf ("name=url,...").  0, or -1 with why. */
static int
peer_list(struct agent *a, const Xact__PrepareReq *p, char *buf, size_t n, char *why, size_t wn)
{
	Xact__Peer *sorted[TERM_MAX_MEMBERS];
	size_t off = 0;
	int self = 0;

	if (p->n_peers < 1 || p->n_peers > TERM_MAX_MEMBERS) {
		snprintf(why, wn, "%zu participants listed (1 to %d)", p->n_peers, TERM_MAX_MEMBERS);
		return -1;
	}
	for (size_t i = 0; i < p->n_peers; i++) {
		sorted[i] = p->peers[i];
		if (!config_valid_name(p->peers[i]->name) || !config_valid_url(p->peers[i]->url) ||
		    strchr(p->peers[i]->url, ',') != NULL) {
			snprintf(why, wn, "bad participant '%.40s' at '%.80s'", p->peers[i]->name,
			    p->peers[i]->url);
			return -1;
		}
		self += strcmp(p->peers[i]->name, a->cfg->name) == 0;
	}
	if (self != 1) {
		snprintf(why, wn, "the participants listed do not name this agent ('%s') once",
		    a->cfg->name);
		return -1;
	}
	qsort(sorted, p->n_peers, sizeof(*sorted), cmp_peer);
	for (size_t i = 0; i < p->n_peers; i++) {
		if ((i > 0 && strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) ||
		    strlen(sorted[i]->url) >= sizeof(((struct tpeer *)0)->url)) {
			snprintf(why, wn, "participant '%.40s' listed twice, or its URL too long",
			    sorted[i]->name);
			return -1;
		}
	}
	buf[0] = '\0';
	for (size_t i = 0; i < p->n_peers; i++) {
		int w = snprintf(buf + off, n - off, "%s%s=%s", i ? "," : "", sorted[i]->name,
		    sorted[i]->url);

		if (w < 0 || (size_t)w >= n - off) {
			snprintf(why, wn, "the list of participants is too long");
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

/* What a PREPARE asks for: 0 with *peers NULL (2PC) or pointing at buf
 * (3PC, the sorted list), or -1 with the NO vote to send in *vote. */
static int
prepare_args(struct agent *a, const Xact__PrepareReq *p, char *buf, size_t n,
    const char **peers, nng_msg **vote)
{
	char why[256];

	*peers = NULL;
	if (!p->has_protocol || p->protocol != XACT__PROTOCOL__PROTOCOL_3PC) {
		return 0;
	}
	if (a->tl == NULL) {
		*vote = vote_reply(BR_ABORTED, "three-phase commit needs a termination log "
		                               "(xact-participant --termlog)");
		return -1;
	}
	if (peer_list(a, p, buf, n, why, sizeof(why)) != 0) {
		*vote = vote_reply(BR_ABORTED, why);
		return -1;
	}
	*peers = buf;
	return 0;
}

/* A PREPARE that asks for a one-phase commit: 1, 0, or -1 with *refusal
 * (one-phase commit is for two-phase commit's transactions only).  While
 * the backend cannot commit in one phase safely, 0: the branch is
 * prepared and votes, and the coordinator goes on in two phases. */
static int
one_phase_of(struct agent *a, const Xact__PrepareReq *p, nng_msg **refusal)
{
	if (!p->has_one_phase || !p->one_phase) {
		return 0;
	}
	if (p->has_protocol && p->protocol == XACT__PROTOCOL__PROTOCOL_3PC) {
		*refusal = wire_error_reply(XACT_EINVAL, "one-phase commit of a three-phase "
		                                         "commit transaction refused");
		return -1;
	}
	return one_phase_ready(a);
}

static nng_msg *
handle_prepare(struct agent *a, const Xact__PrepareReq *p)
{
	char buf[PEERS_MAX];
	const char *peers;
	nng_msg *vote;
	int one = one_phase_of(a, p, &vote);

	if (one < 0) {
		return vote;
	}
	if (one) {
		return handle_branch(a, BREQ_COMMIT_ONE_PHASE, p->gid, 0, NULL, NULL);
	}
	if (prepare_args(a, p, buf, sizeof(buf), &peers, &vote) != 0) {
		return vote;
	}
	return handle_branch(a, BREQ_PREPARE, p->gid, 0, NULL, peers);
}

/* The error a statement's answer carries, into why; 0 when it succeeded. */
static int
exec_failed(nng_msg *reply, char *why, size_t n)
{
	Xact__Reply *rep;
	int failed = 1;

	if (reply == NULL || wire_unpack_reply(reply, &rep) != XACT_OK) {
		snprintf(why, n, "the statement got no answer (out of memory?)");
		return 1;
	}
	if (rep->body_case == XACT__REPLY__BODY_ERROR) {
		snprintf(why, n, "%s", rep->error->message);
	} else if (rep->body_case == XACT__REPLY__BODY_EXEC && rep->exec->result->error != NULL) {
		snprintf(why, n, "%s", rep->exec->result->error);
	} else {
		failed = rep->body_case != XACT__REPLY__BODY_EXEC;
		snprintf(why, n, "%s", failed ? "unexpected answer" : "");
	}
	xact__reply__free_unpacked(rep, NULL);
	return failed;
}

/*
 * A new one-shot branch through the backend's run (one round trip to the
 * database): the checks a statement gets (sqlguard, part.before_exec),
 * then the run, then the vote.  The branch goes from NONE to what the
 * PREPARE of an active branch would have left.
 */
static nng_msg *
run_at_once(struct agent *a, struct pbranch *b, const Xact__BranchRunReq *r, const char *peers,
    int one_phase)
{
	char err[1024] = "", local[LOCAL_GID_MAX];
	const char *why = NULL;
	enum branch_result res;
	enum branch_req vreq = one_phase ? BREQ_COMMIT_ONE_PHASE : BREQ_PREPARE;

	b->last_seq = (uint32_t)r->n_stmts; /* no statement of it may run again */
	for (size_t i = 0; why == NULL && i < r->n_stmts; i++) {
		why = sqlguard_check(r->stmts[i]->sql);
	}
	if (why == NULL && XACT_FAILPOINT("part.before_exec") != 0) {
		why = "injected failure (part.before_exec)";
	}
	if (why == NULL && one_phase && XACT_FAILPOINT("part.before_commit_one_phase") != 0) {
		why = "injected failure (part.before_commit_one_phase)";
	}
	if (why != NULL) {
		b->state = BR_ABORTED;
		return vote_reply(BR_ABORTED, why);
	}
	res = a->ops->run(a->be, r->stmts, r->n_stmts, local_gid(a, b->gid, local), one_phase,
	    err, sizeof(err));
	b->state = branch_after(BR_ACTIVE, vreq, res);
	if (b->state == BR_PREPARED) {
		b->prepared_ms = util_now_ms();
	}
	log_debug("branch gid=%s state=%s request=run%s statements=%zu%s%s", b->gid,
	    branch_state_name(b->state), one_phase ? " one-phase" : "", r->n_stmts,
	    err[0] ? " error=" : "", err);
	return one_phase ? one_phase_reply(b, err) : vote_for(a, b, BR_ACTIVE, peers, err, sizeof(err));
}

/*
 * A one-shot branch: its statements, then PREPARE, under one hold of the
 * branch, so that nothing (a repeat of this very request) can prepare it
 * between two statements.  A branch this agent already knows has had its
 * run: a repeat is answered from its state, as a repeated PREPARE is.
 * Answered with a vote: NO with the failing statement's error.
 */
static nng_msg *
handle_run(struct agent *a, const Xact__BranchRunReq *r)
{
	char buf[PEERS_MAX], why[1024];
	const char *peers = NULL; /* (one phase: none) */
	struct pbranch *b;
	nng_msg *reply = NULL;
	int one;

	if (!gid_ok(r->gid) || strcmp(r->gid, r->prepare->gid) != 0) {
		return wire_error_reply(XACT_EINVAL, BAD_GID);
	}
	if (r->n_stmts < 1 || r->n_stmts > 1024) {
		return wire_error_reply(XACT_EINVAL, "a run carries 1 to 1024 statements, not %zu",
		    r->n_stmts);
	}
	if ((one = one_phase_of(a, r->prepare, &reply)) < 0 ||
	    (!one && prepare_args(a, r->prepare, buf, sizeof(buf), &peers, &reply) != 0)) {
		return reply;
	}
	/* A new branch: it takes a first statement's slot (handle_branch).
	 * Refused, a one-phase run answers no outcome: it may be the repeat
	 * of one that committed. */
	if (!take_slot(a, 1)) {
		return one ? wire_error_reply(XACT_EDB, "agent busy: too many statements waiting; "
		                                        "ask again")
		           : vote_reply(BR_ABORTED, "agent busy: too many statements waiting; try the "
		                                    "transaction again");
	}
	if ((b = acquire(a, r->gid)) == NULL) {
		reply = wire_error_reply(XACT_ENOMEM, "out of memory");
	} else {
		int first_run = b->state == BR_NONE && b->last_seq == 0, ran = first_run;

		if (!first_run && b->state == BR_ACTIVE) {
			/* A run that stopped half-way earlier: never prepare it. */
			snprintf(why, sizeof(why), "the branch's run did not complete");
			reply = vote_reply(BR_ABORTED, why);
		}
		if (first_run && a->ops->run != NULL) {
			reply = run_at_once(a, b, r, peers, one);
			first_run = 0;
		}
		for (size_t i = 0; first_run && i < r->n_stmts; i++) {
			reply = serve_branch(a, b, BREQ_EXEC, (uint32_t)i + 1, r->stmts[i], NULL);
			if (exec_failed(reply, why, sizeof(why))) {
				nng_msg_free(reply);
				reply = vote_reply(BR_ABORTED, why);
				break;
			}
			nng_msg_free(reply);
			reply = NULL;
		}
		if (reply != NULL && b->state == BR_ACTIVE) {
			/* A failure that left the local transaction open (a result
			 * too large to send, memory): roll it back, so that no
			 * repeat can ever prepare part of the run. */
			nng_msg *none = serve_branch(a, b, BREQ_ABORT, 0, NULL, NULL);

			nng_msg_free(none);
		}
		if (reply == NULL) {
			reply = serve_branch(a, b, one ? BREQ_COMMIT_ONE_PHASE : BREQ_PREPARE, 0, NULL,
			    peers);
		}
		if (one && ran && b->state == BR_ABORTED) {
			/* A one-phase run that failed may be the repeat of one
			 * that committed (whose changes made this one fail), or
			 * of one still on its way: the fence tells, and stops
			 * the latter.  Only a fence that finds nothing lets the
			 * NO stand. */
			nng_msg *settled;

			b->state = BR_NONE;
			settled = serve_branch(a, b, BREQ_COMMIT_ONE_PHASE, 0, NULL, NULL);
			if (b->state == BR_ABORTED) {
				nng_msg_free(settled);
			} else {
				nng_msg_free(reply);
				reply = settled;
			}
		}
		release(a, b);
	}
	give_slot(a, 1);
	return reply;
}

#define BATCH_MAX 256

static int
cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/*
 * The coordinator's COMMITs of several branches in one request: each is
 * served as a BranchCommitReq alone would be (serve_branch), and answered
 * in order.  The branches are held together, taken in gid order so that two
 * batches sharing gids cannot deadlock; those prepared are committed by the
 * backend's commit_many in one round trip, whose results their own
 * COMMIT_PREPARED step then takes (not with test.commit_as_abort armed).
 */
static nng_msg *
handle_commit_batch(struct agent *a, const Xact__BranchCommitBatchReq *r)
{
	Xact__Reply rep = XACT__REPLY__INIT;
	Xact__BatchRep br = XACT__BATCH_REP__INIT;
	struct pbranch **b, **sorted;
	const char **g;
	struct backend_commit *bc;
	nng_msg **out, *msg = NULL;
	ProtobufCBinaryData *bins;
	char (*local)[LOCAL_GID_MAX];
	size_t n = r->n_gids, held = 0, m = 0;

	if (n < 1 || n > BATCH_MAX) {
		return wire_error_reply(XACT_EINVAL, "a batch carries 1 to %d gids, not %zu",
		    BATCH_MAX, n);
	}
	for (size_t i = 0; i < n; i++) {
		if (!gid_ok(r->gids[i])) {
			return wire_error_reply(XACT_EINVAL, BAD_GID);
		}
	}
	b = calloc(n, sizeof(*b));
	sorted = calloc(n, sizeof(*sorted));
	bc = calloc(n, sizeof(*bc));
	out = calloc(n, sizeof(*out));
	bins = calloc(n, sizeof(*bins));
	local = calloc(n, sizeof(*local));
	g = calloc(n, sizeof(*g));
	if (b == NULL || sorted == NULL || bc == NULL || out == NULL || bins == NULL ||
	    local == NULL || g == NULL) {
		msg = wire_error_reply(XACT_ENOMEM, "out of memory");
		goto out;
	}
	/* Held in gid order; a gid twice would wait on itself. */
	memcpy(g, r->gids, n * sizeof(*g));
	qsort(g, n, sizeof(*g), cmp_str);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(g[i - 1], g[i]) == 0) {
			msg = wire_error_reply(XACT_EINVAL, "gid %s twice in one batch", g[i]);
			goto out;
		}
	}
	for (held = 0; held < n; held++) {
		if ((sorted[held] = acquire(a, g[held])) == NULL) {
			msg = wire_error_reply(XACT_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char **at = bsearch(&r->gids[i], g, n, sizeof(*g), cmp_str);

		b[i] = sorted[at - g];
	}
	if (a->ops->commit_many != NULL && !failpoint_set("test.commit_as_abort")) {
		size_t *which = calloc(n, sizeof(*which));

		for (size_t i = 0; which != NULL && i < n; i++) {
			if (branch_op_for(b[i]->state, BREQ_COMMIT) == BOP_COMMIT_PREPARED) {
				bc[m].gid = local_gid(a, b[i]->gid, local[m]);
				which[m++] = i;
			}
		}
		if (m > 0) {
			a->ops->commit_many(a->be, bc, m);
		}
		for (size_t k = 0; k < m; k++) {
			struct pbranch *x = b[which[k]];

			x->preset = 1;
			x->preset_r = bc[k].r;
			snprintf(x->preset_err, sizeof(x->preset_err), "%s", bc[k].err);
		}
		free(which);
	}
	for (size_t i = 0; i < n; i++) {
		out[i] = serve_branch(a, b[i], BREQ_COMMIT, 0, NULL, NULL);
		b[i]->preset = 0;
		if (out[i] == NULL) {
			out[i] = wire_error_reply(XACT_ENOMEM, "out of memory");
		}
		bins[i].data = out[i] != NULL ? nng_msg_body(out[i]) : NULL;
		bins[i].len = out[i] != NULL ? nng_msg_len(out[i]) : 0;
	}
	br.n_replies = n;
	br.replies = bins;
	rep.body_case = XACT__REPLY__BODY_BATCH;
	rep.batch = &br;
	msg = wire_pack_reply(&rep);
out:
	for (size_t i = 0; sorted != NULL && i < held; i++) {
		release(a, sorted[i]);
	}
	for (size_t i = 0; out != NULL && i < n; i++) {
		nng_msg_free(out[i]);
	}
	free(b);
	free(sorted);
	free(bc);
	free(out);
	free(bins);
	free(local);
	free(g);
	return msg;
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
		    req->branch_exec->stmt, NULL);
		break;
	case XACT__REQUEST__BODY_PREPARE:
		out = handle_prepare(a, req->prepare);
		break;
	case XACT__REQUEST__BODY_BRANCH_RUN:
		out = handle_run(a, req->branch_run);
		break;
	case XACT__REQUEST__BODY_BRANCH_COMMIT:
		out = req->branch_commit->has_ballot
		    ? handle_term(a, TERM_CALL_COMMIT, req->branch_commit->gid, req->branch_commit->ballot)
		    : handle_branch(a, BREQ_COMMIT, req->branch_commit->gid, 0, NULL, NULL);
		break;
	case XACT__REQUEST__BODY_BRANCH_COMMIT_BATCH:
		out = handle_commit_batch(a, req->branch_commit_batch);
		break;
	case XACT__REQUEST__BODY_BRANCH_ABORT:
		out = req->branch_abort->has_ballot
		    ? handle_term(a, TERM_CALL_ABORT, req->branch_abort->gid, req->branch_abort->ballot)
		    : handle_branch(a, BREQ_ABORT, req->branch_abort->gid, 0, NULL, NULL);
		break;
	case XACT__REQUEST__BODY_PRECOMMIT:
		out = handle_term(a, TERM_CALL_PRECOMMIT, req->precommit->gid,
		    req->precommit->has_ballot ? req->precommit->ballot : 0);
		break;
	case XACT__REQUEST__BODY_TERM_STATE:
		out = handle_term(a, TERM_CALL_STATE, req->term_state->gid,
		    req->term_state->has_ballot ? req->term_state->ballot : 0);
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
			} else if (b->refs == 0 && (is_final(b->state) || b->state == BR_NONE) &&
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

/* How long a question to the coordinator or another agent may take: half
 * the termination timeout, between 200 ms and 1 s. */
static int
ask_timeout(const struct agent *a)
{
	long t = a->cfg->termination_timeout_ms / 2;

	return (int)(t < 200 ? 200 : t > 1000 ? 1000 : t);
}

/*
 * Asks the coordinator what was decided for gid.  Returns an xact_outcome
 * (UNKNOWN: still deciding, or an error answer; why says which), or -1 when
 * the coordinator did not answer.  Blocks.
 */
static int
ask_coordinator(struct agent *a, const char *gid, char *why, size_t n)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__OutcomeReq oq = XACT__OUTCOME_REQ__INIT;
	Xact__Reply *rep;
	int rv, o = XACT_OUTCOME_UNKNOWN;

	oq.gid = (char *)gid;
	oq.has_from_branch = 1;
	oq.from_branch = 1; /* held here, not committed: no decision is an abort */
	req.body_case = XACT__REQUEST__BODY_OUTCOME;
	req.outcome = &oq;
	if ((rv = wire_call(a->coord, &req, &rep, ask_timeout(a))) != XACT_OK) {
		snprintf(why, n, "coordinator %.200s: %s", a->cfg->coordinator, xact_strerror(rv));
		return -1;
	}
	if (rep->body_case == XACT__REPLY__BODY_OUTCOME && rep->outcome->reason != NULL &&
	    strncmp(rep->outcome->reason, "not a gid of this coordinator", 29) == 0) {
		/* Another coordinator's transaction: this one cannot drive it. */
		snprintf(why, n, "coordinator %.200s: %s", a->cfg->coordinator, rep->outcome->reason);
		o = -1;
	} else if (rep->body_case == XACT__REPLY__BODY_OUTCOME &&
	    (unsigned)rep->outcome->outcome <= XACT_OUTCOME_ABORTED) {
		o = (int)rep->outcome->outcome;
		snprintf(why, n, "%s", o == XACT_OUTCOME_UNKNOWN ? "still deciding" : "decided");
	} else {
		snprintf(why, n, "%s", rep->body_case == XACT__REPLY__BODY_ERROR ? rep->error->message
		                                                              : "something unexpected");
	}
	xact__reply__free_unpacked(rep, NULL);
	return o;
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
			/* (Three-phase commit branches have their own thread.)
			 * refs: a worker is on it (a COMMIT, a one-phase commit,
			 * however long it takes): not idle, not to be asked. */
			int prepared = b->state == BR_PREPARED && !b->tpc && b->refs == 0 &&
			               now - b->prepared_ms >= a->cfg->orphan_grace_ms;
			int open = b->state == BR_ACTIVE && b->refs == 0 &&
			           now - b->touched_ms >= a->cfg->orphan_grace_ms;

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
		const char *st = gids[i].prepared ? "prepared" : "active";
		char why[256];
		int o = ask_coordinator(a, gids[i].gid, why, sizeof(why));
		nng_msg *done;

		if (o < 0) {
			log_warn("in doubt gid=%s state=%s: %s", gids[i].gid, st, why);
		} else if (o != XACT_OUTCOME_UNKNOWN && (gids[i].prepared || o == XACT_OUTCOME_ABORTED)) {
			/* An open branch never takes "committed": only a
			 * prepared one can have been part of a commit. */
			log_info("asked the coordinator gid=%s state=%s outcome=%s", gids[i].gid, st,
			    o == XACT_OUTCOME_COMMITTED ? "committed" : "aborted");
			done = handle_branch(a, o == XACT_OUTCOME_COMMITTED ? BREQ_COMMIT : BREQ_ABORT,
			    gids[i].gid, 0, NULL, NULL);
			nng_msg_free(done);
		} else if (gids[i].prepared) {
			log_info("in doubt gid=%s state=prepared: coordinator answers %s", gids[i].gid, why);
		}
	}
	free(gids);
}

/* ---- three-phase commit: the termination protocol --------------------- */

/* Splits "name=url,..." into peers: how many, or -1 when malformed. */
static int
split_peers(const char *list, struct tpeer *p)
{
	int n = 0;

	while (*list != '\0') {
		size_t len = strcspn(list, ","), nl;
		const char *eq = memchr(list, '=', len);

		if (eq == NULL || n == TERM_MAX_MEMBERS) {
			return -1;
		}
		nl = (size_t)(eq - list);
		if (nl >= sizeof(p[n].name) || len - nl - 1 >= sizeof(p[n].url)) {
			return -1;
		}
		memcpy(p[n].name, list, nl);
		p[n].name[nl] = '\0';
		memcpy(p[n].url, eq + 1, len - nl - 1);
		p[n].url[len - nl - 1] = '\0';
		n++;
		list += len + (list[len] == ',');
	}
	return n;
}

/* A REQ socket to url, dialed once and kept until shutdown. */
static int
peer_socket(struct agent *a, const char *url, nng_socket *out)
{
	struct peer_sock *p;
	int rv = 0;

	pthread_mutex_lock(&a->peer_lock);
	for (int i = 0; i < a->npeer_socks; i++) {
		if (strcmp(a->peer_socks[i].url, url) == 0) {
			*out = a->peer_socks[i].sock;
			pthread_mutex_unlock(&a->peer_lock);
			return 0;
		}
	}
	if (a->npeer_socks == MAX_PEER_SOCKETS) {
		pthread_mutex_unlock(&a->peer_lock);
		log_error("termination: more than %d other participants; %s not reached",
		    MAX_PEER_SOCKETS, url);
		return -1;
	}
	p = &a->peer_socks[a->npeer_socks];
	if ((rv = nng_req0_open(&p->sock)) == 0) {
		nng_socket_set_ms(p->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
		nng_socket_set_ms(p->sock, NNG_OPT_RECONNMINT, 50);
		nng_socket_set_ms(p->sock, NNG_OPT_RECONNMAXT, 1000);
		wire_socket_setup(p->sock, (size_t)a->cfg->max_message);
		if ((rv = nng_dial(p->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
			nng_close(p->sock);
		}
	}
	if (rv != 0) {
		pthread_mutex_unlock(&a->peer_lock);
		log_error("termination: cannot dial %s: %s", url, nng_strerror(rv));
		return -1;
	}
	snprintf(p->url, sizeof(p->url), "%s", url);
	a->npeer_socks++;
	*out = p->sock;
	pthread_mutex_unlock(&a->peer_lock);
	return 0;
}

/* Sends a termination call to the agent at url (see wire_term_call). */
static void
peer_call(struct agent *a, const char *url, enum term_call call, const char *gid,
    uint64_t ballot, struct term_answer *ans)
{
	nng_socket s;
	char why[256];

	memset(ans, 0, sizeof(*ans));
	if (peer_socket(a, url, &s) != 0) {
		return;
	}
	if (wire_term_call(s, call, gid, ballot, ask_timeout(a), ans, why, sizeof(why)) != XACT_OK) {
		log_debug("termination: gid=%s %s: %s", gid, url, why);
	} else if (!ans->reached) {
		log_warn("termination: gid=%s %s answered: %s", gid, url, why);
	}
}

struct lead {
	struct agent *a;
	const char *gid;
	const struct tpeer *peers;
	int self;
};

/* term_round's call: this agent directly, the others over the network. */
static void
lead_call(void *arg, int member, enum term_call call, uint64_t ballot, struct term_answer *ans)
{
	struct lead *l = arg;
	char err[256] = "";

	if (member != l->self) {
		peer_call(l->a, l->peers[member].url, call, l->gid, ballot, ans);
		return;
	}
	term_serve(l->a, call, l->gid, ballot, ans, err, sizeof(err));
	if (!ans->reached) {
		log_warn("termination: gid=%s: this branch: %s", l->gid, err);
		ans->busy = 1; /* the leader is alive: it cannot go on without itself */
	}
}

/* Carries out a decision learned from the coordinator or a peer.  Only a
 * final outcome is ever adopted, and it cannot change: a branch that ended
 * the other way meanwhile (a leader that could not see the one we heard
 * from) stays as it is, and the split is logged. */
static void
adopt(struct agent *a, const char *gid, int commit, const char *from)
{
	struct pbranch *b = acquire(a, gid);
	enum branch_state now;
	nng_msg *done;

	if (b == NULL) {
		return;
	}
	now = b->state;
	release(a, b);
	if (is_final(now)) {
		if ((now == BR_COMMITTED) != commit) {
			log_error("termination: gid=%s is split: %s says %s, this branch is %s", gid, from,
			    commit ? "committed" : "aborted", branch_state_name(now));
		}
		return;
	}
	log_info("termination: gid=%s outcome=%s learned from %s", gid,
	    commit ? "committed" : "aborted", from);
	done = handle_branch(a, commit ? BREQ_COMMIT : BREQ_ABORT, gid, 0, NULL, NULL);
	nng_msg_free(done);
}

/*
 * One attempt to end gid's branch without the coordinator (the model:
 * tests/unit/test_sim3pc.c).  The coordinator first: any answer means it
 * is alive and drives (or has decided).  Then the other participants: a
 * final state one of them holds is adopted; a lower-named one that voted
 * and has not crashed since leads instead of this one.  Otherwise, if this
 * branch has not crashed since it voted, it leads a round with a ballot of
 * its own.  One that crashed since only learns.  Blocks (network).
 */
static void
terminate_one(struct agent *a, const char *gid)
{
	struct tpeer peers[TERM_MAX_MEMBERS];
	char list[PEERS_MAX], why[256];
	struct pbranch *b = acquire(a, gid);
	struct term_answer ans;
	uint64_t above;
	int fresh, n, self = -1, o;

	if (b == NULL) {
		return;
	}
	if (!b->tpc || (b->state != BR_PREPARED && b->state != BR_PRECOMMITTED) ||
	    util_now_ms() - b->heard_ms < a->cfg->termination_timeout_ms) {
		release(a, b); /* finished, or heard from since it was listed */
		return;
	}
	snprintf(list, sizeof(list), "%s", b->peers ? b->peers : "");
	fresh = b->fresh;
	above = b->promised > b->seen ? b->promised : b->seen;
	b->tried_ms = util_now_ms();
	release(a, b);

	if ((o = ask_coordinator(a, gid, why, sizeof(why))) >= 0) {
		if (o != XACT_OUTCOME_UNKNOWN) {
			adopt(a, gid, o == XACT_OUTCOME_COMMITTED, "the coordinator");
		} else if ((b = acquire(a, gid)) != NULL) {
			b->heard_ms = util_now_ms(); /* it is there: it drives */
			release(a, b);
		}
		return;
	}
	n = split_peers(list, peers);
	for (int i = 0; i < n; i++) {
		self = strcmp(peers[i].name, a->cfg->name) == 0 ? i : self;
	}
	if (n < 1 || self < 0) {
		log_error("termination: gid=%s: its list of participants is unusable: '%s'", gid, list);
		return;
	}
	for (int i = 0; i < n; i++) {
		if (i == self || (fresh && i > self)) {
			continue;
		}
		peer_call(a, peers[i].url, TERM_CALL_STATE, gid, 0, &ans);
		if (!ans.reached) {
			continue;
		}
		if (ans.state == BR_COMMITTED || ans.state == BR_ABORTED) {
			adopt(a, gid, ans.state == BR_COMMITTED, peers[i].name);
			return;
		}
		if (fresh && ans.fresh && (ans.state == BR_PREPARED || ans.state == BR_PRECOMMITTED)) {
			log_debug("termination: gid=%s: %s leads", gid, peers[i].name);
			return;
		}
	}
	if (!fresh) {
		log_info("in doubt gid=%s: this agent restarted since it voted, so it does not lead; "
		         "waiting for the coordinator or another participant", gid);
		return;
	}
	struct lead l = {a, gid, peers, self};
	struct term_round r = {.n = n, .ballot = term_ballot(above, (unsigned)self + 1,
	                                             util_wall_ms()), .call = lead_call, .arg = &l};
	enum term_result res;

	log_info("termination: leading gid=%s ballot=%llu (the coordinator did not answer: %s)", gid,
	    (unsigned long long)r.ballot, why);
	res = term_lead(&r);
	log_info("termination: gid=%s ballot=%llu result=%s decision=%s%s%s", gid,
	    (unsigned long long)r.ballot, term_result_name(res), term_decision_name(r.decision),
	    r.why[0] ? " why=" : "", r.why);
	if (res == TERM_LED_SPLIT) {
		log_error("termination: gid=%s is split: a participant rolled back while this round "
		          "committed (two leaders that could not see each other); the coordinator "
		          "records it as a heuristic outcome", gid);
	}
	if (r.promised > above && (b = acquire(a, gid)) != NULL) {
		b->seen = r.promised > b->seen ? r.promised : b->seen;
		release(a, b);
	}
}

/* The termination thread: branches voted under 3PC whose coordinator has
 * been silent for --termination-timeout, tried again every half of it. */
static void *
term_main(void *arg)
{
	struct agent *a = arg;
	long wait = a->cfg->termination_timeout_ms, again = wait / 2 > 100 ? wait / 2 : 100;
	char (*due)[64] = malloc(256 * sizeof(*due));

	int from = 0;

	while (due != NULL && !*a->stop) {
		int64_t now = util_now_ms();
		int n = 0;

		usleep(100 * 1000);
		pthread_mutex_lock(&a->table_lock);
		/* From where the last pass stopped: none starves behind 256
		 * that stay in doubt. */
		for (int k = 0; k < BUCKETS && n < 256; k++) {
			int h = (from + k) % BUCKETS;

			from = h;
			for (struct pbranch *b = a->table[h]; b != NULL && n < 256; b = b->next) {
				if (b->tpc && (b->state == BR_PREPARED || b->state == BR_PRECOMMITTED) &&
				    now - b->heard_ms >= wait && now - b->tried_ms >= again) {
					snprintf(due[n++], 64, "%s", b->gid);
				}
			}
		}
		pthread_mutex_unlock(&a->table_lock);
		for (int i = 0; i < n && !*a->stop; i++) {
			terminate_one(a, due[i]);
		}
	}
	free(due);
	return NULL;
}

struct gidlist {
	char (*gid)[64];
	size_t n, cap;
};

static int
collect_unattached(void *arg, const struct termlog_entry *e)
{
	struct agent *a = ((void **)arg)[0];
	struct gidlist *l = ((void **)arg)[1];
	struct pbranch *b;
	int known = 0;

	if (e->readonly) {
		return 0; /* kept for the marker retention */
	}
	pthread_mutex_lock(&a->table_lock);
	for (b = a->table[bucket(e->gid)]; b != NULL; b = b->next) {
		known |= strcmp(b->gid, e->gid) == 0; /* still prepared here */
	}
	pthread_mutex_unlock(&a->table_lock);
	if (known) {
		return 0;
	}
	if (l->n == l->cap) {
		void *more = realloc(l->gid, (l->cap = l->cap ? 2 * l->cap : 16) * sizeof(*l->gid));

		if (more == NULL) {
			return -1;
		}
		l->gid = more;
	}
	snprintf(l->gid[l->n++], 64, "%s", e->gid);
	return 0;
}

/* Termination records whose branch the database no longer holds prepared:
 * it committed or rolled back before a crash let the agent forget the
 * record.  Removed. */
static int
drop_finished_terms(struct agent *a)
{
	struct gidlist l = {NULL, 0, 0};
	void *arg[2] = {a, &l};
	int rv = termlog_each(a->tl, collect_unattached, arg);

	for (size_t i = 0; rv == 0 && i < l.n; i++) {
		log_info("termination log: gid=%s is no longer prepared here; record removed",
		    l.gid[i]);
		rv = termlog_remove(a->tl, l.gid[i]);
	}
	free(l.gid);
	if (rv != 0) {
		log_error("cannot read or clean the termination log %s", a->cfg->termlog);
		return XACT_EDB;
	}
	return XACT_OK;
}

/* Re-attaches to the prepared branches the database holds. */
static int
reattach(struct agent *a)
{
	char **gids, err[512];
	size_t n;
	int bad = 0;

	if (a->ops->list_prepared(a->be, "xact:", &gids, &n, err, sizeof(err)) != XACT_OK) {
		log_error("cannot list prepared branches: %s", err);
		return XACT_EDB;
	}
	n = own_gids(a, gids, n);
	for (size_t i = 0; i < n; i++) {
		struct pbranch *b = acquire(a, gids[i]);
		struct termlog_entry e;
		int got = 1;

		if (b != NULL) {
			b->state = BR_PREPARED;
			b->prepared_ms = util_now_ms();
			b->fresh = 0; /* back from a stop: it leads nothing it voted before */
			if (a->tl != NULL && (got = termlog_get(a->tl, b->gid, &e)) < 0) {
				log_error("cannot read the termination log %s for gid=%s",
				    a->cfg->termlog, b->gid);
				bad = 1;
			} else if (got == 0 && !e.readonly) {
				/* 3PC: its termination thread asks at once. */
				b->tpc = 1;
				b->promised = (uint64_t)e.promised;
				b->peers = strdup(e.peers);
				b->state = e.precommitted ? BR_PRECOMMITTED : BR_PREPARED;
			}
			log_info("re-attached prepared branch gid=%s state=%s%s", b->gid,
			    branch_state_name(b->state), b->tpc ? " protocol=3pc" : "");
			release(a, b);
		}
		free(gids[i]);
	}
	free(gids);
	if (bad) {
		return XACT_EDB; /* a promise or a pre-commit could be lost: refuse to start */
	}
	return a->tl != NULL ? drop_finished_terms(a) : XACT_OK;
}

int
part_run(const struct part_config *cfg, volatile int *stop)
{
	struct agent *a = calloc(1, sizeof(*a));
	char err[1024];
	int rv, started = 0, term_started = 0;
	int64_t last_hk = util_now_ms(), last_maint = util_now_ms(), last_ask = util_now_ms();
	pthread_t term_thread;

	if (a == NULL) {
		return XACT_ENOMEM;
	}
	a->cfg = cfg;
	a->stop = stop;
	pthread_mutex_init(&a->peer_lock, NULL);
	a->max_executing = cfg->workers - (cfg->workers + 3) / 4;
	a->max_new = cfg->workers / 2;
	a->ops = strcmp(cfg->backend, "sqlite") == 0 ? &sqlitebackend_ops
	       : strcmp(cfg->backend, "noop") == 0   ? &noopbackend_ops
	                                              : &pgbackend_ops;
	pthread_mutex_init(&a->table_lock, NULL);
	if (a->ops->open(&a->be, cfg, err, sizeof(err)) != XACT_OK) {
		log_error("%s", err);
		free(a);
		return XACT_EDB;
	}
	if (cfg->termlog[0] != '\0' &&
	    termlog_open(&a->tl, cfg->termlog, cfg->name, err, sizeof(err)) != 0) {
		log_error("%s", err);
		rv = XACT_EDB;
		goto out;
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
	if (a->tl != NULL) {
		term_started = pthread_create(&term_thread, NULL, term_main, a) == 0;
		if (!term_started) {
			log_error("cannot start the termination thread: three-phase commit branches "
			          "wait for their coordinator");
		}
	}
	log_info("participant name=%s backend=%s listening on %s, coordinator %s, %d workers%s%s",
	    cfg->name, a->ops->name, cfg->listen, cfg->coordinator, started,
	    a->tl ? ", termination log " : "", a->tl ? cfg->termlog : "");
	while (!*stop) {
		usleep(100 * 1000);
		if (util_now_ms() - last_ask >= a->cfg->recovery_interval_ms) {
			ask_outcomes(a);
			last_ask = util_now_ms();
		}
		if (util_now_ms() - last_maint >= 60000) {
			if (a->ops->maintain != NULL) {
				a->ops->maintain(a->be);
			}
			if (a->tl != NULL) {
				termlog_prune_readonly(a->tl, util_wall_ms() - cfg->marker_retention_ms);
			}
			last_maint = util_now_ms();
		}
		if (util_now_ms() - last_hk >= 1000) {
			housekeeping(a);
			last_hk = util_now_ms();
		}
	}
	log_info("shutting down");
	if (term_started) {
		pthread_join(term_thread, NULL); /* it sees *stop within 100 ms or a call */
	}
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
	for (int i = 0; i < a->npeer_socks; i++) {
		nng_close(a->peer_socks[i].sock);
	}
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
	termlog_close(a->tl);
	pthread_mutex_destroy(&a->table_lock);
	pthread_mutex_destroy(&a->peer_lock);
	free(a);
	return rv;
}
