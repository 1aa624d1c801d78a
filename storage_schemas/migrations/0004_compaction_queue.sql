-- Migration 4: the compaction queue (issue 9, stored bytes;
-- src/sessionlens/compaction/queue.py). One row per page view whose chunks
-- are still to be packed. Every derivation pass (one per new chunk) pushes
-- available_at to now + compaction_idle_seconds, so a page view is compacted
-- once it has been idle that long. Claimed with a lease like
-- derivation_queue (claimed_by, available_at = lease expiry) and deleted once
-- its compaction is verified. Bookkeeping, not derived from chunks: reindex
-- leaves it alone (`sessionlens compact` finds page views from storage).
CREATE TABLE IF NOT EXISTS compaction_queue (
    site         TEXT NOT NULL,
    sid          TEXT NOT NULL,
    pid          TEXT NOT NULL,
    generation   INTEGER NOT NULL DEFAULT 1,
    available_at INTEGER NOT NULL,
    claimed_by   TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    PRIMARY KEY (site, sid, pid)
);
CREATE INDEX IF NOT EXISTS compaction_queue_due ON compaction_queue (available_at);
