-- Migration 2: URL keys, so URL patterns are matched in SQL on both backends
-- (no Python function registered in the database).
-- One row per distinct URL of a site seen in page_urls, clicks or moves, with
-- the forms the two kinds of matching use (src/sessionlens/url_patterns.py):
--   path       path and query of the URL as recorded (session search: a
--              pattern starting with "/" matches any host)
--   norm_url   the URL without fragment and tracking parameters, host in
--              lower case (heatmap page selection)
--   norm_path  path and query of norm_url
-- Written beside the rows that hold the URL (index/facts.py); derived like
-- them and rebuilt by `reindex`. Filled for existing rows by this
-- migration's step in index/migrate.py.
CREATE TABLE IF NOT EXISTS url_keys (
    site      TEXT NOT NULL,
    url       TEXT NOT NULL,
    path      TEXT NOT NULL,
    norm_url  TEXT NOT NULL,
    norm_path TEXT NOT NULL,
    PRIMARY KEY (site, url)
);
CREATE INDEX IF NOT EXISTS url_keys_norm_url ON url_keys (site, norm_url);
CREATE INDEX IF NOT EXISTS url_keys_norm_path ON url_keys (site, norm_path);
