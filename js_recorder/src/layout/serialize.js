// Turning live nodes into flat wire records: [id, parentId, nextId, type, ...].
// The walker is iterative (pages can be 100,000 nodes deep in places) and
// resumable, so the snapshot can be cut into slices between tasks.

import { matches } from "../core/listen.js";
import { elementCss, adoptedCss, isEdited } from "./styles.js";
import { sawMedia } from "./media.js";
import { isBlocked, maskStateFor, masksContent, textFor, attrFor, controlValue, controlString, EDIT } from "../privacy/mask.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const MATH_NS = "http://www.w3.org/1998/Math/MathML";
const NO_CHILDREN = { SCRIPT: 1, NOSCRIPT: 1 };
const KEEP_WHEN_BLOCKED = { id: 1, class: 1, style: 1, "data-sl-block": 1 };

// `state` is the element's own mask state (privacy/mask.js).
export function attrValue(ctx, el, name, value, state) {
  if (value == null) return null;
  if (name === "value" && el.tagName === "INPUT") return controlString(el, value);
  const v = attrFor(el, state, name, value);
  // A blob: image is left out until the canvas chunk sends it as a data: URL (media.js).
  return v === value && name === "src" && el.tagName === "IMG" && value.startsWith("blob:") ? sawMedia(ctx, el) : v;
}

function elementRecord(ctx, el, id, parentId, nextId, state) {
  const blocked = isBlocked(el);
  const attrs = {};
  for (const a of el.attributes) {
    const name = a.name;
    // Handlers are code, and code is never recorded.
    if (/^on/i.test(name) || (blocked && !KEEP_WHEN_BLOCKED[name])) continue;
    const v = attrValue(ctx, el, name, a.value, state);
    if (v != null) attrs[name] = v;
  }
  const props = {};
  const ns = el.namespaceURI;
  if (ns === SVG_NS) props.ns = "svg";
  else if (ns === MATH_NS) props.ns = "math";
  if (blocked) {
    const r = el.getBoundingClientRect();
    props.block = [Math.round(r.width), Math.round(r.height)];
  } else {
    const tag = el.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") {
      props.value = controlValue(el);
      if (el.type === "checkbox" || el.type === "radio") props.checked = el.checked;
    } else if (tag === "LINK" || tag === "STYLE") {
      const css = elementCss(el);
      if (css != null) props.css = css;
    } else if (tag === "CANVAS" && ctx.config.recordCanvas && !masksContent(state)) {
      sawMedia(ctx, el); // its bitmap follows as a canvas event (layout/media.js)
    } else if (tag === "IMG" && el.currentSrc && !attrs.src && !el.currentSrc.startsWith("blob:")) {
      attrs.src = el.currentSrc;
    } else if (tag === "DIALOG" && el.open) {
      props.open = true;
      if (matches(el, ":modal")) props.modal = true;
    }
    if (el.hasAttribute("popover") && matches(el, ":popover-open")) props.open = true;
    if (el.scrollTop || el.scrollLeft) props.scroll = [el.scrollLeft, el.scrollTop];
  }
  const rec = [id, parentId, nextId, 1, el.localName, attrs];
  for (const k in props) { rec.push(props); break; }
  return rec;
}

// Children in wire order: an open shadow root first, the document of a
// same-origin iframe, then light DOM children.
function childrenOf(node) {
  const kids = [];
  if (node.nodeType === 1) {
    // A <style> changed through the CSSOM is sent whole as props.css.
    if (NO_CHILDREN[node.tagName] || isBlocked(node) || (node.tagName === "STYLE" && isEdited(node.sheet))) return kids;
    if (node.shadowRoot) kids.push(node.shadowRoot);
    if (node.tagName === "IFRAME" || node.tagName === "FRAME") {
      try {
        const doc = node.contentDocument;
        if (doc?.documentElement) kids.push(doc);
      } catch { /* cross-origin frame: recorded as an empty element */ }
    }
  }
  for (let c = node.firstChild; c; c = c.nextSibling) kids.push(c);
  return kids;
}

// Text under `parent` as it may be recorded; `state` is the parent's.
export function textValue(parent, data, state) {
  const tag = parent?.tagName;
  if (tag === "TEXTAREA") return controlString(parent, data);
  // A <style>'s text is sent as written: the server resolves its relative url()s (replay/recorded_urls.py).
  return tag === "STYLE" ? data : textFor(state, data);
}

// Walks one subtree. step() records one node; the caller decides when to
// pause. Nodes moved away while the walk was paused are skipped: the
// mutation records of that move add them where they now are.
// Shadow roots and frame documents met are passed to ctx.observeRoot.
export function createWalker(ctx, root, parentId, nextId, state) {
  const stack = [[root, parentId, nextId, state, root.parentNode]];
  return {
    done: () => stack.length === 0,
    step(out) {
      const [node, pid, nid, parentState, expectedParent] = stack.pop();
      const type = node.nodeType;
      if (node !== root && type !== 9 && type !== 11 && node.parentNode !== expectedParent) return;
      if (ctx.idOf(node) && node !== root) return;
      let childMask = parentState;
      let rec;
      if (type === 1) {
        childMask = maskStateFor(node, parentState);
        rec = elementRecord(ctx, node, ctx.assignId(node), pid, nid, childMask);
      } else if (type === 3) {
        rec = [ctx.assignId(node), pid, nid, 3, textValue(node.parentNode, node.data, parentState)];
      } else if (type === 10) {
        rec = [ctx.assignId(node), pid, nid, 10, node.name || "html", node.publicId || "", node.systemId || ""];
      } else if (type === 9 || type === 11) {
        rec = [ctx.assignId(node), pid, null, type];
        const props = {};
        if (type === 9) {
          if (node.designMode === "on") childMask |= EDIT;
          // Remember which document a frame showed, so a reload can replace it. Its URL is the
          // base the server resolves its relative URLs against: no query or fragment needed.
          const frame = node.defaultView && node !== document ? node.defaultView.frameElement : null;
          if (frame) ctx.frameDocs.set(frame, rec[0]), props.url = node.URL.split(/[?#]/)[0];
        }
        const css = adoptedCss(node);
        if (css) props.adopted = css;
        for (const k in props) { rec.push(props); break; }
        if (ctx.observeRoot) ctx.observeRoot(node);
      } else {
        return; // comments and processing instructions are not recorded
      }
      out.push(rec);
      const kids = childrenOf(node);
      for (let i = kids.length - 1; i >= 0; i--) {
        const k = kids[i];
        stack.push([k, rec[0], null, childMask, k.nodeType === 9 || k.nodeType === 11 ? null : node]);
      }
    },
  };
}

// A whole subtree at once (mutations are small; snapshots use the walker).
// Its records are appended to `out`.
export function serializeSubtree(ctx, root, parentId, nextId, state, out = []) {
  const w = createWalker(ctx, root, parentId, nextId, state);
  while (!w.done()) w.step(out);
  return out;
}
