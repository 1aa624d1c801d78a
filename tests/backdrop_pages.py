"""Recordings of fixture pages for the backdrop tests: an HTML page becomes a snapshot event.

The page is parsed here (html.parser) into the recorder's flat node records, so a test
controls exactly what was recorded, then stored as one chunk the way ingest stores it.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from sessionlens import codec, keys
from sessionlens.contracts import make_event, make_node
from sessionlens.stores.base import BlobStore

VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36"
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36"


class _Nodes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.records: list[list[Any]] = [make_node("document", id=1)]
        self.ids: dict[str, int] = {}  # element id attribute -> node id
        self.stack = [1]
        self.next_id = 2

    def _new(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def handle_decl(self, decl: str) -> None:
        self.records.append(
            make_node("doctype", id=self._new(), parent=1, name="html", publicId="", systemId="")
        )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node_id = self._new()
        values = {k: v or "" for k, v in attrs}
        self.records.append(make_node("element", id=node_id, parent=self.stack[-1], tag=tag, attrs=values))
        if "id" in values:
            self.ids[values["id"]] = node_id
        if tag not in VOID:
            self.stack.append(node_id)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and len(self.stack) > 1:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if data.strip() or len(self.stack) > 2:
            self.records.append(make_node("text", id=self._new(), parent=self.stack[-1], text=data))


def nodes_of(html: str) -> tuple[list[list[Any]], dict[str, int]]:
    parser = _Nodes()
    parser.feed(html)
    return parser.records, parser.ids


def meta(vw: float, vh: float, *, phone: bool = False, sw: int = 1920, sh: int = 1080, dpr: float = 1,
         vs: float | None = None, touch: int | None = None) -> list[Any]:  # fmt: skip
    extra = {} if vs is None else {"lw": vw, "lh": vh, "vs": vs, "touch": touch or 0}
    return make_event(
        "meta", t=0, url="https://fixture.example/page", referrer="", title="fixture", vw=vw, vh=vh, sw=sw,
        sh=sh, dpr=dpr, ua=PHONE_UA if phone else DESKTOP_UA, lang="en", tz="UTC", **extra,
    )  # fmt: skip


def snapshot(html: str, t: int = 5) -> tuple[list[Any], dict[str, int]]:
    records, ids = nodes_of(html)
    return make_event("snapshot", t=t, part=0, last=True, nodes=records), ids


def click(
    t: int, target: int, selector: str, fx: float = 0.5, fy: float = 0.5, vw: float = 1440
) -> list[Any]:
    return make_event(
        "click", t=t, target=target, selector=selector, fx=fx, fy=fy, px=0, py=0, cx=0, cy=0, button=0,
        pointer="mouse", pw=vw, ph=1000, tag="div", flags="",
    )  # fmt: skip


def scroll(t: int, target: int | None, x: float, y: float) -> list[Any]:
    return make_event("scroll", t=t, target=target, x=x, y=y, sw=0, sh=0)


def store_page_view(store: BlobStore, site: str, sid: str, pid: str, events: list[list[Any]]) -> None:
    store.put(keys.chunk_key(keys.ChunkAddress(site, sid, pid, 0)), codec.encode({"events": events}))
