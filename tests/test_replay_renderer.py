"""The replay renderer: keyframes after ingest, the DOM at any t, HTML export."""

from __future__ import annotations

import random
import time

import orjson
from starlette.testclient import TestClient

from sessionlens.auth.users import Accounts
from sessionlens.replay.dom import DomState
from sessionlens.replay.pageview import PageViewReader
from sessionlens.sites import Site
from sessionlens.stores.local import LocalStore
from tests.helpers import batch, new_id
from tests.synthetic import synthetic_page_view

# Within the collector's t0 window (t0_window_days) of the server clock.
T0 = int(time.time() * 1000) - 3_600_000


def ingest_page_view(
    client: TestClient, site: Site, chunks: list, sid: str, pid: str, only: set[int] | None = None
) -> None:
    for seq, events in enumerate(chunks):
        if only is not None and seq not in only:
            continue
        r = client.post(
            f"/ingest/{site.key}", content=orjson.dumps(batch(sid, pid, seq, events, t0=T0))
        )
        assert r.status_code == 200, r.text


def test_seeking_anywhere_gives_the_dom_of_playing_through(
    client: TestClient, site: Site, store: LocalStore
) -> None:
    chunks = synthetic_page_view(minutes=4)
    sid, pid = new_id(), new_id()
    ingest_page_view(client, site, chunks, sid, pid)
    assert client.app.state.derivation.wait_idle(60)
    reader = PageViewReader(store)
    times = reader.keyframe_times(site.key, sid, pid)
    assert len(times) >= 20, f"expected keyframes every few seconds, got {len(times)}"

    events = [e for chunk in chunks for e in chunk]
    end = events[-1][1]
    rng = random.Random(3)
    for at in sorted(rng.randint(0, end) for _ in range(25)) + [0, 10, end]:
        played = DomState().apply_all(e for e in events if e[1] <= at)
        seeked = reader.dom_at(site.key, sid, pid, at)
        assert seeked.records() == played.records(), f"DOM differs at t={at}"
        assert seeked.scroll == played.scroll and seeked.pointer == played.pointer


def test_state_api_returns_a_keyframe_and_only_the_events_after_it(
    client: TestClient, site: Site, store: LocalStore
) -> None:
    chunks = synthetic_page_view(minutes=1)
    sid, pid = new_id(), new_id()
    ingest_page_view(client, site, chunks, sid, pid)
    assert client.app.state.derivation.wait_idle(60)
    token = Accounts(store).create_token(Accounts(store).add_user("r", "password-1").name, "t")
    auth = {"Authorization": f"Bearer {token}"}
    at = 40_000
    body = client.get(f"/api/sessions/{sid}/pages/{pid}/state?at={at}", headers=auth).json()
    frame = body["keyframe"]
    assert 0 < frame["t"] <= at and all(frame["t"] < e[1] <= at for e in body["events"])
    rebuilt = DomState.from_keyframe(frame).apply_all(body["events"])
    played = DomState().apply_all(e for c in chunks for e in c if e[1] <= at)
    assert rebuilt.records() == played.records()

    later = client.get(
        f"/api/sessions/{sid}/pages/{pid}/events?after={at}&until={at + 5000}", headers=auth
    ).json()
    assert later["events"] and all(at < e[1] <= at + 5000 for e in later["events"])
    assert later["end"] == chunks[-1][-1][1]
    assert client.get(f"/api/sessions/{sid}/pages/{pid}/state?at=soon", headers=auth).status_code == 400
    assert client.get(f"/api/sessions/{sid}/pages/nope/state?at=1", headers=auth).status_code == 404
    assert client.get(f"/api/sessions/nope/pages/{pid}/state?at=1", headers=auth).status_code == 404


def test_keyframes_wait_for_a_missing_batch(client: TestClient, site: Site, store: LocalStore) -> None:
    chunks = synthetic_page_view(minutes=1)
    sid, pid = new_id(), new_id()
    ingest_page_view(client, site, chunks, sid, pid, only=set(range(len(chunks))) - {3})
    assert client.app.state.derivation.wait_idle(60)
    reader = PageViewReader(store)
    frames = [reader.keyframe(site.key, sid, pid, t) for t in reader.keyframe_times(site.key, sid, pid)]
    assert frames and max(f["seq"] for f in frames) < 3
    ingest_page_view(client, site, chunks, sid, pid, only={3})
    assert client.app.state.derivation.wait_idle(60)
    assert (
        max(reader.keyframe(site.key, sid, pid, t)["seq"] for t in reader.keyframe_times(site.key, sid, pid))
        > 3
    )


def test_html_export_is_the_page_at_that_moment_and_runs_nothing(
    client: TestClient, site: Site, settings, tmp_path, index_in_environ: dict[str, str]
) -> None:
    from sessionlens.cli import main
    from tests.helpers import meta_event

    sid, pid = new_id(), new_id()
    nodes = [
        [1, None, None, 9],
        [2, 1, None, 10, "html", "", ""],
        [3, 1, None, 1, "html", {}],
        [4, 3, None, 1, "head", {}],
        [5, 4, None, 1, "script", {}],
        [6, 5, None, 3, "alert(1)"],
        [
            7,
            4,
            None,
            1,
            "link",
            {"rel": "stylesheet"},
            {"css": "p{color:red}</style><script>alert(2)</script>"},
        ],
        [8, 3, None, 1, "body", {"onload": "alert(3)"}],
        [9, 8, None, 1, "p", {"id": "greeting"}],
        [10, 9, None, 3, "before"],
        [11, 8, None, 1, "input", {"id": "q"}, {"value": "***"}],
        [12, 8, None, 1, "div", {"id": "host"}],
        [13, 12, None, 11],
        [14, 13, None, 1, "b", {}],
        [15, 14, None, 3, "in shadow"],
        [16, 8, None, 1, "a", {"href": "javascript:alert(4)"}],
    ]
    events = [
        meta_event(0, "https://shop.example/x"),
        ["snapshot", 10, 0, True, nodes],
        ["mutation", 500, [], [], [], [[10, "after"]]],
        ["input", 600, 11, "*****", None],
    ]
    r = client.post(
        f"/ingest/{site.key}", content=orjson.dumps(batch(sid, pid, 0, events, t0=T0))
    )
    assert r.status_code == 200
    early, late = tmp_path / "early.html", tmp_path / "late.html"
    data = ["--data-dir", settings.data_dir]
    assert main(["export", sid, "--html", "--at", "100", "-o", str(early), *data]) == 0
    assert main(["export", sid, "--html", "--at", "700", "-o", str(late), *data]) == 0
    assert main(["export", sid, "--html", *data]) == 2
    text = late.read_text()
    assert ">before<" in early.read_text() and ">after<" in text
    assert 'value="*****"' in text and '<template shadowrootmode="open"><b>in shadow</b>' in text
    assert "script-src 'none'" in text
    lowered = text.lower()
    for bad in ("<script", "onload", "javascript:", "alert(1)", "alert(3)", "alert(4)"):
        assert bad not in lowered, bad
    assert lowered.count("</style>") == lowered.count("<style"), "recorded CSS closed its <style> early"


def test_html_export_reads_page_views_from_storage_when_the_index_lacks_them(
    client: TestClient, site: Site, settings, tmp_path, index_in_environ: dict[str, str], index
) -> None:
    """Storage is the truth: an acknowledged session the index does not hold (not caught up,
    lost) still exports, its page views found from its stored chunks."""
    from sessionlens.cli import main
    from tests.helpers import meta_event

    sid, first, second = new_id(), new_id(), new_id()
    page = [[1, None, None, 9], [2, 1, None, 1, "html", {}], [3, 2, None, 1, "body", {}]]
    for pid, t0, words in ((first, T0, "first page"), (second, T0 + 5_000, "second page")):
        events = [
            meta_event(0, f"https://shop.example/{pid}"),
            ["snapshot", 10, 0, True, [*page, [4, 3, None, 1, "p", {}], [5, 4, None, 3, words]]],
        ]
        r = client.post(f"/ingest/{site.key}", content=orjson.dumps(batch(sid, pid, 0, events, t0=t0)))
        assert r.status_code == 200, r.text
    for table in ("page_views", "sessions"):
        index.write(lambda conn, table=table: conn.execute(f"DELETE FROM {table} WHERE sid = ?", (sid,)))
    assert index.session(sid, site.key) is None
    out = tmp_path / "page.html"
    data = ["--data-dir", settings.data_dir, "--site", site.key]
    assert main(["export", sid, "--html", "--at", "100", "-o", str(out), *data]) == 0
    assert "first page" in out.read_text()
    assert main(["export", sid, "--html", "--at", "5100", "-o", str(out), *data]) == 0
    assert "second page" in out.read_text() and "first page" not in out.read_text()
    assert main(["export", new_id(), "--html", "--at", "0", "-o", str(out), *data]) == 2
