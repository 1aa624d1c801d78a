// SPA navigations: history.pushState/replaceState, back/forward, hash
// changes. They are events inside the page view, not new page views.

import { pageTitle } from "../privacy/mask.js";
import { after, setHook } from "../core/patch.js";

export const startNavigation = (ctx) => {
  let lastUrl = location.href;

  // A fragment change fires popstate before hashchange: recorded once, as "pop". The server
  // reads a pop that changes only the fragment as "hash" (src/sessionlens/replay/stream_fields.py).
  function record(how) {
    const url = location.href;
    if (url === lastUrl) return;
    lastUrl = url;
    ctx.emit("nav", url.slice(0, 4096), how, pageTitle(ctx.config.maskAllText));
  }

  // On the history object itself (its own copy of the method): a wrapper
  // another script put there is wrapped too.
  const hows = ["push", "replace"];
  for (const how of hows) {
    const name = how + "State";
    history[name] = history[name];
    after(history, name, how);
    setHook(how, () => record(how));
  }
  ctx.on(window, "popstate", () => record("pop"));
  ctx.on(window, "hashchange", () => record("hash"));
  return () => { for (const how of hows) setHook(how, null); };
};
