-- Migration 10: the facts funnels need beside those already indexed (issue 13, docs/funnels.md).
-- A funnel step is a page view showing a URL, a click, a custom event or a form submit,
-- ordered in time. Page views (page_views.url at t0), clicks and custom events are
-- indexed already; these two tables add the moments the others lack. Both are derived
-- from stored chunks by the derivation pass (src/sessionlens/derivation/funnel_facts.py)
-- and rebuilt by `reindex`.
--   t0  the page view's start (epoch ms); t  ms into the page view: the moment is t0 + t.

-- SPA route changes: a `nav` event's URL and when it was shown (page_urls lists the URLs
-- without their moments).
CREATE TABLE IF NOT EXISTS route_changes (
    site TEXT NOT NULL,
    sid  TEXT NOT NULL,
    pid  TEXT NOT NULL,
    t0   INTEGER NOT NULL,
    t    INTEGER NOT NULL,
    url  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS route_changes_page ON route_changes (site, sid, pid);
CREATE INDEX IF NOT EXISTS route_changes_url ON route_changes (site, url);

-- Form submit attempts (`submit` events): the form's name as recorded (id, name,
-- aria-label or selector path) and how many of its fields were invalid at the attempt.
CREATE TABLE IF NOT EXISTS form_submits (
    site    TEXT NOT NULL,
    sid     TEXT NOT NULL,
    pid     TEXT NOT NULL,
    t0      INTEGER NOT NULL,
    t       INTEGER NOT NULL,
    form    TEXT NOT NULL,
    invalid INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS form_submits_page ON form_submits (site, sid, pid);
CREATE INDEX IF NOT EXISTS form_submits_form ON form_submits (site, form);

-- Page views derived before these tables existed are derived again when they may hold
-- a route change or a submit (either needs a navigation, a click or typing).
INSERT INTO derivation_queue (site, sid, pid)
SELECT site, sid, pid FROM page_views WHERE navs + clicks + inputs > 0
ON CONFLICT (site, sid, pid) DO NOTHING;
