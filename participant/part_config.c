/*
 * part_config.c - the participant's settings: defaults, INI keys, checks.
 * Unknown sections and keys are errors.
 */
#include "config.h"
#include "log.h"
#include "part.h"

#include <stdio.h>
#include <string.h>

void
part_config_defaults(struct part_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 128;
	cfg->pool_size = 64;
	cfg->branch_timeout_ms = 300000;
	cfg->lock_timeout_ms = 2000;
	cfg->statement_timeout_ms = 5000;
	cfg->marker_retention_ms = 86400000;
	cfg->recovery_interval_ms = 10000;
	cfg->orphan_grace_ms = 60000;
	cfg->max_message = 4 * 1024 * 1024;
	cfg->log_level = XLOG_INFO;
	cfg->termination_timeout_ms = 5000;
}

static int
set_int(int *dst, const char *key, const char *value, long min, long max, const char *unit,
    char *err, size_t errlen)
{
	long v;

	if (config_set_number(&v, key, value, min, max, 1, unit, err, errlen) != 0) {
		return -1;
	}
	*dst = (int)v;
	return 0;
}

int
part_config_set(void *arg, const char *section, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct part_config *cfg = arg;

	if (strcmp(section, "participant") != 0) {
		snprintf(err, errlen, "unknown section [%s] (expected [participant])", section);
		return -1;
	}
	if (strcmp(key, "name") == 0) {
		return config_set_name(cfg->name, key, value, err, errlen);
	}
	if (strcmp(key, "listen") == 0) {
		return config_set_text(cfg->listen, sizeof(cfg->listen), key, value, err, errlen);
	}
	if (strcmp(key, "coordinator") == 0) {
		return config_set_text(cfg->coordinator, sizeof(cfg->coordinator), key, value, err, errlen);
	}
	if (strcmp(key, "backend") == 0) {
		if (strcmp(value, "postgres") != 0 && strcmp(value, "sqlite") != 0 &&
		    strcmp(value, "noop") != 0) {
			snprintf(err, errlen, "backend must be 'postgres', 'sqlite' or 'noop', got '%s'",
			    value);
			return -1;
		}
		strcpy(cfg->backend, value);
		return 0;
	}
	if (strcmp(key, "conninfo") == 0) {
		return config_set_text(cfg->conninfo, sizeof(cfg->conninfo), key, value, err, errlen);
	}
	if (strcmp(key, "database") == 0) {
		return config_set_text(cfg->database, sizeof(cfg->database), key, value, err, errlen);
	}
	if (strcmp(key, "lock_timeout_ms") == 0) {
		return config_set_number(&cfg->lock_timeout_ms, key, value, 1, 3600000, 1,
		    "milliseconds", err, errlen);
	}
	if (strcmp(key, "statement_timeout_ms") == 0) {
		return config_set_number(&cfg->statement_timeout_ms, key, value, 1, 3600000, 1,
		    "milliseconds", err, errlen);
	}
	if (strcmp(key, "recovery_interval") == 0) {
		return config_set_number(&cfg->recovery_interval_ms, key, value, 1, 86400, 1000,
		    "seconds", err, errlen);
	}
	if (strcmp(key, "orphan_grace") == 0) {
		return config_set_number(&cfg->orphan_grace_ms, key, value, 1, 86400, 1000,
		    "seconds", err, errlen);
	}
	if (strcmp(key, "marker_retention") == 0) {
		return config_set_number(&cfg->marker_retention_ms, key, value, 60, 365L * 86400, 1000,
		    "seconds", err, errlen);
	}
	if (strcmp(key, "workers") == 0) {
		return set_int(&cfg->workers, key, value, 2, 1024, "threads", err, errlen);
	}
	if (strcmp(key, "pool_size") == 0) {
		return set_int(&cfg->pool_size, key, value, 1, 10000, "connections", err, errlen);
	}
	if (strcmp(key, "branch_timeout") == 0) {
		return config_set_number(&cfg->branch_timeout_ms, key, value, 1, 86400, 1000,
		    "seconds", err, errlen);
	}
	if (strcmp(key, "max_message") == 0) {
		return config_set_number(&cfg->max_message, key, value, 1024, 1L << 30, 1, "bytes",
		    err, errlen);
	}
	if (strcmp(key, "termlog") == 0) {
		return config_set_text(cfg->termlog, sizeof(cfg->termlog), key, value, err, errlen);
	}
	if (strcmp(key, "termination_timeout_ms") == 0) {
		return config_set_number(&cfg->termination_timeout_ms, key, value, 100, 3600000, 1,
		    "milliseconds", err, errlen);
	}
	if (strcmp(key, "log_level") == 0) {
		return config_set_log_level(&cfg->log_level, value, err, errlen);
	}
	snprintf(err, errlen, "unknown key '%s' in [participant]", key);
	return -1;
}

int
part_config_check(const struct part_config *cfg, char *err, size_t errlen)
{
	int pg = strcmp(cfg->backend, "postgres") == 0;
	int noop = strcmp(cfg->backend, "noop") == 0;
	const char *missing = cfg->name[0] == '\0' ? "--name"
	    : cfg->listen[0] == '\0'               ? "--listen"
	    : cfg->coordinator[0] == '\0'          ? "--coordinator"
	    : cfg->backend[0] == '\0'              ? "--backend"
	    : pg && cfg->conninfo[0] == '\0'       ? "--conninfo (backend postgres)"
	    : !pg && !noop && cfg->database[0] == '\0' ? "--database (backend sqlite)"
	                                           : NULL;

	if (missing != NULL) {
		snprintf(err, errlen, "%s is required (flag or config file)", missing);
		return -1;
	}
	if (noop && (cfg->database[0] != '\0' || cfg->conninfo[0] != '\0')) {
		snprintf(err, errlen, "the noop backend takes neither --database nor --conninfo");
		return -1;
	}
	if ((pg && cfg->database[0] != '\0') || (!pg && !noop && cfg->conninfo[0] != '\0')) {
		snprintf(err, errlen, "%s belongs to the %s backend, not to %s",
		    pg ? "--database" : "--conninfo", pg ? "sqlite" : "postgres", cfg->backend);
		return -1;
	}
	if (!config_valid_url(cfg->listen) || !config_valid_url(cfg->coordinator)) {
		snprintf(err, errlen, "--listen and --coordinator must be URLs "
		    "(tcp://HOST:PORT, ipc:///PATH or tls+tcp://HOST:PORT)");
		return -1;
	}
	return 0;
}
