// Entry point: reads options, replays calls queued by the inline stub, and
// starts recording when privacy settings allow it.

import { readConfig } from "./core/config.js";
import { resumeSession, forgetSession } from "./core/session.js";
import { startRecording } from "./core/recorder.js";
import { watchSheets } from "./layout/styles.js";

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
  const early = []; // track(), identify(), set(), experiment() and survey() calls made before recording started

  const canStore = () => !config.consentRequired || consent;

  function maybeStart() {
    const n = navigator;
    if (recording || stopped || !config.site || !canStore()) return;
    if (config.respectDnt && (n.globalPrivacyControl || n.doNotTrack === "1" || w.doNotTrack === "1")) return;
    const begin = () => {
      if (recording || stopped) return;
      const session = resumeSession(config.sampleRate);
      if (!session.sampled) return;
      recording = startRecording(config, session, canStore);
      for (const [method, args, at] of early.splice(0)) recording[method](at, ...args);
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", begin, { once: true });
    else begin();
  }

  // Before load or consent the calls wait in memory (never in storage, never sent before consent).
  function later(method, args) {
    if (recording) recording[method](null, ...args);
    else if (early.length < 100) early.push([method, args, Date.now()]);
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
      if (recording) recording.stop();
      recording = null;
    },
    "flush"() {
      return recording ? recording.flush() : Promise.resolve();
    },
    // The recorder's own accounting (snapshot slices), for tests and support.
    debug() {
      return recording?.debug ?? null;
    },
    get sessionId() {
      return recording?.sid ?? null;
    },
    get pageViewId() {
      return recording?.pid ?? null;
    },
  };
  // track(name, props); identify(userId, traits): the site's own id of the visitor (docs/privacy.md);
  // set(props): flat properties of the session; experiment(name, variant): a bucket it saw;
  // survey(surveyId, action, question, value): the survey widget's shown/answer/dismiss/complete.
  // sessionlens.tracked: the last 20 names tracked in this page view, for the survey widget's
  // event triggers (it loads after the first ack, when earlier track() calls are gone by).
  api.tracked = [];
  for (const m of ["track", "identify", "set", "experiment", "survey"]) {
    api[m] = (...args) => {
      if (m === "track" && api.tracked.push(String(args[0])) > 20) api.tracked.shift();
      later(m, args);
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
