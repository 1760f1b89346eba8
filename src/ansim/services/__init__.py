"""Command handlers and queries: each command owns its transaction; services flush, never commit."""
