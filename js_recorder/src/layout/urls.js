// Recorded URLs are made absolute so a replay does not depend on where the
// viewer runs.

const URL_ATTRS = /^(src|(xlink:)?href|(form)?action|poster|background|data)$/;

export function absolute(url, base) {
  if (!url || /^(data|blob|javascript|about|mailto|tel):/i.test(url) || url[0] === "#") return url;
  try { return new URL(url, base || document.baseURI).href; } catch { return url; }
}

export function absoluteCss(css, base) {
  return css.replace(/url\(\s*(['"]?)([^'")]+)\1\s*\)/g, (m, q, u) => "url(" + q + absolute(u.trim(), base) + q + ")");
}

export function absoluteAttr(name, value, base) {
  if (URL_ATTRS.test(name)) return absolute(value.trim(), base);
  if (name === "srcset") {
    return value.split(",").map((part) => {
      const bits = part.trim().split(/\s+/);
      bits[0] = absolute(bits[0], base);
      return bits.join(" ");
    }).join(", ");
  }
  if (name === "style") return absoluteCss(value, base);
  return value;
}
