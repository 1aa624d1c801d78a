// One page view's recording: builds the context, starts every module in
// order and stops them in reverse. Modules share one lifecycle: start, stop.

import { createContext } from "./context.js";
import { randomId } from "./session.js";
import { createTransport } from "../transport/transport.js";
import { createMutations } from "../layout/mutations.js";
import { takeSnapshot } from "../layout/snapshot.js";
import { createPointer } from "../interaction/pointer.js";
import { createScroll } from "../interaction/scroll.js";
import { createInput } from "../interaction/input.js";
import { createViewport, layoutViewport } from "../interaction/viewport.js";
import { createNavigation } from "../interaction/navigation.js";
import { createErrors } from "../diagnostic/errors.js";
import { createConsole } from "../diagnostic/console.js";
import { createNetwork } from "../performance/network.js";
import { createForms } from "../interaction/forms.js";
import { createTiming } from "../performance/timing.js";
import { createMedia } from "../layout/media.js";
import { listeners } from "./listen.js";
import { pageTitle } from "../privacy/mask.js";
import { fetchSheetTexts, watchSheets } from "../layout/styles.js";

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
    createPointer(ctx), createScroll(ctx), createInput(ctx), createViewport(ctx),
    createNavigation(ctx), createErrors(ctx), createTiming(ctx), createMedia(ctx), createConsole(ctx), createForms(ctx),
  ];
  if (config.recordNetwork) modules.push(createNetwork(ctx));
  const pageEvents = listeners();
  let flushTimer = 0;
  // Calls queued before recording started keep their own time.
  const when = (at) => (at == null ? ctx.now() : Math.max(0, at - ctx.t0));

  const s = screen;
  ctx.emit([
    "meta", 0, location.href.slice(0, 4096), document.referrer.slice(0, 4096), pageTitle(config.maskAllText),
    innerWidth, innerHeight, s.width, s.height, devicePixelRatio || 1,
    navigator.userAgent.slice(0, 4096), (navigator.language || "").slice(0, 64),
    (Intl.DateTimeFormat().resolvedOptions().timeZone || "").slice(0, 64),
    ...layoutViewport(),
    // Bot hints: automation says so here; headless Chromium's UA says HeadlessChrome.
    navigator.webdriver ? 1 : 0, ((navigator.userAgentData || {}).brands || []).map((b) => b.brand).join(";").slice(0, 256),
  ]);
  mutations.start();
  watchSheets((node) => mutations.restyle(node));
  // The snapshot waits (briefly, never blocking) for stylesheets' own text.
  let cancelSnapshot = () => { cancelSnapshot = null; };
  fetchSheetTexts(document).then(() => {
    if (cancelSnapshot) cancelSnapshot = takeSnapshot(ctx, () => {
      mutations.resume();
      for (const m of modules) m.start();
    });
  });
  transport.adoptPending();
  flushTimer = setInterval(() => transport.flush(), config.flushMs);
  pageEvents.on(document, "visibilitychange", () => document.visibilityState === "hidden" && transport.flushUnloading());
  pageEvents.on(window, "pagehide", () => transport.flushUnloading());

  return {
    pid,
    sid: session.id,
    debug: ctx.debug,
    // Each takes the time the call was made at (null: now), then the call's arguments.
    track(at, name, props) {
      let clean = {};
      try { clean = JSON.parse(JSON.stringify(props || {}).slice(0, 8192)); } catch { /* keep {} */ }
      if (typeof clean !== "object" || Array.isArray(clean) || !clean) clean = { value: clean };
      ctx.emit(["custom", when(at), String(name).slice(0, 128) || "event", clean]);
    },
    // The site's own id of the visitor and flat traits, trimmed to what ingest accepts (a refused
    // batch would lose every event in it): ids without control characters.
    identify(at, user, traits) {
      const id = String(user ?? "").replace(/[\0-\x1f\x7f]/g, "").slice(0, 256);
      if (id) ctx.emit(["identify", when(at), id, flat(traits)]);
    },
    // Properties of the session (plan, cohort, app version), flat like traits.
    set(at, props) {
      const p = flat(props);
      if (Object.keys(p).length) ctx.emit(["set", when(at), p]);
    },
    experiment(at, name, variant) {
      const n = String(name ?? "").slice(0, 100);
      const v = String(variant ?? "").slice(0, 100);
      if (n && v) ctx.emit(["experiment", when(at), n, v]);
    },
    // The survey widget's record of itself (surveys-interface.md); question and value only with "answer".
    survey(at, id, action, question, value) {
      const s = String(id ?? "").slice(0, 64);
      const a = action === "answer";
      if (s && /^(shown|answer|dismiss|complete)$/.test(action)) {
        ctx.emit(["survey", when(at), s, action, a ? String(question ?? "").slice(0, 64) : "", a ? String(value ?? "").slice(0, 1000) : ""]);
      }
    },
    flush() {
      mutations.flush();
      return transport.flush();
    },
    stop() {
      if (cancelSnapshot) cancelSnapshot();
      for (const m of modules.slice().reverse()) m.stop();
      mutations.stop();
      pageEvents.off();
      clearInterval(flushTimer);
      transport.flushUnloading();
      transport.stop();
    },
  };
}
