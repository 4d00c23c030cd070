/*
 * rawsend - sends raw bytes as one REQ message to an xact socket and prints
 * what came back, to test that malformed and oversized messages are
 * answered with an error or dropped, never a crash.
 *
 * usage: rawsend URL garbage|empty|version|nobody|exec1|exec2|commit|abort|outcome|big [BYTES]
 *        rawsend URL state|precommit GID BALLOT
 *        rawsend URL begin                     (prints "gid GID")
 *        rawsend URL run GID PARTICIPANT SQL   (a one-shot run of GID)
 *        rawsend URL runid HEX PARTICIPANT SQL (a one-shot run named by a run id:
 *                                               HEX is its bytes, 32 digits for a valid one)
 *        rawsend URL exec GID PARTICIPANT SQL  (a client's statement 1 of GID)
 *        rawsend URL onephase GID [3pc]        (a one-phase commit of GID's branch)
 *        rawsend URL prepare GID               (a two-phase PREPARE of it)
 *        rawsend URL outcome GID               (the coordinator's outcome, as xactctl
 *                                               asks; "branch-outcome GID": as an agent
 *                                               holding a branch of it, from_branch)
 *        rawsend URL batch GID...              (a batch of COMMITs; "batch +N" makes
 *                                               N gids xact:c9:1 ... xact:c9:N)
 * exec2 is a well-formed statement numbered 2 for a branch nobody began;
 * exec1 is statement 1 of a new branch that writes account 1; commit GID and
 * abort GID ask for a branch's outcome the way the coordinator does.
 * state and precommit are a three-phase commit leader's requests (ballot 0:
 * a question, or the coordinator's PRECOMMIT).
 * Prints "error CODE TEXT", "statement error TEXT", "branch STATE fresh=F
 * promised=P refused=R", "reply KIND", or "no reply: WHY"; exits 0.
 */
#include "wire.h"
#include "xact.h"

#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
	nng_socket s;
	nng_msg *msg;
	Xact__Reply *rep;
	const char *kind;
	int rv;

	if (argc < 3) {
		fprintf(stderr, "usage: rawsend URL garbage|empty|version|nobody|exec1|exec2|commit|abort|outcome|big [BYTES]\n"
		                "       rawsend URL state|precommit GID BALLOT\n"
		                "       rawsend URL begin | run GID PARTICIPANT SQL\n"
		                "       rawsend URL batch GID... | batch +N\n"
		                "       rawsend URL runid HEX PARTICIPANT SQL\n"
		                "       rawsend URL exec GID PARTICIPANT SQL\n"
		                "       rawsend URL onephase GID [3pc] | prepare GID\n");
		return 2;
	}
	kind = argv[2];
	if (nng_req0_open(&s) != 0 || nng_dial(s, argv[1], NULL, 0) != 0) {
		printf("no reply: cannot connect\n");
		return 0;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 3000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 3000);
	if (strcmp(kind, "garbage") == 0) {
		nng_msg_alloc(&msg, 0);
		nng_msg_append(msg, "\xff\xfe\x01garbage\x00\x99", 12);
	} else if (strcmp(kind, "empty") == 0) {
		nng_msg_alloc(&msg, 0);
	} else if (strcmp(kind, "version") == 0 || strcmp(kind, "nobody") == 0) {
		Xact__Request req = XACT__REQUEST__INIT;
		Xact__StatusReq st = XACT__STATUS_REQ__INIT;
		size_t len;

		if (strcmp(kind, "version") == 0) {
			req.body_case = XACT__REQUEST__BODY_STATUS;
			req.status = &st;
		}
		req.version = 99;
		len = xact__request__get_packed_size(&req);
		nng_msg_alloc(&msg, len);
		xact__request__pack(&req, nng_msg_body(msg));
		if (strcmp(kind, "nobody") == 0) {
			/* version 1, no body */
			nng_msg_free(msg);
			req.version = XACT_PROTOCOL_VERSION;
			len = xact__request__get_packed_size(&req);
			nng_msg_alloc(&msg, len);
			xact__request__pack(&req, nng_msg_body(msg));
		}
	} else if ((strcmp(kind, "outcome") == 0 || strcmp(kind, "branch-outcome") == 0) &&
	    argc > 3) {
		Xact__Request req = XACT__REQUEST__INIT;
		Xact__OutcomeReq oq = XACT__OUTCOME_REQ__INIT;

		oq.gid = argv[3];
		oq.has_from_branch = oq.from_branch = kind[0] == 'b';
		req.body_case = XACT__REQUEST__BODY_OUTCOME;
		req.outcome = &oq;
		msg = wire_pack_request(&req);
	} else if (strcmp(kind, "begin") == 0) {
		Xact__Request req = XACT__REQUEST__INIT;
		Xact__BeginReq b = XACT__BEGIN_REQ__INIT;

		b.token = 0;
		req.body_case = XACT__REQUEST__BODY_BEGIN;
		req.begin = &b;
		msg = wire_pack_request(&req);
	} else if ((strcmp(kind, "run") == 0 || strcmp(kind, "runid") == 0) && argc > 5) {
		Xact__Request req = XACT__REQUEST__INIT;
		Xact__RunReq run = XACT__RUN_REQ__INIT;
		Xact__RunStmt rs = XACT__RUN_STMT__INIT, *rp[1] = {&rs};
		Xact__Statement st = XACT__STATEMENT__INIT;
		uint8_t id[64];
		size_t n = 0;

		if (strcmp(kind, "run") == 0) {
			run.gid = argv[3];
		} else { /* a run id: the bytes of the hex digits */
			for (const char *h = argv[3]; h[0] != '\0' && h[1] != '\0' && n < sizeof(id);
			     h += 2) {
				unsigned v;

				sscanf(h, "%2x", &v);
				id[n++] = (uint8_t)v;
			}
			run.has_run_id = 1;
			run.run_id.data = id;
			run.run_id.len = n;
		}
		st.sql = argv[5];
		rs.participant = argv[4];
		rs.stmt = &st;
		run.n_stmts = 1;
		run.stmts = rp;
		req.body_case = XACT__REQUEST__BODY_RUN;
		req.run = &run;
		msg = wire_pack_request(&req);
	} else if ((strcmp(kind, "state") == 0 || strcmp(kind, "precommit") == 0) && argc > 4) {
		Xact__Request req = XACT__REQUEST__INIT;
		Xact__TermStateReq ts = XACT__TERM_STATE_REQ__INIT;
		Xact__PrecommitReq pc = XACT__PRECOMMIT_REQ__INIT;
		uint64_t ballot = strtoull(argv[4], NULL, 10);

		if (kind[0] == 's') {
			ts.gid = argv[3];
			ts.has_ballot = 1;
			ts.ballot = ballot;
			req.body_case = XACT__REQUEST__BODY_TERM_STATE;
			req.term_state = &ts;
		} else {
			pc.gid = argv[3];
			pc.has_ballot = ballot != 0;
			pc.ballot = ballot;
			req.body_case = XACT__REQUEST__BODY_PRECOMMIT;
			req.precommit = &pc;
		}
		msg = wire_pack_request(&req);
	} else if ((strcmp(kind, "commit") == 0 || strcmp(kind, "abort") == 0) && argc > 3) {
		Xact__Request req = XACT__REQUEST__INIT;
		Xact__BranchCommitReq bc = XACT__BRANCH_COMMIT_REQ__INIT;
		Xact__BranchAbortReq ba = XACT__BRANCH_ABORT_REQ__INIT;

		if (kind[0] == 'c') {
			bc.gid = argv[3];
			req.body_case = XACT__REQUEST__BODY_BRANCH_COMMIT;
			req.branch_commit = &bc;
		} else {
			ba.gid = argv[3];
			req.body_case = XACT__REQUEST__BODY_BRANCH_ABORT;
			req.branch_abort = &ba;
		}
		msg = wire_pack_request(&req);
	} else if ((strcmp(kind, "onephase") == 0 || strcmp(kind, "prepare") == 0) && argc > 3) {
		Xact__Request req = XACT__REQUEST__INIT;
		Xact__PrepareReq pr = XACT__PREPARE_REQ__INIT;

		pr.gid = argv[3];
		pr.has_one_phase = pr.one_phase = kind[0] == 'o';
		if (argc > 4 && strcmp(argv[4], "3pc") == 0) {
			pr.has_protocol = 1;
			pr.protocol = XACT__PROTOCOL__PROTOCOL_3PC;
		}
		req.body_case = XACT__REQUEST__BODY_PREPARE;
		req.prepare = &pr;
		msg = wire_pack_request(&req);
	} else if (strcmp(kind, "exec") == 0 && argc > 5) {
		Xact__Request req = XACT__REQUEST__INIT;
		Xact__ExecReq ex = XACT__EXEC_REQ__INIT;
		Xact__Statement st = XACT__STATEMENT__INIT;

		st.sql = argv[5];
		ex.gid = argv[3];
		ex.seq = 1;
		ex.participant = argv[4];
		ex.stmt = &st;
		req.body_case = XACT__REQUEST__BODY_EXEC;
		req.exec = &ex;
		msg = wire_pack_request(&req);
	} else if (strcmp(kind, "batch") == 0 && argc > 3) {
		Xact__Request req = XACT__REQUEST__INIT;
		Xact__BranchCommitBatchReq bb = XACT__BRANCH_COMMIT_BATCH_REQ__INIT;
		size_t n = argv[3][0] == '+' ? strtoul(argv[3] + 1, NULL, 10) : (size_t)(argc - 3);
		char **gids = calloc(n + 1, sizeof(char *));

		for (size_t i = 0; gids != NULL && i < n; i++) {
			if (argv[3][0] == '+') {
				gids[i] = malloc(32);
				snprintf(gids[i], 32, "xact:c9:%zu", i + 1);
			} else {
				gids[i] = argv[3 + i];
			}
		}
		bb.n_gids = n;
		bb.gids = gids;
		req.body_case = XACT__REQUEST__BODY_BRANCH_COMMIT_BATCH;
		req.branch_commit_batch = &bb;
		msg = wire_pack_request(&req);
	} else if (strcmp(kind, "exec2") == 0 || strcmp(kind, "exec1") == 0) {
		Xact__Request req = XACT__REQUEST__INIT;
		Xact__BranchExecReq be = XACT__BRANCH_EXEC_REQ__INIT;
		Xact__Statement st = XACT__STATEMENT__INIT;
		int first = strcmp(kind, "exec1") == 0;

		st.sql = first ? "UPDATE accounts SET balance = balance + 1 WHERE id = 1"
		               : "INSERT INTO ledger (xfer, amount) VALUES (4, 1)";
		be.gid = first ? "xact:c1:999998" : "xact:c1:999999";
		be.seq = first ? 1 : 2;
		be.stmt = &st;
		req.body_case = XACT__REQUEST__BODY_BRANCH_EXEC;
		req.branch_exec = &be;
		msg = wire_pack_request(&req);
	} else {
		size_t n = argc > 3 ? strtoul(argv[3], NULL, 10) : 8u << 20;

		nng_msg_alloc(&msg, n);
		memset(nng_msg_body(msg), 'x', n);
	}
	if ((rv = nng_sendmsg(s, msg, 0)) != 0) {
		nng_msg_free(msg);
		printf("no reply: send: %s\n", nng_strerror(rv));
		return 0;
	}
	if ((rv = nng_recvmsg(s, &msg, 0)) != 0) {
		printf("no reply: %s\n", nng_strerror(rv));
		return 0;
	}
	if ((rv = wire_unpack_reply(msg, &rep)) != XACT_OK) {
		printf("undecodable reply: %s\n", xact_strerror(rv));
	} else if (rep->body_case == XACT__REPLY__BODY_ERROR) {
		printf("error %u %s\n", rep->error->code, rep->error->message);
		xact__reply__free_unpacked(rep, NULL);
	} else if (rep->body_case == XACT__REPLY__BODY_OUTCOME) {
		printf("outcome %s%s%s\n", rep->outcome->outcome == XACT__OUTCOME__OUTCOME_COMMITTED
		                           ? "committed"
		    : rep->outcome->outcome == XACT__OUTCOME__OUTCOME_ABORTED ? "aborted" : "unknown",
		    rep->outcome->gid ? " " : "", rep->outcome->gid ? rep->outcome->gid : "");
		xact__reply__free_unpacked(rep, NULL);
	} else if (rep->body_case == XACT__REPLY__BODY_ACK) {
		printf("ack %s%s%s\n", rep->ack->outcome == XACT__OUTCOME__OUTCOME_COMMITTED
		                          ? "committed" : "aborted",
		    rep->ack->detail ? " " : "", rep->ack->detail ? rep->ack->detail : "");
		xact__reply__free_unpacked(rep, NULL);
	} else if (rep->body_case == XACT__REPLY__BODY_BATCH) {
		/* One line per gid: "N: ack ..." or "N: error CODE TEXT". */
		for (size_t i = 0; i < rep->batch->n_replies; i++) {
			Xact__Reply *one;

			if (wire_unpack_reply_bytes(rep->batch->replies[i].data,
			        rep->batch->replies[i].len, &one) != XACT_OK) {
				printf("%zu: undecodable\n", i + 1);
				continue;
			}
			if (one->body_case == XACT__REPLY__BODY_ACK) {
				printf("%zu: ack %s%s%s\n", i + 1,
				    one->ack->outcome == XACT__OUTCOME__OUTCOME_COMMITTED ? "committed"
				                                                          : "aborted",
				    one->ack->detail ? " " : "", one->ack->detail ? one->ack->detail : "");
			} else if (one->body_case == XACT__REPLY__BODY_ERROR) {
				printf("%zu: error %u %s\n", i + 1, one->error->code, one->error->message);
			} else {
				printf("%zu: reply %d\n", i + 1, (int)one->body_case);
			}
			xact__reply__free_unpacked(one, NULL);
		}
		xact__reply__free_unpacked(rep, NULL);
	} else if (rep->body_case == XACT__REPLY__BODY_VOTE) {
		static const char *const votes[] = {"no", "yes", "read-only", "committed"};

		printf("vote %s%s%s\n", (unsigned)rep->vote->vote < 4 ? votes[rep->vote->vote] : "?",
		    rep->vote->reason ? " " : "", rep->vote->reason ? rep->vote->reason : "");
		xact__reply__free_unpacked(rep, NULL);
	} else if (rep->body_case == XACT__REPLY__BODY_BEGIN) {
		printf("gid %s\n", rep->begin->gid);
		xact__reply__free_unpacked(rep, NULL);
	} else if (rep->body_case == XACT__REPLY__BODY_BRANCH_STATE) {
		static const char *const names[] = {"none", "active", "prepared", "committed",
			"aborted", "read-only", "precommitted"};
		const Xact__BranchStateRep *b = rep->branch_state;

		printf("branch %s fresh=%d promised=%llu refused=%d\n",
		    (unsigned)b->state < 7 ? names[b->state] : "?", b->fresh ? 1 : 0,
		    (unsigned long long)b->promised, b->refused ? 1 : 0);
		xact__reply__free_unpacked(rep, NULL);
	} else if (rep->body_case == XACT__REPLY__BODY_EXEC && rep->exec->result->error != NULL) {
		printf("statement error %s\n", rep->exec->result->error);
		xact__reply__free_unpacked(rep, NULL);
	} else {
		printf("reply %d\n", rep->body_case);
		xact__reply__free_unpacked(rep, NULL);
	}
	nng_msg_free(msg);
	nng_close(s);
	return 0;
}
