"""Form analytics (docs/forms.md): forms found in recorded page views (track), their per-site
settings as saved documents (settings), and the per-form and per-field metrics (report)."""
