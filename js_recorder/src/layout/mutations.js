// DOM changes after the snapshot. Records are buffered and turned into one
// `mutation` event per observer callback, reading the live DOM at that
// moment (so a node changed many times is sent once, as it is now). Work
// runs in its own task, never inside the page's; a storm of changes is
// coalesced into windows and, past a hard cap, dropped with a `throttle`.

import { serializeSubtree, attrValue, textValue } from "./serialize.js";
import { topLayerEvent } from "./media.js";
import { maskStateAt } from "../privacy/mask.js";

const STORM_RECORDS_PER_SEC = 2000;
const STORM_WINDOW_MS = 250;
const MAX_PENDING = 50000;
// Old text values tell whether a masked change masks as before (see flush).
const OPTIONS = { childList: true, subtree: true, attributes: true, characterData: true, characterDataOldValue: true };

export function createMutations(ctx) {
  let observer = null;
  let pending = [];
  let timer = 0;
  let paused = true; // until the snapshot's last part has been cut
  let second = 0;
  let inSecond = 0;
  let stormUntil = 0;
  let dropped = 0;
  // <style>/<link> elements whose sheet changed through the CSSOM: sent again.
  const restyled = new Set();
  const loadedWhilePaused = new Set();

  function onRecords(records) {
    const now = performance.now();
    if (now - second > 1000) { second = now; inSecond = 0; }
    inSecond += records.length;
    if (inSecond > STORM_RECORDS_PER_SEC) stormUntil = now + 3000;
    if (pending.length > MAX_PENDING) {
      // Child-list records keep the tree consistent; attribute and text
      // records can be dropped because a later change re-reads live values.
      for (const r of records) {
        if (r.type === "childList") pending.push(r);
        else dropped++;
      }
    } else {
      for (const r of records) pending.push(r);
    }
    if (!paused && !timer) timer = setTimeout(flush, now < stormUntil ? STORM_WINDOW_MS : 0);
  }

  function nextRecordedSibling(node) {
    for (let s = node.nextSibling; s; s = s.nextSibling) {
      const id = ctx.idOf(s);
      if (id) return id;
    }
    return null;
  }

  function forgetSubtree(node) {
    const stack = [node];
    while (stack.length) {
      const n = stack.pop();
      ctx.forgetId(n);
      if (n.shadowRoot) stack.push(n.shadowRoot);
      for (let c = n.firstChild; c; c = c.nextSibling) stack.push(c);
    }
  }

  // The parent a node is recorded under: its parent node, or the host's
  // shadow root; null when it has none we know of.
  function recordedParent(node) {
    const p = node.parentNode;
    return p && ctx.idOf(p) ? p : null;
  }

  function takesChildren(parent) {
    if (parent.nodeType !== 1) return true;
    return !/^(SCRIPT|NOSCRIPT)$/.test(parent.tagName) && !parent.closest("[data-sl-block]");
  }

  function flush() {
    clearTimeout(timer);
    timer = 0;
    if (observer) for (const r of observer.takeRecords()) pending.push(r);
    if (!pending.length && !restyled.size) return;
    const records = pending;
    pending = [];
    const removed = new Set();
    const added = new Set();
    const attrs = new Map();
    const texts = new Map(); // text node -> its data when last sent
    for (const r of records) {
      if (r.type === "childList") {
        for (const n of r.removedNodes) removed.add(n);
        for (const n of r.addedNodes) added.add(n);
      } else if (r.type === "attributes") {
        let names = attrs.get(r.target);
        if (!names) attrs.set(r.target, (names = new Set()));
        names.add(r.attributeName);
      } else if (!texts.has(r.target)) {
        texts.set(r.target, r.oldValue);
      }
    }

    const removes = [];
    for (const n of removed) {
      const id = ctx.idOf(n);
      if (!id) continue;
      removes.push(id);
      // A node that is still in the page was moved: it is re-added as new.
      forgetSubtree(n);
    }

    for (const n of restyled) {
      const id = ctx.idOf(n);
      if (!id || !n.isConnected) continue;
      removes.push(id);
      forgetSubtree(n);
      added.add(n);
    }
    restyled.clear();

    const firstNew = ctx.peekNextId();
    const roots = new Set();
    for (const n of added) {
      if (!n.isConnected || ctx.idOf(n)) continue;
      let top = n;
      while (top.parentNode && !ctx.idOf(top.parentNode)) top = top.parentNode;
      const parent = recordedParent(top);
      if (parent && !ctx.idOf(top) && takesChildren(parent)) roots.add(top);
    }
    // Reverse document order: each root's next sibling is then already known.
    const ordered = Array.from(roots).sort((a, b) => (a.compareDocumentPosition(b) & 4 ? 1 : -1));
    const adds = [];
    const maskAll = ctx.config.maskAllText;
    for (const root of ordered) {
      const parent = root.parentNode;
      const state = maskStateAt(parent, maskAll);
      const recs = serializeSubtree(ctx, root, ctx.idOf(parent), nextRecordedSibling(root), state, ctx.observeRoot);
      for (const r of recs) adds.push(r);
    }

    const attrChanges = [];
    const topLayers = [];
    for (const [el, names] of attrs) {
      const id = ctx.idOf(el);
      if (!id || id >= firstNew || !el.isConnected) continue;
      const state = maskStateAt(el, maskAll);
      for (const name of names) {
        if (/^on/i.test(name)) continue;
        const value = attrValue(ctx, el, name, el.getAttribute(name), state);
        // A blob: image not loaded yet sends its src when it is (media.js).
        if (value != null || !el.hasAttribute(name)) attrChanges.push([id, name, value]);
        if (name === "open" && el.tagName === "DIALOG") topLayers.push(el);
      }
    }

    const textChanges = [];
    for (const [node, old] of texts) {
      const id = ctx.idOf(node);
      if (!id || id >= firstNew || node.nodeType !== 3 || !node.isConnected) continue;
      const parent = node.parentNode;
      if (parent.tagName === "SCRIPT") continue;
      const state = maskStateAt(parent, maskAll);
      const text = textValue(parent, node.data, state);
      // Masked text that masks as before is not sent: how often it changed would count the keys typed.
      if (text === node.data || old == null || text !== textValue(parent, old, state)) textChanges.push([id, text]);
    }

    if (dropped) {
      ctx.emit(["throttle", ctx.now(), "mutations", dropped]);
      dropped = 0;
    }
    if (removes.length || adds.length || attrChanges.length || textChanges.length) {
      ctx.emit(["mutation", ctx.now(), removes, adds, attrChanges, textChanges]);
    }
    for (const el of topLayers) topLayerEvent(ctx, el);
  }

  // A same-origin frame that (re)loads gets a new document: the old one is
  // removed and the new one recorded under the same frame element. Load
  // events do not bubble out of a frame document, so each recorded one is
  // listened to (observe); loads during the snapshot wait for resume().
  function onFrameLoad(e) {
    const frame = e.target;
    if (!observer || !frame || (frame.tagName !== "IFRAME" && frame.tagName !== "FRAME")) return;
    if (paused) return void loadedWhilePaused.add(frame);
    const frameId = ctx.idOf(frame);
    let doc = null;
    try { doc = frame.contentDocument; } catch (err) { return; }
    if (!frameId || !doc || !doc.documentElement || ctx.idOf(doc)) return;
    flush();
    const old = ctx.frameDocs.get(frame);
    const adds = serializeSubtree(ctx, doc, frameId, null, maskStateAt(frame, ctx.config.maskAllText), ctx.observeRoot);
    ctx.emit(["mutation", ctx.now(), old ? [old] : [], adds, [], []]);
  }

  return {
    start() {
      observer = new MutationObserver(onRecords);
      observer.observe(document, OPTIONS);
      document.addEventListener("load", onFrameLoad, true);
    },
    restyle(node) {
      if (!observer) return;
      restyled.add(node);
      if (!paused && !timer) timer = setTimeout(flush, 0);
    },
    observe(root) {
      if (!observer || root === document) return;
      observer.observe(root, OPTIONS);
      // Stays after stop() (inert): frame documents are not held to remove it.
      if (root.nodeType === 9) root.addEventListener("load", onFrameLoad, true);
    },
    // Called when the snapshot is complete: from now on changes are sent.
    resume() {
      paused = false;
      flush();
      for (const frame of loadedWhilePaused) onFrameLoad({ target: frame });
      loadedWhilePaused.clear();
    },
    flush() {
      if (!paused) flush();
    },
    stop() {
      document.removeEventListener("load", onFrameLoad, true);
      if (observer) observer.disconnect();
      observer = null;
      clearTimeout(timer);
      pending = [];
      loadedWhilePaused.clear();
    },
  };
}
