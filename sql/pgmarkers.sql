-- What the PostgreSQL participant keeps inside the database it serves.
--
-- A writing branch inserts its marker in its own transaction, before
-- PREPARE TRANSACTION: COMMIT PREPARED makes the marker durable with the
-- data, ROLLBACK PREPARED removes it.  Asked later about a gid it no longer
-- holds prepared, the agent answers from the marker: present means
-- committed, absent means not committed.  Markers older than the agent's
-- --marker-retention are deleted.
--
-- A one-phase commit (the transaction's only branch commits without
-- PREPARE) inserts the same marker before its COMMIT.  When its result was
-- lost, the agent settles the gid with a fence: a row with fenced = true,
-- inserted unless a marker is there (waiting for a commit still on its
-- way).  A fenced gid did not commit and never will: a late commit of it
-- fails on the primary key.  A fence is no marker: it means "not committed".
CREATE SCHEMA IF NOT EXISTS xact;

CREATE TABLE IF NOT EXISTS xact.markers (
    gid          text PRIMARY KEY,   -- the branch's database name (gid:agent)
    committed_at timestamptz NOT NULL DEFAULT now(),
    fenced       boolean NOT NULL DEFAULT false
);

-- A table made before one-phase commit gets its column.
ALTER TABLE xact.markers ADD COLUMN IF NOT EXISTS fenced boolean NOT NULL DEFAULT false;
