/*
 * util.h - small helpers both daemons need: clocks, the string hash of
 * their gid tables, and what ends a gid.
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

/* What follows a gid's last ':' ("xact:<id>:<n>", or "xact:<id>:r<hex>"):
 * 1 and *n for a number (decimal, no leading zero, no overflow), 2 for a
 * run id ('r' and lowercase hex digits), 0 for anything else. */
int util_gid_number(const char *gid, uint64_t *n);

#endif
