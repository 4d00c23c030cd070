-- xact SQLite participant side log, schema version 1.
--
-- One file beside the database it serves ("<database>-xact-log").  A row in
-- `branches` is a prepared branch: the changeset of its writes, force-written
-- (WAL, synchronous=FULL) before the agent votes YES.  The row is deleted once
-- the branch committed (its marker row is in the database) or rolled back.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE branches (
    gid        TEXT PRIMARY KEY,   -- the branch's database name (gid:agent)
    changeset  BLOB NOT NULL,      -- sqlite3session_changeset() of its writes
    created_at INTEGER NOT NULL    -- unix time, milliseconds
);

INSERT INTO meta (key, value) VALUES ('magic', 'xact-sidelog');
INSERT INTO meta (key, value) VALUES ('schema_version', '1');
