"""Submit attempts in the player's event list (viewer/inspector.py): named by form, never by value."""

from __future__ import annotations

from sessionlens.contracts import event_fields
from sessionlens.viewer.inspector import inspect_events


def _submit(t: int, form: object, invalid: object) -> list[object]:
    names = event_fields()["submit"]
    values = {"kind": "submit", "t": t, "target": 7, "form": form, "invalid": invalid}
    return [values[n] for n in names]


def test_a_submit_is_one_entry_naming_its_form_and_its_invalid_fields() -> None:
    out = inspect_events(
        [
            _submit(100, "signup", []),
            _submit(200, "signup", [[3, "Email"], [4, "Phone"]]),
            _submit(300, "body>main>form:nth-of-type(2)", [[3, "a"], [4, "b"], [5, "c"], [6, "d"]]),
            _submit(400, None, [[3, ""]]),
        ]
    )
    assert [(s["t"], s["label"]) for s in out["submits"]] == [
        (100, "Submitted form 'signup'"),
        (200, "Submit of form 'signup' blocked: 2 invalid fields ('Email', 'Phone')"),
        (300, "Submit of a form blocked: 4 invalid fields ('a', 'b', 'c' and 1 more)"),
        (400, "Submit of a form blocked: 1 invalid field"),
    ]


def test_hostile_submit_fields_are_cut_and_never_break_the_list() -> None:
    out = inspect_events(
        [
            _submit(1, "x" * 10_000, [["not a list"], 5, [1, 2], [1, "<img src=x onerror=alert(1)>"]]),
            _submit(2, {"a": 1}, "nope"),
            ["submit", 3],
        ]
    )
    labels = [s["label"] for s in out["submits"]]
    assert len(labels) == 3 and all(len(label) < 400 for label in labels)
    # Markup stays text: the player sets labels with textContent.
    assert "'<img src=x onerror=alert(1)>'" in labels[0]


def test_survey_moments_are_listed_as_stored_and_unknown_actions_left_out() -> None:
    names = event_fields()["survey"]

    def survey(t: int, action: str, question: str = "", value: str = "") -> list[object]:
        values = {
            "kind": "survey",
            "t": t,
            "survey": "s1",
            "action": action,
            "question": question,
            "value": value,
        }
        return [values[n] for n in names]

    out = inspect_events(
        [survey(1, "shown"), survey(2, "answer", "why", "card"), survey(3, "hack"), survey(4, "complete")]
    )
    assert [(s["t"], s["action"], s["question"], s["value"]) for s in out["surveys"]] == [
        (1, "shown", "", ""),
        (2, "answer", "why", "card"),
        (4, "complete", "", ""),
    ]
