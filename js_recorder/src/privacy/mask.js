// Masking is decided at capture: what leaves the page is already masked.
// Rules: input values always masked unless inside data-sl-unmask (never for
// passwords or card/contact autocomplete fields); text masked inside
// data-sl-mask or everywhere with maskAllText, unless data-sl-unmask is
// closer; data-sl-block subtrees are replaced by a same-size placeholder.

const MASK_SEL = "[data-sl-mask],[data-sl-unmask]";
const SENSITIVE_AUTOCOMPLETE = /cc-|email|tel|password|one-time-code|bday|street|postal|address/;

export function maskString(s) {
  // Same length at most; capped so long secrets do not even reveal their length.
  return "*".repeat(Math.min(s.length, 64));
}

export function maskText(s) {
  return s.replace(/\S/g, "*");
}

export function isBlocked(el) {
  return el.hasAttribute("data-sl-block");
}

// Whether text under `el` is masked. `inherited` lets the snapshot walker
// pass the answer down instead of climbing the tree for every text node.
export function textMaskedAt(el, maskAll) {
  const marker = el && el.closest ? el.closest(MASK_SEL) : null;
  if (marker) return marker.hasAttribute("data-sl-mask");
  return maskAll;
}

export function maskStateFor(el, inherited) {
  if (el.hasAttribute("data-sl-unmask")) return false;
  if (el.hasAttribute("data-sl-mask")) return true;
  return inherited;
}

export function isPassword(el) {
  return el.type === "password" || /password/.test(el.getAttribute("autocomplete") || "");
}

function unmasked(el) {
  if (isPassword(el)) return false;
  if (SENSITIVE_AUTOCOMPLETE.test(el.getAttribute("autocomplete") || "") || /^(email|tel)$/.test(el.type)) return false;
  const marker = el.closest(MASK_SEL);
  return !!marker && marker.hasAttribute("data-sl-unmask");
}

// A string typed into (or preset on) a form control, as it may be recorded.
export function controlString(el, s) {
  if (isPassword(el)) return "";
  return unmasked(el) ? s : maskString(s);
}

// The recordable value of a form control: never read for passwords.
export function controlValue(el) {
  return isPassword(el) ? "" : controlString(el, el.value == null ? "" : String(el.value));
}

export function isFormControl(el) {
  return /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
}
