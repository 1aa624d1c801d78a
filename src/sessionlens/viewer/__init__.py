"""The researcher-facing side: login, session list, player, read APIs."""
