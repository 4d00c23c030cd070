/*
 * scenario.c - the scenario file of xact-harness: an INI file (read with
 * libinih through shared/config.c) naming clusters, databases, participants,
 * the coordinator, a workload, faults and checks.  Every key is checked;
 * an unknown section or key, a missing file, a clash of names or ports is
 * an error naming the file and line, never a default.  Owns the ports
 * file of the state folder.  Never starts anything.
 */
#include "harness.h"

#include "config.h"
#include "failpoint.h"
#include "xact.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const fault_names[F_COUNT] = {
	"kill", "crash_at", "pause", "cut", "slow", "pg_restart",
};

const char *
sc_fault_name(enum fault_type t)
{
	return t < F_COUNT ? fault_names[t] : "?";
}

/* A name: [a-z][a-z0-9_]*, short enough for H_NAME; usable in a shell
 * variable's name (URL_pa) and in a gid (xact:c1:7:pa). */
static int
valid_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < H_NAME && s[0] >= 'a' && s[0] <= 'z' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int
set_bool(int *dst, const char *key, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "on") == 0) {
		*dst = 1;
	} else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "off") == 0) {
		*dst = 0;
	} else {
		snprintf(err, errlen, "%s must be yes or no, got '%s'", key, v);
		return -1;
	}
	return 0;
}

static int
set_int(int *dst, const char *key, const char *v, long min, long max, const char *unit,
    char *err, size_t errlen)
{
	long n;

	if (config_set_number(&n, key, v, min, max, 1, unit, err, errlen) != 0) {
		return -1;
	}
	*dst = (int)n;
	return 0;
}

/* A decimal number of seconds (0.5) in [min, max]. */
static int
set_seconds(double *dst, const char *key, const char *v, double min, double max, char *err,
    size_t errlen)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || errno != 0 || !(d >= min && d <= max)) {
		snprintf(err, errlen, "%s must be a number of seconds in %g..%g, got '%s'", key, min,
		    max, v);
		return -1;
	}
	*dst = d;
	return 0;
}

/* A file the scenario names, relative to the scenario's folder; it must
 * exist and be readable. */
static int
set_file(const struct scenario *sc, char *dst, const char *key, const char *v, char *err,
    size_t errlen)
{
	char path[H_PATH * 2];
	const char *slash = strrchr(sc->path, '/');

	if (v[0] == '/') {
		snprintf(path, sizeof(path), "%s", v);
	} else {
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - sc->path), sc->path, v);
	}
	if (access(path, R_OK) != 0) {
		snprintf(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
		return -1;
	}
	if (strlen(path) >= H_PATH) {
		snprintf(err, errlen, "%s: path too long", key);
		return -1;
	}
	strcpy(dst, path);
	return 0;
}

/* "K=V K2=V2": blank-separated assignments for a daemon's environment. */
static int
set_env(char *dst, size_t n, const char *v, char *err, size_t errlen)
{
	char buf[H_TEXT], *save, *w;

	if (config_set_text(dst, n, "env", v, err, errlen) != 0) {
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", v);
	for (w = strtok_r(buf, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		if (strchr(w, '=') == NULL || w[0] == '=') {
			snprintf(err, errlen, "env: '%s' is not NAME=VALUE", w);
			return -1;
		}
	}
	return 0;
}

static int
set_protocol(int *dst, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "2pc") == 0) {
		*dst = XACT_PROTOCOL_2PC;
	} else if (strcmp(v, "3pc") == 0) {
		*dst = XACT_PROTOCOL_3PC;
	} else {
		snprintf(err, errlen, "protocol must be 2pc or 3pc, got '%s'", v);
		return -1;
	}
	return 0;
}

/* Splits "kind name" into its parts; -1 when the section is not of kind. */
static int
section_of(const char *section, const char *kind, const char **name)
{
	size_t n = strlen(kind);

	if (strncmp(section, kind, n) != 0) {
		return -1;
	}
	if (section[n] == '\0') {
		*name = "";
		return 0;
	}
	if (section[n] != ' ') {
		return -1;
	}
	*name = section + n + 1;
	return 0;
}

/* The entry named name in an array of structs whose first member is the
 * name; created (when there is room) if absent.  NULL with err when the
 * name is bad or the array full. */
static void *
entry(void *base, size_t size, int *count, const char *kind, const char *name, char *err,
    size_t errlen)
{
	char *p = base;

	if (!valid_name(name)) {
		snprintf(err, errlen, "[%s %s]: a name is 1-%d of a-z 0-9 _, starting with a letter",
		    kind, name, H_NAME - 1);
		return NULL;
	}
	for (int i = 0; i < *count; i++) {
		if (strcmp(p + (size_t)i * size, name) == 0) {
			return p + (size_t)i * size;
		}
	}
	if (*count == H_MAX) {
		snprintf(err, errlen, "more than %d [%s] sections", H_MAX, kind);
		return NULL;
	}
	p += (size_t)(*count)++ * size;
	strcpy(p, name);
	return p;
}

static int
unknown_key(const char *section, const char *key, char *err, size_t errlen)
{
	snprintf(err, errlen, "[%s]: unknown key '%s'", section, key);
	return -1;
}

static int
on_harness(struct scenario *sc, const char *key, const char *v, char *err, size_t errlen)
{
	long n;

	if (strcmp(key, "dir") == 0) {
		if (sc->dir[0] == '\0' && config_set_text(sc->dir, sizeof(sc->dir), key, v, err, errlen)) {
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "settle") == 0) {
		return set_seconds(&sc->settle, key, v, 1, 600, err, errlen);
	}
	if (strcmp(key, "seed") == 0) {
		if (config_set_number(&n, key, v, 0, 0x7fffffffL, 1, "", err, errlen) != 0) {
			return -1;
		}
		sc->seed = (uint64_t)n;
		return 0;
	}
	return unknown_key("harness", key, err, errlen);
}

static int
on_cluster(struct scenario *sc, const char *name, const char *key, const char *v, char *err,
    size_t errlen)
{
	struct sc_cluster *c = entry(sc->clusters, sizeof(*c), &sc->nclusters, "postgres", name, err,
	    errlen);

	if (c == NULL) {
		return -1;
	}
	if (*key == '\0') {
		return 0; /* the section's header line */
	}
	if (strcmp(key, "settings") == 0) {
		return config_set_text(c->settings, sizeof(c->settings), key, v, err, errlen);
	}
	if (strcmp(key, "port") == 0) {
		return set_int(&c->port, key, v, 1024, 65535, "port", err, errlen);
	}
	if (strcmp(key, "fsync") == 0) {
		return set_bool(&c->fsync, key, v, err, errlen);
	}
	return unknown_key("postgres", key, err, errlen);
}

static int
on_database(struct scenario *sc, const char *name, const char *key, const char *v, char *err,
    size_t errlen)
{
	struct sc_database *d = entry(sc->databases, sizeof(*d), &sc->ndatabases, "database", name,
	    err, errlen);

	if (d == NULL) {
		return -1;
	}
	if (*key == '\0') {
		return 0; /* the section's header line */
	}
	if (strcmp(key, "type") == 0) {
		if (strcmp(v, "postgres") == 0) {
			d->kind = DB_POSTGRES;
		} else if (strcmp(v, "sqlite") == 0) {
			d->kind = DB_SQLITE;
		} else {
			snprintf(err, errlen, "type must be postgres or sqlite, got '%s'", v);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "cluster") == 0) {
		return config_set_text(d->cluster, sizeof(d->cluster), key, v, err, errlen);
	}
	if (strcmp(key, "dbname") == 0) {
		return config_set_text(d->dbname, sizeof(d->dbname), key, v, err, errlen);
	}
	if (strcmp(key, "file") == 0) {
		return config_set_text(d->file, sizeof(d->file), key, v, err, errlen);
	}
	if (strcmp(key, "schema") == 0) {
		return set_file(sc, d->schema, key, v, err, errlen);
	}
	if (strcmp(key, "seed") == 0) {
		return set_file(sc, d->seed, key, v, err, errlen);
	}
	if (strcmp(key, "bank") == 0) {
		return set_bool(&d->bank, key, v, err, errlen);
	}
	return unknown_key("database", key, err, errlen);
}

static int
on_participant(struct scenario *sc, const char *name, const char *key, const char *v, char *err,
    size_t errlen)
{
	struct sc_participant *p = entry(sc->parts, sizeof(*p), &sc->nparts, "participant", name,
	    err, errlen);

	if (p == NULL) {
		return -1;
	}
	if (*key == '\0') {
		return 0; /* the section's header line */
	}
	if (strcmp(key, "database") == 0) {
		return config_set_text(p->database, sizeof(p->database), key, v, err, errlen);
	}
	if (strcmp(key, "args") == 0) {
		return config_set_text(p->args, sizeof(p->args), key, v, err, errlen);
	}
	if (strcmp(key, "env") == 0) {
		return set_env(p->env, sizeof(p->env), v, err, errlen);
	}
	if (strcmp(key, "port") == 0) {
		return set_int(&p->port, key, v, 1024, 65535, "port", err, errlen);
	}
	return unknown_key("participant", key, err, errlen);
}

static int
on_coordinator(struct scenario *sc, const char *name, const char *key, const char *v, char *err,
    size_t errlen)
{
	struct sc_coordinator *c = &sc->coord;

	if (*name != '\0') {
		if (!valid_name(name)) {
			snprintf(err, errlen, "[coordinator %s]: bad name", name);
			return -1;
		}
		strcpy(c->name, name);
	}
	if (*key == '\0') {
		return 0;
	}
	if (strcmp(key, "id") == 0) {
		return config_set_name(c->id, key, v, err, errlen);
	}
	if (strcmp(key, "args") == 0) {
		return config_set_text(c->args, sizeof(c->args), key, v, err, errlen);
	}
	if (strcmp(key, "env") == 0) {
		return set_env(c->env, sizeof(c->env), v, err, errlen);
	}
	if (strcmp(key, "port") == 0) {
		return set_int(&c->port, key, v, 1024, 65535, "port", err, errlen);
	}
	if (strcmp(key, "proxy") == 0) {
		return set_bool(&c->proxy, key, v, err, errlen);
	}
	return unknown_key("coordinator", key, err, errlen);
}

/* "pa, pb" into the workload's participant list. */
static int
set_names(struct sc_workload *w, const char *v, char *err, size_t errlen)
{
	char buf[H_TEXT], *save, *it;

	if (config_copy(buf, sizeof(buf), v) != 0) {
		snprintf(err, errlen, "participants: too long");
		return -1;
	}
	w->nparticipants = 0;
	for (it = strtok_r(buf, ", \t", &save); it != NULL; it = strtok_r(NULL, ", \t", &save)) {
		if (w->nparticipants == H_MAX || !valid_name(it)) {
			snprintf(err, errlen, "participants: bad or too many names ('%s')", it);
			return -1;
		}
		strcpy(w->participants[w->nparticipants++], it);
	}
	return 0;
}

static int
on_workload(struct scenario *sc, const char *key, const char *v, char *err, size_t errlen)
{
	struct sc_workload *w = &sc->wl;
	double ratio;

	if (strcmp(key, "type") == 0) {
		if (strcmp(v, "bank") == 0) {
			w->type = WL_BANK;
		} else if (strcmp(v, "sql") == 0) {
			w->type = WL_SQL;
		} else if (strcmp(v, "none") == 0) {
			w->type = WL_NONE;
		} else {
			snprintf(err, errlen, "type must be bank, sql or none, got '%s'", v);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "clients") == 0) {
		return set_int(&w->clients, key, v, 1, 256, "clients", err, errlen);
	}
	if (strcmp(key, "duration") == 0) {
		return set_seconds(&w->duration, key, v, 0.1, 86400, err, errlen);
	}
	if (strcmp(key, "transfers") == 0) {
		return set_int(&w->transfers, key, v, 1, 100000000, "transactions", err, errlen);
	}
	if (strcmp(key, "abort_ratio") == 0) {
		if (set_seconds(&ratio, key, v, 0, 1, err, errlen) != 0) {
			snprintf(err, errlen, "abort_ratio must be a number in 0..1, got '%s'", v);
			return -1;
		}
		w->abort_ratio = ratio;
		return 0;
	}
	if (strcmp(key, "abort_every") == 0) {
		return set_int(&w->abort_every, key, v, 1, 1000000, "transfers", err, errlen);
	}
	if (strcmp(key, "local_every") == 0) {
		return set_int(&w->local_every, key, v, 1, 1000000, "transfers", err, errlen);
	}
	if (strcmp(key, "accounts") == 0) {
		return set_int(&w->accounts, key, v, 1, 1000000, "accounts", err, errlen);
	}
	if (strcmp(key, "balance") == 0) {
		return config_set_number(&w->balance, key, v, 0, 1000000000L, 1, "units", err, errlen);
	}
	if (strcmp(key, "protocol") == 0) {
		return set_protocol(&w->protocol, v, err, errlen);
	}
	if (strcmp(key, "timeout") == 0) {
		return set_int(&w->timeout_ms, key, v, 100, 600000, "milliseconds", err, errlen);
	}
	if (strcmp(key, "participants") == 0) {
		return set_names(w, v, err, errlen);
	}
	if (strcmp(key, "file") == 0) {
		return set_file(sc, w->file, key, v, err, errlen);
	}
	if (strcmp(key, "invariant") == 0) {
		return config_set_text(w->invariant, sizeof(w->invariant), key, v, err, errlen);
	}
	return unknown_key("workload", key, err, errlen);
}

static int
on_fault(struct scenario *sc, const char *name, const char *key, const char *v, char *err,
    size_t errlen)
{
	struct sc_fault *f = entry(sc->faults, sizeof(*f), &sc->nfaults, "fault", name, err, errlen);

	if (f == NULL) {
		return -1;
	}
	if (*key == '\0') {
		return 0; /* the section's header line */
	}
	if (strcmp(key, "type") == 0) {
		for (int t = 0; t < F_COUNT; t++) {
			if (strcmp(v, fault_names[t]) == 0) {
				f->type = (enum fault_type)t;
				return 0;
			}
		}
		snprintf(err, errlen,
		    "type must be kill, crash_at, pause, cut, slow or pg_restart, got '%s'", v);
		return -1;
	}
	if (strcmp(key, "target") == 0) {
		return config_set_text(f->target, sizeof(f->target), key, v, err, errlen);
	}
	if (strcmp(key, "failpoint") == 0) {
		if (!failpoint_known(v)) {
			snprintf(err, errlen, "failpoint '%s' is not one of xact's (docs/protocol.md)", v);
			return -1;
		}
		return config_set_text(f->failpoint, sizeof(f->failpoint), key, v, err, errlen);
	}
	if (strcmp(key, "hit") == 0) {
		return set_int(&f->hit, key, v, 1, 1000000, "hits", err, errlen);
	}
	if (strcmp(key, "at") == 0) {
		if (strcmp(v, "random") == 0) {
			f->at_random = 1;
			return 0;
		}
		return set_seconds(&f->at, key, v, 0, 86400, err, errlen);
	}
	if (strcmp(key, "duration") == 0) {
		return set_seconds(&f->duration, key, v, 0, 3600, err, errlen);
	}
	if (strcmp(key, "delay") == 0) {
		return set_int(&f->delay_ms, key, v, 1, 60000, "milliseconds", err, errlen);
	}
	return unknown_key("fault", key, err, errlen);
}

static int
on_check(struct scenario *sc, const char *name, const char *key, const char *v, char *err,
    size_t errlen)
{
	struct sc_check *c = entry(sc->checks, sizeof(*c), &sc->nchecks, "check", name, err, errlen);

	if (c == NULL) {
		return -1;
	}
	if (*key == '\0') {
		return 0; /* the section's header line */
	}
	if (strcmp(key, "database") == 0) {
		return config_set_text(c->database, sizeof(c->database), key, v, err, errlen);
	}
	if (strcmp(key, "query") == 0) {
		return config_set_text(c->query, sizeof(c->query), key, v, err, errlen);
	}
	if (strcmp(key, "expect") == 0) {
		return config_copy(c->expect, sizeof(c->expect), v) == 0 ? 0
		       : (snprintf(err, errlen, "expect: too long"), -1);
	}
	return unknown_key("check", key, err, errlen);
}

/* libinih's handler, by section kind. */
static int
on_value(void *user, const char *section, const char *key, const char *v, char *err,
    size_t errlen)
{
	struct scenario *sc = user;
	const char *name;

	if (*key == '\0' && (strcmp(section, "harness") == 0 || strcmp(section, "workload") == 0)) {
		return 0;
	}
	if (strcmp(section, "harness") == 0) {
		return on_harness(sc, key, v, err, errlen);
	}
	if (section_of(section, "postgres", &name) == 0 && *name != '\0') {
		return on_cluster(sc, name, key, v, err, errlen);
	}
	if (section_of(section, "database", &name) == 0 && *name != '\0') {
		return on_database(sc, name, key, v, err, errlen);
	}
	if (section_of(section, "participant", &name) == 0 && *name != '\0') {
		return on_participant(sc, name, key, v, err, errlen);
	}
	if (section_of(section, "coordinator", &name) == 0) {
		return on_coordinator(sc, name, key, v, err, errlen);
	}
	if (strcmp(section, "workload") == 0) {
		return on_workload(sc, key, v, err, errlen);
	}
	if (section_of(section, "fault", &name) == 0 && *name != '\0') {
		return on_fault(sc, name, key, v, err, errlen);
	}
	if (section_of(section, "check", &name) == 0 && *name != '\0') {
		return on_check(sc, name, key, v, err, errlen);
	}
	snprintf(err, errlen,
	    "unknown section [%s] (harness, postgres NAME, database NAME, participant NAME, "
	    "coordinator, workload, fault NAME, check NAME)", section);
	return -1;
}

static void
defaults(struct scenario *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->settle = 30;
	sc->seed = 1;
	strcpy(sc->coord.name, "coord");
	strcpy(sc->coord.id, "c1");
	sc->wl.type = WL_NONE;
	sc->wl.clients = 8;
	sc->wl.accounts = 10;
	sc->wl.balance = 1000;
	sc->wl.timeout_ms = 10000;
	sc->wl.protocol = XACT_PROTOCOL_2PC;
}

/* The checks that need the whole file: references, clashes, what each
 * workload and fault requires. */
static int
validate_databases(struct scenario *sc, char *err, size_t errlen)
{
	for (int i = 0; i < sc->ndatabases; i++) {
		struct sc_database *d = &sc->databases[i];

		if (d->kind == DB_POSTGRES) {
			if (sc_cluster(sc, d->cluster) == NULL) {
				snprintf(err, errlen, "[database %s]: cluster '%s' is not a [postgres] "
				    "section", d->name, d->cluster);
				return -1;
			}
			if (d->dbname[0] == '\0') {
				strcpy(d->dbname, d->name);
			}
			if (d->file[0] != '\0') {
				snprintf(err, errlen, "[database %s]: file is for sqlite", d->name);
				return -1;
			}
		} else {
			if (d->cluster[0] != '\0' || d->dbname[0] != '\0') {
				snprintf(err, errlen, "[database %s]: cluster and dbname are for postgres",
				    d->name);
				return -1;
			}
			if (d->file[0] == '\0') {
				strcpy(d->file, d->name); /* H_NAME < H_PATH */
				strcat(d->file, ".db");
			}
		}
		for (int j = 0; j < i; j++) {
			struct sc_database *o = &sc->databases[j];

			if (d->kind == DB_POSTGRES && o->kind == DB_POSTGRES &&
			    strcmp(d->cluster, o->cluster) == 0 && strcmp(d->dbname, o->dbname) == 0) {
				snprintf(err, errlen, "[database %s] and [database %s] are one database",
				    d->name, o->name);
				return -1;
			}
			if (d->kind == DB_SQLITE && o->kind == DB_SQLITE && strcmp(d->file, o->file) == 0) {
				snprintf(err, errlen, "[database %s] and [database %s] share file %s",
				    d->name, o->name, d->file);
				return -1;
			}
		}
	}
	return 0;
}

static int
validate_parts(struct scenario *sc, char *err, size_t errlen)
{
	for (int i = 0; i < sc->nparts; i++) {
		struct sc_participant *p = &sc->parts[i];

		if (sc_database(sc, p->database) == NULL) {
			snprintf(err, errlen, "[participant %s]: database '%s' is not a [database] "
			    "section", p->name, p->database);
			return -1;
		}
		if (strcmp(p->name, sc->coord.name) == 0 || strcmp(p->name, "proxy") == 0) {
			snprintf(err, errlen, "[participant %s]: the name is taken", p->name);
			return -1;
		}
		for (int j = 0; j < i; j++) {
			if (strcmp(sc->parts[j].database, p->database) == 0) {
				snprintf(err, errlen, "[participant %s] and [participant %s] serve one "
				    "database (%s)", sc->parts[j].name, p->name, p->database);
				return -1;
			}
		}
	}
	if (strcmp(sc->coord.name, "proxy") == 0) {
		snprintf(err, errlen, "[coordinator proxy]: the name is taken");
		return -1;
	}
	/* One namespace for the ports file: clusters and processes. */
	for (int i = 0; i < sc->nclusters; i++) {
		const char *n = sc->clusters[i].name;

		if (sc_part(sc, n) != NULL || strcmp(n, sc->coord.name) == 0 ||
		    strcmp(n, "proxy") == 0) {
			snprintf(err, errlen, "[postgres %s]: the name is taken by a process", n);
			return -1;
		}
	}
	return 0;
}

static int
validate_workload(struct scenario *sc, char *err, size_t errlen)
{
	struct sc_workload *w = &sc->wl;

	if (w->type == WL_NONE) {
		if (w->duration == 0) {
			w->duration = 5; /* how long `run` lets its faults play out */
		}
		return 0;
	}
	if (sc->nparts == 0) {
		snprintf(err, errlen, "[workload]: no [participant] to run it on");
		return -1;
	}
	if (w->duration > 0 && w->transfers > 0) {
		snprintf(err, errlen, "[workload]: give duration or transfers, not both");
		return -1;
	}
	if (w->duration == 0 && w->transfers == 0) {
		w->duration = 5;
	}
	if (w->type == WL_SQL) {
		if (w->file[0] == '\0') {
			snprintf(err, errlen, "[workload]: type = sql needs file = TRANSACTIONS.sql");
			return -1;
		}
		return 0;
	}
	if (w->nparticipants == 0) {
		for (int i = 0; i < sc->nparts; i++) {
			strcpy(w->participants[w->nparticipants++], sc->parts[i].name);
		}
	}
	if (w->nparticipants < 2) {
		snprintf(err, errlen, "[workload]: the bank workload needs 2 or more participants");
		return -1;
	}
	for (int i = 0; i < w->nparticipants; i++) {
		const struct sc_participant *p = sc_part(sc, w->participants[i]);

		if (p == NULL) {
			snprintf(err, errlen, "[workload]: no [participant %s]", w->participants[i]);
			return -1;
		}
		if (!sc_database(sc, p->database)->bank) {
			snprintf(err, errlen, "[workload]: database %s of %s has no bank tables "
			    "(bank = yes)", p->database, p->name);
			return -1;
		}
	}
	return 0;
}

static int
validate_fault(struct scenario *sc, struct sc_fault *f, char *err, size_t errlen)
{
	int is_proc = sc_part(sc, f->target) != NULL || strcmp(f->target, sc->coord.name) == 0;

	if (f->target[0] == '\0') {
		snprintf(err, errlen, "[fault %s]: no target", f->name);
		return -1;
	}
	switch (f->type) {
	case F_KILL:
	case F_PAUSE:
	case F_CRASH_AT:
		if (!is_proc) {
			snprintf(err, errlen, "[fault %s]: target '%s' is not a participant or the "
			    "coordinator", f->name, f->target);
			return -1;
		}
		if (f->type == F_CRASH_AT && f->failpoint[0] == '\0') {
			snprintf(err, errlen, "[fault %s]: crash_at needs failpoint = NAME", f->name);
			return -1;
		}
		break;
	case F_CUT:
	case F_SLOW:
		if (sc_part(sc, f->target) == NULL) {
			snprintf(err, errlen, "[fault %s]: target '%s' is not a participant (a link "
			    "is the coordinator's to a participant)", f->name, f->target);
			return -1;
		}
		if (!sc->coord.proxy) {
			snprintf(err, errlen, "[fault %s]: links go through the proxy only with "
			    "[coordinator] proxy = yes", f->name);
			return -1;
		}
		if (f->type == F_SLOW && f->delay_ms == 0) {
			snprintf(err, errlen, "[fault %s]: slow needs delay = MS", f->name);
			return -1;
		}
		break;
	case F_PG_RESTART:
		if (sc_cluster(sc, f->target) == NULL) {
			snprintf(err, errlen, "[fault %s]: target '%s' is not a [postgres] cluster",
			    f->name, f->target);
			return -1;
		}
		break;
	default:
		snprintf(err, errlen, "[fault %s]: no type", f->name);
		return -1;
	}
	if (f->hit == 0) {
		f->hit = 1;
	}
	if (f->duration == 0 && f->type != F_PG_RESTART && f->type != F_CRASH_AT) {
		f->duration = f->type == F_KILL ? 0.5 : 1;
	}
	return 0;
}

static int
validate_ports(struct scenario *sc, char *err, size_t errlen)
{
	int *ports[H_MAX * 2 + 1], n = 0;

	for (int i = 0; i < sc->nclusters; i++) {
		ports[n++] = &sc->clusters[i].port;
	}
	for (int i = 0; i < sc->nparts; i++) {
		ports[n++] = &sc->parts[i].port;
	}
	ports[n++] = &sc->coord.port;
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < i; j++) {
			if (*ports[i] != 0 && *ports[i] == *ports[j]) {
				snprintf(err, errlen, "port %d is given twice", *ports[i]);
				return -1;
			}
		}
	}
	return 0;
}

static int
validate(struct scenario *sc, char *err, size_t errlen)
{
	if (validate_databases(sc, err, errlen) != 0 || validate_parts(sc, err, errlen) != 0 ||
	    validate_workload(sc, err, errlen) != 0 || validate_ports(sc, err, errlen) != 0) {
		return -1;
	}
	for (int i = 0; i < sc->nfaults; i++) {
		if (validate_fault(sc, &sc->faults[i], err, errlen) != 0) {
			return -1;
		}
	}
	for (int i = 0; i < sc->nchecks; i++) {
		struct sc_check *c = &sc->checks[i];

		if (sc_database(sc, c->database) == NULL || c->query[0] == '\0') {
			snprintf(err, errlen, "[check %s]: needs database = NAME (a [database]) and "
			    "query = SQL", c->name);
			return -1;
		}
	}
	return 0;
}

/* Makes the state folder absolute, and SQLite files inside it. */
static int
resolve_paths(struct scenario *sc, char *err, size_t errlen)
{
	char cwd[H_PATH], buf[H_PATH * 2];

	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		snprintf(err, errlen, "getcwd: %s", strerror(errno));
		return -1;
	}
	if (sc->dir[0] != '\0' && sc->dir[0] != '/') {
		snprintf(buf, sizeof(buf), "%s/%s", cwd, sc->dir);
		if (config_copy(sc->dir, sizeof(sc->dir), buf) != 0) {
			snprintf(err, errlen, "state folder path too long");
			return -1;
		}
	}
	for (int i = 0; i < sc->ndatabases; i++) {
		struct sc_database *d = &sc->databases[i];

		if (d->kind == DB_SQLITE && d->file[0] != '/' && sc->dir[0] != '\0') {
			snprintf(buf, sizeof(buf), "%s/%s", sc->dir, d->file);
			if (config_copy(d->file, sizeof(d->file), buf) != 0) {
				snprintf(err, errlen, "[database %s]: path too long", d->name);
				return -1;
			}
		}
	}
	return 0;
}

/* libinih calls the handler only for keys: a section with none ("[postgres
 * main]" taking every default) is announced here, with an empty key. */
static int
announce_sections(struct scenario *sc, char *err, size_t errlen)
{
	char line[512], why[512];
	FILE *f = fopen(sc->path, "r");
	int lineno = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", sc->path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = line + strspn(line, " \t"), *end = strchr(s, ']');

		lineno++;
		if (*s != '[' || end == NULL) {
			continue;
		}
		*end = '\0';
		if (on_value(sc, s + 1, "", "", why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s:%d: %s", sc->path, lineno, why);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

int
sc_set_dir(struct scenario *sc, const char *dir, char *err, size_t errlen)
{
	if (config_copy(sc->dir, sizeof(sc->dir), dir) != 0) {
		snprintf(err, errlen, "state folder path too long");
		return -1;
	}
	return resolve_paths(sc, err, errlen);
}

int
sc_load(struct scenario *sc, const char *path, const char *dir, char *err, size_t errlen)
{
	char why[1024];

	defaults(sc);
	if (realpath(path, sc->path) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (dir != NULL && config_copy(sc->dir, sizeof(sc->dir), dir) != 0) {
		snprintf(err, errlen, "state folder path too long");
		return -1;
	}
	if (announce_sections(sc, err, errlen) != 0 ||
	    config_load(sc->path, on_value, sc, err, errlen) != 0) {
		return -1;
	}
	if (validate(sc, why, sizeof(why)) != 0 || resolve_paths(sc, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", sc->path, why);
		return -1;
	}
	return 0;
}

void
sc_default_bank(struct scenario *sc)
{
	if (sc->wl.type != WL_NONE || sc->nparts < 2) {
		return;
	}
	for (int i = 0; i < sc->nparts; i++) {
		const struct sc_database *d = sc_database(sc, sc->parts[i].database);

		if (d == NULL || !d->bank) {
			return;
		}
	}
	sc->wl.type = WL_BANK;
	sc->wl.nparticipants = 0;
	for (int i = 0; i < sc->nparts; i++) {
		strcpy(sc->wl.participants[sc->wl.nparticipants++], sc->parts[i].name);
	}
}

const struct sc_database *
sc_database(const struct scenario *sc, const char *name)
{
	for (int i = 0; i < sc->ndatabases; i++) {
		if (strcmp(sc->databases[i].name, name) == 0) {
			return &sc->databases[i];
		}
	}
	return NULL;
}

const struct sc_participant *
sc_part(const struct scenario *sc, const char *name)
{
	for (int i = 0; i < sc->nparts; i++) {
		if (strcmp(sc->parts[i].name, name) == 0) {
			return &sc->parts[i];
		}
	}
	return NULL;
}

const struct sc_cluster *
sc_cluster(const struct scenario *sc, const char *name)
{
	for (int i = 0; i < sc->nclusters; i++) {
		if (strcmp(sc->clusters[i].name, name) == 0) {
			return &sc->clusters[i];
		}
	}
	return NULL;
}

int
sc_proxy_port(const struct scenario *sc, int part, int to_coord)
{
	return sc->proxy_ports[part][to_coord ? 1 : 0];
}

/* 1 when port is free on 127.0.0.1 (a bind succeeds). */
static int
port_free(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	if (fd < 0) {
		return 0;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

int
sc_free_port(void)
{
	static unsigned state;

	if (state == 0) {
		state = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
	}
	for (int tries = 0; tries < 10000; tries++) {
		int p;

		state = state * 1103515245u + 12345u;
		p = 15000 + (int)((state >> 8) % 17000);
		if (port_free(p)) {
			return p;
		}
	}
	return -1;
}

/* A free port none of the scenario's ports uses yet. */
static int
fresh_port(const struct scenario *sc)
{
	for (;;) {
		int p = sc_free_port(), taken = 0;

		if (p < 0) {
			return -1;
		}
		for (int i = 0; i < sc->nclusters; i++) {
			taken |= sc->clusters[i].port == p;
		}
		for (int i = 0; i < sc->nparts; i++) {
			taken |= sc->parts[i].port == p || sc->proxy_ports[i][0] == p ||
			         sc->proxy_ports[i][1] == p;
		}
		if (!taken && sc->coord.port != p) {
			return p;
		}
	}
}

static int
assign(struct scenario *sc, int *port, const char *what, char *err, size_t errlen)
{
	if (*port != 0) {
		if (!port_free(*port)) {
			snprintf(err, errlen, "%s: port %d is in use", what, *port);
			return -1;
		}
		return 0;
	}
	*port = fresh_port(sc);
	if (*port < 0) {
		snprintf(err, errlen, "no free port for %s", what);
		return -1;
	}
	return 0;
}

int
sc_assign_ports(struct scenario *sc, char *err, size_t errlen)
{
	for (int i = 0; i < sc->nclusters; i++) {
		if (assign(sc, &sc->clusters[i].port, sc->clusters[i].name, err, errlen) != 0) {
			return -1;
		}
	}
	for (int i = 0; i < sc->nparts; i++) {
		if (assign(sc, &sc->parts[i].port, sc->parts[i].name, err, errlen) != 0) {
			return -1;
		}
		if (sc->coord.proxy && (assign(sc, &sc->proxy_ports[i][0], "proxy", err, errlen) != 0 ||
		                           assign(sc, &sc->proxy_ports[i][1], "proxy", err, errlen) != 0)) {
			return -1;
		}
	}
	if (sc->nparts > 0 || sc->coord.port != 0) {
		return assign(sc, &sc->coord.port, sc->coord.name, err, errlen);
	}
	return 0;
}

int
sc_save_ports(const struct scenario *sc, char *err, size_t errlen)
{
	char path[H_PATH + 16], tmp[H_PATH + 16];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ports", sc->dir);
	snprintf(tmp, sizeof(tmp), "%s/ports.tmp", sc->dir);
	f = fopen(tmp, "w");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	fprintf(f, "scenario %s\n", sc->path);
	fprintf(f, "created %d\n", sc->dir_created);
	for (int i = 0; i < sc->nclusters; i++) {
		fprintf(f, "port %s %d\n", sc->clusters[i].name, sc->clusters[i].port);
	}
	for (int i = 0; i < sc->nparts; i++) {
		fprintf(f, "port %s %d %d %d\n", sc->parts[i].name, sc->parts[i].port,
		    sc->proxy_ports[i][0], sc->proxy_ports[i][1]);
	}
	fprintf(f, "port %s %d\n", sc->coord.name, sc->coord.port);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Reads DIR/ports into an already loaded scenario. */
int
sc_load_ports(struct scenario *sc, char *err, size_t errlen)
{
	char path[H_PATH + 16], line[H_PATH + 64], name[64];
	FILE *f;
	int p, a, b;

	snprintf(path, sizeof(path), "%s/ports", sc->dir);
	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s is not up (no %s: %s)", sc->dir, path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		int n = sscanf(line, "port %63s %d %d %d", name, &p, &a, &b);
		const struct sc_participant *sp = sc_part(sc, name);
		const struct sc_cluster *c = sc_cluster(sc, name);

		if (n < 2) {
			continue;
		}
		if (sp != NULL && n == 4) {
			sc->parts[sp - sc->parts].port = p;
			sc->proxy_ports[sp - sc->parts][0] = a;
			sc->proxy_ports[sp - sc->parts][1] = b;
		} else if (c != NULL) {
			sc->clusters[c - sc->clusters].port = p;
		} else if (strcmp(name, sc->coord.name) == 0) {
			sc->coord.port = p;
		}
	}
	fclose(f);
	return 0;
}
