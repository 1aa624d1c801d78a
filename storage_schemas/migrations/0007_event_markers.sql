-- Migration 7: the timeline's event markers as derived facts (issue 9, seek).
-- The player's timeline shows a marker for every click, error, custom event
-- and navigation of a session. Clicks are in `clicks`; this table holds the
-- other three, written by the derivation pass with the click facts
-- (src/sessionlens/derivation/clicks.py), so the timeline reads the index
-- instead of decoding every chunk of the session.
--   t      ms into the page view
--   kind   error | custom | nav
--   label  the error's message, the custom event's name or the URL navigated
--          to, at most 200 characters (as recorded: masked at capture)
-- At most 5000 rows per page view (viewer/timeline.py MAX_MARKERS).
CREATE TABLE IF NOT EXISTS event_markers (
    site  TEXT NOT NULL,
    sid   TEXT NOT NULL,
    pid   TEXT NOT NULL,
    t     INTEGER NOT NULL,
    kind  TEXT NOT NULL,
    label TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS event_markers_page ON event_markers (site, sid, pid);

-- Page views derived before this table existed are derived again, so their
-- errors, custom events and navigations get rows (the others have none).
INSERT INTO derivation_queue (site, sid, pid)
SELECT site, sid, pid FROM page_views WHERE errors + customs + navs > 0
ON CONFLICT (site, sid, pid) DO NOTHING;
