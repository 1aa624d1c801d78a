"""forms/track.py: what counts as a site's form field."""

from __future__ import annotations

from sessionlens.contracts import make_event, make_node
from sessionlens.forms.track import FormTracker
from tests.helpers import meta_event


def _page_with_survey_widget() -> list[list[object]]:
    el = lambda i, p, tag, **a: make_node("element", id=i, parent=p, tag=tag, attrs=a)  # noqa: E731
    nodes = [
        make_node("document", id=1),
        el(3, 1, "html"),
        el(4, 3, "body"),
        # The site's own form.
        el(10, 4, "form", id="signup"),
        el(11, 10, "input", id="email", name="email", type="email"),
        el(12, 10, "button", type="submit"),
        # sessionlens' survey widget: a host element with an open shadow root (type 11).
        el(20, 4, "sessionlens-survey"),
        make_node("shadow", id=21, parent=20),
        el(22, 21, "div", role="dialog"),
        el(23, 22, "textarea", name="why"),
        el(24, 22, "input", type="radio", name="q1", value="price"),
        el(25, 22, "button"),
    ]
    return [
        meta_event(0, "https://shop.example/signup"),
        make_event("snapshot", t=5, part=0, last=True, nodes=nodes),
    ]


def test_the_survey_widget_s_fields_are_not_a_form_of_the_site() -> None:
    tracker = FormTracker()
    events = _page_with_survey_widget()
    for t, target in ((100, 23), (200, 24), (300, 11)):
        events.append(make_event("focus", t=t, target=target))
        events.append(make_event("input", t=t + 10, target=target, value="x", checked=None))
    events.append(make_event("click", t=400, target=25, selector="button", fx=0.5, fy=0.5, px=1, py=1,
                             cx=1, cy=1, button=0, pointer="mouse", pw=100, ph=100, tag="button", flags=""))  # fmt: skip
    tracker.add(events)
    tracker.finish()
    forms = list(tracker.forms.values())
    assert len(forms) == 1, [f.name for f in forms]
    assert list(forms[0].fields) and all("why" not in key and "q1" not in key for key in forms[0].fields)
