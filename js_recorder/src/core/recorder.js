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
  // A script element made by script loads async already.
  const s = document.createElement("script");
  s.src = src;
  s.dataset.site = config.site;
  s.dataset.endpoint = config.endpoint;
  document.head.append(s);
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
    if (kind !== "mutation" && kind !== "snapshot" && kind !== "throttle") mutations.flush();
    // The visitor's own actions (the schema's x-activity) keep the session alive.
    if (ACTIVITY[kind]) session.touch();
    transport.add(event);
  });
  transport = createTransport(config, session, pid, ctx.t0, canStore, (res) => surveys(res, config));
  // Observes the page from now on (paused until the snapshot is done); sets ctx.observeRoot.
  mutations = createMutations(ctx);

  const modules = [
    createPointer(ctx), startScroll, startInput, startViewport,
    startNavigation, startErrors, startTiming, startMedia, startConsole, startForms,
  ];
  if (config.recordNetwork) modules.push(startNetwork);

  const s = screen;
  const n = navigator;
  ctx.emitAt(
    0, "meta", str(location.href, 4096), str(document.referrer, 4096), pageTitle(config.maskAllText),
    innerWidth, innerHeight, s.width, s.height, devicePixelRatio || 1,
    str(n.userAgent, 4096), str(n.language, 64),
    str(Intl.DateTimeFormat().resolvedOptions().timeZone, 64),
    ...layoutViewport(),
    // Bot hints: automation says so here; headless Chromium's UA says HeadlessChrome.
    n.webdriver ? 1 : 0, str((n.userAgentData?.brands || []).map((b) => b.brand).join(";"), 256),
    // gen: what this recorder leaves to the server (1: aria-invalid and error text, form_errors.py;
    // 2: a click's tag and its flags "a" / "f", element_paths.py).
    2,
  );
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
  const flushTimer = setInterval(transport.flush, config.flushMs);
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
    // An event of the site's calls (core/calls.js), made at `at` (Date.now(); null: now).
    emitAt(at, event) {
      ctx.emitAt(at == null ? ctx.now() : Math.max(0, at - ctx.t0), ...event);
    },
    flush() {
      mutations.flush();
      return transport.flush();
    },
    stop() {
      if (cancelSnapshot) cancelSnapshot();
      if (stops) for (const stop of stops.reverse()) stop?.();
      mutations.stop();
      ctx.off();
      clearInterval(flushTimer);
      transport.flushUnloading();
      transport.stop();
    },
  };
}
