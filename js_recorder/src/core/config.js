// Options come from the script tag's data-attributes and from init(); init wins.

const BOOL = (v) => v === true || v === "true" || v === "" || v === "1";

export function readConfig(script, overrides) {
  const d = (script && script.dataset) || {};
  const src = script && script.src;
  const o = Object.assign({}, overrides || {});
  // Option names are quoted: the build renames the returned config's keys
  // (build.mjs INTERNAL), never the names a site writes.
  const pick = (k) => (o[k] != null ? o[k] : d[k]);
  const off = (k) => !(o[k] === false || d[k] === "false");
  const site = o.site || d.site || "";
  const origin = src ? new URL(src, location.href).origin : location.origin;
  return {
    site,
    endpoint: o.endpoint || d.endpoint || origin + "/ingest/" + site,
    maskAllText: BOOL(pick("maskAllText")),
    consentRequired: (o.consent || d.consent) === "required",
    respectDnt: BOOL(pick("respectDnt")),
    sampleRate: Number(pick("sampleRate") != null ? pick("sampleRate") : 1),
    flushMs: Number(o["flushMs"] || d["flushMs"] || 5000),
    retryMaxMs: Number(o["retryMaxMs"] || d["retryMaxMs"] || 30000),
    recordCanvas: off("recordCanvas"),
    recordNetwork: off("recordNetwork"),
    // console.log and console.info too (error and warn are always recorded).
    recordConsoleLog: BOOL(pick("recordConsoleLog")),
    // Canvas bitmaps sent per page view, in data-URL characters (~bytes).
    canvasMaxBytes: Number(o["canvasMaxBytes"] != null ? o["canvasMaxBytes"] : d["canvasMaxBytes"] || 2e6),
  };
}
