/*
 * wire.c - protobuf-c <-> nng_msg.  Messages are packed straight into the
 * nng message body: one allocation, no copy.
 */
#include "wire.h"

#include "term.h"
#include "xact.h"

#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static nng_msg *
pack(const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	nng_msg *msg;

	if (nng_msg_alloc(&msg, len) != 0) {
		return NULL;
	}
	protobuf_c_message_pack(m, nng_msg_body(msg));
	return msg;
}

nng_msg *
wire_pack_request(Xact__Request *req)
{
	req->version = XACT_PROTOCOL_VERSION;
	return pack(&req->base);
}

nng_msg *
wire_pack_reply(Xact__Reply *rep)
{
	rep->version = XACT_PROTOCOL_VERSION;
	return pack(&rep->base);
}

nng_msg *
wire_error_reply(int code, const char *fmt, ...)
{
	char text[1024];
	Xact__Reply rep = XACT__REPLY__INIT;
	Xact__Error err = XACT__ERROR__INIT;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	err.code = (uint32_t)code;
	err.message = text;
	rep.body_case = XACT__REPLY__BODY_ERROR;
	rep.error = &err;
	return wire_pack_reply(&rep);
}

int
wire_unpack_request(nng_msg *msg, Xact__Request **out)
{
	Xact__Request *req = xact__request__unpack(NULL, nng_msg_len(msg),
	    nng_msg_body(msg));

	*out = NULL;
	if (req == NULL) {
		return XACT_EPROTO;
	}
	if (req->version != XACT_PROTOCOL_VERSION) {
		xact__request__free_unpacked(req, NULL);
		return XACT_EVERSION;
	}
	if (req->body_case == XACT__REQUEST__BODY__NOT_SET) {
		xact__request__free_unpacked(req, NULL);
		return XACT_EPROTO;
	}
	*out = req;
	return XACT_OK;
}

int
wire_unpack_reply(nng_msg *msg, Xact__Reply **out)
{
	return wire_unpack_reply_bytes(nng_msg_body(msg), nng_msg_len(msg), out);
}

int
wire_unpack_reply_bytes(const void *data, size_t len, Xact__Reply **out)
{
	Xact__Reply *rep = xact__reply__unpack(NULL, len, data);

	*out = NULL;
	if (rep == NULL) {
		return XACT_EPROTO;
	}
	if (rep->version != XACT_PROTOCOL_VERSION) {
		xact__reply__free_unpacked(rep, NULL);
		return XACT_EVERSION;
	}
	if (rep->body_case == XACT__REPLY__BODY__NOT_SET) {
		xact__reply__free_unpacked(rep, NULL);
		return XACT_EPROTO;
	}
	*out = rep;
	return XACT_OK;
}

int
wire_socket_setup(nng_socket s, size_t max_msg)
{
	int rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ,
	    max_msg ? max_msg : WIRE_DEFAULT_MAX_MSG);

	return rv == 0 ? XACT_OK : wire_nng_err(rv);
}

int
wire_nng_err(int rv)
{
	switch (rv) {
	case 0:
		return XACT_OK;
	case NNG_ENOMEM:
		return XACT_ENOMEM;
	case NNG_ETIMEDOUT:
		return XACT_ETIMEDOUT;
	case NNG_ECONNREFUSED:
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_EADDRINVAL:
	case NNG_EUNREACHABLE:
		return XACT_EUNREACHABLE;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return XACT_ECLOSED;
	case NNG_EMSGSIZE:
		return XACT_ETOOBIG;
	case NNG_EINVAL:
	case NNG_ENOTSUP:
		return XACT_EINVAL;
	default:
		return XACT_EUNREACHABLE;
	}
}

int
wire_call(nng_socket s, Xact__Request *req, Xact__Reply **out, int timeout_ms)
{
	nng_ctx ctx;
	nng_aio *aio = NULL;
	nng_msg *msg;
	int rv;

	*out = NULL;
	if ((msg = wire_pack_request(req)) == NULL) {
		return XACT_ENOMEM;
	}
	if ((rv = nng_ctx_open(&ctx, s)) != 0) {
		nng_msg_free(msg);
		return wire_nng_err(rv);
	}
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		nng_msg_free(msg);
		goto err;
	}
	nng_aio_set_timeout(aio, timeout_ms);
	nng_aio_set_msg(aio, msg);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		nng_msg_free(msg); /* the send did not take ownership */
		goto err;
	}
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		goto err;
	}
	msg = nng_aio_get_msg(aio);
	rv = wire_unpack_reply(msg, out);
	nng_msg_free(msg);
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return rv;
err:
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return wire_nng_err(rv);
}

const char *
wire_request_name(const Xact__Request *req)
{
	switch (req->body_case) {
	case XACT__REQUEST__BODY_BEGIN: return "begin";
	case XACT__REQUEST__BODY_EXEC: return "exec";
	case XACT__REQUEST__BODY_COMMIT: return "commit";
	case XACT__REQUEST__BODY_ROLLBACK: return "rollback";
	case XACT__REQUEST__BODY_STATUS: return "status";
	case XACT__REQUEST__BODY_OUTCOME: return "outcome";
	case XACT__REQUEST__BODY_RESOLVE: return "resolve";
	case XACT__REQUEST__BODY_BRANCH_EXEC: return "branch_exec";
	case XACT__REQUEST__BODY_PREPARE: return "prepare";
	case XACT__REQUEST__BODY_BRANCH_COMMIT: return "branch_commit";
	case XACT__REQUEST__BODY_BRANCH_ABORT: return "branch_abort";
	case XACT__REQUEST__BODY_LIST_PREPARED: return "list_prepared";
	case XACT__REQUEST__BODY_PRECOMMIT: return "precommit";
	case XACT__REQUEST__BODY_TERM_STATE: return "term_state";
	case XACT__REQUEST__BODY_RUN: return "run";
	case XACT__REQUEST__BODY_BRANCH_RUN: return "branch_run";
	case XACT__REQUEST__BODY_BRANCH_COMMIT_BATCH: return "branch_commit_batch";
	default: return "none";
	}
}

/* What a BranchStateRep says, into ans.  An Error means alive but unable
 * to serve (busy); anything malformed counts as no answer. */
static void
term_answer_of(const Xact__Reply *rep, struct term_answer *ans)
{
	if (rep->body_case == XACT__REPLY__BODY_ERROR) {
		ans->busy = 1;
		return;
	}
	if (rep->body_case != XACT__REPLY__BODY_BRANCH_STATE ||
	    (unsigned)rep->branch_state->state > BR_PRECOMMITTED ||
	    rep->branch_state->promised >= TERM_BALLOT_LIMIT) {
		return;
	}
	ans->reached = 1;
	ans->state = (enum branch_state)rep->branch_state->state;
	ans->fresh = rep->branch_state->fresh;
	ans->promised = rep->branch_state->promised;
	ans->refused = rep->branch_state->refused;
}

void
wire_run_gid(char *out, size_t n, const char *prefix, const uint8_t id[16])
{
	size_t off = (size_t)snprintf(out, n, "%sr", prefix);

	for (size_t i = 0; i < 16 && off + 2 < n; i++, off += 2) {
		snprintf(out + off, n - off, "%02x", id[i]);
	}
}

int
wire_term_call(nng_socket s, int call, const char *gid, uint64_t ballot, int timeout_ms,
    struct term_answer *ans, char *why, size_t n)
{
	Xact__Request req = XACT__REQUEST__INIT;
	Xact__TermStateReq ts = XACT__TERM_STATE_REQ__INIT;
	Xact__PrecommitReq pc = XACT__PRECOMMIT_REQ__INIT;
	Xact__BranchCommitReq bc = XACT__BRANCH_COMMIT_REQ__INIT;
	Xact__BranchAbortReq ba = XACT__BRANCH_ABORT_REQ__INIT;
	Xact__Reply *rep;
	int rv;

	memset(ans, 0, sizeof(*ans));
	switch ((enum term_call)call) {
	case TERM_CALL_STATE:
		ts.gid = (char *)gid, ts.has_ballot = 1, ts.ballot = ballot;
		req.body_case = XACT__REQUEST__BODY_TERM_STATE;
		req.term_state = &ts;
		break;
	case TERM_CALL_PRECOMMIT:
		pc.gid = (char *)gid, pc.has_ballot = 1, pc.ballot = ballot;
		req.body_case = XACT__REQUEST__BODY_PRECOMMIT;
		req.precommit = &pc;
		break;
	case TERM_CALL_COMMIT:
		bc.gid = (char *)gid, bc.has_ballot = 1, bc.ballot = ballot;
		req.body_case = XACT__REQUEST__BODY_BRANCH_COMMIT;
		req.branch_commit = &bc;
		break;
	case TERM_CALL_ABORT:
		ba.gid = (char *)gid, ba.has_ballot = 1, ba.ballot = ballot;
		req.body_case = XACT__REQUEST__BODY_BRANCH_ABORT;
		req.branch_abort = &ba;
		break;
	}
	if ((rv = wire_call(s, &req, &rep, timeout_ms)) != XACT_OK) {
		snprintf(why, n, "no answer: %s", xact_strerror(rv));
		return rv;
	}
	term_answer_of(rep, ans);
	snprintf(why, n, "%s", rep->body_case == XACT__REPLY__BODY_ERROR ? rep->error->message
	                       : ans->reached ? "answered" : "a malformed answer");
	xact__reply__free_unpacked(rep, NULL);
	return XACT_OK;
}
