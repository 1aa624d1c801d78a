// Form input (masked at capture), values set by script, focus and blur.

import { targetOf } from "../core/listen.js";
import { patch, setHook } from "../core/patch.js";
import { controlValue, isFormControl } from "../privacy/mask.js";

// Script writes no input event fires for (an app clearing its field after
// Enter): the setters report them, and they are sent as the user's are.
const SETTERS = [["HTMLInputElement", "value", "checked"], ["HTMLTextAreaElement", "value"],
  ["HTMLSelectElement", "value", "selectedIndex"]];

// The focused element, inside open shadow roots and same-origin frames.
function deepActive() {
  let a = document.activeElement;
  for (let n; a && (n = (a.shadowRoot || a.contentDocument || {}).activeElement) && n !== n.ownerDocument.body;) a = n;
  return a;
}

export const startInput = (ctx) => {
  // What each control last sent: a masked value does not change while a
  // visitor types, so one event says a field was filled, not how many keys.
  const sent = new WeakMap();
  const written = new Set();
  function record(el) {
    const id = el && isFormControl(el) && ctx.idOf(el);
    if (!id) return; // not recorded yet: its node record will carry the value
    const value = controlValue(el);
    const checked = el.type === "checkbox" || el.type === "radio" ? el.checked : null;
    const key = value + "\n" + checked;
    if (sent.get(el) !== key) {
      sent.set(el, key);
      ctx.emit("input", id, value, checked);
    }
  }
  // Writes are sent once the page's script has run (a field set many
  // times in a task is read once).
  function onWrite(el) {
    if (!written.size) queueMicrotask(() => { for (const w of written) record(w); written.clear(); });
    written.add(el);
  }
  // A correction (docs/forms.md): a deleting edit or typing over a selection,
  // sent once per run of them; what was edited is never read.
  let fixing = null;
  function onEdit(e) {
    const el = targetOf(e);
    const id = el && isFormControl(el) && ctx.idOf(el);
    if (!id) return;
    if (!/^delete/.test(e.inputType) && !(el.selectionStart < el.selectionEnd)) fixing = null;
    else if (fixing !== el) ctx.emit("correct", id), (fixing = el);
  }
  const onFocus = (kind) => (e) => {
    fixing = null;
    const id = ctx.idOf(targetOf(e));
    if (id) ctx.emit(kind, id);
  };
  ctx.on(document, "input", (e) => record(targetOf(e)));
  ctx.on(document, "change", (e) => record(targetOf(e)));
  ctx.on(document, "beforeinput", onEdit);
  ctx.on(document, "focusin", onFocus("focus"));
  ctx.on(document, "focusout", onFocus("blur"));
  patch(SETTERS, "control", true);
  setHook("control", onWrite);
  // Focus given before recording started shows from the first frame.
  const a = deepActive();
  const id = a !== document.body && ctx.idOf(a);
  if (id) ctx.emit("focus", id);
  return () => {
    setHook("control", null);
    written.clear();
  };
};
