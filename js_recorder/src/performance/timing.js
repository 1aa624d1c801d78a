// Page timing: ttfb, fcp, dcl, load, and the Core Web Vitals LCP, CLS and
// INP (approximated from Event Timing) where the browser reports them.
// Vitals keep changing, so they are sent when the page is hidden.

import { listeners } from "../core/listen.js";

export function createTiming(ctx) {
  const l = listeners();
  const observers = [];
  const sent = {};
  let lcp = 0;
  let cls = 0;
  let inp = 0;

  function send(name, value) {
    const v = name === "cls" ? Math.round(value * 1000) / 1000 : Math.round(value);
    if (value > 0 && sent[name] !== v) {
      sent[name] = v;
      ctx.emit(["timing", ctx.now(), name, v]);
    }
  }

  function observe(type, fn) {
    try {
      const o = new PerformanceObserver((list) => list.getEntries().forEach(fn));
      o.observe({ type, buffered: true });
      observers.push(o);
    } catch { /* entry type not supported here */ }
  }

  function navigationTimes() {
    const nav = performance.getEntriesByType("navigation")[0];
    if (!nav) return;
    send("ttfb", nav.responseStart);
    send("dcl", nav.domContentLoadedEventEnd);
    send("load", nav.loadEventEnd);
  }

  function vitals() {
    send("lcp", lcp);
    send("cls", cls);
    send("inp", inp);
  }

  return {
    start() {
      observe("paint", (e) => e.name === "first-contentful-paint" && send("fcp", e.startTime));
      observe("largest-contentful-paint", (e) => { lcp = e.startTime; });
      observe("layout-shift", (e) => { if (!e.hadRecentInput) cls += e.value; });
      observe("event", (e) => { if (e.interactionId && e.duration > inp) inp = e.duration; });
      if (document.readyState === "complete") setTimeout(navigationTimes, 0);
      else l.on(window, "load", () => setTimeout(navigationTimes, 0));
      l.on(document, "visibilitychange", () => document.visibilityState === "hidden" && vitals());
      l.on(window, "pagehide", vitals);
    },
    stop() {
      observers.splice(0).forEach((o) => o.disconnect());
      l.off();
    },
  };
}
