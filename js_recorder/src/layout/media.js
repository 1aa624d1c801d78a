// What the DOM alone does not say about how a page looks: canvas bitmaps,
// images whose source is a blob: URL (gone once the page is), and elements
// the browser put in its top layer (modal dialogs, popovers).
//
// Canvas capture lives in a chunk of its own (src/media/index.js, served as
// recorder-media.js next to recorder.js), loaded once per page, only when a
// page view with recordCanvas records a canvas (the snapshot or a mutation
// serialises one: serialize.js calls sawCanvas). It joins the running page
// view through the script element that loaded it; if it cannot load (404,
// CSP), canvases are simply not captured.

import { matches } from "../core/listen.js";

// Read while recorder.js itself runs: the chunk sits next to it
// (/recorder.js -> /recorder-media.js), or at the collector's default path.
const script = document.currentScript?.src;
let chunk = null; // the chunk's start(ctx) -> stop, once it ran
let state = 0; // 1: requested, 2: failed to load
let waiting = null; // the page view that waits for it

function load(ctx) {
  state = 1;
  const url = new URL(script || "/recorder.js", new URL(ctx.config.endpoint, location.href));
  url.pathname = url.pathname.replace(/(\.js)?$/, "-media.js");
  const s = document.createElement("script");
  s.async = true;
  s.src = url;
  s.__sl = (start) => {
    chunk = start;
    if (waiting) waiting();
  };
  s.onerror = () => { state = 2; };
  document.head.appendChild(s);
}

// A canvas was recorded (unmasked): its bitmap is sent by the chunk.
export function sawCanvas(ctx, el) {
  if (ctx.config.recordCanvas && state < 2) {
    (ctx.canvases ||= []).push(el);
    if (ctx.media) ctx.media();
  }
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

export const startMedia = (ctx) => {
  let stop = null;
  // Canvases recorded from now on (the snapshot's are in ctx.canvases) start the chunk.
  ctx.media = () => {
    if (chunk) stop = chunk(ctx); // the chunk takes over ctx.media
    else {
      waiting = ctx.media;
      if (!state) load(ctx);
    }
  };
  if (ctx.canvases) ctx.media();
  // Popovers change no attribute when shown; their toggle event says so.
  ctx.on(document, "toggle", (e) => { if (e.target.hasAttribute?.("popover")) topLayerEvent(ctx, e.target); }, true);
  return () => {
    waiting = ctx.media = null;
    if (stop) stop();
  };
};
