-- What the PostgreSQL participant keeps inside the database it serves.
--
-- A writing branch inserts its marker in its own transaction, before
-- PREPARE TRANSACTION: COMMIT PREPARED makes the marker durable with the
-- data, ROLLBACK PREPARED removes it.  Asked later about a gid it no longer
-- holds prepared, the agent answers from the marker: present means
-- committed, absent means not committed.  Markers older than the agent's
-- --marker-retention are deleted.
CREATE SCHEMA IF NOT EXISTS xact;

CREATE TABLE IF NOT EXISTS xact.markers (
    gid          text PRIMARY KEY,   -- the branch's database name (gid:agent)
    committed_at timestamptz NOT NULL DEFAULT now()
);
