// Viewport size.

import { throttled } from "../core/listen.js";

// The meta event's lw, lh, vs, touch: how this browser laid the page out (a phone
// zooms out to fit a page wider than its screen), so a heatmap backdrop is
// rendered the same way (sessionlens.heatmap.device_profile).
export function layoutViewport() {
  const root = document.documentElement;
  const vv = window.visualViewport;
  return [
    root ? root.clientWidth : innerWidth, root ? root.clientHeight : innerHeight,
    vv?.scale > 0 ? vv.scale : 1, navigator.maxTouchPoints || 0,
  ];
}

export const startViewport = (ctx) => {
  const resize = throttled(200, () => ctx.emit("resize", innerWidth, innerHeight));
  ctx.on(window, "resize", () => resize(0));
};
