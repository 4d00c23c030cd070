-- xact participant termination log, schema version 2 (version 1 had no
-- 'readonly' state and no `at`).
--
-- One file per agent.  A row is a branch of a three-phase commit
-- transaction this agent voted YES for: its state ('prepared', then
-- 'precommitted'), the highest termination ballot it promised to obey, and
-- the other participants of the transaction (name=url,...), so that after a
-- crash the agent can still find them.  Written (WAL, synchronous=FULL)
-- before the YES vote, before acknowledging a PRECOMMIT and before answering
-- a ballot; deleted once the branch committed or rolled back.
--
-- A branch that voted READ-ONLY under 3PC is kept as 'readonly' for the
-- marker retention: a termination leader that asks about it later must hear
-- "read only", not the "rolled back" an unknown branch is settled to (which
-- would make it abort a transaction others may have committed).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE terms (
    gid      TEXT PRIMARY KEY,   -- the global transaction's gid
    state    TEXT NOT NULL CHECK (state IN ('prepared', 'precommitted', 'readonly')),
    promised INTEGER NOT NULL DEFAULT 0,
    peers    TEXT NOT NULL,
    at       INTEGER NOT NULL DEFAULT 0  -- unix ms of the last write
);
CREATE INDEX terms_by_state ON terms (state, at); -- pruning of 'readonly' rows

INSERT INTO meta (key, value) VALUES ('magic', 'xact-termlog');
INSERT INTO meta (key, value) VALUES ('schema_version', '2');
