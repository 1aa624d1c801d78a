// The heatmap page: pick page, type, device, dates; see the map over the
// page; pick the moment the page is shown at (a strip of thumbnails);
// download PNG/CSV; pick an element to list the sessions behind it.
import { api, h } from "./ui.js";

const app = document.getElementById("app");
const params = new URLSearchParams(location.search);
const form = h("form", { class: "filters" });
const sites = h("select", { name: "site" });
const fields = [
  ["url", "Page (URL, /path or /product/*)", h("input", { name: "url", required: "" })],
  ["type", "Type", h("select", { name: "type" }, ...["click", "rage", "dead", "error", "move", "scroll"].map((t) => h("option", { value: t, text: t })))],
  ["device", "Device", h("select", { name: "device" }, ...["", "desktop", "tablet", "mobile"].map((d) => h("option", { value: d, text: d || "any" })))],
  ["width", "Width", h("input", { name: "width", type: "number", value: "1440" })],
  ["from", "From", h("input", { name: "from", type: "date" })],
  ["to", "To", h("input", { name: "to", type: "date" })],
];
form.append(h("label", {}, "Site", sites));
for (const [name, label, input] of fields) {
  if (params.get(name)) input.value = params.get(name);
  form.append(h("label", {}, label, input));
}
form.append(h("button", { text: "Show" }));
const status = h("p", { class: "muted", style: "padding:0 16px" });
const links = h("p", { style: "padding:0 16px" });
const image = h("img", { alt: "heatmap", style: "max-width:100%;display:block;margin:0 16px" });
const moments = h("div", { class: "moments", role: "list", "aria-label": "Moments of the page view" });
const table = h("table", { class: "sessions" });
const spot = h("div", { style: "padding:0 16px" });
app.append(h("header", { class: "bar" }, h("a", { href: "/", text: "← Sessions" }), h("h1", { text: "Heatmaps" })),
  form, status, links, moments, h("div", { style: "display:grid;grid-template-columns:2fr 1fr;gap:12px" }, image, h("div", {}, table, spot)));

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
  location.search = q.toString();
});

api("/api/sites").then(({ sites: list }) => {
  for (const s of list) sites.append(h("option", { value: s.key, text: s.name }));
  if (params.get("site")) sites.value = params.get("site");
});

if (params.get("site") && params.get("url")) {
  const q = params.toString();
  status.textContent = "Rendering…";
  image.addEventListener("load", () => { status.textContent = ""; });
  image.addEventListener("error", () => { status.textContent = "No heatmap for this selection (no recorded page view matches, or a filter is wrong)."; });
  // Fetched, not <img src>: the viewer refuses cookie requests whose
  // Sec-Fetch-Dest is "image" (so recorded content cannot spend the session).
  blobURL("/api/heatmaps/image?" + q)
    .then((url) => { image.src = url; })
    .catch(() => image.dispatchEvent(new Event("error")));
  showMoments();
  links.append(h("a", { href: "/api/heatmaps/image?" + q, download: "heatmap.png", text: "Download PNG" }), " · ",
    h("a", { href: "/api/heatmaps/elements?format=csv&" + q, text: "Download CSV" }));
  api("/api/heatmaps/elements?" + q).then(({ elements, total }) => {
    table.append(h("thead", {}, h("tr", {}, ...["Element", "Text", "Clicks", "Share", "Rage", "Dead"].map((t) => h("th", { text: t })))));
    const body = h("tbody");
    for (const el of elements.slice(0, 50)) {
      // One row per control; the parts clicked inside it (icon, caption) in the tooltip.
      const parts = (el.inner || []).map((p) => `${p.selector}: ${p.clicks}`).join("\n");
      const row = h("tr", {}, h("td", { class: "url", title: parts ? `${el.selector}\n\nclicked inside:\n${parts}` : el.selector, text: el.selector }),
        h("td", { text: el.text || "" }), h("td", { text: String(el.clicks) }),
        h("td", { text: (el.share * 100).toFixed(1) + "%" }), h("td", { text: String(el.rage) }), h("td", { text: String(el.dead) }));
      row.addEventListener("click", () => showSessions(el.selector));
      body.append(row);
    }
    table.append(body);
    status.textContent = `${total} clicks`;
  }).catch((e) => { status.textContent = e.message; });
}

async function showSessions(selector) {
  const q = new URLSearchParams(params);
  q.set("selector", selector);
  const { sessions } = await api("/api/heatmaps/sessions?" + q.toString());
  spot.replaceChildren(h("h2", { text: `Sessions clicking ${selector}` }),
    h("ul", {}, ...sessions.map((s) => h("li", {}, h("a", { href: `/sessions/${encodeURIComponent(s.sid)}`, text: s.sid }), ` · ${s.clicks} clicks`))));
}

// Fetched, not <img src>: the viewer refuses cookie requests whose
// Sec-Fetch-Dest is "image" (so recorded content cannot spend the session).
async function blobURL(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  if (!r.ok) throw new Error(r.statusText);
  return URL.createObjectURL(await r.blob());
}

// The moment picker: thumbnails of candidate moments of the page view the map
// is drawn over; picking one keeps it in the link (pid, at) and redraws.
async function showMoments() {
  const q = new URLSearchParams(params);
  q.delete("at");
  let strip;
  try {
    strip = await api("/api/heatmaps/moments?" + q.toString());
  } catch {
    return; // no page view yet: the image's own message says so
  }
  const current = params.get("at") ? Number(params.get("at")) : strip.at;
  moments.replaceChildren(h("span", { class: "muted", text: "Page as shown at:" }));
  const pending = [];
  for (const m of strip.moments) {
    const img = h("img", { alt: `${(m.at / 1000).toFixed(1)} s`, width: "120" });
    const pick = h("button", { type: "button", role: "listitem", class: "moment" + (m.at === current ? " chosen" : ""),
      title: `${m.label || "moment"} at ${(m.at / 1000).toFixed(1)} s${m.default ? " (default)" : ""}`,
      "data-at": String(m.at) }, img, h("span", { text: `${(m.at / 1000).toFixed(1)} s` }));
    pick.addEventListener("click", () => {
      const next = new URLSearchParams(params);
      next.set("pid", strip.pid);
      next.set("at", String(m.at));
      location.search = next.toString();
    });
    moments.append(pick);
    pending.push([m.thumbnail, img]);
  }
  // One at a time: a thumbnail not rendered before is a browser render on the server.
  for (const [path, img] of pending) {
    try {
      img.src = await blobURL(path);
    } catch {
      img.alt = "no preview";
    }
  }
}
