"""replay/css_urls.py: the URLs of hostile stylesheet text, found in linear time."""

from __future__ import annotations

import pytest

from sessionlens.replay import css_urls
from sessionlens.replay.recorded_urls import GROWTH, RecordedUrls, absolute_css
from sessionlens.replay.sanitize import INVALID_URL, Sanitizer
from tests.helpers import meta_event
from tests.test_recorded_urls import attrs_of, el, page, state


def bodies(text: str) -> list[tuple[str, str, bool]]:
    return [(t.quote, t.body, t.is_import) for t in css_urls.tokens(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a{background:url(x.png)}", [("", "x.png", False)]),
        ("a{background:URL( 'x.png' )}", [("'", "x.png", False)]),
        ('@import "a.css"; @import url(b.css);', [('"', "a.css", True), ("", "b.css", False)]),
        ("@import screen;", []),
        ('a{b:url("x\\"y.png")}', [('"', 'x\\"y.png', False)]),
        ("a{b:url(x.png", [("", "x.png", False)]),  # open at the end: a browser still reads it
        ("a{b:url('x.png", [("'", "x.png", False)]),
        ("url(a)url(b)", [("", "a", False), ("", "b", False)]),
        ("", []),
    ],
)
def test_tokens_as_the_css_tokenizer_ends_them(text: str, expected: list[tuple[str, str, bool]]) -> None:
    assert bodies(text) == expected


HOSTILE = {
    "open url(": "url(" * 100_000,
    "open url('": "url('" * 100_000,
    "open @import'": "@import'" * 60_000,
    "@import": "@import " * 60_000,
    "open image-set(": "image-set(" * 50_000,
    "quotes": '"' * 400_000,
    "comments": "/*" * 200_000,
    "backslashes": "\\" * 400_000,
    "url(a)": "url(a)" * 80_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_stylesheets_are_read_in_one_pass(name: str) -> None:
    # A regular expression looking for a url('s end from every url( took minutes on these
    # (quadratic: 3.7 s at 32 KB); each must now be one pass (bench: bench/css_urls_cost.py).
    text = HOSTILE[name]
    clean = Sanitizer(["https://viewer.example"]).css(text)
    assert "javascript" not in clean.lower()
    joined = absolute_css(text, "https://shop.example/a/")
    assert len(joined) <= len(text) + GROWTH + 4096


def test_an_open_url_at_the_end_is_sanitised_too() -> None:
    # "url(https://viewer...)" without its ")" still makes a browser fetch it: it used to pass as written.
    s = Sanitizer(["https://viewer.example"])
    assert s.css("a{background:url(https://viewer.example/steal") == f'a{{background:url("{INVALID_URL}")'
    assert (
        s.attr("div", "style", "background:URL('https://viewer.example/steal")
        == f'background:url("{INVALID_URL}")'
    )
    assert (
        s.css("a{background:url(https://cdn.example/x.png") == 'a{background:url("https://cdn.example/x.png")'
    )


def test_joining_does_not_amplify_a_forged_page() -> None:
    # A long base times thousands of relative URLs would make gigabytes from a few kilobytes.
    base = "https://shop.example/" + "d" * 4000
    css = "url(a)" * 300_000
    assert len(absolute_css(css, base)) <= len(css) + GROWTH + len(base)
    srcset = ",".join(["a 1x"] * 100_000)
    s = state(page(el(5, 4, "img", {"srcset": srcset})))
    assert len(attrs_of(s, 5)["srcset"]) <= len(srcset) + GROWTH
    # A <base href> too long (or not http) for a browser's base is not used.
    huge = RecordedUrls().events(
        [
            meta_event(url="https://shop.example/p/"),
            page(el(5, 3, "base", {"href": "/" + "b" * 200_000}), el(6, 4, "img", {"src": "x.png"})),
        ]
    )
    assert huge[1][4][-1][5]["src"] == "https://shop.example/p/x.png"
    scripted = state(
        page(el(5, 3, "base", {"href": "javascript:alert(1)//"}), el(6, 4, "img", {"src": "x.png"}))
    )
    assert attrs_of(scripted, 6)["src"] == "https://shop.example/a/b/x.png"
