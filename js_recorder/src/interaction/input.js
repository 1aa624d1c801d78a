// Form input (masked at capture), focus and blur.

import { listeners, targetOf } from "../core/listen.js";
import { controlValue, isFormControl } from "../privacy/mask.js";
import { INPUT_CHECKED, INPUT_VALUE } from "../core/wire.js";

export function createInput(ctx) {
  const l = listeners();
  // What each control last sent: a masked value does not change while a
  // visitor types, so one event says a field was filled, not how many keys.
  const sent = new WeakMap();
  function onInput(e) {
    const el = targetOf(e);
    if (!el || !isFormControl(el)) return;
    const id = ctx.idOf(el);
    if (!id) return;
    const toggle = el.type === "checkbox" || el.type === "radio";
    const event = ["input", ctx.now(), id, controlValue(el), toggle ? el.checked : null];
    const key = event[INPUT_VALUE] + "\n" + event[INPUT_CHECKED];
    if (sent.get(el) === key) return;
    sent.set(el, key);
    ctx.emit(event);
  }
  function onFocus(kind) {
    return (e) => {
      const id = ctx.idOf(targetOf(e));
      if (id) ctx.emit([kind, ctx.now(), id]);
    };
  }
  return {
    start() {
      l.on(document, "input", onInput);
      l.on(document, "change", onInput);
      l.on(document, "focusin", onFocus("focus"));
      l.on(document, "focusout", onFocus("blur"));
    },
    stop: l.off,
  };
}
