/*
 * coord.c - the coordinator's I/O layer and event loop.
 *
 * Every input becomes an event in one queue: a client request received on
 * a server context, a participant's reply (or its failure) on a call, a
 * journal write that became durable.  The loop thread takes them one by one,
 * feeds the transaction's state machine (txn_step) and carries out the
 * actions it returns: send a request, force a decision, answer the client.
 * Callbacks of nng never block and never touch a transaction.
 *
 * Failpoints (docs/protocol.md lists them all):
 *   coord.before_decision  every vote is in; the decision is not yet journaled
 *   coord.after_decision   the decision is durable; no COMMIT has been sent
 *   coord.after_commit_sent COMMIT sent to the first participant only
 *   coord.before_prepare   about to send PREPARE
 *   coord.before_abort     abort decided (nothing journaled); ABORT not sent
 *   coord.before_precommit 3PC: every vote is in; the pre-commit is not journaled
 *   coord.after_precommit  3PC: the pre-commit is durable; no PRECOMMIT sent
 *   coord.after_precommit_sent 3PC: PRECOMMIT sent to the first participant only
 *   coord.after_precommits 3PC: every branch pre-committed; commit not journaled
 *
 * Three-phase commit's termination, when a participant refused a
 * PRECOMMIT (it obeys a termination leader) or the journal held a
 * pre-commit at start-up, runs on a thread of its own (term_lead() of
 * term.h, blocking calls); its result comes back as an event.
 */
#include "coord.h"

#include "config.h"
#include "failpoint.h"
#include "journal.h"
#include "log.h"
#include "term.h"
#include "txn.h"
#include "util.h"
#include "wire.h"
#include "xact.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define SERVER_CONTEXTS 256
#define HASH_BUCKETS 4096
/* A status lists at most this many transactions (and counts them all):
 * the answer must fit a message however many are in flight. */
#define STATUS_MAX_TXNS 1000
#define FINISHED_RING 8192
#define SEQ_BLOCK 10000
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000
#define TICK_MS 50
/* A tick drives at most this many due transactions; when it leaves some
 * for later, the next runs at once while fewer than CALLS_HIGH calls are
 * out (a restart with 100,000 decisions to re-drive neither waits a tick
 * per 256 of them nor opens 200,000 calls at once). */
#define TICK_MAX_DUE 256
#define CALLS_HIGH 4096
/* COMMITs to one participant queued while events keep coming go in one
 * message (BranchCommitBatchReq) of at most this many; the queues are sent
 * when no event waits, or every FLUSH_EVERY events. */
#define COMMIT_BATCH_MAX 64
#define FLUSH_EVERY 8
#define WARN_EVERY_MS 5000
#define RUN_MAX_STMTS 1024 /* statements of one one-shot run (xact_run) */

/* ---- participants ------------------------------------------------------ */

struct participant {
	char name[33];
	char url[256];
	nng_socket sock;
	int reachable;  /* last call got an answer */
	int64_t warned_ms; /* last "no ack" warning: at most one per WARN_EVERY_MS */
	long quiet;        /* warnings held back since */
	int swept;      /* the recovery sweep reached it since start-up */
	/* COMMITs queued to go in one batch (flush_commits). */
	char (*cq)[64];
	int ncq;
	int no_batch;   /* it refused a batch: COMMITs go one by one */
};

/* ---- server contexts (client requests) --------------------------------- */

enum sctx_state { SCTX_RECV, SCTX_BUSY, SCTX_SEND };

struct sctx {
	struct coord *c;
	nng_ctx ctx;
	nng_aio *aio;
	enum sctx_state state;
};

/* ---- events ------------------------------------------------------------ */

enum ev_kind { EV_REQUEST, EV_CALL, EV_JOURNAL, EV_TERM };

struct event {
	struct event *next;
	struct coord *c;     /* EV_JOURNAL: where to post it */
	int embedded;        /* part of a struct call: freed with it */
	enum ev_kind kind;
	struct sctx *sctx;   /* EV_REQUEST */
	nng_msg *msg;        /* EV_REQUEST */
	struct call *call;   /* EV_CALL */
	char gid[64];        /* EV_JOURNAL, EV_TERM */
	int precommit;       /* EV_JOURNAL: of a pre-commit (3PC), not a commit */
	int err;             /* EV_TERM: the enum term_result */
	uint64_t promised;   /* EV_TERM: the highest ballot a member named */
	char why[256];
};

/* ---- outgoing calls (coordinator -> participant) ----------------------- */

enum call_kind { CALL_EXEC, CALL_PREPARE, CALL_COMMIT, CALL_ABORT, CALL_LIST, CALL_PRECOMMIT,
	CALL_COMMIT_BATCH };

struct call {
	struct coord *c;
	struct call *next, *prev; /* outstanding calls, for shutdown */
	nng_ctx ctx;
	nng_aio *aio;
	int sending;
	enum call_kind kind;
	int pid;
	char gid[64];
	char (*gids)[64]; /* CALL_COMMIT_BATCH: its gids, in order */
	int ngids;
	int err;       /* transport error, xact_err */
	nng_msg *reply;
	struct event ev; /* its completion: never lost to a failed malloc */
};

/* ---- transactions ------------------------------------------------------ */

struct ctxn {
	struct txn t;
	struct ctxn *hnext;   /* gid hash chain */
	struct ctxn *tnext;   /* token hash chain */
	uint64_t token;
	int64_t started_ms, active_ms, retry_at, backoff;
	uint32_t exec_seq;
	struct sctx *exec_waiter;    /* client waiting for the statement */
	Xact__Statement *exec_stmt;  /* the statement to forward (owned via exec_req) */
	Xact__Request *exec_req;
	nng_msg *exec_result;        /* participant's reply to the statement */
	nng_msg *exec_reply;         /* last answer sent, for repeats */
	struct sctx *outcome_waiter; /* client waiting for commit/rollback */
	Xact__Request *run_req;      /* a one-shot run: its statements, until it ends */
	/* 3PC */
	int precommit_durable;       /* its pre-commit is (or may be) in the journal */
	int term_busy;               /* a termination round is running */
	int64_t term_at;             /* when to start the next round */
	uint64_t term_seen;          /* highest ballot a member named */
};

/* A termination round for the termination thread. */
struct term_job {
	struct term_job *next;
	char gid[64];
	int n;
	int pids[TXN_MAX_PARTS];
	uint64_t ballot;
	struct event *done; /* made with the job: the result always gets back */
};

struct finished {
	char gid[64];
	xact_outcome outcome;
	char reason[160];
	int presumed; /* ABORTED only as an agent's question was answered: its
	               * branch was held, yet a COMMIT of it may have landed
	               * (its result lost); true for the agent, not proof */
};

struct coord {
	const struct coord_config *cfg;
	volatile int *stop;
	journal *j;
	nng_socket rep;
	struct participant parts[COORD_MAX_PARTICIPANTS];
	int nparts;
	struct sctx sctx[SERVER_CONTEXTS];

	pthread_mutex_t lock; /* guards events and calls lists */
	pthread_cond_t cv;
	struct event *ev_head, **ev_tail;
	struct call *calls;
	int ncalls;          /* calls out (loop thread only) */
	uint64_t commits_sent, commit_messages; /* for status */
	uint64_t one_phase_commits, one_phase_aborts, one_writer_commits;

	struct ctxn *by_gid[HASH_BUCKETS];
	struct ctxn *by_token[HASH_BUCKETS];
	int ntxns;
	struct finished finished[FINISHED_RING];
	unsigned finished_next;
	/* The ring by gid: slot + 1 of the first entry of each bucket, and of
	 * the next one in its bucket (0: none).  A run named by its run id
	 * looks here before it starts. */
	unsigned fin_head[HASH_BUCKETS];
	unsigned fin_next[FINISHED_RING];
	uint64_t seq_next, seq_limit;
	uint64_t absent_upto; /* gids up to it may have a branch on a participant
	                       * no longer configured (journal_note_participants) */
	int64_t next_sweep;
	int scan_from; /* tick's first bucket */
	/* the termination thread (3PC) */
	pthread_t term_thread;
	int term_started, term_stop;
	struct term_job *jobs; /* guarded by lock, signalled on term_cv */
	pthread_cond_t term_cv;
};

static unsigned
hash_str(const char *s)
{
	return util_hash(s) % HASH_BUCKETS;
}

/* ---- event queue ------------------------------------------------------- */

/* Queues an event for the loop.  Called from callbacks: never blocks for
 * longer than the queue lock. */
static void
post(struct coord *c, struct event *ev)
{
	pthread_mutex_lock(&c->lock);
	ev->next = NULL;
	*c->ev_tail = ev;
	c->ev_tail = &ev->next;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->lock);
}

static struct event *
take(struct coord *c, int wait_ms)
{
	struct event *ev;

	pthread_mutex_lock(&c->lock);
	if (c->ev_head == NULL && wait_ms > 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)wait_ms * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&c->cv, &c->lock, &ts);
	}
	if ((ev = c->ev_head) != NULL) {
		c->ev_head = ev->next;
		if (c->ev_head == NULL) {
			c->ev_tail = &c->ev_head;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return ev;
}

/* 1 when an event waits to be taken. */
static int
events_waiting(struct coord *c)
{
	int yes;

	pthread_mutex_lock(&c->lock);
	yes = c->ev_head != NULL;
	pthread_mutex_unlock(&c->lock);
	return yes;
}

/* ---- server side: receiving requests and replying ---------------------- */

static void
sctx_cb(void *arg)
{
	struct sctx *s = arg;
	struct event *ev;
	int rv = nng_aio_result(s->aio);

	if (s->state == SCTX_SEND) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(s->aio)); /* still ours */
		}
		if (rv == NNG_ECLOSED) {
			return;
		}
		s->state = SCTX_RECV;
		nng_ctx_recv(s->ctx, s->aio);
		return;
	}
	if (rv != 0) {
		if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
			nng_ctx_recv(s->ctx, s->aio);
		}
		return;
	}
	if ((ev = calloc(1, sizeof(*ev))) == NULL) {
		nng_msg_free(nng_aio_get_msg(s->aio));
		nng_ctx_recv(s->ctx, s->aio);
		return;
	}
	s->state = SCTX_BUSY;
	ev->kind = EV_REQUEST;
	ev->sctx = s;
	ev->msg = nng_aio_get_msg(s->aio);
	post(s->c, ev);
}

/* Sends msg (owned by us) as the answer on s.  NULL msg: allocation
 * failed; the client's own timeout ends its wait. */
static void
reply(struct sctx *s, nng_msg *msg)
{
	if (s == NULL) {
		nng_msg_free(msg);
		return;
	}
	if (msg == NULL) {
		s->state = SCTX_RECV;
		nng_ctx_recv(s->ctx, s->aio);
		return;
	}
	s->state = SCTX_SEND;
	nng_aio_set_msg(s->aio, msg);
	nng_ctx_send(s->ctx, s->aio);
}

static void reply_outcome_gid(struct sctx *s, xact_outcome o, const char *reason, int pending,
    const char *gid);

static void
reply_outcome(struct sctx *s, xact_outcome o, const char *reason, int pending)
{
	reply_outcome_gid(s, o, reason, pending, NULL);
}

/* reply_outcome, naming the gid (a one-shot run's client learns it so). */
static void
reply_outcome_gid(struct sctx *s, xact_outcome o, const char *reason, int pending,
    const char *gid)
{
	Xact__Reply rep = XACT__REPLY__INIT;
	Xact__OutcomeRep out = XACT__OUTCOME_REP__INIT;

	out.outcome = (Xact__Outcome)o;
	out.gid = (char *)gid;
	if (reason != NULL && *reason != '\0') {
		out.reason = (char *)reason;
	}
	if (o == XACT_OUTCOME_COMMITTED) {
		out.has_completion_pending = 1;
		out.completion_pending = pending != 0;
	}
	rep.body_case = XACT__REPLY__BODY_OUTCOME;
	rep.outcome = &out;
	reply(s, wire_pack_reply(&rep));
}

/* ---- outgoing calls ---------------------------------------------------- */

static void
call_cb(void *arg)
{
	struct call *k = arg;
	struct coord *c = k->c;
	int rv = nng_aio_result(k->aio);
	struct event *ev;

	if (k->sending && rv == 0) {
		k->sending = 0;
		nng_ctx_recv(k->ctx, k->aio);
		return;
	}
	if (rv != 0) {
		if (k->sending) {
			nng_msg_free(nng_aio_get_msg(k->aio));
		}
		log_debug("call failed gid=%s participant=%s error=\"%s\"", k->gid,
		    c->parts[k->pid].name, nng_strerror(rv));
		k->err = wire_nng_err(rv);
	} else {
		k->reply = nng_aio_get_msg(k->aio);
	}
	ev = &k->ev;
	ev->embedded = 1;
	ev->kind = EV_CALL;
	ev->call = k;
	post(c, ev);
}

/*
 * Starts a call; its completion, or its failure to start, arrives later as
 * an EV_CALL event, never synchronously: the state machine is never
 * re-entered from inside its own actions.  Encodes req, which stays the
 * caller's.  Returns 0, or XACT_ENOMEM when not even the call could be
 * allocated (then the safety-net timeout ends an undecided transaction).
 * req NULL: fails at once as if the participant refused the connection.
 * gids (ngids of them, copied): the COMMITs a CALL_COMMIT_BATCH carries.
 */
static int
call_send(struct coord *c, enum call_kind kind, int pid, const char *gid, char *const *gids,
    int ngids, Xact__Request *req)
{
	struct call *k = calloc(1, sizeof(*k));
	nng_msg *msg = NULL;
	int rv = 0;

	if (k == NULL) {
		log_error("out of memory starting a call gid=%s", gid);
		return XACT_ENOMEM;
	}
	k->c = c;
	k->kind = kind;
	k->pid = pid;
	snprintf(k->gid, sizeof(k->gid), "%s", gid);
	if (ngids > 0 && (k->gids = calloc((size_t)ngids, sizeof(*k->gids))) != NULL) {
		for (int i = 0; i < ngids; i++) {
			snprintf(k->gids[i], sizeof(k->gids[i]), "%s", gids[i]);
		}
		k->ngids = ngids;
	} else if (ngids > 0) {
		log_error("out of memory starting a batch of %d COMMITs", ngids);
		free(k); /* the caller fails each COMMIT on its own */
		return XACT_ENOMEM;
	}
	pthread_mutex_lock(&c->lock);
	k->next = c->calls;
	if (c->calls != NULL) {
		c->calls->prev = k;
	}
	c->calls = k;
	c->ncalls++;
	pthread_mutex_unlock(&c->lock);
	if (req == NULL) {
		rv = NNG_ECONNREFUSED; /* (a failpoint's) */
	}
	if (rv != 0 || (msg = wire_pack_request(req)) == NULL ||
	    (rv = nng_ctx_open(&k->ctx, c->parts[pid].sock)) != 0 ||
	    (rv = nng_aio_alloc(&k->aio, call_cb, k)) != 0) {
		nng_msg_free(msg);
		k->err = rv ? wire_nng_err(rv) : XACT_ENOMEM;
		k->ev.embedded = 1;
		k->ev.kind = EV_CALL;
		k->ev.call = k;
		post(c, &k->ev);
		return XACT_OK;
	}
	nng_aio_set_timeout(k->aio, (nng_duration)c->cfg->call_timeout_ms);
	k->sending = 1;
	nng_aio_set_msg(k->aio, msg);
	nng_ctx_send(k->ctx, k->aio);
	return XACT_OK;
}

static int
call_start(struct coord *c, enum call_kind kind, int pid, const char *gid, Xact__Request *req)
{
	return call_send(c, kind, pid, gid, NULL, 0, req);
}

/* One call carrying the COMMITs of gids (a BranchCommitBatchReq in req). */
static int
call_start_batch(struct coord *c, int pid, char *const *gids, int n, Xact__Request *req)
{
	return call_send(c, CALL_COMMIT_BATCH, pid, "", gids, n, req);
}

static void
call_free(struct coord *c, struct call *k)
{
	pthread_mutex_lock(&c->lock);
	if (k->prev != NULL) {
		k->prev->next = k->next;
	} else {
		c->calls = k->next;
	}
	if (k->next != NULL) {
		k->next->prev = k->prev;
	}
	c->ncalls--;
	pthread_mutex_unlock(&c->lock);
	if (k->aio != NULL) {
		nng_aio_free(k->aio);
		nng_ctx_close(k->ctx);
	}
	nng_msg_free(k->reply);
	free(k->gids);
	free(k);
}

/* Sends a gid-only request (precommit, commit, abort) to pid. */
static int
send_gid_request(struct coord *c, enum call_kind kind, int pid, const char *gid)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__BranchCommitReq bc = XACT__BRANCH_COMMIT_REQ__INIT;
	Xact__BranchAbortReq ba = XACT__BRANCH_ABORT_REQ__INIT;
	Xact__PrecommitReq pc = XACT__PRECOMMIT_REQ__INIT;

	switch (kind) {
	case CALL_PRECOMMIT:
		pc.gid = (char *)gid; /* no ballot: the coordinator's */
		req.body_case = XACT__REQUEST__BODY_PRECOMMIT;
		req.precommit = &pc;
		break;
	case CALL_COMMIT: /* (from send_commits only) */
		bc.gid = (char *)gid;
		req.body_case = XACT__REQUEST__BODY_BRANCH_COMMIT;
		req.branch_commit = &bc;
		break;
	default:
		ba.gid = (char *)gid;
		req.body_case = XACT__REQUEST__BODY_BRANCH_ABORT;
		req.branch_abort = &ba;
		break;
	}
	return call_start(c, kind, pid, gid, &req);
}

static void flush_commits(struct coord *c, int pid);
static void send_commits(struct coord *c, int pid, char *const *gids, int n);

/* A COMMIT for pid, queued to share a message with others (flush_commits);
 * at once when there is no queue. */
static void
queue_commit(struct coord *c, int pid, const char *gid)
{
	struct participant *p = &c->parts[pid];
	char *one[1] = {(char *)gid};

	if (p->cq == NULL) {
		send_commits(c, pid, one, 1);
		return;
	}
	snprintf(p->cq[p->ncq++], sizeof(p->cq[0]), "%s", gid);
	if (p->ncq == COMMIT_BATCH_MAX) {
		flush_commits(c, pid);
	}
}

/* Sends pid's queued COMMITs. */
static void
flush_commits(struct coord *c, int pid)
{
	struct participant *p = &c->parts[pid];
	char *gids[COMMIT_BATCH_MAX];
	int n = p->ncq;

	for (int i = 0; i < n; i++) {
		gids[i] = p->cq[i];
	}
	p->ncq = 0;
	send_commits(c, pid, gids, n);
}

/*
 * Every COMMIT the coordinator sends goes through here (n at most
 * COMMIT_BATCH_MAX).  coord.before_commit_send fires once per COMMIT: one
 * it fails is not sent and fails at once, as if the participant refused
 * the connection, and its decision stays pending.  The rest go as one
 * BranchCommitBatchReq, or each as a BranchCommitReq when alone or to a
 * participant that refused batches.
 */
static void
send_commits(struct coord *c, int pid, char *const *gids, int n)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__BranchCommitBatchReq bb = XACT__BRANCH_COMMIT_BATCH_REQ__INIT;
	char *go[COMMIT_BATCH_MAX];
	int m = 0;

	for (int i = 0; i < n; i++) {
		if (XACT_FAILPOINT("coord.before_commit_send") != 0) {
			call_start(c, CALL_COMMIT, pid, gids[i], NULL); /* fails at once */
		} else {
			go[m++] = gids[i];
		}
	}
	c->commits_sent += (uint64_t)m;
	if (m == 1 || c->parts[pid].no_batch) {
		for (int i = 0; i < m; i++) {
			c->commit_messages++;
			send_gid_request(c, CALL_COMMIT, pid, go[i]);
		}
		return;
	}
	if (m == 0) {
		return;
	}
	c->commit_messages++;
	bb.n_gids = (size_t)m;
	bb.gids = go;
	req.body_case = XACT__REQUEST__BODY_BRANCH_COMMIT_BATCH;
	req.branch_commit_batch = &bb;
	if (call_start_batch(c, pid, go, m, &req) != XACT_OK) {
		/* Not even the call could be made: each COMMIT fails on its own
		 * (an EV_CALL each), so that its transaction retries. */
		for (int i = 0; i < m; i++) {
			call_start(c, CALL_COMMIT, pid, go[i], NULL);
		}
	}
}

static void
free_queues(struct coord *c)
{
	for (int i = 0; i < c->nparts; i++) {
		free(c->parts[i].cq);
		c->parts[i].cq = NULL;
	}
}

static void
flush_all_commits(struct coord *c)
{
	for (int i = 0; i < c->nparts; i++) {
		if (c->parts[i].ncq > 0) {
			flush_commits(c, i);
		}
	}
}

/* Fills a PREPARE for t.  3PC names every participant of the transaction,
 * so that they can find each other without the coordinator (peers and pp
 * hold TXN_MAX_PARTS). */
static void
fill_prepare(struct coord *c, const struct txn *t, Xact__PrepareReq *p, Xact__Peer *peers,
    Xact__Peer **pp)
{
	p->gid = (char *)t->gid;
	if (t->protocol != XACT_PROTOCOL_3PC) {
		return;
	}
	for (int i = 0; i < t->nparts; i++) {
		xact__peer__init(&peers[i]);
		peers[i].name = c->parts[t->parts[i].pid].name;
		peers[i].url = c->parts[t->parts[i].pid].url;
		pp[i] = &peers[i];
	}
	p->has_protocol = 1;
	p->protocol = XACT__PROTOCOL__PROTOCOL_3PC;
	p->n_peers = (size_t)t->nparts;
	p->peers = pp;
}

/* PREPARE to pid; for a one-shot run, with pid's statements before it.
 * one_phase: the only branch, asked to commit at once instead. */
static void
send_prepare(struct coord *c, const struct ctxn *x, int pid, int one_phase)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__PrepareReq p = XACT__PREPARE_REQ__INIT;
	Xact__BranchRunReq br = XACT__BRANCH_RUN_REQ__INIT;
	Xact__Peer peers[TXN_MAX_PARTS], *pp[TXN_MAX_PARTS];
	Xact__Statement *st[RUN_MAX_STMTS];

	fill_prepare(c, &x->t, &p, peers, pp);
	p.has_one_phase = one_phase;
	p.one_phase = one_phase;
	req.body_case = XACT__REQUEST__BODY_PREPARE;
	req.prepare = &p;
	if (x->run_req != NULL) {
		const Xact__RunReq *run = x->run_req->run; /* n_stmts checked by handle_run */

		for (size_t i = 0; i < run->n_stmts; i++) {
			if (strcmp(run->stmts[i]->participant, c->parts[pid].name) == 0) {
				st[br.n_stmts++] = run->stmts[i]->stmt;
			}
		}
		br.gid = (char *)x->t.gid;
		br.stmts = st;
		br.prepare = &p;
		req.body_case = XACT__REQUEST__BODY_BRANCH_RUN;
		req.branch_run = &br;
	}
	call_start(c, CALL_PREPARE, pid, x->t.gid, &req);
}

/* ---- transaction table ------------------------------------------------- */

static struct ctxn *
txn_find(struct coord *c, const char *gid)
{
	for (struct ctxn *x = c->by_gid[hash_str(gid)]; x != NULL; x = x->hnext) {
		if (strcmp(x->t.gid, gid) == 0) {
			return x;
		}
	}
	return NULL;
}

static struct ctxn *
txn_find_token(struct coord *c, uint64_t token)
{
	for (struct ctxn *x = c->by_token[token % HASH_BUCKETS]; x != NULL; x = x->tnext) {
		if (x->token == token) {
			return x;
		}
	}
	return NULL;
}

/* A transaction on its way to a commit decision (or 3PC pre-commit) that
 * the journal may have to force; group commit waits for such
 * (journal_expect).  One that ends without a decision (an abort, one phase,
 * one writer) only shortens a wait (group_wait() in journal.c). */
static int
undecided(const struct txn *t)
{
	enum txn_state s = t->state;

	return s == TXN_ACTIVE || s == TXN_EXECUTING || s == TXN_PREPARING ||
	    s == TXN_PRECOMMITTING;
}

/* Of those, one at work: running a statement, or gathering votes (or 3PC
 * pre-commit acks).  Its decision is likely soon; an idle session's is
 * not. */
static int
voting(const struct txn *t)
{
	enum txn_state s = t->state;

	return s == TXN_EXECUTING || s == TXN_PREPARING || s == TXN_PRECOMMITTING;
}

static void
txn_insert(struct coord *c, struct ctxn *x)
{
	unsigned h = hash_str(x->t.gid);

	x->hnext = c->by_gid[h];
	c->by_gid[h] = x;
	if (x->token != 0) {
		x->tnext = c->by_token[x->token % HASH_BUCKETS];
		c->by_token[x->token % HASH_BUCKETS] = x;
	}
	x->started_ms = x->active_ms = util_now_ms();
	c->ntxns++;
	journal_expect(c->j, undecided(&x->t), voting(&x->t));
}

static void
txn_remove(struct coord *c, struct ctxn *x)
{
	struct ctxn **pp;

	for (pp = &c->by_gid[hash_str(x->t.gid)]; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == x) {
			*pp = x->hnext;
			break;
		}
	}
	if (x->token != 0) {
		for (pp = &c->by_token[x->token % HASH_BUCKETS]; *pp != NULL; pp = &(*pp)->tnext) {
			if (*pp == x) {
				*pp = x->tnext;
				break;
			}
		}
	}
	c->ntxns--;
	journal_expect(c->j, -undecided(&x->t), -voting(&x->t));
}

static const struct finished *find_finished(struct coord *c, const char *gid);

/* Records t's outcome among the finished; returns its entry, or NULL when
 * it is not kept. */
static struct finished *
remember_finished(struct coord *c, const struct txn *t)
{
	const struct finished *old;
	unsigned slot, *pp, b;
	struct finished *f;

	if (t->outcome == XACT_OUTCOME_ABORTED && (old = find_finished(c, t->gid)) != NULL &&
	    old->outcome == XACT_OUTCOME_UNKNOWN) {
		return NULL; /* a later orphan of it never hides that it may have committed */
	}
	if (t->orphan && t->outcome == XACT_OUTCOME_UNKNOWN && !t->found_committed) {
		/* Only a branch that did not answer made it unknown: the next
		 * question settles it again (the fence makes a NONE branch's
		 * "not prepared here" final), rather than unknown for good. */
		return NULL;
	}
	slot = c->finished_next++ % FINISHED_RING;
	f = &c->finished[slot];

	if (f->gid[0] != '\0') { /* the oldest goes: out of its bucket */
		for (pp = &c->fin_head[hash_str(f->gid)]; *pp != 0; pp = &c->fin_next[*pp - 1]) {
			if (*pp == slot + 1) {
				*pp = c->fin_next[slot];
				break;
			}
		}
	}
	b = hash_str(t->gid);
	c->fin_next[slot] = c->fin_head[b];
	c->fin_head[b] = slot + 1;
	snprintf(f->gid, sizeof(f->gid), "%s", t->gid);
	f->outcome = t->outcome;
	f->presumed = 0;
	snprintf(f->reason, sizeof(f->reason), "%.150s", t->reason);
	return f;
}

/* remember_finished() for a gid with no transaction in memory. */
static void
remember_outcome(struct coord *c, const char *gid, xact_outcome o, const char *reason)
{
	struct txn t;
	struct finished *f;

	txn_init(&t, gid);
	t.outcome = o;
	snprintf(t.reason, sizeof(t.reason), "%s", reason);
	if ((f = remember_finished(c, &t)) != NULL) {
		f->presumed = 1;
	}
}

static const struct finished *
find_finished(struct coord *c, const char *gid)
{
	for (unsigned i = c->fin_head[hash_str(gid)]; i != 0; i = c->fin_next[i - 1]) {
		if (strcmp(c->finished[i - 1].gid, gid) == 0) {
			return &c->finished[i - 1];
		}
	}
	return NULL;
}

static void
txn_free(struct ctxn *x)
{
	if (x->exec_req != NULL) {
		xact__request__free_unpacked(x->exec_req, NULL);
	}
	if (x->run_req != NULL) {
		xact__request__free_unpacked(x->run_req, NULL);
	}
	nng_msg_free(x->exec_reply);
	nng_msg_free(x->exec_result);
	free(x);
}

/* ---- carrying out actions ---------------------------------------------- */

static void journal_done(void *arg, const char *gid, int err, const char *msg);
static int apply(struct coord *c, struct ctxn *x, const struct txn_event *ev);

/* The comma-separated names of the participants that voted YES (and,
 * 3PC, may have pre-committed since). */
static void
yes_names(struct coord *c, const struct txn *t, char *buf, size_t n)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < t->nparts; i++) {
		if (t->parts[i].state == TP_YES || t->parts[i].state == TP_PRECOMMITTED) {
			off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? "," : "",
			    c->parts[t->parts[i].pid].name);
		}
	}
}

static void
send_exec(struct coord *c, struct ctxn *x, int pid)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__BranchExecReq be = XACT__BRANCH_EXEC_REQ__INIT;
	const struct txn_part *part = txn_find_part(&x->t, pid);

	be.gid = x->t.gid;
	be.seq = part != NULL ? part->stmts : 0;
	be.stmt = x->exec_stmt;
	req.body_case = XACT__REQUEST__BODY_BRANCH_EXEC;
	req.branch_exec = &be;
	call_start(c, CALL_EXEC, pid, x->t.gid, &req);
}

/* Answers the client's statement.  The participant's own reply is
 * forwarded as it is when it carries the result or the database's error;
 * otherwise an Error with the transaction's reason.  The answer is kept for
 * a repeated request with the same (gid, seq). */
static void
reply_exec(struct ctxn *x, const struct txn_action *a)
{
	struct sctx *s = x->exec_waiter;
	nng_msg *dup;

	x->exec_waiter = NULL;
	nng_msg_free(x->exec_reply);
	if ((a->err == 0 || a->err == XACT_ESQL) && x->exec_result != NULL) {
		x->exec_reply = x->exec_result;
	} else {
		nng_msg_free(x->exec_result);
		x->exec_reply = wire_error_reply(a->err ? a->err : XACT_EINTERNAL, "%s",
		    x->t.reason[0] ? x->t.reason : xact_strerror(a->err));
	}
	x->exec_result = NULL;
	if (s == NULL) {
		return;
	}
	if (x->exec_reply == NULL || nng_msg_dup(&dup, x->exec_reply) != 0) {
		reply(s, NULL);
		return;
	}
	reply(s, dup);
}

/* Forces the commit decision (or, 3PC, the pre-commit) into the journal;
 * the result comes back as an EV_JOURNAL event. */
static void
force_decision(struct coord *c, struct ctxn *x, int precommit)
{
	char names[2048];
	struct txn_event ev = {TXN_EV_LOG_FAILED, -1, XACT_EJOURNAL, NULL};
	struct event *done;
	int rv;

	/* Crash here: every vote is in, nothing is journaled; recovery
	 * presumes abort and rolls the prepared branches back (3PC: the
	 * participants, finding nothing pre-committed, abort by themselves). */
	if ((rv = XACT_FAILPOINT(precommit ? "coord.before_precommit" : "coord.before_decision")) != 0 ||
	    (x->t.protocol == XACT_PROTOCOL_3PC && !precommit &&
	        (rv = XACT_FAILPOINT("coord.after_precommits")) != 0)) {
		ev.reason = "injected failure";
		apply(c, x, &ev);
		return;
	}
	yes_names(c, &x->t, names, sizeof(names));
	/* The event that will carry the result is made now, so that the
	 * journal's callback can never fail to report. */
	if ((done = calloc(1, sizeof(*done))) == NULL) {
		ev.reason = "out of memory";
		apply(c, x, &ev);
		return;
	}
	done->c = c;
	done->precommit = precommit;
	if (precommit) {
		x->precommit_durable = 1; /* from the first attempt: it may reach the disk */
	}
	rv = precommit ? journal_submit_precommit(c->j, x->t.gid, names, journal_done, done)
	               : journal_submit_commit(c->j, x->t.gid, names, journal_done, done);
	if (rv != 0) {
		free(done);
		ev.reason = xact_strerror(rv);
		apply(c, x, &ev);
	}
}

static void
do_actions(struct coord *c, struct ctxn *x, const struct txn_actions *acts)
{
	int forget = 0, commits_sent = 0, precommits_sent = 0;

	for (int i = 0; i < acts->n; i++) {
		const struct txn_action *a = &acts->a[i];

		switch (a->type) {
		case TXN_ACT_SEND_EXEC:
			send_exec(c, x, a->pid);
			break;
		case TXN_ACT_SEND_PREPARE:
			XACT_FAILPOINT("coord.before_prepare");
			send_prepare(c, x, a->pid, 0);
			break;
		case TXN_ACT_SEND_ONE_PHASE:
			/* Crash here: nothing sent, nothing journaled; the open
			 * branch asks its outcome and is rolled back (presumed
			 * abort).  Crash after: the branch commits or not by
			 * itself; a repeated run of it finds its marker. */
			XACT_FAILPOINT("coord.before_one_phase");
			send_prepare(c, x, a->pid, 1);
			XACT_FAILPOINT("coord.after_one_phase");
			break;
		case TXN_ACT_FORCE_COMMIT:
			force_decision(c, x, 0);
			break;
		case TXN_ACT_SEND_COMMIT:
			/* Write-ahead holds: SEND_COMMIT only follows LOGGED
			 * (one writer: the only branch that holds anything, whose
			 * ack is the outcome).  Crash after the first: recovery
			 * re-sends to all. */
			if (commits_sent++ == 1 && failpoint_set("coord.after_commit_sent")) {
				flush_all_commits(c); /* the first one, handed to nng */
				XACT_FAILPOINT("coord.after_commit_sent");
			}
			queue_commit(c, a->pid, x->t.gid);
			break;
		case TXN_ACT_SEND_ABORT:
			/* Crash here: nothing is journaled for an abort; the
			 * sweep, or the agents' questions, roll it back. */
			XACT_FAILPOINT("coord.before_abort");
			send_gid_request(c, CALL_ABORT, a->pid, x->t.gid);
			break;
		case TXN_ACT_REPLY_EXEC:
			reply_exec(x, a);
			break;
		case TXN_ACT_REPLY_OUTCOME:
			reply_outcome_gid(x->outcome_waiter, x->t.outcome, x->t.reason, x->t.pending,
			    x->t.gid);
			x->outcome_waiter = NULL;
			break;
		case TXN_ACT_LOG_COMPLETE:
			journal_submit_complete(c->j, x->t.gid);
			break;
		case TXN_ACT_FORGET:
			forget = 1;
			break;
		case TXN_ACT_FORCE_PRECOMMIT:
			force_decision(c, x, 1);
			break;
		case TXN_ACT_SEND_PRECOMMIT:
			/* Write-ahead: only after PRECOMMIT_LOGGED.  Crash after
			 * the first: one branch pre-committed, the others only
			 * prepared; their termination pre-commits and commits. */
			if (precommits_sent++ == 1) {
				XACT_FAILPOINT("coord.after_precommit_sent");
			}
			send_gid_request(c, CALL_PRECOMMIT, a->pid, x->t.gid);
			break;
		}
	}
	if (forget && x->precommit_durable && x->t.state == TXN_ABORTED) {
		/* The termination (or its end) decided abort: the pre-commit
		 * goes, and presumed abort answers for the gid from now on. */
		journal_submit_unprecommit(c->j, x->t.gid);
	}
	if (forget) {
		log_debug("finished gid=%s state=%s reason=\"%s\"", x->t.gid,
		    txn_state_name(x->t.state), x->t.reason);
		remember_finished(c, &x->t);
		txn_remove(c, x);
		if (x->outcome_waiter != NULL) {
			reply_outcome_gid(x->outcome_waiter, x->t.outcome, x->t.reason, 0, x->t.gid);
		}
		txn_free(x);
	}
}

/* Feeds one event to x's state machine and carries out the actions.  May
 * free x (FORGET): callers must not touch x afterwards.  Returns 0, or the
 * state machine's refusal (nothing changed, x still valid). */
static int
apply(struct coord *c, struct ctxn *x, const struct txn_event *ev)
{
	struct txn_actions acts;
	enum txn_state before = x->t.state;
	int had_retry = x->t.retry, u0 = undecided(&x->t), v0 = voting(&x->t), du, dv;
	int rv = txn_step(&x->t, ev, &acts);

	if (rv != 0) {
		log_warn("event refused gid=%s state=%s event=%s err=%s", x->t.gid,
		    txn_state_name(x->t.state), txn_event_name(ev->type), xact_strerror(rv));
		return rv;
	}
	if (before != x->t.state) {
		log_debug("transition gid=%s event=%s from=%s state=%s", x->t.gid,
		    txn_event_name(ev->type), txn_state_name(before),
		    txn_state_name(x->t.state));
		if ((before == TXN_PREPARING || before == TXN_ONE_PHASE) &&
		    x->t.state == TXN_COMMITTING && x->t.unjournaled) {
			/* Crash here: every vote is in, one writer, nothing
			 * sent; it stays prepared and presumed abort rolls it
			 * back, as after coord.before_decision in general. */
			XACT_FAILPOINT("coord.before_decision");
			c->one_writer_commits++;
		}
	}
	du = undecided(&x->t) - u0;
	dv = voting(&x->t) - v0;
	if (x->t.retry && !had_retry) {
		x->backoff = x->backoff ? x->backoff * 2 : RETRY_MIN_MS;
		if (x->backoff > RETRY_MAX_MS) {
			x->backoff = RETRY_MAX_MS;
		}
		x->retry_at = util_now_ms() + x->backoff;
	}
	do_actions(c, x, &acts); /* may free x */
	/* After the actions: a decision is queued before it leaves the
	 * count of those at work, which the writer never sees dip. */
	if (du != 0 || dv != 0) {
		journal_expect(c->j, du, dv);
	}
	return 0;
}

/* ---- journal callback -------------------------------------------------- */

/* Runs on the journal's writer thread: only queues.  arg is the event
 * force_commit made for it. */
static void
journal_done(void *arg, const char *gid, int err, const char *msg)
{
	struct event *ev = arg;
	struct coord *c = ev->c;

	ev->kind = EV_JOURNAL;
	snprintf(ev->gid, sizeof(ev->gid), "%s", gid);
	ev->err = err;
	snprintf(ev->why, sizeof(ev->why), "%s", msg ? msg : "");
	post(c, ev);
}

static void
on_journal(struct coord *c, struct event *ev)
{
	struct ctxn *x = txn_find(c, ev->gid);
	struct txn_event tev = {TXN_EV_LOGGED, -1, 0, NULL};

	if (x == NULL) {
		return;
	}
	if (ev->err != 0) {
		tev.type = TXN_EV_LOG_FAILED;
		tev.reason = ev->why;
	} else if (ev->precommit) {
		log_debug("decision durable gid=%s state=%s decision=precommit", x->t.gid,
		    txn_state_name(x->t.state));
		/* Crash here: pre-commit durable, no PRECOMMIT has left; the
		 * participants, all only prepared, abort by themselves, and
		 * the restarted coordinator's termination agrees. */
		XACT_FAILPOINT("coord.after_precommit");
		tev.type = TXN_EV_PRECOMMIT_LOGGED;
	} else {
		log_debug("decision durable gid=%s state=%s decision=commit", x->t.gid,
		    txn_state_name(x->t.state));
		/* Crash here: the decision is durable, no COMMIT has left;
		 * recovery finds it in the journal and commits everywhere. */
		XACT_FAILPOINT("coord.after_decision");
	}
	apply(c, x, &tev);
}

/* ---- participant replies ----------------------------------------------- */

static void on_list_reply(struct coord *c, struct call *k, Xact__Reply *rep);
static void on_ack_reply(struct coord *c, struct ctxn *x, struct call *k, Xact__Reply *rep);

/*
 * The answer to a batch of COMMITs: each gid gets what a COMMIT of its own
 * would have (its packed Reply, or the batch's failure).  A participant
 * that does not serve batches (an older agent) gets one COMMIT per message
 * from then on.
 */
static void
on_batch_reply(struct coord *c, struct call *k, Xact__Reply *rep)
{
	struct participant *p = &c->parts[k->pid];
	int ok = k->err == 0 && rep != NULL && rep->body_case == XACT__REPLY__BODY_BATCH &&
	         rep->batch->n_replies == (size_t)k->ngids;

	/* An agent that cannot decode the request ("malformed": it predates
	 * batches) or does not serve it. */
	if (!ok && k->err == 0 && rep != NULL && rep->body_case == XACT__REPLY__BODY_ERROR &&
	    (rep->error->code == XACT_EPROTO ||
	        (rep->error->code == XACT_EINVAL &&
	            strstr(rep->error->message, "not served") != NULL)) &&
	    !p->no_batch) {
		p->no_batch = 1;
		log_warn("participant=%s serves no batched COMMITs: sending them one by one", p->name);
	}
	for (int i = 0; i < k->ngids; i++) {
		struct call one = {.c = c, .kind = CALL_COMMIT, .pid = k->pid, .err = k->err};
		Xact__Reply *r = NULL;
		struct ctxn *x = txn_find(c, k->gids[i]);

		if (x == NULL) {
			continue;
		}
		snprintf(one.gid, sizeof(one.gid), "%s", k->gids[i]);
		if (ok && wire_unpack_reply_bytes(rep->batch->replies[i].data,
		              rep->batch->replies[i].len, &r) != XACT_OK) {
			one.err = XACT_EPROTO;
		}
		on_ack_reply(c, x, &one, ok ? r : rep);
		if (r != NULL) {
			xact__reply__free_unpacked(r, NULL);
		}
	}
}

/* Text of a failed call: transport error or the participant's Error. */
static void
call_failure(struct coord *c, struct call *k, Xact__Reply *rep, char *buf, size_t n)
{
	if (k->err != 0) {
		snprintf(buf, n, "participant %s unreachable: %s", c->parts[k->pid].name,
		    xact_strerror(k->err));
	} else if (rep != NULL && rep->body_case == XACT__REPLY__BODY_ERROR) {
		snprintf(buf, n, "participant %s: %s", c->parts[k->pid].name,
		    rep->error->message);
	} else {
		snprintf(buf, n, "participant %s sent an unexpected reply",
		    c->parts[k->pid].name);
	}
}

static void
on_exec_reply(struct coord *c, struct ctxn *x, struct call *k, Xact__Reply *rep)
{
	struct txn_event ev = {TXN_EV_EXEC_DONE, k->pid, 0, NULL};
	char why[768];

	if (rep != NULL && rep->body_case == XACT__REPLY__BODY_EXEC) {
		const Xact__Result *r = rep->exec->result;

		nng_msg_free(x->exec_result);
		x->exec_result = k->reply; /* forwarded to the client as is */
		k->reply = NULL;
		if (r->error != NULL) {
			snprintf(why, sizeof(why), "participant %s: %s", c->parts[k->pid].name,
			    r->error);
			ev.type = TXN_EV_EXEC_FAILED;
			ev.err = XACT_ESQL;
			ev.reason = why;
		}
	} else {
		call_failure(c, k, rep, why, sizeof(why));
		ev.type = TXN_EV_EXEC_FAILED;
		ev.err = k->err ? k->err
		                : (rep && rep->body_case == XACT__REPLY__BODY_ERROR &&
		                      rep->error->code < XACT_ERR_COUNT ? (int)rep->error->code
		                                                        : XACT_EPROTO);
		ev.reason = why;
	}
	apply(c, x, &ev);
}

static void warn_no_ack(struct participant *p, const struct ctxn *x, const char *why);

/* The answer to a one-phase commit: a vote is the outcome (or, YES, an
 * agent that prepared instead); anything else leaves it unknown, and the
 * same request goes again. */
static void
on_one_phase_reply(struct coord *c, struct ctxn *x, struct call *k, Xact__Reply *rep)
{
	struct txn_event ev = {TXN_EV_ONE_PHASE_LOST, k->pid, 0, NULL};
	char why[768];

	if (rep != NULL && rep->body_case == XACT__REPLY__BODY_VOTE) {
		switch (rep->vote->vote) {
		case XACT__VOTE_KIND__VOTE_COMMITTED:
			ev.type = TXN_EV_ONE_PHASE_COMMITTED;
			c->one_phase_commits++;
			break;
		case XACT__VOTE_KIND__VOTE_READ_ONLY:
			ev.type = TXN_EV_VOTE_READ_ONLY;
			c->one_phase_commits++;
			break;
		case XACT__VOTE_KIND__VOTE_YES:
			ev.type = TXN_EV_VOTE_YES;
			break;
		default:
			snprintf(why, sizeof(why), "participant %s voted no: %s", c->parts[k->pid].name,
			    rep->vote->reason ? rep->vote->reason : "no reason given");
			ev.type = TXN_EV_VOTE_NO;
			ev.reason = why;
			c->one_phase_aborts++;
			break;
		}
	} else {
		call_failure(c, k, rep, why, sizeof(why));
		ev.reason = why;
		warn_no_ack(&c->parts[k->pid], x, why);
	}
	log_debug("one-phase answer gid=%s participant=%s event=%s", x->t.gid,
	    c->parts[k->pid].name, txn_event_name(ev.type));
	apply(c, x, &ev);
}

static void
on_vote_reply(struct coord *c, struct ctxn *x, struct call *k, Xact__Reply *rep)
{
	struct txn_event ev = {TXN_EV_VOTE_NO, k->pid, 0, NULL};
	char why[768];

	if (x->t.state == TXN_ONE_PHASE) {
		on_one_phase_reply(c, x, k, rep);
		return;
	}
	if (rep != NULL && rep->body_case == XACT__REPLY__BODY_VOTE) {
		switch (rep->vote->vote) {
		case XACT__VOTE_KIND__VOTE_YES:
			ev.type = TXN_EV_VOTE_YES;
			break;
		case XACT__VOTE_KIND__VOTE_READ_ONLY:
			ev.type = TXN_EV_VOTE_READ_ONLY;
			break;
		default:
			snprintf(why, sizeof(why), "participant %s voted no: %s",
			    c->parts[k->pid].name,
			    rep->vote->reason ? rep->vote->reason : "no reason given");
			ev.reason = why;
			break;
		}
	} else {
		call_failure(c, k, rep, why, sizeof(why));
		ev.reason = why;
	}
	log_debug("vote gid=%s state=%s participant=%s vote=%s", x->t.gid,
	    txn_state_name(x->t.state), c->parts[k->pid].name, txn_event_name(ev.type));
	apply(c, x, &ev);
}

/* One line per participant every WARN_EVERY_MS at most: a participant down
 * with a thousand transactions committing must not flood the log. */
static void
warn_no_ack(struct participant *p, const struct ctxn *x, const char *why)
{
	int64_t now = util_now_ms();

	if (now - p->warned_ms < WARN_EVERY_MS) {
		p->quiet++;
		return;
	}
	log_warn("no ack gid=%s state=%s participant=%s why=\"%s\"", x->t.gid,
	    txn_state_name(x->t.state), p->name, why);
	if (p->quiet > 0) {
		log_warn("participant=%s: %ld more unacknowledged calls since the last line", p->name,
		    p->quiet);
	}
	p->warned_ms = now;
	p->quiet = 0;
}

static void
on_ack_reply(struct coord *c, struct ctxn *x, struct call *k, Xact__Reply *rep)
{
	struct txn_event ev = {TXN_EV_ACK, k->pid, 0, NULL};
	char why[768];

	if (rep == NULL || rep->body_case != XACT__REPLY__BODY_ACK) {
		call_failure(c, k, rep, why, sizeof(why));
		ev.type = TXN_EV_ACK_FAILED;
		ev.reason = why;
		warn_no_ack(&c->parts[k->pid], x, why);
	} else if (k->kind == CALL_ABORT && rep->ack->outcome == XACT__OUTCOME__OUTCOME_COMMITTED &&
	    x->t.orphan && x->t.state == TXN_ABORTING) {
		/* Presumed abort found it committed: a one-phase or one-writer
		 * commit (nothing journaled), or one by hand.  Which, nothing
		 * here tells: reported as a heuristic outcome, and the outcome
		 * is UNKNOWN. */
		log_warn("heuristic outcome gid=%s state=aborting participant=%s branch=committed "
		         "decision=none detail=\"%s\" (a one-phase or one-writer commit, or one by "
		         "hand)", x->t.gid, c->parts[k->pid].name,
		    rep->ack->detail ? rep->ack->detail : "");
		journal_submit_heuristic(c->j, x->t.gid, c->parts[k->pid].name, "abort", "committed");
		ev.type = TXN_EV_ACK_COMMITTED;
	} else if ((k->kind == CALL_COMMIT &&
	               rep->ack->outcome == XACT__OUTCOME__OUTCOME_ABORTED) ||
	    (k->kind == CALL_ABORT && rep->ack->outcome == XACT__OUTCOME__OUTCOME_COMMITTED)) {
		/* The branch ended against the decision (by hand, say): a
		 * heuristic outcome.  Reported and journaled, never hidden. */
		int commit = k->kind == CALL_COMMIT;

		log_error("heuristic outcome gid=%s state=%s participant=%s branch=%s decision=%s "
		          "detail=\"%s\"", x->t.gid, txn_state_name(x->t.state),
		    c->parts[k->pid].name, commit ? "aborted" : "committed",
		    commit ? "commit" : "abort", rep->ack->detail ? rep->ack->detail : "");
		journal_submit_heuristic(c->j, x->t.gid, c->parts[k->pid].name,
		    commit ? "commit" : "abort", commit ? "aborted" : "committed");
	}
	apply(c, x, &ev);
}

/* 3PC: a branch's answer to PRECOMMIT.  Pre-committed (or committed)
 * acknowledges it; a refusal, or any other state, means a termination
 * leader has the branch: the coordinator terminates too. */
static void
on_precommit_reply(struct coord *c, struct ctxn *x, struct call *k, Xact__Reply *rep)
{
	struct txn_event ev = {TXN_EV_ACK_FAILED, k->pid, 0, NULL};
	char why[768];

	if (rep != NULL && rep->body_case == XACT__REPLY__BODY_BRANCH_STATE) {
		const Xact__BranchStateRep *b = rep->branch_state;

		if (!b->refused && (b->state == XACT__BRANCH_STATE__BRANCH_PRECOMMITTED ||
		                       b->state == XACT__BRANCH_STATE__BRANCH_COMMITTED)) {
			ev.type = TXN_EV_PRECOMMIT_ACK;
		} else {
			snprintf(why, sizeof(why), "participant %s is %s%s: a termination is under way",
			    c->parts[k->pid].name,
			    branch_state_name((enum branch_state)b->state),
			    b->refused ? " and obeys a higher ballot" : "");
			ev.type = TXN_EV_PRECOMMIT_REFUSED;
			ev.reason = why;
			log_warn("precommit refused gid=%s state=%s participant=%s why=\"%s\"", x->t.gid,
			    txn_state_name(x->t.state), c->parts[k->pid].name, why);
		}
	} else {
		call_failure(c, k, rep, why, sizeof(why));
		ev.reason = why;
		warn_no_ack(&c->parts[k->pid], x, why);
	}
	apply(c, x, &ev);
}

static void
on_call(struct coord *c, struct call *k)
{
	Xact__Reply *rep = NULL;
	struct ctxn *x;

	if (k->reply != NULL && wire_unpack_reply(k->reply, &rep) != XACT_OK) {
		rep = NULL;
		k->err = XACT_EPROTO;
	}
	c->parts[k->pid].reachable = k->err == 0;
	if (k->kind == CALL_LIST) {
		on_list_reply(c, k, rep);
	} else if (k->kind == CALL_COMMIT_BATCH) {
		on_batch_reply(c, k, rep);
	} else if ((x = txn_find(c, k->gid)) != NULL) {
		switch (k->kind) {
		case CALL_EXEC:
			on_exec_reply(c, x, k, rep);
			break;
		case CALL_PREPARE:
			on_vote_reply(c, x, k, rep);
			break;
		case CALL_PRECOMMIT:
			on_precommit_reply(c, x, k, rep);
			break;
		default:
			on_ack_reply(c, x, k, rep);
			break;
		}
	}
	if (rep != NULL) {
		xact__reply__free_unpacked(rep, NULL);
	}
	call_free(c, k);
}

/* ---- recovery ---------------------------------------------------------- */

static int
find_participant(struct coord *c, const char *name, size_t len)
{
	for (int i = 0; i < c->nparts; i++) {
		if (strlen(c->parts[i].name) == len && strncmp(c->parts[i].name, name, len) == 0) {
			return i;
		}
	}
	return -1;
}

/* The participants a journal record names (comma-separated), as indexes
 * into pids: how many, or -1 (logged, the record stays in the journal for
 * the operator) when one is not configured.  state names the record's kind
 * in the log. */
static int
record_pids(struct coord *c, const struct journal_record *r, const char *state, int *pids)
{
	const char *p = r->participants;
	int n = 0;

	while (*p != '\0' && n < TXN_MAX_PARTS) {
		size_t len = strcspn(p, ",");
		int pid = find_participant(c, p, len);

		if (pid < 0) {
			log_error("recovery: gid=%s state=%s names participant '%.*s' "
			          "that is not configured; left in the journal", r->gid, state, (int)len, p);
			return -1;
		}
		pids[n++] = pid;
		p += len + (p[len] == ',');
	}
	return n;
}

/* Re-creates a committing transaction from its journal record.  Returns
 * the transaction, or NULL when a participant is not configured (then the
 * record stays in the journal for the operator). */
static struct ctxn *
recover_commit(struct coord *c, const struct journal_record *r)
{
	int pids[TXN_MAX_PARTS], n;
	struct ctxn *x;

	if ((n = record_pids(c, r, "committing", pids)) < 0 || (x = calloc(1, sizeof(*x))) == NULL) {
		return NULL;
	}
	txn_init_recovered(&x->t, r->gid, pids, n);
	txn_insert(c, x);
	x->retry_at = 0; /* send at once */
	log_info("recovery: re-driving commit gid=%s state=%s participants=%s", r->gid,
	    txn_state_name(x->t.state), r->participants);
	return x;
}

static int
recover_one(void *arg, const struct journal_record *r)
{
	struct coord *c = arg;

	if (txn_find(c, r->gid) == NULL) {
		recover_commit(c, r);
	}
	return 0;
}

/* 3PC: a pre-commit without a commit decision.  The participants may have
 * finished it by themselves either way: the coordinator terminates it, as
 * a leader that needs every branch's state (recover_precommit_one). */
static int
recover_precommit_one(void *arg, const struct journal_record *r)
{
	struct coord *c = arg;
	int pids[TXN_MAX_PARTS], n;
	struct ctxn *x;

	if (txn_find(c, r->gid) != NULL) {
		return 0;
	}
	if ((n = record_pids(c, r, "terminating", pids)) <= 0 || (x = calloc(1, sizeof(*x))) == NULL) {
		return 0;
	}
	txn_init_recovered_precommit(&x->t, r->gid, pids, n);
	x->precommit_durable = 1;
	txn_insert(c, x);
	log_info("recovery: terminating gid=%s state=%s participants=%s (pre-commit journaled, "
	         "no commit)", r->gid, txn_state_name(x->t.state), r->participants);
	return 0;
}

/* Asks every participant for the prepared branches of this coordinator. */
static void
sweep(struct coord *c)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__ListPreparedReq lp = XACT__LIST_PREPARED_REQ__INIT;
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "xact:%s:", c->cfg->id);
	lp.prefix = prefix;
	req.body_case = XACT__REQUEST__BODY_LIST_PREPARED;
	req.list_prepared = &lp;
	for (int i = 0; i < c->nparts; i++) {
		call_start(c, CALL_LIST, i, "", &req);
	}
}

/*
 * Starts an abort of gid on the participants pids (n >= 1), outside any
 * transaction the loop knows: presumed abort, or the operator's.  reason
 * NULL keeps the presumed-abort reason.  NULL when out of memory.
 */
static struct ctxn *
orphan_abort(struct coord *c, const char *gid, const int *pids, int n, const char *reason)
{
	struct ctxn *x = calloc(1, sizeof(*x));

	if (x == NULL) {
		return NULL;
	}
	txn_init_orphan(&x->t, gid, pids[0]);
	for (int i = 1; i < n; i++) {
		txn_add_orphan_part(&x->t, pids[i]);
	}
	if (reason != NULL) {
		snprintf(x->t.reason, sizeof(x->t.reason), "%s", reason);
	}
	txn_insert(c, x);
	x->retry_at = 0;
	return x;
}

/* A prepared branch the participant listed.  In memory: its transaction
 * is in charge.  Journaled commit: commit it.  Otherwise no decision was
 * ever made durable, and since every gid is created in memory before any
 * participant sees it, one that is not in memory is not in flight: presume
 * abort (citus#1030 cannot happen). */
static void
resolve_listed(struct coord *c, int pid, const char *gid)
{
	struct journal_record r;
	struct ctxn *x = txn_find(c, gid);
	const struct finished *f;
	int rv;

	if (x != NULL) {
		if (x->t.state == TXN_ABORTING && x->t.nparts > 0 && x->t.orphan) {
			txn_add_orphan_part(&x->t, pid);
		}
		return;
	}
	if ((f = find_finished(c, gid)) != NULL && f->outcome == XACT_OUTCOME_COMMITTED) {
		/* A listing older than the commit it crossed (one writer:
		 * nothing journaled): every branch acknowledged it. */
		log_debug("recovery: gid=%s listed by %s but committed since", gid, c->parts[pid].name);
		return;
	}
	rv = journal_lookup(c->j, gid, &r);
	if (rv == XACT_OK) {
		recover_commit(c, &r);
		return;
	}
	if (rv == XACT_ENOTFOUND && (rv = journal_lookup_precommit(c->j, gid, &r)) == XACT_OK) {
		/* A pre-commit not terminating in memory: its participants are
		 * not all configured (recovery said so).  A termination may have
		 * committed it: never presume abort. */
		log_error("recovery: gid=%s has a journaled pre-commit naming %s, not all configured; "
		          "left prepared on %s", gid, r.participants, c->parts[pid].name);
		return;
	}
	if (rv != XACT_ENOTFOUND) {
		log_error("recovery: cannot read the journal for gid=%s; left prepared", gid);
		return;
	}
	if ((x = orphan_abort(c, gid, &pid, 1, NULL)) != NULL) {
		log_info("recovery: presumed abort gid=%s state=%s participant=%s", gid,
		    txn_state_name(x->t.state), c->parts[pid].name);
	}
}

static void
on_list_reply(struct coord *c, struct call *k, Xact__Reply *rep)
{
	size_t plen;
	char prefix[64];

	if (rep == NULL || rep->body_case != XACT__REPLY__BODY_LIST_PREPARED) {
		log_debug("recovery: participant=%s not reachable for the sweep",
		    c->parts[k->pid].name);
		return;
	}
	c->parts[k->pid].swept = 1;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "xact:%s:", c->cfg->id);
	for (size_t i = 0; i < rep->list_prepared->n_gids; i++) {
		const char *gid = rep->list_prepared->gids[i];

		if (strncmp(gid, prefix, plen) == 0 && strlen(gid) < 64) {
			resolve_listed(c, k->pid, gid);
		}
	}
}

/* ---- client requests --------------------------------------------------- */

static int
next_gid(struct coord *c, char *gid, size_t n)
{
	if (c->seq_next >= c->seq_limit) {
		uint64_t first;

		/* One synchronous write per SEQ_BLOCK transactions. */
		if (journal_reserve_seq(c->j, SEQ_BLOCK, &first) != XACT_OK) {
			return XACT_EJOURNAL;
		}
		c->seq_next = first;
		c->seq_limit = first + SEQ_BLOCK;
	}
	snprintf(gid, n, "xact:%s:%llu", c->cfg->id, (unsigned long long)c->seq_next++);
	return XACT_OK;
}

/* A new ACTIVE transaction gid (protocol: a request's, when it names one),
 * in memory; NULL when out of memory. */
static struct ctxn *
txn_new(struct coord *c, const char *gid, int has_protocol, Xact__Protocol protocol)
{
	struct ctxn *x = calloc(1, sizeof(*x));

	if (x == NULL) {
		return NULL;
	}
	txn_init(&x->t, gid);
	x->t.protocol = !has_protocol ? (xact_protocol)c->cfg->protocol
	    : protocol == XACT__PROTOCOL__PROTOCOL_3PC ? XACT_PROTOCOL_3PC
	                                               : XACT_PROTOCOL_2PC;
	x->t.one_phase = c->cfg->one_phase;
	return x;
}

static int
protocol_ok(int has, Xact__Protocol p)
{
	return !has || p == XACT__PROTOCOL__PROTOCOL_2PC || p == XACT__PROTOCOL__PROTOCOL_3PC;
}

static void
handle_begin(struct coord *c, struct sctx *s, const Xact__BeginReq *b)
{
	Xact__Reply rep = XACT__REPLY__INIT;
	Xact__BeginRep br = XACT__BEGIN_REP__INIT;
	struct ctxn *x = b->token ? txn_find_token(c, b->token) : NULL;
	char gid[64];

	if (!protocol_ok(b->has_protocol, b->protocol)) {
		reply(s, wire_error_reply(XACT_EINVAL, "unknown protocol %d (2pc or 3pc)",
		    (int)b->protocol));
		return;
	}
	if (x == NULL) {
		if (next_gid(c, gid, sizeof(gid)) != XACT_OK) {
			reply(s, wire_error_reply(XACT_EJOURNAL, "cannot reserve gids in the journal"));
			return;
		}
		if ((x = txn_new(c, gid, b->has_protocol, b->protocol)) == NULL) {
			reply(s, wire_error_reply(XACT_ENOMEM, "out of memory"));
			return;
		}
		x->token = b->token;
		txn_insert(c, x);
		log_debug("begin gid=%s state=%s protocol=%s", gid, txn_state_name(x->t.state),
		    x->t.protocol == XACT_PROTOCOL_3PC ? "3pc" : "2pc");
	}
	br.gid = x->t.gid;
	rep.body_case = XACT__REPLY__BODY_BEGIN;
	rep.begin = &br;
	reply(s, wire_pack_reply(&rep));
}

static void reply_not_in_memory(struct coord *c, struct sctx *s, const char *gid,
    int outcome_wanted);
static void handle_finish(struct coord *c, struct sctx *s, const char *gid, int commit);

/*
 * A run named by its run id (RunReq without a gid): its gid is the
 * coordinator's id, "r" and the id in hex.  In memory (a repeat): that
 * transaction.  Finished, or in the journal (a repeat that outlived the
 * transaction, or this coordinator's restart): answered from there, NULL.
 * Else a new ACTIVE transaction, *created set: handle_run checks the run as
 * for any, and drops it again when it refuses.  NULL when answered.
 */
static struct ctxn *
run_by_id(struct coord *c, struct sctx *s, const Xact__RunReq *run, int *created)
{
	struct journal_record r;
	struct ctxn *x;
	char gid[64], prefix[48];
	int rv;

	*created = 0;
	if (!run->has_run_id || run->run_id.len != 16 || !protocol_ok(run->has_protocol, run->protocol)) {
		reply(s, wire_error_reply(XACT_EINVAL, "a run names a gid, or a 16-byte run id and "
		                                       "2pc or 3pc"));
		return NULL;
	}
	snprintf(prefix, sizeof(prefix), "xact:%s:", c->cfg->id);
	wire_run_gid(gid, sizeof(gid), prefix, run->run_id.data);
	if ((x = txn_find(c, gid)) != NULL) {
		return x;
	}
	if (find_finished(c, gid) != NULL) {
		reply_not_in_memory(c, s, gid, 1);
		return NULL;
	}
	/* Not in the journal is the only "new": a read that fails, or a
	 * pre-commit a termination still decides, must not start it again. */
	rv = journal_lookup(c->j, gid, &r);
	if (rv == XACT_ENOTFOUND && journal_lookup_precommit(c->j, gid, &r) == XACT_OK) {
		reply_outcome_gid(s, XACT_OUTCOME_UNKNOWN, "pre-commit journaled; its termination "
		    "waits for every participant to be configured", 0, gid);
		return NULL;
	}
	if (rv == XACT_OK) { /* answered as reply_not_in_memory() would, without a second read */
		reply_outcome_gid(s, XACT_OUTCOME_COMMITTED, NULL, r.completed_at == 0, gid);
		return NULL;
	}
	if (rv != XACT_ENOTFOUND) {
		reply(s, wire_error_reply(XACT_EJOURNAL, "cannot read the journal: run not started; "
		                                         "send it again"));
		return NULL;
	}
	if ((x = txn_new(c, gid, run->has_protocol, run->protocol)) == NULL) {
		reply(s, wire_error_reply(XACT_ENOMEM, "out of memory"));
		return NULL;
	}
	/* Sent again to a restarted coordinator, it runs again: a commit
	 * must be journaled to be found (txn.h), or, in one phase, found
	 * by its branch's marker. */
	x->t.journal_always = 1;
	txn_insert(c, x);
	*created = 1;
	return x;
}

/*
 * A run refused before anything was sent: the enlisting it did is undone
 * (a transaction that ran statements keeps its own participants), and a
 * transaction made for it (a new run id) is dropped, so that the refusal
 * leaves nothing behind.  name, when set, is quoted after why.
 */
static void
refuse_run(struct coord *c, struct sctx *s, struct ctxn *x, int ran, int created, int code,
    const char *why, const char *name)
{
	if (!ran) {
		x->t.nparts = 0;
	}
	if (name != NULL) {
		reply(s, wire_error_reply(code, "%s '%s'", why, name));
	} else {
		reply(s, wire_error_reply(code, "%s", why));
	}
	if (created) {
		txn_remove(c, x);
		txn_free(x);
	}
}

/*
 * A one-shot transaction: every statement and the commit in one request
 * (xact_run), for a gid `begin` gave that has run nothing yet.  The
 * participants are enlisted at once and the commit starts: each PREPARE
 * carries its branch's statements (send_prepare), and the votes decide as
 * for any transaction.  A repeat (the transport resends a request on a new
 * connection) waits for the same outcome; one that finds the gid gone
 * (finished and forgotten, or the coordinator restarted) is answered like
 * a repeated commit, from the journal: a gid is never run twice.  Takes req.
 */
static void
handle_run(struct coord *c, struct sctx *s, Xact__Request *req)
{
	const Xact__RunReq *run = req->run;
	struct txn_event ev = {TXN_EV_COMMIT, -1, 0, NULL};
	struct ctxn *x;
	const char *bad = NULL;
	int pid, ran, created = 0;

	if (run->gid == NULL || run->gid[0] == '\0') {
		/* Named by its run id: found again, or new. */
		if ((x = run_by_id(c, s, run, &created)) == NULL) {
			xact__request__free_unpacked(req, NULL);
			return; /* answered */
		}
	} else if ((x = txn_find(c, run->gid)) == NULL) {
		reply_not_in_memory(c, s, run->gid, 1);
		xact__request__free_unpacked(req, NULL);
		return;
	}
	if (x->run_req != NULL) {
		if (x->outcome_waiter != NULL) {
			reply(x->outcome_waiter, wire_error_reply(XACT_ESTATE,
			    "superseded by a repeated request"));
		}
		x->outcome_waiter = s; /* a repeat: answered at its outcome */
		xact__request__free_unpacked(req, NULL);
		return;
	}
	if (x->t.state != TXN_ACTIVE && x->t.state != TXN_EXECUTING) {
		/* Its commit is under way without the request: the coordinator
		 * restarted and recovered it from the journal.  A repeat. */
		handle_finish(c, s, x->t.gid, 1);
		xact__request__free_unpacked(req, NULL);
		return;
	}
	ran = x->t.state != TXN_ACTIVE || x->t.nparts > 0;
	if (ran) {
		bad = "a run needs a transaction that has run nothing yet";
	} else if (run->n_stmts < 1 || run->n_stmts > RUN_MAX_STMTS) {
		bad = "a run needs 1 to 1024 statements";
	}
	for (size_t i = 0; bad == NULL && i < run->n_stmts; i++) {
		const char *name = run->stmts[i]->participant;

		if ((pid = find_participant(c, name, strlen(name))) < 0) {
			refuse_run(c, s, x, ran, created, XACT_ENOPART, "unknown participant", name);
			xact__request__free_unpacked(req, NULL);
			return;
		}
		if (txn_enlist(&x->t, pid, 1) != 0) {
			bad = "a run on more participants than a transaction may have";
		}
	}
	if (bad != NULL) {
		refuse_run(c, s, x, ran, created, ran ? XACT_ESTATE : XACT_EINVAL, bad, NULL);
		xact__request__free_unpacked(req, NULL);
		return;
	}
	x->run_req = req; /* the statements go with each PREPARE */
	x->outcome_waiter = s;
	x->active_ms = util_now_ms();
	log_debug("run gid=%s state=%s protocol=%s statements=%zu participants=%d", x->t.gid,
	    txn_state_name(x->t.state), x->t.protocol == XACT_PROTOCOL_3PC ? "3pc" : "2pc",
	    run->n_stmts, x->t.nparts);
	apply(c, x, &ev); /* PREPARE, with the statements, to each */
}

/* Answers a request about a gid that is not in memory. */
static void
reply_not_in_memory(struct coord *c, struct sctx *s, const char *gid, int outcome_wanted)
{
	const struct finished *f = find_finished(c, gid);
	struct journal_record r;

	if (f != NULL) {
		if (outcome_wanted && f->presumed) {
			/* never run again; but a COMMIT whose result its agent
			 * lost may have committed it: ask its outcome */
			reply_outcome_gid(s, XACT_OUTCOME_UNKNOWN, "no commit decision here; presumed "
			    "aborted for a participant that asked (xactctl recover show tells)", 0, gid);
		} else if (outcome_wanted) {
			reply_outcome_gid(s, f->outcome, f->reason, 0, gid);
		} else if (f->outcome == XACT_OUTCOME_COMMITTED) {
			reply(s, wire_error_reply(XACT_ESTATE, "transaction %s already committed", gid));
		} else {
			reply(s, wire_error_reply(XACT_EABORTED, "transaction %s aborted: %s", gid,
			    f->reason));
		}
		return;
	}
	if (outcome_wanted && journal_lookup(c->j, gid, &r) == XACT_OK) {
		reply_outcome_gid(s, XACT_OUTCOME_COMMITTED, NULL, r.completed_at == 0, gid);
		return;
	}
	reply(s, wire_error_reply(XACT_ENOTFOUND, "unknown transaction %s", gid));
}

static void
handle_exec(struct coord *c, struct sctx *s, Xact__Request *req)
{
	Xact__ExecReq *e = req->exec;
	struct ctxn *x = txn_find(c, e->gid);
	struct txn_event ev = {TXN_EV_EXEC, -1, 0, NULL};
	int pid, rv;

	if (x == NULL) {
		reply_not_in_memory(c, s, e->gid, 0);
		xact__request__free_unpacked(req, NULL);
		return;
	}
	x->active_ms = util_now_ms();
	if (e->seq == x->exec_seq && x->t.state != TXN_EXECUTING && x->exec_reply != NULL) {
		nng_msg *dup; /* a repeat of the last statement */

		reply(s, nng_msg_dup(&dup, x->exec_reply) == 0 ? dup : NULL);
		xact__request__free_unpacked(req, NULL);
		return;
	}
	if (e->seq == x->exec_seq && x->t.state == TXN_EXECUTING) {
		if (x->exec_waiter != NULL) {
			reply(x->exec_waiter, wire_error_reply(XACT_ESTATE,
			    "superseded by a repeated request"));
		}
		x->exec_waiter = s;
		xact__request__free_unpacked(req, NULL);
		return;
	}
	if ((pid = find_participant(c, e->participant, strlen(e->participant))) < 0) {
		reply(s, wire_error_reply(XACT_ENOPART, "unknown participant '%s'", e->participant));
		xact__request__free_unpacked(req, NULL);
		return;
	}
	if (x->t.state == TXN_ABORTING || x->t.state == TXN_ABORTED) {
		reply(s, wire_error_reply(XACT_EABORTED, "transaction %s aborted: %s", x->t.gid,
		    x->t.reason));
		xact__request__free_unpacked(req, NULL);
		return;
	}
	if (x->t.state != TXN_ACTIVE) {
		reply(s, wire_error_reply(XACT_ESTATE, "transaction %s is %s: statement refused",
		    x->t.gid, txn_state_name(x->t.state)));
		xact__request__free_unpacked(req, NULL);
		return;
	}
	if (x->t.nparts == TXN_MAX_PARTS && txn_find_part(&x->t, pid) == NULL) {
		reply(s, wire_error_reply(XACT_ETOOBIG, "transaction %s: statement refused: "
		    "more than %d participants", x->t.gid, TXN_MAX_PARTS));
		xact__request__free_unpacked(req, NULL);
		return;
	}
	if (x->exec_req != NULL) {
		xact__request__free_unpacked(x->exec_req, NULL);
	}
	x->exec_req = req; /* kept until the statement is forwarded */
	x->exec_stmt = e->stmt;
	x->exec_seq = e->seq;
	x->exec_waiter = s;
	ev.pid = pid;
	rv = apply(c, x, &ev);
	assert(rv == 0); /* ACTIVE with room for pid accepts EXEC */
}

static void
handle_finish(struct coord *c, struct sctx *s, const char *gid, int commit)
{
	struct ctxn *x = txn_find(c, gid);
	struct txn_event ev = {commit ? TXN_EV_COMMIT : TXN_EV_ROLLBACK, -1, 0, NULL};

	if (x == NULL) {
		reply_not_in_memory(c, s, gid, 1);
		return;
	}
	struct sctx *old = x->outcome_waiter;
	enum txn_state state = x->t.state;
	int rv;

	x->outcome_waiter = s;
	x->active_ms = util_now_ms();
	if ((rv = apply(c, x, &ev)) != 0) {
		/* Refused (say, a rollback while the commit is deciding):
		 * nothing changed, x is still there. */
		x->outcome_waiter = old;
		reply(s, wire_error_reply(rv, "%s refused: transaction %s is %s",
		    commit ? "commit" : "rollback", gid, txn_state_name(state)));
		return;
	}
	/* x may be gone now.  A request it replaced gets an answer too. */
	if (old != NULL) {
		reply(old, wire_error_reply(XACT_ESTATE, "superseded by a repeated request"));
	}
}

static void
handle_status(struct coord *c, struct sctx *s)
{
	Xact__Reply rep = XACT__REPLY__INIT;
	Xact__StatusRep st = XACT__STATUS_REP__INIT;
	Xact__JournalStats jst = XACT__JOURNAL_STATS__INIT;
	struct journal_stats js;
	Xact__ParticipantInfo *pi = calloc((size_t)c->nparts + 1, sizeof(*pi));
	Xact__ParticipantInfo **pp = calloc((size_t)c->nparts + 1, sizeof(*pp));
	int listed = c->ntxns < STATUS_MAX_TXNS ? c->ntxns : STATUS_MAX_TXNS;
	Xact__TxnInfo *ti = calloc((size_t)listed + 1, sizeof(*ti));
	Xact__TxnInfo **tp = calloc((size_t)listed + 1, sizeof(*tp));
	char **names = calloc((size_t)listed * TXN_MAX_PARTS + 1, sizeof(char *));
	size_t nt = 0, nn = 0;
	int64_t now = util_now_ms();

	if (pi == NULL || pp == NULL || ti == NULL || tp == NULL || names == NULL) {
		reply(s, wire_error_reply(XACT_ENOMEM, "out of memory"));
		goto out;
	}
	for (int i = 0; i < c->nparts; i++) {
		xact__participant_info__init(&pi[i]);
		pi[i].name = c->parts[i].name;
		pi[i].url = c->parts[i].url;
		pi[i].has_reachable = 1;
		pi[i].reachable = c->parts[i].reachable;
		pp[i] = &pi[i];
	}
	for (int b = 0; b < HASH_BUCKETS; b++) {
		for (struct ctxn *x = c->by_gid[b]; x != NULL && (int)nt < listed; x = x->hnext) {
			xact__txn_info__init(&ti[nt]);
			ti[nt].gid = x->t.gid;
			ti[nt].state = (char *)txn_state_name(x->t.state);
			ti[nt].age_ms = (uint64_t)(now - x->started_ms);
			ti[nt].participants = &names[nn];
			for (int i = 0; i < x->t.nparts; i++) {
				names[nn++] = c->parts[x->t.parts[i].pid].name;
			}
			ti[nt].n_participants = (size_t)x->t.nparts;
			tp[nt] = &ti[nt];
			nt++;
		}
	}
	journal_get_stats(c->j, &js);
	jst.batches = js.batches;
	jst.decisions = js.decisions;
	jst.max_batch = js.max_batch;
	jst.busy_ms = js.busy_ms;
	st.journal = &jst;
	st.coordinator_id = (char *)c->cfg->id;
	st.n_participants = (size_t)c->nparts;
	st.participants = pp;
	st.n_txns = nt;
	st.txns = tp;
	st.has_txns_total = 1;
	st.txns_total = (uint64_t)c->ntxns;
	st.has_commits_sent = 1;
	st.commits_sent = c->commits_sent;
	st.has_commit_messages = 1;
	st.commit_messages = c->commit_messages;
	st.has_one_phase_commits = 1;
	st.one_phase_commits = c->one_phase_commits;
	st.has_one_phase_aborts = 1;
	st.one_phase_aborts = c->one_phase_aborts;
	st.has_one_writer_commits = 1;
	st.one_writer_commits = c->one_writer_commits;
	rep.body_case = XACT__REPLY__BODY_STATUS;
	rep.status = &st;
	reply(s, wire_pack_reply(&rep));
out:
	free(pi);
	free(pp);
	free(ti);
	free(tp);
	free(names);
}

/* The number of a gid of this coordinator; a run id, which carries none,
 * counts as 0: as old as any. */
static uint64_t
gid_number_of(const char *gid)
{
	uint64_t n = 0;

	return util_gid_number(gid, &n) == 1 ? n : 0;
}

/*
 * Whether gid, which starts with this coordinator's prefix, names a
 * transaction it may have begun: 1 (a number handed out, or a run id,
 * which its client names), 0 (a number not handed out yet), -1 (not a gid
 * it makes).  Settling a gid not yet handed out would abort the transaction
 * that gets it later.
 */
static int
gid_issued(struct coord *c, const char *gid)
{
	uint64_t n = 0, limit;
	char *v;

	/* (a run id has fewer than 32 digits when a long id left no room) */
	switch (strlen(gid) < 64 ? util_gid_number(gid, &n) : 0) {
	case 0:
		return -1;
	case 2:
		return 1;
	}
	if (c->seq_limit > 0) {
		limit = c->seq_next; /* numbers below it were handed out */
	} else if ((v = journal_meta(c->j, "seq_reserved")) != NULL) {
		limit = strtoull(v, NULL, 10) + 1; /* earlier runs reserved up to it */
		free(v);
	} else {
		return 1; /* cannot tell: as before, presume it was */
	}
	return n < limit ? 1 : 0;
}

/* An orphan still rolling back may yet find a branch committed (one phase,
 * one writer): s is answered with its outcome once its branches answered
 * (txn.h); UNKNOWN at once when someone already waits for it. */
static void
wait_for_orphan(struct ctxn *x, struct sctx *s)
{
	if (x->outcome_waiter == NULL) {
		x->outcome_waiter = s;
		return;
	}
	reply_outcome(s, XACT_OUTCOME_UNKNOWN, "being rolled back with no commit decision; ask "
	    "again", 0);
}

/*
 * A gid of this coordinator neither in memory, nor among the finished, nor
 * journaled: no commit decision exists, but a transaction committed in one
 * phase or as one writer journals none either.  Rolls it back on every
 * participant (those that never held it answer "not prepared here") as a
 * presumed-abort orphan, and answers s with that orphan's outcome once
 * every branch answered: ABORTED, or UNKNOWN when one holds it committed or
 * never answers (txn_init_orphan).  reason NULL: presumed abort's.
 */
static void
settle_unknown(struct coord *c, struct sctx *s, const char *gid, const char *reason)
{
	int all[COORD_MAX_PARTICIPANTS];
	struct ctxn *x;

	if (c->nparts == 0) {
		reply_outcome_gid(s, XACT_OUTCOME_ABORTED, "no commit decision, and no participant",
		    0, gid);
		return;
	}
	if (c->nparts > TXN_MAX_PARTS) {
		reply_outcome_gid(s, XACT_OUTCOME_UNKNOWN, "no commit decision; more participants "
		    "than one rollback reaches: ask each (xactctl recover list)", 0, gid);
		return;
	}
	for (int i = 0; i < c->nparts; i++) {
		all[i] = i;
	}
	if ((x = orphan_abort(c, gid, all, c->nparts, reason)) == NULL) {
		reply(s, wire_error_reply(XACT_ENOMEM, "out of memory"));
		return;
	}
	x->outcome_waiter = s;
	log_info("settling gid=%s: no commit decision here; rolling it back on every participant "
	         "before answering (one phase and one writer journal none)", gid);
}

/*
 * What was decided for gid.  In memory: the decision if there is one, else
 * "unknown" (still deciding); an orphan being rolled back answers once its
 * branches did, unless an agent asks.  Journaled: committed.  Finished
 * lately: that outcome.  Neither: the transaction is not in flight (every
 * gid is in memory before any participant sees it).  An agent asking about
 * a branch it holds uncommitted (from_branch) is answered aborted at once;
 * anyone else unknown when decisions up to the gid were deleted since
 * (journal_dropped), else once the gid is settled (settle_unknown).  A gid
 * of another coordinator, or one not handed out yet, is answered unknown:
 * this one cannot know.
 */
static void
handle_outcome(struct coord *c, struct sctx *s, const char *gid, int from_branch)
{
	struct ctxn *x = txn_find(c, gid);
	const struct finished *f;
	struct journal_record r;
	char prefix[64];
	int rv, issued = 1;

	snprintf(prefix, sizeof(prefix), "xact:%s:", c->cfg->id);
	if (strncmp(gid, prefix, strlen(prefix)) != 0 || (issued = gid_issued(c, gid)) < 0) {
		reply_outcome(s, XACT_OUTCOME_UNKNOWN, "not a gid of this coordinator", 0);
		return;
	}
	if (x == NULL && issued == 0) {
		reply_outcome(s, XACT_OUTCOME_UNKNOWN, "no transaction has this gid yet", 0);
		return;
	}
	if (x != NULL && x->t.unjournaled && !from_branch) {
		/* One writer: committed only once its branch acknowledges; a
		 * restart before that rolls it back (txn.h). */
		reply_outcome(s, XACT_OUTCOME_UNKNOWN, "being decided (one writer: committed once "
		    "its branch acknowledges)", 0);
		return;
	}
	if (x != NULL && x->t.orphan && x->t.state == TXN_ABORTING && !from_branch) {
		wait_for_orphan(x, s);
		return;
	}
	if (x != NULL) {
		/* (an orphan's abort may have turned out unknown: txn.h) */
		xact_outcome o = x->t.state == TXN_COMMITTING || x->t.state == TXN_COMMITTED
		    ? XACT_OUTCOME_COMMITTED
		    : x->t.state == TXN_ABORTING || x->t.state == TXN_ABORTED ? x->t.outcome
		                                                               : XACT_OUTCOME_UNKNOWN;
		int deciding = o == XACT_OUTCOME_UNKNOWN && x->t.state != TXN_ABORTING &&
		               x->t.state != TXN_ABORTED;

		reply_outcome(s, o, deciding ? "being decided" : x->t.reason, 0);
		return;
	}
	if ((f = find_finished(c, gid)) != NULL && f->outcome == XACT_OUTCOME_UNKNOWN) {
		/* An orphan that found a branch committed, or lost one: never
		 * presumed aborted after that. */
		reply_outcome(s, XACT_OUTCOME_UNKNOWN, f->reason, 0);
		return;
	}
	if (!from_branch && journal_has_heuristic(c->j, gid)) {
		/* The same, durably: the finished list is lost in a restart,
		 * and a journal row may say COMMITTED of a commit partly
		 * rolled back by hand. */
		reply_outcome(s, XACT_OUTCOME_UNKNOWN, "a heuristic outcome is recorded for it "
		    "(xactctl journal dump)", 0);
		return;
	}
	if ((rv = journal_lookup(c->j, gid, &r)) == XACT_OK) {
		reply_outcome(s, XACT_OUTCOME_COMMITTED, NULL, r.completed_at == 0);
	} else if (rv == XACT_ENOTFOUND && f != NULL && (!f->presumed || from_branch)) {
		/* Finished lately: a one-phase or one-writer commit has no
		 * journal row, and an abort was decided here.  (A presumed
		 * abort told an agent is no proof to anyone else: settled.) */
		reply_outcome(s, f->outcome, f->reason, 0);
	} else if (rv == XACT_ENOTFOUND && (rv = journal_lookup_precommit(c->j, gid, &r)) == XACT_OK) {
		reply_outcome(s, XACT_OUTCOME_UNKNOWN, "pre-commit journaled; its termination waits "
		                                       "for every participant to be configured", 0);
	} else if (rv == XACT_ENOTFOUND && from_branch) {
		/* The asking agent holds a branch of it, not committed: one
		 * phase and one writer commit only their one writing branch,
		 * so nothing committed anywhere.  Remembered: a run id sent
		 * again must not run again and commit what the asking agent
		 * is about to roll back. */
		remember_outcome(c, gid, XACT_OUTCOME_ABORTED, "no commit decision (presumed abort)");
		reply_outcome(s, XACT_OUTCOME_ABORTED, "no commit decision (presumed abort)", 0);
	} else if (rv == XACT_ENOTFOUND && journal_dropped(c->j, gid)) {
		/* Its row may have been deleted with its age (or forgotten):
		 * its markers may say committed, and, once deleted too, nothing
		 * would.  Not guessed, nor settled. */
		reply_outcome(s, XACT_OUTCOME_UNKNOWN, "no journal row, but decisions up to this gid "
		    "were deleted since (--retention, recover forget): it may have committed; its "
		    "participants' markers tell", 0);
	} else if (rv == XACT_ENOTFOUND && c->absent_upto > 0 &&
	    gid_number_of(gid) <= c->absent_upto) {
		/* Settling asks only the participants configured now. */
		reply_outcome(s, XACT_OUTCOME_UNKNOWN, "no commit decision here; a participant "
		    "configured when it began is not configured now: it may hold it committed", 0);
	} else if (rv == XACT_ENOTFOUND) {
		settle_unknown(c, s, gid, NULL);
	} else {
		reply_outcome(s, XACT_OUTCOME_UNKNOWN, "journal unreadable", 0);
	}
}

/* --heuristic abort of a journaled commit: every branch that has not
 * acknowledged the commit is rolled back instead, and each is recorded as
 * a heuristic outcome.  The decision is marked complete so that no
 * recovery drives it again. */
static void
heuristic_abort(struct coord *c, struct sctx *s, struct ctxn *x)
{
	int pids[TXN_MAX_PARTS], n = 0;
	char gid[64];

	snprintf(gid, sizeof(gid), "%s", x->t.gid);
	for (int i = 0; i < x->t.nparts; i++) {
		if (x->t.parts[i].state == TP_YES || x->t.parts[i].state == TP_PRECOMMITTED) {
			int pid = x->t.parts[i].pid;

			pids[n++] = pid;
			journal_submit_heuristic(c->j, gid, c->parts[pid].name, "commit", "aborted");
			log_error("heuristic outcome gid=%s state=committing participant=%s branch=aborted "
			          "decision=commit detail=\"forced by the operator\"", gid,
			    c->parts[pid].name);
		}
	}
	if (!x->t.unjournaled) {
		journal_submit_complete(c->j, gid);
	}
	if (x->outcome_waiter != NULL) {
		/* (one writer: its client waits for the ack, which may yet
		 * have committed the branch) */
		reply_outcome_gid(x->outcome_waiter, XACT_OUTCOME_UNKNOWN, "the operator forced an "
		    "abort (heuristic): branches not yet committed are rolled back", 0, gid);
		x->outcome_waiter = NULL;
	}
	txn_remove(c, x);
	txn_free(x);
	if (n > 0) {
		/* only the branches that had not committed */
		struct ctxn *o = orphan_abort(c, gid, pids, n, "rolled back by the operator (heuristic)");

		if (o != NULL) {
			/* a journaled commit, partly rolled back: never ABORTED,
			 * and kept so among the finished, for its journal row
			 * says COMMITTED */
			o->t.outcome = XACT_OUTCOME_UNKNOWN;
			o->t.found_committed = 1;
		}
	}
	reply_outcome(s, XACT_OUTCOME_ABORTED, "heuristic: branches not yet committed are being "
	                                       "rolled back; recorded in the journal", 0);
}

/*
 * xactctl recover commit|abort|forget.  Never contradicts a journaled
 * decision without --heuristic, and never commits what has no decision:
 * presumed abort already decided it.
 */
static void
handle_resolve(struct coord *c, struct sctx *s, const Xact__ResolveReq *r)
{
	struct ctxn *x = txn_find(c, r->gid);
	struct journal_record rec;
	int heuristic = r->has_heuristic && r->heuristic, found, fin_committed, dropped;
	const struct finished *fin;
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "xact:%s:", c->cfg->id);
	if (strncmp(r->gid, prefix, strlen(prefix)) != 0 || strlen(r->gid) >= 64) {
		reply(s, wire_error_reply(XACT_EINVAL, "%s is not a gid of coordinator %s", r->gid,
		    c->cfg->id));
		return;
	}
	int jrv = x == NULL ? journal_lookup(c->j, r->gid, &rec) : XACT_ENOTFOUND;
	int prv = x == NULL && jrv == XACT_ENOTFOUND ? journal_lookup_precommit(c->j, r->gid, &rec)
	                                             : XACT_ENOTFOUND;

	if ((jrv != XACT_OK && jrv != XACT_ENOTFOUND) || (prv != XACT_OK && prv != XACT_ENOTFOUND)) {
		reply(s, wire_error_reply(XACT_EJOURNAL, "%s: the journal cannot be read; nothing "
		                                         "done", r->gid));
		return;
	}
	if (prv == XACT_OK) {
		/* 3PC, not terminating in memory: a participant it names is not
		 * configured.  Its participants may have committed it. */
		reply(s, wire_error_reply(XACT_ESTATE, "%s has a journaled pre-commit (3PC) naming "
		    "%s: its participants may have finished it either way; configure them all and "
		    "the coordinator terminates it", r->gid, rec.participants));
		return;
	}
	found = jrv == XACT_OK;
	/* committed with no journal row (one phase, one writer), lately */
	fin = x == NULL && !found ? find_finished(c, r->gid) : NULL;
	fin_committed = fin != NULL && fin->outcome == XACT_OUTCOME_COMMITTED;
	/* no row, but its decision may have been deleted with its age */
	dropped = x == NULL && !found && fin == NULL && journal_dropped(c->j, r->gid);
	log_info("operator asks to %s gid=%s state=%s%s", r->action == XACT__RESOLVE_ACTION__RESOLVE_COMMIT
	        ? "commit" : r->action == XACT__RESOLVE_ACTION__RESOLVE_ABORT ? "abort" : "forget",
	    r->gid, x ? txn_state_name(x->t.state) : found ? "journaled" : "unknown",
	    heuristic ? " (heuristic)" : "");
	if (r->action == XACT__RESOLVE_ACTION__RESOLVE_COMMIT && x != NULL && x->t.unjournaled) {
		reply(s, wire_error_reply(XACT_ESTATE, "%s is committing with nothing journaled (one "
		    "writing branch, the others read only): it commits once that branch acknowledges; "
		    "a coordinator restart before that rolls it back", r->gid));
		return;
	}
	if (r->action == XACT__RESOLVE_ACTION__RESOLVE_COMMIT) {
		if ((x && (x->t.state == TXN_LOGGING || x->t.state == TXN_COMMITTING ||
		              x->t.state == TXN_COMMITTED)) || found) {
			reply_outcome(s, XACT_OUTCOME_COMMITTED, "a commit is decided; recovery finishes it",
			    0);
		} else if (fin_committed) {
			reply_outcome(s, XACT_OUTCOME_COMMITTED, "committed, with no journal row now", 0);
		} else if (dropped) {
			reply(s, wire_error_reply(XACT_ESTATE, "%s: no journal row, but decisions up to "
			    "it were deleted since (--retention, recover forget): it may have committed; "
			    "nothing to confirm", r->gid));
		} else {
			reply(s, wire_error_reply(XACT_ESTATE, "%s: %s", r->gid,
			    x == NULL ? "no commit decision: presumed abort, it is aborted"
			    : x->t.state == TXN_ABORTING || x->t.state == TXN_ABORTED
			        ? "its decision is abort"
			        : "in flight: let its client finish it, or abort it"));
		}
		return;
	}
	if (r->action == XACT__RESOLVE_ACTION__RESOLVE_FORGET) {
		if (x != NULL) {
			reply(s, wire_error_reply(XACT_ESTATE, "%s is %s: nothing to forget yet", r->gid,
			    txn_state_name(x->t.state)));
		} else if (found && rec.completed_at == 0) {
			reply(s, wire_error_reply(XACT_ESTATE, "%s: not every participant acknowledged "
			                                       "its commit yet", r->gid));
		} else if (found) {
			journal_submit_forget(c->j, r->gid);
			reply_outcome(s, XACT_OUTCOME_COMMITTED, "forgotten", 0);
		} else if (fin_committed) {
			reply_outcome(s, XACT_OUTCOME_COMMITTED, "committed, with no journal row to forget",
			    0);
		} else if (dropped) {
			reply_outcome(s, XACT_OUTCOME_UNKNOWN, "no journal row to forget: deleted since, "
			    "or never written", 0);
		} else {
			reply_outcome(s, XACT_OUTCOME_ABORTED, "no decision to forget", 0);
		}
		return;
	}
	/* abort */
	if (x == NULL && !found) {
		if (fin == NULL && gid_issued(c, r->gid) <= 0) {
			reply(s, wire_error_reply(XACT_ENOTFOUND, "%s: no transaction has this gid yet",
			    r->gid));
			return;
		}
		if (fin_committed) {
			reply(s, wire_error_reply(XACT_ESTATE, "%s committed (with no journal row now: "
			    "in one phase, as one writer, or forgotten)", r->gid));
			return;
		}
		if (dropped && !heuristic) {
			reply(s, wire_error_reply(XACT_ESTATE, "%s: no journal row, but decisions up to "
			    "it were deleted since (--retention, recover forget): it may have committed; "
			    "--heuristic rolls back whatever of it is still open", r->gid));
			return;
		}
		/* answered once every participant answered: a branch that
		 * committed with nothing journaled makes it UNKNOWN */
		settle_unknown(c, s, r->gid, "rolled back by the operator (no commit decision)");
		return;
	}
	if (x == NULL || x->t.state == TXN_COMMITTED) {
		reply(s, wire_error_reply(XACT_ESTATE, "%s committed on every participant", r->gid));
		return;
	}
	switch (x->t.state) {
	case TXN_ACTIVE:
	case TXN_EXECUTING: {
		struct txn_event ev = {TXN_EV_ROLLBACK, -1, 0, NULL};

		if (x->outcome_waiter != NULL) {
			reply(s, wire_error_reply(XACT_ESTATE, "%s: its client is finishing it", r->gid));
			return;
		}
		x->outcome_waiter = s; /* answered with the outcome */
		apply(c, x, &ev);
		return;
	}
	case TXN_ABORTING:
	case TXN_ABORTED:
		if (x->t.orphan && x->t.state == TXN_ABORTING) {
			wait_for_orphan(x, s);
			return;
		}
		reply_outcome(s, x->t.outcome, x->t.reason, 0);
		return;
	case TXN_COMMITTING:
		if (heuristic) {
			heuristic_abort(c, s, x);
			return;
		}
		reply(s, wire_error_reply(XACT_ESTATE, "%s: its commit is %s; --heuristic rolls "
		                                       "back the branches not yet committed and records "
		                                       "it as a heuristic outcome", r->gid,
		    x->t.unjournaled ? "decided (its one writing branch's COMMIT is sent)"
		                     : "journaled"));
		return;
	default:
		reply(s, wire_error_reply(XACT_ESTATE, "%s is %s: being decided, try again", r->gid,
		    txn_state_name(x->t.state)));
		return;
	}
}

static void
on_request(struct coord *c, struct event *ev)
{
	Xact__Request *req;
	int rv = wire_unpack_request(ev->msg, &req);

	nng_msg_free(ev->msg);
	if (rv != XACT_OK) {
		log_warn("refused a request that does not decode: %s", xact_strerror(rv));
		reply(ev->sctx, wire_error_reply(rv, "%s", rv == XACT_EVERSION
		        ? "unsupported protocol version (this coordinator speaks 1)"
		        : "malformed request"));
		return;
	}
	switch (req->body_case) {
	case XACT__REQUEST__BODY_BEGIN:
		handle_begin(c, ev->sctx, req->begin);
		break;
	case XACT__REQUEST__BODY_EXEC:
		handle_exec(c, ev->sctx, req); /* takes req */
		return;
	case XACT__REQUEST__BODY_RUN:
		handle_run(c, ev->sctx, req); /* takes req */
		return;
	case XACT__REQUEST__BODY_COMMIT:
		handle_finish(c, ev->sctx, req->commit->gid, 1);
		break;
	case XACT__REQUEST__BODY_ROLLBACK:
		handle_finish(c, ev->sctx, req->rollback->gid, 0);
		break;
	case XACT__REQUEST__BODY_STATUS:
		handle_status(c, ev->sctx);
		break;
	case XACT__REQUEST__BODY_OUTCOME:
		handle_outcome(c, ev->sctx, req->outcome->gid,
		    req->outcome->has_from_branch && req->outcome->from_branch);
		break;
	case XACT__REQUEST__BODY_RESOLVE:
		handle_resolve(c, ev->sctx, req->resolve);
		break;
	default:
		reply(ev->sctx, wire_error_reply(XACT_EINVAL,
		    "request '%s' is not served by the coordinator", wire_request_name(req)));
		break;
	}
	xact__request__free_unpacked(req, NULL);
}

/* ---- three-phase commit: the coordinator's termination ----------------- */

struct term_call_ctx {
	struct coord *c;
	const struct term_job *job;
};

/* term_round's call: a blocking request to the member's participant. */
static void
coord_term_call(void *arg, int member, enum term_call call, uint64_t ballot,
    struct term_answer *ans)
{
	struct term_call_ctx *t = arg;
	struct coord *c = t->c;
	int pid = t->job->pids[member];
	long timeout = c->cfg->call_timeout_ms < 2000 ? c->cfg->call_timeout_ms : 2000;
	char why[256];

	if (wire_term_call(c->parts[pid].sock, call, t->job->gid, ballot, (int)timeout, ans, why,
	        sizeof(why)) == XACT_OK && !ans->reached) {
		log_warn("termination: gid=%s participant=%s: %s", t->job->gid, c->parts[pid].name,
		    why);
	}
}

/* The termination thread: one round at a time, each posted back. */
static void *
term_main(void *arg)
{
	struct coord *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct term_job *job;
		struct event *ev;

		while (c->jobs == NULL && !c->term_stop) {
			pthread_cond_wait(&c->term_cv, &c->lock);
		}
		if (c->term_stop) {
			break;
		}
		job = c->jobs;
		c->jobs = job->next;
		pthread_mutex_unlock(&c->lock);

		struct term_call_ctx ctx = {c, job};
		struct term_round r = {.n = job->n, .ballot = job->ballot, .everyone = 1,
			.call = coord_term_call, .arg = &ctx};
		enum term_result res = term_lead(&r);

		ev = job->done;
		ev->kind = EV_TERM;
		snprintf(ev->gid, sizeof(ev->gid), "%s", job->gid);
		ev->err = (int)res;
		ev->promised = r.promised;
		snprintf(ev->why, sizeof(ev->why), "%s", r.why);
		post(c, ev);
		free(job);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Starts a round for x (TERMINATING) with a ballot above any it heard of. */
static void
start_termination(struct coord *c, struct ctxn *x)
{
	struct term_job *job = calloc(1, sizeof(*job)), **tail;

	if (job == NULL || (job->done = calloc(1, sizeof(*job->done))) == NULL) {
		free(job);
		x->term_at = util_now_ms() + RETRY_MAX_MS;
		return;
	}
	snprintf(job->gid, sizeof(job->gid), "%s", x->t.gid);
	for (int i = 0; i < x->t.nparts; i++) {
		/* Every branch that voted YES; read-only ones have finished. */
		if (x->t.parts[i].state != TP_READ_ONLY) {
			job->pids[job->n++] = x->t.parts[i].pid;
		}
	}
	job->ballot = term_ballot(x->term_seen, TERM_WHO_COORDINATOR, util_wall_ms());
	x->term_busy = 1;
	log_info("termination: gid=%s state=%s ballot=%llu with %d branches", x->t.gid,
	    txn_state_name(x->t.state), (unsigned long long)job->ballot, job->n);
	pthread_mutex_lock(&c->lock);
	for (tail = &c->jobs; *tail != NULL; tail = &(*tail)->next) {
	} /* first come, first served: a round stuck on a dead branch starves none */
	*tail = job;
	pthread_cond_signal(&c->term_cv);
	pthread_mutex_unlock(&c->lock);
}

/* A round ended: its decision goes to the state machine (journaled as a
 * commit, or the pre-commit dropped after the aborts); otherwise another
 * round later, with a higher ballot. */
static void
on_term(struct coord *c, struct event *ev)
{
	struct ctxn *x = txn_find(c, ev->gid);
	struct txn_event tev = {TXN_EV_TERM_COMMIT, -1, 0, NULL};
	enum term_result res = (enum term_result)ev->err;

	if (x == NULL) {
		return;
	}
	x->term_busy = 0;
	if (ev->promised > x->term_seen) {
		x->term_seen = ev->promised;
	}
	log_info("termination: gid=%s result=%s%s%s", x->t.gid, term_result_name(res),
	    ev->why[0] ? " why=" : "", ev->why);
	if (x->t.state != TXN_TERMINATING) {
		return;
	}
	if (res == TERM_LED_SPLIT) {
		/* Two leaders decided apart (a partition, docs/protocol.md):
		 * committed branches cannot be undone.  The commit is journaled
		 * and every branch that rolled back answers the COMMIT with
		 * "aborted": a heuristic outcome, journaled and logged. */
		log_error("termination: gid=%s is split: committed on some participants, rolled "
		          "back on others by a termination that could not see them (a partition); "
		          "recording the commit and a heuristic outcome for each rolled-back branch",
		    x->t.gid);
		res = TERM_LED_COMMIT;
	}
	if (res != TERM_LED_COMMIT && res != TERM_LED_ABORT) {
		x->backoff = x->backoff ? x->backoff * 2 : RETRY_MIN_MS;
		x->backoff = x->backoff > RETRY_MAX_MS ? RETRY_MAX_MS : x->backoff;
		x->term_at = util_now_ms() + x->backoff;
		return;
	}
	tev.type = res == TERM_LED_COMMIT ? TXN_EV_TERM_COMMIT : TXN_EV_TERM_ABORT;
	x->backoff = 0;
	apply(c, x, &tev);
}

/* ---- timers ------------------------------------------------------------ */

/* A client silent past the transaction timeout, or (safety net) a
 * statement or vote whose answer never came back as an event. */
static int
timed_out(struct coord *c, const struct ctxn *x, int64_t now)
{
	int64_t idle = now - x->active_ms;

	switch (x->t.state) {
	case TXN_ACTIVE:
		return idle > c->cfg->txn_timeout_ms;
	case TXN_EXECUTING:
	case TXN_PREPARING:
		return idle > c->cfg->txn_timeout_ms + 2 * c->cfg->call_timeout_ms;
	default:
		return 0;
	}
}

/* Retries and timeouts.  Returns 1 when it left due transactions for the
 * next tick (TICK_MAX_DUE). */
static int
tick(struct coord *c)
{
	int64_t now = util_now_ms();
	struct ctxn *due[TICK_MAX_DUE];
	int ndue = 0;

	/* Start where the last tick stopped, so that no bucket starves when
	 * more than TICK_MAX_DUE transactions are due. */
	for (int n = 0; n < HASH_BUCKETS && ndue < TICK_MAX_DUE; n++) {
		int b = (c->scan_from + n) % HASH_BUCKETS;

		c->scan_from = b;
		for (struct ctxn *x = c->by_gid[b]; x != NULL && ndue < TICK_MAX_DUE; x = x->hnext) {
			if (x->t.state == TXN_TERMINATING) {
				if (!x->term_busy && now >= x->term_at && c->term_started) {
					start_termination(c, x);
				}
			} else if ((x->t.retry && now >= x->retry_at) || timed_out(c, x, now)) {
				due[ndue++] = x;
			}
		}
	}
	for (int i = 0; i < ndue; i++) {
		struct txn_event ev = {due[i]->t.retry ? TXN_EV_RETRY : TXN_EV_TIMEOUT, -1, 0, NULL};

		if (ev.type == TXN_EV_TIMEOUT) {
			log_warn("%s, aborting gid=%s state=%s",
			    due[i]->t.state == TXN_ACTIVE ? "client silent" : "no answer in time",
			    due[i]->t.gid, txn_state_name(due[i]->t.state));
		}
		apply(c, due[i], &ev);
	}
	if (now >= c->next_sweep) {
		sweep(c);
		c->next_sweep = now + c->cfg->recovery_interval_ms;
	}
	return ndue == TICK_MAX_DUE;
}

/* ---- start-up and shutdown --------------------------------------------- */

static int
open_participants(struct coord *c)
{
	for (int i = 0; i < c->nparts; i++) {
		struct participant *p = &c->parts[i];
		int rv;

		if ((rv = nng_req0_open(&p->sock)) != 0) {
			log_error("cannot open a socket for participant %s: %s", p->name,
			    nng_strerror(rv));
			return XACT_EUNREACHABLE;
		}
		/* Without it COMMITs go one by one (queue_commit). */
		p->cq = calloc(COMMIT_BATCH_MAX, sizeof(*p->cq));
		/* Resend only when a connection breaks, not on a timer: a
		 * call that outlives its timeout is failed, not repeated. */
		nng_socket_set_ms(p->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
		nng_socket_set_ms(p->sock, NNG_OPT_RECONNMINT, 50);
		nng_socket_set_ms(p->sock, NNG_OPT_RECONNMAXT, 1000);
		wire_socket_setup(p->sock, (size_t)c->cfg->max_message);
		if ((rv = nng_dial(p->sock, p->url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
			log_error("bad URL for participant %s: %s: %s", p->name, p->url,
			    nng_strerror(rv));
			return XACT_ECONFIG;
		}
	}
	return XACT_OK;
}

static int
open_server(struct coord *c)
{
	int rv;

	if ((rv = nng_rep0_open(&c->rep)) != 0) {
		log_error("cannot open the client socket: %s", nng_strerror(rv));
		return XACT_EUNREACHABLE;
	}
	wire_socket_setup(c->rep, (size_t)c->cfg->max_message);
	for (int i = 0; i < SERVER_CONTEXTS; i++) {
		struct sctx *s = &c->sctx[i];

		s->c = c;
		if ((rv = nng_ctx_open(&s->ctx, c->rep)) != 0 ||
		    (rv = nng_aio_alloc(&s->aio, sctx_cb, s)) != 0) {
			log_error("cannot open a server context: %s", nng_strerror(rv));
			return XACT_ENOMEM;
		}
	}
	if ((rv = nng_listen(c->rep, c->cfg->listen, NULL, 0)) != 0) {
		log_error("cannot listen on %s: %s", c->cfg->listen, nng_strerror(rv));
		return XACT_EUNREACHABLE;
	}
	for (int i = 0; i < SERVER_CONTEXTS; i++) {
		c->sctx[i].state = SCTX_RECV;
		nng_ctx_recv(c->sctx[i].ctx, c->sctx[i].aio);
	}
	return XACT_OK;
}

static void
shutdown_all(struct coord *c)
{
	struct event *ev;

	nng_close(c->rep);
	for (int i = 0; i < c->nparts; i++) {
		nng_close(c->parts[i].sock); /* a round under way fails fast */
	}
	if (c->term_started) {
		pthread_mutex_lock(&c->lock);
		c->term_stop = 1;
		pthread_cond_signal(&c->term_cv);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->term_thread, NULL);
		c->term_started = 0;
	}
	while (c->jobs != NULL) {
		struct term_job *job = c->jobs;

		c->jobs = job->next;
		free(job->done);
		free(job);
	}
	for (int i = 0; i < SERVER_CONTEXTS; i++) {
		if (c->sctx[i].aio != NULL) {
			nng_aio_stop(c->sctx[i].aio);
		}
	}
	pthread_mutex_lock(&c->lock);
	for (struct call *k = c->calls; k != NULL; k = k->next) {
		pthread_mutex_unlock(&c->lock);
		if (k->aio != NULL) {
			nng_aio_stop(k->aio);
		}
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	/* Every aio is stopped: no callback runs any more. */
	while ((ev = take(c, 0)) != NULL) {
		if (ev->kind == EV_REQUEST) {
			nng_msg_free(ev->msg);
		}
		if (!ev->embedded) {
			free(ev);
		}
	}
	while (c->calls != NULL) {
		call_free(c, c->calls);
	}
	for (int i = 0; i < SERVER_CONTEXTS; i++) {
		nng_aio_free(c->sctx[i].aio);
	}
	for (int b = 0; b < HASH_BUCKETS; b++) {
		while (c->by_gid[b] != NULL) {
			struct ctxn *x = c->by_gid[b];

			c->by_gid[b] = x->hnext;
			txn_free(x);
		}
	}
	/* The writer flushes what is queued; its callbacks may still post. */
	journal_close(c->j);
	while ((ev = take(c, 0)) != NULL) {
		free(ev); /* journal results only: the calls are gone */
	}
}

/* Records the participants configured now in the journal, and learns
 * which gids a participant configured before may hold (c->absent_upto). */
static int
note_participants(struct coord *c)
{
	const char *names[COORD_MAX_PARTICIPANTS];

	for (int i = 0; i < c->nparts; i++) {
		names[i] = c->parts[i].name;
	}
	if (journal_note_participants(c->j, names, c->nparts, &c->absent_upto) != XACT_OK) {
		log_error("journal %s: cannot record the participants", c->cfg->journal);
		return XACT_EJOURNAL;
	}
	if (c->absent_upto > 0) {
		log_info("a participant configured before is not any more: outcome questions about "
		         "gids up to %llu, and run ids, are not settled",
		    (unsigned long long)c->absent_upto);
	}
	return XACT_OK;
}

int
coord_run(const struct coord_config *cfg, volatile int *stop)
{
	struct coord *c = calloc(1, sizeof(*c));
	char err[1024];
	int rv;

	if (c == NULL) {
		return XACT_ENOMEM;
	}
	c->cfg = cfg;
	c->stop = stop;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&c->term_cv, NULL);
	c->ev_tail = &c->ev_head;
	c->nparts = cfg->nparticipants;
	for (int i = 0; i < c->nparts; i++) {
		snprintf(c->parts[i].name, sizeof(c->parts[i].name), "%s", cfg->participants[i].name);
		snprintf(c->parts[i].url, sizeof(c->parts[i].url), "%s", cfg->participants[i].url);
	}
	if (journal_open(&c->j, cfg->journal, cfg->id, err, sizeof(err)) != XACT_OK) {
		log_error("%s", err);
		free(c);
		return XACT_EJOURNAL;
	}
	if (note_participants(c) != XACT_OK) {
		journal_close(c->j);
		free(c);
		return XACT_EJOURNAL;
	}
	/* Every journaled commit not yet completed is re-driven. */
	if ((rv = journal_foreach_pending(c->j, recover_one, c)) != XACT_OK ||
	    (rv = journal_foreach_precommit(c->j, recover_precommit_one, c)) != XACT_OK ||
	    (rv = journal_start(c->j, cfg->retention_ms, (int)cfg->group_commit_ms)) != XACT_OK ||
	    (rv = open_participants(c)) != XACT_OK || (rv = open_server(c)) != XACT_OK) {
		shutdown_all(c);
		free_queues(c);
		free(c);
		return rv;
	}
	c->term_started = pthread_create(&c->term_thread, NULL, term_main, c) == 0;
	if (!c->term_started) {
		log_error("cannot start the termination thread: 3PC transactions found "
		          "terminating wait");
	}
	log_info("coordinator id=%s listening on %s with %d participants, journal %s",
	    cfg->id, cfg->listen, c->nparts, cfg->journal);
	c->next_sweep = 0; /* presumed-abort sweep right away */
	int64_t last_tick = 0;
	int more = 0; /* the last tick left due transactions */
	int unflushed = 0; /* events handled since the COMMIT queues were sent */
	while (!*stop) {
		int catch_up = more && c->ncalls < CALLS_HIGH;
		struct event *ev = take(c, catch_up ? 0 : TICK_MS);

		if (ev != NULL) {
			int embedded = ev->embedded;

			switch (ev->kind) {
			case EV_REQUEST:
				on_request(c, ev);
				break;
			case EV_CALL:
				on_call(c, ev->call);
				break;
			case EV_JOURNAL:
				on_journal(c, ev);
				break;
			case EV_TERM:
				on_term(c, ev);
				break;
			}
			if (!embedded) {
				free(ev); /* an embedded one went with its call */
			}
		}
		if (catch_up || util_now_ms() - last_tick >= TICK_MS) {
			more = tick(c);
			last_tick = util_now_ms();
		}
		/* COMMITs queued by these events go when no other event waits
		 * (those would add theirs) or after FLUSH_EVERY events. */
		if (ev == NULL || ++unflushed >= FLUSH_EVERY || !events_waiting(c)) {
			flush_all_commits(c);
			unflushed = 0;
		}
	}
	log_info("shutting down");
	shutdown_all(c);
	free_queues(c);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cv);
	pthread_cond_destroy(&c->term_cv);
	free(c);
	return XACT_OK;
}

