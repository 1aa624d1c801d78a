// What the DOM alone does not say about how a page looks: canvas bitmaps,
// images whose source is a blob: URL (gone once the page is), and elements
// the browser put in its top layer (modal dialogs, popovers).

import { matches } from "../core/listen.js";
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

// The bitmap of a canvas, or null: not recorded, empty, too large, tainted
// by a cross-origin image, unchanged (when `changed`), or past the page
// view's byte budget (config canvasMaxBytes; a throttle event says so once).
export function canvasData(ctx, el, changed) {
  const c = ctx.config;
  if (!c.recordCanvas || !el.width || !el.height || el.width * el.height > MAX_CANVAS_PIXELS || ctx.canvasBytes > c.canvasMaxBytes) return null;
  let data;
  try { data = encode(el); } catch (e) { return null; }
  if (data.length < 7 || (changed && data === sent.get(el))) return null; // "data:," cannot encode
  if ((ctx.canvasBytes += data.length) > c.canvasMaxBytes) {
    ctx.emit("throttle", "canvas-bytes", 1);
    return null;
  }
  sent.set(el, data);
  return data;
}

// A loaded blob: image as a data: URL; when not loaded yet, the value is
// sent as a src change once it is.
export function inlineBlobImage(ctx, el) {
  if (el.complete && el.naturalWidth) {
    try {
      const c = document.createElement("canvas");
      c.width = el.naturalWidth;
      c.height = el.naturalHeight;
      c.getContext("2d").drawImage(el, 0, 0);
      return c.toDataURL("image/webp", 0.85);
    } catch (e) {
      return null;
    }
  }
  el.addEventListener("load", () => {
    const id = ctx.idOf(el);
    const data = id && inlineBlobImage(ctx, el);
    if (data) ctx.emit("mutation", [], [], [[id, "src", data]], []);
  }, { once: true });
  return null;
}

export function topLayerEvent(ctx, el) {
  const id = ctx.idOf(el);
  if (id) ctx.emit("toplayer", id, matches(el, ":modal"), el.tagName === "DIALOG" ? el.open : matches(el, ":popover-open"));
}

// Drawing calls mark their canvas dirty: 2D ones are captured after the
// frame they were drawn in; WebGL ones before the task ends (its drawing
// buffer is cleared once presented).
const GL = ["drawArrays", "drawElements", "clear"];
const DRAWING = [["CanvasRenderingContext2D", "fill", "stroke", "fillRect", "clearRect", "fillText", "drawImage", "putImageData"],
  ["WebGLRenderingContext", ...GL], ["WebGL2RenderingContext", ...GL]];

export const startMedia = (ctx) => {
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
    const data = canvasData(ctx, el, true);
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

  function drawn(context) {
    const el = context.canvas;
    if (!el || !el.tagName) return;
    dirty.add(el);
    let p = pace.get(el);
    if (!p) pace.set(el, (p = [0, 0, 0, context.drawArrays && !context.getContextAttributes().preserveDrawingBuffer]));
    p[2] = performance.now();
    if (context.drawArrays) { if (!micro) { micro = true; queueMicrotask(run); } }
    else if (!frame) frame = requestAnimationFrame(run);
  }

  if (ctx.config.recordCanvas) {
    patch(DRAWING, "draw");
    setHook("draw", drawn);
  }
  // Popovers change no attribute when shown; their toggle event says so.
  ctx.on(document, "toggle", (e) => { if (e.target.hasAttribute?.("popover")) topLayerEvent(ctx, e.target); }, true);
  return () => {
    setHook("draw", null);
    cancelAnimationFrame(frame);
    clearTimeout(timer);
  };
};
