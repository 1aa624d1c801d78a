// What the DOM alone does not say about how a page looks: canvas bitmaps,
// images whose source is a blob: URL (gone once the page is), and elements
// the browser put in its top layer (modal dialogs, popovers).

import { listeners } from "../core/listen.js";

const CANVAS_EVERY_MS = 1000;
const MAX_CANVAS_PIXELS = 4e6;
// The bitmap last sent per canvas, so an unchanged canvas costs no bytes.
const sent = new WeakMap();

function bitmap(el) {
  try {
    if (!el.width || !el.height || el.width * el.height > MAX_CANVAS_PIXELS) return null;
    const data = el.toDataURL("image/webp", 0.8);
    return data.length > 6 ? data : null;
  } catch (e) {
    return null; // tainted by a cross-origin image: it cannot be read
  }
}

export function canvasData(ctx, el) {
  const data = ctx.config.recordCanvas ? bitmap(el) : null;
  if (data) sent.set(el, data);
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
    if (data) ctx.emit(["mutation", ctx.now(), [], [], [[id, "src", data]], []]);
  }, { once: true });
  return null;
}

export function topLayerEvent(ctx, el) {
  const id = ctx.idOf(el);
  if (!id) return;
  let modal = false;
  try { modal = el.matches(":modal"); } catch (e) { /* older browsers */ }
  const open = el.tagName === "DIALOG" ? el.open : matchesOpenPopover(el);
  ctx.emit(["toplayer", ctx.now(), id, modal, open]);
}

function matchesOpenPopover(el) {
  try { return el.matches(":popover-open"); } catch (e) { return false; }
}

export function createMedia(ctx) {
  const listen = listeners();
  let timer = 0;
  function paintCheck() {
    if (document.visibilityState !== "visible") return;
    for (const el of document.getElementsByTagName("canvas")) {
      const id = ctx.idOf(el);
      const data = id && bitmap(el);
      if (data && sent.get(el) !== data) {
        sent.set(el, data);
        ctx.emit(["canvas", ctx.now(), id, data]);
      }
    }
  }
  return {
    start() {
      if (ctx.config.recordCanvas) timer = setInterval(paintCheck, CANVAS_EVERY_MS);
      // Popovers change no attribute when shown; their toggle event says so.
      listen.on(document, "toggle", (e) => { if (e.target.hasAttribute && e.target.hasAttribute("popover")) topLayerEvent(ctx, e.target); }, true);
    },
    stop() { clearInterval(timer); listen.off(); },
  };
}
