// The session list: filters in the URL (so a filtered view can be shared), a count before the
// list, sorting with keyset pagination, saved segments shared by every viewer user.
import { api, h } from "./ui.js";

const app = document.getElementById("app");
const params = new URLSearchParams(location.search);
const CHANNELS = ["direct", "organic_search", "paid_search", "social", "email", "referral", "internal", "display", "affiliate", "other"];
// [name, label, type, options]. Names ending in "+" may be given several times (one input per value).
const MAIN = [
  ["site", "Site", "select"], ["from", "From", "date"], ["to", "To", "date"],
  ["visited+", "Visited URL (text or /pattern/*)", "text"], ["device", "Device", "select", ["", "desktop", "tablet", "mobile"]],
  ["channel", "Channel", "select", ["", ...CHANNELS]], ["country", "Country", "text"],
  ["visitor", "Visitor", "select", ["", "new", "returning"]], ["user", "User id", "text"],
];
const MORE = [
  ["not_visited+", "Did not visit", "text"], ["landing", "Landing page", "text"], ["exit", "Exit page", "text"],
  ["referrer", "Referrer contains", "text"], ["utm_source", "utm_source", "text"], ["utm_medium", "utm_medium", "text"],
  ["utm_campaign", "utm_campaign", "text"], ["utm_term", "utm_term", "text"], ["utm_content", "utm_content", "text"],
  ["language", "Language (de, en-US)", "text"], ["timezone", "Time zone", "text"], ["browser", "Browser", "text"],
  ["event+", "Custom event", "text"], ["event_prop+", "Event property (event.key:value)", "text"],
  ["clicked+", "Clicked text", "text"], ["trait+", "Trait (key:value)", "text"], ["prop+", "Property (key:value)", "text"],
  ["experiment+", "Experiment (name or name:variant)", "text"], ["note+", "Note contains", "text"],
  ["min_duration", "Min duration s", "number"], ["max_duration", "Max duration s", "number"],
  ["min_active", "Min active s", "number"], ["max_active", "Max active s", "number"],
  ["min_pages", "Min pages", "number"], ["max_pages", "Max pages", "number"],
  ["min_visits", "Min visit #", "number"], ["max_visits", "Max visit #", "number"],
  ["min_frustration", "Min frustration score", "number"], ["lcp_over", "LCP over ms", "number"],
];
const SIGNALS = [["rage", "Rage clicks"], ["dead", "Dead clicks"], ["error_clicks", "Error clicks"], ["quick_back", "Quick back"],
  ["excessive_scroll", "Excessive scrolling"], ["thrash", "Thrashed cursor"], ["form_error", "Form errors"], ["has_errors", "JS errors"]];
// Session row column -> short badge label (a signal count shown when above zero).
const BADGES = [["rage_clicks", "rage"], ["dead_clicks", "dead"], ["error_clicks", "error click"], ["quick_backs", "quick back"],
  ["excessive_scrolls", "scrolling"], ["thrashes", "thrash"], ["form_errors", "form error"]];

const fmtDur = (ms) => {
  const s = Math.round((ms || 0) / 1000);
  return s >= 3600 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m` : `${Math.floor(s / 60)}m ${s % 60}s`;
};
let csrf = null;
const me = () => csrf ? Promise.resolve(csrf) : api("/api/me").then((m) => (csrf = m.csrf));
async function send(method, path, body) {
  const r = await fetch(path, { method, credentials: "same-origin", headers: { "Content-Type": "application/json", "X-CSRF-Token": await me() },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const answer = r.status === 204 ? {} : await r.json();
  if (!r.ok) throw new Error(answer.error || r.statusText);
  return answer;
}
async function logout() {
  await fetch("/logout", { method: "POST", headers: { "X-CSRF-Token": await me() } });
  location.href = "/login";
}

const form = h("form", { class: "filters", id: "filters" });
const sitesSelect = h("select", { name: "site" }, h("option", { value: "", text: "all sites" }));
function field(parent, [spec, label, type, options]) {
  const repeat = spec.endsWith("+"), name = repeat ? spec.slice(0, -1) : spec;
  const values = name === "visited" ? [...params.getAll("url"), ...params.getAll("visited")] : params.getAll(name);
  const make = (value) => {
    let input;
    if (name === "site") input = sitesSelect;
    else if (type === "select") {
      input = h("select", { name });
      for (const o of options) input.append(h("option", { value: o, text: o ? o.replace("_", " ") : "any" }));
    } else input = h("input", { name, type });
    if (type === "number") input.step = "any";
    input.value = value || "";
    return input;
  };
  const box = h("label", { "data-filter": name }, label);
  for (const v of repeat ? [...values, ""] : [values[0] || ""]) box.append(make(v));
  parent.append(box);
}
for (const f of MAIN) field(form, f);
const more = h("details", { class: "more-filters" }, h("summary", { text: "More filters" }));
const moreBox = h("div", { class: "filters" });
for (const f of MORE) field(moreBox, f);
for (const [name, label] of SIGNALS) {
  const box = h("input", { type: "checkbox", name, value: "1" });
  box.checked = params.get(name) === "1";
  moreBox.append(h("label", { class: "check" }, box, label));
}
more.append(moreBox);
if (MORE.some(([spec]) => params.has(spec.replace("+", ""))) || SIGNALS.some(([n]) => params.has(n))) more.open = true;
const bots = h("select", { name: "bots" }, ...[["exclude", "hide bots"], ["include", "with bots"], ["only", "bots only"]]
  .map(([v, t]) => h("option", { value: v, text: t })));
bots.value = params.get("bots") || "exclude";
const sort = h("select", { name: "sort" }, ...[["start", "Start"], ["duration", "Duration"], ["active", "Active time"], ["frustration", "Frustration"]]
  .map(([v, t]) => h("option", { value: v, text: t })));
sort.value = params.get("sort") || "start";
const order = h("select", { name: "order" }, h("option", { value: "desc", text: "↓ high/new first" }), h("option", { value: "asc", text: "↑ low/old first" }));
order.value = params.get("order") || "desc";
form.append(h("label", {}, "Bots", bots), h("label", {}, "Sort by", sort), h("label", {}, "Order", order),
  h("button", { text: "Filter" }), more);
function formQuery() {
  const q = new URLSearchParams();
  // Filters the form has no field for (e.g. from a shared link) are kept as they are.
  const named = new Set([...form.elements].map((el) => el.name).concat(["url", "cursor", "before"]));
  for (const [k, v] of params) if (!named.has(k)) q.append(k, v);
  for (const [k, v] of new FormData(form)) {
    if (!v || (k === "bots" && v === "exclude") || (k === "sort" && v === "start") || (k === "order" && v === "desc")) continue;
    q.append(k, v);
  }
  return q;
}
form.addEventListener("submit", (e) => { e.preventDefault(); location.search = formQuery().toString(); });

// Saved segments: pick one to apply its filters; save the current filters under a name.
const segSelect = h("select", { "aria-label": "Saved segments", id: "segments" }, h("option", { value: "", text: "Saved segments…" }));
const segNote = h("span", { class: "muted" });
let segments = [];
async function loadSegments() {
  segments = (await api("/api/segments")).segments;
  segSelect.replaceChildren(h("option", { value: "", text: "Saved segments…" }),
    ...segments.map((s) => h("option", { value: s.id, text: `${s.name} (${s.site})` })));
  const current = segments.find((s) => `site=${s.site}${s.query ? "&" + s.query : ""}` === currentQuery());
  segSelect.value = current ? current.id : "";
}
function currentQuery() { const q = new URLSearchParams(params); q.delete("cursor"); q.delete("before"); return decodeURIComponent(q.toString()); }
segSelect.addEventListener("change", () => {
  const s = segments.find((x) => x.id === segSelect.value);
  if (s) location.search = `site=${encodeURIComponent(s.site)}${s.query ? "&" + s.query : ""}`;
});
const guard = (fn) => async () => { try { segNote.textContent = ""; await fn(); } catch (e) { segNote.textContent = e.message; segNote.className = "error"; } };
const saveSeg = h("button", { type: "button", text: "Save as segment", onclick: guard(async () => {
  const q = formQuery(), site = q.get("site");
  if (!site) throw new Error("choose a site first: a segment belongs to one site");
  const name = prompt("Name of this segment (shared with every viewer user)");
  if (!name) return;
  q.delete("site");
  const made = await send("POST", "/api/segments", { name, site, query: q.toString() });
  await loadSegments();
  segSelect.value = made.id;
  segNote.textContent = `Saved “${made.name}”.`; segNote.className = "muted";
}) });
const renameSeg = h("button", { type: "button", text: "Rename", onclick: guard(async () => {
  const s = segments.find((x) => x.id === segSelect.value);
  if (!s) throw new Error("pick a segment to rename");
  const name = prompt("New name", s.name);
  if (!name) return;
  await send("PATCH", `/api/segments/${encodeURIComponent(s.id)}`, { name, version: s.version });
  await loadSegments();
  segSelect.value = s.id;
}) });
const deleteSeg = h("button", { type: "button", text: "Delete", onclick: guard(async () => {
  const s = segments.find((x) => x.id === segSelect.value);
  if (!s) throw new Error("pick a segment to delete");
  if (!confirm(`Delete the segment “${s.name}” for everyone?`)) return;
  await send("DELETE", `/api/segments/${encodeURIComponent(s.id)}`);
  await loadSegments();
}) });
const segBar = h("div", { class: "segments" }, segSelect, saveSeg, renameSeg, deleteSeg, segNote);

const tbody = h("tbody");
const HEAD = ["Started", "Entry page", "Channel", "Country", "User", "Visit", "Pages", "Duration", "Active", "Device", "Browser",
  "Frustration", "Experiments", "Errors"];
const table = h("table", { class: "sessions" }, h("thead", {}, h("tr", {}, ...HEAD.map((t) => h("th", { text: t })))), tbody);
const count = h("p", { class: "count", id: "count" });
const status = h("p", { class: "muted", style: "padding:0 16px" });
const pager = h("div", { class: "pager" });
app.append(h("header", { class: "bar" }, h("h1", { text: "Sessions" }), h("a", { href: "/heatmaps", text: "Heatmaps" }), h("a", { href: "/surveys", text: "Surveys" }), h("span", { class: "spacer" }),
  h("button", { text: "Log out", onclick: logout })), segBar, form, count, status, table, pager);

api("/api/sites").then(({ sites }) => {
  for (const s of sites) sitesSelect.append(h("option", { value: s.key, text: s.name }));
  sitesSelect.value = params.get("site") || "";
});
loadSegments().catch((e) => { segNote.textContent = e.message; });

function frustration(s) {
  const cell = h("td", { class: "frustration" });
  cell.append(h("span", { class: "score", text: (s.frustration_score || 0).toFixed(1) }));
  for (const [column, label] of BADGES) {
    if (s[column] > 0) cell.append(h("span", { class: "badge", title: `${s[column]} ${label}`, text: s[column] > 1 ? `${label} ×${s[column]}` : label }));
  }
  return cell;
}
function visit(s) {
  if (s.visit_number == null) return "";
  return s.visit_number === 1 ? "new" : `returning (#${s.visit_number})`;
}

api("/api/sessions?" + new URLSearchParams(params).toString()).then(({ sessions, next, total, total_capped }) => {
  // The count comes with the first page only (later pages skip its scan).
  count.textContent = total == null ? "" : `${total.toLocaleString()}${total_capped ? "+" : ""} session${total === 1 && !total_capped ? "" : "s"} match`;
  status.textContent = sessions.length ? "" : "No sessions match these filters yet.";
  for (const s of sessions) {
    const href = `/sessions/${encodeURIComponent(s.sid)}?site=${encodeURIComponent(s.site)}`;
    const experiments = Object.entries(s.experiments || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
    const row = h("tr", { "data-sid": s.sid, class: s.is_bot ? "bot" : "" },
      h("td", { text: new Date(s.start_time).toLocaleString() }),
      h("td", { class: "url", title: s.entry_url || "" }, h("a", { href, text: s.entry_url || "(no URL)" })),
      h("td", { text: (s.channel || "").replace("_", " ") }), h("td", { text: s.country || "" }),
      h("td", { class: "user", title: s.user_id || "", text: s.user_id || "" }), h("td", { text: visit(s) }),
      h("td", { text: String(s.page_count) }), h("td", { text: fmtDur(s.duration_ms) }), h("td", { text: fmtDur(s.active_ms) }),
      h("td", { text: (s.device || "") + (s.is_bot ? " · bot" : "") }), h("td", { text: `${s.browser || ""} · ${s.os || ""}` }),
      frustration(s), h("td", { class: "experiments", title: experiments, text: experiments }),
      h("td", { class: s.errors ? "error" : "", text: String(s.errors) }));
    row.addEventListener("click", (e) => { if (e.target.tagName !== "A") location.href = href; });
    tbody.append(row);
  }
  if (params.get("cursor") || params.get("before")) {
    const q = new URLSearchParams(params); q.delete("cursor"); q.delete("before");
    pager.append(h("a", { href: "?" + q.toString(), text: "« First page" }));
  }
  if (next) {
    const q = new URLSearchParams(params); q.delete("before"); q.set("cursor", next);
    pager.append(h("a", { href: "?" + q.toString(), text: "Next page »" }));
  }
}).catch((e) => { status.textContent = e.message; status.className = "error"; });
