// Page timing: ttfb, fcp, dcl, load, and the Core Web Vitals LCP, CLS and
// INP (approximated from Event Timing) where the browser reports them.
// Vitals keep changing, so they are sent when the page is hidden.

// Returns its stop; ctx.hidden (the recorder calls it when the page is hidden) sends the vitals.
import { observePerf } from "../core/listen.js";

export const startTiming = (ctx) => {
  const observers = [];
  const sent = {};
  const vital = { lcp: 0, cls: 0, inp: 0 };

  // Sent as measured: the server rounds them (replay/stream_fields.py timing_value).
  function send(name, value) {
    if (value > 0 && sent[name] !== value) {
      sent[name] = value;
      ctx.emit("timing", name, value);
    }
  }

  const observe = (type, fn) => observers.push(observePerf(type, fn));

  function navigationTimes() {
    const nav = performance.getEntriesByType("navigation")[0];
    if (nav) {
      send("ttfb", nav.responseStart);
      send("dcl", nav.domContentLoadedEventEnd);
      send("load", nav.loadEventEnd);
    }
  }

  observe("paint", (e) => e.name === "first-contentful-paint" && send("fcp", e.startTime));
  observe("largest-contentful-paint", (e) => { vital.lcp = e.startTime; });
  observe("layout-shift", (e) => { if (!e.hadRecentInput) vital.cls += e.value; });
  observe("event", (e) => { if (e.interactionId && e.duration > vital.inp) vital.inp = e.duration; });
  if (document.readyState === "complete") setTimeout(navigationTimes, 0);
  else ctx.on(window, "load", () => setTimeout(navigationTimes, 0));
  ctx.hidden = () => { for (const k in vital) send(k, vital[k]); };
  return () => observers.forEach((o) => o?.disconnect());
};
