/* err.c - the one table that names xact_err codes. */
#include "xact.h"

static const char *const names[XACT_ERR_COUNT] = {
	[XACT_OK] = "success",
	[XACT_EINVAL] = "invalid argument",
	[XACT_ENOMEM] = "out of memory",
	[XACT_EPROTO] = "malformed message",
	[XACT_EVERSION] = "unsupported protocol version",
	[XACT_ETOOBIG] = "message too large",
	[XACT_EUNREACHABLE] = "peer unreachable",
	[XACT_ETIMEDOUT] = "timed out",
	[XACT_ENOTFOUND] = "unknown transaction",
	[XACT_ENOPART] = "unknown participant",
	[XACT_ESQL] = "statement failed",
	[XACT_EABORTED] = "transaction aborted",
	[XACT_ESTATE] = "not allowed in this state",
	[XACT_EJOURNAL] = "journal error",
	[XACT_EDB] = "database error",
	[XACT_ECONFIG] = "bad configuration",
	[XACT_EFAILPOINT] = "injected failure",
	[XACT_ECLOSED] = "closed",
	[XACT_EINTERNAL] = "internal error",
};

const char *
xact_strerror(int err)
{
	if (err < 0 || err >= XACT_ERR_COUNT || names[err] == NULL) {
		return "unknown error";
	}
	return names[err];
}
