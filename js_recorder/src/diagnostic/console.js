// The page's console messages: error and warn always, info and log when the
// site opts in (recordConsoleLog). The console methods are wrapped once per
// window (core/patch.js): the page's call runs first, unchanged, with its own
// `this`; the hook then reads the arguments. Bounded per page view and per
// second; the server scrubs e-mails and card numbers from what is stored.

import { after, setHook } from "../core/patch.js";
import { str } from "../core/listen.js";

const MAX = 100;
const PER_SECOND = 10;

// One argument as text, with bounded work: objects shallowly as JSON.
function text(a) {
  if (typeof a != "object" || !a) return String(a);
  if (a instanceof Error) return a.name + ": " + a.message;
  if (a.nodeType) return "<" + a.nodeName.toLowerCase() + ">";
  let n = 0;
  return JSON.stringify(Array.isArray(a) ? a.slice(0, 20) : a, (k, v) => (n++ < 20 ? v : undefined));
}

export const startConsole = (ctx) => {
  const levels = ctx.config.recordConsoleLog ? ["error", "warn", "info", "log"] : ["error", "warn"];
  let count = 0;
  let second = -1e4;
  let inSecond = 0;
  let busy = false; // a toJSON or getter that logs must not recurse into us

  function record(level, args) {
    const t = ctx.now();
    if (t - second >= 1000) { second = t; inSecond = 0; }
    if (busy || count >= MAX || ++inSecond > PER_SECOND) return;
    busy = true;
    try {
      let message = "";
      let stack = "";
      for (const a of args) {
        if (message.length > 1024) break;
        if (!stack && a instanceof Error) stack = str(a.stack, 4096);
        message += (message ? " " : "") + text(a);
      }
      count++;
      ctx.emitAt(t, "console", level, message.slice(0, 1024), stack);
    } catch { /* an argument that cannot be read is skipped with its call */ }
    busy = false;
  }

  for (const level of levels) {
    after(console, level, "c" + level);
    setHook("c" + level, (_, args) => record(level, args));
  }
  return () => { for (const level of levels) setHook("c" + level, null); };
};
