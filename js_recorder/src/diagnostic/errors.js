// Uncaught errors and unhandled promise rejections, capped per page view so
// an error loop cannot flood the collector.

import { listeners } from "../core/listen.js";

const MAX_ERRORS = 50;
const cut = (s, n) => String(s == null ? "" : s).slice(0, n);

export function createErrors(ctx) {
  const l = listeners();
  let count = 0;
  function record(how, message, source, line, col, stack) {
    if (++count > MAX_ERRORS) return;
    ctx.emit(["error", ctx.now(), how, cut(message, 4096), cut(source, 4096), line | 0, col | 0, cut(stack, 16384)]);
  }
  return {
    start() {
      l.on(window, "error", (e) => {
        if (!(e instanceof ErrorEvent)) return; // resource load failures are not script errors
        record("error", e.message, e.filename, e.lineno, e.colno, e.error && e.error.stack);
      });
      l.on(window, "unhandledrejection", (e) => {
        const r = e.reason;
        record("rejection", r && r.message ? r.message : r, "", 0, 0, r && r.stack);
      });
    },
    stop: l.off,
  };
}
