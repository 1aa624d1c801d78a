// SPA navigations: history.pushState/replaceState, back/forward, hash
// changes. They are events inside the page view, not new page views.

import { pageTitle } from "../privacy/mask.js";
import { after, setHook } from "../core/patch.js";

export const startNavigation = (ctx) => {
  let lastUrl = location.href;
  const base = (u) => u.split("#")[0];

  function record(how) {
    const url = location.href;
    if (url === lastUrl) return;
    // A fragment change fires popstate before hashchange: name it once, as a hash change.
    if (how === "pop" && base(url) === base(lastUrl)) how = "hash";
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
