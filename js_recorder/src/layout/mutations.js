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
// Old text values tell whether a masked change masks as before (see flush);
// old class values are read by pointer.js (ctx.watchers).
const OPTIONS = { childList: true, subtree: true, attributes: true, attributeOldValue: true, characterData: true, characterDataOldValue: true };

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
  // One observer for the page: other modules (pointer.js, forms.js) push a
  // function here that gets every batch of records too, once.
  const watchers = (ctx.watchers = []);
  const feed = (records) => { for (const w of watchers) w(records); };

  function onRecords(records) {
    const now = performance.now();
    if (now - second > 1000) { second = now; inSecond = 0; }
    inSecond += records.length;
    if (inSecond > STORM_RECORDS_PER_SEC) stormUntil = now + 3000;
    // Past MAX_PENDING, child-list records keep the tree consistent; attribute and
    // text records can be dropped because a later change re-reads live values.
    const full = pending.length > MAX_PENDING;
    for (const r of records) {
      if (!full || r.type === "childList") pending.push(r);
      else dropped++;
    }
    if (!paused && !timer) timer = setTimeout(flush, now < stormUntil ? STORM_WINDOW_MS : 0);
    feed(records);
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

  // Whether children of a recorded parent are recorded (serialize.js leaves these empty).
  const takesChildren = (parent) => parent.nodeType !== 1 || !/^(NO)?SCRIPT$/.test(parent.tagName) && !parent.closest("[data-sl-block]");

  function flush() {
    clearTimeout(timer);
    timer = 0;
    const taken = observer ? observer.takeRecords() : [];
    for (const r of taken) pending.push(r);
    if (!pending.length && !restyled.size) return;
    const records = pending;
    pending = [];
    const removed = new Set();
    const added = new Set();
    // element -> names of its changed attributes; text node -> its data when last sent
    const changed = new Map();
    for (const r of records) {
      const t = r.target;
      if (r.type === "childList") {
        for (const n of r.removedNodes) removed.add(n);
        for (const n of r.addedNodes) added.add(n);
      } else if (r.type === "attributes") {
        (changed.get(t) || changed.set(t, new Set()).get(t)).add(r.attributeName);
      } else if (!changed.has(t)) {
        changed.set(t, r.oldValue);
      }
    }
    // A <style>/<link> whose sheet changed through the CSSOM is sent again, whole.
    for (const n of restyled) if (n.isConnected && ctx.idOf(n)) removed.add(n), added.add(n);
    restyled.clear();

    const removes = [];
    for (const n of removed) {
      const id = ctx.idOf(n);
      if (!id) continue;
      removes.push(id);
      // A node that is still in the page was moved: it is re-added as new.
      forgetSubtree(n);
    }

    const firstNew = ctx.peekNextId();
    const roots = new Set();
    for (const n of added) {
      if (!n.isConnected || ctx.idOf(n)) continue;
      // The topmost new ancestor: added under a recorded parent (a shadow root is the parent of its children).
      let top = n;
      while (top.parentNode && !ctx.idOf(top.parentNode)) top = top.parentNode;
      const parent = top.parentNode;
      if (parent && takesChildren(parent)) roots.add(top);
    }
    // Reverse document order: each root's next sibling is then already known.
    const ordered = Array.from(roots).sort((a, b) => (a.compareDocumentPosition(b) & 4 ? 1 : -1));
    const adds = [];
    const maskAll = ctx.config.maskAllText;
    for (const root of ordered) {
      const parent = root.parentNode;
      serializeSubtree(ctx, root, ctx.idOf(parent), nextRecordedSibling(root), maskStateAt(parent, maskAll), adds);
    }

    const attrChanges = [];
    const textChanges = [];
    const topLayers = [];
    for (const [node, v] of changed) {
      const id = ctx.idOf(node);
      if (!id || id >= firstNew || !node.isConnected) continue;
      if (node.nodeType === 1) {
        const state = maskStateAt(node, maskAll);
        for (const name of v) {
          if (/^on/i.test(name)) continue;
          const value = attrValue(ctx, node, name, node.getAttribute(name), state);
          // A blob: image not loaded yet sends its src when it is (media.js).
          if (value != null || !node.hasAttribute(name)) attrChanges.push([id, name, value]);
          if (name === "open" && node.tagName === "DIALOG") topLayers.push(node);
        }
      } else if (node.nodeType === 3 && node.parentNode.tagName !== "SCRIPT") {
        const parent = node.parentNode;
        const state = maskStateAt(parent, maskAll);
        const text = textValue(parent, node.data, state);
        // Masked text that masks as before is not sent: how often it changed would count the keys typed.
        if (text === node.data || v == null || text !== textValue(parent, v, state)) textChanges.push([id, text]);
      }
    }

    if (dropped) {
      ctx.emit("throttle", "mutations", dropped);
      dropped = 0;
    }
    if (removes.length || adds.length || attrChanges.length || textChanges.length) {
      ctx.emit("mutation", removes, adds, attrChanges, textChanges);
    }
    for (const el of topLayers) topLayerEvent(ctx, el);
    // After the mutation event: what the watchers emit refers to these nodes.
    feed(taken);
  }

  // A same-origin frame that (re)loads gets a new document: the old one is
  // removed and the new one recorded under the same frame element. Load
  // events do not bubble out of a frame document, so each recorded one is
  // listened to (observe); loads during the snapshot wait for resume().
  function onFrameLoad(e) {
    const frame = e.target;
    if (!observer || !/^I?FRAME$/.test(frame.tagName)) return;
    if (paused) return void loadedWhilePaused.add(frame);
    const frameId = ctx.idOf(frame);
    const doc = frame.contentDocument; // null when cross-origin
    if (!frameId || !doc || !doc.documentElement || ctx.idOf(doc)) return;
    flush();
    const old = ctx.frameDocs.get(frame);
    const adds = serializeSubtree(ctx, doc, frameId, null, maskStateAt(frame, ctx.config.maskAllText));
    ctx.emit("mutation", old ? [old] : [], adds, [], []);
  }

  observer = new MutationObserver(onRecords);
  observer.observe(document, OPTIONS);
  document.addEventListener("load", onFrameLoad, true);
  // Shadow roots and frame documents met by serialize.js are observed too.
  ctx.observeRoot = (root) => {
    if (!observer || root === document) return;
    observer.observe(root, OPTIONS);
    // Stays after stop() (inert): frame documents are not held to remove it.
    if (root.nodeType === 9) root.addEventListener("load", onFrameLoad, true);
  };

  return {
    restyle(node) {
      if (!observer) return;
      restyled.add(node);
      if (!paused && !timer) timer = setTimeout(flush, 0);
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
