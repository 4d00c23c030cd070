/* config.c - INI loading on top of libinih, and strict value parsers. */
#include "config.h"

#include "log.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct load_state {
	config_handler fn;
	void *user;
	char *err;
	size_t errlen;
	int failed;
};

static int
on_value(void *arg, const char *section, const char *key, const char *value)
{
	struct load_state *ls = arg;

	if (ls->failed) {
		return 0;
	}
	if (ls->fn(ls->user, section, key, value, ls->err, ls->errlen) != 0) {
		ls->failed = 1;
		return 0; /* libinih reports the line number */
	}
	return 1;
}

static int
accept_all(void *arg, const char *section, const char *key, const char *value)
{
	(void)arg;
	(void)section;
	(void)key;
	(void)value;
	return 1;
}

int
config_load(const char *path, config_handler fn, void *user, char *err, size_t errlen)
{
	struct load_state ls = {fn, user, NULL, 0, 0};
	char why[512] = "";
	int line;

	ls.err = why;
	ls.errlen = sizeof(why);
	line = ini_parse(path, on_value, &ls);
	if (line == 0) {
		return 0;
	}
	if (line == -1) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
	} else if (line == -2) {
		snprintf(err, errlen, "%s: out of memory", path);
	} else if (!ls.failed || ini_parse(path, accept_all, NULL) == line) {
		/* libinih names the first bad line; when a syntax error comes
		 * before the first refused key, that line is the syntax error. */
		snprintf(err, errlen, "%s:%d: syntax error", path, line);
	} else {
		snprintf(err, errlen, "%s:%d: %s", path, line, why);
	}
	return -1;
}

int
config_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0') {
		return -1;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		return -1;
	}
	*out = v;
	return 0;
}

int
config_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32) {
		return 0;
	}
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789_-") == n;
}

int
config_copy(char *dst, size_t n, const char *src)
{
	if (strlen(src) >= n) {
		return -1;
	}
	strcpy(dst, src);
	return 0;
}

int
config_valid_url(const char *url)
{
	static const char *const schemes[] = {"tcp://", "ipc://", "tls+tcp://"};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(*schemes); i++) {
		size_t n = strlen(schemes[i]);

		if (strncmp(url, schemes[i], n) == 0 && url[n] != '\0') {
			return 1;
		}
	}
	return 0;
}

int
config_set_text(char *dst, size_t n, const char *key, const char *value, char *err,
    size_t errlen)
{
	if (*value == '\0' || config_copy(dst, n, value) != 0) {
		snprintf(err, errlen, "%s must be 1..%zu characters", key, n - 1);
		return -1;
	}
	return 0;
}

int
config_set_number(long *dst, const char *key, const char *value, long min, long max,
    long scale, const char *unit, char *err, size_t errlen)
{
	long v;

	if (config_parse_long(value, min, max, &v) != 0) {
		snprintf(err, errlen, "%s must be a whole number of %s in %ld..%ld, got '%s'", key,
		    unit, min, max, value);
		return -1;
	}
	*dst = v * scale;
	return 0;
}

int
config_set_log_level(int *dst, const char *value, char *err, size_t errlen)
{
	int level = xlog_level_parse(value);

	if (level < 0) {
		snprintf(err, errlen, "log_level must be error, warn, info or debug, got '%s'", value);
		return -1;
	}
	*dst = level;
	return 0;
}

int
config_set_name(char *dst, const char *key, const char *value, char *err, size_t errlen)
{
	if (!config_valid_name(value)) {
		snprintf(err, errlen, "%s must be 1-32 of A-Z a-z 0-9 _ -, got '%s'", key, value);
		return -1;
	}
	strcpy(dst, value);
	return 0;
}
