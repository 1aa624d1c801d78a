// Builds src/index.js into one minified IIFE served by the collector.
// `node build.mjs --check` rebuilds in memory and fails if the committed
// file differs, so the shipped script always matches its source.
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const out = fileURLToPath(new URL("../src/sessionlens/static/recorder.js", import.meta.url));
const result = await build({
  entryPoints: [fileURLToPath(new URL("src/index.js", import.meta.url))],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2019"],
  legalComments: "none",
  write: false,
  banner: { js: "/* sessionlens recorder - built from js_recorder/src */" },
});
const code = result.outputFiles[0].text;
if (process.argv.includes("--check")) {
  let committed = "";
  try { committed = readFileSync(out, "utf8"); } catch { /* missing counts as different */ }
  if (committed !== code) {
    console.error("src/sessionlens/static/recorder.js does not match js_recorder/src: run `npm run build` in js_recorder/");
    process.exit(1);
  }
  console.log("recorder.js matches its source");
} else {
  writeFileSync(out, code);
  console.log(`wrote ${out} (${code.length} bytes)`);
}
