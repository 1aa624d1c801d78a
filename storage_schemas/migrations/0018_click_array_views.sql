-- A click array carries its page view's device class and window width (page_views.device, .vw),
-- copied when the page view's clicks are written: a heatmap of one device class (the default:
-- the backdrop's class) or of a width range reads the arrays alone, without a look-up of each
-- one's page view (0.45 s of 1,000,000 clicks on SQLite). The arrays are filled again, with
-- these, by a Python step (index/migrate.py).
ALTER TABLE click_arrays ADD COLUMN device TEXT;
ALTER TABLE click_arrays ADD COLUMN vw REAL;
