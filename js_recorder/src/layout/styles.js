// Stylesheet text: same-origin <link> rules inlined (a replay must not depend
// on the live site), CSSOM-built <style> rules, constructed sheets.
//
// The sheet's own text is preferred to its CSSOM serialisation: cssText
// rewrites some declarations wrongly (a second background layer's size and
// position are folded into the first). Linked sheets' text is fetched
// through the HTTP cache before the snapshot; a sheet changed through the
// CSSOM (insertRule, deleteRule...) is serialised from the CSSOM, which is
// then the only place that says what applies.

import { patch, setHook } from "../core/patch.js";

const FETCH_WAIT_MS = 300;
const MAX_FETCHES = 40;
const texts = new Map(); // href -> the sheet's text as served
const edited = new WeakSet(); // sheets changed through the CSSOM

export function isEdited(sheet) {
  return !!sheet && edited.has(sheet);
}

// Marks sheets edited from now on; `onEdit(ownerNode)` is told of edits
// (the recorder re-sends the owning <style> or <link>).
export function watchSheets(onEdit) {
  patch([["CSSStyleSheet", "insertRule", "deleteRule"]], "sheet");
  setHook("sheet", (s) => {
    edited.add(s);
    if (onEdit && s.ownerNode) onEdit(s.ownerNode);
  });
}

// Fetches the text of linked sheets the page may read (same origin, or
// CORS with a crossorigin attribute) through the browser's cache, loaded or
// still loading; resolves when all are in or after FETCH_WAIT_MS, never
// failing. Sheets not fetched in time fall back to the CSSOM.
export function fetchSheetTexts(doc) {
  const jobs = [];
  for (const link of doc.querySelectorAll("link[rel~=stylesheet i][href]")) {
    const href = link.href;
    if (jobs.length >= MAX_FETCHES || (!href.startsWith(location.origin + "/") && link.crossOrigin == null)) continue;
    jobs.push(fetch(href, { cache: "force-cache" }).then((r) => r.ok && r.text()).then((t) => t && texts.set(href, t), () => {}));
  }
  return Promise.race([Promise.all(jobs), new Promise((r) => setTimeout(r, FETCH_WAIT_MS))]);
}

export function sheetText(sheet) {
  try {
    const rules = sheet.cssRules;
    let text = !edited.has(sheet) && texts.get(sheet.href);
    if (!text) {
      text = "";
      for (const r of rules) text += r.cssText + "\n";
    }
    // Relative url()s stay as written: the server resolves them against the
    // link's href or the document's base (replay/recorded_urls.py).
    return text;
  } catch {
    return null; // cross-origin: the replay loads the link by its href instead
  }
}

// props.css for <link rel=stylesheet> and for <style> whose rules were
// inserted or changed through CSSOM (its text then no longer says what applies).
export function elementCss(el) {
  const tag = el.tagName;
  const sheet = el.sheet;
  if (tag === "LINK" && /stylesheet/i.test(el.rel) && sheet) return sheetText(sheet);
  if (tag === "STYLE" && sheet && (edited.has(sheet) || (!el.textContent.trim() && sheet.cssRules.length))) return sheetText(sheet);
  return null;
}

export function adoptedCss(docOrShadow) {
  const sheets = docOrShadow.adoptedStyleSheets;
  if (!sheets || !sheets.length) return null;
  return Array.from(sheets, (s) => sheetText(s) || "");
}
