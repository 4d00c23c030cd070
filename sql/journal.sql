-- xact coordinator journal, schema version 3 (2 added `heuristics`, 3 added
-- `precommits`; a version 2 journal is brought to 3 when a coordinator opens
-- it, by running the part below the line "-- schema 3").
--
-- Presumed abort: a gid with no row in `decisions` was aborted.  A commit
-- decision, with the names of the participants that voted YES, is inserted
-- and synced (WAL, synchronous=FULL) before any COMMIT is sent.  Completion is
-- written lazily; completed rows are deleted after the retention period.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE decisions (
    gid          TEXT PRIMARY KEY,
    decision     TEXT NOT NULL CHECK (decision IN ('commit')),
    participants TEXT NOT NULL,     -- comma-separated participant names
    decided_at   INTEGER NOT NULL,  -- unix time, milliseconds
    completed_at INTEGER            -- NULL until every participant acked
);

CREATE INDEX decisions_by_completion ON decisions (completed_at);

-- Outcomes a participant reported against the decision: a branch rolled back
-- by hand although the decision was commit (heuristic abort), or committed
-- although it was abort (heuristic commit).  Kept for the operator; never
-- garbage-collected.
CREATE TABLE heuristics (
    gid         TEXT NOT NULL,
    participant TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('commit', 'abort')),
    outcome     TEXT NOT NULL CHECK (outcome IN ('committed', 'aborted')),
    detected_at INTEGER NOT NULL,   -- unix time, milliseconds
    PRIMARY KEY (gid, participant)
);

INSERT INTO meta (key, value) VALUES ('magic', 'xact-journal');
INSERT INTO meta (key, value) VALUES ('schema_version', '3');
INSERT INTO meta (key, value) VALUES ('seq_reserved', '0');
-- the highest gid number whose decision was deleted (retention, forget);
-- a journal made without this row gets seq_reserved when next opened
INSERT INTO meta (key, value) VALUES ('dropped_seq', '0');

-- schema 3
-- Three-phase commit: the pre-commit decision (every participant voted YES),
-- synced before any PRECOMMIT is sent.  The commit decision, when it comes,
-- is inserted into `decisions` in the same write that deletes this row; an
-- abort decided by the termination protocol deletes it.  A row found here at
-- start-up with none in `decisions` is a transaction whose outcome the
-- participants' termination protocol decides.
CREATE TABLE precommits (
    gid          TEXT PRIMARY KEY,
    participants TEXT NOT NULL,     -- comma-separated participant names
    decided_at   INTEGER NOT NULL   -- unix time, milliseconds
);
