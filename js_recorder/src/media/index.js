// The canvas chunk (built into static/recorder-media.js): loaded by the
// recorder (layout/media.js) only when a page it records has a canvas or a
// blob: image. It hands its start(ctx) to the script element that loaded
// it; the recorder calls it for the running page view, and again for a later one.
//
// Canvas bitmaps are not part of the snapshot: each canvas the recorder saw
// (ctx.canvases) is sent as a `canvas` event once this runs, and again
// whenever it is drawn on. A blob: image (gone once the page is) is sent as
// a src change to a data: URL once it is loaded.

import { patch, setHook } from "../core/patch.js";
import { maskStateAt, masksContent } from "../privacy/mask.js";

const MAX_CANVAS_PIXELS = 4e6;
// PNG is lossless (lossy WebP speckles the flat colours and thin lines of
// charts) and small for them; a canvas whose PNG is larger than this is
// photo-like and sent as WebP at high quality from then on.
const PNG_MAX_CHARS = 150000;
const WEBP_QUALITY = 0.92;
// Capture is paced by its own cost: a canvas is captured again no sooner
// than 20x the time its last capture took (at most ~5 % of the main thread).
// While it keeps being drawn (an animation), also no sooner than 1 ms per
// 50 bytes its last bitmap had (~50 KB/s); once drawing stops for SETTLE_MS,
// its last frame is sent as soon as the cost allows.
const COST_FACTOR = 20;
const BYTES_PER_MS = 50;
const SETTLE_MS = 100;
const sent = new WeakMap(); // canvas -> the bitmap last sent
const lossy = new WeakSet();

function encode(el) {
  if (!lossy.has(el)) {
    const png = el.toDataURL();
    if (png.length <= PNG_MAX_CHARS) return png;
    lossy.add(el);
  }
  return el.toDataURL("image/webp", WEBP_QUALITY);
}

// The bitmap of a canvas, or null: empty, too large, tainted by a
// cross-origin image, unchanged since last sent, or past the page view's
// byte budget (config canvasMaxBytes; a throttle event says so once).
function canvasData(ctx, el) {
  const max = ctx.config.canvasMaxBytes;
  if (!el.width || !el.height || el.width * el.height > MAX_CANVAS_PIXELS || ctx.canvasBytes > max) return null;
  let data;
  try { data = encode(el); } catch (e) { return null; }
  if (data.length < 7 || data === sent.get(el)) return null; // "data:," cannot encode
  if ((ctx.canvasBytes += data.length) > max) {
    ctx.emit("throttle", "canvas-bytes", 1);
    return null;
  }
  sent.set(el, data);
  return data;
}

// Drawing calls mark their canvas dirty: 2D ones are captured after the
// frame they were drawn in; WebGL ones before the task ends (its drawing
// buffer is cleared once presented).
const GL = ["drawArrays", "drawElements", "clear"];
const DRAWING = [["CanvasRenderingContext2D", "fill", "stroke", "fillRect", "clearRect", "fillText", "drawImage", "putImageData"],
  ["WebGLRenderingContext", ...GL], ["WebGL2RenderingContext", ...GL]];

// The image as a data: URL, as a src change, once loaded (a blob: image's
// src is left out of the record that adds it); after the event that added it.
function inline(ctx, el) {
  const send = () => {
    const id = ctx.idOf(el);
    if (!id || !el.src.startsWith("blob:")) return; // gone, or no longer a blob:
    try {
      const c = document.createElement("canvas");
      c.width = el.naturalWidth;
      c.height = el.naturalHeight;
      c.getContext("2d").drawImage(el, 0, 0);
      ctx.emit("mutation", [], [], [[id, "src", c.toDataURL("image/webp", 0.85)]], []);
    } catch (e) { /* not decodable */ }
  };
  setTimeout(() => (el.complete && el.naturalWidth ? send() : el.addEventListener("load", send, { once: true })));
}

function start(ctx) {
  const dirty = new Set();
  // canvas -> [cpu-paced at, byte-paced at, last drawn, WebGL buffer cleared once shown]
  const pace = new WeakMap();
  let frame = 0;
  let timer = 0;
  let micro = false;

  function capture(el, p) {
    const id = ctx.idOf(el);
    if (!id || !el.isConnected || masksContent(maskStateAt(el, ctx.config.maskAllText))) return;
    const started = performance.now();
    const data = canvasData(ctx, el);
    const end = performance.now();
    p[0] = end + (end - started) * COST_FACTOR;
    p[1] = p[0] + (data ? data.length / BYTES_PER_MS : 0);
    if (data) ctx.emit("canvas", id, data);
  }

  function run() {
    const inDrawingTask = micro;
    frame = 0;
    micro = false;
    const now = performance.now();
    let wake = Infinity;
    for (const el of dirty) {
      const p = pace.get(el);
      const at = Math.min(p[1], Math.max(p[0], p[2] + SETTLE_MS));
      if (at > now) { wake = Math.min(wake, at); continue; }
      if (p[3] && !inDrawingTask) continue; // read only where drawn: its next draw call captures it
      dirty.delete(el);
      try { capture(el, p); } catch (e) { /* a canvas that cannot be read */ }
    }
    clearTimeout(timer);
    if (wake < Infinity) timer = setTimeout(() => { if (!frame) frame = requestAnimationFrame(run); }, wake - now);
  }

  function mark(el, gl) {
    dirty.add(el);
    let p = pace.get(el);
    if (!p) pace.set(el, (p = [0, 0, 0, gl]));
    return p;
  }

  function drawn(context) {
    const el = context.canvas;
    if (!el || !el.tagName) return;
    mark(el, context.drawArrays && !context.getContextAttributes().preserveDrawingBuffer)[2] = performance.now();
    if (context.drawArrays) { if (!micro) { micro = true; queueMicrotask(run); } }
    else if (!frame) frame = requestAnimationFrame(run);
  }

  // Canvases the recorder recorded (snapshot, added later, moved: a new
  // node id) are sent as they are now, after the event that added them.
  ctx.media = () => {
    for (const el of ctx.canvases.splice(0)) {
      if (el.tagName === "IMG") inline(ctx, el);
      else {
        sent.delete(el);
        mark(el);
      }
    }
    if (!frame) frame = requestAnimationFrame(run);
  };
  ctx.media();
  patch(DRAWING, "draw");
  setHook("draw", drawn);
  return () => {
    setHook("draw", null);
    cancelAnimationFrame(frame);
    clearTimeout(timer);
  };
}

document.currentScript?.__sl?.(start);
