// Uncaught errors and unhandled promise rejections, capped per page view so
// an error loop cannot flood the collector.

import { str as cut } from "../core/listen.js";

const MAX_ERRORS = 50;

export const startErrors = (ctx) => {
  let count = 0;
  function record(how, message, source, line, col, stack) {
    if (++count <= MAX_ERRORS) ctx.emit("error", how, cut(message, 4096), cut(source, 4096), line | 0, col | 0, cut(stack, 16384));
  }
  ctx.on(window, "error", (e) => {
    // Resource load failures are not script errors (network.js records them).
    if (e instanceof ErrorEvent) record("error", e.message, e.filename, e.lineno, e.colno, e.error?.stack);
  });
  ctx.on(window, "unhandledrejection", (e) => {
    const r = e.reason;
    record("rejection", r?.message || r, "", 0, 0, r?.stack);
  });
};
