"""The browser a backdrop is rendered in: laid out the way the visitors' browsers laid the page out.

A phone shows a page without a viewport meta tag (or with content wider than
the screen) laid out at 481-980 CSS px and zoomed out to fit; rendering it in
a 390 px desktop window gives another, cut layout. So a backdrop is rendered
with the visitor's screen width, height, device pixel ratio, mobile emulation
and touch (Playwright's new_context(viewport, device_scale_factor, is_mobile,
has_touch, screen)): Chromium then lays the page out as the phone did, and
media queries (resolution included) and vh units resolve as they did.

From the meta event of the backdrop's page view:
- vw, vh: window.innerWidth/innerHeight (on a zoomed-out phone, in CSS px of
  the zoomed-out view: 980 x 2121 on a 390 x 844 screen);
- vs: visualViewport.scale, lw/lh: the layout viewport, touch:
  navigator.maxTouchPoints (recorded since issue 10; older recordings infer
  the scale from screen width / vw and touch from the device class).
Desktop windows take the width the heatmap asks for (any width is a desktop
window someone has); phones and tablets keep their own. The viewport height
is the device class's median (over the selection's page
views, each brought to this page view's scale), so 100vh sections and fixed
bars sit where most visitors had them.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from sessionlens.contracts import event_fields
from sessionlens.device import classify

DEFAULT_HEIGHT = 800
MIN_SIDE, MAX_SIDE = 120, 4096  # a forged meta event must not ask for a 100,000 px window
MAX_DPR = 4.0


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    width: int  # viewport width in CSS px at scale 1 (the screen's width on a phone)
    height: int
    dpr: float = 1.0
    mobile: bool = False
    touch: bool = False
    screen_width: int = 0
    screen_height: int = 0

    def context_options(self) -> dict[str, Any]:
        """Keyword arguments for playwright's browser.new_context."""
        options: dict[str, Any] = {
            "viewport": {"width": self.width, "height": self.height},
            "device_scale_factor": self.dpr,
            "is_mobile": self.mobile,
            "has_touch": self.touch,
        }
        if self.screen_width and self.screen_height:
            options["screen"] = {"width": self.screen_width, "height": self.screen_height}
        return options

    def tag(self) -> str:
        """Part of a backdrop's cache key: another device setting is another backdrop."""
        flags = ("m" if self.mobile else "") + ("t" if self.touch else "")
        return f"{self.width}x{self.height}@{self.dpr:g}{flags}"

    def describe(self) -> str:
        kind = "mobile emulation" if self.mobile else "desktop"
        touch = ", touch" if self.touch else ""
        return f"{self.width}x{self.height} CSS px, DPR {self.dpr:g}, {kind}{touch}"


def _side(value: Any, default: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    if number != number or number <= 0:  # NaN or nothing
        return default
    return int(round(min(MAX_SIDE, max(MIN_SIDE, number))))


def _meta(meta: list[Any] | None) -> dict[str, Any]:
    if not meta:
        return {}
    names = event_fields()["meta"]
    # Recorders before issue 10 sent 13 fields (no lw, lh, vs, touch): missing names stay absent.
    found = dict(zip(names, meta, strict=False))
    return found


def _number(value: Any, default: float) -> float:
    return (
        float(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and value == value
        else default
    )


def visual_scale(m: dict[str, Any], mobile: bool) -> float:
    """How far the visitor's browser zoomed out to fit the page (1 on desktops)."""
    vs = _number(m.get("vs"), 0.0)
    if 0.05 <= vs <= 1:
        return vs
    vw, sw = _number(m.get("vw"), 0.0), _number(m.get("sw"), 0.0)
    if mobile and vw > 0 and 0 < sw < vw:
        return sw / vw
    return 1.0


def profile_for(meta: list[Any] | None, class_heights: list[float], width: int) -> DeviceProfile:
    """The profile of one page view (its meta event), with the viewport height of its device class.

    class_heights: the recorded vh of the selection's page views of this device class, each in the
    CSS px of their own window (scaled here by this page view's zoom). `width` is used only when the
    page view has no meta event.
    """
    m = _meta(meta)
    if not m:
        heights = sorted(h for h in class_heights if h and h > 0)
        height = statistics.median(heights) if heights else DEFAULT_HEIGHT
        return DeviceProfile(_side(width, width), _side(height, DEFAULT_HEIGHT))
    device = classify(str(m.get("ua") or ""), _number(m.get("vw"), float(width))).device
    touch_points = _number(m.get("touch"), -1.0)
    mobile = device in ("mobile", "tablet")
    touch = touch_points > 0 if touch_points >= 0 else mobile
    scale = visual_scale(m, mobile)
    vw = _number(m.get("vw"), float(width))
    # A desktop window can be any width: the one asked for. A phone or tablet has its screen's.
    view_width = _side(vw * scale, width) if mobile else _side(width, width)
    heights = sorted(h for h in class_heights if h and h > 0) or [
        _number(m.get("vh"), DEFAULT_HEIGHT / scale)
    ]
    height = _side(statistics.median(heights) * scale, DEFAULT_HEIGHT)
    dpr = min(MAX_DPR, max(0.5, _number(m.get("dpr"), 1.0)))
    sw, sh = _side(m.get("sw"), 0) if m.get("sw") else 0, _side(m.get("sh"), 0) if m.get("sh") else 0
    if sw and sh:
        # Playwright wants the screen at least as large as the viewport.
        sw, sh = max(sw, view_width), max(sh, height)
    return DeviceProfile(view_width, height, round(dpr, 3), mobile, touch, sw, sh)
