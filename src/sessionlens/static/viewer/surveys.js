// The /surveys page: a site's saved surveys; create or edit one (questions, trigger, theme,
// thanks), activate or deactivate it, and see its results per question, each answer linking to
// its replay at the moment it was given, with the CSV export.
// Every text from the API (prompts, labels, visitors' answers) goes in with textContent (h's text).
import { api, h } from "./ui.js";
import { send } from "./notes.js";

const app = document.getElementById("app");
const TYPES = { rating: "Rating", nps: "NPS (0-10)", choice: "Single choice", multi: "Multiple choice", text: "Free text" };
const POSITIONS = ["bottom-right", "bottom-left", "center"];
const state = { site: "", editing: null };

const pct = (x) => (x == null ? "—" : `${(100 * x).toFixed(1)}%`);
const count = (n, what) => `${n} ${what}${n === 1 ? "" : "s"}`;
const slug = (text, i) => (text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || `o${i + 1}`);

function questionRow(q = { id: "", type: "rating", prompt: "" }, index = 0) {
  const id = h("input", { class: "sl-survey-qid", "aria-label": "Question id", size: "10", placeholder: `q${index + 1}` });
  id.value = q.id || "";
  const type = h("select", { class: "sl-survey-qtype", "aria-label": "Question type" },
    ...Object.entries(TYPES).map(([k, v]) => h("option", { value: k, text: v })));
  type.value = q.type;
  const prompt = h("input", { class: "sl-survey-prompt", "aria-label": "Question", size: "40", placeholder: "What stopped you today?" });
  prompt.value = q.prompt || "";
  const required = h("input", { type: "checkbox", "aria-label": "Required" });
  required.checked = !!q.required;
  // One option per line (a label may hold commas): "id=label", or just the label (its id made
  // from it). A line is id=label only when what comes before the first "=" is an id.
  const options = h("textarea", { class: "sl-survey-options", "aria-label": "Options, one per line as id=label or label", rows: "3", cols: "40",
    placeholder: "price=Price\nshipping=Shipping, delivery time" });
  options.value = (q.options || []).map((o) => `${o.id}=${o.label}`).join("\n");
  const scale = q.scale || { min: 1, max: 5, low_label: "", high_label: "" };
  const low = h("input", { type: "number", min: "0", max: "1", "aria-label": "Scale from", size: "2" });
  low.value = scale.min;
  const high = h("input", { type: "number", min: "2", max: "10", "aria-label": "Scale to", size: "2" });
  high.value = scale.max;
  const lowLabel = h("input", { "aria-label": "Low end label", placeholder: "Hard", size: "10" });
  lowLabel.value = scale.low_label;
  const highLabel = h("input", { "aria-label": "High end label", placeholder: "Easy", size: "10" });
  highLabel.value = scale.high_label;
  const scaleBox = h("span", {}, " scale ", low, "–", high, lowLabel, highLabel);
  const row = h("li", { class: "sl-survey-question" }, id, type, prompt, h("label", {}, required, " required"), options, scaleBox,
    h("button", { type: "button", text: "Remove", onclick: () => row.remove() }));
  const sync = () => {
    options.hidden = !["choice", "multi"].includes(type.value);
    scaleBox.hidden = type.value !== "rating";
  };
  type.addEventListener("change", sync);
  sync();
  row.read = (i) => {
    const out = { id: id.value.trim() || `q${i + 1}`, type: type.value, prompt: prompt.value, required: required.checked };
    if (!options.hidden) {
      out.options = options.value.split("\n").map((s) => s.trim()).filter(Boolean).map((s, j) => {
        const [, given, label] = /^([A-Za-z0-9_-]{1,64})\s*=(.*)$/.exec(s) || [];
        return given ? { id: given, label: label.trim() } : { id: slug(s, j), label: s };
      });
    }
    if (!scaleBox.hidden) out.scale = { min: Number(low.value), max: Number(high.value), low_label: lowLabel.value, high_label: highLabel.value };
    return out;
  };
  return row;
}

function editor(onSaved) {
  const name = h("input", { id: "survey-name", "aria-label": "Survey name", placeholder: "Survey name", size: "30" });
  const questions = h("ol", { id: "survey-questions", class: "sl-survey-questions" });
  const url = h("input", { id: "survey-url", "aria-label": "Show on pages matching", placeholder: "/checkout* (empty: every page)", size: "24" });
  const event = h("input", { id: "survey-event", "aria-label": "After the custom event", placeholder: "custom event name", size: "18" });
  const exit = h("input", { id: "survey-exit", type: "checkbox", "aria-label": "On exit intent" });
  const after = h("input", { id: "survey-after", type: "number", min: "0", max: "3600", "aria-label": "After seconds", size: "4" });
  const colour = (label, value) => h("input", { type: "color", "aria-label": label, value });
  const accent = colour("Accent colour", "#2563eb"), background = colour("Background colour", "#ffffff"), text = colour("Text colour", "#111827");
  const position = h("select", { "aria-label": "Position" }, ...POSITIONS.map((p) => h("option", { value: p, text: p })));
  const thanks = h("input", { "aria-label": "Thank-you text", placeholder: "Thank you!", size: "30" });
  const active = h("input", { id: "survey-active", type: "checkbox", "aria-label": "Active" });
  const status = h("p", { role: "status", id: "survey-status" });
  const fill = (s) => {
    state.editing = s;
    name.value = s?.name || "";
    questions.replaceChildren(...(s?.questions || [{ id: "q1", type: "rating", prompt: "" }]).map(questionRow));
    const t = s?.trigger || {};
    url.value = t.url || "";
    event.value = t.event || "";
    exit.checked = !!t.exit_intent;
    after.value = t.after_seconds || 0;
    const th = s?.theme || {};
    accent.value = th.accent || "#2563eb";
    background.value = th.background || "#ffffff";
    text.value = th.text || "#111827";
    position.value = th.position || "bottom-right";
    thanks.value = s?.thanks ?? "Thank you!";
    active.checked = !!s?.active;
    status.textContent = s ? `Editing "${s.name}" (version ${s.version}).` : "New survey.";
  };
  const read = () => ({
    name: name.value,
    active: active.checked,
    questions: [...questions.children].map((li, i) => li.read(i)),
    trigger: { url: url.value, event: event.value, exit_intent: exit.checked, after_seconds: Number(after.value) || 0 },
    theme: { accent: accent.value, background: background.value, text: text.value, position: position.value },
    thanks: thanks.value,
  });
  const save = async () => {
    try {
      const body = read();
      const doc = state.editing
        ? await send("PATCH", `/api/surveys/${encodeURIComponent(state.editing.id)}`, { ...body, version: state.editing.version })
        : await send("POST", "/api/surveys", { ...body, site: state.site });
      fill(doc);
      status.textContent = `Saved "${doc.name}"${doc.active ? " (active)" : ""}.`;
      await onSaved(doc);
    } catch (e) {
      status.textContent = e.message;
    }
  };
  const box = h("section", { class: "sl-survey-editor", "aria-label": "Survey editor" },
    h("div", {}, name, h("label", {}, active, " active (shown to visitors)")),
    h("h3", { text: "Questions" }), questions,
    h("button", { type: "button", text: "Add question", onclick: () => questions.append(questionRow(undefined, questions.children.length)) }),
    h("h3", { text: "When to show it (at most once per visitor)" }),
    h("div", {}, url, event, h("label", {}, exit, " on exit intent"), h("label", {}, " after ", after, " s")),
    h("h3", { text: "Look" }),
    h("div", {}, h("label", {}, "accent ", accent), h("label", {}, " background ", background), h("label", {}, " text ", text), position, thanks),
    h("div", {}, h("button", { type: "button", id: "survey-save", text: "Save", onclick: save }),
      h("button", { type: "button", text: "New survey", onclick: () => fill(null) })),
    status);
  fill(null);
  return { box, fill };
}

function choiceTable(q) {
  return h("table", { class: "sl-survey-counts" },
    h("thead", {}, h("tr", {}, h("th", { text: q.type === "rating" || q.type === "nps" ? "Score" : "Option" }), h("th", { text: "Answers" }), h("th", { text: "Share" }))),
    h("tbody", {}, ...q.counts.map((c) => h("tr", {}, h("th", { scope: "row", text: c.label }), h("td", { text: String(c.count) }), h("td", { text: pct(c.share) })))));
}

async function answerList(surveyId, q, value, box) {
  try {
    const params = new URLSearchParams({ question: q.id, limit: "50" });
    if (value != null) params.set("value", value);
    const r = await api(`/api/surveys/${encodeURIComponent(surveyId)}/answers?${params}`);
    box.replaceChildren(h("p", { text: count(r.total, "answer") }),
      h("ul", {}, ...r.answers.map((a) => h("li", {}, h("a", { href: a.link, text: `${new Date(a.at).toLocaleString()} · ${a.value}` })))));
  } catch (e) {
    box.replaceChildren(h("p", { role: "alert", text: e.message }));
  }
}

function questionResult(surveyId, q) {
  const out = [h("h3", { text: `${q.prompt} (${count(q.responses, "response")})` })];
  if (q.type === "text") {
    out.push(h("ul", { class: "sl-survey-text" }, ...q.answers.map((a) => h("li", {},
      h("q", { text: a.value }), " ", h("a", { href: a.link, text: "replay at this answer" })))));
    return out;
  }
  out.push(choiceTable(q));
  if (q.mean != null) out.push(h("p", { text: `Mean ${q.mean}` }));
  if (q.nps) {
    const n = q.nps;
    out.push(h("p", { class: "sl-survey-nps", text: `NPS ${n.score == null ? "—" : n.score.toFixed(1)}: ${n.promoters} promoters (9–10), ${n.passives} passives (7–8), ${n.detractors} detractors (0–6)` }));
  }
  if (q.other) out.push(h("p", { class: "muted", text: `${q.other} answers not among the options` }));
  const box = h("div", { class: "sl-survey-answers" });
  out.push(h("p", {}, h("button", { type: "button", text: "Show answers with replays", onclick: () => answerList(surveyId, q, null, box) })), box);
  return out;
}

async function showResults(survey, box) {
  box.replaceChildren(h("p", { text: "Counting…" }));
  try {
    const r = await api(`/api/surveys/${encodeURIComponent(survey.id)}/results`);
    box.replaceChildren(
      h("h2", { text: `Results: ${r.name}` }),
      h("p", { id: "survey-summary", text: `Shown in ${count(r.shown, "session")}, answered in ${r.answered} (response rate ${pct(r.response_rate)}), completed ${r.completed}, dismissed ${r.dismissed}.` }),
      h("p", {}, h("a", { href: `/api/surveys/${encodeURIComponent(survey.id)}/csv`, text: "Download CSV" }), " · ",
        h("a", { href: `/?site=${encodeURIComponent(survey.site)}&survey=${encodeURIComponent(survey.id)}`, text: "Sessions that answered" })),
      ...r.questions.flatMap((q) => questionResult(survey.id, q)));
  } catch (e) {
    box.replaceChildren(h("p", { role: "alert", text: e.message }));
  }
}

async function main() {
  const { sites } = await api("/api/sites");
  const params = new URLSearchParams(location.search);
  state.site = params.get("site") || sites[0]?.key || "";
  const siteSelect = h("select", { "aria-label": "Site", id: "survey-site" }, ...sites.map((s) => h("option", { value: s.key, text: s.name || s.key })));
  siteSelect.value = state.site;
  const list = h("ul", { id: "survey-list", class: "sl-survey-list" });
  const listStatus = h("p", { id: "survey-list-status", role: "alert" });
  // A refused change (a stale version, the active-survey limit, a network error) is said, and
  // the list read again so it shows what is saved.
  const change = async (what) => {
    listStatus.textContent = "";
    try {
      await what();
    } catch (e) {
      listStatus.textContent = e.message;
    }
    await listSurveys().catch((e) => { listStatus.textContent = e.message; });
  };
  const results = h("section", { id: "survey-results", "aria-live": "polite" });
  const listSurveys = async () => {
    const body = await api(`/api/surveys?site=${encodeURIComponent(state.site)}`);
    list.replaceChildren(...body.surveys.map((s) => h("li", {},
      h("span", { text: `${s.name} ${s.active ? "· active" : "· inactive"} ` }),
      h("button", { type: "button", text: "Edit", onclick: () => edit.fill(s) }),
      h("button", { type: "button", text: s.active ? "Deactivate" : "Activate", onclick: () => change(() =>
        send("PATCH", `/api/surveys/${encodeURIComponent(s.id)}`, { active: !s.active, version: s.version })) }),
      h("button", { type: "button", text: "Results", onclick: () => showResults(s, results) }),
      h("button", { type: "button", text: "Delete", "aria-label": `Delete ${s.name}`, onclick: () => {
        if (!confirm(`Delete the survey "${s.name}"? Its definition and results page go; the answers stay with their sessions.`)) return;
        change(() => send("DELETE", `/api/surveys/${encodeURIComponent(s.id)}`));
      } }))));
  };
  const edit = editor(listSurveys);
  siteSelect.addEventListener("change", () => { state.site = siteSelect.value; edit.fill(null); listSurveys(); });
  app.replaceChildren(h("h1", { text: "Surveys" }), h("nav", {}, h("a", { href: "/", text: "Sessions" }), " · ", h("a", { href: "/heatmaps", text: "Heatmaps" })),
    siteSelect, h("h2", { text: "Saved surveys" }), listStatus, list, edit.box, results);
  await listSurveys();
}

main().catch((e) => app.replaceChildren(h("p", { role: "alert", text: e.message })));
