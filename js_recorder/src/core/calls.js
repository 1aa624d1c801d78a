// The site's own calls (sessionlens.track, identify, set, experiment, survey)
// as the events they record: [kind, ...fields], trimmed to what ingest accepts
// (a refused batch would lose every event in it), or nothing when the call
// carries nothing to record. Read when the call is made, so a call queued
// before recording started records what the site passed at that moment.

import { str } from "./listen.js";

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

export const CALLS = {
  // track(name, props): props as JSON (at most 8 KB of it), an object.
  track(name, props) {
    let clean = {};
    try { clean = JSON.parse(JSON.stringify(props || {}).slice(0, 8192)); } catch { /* keep {} */ }
    if (typeof clean !== "object" || Array.isArray(clean) || !clean) clean = { value: clean };
    return ["custom", String(name).slice(0, 128) || "event", clean];
  },
  // identify(userId, traits): the site's own id of the visitor (docs/privacy.md) without
  // control characters, and flat traits.
  identify(user, traits) {
    const id = String(user ?? "").replace(/[\0-\x1f\x7f]/g, "").slice(0, 256);
    if (id) return ["identify", id, flat(traits)];
  },
  // set(props): properties of the session (plan, cohort, app version), flat like traits.
  set(props) {
    const p = flat(props);
    if (Object.keys(p).length) return ["set", p];
  },
  // experiment(name, variant): a bucket the visitor saw.
  experiment(name, variant) {
    const v = str(variant, 100);
    if ((name = str(name, 100)) && v) return ["experiment", name, v];
  },
  // survey(surveyId, action, question, value): the survey widget's record of itself
  // (surveys-interface.md); question and value only with "answer".
  survey(id, action, question, value) {
    const a = action === "answer";
    if ((id = str(id, 64)) && /^(shown|answer|dismiss|complete)$/.test(action)) {
      return ["survey", id, action, a ? str(question, 64) : "", a ? str(value, 1000) : ""];
    }
  },
};
