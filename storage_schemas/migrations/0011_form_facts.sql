-- Form analytics (docs/forms.md): per page view, each form the visitor saw and each of its
-- fields, derived from stored chunks by the derivation pass (src/sessionlens/derivation/forms.py,
-- src/sessionlens/forms/track.py); rebuilt by `reindex` (REBUILT_TABLES), removed with their
-- session (lifecycle SESSION_TABLES). No value is ever stored: only times, counts and flags.
-- Times are epoch ms. Completion is decided when queried (a form's success rule may change).
CREATE TABLE IF NOT EXISTS form_views (
    site        TEXT NOT NULL,
    sid         TEXT NOT NULL,
    pid         TEXT NOT NULL,
    form_key    TEXT NOT NULL,      -- 'f' + 15 hex: from the form's id/name, else page path + selector path
    ident       TEXT NOT NULL,      -- '#id', '[name=x]' or a selector path ('group:' + path for an SPA form)
    name        TEXT NOT NULL,      -- found name (aria-label, heading, id, name); a form doc overrides it
    path        TEXT NOT NULL,      -- URL path of the page view when the form was first seen
    spa         INTEGER NOT NULL,   -- 1: fields grouped without a <form>
    viewed_at   INTEGER NOT NULL,
    started_at  INTEGER,            -- first focus, input or attempt on it
    attempts    INTEGER NOT NULL,   -- submit attempts
    first_submit_at INTEGER,
    clean_at    INTEGER,            -- first attempt without a field shown invalid
    nav_at      INTEGER,            -- first SPA navigation after clean_at in the page view
    next_url    TEXT NOT NULL,      -- that navigation's URL
    last_field  TEXT,               -- field key of the last field touched
    last_at     INTEGER,
    appeared    TEXT NOT NULL,      -- ' #id .class ' tokens of elements added after clean_at
    PRIMARY KEY (site, sid, pid, form_key)
);
CREATE INDEX IF NOT EXISTS form_views_form ON form_views (site, form_key, viewed_at);
CREATE INDEX IF NOT EXISTS form_views_sid ON form_views (site, sid);

CREATE TABLE IF NOT EXISTS form_fields (
    site          TEXT NOT NULL,
    sid           TEXT NOT NULL,
    pid           TEXT NOT NULL,
    form_key      TEXT NOT NULL,
    field_key     TEXT NOT NULL,    -- name attribute, '#' + id, or tag[position]
    label         TEXT NOT NULL,    -- label, aria-label, placeholder, name or id (recorded text, masked as recorded)
    tag           TEXT NOT NULL,
    position      INTEGER NOT NULL,
    touched       INTEGER NOT NULL,
    first_at      INTEGER,
    time_ms       INTEGER NOT NULL, -- focused time
    hesitation_ms INTEGER,          -- focus to first input (NULL: never typed)
    corrections   INTEGER NOT NULL,
    returns       INTEGER NOT NULL,
    blank_submit  INTEGER NOT NULL, -- blank at a submit attempt
    errors        INTEGER NOT NULL, -- times shown invalid (once per field per attempt)
    PRIMARY KEY (site, sid, pid, form_key, field_key)
);
CREATE INDEX IF NOT EXISTS form_fields_form ON form_fields (site, form_key);
