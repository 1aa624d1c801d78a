// Shared state of one page view: configuration, the clock, node ids, the
// event sink and the listeners. Modules receive it instead of importing globals.

import { randomId } from "./session.js";

export function createContext(config, sink) {
  // Ids live on the nodes themselves: a WeakMap keyed by 100,000 DOM nodes
  // made V8's major GCs take 40 ms, far longer than a snapshot slice. The key
  // is the page view's own: a page view started after a stop (consent withdrawn
  // and given again) numbers and snapshots every node anew.
  const ID = "__sl" + randomId();
  let nextId = 1;
  const t0 = Date.now();
  const perf0 = performance.now();
  // Milliseconds since the page view started, as integers on the wire.
  const now = () => Math.round(performance.now() - perf0);
  const added = [];
  return {
    config,
    t0,
    now,
    // emit(kind, ...fields) stamps the event now; emitAt(t, kind, ...fields) at t.
    emit: (kind, ...fields) => sink([kind, now(), ...fields]),
    emitAt: (t, kind, ...fields) => sink([kind, t, ...fields]),
    // Every listener goes through on(), so the recorder's stop removes exactly these.
    on(target, type, fn, opts = { capture: true, passive: true }) {
      target.addEventListener(type, fn, opts);
      added.push([target, type, fn, opts]);
    },
    off() {
      for (const [t, type, fn, o] of added.splice(0)) t.removeEventListener(type, fn, o);
    },
    idOf: (node) => node?.[ID] || null,
    assignId: (node) => node[ID] || (node[ID] = nextId++),
    forgetId: (node) => { if (node[ID]) node[ID] = 0; },
    peekNextId: () => nextId,
    // observeRoot(root), set by layout/mutations.js: start observing a shadow root or frame document.
    // frame element -> id of the document recorded inside it
    frameDocs: new WeakMap(),
    // Canvas bitmap characters sent so far (layout/media.js budget).
    canvasBytes: 0,
    // What modules report about their own work (sessionlens.debug()).
    debug: {},
  };
}
