// Viewport size and page visibility.

import { listeners, throttled } from "../core/listen.js";

export function createViewport(ctx) {
  const l = listeners();
  const resize = throttled(200, () => ctx.emit(["resize", ctx.now(), innerWidth, innerHeight]));
  return {
    start() {
      l.on(window, "resize", () => resize(0));
      l.on(document, "visibilitychange", () => ctx.emit(["visibility", ctx.now(), document.visibilityState === "hidden" ? "hidden" : "visible"]));
    },
    stop: l.off,
  };
}
