// The player's side panes: summary, event list (grouped per page view,
// filterable by kind, with a legend), console and network. Every string
// here was recorded in a visitor's browser: it goes into the page with
// textContent only (h(..., {text})), never as HTML.
import { KINDS, kindOf } from "./kinds.js";
import { h } from "./ui.js";

const DASH = "—";
const shown = (v) => (v === null || v === undefined || v === "" ? DASH : String(v));

// -- summary -------------------------------------------------------------------
function row(dl, name, value) {
  dl.append(h("dt", { text: name }), h("dd", { text: shown(value) }));
}

function pairs(obj) {
  const keys = Object.keys(obj || {});
  return keys.length ? keys.map((k) => `${k}: ${obj[k]}`).join(", ") : null;
}

const ms = (v) => (typeof v === "number" ? `${Math.round(v)} ms` : null);
const secs = (v) => (typeof v === "number" ? `${Math.round(v / 1000)} s` : null);

export function renderSummary(box, s, fmtUrl) {
  box.replaceChildren();
  if (!s) return;
  const dl = h("dl", { class: "summary" });
  row(dl, "User", s.user_id);
  row(dl, "Traits", pairs(s.traits));
  row(dl, "Properties", pairs(s.props));
  row(dl, "Visit", s.visit_number != null ? (s.visit_number === 1 ? "1 (new visitor)" : `${s.visit_number} (returning)`) : null);
  row(dl, "Device", s.device);
  row(dl, "Browser", s.browser);
  row(dl, "OS", s.os);
  const [vw, vh] = Array.isArray(s.viewport) ? s.viewport : [];
  row(dl, "Viewport", vw != null ? `${vw}×${vh}` : null);
  row(dl, "Country", s.country);
  row(dl, "Language", s.language);
  row(dl, "Time zone", s.timezone);
  row(dl, "Referrer", s.referrer);
  row(dl, "Channel", s.channel ? s.channel.replace(/_/g, " ") : null);
  const utm = s.utm || {};
  row(dl, "UTM", pairs(Object.fromEntries(Object.entries(utm).filter(([, v]) => v))));
  row(dl, "Landing page", s.landing_url);
  row(dl, "Exit page", s.exit_url);
  row(dl, "Pages", s.page_count);
  row(dl, "Duration", secs(s.duration_ms));
  row(dl, "Active time", secs(s.active_ms));
  row(dl, "Experiments", pairs(s.experiments));
  row(dl, "Frustration score", typeof s.frustration_score === "number" ? s.frustration_score.toFixed(1) : null);
  const sig = Object.entries(s.signals || {}).filter(([, v]) => v).map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`);
  row(dl, "Signals", sig.length ? sig.join(", ") : null);
  if (s.is_bot) row(dl, "Bot", s.bot_reason || "yes");
  box.append(dl);
  const speed = h("table", { class: "speed" },
    h("thead", {}, h("tr", {}, ...["Page", "LCP", "CLS", "INP"].map((c) => h("th", { text: c })))));
  const body = h("tbody");
  for (const p of s.page_speed || []) {
    body.append(h("tr", {},
      h("td", { class: "url", title: p.url || "", text: fmtUrl(p.url) }),
      h("td", { text: shown(ms(p.lcp_ms)) }),
      h("td", { text: typeof p.cls === "number" ? p.cls.toFixed(3) : DASH }),
      h("td", { text: shown(ms(p.inp_ms)) })));
  }
  speed.append(body);
  box.append(h("h3", { text: "Page speed" }), speed);
}

// -- event list ---------------------------------------------------------------
export class EventList {
  constructor(box, { fmt, seek, onFilter }) {
    this.box = box;
    this.fmt = fmt;
    this.seek = seek;
    this.onFilter = onFilter || (() => {}); // the timeline hides what the list hides
    this.hidden = new Set();
    this.legend = h("div", { class: "legend", role: "group", "aria-label": "kinds shown" });
    this.list = h("ol", { class: "events" });
    box.append(this.legend, this.list);
    this.entries = [];
  }

  set(entries) {
    this.entries = entries;
    this.renderLegend();
    this.render();
  }

  renderLegend() {
    const present = new Set(this.entries.map((e) => e.kind));
    this.legend.replaceChildren();
    for (const [kind, info] of Object.entries(KINDS)) {
      if (!present.has(kind)) continue;
      const box = h("input", { type: "checkbox", "data-kind": kind });
      box.checked = !this.hidden.has(kind);
      box.addEventListener("change", () => {
        if (box.checked) this.hidden.delete(kind); else this.hidden.add(kind);
        this.render();
        this.onFilter();
      });
      const swatch = h("span", { class: "swatch" });
      swatch.style.background = info.colour;
      this.legend.append(h("label", { class: "kind-filter", "data-kind": kind }, box, swatch, info.name));
    }
  }

  shown(entries) {
    return entries.filter((e) => e.kind === "pageview" || !this.hidden.has(e.kind));
  }

  render() {
    this.list.replaceChildren();
    let group = null;
    for (const e of this.entries) {
      if (e.kind === "pageview") {
        group = h("ol", { class: "group-entries" });
        this.list.append(h("li", { class: "group", "data-pid": e.pid },
          h("div", { class: "group-head", title: e.detail || "", onclick: () => this.seek(e.t) },
            h("span", { class: "time", text: this.fmt(e.t) }), h("span", { class: "label", text: e.label })),
          group));
        continue;
      }
      if (this.hidden.has(e.kind)) continue;
      const dot = h("span", { class: "dot" });
      dot.style.background = kindOf(e.kind).colour;
      const li = h("li", { class: "entry", "data-kind": e.kind, "data-t": String(Math.floor(e.t)), title: e.detail || e.label, onclick: () => this.seek(e.t) },
        dot, h("span", { class: "time", text: this.fmt(e.t) }), h("span", { class: "label", text: e.label }));
      (group || this.list).append(li);
    }
  }

  // The entry at or before T is the current one.
  mark(T) {
    let last = null;
    for (const li of this.list.querySelectorAll("li.entry")) {
      li.classList.remove("current");
      if (Number(li.dataset.t) <= T) last = li;
    }
    if (last) last.classList.add("current");
  }
}

// -- console ------------------------------------------------------------------
export function renderConsole(box, items, { fmt, seek }) {
  box.replaceChildren();
  if (!items.length) {
    box.append(h("p", { class: "muted empty", text: "No console messages or errors recorded." }));
    return;
  }
  const ol = h("ol", { class: "console" });
  for (const c of items) {
    const where = c.source ? `${c.source}${c.line != null ? ":" + c.line : ""}${c.col != null ? ":" + c.col : ""}` : "";
    const li = h("li", { class: `console-entry level-${c.level}`, "data-t": String(Math.floor(c.T)), onclick: () => seek(c.T) },
      h("div", { class: "head" },
        h("span", { class: "time", text: fmt(c.T) }),
        h("span", { class: "level", text: c.uncaught ? "uncaught" : c.level }),
        h("span", { class: "message", text: c.message || "(no message)" })));
    if (where) li.append(h("div", { class: "where muted", text: where }));
    if (c.stack) li.append(h("pre", { class: "stack", text: c.stack }));
    ol.append(li);
  }
  box.append(ol);
}

// -- network ------------------------------------------------------------------
const size = (b) => (typeof b !== "number" || !b ? DASH : b < 1024 ? `${b} B` : b < 1048576 ? `${(b / 1024).toFixed(1)} kB` : `${(b / 1048576).toFixed(1)} MB`);

export function renderNetwork(box, items, { fmt, seek }) {
  box.replaceChildren();
  if (!items.length) {
    box.append(h("p", { class: "muted empty", text: "No requests recorded." }));
    return;
  }
  const table = h("table", { class: "network" },
    h("thead", {}, h("tr", {}, ...["Time", "Method", "URL", "Status", "Duration", "Size"].map((c) => h("th", { text: c })))));
  const body = h("tbody");
  for (const r of items) {
    body.append(h("tr", { class: "request" + (r.failed ? " failed" : ""), "data-t": String(Math.floor(r.T)), "data-how": r.how, onclick: () => seek(r.T) },
      h("td", { class: "time", text: fmt(r.T) }),
      h("td", { text: r.method }),
      h("td", { class: "url", title: r.url, text: r.url }),
      h("td", { class: "status", text: r.status ? String(r.status) : "failed" }),
      h("td", { text: typeof r.duration === "number" ? `${Math.round(r.duration)} ms` : DASH }),
      h("td", { text: size(r.size) })));
  }
  table.append(body);
  box.append(table);
}
