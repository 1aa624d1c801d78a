// Options come from the script tag's data-attributes and from init(); init wins.

export function readConfig(script, overrides) {
  const d = script?.dataset || {};
  const src = script?.src;
  const o = overrides || {};
  // Option names are quoted: the build renames the returned config's keys
  // (build.mjs INTERNAL), never the names a site writes.
  const pick = (k) => o[k] ?? d[k];
  const on = (k) => /^(true|1|)$/.test(pick(k)); // off unless set
  const off = (k) => !(o[k] === false || d[k] === "false"); // on unless "false"
  const num = (k, dflt) => Number(pick(k) || dflt);
  const site = o.site || d.site || "";
  return {
    site,
    endpoint: o.endpoint || d.endpoint || new URL(src || location.href, location.href).origin + "/ingest/" + site,
    maskAllText: on("maskAllText"),
    consentRequired: pick("consent") === "required",
    respectDnt: on("respectDnt"),
    sampleRate: Number(pick("sampleRate") ?? 1),
    flushMs: num("flushMs", 5000),
    retryMaxMs: num("retryMaxMs", 30000),
    recordCanvas: off("recordCanvas"),
    recordNetwork: off("recordNetwork"),
    // console.log and console.info too (error and warn are always recorded).
    recordConsoleLog: on("recordConsoleLog"),
    // Canvas bitmaps sent per page view, in data-URL characters (~bytes).
    canvasMaxBytes: Number(pick("canvasMaxBytes") ?? 2e6),
  };
}
