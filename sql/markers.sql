-- Tables the SQLite participant keeps inside the database it serves.
--
-- xact_meta.db_id names the database; its side log records the same id, so a
-- side log copied beside another database is refused.  A row in xact_markers
-- is written in the same transaction as a branch's data when it commits: after
-- a crash, a marker means "committed", its absence "not committed".
CREATE TABLE IF NOT EXISTS xact_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS xact_markers (
    gid          TEXT PRIMARY KEY,
    committed_at INTEGER NOT NULL    -- unix time, milliseconds
);
