-- Migration 3: what a click counts for and where it falls back to (issue 10).
-- Written by the recorder since it sent them (batch schema, click x-fields
-- control, text, anchor, ax, ay); '' / 0 for clicks recorded before.
--   control  path of the click target's nearest interactive ancestor-or-self
--            (a, button, input, select, textarea, label, summary, role
--            button/link/tab/menuitem/checkbox/radio/switch/option, [onclick]);
--            '' when there is none. The element table counts the click for
--            COALESCE(NULLIF(control, ''), selector) and keeps selector as detail.
--   text     that control's (else the target's) visible text, at most 80
--            characters, masked like recorded text inside masked regions
--   anchor   path of the target's nearest anchored ancestor (named by an id,
--            data-* id, name, aria-label, href, its text or a class its
--            siblings lack; or the frame/host holding it); '' when none
--   ax, ay   the click's offset from the anchor's top-left corner, CSS px:
--            where the target's own path finds nothing, heat goes to the
--            anchor's box + (ax, ay) instead of the page position
-- Paths are written by js_recorder/src/interaction/selector.js and resolved
-- by src/sessionlens/heatmap/click_paths.py (docs/heatmaps.md).
ALTER TABLE clicks ADD COLUMN control TEXT NOT NULL DEFAULT '';
ALTER TABLE clicks ADD COLUMN text TEXT NOT NULL DEFAULT '';
ALTER TABLE clicks ADD COLUMN anchor TEXT NOT NULL DEFAULT '';
ALTER TABLE clicks ADD COLUMN ax REAL NOT NULL DEFAULT 0;
ALTER TABLE clicks ADD COLUMN ay REAL NOT NULL DEFAULT 0;
