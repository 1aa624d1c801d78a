"""The index: every SQL statement sessionlens runs, for SQLite and PostgreSQL.

- `database`: the Index class (reading, writing, the derivation queue,
  batch slots, rebuild);
- `dialect`: the only place where SQLite and PostgreSQL differ;
- `connections`: SQLite's single writer thread and readers, PostgreSQL's pool;
- `migrate`: versioned, forward-only schema migrations
  (storage_schemas/migrations/), run at open by both;
- `aggregate`: chunk rows, and page views and sessions aggregated from them;
- `queries`: session search and batch slots; `heatmaps`: heatmap selections;
- `url_keys`: URLs in the forms URL patterns are matched against in SQL;
- `rebuild`: swapping in a rebuilt index (reindex).
"""

from __future__ import annotations

from typing import Any

from sessionlens.index.aggregate import ChunkRow
from sessionlens.index.connections import IndexClosed
from sessionlens.index.database import REBUILT_TABLES, Index, WorkItem
from sessionlens.index.migrate import SchemaTooNew


def open_index(settings: Any) -> Index:
    """The index the settings name: PostgreSQL at `index_url`, else SQLite at index_path."""
    url = getattr(settings, "index_url", "")
    return Index(url) if url else Index(settings.resolved_index_path)


__all__ = ["REBUILT_TABLES", "ChunkRow", "Index", "IndexClosed", "SchemaTooNew", "WorkItem", "open_index"]
