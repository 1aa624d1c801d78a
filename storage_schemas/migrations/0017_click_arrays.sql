-- A page view's clicks packed as one array per URL (src/sessionlens/index/click_arrays.py),
-- written with its `clicks` rows: heatmaps read a million clicks as a hundred thousand blobs
-- instead of a million rows. Filled from the `clicks` rows already there by a Python step
-- (index/migrate.py).
-- Keyed for the heatmap's read (a site's URLs, then a day range): on SQLite the rows are stored
-- in that order (WITHOUT ROWID), so a page pattern's arrays are read in one sweep; PostgreSQL
-- gets a plain table with that primary key. A page view's rows are found by `click_arrays_page`.
CREATE TABLE IF NOT EXISTS click_arrays (
    site TEXT NOT NULL,
    url TEXT NOT NULL,
    t0 INTEGER NOT NULL,
    sid TEXT NOT NULL,
    pid TEXT NOT NULL,
    clicks INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (site, url, t0, sid, pid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS click_arrays_page ON click_arrays (site, sid, pid);
