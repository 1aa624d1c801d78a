"""Post-ingest derivation: the data computed from stored chunks after they are acknowledged.

- `derivations`: the one list of derivations (keyframes, click and move
  facts) that both the worker and `reindex` run for a page view;
- `worker`: claims page views from the durable queue in the index
  (`derivation_queue`, written with the chunk row), runs the list, and
  marks the work done only once the derived data is written.

This package sits above the index, the replay and the heatmap modules and
calls down into them; none of them calls back up into it.
"""
