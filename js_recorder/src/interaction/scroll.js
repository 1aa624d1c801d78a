// Scroll of the window and of scrollable elements, throttled per target,
// with the scrollable size so depth can be computed later.

import { throttled, round } from "../core/listen.js";

export const startScroll = (ctx) => {
  const send = throttled(100, (target) => {
    const page = target === document;
    const el = page ? document.documentElement : target;
    const id = page ? null : ctx.idOf(target);
    if (page || id) ctx.emit("scroll", id, round(page ? scrollX : el.scrollLeft), round(page ? scrollY : el.scrollTop), el.scrollWidth, el.scrollHeight);
  });
  ctx.on(document, "scroll", (e) => send(e.target));
  send(document); // where the page starts, and how tall it is
};
