// One page view's recording: builds the context, starts every module once
// the snapshot is taken and stops them in reverse. A module is a function
// start(ctx) that may return its stop; listeners go through ctx.on.

import { createContext } from "./context.js";
import { randomId } from "./session.js";
import { createTransport } from "../transport/transport.js";
import { createMutations } from "../layout/mutations.js";
import { takeSnapshot } from "../layout/snapshot.js";
import { createPointer } from "../interaction/pointer.js";
import { startScroll } from "../interaction/scroll.js";
import { startInput } from "../interaction/input.js";
import { startViewport, layoutViewport } from "../interaction/viewport.js";
import { startNavigation } from "../interaction/navigation.js";
import { startErrors } from "../diagnostic/errors.js";
import { startConsole } from "../diagnostic/console.js";
import { startNetwork } from "../performance/network.js";
import { startForms } from "../interaction/forms.js";
import { startTiming } from "../performance/timing.js";
import { startMedia } from "../layout/media.js";
import { pageTitle } from "../privacy/mask.js";
import { fetchSheetTexts, watchSheets } from "../layout/styles.js";

import { str } from "./listen.js";
import { ACTIVITY, KIND } from "./wire.js";


// Flat properties as ingest accepts them: <= 50 keys of <= 64 characters; strings (<= 256),
// safe numbers, booleans or null; anything else is left out.
function flat(o) {
  const out = {};
  let n = 0;
  for (const [k, v] of Object.entries(o || {})) {
    const t = typeof v;
    if (k && k.length <= 64 && n < 50 && (v === null || t === "boolean" || t === "string" || (t === "number" && Math.abs(v) < 2 ** 53))) {
      out[k] = t === "string" ? v.slice(0, 256) : v;
      n++;
    }
  }
  return out;
}

// The site has an active survey when the collector's ack says where its widget is: load that
// once per page load, only from the collector's own origin (an ack is only ever seen while recording).
let widget = 0;
function surveys(res, config) {
  const path = res.headers.get("X-Sessionlens-Surveys");
  if (!path || widget) return;
  const base = new URL(config.endpoint, location.href);
  const src = new URL(path, base);
  if (src.origin !== base.origin) return;
  widget = 1;
  const s = document.createElement("script");
  s.async = true;
  s.src = src;
  s.dataset.site = config.site;
  s.dataset.endpoint = config.endpoint;
  document.head.appendChild(s);
}

export function startRecording(config, session, canStore) {
  const pid = randomId();
  let mutations = null;
  let transport = null;
  let stops = null; // the modules' stops, once they started
  const ctx = createContext(config, (event) => {
    // Keep the stream in order: pending DOM changes go out before any
    // interaction that may depend on them (a click on a node just added).
    const kind = event[KIND];
    if (mutations && kind !== "mutation" && kind !== "snapshot" && kind !== "throttle") mutations.flush();
    // The visitor's own actions (the schema's x-activity) keep the session alive.
    if (ACTIVITY[kind]) session.touch();
    transport.add(event);
  });
  transport = createTransport({
    endpoint: config.endpoint, sid: session.id, pid, t0: ctx.t0, vid: session.vid, retryMaxMs: config.retryMaxMs, canStore, ack: (res) => surveys(res, config),
  });
  mutations = createMutations(ctx);
  ctx.observeRoot = (root) => mutations.observe(root);

  const modules = [
    createPointer(ctx), startScroll, startInput, startViewport,
    startNavigation, startErrors, startTiming, startMedia, startConsole, startForms,
  ];
  if (config.recordNetwork) modules.push(startNetwork);
  // Calls queued before recording started keep their own time.
  const when = (at) => (at == null ? ctx.now() : Math.max(0, at - ctx.t0));

  const s = screen;
  const n = navigator;
  ctx.emitAt(
    0, "meta", str(location.href, 4096), str(document.referrer, 4096), pageTitle(config.maskAllText),
    innerWidth, innerHeight, s.width, s.height, devicePixelRatio || 1,
    str(n.userAgent, 4096), str(n.language, 64),
    str(Intl.DateTimeFormat().resolvedOptions().timeZone, 64),
    ...layoutViewport(),
    // Bot hints: automation says so here; headless Chromium's UA says HeadlessChrome.
    n.webdriver ? 1 : 0, str(((n.userAgentData || {}).brands || []).map((b) => b.brand).join(";"), 256),
    // gen: what this recorder leaves to the server (1: aria-invalid and error text, form_errors.py).
    1,
  );
  mutations.start();
  watchSheets((node) => mutations.restyle(node));
  // The snapshot waits (briefly, never blocking) for stylesheets' own text.
  let cancelSnapshot = () => { cancelSnapshot = null; };
  fetchSheetTexts(document).then(() => {
    if (cancelSnapshot) cancelSnapshot = takeSnapshot(ctx, () => {
      mutations.resume();
      stops = modules.map((m) => m(ctx));
    });
  });
  transport.adoptPending();
  const flushTimer = setInterval(() => transport.flush(), config.flushMs);
  // The page may be going away: the vitals (performance/timing.js) and what is buffered go now.
  const hide = () => {
    if (ctx.hidden) ctx.hidden();
    transport.flushUnloading();
  };
  ctx.on(document, "visibilitychange", () => {
    const hidden = document.visibilityState === "hidden";
    if (stops) ctx.emit("visibility", hidden ? "hidden" : "visible");
    if (hidden) hide();
  });
  ctx.on(window, "pagehide", hide);

  return {
    pid,
    sid: session.id,
    debug: ctx.debug,
    // Each takes the time the call was made at (null: now), then the call's arguments.
    track(at, name, props) {
      let clean = {};
      try { clean = JSON.parse(JSON.stringify(props || {}).slice(0, 8192)); } catch { /* keep {} */ }
      if (typeof clean !== "object" || Array.isArray(clean) || !clean) clean = { value: clean };
      ctx.emitAt(when(at), "custom", String(name).slice(0, 128) || "event", clean);
    },
    // The site's own id of the visitor and flat traits, trimmed to what ingest accepts (a refused
    // batch would lose every event in it): ids without control characters.
    identify(at, user, traits) {
      const id = String(user ?? "").replace(/[\0-\x1f\x7f]/g, "").slice(0, 256);
      if (id) ctx.emitAt(when(at), "identify", id, flat(traits));
    },
    // Properties of the session (plan, cohort, app version), flat like traits.
    set(at, props) {
      const p = flat(props);
      if (Object.keys(p).length) ctx.emitAt(when(at), "set", p);
    },
    experiment(at, name, variant) {
      const v = str(variant, 100);
      if ((name = str(name, 100)) && v) ctx.emitAt(when(at), "experiment", name, v);
    },
    // The survey widget's record of itself (surveys-interface.md); question and value only with "answer".
    survey(at, id, action, question, value) {
      const a = action === "answer";
      if ((id = str(id, 64)) && /^(shown|answer|dismiss|complete)$/.test(action)) {
        ctx.emitAt(when(at), "survey", id, action, a ? str(question, 64) : "", a ? str(value, 1000) : "");
      }
    },
    flush() {
      mutations.flush();
      return transport.flush();
    },
    stop() {
      if (cancelSnapshot) cancelSnapshot();
      if (stops) for (const stop of stops.reverse()) if (stop) stop();
      mutations.stop();
      ctx.off();
      clearInterval(flushTimer);
      transport.flushUnloading();
      transport.stop();
    },
  };
}
