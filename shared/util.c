/* util.c - see util.h. */
#include "util.h"

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
