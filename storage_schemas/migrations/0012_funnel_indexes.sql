-- Migration 12: funnels read each step's (session, moment) rows from covering indexes
-- (src/sessionlens/index/funnels.py, docs/funnels.md "Performance").
-- A funnel step reads every matching row of a site: a URL step its page views and SPA
-- routes, a click step every click whose visible text contains the researcher's text, a
-- submit step a form's submits, an event step the events of one name. With these indexes
-- each is a scan of a narrow index holding the session and the moment, never a visit of
-- the wide table rows (a random page read per row; a click-text step went through
-- clicks_site_time and read every click row of the site). The URL, form and event indexes
-- begin with the columns of the ones they replace. Both backends; on PostgreSQL the clicks
-- index is built on every day partition. Cost: clicks_text holds the click's text (at most
-- 80 characters) beside its session and moment (sizing in docs/funnels.md).
CREATE INDEX IF NOT EXISTS clicks_text ON clicks (site, text, sid, t0, t);
CREATE INDEX IF NOT EXISTS page_views_url_at ON page_views (site, url, sid, t0);
DROP INDEX IF EXISTS page_views_url;
CREATE INDEX IF NOT EXISTS route_changes_url_at ON route_changes (site, url, sid, t0, t);
DROP INDEX IF EXISTS route_changes_url;
CREATE INDEX IF NOT EXISTS form_submits_form_at ON form_submits (site, form, sid, t0, t, invalid);
DROP INDEX IF EXISTS form_submits_form;
CREATE INDEX IF NOT EXISTS custom_events_name_at ON custom_events (site, name, sid, pid, t);
DROP INDEX IF EXISTS custom_events_name;
