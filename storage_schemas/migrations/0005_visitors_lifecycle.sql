-- Migration 5: who a session belongs to, and the data lifecycle (issue 11 item 5).
-- visitor_id  the recorder's first-party visitor id (batch envelope `vid`; kept
--             in the stored chunk, so reindex rebuilds it); NULL when not sent
-- user_id     the site's own user id from sessionlens.identify() (the last
--             identify event of the chunk / session); NULL when never identified
-- Erasure and access (src/sessionlens/lifecycle/) find a person's sessions
-- through these columns of `chunks` (every chunk, so a session identified
-- in a later page view is still found) and `sessions`.
ALTER TABLE chunks ADD COLUMN visitor_id TEXT;
ALTER TABLE chunks ADD COLUMN user_id TEXT;
ALTER TABLE sessions ADD COLUMN visitor_id TEXT;
ALTER TABLE sessions ADD COLUMN user_id TEXT;
CREATE INDEX IF NOT EXISTS chunks_visitor ON chunks (visitor_id);
CREATE INDEX IF NOT EXISTS chunks_user ON chunks (user_id);
CREATE INDEX IF NOT EXISTS sessions_visitor ON sessions (site, visitor_id);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (site, user_id);

-- Leases of scheduled jobs (retention): a worker runs a job once per period
-- by taking its row (holder, lease expiry) and recording when it last ran.
-- Bookkeeping, not derived from chunks: reindex leaves it alone.
CREATE TABLE IF NOT EXISTS job_leases (
    name        TEXT NOT NULL PRIMARY KEY,
    holder      TEXT,
    expires_at  INTEGER NOT NULL DEFAULT 0,  -- epoch ms: lease expiry
    last_run    INTEGER NOT NULL DEFAULT 0   -- epoch ms: when the last run finished
);

-- Shared holds on a site's content-addressed assets: compaction holds one
-- while it writes assets and the packs and keyframes that reference them;
-- erasure and retention delete unreferenced assets only under the site's
-- exclusive lease (job_leases row 'assets/{site}'), which is refused while a
-- live hold exists and keeps new holds out while it is held. Bookkeeping.
CREATE TABLE IF NOT EXISTS asset_holds (
    site        TEXT NOT NULL,
    holder      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (site, holder)
);
