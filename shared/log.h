/*
 * log.h - the one logging module.  Lines go to stderr as
 *   2026-11-26T23:59:01.123Z coordinator INFO message key=value ...
 * Protocol lines carry gid= and state= fields by convention.
 * Thread-safe; never blocks for longer than one write(2).
 */
#ifndef XACT_LOG_H
#define XACT_LOG_H

enum xlog_level { XLOG_ERROR = 0, XLOG_WARN, XLOG_INFO, XLOG_DEBUG };

/* Sets the component name (copied) and the most verbose level printed. */
void xlog_init(const char *component, int level);
/* Parses "error|warn|info|debug"; returns -1 when unknown. */
int xlog_level_parse(const char *s);
void xlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) xlog(XLOG_ERROR, __VA_ARGS__)
#define log_warn(...) xlog(XLOG_WARN, __VA_ARGS__)
#define log_info(...) xlog(XLOG_INFO, __VA_ARGS__)
#define log_debug(...) xlog(XLOG_DEBUG, __VA_ARGS__)

#endif
