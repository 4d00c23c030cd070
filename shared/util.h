/*
 * util.h - two small helpers both daemons need: a monotonic clock for
 * timeouts and the string hash of their gid tables.
 */
#ifndef XACT_UTIL_H
#define XACT_UTIL_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: for intervals, never for dates. */
int64_t util_now_ms(void);
/* Wall-clock milliseconds since 1970 (for values that must grow across
 * restarts, such as termination ballots). */
int64_t util_wall_ms(void);

/* FNV-1a of s. */
unsigned util_hash(const char *s);

#endif
