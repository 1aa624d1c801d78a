// Rebuilding a recorded page view in the replay frame.
//
// This runs inside /replay/frame (replay-frame.js), an opaque-origin sandbox
// whose CSP lets only our own modules run: recorded content there has no
// cookie to send and nothing recorded may run. It builds the DOM from
// sanitised node records and applies events. It sanitises again (a second net under the server's
// sanitiser, same rules): no handlers, no script URLs, no srcdoc, no script
// or SVG animation elements, whatever the case or prefix of a name. Records
// are flat lists and every tree walk here uses an explicit stack or a
// parent loop, so no page is too deep to rebuild; nodes deeper than
// MAX_DEPTH are left out.

import {
  KIND, SNAPSHOT_PART, SNAPSHOT_NODES, MUTATION_REMOVES, MUTATION_ADDS, MUTATION_ATTRS, MUTATION_TEXTS,
  SCROLL_TARGET, SCROLL_X, SCROLL_Y, MOVE_X, MOVE_Y, CLICK_CX, CLICK_CY, INPUT_TARGET, INPUT_VALUE, INPUT_CHECKED,
  RESIZE_VW, RESIZE_VH, META_URL, META_VW, META_VH, FOCUS_TARGET, BLUR_TARGET, NAV_URL, CANVAS_TARGET, CANVAS_DATA,
  TOPLAYER_TARGET, TOPLAYER_MODAL, TOPLAYER_OPEN, ATTR_CHANGE_ID, ATTR_CHANGE_NAME, ATTR_CHANGE_VALUE,
  TEXT_CHANGE_ID, TEXT_CHANGE_TEXT,
  ELEMENT, TEXT, DOCUMENT, DOCTYPE, SHADOW, NODE_ID, NODE_PARENT, NODE_NEXT, NODE_TYPE,
  ELEMENT_TAG, ELEMENT_ATTRS, ELEMENT_PROPS, TEXT_TEXT, DOCUMENT_PROPS, SHADOW_PROPS, DOCTYPE_NAME,
  PLACEHOLDER_TAG, PLACEHOLDER_ATTRS, BLOCK_STYLE, INVALID_URL, BLOCKED_TAGS, SVG_ANIMATION_TAGS, DROP_ATTRS, URL_ATTRS,
  URL_SCHEMES, LIST_ATTRS, RISKY_TARGETS, KEPT_LINK_RELS, BLOCKED_META_ATTRS, TAG_NAME, ATTR_NAME, DATA_IMAGE,
} from "./wire.js";

const NS = { svg: "http://www.w3.org/2000/svg", math: "http://www.w3.org/1998/Math/MathML" };
const XLINK = "http://www.w3.org/1999/xlink";
const ACTIVE = ["sl--hover", "sl--focus", "sl--focus-within"];
// The browser's own focus ring (Chromium's html.css: :focus-visible { outline:
// auto 1px -webkit-focus-ring-color }) never shows in a frame nobody focuses,
// so it is given to .sl--focus on the controls that show it however focus
// came: text fields and editable regions (a button shows it only after
// keyboard use, which is not recorded). In a cascade layer, so every rule of
// the page's own wins over it, as over the browser's.
const UA_FOCUS_RING = "@layer sl-ua{:where(input:not([type=button i],[type=submit i],[type=reset i],[type=image i]," +
  "[type=checkbox i],[type=radio i],[type=file i],[type=color i],[type=range i]),textarea," +
  "[contenteditable]:not([contenteditable=false i])).sl--focus{outline:-webkit-focus-ring-color auto 1px;outline-offset:0}}";

// -- the player's own sanitiser ----------------------------------------------
//
// A second net under the server's (replay/sanitize.py), with the same
// policy (storage_schemas/replay_policy.json, generated into wire.js), so the
// iframe's sandbox and CSP are a third line, not the only one. Names are
// compared by their lower-cased local part: SCRIPT, svg:animate, XLINK:HREF
// and ATTRIBUTENAME meet the rules of their plain forms, and the element
// actually created is checked again by its localName. SVG animation
// elements can set href, handlers or style (and a later mutation of
// attributeName, to or values can aim them there): never built.
const SCRIPT_SCHEMES = new Set(["javascript", "vbscript", "livescript"]);
// Browsers' parsers cap nesting themselves; DOM calls do not, and layout of
// a page tens of thousands of levels deep can exhaust the renderer's stack.
export const MAX_DEPTH = 512; // as the HTML parser; 3,000 DOM levels crash the renderer
const DEPTH = new WeakMap(); // node -> depth below the top document
// Frame documents. This frame is sandboxed, so a nested <iframe>'s own
// document gets an opaque origin of its own and cannot be reached from here.
// A recorded frame document is built in a detached document instead and
// shown as the iframe's srcdoc (which inherits this frame's CSP and sandbox),
// after the recorded doctype, so it renders in the mode it was recorded in
// (no doctype: quirks). srcdoc escaping grows with every level: frames
// nested deeper than this stay empty.
const MAX_FRAME_NESTING = 4;
// Elements whose text the HTML serialiser writes literally: in a frame
// document their "<" is neutralised, so the srcdoc round trip cannot close them.
const RAW_TEXT_PARENTS = new Set(["STYLE", "XMP", "IFRAME", "NOEMBED", "NOFRAMES", "PLAINTEXT", "NOSCRIPT", "SCRIPT"]);

export function localName(name) {
  const lowered = String(name).toLowerCase();
  return lowered.slice(lowered.lastIndexOf(":") + 1);
}

// A URL as the URL parser reads it: leading and trailing C0 controls and
// spaces stripped, tabs and newlines removed anywhere.
export function browserUrl(value) {
  return String(value).replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, "").replace(/[\t\n\r]/g, "");
}

function schemeOf(url) {
  const [, scheme] = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url) || [];
  return scheme ? scheme.toLowerCase() : null;
}

// Any attribute: refused when it reads as a script URL or a data: document.
function runsScript(value) {
  const url = browserUrl(value);
  const scheme = schemeOf(url);
  return SCRIPT_SCHEMES.has(scheme) || (scheme === "data" && !DATA_IMAGE.test(url) && /^data:(text\/html|application\/|image\/svg|text\/xml)/i.test(url));
}

// -- the viewer's address, however it is spelled ------------------------------
//
// new URL() parses hosts the way the request would be made (127.1,
// 2130706433, 0x7f.1, [::ffff:127.0.0.1], LOCALHOST., user@host), so URLs are
// compared after it, never as strings: the rule of replay/origins.py. The
// viewer's address is this document's own URL (the replay frame is served
// by the viewer); a loopback viewer is reached by every loopback spelling.
const VIEWER = new URL(location.href);
const EMBEDDED_URL = /(?:\b[a-z][a-z0-9+.-]*:|[\\/]{2})[^\s"'()<>,]*/gi;

function effectivePort(url) {
  return url.port || (url.protocol === "https:" || url.protocol === "wss:" ? "443" : "80");
}

function loopbackHost(hostname) {
  const host = hostname.replace(/\.$/, "");
  return host === "localhost" || host.endsWith(".localhost") || /^(127|0)\.\d+\.\d+\.\d+$/.test(host)
    || host === "[::1]" || host === "[::]" || /^\[::ffff:(7f[0-9a-f]{2}|[0-9a-f]{1,2}):[0-9a-f]{1,4}\]$/.test(host);
}

// An absolute, scheme-relative or root-relative URL that would reach the viewer.
export function targetsViewer(value) {
  const text = browserUrl(value);
  if (schemeOf(text) === null && !/^[\\/]/.test(text)) return false;
  let url;
  try { url = new URL(text, VIEWER); } catch (e) { return false; }
  if (!/^(https?|wss?):$/.test(url.protocol) || effectivePort(url) !== effectivePort(VIEWER)) return false;
  const host = url.hostname.replace(/\.$/, ""), viewer = VIEWER.hostname.replace(/\.$/, "");
  return host === viewer || (loopbackHost(host) && loopbackHost(viewer));
}

// Any attribute value (style url(), srcset candidates...) naming the viewer.
function embedsViewerUrl(value) {
  return (String(value).match(EMBEDDED_URL) || []).some(targetsViewer);
}

// A URL attribute: fragments, the policy's schemes, data: images and the
// server's own refusal (about:invalid) only; never the viewer's own address.
// The server turns everything else into about:invalid, so a recording it
// sanitised loses nothing here.
function urlAllowed(value) {
  const url = browserUrl(value);
  if (url === INVALID_URL) return true;
  if (targetsViewer(url)) return false;
  const scheme = schemeOf(url);
  if (scheme === null) return url.startsWith("#");
  if (scheme === "data") return DATA_IMAGE.test(url);
  return URL_SCHEMES.has(scheme);
}

function riskyTarget(value) {
  const target = localName(browserUrl(value));
  return target.startsWith("on") || URL_ATTRS.has(target) || DROP_ATTRS.has(target) || LIST_ATTRS.has(target)
    || RISKY_TARGETS.has(target) || !ATTR_NAME.test(String(value).trim());
}

// The placeholder itself counts as blocked: it takes no attributes but its own.
export function blockedTag(tag) {
  const local = localName(tag);
  return BLOCKED_TAGS.has(local) || SVG_ANIMATION_TAGS.has(local) || local === PLACEHOLDER_TAG;
}

// An element refused by what it is: blocked names, names no parser makes, a
// <link> that is not a stylesheet, a <meta> that would act (http-equiv).
export function blockedElement(tag, attrs) {
  if (typeof tag !== "string" || !TAG_NAME.test(tag) || blockedTag(tag)) return true;
  const local = localName(tag);
  if (local === "link") {
    let rel = "";
    for (const name in attrs) if (name.toLowerCase() === "rel") rel = String(attrs[name]);
    return !KEPT_LINK_RELS.has(rel.trim().toLowerCase().split(/\s+/).join(" "));
  }
  if (local === "meta") return Object.keys(attrs).some((name) => BLOCKED_META_ATTRS.has(localName(name)));
  return false;
}

export function placeholder(doc) {
  const el = doc.createElement(PLACEHOLDER_TAG);
  for (const name in PLACEHOLDER_ATTRS) el.setAttribute(name, PLACEHOLDER_ATTRS[name]);
  return el;
}

// Whether an attribute may be set on an element with local name `tag`.
export function safeAttr(name, value, tag) {
  if (typeof value !== "string" || typeof name !== "string" || !ATTR_NAME.test(name)) return false;
  const local = localName(name);
  tag = localName(tag || "");
  if (local.startsWith("on") || DROP_ATTRS.has(local)) return false;
  if (blockedTag(tag)) return false;
  if (local === "attributename") return !riskyTarget(value);
  if (local === "src" && (tag === "iframe" || tag === "frame")) return false;
  if (runsScript(value) || embedsViewerUrl(value)) return false;
  if (LIST_ATTRS.has(local)) return value.split(";").every((item) => !runsScript(item) && urlAllowed(item));
  if (URL_ATTRS.has(local)) {
    if (!urlAllowed(value)) return false;
    if (local === "href" && (tag === "a" || tag === "area") && schemeOf(browserUrl(value)) === "data") return false;
  }
  return true;
}

// Hover and focus cannot happen in a frame nobody points at, so the rules
// that depend on them are rewritten onto classes the player moves around.
export function rewriteStates(css) {
  return css
    .replace(/:focus-within\b/g, ".sl--focus-within")
    .replace(/:focus-visible\b/g, ".sl--focus")
    .replace(/:focus\b/g, ".sl--focus")
    .replace(/:hover\b/g, ".sl--hover");
}

function setAttr(el, name, value) {
  const lowered = name.toLowerCase();
  if (lowered.startsWith("xlink:")) el.setAttributeNS(XLINK, "xlink:" + lowered.slice(6), value);
  else el.setAttribute(name, value);
}

export class PageDom {
  constructor(iframe, hooks) {
    this.iframe = iframe;
    this.hooks = hooks || {};
    this.ids = new Map();
    this.idOf = new WeakMap();
    this.pending = [];
    this.hovered = [];
    this.focused = [];
    this.frames = new Map(); // detached frame document -> { host, doctype, adopted, nesting, shown }
  }

  get doc() { return this.iframe.contentDocument; }
  get win() { return this.iframe.contentWindow; }

  // -- building ------------------------------------------------------------

  bind(id, node) {
    this.ids.set(id, node);
    this.idOf.set(node, id);
  }

  reset() {
    this.ids.clear();
    this.frames.clear();
    this.hovered = [];
    this.focused = [];
    const doc = this.doc;
    if (doc.documentElement) doc.documentElement.remove();
    doc.adoptedStyleSheets = this.playerSheets();
  }

  // The player's own sheets of the top document, first among its adopted ones (marked slPlayer).
  playerSheets() {
    try {
      const sheet = new this.win.CSSStyleSheet();
      sheet.replaceSync(UA_FOCUS_RING);
      sheet.slPlayer = true;
      return [sheet];
    } catch (e) {
      return []; // constructed sheets unsupported
    }
  }

  // A keyframe and the events after it, laid out once at the end.
  applyKeyframe(frame, events = []) {
    this.reset();
    this.addRecords(frame.nodes);
    this.flushPending();
    this.setViewport(frame.viewport);
    for (const [id, value, checked] of frame.inputs) this.input(id, value, checked);
    if (frame.focus != null) this.focus(frame.focus);
    if (frame.url && this.hooks.url) this.hooks.url(frame.url);
    const first = [];
    for (const [id, x, y] of frame.scroll) first.push(event("scroll", frame.t, { [SCROLL_TARGET]: id, [SCROLL_X]: x, [SCROLL_Y]: y }));
    if (frame.pointer) {
      const [x, y] = frame.pointer; // keyframe pointer: [x, y] (storage_schemas/replay_api.md)
      first.push(event("move", frame.t, { [MOVE_X]: x, [MOVE_Y]: y }));
    }
    this.applyAll(first.concat(events));
  }

  addRecords(records) {
    for (const rec of records) {
      try { this.addRecord(rec); } catch (e) { /* a malformed record never stops the rest */ }
    }
  }

  addRecord(rec) {
    const id = rec[NODE_ID], parentId = rec[NODE_PARENT], nextId = rec[NODE_NEXT], type = rec[NODE_TYPE];
    const old = this.ids.get(id);
    if (old && type !== DOCUMENT && type !== SHADOW) this.remove(id);
    if (type === DOCUMENT) {
      const host = parentId == null ? null : this.ids.get(parentId);
      const doc = host ? host.contentDocument || this.frameDocument(host) : this.doc;
      if (!doc) return;
      if (host) while (doc.firstChild) doc.firstChild.remove();
      else if (doc.documentElement) doc.documentElement.remove();
      this.bind(id, doc);
      DEPTH.set(doc, host ? (DEPTH.get(host) || 0) + 1 : 0);
      this.adopt(doc, rec[DOCUMENT_PROPS]);
      return;
    }
    if (type === DOCTYPE) {
      // The top document is this frame's own (standards mode); a frame document keeps its doctype.
      const info = this.frames.get(this.ids.get(parentId));
      if (info) info.doctype = /^[A-Za-z][A-Za-z0-9-]{0,31}$/.test(rec[DOCTYPE_NAME] || "") ? rec[DOCTYPE_NAME] : "html";
      return;
    }
    const parent = this.ids.get(parentId);
    if (!parent) return;
    // Nothing is built inside a placeholder, and a refused element in <head> is left out (as the server's sanitiser).
    if (parent.nodeType === 1 && blockedTag(parent.localName)) return;
    if (type === ELEMENT && parent.localName === "head" && blockedElement(rec[ELEMENT_TAG], rec[ELEMENT_ATTRS] || {})) return;
    if (type === SHADOW) {
      let root = parent.shadowRoot;
      if (!root) root = parent.attachShadow({ mode: "open" });
      while (root.firstChild) root.firstChild.remove();
      this.bind(id, root);
      DEPTH.set(root, (DEPTH.get(parent) || 0) + 1);
      this.adopt(root, rec[SHADOW_PROPS]);
      return;
    }
    const depth = (DEPTH.get(parent) || 0) + 1;
    if (depth > MAX_DEPTH) return; // nor anything under it: its children find no parent
    const doc = parent.nodeType === 9 ? parent : parent.ownerDocument;
    let node;
    if (type === TEXT) {
      const text = parent.nodeName === "STYLE" ? rewriteStates(rec[TEXT_TEXT]) : rec[TEXT_TEXT];
      node = doc.createTextNode(this.frames.has(doc) ? frameText(parent, text) : text);
    } else if (type === ELEMENT) {
      node = this.element(doc, rec);
    } else return;
    const next = nextId != null ? this.ids.get(nextId) : null;
    if (next && next.parentNode === parent) parent.insertBefore(node, next);
    else parent.appendChild(node);
    this.bind(id, node);
    DEPTH.set(node, depth);
    this.afterInsert(node, rec);
  }

  element(doc, rec) {
    const tag = rec[ELEMENT_TAG];
    const attrs = rec[ELEMENT_ATTRS] || {};
    const props = rec[ELEMENT_PROPS] || {};
    let el;
    if (blockedElement(tag, attrs)) return placeholder(doc);
    const local = localName(tag);
    const asStyle = local === "link" && typeof props.css === "string";
    // Without scripting a <canvas> shows its fallback content, not a bitmap:
    // an <img> with the same attributes shows the recorded bitmap at the same size.
    const asImage = local === "canvas";
    try {
      if (asStyle) el = doc.createElement("style");
      else if (asImage) el = doc.createElement("img");
      else if (props.ns && NS[props.ns]) el = doc.createElementNS(NS[props.ns], tag);
      else el = doc.createElement(tag);
    } catch (e) {
      return placeholder(doc);
    }
    // What was created, by its own name (createElementNS("svg:animate") is an <animate>).
    if (blockedTag(el.localName)) return placeholder(doc);
    for (const name in attrs) {
      if (asStyle && name !== "media") continue;
      if (!safeAttr(name, attrs[name], el.localName)) continue;
      try { setAttr(el, name, attrs[name]); } catch (e) { /* an attribute name the DOM refuses */ }
    }
    if (typeof props.css === "string") el.textContent = rewriteStates(props.css);
    if (asImage) {
      el.dataset.slCanvas = "";
      if (typeof props.canvas === "string") this.paintCanvas(el, props.canvas);
    }
    if (props.block) {
      const [w, h] = props.block.map((n) => Number(n) || 0);
      const own = el.getAttribute("style");
      const block = BLOCK_STYLE.replace("{w}", w).replace("{h}", h);
      el.setAttribute("style", own ? own + ";" + block : block);
    }
    return el;
  }

  afterInsert(node, rec) {
    const props = rec[NODE_TYPE] === ELEMENT ? rec[ELEMENT_PROPS] : null;
    if (!props) return;
    if (props.value != null || props.checked != null) this.pending.push(() => this.setValue(node, props.value, props.checked));
    if (props.scroll) {
      const [left, top] = props.scroll; // props.scroll: [left, top]
      this.pending.push(() => { node.scrollLeft = left; node.scrollTop = top; });
    }
    if (props.open && node.localName === "dialog") {
      this.pending.push(() => {
        // The open attribute came with the record; a modal needs showModal() for its backdrop and top layer.
        try { if (props.modal) { node.removeAttribute("open"); node.showModal(); } else node.setAttribute("open", ""); } catch (e) { node.setAttribute("open", ""); }
      });
    } else if (props.open && node.hasAttribute("popover")) {
      this.pending.push(() => { try { node.showPopover(); } catch (e) { /* not supported */ } });
    }
  }

  flushPending() {
    const work = this.pending;
    this.pending = [];
    for (const fn of work) { try { fn(); } catch (e) { /* best effort */ } }
  }

  adopt(root, props) {
    if (!props || !props.adopted) return;
    const info = this.frames.get(root);
    if (info) { info.adopted = props.adopted.filter((c) => typeof c === "string").map(rewriteStates); return; }
    const Sheet = (root.defaultView || (root.ownerDocument && root.ownerDocument.defaultView) || this.win).CSSStyleSheet;
    try {
      const own = root === this.doc ? root.adoptedStyleSheets.filter((s) => s.slPlayer) : [];
      root.adoptedStyleSheets = own.concat(props.adopted.map((css) => { const s = new Sheet(); s.replaceSync(rewriteStates(css)); return s; }));
    } catch (e) { /* constructed sheets unsupported */ }
  }

  paintCanvas(img, dataUrl) {
    if (/^data:image\//.test(dataUrl)) img.src = dataUrl;
  }

  remove(id) {
    const node = this.ids.get(id);
    if (!node) return;
    const stack = [node];
    while (stack.length) {
      const n = stack.pop();
      const nid = this.idOf.get(n);
      if (nid != null && this.ids.get(nid) === n) this.ids.delete(nid);
      if (n.shadowRoot) stack.push(n.shadowRoot);
      for (let c = n.firstChild; c; c = c.nextSibling) stack.push(c);
    }
    if (node.parentNode && node.nodeType !== 9 && node.nodeType !== 11) node.parentNode.removeChild(node);
  }

  // -- events --------------------------------------------------------------

  // Many events at once (a seek, a frame of playback). Scrolling and the
  // pointer force a layout each, so runs of them are coalesced: pending
  // scrolls are applied before the next DOM change (where they happened),
  // the pointer once at the end.
  applyAll(events) {
    const scrolls = new Map();
    let pointer = null;
    const flushScrolls = () => {
      for (const e of scrolls.values()) this.scroll(e[SCROLL_TARGET], e[SCROLL_X], e[SCROLL_Y]);
      scrolls.clear();
    };
    for (const e of events) {
      const kind = e[KIND];
      if (kind === "scroll") scrolls.set(e[SCROLL_TARGET], e);
      else if (kind === "move") pointer = [e[MOVE_X], e[MOVE_Y]];
      else if (kind === "click") {
        pointer = [e[CLICK_CX], e[CLICK_CY]];
        if (this.hooks.pointer) this.hooks.pointer(e[CLICK_CX], e[CLICK_CY], true);
      } else {
        if (scrolls.size && kind !== "input" && kind !== "focus" && kind !== "blur") flushScrolls();
        this.apply(e);
      }
    }
    flushScrolls();
    this.showFrames();
    if (pointer) {
      const [x, y] = pointer;
      this.pointer(x, y, false);
    }
  }

  // A detached document standing in for an iframe's unreachable one.
  frameDocument(host) {
    if (host.localName !== "iframe") return null;
    const outer = this.frames.get(host.ownerDocument);
    const nesting = outer ? outer.nesting + 1 : 1;
    if (nesting > MAX_FRAME_NESTING) return null;
    for (const [doc, info] of this.frames) if (info.host === host) this.frames.delete(doc); // the frame navigated
    const doc = this.doc.implementation.createHTMLDocument("");
    this.frames.set(doc, { host, doctype: null, adopted: [], nesting, shown: null });
    return doc;
  }

  // Frame documents into their iframes' srcdoc, innermost first (an outer
  // document's serialisation carries the srcdoc of the frames inside it).
  showFrames() {
    if (!this.frames.size) return;
    const infos = Array.from(this.frames.entries()).sort(([, a], [, b]) => b.nesting - a.nesting);
    for (const [doc, info] of infos) {
      const styles = info.adopted.map((css) => `<style>${css.replace(/</g, "\\3c ")}</style>`).join("");
      let body = "";
      for (let c = doc.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) body += c.outerHTML;
      const html = (info.doctype ? `<!doctype ${info.doctype}>` : "") + styles + body;
      if (html === info.shown) continue;
      info.shown = html;
      try { info.host.srcdoc = html; } catch (e) { /* host gone */ }
    }
  }

  apply(e) {
    switch (e[KIND]) {
      case "snapshot":
        if (e[SNAPSHOT_PART] === 0) this.reset();
        this.addRecords(e[SNAPSHOT_NODES]);
        this.flushPending();
        break;
      case "mutation":
        for (const id of e[MUTATION_REMOVES]) this.remove(id);
        this.addRecords(e[MUTATION_ADDS]);
        for (const c of e[MUTATION_ATTRS]) this.attr(c[ATTR_CHANGE_ID], c[ATTR_CHANGE_NAME], c[ATTR_CHANGE_VALUE]);
        for (const c of e[MUTATION_TEXTS]) {
          const n = this.ids.get(c[TEXT_CHANGE_ID]), text = c[TEXT_CHANGE_TEXT];
          if (n && n.nodeType !== 3) continue;
          if (n) {
            const t = n.parentNode && n.parentNode.nodeName === "STYLE" ? rewriteStates(text) : text;
            n.data = this.frames.has(n.ownerDocument) ? frameText(n.parentNode, t) : t;
          }
        }
        this.flushPending();
        break;
      case "scroll": this.scroll(e[SCROLL_TARGET], e[SCROLL_X], e[SCROLL_Y]); break;
      case "input": this.input(e[INPUT_TARGET], e[INPUT_VALUE], e[INPUT_CHECKED]); break;
      case "resize": this.setViewport([e[RESIZE_VW], e[RESIZE_VH]]); break;
      case "meta": this.setViewport([e[META_VW], e[META_VH]]); if (this.hooks.url) this.hooks.url(e[META_URL]); break;
      case "focus": this.focus(e[FOCUS_TARGET]); break;
      case "blur": this.blur(e[BLUR_TARGET]); break;
      case "move": this.pointer(e[MOVE_X], e[MOVE_Y], false); break;
      case "click": this.pointer(e[CLICK_CX], e[CLICK_CY], true); break;
      case "nav": if (this.hooks.url) this.hooks.url(e[NAV_URL]); break;
      case "canvas": { const c = this.ids.get(e[CANVAS_TARGET]); if (c && c.dataset && "slCanvas" in c.dataset) this.paintCanvas(c, e[CANVAS_DATA]); break; }
      case "toplayer": this.topLayer(this.ids.get(e[TOPLAYER_TARGET]), e[TOPLAYER_MODAL], e[TOPLAYER_OPEN]); break;
      default: break;
    }
  }

  topLayer(el, modal, open) {
    if (!el || el.nodeType !== 1) return;
    try {
      if (el.localName === "dialog") {
        if (el.open) el.close();
        if (open) { if (modal) el.showModal(); else el.setAttribute("open", ""); }
      } else if (el.hasAttribute("popover")) {
        if (open) el.showPopover(); else el.hidePopover();
      }
    } catch (e) { /* element no longer in a document */ }
  }

  attr(id, name, value) {
    const el = this.ids.get(id);
    if (!el || el.nodeType !== 1 || blockedTag(el.localName)) return; // a placeholder stays exactly that
    try {
      if (value == null) el.removeAttribute(name);
      else if (safeAttr(name, value, el.localName)) setAttr(el, name, value);
    } catch (e) { /* refused name */ }
    if (name === "open" && el.localName === "dialog" && value == null && el.open) { try { el.close(); } catch (e) { /* */ } }
    if (name === "class") this.restoreState(el);
  }

  restoreState(el) {
    // Our state classes live on elements the recording rewrites.
    for (const cls of ACTIVE) {
      if ((cls === "sl--hover" && this.hovered.includes(el)) || (cls !== "sl--hover" && this.focused.includes(el))) el.classList.add(cls);
    }
  }

  setValue(el, value, checked) {
    if (!el || el.nodeType !== 1) return;
    if (checked != null && "checked" in el) el.checked = !!checked;
    // A box's value is its form value, not state: only checked is (as in the export).
    const toggle = el.localName === "input" && (el.type === "checkbox" || el.type === "radio");
    if (value != null && "value" in el && el.type !== "file" && !toggle) {
      // A masked <select> value matches no option: keep what the page showed by default.
      if (el.localName === "select" && !Array.from(el.options).some((o) => o.value === value)) return;
      try { el.value = value; } catch (e) { /* */ }
    }
  }

  input(id, value, checked) { this.setValue(this.ids.get(id), value, checked); }

  scroll(id, x, y) {
    if (id == null) { this.win.scrollTo(x, y); return; }
    const el = this.ids.get(id);
    if (!el) return;
    if (el.nodeType === 9) { if (el.defaultView) el.defaultView.scrollTo(x, y); return; }
    el.scrollLeft = x;
    el.scrollTop = y;
  }

  setViewport(size) {
    const [width, height] = size || [];
    if (!width) return;
    if (this.hooks.viewport) this.hooks.viewport(width, height);
  }

  focus(id) {
    for (const el of this.focused) dropClasses(el, "sl--focus", "sl--focus-within");
    this.focused = [];
    const el = this.ids.get(id);
    if (!el || el.nodeType !== 1) return;
    el.classList.add("sl--focus");
    this.focused.push(el);
    for (let p = parentElementOf(el); p; p = parentElementOf(p)) { p.classList.add("sl--focus-within"); this.focused.push(p); }
  }

  blur(id) {
    if (this.ids.get(id) === this.focused[0]) this.focus(null);
  }

  pointer(x, y, clicked) {
    if (this.hooks.pointer) this.hooks.pointer(x, y, clicked);
    for (const el of this.hovered) dropClasses(el, "sl--hover");
    this.hovered = [];
    let target = null;
    try {
      target = this.doc.elementFromPoint(x, y);
      while (target && target.shadowRoot) {
        const inner = target.shadowRoot.elementFromPoint(x, y);
        if (!inner || inner === target) break;
        target = inner;
      }
    } catch (e) { target = null; }
    for (let el = target; el; el = parentElementOf(el)) {
      el.classList.add("sl--hover");
      this.hovered.push(el);
    }
  }

  // For tests and exports: classes the player added, removed again.
  cleanStateClasses() {
    for (const el of this.hovered.concat(this.focused)) dropClasses(el, ...ACTIVE);
  }
}

// Removing our classes must leave no empty class="" the recording never had.
function dropClasses(el, ...names) {
  el.classList.remove(...names);
  if (el.getAttribute("class") === "") el.removeAttribute("class");
}

// Text inside a frame document, safe to serialise into srcdoc: where the
// serialiser writes text literally, "<" cannot end its element.
function frameText(parent, text) {
  if (!parent || !RAW_TEXT_PARENTS.has(parent.nodeName)) return text;
  return text.replace(/</g, parent.nodeName === "STYLE" ? "\\3c " : "\uFF1C");
}

function parentElementOf(el) {
  if (el.parentElement) return el.parentElement;
  const root = el.parentNode;
  return root && root.nodeType === 11 ? root.host : null;
}

// An event of `kind` with the given fields by position (the rest null), for
// events the player makes up itself (a keyframe's scroll and pointer).
function event(kind, t, fields) {
  const e = [kind, t];
  for (const i in fields) { while (e.length < i) e.push(null); e[i] = fields[i]; }
  return e;
}
