// The page's requests: fetch and XMLHttpRequest as they complete, and
// resource timing entries (scripts, styles, images...) with the loads that
// failed. Recorded: method, URL with query values replaced, status,
// duration, size. Never bodies or headers (Content-Length is read for the
// size only). fetch and XHR are wrapped once per window and stay; a stopped
// recorder costs one variable read per call. The page gets its own response
// and its own errors, from the same calls with the same `this`.
// Left to the server (src/sessionlens/replay/stream_fields.py): a method in
// capitals ('' is GET), and failed for a status >= 400 or an xhr without a
// response; sent as failed here is only what the stream cannot say (a fetch
// that rejected, a resource element whose load failed).

import { patch, setHook } from "../core/patch.js";
import { observePerf } from "../core/listen.js";

const MAX = 200; // of each: fetch/xhr, resources
let hook = null; // the current recorder's: (how, method, url) => done(status, size, failed) | undefined
const xhrs = new WeakMap(); // xhr -> [method, url] from open()

// Query values replaced by "*" (keys kept), no fragment, no user:password;
// other schemes than http(s) (data:, blob:) are reduced to the scheme.
export function cleanUrl(u) {
  try {
    const x = new URL(u, location.href);
    if (!/^https?:$/.test(x.protocol)) return x.protocol;
    x.username = x.password = x.hash = "";
    x.search = x.search.replace(/=[^&]+/g, "=*");
    return x.href.slice(0, 2048);
  } catch { return ""; }
}

function install() {
  const w = window;
  const f = w.fetch;
  if (f && !f.__sl) {
    (w.fetch = function (input, init) {
      const p = f.apply(this, arguments);
      let done;
      try { done = hook?.("fetch", init?.method || input?.method, input?.url || input); } catch { /* the page's call goes on */ }
      // A new promise of the same response or error: the page's own p stays unhandled if the page leaves it so.
      return done ? p.then((r) => (done(r.status, r.headers.get("content-length")), r), (e) => { done(0, 0, 1); throw e; }) : p;
    }).__sl = 1;
  }
  // XHR through core/patch.js: open() notes the call, send() starts it. A synchronous
  // one is done when send() returns; an asynchronous one at loadend.
  patch([["XMLHttpRequest", "open", "send"]], "xhr");
}
setHook("xhr", (x, a) => {
  if (a.length > 1) return void xhrs.set(x, [a[0], a[1]]);
  const r = xhrs.get(x);
  const done = r && hook?.("xhr", r[0], r[1]);
  const end = () => done(x.status, x.getResponseHeader("content-length"));
  if (done) x.readyState > 3 ? end() : x.addEventListener("loadend", end);
});

export const startNetwork = (ctx) => {
  const own = cleanUrl(ctx.config.endpoint);
  const failed = new Set(); // resource URLs whose element reported a failed load
  let held = []; // resource entries wait briefly for their element's error event
  let timer = 0;
  let calls = 0;
  let resources = 0;

  const emit = (t, how, method, url, status, duration, size, bad) => ctx.emitAt(
    Math.max(0, t), "request", how, String(method || "").replace(/[^a-z-]/gi, "").slice(0, 16), url,
      status | 0, Math.round(duration), +size || 0, bad ? 1 : 0);

  function flushHeld() {
    timer = 0;
    for (const e of held.splice(0)) {
      emit(ctx.now() - Math.round(performance.now() - e.startTime), "resource", "", cleanUrl(e.name), e.responseStatus,
        e.duration, e.transferSize || e.encodedBodySize, failed.has(e.name));
    }
  }

  install();
  hook = (how, method, url) => {
    const u = cleanUrl(url);
    if (calls >= MAX || !u || u.startsWith(own)) return;
    calls++;
    const t = ctx.now();
    const start = performance.now();
    return (status, size, bad) => {
      try { emit(t, how, method, u, status, performance.now() - start, size, bad); } catch { /* never the page's problem */ }
    };
  };
  // The recorder's own requests (ingest, stylesheet texts) are fetches: skipped here too.
  const observer = observePerf("resource", (e) => {
    if (/^(fetch|xmlhttprequest|beacon)$/.test(e.initiatorType) || resources >= MAX) return;
    resources++;
    held.push(e);
    if (!timer) timer = setTimeout(flushHeld, 300);
  });
  ctx.on(window, "error", (e) => {
    const el = e.target;
    if (el?.nodeType === 1) failed.add(el.currentSrc || el.src || el.href);
  });
  return () => {
    hook = null;
    observer?.disconnect();
    clearTimeout(timer);
    flushHeld();
  };
};
