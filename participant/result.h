/*
 * result.h - builds the reply to one branch statement (Reply{exec}) from
 * rows given as text, for every backend.  The builder copies what it is
 * given, so a backend may free its own result at once.
 */
#ifndef XACT_RESULT_H
#define XACT_RESULT_H

#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

struct result;

/* Starts a result of ncols columns; NULL when out of memory. */
struct result *result_new(size_t ncols);
/* Names column col (copied).  Returns 0, or -1 when out of memory. */
int result_set_column(struct result *r, size_t col, const char *name);
/* Appends a row and sets its values with result_set_value.  -1: no memory. */
int result_add_row(struct result *r);
/* Sets a value of the last row; data NULL means SQL NULL.  -1: no memory. */
int result_set_value(struct result *r, size_t col, const void *data, size_t len);
void result_set_affected(struct result *r, uint64_t affected);
/* Packs the reply and frees r.  A reply over max_message bytes becomes a
 * "result too large" error.  NULL when out of memory. */
nng_msg *result_finish(struct result *r, size_t max_message);
void result_free(struct result *r);

/* A reply that carries a statement error, as the database gave it. */
nng_msg *result_error(const char *msg, const char *sqlstate);

#endif
