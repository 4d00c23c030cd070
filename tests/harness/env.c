/*
 * env.c - a scenario's environment: `up` creates the state folder, the
 * clusters and databases, then starts the proxy (if links go through it),
 * the participants and the coordinator; `down` stops what the state folder
 * records.  Command lines of the daemons are built here, from the scenario
 * and the ports chosen at `up`, so that a restart gets the same ones.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARGS 96

struct argv {
	char *v[MAX_ARGS + 1];
	int n;
	int full;  /* something did not fit: env_start refuses */
	char store[8192];
	size_t used;
};

/* Appends a copy of s, or sets full. */
static void
arg(struct argv *a, const char *s)
{
	size_t len = strlen(s) + 1;

	if (a->n == MAX_ARGS || a->used + len > sizeof(a->store)) {
		a->full = 1;
		return;
	}
	memcpy(a->store + a->used, s, len);
	a->v[a->n++] = a->store + a->used;
	a->v[a->n] = NULL;
	a->used += len;
}

/* Appends the blank-separated words of s. */
static void
args_split(struct argv *a, const char *s)
{
	char buf[H_TEXT], *save, *w;

	snprintf(buf, sizeof(buf), "%s", s);
	for (w = strtok_r(buf, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		arg(a, w);
	}
}

/* A program of xact: beside the harness's own binary, else from PATH. */
static void
program(char *buf, size_t n, const char *name)
{
	char self[H_PATH];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (len > 0) {
		self[len] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			snprintf(buf, n, "%.*s/%s", (int)(slash - self), self, name);
			if (access(buf, X_OK) == 0) {
				return;
			}
		}
	}
	snprintf(buf, n, "%s", name);
}

void
env_coord_url(const struct scenario *sc, char *buf, size_t n)
{
	snprintf(buf, n, "tcp://127.0.0.1:%d", sc->coord.port);
}

void
env_part_url(const struct scenario *sc, int i, char *buf, size_t n)
{
	snprintf(buf, n, "tcp://127.0.0.1:%d", sc->parts[i].port);
}

static void
participant_argv(const struct scenario *sc, int i, struct argv *a)
{
	const struct sc_participant *p = &sc->parts[i];
	const struct sc_database *d = sc_database(sc, p->database); /* checked at load */
	char buf[H_PATH + 64];

	program(buf, sizeof(buf), "xact-participant");
	arg(a, buf);
	arg(a, "--name");
	arg(a, p->name);
	arg(a, "--listen");
	env_part_url(sc, i, buf, sizeof(buf));
	arg(a, buf);
	arg(a, "--coordinator");
	if (sc->coord.proxy) {
		snprintf(buf, sizeof(buf), "tcp://127.0.0.1:%d", sc_proxy_port(sc, i, 1));
	} else {
		env_coord_url(sc, buf, sizeof(buf));
	}
	arg(a, buf);
	arg(a, "--backend");
	if (d->kind == DB_SQLITE) {
		arg(a, "sqlite");
		arg(a, "--database");
		arg(a, d->file);
	} else {
		arg(a, "postgres");
		arg(a, "--conninfo");
		db_conninfo(sc, d, buf, sizeof(buf));
		arg(a, buf);
	}
	/* Three-phase commit needs one; it lives with the rest of the state. */
	arg(a, "--termlog");
	snprintf(buf, sizeof(buf), "%s/%s.termlog", sc->dir, p->name);
	arg(a, buf);
	args_split(a, p->args);
}

static void
coordinator_argv(const struct scenario *sc, struct argv *a)
{
	char buf[H_PATH + 64];

	program(buf, sizeof(buf), "xact-coordinator");
	arg(a, buf);
	arg(a, "--listen");
	env_coord_url(sc, buf, sizeof(buf));
	arg(a, buf);
	arg(a, "--journal");
	snprintf(buf, sizeof(buf), "%s/journal.db", sc->dir);
	arg(a, buf);
	arg(a, "--id");
	arg(a, sc->coord.id);
	/* Completed decisions stay for the checks; args may say otherwise. */
	arg(a, "--retention");
	arg(a, "2592000");
	for (int i = 0; i < sc->nparts; i++) {
		int port = sc->coord.proxy ? sc_proxy_port(sc, i, 0) : sc->parts[i].port;

		arg(a, "--participant");
		snprintf(buf, sizeof(buf), "%s=tcp://127.0.0.1:%d", sc->parts[i].name, port);
		arg(a, buf);
	}
	args_split(a, sc->coord.args);
}

static void
proxy_argv(const struct scenario *sc, struct argv *a)
{
	char buf[H_PATH + 64];

	program(buf, sizeof(buf), "xact-harness");
	arg(a, buf);
	arg(a, "proxy");
	arg(a, "--dir");
	arg(a, sc->dir);
}

/* The port NAME listens on, 0 for none. */
static int
port_of(const struct scenario *sc, const char *name)
{
	const struct sc_participant *p = sc_part(sc, name);

	if (p != NULL) {
		return p->port;
	}
	if (strcmp(name, sc->coord.name) == 0) {
		return sc->coord.port;
	}
	if (strcmp(name, "proxy") == 0 && sc->nparts > 0) {
		return sc_proxy_port(sc, 0, 0);
	}
	return 0;
}

int
env_start(const struct scenario *sc, const char *name, char *const extra[], int nextra,
    const char *const env[], char *err, size_t errlen)
{
	struct argv a = {.n = 0}, e = {.n = 0};
	const struct sc_participant *p = sc_part(sc, name);
	int found = p != NULL;

	if (p != NULL) {
		participant_argv(sc, (int)(p - sc->parts), &a);
		args_split(&e, p->env);
	}
	if (!found && strcmp(name, sc->coord.name) == 0 && sc->nparts > 0) {
		coordinator_argv(sc, &a);
		args_split(&e, sc->coord.env);
		found = 1;
	}
	if (!found && strcmp(name, "proxy") == 0 && sc->coord.proxy) {
		proxy_argv(sc, &a);
		found = 1;
	}
	if (!found) {
		snprintf(err, errlen, "no process '%s' in %s", name, sc->path);
		return -1;
	}
	for (int i = 0; i < nextra; i++) {
		arg(&a, extra[i]);
	}
	for (int i = 0; env != NULL && env[i] != NULL; i++) {
		arg(&e, env[i]); /* the caller's come last, and win */
	}
	if (a.full || e.full) {
		snprintf(err, errlen, "%s: its command line or environment is too long", name);
		return -1;
	}
	return proc_start(sc->dir, name, a.v, (const char *const *)e.v, err, errlen);
}

int
env_wait_listening(const struct scenario *sc, const char *name, char *err, size_t errlen)
{
	int port = port_of(sc, name), status;

	if (port == 0 || proc_wait_port(port, 15000) == 0) {
		return 0;
	}
	if (proc_wait(sc->dir, name, 0, &status) == 0) {
		snprintf(err, errlen, "%s exited with status %d at start (log: %s/%s.log)", name,
		    status, sc->dir, name);
	} else {
		snprintf(err, errlen, "%s does not listen on port %d after 15 s (log: %s/%s.log)",
		    name, port, sc->dir, name);
	}
	return -1;
}

/* Starts NAME with its scenario's flags and waits until it listens. */
static int
start_and_wait(const struct scenario *sc, const char *name, char *err, size_t errlen)
{
	if (env_start(sc, name, NULL, 0, NULL, err, errlen) != 0) {
		return -1;
	}
	return env_wait_listening(sc, name, err, errlen);
}

/* 1 when dir holds nothing. */
static int
is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	while (d != NULL && (e = readdir(d)) != NULL) {
		empty &= strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	}
	if (d != NULL) {
		closedir(d);
	}
	return empty;
}

/* Creates the state folder; refuses one already up. */
static int
make_dir(struct scenario *sc, char *err, size_t errlen)
{
	char ports[H_PATH + 16];

	snprintf(ports, sizeof(ports), "%s/ports", sc->dir);
	if (access(ports, F_OK) == 0) {
		snprintf(err, errlen, "%s is already up (xact-harness down --dir %s stops it)",
		    sc->dir, sc->dir);
		return -1;
	}
	/* A folder made here, or found empty, is ours to remove at down;
	 * one with files in it keeps them. */
	if (mkdir(sc->dir, 0755) == 0 || (errno == EEXIST && is_empty(sc->dir))) {
		sc->dir_created = 1;
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", sc->dir, strerror(errno));
		return -1;
	}
	/* initdb runs as `postgres`, which must reach its data folder. */
	if (chmod(sc->dir, 0755) != 0) {
		snprintf(err, errlen, "%s: %s", sc->dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int
up_steps(struct scenario *sc, char *err, size_t errlen)
{
	if (sc_assign_ports(sc, err, errlen) != 0 || sc_save_ports(sc, err, errlen) != 0) {
		return -1;
	}
	for (int i = 0; i < sc->nclusters && !h_interrupted; i++) {
		if (db_cluster_up(sc, &sc->clusters[i], err, errlen) != 0) {
			return -1;
		}
	}
	for (int i = 0; i < sc->ndatabases && !h_interrupted; i++) {
		if (db_create(sc, &sc->databases[i], err, errlen) != 0) {
			return -1;
		}
	}
	if (sc->coord.proxy && !h_interrupted && start_and_wait(sc, "proxy", err, errlen) != 0) {
		return -1;
	}
	for (int i = 0; i < sc->nparts && !h_interrupted; i++) {
		if (start_and_wait(sc, sc->parts[i].name, err, errlen) != 0) {
			return -1;
		}
	}
	if (sc->nparts > 0 && !h_interrupted &&
	    start_and_wait(sc, sc->coord.name, err, errlen) != 0) {
		return -1;
	}
	if (h_interrupted) {
		snprintf(err, errlen, "interrupted");
		return -1;
	}
	return 0;
}

int
env_up(struct scenario *sc, char *err, size_t errlen)
{
	/* A folder already up is refused before anything is recorded in it:
	 * what runs there is not ours to stop. */
	if (make_dir(sc, err, errlen) != 0) {
		return 1;
	}
	if (up_steps(sc, err, errlen) == 0) {
		return 0;
	}
	/* Stop what was started; keep the folder for its logs. */
	env_down(sc->dir, 1);
	return -1;
}

/* The names `up` recorded in DIR/ports (clusters, processes, and the
 * proxy), and whether `up` made the folder.  Only these are ever stopped:
 * the folder may hold files that are not ours. */
static int
recorded(const char *ports, char names[][H_NAME + 8], int max, int *created)
{
	char line[H_PATH + 64], name[H_NAME + 8];
	FILE *f = fopen(ports, "r");
	int n = 0;

	*created = 0;
	if (f == NULL) {
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL && n < max - 1) {
		if (sscanf(line, "port %39s", name) == 1 && strlen(name) < H_NAME) {
			strcpy(names[n++], name);
		}
		sscanf(line, "created %d", created);
	}
	fclose(f);
	strcpy(names[n++], "proxy");
	return n;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int
env_down(const char *dir, int keep)
{
	char names[H_MAX * 2 + 4][H_NAME + 8], ports[H_PATH + 16];
	int n, rc = 0, created;

	snprintf(ports, sizeof(ports), "%s/ports", dir);
	if (access(ports, F_OK) != 0) {
		fprintf(stderr, "xact-harness: %s is not a state folder of xact-harness (no ports "
		    "file); nothing stopped\n", dir);
		return -1;
	}
	n = recorded(ports, names, H_MAX * 2 + 4, &created);
	for (int i = 0; i < n; i++) {
		proc_signal(dir, names[i], SIGCONT); /* paused ones too */
		proc_signal(dir, names[i], SIGTERM);
	}
	for (int i = 0; i < n; i++) {
		if (proc_stop(dir, names[i], SIGTERM, 10000) != 0) {
			fprintf(stderr, "xact-harness: %s did not stop\n", names[i]);
			rc = -1;
		}
	}
	for (int i = 0; i < n; i++) {
		if (db_cluster_stop(dir, names[i]) != 0) {
			fprintf(stderr, "xact-harness: PostgreSQL cluster %s did not stop\n", names[i]);
			rc = -1;
		}
	}
	if (!keep && !created) {
		unlink(ports); /* a folder up did not make: its other files stay */
		return rc;
	}
	if (!keep && rc == 0 && nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
		fprintf(stderr, "xact-harness: cannot remove %s: %s\n", dir, strerror(errno));
		rc = -1;
	}
	return rc;
}

/* A value quoted for sh when it needs it. */
static void
print_var(const char *name, const char *suffix, const char *value)
{
	printf("%s%s%s='", name, *suffix ? "_" : "", suffix);
	for (const char *p = value; *p; p++) {
		if (*p == '\'') {
			fputs("'\\''", stdout);
		} else {
			putchar(*p);
		}
	}
	puts("'");
}

void
env_print(const struct scenario *sc)
{
	char buf[H_PATH + 64];

	print_var("XACT_HARNESS_DIR", "", sc->dir);
	if (sc->nparts > 0) {
		env_coord_url(sc, buf, sizeof(buf));
		print_var("XACT_COORDINATOR", "", buf);
		print_var("URL", sc->coord.name, buf);
		snprintf(buf, sizeof(buf), "%s/journal.db", sc->dir);
		print_var("JOURNAL", "", buf);
	}
	for (int i = 0; i < sc->nparts; i++) {
		env_part_url(sc, i, buf, sizeof(buf));
		print_var("URL", sc->parts[i].name, buf);
	}
	for (int i = 0; i < sc->nclusters; i++) {
		snprintf(buf, sizeof(buf), "%d", sc->clusters[i].port);
		print_var("PORT", sc->clusters[i].name, buf);
	}
	for (int i = 0; i < sc->ndatabases; i++) {
		const struct sc_database *d = &sc->databases[i];

		if (d->kind == DB_SQLITE) {
			print_var("FILE", d->name, d->file);
		} else {
			db_conninfo(sc, d, buf, sizeof(buf));
			print_var("CONNINFO", d->name, buf);
		}
	}
	fflush(stdout);
}
