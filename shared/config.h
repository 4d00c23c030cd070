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

/* Setters shared by the daemons' INI keys: each checks value, stores it
 * in *dst and returns 0, or leaves *dst and returns -1 with a message in
 * err naming key. */
int config_set_text(char *dst, size_t n, const char *key, const char *value, char *err,
    size_t errlen);
/* A whole number in min..max, in the given unit ("seconds"), stored
 * multiplied by scale (1000 turns seconds into milliseconds). */
int config_set_number(long *dst, const char *key, const char *value, long min, long max,
    long scale, const char *unit, char *err, size_t errlen);
int config_set_log_level(int *dst, const char *value, char *err, size_t errlen);
/* A name (config_valid_name); dst holds at least 33 bytes. */
int config_set_name(char *dst, const char *key, const char *value, char *err, size_t errlen);

/* Copies src into dst (size n); -1 when it does not fit. */
int config_copy(char *dst, size_t n, const char *src);

#endif
