// What the DOM alone does not say about how a page looks: canvas bitmaps,
// images whose source is a blob: URL (gone once the page is), and elements
// the browser put in its top layer (modal dialogs, popovers).
//
// Capturing these lives in a chunk of its own (src/media/index.js, served as
// recorder-media.js next to recorder.js), loaded once per page, only when a
// page view records a canvas (with recordCanvas) or a blob: image, in the
// snapshot or a mutation (serialize.js calls sawMedia). It joins the running
// page view through the script element that loaded it; if it cannot load
// (404, CSP), canvases and blob: images are simply left empty.

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
  s.src = url;
  s.__sl = (start) => {
    chunk = start;
    if (waiting) waiting();
  };
  s.onerror = () => { state = 2; };
  document.head.append(s);
}

// A canvas (recordCanvas, unmasked) or a blob: image was recorded: the chunk
// sends its bitmap, or the image as a data: URL (its src until then: none).
export function sawMedia(ctx, el) {
  if (state < 2) {
    (ctx.canvases ||= []).push(el);
    if (ctx.media) ctx.media();
  }
}

export function topLayerEvent(ctx, el) {
  const id = ctx.idOf(el);
  if (id) ctx.emit("toplayer", id, matches(el, ":modal"), el.tagName === "DIALOG" ? el.open : matches(el, ":popover-open"));
}

export const startMedia = (ctx) => {
  let stop = null;
  // What is recorded from now on (the snapshot's is in ctx.canvases) starts the chunk.
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
