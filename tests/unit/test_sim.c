/*
 * Simulation of 2PC: the coordinator's state machine (txn.c) and the
 * participants' branch table (branch.c) driven together, without I/O,
 * through thousands of random schedules.  A schedule runs a few global
 * transactions while the simulator loses, duplicates and reorders
 * messages, crashes and restarts the coordinator and the participants, and
 * delivers the presumed-abort sweep's listings late.  Then failures stop
 * and the system is drained.  After every schedule:
 *
 *   - no transaction committed on one participant and had its prepared
 *     branch rolled back on another (atomicity);
 *   - a transaction the client was told committed is committed wherever it
 *     voted YES; one it was told aborted is committed nowhere;
 *   - nothing is left prepared once failures stop (termination).
 *
 * What the simulator models of the real system, and where it lives:
 *   - calls: every request gets one answer or one timeout (coord.c);
 *   - the journal: a commit decision is durable once written; a write in
 *     flight at a coordinator crash is durable or not, at random (journal.c);
 *   - recovery: journaled, uncompleted commits are re-driven; the sweep
 *     presumes abort for a listed gid not in memory and not journaled
 *     (coord.c resolve_listed);
 *   - participants: prepared and committed branches survive a crash, an
 *     open one does not; a statement numbered after a gap is refused
 *     (agent.c); COMMIT/ROLLBACK PREPARED of a gid the database does not hold
 *     answer NOT_FOUND (pgbackend.c).
 *
 * With one phase on (the second test), a transaction with one participant
 * commits in one phase and one with a single writer commits it with no
 * journal write (txn.c).  The database then also models the marker and
 * the fence (pgbackend.c): a one-phase COMMIT may fail, or lose its
 * connection after committing or not, and the agent fences a gid whose
 * outcome it does not know.  The checker adds: a client told committed
 * has every write it made committed.
 *
 * Outcome questions (coord.c handle_outcome, as xactctl and
 * xact_outcome_of() ask): at random, and once for every transaction after
 * failures stop.  Answered from memory, from the list of the finished
 * (lost in a coordinator crash), from the journal, or, for a gid found
 * nowhere, once a presumed-abort orphan over every participant finished
 * (settling); an agent answers the ABORT of a branch it does not hold with
 * a fence.  The checker adds: an answer ABORTED means committed nowhere, an
 * answer COMMITTED means every write committed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "branch.h"
#include "txn.h"

#define NP 3        /* participants */
#define NT 4        /* global transactions per schedule */
#define MAXMSG 512
#define MAXCALL 1024

enum msg_kind { M_EXEC, M_PREPARE, M_COMMIT, M_ABORT, M_ONE_PHASE };

/* A request in the network, or its answer on the way back. */
struct msg {
	int call;     /* the call it belongs to */
	int to_coord; /* an answer */
	enum msg_kind kind;
	int t, pid;
	uint32_t seq;
	int writes;
	/* answer */
	int ok;             /* EXEC ok / ACK / (PREPARE: see vote) */
	enum txn_event_type vote;
};

struct call {
	int live;  /* awaiting its answer or timeout */
	int epoch; /* coordinator incarnation that made it */
	enum msg_kind kind;
	int t, pid;
	int lost;  /* its request or answer was dropped: a timeout will come */
	int stray; /* sent by the buggy sweep: its answer goes nowhere */
};

/* What a participant's database holds durably. */
struct db {
	unsigned char prepared[NT], committed[NT], rolled_back_prepared[NT];
	unsigned char fenced[NT]; /* a marker row that no commit of the gid passes */
	unsigned char inflight[NT]; /* a one-phase COMMIT on a connection the agent lost:
	                             * lands later, unless a fence is there first */
};

/* The agent's memory of a branch (lost in a crash). */
struct pbranch {
	enum branch_state state;
	uint32_t last_seq;
	int wrote;
};

struct client {
	int started, stmts_left, done, waiting; /* waiting: a request out */
	int told;                               /* 0, or the outcome told */
	int writes_next;
};

struct sim {
	unsigned long long rng;
	int failures;
	/* coordinator */
	int epoch;
	struct txn txn[NT];
	int in_memory[NT];
	int journaled[NT];   /* durable commit decision */
	int journal_pending[NT];
	struct call calls[MAXCALL];
	int ncalls;
	/* participants */
	struct db db[NP];
	struct pbranch br[NP][NT];
	/* network */
	struct msg net[MAXMSG];
	int nnet;
	struct client cl[NT];
	/* delayed sweep listings: bit t set when gid t was prepared at p */
	int nlistings;
	struct { int pid; unsigned char gids[NT]; } listings[16];
	int steps;
	int one_phase;              /* one-phase commit on (coord.c: --one-phase) */
	int in_fence;               /* land() called by a fence (coverage only) */
	int ring[NT];               /* the finished list: 0, or the outcome + 1 */
	int settling[NT];           /* an outcome question waits for t's orphan */
	int asked[NT];              /* every definite answer given: bit 1 << outcome */
	int wrote[NT][NP];          /* ghost: a statement that wrote succeeded at p */
};

/* Set by one test only: the sweep then presumes abort for a gid that is in
 * flight whenever the journal has no decision for it yet, as recovery did
 * in citus#1030; the checker must see the damage. */
static int bug_sweep_ignores_memory;

/* Set by one test only: the coordinator takes a one-phase answer that did
 * not come for a NO, guessing instead of asking again. */
static int bug_one_phase_guesses;

/* Set by one test only: an outcome question about a gid found nowhere is
 * answered by presumed abort at once, as before settling. */
static int bug_outcome_presumes;

/* Set by one test only: the agent answers the ABORT of a branch it does not
 * hold from the marker alone, with no fence. */
static int bug_abort_without_fence;

/* What the schedules went through, to show they cover the cases. */
static struct {
	long told_committed, told_aborted, coord_crashes, part_crashes, recovered_commits,
	    orphans, lost, duplicated, one_phase_commits, one_phase_unknown, fences,
	    one_writer_commits, settles, asked_committed, asked_aborted, fence_waited,
	    found_committed;
} seen;

static unsigned
rnd(struct sim *s, unsigned n)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return (unsigned)(s->rng % n);
}

static void
send_msg(struct sim *s, const struct msg *m)
{
	if (s->nnet < MAXMSG) {
		s->net[s->nnet++] = *m;
	}
}

static int
new_call(struct sim *s, enum msg_kind kind, int t, int pid)
{
	struct call *c;

	assert_true(s->ncalls < MAXCALL);
	c = &s->calls[s->ncalls];
	c->live = 1;
	c->epoch = s->epoch;
	c->kind = kind;
	c->t = t;
	c->pid = pid;
	c->lost = 0;
	return s->ncalls++;
}

/* ---- the coordinator, as coord.c drives txn.c --------------------------- */

static int apply(struct sim *s, int t, const struct txn_event *ev);

static void
request(struct sim *s, enum msg_kind kind, int t, int pid, uint32_t seq, int writes)
{
	struct msg m = {0};

	m.call = new_call(s, kind, t, pid);
	m.kind = kind;
	m.t = t;
	m.pid = pid;
	m.seq = seq;
	m.writes = writes;
	send_msg(s, &m);
}

/* A settling question about t is answered o. */
static void
answered(struct sim *s, int t, xact_outcome o)
{
	s->settling[t] = 0;
	if (o != XACT_OUTCOME_UNKNOWN) {
		s->asked[t] |= 1 << o;
	}
}

/* coord.c remember_finished */
static void
remember(struct sim *s, int t)
{
	const struct txn *x = &s->txn[t];

	if (x->outcome == XACT_OUTCOME_ABORTED && s->ring[t] == XACT_OUTCOME_UNKNOWN + 1) {
		return;
	}
	if (x->orphan && x->outcome == XACT_OUTCOME_UNKNOWN && !x->found_committed) {
		return;
	}
	s->ring[t] = (int)x->outcome + 1;
}

static void
actions(struct sim *s, int t, const struct txn_actions *a)
{
	for (int i = 0; i < a->n; i++) {
		int pid = a->a[i].pid;

		switch (a->a[i].type) {
		case TXN_ACT_SEND_EXEC:
			request(s, M_EXEC, t, pid, txn_find_part(&s->txn[t], pid)->stmts, s->cl[t].writes_next);
			break;
		case TXN_ACT_SEND_PREPARE:
			request(s, M_PREPARE, t, pid, 0, 0);
			break;
		case TXN_ACT_SEND_COMMIT:
			/* write-ahead: a COMMIT leaves only after the decision, or
			 * to the one writer, whose commit decides */
			assert_true(s->journaled[t] || s->txn[t].unjournaled);
			seen.one_writer_commits += s->txn[t].unjournaled;
			request(s, M_COMMIT, t, pid, 0, 0);
			break;
		case TXN_ACT_SEND_ONE_PHASE:
			assert_true(s->one_phase && s->txn[t].nparts == 1);
			request(s, M_ONE_PHASE, t, pid, 0, 0);
			break;
		case TXN_ACT_SEND_ABORT:
			request(s, M_ABORT, t, pid, 0, 0);
			break;
		case TXN_ACT_FORCE_COMMIT:
			s->journal_pending[t] = 1;
			break;
		case TXN_ACT_REPLY_EXEC:
			s->cl[t].waiting = 0;
			if (a->a[i].err != 0) {
				s->cl[t].done = 1; /* the client stops: aborted */
			}
			break;
		case TXN_ACT_REPLY_OUTCOME:
			if (s->settling[t]) {
				answered(s, t, s->txn[t].outcome);
				break;
			}
			s->cl[t].waiting = 0;
			if (s->txn[t].outcome != XACT_OUTCOME_UNKNOWN) {
				s->cl[t].told = s->txn[t].outcome;
			}
			s->cl[t].done = 1;
			break;
		case TXN_ACT_LOG_COMPLETE:
			break;
		case TXN_ACT_FORGET:
			s->in_memory[t] = 0;
			if (s->settling[t]) {
				answered(s, t, s->txn[t].outcome);
			}
			remember(s, t);
			break;
		case TXN_ACT_FORCE_PRECOMMIT:
		case TXN_ACT_SEND_PRECOMMIT:
			fail_msg("3PC action in a 2PC schedule"); /* 3PC: test_sim3pc.c */
			break;
		}
	}
}

static int
apply(struct sim *s, int t, const struct txn_event *ev)
{
	struct txn_actions a;
	int rv;

	if (!s->in_memory[t]) {
		return XACT_ENOTFOUND;
	}
	if ((rv = txn_step(&s->txn[t], ev, &a)) == 0) {
		actions(s, t, &a);
	}
	return rv;
}

/* The answer (or timeout) of a call reaches the coordinator. */
static void
complete(struct sim *s, int ci, const struct msg *ans)
{
	struct call *c = &s->calls[ci];
	struct txn_event ev = {0};

	if (!c->live) {
		return; /* a duplicate answer: the call took its first one */
	}
	c->live = 0;
	if (c->epoch != s->epoch || c->stray) {
		return; /* made by a coordinator that crashed since */
	}
	ev.pid = c->pid;
	switch (c->kind) {
	case M_EXEC:
		ev.type = ans && ans->ok ? TXN_EV_EXEC_DONE : TXN_EV_EXEC_FAILED;
		ev.err = ans && ans->ok ? 0 : XACT_ESQL;
		break;
	case M_PREPARE:
		ev.type = ans ? ans->vote : TXN_EV_VOTE_NO;
		break;
	case M_ONE_PHASE:
		/* no answer, or "not known here yet": ask again (coord.c
		 * on_one_phase_reply) */
		ev.type = ans ? ans->vote : TXN_EV_ONE_PHASE_LOST;
		if (ev.type == TXN_EV_ONE_PHASE_LOST) {
			seen.one_phase_unknown++;
			ev.type = bug_one_phase_guesses ? TXN_EV_VOTE_NO : ev.type;
		}
		ev.reason = "no answer";
		break;
	default:
		ev.type = ans && ans->ok ? TXN_EV_ACK : TXN_EV_ACK_FAILED;
		if (ev.type == TXN_EV_ACK && c->kind == M_ABORT && ans->vote == TXN_EV_ACK_COMMITTED &&
		    s->in_memory[c->t] && s->txn[c->t].orphan &&
		    s->txn[c->t].state == TXN_ABORTING) {
			ev.type = TXN_EV_ACK_COMMITTED; /* coord.c: committed here */
			seen.found_committed++;
		}
		break;
	}
	apply(s, c->t, &ev);
}

/* Start-up recovery: journaled commits are re-driven. */
static void
coordinator_start(struct sim *s)
{
	s->epoch++;
	for (int t = 0; t < NT; t++) {
		s->in_memory[t] = 0;
		if (s->journaled[t]) {
			int pids[NP], n = 0;

			/* the journal names the participants that voted YES: the
			 * simulation journals every enlisted one it prepared */
			for (int p = 0; p < NP; p++) {
				if (s->db[p].prepared[t] || s->db[p].committed[t]) {
					pids[n++] = p;
				}
			}
			txn_init_recovered(&s->txn[t], "g", pids, n);
			s->in_memory[t] = 1;
		}
	}
}

static void
coordinator_crash(struct sim *s)
{
	seen.coord_crashes++;
	memset(s->ring, 0, sizeof(s->ring));
	memset(s->settling, 0, sizeof(s->settling)); /* the questions fail */
	for (int t = 0; t < NT; t++) {
		if (s->journal_pending[t] && rnd(s, 2)) {
			s->journaled[t] = 1; /* the batch reached the disk */
		}
		s->journal_pending[t] = 0;
		if (s->in_memory[t] && !s->cl[t].done) {
			s->cl[t].done = 1; /* the client's call fails: unknown */
		}
	}
	coordinator_start(s);
}

/* The sweep's answer from p arrives: coord.c resolve_listed. */
static void
sweep_answer(struct sim *s, int li)
{
	int p = s->listings[li].pid;

	for (int t = 0; t < NT; t++) {
		if (!s->listings[li].gids[t]) {
			continue;
		}
		if (s->in_memory[t] && bug_sweep_ignores_memory && !s->journaled[t]) {
			request(s, M_ABORT, t, p, 0, 0);
			s->calls[s->ncalls - 1].stray = 1;
			continue;
		}
		if (s->in_memory[t]) {
			if (s->txn[t].state == TXN_ABORTING && s->txn[t].nparts > 0 &&
			    s->txn[t].orphan) {
				txn_add_orphan_part(&s->txn[t], p);
			}
			continue;
		}
		if (s->journaled[t]) {
			int pids[NP], n = 0;

			for (int q = 0; q < NP; q++) {
				if (s->db[q].prepared[t] || s->db[q].committed[t]) {
					pids[n++] = q;
				}
			}
			txn_init_recovered(&s->txn[t], "g", pids, n);
			seen.recovered_commits++;
		} else {
			txn_init_orphan(&s->txn[t], "g", p);
			seen.orphans++;
		}
		s->in_memory[t] = 1;
	}
}

/* An outcome question about t from xactctl or xact_outcome_of(): coord.c
 * handle_outcome, without from_branch. */
static void
ask(struct sim *s, int t)
{
	const struct txn *x = &s->txn[t];

	if (s->in_memory[t]) {
		if (x->unjournaled) {
			return; /* one writer: unknown until its ack */
		}
		if (x->orphan && x->state == TXN_ABORTING) {
			s->settling[t] = 1; /* answered when it finishes */
		} else if (x->state == TXN_COMMITTING || x->state == TXN_COMMITTED) {
			answered(s, t, XACT_OUTCOME_COMMITTED);
		} else if (x->state == TXN_ABORTING || x->state == TXN_ABORTED) {
			answered(s, t, x->outcome);
		}
		return;
	}
	if (s->ring[t] == XACT_OUTCOME_UNKNOWN + 1) {
		return;
	}
	if (s->journaled[t]) {
		answered(s, t, XACT_OUTCOME_COMMITTED);
	} else if (s->ring[t] != 0) {
		answered(s, t, (xact_outcome)(s->ring[t] - 1));
	} else if (bug_outcome_presumes) {
		answered(s, t, XACT_OUTCOME_ABORTED);
	} else {
		/* settle: roll it back on every participant first */
		txn_init_orphan(&s->txn[t], "g", 0);
		for (int p = 1; p < NP; p++) {
			txn_add_orphan_part(&s->txn[t], p);
		}
		s->in_memory[t] = 1;
		s->settling[t] = 1;
		seen.settles++;
	}
}

/* ---- the participants, as agent.c runs branch.c over a database --------- */

/* A one-phase COMMIT still on its way reaches p's database: it commits,
 * or fails, and never passes a fence. */
static void
land(struct sim *s, int p, int t)
{
	struct db *d = &s->db[p];

	if (d->inflight[t]) {
		d->inflight[t] = 0;
		seen.fence_waited += d->fenced[t] == 0 && s->in_fence;
		if (!d->fenced[t] && rnd(s, 2)) {
			d->committed[t] = 1;
		}
	}
}

static enum branch_result
run_op(struct sim *s, int p, int t, enum branch_op op, int writes)
{
	struct db *d = &s->db[p];
	struct pbranch *b = &s->br[p][t];

	switch (op) {
	case BOP_BEGIN_EXEC:
	case BOP_EXEC:
		if (s->failures && rnd(s, 20) == 0) {
			return BRES_FAILED; /* a statement error */
		}
		b->wrote |= writes;
		s->wrote[t][p] |= writes;
		return BRES_OK;
	case BOP_PREPARE:
		if (!b->wrote) {
			return BRES_READ_ONLY;
		}
		if (d->fenced[t] || d->committed[t]) {
			return BRES_FAILED; /* its marker INSERT collides */
		}
		d->prepared[t] = 1;
		return BRES_OK;
	case BOP_COMMIT_ONE_PHASE:
		if (!b->wrote) {
			return BRES_READ_ONLY; /* committed with no marker */
		}
		if (d->committed[t]) {
			return BRES_COMMITTED_ALREADY; /* the marker of an earlier commit */
		}
		if (d->fenced[t] || (s->failures && rnd(s, 20) == 0)) {
			return BRES_FAILED; /* the fence, or a deferred constraint */
		}
		if (s->failures && rnd(s, 10) == 0) {
			/* the connection died around COMMIT: it lands later,
			 * or not (land) */
			d->inflight[t] = 1;
			return BRES_TRANSIENT;
		}
		d->committed[t] = 1;
		seen.one_phase_commits++;
		return BRES_OK;
	case BOP_FENCE:
		seen.fences++;
		s->in_fence = 1;
		land(s, p, t); /* the fence's INSERT waits for it */
		s->in_fence = 0;
		if (d->prepared[t]) {
			d->prepared[t] = 0;
			d->rolled_back_prepared[t] = 1;
			return BRES_OK;
		}
		if (d->committed[t]) {
			return BRES_COMMITTED_ALREADY;
		}
		d->fenced[t] = 1;
		return BRES_NOT_FOUND;
	case BOP_ROLLBACK:
		return BRES_OK;
	case BOP_COMMIT_PREPARED:
		if (!d->prepared[t]) {
			/* answered from the marker, as the backends do */
			return d->committed[t] ? BRES_OK : BRES_NOT_FOUND;
		}
		d->prepared[t] = 0;
		d->committed[t] = 1;
		return BRES_OK;
	case BOP_ROLLBACK_PREPARED:
		if (!d->prepared[t] && b->state == BR_NONE && !bug_abort_without_fence) {
			s->in_fence = 1;
			land(s, p, t); /* agent.c: the fence serves it, and waits */
			s->in_fence = 0;
			if (!d->committed[t]) {
				d->fenced[t] = 1;
			}
		}
		if (!d->prepared[t]) {
			return d->committed[t] ? BRES_COMMITTED_ALREADY : BRES_NOT_FOUND;
		}
		d->prepared[t] = 0;
		d->rolled_back_prepared[t] = 1;
		return BRES_OK;
	default:
		return BRES_OK;
	}
}

/* A request reaches participant p; its answer goes back (unless lost). */
static void
participant_handle(struct sim *s, const struct msg *m)
{
	struct pbranch *b = &s->br[m->pid][m->t];
	static const enum branch_req reqs[] = {BREQ_EXEC, BREQ_PREPARE, BREQ_COMMIT, BREQ_ABORT,
		BREQ_COMMIT_ONE_PHASE};
	enum branch_req req = reqs[m->kind];
	enum branch_op op;
	enum branch_result r;
	struct msg ans = *m;

	ans.to_coord = 1;
	ans.ok = 0;
	ans.vote = req == BREQ_COMMIT_ONE_PHASE ? TXN_EV_ONE_PHASE_LOST : TXN_EV_VOTE_NO;
	if (req == BREQ_EXEC && m->seq != b->last_seq + 1) {
		send_msg(s, &ans); /* a gap: refused */
		return;
	}
	op = branch_op_for(b->state, req);
	if (op == BOP_REFUSE) {
		send_msg(s, &ans);
		return;
	}
	r = run_op(s, m->pid, m->t, op, m->writes);
	b->state = branch_after(b->state, req, r);
	switch (req) {
	case BREQ_EXEC:
		b->last_seq = m->seq;
		ans.ok = r == BRES_OK;
		break;
	case BREQ_PREPARE:
		ans.vote = b->state == BR_PREPARED || b->state == BR_COMMITTED ? TXN_EV_VOTE_YES
		    : b->state == BR_READ_ONLY ? TXN_EV_VOTE_READ_ONLY : TXN_EV_VOTE_NO;
		break;
	case BREQ_COMMIT_ONE_PHASE:
		/* agent.c one_phase_reply: the outcome, YES for a branch
		 * prepared in two phases, else "not known here yet" */
		ans.vote = b->state == BR_COMMITTED ? TXN_EV_ONE_PHASE_COMMITTED
		    : b->state == BR_READ_ONLY ? TXN_EV_VOTE_READ_ONLY
		    : b->state == BR_PREPARED ? TXN_EV_VOTE_YES
		    : b->state == BR_ABORTED ? TXN_EV_VOTE_NO : TXN_EV_ONE_PHASE_LOST;
		break;
	default:
		if (op == BOP_ROLLBACK_PREPARED && r != BRES_OK && r != BRES_NOT_FOUND &&
		    r != BRES_COMMITTED_ALREADY) {
			ans.ok = 0;
		} else {
			ans.ok = b->state == BR_COMMITTED || b->state == BR_ABORTED ||
			    b->state == BR_READ_ONLY;
		}
		if (req == BREQ_ABORT && b->state == BR_COMMITTED) {
			ans.vote = TXN_EV_ACK_COMMITTED; /* the ack says: committed here */
		}
		break;
	}
	send_msg(s, &ans);
}

static void
participant_crash(struct sim *s, int p)
{
	seen.part_crashes++;
	for (int t = 0; t < NT; t++) {
		struct pbranch *b = &s->br[p][t];

		/* re-attached when prepared; open work is rolled back with the
		 * connection; everything else is forgotten */
		b->state = s->db[p].prepared[t] ? BR_PREPARED : BR_NONE;
		b->last_seq = 0;
		b->wrote = s->db[p].prepared[t];
	}
}

/* ---- the client ---------------------------------------------------------- */

static void
client_step_real(struct sim *s, int t)
{
	struct client *c = &s->cl[t];
	struct txn_event ev = {0};

	if (c->done || c->waiting || !s->in_memory[t] || s->txn[t].orphan) {
		return; /* (an orphan is no client's: a settling question's) */
	}
	c->waiting = 1;
	if (c->stmts_left > 0) {
		c->stmts_left--;
		c->writes_next = rnd(s, 4) != 0;
		ev.type = TXN_EV_EXEC;
		ev.pid = (int)rnd(s, NP);
	} else {
		ev.type = rnd(s, 10) == 0 ? TXN_EV_ROLLBACK : TXN_EV_COMMIT;
	}
	if (apply(s, t, &ev) != 0) {
		c->waiting = 0; /* refused: the client gives up */
		c->done = 1;
	}
}

/* ---- the scheduler ------------------------------------------------------- */

static void
deliver(struct sim *s, int i, int duplicate)
{
	struct msg m = s->net[i];

	if (!duplicate) {
		s->net[i] = s->net[--s->nnet];
	}
	if (m.to_coord) {
		complete(s, m.call, &m);
	} else {
		participant_handle(s, &m);
	}
}

static void
lose(struct sim *s, int i)
{
	struct msg m = s->net[i];

	s->net[i] = s->net[--s->nnet];
	s->calls[m.call].lost = 1; /* the caller's timeout will fire */
	seen.lost++;
}

static int
fire_timeout(struct sim *s)
{
	for (int ci = 0; ci < s->ncalls; ci++) {
		struct call *c = &s->calls[ci];
		int in_flight = 0;

		if (!c->live) {
			continue;
		}
		for (int i = 0; i < s->nnet; i++) {
			in_flight |= s->net[i].call == ci;
		}
		if (c->lost || (c->epoch != s->epoch) || !in_flight) {
			complete(s, ci, NULL);
			return 1;
		}
	}
	return 0;
}

static int
fire_timer(struct sim *s, int timeouts)
{
	for (int k = 0; k < NT; k++) {
		int t = (int)((k + rnd(s, NT)) % NT);
		struct txn_event ev = {TXN_EV_RETRY, -1, 0, NULL};

		if (!s->in_memory[t]) {
			continue;
		}
		if (s->txn[t].retry) {
			apply(s, t, &ev);
			return 1;
		}
		if (timeouts && s->txn[t].state == TXN_ACTIVE) {
			ev.type = TXN_EV_TIMEOUT;
			apply(s, t, &ev);
			s->cl[t].done = 1;
			return 1;
		}
	}
	return 0;
}

static void
take_listing(struct sim *s, int p)
{
	if (s->nlistings == 16) {
		return;
	}
	s->listings[s->nlistings].pid = p;
	memcpy(s->listings[s->nlistings].gids, s->db[p].prepared, NT);
	s->nlistings++;
}

static void
answer_listing(struct sim *s, int li)
{
	sweep_answer(s, li);
	s->listings[li] = s->listings[--s->nlistings];
}

static int
flush_journal(struct sim *s)
{
	for (int t = 0; t < NT; t++) {
		if (s->journal_pending[t]) {
			struct txn_event ev = {TXN_EV_LOGGED, -1, 0, NULL};

			s->journal_pending[t] = 0;
			s->journaled[t] = 1;
			apply(s, t, &ev);
			return 1;
		}
	}
	return 0;
}

/* One random step: mostly progress, sometimes a failure. */
static void
step(struct sim *s)
{
	unsigned r = rnd(s, 1000);

	if (s->failures && r < 12) {
		coordinator_crash(s);
	} else if (s->failures && r < 24) {
		participant_crash(s, (int)rnd(s, NP));
	} else if (r < 80) {
		take_listing(s, (int)rnd(s, NP));
	} else if (r < 140 && s->nlistings > 0) {
		answer_listing(s, (int)rnd(s, (unsigned)s->nlistings));
	} else if (s->one_phase && r >= 960) {
		if (r < 985) {
			ask(s, (int)rnd(s, NT));
		} else {
			land(s, (int)rnd(s, NP), (int)rnd(s, NT));
		}
	} else if (r < 200) {
		fire_timer(s, s->failures && rnd(s, 8) == 0);
	} else if (r < 260) {
		fire_timeout(s);
	} else if (r < 330) {
		flush_journal(s);
	} else if (r < 480 || s->nnet == 0) {
		client_step_real(s, (int)rnd(s, NT));
	} else {
		int i = (int)rnd(s, (unsigned)s->nnet);

		s->steps++;
		if (s->failures && rnd(s, 15) == 0) {
			lose(s, i);
		} else if (s->failures && !s->net[i].to_coord && rnd(s, 15) == 0) {
			seen.duplicated++;
			deliver(s, i, 1); /* delivered now and again later */
		} else {
			deliver(s, i, 0);
		}
	}
}

/* ---- one schedule ---------------------------------------------------------- */

static void
sim_init(struct sim *s, unsigned long long seed, int one_phase)
{
	memset(s, 0, sizeof(*s));
	s->rng = seed * 2654435761ULL + 88172645463325252ULL;
	s->failures = 1;
	s->epoch = 1;
	s->one_phase = one_phase;
	for (int t = 0; t < NT; t++) {
		txn_init(&s->txn[t], "g");
		s->txn[t].one_phase = one_phase;
		s->in_memory[t] = 1;
		s->cl[t].stmts_left = 1 + (int)rnd(s, 3);
	}
}

/* Failures stop: deliver everything, fire every timer, sweep every
 * participant, until nothing is left to do. */
static void
drain(struct sim *s)
{
	s->failures = 0;
	for (int round = 0; round < 400; round++) {
		int busy = 0;

		while (s->nnet > 0) {
			deliver(s, 0, 0);
			busy = 1;
		}
		for (int p = 0; p < NP; p++) {
			for (int t = 0; t < NT; t++) {
				land(s, p, t);
			}
		}
		busy |= flush_journal(s);
		busy |= fire_timeout(s);
		busy |= fire_timer(s, 1);
		for (int t = 0; t < NT; t++) {
			client_step_real(s, t);
		}
		if (round == 2 && s->one_phase) {
			for (int t = 0; t < NT; t++) {
				ask(s, t); /* once failures stopped */
			}
			busy = 1;
		}
		if (round % 4 == 0) {
			for (int p = 0; p < NP; p++) {
				take_listing(s, p);
			}
			while (s->nlistings > 0) {
				answer_listing(s, 0);
			}
		}
		if (!busy && round > 8) {
			int prepared = 0;

			for (int p = 0; p < NP; p++) {
				for (int t = 0; t < NT; t++) {
					prepared |= s->db[p].prepared[t];
				}
			}
			if (!prepared) {
				return;
			}
		}
	}
}

/* Returns NULL, or what went wrong. */
static const char *
check(struct sim *s, int *gid)
{
	for (int t = 0; t < NT; t++) {
		int committed = 0, rolled_back = 0;

		*gid = t;
		for (int p = 0; p < NP; p++) {
			committed |= s->db[p].committed[t];
			rolled_back |= s->db[p].rolled_back_prepared[t];
			if (s->db[p].prepared[t]) {
				return "a branch is still prepared after failures stopped";
			}
		}
		if (committed && rolled_back) {
			return "committed on one participant, rolled back on another";
		}
		if (s->cl[t].told == XACT_OUTCOME_ABORTED && committed) {
			return "the client was told aborted, yet a participant committed";
		}
		if (s->cl[t].told == XACT_OUTCOME_COMMITTED && rolled_back) {
			return "the client was told committed, yet a prepared branch was rolled back";
		}
		for (int p = 0; p < NP; p++) {
			if (s->cl[t].told == XACT_OUTCOME_COMMITTED && s->wrote[t][p] &&
			    !s->db[p].committed[t]) {
				return "the client was told committed, yet a write was not committed";
			}
			if ((s->asked[t] & 1 << XACT_OUTCOME_COMMITTED) && s->wrote[t][p] &&
			    !s->db[p].committed[t]) {
				return "the coordinator answered committed, yet a write was not committed";
			}
		}
		if ((s->asked[t] & 1 << XACT_OUTCOME_ABORTED) && committed) {
			return "the coordinator answered aborted, yet a participant committed";
		}
	}
	return NULL;
}

static int
run_schedule(unsigned long long seed, int steps, int one_phase)
{
	struct sim *s = calloc(1, sizeof(*s));
	const char *why;
	int gid;

	assert_non_null(s);
	sim_init(s, seed, one_phase);
	for (int i = 0; i < steps; i++) {
		step(s);
	}
	drain(s);
	for (int t = 0; t < NT; t++) {
		seen.told_committed += s->cl[t].told == XACT_OUTCOME_COMMITTED;
		seen.told_aborted += s->cl[t].told == XACT_OUTCOME_ABORTED;
		seen.asked_committed += (s->asked[t] & 1 << XACT_OUTCOME_COMMITTED) != 0;
		seen.asked_aborted += (s->asked[t] & 1 << XACT_OUTCOME_ABORTED) != 0;
	}
	if ((why = check(s, &gid)) != NULL) {
		print_error("schedule seed=%llu: transaction %d: %s\n", seed, gid, why);
		free(s);
		return 1;
	}
	free(s);
	return 0;
}

static void
ten_thousand_random_2pc_schedules_keep_atomicity_and_terminate(void **state)
{
	int bad = 0;

	(void)state;
	memset(&seen, 0, sizeof(seen));
	for (unsigned long long seed = 1; seed <= 10000 && bad < 5; seed++) {
		bad += run_schedule(seed, 300, 0);
	}
	printf("schedules: 10000; told committed %ld, aborted %ld; coordinator crashes %ld, "
	       "participant crashes %ld; recovered commits %ld, presumed aborts %ld; messages "
	       "lost %ld, duplicated %ld\n", seen.told_committed, seen.told_aborted,
	    seen.coord_crashes, seen.part_crashes, seen.recovered_commits, seen.orphans, seen.lost,
	    seen.duplicated);
	assert_int_equal(bad, 0);
	/* the schedules went through what they are meant to */
	assert_true(seen.told_committed > 1000);
	assert_true(seen.told_aborted > 1000);
	assert_true(seen.coord_crashes > 1000);
	assert_true(seen.part_crashes > 1000);
	assert_true(seen.recovered_commits > 100);
	assert_true(seen.orphans > 100);
	assert_true(seen.lost > 1000);
	assert_true(seen.duplicated > 1000);
}

/* Whether the checker catches a deliberately broken rule: *bug set, some
 * schedule among the first seeds fails its check. */
static int
caught_with(int *bug, int one_phase, unsigned long long seeds)
{
	int bad = 0;

	*bug = 1;
	for (unsigned long long seed = 1; seed <= seeds && bad == 0; seed++) {
		bad += run_schedule(seed, 300, one_phase);
	}
	*bug = 0;
	return bad > 0;
}

/* The same with one phase on: one-participant transactions commit in one
 * phase, single writers with no journal write, and their failures (lost
 * answers, a COMMIT that failed or lost its connection, crashes on both
 * sides) keep atomicity and what the client is told. */
static void
ten_thousand_random_one_phase_schedules_keep_atomicity_and_terminate(void **state)
{
	int bad = 0;

	(void)state;
	memset(&seen, 0, sizeof(seen));
	for (unsigned long long seed = 1; seed <= 10000 && bad < 5; seed++) {
		bad += run_schedule(seed, 300, 1);
	}
	printf("schedules: 10000; told committed %ld, aborted %ld; one-phase commits %ld, "
	       "answers not known %ld, fences %ld; one-writer COMMITs %ld; coordinator crashes "
	       "%ld, participant crashes %ld; outcome questions settled %ld, answered committed "
	       "%ld, aborted %ld; fences that waited for a COMMIT %ld; ABORTs that found it "
	       "committed %ld\n", seen.told_committed, seen.told_aborted,
	    seen.one_phase_commits, seen.one_phase_unknown, seen.fences, seen.one_writer_commits,
	    seen.coord_crashes, seen.part_crashes, seen.settles, seen.asked_committed,
	    seen.asked_aborted, seen.fence_waited, seen.found_committed);
	assert_int_equal(bad, 0);
	assert_true(seen.told_committed > 1000);
	assert_true(seen.told_aborted > 1000);
	assert_true(seen.one_phase_commits > 1000);
	assert_true(seen.one_phase_unknown > 100);
	assert_true(seen.fences > 100);
	assert_true(seen.one_writer_commits > 100);
	assert_true(seen.settles > 1000);
	assert_true(seen.asked_committed > 200);
	assert_true(seen.asked_aborted > 1000);
	assert_true(seen.fence_waited > 20);    /* a fence met a COMMIT on its way */
	assert_true(seen.found_committed > 50); /* an orphan's ABORT found it committed */
}

/* The checker must be able to fail: a coordinator that answers an outcome
 * question about a gid found nowhere by presumed abort, as before
 * settling, says "aborted" of some one-phase or one-writer commit. */
static void
an_outcome_presumed_aborted_is_caught(void **state)
{
	(void)state;
	assert_true(caught_with(&bug_outcome_presumes, 1, 10000));
}

/* The checker must be able to fail: a coordinator that takes a one-phase
 * answer that did not come for a NO tells some client "aborted" for a
 * transaction its participant committed. */
static void
a_one_phase_guess_is_caught(void **state)
{
	(void)state;
	assert_true(caught_with(&bug_one_phase_guesses, 1, 10000));
}

/* The checker must be able to fail: an agent that answers the ABORT of a
 * branch it does not hold from the marker alone lets a one-phase COMMIT
 * still on its way land after the coordinator answered "aborted". */
static void
an_abort_without_a_fence_is_caught(void **state)
{
	(void)state;
	assert_true(caught_with(&bug_abort_without_fence, 1, 20000));
}

/* The checker must be able to fail: with a sweep that presumes abort for
 * in-flight gids whose decision is not yet journaled (citus#1030), some
 * schedule commits on one participant and rolls back on another. */
static void
a_sweep_that_aborts_in_flight_gids_is_caught(void **state)
{
	(void)state;
	assert_true(caught_with(&bug_sweep_ignores_memory, 0, 10000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ten_thousand_random_2pc_schedules_keep_atomicity_and_terminate),
		cmocka_unit_test(a_sweep_that_aborts_in_flight_gids_is_caught),
		cmocka_unit_test(ten_thousand_random_one_phase_schedules_keep_atomicity_and_terminate),
		cmocka_unit_test(a_one_phase_guess_is_caught),
		cmocka_unit_test(an_outcome_presumed_aborted_is_caught),
		cmocka_unit_test(an_abort_without_a_fence_is_caught),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
