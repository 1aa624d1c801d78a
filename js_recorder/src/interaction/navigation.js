// SPA navigations: history.pushState/replaceState, back/forward, hash
// changes. They are events inside the page view, not new page views.

import { listeners } from "../core/listen.js";
import { pageTitle } from "../privacy/mask.js";

export function createNavigation(ctx) {
  const l = listeners();
  let lastUrl = location.href;
  const originals = {};

  const base = (u) => u.split("#")[0];

  function record(how) {
    const url = location.href;
    if (url === lastUrl) return;
    // A fragment change fires popstate before hashchange: name it once, as a hash change.
    if (how === "pop" && base(url) === base(lastUrl)) how = "hash";
    lastUrl = url;
    ctx.emit(["nav", ctx.now(), url.slice(0, 4096), how, pageTitle(ctx.config.maskAllText)]);
  }

  return {
    start() {
      for (const [name, how] of [["pushState", "push"], ["replaceState", "replace"]]) {
        const original = (originals[name] = history[name]);
        history[name] = function () {
          const result = original.apply(this, arguments);
          record(how);
          return result;
        };
      }
      l.on(window, "popstate", () => record("pop"));
      l.on(window, "hashchange", () => record("hash"));
    },
    stop() {
      for (const name in originals) history[name] = originals[name];
      l.off();
    },
  };
}
