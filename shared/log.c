/*
 * log.c - formats one line per call and writes it with a single write(2) so
 * that lines of concurrent threads never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char component[32] = "xact";
static int max_level = XLOG_INFO;
static const char *level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void
xlog_init(const char *name, int level)
{
	snprintf(component, sizeof(component), "%s", name);
	max_level = level;
}

int
xlog_level_parse(const char *s)
{
	for (int i = 0; i <= XLOG_DEBUG; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			return i;
		}
	}
	return -1;
}

void
xlog(int level, const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n;

	if (level > max_level) {
		return;
	}
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)(tv.tv_usec / 1000), component, level_names[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2) {
		n = (int)sizeof(line) - 2;
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}
