// Masking is decided at capture: what leaves the page is already masked.
// Rules: input values always masked unless inside data-sl-unmask (never for
// passwords or card/contact autocomplete fields); contenteditable regions
// are input too; text and every attribute that carries text masked inside
// data-sl-mask or everywhere with maskAllText, unless data-sl-unmask is
// closer; data-sl-block subtrees are replaced by a same-size placeholder.
//
// The mask state of a node is a small bit set, passed down by the snapshot
// walker and recomputed from the ancestors for mutations:
export const TEXT = 1; // text and text-carrying attributes are masked
export const EDIT = 2; // inside a contenteditable host (or designMode)
export const UNMASK = 4; // the closest marker is data-sl-unmask

const SENSITIVE_AUTOCOMPLETE = /cc-|email|tel|password|one-time-code|bday|street|postal|address/;
const SVG_NS = "http://www.w3.org/2000/svg";
// A masked value is always this: its length says nothing about the value's.
const VALUE_MASK = "********";
// Attributes that shape layout rather than carry text stay usable inside a
// masked subtree (CSS hooks, sizes, media sources, SVG geometry); every
// other attribute, known or not, is masked.
const KEEP = /^(class|id|style|type|width|height|size|cols|rows|(col|row)?span|dir|hidden|open|disabled|checked|selected|multiple|readonly|rel|media|sizes|src(set)?|poster|role|tabindex|contenteditable|aria-(invalid|describedby|errormessage)|data-sl-(un)?mask|data-sl-block|viewbox|preserveaspectratio|xmlns|d|points|transform|[xyr]|[xy][12]|[cr][xy]|offset|(fill|stroke|stop)(-\w+)?|\w*opacity|clip-rule|gradient\w+)$/i;

export function maskText(s) {
  return s.replace(/\S/g, "*");
}

export function isBlocked(el) {
  return el.hasAttribute("data-sl-block");
}

// Typed content hides its length too; blank text between blocks carries none.
// (EDIT without UNMASK)
const inputMasked = (state) => (state & (EDIT | UNMASK)) === EDIT;

// The state of `el` given its parent's: its own markers applied.
export function maskStateFor(el, inherited) {
  let s = inherited;
  if (el.hasAttribute("data-sl-unmask")) s = (s & ~TEXT) | UNMASK;
  else if (el.hasAttribute("data-sl-mask")) s = (s & ~UNMASK) | TEXT;
  const editable = el.getAttribute("contenteditable");
  if (editable != null) s = editable.toLowerCase() === "false" ? s & ~EDIT : s | EDIT;
  return s;
}

// The state of any node from its ancestors, across shadow roots and
// same-origin frames (used for mutations, where no walker passes it down).
export function maskStateAt(node, maskAll) {
  const chain = [];
  let s = maskAll ? TEXT : 0;
  for (let n = node; n; ) {
    if (n.nodeType === 1) { chain.push(n); n = n.parentNode; }
    else if (n.nodeType === 11) n = n.host;
    else if (n.nodeType === 9) {
      if (n.designMode === "on") s |= EDIT;
      n = n.defaultView?.frameElement;
    } else n = n.parentNode;
  }
  return chain.reduceRight((s, el) => maskStateFor(el, s), s);
}

// Whether anything in an element with this state is masked (canvas bitmaps
// are then not recorded).
export function masksContent(state) {
  return !!(state & TEXT) || inputMasked(state);
}

// A text node's data as it may be recorded, under its parent's state.
export function textFor(state, s) {
  if (inputMasked(state)) return /\S/.test(s) ? VALUE_MASK : s;
  return state & TEXT ? maskText(s) : s;
}

// An attribute of an element with this state, as it may be recorded.
export function attrFor(el, state, name, value) {
  if (!masksContent(state)) return value;
  // SVG references to an id (<use href="#icon">) say no more than the id.
  if (KEEP.test(name) || (/href$/i.test(name) && value[0] === "#" && el.namespaceURI === SVG_NS)) return value;
  return maskText(value);
}

// document.title as it may be recorded: masked like the <title> text it comes from.
export function pageTitle(maskAll) {
  return textFor(maskStateAt(document.querySelector("title") || document.documentElement, maskAll), document.title.slice(0, 4096));
}

export function isPassword(el) {
  return el.type === "password" || /password/.test(el.getAttribute("autocomplete") || "");
}

// A string typed into (or preset on) a form control, as it may be recorded: "" for passwords,
// as typed inside data-sl-unmask (the closest marker, across shadow roots and frames as for
// masking) unless a card/contact field, else masked.
export function controlString(el, s) {
  if (isPassword(el)) return "";
  const unmasked = !SENSITIVE_AUTOCOMPLETE.test(el.getAttribute("autocomplete") || "") && !/^(email|tel)$/.test(el.type) && maskStateAt(el, false) & UNMASK;
  return unmasked || !s ? s : VALUE_MASK;
}

// The recordable value of a form control: never read for passwords.
export function controlValue(el) {
  return isPassword(el) ? "" : controlString(el, String(el.value ?? ""));
}

export function isFormControl(el) {
  return /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
}
