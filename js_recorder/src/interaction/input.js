// Form input (masked at capture), values set by script, focus and blur.

import { listeners, targetOf } from "../core/listen.js";
import { patch, setHook } from "../core/patch.js";
import { controlValue, isFormControl } from "../privacy/mask.js";
import { INPUT_CHECKED, INPUT_VALUE } from "../core/wire.js";

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

export function createInput(ctx) {
  const l = listeners();
  // What each control last sent: a masked value does not change while a
  // visitor types, so one event says a field was filled, not how many keys.
  const sent = new WeakMap();
  const written = new Set();
  function record(el) {
    if (!el || !isFormControl(el)) return;
    const id = ctx.idOf(el);
    if (!id) return; // not recorded yet: its node record will carry the value
    const toggle = el.type === "checkbox" || el.type === "radio";
    const event = ["input", ctx.now(), id, controlValue(el), toggle ? el.checked : null];
    const key = event[INPUT_VALUE] + "\n" + event[INPUT_CHECKED];
    if (sent.get(el) === key) return;
    sent.set(el, key);
    ctx.emit(event);
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
    else if (fixing !== el) ctx.emit(["correct", ctx.now(), id]), (fixing = el);
  }
  function onFocus(kind) {
    return (e) => {
      fixing = null;
      const id = ctx.idOf(targetOf(e));
      if (id) ctx.emit([kind, ctx.now(), id]);
    };
  }
  return {
    start() {
      l.on(document, "input", (e) => record(targetOf(e)));
      l.on(document, "change", (e) => record(targetOf(e)));
      l.on(document, "beforeinput", onEdit);
      l.on(document, "focusin", onFocus("focus"));
      l.on(document, "focusout", onFocus("blur"));
      patch(SETTERS, "control", true);
      setHook("control", onWrite);
      // Focus given before recording started shows from the first frame.
      const a = deepActive();
      if (a && a !== document.body && ctx.idOf(a)) ctx.emit(["focus", ctx.now(), ctx.idOf(a)]);
    },
    stop() {
      setHook("control", null);
      written.clear();
      l.off();
    },
  };
}
