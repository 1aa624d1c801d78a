// The full DOM, cut into slices of a few milliseconds so that even a
// 100,000-node page never blocks the main thread for long. Each slice is a
// `snapshot` part; mutations meanwhile wait and are applied after the last.

import { createWalker } from "./serialize.js";

const SLICE_MS = 8;

function nextTask(fn) {
  // MessageChannel avoids setTimeout's 4 ms clamp between slices.
  const ch = new MessageChannel();
  ch.port1.onmessage = fn;
  ch.port2.postMessage(0);
}

export function takeSnapshot(ctx, onDone) {
  const walker = createWalker(ctx, document, null, null, ctx.config.maskAllText, ctx.observeRoot);
  let part = 0;
  let stopped = false;
  function slice() {
    if (stopped) return;
    const started = performance.now();
    const out = [];
    while (!walker.done() && performance.now() - started < SLICE_MS) {
      for (let i = 0; i < 64 && !walker.done(); i++) walker.step(out);
    }
    const last = walker.done();
    ctx.emit(["snapshot", ctx.now(), part++, last, out]);
    if (last) onDone();
    else nextTask(slice);
  }
  // Begin after the next frame: layout is then clean, so reading scroll
  // offsets and block sizes does not force a reflow of the whole page.
  requestAnimationFrame(() => nextTask(slice));
  return () => { stopped = true; };
}
