/*
 * journal.h - the coordinator's durable decision log: one SQLite file in WAL
 * mode with synchronous=FULL (schema: sql/journal.sql).
 *
 * It owns three connections: one for its writer thread, which batches every
 * pending decision into one transaction (group commit: one fsync serves many
 * transactions); one for gid reservations, made from the caller's thread;
 * and one for reads, which sees only committed, hence durable, rows.  The
 * journal never talks to the network.
 */
#ifndef XACT_JOURNAL_H
#define XACT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_SCHEMA_VERSION 3

typedef struct journal journal;

struct journal_record {
	char gid[64];
	char participants[2048]; /* comma-separated names (32 x 33 fit) */
	int64_t decided_at;      /* unix ms */
	int64_t completed_at;    /* 0 while pending */
};

struct journal_stats {
	uint64_t batches;   /* write transactions (each one fsync) */
	uint64_t decisions; /* commit decisions written */
	uint64_t max_batch; /* most decisions in one batch */
	uint64_t busy_ms;   /* time spent in write transactions */
};

/* Called from the writer thread once the decision is durable (err == 0) or
 * its write failed (err = XACT_EJOURNAL, msg says why).  Must not block. */
typedef void (*journal_cb)(void *arg, const char *gid, int err, const char *msg);

/*
 * Opens, creating it (and fsyncing its folder) when missing.  Refuses, with
 * a readable message in err, a file that is not SQLite, not an xact journal,
 * of another schema version or another coordinator id, or on which WAL mode
 * and synchronous=FULL do not read back.  Blocks (file I/O).
 */
int journal_open(journal **out, const char *path, const char *coord_id,
    char *err, size_t errlen);

/* Opens an existing journal read-only, for offline inspection. */
int journal_open_readonly(journal **out, const char *path, char *err, size_t errlen);

/* Flushes what was submitted, stops the writer, closes.  Blocks. */
void journal_close(journal *j);

/* Reserves count gid sequence numbers durably; *first is the first one.
 * Numbers are never handed out twice, even across crashes.  Blocks. */
int journal_reserve_seq(journal *j, uint64_t count, uint64_t *first);

/* Calls fn for every commit decision not yet completed.  Blocks. */
int journal_foreach_pending(journal *j,
    int (*fn)(void *arg, const struct journal_record *r), void *arg);

/* Calls fn for every decision, completed or not (for inspection). */
int journal_foreach_decision(journal *j,
    int (*fn)(void *arg, const struct journal_record *r), void *arg);

struct journal_heuristic {
	char gid[64];
	char participant[64];
	char decision[16]; /* commit | abort */
	char outcome[16];  /* committed | aborted */
	int64_t detected_at;
};

/* Calls fn for every heuristic outcome recorded. */
int journal_foreach_heuristic(journal *j,
    int (*fn)(void *arg, const struct journal_heuristic *h), void *arg);

/* A meta value (magic, schema_version, coordinator_id, seq_reserved), as a
 * malloc'd string; NULL when absent. */
char *journal_meta(journal *j, const char *key);

/* 1 when gid's commit decision may have been in the journal and deleted
 * since (retention, forget): its number is at most the highest deleted.
 * Then a missing row does not mean that no commit was decided.  0
 * otherwise, and for a run id, which carries no number. */
int journal_dropped(journal *j, const char *gid);

/* Records the names of the n participants now configured.  When one that
 * was configured at the last start is not any more, every gid number
 * reserved so far may have a branch on it: *absent_upto is then the
 * highest such number (kept across starts), else what it was (0 when no
 * participant ever went).  Blocks; before journal_start. */
int journal_note_participants(journal *j, const char *const *names, int n, uint64_t *absent_upto);

/* 1 when a heuristic outcome is recorded for gid, 0 when none (or the
 * journal cannot be read). */
int journal_has_heuristic(journal *j, const char *gid);

/* SQLite's integrity check and WAL mode: 0, or XACT_EJOURNAL with why. */
int journal_check(journal *j, char *err, size_t errlen);

/* Looks gid up: 0 and *r filled, XACT_ENOTFOUND, or XACT_EJOURNAL. */
int journal_lookup(journal *j, const char *gid, struct journal_record *r);

/* Starts the writer thread (after recovery has read what it needs).
 * group_wait_ms: how long a forced write may wait for the decisions on
 * their way (journal_expect) to share its fsync; 0: never waits. */
int journal_start(journal *j, int64_t retention_ms, int group_wait_ms);

/* Counts (deltas) of the decisions that may come: live transactions not
 * yet decided, and of those the ones at work (running a statement or
 * gathering votes).  With many live, a forced write waits for those at
 * work (journal_start). */
void journal_expect(journal *j, int live, int voting);

/* Queues a commit decision; cb runs once it is durable.  Never blocks on
 * I/O.  Returns XACT_ENOMEM or XACT_ECLOSED without calling cb. */
int journal_submit_commit(journal *j, const char *gid, const char *participants,
    journal_cb cb, void *arg);

/* 3PC: queues the pre-commit decision; cb runs once it is durable.  A later
 * journal_submit_commit of gid removes it in the same write.  Returns as
 * journal_submit_commit. */
int journal_submit_precommit(journal *j, const char *gid, const char *participants,
    journal_cb cb, void *arg);

/* 3PC: queues the removal of gid's pre-commit (the termination decided
 * abort); no callback. */
int journal_submit_unprecommit(journal *j, const char *gid);

/* 3PC: looks up gid's pre-commit that has no commit decision: 0 and *r
 * filled, XACT_ENOTFOUND, or XACT_EJOURNAL. */
int journal_lookup_precommit(journal *j, const char *gid, struct journal_record *r);

/* 3PC: calls fn for every pre-commit with no commit decision.  Blocks. */
int journal_foreach_precommit(journal *j,
    int (*fn)(void *arg, const struct journal_record *r), void *arg);

/* Queues "every participant acknowledged"; written lazily, no callback. */
int journal_submit_complete(journal *j, const char *gid);

/* Queues the deletion of gid's decision (an operator's "forget"); no
 * callback. */
int journal_submit_forget(journal *j, const char *gid);

/* Queues a heuristic outcome: participant reported `outcome` ("committed"
 * or "aborted") against `decision` ("commit" or "abort").  No callback. */
int journal_submit_heuristic(journal *j, const char *gid, const char *participant,
    const char *decision, const char *outcome);

void journal_get_stats(journal *j, struct journal_stats *st);

#endif
