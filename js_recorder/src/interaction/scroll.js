// Scroll of the window and of scrollable elements, throttled per target,
// with the scrollable size so depth can be computed later.

import { listeners, throttled, round } from "../core/listen.js";

export function createScroll(ctx) {
  const l = listeners();
  const send = throttled(100, (target) => {
    if (target === document || target === window) {
      const root = document.documentElement;
      ctx.emit(["scroll", ctx.now(), null, round(scrollX), round(scrollY), root.scrollWidth, root.scrollHeight]);
    } else {
      const id = ctx.idOf(target);
      if (id) ctx.emit(["scroll", ctx.now(), id, round(target.scrollLeft), round(target.scrollTop), target.scrollWidth, target.scrollHeight]);
    }
  });
  return {
    start() {
      l.on(document, "scroll", (e) => send(e.target, e.target));
      send(document, document); // where the page starts, and how tall it is
    },
    stop: l.off,
  };
}
