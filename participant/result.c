/*
 * result.c - the statement reply builder.  Rows grow by doubling; every
 * value is one malloc'd copy so that the protobuf structures can point at it.
 */
#include "result.h"

#include "wire.h"

#include <stdlib.h>
#include <string.h>

struct result {
	size_t ncols, nrows, cap;
	char **cols;
	Xact__Param *vals; /* nrows * ncols */
	uint64_t affected;
};

struct result *
result_new(size_t ncols)
{
	struct result *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->cols = calloc(ncols + 1, sizeof(char *))) == NULL) {
		free(r);
		return NULL;
	}
	r->ncols = ncols;
	return r;
}

int
result_set_column(struct result *r, size_t col, const char *name)
{
	if (col >= r->ncols || (r->cols[col] = strdup(name ? name : "?")) == NULL) {
		return -1;
	}
	return 0;
}

int
result_add_row(struct result *r)
{
	if (r->nrows == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		Xact__Param *v = realloc(r->vals, cap * (r->ncols ? r->ncols : 1) * sizeof(*v));

		if (v == NULL) {
			return -1;
		}
		r->vals = v;
		r->cap = cap;
	}
	for (size_t j = 0; j < r->ncols; j++) {
		xact__param__init(&r->vals[r->nrows * r->ncols + j]);
	}
	r->nrows++;
	return 0;
}

int
result_set_value(struct result *r, size_t col, const void *data, size_t len)
{
	Xact__Param *v;

	if (r->nrows == 0 || col >= r->ncols) {
		return -1;
	}
	v = &r->vals[(r->nrows - 1) * r->ncols + col];
	if (data == NULL) {
		return 0;
	}
	if ((v->value.data = malloc(len + 1)) == NULL) {
		return -1;
	}
	memcpy(v->value.data, data, len);
	v->value.len = len;
	v->has_value = 1;
	return 0;
}

void
result_set_affected(struct result *r, uint64_t affected)
{
	r->affected = affected;
}

static nng_msg *
pack(Xact__Result *res)
{
	Xact__Reply rep = XACT__REPLY__INIT;
	Xact__ExecRep er = XACT__EXEC_REP__INIT;

	er.result = res;
	rep.body_case = XACT__REPLY__BODY_EXEC;
	rep.exec = &er;
	return wire_pack_reply(&rep);
}

nng_msg *
result_error(const char *msg, const char *sqlstate)
{
	Xact__Result res = XACT__RESULT__INIT;

	res.error = (char *)msg;
	res.sqlstate = (char *)sqlstate;
	return pack(&res);
}

nng_msg *
result_finish(struct result *r, size_t max_message)
{
	Xact__Result res = XACT__RESULT__INIT;
	Xact__Row *rows = calloc(r->nrows + 1, sizeof(*rows));
	Xact__Row **rowp = calloc(r->nrows + 1, sizeof(*rowp));
	Xact__Param **valp = calloc(r->nrows * r->ncols + 1, sizeof(*valp));
	nng_msg *msg = NULL;

	if (rows != NULL && rowp != NULL && valp != NULL) {
		for (size_t i = 0; i < r->nrows * r->ncols; i++) {
			valp[i] = &r->vals[i];
		}
		for (size_t i = 0; i < r->nrows; i++) {
			xact__row__init(&rows[i]);
			rows[i].n_values = r->ncols;
			rows[i].values = &valp[i * r->ncols];
			rowp[i] = &rows[i];
		}
		res.n_columns = r->ncols;
		res.columns = r->cols;
		res.n_rows = r->nrows;
		res.rows = rowp;
		res.has_affected = 1;
		res.affected = r->affected;
		if (protobuf_c_message_get_packed_size(&res.base) + 64 > max_message) {
			msg = result_error("result too large for one message", "54000");
		} else {
			msg = pack(&res);
		}
	}
	free(rows);
	free(rowp);
	free(valp);
	result_free(r);
	return msg;
}

void
result_free(struct result *r)
{
	if (r == NULL) {
		return;
	}
	for (size_t i = 0; i < r->ncols; i++) {
		free(r->cols[i]);
	}
	for (size_t i = 0; i < r->nrows * r->ncols; i++) {
		free(r->vals[i].value.data);
	}
	free(r->cols);
	free(r->vals);
	free(r);
}
