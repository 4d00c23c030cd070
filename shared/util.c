/* util.c - see util.h. */
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned
util_hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s) {
		h = (h ^ (unsigned char)*s++) * 16777619u;
	}
	return h;
}

int
util_gid_number(const char *gid, uint64_t *n)
{
	const char *t = strrchr(gid, ':');
	char *end;

	if (t == NULL || *++t == '\0') {
		return 0;
	}
	if (*t == 'r') {
		return t[1] != '\0' && strspn(t + 1, "0123456789abcdef") == strlen(t + 1) ? 2 : 0;
	}
	if (*t == '0' || strspn(t, "0123456789") != strlen(t)) {
		return 0;
	}
	errno = 0;
	*n = strtoull(t, &end, 10);
	return errno == 0 ? 1 : 0;
}
