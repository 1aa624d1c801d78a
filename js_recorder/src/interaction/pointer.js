// Pointer moves (at most 20 per second) and clicks/taps with everything an
// element-anchored heatmap needs.

import { listeners, targetOf, round, round3 } from "../core/listen.js";
import { stableSelector } from "./selector.js";
import { isFormControl } from "../privacy/mask.js";

const MOVE_INTERVAL_MS = 50;

export function createPointer(ctx) {
  const l = listeners();
  let lastMove = 0;

  function onMove(e) {
    const now = performance.now();
    if (now - lastMove < MOVE_INTERVAL_MS) return;
    lastMove = now;
    ctx.emit(["move", ctx.now(), round(e.clientX), round(e.clientY), ctx.idOf(targetOf(e))]);
  }

  function onClick(e) {
    const el = targetOf(e);
    if (!el || el.nodeType !== 1) return;
    const r = el.getBoundingClientRect();
    const fx = r.width ? Math.min(Math.max((e.clientX - r.left) / r.width, 0), 1) : 0.5;
    const fy = r.height ? Math.min(Math.max((e.clientY - r.top) / r.height, 0), 1) : 0.5;
    const root = document.documentElement;
    const sel = getSelection();
    let flags = "";
    if (el.closest("a[href]")) flags += "a";
    if (isFormControl(el) || el.isContentEditable || el.closest("label")) flags += "f";
    if (sel && !sel.isCollapsed && String(sel).trim()) flags += "x";
    const pointer = e.pointerType;
    ctx.emit([
      "click", ctx.now(), ctx.idOf(el), stableSelector(el), round3(fx), round3(fy),
      round(e.clientX + scrollX), round(e.clientY + scrollY), round(e.clientX), round(e.clientY),
      e.button, pointer === "mouse" || pointer === "touch" || pointer === "pen" ? pointer : "",
      root.scrollWidth, root.scrollHeight, el.localName.slice(0, 64), flags,
    ]);
  }

  return {
    start() {
      l.on(document, "pointermove", onMove);
      l.on(document, "click", onClick);
    },
    stop: l.off,
  };
}
