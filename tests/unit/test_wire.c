/*
 * test_wire.c - the protobuf-c <-> nng_msg codec (shared/wire.h) and the
 * error names (xact_strerror).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "xact.h"

/* ---- helpers ---- */

/* Packs req and unpacks it again; returns the decoded copy. */
static Xact__Request *
request_round_trip(Xact__Request *req)
{
	nng_msg *msg;
	Xact__Request *out = (Xact__Request *)(uintptr_t)1;

	req->version = 77; /* wire_pack_request sets the version itself */
	msg = wire_pack_request(req);
	assert_non_null(msg);
	assert_int_equal(req->version, XACT_PROTOCOL_VERSION);
	assert_true(nng_msg_len(msg) > 0);
	assert_int_equal(wire_unpack_request(msg, &out), XACT_OK);
	assert_non_null(out);
	assert_int_equal(out->version, XACT_PROTOCOL_VERSION);
	assert_int_equal(out->body_case, req->body_case);
	nng_msg_free(msg);
	return out;
}

static Xact__Reply *
reply_round_trip(Xact__Reply *rep)
{
	nng_msg *msg;
	Xact__Reply *out = (Xact__Reply *)(uintptr_t)1;

	rep->version = 0;
	msg = wire_pack_reply(rep);
	assert_non_null(msg);
	assert_int_equal(rep->version, XACT_PROTOCOL_VERSION);
	assert_int_equal(wire_unpack_reply(msg, &out), XACT_OK);
	assert_non_null(out);
	assert_int_equal(out->version, XACT_PROTOCOL_VERSION);
	assert_int_equal(out->body_case, rep->body_case);
	nng_msg_free(msg);
	return out;
}

/* An nng message holding exactly these bytes. */
static nng_msg *
raw_msg(const void *bytes, size_t len)
{
	nng_msg *msg;

	assert_int_equal(nng_msg_alloc(&msg, 0), 0);
	if (len > 0) {
		assert_int_equal(nng_msg_append(msg, bytes, len), 0);
	}
	return msg;
}

/* Packs with protobuf-c directly, keeping whatever version is set. */
static nng_msg *
raw_request(const Xact__Request *req)
{
	size_t len = xact__request__get_packed_size(req);
	uint8_t *buf = malloc(len + 1);
	nng_msg *msg;

	assert_non_null(buf);
	assert_int_equal(xact__request__pack(req, buf), len);
	msg = raw_msg(buf, len);
	free(buf);
	return msg;
}

static nng_msg *
raw_reply(const Xact__Reply *rep)
{
	size_t len = xact__reply__get_packed_size(rep);
	uint8_t *buf = malloc(len + 1);
	nng_msg *msg;

	assert_non_null(buf);
	assert_int_equal(xact__reply__pack(rep, buf), len);
	msg = raw_msg(buf, len);
	free(buf);
	return msg;
}

/* Decodes msg both as a request and as a reply; both must say EPROTO. */
static void
expect_eproto(nng_msg *msg, const char *what)
{
	Xact__Request *req = (Xact__Request *)(uintptr_t)1;
	Xact__Reply *rep = (Xact__Reply *)(uintptr_t)1;
	int rv;

	if ((rv = wire_unpack_request(msg, &req)) != XACT_EPROTO) {
		fail_msg("%s as a request: %d (%s), want EPROTO", what, rv, xact_strerror(rv));
	}
	assert_null(req);
	if ((rv = wire_unpack_reply(msg, &rep)) != XACT_EPROTO) {
		fail_msg("%s as a reply: %d (%s), want EPROTO", what, rv, xact_strerror(rv));
	}
	assert_null(rep);
}

static Xact__Statement *
make_statement(Xact__Statement *st, Xact__Param **pp, Xact__Param *params)
{
	static const uint8_t binary[] = {'a', 0, 'b', 0xff};

	xact__statement__init(st);
	for (int i = 0; i < 3; i++) {
		xact__param__init(&params[i]);
		pp[i] = &params[i];
	}
	params[0].has_value = 1;
	params[0].value.data = (uint8_t *)"42";
	params[0].value.len = 2;
	/* params[1]: SQL NULL (no value) */
	params[2].has_value = 1;
	params[2].value.data = (uint8_t *)binary;
	params[2].value.len = sizeof(binary);
	st->sql = "UPDATE accounts SET balance = balance + $1 WHERE id = $2 AND note = $3";
	st->n_params = 3;
	st->params = pp;
	return st;
}

static void
check_statement(const Xact__Statement *st)
{
	static const uint8_t binary[] = {'a', 0, 'b', 0xff};

	assert_non_null(st);
	assert_string_equal(st->sql,
	    "UPDATE accounts SET balance = balance + $1 WHERE id = $2 AND note = $3");
	assert_int_equal(st->n_params, 3);
	assert_true(st->params[0]->has_value);
	assert_int_equal(st->params[0]->value.len, 2);
	assert_memory_equal(st->params[0]->value.data, "42", 2);
	assert_false(st->params[1]->has_value);
	assert_true(st->params[2]->has_value);
	assert_int_equal(st->params[2]->value.len, sizeof(binary));
	assert_memory_equal(st->params[2]->value.data, binary, sizeof(binary));
}

/* ---- requests ---- */

static void
begin_request_round_trips_with_token_and_protocol(void **state)
{
	Xact__Request req = XACT__REQUEST__INIT, *out;
	Xact__BeginReq b = XACT__BEGIN_REQ__INIT;

	(void)state;
	b.token = UINT64_C(0xfedcba9876543210);
	b.has_protocol = 1;
	b.protocol = XACT__PROTOCOL__PROTOCOL_3PC;
	req.body_case = XACT__REQUEST__BODY_BEGIN;
	req.begin = &b;
	out = request_round_trip(&req);
	assert_int_equal(out->begin->token, UINT64_C(0xfedcba9876543210));
	assert_true(out->begin->has_protocol);
	assert_int_equal(out->begin->protocol, XACT__PROTOCOL__PROTOCOL_3PC);
	assert_string_equal(wire_request_name(out), "begin");
	xact__request__free_unpacked(out, NULL);
}

static void
exec_request_round_trips_with_statement_null_and_binary_params(void **state)
{
	Xact__Request req = XACT__REQUEST__INIT, *out;
	Xact__ExecReq e = XACT__EXEC_REQ__INIT;
	Xact__Statement st;
	Xact__Param *pp[3], params[3];

	(void)state;
	e.gid = "xact:c1:17";
	e.seq = 4000000000u;
	e.participant = "bank-a";
	e.stmt = make_statement(&st, pp, params);
	req.body_case = XACT__REQUEST__BODY_EXEC;
	req.exec = &e;
	out = request_round_trip(&req);
	assert_string_equal(out->exec->gid, "xact:c1:17");
	assert_int_equal(out->exec->seq, 4000000000u);
	assert_string_equal(out->exec->participant, "bank-a");
	check_statement(out->exec->stmt);
	assert_string_equal(wire_request_name(out), "exec");
	xact__request__free_unpacked(out, NULL);
}

static void
gid_requests_round_trip_commit_rollback_prepare_branch_commit_and_abort(void **state)
{
	Xact__CommitReq c = XACT__COMMIT_REQ__INIT;
	Xact__RollbackReq r = XACT__ROLLBACK_REQ__INIT;
	Xact__PrepareReq p = XACT__PREPARE_REQ__INIT;
	Xact__BranchCommitReq bc = XACT__BRANCH_COMMIT_REQ__INIT;
	Xact__BranchAbortReq ba = XACT__BRANCH_ABORT_REQ__INIT;
	struct {
		Xact__Request__BodyCase body;
		const char *name;
		const char *gid;
	} cases[] = {
		{XACT__REQUEST__BODY_COMMIT, "commit", "xact:c1:1"},
		{XACT__REQUEST__BODY_ROLLBACK, "rollback", "xact:c1:2"},
		{XACT__REQUEST__BODY_PREPARE, "prepare", "xact:c1:3"},
		{XACT__REQUEST__BODY_BRANCH_COMMIT, "branch_commit", "xact:c1:4"},
		{XACT__REQUEST__BODY_BRANCH_ABORT, "branch_abort", "xact:c1:5"},
	};

	(void)state;
	c.gid = (char *)cases[0].gid;
	r.gid = (char *)cases[1].gid;
	p.gid = (char *)cases[2].gid;
	bc.gid = (char *)cases[3].gid;
	ba.gid = (char *)cases[4].gid;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		Xact__Request req = XACT__REQUEST__INIT, *out;
		const char *gid = NULL;

		req.body_case = cases[i].body;
		switch (cases[i].body) {
		case XACT__REQUEST__BODY_COMMIT: req.commit = &c; break;
		case XACT__REQUEST__BODY_ROLLBACK: req.rollback = &r; break;
		case XACT__REQUEST__BODY_PREPARE: req.prepare = &p; break;
		case XACT__REQUEST__BODY_BRANCH_COMMIT: req.branch_commit = &bc; break;
		case XACT__REQUEST__BODY_BRANCH_ABORT: req.branch_abort = &ba; break;
		default: fail();
		}
		out = request_round_trip(&req);
		switch (out->body_case) {
		case XACT__REQUEST__BODY_COMMIT: gid = out->commit->gid; break;
		case XACT__REQUEST__BODY_ROLLBACK: gid = out->rollback->gid; break;
		case XACT__REQUEST__BODY_PREPARE: gid = out->prepare->gid; break;
		case XACT__REQUEST__BODY_BRANCH_COMMIT: gid = out->branch_commit->gid; break;
		case XACT__REQUEST__BODY_BRANCH_ABORT: gid = out->branch_abort->gid; break;
		default: fail();
		}
		assert_string_equal(gid, cases[i].gid);
		assert_string_equal(wire_request_name(out), cases[i].name);
		xact__request__free_unpacked(out, NULL);
	}
}

static void
status_request_with_an_empty_body_round_trips(void **state)
{
	Xact__Request req = XACT__REQUEST__INIT, *out;
	Xact__StatusReq s = XACT__STATUS_REQ__INIT;

	(void)state;
	req.body_case = XACT__REQUEST__BODY_STATUS;
	req.status = &s;
	out = request_round_trip(&req);
	assert_non_null(out->status);
	assert_string_equal(wire_request_name(out), "status");
	xact__request__free_unpacked(out, NULL);
}

static void
branch_exec_request_round_trips_with_branch_seq_and_statement(void **state)
{
	Xact__Request req = XACT__REQUEST__INIT, *out;
	Xact__BranchExecReq e = XACT__BRANCH_EXEC_REQ__INIT;
	Xact__Statement st;
	Xact__Param *pp[3], params[3];

	(void)state;
	e.gid = "xact:c1:99";
	e.seq = 1;
	e.stmt = make_statement(&st, pp, params);
	req.body_case = XACT__REQUEST__BODY_BRANCH_EXEC;
	req.branch_exec = &e;
	out = request_round_trip(&req);
	assert_string_equal(out->branch_exec->gid, "xact:c1:99");
	assert_int_equal(out->branch_exec->seq, 1);
	check_statement(out->branch_exec->stmt);
	assert_string_equal(wire_request_name(out), "branch_exec");
	xact__request__free_unpacked(out, NULL);
}

static void
list_prepared_request_round_trips_with_its_prefix(void **state)
{
	Xact__Request req = XACT__REQUEST__INIT, *out;
	Xact__ListPreparedReq l = XACT__LIST_PREPARED_REQ__INIT;

	(void)state;
	l.prefix = "xact:c1:";
	req.body_case = XACT__REQUEST__BODY_LIST_PREPARED;
	req.list_prepared = &l;
	out = request_round_trip(&req);
	assert_string_equal(out->list_prepared->prefix, "xact:c1:");
	assert_string_equal(wire_request_name(out), "list_prepared");
	xact__request__free_unpacked(out, NULL);
}

/* ---- replies ---- */

static void
begin_reply_round_trips_with_the_gid(void **state)
{
	Xact__Reply rep = XACT__REPLY__INIT, *out;
	Xact__BeginRep b = XACT__BEGIN_REP__INIT;

	(void)state;
	b.gid = "xact:c1:123456";
	rep.body_case = XACT__REPLY__BODY_BEGIN;
	rep.begin = &b;
	out = reply_round_trip(&rep);
	assert_string_equal(out->begin->gid, "xact:c1:123456");
	xact__reply__free_unpacked(out, NULL);
}

static void
exec_reply_round_trips_rows_nulls_affected_and_database_error(void **state)
{
	Xact__Reply rep = XACT__REPLY__INIT, *out;
	Xact__ExecRep e = XACT__EXEC_REP__INIT;
	Xact__Result res = XACT__RESULT__INIT;
	Xact__Row rows[2], *rp[2];
	Xact__Param vals[4], *vp[4];
	char *cols[2] = {"id", "balance"};
	const Xact__Result *r;

	(void)state;
	for (int i = 0; i < 4; i++) {
		xact__param__init(&vals[i]);
		vp[i] = &vals[i];
	}
	vals[0].has_value = 1;
	vals[0].value.data = (uint8_t *)"1";
	vals[0].value.len = 1;
	vals[1].has_value = 1;
	vals[1].value.data = (uint8_t *)"100.50";
	vals[1].value.len = 6;
	vals[2].has_value = 1;
	vals[2].value.data = (uint8_t *)"2";
	vals[2].value.len = 1;
	/* vals[3]: NULL */
	for (int i = 0; i < 2; i++) {
		xact__row__init(&rows[i]);
		rows[i].n_values = 2;
		rows[i].values = &vp[2 * i];
		rp[i] = &rows[i];
	}
	res.n_columns = 2;
	res.columns = cols;
	res.n_rows = 2;
	res.rows = rp;
	res.has_affected = 1;
	res.affected = 2;
	res.error = "deadlock detected";
	res.sqlstate = "40P01";
	e.result = &res;
	rep.body_case = XACT__REPLY__BODY_EXEC;
	rep.exec = &e;
	out = reply_round_trip(&rep);
	r = out->exec->result;
	assert_int_equal(r->n_columns, 2);
	assert_string_equal(r->columns[0], "id");
	assert_string_equal(r->columns[1], "balance");
	assert_int_equal(r->n_rows, 2);
	assert_int_equal(r->rows[0]->n_values, 2);
	assert_memory_equal(r->rows[0]->values[1]->value.data, "100.50", 6);
	assert_memory_equal(r->rows[1]->values[0]->value.data, "2", 1);
	assert_false(r->rows[1]->values[1]->has_value);
	assert_true(r->has_affected);
	assert_int_equal(r->affected, 2);
	assert_string_equal(r->error, "deadlock detected");
	assert_string_equal(r->sqlstate, "40P01");
	xact__reply__free_unpacked(out, NULL);
}

static void
outcome_reply_round_trips_outcome_reason_and_pending(void **state)
{
	Xact__Reply rep = XACT__REPLY__INIT, *out;
	Xact__OutcomeRep o = XACT__OUTCOME_REP__INIT;

	(void)state;
	o.outcome = XACT__OUTCOME__OUTCOME_COMMITTED;
	o.reason = "some participant has not acknowledged yet";
	o.has_completion_pending = 1;
	o.completion_pending = 1;
	rep.body_case = XACT__REPLY__BODY_OUTCOME;
	rep.outcome = &o;
	out = reply_round_trip(&rep);
	assert_int_equal(out->outcome->outcome, XACT__OUTCOME__OUTCOME_COMMITTED);
	assert_string_equal(out->outcome->reason, "some participant has not acknowledged yet");
	assert_true(out->outcome->has_completion_pending);
	assert_true(out->outcome->completion_pending);
	xact__reply__free_unpacked(out, NULL);

	o.outcome = XACT__OUTCOME__OUTCOME_ABORTED;
	o.reason = NULL;
	o.has_completion_pending = 0;
	o.completion_pending = 0;
	out = reply_round_trip(&rep);
	assert_int_equal(out->outcome->outcome, XACT__OUTCOME__OUTCOME_ABORTED);
	assert_null(out->outcome->reason);
	assert_false(out->outcome->has_completion_pending);
	xact__reply__free_unpacked(out, NULL);
}

static void
status_reply_round_trips_participants_and_transactions(void **state)
{
	Xact__Reply rep = XACT__REPLY__INIT, *out;
	Xact__StatusRep s = XACT__STATUS_REP__INIT;
	Xact__ParticipantInfo pi[2], *pip[2];
	Xact__TxnInfo ti = XACT__TXN_INFO__INIT, *tip[1] = {&ti};
	char *tparts[2] = {"a", "b"};

	(void)state;
	for (int i = 0; i < 2; i++) {
		xact__participant_info__init(&pi[i]);
		pip[i] = &pi[i];
	}
	pi[0].name = "a";
	pi[0].url = "tcp://127.0.0.1:7501";
	pi[0].has_reachable = 1;
	pi[0].reachable = 1;
	pi[1].name = "b";
	pi[1].url = "ipc:///tmp/b.sock";
	pi[1].has_reachable = 1;
	pi[1].reachable = 0;
	ti.gid = "xact:c1:8";
	ti.state = "committing";
	ti.age_ms = 1234;
	ti.n_participants = 2;
	ti.participants = tparts;
	s.coordinator_id = "c1";
	s.n_participants = 2;
	s.participants = pip;
	s.n_txns = 1;
	s.txns = tip;
	rep.body_case = XACT__REPLY__BODY_STATUS;
	rep.status = &s;
	out = reply_round_trip(&rep);
	assert_string_equal(out->status->coordinator_id, "c1");
	assert_int_equal(out->status->n_participants, 2);
	assert_string_equal(out->status->participants[1]->url, "ipc:///tmp/b.sock");
	assert_true(out->status->participants[0]->reachable);
	assert_true(out->status->participants[1]->has_reachable);
	assert_false(out->status->participants[1]->reachable);
	assert_int_equal(out->status->n_txns, 1);
	assert_string_equal(out->status->txns[0]->gid, "xact:c1:8");
	assert_string_equal(out->status->txns[0]->state, "committing");
	assert_int_equal(out->status->txns[0]->age_ms, 1234);
	assert_int_equal(out->status->txns[0]->n_participants, 2);
	assert_string_equal(out->status->txns[0]->participants[1], "b");
	xact__reply__free_unpacked(out, NULL);
}

static void
vote_reply_round_trips_every_vote_kind(void **state)
{
	const Xact__VoteKind kinds[] = {XACT__VOTE_KIND__VOTE_NO, XACT__VOTE_KIND__VOTE_YES,
		XACT__VOTE_KIND__VOTE_READ_ONLY};

	(void)state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
		Xact__Reply rep = XACT__REPLY__INIT, *out;
		Xact__VoteRep v = XACT__VOTE_REP__INIT;

		v.vote = kinds[i];
		v.reason = kinds[i] == XACT__VOTE_KIND__VOTE_NO ? "could not serialize" : NULL;
		rep.body_case = XACT__REPLY__BODY_VOTE;
		rep.vote = &v;
		out = reply_round_trip(&rep);
		assert_int_equal(out->vote->vote, kinds[i]);
		if (v.reason != NULL) {
			assert_string_equal(out->vote->reason, v.reason);
		} else {
			assert_null(out->vote->reason);
		}
		xact__reply__free_unpacked(out, NULL);
	}
}

static void
ack_reply_round_trips_outcome_and_detail(void **state)
{
	Xact__Reply rep = XACT__REPLY__INIT, *out;
	Xact__AckRep a = XACT__ACK_REP__INIT;

	(void)state;
	a.outcome = XACT__OUTCOME__OUTCOME_ABORTED;
	a.detail = "rolled back by gid";
	rep.body_case = XACT__REPLY__BODY_ACK;
	rep.ack = &a;
	out = reply_round_trip(&rep);
	assert_int_equal(out->ack->outcome, XACT__OUTCOME__OUTCOME_ABORTED);
	assert_string_equal(out->ack->detail, "rolled back by gid");
	xact__reply__free_unpacked(out, NULL);
}

static void
list_prepared_reply_round_trips_every_gid(void **state)
{
	Xact__Reply rep = XACT__REPLY__INIT, *out;
	Xact__ListPreparedRep l = XACT__LIST_PREPARED_REP__INIT;
	char *gids[3] = {"xact:c1:1", "xact:c1:20", "xact:c1:300"};

	(void)state;
	l.n_gids = 3;
	l.gids = gids;
	rep.body_case = XACT__REPLY__BODY_LIST_PREPARED;
	rep.list_prepared = &l;
	out = reply_round_trip(&rep);
	assert_int_equal(out->list_prepared->n_gids, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(out->list_prepared->gids[i], gids[i]);
	}
	xact__reply__free_unpacked(out, NULL);

	l.n_gids = 0; /* an empty list is a valid answer */
	l.gids = NULL;
	out = reply_round_trip(&rep);
	assert_int_equal(out->list_prepared->n_gids, 0);
	xact__reply__free_unpacked(out, NULL);
}

static void
error_reply_decodes_with_its_code_and_formatted_text(void **state)
{
	nng_msg *msg;
	Xact__Reply *out;
	char big[3000];

	(void)state;
	msg = wire_error_reply(XACT_ENOPART, "unknown participant '%s' (%d known)", "db9", 2);
	assert_non_null(msg);
	assert_int_equal(wire_unpack_reply(msg, &out), XACT_OK);
	assert_int_equal(out->body_case, XACT__REPLY__BODY_ERROR);
	assert_int_equal(out->error->code, XACT_ENOPART);
	assert_string_equal(out->error->message, "unknown participant 'db9' (2 known)");
	xact__reply__free_unpacked(out, NULL);
	nng_msg_free(msg);

	/* a long text is cut, never overflows, and still decodes */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	msg = wire_error_reply(XACT_EINTERNAL, "%s", big);
	assert_non_null(msg);
	assert_int_equal(wire_unpack_reply(msg, &out), XACT_OK);
	assert_int_equal(out->error->code, XACT_EINTERNAL);
	assert_true(strlen(out->error->message) > 0);
	assert_true(strlen(out->error->message) < sizeof(big) - 1);
	assert_int_equal(strspn(out->error->message, "x"), strlen(out->error->message));
	xact__reply__free_unpacked(out, NULL);
	nng_msg_free(msg);
}

/* ---- refusals ---- */

static void
another_protocol_version_is_refused_with_eversion(void **state)
{
	const uint32_t versions[] = {0, XACT_PROTOCOL_VERSION + 1, 0xffffffffu};

	(void)state;
	for (size_t i = 0; i < sizeof(versions) / sizeof(*versions); i++) {
		Xact__Request req = XACT__REQUEST__INIT, *rout = (Xact__Request *)(uintptr_t)1;
		Xact__CommitReq c = XACT__COMMIT_REQ__INIT;
		Xact__Reply rep = XACT__REPLY__INIT, *pout = (Xact__Reply *)(uintptr_t)1;
		Xact__BeginRep b = XACT__BEGIN_REP__INIT;
		nng_msg *msg;

		c.gid = "xact:c1:1";
		req.version = versions[i];
		req.body_case = XACT__REQUEST__BODY_COMMIT;
		req.commit = &c;
		msg = raw_request(&req);
		assert_int_equal(wire_unpack_request(msg, &rout), XACT_EVERSION);
		assert_null(rout);
		nng_msg_free(msg);

		b.gid = "xact:c1:1";
		rep.version = versions[i];
		rep.body_case = XACT__REPLY__BODY_BEGIN;
		rep.begin = &b;
		msg = raw_reply(&rep);
		assert_int_equal(wire_unpack_reply(msg, &pout), XACT_EVERSION);
		assert_null(pout);
		nng_msg_free(msg);
	}
}

static void
message_without_body_is_refused_with_eproto(void **state)
{
	Xact__Request req = XACT__REQUEST__INIT, *rout = (Xact__Request *)(uintptr_t)1;
	Xact__Reply rep = XACT__REPLY__INIT, *pout = (Xact__Reply *)(uintptr_t)1;
	nng_msg *msg;

	(void)state;
	msg = wire_pack_request(&req); /* version only */
	assert_non_null(msg);
	assert_int_equal(wire_unpack_request(msg, &rout), XACT_EPROTO);
	assert_null(rout);
	nng_msg_free(msg);

	msg = wire_pack_reply(&rep);
	assert_non_null(msg);
	assert_int_equal(wire_unpack_reply(msg, &pout), XACT_EPROTO);
	assert_null(pout);
	nng_msg_free(msg);
}

static void
empty_message_is_refused_with_eproto(void **state)
{
	nng_msg *msg = raw_msg(NULL, 0);

	(void)state;
	expect_eproto(msg, "empty message");
	nng_msg_free(msg);
}

static void
garbage_bytes_are_refused_with_eproto(void **state)
{
	static const struct {
		const char *what;
		const char *bytes;
		size_t len;
	} cases[] = {
		{"text", "hello, coordinator", 18},
		{"all ones", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11},
		{"one zero byte", "\x00", 1},
		{"field 0", "\x00\x01", 2},
		{"wire type 7", "\x0f\x01", 2},
		{"length past the end", "\x08\x01\x62\x7f\x0a", 5},
		{"endless varint", "\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80", 12},
		{"huge length", "\x08\x01\x62\xff\xff\xff\xff\x0f", 8},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		nng_msg *msg = raw_msg(cases[i].bytes, cases[i].len);

		expect_eproto(msg, cases[i].what);
		nng_msg_free(msg);
	}
}

static void
every_truncation_of_a_valid_message_is_refused_with_eproto(void **state)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__ExecReq e = XACT__EXEC_REQ__INIT;
	Xact__Statement st;
	Xact__Param *pp[3], params[3];
	nng_msg *full;
	Xact__Reply rep = XACT__REPLY__INIT;
	Xact__Error er = XACT__ERROR__INIT;

	(void)state;
	e.gid = "xact:c1:5";
	e.seq = 3;
	e.participant = "p";
	e.stmt = make_statement(&st, pp, params);
	req.body_case = XACT__REQUEST__BODY_EXEC;
	req.exec = &e;
	full = wire_pack_request(&req);
	assert_non_null(full);
	for (size_t n = 0; n < nng_msg_len(full); n++) {
		nng_msg *cut = raw_msg(nng_msg_body(full), n);
		Xact__Request *out = (Xact__Request *)(uintptr_t)1;
		int rv = wire_unpack_request(cut, &out);

		if (rv != XACT_EPROTO) {
			fail_msg("request cut to %zu of %zu bytes: %d", n, nng_msg_len(full), rv);
		}
		assert_null(out);
		nng_msg_free(cut);
	}
	nng_msg_free(full);

	er.code = XACT_ESQL;
	er.message = "relation \"accounts\" does not exist";
	rep.body_case = XACT__REPLY__BODY_ERROR;
	rep.error = &er;
	full = wire_pack_reply(&rep);
	assert_non_null(full);
	for (size_t n = 0; n < nng_msg_len(full); n++) {
		nng_msg *cut = raw_msg(nng_msg_body(full), n);
		Xact__Reply *out = (Xact__Reply *)(uintptr_t)1;
		int rv = wire_unpack_reply(cut, &out);

		if (rv != XACT_EPROTO) {
			fail_msg("reply cut to %zu of %zu bytes: %d", n, nng_msg_len(full), rv);
		}
		assert_null(out);
		nng_msg_free(cut);
	}
	nng_msg_free(full);
}

static void
body_missing_a_required_field_is_refused_with_eproto(void **state)
{
	/* version 1, then a CommitReq (field 12) with no gid: 08 01 62 00 */
	static const uint8_t req[] = {0x08, 0x01, 0x62, 0x00};
	/* version 1, then an Error (field 9) with a code but no message */
	static const uint8_t rep[] = {0x08, 0x01, 0x4a, 0x02, 0x08, 0x03};
	nng_msg *msg;
	Xact__Request *rout;
	Xact__Reply *pout;

	(void)state;
	msg = raw_msg(req, sizeof(req));
	assert_int_equal(wire_unpack_request(msg, &rout), XACT_EPROTO);
	assert_null(rout);
	nng_msg_free(msg);
	msg = raw_msg(rep, sizeof(rep));
	assert_int_equal(wire_unpack_reply(msg, &pout), XACT_EPROTO);
	assert_null(pout);
	nng_msg_free(msg);
}

static uint64_t rng = 0x243f6a8885a308d3ULL;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* Random damage to valid messages: every answer is a clean one. */
static void
randomly_damaged_messages_never_crash_and_decode_cleanly_or_not_at_all(void **state)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__ExecReq e = XACT__EXEC_REQ__INIT;
	Xact__Statement st;
	Xact__Param *pp[3], params[3];
	nng_msg *seed;
	uint8_t buf[512];
	size_t len;
	int ok = 0, refused = 0;

	(void)state;
	e.gid = "xact:c1:5";
	e.seq = 3;
	e.participant = "p";
	e.stmt = make_statement(&st, pp, params);
	req.body_case = XACT__REQUEST__BODY_EXEC;
	req.exec = &e;
	seed = wire_pack_request(&req);
	assert_non_null(seed);
	len = nng_msg_len(seed);
	assert_true(len < sizeof(buf));
	for (int round = 0; round < 20000; round++) {
		size_t n = len;
		int flips = 1 + (int)(rnd() % 4);
		nng_msg *msg;
		Xact__Request *rout = (Xact__Request *)(uintptr_t)1;
		Xact__Reply *pout = (Xact__Reply *)(uintptr_t)1;
		int rv;

		memcpy(buf, nng_msg_body(seed), len);
		for (int f = 0; f < flips; f++) {
			buf[rnd() % len] = (uint8_t)rnd();
		}
		if (rnd() % 4 == 0) {
			n = rnd() % (len + 1);
		}
		msg = raw_msg(buf, n);
		rv = wire_unpack_request(msg, &rout);
		if (rv == XACT_OK) {
			assert_non_null(rout);
			assert_int_equal(rout->version, XACT_PROTOCOL_VERSION);
			assert_int_not_equal(rout->body_case, XACT__REQUEST__BODY__NOT_SET);
			xact__request__free_unpacked(rout, NULL);
			ok++;
		} else {
			assert_true(rv == XACT_EPROTO || rv == XACT_EVERSION);
			assert_null(rout);
			refused++;
		}
		rv = wire_unpack_reply(msg, &pout);
		if (rv == XACT_OK) {
			assert_non_null(pout);
			assert_int_not_equal(pout->body_case, XACT__REPLY__BODY__NOT_SET);
			xact__reply__free_unpacked(pout, NULL);
		} else {
			assert_true(rv == XACT_EPROTO || rv == XACT_EVERSION);
			assert_null(pout);
		}
		nng_msg_free(msg);
	}
	nng_msg_free(seed);
	/* the damage must have been both survivable and detectable */
	assert_true(ok > 0);
	assert_true(refused > 0);
}

static void
unset_request_is_named_none(void **state)
{
	Xact__Request req = XACT__REQUEST__INIT;

	(void)state;
	assert_string_equal(wire_request_name(&req), "none");
}

static void
nng_errors_translate_to_xact_errors(void **state)
{
	(void)state;
	assert_int_equal(wire_nng_err(0), XACT_OK);
	assert_int_equal(wire_nng_err(NNG_ENOMEM), XACT_ENOMEM);
	assert_int_equal(wire_nng_err(NNG_ETIMEDOUT), XACT_ETIMEDOUT);
	assert_int_equal(wire_nng_err(NNG_ECONNREFUSED), XACT_EUNREACHABLE);
	assert_int_equal(wire_nng_err(NNG_ECONNRESET), XACT_EUNREACHABLE);
	assert_int_equal(wire_nng_err(NNG_ECLOSED), XACT_ECLOSED);
	assert_int_equal(wire_nng_err(NNG_ECANCELED), XACT_ECLOSED);
	assert_int_equal(wire_nng_err(NNG_EMSGSIZE), XACT_ETOOBIG);
	assert_int_equal(wire_nng_err(NNG_EINVAL), XACT_EINVAL);
}

/* ---- error names ---- */

static void
strerror_names_every_code_distinctly(void **state)
{
	(void)state;
	for (int e = 0; e < XACT_ERR_COUNT; e++) {
		const char *s = xact_strerror(e);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
		if (strcmp(s, "unknown error") == 0) {
			fail_msg("code %d has no name", e);
		}
		for (int f = 0; f < e; f++) {
			if (strcmp(s, xact_strerror(f)) == 0) {
				fail_msg("codes %d and %d share the name '%s'", f, e, s);
			}
		}
	}
	assert_string_equal(xact_strerror(XACT_OK), "success");
	assert_string_equal(xact_strerror(XACT_EVERSION), "unsupported protocol version");
	assert_string_equal(xact_strerror(XACT_EPROTO), "malformed message");
}

static void
strerror_of_an_out_of_range_code_is_unknown_error(void **state)
{
	const int bad[] = {-1, XACT_ERR_COUNT, XACT_ERR_COUNT + 1, 1000, INT_MAX, INT_MIN};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_string_equal(xact_strerror(bad[i]), "unknown error");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(begin_request_round_trips_with_token_and_protocol),
		cmocka_unit_test(exec_request_round_trips_with_statement_null_and_binary_params),
		cmocka_unit_test(gid_requests_round_trip_commit_rollback_prepare_branch_commit_and_abort),
		cmocka_unit_test(status_request_with_an_empty_body_round_trips),
		cmocka_unit_test(branch_exec_request_round_trips_with_branch_seq_and_statement),
		cmocka_unit_test(list_prepared_request_round_trips_with_its_prefix),
		cmocka_unit_test(begin_reply_round_trips_with_the_gid),
		cmocka_unit_test(exec_reply_round_trips_rows_nulls_affected_and_database_error),
		cmocka_unit_test(outcome_reply_round_trips_outcome_reason_and_pending),
		cmocka_unit_test(status_reply_round_trips_participants_and_transactions),
		cmocka_unit_test(vote_reply_round_trips_every_vote_kind),
		cmocka_unit_test(ack_reply_round_trips_outcome_and_detail),
		cmocka_unit_test(list_prepared_reply_round_trips_every_gid),
		cmocka_unit_test(error_reply_decodes_with_its_code_and_formatted_text),
		cmocka_unit_test(another_protocol_version_is_refused_with_eversion),
		cmocka_unit_test(message_without_body_is_refused_with_eproto),
		cmocka_unit_test(empty_message_is_refused_with_eproto),
		cmocka_unit_test(garbage_bytes_are_refused_with_eproto),
		cmocka_unit_test(every_truncation_of_a_valid_message_is_refused_with_eproto),
		cmocka_unit_test(body_missing_a_required_field_is_refused_with_eproto),
		cmocka_unit_test(randomly_damaged_messages_never_crash_and_decode_cleanly_or_not_at_all),
		cmocka_unit_test(unset_request_is_named_none),
		cmocka_unit_test(nng_errors_translate_to_xact_errors),
		cmocka_unit_test(strerror_names_every_code_distinctly),
		cmocka_unit_test(strerror_of_an_out_of_range_code_is_unknown_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
