/*
 * txn.c - transitions of the coordinator's transaction state machine.
 * See txn.h for the diagram and the invariants, which are asserted here.
 */
#include "txn.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[] = {
	[TXN_ACTIVE] = "active",
	[TXN_EXECUTING] = "executing",
	[TXN_PREPARING] = "preparing",
	[TXN_LOGGING] = "logging",
	[TXN_COMMITTING] = "committing",
	[TXN_ABORTING] = "aborting",
	[TXN_COMMITTED] = "committed",
	[TXN_ABORTED] = "aborted",
	[TXN_PRECOMMIT_LOGGING] = "precommit-logging",
	[TXN_PRECOMMITTING] = "precommitting",
	[TXN_TERMINATING] = "terminating",
	[TXN_ONE_PHASE] = "one-phase",
};

static const char *const part_names[] = {
	[TP_ENLISTED] = "enlisted",
	[TP_PREPARE_SENT] = "prepare-sent",
	[TP_YES] = "yes",
	[TP_READ_ONLY] = "read-only",
	[TP_NO] = "no",
	[TP_ACKED] = "acked",
	[TP_GAVE_UP] = "gave-up",
	[TP_PRECOMMITTED] = "precommitted",
};

static const char *const event_names[] = {
	[TXN_EV_EXEC] = "exec",
	[TXN_EV_EXEC_DONE] = "exec-done",
	[TXN_EV_EXEC_FAILED] = "exec-failed",
	[TXN_EV_COMMIT] = "commit",
	[TXN_EV_ROLLBACK] = "rollback",
	[TXN_EV_TIMEOUT] = "timeout",
	[TXN_EV_VOTE_YES] = "vote-yes",
	[TXN_EV_VOTE_NO] = "vote-no",
	[TXN_EV_VOTE_READ_ONLY] = "vote-read-only",
	[TXN_EV_LOGGED] = "logged",
	[TXN_EV_LOG_FAILED] = "log-failed",
	[TXN_EV_ACK] = "ack",
	[TXN_EV_ACK_FAILED] = "ack-failed",
	[TXN_EV_RETRY] = "retry",
	[TXN_EV_PRECOMMIT_LOGGED] = "precommit-logged",
	[TXN_EV_PRECOMMIT_ACK] = "precommit-ack",
	[TXN_EV_PRECOMMIT_REFUSED] = "precommit-refused",
	[TXN_EV_TERM_COMMIT] = "term-commit",
	[TXN_EV_TERM_ABORT] = "term-abort",
	[TXN_EV_ONE_PHASE_COMMITTED] = "one-phase-committed",
	[TXN_EV_ONE_PHASE_LOST] = "one-phase-lost",
	[TXN_EV_ACK_COMMITTED] = "ack-committed",
};

const char *
txn_state_name(enum txn_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(*state_names) ? state_names[s] : "?";
}

const char *
txn_part_state_name(enum txn_part_state s)
{
	return (unsigned)s < sizeof(part_names) / sizeof(*part_names) ? part_names[s] : "?";
}

const char *
txn_event_name(enum txn_event_type e)
{
	return (unsigned)e < sizeof(event_names) / sizeof(*event_names) ? event_names[e] : "?";
}

int
txn_is_final(const struct txn *t)
{
	return t->state == TXN_COMMITTED || t->state == TXN_ABORTED;
}

void
txn_init(struct txn *t, const char *gid)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->gid, sizeof(t->gid), "%s", gid);
	t->state = TXN_ACTIVE;
	t->exec_pid = -1;
	t->outcome = XACT_OUTCOME_UNKNOWN;
}

void
txn_init_recovered(struct txn *t, const char *gid, const int *pids, int n)
{
	txn_init(t, gid);
	assert(n <= TXN_MAX_PARTS);
	for (int i = 0; i < n; i++) {
		t->parts[i].pid = pids[i];
		t->parts[i].state = TP_YES;
	}
	t->nparts = n;
	t->state = TXN_COMMITTING;
	t->outcome = XACT_OUTCOME_COMMITTED;
	t->retry = 1;
}

void
txn_init_recovered_precommit(struct txn *t, const char *gid, const int *pids, int n)
{
	txn_init_recovered(t, gid, pids, n);
	t->protocol = XACT_PROTOCOL_3PC;
	t->state = TXN_TERMINATING;
	t->outcome = XACT_OUTCOME_UNKNOWN;
	t->retry = 0;
}

void
txn_init_orphan(struct txn *t, const char *gid, int pid)
{
	txn_init(t, gid);
	t->parts[0].pid = pid;
	t->parts[0].state = TP_YES;
	t->nparts = 1;
	t->state = TXN_ABORTING;
	t->outcome = XACT_OUTCOME_ABORTED;
	snprintf(t->reason, sizeof(t->reason), "no commit decision (presumed abort)");
	t->retry = 1;
	t->orphan = 1;
}

const struct txn_part *
txn_find_part(const struct txn *t, int pid)
{
	for (int i = 0; i < t->nparts; i++) {
		if (t->parts[i].pid == pid) {
			return &t->parts[i];
		}
	}
	return NULL;
}

/* txn_find_part, for the transitions that change the branch. */
static struct txn_part *
find_part(struct txn *t, int pid)
{
	return (struct txn_part *)txn_find_part(t, pid);
}

int
txn_add_orphan_part(struct txn *t, int pid)
{
	assert(t->state == TXN_ABORTING);
	if (find_part(t, pid) != NULL) {
		return 0;
	}
	if (t->nparts == TXN_MAX_PARTS) {
		return XACT_ETOOBIG;
	}
	t->parts[t->nparts].pid = pid;
	t->parts[t->nparts].state = TP_YES;
	t->parts[t->nparts].attempts = 0;
	t->nparts++;
	t->retry = 1;
	return 0;
}

static void
emit(struct txn_actions *out, enum txn_action_type type, int pid, int err)
{
	assert(out->n < TXN_MAX_ACTIONS);
	out->a[out->n].type = type;
	out->a[out->n].pid = pid;
	out->a[out->n].err = err;
	out->n++;
}

static int owes_ack(const struct txn *t, const struct txn_part *p);

static void
reply_outcome(struct txn *t, struct txn_actions *out)
{
	t->pending = 0;
	for (int i = 0; t->state == TXN_COMMITTING && i < t->nparts; i++) {
		t->pending |= owes_ack(t, &t->parts[i]);
	}
	if (t->client_waiting) {
		emit(out, TXN_ACT_REPLY_OUTCOME, -1, 0);
		t->client_waiting = 0;
	}
}

/* A branch still owes an answer to the final COMMIT or ABORT. */
static int
owes_ack(const struct txn *t, const struct txn_part *p)
{
	if (t->state == TXN_COMMITTING) {
		return p->state == TP_YES || p->state == TP_PRECOMMITTED;
	}
	/* ABORTING: every branch that may hold work, prepared or not. */
	return p->state == TP_ENLISTED || p->state == TP_PREPARE_SENT ||
	    p->state == TP_YES || p->state == TP_NO || p->state == TP_PRECOMMITTED;
}

/* Sends the final message to every branch that still owes an ack. */
static void
send_round(struct txn *t, struct txn_actions *out)
{
	enum txn_action_type type = t->state == TXN_COMMITTING ? TXN_ACT_SEND_COMMIT
	                                                       : TXN_ACT_SEND_ABORT;

	t->round = 0;
	t->retry = 0;
	for (int i = 0; i < t->nparts; i++) {
		if (owes_ack(t, &t->parts[i])) {
			emit(out, type, t->parts[i].pid, 0);
			t->round++;
		}
	}
}

/* The client learns the outcome only once every branch answered: one
 * writer (its ack is the outcome) and an orphan (txn_init_orphan). */
static int
answers_on_acks(const struct txn *t)
{
	return t->unjournaled || t->orphan;
}

/* Moves to a final state once nobody owes an ack. */
static void
maybe_finish(struct txn *t, struct txn_actions *out)
{
	int owing = 0;

	for (int i = 0; i < t->nparts; i++) {
		owing += owes_ack(t, &t->parts[i]);
	}
	if (t->round == 0) {
		if (!(answers_on_acks(t) && owing > 0)) {
			reply_outcome(t, out);
		}
		if (owing > 0) {
			t->retry = 1; /* a branch failed, or joined after the round */
		}
	}
	if (owing > 0 || t->round > 0) {
		return;
	}
	if (t->state == TXN_COMMITTING) {
		t->state = TXN_COMMITTED;
		t->pending = 0;
		if (!t->unjournaled) {
			emit(out, TXN_ACT_LOG_COMPLETE, -1, 0);
		}
	} else {
		t->state = TXN_ABORTED;
	}
	t->retry = 0;
	emit(out, TXN_ACT_FORGET, -1, 0);
}

/* Decides abort.  Presumed abort: nothing is journaled; the client learns
 * the outcome at once, the branches get ABORT (retried a few times). */
static void
start_abort(struct txn *t, const char *reason, struct txn_actions *out)
{
	assert(t->state != TXN_COMMITTING && t->state != TXN_COMMITTED);
	t->state = TXN_ABORTING;
	t->outcome = XACT_OUTCOME_ABORTED;
	if (reason != NULL && t->reason[0] == '\0') {
		snprintf(t->reason, sizeof(t->reason), "%s", reason);
	}
	if (t->exec_pid >= 0) {
		/* The statement in flight is answered now; its result, if
		 * it ever comes, is dropped. */
		emit(out, TXN_ACT_REPLY_EXEC, t->exec_pid, XACT_EABORTED);
		t->exec_pid = -1;
	}
	reply_outcome(t, out);
	send_round(t, out);
	maybe_finish(t, out);
}

static void
start_prepare(struct txn *t, struct txn_actions *out)
{
	t->state = TXN_PREPARING;
	for (int i = 0; i < t->nparts; i++) {
		t->parts[i].state = TP_PREPARE_SENT;
		emit(out, TXN_ACT_SEND_PREPARE, t->parts[i].pid, 0);
	}
}

/* After a vote: decide once every vote is in. */
static void
maybe_decide(struct txn *t, struct txn_actions *out)
{
	int yes = 0;

	for (int i = 0; i < t->nparts; i++) {
		switch (t->parts[i].state) {
		case TP_PREPARE_SENT:
			return; /* still waiting */
		case TP_YES:
			yes++;
			break;
		default:
			break;
		}
	}
	if (yes == 0) {
		/* Every branch read only: each has finished by itself. */
		t->state = TXN_COMMITTED;
		t->outcome = XACT_OUTCOME_COMMITTED;
		reply_outcome(t, out);
		emit(out, TXN_ACT_FORGET, -1, 0);
		return;
	}
	if (yes == 1 && t->one_phase && !t->journal_always && t->protocol == XACT_PROTOCOL_2PC) {
		/* One writer: its COMMIT is the decision, and its ack the
		 * outcome; nothing to journal (txn.h). */
		t->state = TXN_COMMITTING;
		t->outcome = XACT_OUTCOME_COMMITTED;
		t->unjournaled = 1;
		t->reason[0] = '\0';
		send_round(t, out);
		return;
	}
	if (t->protocol == XACT_PROTOCOL_3PC) {
		t->state = TXN_PRECOMMIT_LOGGING;
		emit(out, TXN_ACT_FORCE_PRECOMMIT, -1, 0);
		return;
	}
	t->state = TXN_LOGGING;
	emit(out, TXN_ACT_FORCE_COMMIT, -1, 0);
}

/* 3PC: PRECOMMIT to every branch that voted YES and has not acked it. */
static void
send_precommits(struct txn *t, struct txn_actions *out)
{
	t->retry = 0;
	for (int i = 0; i < t->nparts; i++) {
		if (t->parts[i].state == TP_YES) {
			emit(out, TXN_ACT_SEND_PRECOMMIT, t->parts[i].pid, 0);
		}
	}
}

/* 3PC: a journal write failed; the outcome is unknown until it succeeds. */
static void
log_failed(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	snprintf(t->reason, sizeof(t->reason), "journal write failed, retrying: %s",
	    ev->reason ? ev->reason : "?");
	t->outcome = XACT_OUTCOME_UNKNOWN;
	reply_outcome(t, out);
	t->retry = 1;
}

static int
step_active(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	switch (ev->type) {
	case TXN_EV_EXEC:
		if (find_part(t, ev->pid) == NULL) {
			if (t->nparts == TXN_MAX_PARTS) {
				return XACT_ETOOBIG;
			}
			t->parts[t->nparts].pid = ev->pid;
			t->parts[t->nparts].state = TP_ENLISTED;
			t->nparts++;
		}
		find_part(t, ev->pid)->stmts++;
		t->state = TXN_EXECUTING;
		t->exec_pid = ev->pid;
		emit(out, TXN_ACT_SEND_EXEC, ev->pid, 0);
		return 0;
	case TXN_EV_COMMIT:
		t->client_waiting = 1;
		if (t->nparts == 0) {
			t->state = TXN_COMMITTED;
			t->outcome = XACT_OUTCOME_COMMITTED;
			reply_outcome(t, out);
			emit(out, TXN_ACT_FORGET, -1, 0);
			return 0;
		}
		if (t->one_phase && t->nparts == 1 && t->protocol == XACT_PROTOCOL_2PC) {
			t->state = TXN_ONE_PHASE;
			t->parts[0].state = TP_PREPARE_SENT;
			emit(out, TXN_ACT_SEND_ONE_PHASE, t->parts[0].pid, 0);
			return 0;
		}
		start_prepare(t, out);
		return 0;
	case TXN_EV_ROLLBACK:
		t->client_waiting = 1;
		start_abort(t, "rolled back by the client", out);
		return 0;
	case TXN_EV_TIMEOUT:
		start_abort(t, "client silent past the transaction timeout", out);
		return 0;
	default:
		return XACT_ESTATE;
	}
}

/* The branch told the outcome of a one-phase commit: final at once. */
static void
one_phase_done(struct txn *t, enum txn_part_state ps, xact_outcome o, const char *reason,
    struct txn_actions *out)
{
	t->parts[0].state = ps;
	t->state = o == XACT_OUTCOME_COMMITTED ? TXN_COMMITTED : TXN_ABORTED;
	t->outcome = o;
	t->retry = 0;
	snprintf(t->reason, sizeof(t->reason), "%s", reason ? reason : "");
	reply_outcome(t, out);
	emit(out, TXN_ACT_FORGET, -1, 0);
}

/* ONE_PHASE: only the branch decides.  No timeout aborts, no rollback is
 * taken; a lost answer is asked for again. */
static int
step_one_phase(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	if (ev->pid >= 0 && ev->pid != t->parts[0].pid) {
		return 0; /* stray */
	}
	switch (ev->type) {
	case TXN_EV_ONE_PHASE_COMMITTED:
		one_phase_done(t, TP_ACKED, XACT_OUTCOME_COMMITTED, NULL, out);
		return 0;
	case TXN_EV_VOTE_READ_ONLY:
		one_phase_done(t, TP_READ_ONLY, XACT_OUTCOME_COMMITTED, NULL, out);
		return 0;
	case TXN_EV_VOTE_NO:
		/* Definite: the branch rolled back (a lost answer is LOST). */
		one_phase_done(t, TP_NO, XACT_OUTCOME_ABORTED, ev->reason ? ev->reason : "voted no",
		    out);
		return 0;
	case TXN_EV_VOTE_YES:
		/* An agent that does not know one-phase commit prepared the
		 * branch: two-phase commit from here. */
		t->parts[0].state = TP_YES;
		t->state = TXN_PREPARING;
		maybe_decide(t, out);
		return 0;
	case TXN_EV_ONE_PHASE_LOST:
		snprintf(t->reason, sizeof(t->reason), "one-phase commit not answered, asking "
		    "again: %s", ev->reason ? ev->reason : "?");
		t->retry = 1;
		return 0;
	case TXN_EV_RETRY:
		t->retry = 0;
		emit(out, TXN_ACT_SEND_ONE_PHASE, t->parts[0].pid, 0);
		return 0;
	case TXN_EV_COMMIT:
		t->client_waiting = 1; /* answered with the outcome */
		return 0;
	case TXN_EV_TIMEOUT:
		return 0; /* the branch may have committed: never abort */
	default:
		return XACT_ESTATE;
	}
}

static int
step_executing(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	switch (ev->type) {
	case TXN_EV_EXEC_DONE:
		if (ev->pid != t->exec_pid) {
			return XACT_ESTATE;
		}
		t->exec_pid = -1;
		t->state = TXN_ACTIVE;
		emit(out, TXN_ACT_REPLY_EXEC, ev->pid, 0);
		return 0;
	case TXN_EV_EXEC_FAILED:
		if (ev->pid != t->exec_pid) {
			return XACT_ESTATE;
		}
		t->exec_pid = -1;
		emit(out, TXN_ACT_REPLY_EXEC, ev->pid, ev->err ? ev->err : XACT_ESQL);
		start_abort(t, ev->reason ? ev->reason : "statement failed", out);
		return 0;
	case TXN_EV_ROLLBACK:
		t->client_waiting = 1;
		start_abort(t, "rolled back by the client", out);
		return 0;
	case TXN_EV_TIMEOUT:
		start_abort(t, "client silent past the transaction timeout", out);
		return 0;
	default:
		return XACT_ESTATE;
	}
}

static int
step_preparing(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	struct txn_part *p;
	char why[512];

	switch (ev->type) {
	case TXN_EV_VOTE_YES:
	case TXN_EV_VOTE_READ_ONLY:
	case TXN_EV_VOTE_NO:
		if ((p = find_part(t, ev->pid)) == NULL || p->state != TP_PREPARE_SENT) {
			return 0; /* duplicate or stray vote: nothing changes */
		}
		if (ev->type == TXN_EV_VOTE_NO) {
			p->state = TP_NO;
			snprintf(why, sizeof(why), "%s", ev->reason ? ev->reason : "voted no");
			start_abort(t, why, out);
			return 0;
		}
		p->state = ev->type == TXN_EV_VOTE_YES ? TP_YES : TP_READ_ONLY;
		maybe_decide(t, out);
		return 0;
	case TXN_EV_COMMIT:
		t->client_waiting = 1; /* repeated request: answered at decision */
		return 0;
	case TXN_EV_TIMEOUT:
		/* Safety net: a vote that never arrived counts as NO.  No
		 * decision exists yet, so aborting is always allowed. */
		start_abort(t, "votes missing past the transaction timeout", out);
		return 0;
	case TXN_EV_RETRY:
		return 0; /* prepare calls time out on their own */
	default:
		return XACT_ESTATE;
	}
}

/* 3PC: PRECOMMIT_LOGGING and PRECOMMITTING.  The pre-commit may be on disk
 * from the first attempt to write it: no abort from here on. */
static int
step_precommit(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	struct txn_part *p;
	int waiting = 0;

	switch (ev->type) {
	case TXN_EV_PRECOMMIT_LOGGED:
		if (t->state != TXN_PRECOMMIT_LOGGING) {
			return XACT_ESTATE;
		}
		t->state = TXN_PRECOMMITTING;
		send_precommits(t, out);
		return 0;
	case TXN_EV_LOG_FAILED:
		if (t->state != TXN_PRECOMMIT_LOGGING) {
			return XACT_ESTATE;
		}
		log_failed(t, ev, out);
		return 0;
	case TXN_EV_PRECOMMIT_ACK:
		if (t->state != TXN_PRECOMMITTING || (p = find_part(t, ev->pid)) == NULL ||
		    p->state != TP_YES) {
			return 0; /* duplicate or stray */
		}
		p->state = TP_PRECOMMITTED;
		for (int i = 0; i < t->nparts; i++) {
			waiting += t->parts[i].state == TP_YES;
		}
		if (waiting == 0) {
			t->state = TXN_LOGGING;
			emit(out, TXN_ACT_FORCE_COMMIT, -1, 0);
		}
		return 0;
	case TXN_EV_PRECOMMIT_REFUSED:
		if (t->state != TXN_PRECOMMITTING || find_part(t, ev->pid) == NULL) {
			return 0;
		}
		t->state = TXN_TERMINATING;
		snprintf(t->reason, sizeof(t->reason), "%s",
		    ev->reason ? ev->reason : "a participant follows a termination leader");
		reply_outcome(t, out); /* unknown until the termination ends */
		return 0;
	case TXN_EV_ACK_FAILED:
		t->retry = 1; /* unreachable: PRECOMMIT again later */
		return 0;
	case TXN_EV_RETRY:
		if (t->state == TXN_PRECOMMIT_LOGGING) {
			t->retry = 0;
			emit(out, TXN_ACT_FORCE_PRECOMMIT, -1, 0);
		} else {
			send_precommits(t, out);
		}
		return 0;
	case TXN_EV_COMMIT:
		t->client_waiting = 1;
		return 0;
	case TXN_EV_TIMEOUT:
	case TXN_EV_VOTE_YES:
	case TXN_EV_VOTE_NO:
	case TXN_EV_VOTE_READ_ONLY:
		return 0; /* every vote is in; the decision is under way */
	default:
		return XACT_ESTATE;
	}
}

/* 3PC: the I/O layer runs the termination and reports its outcome. */
static int
step_terminating(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	switch (ev->type) {
	case TXN_EV_TERM_COMMIT:
		t->state = TXN_LOGGING;
		emit(out, TXN_ACT_FORCE_COMMIT, -1, 0);
		return 0;
	case TXN_EV_TERM_ABORT:
		start_abort(t, "the termination protocol decided abort", out);
		return 0;
	case TXN_EV_COMMIT:
	case TXN_EV_ROLLBACK:
		t->client_waiting = 1;
		reply_outcome(t, out); /* unknown for now */
		return 0;
	case TXN_EV_EXEC:
		return XACT_ESTATE;
	default:
		return 0; /* late answers of the pre-commit round */
	}
}

static int
step_logging(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	switch (ev->type) {
	case TXN_EV_LOGGED:
		t->state = TXN_COMMITTING;
		t->outcome = XACT_OUTCOME_COMMITTED;
		t->reason[0] = '\0';
		send_round(t, out);
		return 0;
	case TXN_EV_LOG_FAILED:
		/* The decision may or may not be on disk: never abort now.
		 * The client learns "unknown"; the write is retried. */
		log_failed(t, ev, out);
		return 0;
	case TXN_EV_RETRY:
		t->retry = 0;
		emit(out, TXN_ACT_FORCE_COMMIT, -1, 0);
		return 0;
	case TXN_EV_COMMIT:
		t->client_waiting = 1;
		return 0;
	case TXN_EV_TIMEOUT:
	case TXN_EV_VOTE_YES:
	case TXN_EV_VOTE_NO:
	case TXN_EV_VOTE_READ_ONLY:
		return 0; /* late or repeated vote: every vote is already in */
	default:
		return XACT_ESTATE;
	}
}

/* COMMITTING and ABORTING: collect acks, resend on retry. */
static int
step_finishing(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	struct txn_part *p;

	switch (ev->type) {
	case TXN_EV_ACK:
	case TXN_EV_ACK_FAILED:
	case TXN_EV_ACK_COMMITTED:
		if ((p = find_part(t, ev->pid)) == NULL || !owes_ack(t, p)) {
			return 0; /* duplicate */
		}
		if (t->round > 0) {
			t->round--;
		}
		if (ev->type == TXN_EV_ACK_COMMITTED && t->orphan && t->state == TXN_ABORTING) {
			/* Not aborted after all (txn_init_orphan says how). */
			t->outcome = XACT_OUTCOME_UNKNOWN;
			t->found_committed = 1;
			snprintf(t->reason, sizeof(t->reason), "a branch committed with nothing "
			    "journaled (one phase, one writer, or by hand); any other was rolled back");
		}
		if (ev->type != TXN_EV_ACK_FAILED) {
			p->state = TP_ACKED;
		} else if (++p->attempts >= TXN_ABORT_ATTEMPTS &&
		    t->state == TXN_ABORTING) {
			p->state = TP_GAVE_UP;
			if (t->orphan && t->outcome == XACT_OUTCOME_ABORTED) {
				/* Its branch may have committed: never say aborted. */
				t->outcome = XACT_OUTCOME_UNKNOWN;
				snprintf(t->reason, sizeof(t->reason), "no commit decision, and a branch "
				    "did not answer its ABORT: it may have committed with nothing "
				    "journaled (one phase, one writer); the sweep finishes it");
			}
		} else {
			t->retry = 1;
		}
		maybe_finish(t, out);
		return 0;
	case TXN_EV_RETRY:
		if (t->round == 0) {
			send_round(t, out);
			maybe_finish(t, out);
		} else {
			t->retry = 0; /* the round in flight sets it again if needed */
		}
		return 0;
	case TXN_EV_EXEC_DONE:
	case TXN_EV_EXEC_FAILED:
		return 0; /* late: answered when the abort began */
	case TXN_EV_EXEC:
		if (t->state == TXN_ABORTING) {
			emit(out, TXN_ACT_REPLY_EXEC, ev->pid, XACT_EABORTED);
			return 0;
		}
		return XACT_ESTATE;
	case TXN_EV_COMMIT:
	case TXN_EV_ROLLBACK:
		t->client_waiting = 1;
		/* (one writer never aborts: heuristic_abort replaces it) */
		if (!answers_on_acks(t) && (t->state == TXN_ABORTING || t->round == 0)) {
			reply_outcome(t, out);
		}
		return 0;
	case TXN_EV_VOTE_YES:
	case TXN_EV_VOTE_NO:
	case TXN_EV_VOTE_READ_ONLY:
	case TXN_EV_TIMEOUT:
		return 0; /* late: the decision is made */
	default:
		return XACT_ESTATE;
	}
}

static int
step_final(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	switch (ev->type) {
	case TXN_EV_COMMIT:
	case TXN_EV_ROLLBACK:
		t->client_waiting = 1;
		reply_outcome(t, out);
		return 0;
	case TXN_EV_EXEC:
		if (t->state == TXN_ABORTED) {
			emit(out, TXN_ACT_REPLY_EXEC, ev->pid, XACT_EABORTED);
			return 0;
		}
		return XACT_ESTATE;
	default:
		return 0; /* late messages about a finished transaction */
	}
}

int
txn_enlist(struct txn *t, int pid, uint32_t stmts)
{
	struct txn_part *p;

	if (t->state != TXN_ACTIVE) {
		return XACT_ESTATE;
	}
	if ((p = find_part(t, pid)) == NULL) {
		if (t->nparts == TXN_MAX_PARTS) {
			return XACT_ETOOBIG;
		}
		p = &t->parts[t->nparts++];
		p->pid = pid;
		p->state = TP_ENLISTED;
	}
	p->stmts += stmts;
	return 0;
}

int
txn_step(struct txn *t, const struct txn_event *ev, struct txn_actions *out)
{
	enum txn_state before = t->state;
	int rv;

	out->n = 0;
	switch (t->state) {
	case TXN_ACTIVE:
		rv = step_active(t, ev, out);
		break;
	case TXN_EXECUTING:
		rv = step_executing(t, ev, out);
		break;
	case TXN_PREPARING:
		rv = step_preparing(t, ev, out);
		break;
	case TXN_LOGGING:
		rv = step_logging(t, ev, out);
		break;
	case TXN_COMMITTING:
	case TXN_ABORTING:
		rv = step_finishing(t, ev, out);
		break;
	case TXN_PRECOMMIT_LOGGING:
	case TXN_PRECOMMITTING:
		rv = step_precommit(t, ev, out);
		break;
	case TXN_TERMINATING:
		rv = step_terminating(t, ev, out);
		break;
	case TXN_ONE_PHASE:
		rv = step_one_phase(t, ev, out);
		break;
	default:
		rv = step_final(t, ev, out);
		break;
	}
	/* Invariants: commit never follows abort nor abort commit. */
	assert(!(before == TXN_COMMITTING && t->state == TXN_ABORTING));
	assert(!(before == TXN_ABORTING && t->state == TXN_COMMITTED));
	assert(t->state != TXN_COMMITTING || t->outcome == XACT_OUTCOME_COMMITTED);
	/* 3PC: once the pre-commit may be durable, only a termination aborts. */
	assert(!((before == TXN_PRECOMMIT_LOGGING || before == TXN_PRECOMMITTING) &&
	         t->state == TXN_ABORTING));
	/* One phase: only the branch's own answer ends it. */
	assert(!(before == TXN_ONE_PHASE && t->state == TXN_ABORTED) ||
	       ev->type == TXN_EV_VOTE_NO);
	assert(!(before == TXN_ONE_PHASE && t->state == TXN_COMMITTED) ||
	       ev->type == TXN_EV_ONE_PHASE_COMMITTED || ev->type == TXN_EV_VOTE_READ_ONLY);
	return rv;
}
