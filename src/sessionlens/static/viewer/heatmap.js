// The heatmap page: pick page, type, device class, widths, dates, segment,
// experiment variant and a comparison; see the map over the page with its
// legend beside it (numbers in clicks and % of page views), scroll lines as
// labels in a margin, an empty state naming the filters; click a hot spot to
// list the elements and sessions behind it and open replays at those clicks.
// Every recorded string is inserted with textContent (h(..., {text})).
import { api, h } from "./ui.js";

const app = document.getElementById("app");
const params = new URLSearchParams(location.search);
// Parameters this form edits; any other (a session-list filter such as channel=, country=) is kept as is.
const OWN = ["site", "url", "type", "device", "width", "radius", "min_width", "max_width", "from", "to", "segment",
  "experiment", "compare", "compare_from", "compare_to", "compare_experiment", "compare_segment", "view"];
const form = h("form", { class: "filters", "aria-label": "Heatmap filters" });
const sites = h("select", { name: "site" });
const segments = h("select", { name: "segment" }, h("option", { value: "", text: "all sessions" }));
const compareSegment = h("select", { name: "compare_segment" }, h("option", { value: "", text: "—" }));
const option = (v, t) => h("option", { value: v, text: t || v });
// heatmap/render.KINDS: clicks, then the frustration signals that have a place (docs/signals.md).
const TYPES = [["click", "click"], ["rage", "rage"], ["dead", "dead"], ["error", "error"], ["move", "move"],
  ["scroll", "scroll"], ["thrash", "thrashed cursor"], ["form_error", "form errors (invalid field)"],
  ["excessive_scroll", "excessive scrolling (depth)"]];
const SIGNAL_TYPES = { thrash: "thrashed-cursor episodes", form_error: "form errors", excessive_scroll: "excessive-scrolling episodes" };
const fields = [
  ["url", "Page (URL, /path or /product/*)", h("input", { name: "url", required: "" })],
  ["type", "Type", h("select", { name: "type" }, ...TYPES.map(([v, t]) => option(v, t)))],
  ["device", "Device class", h("select", { name: "device" }, option("", "auto (backdrop's)"), option("desktop"), option("tablet"), option("mobile"), option("any", "any (scaled)"))],
  ["width", "Width", h("input", { name: "width", type: "number", min: "200", max: "4000", placeholder: "1440" })],
  ["radius", "Radius px", h("input", { name: "radius", type: "number", min: "1", max: "200", placeholder: "30" })],
  ["min_width", "Viewport from px", h("input", { name: "min_width", type: "number", min: "0" })],
  ["max_width", "to px", h("input", { name: "max_width", type: "number", min: "0" })],
  ["from", "From", h("input", { name: "from", type: "date" })],
  ["to", "To", h("input", { name: "to", type: "date" })],
  ["segment", "Segment", segments],
  ["experiment", "Variant (name:variant)", h("input", { name: "experiment", placeholder: "checkout:B" })],
  ["compare", "Compare with", h("select", { name: "compare" }, option("", "nothing"), option("period", "another period"), option("variant", "another variant"), option("segment", "another segment"))],
  ["compare_from", "Compare from", h("input", { name: "compare_from", type: "date" })],
  ["compare_to", "Compare to", h("input", { name: "compare_to", type: "date" })],
  ["compare_experiment", "Compare variant", h("input", { name: "compare_experiment", placeholder: "checkout:A" })],
  ["compare_segment", "Compare segment", compareSegment],
  ["view", "Show", h("select", { name: "view" }, option("diff", "difference map"), option("side", "side by side"))],
];
const inputs = {};
form.append(h("label", {}, "Site", sites));
for (const [name, label, input] of fields) {
  inputs[name] = input;
  if (params.get(name)) input.value = params.get(name);
  form.append(h("label", { "data-field": name }, label, input));
}
if (!params.get("compare")) {
  if (params.get("compare_experiment")) inputs.compare.value = "variant";
  else if (params.get("compare_segment")) inputs.compare.value = "segment";
  else if (params.get("compare_from") || params.get("compare_to")) inputs.compare.value = "period";
}
form.append(h("button", { text: "Show" }));
function showCompareFields() {
  const mode = inputs.compare.value;
  const shown = { compare_from: mode === "period", compare_to: mode === "period", compare_experiment: mode === "variant",
    compare_segment: mode === "segment", view: mode !== "" };
  for (const [name, on] of Object.entries(shown)) form.querySelector(`[data-field=${name}]`).hidden = !on;
}
inputs.compare.addEventListener("change", showCompareFields);
showCompareFields();

const status = h("p", { class: "muted", role: "status", style: "padding:0 16px" });
const empty = h("div", { class: "heatmap-empty", role: "status", hidden: "", style: "margin:16px;padding:16px;border:1px solid #ccc;border-radius:6px;background:#fafafa" });
const links = h("p", { style: "padding:0 16px" });
const maps = h("div", { class: "heatmap-maps", style: "display:flex;gap:16px;align-items:flex-start;padding:0 16px;flex-wrap:wrap" });
const moments = h("div", { class: "moments", role: "list", "aria-label": "Moments of the page view" });
const table = h("table", { class: "sessions" });
const spot = h("div", { class: "heatmap-spot", style: "padding:0 16px", "aria-live": "polite" });
app.append(h("header", { class: "bar" }, h("a", { href: "/", text: "← Sessions" }), h("h1", { text: "Heatmaps" })),
  form, status, empty, links, moments, maps, h("div", { style: "display:grid;grid-template-columns:2fr 1fr;gap:12px" }, table, spot));

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const q = new URLSearchParams();
  for (const [k, v] of params) if (!OWN.includes(k) && k !== "pid" && k !== "at") q.append(k, v);
  const mode = inputs.compare.value;
  for (const [k, v] of new FormData(form)) {
    if (!v || k === "compare") continue;
    if (k.startsWith("compare_") || k === "view") {
      const wanted = { compare_from: "period", compare_to: "period", compare_experiment: "variant", compare_segment: "segment" }[k];
      if (k === "view" ? !mode : wanted !== mode) continue;
    }
    q.set(k, v);
  }
  location.search = q.toString();
});

api("/api/sites").then(({ sites: list }) => {
  for (const s of list) sites.append(option(s.key, s.name));
  if (params.get("site")) sites.value = params.get("site");
  loadSegments();
});
sites.addEventListener("change", loadSegments);

async function loadSegments() {
  if (!sites.value) return;
  let list = [];
  try {
    ({ segments: list } = await api("/api/segments?site=" + encodeURIComponent(sites.value)));
  } catch {
    return;
  }
  for (const select of [segments, compareSegment]) {
    select.replaceChildren(option("", select === segments ? "all sessions" : "—"));
    for (const s of list || []) select.append(option(s.id, s.name));
  }
  if (params.get("segment")) segments.value = params.get("segment");
  if (params.get("compare_segment")) compareSegment.value = params.get("compare_segment");
}

// The query the API gets: the page's, without the form-only names.
function apiQuery(extra = {}) {
  const q = new URLSearchParams(params);
  q.delete("compare");
  q.delete("view");
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q;
}

if (params.get("site") && params.get("url")) show();

async function show() {
  status.textContent = "Rendering…";
  const comparing = ["compare_from", "compare_to", "compare_experiment", "compare_segment"].some((k) => params.get(k));
  const sides = comparing && params.get("view") === "side" ? ["a", "b"] : [comparing ? "diff" : null];
  const shown = await Promise.all(sides.map((side) => mapPanel(side)));
  if (shown.every((ok) => !ok)) return;
  status.textContent = "";
  showMoments();
  const q = apiQuery().toString();
  links.replaceChildren(h("a", { href: "/api/heatmaps/image?" + q, download: "heatmap.png", text: "Download PNG" }), " · ",
    h("a", { href: "/api/heatmaps/elements?format=csv&" + q, text: "Download CSV" }), " · ",
    h("a", { href: "/api/heatmaps/elements?" + q, text: "JSON" }));
  showElements();
}

// One map: the PNG (fetched, shown from a blob: URL), its legend and scroll labels beside it.
async function mapPanel(side) {
  const q = apiQuery(side ? { side } : {});
  const image = h("img", { alt: `heatmap${side && side !== "diff" ? " " + side.toUpperCase() : ""}`, class: "heatmap-image", style: "display:block;max-width:100%;cursor:crosshair" });
  const frame = h("div", { style: "position:relative" }, image);
  const margin = h("div", { class: "heatmap-lines", style: "position:relative;width:220px;flex:none" });
  const panel = h("figure", { class: "heatmap-panel", style: "margin:0;flex:1 1 480px;min-width:0" },
    h("div", { style: "display:flex;gap:8px;align-items:flex-start" }, frame, margin));
  maps.append(panel);
  let summary;
  try {
    const r = await fetch("/api/heatmaps/image?format=json&" + q.toString(), { credentials: "same-origin" });
    const body = await r.json();
    if (!r.ok) {
      panel.remove(); // never a broken image: the message says why
      if (body.empty) showEmpty(body);
      else status.textContent = body.error || r.statusText;
      return false;
    }
    summary = body;
  } catch (e) {
    panel.remove();
    status.textContent = e.message;
    return false;
  }
  panel.append(legendBox(summary, side));
  if (!summary.counted && summary.type !== "scroll") {
    const none = SIGNAL_TYPES[summary.type] || `${summary.type === "click" ? "" : summary.type + " "}clicks`;
    panel.append(h("p", { class: "heatmap-none", role: "status", text: `No ${none} for this selection (${summary.page_views} page views): the page is shown without heat.` }));
  }
  try {
    image.src = await blobURL("/api/heatmaps/image?" + q.toString());
  } catch (e) {
    status.textContent = e.message;
    return false;
  }
  await image.decode().catch(() => {});
  placeLines(summary, image, margin);
  new ResizeObserver(() => placeLines(summary, image, margin)).observe(image);
  image.addEventListener("click", (e) => hotSpot(e, summary, image, side));
  return true;
}

function showEmpty(body) {
  const f = body.filter || {};
  const rows = [];
  for (const [k, v] of Object.entries(f)) {
    if (k === "filters" || k === "compare") continue;
    rows.push(`${k} = ${typeof v === "object" ? JSON.stringify(v) : v}`);
  }
  for (const [k, v] of f.filters || []) rows.push(`${k} = ${v}`);
  empty.replaceChildren(h("h2", { text: "No data for this selection" }),
    h("p", { text: body.error || "" }),
    h("p", { text: "Filters that produced it:" }), h("ul", {}, ...rows.map((r) => h("li", { text: r }))),
    h("p", { class: "muted", text: "Widen the dates, pick another device class or segment, or include bots." }));
  empty.hidden = false;
  status.textContent = "";
}

// The legend beside the map: its title, the ramp as a gradient, and its numbers.
function legendBox(summary, side) {
  const L = summary.legend || {};
  const ticks = L.ticks || [];
  const bar = h("div", { class: "legend-ramp", style: `height:16px;border:1px solid #888;background:linear-gradient(to right, ${(L.colours || []).join(", ")})` });
  const scale = h("div", { class: "legend-scale", style: "position:relative;height:36px;font-size:13px" });
  for (const t of ticks) {
    let label;
    if (L.type === "diverging") label = (t.difference_pp > 0 ? "+" : t.difference_pp < 0 ? "−" : "") + Math.abs(t.difference_pp).toFixed(1) + " pp";
    else if (L.type === "scroll") label = `${t.percent_of_page_views}% · ${t.page_views} views`;
    else {
      const n = t.clicks ?? t.positions ?? t.episodes ?? 0;
      label = `${n < 10 ? Number(n.toFixed(1)) : Math.round(n)}` + (t.percent_of_page_views != null ? ` · ${Number(t.percent_of_page_views.toFixed(1))}%` : "");
    }
    const align = t.position === 0 ? "left:0" : t.position === 1 ? "right:0" : `left:${t.position * 100}%;transform:translateX(-50%)`;
    scale.append(h("span", { class: "legend-tick", "data-position": String(t.position), style: `position:absolute;top:2px;${align};white-space:nowrap`, text: label }));
  }
  const what = L.type === "diverging" ? "red: more in A · white: no difference · blue: more in B"
    : L.type === "scroll" ? "% of page views that reached this depth"
    : L.unit && !L.unit.startsWith("clicks") ? `${L.unit} · % of page views` : "clicks on one spot · % of page views";
  const heading = side === "a" || side === "b" ? `${side.toUpperCase()}: ` : "";
  return h("figcaption", { class: "heatmap-legend", "data-type": L.type || "", style: "max-width:520px;margin-top:8px" },
    h("div", { style: "font-weight:600", text: heading + (L.title || "") }), bar, scale, h("div", { class: "muted", text: what }));
}

// Scroll lines as labels in the margin beside the image, at their depth, pushed apart so none overlaps.
function placeLines(summary, image, margin) {
  margin.replaceChildren();
  const lines = Object.entries(summary.lines || {});
  if (!lines.length || !image.naturalWidth) return;
  const k = image.clientWidth / image.naturalWidth;
  let below = -Infinity;
  for (const [name, y] of lines.sort(([, ya], [, yb]) => ya - yb)) {
    const top = Math.max(y * k - 11, below + 4);
    const text = name === "fold" ? `fold (${summary.device.split(",")[0]}): ${Math.round(y)} px` : `${name} of page views reached`;
    margin.append(h("div", { class: "heatmap-line-label", "data-line": name, style: `position:absolute;top:${top}px;left:0;font-size:15px;line-height:22px;padding:0 6px;border-left:3px solid ${name === "fold" ? "#000" : "#c00"};background:#fff;white-space:nowrap`, text }));
    below = top + 22;
  }
  if (summary.lines_by_device && Object.keys(summary.lines_by_device).length > 1) {
    const per = Object.entries(summary.lines_by_device).map(([d, l]) => `${d}: fold ${Math.round(l.fold)} px`).join(" · ");
    margin.append(h("div", { class: "muted", style: `position:absolute;top:${below + 8}px;font-size:13px`, text: per }));
  }
}

// A click on the map: the elements whose boxes hold that point (smallest first), and the sessions behind the first.
async function hotSpot(event, summary, image, side) {
  const k = image.naturalWidth / image.clientWidth;
  const rect = image.getBoundingClientRect();
  const x = (event.clientX - rect.left) * k;
  const y = (event.clientY - rect.top) * k - (summary.page_top || 0);
  // summary.boxes: selector -> [left, top, width, height] in page pixels.
  const boxes = Object.entries(summary.boxes || {}).map(([sel, [left, top, width, height]]) => ({ sel, left, top, width, height }));
  // Distance from the point to a box (0 inside it).
  const away = (b) => Math.hypot(Math.max(b.left - x, 0, x - b.left - b.width), Math.max(b.top - y, 0, y - b.top - b.height));
  let found = boxes.filter((b) => away(b) === 0).sort((a, b) => a.width * a.height - b.width * b.height);
  if (!found.length) {
    found = boxes.map((b) => ({ ...b, d: away(b) })).filter((b) => b.d <= 40).sort((a, b) => a.d - b.d);
  }
  const hits = found.map((b) => [b.sel, [b.left, b.top, b.width, b.height]]);
  if (!hits.length) {
    spot.replaceChildren(h("p", { class: "muted", text: "No recorded element here." }));
    return;
  }
  const list = h("ul", { class: "spot-elements" });
  for (const [selector] of hits.slice(0, 8)) {
    const button = h("button", { type: "button", class: "link", text: selector });
    button.addEventListener("click", () => showSessions(selector, side));
    list.append(h("li", {}, button));
  }
  spot.replaceChildren(h("h2", { text: "Elements here" }), list);
  await showSessions(hits[0][0], side, true);
}

async function showElements() {
  const { elements, total } = await api("/api/heatmaps/elements?" + apiQuery().toString());
  table.replaceChildren(h("thead", {}, h("tr", {}, ...["Element", "Text", "Clicks", "Share", "Rage", "Dead", "Error"].map((t) => h("th", { text: t })))));
  const body = h("tbody");
  for (const el of elements.slice(0, 50)) {
    // One row per control; the parts clicked inside it (icon, caption) in the tooltip.
    const parts = (el.inner || []).map((p) => `${p.selector}: ${p.clicks}`).join("\n");
    const row = h("tr", {}, h("td", { class: "url", title: parts ? `${el.selector}\n\nclicked inside:\n${parts}` : el.selector, text: el.selector }),
      h("td", { text: el.text || "" }), h("td", { text: String(el.clicks) }),
      h("td", { text: (el.share * 100).toFixed(1) + "%" }), h("td", { text: String(el.rage) }), h("td", { text: String(el.dead) }), h("td", { text: String(el.error) }));
    row.addEventListener("click", () => showSessions(el.selector));
    body.append(row);
  }
  table.append(body);
  status.textContent = `${total} clicks`;
}

async function showSessions(selector, side, keep) {
  const q = apiQuery(side && side !== "diff" ? { side } : {});
  q.set("selector", selector);
  for (const k of ["side", "compare_from", "compare_to", "compare_experiment", "compare_segment", "view"]) if (side !== "b") q.delete(k);
  if (side === "b") {
    // B's sessions: its own filters (the comparison's) as the query.
    for (const [k, v] of [["compare_experiment", "experiment"], ["compare_segment", "segment"], ["compare_from", "from"], ["compare_to", "to"]]) {
      if (params.get(k)) { q.set(v, params.get(k)); q.delete(k); }
    }
    q.delete("side");
  }
  const { sessions } = await api("/api/heatmaps/sessions?" + q.toString());
  const block = h("div", { class: "spot-sessions" }, h("h2", { text: `Sessions clicking ${selector}` }),
    h("ul", {}, ...sessions.map((s) => h("li", {},
      h("a", { href: s.replay, class: "replay-link", text: s.sid }), ` · ${s.clicks} click${s.clicks === 1 ? "" : "s"} · `,
      ...s.moments.slice(0, 5).flatMap((m, i) => [i ? ", " : "", h("a", { href: m.replay, text: `${(m.t / 1000).toFixed(1)} s` })])))));
  if (keep) spot.append(block);
  else spot.replaceChildren(block);
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
  const q = apiQuery();
  q.delete("at");
  for (const k of ["compare_from", "compare_to", "compare_experiment", "compare_segment"]) q.delete(k);
  let strip;
  try {
    strip = await api("/api/heatmaps/moments?" + q.toString());
  } catch {
    return; // no page view yet: the empty state says so
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
