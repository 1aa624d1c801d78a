// The replay frame (served at /replay/frame): recorded pages are rebuilt in
// THIS document, whose origin is opaque (sandboxed without
// allow-same-origin), so nothing in a recording can make a request that
// carries the researcher's cookie. The player holds the cookie, fetches the
// recording and hands it over through a MessageChannel; this script builds
// it with PageDom and reports the viewport, URL and pointer back.
//
// Protocol (all over the port the parent transfers in its one
// {type: "sl-replay-connect"} message, accepted only from window.parent):
//   parent -> frame  {id, type: "keyframe", keyframe, events} | {id, type: "events", events}
//   frame -> parent  {type: "ready"} | {type: "done", id}
//                    | {type: "viewport", w, h} | {type: "url", url} | {type: "pointer", x, y, clicked}
// A port cannot be reached by a document that replaces this one, so the
// recording is never posted to anything but this script.
import { PageDom } from "./replay-dom.js";
import { KIND, META_VH, META_VW, RESIZE_VH, RESIZE_VW } from "./wire.js";

const RESIZE_WAIT_MS = 1000; // never stall a replay on a size the parent cannot give

let port = null;
let work = Promise.resolve();

function send(msg) {
  if (port) port.postMessage(msg);
}

// PageDom builds into "an iframe's" document; here that is this document.
const dom = new PageDom({ contentDocument: document, contentWindow: window }, {
  viewport(w, h) { send({ type: "viewport", w, h }); },
  url(u) { send({ type: "url", url: String(u).slice(0, 4096) }); },
  pointer(x, y, clicked) { send({ type: "pointer", x, y, clicked: !!clicked }); },
});
window.sessionlensReplay = { dom }; // for tests and benchmarks driving the frame directly

// The replay is a picture, not a page to use: nothing in it may navigate
// this frame away (links, forms, keyboard activation of either).
for (const type of ["click", "auxclick", "submit"]) addEventListener(type, (e) => e.preventDefault(), true);

addEventListener("message", (event) => {
  const data = event.data;
  if (port || event.source !== window.parent || !data || data.type !== "sl-replay-connect") return;
  if (!(event.ports[0] instanceof MessagePort)) return;
  port = event.ports[0];
  port.onmessage = (e) => {
    const msg = e.data;
    if (!valid(msg)) return;
    work = work
      .then(() => handle(msg))
      .catch(() => { /* a broken recording never stops the next message */ })
      .then(() => send({ type: "done", id: msg.id }));
  };
  send({ type: "ready" });
});

function valid(msg) {
  if (!msg || !Number.isSafeInteger(msg.id) || !Array.isArray(msg.events)) return false;
  if (msg.type === "events") return true;
  return msg.type === "keyframe" && !!msg.keyframe && Array.isArray(msg.keyframe.nodes);
}

async function handle(msg) {
  let events = msg.events;
  if (msg.type === "keyframe") {
    await ensureSize(msg.keyframe.viewport);
    const cut = events.findIndex((e) => changesSize(e));
    dom.applyKeyframe(msg.keyframe, cut < 0 ? events : events.slice(0, cut));
    events = cut < 0 ? [] : events.slice(cut);
  }
  await applyEvents(events);
}

// Scroll positions are clamped by the viewport, so a run of events is
// applied only once the frame has the size they were recorded at: the
// parent resizes the iframe, and this waits for the frame to see it.
async function applyEvents(events) {
  let from = 0;
  for (let i = 0; i < events.length; i++) {
    if (!changesSize(events[i])) continue;
    if (i > from) dom.applyAll(events.slice(from, i));
    from = i;
    await ensureSize(sizeOf(events[i]));
  }
  if (from < events.length) dom.applyAll(events.slice(from));
}

function sizeOf(e) {
  if (!Array.isArray(e)) return null;
  if (e[KIND] === "resize") return [e[RESIZE_VW], e[RESIZE_VH]];
  if (e[KIND] === "meta") return [e[META_VW], e[META_VH]];
  return null;
}

// A recorded size as whole CSS pixels (what the iframe's width and height become), or null.
function whole(size) {
  const [width, height] = Array.isArray(size) ? size : [];
  if (!(width >= 1 && height >= 1) || !Number.isFinite(width) || !Number.isFinite(height)) return null;
  return [Math.floor(width), Math.floor(height)];
}

function changesSize(e) {
  const size = whole(sizeOf(e));
  if (!size) return false;
  const [width, height] = size;
  return width !== innerWidth || height !== innerHeight;
}

function ensureSize(recorded) {
  const size = whole(recorded);
  if (!size) return Promise.resolve();
  const [w, h] = size;
  if (innerWidth === w && innerHeight === h) return Promise.resolve();
  send({ type: "viewport", w, h });
  return new Promise((resolve) => {
    const check = () => { if (innerWidth === w && innerHeight === h) done(); };
    const done = () => { removeEventListener("resize", check); clearTimeout(timer); resolve(); };
    const timer = setTimeout(done, RESIZE_WAIT_MS);
    addEventListener("resize", check);
  });
}
