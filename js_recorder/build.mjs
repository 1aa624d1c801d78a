// Builds src/index.js into one minified IIFE served by the collector
// (static/recorder.js), and src/media/index.js into the canvas chunk the
// recorder loads only on pages with a canvas (static/recorder-media.js).
// `node build.mjs --check` rebuilds in memory and fails if a committed
// file differs, so the shipped scripts always match their source.
//
// esbuild bundles (and renames the internal property names below); terser then
// minifies: its frequency-ordered short names gzip ~6% smaller than esbuild's.
// Both are build-time only: nothing from node_modules is shipped.
import { build } from "esbuild";
import { minify } from "terser";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

// Properties that only the recorder's own objects carry (page-view context,
// module handles, parsed config). Never a DOM, wire, storage or public API
// name: localStorage session fields (id, last, sampled), batch envelope keys,
// sessionlens.* methods and debug() contents keep their names. readConfig
// reads the site's init()/data-* options by quoted name, so those stay too.
const INTERNAL = [
  "emit", "idOf", "config", "observeRoot", "assignId", "forgetId", "peekNextId", "frameDocs",
  "canvasBytes", "restyle", "resume", "adoptPending", "flushUnloading", "anchorEl", "touch",
  "maskAllText", "consentRequired", "respectDnt", "sampleRate", "flushMs", "retryMaxMs",
  "recordCanvas", "recordNetwork", "recordConsoleLog", "canvasMaxBytes",
  "emitAt", "on", "off", "watchers", "hidden", "step", "done", "sel", "anchor", "start", "stop", "flush", "ack",
  "canvases", "media",
];

const TARGETS = [
  ["src/index.js", "recorder.js", "/* sessionlens recorder */"],
  ["src/media/index.js", "recorder-media.js", "/* sessionlens recorder: canvas */"],
];
// The chunk shares the recorder's context object, so both builds rename
// INTERNAL properties alike: the chunk's build starts from the recorder's mangleCache.
let mangleCache = {};
let failed = false;
for (const [entry, name, preamble] of TARGETS) {
  const out = fileURLToPath(new URL("../src/sessionlens/static/" + name, import.meta.url));
  const bundled = await build({
    entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
    bundle: true,
    minifySyntax: true,
    format: "iife",
    target: ["es2020"],
    legalComments: "none",
    mangleProps: new RegExp("^(" + INTERNAL.join("|") + ")$"),
    mangleCache,
    write: false,
  });
  mangleCache = bundled.mangleCache;
  const min = await minify(bundled.outputFiles[0].text, {
    ecma: 2020,
    compress: { passes: 3, unsafe_arrows: true, hoist_funs: true },
    mangle: true,
    format: { comments: false, preamble, quote_style: 1 },
  });
  const code = min.code;
  if (process.argv.includes("--check")) {
    let committed = "";
    try { committed = readFileSync(out, "utf8"); } catch { /* missing counts as different */ }
    if (committed !== code) {
      console.error(`src/sessionlens/static/${name} does not match js_recorder/src: run \`npm run build\` in js_recorder/`);
      failed = true;
    } else {
      console.log(`${name} matches its source`);
    }
  } else {
    writeFileSync(out, code);
    console.log(`wrote ${out} (${code.length} bytes)`);
  }
}
if (failed) process.exit(1);
