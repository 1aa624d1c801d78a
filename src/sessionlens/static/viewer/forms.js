// The form analytics page (/forms): forms of a site with their funnel numbers; a form's fields
// with Zuko's metrics, each number linking to the sessions behind it (replays at the field's
// moment). The page's query string (site, from, to, any session-list filter) is passed through.
// Every recorded string (form names, labels) is put in as text (textContent via h()).
import { api, h } from "./ui.js";

const app = document.getElementById("app");
const params = new URLSearchParams(location.search);
const pct = (x) => (x == null ? "–" : `${(x * 100).toFixed(1)}%`);
const ms = (x) => (x == null ? "–" : `${(x / 1000).toFixed(1)} s`);

function query(extra) {
  const q = new URLSearchParams(params);
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  return q.toString();
}

async function showSessions(form, field, metric, box) {
  const extra = { metric };
  if (field != null) extra.field = field;
  const body = await api(`/api/forms/${encodeURIComponent(form)}/sessions?${query(extra)}`);
  box.replaceChildren(
    h("h3", { text: `${field == null ? "" : field + " · "}${metric}: ${body.sessions.length} sessions` }),
    h("ul", { class: "sl-form-sessions" },
      ...body.sessions.map((s) => h("li", {}, h("a", { href: s.link, text: `${s.sid} at ${ms(s.t)}` })))),
  );
}

function number(form, field, metric, text, box) {
  return h("button", { type: "button", class: "sl-form-number", text: String(text), onclick: () => showSessions(form, field, metric, box) });
}

async function showForm(f) {
  const r = await api(`/api/forms/${encodeURIComponent(f.form)}?${query()}`);
  const box = h("div", { class: "sl-form-sessions-box" });
  const cols = ["Field", "Used", "Time", "Hesitation", "Corrections", "Returns", "Blank on submit", "Errors", "Abandons", "Abandon share"];
  app.replaceChildren(
    h("p", {}, h("a", { href: `/forms?${query()}`, text: "All forms" })),
    h("h2", { text: r.name }),
    h("p", { text: `views ${r.views} · starters ${r.starters} · completions ${r.completions} · abandons ${r.abandons} · view→start ${pct(r.view_to_start)} · start→completion ${pct(r.start_to_completion)} · median time to complete ${ms(r.median_time_to_complete_ms)}` }),
    h("table", { class: "sl-form-fields" },
      h("thead", {}, h("tr", {}, ...cols.map((c) => h("th", { text: c })))),
      h("tbody", {}, ...r.fields.map((x) => h("tr", {},
        h("td", { text: x.label }),
        h("td", {}, number(r.form, x.field, "interactions", x.interactions, box)),
        h("td", {}, number(r.form, x.field, "time", ms(x.mean_time_ms), box)),
        h("td", {}, number(r.form, x.field, "hesitation", ms(x.mean_hesitation_ms), box)),
        h("td", {}, number(r.form, x.field, "corrections", x.corrections, box)),
        h("td", {}, number(r.form, x.field, "returns", x.returns, box)),
        h("td", {}, number(r.form, x.field, "blank_submit", x.blank_submit, box)),
        h("td", {}, number(r.form, x.field, "errors", x.errors, box)),
        h("td", {}, number(r.form, x.field, "abandons", x.abandons, box)),
        h("td", { text: pct(x.abandon_share) }),
      )))),
    box,
  );
}

async function render() {
  if (!params.get("site")) {
    app.replaceChildren(h("p", { text: "Add ?site=KEY to the address to see a site's forms." }));
    return;
  }
  const body = await api(`/api/forms?${query()}`);
  if (!body.forms.length) {
    app.replaceChildren(h("p", { text: "No forms seen in the selected sessions." }));
    return;
  }
  const box = h("div", { class: "sl-form-sessions-box" });
  app.replaceChildren(
    h("table", { class: "sl-forms" },
      h("thead", {}, h("tr", {}, ...["Form", "Page", "Views", "Starters", "Completions", "Abandons", "View→start", "Start→completion"].map((c) => h("th", { text: c })))),
      h("tbody", {}, ...body.forms.map((f) => h("tr", {},
        h("td", {}, h("a", { href: "#", text: f.name, onclick: (e) => { e.preventDefault(); showForm(f); } })),
        h("td", { text: f.path }),
        h("td", {}, number(f.form, null, "views", f.views, box)),
        h("td", {}, number(f.form, null, "starters", f.starters, box)),
        h("td", {}, number(f.form, null, "completions", f.completions, box)),
        h("td", {}, number(f.form, null, "abandons", f.abandons, box)),
        h("td", { text: pct(f.view_to_start) }),
        h("td", { text: pct(f.start_to_completion) }),
      )))),
    box,
  );
}

render().catch((e) => app.replaceChildren(h("p", { class: "error", text: String(e.message || e) })));
