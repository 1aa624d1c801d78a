-- Migration 1: the index as it was when migrations began (storage_schemas/index.sql).
-- Never edit a committed migration: add NNNN_what.sql beside it (see README.md).
-- Every table here is derived from stored chunks and can be rebuilt with
-- `sessionlens reindex`, except the bookkeeping tables (derivation_queue,
-- batch_slots). Times are epoch milliseconds unless named *_ms (a duration).
-- Written with SQLite's types; PostgreSQL gets BIGINT / DOUBLE PRECISION and
-- clicks and moves partitioned by day (src/sessionlens/index/dialect.py).

-- One row per stored chunk: the facts of that chunk alone. Page views and
-- sessions are aggregated from these, so a retried (overwritten) chunk
-- replaces its row instead of counting twice.
CREATE TABLE IF NOT EXISTS chunks (
    site        TEXT NOT NULL,
    sid         TEXT NOT NULL,
    pid         TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    t0          INTEGER NOT NULL,      -- page view start
    received    INTEGER NOT NULL,
    stored_bytes INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    t_first     INTEGER,               -- relative to t0
    t_last      INTEGER,
    act_first   INTEGER,               -- first / last user activity, relative to t0
    act_last    INTEGER,
    active_ms   INTEGER NOT NULL DEFAULT 0,
    clicks      INTEGER NOT NULL DEFAULT 0,
    inputs      INTEGER NOT NULL DEFAULT 0,
    errors      INTEGER NOT NULL DEFAULT 0,
    customs     INTEGER NOT NULL DEFAULT 0,
    navs        INTEGER NOT NULL DEFAULT 0,
    max_scroll_y REAL,                 -- deepest window scroll top
    page_height REAL,                  -- largest document height seen
    has_snapshot INTEGER NOT NULL DEFAULT 0,
    url         TEXT,                  -- from the meta event (first chunk)
    title       TEXT,
    referrer    TEXT,
    ua          TEXT,
    vw          REAL,
    vh          REAL,
    urls        TEXT NOT NULL DEFAULT '[]',  -- JSON list of URLs entered in this chunk (meta, SPA navs)
    PRIMARY KEY (site, sid, pid, seq)
);

CREATE TABLE IF NOT EXISTS page_views (
    site        TEXT NOT NULL,
    sid         TEXT NOT NULL,
    pid         TEXT NOT NULL,
    t0          INTEGER NOT NULL,
    end_time    INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    active_ms   INTEGER NOT NULL,
    url         TEXT,
    title       TEXT,
    referrer    TEXT,
    vw          REAL,
    vh          REAL,
    device      TEXT,
    browser     TEXT,
    os          TEXT,
    chunks      INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    clicks      INTEGER NOT NULL,
    inputs      INTEGER NOT NULL,
    errors      INTEGER NOT NULL,
    customs     INTEGER NOT NULL,
    navs        INTEGER NOT NULL,
    max_scroll_y REAL,
    page_height REAL,
    stored_bytes INTEGER NOT NULL,
    PRIMARY KEY (site, sid, pid)
);
CREATE INDEX IF NOT EXISTS page_views_url ON page_views (site, url);

-- Every URL a page view showed (its entry URL and SPA route changes).
CREATE TABLE IF NOT EXISTS page_urls (
    site TEXT NOT NULL,
    sid  TEXT NOT NULL,
    pid  TEXT NOT NULL,
    url  TEXT NOT NULL,
    PRIMARY KEY (site, sid, pid, url)
);
CREATE INDEX IF NOT EXISTS page_urls_url ON page_urls (site, url);

CREATE TABLE IF NOT EXISTS sessions (
    site        TEXT NOT NULL,
    sid         TEXT NOT NULL,
    start_time  INTEGER NOT NULL,
    end_time    INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    active_ms   INTEGER NOT NULL,
    entry_url   TEXT,
    exit_url    TEXT,
    page_count  INTEGER NOT NULL,
    device      TEXT,
    browser     TEXT,
    os          TEXT,
    vw          REAL,
    vh          REAL,
    referrer    TEXT,
    utm_source  TEXT,
    utm_medium  TEXT,
    utm_campaign TEXT,
    utm_term    TEXT,
    utm_content TEXT,
    clicks      INTEGER NOT NULL,
    inputs      INTEGER NOT NULL,
    errors      INTEGER NOT NULL,
    customs     INTEGER NOT NULL,
    batches     INTEGER NOT NULL,
    stored_bytes INTEGER NOT NULL,
    PRIMARY KEY (site, sid)
);
CREATE INDEX IF NOT EXISTS sessions_start ON sessions (site, start_time DESC);
CREATE INDEX IF NOT EXISTS sessions_sid ON sessions (sid);

-- Every click of a page view with what heatmaps need, and its frustration
-- signals (heatmap/signals.py). Rebuilt per page view as its chunks arrive.
CREATE TABLE IF NOT EXISTS clicks (
    site     TEXT NOT NULL,
    sid      TEXT NOT NULL,
    pid      TEXT NOT NULL,
    t0       INTEGER NOT NULL,     -- page view start (epoch ms)
    t        INTEGER NOT NULL,     -- ms into the page view
    url      TEXT NOT NULL,        -- URL shown at the click (SPA routes included)
    selector TEXT NOT NULL,
    fx REAL NOT NULL, fy REAL NOT NULL,   -- offset inside the target, 0..1
    px REAL NOT NULL, py REAL NOT NULL,   -- page coordinates
    vw REAL NOT NULL, pw REAL NOT NULL, ph REAL NOT NULL,
    tag      TEXT NOT NULL,
    rage     INTEGER NOT NULL,
    dead     INTEGER NOT NULL,
    error    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS clicks_page ON clicks (site, sid, pid);
CREATE INDEX IF NOT EXISTS clicks_site_time ON clicks (site, t0);
CREATE INDEX IF NOT EXISTS clicks_url ON clicks (site, url);

-- Sampled pointer positions (at most one per MOVE_SAMPLE_MS) for move maps.
CREATE TABLE IF NOT EXISTS moves (
    site TEXT NOT NULL,
    sid  TEXT NOT NULL,
    pid  TEXT NOT NULL,
    t0   INTEGER NOT NULL,
    t    INTEGER NOT NULL,
    url  TEXT NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL,   -- page coordinates
    vw REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS moves_page ON moves (site, sid, pid);
CREATE INDEX IF NOT EXISTS moves_url ON moves (site, url);

-- Post-ingest derivation work (sessionlens/derivation): one row per page view
-- whose derived data (keyframes, click and move facts) is behind its chunks.
-- Written in the same transaction as the chunk row, so acknowledged work is
-- never lost; a worker claims a row by moving available_at past now (a
-- lease), so a crashed worker's claim is taken again once it expires.
-- Deleted when the derivation of `generation` is written; a chunk arriving
-- meanwhile bumps `generation` and the row stays for another pass.
CREATE TABLE IF NOT EXISTS derivation_queue (
    site         TEXT NOT NULL,
    sid          TEXT NOT NULL,
    pid          TEXT NOT NULL,
    generation   INTEGER NOT NULL DEFAULT 1,  -- bumped by every new chunk
    available_at INTEGER NOT NULL DEFAULT 0,  -- epoch ms: lease expiry or retry time
    claimed_by   TEXT,                        -- worker holding the lease, NULL when free
    attempts     INTEGER NOT NULL DEFAULT 0,  -- claims since the last new chunk
    last_error   TEXT,
    PRIMARY KEY (site, sid, pid)
);
CREATE INDEX IF NOT EXISTS derivation_queue_due ON derivation_queue (available_at);

-- Batches accepted per session (sessionlens/batch_slots.py): a key is
-- reserved here, on the index's single writer thread, before its chunk is
-- written, so concurrent requests cannot pass max_batches_per_session
-- together. The count also includes `chunks` rows, so a rebuilt index still
-- knows what is stored.
CREATE TABLE IF NOT EXISTS batch_slots (
    site TEXT NOT NULL,
    sid  TEXT NOT NULL,
    pid  TEXT NOT NULL,
    seq  INTEGER NOT NULL,
    PRIMARY KEY (site, sid, pid, seq)
);
