// Form submit attempts and fields shown invalid, by node id: the server
// names them from the recorded DOM (label, aria-label, name, id; never
// their values; src/sessionlens/replay/element_paths.py).
//
// A submit attempt is a click on a form's submit button (Enter in a field
// clicks it too), recorded before the page or the browser's validation can
// prevent the submit (SPA forms), or a submit event without such a click.
// A field shown invalid by a constraint-validation `invalid` event is sent
// here; aria-invalid becoming "true" and error text appearing next to a
// field are in the recorded mutations: the server finds those
// (src/sessionlens/replay/form_errors.py; meta gen 1 says so). A submit
// attempt lists the fields constraint validation finds invalid; the server
// adds those aria-invalid="true" in the recorded DOM (submit_invalid there).

import { targetOf } from "../core/listen.js";

const MAX = 100;
const FIELDS = "input,select,textarea";

export const startForms = (ctx) => {
  const shown = new WeakMap(); // field -> attempt its invalid event was last sent in
  let attempts = 0;
  let count = 0;
  let clicked = null; // form whose submit button was clicked in this task

  function attempt(form) {
    attempts++;
    const invalid = [];
    for (const f of form.querySelectorAll(FIELDS)) {
      if (invalid.length < 50 && f.willValidate && !f.validity.valid) {
        invalid.push([ctx.idOf(f), ""]);
      }
    }
    ctx.emit("submit", ctx.idOf(form), "", invalid);
  }

  ctx.on(document, "click", (e) => {
    const t = targetOf(e);
    const b = t?.closest?.("button,input");
    const form = b && (b.type === "submit" || b.type === "image") && b.form;
    if (!form) return;
    attempt(form);
    clicked = form;
    setTimeout(() => { clicked = null; });
  });
  ctx.on(document, "submit", (e) => {
    const form = targetOf(e);
    if (form !== clicked && form.nodeType === 1) attempt(form);
    clicked = null;
  });
  // Once per field and submit attempt.
  ctx.on(document, "invalid", (e) => {
    const el = targetOf(e);
    if (count >= MAX || shown.get(el) === attempts) return;
    shown.set(el, attempts);
    count++;
    ctx.emit("invalid", ctx.idOf(el), "", "invalid");
  });
};
