// Entry point: reads options, replays calls queued by the inline stub, and
// starts recording when privacy settings allow it.

import { readConfig } from "./core/config.js";
import { resumeSession, forgetSession } from "./core/session.js";
import { startRecording } from "./core/recorder.js";
import { watchSheets } from "./layout/styles.js";
import { CALLS } from "./core/calls.js";

(function () {
  const w = window;
  const existing = w.sessionlens;
  if (existing?.__recorder) return; // loaded twice
  // CSSOM edits made before recording starts (consent pending) are known.
  watchSheets();
  const script = document.currentScript;
  const queued = existing?.q || [];
  let config = readConfig(script, null);
  let recording = null;
  let consent = false;
  let stopped = false;
  const early = []; // [event, Date.now()] of the site's calls made before recording started

  const canStore = () => !config.consentRequired || consent;

  function maybeStart() {
    const n = navigator;
    if (recording || stopped || !config.site || !canStore()) return;
    if (config.respectDnt && (n.globalPrivacyControl || n.doNotTrack === "1")) return;
    const begin = () => {
      if (recording || stopped) return;
      const session = resumeSession(config.sampleRate);
      if (!session.sampled) return;
      recording = startRecording(config, session, canStore);
      for (const [event, at] of early.splice(0)) recording.emitAt(at, event);
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", begin, { once: true });
    else begin();
  }

  const api = {
    __recorder: true,
    init(options) {
      config = readConfig(script, options);
      maybeStart();
    },
    consent(given) {
      consent = !!given;
      if (consent) {
        stopped = false;
        maybeStart();
      } else {
        early.length = api.tracked.length = 0;
        api["stop"]();
        forgetSession();
      }
    },
    // Public names are quoted: the build renames the internal stop/flush (build.mjs INTERNAL).
    "stop"() {
      stopped = true;
      recording?.stop();
      recording = null;
    },
    "flush"() {
      return recording ? recording.flush() : Promise.resolve();
    },
    // The recorder's own accounting (snapshot slices), for tests and support.
    debug() {
      return recording && recording.debug;
    },
    get sessionId() {
      return recording && recording.sid;
    },
    get pageViewId() {
      return recording && recording.pid;
    },
  };
  // track, identify, set, experiment, survey: core/calls.js. Before load or consent their
  // events wait in memory (never in storage, never sent before consent).
  // sessionlens.tracked: the last 20 names tracked in this page view, for the survey widget's
  // event triggers (it loads after the first ack, when earlier track() calls are gone by).
  api.tracked = [];
  for (const m in CALLS) {
    api[m] = (...args) => {
      if (m === "track" && api.tracked.push(String(args[0])) > 20) api.tracked.shift();
      const event = CALLS[m](...args);
      if (!event) return;
      if (recording) recording.emitAt(null, event);
      else if (early.length < 100) early.push([event, Date.now()]);
    };
  }
  w.sessionlens = api;
  let initialised = false;
  for (const [method, args] of queued) {
    if (method === "init") initialised = true;
    if (typeof api[method] === "function") api[method].apply(api, args || []);
  }
  if (!initialised) maybeStart();
})();
