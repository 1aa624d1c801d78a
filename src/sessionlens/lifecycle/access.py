"""The right of access: everything held about a visitor or user, as a zip of JSON lines.

Files in the zip (one JSON object per line):
- `sessions.jsonl`    the index's session rows;
- `page_views.jsonl`  the index's page view rows (with their URLs);
- `events.jsonl`      every stored event, decoded and named by the schema's
                      fields, with site, sid, pid, seq and `time` (epoch ms);
- `index/{table}.jsonl`  every index row of those sessions, table by table;
- `README.txt`        what the files are.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterable
from typing import IO, Any

import orjson

from sessionlens.export import SessionNotFound, iter_session_events
from sessionlens.index import lifecycle as sql
from sessionlens.lifecycle.erasure import Subject, find_sessions
from sessionlens.stores.base import BlobStore

README = """sessionlens: everything held about one {kind} ({count} session(s)), exported {when} UTC.
sessions.jsonl, page_views.jsonl: the index's rows; events.jsonl: every recorded event, decoded;
index/*.jsonl: every index row of those sessions. One JSON object per line.
"""


def _lines(rows: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r, option=orjson.OPT_NON_STR_KEYS) + b"\n" for r in rows)


def write_access_zip(store: BlobStore, index: Any, subject: Subject, out: IO[bytes]) -> int:
    """Write the subject's zip to `out`; returns how many sessions it holds."""
    sessions = find_sessions(store, index, subject)
    rows = sql.session_rows(index, sessions)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        zf.writestr("README.txt", README.format(kind=subject.kind, count=len(sessions), when=when))
        zf.writestr("sessions.jsonl", _lines(rows["sessions"]))
        page_views = [
            {**pv, "urls": sorted(u["url"] for u in rows["page_urls"] if (u["site"], u["sid"], u["pid"])
                                  == (pv["site"], pv["sid"], pv["pid"]))}
            for pv in rows["page_views"]
        ]  # fmt: skip
        zf.writestr("page_views.jsonl", _lines(page_views))
        with zf.open("events.jsonl", "w") as events:
            for site, sid in sessions:
                try:
                    for record in iter_session_events(store, site, sid):
                        events.write(_lines([{"site": site, "sid": sid, **record}]))
                except SessionNotFound:
                    continue  # indexed but nothing stored (removed meanwhile)
        for table, table_rows in rows.items():
            zf.writestr(f"index/{table}.jsonl", _lines(table_rows))
    return len(sessions)


def access_zip(store: BlobStore, index: Any, subject: Subject) -> tuple[bytes, int]:
    buffer = io.BytesIO()
    count = write_access_zip(store, index, subject, buffer)
    return buffer.getvalue(), count
