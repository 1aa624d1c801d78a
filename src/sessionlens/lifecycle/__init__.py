"""The data lifecycle (issue 11): retention, erasure and access.

- `refs`: which content-addressed assets a site's stored objects reference;
- `holds`: the asset lock compaction holds while it writes references;
- `erase`: removing every object, derived object and index row of sessions,
  and the shared assets nothing else references, with an audit record;
- `retention`: the per-site `retention_days` job, run once per period by
  whichever worker takes its lease;
- `access`: a zip of JSON lines of everything held about a visitor or user;
- `audit`: audit records under config/audit/ in the blob store.

docs/privacy.md describes the guarantees and their limits.
"""
