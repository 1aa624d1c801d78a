// The session list: filters in the URL (so a filtered view can be shared),
// newest first, keyset pagination.
import { api, h } from "./ui.js";

const app = document.getElementById("app");
const params = new URLSearchParams(location.search);
const FIELDS = [
  ["site", "Site", "select"], ["from", "From", "date"], ["to", "To", "date"],
  ["url", "URL contains or pattern (/product/*)", "text"], ["min_duration", "Min s", "number"],
  ["max_duration", "Max s", "number"], ["device", "Device", "select"], ["browser", "Browser", "text"],
];

const fmtDur = (ms) => {
  const s = Math.round(ms / 1000);
  return s >= 3600 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m` : `${Math.floor(s / 60)}m ${s % 60}s`;
};
async function logout() {
  const me = await api("/api/me");
  await fetch("/logout", { method: "POST", headers: { "X-CSRF-Token": me.csrf } });
  location.href = "/login";
}

const form = h("form", { class: "filters", id: "filters" });
const sitesSelect = h("select", { name: "site" }, h("option", { value: "", text: "all sites" }));
for (const [name, label, type] of FIELDS) {
  let input;
  if (name === "site") input = sitesSelect;
  else if (name === "device") {
    input = h("select", { name });
    for (const d of ["", "desktop", "tablet", "mobile"]) input.append(h("option", { value: d, text: d || "any" }));
  } else input = h("input", { name, type });
  input.value = params.get(name) || "";
  form.append(h("label", {}, label, input));
}
const errors = h("input", { type: "checkbox", name: "has_errors", value: "1" });
errors.checked = params.get("has_errors") === "1";
form.append(h("label", {}, "Has errors", errors));
for (const [name, label] of [["rage", "Rage clicks"], ["dead", "Dead clicks"], ["error_clicks", "Error clicks"]]) {
  const box = h("input", { type: "checkbox", name, value: "1" });
  box.checked = params.get(name) === "1";
  form.append(h("label", {}, label, box));
}
form.append(h("button", { text: "Filter" }));
form.addEventListener("submit", (e) => {
  e.preventDefault();
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
  location.search = q.toString();
});

const tbody = h("tbody");
const table = h("table", { class: "sessions" },
  h("thead", {}, h("tr", {}, ...["Started", "Entry page", "Pages", "Duration", "Device", "Browser", "Clicks", "Inputs", "Errors"].map((t) => h("th", { text: t })))),
  tbody);
const status = h("p", { class: "muted", style: "padding:0 16px" });
const pager = h("div", { class: "pager" });
app.append(h("header", { class: "bar" }, h("h1", { text: "Sessions" }), h("a", { href: "/heatmaps", text: "Heatmaps" }), h("span", { class: "spacer" }),
  h("button", { text: "Log out", onclick: logout })), form, status, table, pager);

api("/api/sites").then(({ sites }) => {
  for (const s of sites) sitesSelect.append(h("option", { value: s.key, text: s.name }));
  sitesSelect.value = params.get("site") || "";
});

const query = new URLSearchParams(params);
api("/api/sessions?" + query.toString()).then(({ sessions, next }) => {
  status.textContent = sessions.length ? "" : "No sessions match these filters yet.";
  for (const s of sessions) {
    const href = `/sessions/${encodeURIComponent(s.sid)}?site=${encodeURIComponent(s.site)}`;
    const row = h("tr", { "data-sid": s.sid },
      h("td", { text: new Date(s.start_time).toLocaleString() }),
      h("td", { class: "url", title: s.entry_url || "" }, h("a", { href, text: s.entry_url || "(no URL)" })),
      h("td", { text: String(s.page_count) }), h("td", { text: fmtDur(s.duration_ms) }),
      h("td", { text: s.device || "" }), h("td", { text: `${s.browser || ""} · ${s.os || ""}` }),
      h("td", { text: String(s.clicks) }), h("td", { text: String(s.inputs) }),
      h("td", { class: s.errors ? "error" : "", text: String(s.errors) }));
    row.addEventListener("click", (e) => { if (e.target.tagName !== "A") location.href = href; });
    tbody.append(row);
  }
  if (params.get("before")) pager.append(h("a", { href: "?" + (() => { const q = new URLSearchParams(params); q.delete("before"); return q; })(), text: "« Newest" }));
  if (next) {
    const q = new URLSearchParams(params);
    q.set("before", next);
    pager.append(h("a", { href: "?" + q.toString(), text: "Older »" }));
  }
}).catch((e) => { status.textContent = e.message; status.className = "error"; });

