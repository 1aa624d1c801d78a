// The full DOM, cut into slices of a few milliseconds so that even a
// 100,000-node page never blocks the main thread for long. Each slice is a
// `snapshot` part; mutations meanwhile wait and are applied after the last.

import { createWalker } from "./serialize.js";
import { TEXT } from "../privacy/mask.js";

const SLICE_MS = 8;
const STEPS_PER_CHECK = 64;

function nextTask(fn) {
  // MessageChannel avoids setTimeout's 4 ms clamp between slices.
  const ch = new MessageChannel();
  ch.port1.onmessage = fn;
  ch.port2.postMessage(0);
}

export function takeSnapshot(ctx, onDone) {
  const walker = createWalker(ctx, document, null, null, ctx.config.maskAllText ? TEXT : 0);
  let part = 0;
  let stopped = false;
  // The recorder's own account of its slices, for tests and debugging
  // (sessionlens.debug()): per slice [nodes walked, budget checks, ms
  // elapsed at the last check that went on, ms elapsed when it stopped].
  const slices = [];
  ctx.debug.snapshot = { budgetMs: SLICE_MS, stepsPerCheck: STEPS_PER_CHECK, slices };
  function slice() {
    if (stopped) return;
    const started = performance.now();
    const out = [];
    let steps = 0;
    let checks = 0;
    let wentOn = 0;
    let elapsed = 0;
    while (!walker.done() && (elapsed = performance.now() - started) < SLICE_MS) {
      wentOn = elapsed;
      checks++;
      for (let i = 0; i < STEPS_PER_CHECK && !walker.done(); i++, steps++) walker.step(out);
    }
    const last = walker.done();
    slices.push([steps, checks, wentOn, last ? performance.now() - started : elapsed]);
    ctx.emit("snapshot", part++, last, out);
    if (last) onDone();
    else nextTask(slice);
  }
  // Begin after the next frame: layout is then clean, so reading scroll
  // offsets and block sizes does not force a reflow of the whole page.
  requestAnimationFrame(() => nextTask(slice));
  return () => { stopped = true; };
}
