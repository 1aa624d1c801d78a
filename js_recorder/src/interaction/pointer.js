// Pointer moves (at most 20 per second) and clicks/taps with what an
// element-anchored heatmap needs from the browser: the target's node id,
// the offset inside the target, and the click's offset from the box of the
// target and each ancestor (across shadow hosts and same-origin frames).
// The server names the target, its control, its text and its anchor, and
// tells its tag and whether it is a link or a form field, from the recorded
// DOM (src/sessionlens/replay/element_paths.py); the click says only whether
// text was selected (flag "x"), which the DOM cannot tell. Clicks inside
// same-origin frames are recorded too, in top-page coordinates.

import { targetOf, round, round3 } from "../core/listen.js";

const MOVE_INTERVAL_MS = 50;
const OPTS = { capture: true, passive: true };

// Where v lies along a length w, 0 to 1 (0.5 when w is 0), to 3 decimals.
const frac = (v, w) => (w ? round3(Math.min(Math.max(v / w, 0), 1)) : 0.5);

// Offset of a frame document's viewport in the top page's viewport.
function frameOffset(doc) {
  let x = 0;
  let y = 0;
  for (let f; doc !== document && (f = doc.defaultView.frameElement); doc = f.ownerDocument) {
    const r = f.getBoundingClientRect();
    const cs = getComputedStyle(f);
    x += r.left + f.clientLeft + parseFloat(cs.paddingLeft);
    y += r.top + f.clientTop + parseFloat(cs.paddingTop);
  }
  return [x, y];
}

// Made before the snapshot (it follows the roots the snapshot meets); the
// returned function starts it once the snapshot is taken.
export function createPointer(ctx) {
  let lastMove = 0;
  let started = false;
  function onMove(e) {
    const now = performance.now();
    if (now - lastMove < MOVE_INTERVAL_MS) return;
    lastMove = now;
    ctx.emit("move", round(e.clientX), round(e.clientY), ctx.idOf(targetOf(e)));
  }

  function onClick(e) {
    const el = targetOf(e);
    if (!started || !el || el.nodeType !== 1) return;
    const doc = el.ownerDocument;
    const r = el.getBoundingClientRect();
    // Top-page viewport coordinates, wherever the frame of the click is.
    const [ox, oy] = frameOffset(doc);
    const x = e.clientX + ox;
    const y = e.clientY + oy;
    const root = document.documentElement;
    // [id, dx, dy] of the target and its ancestors: the server picks the anchor.
    const offsets = [];
    for (let a = el, n = 0; a && n < 32; a = a.parentNode || a.host || a.defaultView?.frameElement) {
      const id = ctx.idOf(a);
      if (id && a.nodeType === 1) {
        const b = a.getBoundingClientRect();
        const [fx, fy] = frameOffset(a.ownerDocument);
        offsets.push(id, round(x - fx - b.left), round(y - fy - b.top));
        n++;
      }
    }
    const pointer = e.pointerType;
    ctx.emit(
      "click", ctx.idOf(el), "", frac(e.clientX - r.left, r.width), frac(e.clientY - r.top, r.height),
      round(x + scrollX), round(y + scrollY), round(x), round(y),
      e.button, /^(mouse|touch|pen)$/.test(pointer) ? pointer : "",
      root.scrollWidth, root.scrollHeight, "",
      // Text selected (a collapsed selection reads ""): not a dead click.
      doc.getSelection()?.toString().trim() ? "x" : "", "", "", "", 0, 0, offsets,
    );
  }

  // Every frame document the recorder records passes through
  // ctx.observeRoot (set before the modules are made, read when the
  // snapshot and mutations meet a root): its clicks count. The listener
  // stays after stop() (inert): holding frame documents to remove it would
  // keep navigated-away ones alive.
  const observe = ctx.observeRoot;
  ctx.observeRoot = (r) => {
    observe(r);
    if (r.nodeType === 9 && r !== document) r.addEventListener("click", onClick, OPTS);
  };

  return () => {
    started = true;
    ctx.on(document, "pointermove", onMove);
    ctx.on(document, "click", onClick);
    return () => { started = false; };
  };
}
