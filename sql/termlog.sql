-- xact participant termination log, schema version 1.
--
-- One file per agent.  A row is a branch of a three-phase commit
-- transaction this agent voted YES for: its state ('prepared', then
-- 'precommitted'), the highest termination ballot it promised to obey, and
-- the other participants of the transaction (name=url,...), so that after a
-- crash the agent can still find them.  Written (WAL, synchronous=FULL)
-- before the YES vote, before acknowledging a PRECOMMIT and before answering
-- a ballot; deleted once the branch committed or rolled back.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE terms (
    gid      TEXT PRIMARY KEY,   -- the global transaction's gid
    state    TEXT NOT NULL CHECK (state IN ('prepared', 'precommitted')),
    promised INTEGER NOT NULL DEFAULT 0,
    peers    TEXT NOT NULL
);

INSERT INTO meta (key, value) VALUES ('magic', 'xact-termlog');
INSERT INTO meta (key, value) VALUES ('schema_version', '1');
