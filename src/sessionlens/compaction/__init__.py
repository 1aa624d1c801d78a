"""Compaction: a finished page view's chunks into one pack, shared strings into site assets.

- `source`: where a page view's chunks are (loose or packed); every reader uses it;
- `objects`: decoding stored objects with their assets and dictionaries;
- `assets`: which large strings become content-addressed site assets;
- `compact`: compacting one page view (write, verify, then remove);
- `dictionary`: per-site zstd dictionaries, versioned;
- `queue`: when page views are compacted (a durable queue in the index).

Layout and formats: storage_schemas/layout.md. Operating: docs/operating.md.
"""
