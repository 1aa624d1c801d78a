-- Session search at a million sessions (issue 12 benchmark). SQLite plans without statistics
-- of the data, so session search (src/sessionlens/index/queries.py) names the index it walks;
-- these are the ones it needs besides sessions_start and the sort indexes of 0008.
-- A frustration signal or an error is rare: the sessions that have one, newest first, for
-- the list (ORDER BY start_time DESC, sid DESC) and its capped count.
CREATE INDEX IF NOT EXISTS sessions_rage ON sessions (site, start_time, sid) WHERE rage_clicks > 0;
CREATE INDEX IF NOT EXISTS sessions_dead ON sessions (site, start_time, sid) WHERE dead_clicks > 0;
CREATE INDEX IF NOT EXISTS sessions_error_clicks ON sessions (site, start_time, sid) WHERE error_clicks > 0;
CREATE INDEX IF NOT EXISTS sessions_quick_backs ON sessions (site, start_time, sid) WHERE quick_backs > 0;
CREATE INDEX IF NOT EXISTS sessions_excessive_scrolls ON sessions (site, start_time, sid) WHERE excessive_scrolls > 0;
CREATE INDEX IF NOT EXISTS sessions_thrashes ON sessions (site, start_time, sid) WHERE thrashes > 0;
CREATE INDEX IF NOT EXISTS sessions_form_errors ON sessions (site, start_time, sid) WHERE form_errors > 0;
CREATE INDEX IF NOT EXISTS sessions_errors ON sessions (site, start_time, sid) WHERE errors > 0;
-- Landing and exit pages: the few matching URLs are found in url_keys, then their sessions here
-- (with the session: no row lookup per match).
CREATE INDEX IF NOT EXISTS sessions_entry_url ON sessions (site, entry_url, sid);
CREATE INDEX IF NOT EXISTS sessions_exit_url ON sessions (site, exit_url, sid);
-- Attributes and event properties with their session: the matching sessions are read from the
-- index alone (no row lookup per match).
CREATE INDEX IF NOT EXISTS session_attrs_value_sid ON session_attrs (site, scope, key, value, sid);
DROP INDEX IF EXISTS session_attrs_value;
CREATE INDEX IF NOT EXISTS custom_event_props_value_sid ON custom_event_props (site, name, key, value, sid);
DROP INDEX IF EXISTS custom_event_props_value;
-- Visited pages: the page views of the matching URLs with their session, from the index alone.
CREATE INDEX IF NOT EXISTS page_urls_url_sid ON page_urls (site, url, sid);
DROP INDEX IF EXISTS page_urls_url;
