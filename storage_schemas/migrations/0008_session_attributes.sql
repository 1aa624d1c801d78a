-- Migration 8: who the visitor was, where they came from, and what frustrated them (issue 12).
-- Every column and table here is derived from stored chunks; `sessionlens reindex`
-- rebuilds them. Sessions recorded before this migration get the new values when
-- they are reindexed (their chunk rows lack the new chunk facts until then).
-- Meanings: docs/session-attributes.md and docs/signals.md.

-- Chunk facts (src/sessionlens/facts.py), aggregated into page views and sessions at ingest.
ALTER TABLE chunks ADD COLUMN country TEXT;      -- envelope geo.country (collector, trusted header)
ALTER TABLE chunks ADD COLUMN lang TEXT;         -- meta lang
ALTER TABLE chunks ADD COLUMN tz TEXT;           -- meta tz
ALTER TABLE chunks ADD COLUMN webdriver INTEGER; -- meta's navigator.webdriver hint (NULL: not sent)
ALTER TABLE chunks ADD COLUMN human INTEGER;     -- human input events (click, move, input, scroll); NULL: chunk indexed before
ALTER TABLE chunks ADD COLUMN lcp_ms REAL;       -- worst (largest) timing value of the chunk
ALTER TABLE chunks ADD COLUMN cls REAL;
ALTER TABLE chunks ADD COLUMN inp_ms REAL;

ALTER TABLE page_views ADD COLUMN lcp_ms REAL;
ALTER TABLE page_views ADD COLUMN cls REAL;
ALTER TABLE page_views ADD COLUMN inp_ms REAL;
ALTER TABLE page_views ADD COLUMN exit_url TEXT;  -- last URL the page view showed (SPA routes)
ALTER TABLE page_views ADD COLUMN quick_back INTEGER NOT NULL DEFAULT 0;  -- left this page and went back quickly

ALTER TABLE sessions ADD COLUMN channel TEXT;
ALTER TABLE sessions ADD COLUMN country TEXT;
ALTER TABLE sessions ADD COLUMN language TEXT;
ALTER TABLE sessions ADD COLUMN timezone TEXT;
ALTER TABLE sessions ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN bot_reason TEXT;
ALTER TABLE sessions ADD COLUMN visit_number INTEGER;
ALTER TABLE sessions ADD COLUMN rage_clicks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN dead_clicks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN error_clicks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN quick_backs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN excessive_scrolls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN thrashes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN form_errors INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN frustration_score REAL NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN lcp_ms REAL;
ALTER TABLE sessions ADD COLUMN cls REAL;
ALTER TABLE sessions ADD COLUMN inp_ms REAL;
-- visit_number is the rank of a session among its visitor's sessions by start time.
CREATE INDEX IF NOT EXISTS sessions_visits ON sessions (site, visitor_id, start_time);

-- identify traits, sessionlens.set() props and experiment buckets of a session; the
-- latest setting (by `at`, then pid) wins. Written by the derivation pass.
CREATE TABLE IF NOT EXISTS session_attrs (
    site  TEXT NOT NULL,
    sid   TEXT NOT NULL,
    scope TEXT NOT NULL,   -- trait | prop | experiment
    key   TEXT NOT NULL,   -- trait or prop name, experiment name
    value TEXT NOT NULL,   -- as text: numbers as JSON, true/false, '' for null; experiment: the variant
    pid   TEXT NOT NULL,   -- page view of the latest setting
    at    INTEGER NOT NULL, -- epoch ms of the latest setting
    PRIMARY KEY (site, sid, scope, key)
);
CREATE INDEX IF NOT EXISTS session_attrs_value ON session_attrs (site, scope, key, value);

-- sessionlens.track(name, props): one row per event, and one per top-level property.
CREATE TABLE IF NOT EXISTS custom_events (
    site TEXT NOT NULL,
    sid  TEXT NOT NULL,
    pid  TEXT NOT NULL,
    t    INTEGER NOT NULL,   -- ms into the page view
    name TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS custom_events_page ON custom_events (site, sid, pid);
CREATE INDEX IF NOT EXISTS custom_events_name ON custom_events (site, name);
CREATE TABLE IF NOT EXISTS custom_event_props (
    site  TEXT NOT NULL,
    sid   TEXT NOT NULL,
    pid   TEXT NOT NULL,
    t     INTEGER NOT NULL,
    name  TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS custom_event_props_page ON custom_event_props (site, sid, pid);
CREATE INDEX IF NOT EXISTS custom_event_props_value ON custom_event_props (site, name, key, value);

-- Frustration signals (src/sessionlens/heatmap/signals.py, frustration.py): one row per
-- signal, with its page position when it has one (x, y page coordinates, else NULL).
CREATE TABLE IF NOT EXISTS session_signals (
    site     TEXT NOT NULL,
    sid      TEXT NOT NULL,
    pid      TEXT NOT NULL,
    t        INTEGER NOT NULL,   -- ms into the page view
    kind     TEXT NOT NULL,      -- rage | dead | error_click | quick_back | excessive_scroll | thrash | form_error
    x        REAL,
    y        REAL,
    url      TEXT,
    selector TEXT,
    label    TEXT
);
CREATE INDEX IF NOT EXISTS session_signals_page ON session_signals (site, sid, pid);
CREATE INDEX IF NOT EXISTS session_signals_kind ON session_signals (site, kind, url);

-- The session list's sorts (session_search.py: keyset paging by key, sid).
CREATE INDEX IF NOT EXISTS sessions_duration ON sessions (site, duration_ms, sid);
CREATE INDEX IF NOT EXISTS sessions_active ON sessions (site, active_ms, sid);
CREATE INDEX IF NOT EXISTS sessions_frustration ON sessions (site, frustration_score, sid);

-- Heatmaps leave bots' sessions out (index/heatmaps.py): their few sids, by site.
CREATE INDEX IF NOT EXISTS sessions_bots ON sessions (site, sid) WHERE is_bot = 1;
