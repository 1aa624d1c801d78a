// The /funnels page: build a funnel's steps, run it, see a bar per step with its numbers,
// the breakdown side by side with the difference's 95 % interval, and the sessions that
// dropped or converted at each step, each linking to its replay at that moment.
// Every text from the API (step titles, segment values, URLs) goes in with textContent (h's text).
import { api, h } from "./ui.js";
import { send } from "./notes.js";

const app = document.getElementById("app");
const TYPES = { url: "Viewed URL", click: "Clicked", event: "Custom event", submit: "Submitted form" };
const BY = ["", "device", "browser", "os", "channel", "country", "language", "visitor", "utm_source", "utm_medium",
  "utm_campaign", "experiment:", "trait:", "prop:"];
const state = { definition: null, saved: null };

const pct = (x) => (x == null ? "—" : `${(100 * x).toFixed(1)}%`);
const dur = (ms) => (ms == null ? "—" : ms < 120000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60000).toFixed(1)} min`);
const count = (n, what) => `${n} ${what}${n === 1 ? "" : "s"}`;
const pp = (x) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)} pp`;

function stepRow(step = { type: "url" }) {
  const type = h("select", { "aria-label": "Step type", class: "sl-funnel-type" },
    ...Object.entries(TYPES).map(([k, v]) => h("option", { value: k, text: v })));
  type.value = step.type;
  const what = h("select", { "aria-label": "Match by", class: "sl-funnel-what" },
    h("option", { value: "text", text: "text contains" }), h("option", { value: "selector", text: "element path" }));
  what.value = step.selector != null ? "selector" : "text";
  const value = h("input", { class: "sl-funnel-value", "aria-label": "Step value", size: "30" });
  value.value = step.pattern ?? step.text ?? step.selector ?? step.name ?? step.form ?? "";
  const props = h("input", { class: "sl-funnel-props", "aria-label": "Event properties (key=value&...)", placeholder: "key=value&…", size: "18" });
  props.value = step.props ? new URLSearchParams(step.props).toString() : "";
  const valid = h("input", { type: "checkbox", class: "sl-funnel-valid", "aria-label": "Only without validation errors" });
  valid.checked = !!step.valid;
  const validLabel = h("label", {}, valid, " without errors");
  const row = h("li", { class: "sl-funnel-step" }, type, what, value, props, validLabel,
    h("button", { type: "button", text: "Remove", onclick: () => row.remove() }));
  const sync = () => {
    what.hidden = type.value !== "click";
    props.hidden = type.value !== "event";
    validLabel.hidden = type.value !== "submit";
    value.placeholder = { url: "/cart*", click: "Checkout", event: "purchase", submit: "form name (empty: any)" }[type.value];
  };
  type.addEventListener("change", sync);
  sync();
  row.read = () => {
    const t = type.value, v = value.value;
    if (t === "url") return { type: t, pattern: v };
    if (t === "click") return { type: t, [what.value]: v };
    if (t === "event") {
      const s = { type: t, name: v };
      if (props.value.trim()) s.props = Object.fromEntries(new URLSearchParams(props.value));
      return s;
    }
    const s = { type: t };
    if (v) s.form = v;
    if (valid.checked) s.valid = true;
    return s;
  };
  return row;
}

function form(sites) {
  const site = h("select", { "aria-label": "Site", id: "funnel-site" }, ...sites.map((s) => h("option", { value: s.key, text: s.name || s.key })));
  const name = h("input", { "aria-label": "Funnel name", placeholder: "Funnel name (to save)", id: "funnel-name" });
  const steps = h("ol", { class: "sl-funnel-steps", id: "funnel-steps" }, stepRow({ type: "url" }), stepRow({ type: "click" }));
  const per = h("select", { "aria-label": "Count per", id: "funnel-per" }, h("option", { value: "session", text: "per session" }), h("option", { value: "visitor", text: "per visitor" }));
  const windowInput = h("input", { "aria-label": "Conversion window", placeholder: "window: 30m, 1h, 7d", size: "14", id: "funnel-window" });
  const by = h("select", { "aria-label": "Breakdown", id: "funnel-by" }, ...BY.map((b) => h("option", { value: b, text: b ? `by ${b}` : "no breakdown" })));
  const byKey = h("input", { "aria-label": "Breakdown name", placeholder: "name (e.g. checkout)", size: "14", hidden: "" });
  by.addEventListener("change", () => (byKey.hidden = !by.value.endsWith(":")));
  const filters = h("input", { "aria-label": "Session filters", placeholder: "session filters: device=mobile&channel=email", size: "40", id: "funnel-filters" });
  const status = h("p", { role: "status", class: "sl-funnel-status" });
  const read = () => ({
    site: site.value,
    name: name.value,
    steps: [...steps.children].map((li) => li.read()),
    per: per.value,
    window: windowInput.value || null,
    by: by.value ? (by.value.endsWith(":") ? by.value + byKey.value : by.value) : null,
    filters: filters.value,
  });
  const fill = (d) => {
    site.value = d.site;
    name.value = d.name || "";
    steps.replaceChildren(...d.steps.map(stepRow));
    per.value = d.per || "session";
    windowInput.value = d.window ?? "";
    const [field, key] = (d.by || "").split(/:(.*)/s);
    by.value = key !== undefined ? field + ":" : field || "";
    byKey.hidden = key === undefined;
    byKey.value = key || "";
    filters.value = new URLSearchParams(d.filters || []).toString();
  };
  const run = async () => {
    status.textContent = "Counting…";
    try {
      state.definition = read();
      const r = await send("POST", "/api/funnels/query", state.definition);
      status.textContent = "";
      results.replaceChildren(...renderResults(r));
    } catch (e) {
      status.textContent = e.message;
    }
  };
  const save = async () => {
    try {
      const d = read();
      const doc = state.saved && state.saved.site === d.site
        ? await send("PATCH", `/api/funnels/${encodeURIComponent(state.saved.id)}`, { ...d, site: undefined, version: state.saved.version })
        : await send("POST", "/api/funnels", d);
      state.saved = doc;
      status.textContent = `Saved "${doc.name}".`;
      await listSaved();
    } catch (e) {
      status.textContent = e.message;
    }
  };
  const savedList = h("ul", { class: "sl-funnel-saved", id: "funnel-saved" });
  const listSaved = async () => {
    const body = await api("/api/funnels");
    savedList.replaceChildren(...body.funnels.map((f) => h("li", {},
      h("button", { type: "button", text: f.name, onclick: () => { state.saved = f; fill(f.definition); run(); } }),
      h("button", { type: "button", text: "Delete", "aria-label": `Delete ${f.name}`, onclick: async () => {
        await send("DELETE", `/api/funnels/${encodeURIComponent(f.id)}`);
        if (state.saved && state.saved.id === f.id) state.saved = null;
        await listSaved();
      } }))));
  };
  const results = h("div", { class: "sl-funnel-results", id: "funnel-results" });
  const box = h("section", { class: "sl-funnel-form" },
    h("div", {}, site, name),
    steps,
    h("button", { type: "button", text: "Add step", onclick: () => steps.append(stepRow()) }),
    h("div", {}, per, windowInput, by, byKey),
    h("div", {}, filters),
    h("div", {}, h("button", { type: "button", id: "funnel-run", text: "Run", onclick: run }), h("button", { type: "button", text: "Save", onclick: save })),
    status);
  listSaved().catch((e) => (status.textContent = e.message));
  return [h("h2", { text: "Saved funnels" }), savedList, box, results];
}

function bars(steps) {
  const first = steps[0]?.entered || 0;
  return h("ol", { class: "sl-funnel-bars" }, ...steps.map((s) => {
    const width = first ? (100 * s.entered) / first : 0;
    const list = h("div", { class: "sl-funnel-list" });
    // Styles through the CSSOM (the viewer's CSP refuses style attributes).
    const fill = h("div", { class: "sl-funnel-fill" });
    Object.assign(fill.style, { width: `${width.toFixed(2)}%`, height: "100%", background: "#3b6fd8" });
    const track = h("div", { class: "sl-funnel-track" }, fill);
    Object.assign(track.style, { height: "1.2em", background: "#e6e9ef", maxWidth: "40em" });
    return h("li", { class: "sl-funnel-bar", "data-step": String(s.step) },
      h("div", { class: "sl-funnel-title", text: `${s.step}. ${s.title}` }),
      track,
      h("div", { class: "sl-funnel-numbers", text:
        `${s.entered} entered · ${s.converted} converted · ${s.dropped} dropped · ${pct(s.conversion_from_previous)} from previous · ` +
        `${pct(s.conversion_from_first)} from first · median ${dur(s.median_ms_to_next)}, p90 ${dur(s.p90_ms_to_next)} to next` }),
      h("button", { type: "button", class: "sl-funnel-dropped", text: `Dropped here (${s.dropped})`, onclick: () => sessions(s.step, "dropped", list, 0) }),
      h("button", { type: "button", class: "sl-funnel-converted", text: `Converted (${s.converted})`, onclick: () => sessions(s.step, "converted", list, 0) }),
      list);
  }));
}

async function sessions(step, outcome, box, offset) {
  try {
    const r = await send("POST", "/api/funnels/query/sessions", { definition: state.definition, step, outcome, limit: 25, offset });
    const rows = r.sessions.map((s) => h("li", {},
      h("a", { href: s.link, text: `${new Date(s.at).toLocaleString()} · reached step ${s.reached}` }),
      h("span", { text: ` ${s.session.device || ""} ${s.session.channel || ""} ${s.session.entry_url || ""}` })));
    const more = r.next != null ? h("button", { type: "button", text: "More", onclick: () => sessions(step, outcome, box, r.next) }) : null;
    box.replaceChildren(h("p", { text: `${count(r.total, "session")} ${outcome} at step ${step}` }), h("ul", { class: "sl-funnel-sessions" }, ...rows), more);
  } catch (e) {
    box.replaceChildren(h("p", { role: "alert", text: e.message }));
  }
}

function breakdown(b) {
  const n = b.segments[0]?.steps.length || 0;
  const head = h("tr", {}, h("th", { text: b.by }), ...Array.from({ length: n }, (_, i) => h("th", { text: `Step ${i + 1}` })),
    h("th", { text: "Conversion" }), h("th", { text: `Difference vs ${b.baseline} (95% CI)` }));
  const rows = b.segments.map((seg) => {
    const d = seg.difference;
    return h("tr", {}, h("th", { scope: "row", text: seg.value }),
      ...seg.steps.map((s) => h("td", { text: `${s.entered} (${pct(s.conversion_from_first)})` })),
      h("td", { text: pct(seg.conversion) }),
      h("td", { text: d ? `${pp(d.value)} [${pp(d.low)}, ${pp(d.high)}]` : "baseline" }));
  });
  return h("table", { class: "sl-funnel-breakdown", id: "funnel-breakdown" },
    h("caption", { text: `By ${b.by}: intervals are ${b.method} (docs/funnels.md)` }), h("thead", {}, head), h("tbody", {}, ...rows));
}

function renderResults(r) {
  const out = [h("p", { class: "sl-funnel-summary", text: `${count(r.units, r.per)} entered, ${r.completed} completed (${pct(r.conversion)})` }), bars(r.steps)];
  if (r.breakdown) out.push(breakdown(r.breakdown));
  return out;
}

async function main() {
  const body = await api("/api/sites");
  app.replaceChildren(h("h1", { text: "Funnels" }), h("nav", {}, h("a", { href: "/", text: "Sessions" })), ...form(body.sites || []));
}

main().catch((e) => app.replaceChildren(h("p", { role: "alert", text: e.message })));
