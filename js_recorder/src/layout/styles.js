// Stylesheet text: same-origin <link> rules inlined (a replay must not depend
// on the live site), CSSOM-built <style> rules, constructed sheets.

import { absoluteCss } from "./urls.js";

export function sheetText(sheet) {
  try {
    const rules = sheet.cssRules;
    let text = "";
    for (let i = 0; i < rules.length; i++) text += rules[i].cssText + "\n";
    return absoluteCss(text, sheet.href || document.baseURI);
  } catch {
    return null; // cross-origin: the link keeps its absolute href instead
  }
}

// props.css for <link rel=stylesheet> and for <style> whose rules were
// inserted through CSSOM (its text then no longer says what applies).
export function elementCss(el) {
  const tag = el.tagName;
  if (tag === "LINK" && /stylesheet/i.test(el.rel) && el.sheet) return sheetText(el.sheet);
  if (tag === "STYLE" && el.sheet && !el.textContent.trim() && el.sheet.cssRules.length) return sheetText(el.sheet);
  return null;
}

export function adoptedCss(docOrShadow) {
  const sheets = docOrShadow.adoptedStyleSheets;
  if (!sheets || !sheets.length) return null;
  return Array.from(sheets, (s) => sheetText(s) || "");
}
