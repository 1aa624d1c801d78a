"""Click paths, controls, texts, anchors and form/field names computed from the recorded DOM
(replay/element_paths.py) on crafted page view streams; the grammar is the one LOCATE_JS
resolves (heatmap/click_paths.py), checked against real Chromium in test_click_anchoring.py."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from sessionlens.contracts import field, make_event, make_node
from sessionlens.replay.dom import DomState
from sessionlens.replay.element_paths import ElementPaths, css_escape, enriched_events

C = {n: field("click", n) for n in ("selector", "control", "text", "anchor", "ax", "ay", "tag", "flags")}
URL = "https://shop.example/cart"


class Page:
    """Records of a nested spec: (tag, attrs, children), "text", ("#shadow", children) or
    ("#document", [html spec]); ids in document order from 1; `ids[name]` for data-n=name, the
    namespace (props.ns, as the recorder marks SVG and MathML elements) for #ns=svg."""

    def __init__(self, html: Any) -> None:
        self.counter = itertools.count(1)
        self.ids: dict[str, int] = {}
        self.records: list[list[Any]] = []
        doc = next(self.counter)
        self.records.append(make_node("document", id=doc))
        self._add(html, doc)

    def _add(self, top: Any, top_parent: int) -> None:
        stack = [(top, top_parent)]  # iterative: the hostile test nests 10,000 levels
        while stack:
            spec, parent = stack.pop()
            node_id = next(self.counter)
            if isinstance(spec, str):
                self.records.append(make_node("text", id=node_id, parent=parent, text=spec))
                continue
            if spec[0] in ("#shadow", "#document"):
                kind, children = spec[0][1:], spec[1]
                self.records.append(make_node(kind, id=node_id, parent=parent))
            else:
                tag, attrs, children = spec
                attrs = dict(attrs)
                name = attrs.pop("data-n", None)
                if name:
                    self.ids[name] = node_id
                ns = attrs.pop("#ns", None)
                props = {"props": {"ns": ns}} if ns else {}
                if "data-sl-block" in attrs:  # the recorder sends a blocked element's box, not its content
                    props = {"props": {**props.get("props", {}), "block": [10, 10]}}
                self.records.append(
                    make_node("element", id=node_id, parent=parent, tag=tag, attrs=attrs, **props)
                )
            stack.extend((child, node_id) for child in reversed(children))

    def events(self, gen: int | None = None) -> list[list[Any]]:
        """The meta event (with `gen` when given: what the recorder left to the server) and the snapshot."""
        more: dict[str, Any] = {}
        if gen is not None:
            more = dict(lw=1000, lh=800, vs=1, touch=0, webdriver=0, brands="", gen=gen)
        meta = make_event(
            "meta", t=0, url=URL, referrer="", title="", vw=1000, vh=800, sw=1000, sh=800, dpr=1, ua="", lang="",
            tz="", **more,
        )  # fmt: skip
        return [meta, make_event("snapshot", t=1, part=0, last=True, nodes=self.records)]


def click(
    target: Any, t: int = 10, offsets: list[Any] | None = None, tag: Any = "x", flags: Any = ""
) -> list[Any]:
    return make_event(
        "click", t=t, target=target, selector="", fx=0.5, fy=0.5, px=1, py=1, cx=1, cy=1, button=0, pointer="mouse",
        pw=1000, ph=800, tag=tag, flags=flags, control="", text="", anchor="", ax=0, ay=0, offsets=offsets or [],
    )  # fmt: skip


def body(*children: Any) -> Any:
    return ("html", {}, [("body", {}, list(children))])


def enrich(events: list[list[Any]]) -> list[list[Any]]:
    return [e for _, e in enriched_events((0, e) for e in events)]


def clicked(
    page: Page, name: str, offsets: list[Any] | None = None, extra: list[list[Any]] = ()
) -> list[Any]:
    return enrich([*page.events(), *extra, click(page.ids[name], offsets=offsets)])[-1]


def test_ids_with_digits_or_colons_are_not_used_stable_ones_end_the_path() -> None:
    page = Page(body(
        ("div", {"id": "ember12"}, [("main", {"id": "content"}, [("button", {"id": ":r1:", "data-n": "b"}, ["Buy"])])]),
    ))  # fmt: skip
    assert clicked(page, "b")[C["selector"]] == "#content>button"


def test_duplicate_siblings_are_told_by_their_text_then_by_position() -> None:
    page = Page(body(
        ("ul", {"id": "list"}, [
            ("li", {"data-n": "apple"}, ["Apple pie 3.50"]),
            ("li", {"data-n": "pear"}, ["Pear tart"]),
            ("li", {"data-n": "dup1"}, ["Same"]),
            ("li", {"data-n": "dup2"}, ["Same"]),
        ]),
    ))  # fmt: skip
    assert clicked(page, "apple")[C["selector"]] == "#list>li:text(Apple\\ pie)"
    assert clicked(page, "pear")[C["selector"]] == "#list>li:text(Pear\\ tart)"
    assert clicked(page, "dup2")[C["selector"]] == "#list>li:nth-of-type(4)"


def test_named_attributes_in_order_and_uniqueness_within_the_root() -> None:
    page = Page(body(
        ("nav", {}, [("a", {"href": "https://shop.example/pricing", "data-n": "pricing"}, ["Plans"])]),
        ("a", {"href": "https://other.example/x/faq", "data-n": "faq"}, ["FAQ"]),
        ("button", {"data-testid": "buy-1", "data-n": "buy"}, ["Buy"]),
        ("input", {"name": "q", "data-n": "q"}, []),
        ("input", {"name": "q"}, []),
    ))  # fmt: skip
    assert clicked(page, "pricing")[C["selector"]] == 'a[href$="\\/pricing"]'
    assert clicked(page, "faq")[C["selector"]] == 'a[href$="https\\:\\/\\/other\\.example\\/x\\/faq"]'
    assert clicked(page, "buy")[C["selector"]] == 'button[data-testid="buy-1"]'
    # Not unique: told apart from its sibling by position under body.
    assert clicked(page, "q")[C["selector"]] == 'body>input[name="q"]:nth-of-type(1)'


def test_shadow_root_and_frame_segments_and_the_anchor_with_its_offset() -> None:
    page = Page(body(
        ("iframe", {"id": "widget"}, [("#document", [("html", {}, [("body", {}, [
            ("div", {"class": "plan"}, [("button", {"data-n": "pro"}, [("span", {"data-n": "label"}, ["Pro"])])]),
        ])])])]),
        ("my-list", {"id": "fruit", "data-n": "fruit"}, [("#shadow", [("ul", {}, [
            ("li", {"data-n": "apple"}, ["apple"]), ("li", {"data-n": "cherry"}, ["cherry"]),
        ])])]),
    ))  # fmt: skip
    inner = clicked(page, "label", offsets=[page.ids["label"], 3, 4, page.ids["pro"], 10, 12])
    assert inner[C["selector"]] == "#widget >>> body>div.plan>button>span"
    assert inner[C["control"]] == "#widget >>> body>div.plan>button"
    assert inner[C["text"]] == "Pro"
    # The deepest ancestor told by a class: div.plan, whose offset was not sent: no anchor.
    assert (inner[C["anchor"]], inner[C["ax"]]) == ("", 0)
    plan = page.ids["pro"] - 1
    inner = clicked(page, "label", offsets=[page.ids["label"], 3, 4, page.ids["pro"], 10, 12, plan, 20, 22])
    assert (inner[C["anchor"]], inner[C["ax"]], inner[C["ay"]]) == ("#widget >>> body>div.plan", 20, 22)
    shadow = clicked(page, "cherry", offsets=[page.ids["cherry"], 1, 1, page.ids["fruit"], 5, 6])
    assert shadow[C["selector"]] == "#fruit >>> ul>li:text(cherry)"
    # The host holding a deeper segment anchors it.
    assert (shadow[C["anchor"]], shadow[C["ax"]], shadow[C["ay"]]) == ("#fruit", 5, 6)


def test_masked_text_and_attributes_are_not_used() -> None:
    page = Page(body(
        ("ul", {"id": "l", "data-sl-mask": ""}, [
            ("li", {"title": "*****", "data-n": "a"}, ["***** ***"]),
            ("li", {"title": "*****"}, ["****"]),
        ]),
        ("div", {"class": "row"}, [("p", {"data-n": "price"}, ["Price *****"]), ("p", {}, ["Total"])]),
    ))  # fmt: skip
    masked = clicked(page, "a")
    assert masked[C["selector"]] == "#l>li:nth-of-type(1)"
    assert "*" not in masked[C["selector"]]
    assert clicked(page, "price")[C["selector"]] == "body>div.row>p:text(Price)"


def test_state_classes_and_classes_seen_changing_are_not_in_paths() -> None:
    page = Page(body(
        ("div", {"class": "card is-open active theme", "data-n": "card"}, ["x"]),
        ("div", {"class": "other"}, []),
    ))  # fmt: skip
    assert clicked(page, "card")[C["selector"]] == "body>div.card.theme"
    toggle = make_event("mutation", t=5, removes=[], adds=[], attrs=[[page.ids["card"], "class", "card is-open active"]],
                        texts=[])  # fmt: skip
    after = clicked(page, "card", extra=[toggle])
    assert after[C["selector"]] == "body>div.card"


def test_old_clicks_with_a_selector_are_left_as_recorded() -> None:
    page = Page(body(("button", {"id": "buy", "data-n": "b"}, ["Buy"])))
    old = click(page.ids["b"])
    old[C["selector"]], old[C["text"]] = "body>button.legacy", "Legacy"
    out = enrich([*page.events(), old])[-1]
    assert out is old
    named = make_event("submit", t=20, target=page.ids["b"], form="checkout", invalid=[[page.ids["b"], ""]])
    assert enrich([*page.events(), named])[-1] is named


def test_submit_and_invalid_are_named_from_the_dom() -> None:
    page = Page(body(
        ("form", {"aria-label": "Sign up", "data-n": "form"}, [
            ("label", {"for": "mail"}, ["E-mail address"]),
            ("input", {"id": "mail", "data-n": "mail"}, []),
            ("label", {}, ["Age ", ("input", {"name": "age", "data-n": "age"}, [])]),
            ("input", {"name": "secret", "aria-label": "****", "data-n": "secret"}, []),
        ]),
        ("form", {"data-n": "bare"}, []),
    ))  # fmt: skip
    submit = make_event("submit", t=20, target=page.ids["form"], form="",
                        invalid=[[page.ids["mail"], ""], [page.ids["age"], ""], [page.ids["secret"], ""]])  # fmt: skip
    invalid = make_event("invalid", t=21, target=page.ids["mail"], field="", reason="invalid")
    bare = make_event("submit", t=22, target=page.ids["bare"], form="", invalid=[])
    out = enrich([*page.events(), submit, invalid, bare])
    assert out[-3][field("submit", "form")] == "Sign up"
    assert out[-3][field("submit", "invalid")] == [
        [page.ids["mail"], "E-mail address"], [page.ids["age"], "Age"], [page.ids["secret"], "secret"]
    ]  # fmt: skip
    assert out[-2][field("invalid", "field")] == "E-mail address"
    assert out[-1][field("submit", "form")] == "body>form:nth-of-type(2)"


def test_a_large_page_with_many_clicks_reuses_its_index() -> None:
    # 100,000 nodes; 300 clicks each after a mutation: the attribute index is appended to, not rebuilt.
    rows = [
        ("div", {"class": "row", "data-n": f"r{i}" if i % 500 == 0 else ""}, [f"row {i}"])
        for i in range(50_000)
    ]
    page = Page(body(("main", {"id": "main"}, rows)))
    events = page.events()
    for i in range(300):
        target = page.ids[f"r{(i % 100) * 500}"]
        events.append(make_event("mutation", t=10 + i, removes=[], adds=[], attrs=[[target, "title", f"t{i}"]],
                                 texts=[]))  # fmt: skip
        events.append(click(target, t=10 + i))
    paths = ElementPaths()
    out = list(paths.stream(events))
    clicks = [e for e in out if e[0] == "click"]
    assert all(c[C["selector"]].startswith("#main>div.row:nth-of-type(") for c in clicks)
    assert max(len(v) for v in paths._index.values()) <= 64 + 2 * 50  # pruned, not grown per click
    # The 50,000 rows' positions were tabled once (attribute changes do not change children).
    assert list(paths._positions) == [page.ids["r0"] - 1] and paths._versions == {}


def test_hostile_input_never_raises() -> None:
    deep: Any = ("b", {"data-n": "deep"}, ["x"])
    for _ in range(10_000):
        deep = ("div", {}, [deep])
    page = Page(body(deep))
    assert clicked(page, "deep")[C["selector"]].endswith("b")
    forged = Page(body(("a", {"href": 5, "id": None, "title": ["x"], "data-n": "a"}, [])))
    forged.records[-1][5]["class"] = {"x": 1}
    huge = click(forged.ids["a"], offsets=[forged.ids["a"], 1e308, -1e308, "x", None, True, 10**30])
    out = enrich([*forged.events(), huge, click(10**30), click(None), click("x"),
                  make_event("submit", t=5, target=10**30, form="", invalid=[[None, ""], "x", [1]])])  # fmt: skip
    assert out[2][C["selector"]] == "body>a"
    assert out[2][C["ax"]] == 0


def test_css_escape_matches_the_browser() -> None:
    assert css_escape("1a") == "\\31 a"
    assert css_escape("-") == "\\-"
    assert css_escape("-1") == "-\\31 "
    assert css_escape("a>b)c") == "a\\>b\\)c"
    assert css_escape("é_x-") == "é_x-"


@pytest.mark.parametrize("kind", ["click", "submit", "invalid"])
def test_events_of_unknown_nodes_get_empty_names(kind: str) -> None:
    state = DomState()
    paths = ElementPaths(state)
    event = {
        "click": click(99),
        "submit": make_event("submit", t=1, target=99, form="", invalid=[[98, ""]]),
        "invalid": make_event("invalid", t=1, target=99, field="", reason="invalid"),
    }[kind]
    out = paths.enrich(event)
    assert out is not event and "" in out


def test_the_index_follows_nodes_and_attributes_added_after_it_was_built() -> None:
    page = Page(
        body(
            ("div", {"class": "a"}, [("button", {"id": "buy", "data-n": "b"}, ["Buy"])]),
            ("p", {"data-n": "p"}, []),
        )
    )
    b, p = page.ids["b"], page.ids["p"]
    twin = make_node("element", id=500, parent=p, tag="button", attrs={"id": "buy"})
    events = [
        *page.events(),
        click(b, t=10),  # builds the index: #buy is unique
        make_event("mutation", t=11, removes=[], adds=[twin], attrs=[], texts=[]),
        click(b, t=12),  # a second #buy: told by the path above it
        make_event("mutation", t=13, removes=[500], adds=[], attrs=[], texts=[]),
        click(b, t=14),  # unique again
        make_event("mutation", t=15, removes=[], adds=[], attrs=[[p, "id", "buy"]], texts=[]),
        click(b, t=16),  # an id set by a change counts too
    ]
    paths = [e[C["selector"]] for e in enrich(events) if e[0] == "click"]
    assert paths == ["#buy", "body>div.a>#buy", "#buy", "body>div.a>#buy"]


def test_an_attribute_set_again_and_again_is_indexed_once() -> None:
    # A forged (or busy) page sets the same name 20,000 times: the index holds the element once,
    # not once per change (each lookup read the whole list: 200 clicks took 19 s after 100,000).
    page = Page(body(("main", {}, [
        ("button", {"name": "go", "data-n": "b"}, ["Go"]), ("input", {"name": "go"}, []),
    ])))  # fmt: skip
    b = page.ids["b"]
    storm = make_event("mutation", t=5, removes=[], adds=[], attrs=[[b, "name", "go"]] * 20_000, texts=[])
    paths = ElementPaths()
    out = list(paths.stream([*page.events(), click(b, t=4), storm, click(b, t=6)]))
    assert [e[C["selector"]] for e in out if e[0] == "click"] == ['button[name="go"]'] * 2
    assert len(paths._index[("button", "name", "go")]) == 1


def test_names_have_no_nul() -> None:
    # PostgreSQL text cannot hold NUL: a click text with one failed the page view's derivation.
    page = Page(body(("form", {"id": "f\x00", "data-n": "f"}, [
        ("button", {"data-n": "b"}, ["Pay\x00 now"]),
        ("input", {"aria-label": "Card\x00", "data-n": "i"}, []),
    ])))  # fmt: skip
    out = enrich([*page.events(), click(page.ids["b"]),
                  make_event("submit", t=20, target=page.ids["f"], form="", invalid=[[page.ids["i"], ""]])])  # fmt: skip
    assert out[-2][C["text"]] == "Pay now"
    assert out[-1][field("submit", "form")] == "f"
    assert out[-1][field("submit", "invalid")] == [[page.ids["i"], "Card"]]


def test_values_with_a_gt_are_not_in_parts() -> None:
    # LOCATE_JS splits a segment at every '>', escaped or not: a part holding "\>" never resolved
    # (a "Next >" button, a title "a > b"). Text keys stop at '>' and such values are not used.
    page = Page(body(
        ("nav", {"id": "pager"}, [("button", {"data-n": "next"}, ["Next >"]), ("button", {}, ["Back"])]),
        ("div", {"class": "x"}, [("a", {"title": "Tools > Export", "data-n": "t"}, ["Export"])]),
        ("div", {"class": "y"}, [("i", {"id": "a>b", "class": "c>d e", "data-n": "i"}, [])]),
        ("ul", {"id": "l"}, [("li", {"data-n": "li"}, [">> more"]), ("li", {}, [">> less"])]),
    ))  # fmt: skip
    paths = {name: clicked(page, name)[C["selector"]] for name in ("next", "t", "i", "li")}
    assert paths == {
        "next": "#pager>button:text(Next)",
        "t": "body>div.x>a",
        "i": "body>div.y>i.e",
        "li": "#l>li:nth-of-type(1)",
    }


def test_a_masked_form_label_does_not_name_the_form() -> None:
    # Masking writes aria-label as '*': "*****" would name every masked form alike.
    page = Page(body(("form", {"aria-label": "***** **", "data-n": "f"}, []), ("form", {"id": "b"}, [])))
    out = enrich([*page.events(), make_event("submit", t=20, target=page.ids["f"], form="", invalid=[])])
    assert out[-1][field("submit", "form")] == "body>form:nth-of-type(1)"


def test_telling_siblings_by_text_reads_a_bounded_amount() -> None:
    # 30 rows of 2,000 nodes each: reading every row's text for every click read the whole page
    # (50 ms a click at 100,000 nodes). Past MAX_WALK text nodes a click is told by position.
    def row(word: str, n: str = "") -> Any:
        return ("li", {"data-n": n}, [("span", {}, [*(("i", {}, []) for _ in range(1_998)), word])])

    page = Page(body(("ul", {"id": "u"}, [*(row("Same") for _ in range(29)), row("Zed", "last")])))
    assert clicked(page, "last")[C["selector"]] == "#u>li:nth-of-type(30)"
    small = Page(body(("ul", {"id": "u"}, [("li", {}, ["Same"]), ("li", {"data-n": "last"}, ["Zed"])])))
    assert clicked(small, "last")[C["selector"]] == "#u>li:text(Zed)"


# -- a click's tag and flags 'a' / 'f' (meta gen 2: the server's) ------------------------------


def classified(page: Page, name: str, flags: Any = "", gen: int | None = 2) -> tuple[str, str]:
    """(tag, flags) of a click on page.ids[name] as a gen-2 recorder sends it (tag "", flags "" or
    "x"), read through enriched_events."""
    out = enrich([*page.events(gen=gen), click(page.ids[name], tag="", flags=flags)])[-1]
    return out[C["tag"]], out[C["flags"]]


LINK = "https://shop.example/pricing"


# (page spec, (tag, flags)) as Chromium tells them (checked in test_click_anchoring.py).
CLASSIFY_CASES: list[tuple[Any, tuple[str, str]]] = [
    # closest("a[href]"): any ancestor-or-self, any href (masked, empty, not a string).
    (("a", {"href": LINK}, [("span", {"data-n": "t"}, ["Plans"])]), ("span", "a")),
    (("a", {"href": LINK, "data-n": "t"}, ["Plans"]), ("a", "a")),
    (("a", {"href": ""}, [("b", {}, [("i", {"data-n": "t"}, [])])]), ("i", "a")),
    (("A", {"href": LINK}, [("span", {"data-n": "t"}, [])]), ("span", "a")),  # HTML: any case
    (("a", {"name": "top"}, [("span", {"data-n": "t"}, [])]), ("span", "")),  # no href
    (("div", {"data-sl-mask": ""}, [("a", {"href": "****"}, [("span", {"data-n": "t"}, ["****"])])]),
     ("span", "a")),  # masked subtree: the href is there, masked
    # isFormControl: input, textarea, select themselves (an option is not one).
    (("input", {"type": "text", "data-n": "t"}, []), ("input", "f")),
    (("textarea", {"data-n": "t"}, []), ("textarea", "f")),
    (("select", {}, [("option", {"data-n": "t"}, ["One"])]), ("option", "")),
    (("button", {"data-n": "t"}, ["Buy"]), ("button", "")),
    (("div", {"data-sl-mask": ""}, [("input", {"value": "********", "data-n": "t"}, [])]), ("input", "f")),
    # closest("label").
    (("label", {}, [("span", {"data-n": "t"}, ["Name"])]), ("span", "f")),
    (("label", {"data-n": "t"}, ["Name"]), ("label", "f")),
    # isContentEditable: the nearest contenteditable "" / "true" / "plaintext-only" (any case)
    # or "false" decides; other values inherit.
    (("div", {"contenteditable": ""}, [("p", {}, [("b", {"data-n": "t"}, ["x"])])]), ("b", "f")),
    (("div", {"contenteditable": "TRUE", "data-n": "t"}, []), ("div", "f")),
    (("div", {"contenteditable": "PlainText-Only"}, [("b", {"data-n": "t"}, [])]), ("b", "f")),
    (("div", {"contenteditable": "true"}, [("span", {"contenteditable": "false"}, [("b", {"data-n": "t"}, [])])]),
     ("b", "")),
    (("div", {"contenteditable": "false"}, [("i", {"contenteditable": "true"}, [("u", {"data-n": "t"}, [])])]),
     ("u", "f")),
    (("div", {"contenteditable": "true"}, [("i", {"contenteditable": "yes"}, [("u", {"data-n": "t"}, [])])]),
     ("u", "f")),
    (("i", {"contenteditable": "yes"}, [("u", {"data-n": "t"}, [])]), ("u", "")),
    # Both, in the recorder's order.
    (("a", {"href": LINK}, [("label", {}, [("input", {"data-n": "t"}, [])])]), ("input", "af")),
    # Neither closest() nor editability crosses a shadow root or a frame document.
    (("a", {"href": LINK}, [("#shadow", [("span", {"data-n": "t"}, ["x"])])]), ("span", "")),
    (("label", {}, [("#shadow", [("span", {"data-n": "t"}, ["x"])])]), ("span", "")),
    (("div", {"contenteditable": "true"}, [("#shadow", [("span", {"data-n": "t"}, ["x"])])]), ("span", "")),
    (("x-host", {}, [("#shadow", [("a", {"href": LINK}, [("span", {"data-n": "t"}, [])])])]), ("span", "a")),
    (("label", {}, [("iframe", {}, [("#document", [("html", {}, [("body", {"data-n": "t"}, [])])])])]),
     ("body", "")),
    (("div", {"contenteditable": ""}, [("iframe", {}, [("#document", [("html", {}, [("body", {}, [
        ("p", {"data-n": "t"}, []),
    ])])])])]), ("p", "")),
    # SVG and MathML elements have no isContentEditable, nor does HTML under them inherit
    # it (Chromium); an SVG <a href> is a link.
    (("div", {"contenteditable": ""}, [("svg", {"#ns": "svg"}, [("circle", {"#ns": "svg", "data-n": "t"}, [])])]),
     ("circle", "")),
    (("div", {"contenteditable": ""}, [("svg", {"#ns": "svg"}, [("foreignObject", {"#ns": "svg"}, [
        ("span", {"data-n": "t"}, []),
    ])])]), ("span", "")),
    (("svg", {"#ns": "svg"}, [("a", {"#ns": "svg", "href": "/x"}, [("text", {"#ns": "svg", "data-n": "t"}, [])])]),
     ("text", "a")),
    (("svg", {"#ns": "svg"}, [("A", {"#ns": "svg", "href": "/x"}, [("text", {"#ns": "svg", "data-n": "t"}, [])])]),
     ("text", "")),  # not HTML: type selectors match its case exactly
    (("svg", {"#ns": "svg"}, [("a", {"#ns": "svg", "xlink:href": "/x"}, [("text", {"#ns": "svg", "data-n": "t"}, [])])]),
     ("text", "")),  # [href] is not xlink:href
]  # fmt: skip


@pytest.mark.parametrize(("spec", "expected"), CLASSIFY_CASES)
def test_gen_2_clicks_get_tag_and_flags_from_the_dom(spec: Any, expected: tuple[str, str]) -> None:
    page = Page(body(spec))
    assert classified(page, "t") == expected
    # The text selection flag is the recorder's: kept after the DOM's.
    tag, flags = expected
    assert classified(page, "t", flags="x") == (tag, flags + "x")


def test_page_views_of_older_recorders_keep_their_tag_and_flags() -> None:
    page = Page(
        body(("a", {"href": LINK}, [("span", {"data-n": "t"}, ["x"])]), ("input", {"data-n": "i"}, []))
    )
    for gen in (None, 0, 1):
        # As stored, even where the DOM says otherwise: a reindex of old data changes nothing.
        out = enrich(
            [*page.events(gen=gen), click(page.ids["t"], tag="em", flags="fx"), click(page.ids["i"])]
        )
        assert (out[-2][C["tag"]], out[-2][C["flags"]]) == ("em", "fx")
        assert (out[-1][C["tag"]], out[-1][C["flags"]]) == ("x", "")
    # What a gen-2 recorder sends in tag and flags other than 'x' is not read.
    assert enrich([*page.events(gen=2), click(page.ids["i"], tag="em", flags="ax")])[-1][C["tag"]] == "input"
    assert enrich([*page.events(gen=2), click(page.ids["i"], tag="em", flags="ax")])[-1][C["flags"]] == "fx"
    assert enrich([*page.events(gen=3), click(page.ids["t"], tag="", flags="")])[-1][C["flags"]] == "a"
    # A gen that is not a number is no gen.
    meta = page.events(gen=2)
    meta[0][field("meta", "gen")] = True
    assert enrich([*meta, click(page.ids["t"], tag="em", flags="")])[-1][C["flags"]] == ""


def test_a_target_that_was_not_recorded_gets_what_its_nearest_recorded_ancestor_passes_down() -> None:
    # Inside data-sl-block nothing is recorded: the click's target id is null and its offsets
    # start at the blocked element. Its own tag and properties are unknown: tag ""; what every
    # descendant inherits (a link, a label, editability around it) is known.
    page = Page(body(
        ("a", {"href": LINK}, [("label", {}, [("div", {"data-sl-block": "", "data-n": "blocked"}, [])])]),
        ("select", {"data-sl-block": "", "data-n": "select"}, []),
        ("div", {"contenteditable": ""}, [("div", {"data-sl-block": "", "data-n": "editor"}, [])]),
    ))  # fmt: skip
    body_id = page.ids["blocked"] - 3

    def inside(name: str) -> tuple[str, str]:
        offsets = [page.ids[name], 4, 4, body_id, 10, 10]
        out = enrich([*page.events(gen=2), click(None, tag="", flags="x", offsets=offsets)])[-1]
        return out[C["tag"]], out[C["flags"]]

    # 'b': inside a blocked element, what the click did is not recorded either (never dead).
    assert inside("blocked") == ("", "afxb")
    assert inside("select") == ("", "xb")  # an <option> in it is not a form control itself
    assert inside("editor") == ("", "fxb")
    # A click on the blocked element itself (its box is recorded).
    assert classified(page, "select") == ("select", "fb")
    assert classified(page, "blocked") == ("div", "afb")
    # No recorded element in the offsets: nothing known.
    out = enrich([*page.events(gen=2), click(None, tag="", flags="", offsets=[999, 1, 1])])[-1]
    assert (out[C["tag"]], out[C["flags"]]) == ("", "")


def test_forged_gen_2_clicks_never_raise() -> None:
    deep: Any = ("b", {"data-n": "deep"}, ["x"])
    for _ in range(10_000):
        deep = ("div", {}, [deep])
    page = Page(body(("label", {}, [deep]), ("i", {"contenteditable": ["x"], "data-n": "odd"}, [])))
    assert classified(page, "deep") == ("b", "f")  # 10,000 ancestors up, bounded
    assert classified(page, "odd") == ("i", "")
    forged = Page(body(("a", {"href": 5, "data-n": "a"}, [("span", {"data-n": "s"}, [])])))
    forged.records[-1][4] = "S" * 100_000  # a huge tag in the span's record
    events = [
        *forged.events(gen=2),
        click(forged.ids["s"], tag="t" * 100_000, flags="x" * 100_000 + "\x00"),
        click(forged.ids["a"], tag=None, flags=["x"]),
        click(forged.ids["a"], tag=5, flags={"x": 1}),
        click(10**30, offsets=[None, "x", True] * 1_000),
        click("x", offsets={"a": 1}),
    ]
    out = enrich(events)
    assert out[2][C["tag"]] == "S" * 64 and out[2][C["flags"]] == "ax"
    assert out[3][C["flags"]] == "a" and out[4][C["flags"]] == "a"
    assert [(e[C["tag"]], e[C["flags"]]) for e in out[5:]] == [("", ""), ("", "")]


def test_relative_hrefs_name_links_as_their_absolute_form_does() -> None:
    # Recorders send hrefs as the page wrote them; the names must be those of the absolute URL
    # (the backdrop's DOM, where the path is looked up, has them absolute: recorded_urls.py).
    def selector_for(href: str) -> str:
        page = Page(body(("a", {"href": href}, [("span", {"data-n": "t"}, ["Pricing"])])))
        return clicked(page, "t")[C["control"]]

    absolute = selector_for("https://shop.example/docs/pricing")  # the page is https://shop.example/cart
    assert absolute == 'a[href$="\\/docs\\/pricing"]'
    for written in ("/docs/pricing", "docs/pricing", "../docs/pricing", "./docs/../docs/pricing"):
        assert selector_for(written) == absolute, written
