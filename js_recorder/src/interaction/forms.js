// Form submit attempts and fields shown invalid, by node id: the server
// names them from the recorded DOM (label, aria-label, name, id; never
// their values; src/sessionlens/replay/element_paths.py).
//
// A submit attempt is a click on a form's submit button (Enter in a field
// clicks it too), recorded before the page or the browser's validation can
// prevent the submit (SPA forms), or a submit event without such a click.
// A field is shown invalid by a constraint-validation `invalid` event,
// aria-invalid becoming "true", or error text appearing next to it: text
// added to an alert/live region beside it, or to the element the field
// names in aria-describedby/aria-errormessage.

import { targetOf } from "../core/listen.js";

const MAX = 100;
const FIELDS = "input,select,textarea";
const REGION = "[role=alert],[aria-live]";
const TRUE = /^true$/i;

export const startForms = (ctx) => {
  const shown = new WeakMap(); // field -> {reason: attempt it was last recorded in}
  let attempts = 0;
  let count = 0;
  let clicked = null; // form whose submit button was clicked in this task

  function attempt(form) {
    attempts++;
    const invalid = [];
    for (const f of form.querySelectorAll(FIELDS + ",[aria-invalid]")) {
      if (invalid.length < 50 && ((f.willValidate && !f.validity.valid) || TRUE.test(f.getAttribute("aria-invalid")))) {
        invalid.push([ctx.idOf(f), ""]);
      }
    }
    ctx.emit("submit", ctx.idOf(form), "", invalid);
  }

  // Once per field, reason and submit attempt.
  function invalid(el, reason) {
    const s = shown.get(el) || {};
    if (count >= MAX || s[reason] === attempts) return;
    s[reason] = attempts;
    shown.set(el, s);
    count++;
    ctx.emit("invalid", ctx.idOf(el), "", reason);
  }

  // Text appeared in or under `el`: is it a field's error message?
  function errorText(el) {
    if (!el.closest) return; // a document or shadow root
    const form = el.closest("form");
    for (let e = el, i = 0; e && i < 3; e = e.parentElement, i++) {
      const id = form && e.id && CSS.escape(e.id);
      let f = id && form.querySelector('[aria-describedby~="' + id + '"],[aria-errormessage="' + id + '"]');
      if (!f && e.matches(REGION)) for (let p = e, j = 0; !f && (p = p.parentElement) && j < 2; j++) f = p.querySelector(FIELDS);
      if (f) return /\S/.test(e.textContent) && invalid(f, "error-text");
    }
  }

  // Fed by the recorder's one MutationObserver (layout/mutations.js).
  function scan(records) {
    for (const r of records) {
      const n = r.target;
      if (count >= MAX) return;
      if (r.type === "attributes") {
        if (r.attributeName === "aria-invalid" && TRUE.test(n.getAttribute("aria-invalid"))) invalid(n, "aria-invalid");
      } else if (r.type === "characterData") {
        if (/\S/.test(n.data) && n.parentElement) errorText(n.parentElement);
      } else {
        for (const a of r.addedNodes) {
          if (!/\S/.test(a.textContent)) continue;
          if (a.nodeType !== 1) errorText(n);
          else {
            const alert = a.matches("[role=alert]") ? a : a.querySelector("[role=alert]");
            errorText(alert || n);
          }
          break;
        }
      }
    }
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
  ctx.on(document, "invalid", (e) => invalid(targetOf(e), "invalid"));
  ctx.watchers.push((records) => {
    try { scan(records); } catch { /* never the page's error */ }
  });
};
