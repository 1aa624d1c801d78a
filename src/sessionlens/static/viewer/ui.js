// Small helpers shared by the viewer's pages.

export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const k in attrs || {}) {
    if (k === "text") el.textContent = attrs[k];
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), attrs[k]);
    else el.setAttribute(k, attrs[k]);
  }
  for (const kid of kids) if (kid != null) el.append(kid);
  return el;
}

// JSON from the viewer's API; a lapsed login goes back to the login page.
export async function api(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  if (r.status === 401) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    throw new Error("login");
  }
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}
