// A CSS path to an element that survives re-renders: ids without digits,
// tag plus classes that do not look generated or stateful, nth-of-type
// where siblings share a tag. Heatmaps match clicks to elements by it.

const STATEFUL = /^(is-|has-)?(active|hover|focus|focused|open|opened|selected|current|disabled|visible|hidden|show|shown|expanded|collapsed|checked)$/;

function stableClasses(el) {
  const out = [];
  for (const c of el.classList) {
    if (out.length === 2) break;
    if (c.length < 40 && !/\d/.test(c) && !STATEFUL.test(c) && !/^(css|sc|jsx|svelte|emotion)-/.test(c)) out.push(c);
  }
  return out;
}

export function stableSelector(el) {
  const parts = [];
  for (let e = el; e && e.nodeType === 1 && parts.length < 10; e = e.parentElement) {
    const tag = e.localName;
    if (e.id && !/\d/.test(e.id) && e.ownerDocument.querySelectorAll("#" + CSS.escape(e.id)).length === 1) {
      parts.unshift("#" + CSS.escape(e.id));
      break;
    }
    if (tag === "body" || tag === "html") {
      parts.unshift(tag);
      break;
    }
    let part = tag + stableClasses(e).map((c) => "." + CSS.escape(c)).join("");
    const parent = e.parentElement;
    if (parent) {
      let n = 0;
      let index = 0;
      for (const s of parent.children) {
        if (s.localName === tag) {
          n++;
          if (s === e) index = n;
        }
      }
      if (n > 1) part += ":nth-of-type(" + index + ")";
    }
    parts.unshift(part);
  }
  return parts.join(">").slice(0, 4096);
}
