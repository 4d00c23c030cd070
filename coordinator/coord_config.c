/*
 * coord_config.c - the coordinator's settings: defaults, INI keys, checks.
 * Unknown sections and keys are errors: a typo must not fall back to a
 * default silently.
 */
#include "coord.h"
#include "xact.h"

#include "config.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

void
coord_config_defaults(struct coord_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->id, "c1");
	strcpy(cfg->listen, "tcp://127.0.0.1:7400");
	strcpy(cfg->journal, "xact-journal.db");
	cfg->txn_timeout_ms = 60000;
	cfg->call_timeout_ms = 10000;
	cfg->recovery_interval_ms = 10000;
	cfg->retention_ms = 3600000;
	cfg->group_commit_ms = 30;
	cfg->one_phase = 1;
	cfg->max_message = 4 * 1024 * 1024;
	cfg->log_level = XLOG_INFO;
}

static int
set_participant(struct coord_config *cfg, const char *name, const char *url,
    char *err, size_t errlen)
{
	int i;

	if (!config_valid_name(name)) {
		snprintf(err, errlen, "bad participant name '%s' (1-32 of A-Z a-z 0-9 _ -)", name);
		return -1;
	}
	if (!config_valid_url(url)) {
		snprintf(err, errlen, "participant %s: '%s' is not a URL (tcp://HOST:PORT, ipc:///PATH or tls+tcp://HOST:PORT)",
		    name, url);
		return -1;
	}
	for (i = 0; i < cfg->nparticipants; i++) {
		if (strcmp(cfg->participants[i].name, name) == 0) {
			break;
		}
	}
	if (i == COORD_MAX_PARTICIPANTS) {
		snprintf(err, errlen, "too many participants (at most %d)", COORD_MAX_PARTICIPANTS);
		return -1;
	}
	if (config_copy(cfg->participants[i].url, sizeof(cfg->participants[i].url), url) != 0) {
		snprintf(err, errlen, "participant %s: URL too long", name);
		return -1;
	}
	strcpy(cfg->participants[i].name, name);
	if (i == cfg->nparticipants) {
		cfg->nparticipants++;
	}
	return 0;
}

int
coord_config_add_participant(struct coord_config *cfg, const char *spec, char *err,
    size_t errlen)
{
	char name[64];
	const char *eq = strchr(spec, '=');

	if (eq == NULL || (size_t)(eq - spec) >= sizeof(name)) {
		snprintf(err, errlen, "--participant wants NAME=URL, got '%s'", spec);
		return -1;
	}
	memcpy(name, spec, (size_t)(eq - spec));
	name[eq - spec] = '\0';
	return set_participant(cfg, name, eq + 1, err, errlen);
}

int
coord_config_set(void *arg, const char *section, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct coord_config *cfg = arg;

	if (strcmp(section, "participants") == 0) {
		return set_participant(cfg, key, value, err, errlen);
	}
	if (strcmp(section, "coordinator") != 0) {
		snprintf(err, errlen, "unknown section [%s] (expected [coordinator] or [participants])",
		    section);
		return -1;
	}
	if (strcmp(key, "id") == 0) {
		return config_set_name(cfg->id, key, value, err, errlen);
	}
	if (strcmp(key, "listen") == 0) {
		return config_set_text(cfg->listen, sizeof(cfg->listen), key, value, err, errlen);
	}
	if (strcmp(key, "journal") == 0) {
		return config_set_text(cfg->journal, sizeof(cfg->journal), key, value, err, errlen);
	}
	if (strcmp(key, "txn_timeout") == 0) {
		return config_set_number(&cfg->txn_timeout_ms, key, value, 1, 86400, 1000, "seconds",
		    err, errlen);
	}
	if (strcmp(key, "call_timeout_ms") == 0) {
		return config_set_number(&cfg->call_timeout_ms, key, value, 1, 3600000, 1,
		    "milliseconds", err, errlen);
	}
	if (strcmp(key, "recovery_interval") == 0) {
		return config_set_number(&cfg->recovery_interval_ms, key, value, 1, 86400, 1000,
		    "seconds", err, errlen);
	}
	if (strcmp(key, "retention") == 0) {
		return config_set_number(&cfg->retention_ms, key, value, 1, 365L * 86400, 1000,
		    "seconds", err, errlen);
	}
	if (strcmp(key, "group_commit_ms") == 0) {
		return config_set_number(&cfg->group_commit_ms, key, value, 0, 1000, 1,
		    "milliseconds", err, errlen);
	}
	if (strcmp(key, "max_message") == 0) {
		return config_set_number(&cfg->max_message, key, value, 1024, 1L << 30, 1, "bytes",
		    err, errlen);
	}
	if (strcmp(key, "protocol") == 0) {
		if (strcmp(value, "2pc") != 0 && strcmp(value, "3pc") != 0) {
			snprintf(err, errlen, "protocol must be 2pc or 3pc, got '%s'", value);
			return -1;
		}
		cfg->protocol = strcmp(value, "3pc") == 0 ? XACT_PROTOCOL_3PC : XACT_PROTOCOL_2PC;
		return 0;
	}
	if (strcmp(key, "one_phase") == 0) {
		if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
			snprintf(err, errlen, "one_phase must be on or off, got '%s'", value);
			return -1;
		}
		cfg->one_phase = strcmp(value, "on") == 0;
		return 0;
	}
	if (strcmp(key, "log_level") == 0) {
		return config_set_log_level(&cfg->log_level, value, err, errlen);
	}
	snprintf(err, errlen, "unknown key '%s' in [coordinator]", key);
	return -1;
}

int
coord_config_check(const struct coord_config *cfg, char *err, size_t errlen)
{
	if (cfg->nparticipants == 0) {
		snprintf(err, errlen, "no participants configured "
		         "(use --participant NAME=URL or a [participants] section)");
		return -1;
	}
	if (!config_valid_url(cfg->listen)) {
		snprintf(err, errlen, "listen '%s' is not a URL (tcp://HOST:PORT, ipc:///PATH or tls+tcp://HOST:PORT)",
		    cfg->listen);
		return -1;
	}
	for (int i = 0; i < cfg->nparticipants; i++) {
		if (strcmp(cfg->participants[i].url, cfg->listen) == 0) {
			snprintf(err, errlen, "participant %s has the coordinator's own URL %s",
			    cfg->participants[i].name, cfg->listen);
			return -1;
		}
	}
	return 0;
}
