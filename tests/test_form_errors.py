"""Fields shown invalid by aria-invalid or error text, derived by the server from the recorded
DOM changes (replay/form_errors.py) on crafted page view streams, through the readers the
product uses: ElementPaths (names, signals, timeline) and FormTracker (form analytics). The
rules are the recorder's old forms.js ones; the browser side is test_recorder_research.py
and test_form_analytics_browser.py."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from sessionlens.contracts import event_as_dict, make_event, make_node, validate_batch
from sessionlens.contracts import field as field_position
from sessionlens.forms.track import FormTracker
from sessionlens.heatmap.signals import PageViewFacts
from sessionlens.replay.dom import DomState
from sessionlens.replay.element_paths import ElementPaths, enriched_events
from sessionlens.replay.form_errors import MAX_EVENTS, FormErrors


class Page:
    """Records of a nested spec: (tag, attrs, children) or "text"; ids in document order from 1;
    `ids[name]` for data-n=name. `add(parent, spec)` makes mutation adds with fresh ids."""

    def __init__(self, html: Any) -> None:
        self.counter = itertools.count(1)
        self.ids: dict[str, int] = {}
        doc = next(self.counter)
        self.records = [make_node("document", id=doc), *self.subtree(html, doc)]

    def subtree(self, top: Any, top_parent: int) -> list[list[Any]]:
        out: list[list[Any]] = []
        stack = [(top, top_parent)]  # iterative: the hostile test nests 10,000 levels
        while stack:
            spec, parent = stack.pop()
            node_id = next(self.counter)
            if isinstance(spec, str):
                out.append(make_node("text", id=node_id, parent=parent, text=spec))
                continue
            tag, attrs, children = spec
            attrs = dict(attrs)
            name = attrs.pop("data-n", None)
            if name:
                self.ids[name] = node_id
            out.append(make_node("element", id=node_id, parent=parent, tag=tag, attrs=attrs))
            stack.extend((child, node_id) for child in reversed(children))
        return out

    def events(self, gen: int | None = 1) -> list[list[Any]]:
        meta = make_event(
            "meta", t=0, url="https://shop.example/signup", referrer="", title="", vw=1000, vh=800, sw=1000,
            sh=800, dpr=1, ua="", lang="", tz="", lw=1000, lh=800, vs=1, touch=0, webdriver=0, brands="",
            **({"gen": gen} if gen is not None else {}),
        )  # fmt: skip
        return [meta, make_event("snapshot", t=1, part=0, last=True, nodes=self.records)]

    def add(self, t: int, parent: str, spec: Any) -> list[Any]:
        return mutation(t, adds=self.subtree(spec, self.ids[parent]))


def mutation(
    t: int, removes: list[Any] = (), adds: list[Any] = (), attrs: list[Any] = (), texts: list[Any] = ()
) -> list[Any]:
    return make_event(
        "mutation", t=t, removes=list(removes), adds=list(adds), attrs=list(attrs), texts=list(texts)
    )


def submit(t: int, target: Any) -> list[Any]:
    return make_event("submit", t=t, target=target, form="", invalid=[])


def body(*children: Any) -> Any:
    return ("html", {}, [("body", {}, list(children))])


def field(name: str, label: str, **attrs: str) -> list[Any]:
    return [
        ("label", {"for": name}, [label]),
        ("input", {"id": name, "name": name, "data-n": name, **attrs}, []),
    ]


def signup(*extra: Any) -> Page:
    return Page(
        body(
            ("form", {"id": "signup", "data-n": "form"}, [
                *field("email", "Email", **{"aria-describedby": "email-hint email-err"}),
                ("span", {"id": "email-hint"}, ["We never share it"]),
                ("span", {"id": "email-err", "data-n": "email-err"}, []),
                *field("zip", "Postcode", **{"aria-errormessage": "zip-msg"}),
                ("div", {"id": "zip-msg", "data-n": "zip-msg"}, []),
                ("div", {"data-n": "row"}, [
                    *field("phone", "Phone"),
                    ("div", {"role": "alert", "data-n": "phone-alert"}, []),
                ]),
                ("button", {"data-n": "go"}, ["Sign up"]),
            ]),
            *extra,
        )
    )  # fmt: skip


def shown(events: list[list[Any]]) -> list[tuple[int, Any, str, str]]:
    """(t, target, field, reason) of the invalid events a reader sees."""
    out = []
    for _, e in enriched_events(enumerate(events)):
        if e[0] == "invalid":
            d = event_as_dict(e)
            out.append((d["t"], d["target"], d["field"], d["reason"]))
    return out


def tracked(events: list[list[Any]]) -> list[list[Any]]:
    """The invalid events FormTracker derives, as FormErrors gives them to it."""
    state = DomState()
    errors = FormErrors(state)
    out = []
    for event in events:
        state.apply(event)
        out += errors.after(event)
    return out


def test_aria_invalid_becoming_true_any_case() -> None:
    page = signup()
    zip_id, email = page.ids["zip"], page.ids["email"]
    events = [
        *page.events(),
        mutation(20, attrs=[[zip_id, "aria-invalid", "TRUE"]]),
        mutation(30, attrs=[[email, "aria-invalid", "false"], [email, "aria-invalid", "true "]]),
        mutation(40, attrs=[[email, "aria-invalid", None]]),
        mutation(50, attrs=[[email, "aria-invalid", "true"]]),
    ]
    assert shown(events) == [(20, zip_id, "Postcode", "aria-invalid"), (50, email, "Email", "aria-invalid")]
    # Derived events follow the wire definition.
    validate_batch({"v": 1, "sid": "s" * 16, "pid": "p" * 16, "seq": 0, "t0": 0, "events": tracked(events)})


def test_once_per_field_reason_and_submit_attempt() -> None:
    page = signup()
    zip_id, form = page.ids["zip"], page.ids["form"]
    flip = [[zip_id, "aria-invalid", "false"]], [[zip_id, "aria-invalid", "true"]]
    events = [
        *page.events(),
        mutation(20, attrs=flip[1]),
        mutation(21, attrs=flip[0]),
        mutation(22, attrs=flip[1]),  # the same attempt (none yet): not again
        submit(30, form),
        mutation(31, attrs=flip[0]),
        mutation(32, attrs=flip[1]),  # after a submit attempt: again
        mutation(33, attrs=flip[0]),
        mutation(34, attrs=flip[1]),
    ]
    assert [s[0] for s in shown(events)] == [20, 32]


def test_error_text_in_an_element_a_field_names_in_aria_describedby() -> None:
    page = signup()
    email = page.ids["email"]
    text = page.add(20, "email-err", "Enter a valid e-mail")
    assert shown([*page.events(), text]) == [(20, email, "Email", "error-text")]
    # A later change of that text (characterData) counts at its parent, once per attempt.
    text_id = text[3][0][0]
    later = [submit(30, page.ids["form"]), mutation(40, texts=[[text_id, "Still not valid"]])]
    assert [s[0] for s in shown([*page.events(), text, *later])] == [20, 40]
    # Blank text added there is no error text.
    assert shown([*page.events(), page.add(50, "email-err", " \n ")]) == []


def test_describedby_tokens_and_errormessage_whole_value() -> None:
    page = signup()
    zip_id = page.ids["zip"]
    assert shown([*page.events(), page.add(20, "zip-msg", ("b", {}, ["Unknown postcode"]))]) == [
        (20, zip_id, "Postcode", "error-text")
    ]
    # aria-errormessage is one id (no token list); aria-describedby is a token list.
    other = Page(
        body(
            ("form", {}, [
                ("input", {"name": "a", "data-n": "a", "aria-errormessage": "x y"}, []),
                ("input", {"name": "b", "data-n": "b", "aria-describedby": "\tz\fx "}, []),
                ("p", {"id": "y", "data-n": "y"}, []),
                ("p", {"id": "x", "data-n": "x"}, []),
            ])
        )
    )  # fmt: skip
    assert shown([*other.events(), other.add(20, "y", "no")]) == []
    assert shown([*other.events(), other.add(20, "x", "no")]) == [(20, other.ids["b"], "b", "error-text")]
    # A field naming the id from outside the form does not count; the first in document order does.
    two = Page(
        body(
            ("input", {"name": "out", "aria-describedby": "e"}, []),
            ("form", {}, [
                ("div", {}, [("input", {"name": "c", "data-n": "c"}, [])]),
                ("input", {"name": "d", "data-n": "d", "aria-describedby": "e"}, []),
                ("p", {"id": "e", "data-n": "e"}, []),
            ]),
        )
    )  # fmt: skip
    c = two.ids["c"]
    set_later = mutation(10, attrs=[[c, "aria-describedby", "e"]])  # indexed as it changes
    assert shown([*two.events(), set_later, two.add(20, "e", "bad")]) == [(20, c, "c", "error-text")]


def test_live_region_beside_a_field() -> None:
    page = signup()
    phone = page.ids["phone"]
    # role=alert whose parent holds the field.
    assert shown([*page.events(), page.add(20, "phone-alert", "Required")]) == [
        (20, phone, "Phone", "error-text")
    ]
    # aria-live whose grandparent holds a field (the first in document order), text added deeper.
    live = Page(
        body(
            ("section", {}, [
                ("select", {"name": "size", "data-n": "size"}, []),
                ("div", {}, [("div", {"aria-live": "polite"}, [("span", {"data-n": "msg"}, [])])]),
            ])
        )
    )  # fmt: skip
    assert shown([*live.events(), live.add(20, "msg", "Pick a size")]) == [
        (20, live.ids["size"], "size", "error-text")
    ]
    # An added element counts at its own role=alert descendant (here outside any field's reach
    # from the container it was added to, which holds no region).
    toast = Page(body(("div", {"data-n": "host"}, []), ("div", {}, [("textarea", {"name": "note"}, [])])))
    added = toast.add(20, "host", ("div", {}, [("p", {}, ["x"]), ("div", {"role": "alert"}, ["Too long"])]))
    assert shown([*toast.events(), added]) == []
    beside = Page(body(("div", {"data-n": "box"}, [("textarea", {"name": "note", "data-n": "note"}, [])])))
    added = beside.add(20, "box", ("div", {}, [("p", {}, ["x"]), ("div", {"role": "alert"}, ["Too long"])]))
    assert shown([*beside.events(), added]) == [(20, beside.ids["note"], "note", "error-text")]


def test_no_field_nearby_blank_text_and_masked_text() -> None:
    far = Page(
        body(
            ("form", {}, [("input", {"name": "q"}, [])]),
            ("div", {}, [("div", {}, [("div", {"role": "alert", "data-n": "alert"}, [])])]),
        )
    )  # fmt: skip
    assert shown([*far.events(), far.add(20, "alert", "Saved")]) == []
    page = signup()
    # JavaScript's whitespace, non-breaking space included: blank.
    assert shown([*page.events(), page.add(20, "phone-alert", " \n\u00a0\ufeff\u3000")]) == []
    # Masked text ('*' for every non-blank character) is text.
    assert shown([*page.events(), page.add(20, "phone-alert", "******** *****")]) == [
        (20, page.ids["phone"], "Phone", "error-text")
    ]


def test_at_most_100_per_page_view_recorded_ones_included() -> None:
    fields = [("input", {"name": f"f{i}", "data-n": f"f{i}"}, []) for i in range(120)]
    page = Page(body(("form", {"data-n": "form"}, fields)))
    recorded = [make_event("invalid", t=5, target=page.ids["f0"], field="", reason="invalid")] * 10
    flips = [mutation(10 + i, attrs=[[page.ids[f"f{i}"], "aria-invalid", "true"]]) for i in range(120)]
    derived = [s for s in shown([*page.events(), *recorded, *flips]) if s[3] == "aria-invalid"]
    assert len(derived) == MAX_EVENTS - 10


def test_older_recorders_read_as_stored() -> None:
    """No meta gen: the recorder sent its own aria-invalid/error-text events (or none); nothing is
    added, so a reindex of old data gives what it gave before."""
    page = signup()
    zip_id = page.ids["zip"]
    own = make_event("invalid", t=20, target=zip_id, field="Postcode", reason="aria-invalid")
    events = [*page.events(gen=None), own, mutation(20, attrs=[[zip_id, "aria-invalid", "true"]])]
    assert shown(events) == [(20, zip_id, "Postcode", "aria-invalid")]
    assert tracked(events) == []
    assert tracked([*page.events(gen=0), mutation(20, attrs=[[zip_id, "aria-invalid", "true"]])]) == []


def test_form_analytics_and_signals_see_derived_events() -> None:
    page = signup()
    form, email = page.ids["form"], page.ids["email"]
    events = [
        *page.events(),
        make_event("focus", t=10, target=email),
        submit(100, form),
        page.add(120, "email-err", "Enter a valid e-mail"),
    ]
    tracker = FormTracker()
    tracker.add(events)
    tracker.finish()
    (facts,) = tracker.forms.values()
    rounds = {f.label: f.error_rounds for f in facts.fields.values()}
    assert rounds["Email"] == {1}
    assert facts.attempts == [[100, True]]  # shown invalid after the attempt: not a clean submit
    streamed = list(ElementPaths().stream(events))
    assert [(e[0], e[1]) for e in streamed[-2:]] == [("mutation", 120), ("invalid", 120)]
    assert event_as_dict(streamed[-1])["field"] == "Email"
    pv = PageViewFacts()
    out = pv.feed(events)
    assert [e[0] for e in out][-2:] == ["mutation", "invalid"] and out[-1][1] == 120
    assert pv.invalids and pv.invalids[0][:2] == (120, "Email")
    assert [s.kind for s in pv.frustration()] == ["form_error"]


@pytest.mark.parametrize(
    "bad",
    [
        mutation(
            20, attrs=[[999, "aria-invalid", "true"], ["x", "aria-invalid", "true"], [None, None, None]]
        ),
        mutation(20, texts=[[999, "text"], [[1], "x"], [3, None]]),
        mutation(20, adds=[[1000, 999, None, 3, "orphan"], ["a", "b"], [None], 7]),
        ["mutation", 20, None, "adds", {}, 5],
        ["mutation", True, [], [], [], []],
        ["meta"],
        ["submit"],
        [],
        "mutation",
        None,
    ],
)
def test_forged_events_never_raise(bad: Any) -> None:
    page = signup()
    state = DomState()
    errors = FormErrors(state)
    for event in page.events():
        state.apply(event)
        errors.after(event)
    assert errors.on
    try:
        state.apply(bad)
    except (IndexError, TypeError, KeyError, ValueError, AttributeError):
        pass  # the DOM skips it; FormErrors still sees it
    assert errors.after(bad) == []


def test_hostile_attributes_and_deep_trees() -> None:
    # Non-string attribute values (a forged snapshot), unknown ids named, a region with no parent.
    page = Page(
        body(
            ("form", {}, [
                ("input", {"name": "a", "data-n": "a", "aria-describedby": 5, "aria-errormessage": ["x"]}, []),
                ("p", {"id": ["x"], "role": None, "aria-live": 1, "data-n": "p"}, []),
                ("input", {"name": "b", "data-n": "b", "aria-describedby": "nowhere"}, []),
            ])
        )
    )  # fmt: skip
    # p is no id (a list) but [aria-live]: the first field of its parent, the form, is `a`.
    assert shown([*page.events(), page.add(20, "p", "x")]) == [(20, page.ids["a"], "a", "error-text")]
    # 10,000 nested divs, an alert at the bottom, fields far away: bounded, no RecursionError.
    deep: Any = ("div", {"role": "alert", "data-n": "bottom"}, [])
    for _ in range(10_000):
        deep = ("div", {"aria-describedby": "d"}, [deep])
    tall = Page(body(("form", {}, [("p", {"id": "d"}, []), deep, ("input", {"name": "z"}, [])])))
    assert shown([*tall.events(), tall.add(20, "bottom", "deep")]) == []
    # A wide region parent (many children) stays bounded too.
    wide = Page(
        body(
            (
                "div",
                {},
                [*(("span", {}, []) for _ in range(20_000)), ("div", {"aria-live": "x", "data-n": "r"}, [])],
            )
        )
    )
    assert shown([*wide.events(), wide.add(20, "r", "x")]) == []


def test_a_reference_set_again_and_again_is_indexed_once() -> None:
    # 20,000 sets of the same aria-describedby: one index entry, not 20,000 (each later lookup read
    # them all: 200 error texts took 8.6 s).
    page = signup()
    email = page.ids["email"]
    storm = mutation(10, attrs=[[email, "aria-describedby", "email-hint email-err"]] * 20_000)
    paths = ElementPaths()
    out = list(paths.stream([*page.events(), storm, page.add(20, "email-err", "Enter an e-mail")]))
    assert [(e[1], e[3]) for e in out if e[0] == "invalid"] == [(20, "Email")]
    assert len(paths.errors._refs[("aria-describedby", "email-err")]) == 1


def test_many_fields_outside_the_form_naming_the_same_id() -> None:
    # 100 fields elsewhere name the error element too: the form's own field is still the one found
    # (found by a bounded walk of the form, not by a walk up from each of them).
    outside = ("div", {}, [("input", {"aria-describedby": "email-err"}, []) for _ in range(100)])
    page = signup(outside)
    out = shown([*page.events(), page.add(20, "email-err", "Enter an e-mail")])
    assert out == [(20, page.ids["email"], "Email", "error-text")]


def test_a_later_snapshot_part_adding_a_field_is_seen() -> None:
    # The first field under an element is cached; a snapshot part adding one must drop it, as a
    # mutation adding one does.
    alert = ("div", {"role": "alert", "data-n": "al"}, [""])
    page = Page(body(("form", {}, [("div", {"data-n": "row"}, [alert])])))
    events = page.events()
    events[1][field_position("snapshot", "last")] = False
    text = page.ids["al"] + 1
    late = make_node("element", id=900, parent=page.ids["row"], tag="input", attrs={"name": "x"})
    events += [
        mutation(5, texts=[[text, "Required"]]),  # no field there yet
        make_event("snapshot", t=6, part=1, last=True, nodes=[late]),
        mutation(7, texts=[[text, "Still required"]]),
    ]
    assert shown(events) == [(7, 900, "x", "error-text")]


def submitted(events: list[list[Any]]) -> list[list[Any]]:
    """The invalid lists of the submit attempts as the readers see them (ElementPaths)."""
    return [event_as_dict(e)["invalid"] for _, e in enriched_events(enumerate(events)) if e[0] == "submit"]


def test_a_submit_lists_the_fields_shown_aria_invalid_with_the_sent_ones() -> None:
    """The recorder lists the fields constraint validation finds invalid; those the page shows
    aria-invalid="true" (any case) when the form is submitted are added from the recorded DOM,
    in document order with the sent ones (the recorder's form.querySelectorAll order)."""
    page = signup()
    form, email, zip_id, phone = (page.ids[n] for n in ("form", "email", "zip", "phone"))
    shown_invalid = mutation(5, attrs=[[zip_id, "aria-invalid", "TRUE"], [email, "aria-invalid", "false"]])
    sent = make_event("submit", t=10, target=form, form="", invalid=[[phone, ""], [999, ""]])
    events = [*page.events(gen=2), shown_invalid, sent]
    # zip before phone (document order); 999 (not under the form) kept, last; email is "false".
    assert submitted(events) == [[[zip_id, "Postcode"], [phone, "Phone"], [999, ""]]]
    # Form analytics counts it as an error of that attempt too (round 0: shown before any attempt).
    tracker = FormTracker()
    tracker.add(events)
    tracker.finish()
    (facts,) = tracker.forms.values()
    assert {f.label: f.error_rounds for f in facts.fields.values() if f.error_rounds} == {
        "Postcode": {0, 1},
        "Phone": {1},
    }
    assert facts.attempts == [[10, True]]
    # Not shown invalid (any more): nothing added.
    cleared = mutation(20, attrs=[[zip_id, "aria-invalid", None]])
    assert submitted([*events, cleared, submit(30, form)])[-1] == []


def test_a_submit_from_an_older_recorder_reads_as_stored() -> None:
    """Older recorders listed the aria-invalid fields themselves: not added twice; a recorder that
    named the form itself (form not '') is read exactly as stored."""
    page = signup()
    form, zip_id = page.ids["form"], page.ids["zip"]
    aria = mutation(5, attrs=[[zip_id, "aria-invalid", "true"]])
    listed = make_event("submit", t=10, target=form, form="", invalid=[[zip_id, ""]])
    assert submitted([*page.events(gen=None), aria, listed]) == [[[zip_id, "Postcode"]]]
    named = make_event("submit", t=10, target=form, form="signup", invalid=[[zip_id, "Postcode"]])
    assert submitted([*page.events(gen=None), aria, named]) == [[[zip_id, "Postcode"]]]
    old = make_event("submit", t=10, target=form, form="signup", invalid=[])
    assert submitted([*page.events(gen=None), aria, old]) == [[]]
    # Recorders before gen 2 listed aria-invalid fields themselves: an empty list stays empty,
    # for the readers and for form analytics alike.
    unnamed = make_event("submit", t=10, target=form, form="", invalid=[])
    for gen in (None, 1):
        assert submitted([*page.events(gen=gen), aria, unnamed]) == [[]]
        tracker = FormTracker()
        tracker.add([*page.events(gen=gen), aria, unnamed])
        tracker.finish()
        (facts,) = tracker.forms.values()
        assert not any(1 in f.error_rounds for f in facts.fields.values())


def test_a_submit_lists_at_most_50_and_stays_in_the_light_dom() -> None:
    fields = [("input", {"name": f"f{i}", "aria-invalid": "true", "data-n": f"f{i}"}, []) for i in range(60)]
    page = Page(body(("form", {"data-n": "form"}, [("div", {"data-n": "host"}, []), *fields])))
    # A shadow root and a frame document under the form: querySelectorAll does not enter them.
    host = page.ids["host"]
    page.records += [
        make_node("shadow", id=5000, parent=host),
        make_node("element", id=5001, parent=5000, tag="input", attrs={"aria-invalid": "true"}),
        make_node("document", id=5002, parent=host),
        make_node("element", id=5003, parent=5002, tag="input", attrs={"aria-invalid": "true"}),
    ]
    (invalid,) = submitted([*page.events(gen=2), submit(10, page.ids["form"])])
    assert [pair[0] for pair in invalid] == [page.ids[f"f{i}"] for i in range(50)]
    # Forged invalid lists and targets never raise.
    for bad in ([["x"], [None, ""], "str", [[1, 2], ""]], []):
        ev = make_event("submit", t=11, target=page.ids["form"], form="", invalid=bad)
        assert len(submitted([*page.events(gen=2), ev])[0]) <= 50
    ev = make_event("submit", t=11, target="nope", form="", invalid=[[1, ""]])
    assert submitted([*page.events(gen=2), ev]) == [[[1, ""]]]
    tracker = FormTracker()
    tracker.add(
        [*page.events(gen=2), make_event("submit", t=11, target=page.ids["form"], form="", invalid="x")]
    )
