-- Migration 15: on-page survey events (issue 13 item 4; docs/surveys.md).
-- One row per `survey` wire event of a page view (shown, answer, dismiss, complete), derived from
-- stored chunks by the derivation pass like custom_events; `sessionlens reindex` rebuilds it.
-- value is the answer as sent (already PII-scrubbed at ingest): rating/NPS digits, a choice
-- option id, several option ids joined by "\n" (multi-select), or free text; '' unless an answer.
CREATE TABLE IF NOT EXISTS survey_responses (
    site     TEXT NOT NULL,
    sid      TEXT NOT NULL,
    pid      TEXT NOT NULL,
    t        INTEGER NOT NULL,   -- ms into the page view
    survey   TEXT NOT NULL,      -- survey definition id (saved_docs kind 'survey')
    action   TEXT NOT NULL,      -- shown | answer | dismiss | complete
    question TEXT NOT NULL,      -- question id, '' unless action = 'answer'
    value    TEXT NOT NULL
);
-- Rows of a page view (derivation replaces them; erasure removes a session's).
CREATE INDEX IF NOT EXISTS survey_responses_page ON survey_responses (site, sid, pid);
-- Results of one survey and the session filters survey= / survey_answer=. value is not in it:
-- free text of 1000 characters can pass PostgreSQL's btree row limit (~2,700 bytes).
CREATE INDEX IF NOT EXISTS survey_responses_answer ON survey_responses (site, survey, action, question, sid);
