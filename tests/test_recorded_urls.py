"""replay/recorded_urls.py: relative URLs joined to the base the page had at that point.

Real-browser agreement is in tests/test_recorded_urls_browser.py; these are the rules
one by one and forged streams.
"""

from __future__ import annotations

from typing import Any

import pytest

from sessionlens.contracts import make_event, make_node
from sessionlens.replay.dom import DomState
from sessionlens.replay.recorded_urls import (
    RecordedUrls,
    absolute,
    absolute_attr,
    absolute_css,
    has_relative_urls,
)
from sessionlens.replay.sanitize import INVALID_URL, Sanitizer
from tests.helpers import meta_event

PAGE = "https://shop.example/a/b/page.html?q=1#x"


def el(node_id: int, parent: int, tag: str, attrs: dict[str, Any], **props: Any) -> list[Any]:
    if props:
        return make_node("element", id=node_id, parent=parent, tag=tag, attrs=attrs, props=props)
    return make_node("element", id=node_id, parent=parent, tag=tag, attrs=attrs)


def page(*extra: list[Any]) -> list[Any]:
    nodes = [
        make_node("document", id=1),
        el(2, 1, "html", {}),
        el(3, 2, "head", {}),
        el(4, 2, "body", {}),
        *extra,
    ]
    return make_event("snapshot", t=5, part=0, last=True, nodes=nodes)


def mutation(
    adds: list[Any] = (), attrs: list[Any] = (), texts: list[Any] = (), removes: list[int] = ()
) -> list[Any]:
    return make_event(
        "mutation", t=9, removes=list(removes), adds=list(adds), attrs=list(attrs), texts=list(texts)
    )


def state(*events: list[Any]) -> DomState:
    return DomState().apply_all(RecordedUrls().events([meta_event(url=PAGE), *events]))


def attrs_of(s: DomState, node_id: int) -> dict[str, str]:
    return s.nodes[node_id].attrs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("img/a.png", "https://shop.example/a/b/img/a.png"),
        ("../c.png", "https://shop.example/a/c.png"),
        ("/root.png", "https://shop.example/root.png"),
        ("//cdn.example/x.png", "https://cdn.example/x.png"),
        ("?page=2", "https://shop.example/a/b/page.html?page=2"),
        ("  sp ace.png\t", "https://shop.example/a/b/sp%20ace.png"),
        ("\\back\\slash.png", "https://shop.example/back/slash.png"),  # as a browser reads it
        ("\u3000a.png", "https://shop.example/a/b/%E3%80%80a.png"),  # only C0 and space are stripped
        ("https://other.example/y", "https://other.example/y"),
        ("#frag", "#frag"),
        ("data:image/png;base64,AAAA", "data:image/png;base64,AAAA"),
        ("JavaScript:alert(1)", "JavaScript:alert(1)"),
        ("blob:https://shop.example/1", "blob:https://shop.example/1"),
        ("", ""),
    ],
)
def test_urls_join_as_a_browser_joins_them(url: str, expected: str) -> None:
    assert absolute(url, PAGE) == expected


def test_without_a_usable_base_a_url_stays_as_recorded() -> None:
    assert absolute("img/a.png", "") == "img/a.png"
    assert absolute("img/a.png", "not a url") == "img/a.png"
    # ... and the Sanitizer then refuses it, as before.
    assert Sanitizer().url(absolute("img/a.png", "")) == INVALID_URL


def test_attributes_srcset_and_css() -> None:
    base = "https://s.example/p/"
    assert absolute_attr("href", "x", base) == "https://s.example/p/x"
    assert absolute_attr("xlink:href", "x", base) == "https://s.example/p/x"
    assert absolute_attr("formaction", "go", base) == "https://s.example/p/go"
    assert absolute_attr("title", "x.png", base) == "x.png"  # not a URL attribute
    assert (
        absolute_attr("srcset", "a.png 1x,b.png  2x", base)
        == "https://s.example/p/a.png 1x, https://s.example/p/b.png 2x"
    )
    assert absolute_css("""a{background:url( "i.png" )} @import 'x.css';""", base) == (
        """a{background:url( "https://s.example/p/i.png" )} @import 'https://s.example/p/x.css';"""
    )
    assert (
        absolute_css("b{background:url(data:image/png;base64,AA)}", base)
        == "b{background:url(data:image/png;base64,AA)}"
    )


def test_a_snapshot_and_its_mutations_resolve_against_the_page() -> None:
    s = state(
        page(
            el(5, 4, "img", {"src": "i.png", "style": "background:url(bg.png)"}),
            el(6, 3, "style", {}),
            make_node("text", id=7, parent=6, text=".a{background:url(s.png)}"),
            el(
                8,
                3,
                "link",
                {"rel": "stylesheet", "href": "../css/site.css"},
                css=".b{background:url(../img/l.png)}",
            ),
        ),
        mutation(
            adds=[el(9, 4, "a", {"href": "next.html"})],
            attrs=[[5, "src", "j.png"], [5, "alt", "j.png"]],
            texts=[[7, ".a{background:url(t.png)}"]],
        ),
    )
    assert attrs_of(s, 5) == {
        "src": "https://shop.example/a/b/j.png",
        "style": "background:url(https://shop.example/a/b/bg.png)",
        "alt": "j.png",
    }
    assert s.nodes[7].text == ".a{background:url(https://shop.example/a/b/t.png)}"
    assert attrs_of(s, 8)["href"] == "https://shop.example/a/css/site.css"
    assert (
        s.nodes[8].props["css"] == ".b{background:url(https://shop.example/a/img/l.png)}"
    )  # the sheet's own URL
    assert attrs_of(s, 9)["href"] == "https://shop.example/a/b/next.html"


def test_a_navigation_moves_the_base_for_what_comes_after_it_only() -> None:
    events = RecordedUrls().events(
        [
            meta_event(url="https://shop.example/list/"),
            page(el(5, 4, "img", {"src": "a.png"})),
            make_event("nav", t=8, url="https://shop.example/list/item/7/", how="push", title=""),
            mutation(adds=[el(6, 4, "img", {"src": "b.png"})]),
        ]
    )
    s = DomState().apply_all(events)
    assert attrs_of(s, 5)["src"] == "https://shop.example/list/a.png"
    assert attrs_of(s, 6)["src"] == "https://shop.example/list/item/7/b.png"


def test_base_element_first_one_wins_until_removed() -> None:
    # As a browser: the first <base> with an href (tree order; here the order recorded) sets it.
    s = state(
        page(
            el(5, 3, "base", {"href": "/static/"}),
            el(6, 3, "base", {"href": "/other/"}),
            el(7, 4, "img", {"src": "a.png"}),
        ),
        mutation(adds=[el(8, 4, "img", {"src": "b.png"})]),
        mutation(removes=[5], adds=[el(9, 4, "img", {"src": "c.png"})]),  # the next one takes over
        mutation(removes=[6], adds=[el(10, 3, "base", {})]),  # a <base> without href sets nothing
        mutation(adds=[el(11, 4, "img", {"src": "d.png"})]),
        mutation(attrs=[[10, "href", "https://cdn.example/v1/"]]),  # ... until it gains one
        mutation(adds=[el(12, 4, "img", {"src": "e.png"})]),
        mutation(attrs=[[10, "href", None]]),
        mutation(adds=[el(13, 4, "img", {"src": "f.png"})]),
        mutation(
            adds=[
                make_node(
                    "element", id=14, parent=4, tag="base", attrs={"href": "/svg/"}, props={"ns": "svg"}
                )
            ]
        ),
        mutation(adds=[el(15, 4, "img", {"src": "g.png"})]),  # an SVG <base> is not one
    )
    assert attrs_of(s, 7)["src"] == "https://shop.example/static/a.png"
    assert attrs_of(s, 8)["src"] == "https://shop.example/static/b.png"
    assert attrs_of(s, 9)["src"] == "https://shop.example/other/c.png"
    assert attrs_of(s, 11)["src"] == "https://shop.example/a/b/d.png"
    assert attrs_of(s, 12)["src"] == "https://cdn.example/v1/e.png"
    assert attrs_of(s, 13)["src"] == "https://shop.example/a/b/f.png"
    assert attrs_of(s, 15)["src"] == "https://shop.example/a/b/g.png"


def test_frame_documents_resolve_against_their_own_url() -> None:
    s = state(
        page(
            el(5, 4, "iframe", {"src": "widgets/w.html"}),
            make_node("document", id=6, parent=5),
            el(7, 6, "html", {}),
            el(8, 7, "body", {}),
            el(9, 8, "img", {"src": "pic.png"}),
            el(10, 4, "iframe", {"srcdoc": "<p>x</p>", "src": "ignored/x.html"}),
            make_node("document", id=11, parent=10),
            el(12, 11, "html", {}),
            el(13, 12, "img", {"src": "pic.png"}),
            el(14, 8, "iframe", {}),  # a frame inside the frame, about:blank
            make_node("document", id=15, parent=14),
            el(16, 15, "img", {"src": "deep.png"}),
        ),
        mutation(adds=[el(17, 8, "img", {"src": "later.png"})], attrs=[[9, "src", "again.png"]]),
        mutation(adds=[el(18, 4, "img", {"src": "top.png"})]),
    )
    assert attrs_of(s, 9)["src"] == "https://shop.example/a/b/widgets/again.png"
    assert attrs_of(s, 13)["src"] == "https://shop.example/a/b/pic.png"  # srcdoc: the container's base
    assert attrs_of(s, 16)["src"] == "https://shop.example/a/b/widgets/deep.png"  # about:blank inherits
    assert attrs_of(s, 17)["src"] == "https://shop.example/a/b/widgets/later.png"
    assert attrs_of(s, 18)["src"] == "https://shop.example/a/b/top.png"


def test_a_frame_document_resolves_against_the_url_its_recorder_sent() -> None:
    # A frame that followed a link or a redirect inside it: its document's URL is not its src.
    s = state(
        page(
            el(5, 4, "iframe", {"src": "/help/"}),
            make_node(
                "document", id=6, parent=5, props={"url": "https://shop.example/help/topics/a.html?x=1"}
            ),
            el(7, 6, "img", {"src": "img/x.png"}),
            el(8, 4, "iframe", {"src": "/w/"}),
            make_node("document", id=9, parent=8, props={"url": "about:blank"}),  # not a base: the src
            el(10, 9, "img", {"src": "y.png"}),
        )
    )
    assert attrs_of(s, 7)["src"] == "https://shop.example/help/topics/img/x.png"
    assert attrs_of(s, 10)["src"] == "https://shop.example/w/y.png"


def test_adopted_sheets_and_shadow_roots_use_their_document() -> None:
    s = state(
        page(
            el(5, 4, "div", {}),
            make_node("shadow", id=6, parent=5, props={"adopted": [".x{background:url(sh.png)}"]}),
            el(7, 6, "img", {"src": "in-shadow.png"}),
        )
    )
    assert s.nodes[6].props["adopted"] == [".x{background:url(https://shop.example/a/b/sh.png)}"]
    assert attrs_of(s, 7)["src"] == "https://shop.example/a/b/in-shadow.png"


def test_a_new_snapshot_starts_over() -> None:
    urls = RecordedUrls()
    urls.events([meta_event(url=PAGE), page(el(5, 3, "base", {"href": "/static/"}))])
    again = urls.event(page(el(5, 4, "img", {"src": "a.png"})))
    assert again[4][-1][5]["src"] == "https://shop.example/a/b/a.png"


def test_following_on_from_a_keyframe_keeps_its_bases() -> None:
    first = state(
        page(
            el(5, 3, "base", {"href": "/static/"}),
            el(6, 4, "iframe", {"src": "/w/f.html"}),
            make_node("document", id=7, parent=6),
            el(8, 7, "body", {}),
        )
    )
    urls = RecordedUrls.from_keyframe(first.keyframe())
    later = urls.event(mutation(adds=[el(9, 4, "img", {"src": "a.png"}), el(10, 8, "img", {"src": "b.png"})]))
    assert [r[5]["src"] for r in later[3]] == [
        "https://shop.example/static/a.png",
        "https://shop.example/w/b.png",
    ]


def test_a_relative_url_that_lands_on_the_viewer_is_still_refused() -> None:
    s = DomState().apply_all(
        RecordedUrls().events(
            [meta_event(url="https://viewer.example/x/"), page(el(5, 4, "img", {"src": "steal.png"}))]
        )
    )
    assert attrs_of(s, 5)["src"] == "https://viewer.example/x/steal.png"  # joined, then refused
    assert Sanitizer(["https://viewer.example"]).attr("img", "src", attrs_of(s, 5)["src"]) == INVALID_URL


@pytest.mark.parametrize(
    "record",
    [
        None,
        "x",
        [],
        [1],
        ["id", None, None, 1, "img", {}],
        [5, 4, None, 1, None, {"src": "a.png"}],
        [5, 4, None, 1, "img", "not attrs"],
        [5, 4, None, 1, "img", {"src": 7, 8: "a.png"}],
        [5, 4, None, 1, "link", {"href": 3}, {"css": 5}],
        [5, 4, None, 3],
        [5, 99999, None, 9, {"adopted": "nope"}],
        [5, 4, None, 11, {"adopted": [1, None, "a{background:url(x.png)}"]}],
    ],
)
def test_forged_records_never_raise(record: Any) -> None:
    urls = RecordedUrls(PAGE)
    urls.event(page(record) if record is not None else page())
    urls.event(
        mutation(
            adds=[record],
            attrs=[[None, "src", "x"], [5, None, "x"], [5, "src", None], "x", [1, 2]],
            texts=[["a", "b"], [5, 6], None],
        )
    )
    urls.event(make_event("nav", t=10, url="https://a.example/", how="push", title=""))


def test_deep_trees_do_not_recurse() -> None:
    depth = 50_000
    nodes = [el(5 + i, 4 + i, "div", {}) for i in range(depth)] + [
        el(5 + depth, 4 + depth, "img", {"src": "deep.png"})
    ]
    s = state(page(*nodes))
    assert attrs_of(s, 5 + depth)["src"] == "https://shop.example/a/b/deep.png"


def test_windows_know_when_they_need_a_base() -> None:
    assert not has_relative_urls([make_event("move", t=1, x=1, y=1, target=None), meta_event()])
    assert not has_relative_urls(
        [
            page(el(5, 4, "img", {"src": "https://a.example/x.png", "srcset": "https://a.example/y.png 2x"})),
            mutation(
                attrs=[[5, "href", "#top"], [5, "alt", "x.png"], [5, "src", None]], texts=[[6, "plain"]]
            ),
        ]
    )
    assert has_relative_urls([mutation(attrs=[[5, "src", "x.png"]])])
    assert has_relative_urls([mutation(attrs=[[5, "src", "http:x.png"]])])  # relative to an http page
    assert not has_relative_urls(
        [mutation(attrs=[[5, "src", "mailto:a"], [5, "href", " HTTPS://a.example/"]])]
    )
    assert has_relative_urls(
        [mutation(adds=[el(5, 4, "img", {"srcset": "https://a.example/y.png 1x, y.png 2x"})])]
    )
    assert has_relative_urls([mutation(texts=[[6, "a{background:url(x.png)}"]])])
    assert has_relative_urls([page(make_node("text", id=7, parent=4, text="@import 'x.css';"))])
    assert has_relative_urls([page(el(8, 3, "link", {"href": "https://a.example/s.css"}, css="a{}"))])
    assert not has_relative_urls([["mutation", 1, "x", None, 5, "y"], ["snapshot", 1, 0, True, "nodes"]])


def test_following_learns_the_bases_that_rewriting_does() -> None:
    events = [
        meta_event(url=PAGE),
        page(
            el(5, 3, "base", {}),
            el(6, 4, "iframe", {"src": "/w/f.html"}),
            make_node("document", id=7, parent=6),
            el(8, 7, "body", {}),
        ),
        mutation(attrs=[[5, "href", "/static/"]]),
        make_event("nav", t=12, url="https://shop.example/else/", how="push", title=""),
    ]
    later = mutation(adds=[el(9, 4, "img", {"src": "a.png"}), el(10, 8, "img", {"src": "b.png"})])
    rewriting, following = RecordedUrls(), RecordedUrls()
    rewriting.events(events)
    for event in events:
        following.follow(event)
    assert following.event(later) == rewriting.event(later)
    assert [r[5]["src"] for r in following.event(later)[3]] == [
        "https://shop.example/static/a.png",
        "https://shop.example/w/b.png",
    ]
