"""The replay sanitiser: nothing recorded can run or reach the viewer's origin."""

from __future__ import annotations

from sessionlens.replay.sanitize import BLOCKED_TAG, INVALID_URL, Sanitizer

VIEWER = "http://viewer.test:8000"
clean = Sanitizer([VIEWER])


def el(tag: str, attrs: dict, props: dict | None = None) -> list:
    rec = [7, 1, None, 1, tag, attrs]
    return [*rec, props] if props else rec


def test_script_like_elements_become_inert_placeholders() -> None:
    for tag in ("script", "SCRIPT", "object", "embed", "base", "noscript"):
        assert clean.record(el(tag, {"src": "https://x.test/a.js"}))[4:] == [BLOCKED_TAG, {"hidden": ""}]
    assert (
        clean.record(el("meta", {"http-equiv": "refresh", "content": "0;url=https://x.test"}))[4]
        == BLOCKED_TAG
    )
    assert clean.record(el("link", {"rel": "preload", "href": "https://x.test/a"}))[4] == BLOCKED_TAG
    animate = el("set", {"attributeName": "href", "to": "javascript:alert(1)"}, {"ns": "svg"})
    assert clean.record(animate)[4] == BLOCKED_TAG
    assert clean.record(el("img<script>", {}))[4] == BLOCKED_TAG


def test_handlers_srcdoc_and_form_targets_are_dropped() -> None:
    rec = clean.record(
        el(
            "iframe",
            {"onload": "x()", "OnError": "y()", "srcdoc": "<script>", "src": "https://x.test/", "class": "f"},
        )
    )
    assert rec[5] == {"class": "f"}
    form = clean.record(el("form", {"action": VIEWER + "/logout", "method": "post"}))
    assert form[5] == {"method": "post"}
    button = clean.record(el("button", {"formaction": "https://x.test", "type": "submit"}))
    assert button[5] == {"type": "submit"}


def test_urls_keep_only_absolute_http_off_the_viewer_origin() -> None:
    cases = {
        "javascript:alert(1)": INVALID_URL,
        " JaVa\tScRiPt:alert(1)": INVALID_URL,
        "data:text/html,<script>alert(1)</script>": INVALID_URL,
        "/api/tokens": INVALID_URL,
        "//viewer.test:8000/canary": INVALID_URL,
        VIEWER + "/canary": INVALID_URL,
        "http://user@viewer.test:8000/canary": INVALID_URL,
        "blob:https://x.test/1": INVALID_URL,
        "https://cdn.example/a.png": "https://cdn.example/a.png",
        "#section": "#section",
    }
    for value, expected in cases.items():
        assert clean.record(el("a", {"href": value}))[5]["href"] == expected, value
    assert clean.record(el("img", {"src": "data:image/png;base64,AAAA"}))[5]["src"].startswith(
        "data:image/png"
    )
    assert (
        clean.record(el("a", {"href": "data:image/svg+xml,<svg onload=alert(1)>"}))[5]["href"] == INVALID_URL
    )
    srcset = clean.record(el("img", {"srcset": "https://a.test/1.png 1x, /2.png 2x"}))[5]["srcset"]
    assert srcset == f"https://a.test/1.png 1x, {INVALID_URL} 2x"


def test_css_cannot_reach_the_viewer_or_run_code() -> None:
    css = (
        f"body {{ background: url({VIEWER}/canary) }} .a {{ background-image: url('/relative.png') }}"
        ' @import "/x.css"; .b { background: image-set("/a.png" 1x) } .c { width: expression(alert(1)) }'
        " .d { background: url(https://cdn.example/ok.png) }"
    )
    out = clean.css(css)
    assert "/canary" not in out and "/relative.png" not in out and '"/x.css"' not in out
    assert '"/a.png"' not in out and "expression(" not in out
    assert "https://cdn.example/ok.png" in out
    styled = clean.record(el("div", {"style": f"background:url({VIEWER}/canary)"}))
    assert "canary" not in styled[5]["style"]
    link = clean.record(el("link", {"rel": "stylesheet"}, {"css": f"a{{background:url({VIEWER}/c)}}"}))
    assert "viewer.test" not in link[6]["css"]
    text = clean.record([9, 8, None, 3, f"p{{background:url({VIEWER}/canary)}}"])
    assert "canary" not in text[4]


def test_mutation_events_are_sanitised_too() -> None:
    event = [
        "mutation",
        10,
        [],
        [el("script", {}), [8, 7, None, 3, "alert(1)"]],
        [
            [5, "onclick", "alert(1)"],
            [5, "href", "javascript:alert(1)"],
            [5, "title", "ok"],
            [5, "class", None],
        ],
        [[8, f"@import '{VIEWER}/x.css';"]],
    ]
    out = clean.event(event)
    assert out[3][0][4] == BLOCKED_TAG
    assert out[4] == [[5, "href", INVALID_URL], [5, "title", "ok"], [5, "class", None]]
    assert "viewer.test" not in out[5][0][1]


def test_malformed_records_are_dropped_not_fatal() -> None:
    assert clean.records([None, "x", [1], [1, None, None, 99], [1, None, None, 1, 5, []]]) == [
        [1, None, None, 1, BLOCKED_TAG, {"hidden": ""}]
    ]
    frame = clean.keyframe({"t": 1, "nodes": [["bad"], [1, None, None, 9]], "url": 5})
    assert frame["nodes"] == [[1, None, None, 9]] and frame["url"] == ""


def test_names_are_compared_by_lower_cased_local_part() -> None:
    # Every SVG animation is blocked, even a harmless-looking one: a later
    # mutation of attributeName/to/values could aim it at href.
    for tag in (
        "animate",
        "SET",
        "svg:animate",
        "animateMotion",
        "X:ANIMATETRANSFORM",
        "discard",
        "svg:script",
    ):
        assert clean.record(el(tag, {"attributeName": "opacity"}, {"ns": "svg"}))[4] == BLOCKED_TAG, tag
    rec = clean.record(el("a", {"XLINK:HREF": "javascript:x", "x:onclick": "y()", "ATTRIBUTENAME": "href"}))
    assert rec[5] == {"XLINK:HREF": INVALID_URL}
    assert clean.record(el("feColorMatrix", {"values": "1 0 0 0 0"}, {"ns": "svg"}))[5] == {
        "values": "1 0 0 0 0"
    }
    assert clean.record(el("feColorMatrix", {"values": "#;javascript:x"}, {"ns": "svg"}))[5] == {}


def test_nothing_is_kept_inside_a_placeholder_and_none_is_left_in_head() -> None:
    from sessionlens.contracts import make_event, make_node

    s = Sanitizer([VIEWER])
    nodes = [
        make_node("document", id=1),
        make_node("element", id=2, parent=1, tag="html", attrs={}),
        make_node("element", id=3, parent=2, tag="head", attrs={}),
        make_node("element", id=4, parent=3, tag="script", attrs={"src": "https://x.test/a.js"}),
        make_node("element", id=5, parent=2, tag="body", attrs={}),
        make_node("element", id=6, parent=5, tag="noscript", attrs={}),
        make_node("element", id=7, parent=6, tag="img", attrs={"src": "https://tracker.test/p.gif"}),
        make_node("text", id=8, parent=7, text="x"),
    ]
    kept = s.event(make_event("snapshot", t=1, part=0, last=True, nodes=nodes))[4]
    assert [r[0] for r in kept] == [1, 2, 3, 5, 6]  # the script in <head> left out; nothing under <noscript>
    assert kept[-1][4:] == [BLOCKED_TAG, {"hidden": ""}]
    # Later changes cannot reach into or undo a placeholder.
    later = s.event(
        make_event(
            "mutation",
            t=2,
            removes=[],
            adds=[
                make_node("element", id=9, parent=6, tag="img", attrs={"src": "https://tracker.test/q.gif"})
            ],
            attrs=[[6, "hidden", None], [6, "title", "x"], [7, "src", "https://tracker.test/r.gif"]],
            texts=[],
        )
    )
    assert later[3] == [] and later[4] == []
