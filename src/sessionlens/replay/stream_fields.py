"""Wire fields the recorder leaves to the server because the stream alone gives them.

Issue 12 (a smaller recorder): these were computed in the visitor's browser
from what it sends anyway; the server now computes them where the recording
is read (element_paths.ElementPaths.enrich, so the viewer, export, heatmaps
and funnels all see them alike).

- `nav` how: the recorder named a popstate whose URL differs from the page
  view's previous URL only after '#' a "hash" change (a fragment change
  fires popstate before hashchange; it was recorded once). It now sends
  "pop": a "pop" whose URL has the same part before '#' as the previous
  URL (the meta event's, then each `nav` event's) reads as "hash".
- `request` failed: the recorder set it for a status >= 400 and for an
  XMLHttpRequest without a response (status 0); it now sends only what the
  stream cannot say (a fetch that rejected, a resource element whose load
  failed): status >= 400, and an xhr with status 0, read as failed.
- `request` method: '' reads as "GET" (the recorder sends none for resource
  entries and fetch/xhr calls made without one); names are upper-cased.

- `timing` value: milliseconds as an integer, cls to 3 decimals (rounded
  half up, as the recorder's Math.round did); the recorder sends them as
  the browser measured them.

Old recordings read as before: their values are what these rules give
(a stored failed 1 and upper-case methods are kept); a "pop" is read as
"hash" only for page views whose meta `gen` is HASH_GENERATION or more (older
recorders told them apart themselves). For those, a URL changed during the
snapshot (before navigation recording started) is not in the stream, so a
fragment pop right after it is compared with the meta URL.
"""

from __future__ import annotations

import math
from typing import Any

from sessionlens.contracts import field
from sessionlens.replay.form_errors import meta_gen

HASH_GENERATION = 2  # meta `gen` from which a fragment's popstate is sent as "pop"

_META_URL = field("meta", "url")
_NAV_URL, _NAV_HOW = field("nav", "url"), field("nav", "how")
_REQ_HOW, _REQ_METHOD = field("request", "how"), field("request", "method")
_REQ_STATUS, _REQ_FAILED = field("request", "status"), field("request", "failed")
_TIMING_NAME, _TIMING_VALUE = field("timing", "name"), field("timing", "value")


def timing_value(name: Any, value: float) -> float:
    """A timing metric as the recorder used to send it: ms as an integer, cls to 3 decimals."""
    # Whole numbers as they are: near 2**53, adding 0.5 would round them up.
    if name == "cls":
        return value if (float(value) * 1000).is_integer() else math.floor(value * 1000 + 0.5) / 1000
    return value if float(value).is_integer() else math.floor(value + 0.5)


def _base(url: str) -> str:
    return url.split("#", 1)[0]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class StreamFields:
    """Follows one page view: `enrich(event)` before and `note(event)` after each event, in
    stream order. Never raises on a forged event."""

    def __init__(self) -> None:
        self.url: str | None = None  # the page view's URL before the next nav
        self.gen = 0  # the meta event's: recorders from HASH_GENERATION on send "pop" for hashes

    def note(self, event: Any) -> None:
        if not isinstance(event, list) or not event:
            return
        if event[0] == "meta":
            self.gen = meta_gen(event)
        at = _META_URL if event[0] == "meta" else _NAV_URL if event[0] == "nav" else None
        if at is not None and len(event) > at and isinstance(event[at], str):
            self.url = event[at]

    def enrich(self, event: list[Any]) -> list[Any]:
        """The event with these fields derived (a new list), or the event itself."""
        kind = event[0] if event else None
        if (
            kind == "nav"
            and self.gen >= HASH_GENERATION
            and len(event) > _NAV_HOW
            and event[_NAV_HOW] == "pop"
        ):
            url = event[_NAV_URL]
            if isinstance(url, str) and self.url is not None and _base(url) == _base(self.url):
                out = list(event)
                out[_NAV_HOW] = "hash"
                return out
        elif kind == "request" and len(event) > _REQ_FAILED:
            method, status = event[_REQ_METHOD], _int(event[_REQ_STATUS])
            failed = event[_REQ_FAILED] == 1 or (
                status is not None and (status >= 400 or (status == 0 and event[_REQ_HOW] == "xhr"))
            )
            name = method.upper() if isinstance(method, str) else method
            if name == "":
                name = "GET"
            if name != method or (failed and event[_REQ_FAILED] != 1):
                out = list(event)
                out[_REQ_METHOD], out[_REQ_FAILED] = name, 1 if failed else event[_REQ_FAILED]
                return out
        elif kind == "timing" and len(event) > _TIMING_VALUE:
            value = event[_TIMING_VALUE]
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                rounded = timing_value(event[_TIMING_NAME], value)
                if rounded != value:
                    out = list(event)
                    out[_TIMING_VALUE] = rounded
                    return out
        return event
