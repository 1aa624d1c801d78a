"""The replay sanitisers' policy, read from storage_schemas/replay_policy.json.

One file for both sanitisers: the server's (replay/sanitize.py reads it
here) and the player's (replay-dom.js imports the same lists from the
generated static/viewer/wire.js; see sessionlens.wire).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import orjson

from sessionlens.contracts import SCHEMA_DIR

POLICY_PATH = SCHEMA_DIR / "replay_policy.json"


@functools.cache
def replay_policy() -> dict[str, Any]:
    return orjson.loads(POLICY_PATH.read_bytes())


def names(key: str) -> frozenset[str]:
    """One of the policy's name lists (lower-cased local names)."""
    return frozenset(replay_policy()[key])


def data_image_pattern(types: list[str] | None = None) -> str:
    """A regular expression (the same text in Python and JS) for a data: URL of an allowed image type."""
    listed = replay_policy()["data_image_types"] if types is None else types
    alternatives = "|".join(re.escape(t).replace("\\-", "-") for t in listed)
    return rf"^data:image/({alternatives})[;,]"
