"""On-page surveys linked to the replay (docs/surveys.md).

- `definition`: a survey's JSON, checked strictly, and its public part for the widget;
- `store`: surveys as saved documents of kind "survey" (one site each);
- `public`: what the collector answers the widget (GET /ingest/{site}/surveys), the per-site
  "has an active survey" flag behind the ingest ack header, and the widget asset;
- `results`: per-question numbers, NPS, answers with replay links, CSV;
- `cli`: `sessionlens surveys`.

The answers are wire events of kind `survey`, derived into survey_responses
(index/attributes.py, index/surveys.py); the HTTP API is sessionlens.viewer.surveys.
"""
