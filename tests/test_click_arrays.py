"""Click arrays (index/click_arrays.py): a page view's clicks packed per URL, kept with its rows.

They are written with the page view's `clicks` rows and must always hold
the same clicks: after a first derivation, a re-derivation, a migration
that fills them from older indexes' rows, and the removal of a session.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sessionlens.heatmap.signals import ClickFact
from sessionlens.index import Index, click_arrays, lifecycle, migrate

SITE = "s"
T0 = 1_790_000_000_000
URLS = ["https://shop.example/a", "https://shop.example/b?x=1"]
DEVICES = {("s1", "p1"): ("mobile", 390.0), ("s2", "p2"): ("desktop", 1280.0)}


def _page_views(index: Index) -> None:
    def write(conn: Any) -> None:
        for (sid, pid), (device, vw) in DEVICES.items():
            conn.execute(
                "INSERT INTO page_views (site, sid, pid, t0, end_time, duration_ms, active_ms, url, vw, vh, device,"
                " chunks, events, clicks, inputs, errors, customs, navs, stored_bytes)"
                " VALUES (?, ?, ?, ?, ?, 1000, 1000, ?, ?, 800, ?, 1, 1, 0, 0, 0, 0, 0, 0)",
                (SITE, sid, pid, T0, T0 + 1000, URLS[0], vw, device),
            )

    index.write(write)


def _click(k: int, url: str, **kw: Any) -> ClickFact:
    fields: dict[str, Any] = dict(
        t=k * 10, url=url, selector=f"main > button:nth-of-type({k % 4})", fx=k / 7, fy=0.25, px=10.0 * k,
        py=20.5 * k, vw=1280.0, pw=1280.0, ph=4000.0, tag="button", flags="", label="",
        anchor="#card" if k % 2 else "", ax=k + 0.5, ay=2.0, rage=k % 3 == 0, dead=k % 5 == 0, error=k == 4,
    )  # fmt: skip
    fields.update(kw)
    return ClickFact(**fields)


def _arrays(index: Index, sid: str | None = None) -> dict[tuple[str, str, str], list[tuple[Any, ...]]]:
    """(sid, pid, url) -> the packed clicks as tuples."""
    where = "WHERE site = ?" + (" AND sid = ?" if sid else "")
    rows = index.query(
        f"SELECT sid, pid, url, t0, device, vw, clicks, data FROM click_arrays {where}",  # noqa: S608
        [SITE, *([sid] if sid else [])],
    )
    out = {}
    for r in rows:
        packed = click_arrays.unpack(bytes(r["data"]))
        assert r["clicks"] == packed.size and r["t0"] == T0
        # The page view's device class and width, when it has a row (ingest makes it first).
        assert (r["device"], r["vw"]) == DEVICES.get((r["sid"], r["pid"]), (None, None))
        out[(r["sid"], r["pid"], r["url"])] = [
            tuple(v.item() for v in c) for c in packed
        ]
    return out


def _expected(index: Index) -> dict[tuple[str, str, str], list[tuple[Any, ...]]]:
    """The same, from the `clicks` rows (in t order)."""
    rows = index.query(
        "SELECT sid, pid, url, selector, anchor, fx, fy, px, py, vw, ax, ay, rage, dead, error FROM clicks"
        " WHERE site = ? ORDER BY sid, pid, t",
        [SITE],
    )
    out: dict[tuple[str, str, str], list[tuple[Any, ...]]] = {}
    for r in rows:
        flags = (1 if r["rage"] else 0) | (2 if r["dead"] else 0) | (4 if r["error"] else 0)
        out.setdefault((r["sid"], r["pid"], r["url"]), []).append(
            (click_arrays.name_hash(r["selector"]), click_arrays.name_hash(r["anchor"] or ""), r["fx"], r["fy"],
             r["px"], r["py"], r["vw"], r["ax"], r["ay"], flags)
        )  # fmt: skip
    return out


def test_hashes_are_stable_and_distinct() -> None:
    assert click_arrays.name_hash("") == 0
    names = ["#a", "#A", "#a ", "div > a", "div>a", "é", "x" * 5000, "\ud800"]
    hashes = [click_arrays.name_hash(n) for n in names]
    assert len(set(hashes)) == len(names) and 0 not in hashes
    assert all(-(2**63) <= h < 2**63 for h in hashes)
    # The key is part of the stored format: it never changes between versions.
    assert click_arrays.name_hash("#a") == int.from_bytes(
        bytes.fromhex(__import__("hashlib").blake2b(b"#a", digest_size=8).hexdigest()), "little", signed=True
    )


def test_arrays_hold_the_page_views_clicks_per_url(index: Index) -> None:
    _page_views(index)
    clicks = [_click(k, URLS[k % 2]) for k in range(9)]
    index.replace_clicks(SITE, "s1", "p1", T0, clicks)
    index.replace_clicks(SITE, "s2", "p1", T0, [_click(1, URLS[1])])
    arrays = _arrays(index)
    assert sorted(arrays) == [("s1", "p1", URLS[0]), ("s1", "p1", URLS[1]), ("s2", "p1", URLS[1])]
    assert arrays == _expected(index)

    # A re-derivation replaces the page view's arrays with its rows: the URL it no longer has goes.
    index.replace_clicks(SITE, "s1", "p1", T0, [_click(3, URLS[1]), _click(5, URLS[1])])
    arrays = _arrays(index)
    assert sorted(arrays) == [("s1", "p1", URLS[1]), ("s2", "p1", URLS[1])]
    assert arrays == _expected(index)
    index.replace_clicks(SITE, "s1", "p1", T0, [])
    assert sorted(_arrays(index)) == [("s2", "p1", URLS[1])]


def test_the_migration_fills_arrays_of_older_rows(index: Index) -> None:
    _page_views(index)
    index.replace_clicks(SITE, "s1", "p1", T0, [_click(k, URLS[k % 2]) for k in range(7)])
    index.replace_clicks(SITE, "s2", "p2", T0, [_click(k, URLS[0]) for k in range(3)])
    before = _arrays(index)
    # An index from before click arrays: its rows, and no array.
    index.write(lambda conn: conn.execute("DELETE FROM click_arrays"))
    assert _arrays(index) == {}
    index.write(lambda conn: migrate.STEPS[18](conn, index.dialect))  # 0017-0018 click arrays
    assert _arrays(index) == before == _expected(index)


def test_removing_a_session_removes_its_arrays(index: Index) -> None:
    index.replace_clicks(SITE, "s1", "p1", T0, [_click(1, URLS[0])])
    index.replace_clicks(SITE, "s2", "p1", T0, [_click(2, URLS[0])])
    removed = lifecycle.delete_sessions(index, [(SITE, "s1")])
    assert removed["click_arrays"] == 1
    assert sorted(_arrays(index)) == [("s2", "p1", URLS[0])]
    # The access export leaves them out (the `clicks` rows are there, readable).
    rows = lifecycle.session_rows(index, [(SITE, "s2")])
    assert "click_arrays" not in rows and len(rows["clicks"]) == 1


def test_packing_keeps_floats_exactly() -> None:
    values = [0.1, 1 / 3, 1e-300, -0.0, 1e308, 123456.789]
    packed = click_arrays.unpack(
        click_arrays.pack([("#a", "", v, v, v, v, v, v, v, True, False, True) for v in values])
    )
    assert packed["fx"].tolist() == values and packed["flags"].tolist() == [5] * len(values)
    assert np.all(packed["anchor"] == 0)


def test_a_late_first_chunk_updates_the_arrays_device_class(index: Index) -> None:
    """The page view's device class comes from its first chunk with a user agent; when that chunk
    arrives after the clicks were derived, the arrays take the new class and width with it."""
    from sessionlens.facts import ChunkFacts
    from sessionlens.index import ChunkRow

    phone = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36"

    def chunk(seq: int, ua: str | None, vw: float | None) -> ChunkRow:
        facts = ChunkFacts(events=1, t_first=seq * 10, t_last=seq * 10 + 5, url=URLS[0], ua=ua, vw=vw, urls=[URLS[0]])
        return ChunkRow(SITE, "s9", "p9", seq, T0, T0, 100, facts, header_ua="")

    index.record_chunks([chunk(1, None, None)]).result()  # seq 1 first: no user agent, no width yet
    index.replace_clicks(SITE, "s9", "p9", T0, [_click(1, URLS[0])])
    before = index.query("SELECT device, vw FROM click_arrays WHERE site = ? AND sid = 's9'", [SITE])
    index.record_chunks([chunk(0, phone, 412.0)]).result()
    view = index.query("SELECT device, vw FROM page_views WHERE site = ? AND sid = 's9'", [SITE])[0]
    after = index.query("SELECT device, vw FROM click_arrays WHERE site = ? AND sid = 's9'", [SITE])[0]
    assert view["device"] == "mobile" and view["vw"] == 412.0
    assert (after["device"], after["vw"]) == (view["device"], view["vw"]) != (before[0]["device"], before[0]["vw"])
