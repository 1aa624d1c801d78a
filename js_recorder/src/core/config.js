// Options come from the script tag's data-attributes and from init(); init wins.

const BOOL = (v) => v === true || v === "true" || v === "" || v === "1";

export function readConfig(script, overrides) {
  const d = (script && script.dataset) || {};
  const src = script && script.src;
  const o = Object.assign({}, overrides || {});
  const site = o.site || d.site || "";
  const origin = src ? new URL(src, location.href).origin : location.origin;
  return {
    site,
    endpoint: o.endpoint || d.endpoint || origin + "/ingest/" + site,
    maskAllText: BOOL(o.maskAllText != null ? o.maskAllText : d.maskAllText),
    consentRequired: (o.consent || d.consent) === "required",
    respectDnt: BOOL(o.respectDnt != null ? o.respectDnt : d.respectDnt),
    sampleRate: Number(o.sampleRate != null ? o.sampleRate : d.sampleRate != null ? d.sampleRate : 1),
    flushMs: Number(o.flushMs || d.flushMs || 5000),
    retryMaxMs: Number(o.retryMaxMs || d.retryMaxMs || 30000),
    recordCanvas: !(o.recordCanvas === false || d.recordCanvas === "false"),
    recordNetwork: !(o.recordNetwork === false || d.recordNetwork === "false"),
    // console.log and console.info too (error and warn are always recorded).
    recordConsoleLog: BOOL(o.recordConsoleLog != null ? o.recordConsoleLog : d.recordConsoleLog),
    // Canvas bitmaps sent per page view, in data-URL characters (~bytes).
    canvasMaxBytes: Number(o.canvasMaxBytes != null ? o.canvasMaxBytes : d.canvasMaxBytes || 2e6),
  };
}
