// SPA navigations: history.pushState/replaceState, back/forward, hash
// changes. They are events inside the page view, not new page views.

import { pageTitle } from "../privacy/mask.js";

export const startNavigation = (ctx) => {
  let lastUrl = location.href;
  const originals = {};
  const base = (u) => u.split("#")[0];

  function record(how) {
    const url = location.href;
    if (url === lastUrl) return;
    // A fragment change fires popstate before hashchange: name it once, as a hash change.
    if (how === "pop" && base(url) === base(lastUrl)) how = "hash";
    lastUrl = url;
    ctx.emit("nav", url.slice(0, 4096), how, pageTitle(ctx.config.maskAllText));
  }

  for (const how of ["push", "replace"]) {
    const name = how + "State";
    const original = (originals[name] = history[name]);
    history[name] = function () {
      const result = original.apply(this, arguments);
      record(how);
      return result;
    };
  }
  ctx.on(window, "popstate", () => record("pop"));
  ctx.on(window, "hashchange", () => record("hash"));
  return () => Object.assign(history, originals);
};
