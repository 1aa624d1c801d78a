"""Rebuilding recorded pages: DOM state at any moment, keyframes, sanitising."""
