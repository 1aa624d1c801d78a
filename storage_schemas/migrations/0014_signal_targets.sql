-- The element a frustration signal is about, as a recorded path (heatmap/click_paths.py):
-- for form_error the first field shown invalid, so the form-error heatmap places the
-- signal on that field's box in the backdrop (as clicks are placed). '' or NULL: none.
ALTER TABLE session_signals ADD COLUMN target TEXT;
