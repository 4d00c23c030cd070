/*
 * harness.h - xact-harness: throwaway databases, real xact processes,
 * injected faults and checked invariants, described by an INI scenario.
 *
 * Modules:
 *   scenario.c  the scenario file: parsing, validation, ports (sc_)
 *   proc.c      processes started detached under a keeper that records
 *               their exit status; the state folder (proc_)
 *   db.c        PostgreSQL clusters (initdb/pg_ctl as `postgres` when root),
 *               SQL on PostgreSQL and SQLite databases (db_)
 *   proxy.c     the link proxy: cut, heal, slow (proxy_)
 *   workload.c  the bank and SQL workloads, through the client API (wl_)
 *   check.c     the invariants, once recovery has settled (check_)
 *   env.c       up, down, start, stop: a scenario's processes (env_)
 *   run.c       run and chaos: workload, faults, checks, report (run_)
 *
 * Everything a scenario starts is recorded in its state folder, so that
 * `down` (or an interrupted `up`/`run`) stops exactly that: processes by the
 * PID their keeper wrote, clusters by their data folder.  Nothing is ever
 * stopped by name.
 *
 * Errors: functions returning int return 0 on success and -1 on failure,
 * with a message in the caller's err buffer (or printed, where noted).
 */
#ifndef XACT_HARNESS_H
#define XACT_HARNESS_H

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define H_NAME 32      /* names: [a-z][a-z0-9_]*, shell variable safe */
#define H_MAX 16       /* clusters, databases, participants, faults */
#define H_TEXT 1024    /* extra flags, settings, SQL one-liners */
#define H_PATH PATH_MAX

enum db_kind { DB_POSTGRES, DB_SQLITE };

struct sc_cluster {
	char name[H_NAME];
	char settings[H_TEXT]; /* extra "-c" settings, comma-separated k=v */
	int port;              /* 0 in the file: chosen free at up */
	int fsync;             /* fsync=on; off by default (processes die, not the OS) */
};

struct sc_database {
	char name[H_NAME];
	enum db_kind kind;
	char cluster[H_NAME];   /* postgres */
	char dbname[64];        /* postgres: default the section name */
	char file[H_PATH];      /* sqlite: absolute, default DIR/NAME.db */
	char schema[H_PATH];    /* SQL files run once at up, absolute ("" none) */
	char seed[H_PATH];
	int bank;               /* create the bank tables (accounts, ledger) */
};

struct sc_participant {
	char name[H_NAME];
	char database[H_NAME];
	char args[H_TEXT];      /* extra flags, split on blanks */
	char env[H_TEXT];       /* K=V ... added to its environment */
	int port;
};

struct sc_coordinator {
	char name[H_NAME];      /* "coord" unless named */
	char id[H_NAME + 1];   /* config_set_name: up to 32 */
	char args[H_TEXT];
	char env[H_TEXT];
	int port;
	int proxy;              /* links go through the harness's proxy */
};

enum wl_type { WL_NONE, WL_BANK, WL_SQL };

struct sc_workload {
	enum wl_type type;
	int clients;
	double duration;         /* seconds; 0: run `transfers` */
	int transfers;           /* bank: how many; 0: for `duration` */
	double abort_ratio;      /* bank: share made to fail on a database */
	int abort_every;         /* bank: or every Nth transfer (x % N == 0) */
	int local_every;         /* bank: every Nth transfer stays in one database
	                          * (x % N == 1 % N); 0: none */
	int accounts;            /* bank: per database */
	long balance;            /* bank: seed balance of each account */
	int protocol;            /* XACT_PROTOCOL_* */
	int timeout_ms;          /* client call timeout */
	char participants[H_MAX][H_NAME]; /* bank: which, default all */
	int nparticipants;
	char file[H_PATH];       /* sql: the transactions */
	char invariant[H_TEXT];  /* sql: summed over its databases, unchanged */
};

enum fault_type {
	F_KILL,       /* SIGKILL at a moment, restarted after `duration` */
	F_CRASH_AT,   /* restarted armed with failpoint=crash@hit, then again plain */
	F_PAUSE,      /* SIGSTOP for `duration`, then SIGCONT */
	F_CUT,        /* link coordinator<->target moves no bytes for `duration` */
	F_SLOW,       /* link coordinator<->target delayed `delay_ms` for `duration` */
	F_PG_RESTART, /* cluster `target` restarted (immediate) */
	F_COUNT
};

struct sc_fault {
	char name[H_NAME];
	enum fault_type type;
	char target[H_NAME];     /* process, participant (links) or cluster */
	char failpoint[64];
	int hit;                 /* crash_at: the Nth hit (1) */
	double at;               /* seconds after the workload starts */
	int at_random;           /* at = random: drawn from the seed */
	double duration;
	int delay_ms;
};

struct sc_check {
	char name[H_NAME];
	char database[H_NAME];
	char query[H_TEXT];
	char expect[256];
};

struct scenario {
	char path[H_PATH];      /* the file, absolute */
	char dir[H_PATH];       /* the state folder, absolute */
	double settle;          /* seconds recovery may take before checks */
	uint64_t seed;
	struct sc_cluster clusters[H_MAX];
	int nclusters;
	struct sc_database databases[H_MAX];
	int ndatabases;
	struct sc_participant parts[H_MAX];
	int nparts;
	struct sc_coordinator coord;
	struct sc_workload wl;
	struct sc_fault faults[H_MAX];
	int nfaults;
	struct sc_check checks[H_MAX];
	int nchecks;
	int proxy_ports[H_MAX][2]; /* per participant: to it, to the coordinator */
	int dir_created;        /* up made the state folder: down may remove it */
};

/* ---- scenario.c ---- */

/* Reads and validates the scenario at path: unknown sections and keys,
 * missing files, clashing names and ports are errors.  dir (may be NULL)
 * overrides [harness] dir.  Ports left 0 are not yet chosen. */
int sc_load(struct scenario *sc, const char *path, const char *dir, char *err, size_t errlen);
/* Sets the state folder (absolute) and places SQLite files in it. */
int sc_set_dir(struct scenario *sc, const char *dir, char *err, size_t errlen);
/* Chooses a free port on 127.0.0.1 for every port left 0, and proxy ports. */
int sc_assign_ports(struct scenario *sc, char *err, size_t errlen);
/* The ports file in the state folder: written at up, read by later commands. */
int sc_save_ports(const struct scenario *sc, char *err, size_t errlen);
int sc_load_ports(struct scenario *sc, char *err, size_t errlen);
/* Lookups by name; NULL when absent. */
const struct sc_database *sc_database(const struct scenario *sc, const char *name);
const struct sc_participant *sc_part(const struct scenario *sc, const char *name);
const struct sc_cluster *sc_cluster(const struct scenario *sc, const char *name);
const char *sc_fault_name(enum fault_type t);
/* A free TCP port on 127.0.0.1 (15000-31999, below the ephemeral range). */
int sc_free_port(void);
/* Proxy ports: coordinator->participant i and participant i->coordinator. */
int sc_proxy_port(const struct scenario *sc, int part, int to_coord);

/* ---- proc.c ---- */

/* Starts argv[0] as process NAME of the state folder: detached (own
 * session), stdout and stderr appended to DIR/NAME.log, under a keeper that
 * writes DIR/NAME.pid while it runs and DIR/NAME.status (exit code, or
 * 128+signal) when it ends.  env (NULL-terminated, may be NULL) changes
 * its environment: "K=V" sets, "K" unsets.  Returns once the PID is
 * recorded. */
int proc_start(const char *dir, const char *name, char *const argv[], const char *const env[],
    char *err, size_t errlen);
/* The PID of NAME while it runs, else 0. */
int proc_pid(const char *dir, const char *name);
/* Sends sig to NAME; 0, or -1 when it is not running. */
int proc_signal(const char *dir, const char *name, int sig);
/* Sends sig and waits up to timeout_ms for NAME to end; SIGKILL after
 * that.  Returns 0 when it ended (or was not running). */
int proc_stop(const char *dir, const char *name, int sig, int timeout_ms);
/* Waits up to timeout_ms for NAME to end by itself; *status as the shell
 * reports it.  Returns 0, or -1 on timeout. */
int proc_wait(const char *dir, const char *name, int timeout_ms, int *status);
/* Waits until something accepts on 127.0.0.1:port; -1 after timeout_ms. */
int proc_wait_port(int port, int timeout_ms);
/* Runs argv to completion (stdout+stderr to log, or inherited when NULL);
 * returns its exit status, or -1 when it could not run. */
int proc_run(char *const argv[], const char *log);
/* Set by SIGINT/SIGTERM handlers; long waits return early when set. */
extern volatile sig_atomic_t h_interrupted;
void h_sleep_ms(int ms);

/* ---- db.c ---- */

/* initdb (as `postgres` when root) and start cluster c in DIR/pg-NAME. */
int db_cluster_up(const struct scenario *sc, const struct sc_cluster *c, char *err, size_t errlen);
/* pg_ctl stop -m immediate (or restart) of a cluster started in dir. */
int db_cluster_stop(const char *dir, const char *name);
int db_cluster_restart(const char *dir, const char *name, char *err, size_t errlen);
/* Creates database d (createdb / new file), runs the bank tables, schema
 * and seed. */
int db_create(const struct scenario *sc, const struct sc_database *d, char *err, size_t errlen);
/* libpq conninfo of a PostgreSQL database. */
void db_conninfo(const struct scenario *sc, const struct sc_database *d, char *buf, size_t n);
/* Runs sql on d.  With out != NULL, the first column of the first row
 * (malloc'd, "" when no row) is stored there.  Returns 0 or -1 with err. */
int db_query(const struct scenario *sc, const struct sc_database *d, const char *sql, char **out,
    char *err, size_t errlen);
/* Runs sql on d and calls row() with each row's first column. */
int db_each(const struct scenario *sc, const struct sc_database *d, const char *sql,
    void (*row)(void *arg, const char *value), void *arg, char *err, size_t errlen);
/* Prepared branches d still holds: pg_prepared_xacts of its database, or
 * the SQLite side log's records.  -1 when it cannot be asked. */
long db_prepared(const struct scenario *sc, const struct sc_database *d, char *err, size_t errlen);

/* ---- proxy.c ---- */

/* The proxy process (`xact-harness proxy`): forwards every link of the
 * scenario and obeys DIR/proxy.sock.  Returns when told to quit. */
int proxy_main(const struct scenario *sc);
/* Sends a command ("cut pa", "heal pa", "slow pa 50", "heal all") to the
 * proxy of the state folder and waits for its "ok". */
int proxy_command(const char *dir, const char *cmd, char *err, size_t errlen);

/* ---- workload.c ---- */

struct wl_outcome {
	long xfer;           /* bank: transfer number; sql: transaction number */
	char outcome[12];    /* committed | aborted | unknown */
	char gid[64];        /* "-" when none was given */
	unsigned char parts[H_MAX]; /* participants it wrote on (indexes) */
};

struct wl_result {
	struct wl_outcome *out;
	size_t n, cap;
	long committed, aborted, unknown;
	double seconds;
	double p50_ms, p99_ms;
};

/* Runs the scenario's workload against its coordinator; first numbers the
 * transfers (so that runs of chaos never reuse one).  Outcomes are also
 * appended to DIR/outcomes as "XFER OUTCOME GID".  Returns 0, or -1 when
 * the workload could not run at all. */
int wl_run(const struct scenario *sc, long first, struct wl_result *r, char *err, size_t errlen);
/* The indexes (into wl.participants) of transfer x's source and
 * destination. */
void wl_bank_route(const struct scenario *sc, long x, int *from, int *to);
/* Resets the bank tables of every database to the seed. */
int wl_bank_reset(const struct scenario *sc, char *err, size_t errlen);
void wl_result_free(struct wl_result *r);
/* Reads outcomes written by wl_run ("XFER OUTCOME GID [PART,PART...]"). */
int wl_read_outcomes(const struct scenario *sc, const char *path, struct wl_result *r, char *err,
    size_t errlen);
/* The names of the participants o wrote on, comma-separated, into buf. */
void wl_outcome_parts(const struct scenario *sc, const struct wl_outcome *o, char *buf, size_t n);
/* A scenario without a workload whose participants (two or more) all
 * have bank tables gets the bank workload over all of them. */
void sc_default_bank(struct scenario *sc);

/* ---- check.c ---- */

/* Waits (up to sc->settle s) until nothing is left prepared anywhere. */
int check_settle(const struct scenario *sc);
/* Checks the invariants; prints each violation (gid, what every database
 * holds, the journal's record) to stdout; invariant (may be NULL) is the
 * SQL invariant's value before the workload.  Returns the number of
 * violations, or -1 when the checks could not run. */
int check_all(const struct scenario *sc, const struct wl_result *r, const long *invariant,
    char *err, size_t errlen);
/* The scenario's SQL invariant summed over the participants' databases. */
int check_invariant(const struct scenario *sc, long *sum, char *err, size_t errlen);

/* ---- env.c ---- */

/* up: folder, clusters, databases, proxy, participants, coordinator.
 * Returns 0; 1 when the folder cannot be made or is already up (nothing
 * started, nothing stopped); -1 on a later failure (or interruption),
 * after stopping what it started. */
int env_up(struct scenario *sc, char *err, size_t errlen);
/* Stops every process and cluster recorded in the state folder. */
int env_down(const char *dir, int keep);
/* Starts one process of the scenario (participant, coordinator, proxy),
 * with extra flags appended and env as for proc_start. */
int env_start(const struct scenario *sc, const char *name, char *const extra[], int nextra,
    const char *const env[], char *err, size_t errlen);
/* Waits (15 s) until NAME listens, if it listens at all.  -1 with err
 * when it exited meanwhile or does not listen. */
int env_wait_listening(const struct scenario *sc, const char *name, char *err, size_t errlen);
/* Prints the environment (URLs, ports, conninfo, files) as NAME=VALUE. */
void env_print(const struct scenario *sc);
/* The coordinator's URL (proxied or not is the same: clients talk to it). */
void env_coord_url(const struct scenario *sc, char *buf, size_t n);
void env_part_url(const struct scenario *sc, int i, char *buf, size_t n);

/* ---- run.c ---- */

/* up, workload with the scenario's faults, checks, report, down.  Returns
 * 0, 1 on a violation, 2 when it could not run; keeps the state folder
 * when asked or when something went wrong. */
int run_scenario(struct scenario *sc, const char *report, int keep);
/* runs rounds on one environment, one random fault each, drawn from
 * seed + round; prints a row per round.  Returns as run_scenario. */
int run_chaos(struct scenario *sc, int runs, uint64_t seed, double duration, int keep);

#endif
