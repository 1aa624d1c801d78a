"""Viewer access: users, API tokens, signed session cookies, CSRF."""
