"""Finding a recorded click path again in a rendered page (the heatmap backdrop).

The server (replay/element_paths.py; older recorders in the browser) writes a path:

    path    = segment *(" >>> " segment)   the next segment is looked up inside
                                           the element's shadow root, or inside
                                           its frame's document
    segment = part *(">" part)             each part a child of the one before;
                                           the first part anywhere in the root
    part    = CSS compound [":text(" escaped-text ")"]

`:text(t)` keeps the elements whose whitespace-collapsed textContent starts
with t (CSS-escaped, so a path has no raw ">" or ")" inside a value).
Paths recorded before frames and shadow roots were handled are plain CSS
child chains, which this reads the same way.

LOCATE_JS defines `locate(path)` -> [element, dx, dy] or null, where dx, dy
turn the element's client rect into page coordinates of the top document
(frame boxes and the page scroll added), for use inside a DevTools evaluate.
"""

from __future__ import annotations

SEPARATOR = " >>> "

LOCATE_JS = r"""
function locate(path) {
  const textOf = (e) => (e.textContent || "").replace(/\s+/g, " ").trim();
  const unescape = (s) => s.replace(/\\([0-9a-fA-F]{1,6} ?|[\s\S])/g,
    (m, c) => /^[0-9a-fA-F]/.test(c) ? String.fromCodePoint(parseInt(c, 16)) : c);
  function step(root, segment) {
    let found = null;
    for (const part of segment.split(">")) {
      const m = /:text\(((?:\\[\s\S]|[^\\)])*)\)$/.exec(part);
      const css = m ? part.slice(0, m.index) : part;
      const text = m ? unescape(m[1]) : null;
      const ok = (e) => {
        try { return e.matches(css) && (text === null || textOf(e).startsWith(text)); } catch (x) { return false; }
      };
      let next = [];
      if (found === null) {
        try { next = Array.from(root.querySelectorAll(css)).filter(ok); } catch (x) { return null; }
      } else {
        for (const f of found) for (const k of f.children) if (ok(k)) next.push(k);
      }
      found = next.slice(0, 64);
      if (!found.length) return null;
    }
    return found && found[0];
  }
  let root = document, el = null, dx = scrollX, dy = scrollY;
  for (const segment of path.split(" >>> ")) {
    if (el) {
      if (el.shadowRoot) root = el.shadowRoot;
      else {
        let doc = null;
        try { doc = el.contentDocument; } catch (x) { doc = null; }
        if (!doc) return null;
        const r = el.getBoundingClientRect();
        const s = el.ownerDocument.defaultView.getComputedStyle(el);
        dx += r.left + el.clientLeft + parseFloat(s.paddingLeft);
        dy += r.top + el.clientTop + parseFloat(s.paddingTop);
        root = doc;
      }
    }
    el = step(root, segment);
    if (!el) return null;
  }
  return [el, dx, dy];
}
"""


def segments(path: str) -> list[str]:
    """The per-root segments of a path (top document first)."""
    return path.split(SEPARATOR)
