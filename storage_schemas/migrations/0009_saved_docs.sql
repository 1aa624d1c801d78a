-- Researcher-made documents (notes, collections, segments, funnels): their truth is the blob
-- store (keys.saved_doc_key); these rows are an index of them, re-synced by `sessionlens reindex`
-- (saved_docs.resync), not in REBUILT_TABLES (they are not derived from chunks).
CREATE TABLE IF NOT EXISTS saved_docs (
    site TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    sid TEXT,                   -- the session a note is on; NULL for site-wide documents
    author TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,         -- the searchable text: a note's text, a collection's name
    lower_name TEXT NOT NULL,   -- name lower-cased in Python (both backends search it the same way)
    body TEXT NOT NULL,         -- the document as JSON
    PRIMARY KEY (site, kind, id)
);
CREATE INDEX IF NOT EXISTS saved_docs_sid ON saved_docs (site, sid, kind);
CREATE INDEX IF NOT EXISTS saved_docs_updated ON saved_docs (site, kind, updated);

-- The sessions a document lists (a collection's members; a note's own session).
CREATE TABLE IF NOT EXISTS saved_doc_sessions (
    site TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    sid TEXT NOT NULL,
    PRIMARY KEY (site, kind, id, sid)
);
CREATE INDEX IF NOT EXISTS saved_doc_sessions_sid ON saved_doc_sessions (site, sid, kind);
