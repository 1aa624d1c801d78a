-- Migration 6: heatmaps read their facts from covering indexes (src/sessionlens/index/fact_arrays.py).
-- A click map places and bins every click of a selection in SQL; these
-- indexes hold every column it reads, in the order it reads them (by site,
-- URL, then target and anchor), so SQLite never visits the table rows (one
-- random page read per click before) and counts per (selector, anchor)
-- stream without a sort. They replace clicks_url and moves_url, whose
-- columns they begin with. Both backends; on PostgreSQL they are built on
-- every day partition. Cost: about the size of the facts again (sizing in
-- docs/operating.md).
CREATE INDEX IF NOT EXISTS clicks_heatmap ON clicks (site, url, selector, anchor, fx, fy, ax, ay, px, py, vw, t0, rage, dead, error);
DROP INDEX IF EXISTS clicks_url;
CREATE INDEX IF NOT EXISTS moves_heatmap ON moves (site, url, x, y, vw, t0);
DROP INDEX IF EXISTS moves_url;
