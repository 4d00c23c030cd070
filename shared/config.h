/*
 * config.h - helpers shared by the daemons' configuration: INI files read
 * with libinih, values checked strictly.  A bad value is an error with the
 * file, line and key named, never a silent default.
 */
#ifndef XACT_CONFIG_H
#define XACT_CONFIG_H

#include <stddef.h>

/* Handler: returns 0 when the (section, key) is accepted, else fills err. */
typedef int (*config_handler)(void *user, const char *section, const char *key,
    const char *value, char *err, size_t errlen);

/* Reads path.  Returns 0, or -1 with "PATH:LINE: why" in err. */
int config_load(const char *path, config_handler fn, void *user, char *err, size_t errlen);

/* Parses a whole decimal number in [min, max]; -1 when not. */
int config_parse_long(const char *s, long min, long max, long *out);

/* Checks a name: 1-32 of [A-Za-z0-9_-].  Returns 1 when valid. */
int config_valid_name(const char *s);

/* Checks a transport URL: tcp://, ipc:// or tls+tcp:// and an address.
 * Returns 1 when valid. */
int config_valid_url(const char *url);

/* Copies src into dst (size n); -1 when it does not fit. */
int config_copy(char *dst, size_t n, const char *src);

#endif
