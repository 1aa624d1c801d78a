// The player: one session on one clock, page views rebuilt one at a time in
// the replay frame (an opaque-origin sandbox, see replay-link.js), events
// streamed in windows ahead of the playhead.
import { layoutMarks, MARKS_HEIGHT } from "./marks.js";
import { mountNotes, mountStar } from "./notes.js";
import { EventList, renderConsole, renderNetwork, renderSummary } from "./panes.js";
import { ReplayLink } from "./replay-link.js";
import { api, h } from "./ui.js";
import { ACTIVITY, KIND, SNAPSHOT_LAST, T as TIME } from "./wire.js";

const WINDOW_MS = 30000;        // events fetched per request
const AHEAD_MS = 15000;         // keep at least this much buffered while playing
const RELOAD_FORWARD_MS = 20000; // further than this, loading a keyframe beats applying events
const IDLE_MS = 2500;           // gaps longer than this are skipped when "skip inactivity" is on
const SPEEDS = [1, 2, 4, 8, 16];
const URL_EVERY_MS = 1000;      // ?t= follows the playhead at most this often while playing

const sid = decodeURIComponent(location.pathname.split("/").pop());
const params = new URLSearchParams(location.search);
const siteParam = params.get("site") ? "?site=" + encodeURIComponent(params.get("site")) : "";
const app = document.getElementById("app");

const fmt = (ms) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};
// -- layout ------------------------------------------------------------------
const cursor = h("div", { class: "cursor", hidden: "" });
// Hidden (the stage's placeholder shows) until the first page is built: never a white frame.
const frameBox = h("div", { class: "frame-box empty" }, cursor);
const stage = h("div", { class: "stage" }, h("p", { class: "placeholder muted", text: "Loading the recording…" }), frameBox);
const urlLabel = h("span", { class: "muted url" });
const playBtn = h("button", { text: "▶", title: "play / pause (space)" });
const speedSel = h("select", { title: "speed (1-5)" }, ...SPEEDS.map((s) => h("option", { value: String(s), text: s + "×" })));
const skipBox = h("input", { type: "checkbox", title: "skip inactivity (s)" });
// "fit" scales the replay down to the stage; "100" shows it at 1:1 (the stage
// scrolls), for comparing pixels with the live page. Kept in the URL (?zoom=100).
const zoomSel = h("select", { title: "zoom (z)" }, h("option", { value: "fit", text: "fit" }), h("option", { value: "100", text: "1:1" }));
zoomSel.value = params.get("zoom") === "100" ? "100" : "fit";
skipBox.checked = true;
const timeLabel = h("span", { class: "time", text: "0:00 / 0:00" });
const track = h("div", { class: "track" });
const done = h("div", { class: "done" });
const marksEl = h("div", { class: "marks" });
marksEl.style.height = MARKS_HEIGHT + "px";
const timelineEl = h("div", { class: "timeline", title: "click to jump" }, marksEl, track, done);
const copyBtn = h("button", { class: "copy-link", text: "Copy link", title: "copy a link to this moment" });
const copyStatus = h("span", { class: "copy-status muted", role: "status" });
const pagesList = h("ol", { class: "pages" });
const eventsBox = h("div", { class: "pane events-pane", "data-pane": "events" });
const consoleBox = h("div", { class: "pane console-pane", "data-pane": "console", hidden: "" });
const networkBox = h("div", { class: "pane network-pane", "data-pane": "network", hidden: "" });
const summaryBox = h("div", { class: "pane summary-pane", "data-pane": "summary", hidden: "" });
const notesBox = h("div", { class: "pane notes-pane", "data-pane": "notes", hidden: "" });
const panes = [eventsBox, consoleBox, networkBox, summaryBox, notesBox];
const starBtn = h("button", { class: "star", type: "button" });
const tabs = h("div", { class: "tabs", role: "tablist" }, ...[["events", "Events"], ["console", "Console"], ["network", "Network"], ["summary", "Summary"], ["notes", "Notes"]]
  .map(([name, text]) => h("button", { role: "tab", "data-tab": name, text, onclick: () => showPane(name) })));
app.append(
  h("header", { class: "bar" }, h("a", { href: "/", text: "← Sessions" }), h("h1", { text: "Replay" }), urlLabel, h("span", { class: "spacer" }), starBtn),
  stage,
  h("div", { class: "controls" }, playBtn, h("label", {}, speedSel), h("label", {}, skipBox, " skip inactivity"), h("label", {}, zoomSel), timeLabel, timelineEl, copyBtn, copyStatus),
  h("aside", { class: "side" }, h("h2", { text: "Pages" }), pagesList, tabs, ...panes),
);
function showPane(name) {
  for (const p of panes) p.hidden = p.dataset.pane !== name;
  for (const b of tabs.children) b.setAttribute("aria-selected", String(b.dataset.tab === name));
}
showPane("events");

// -- state -------------------------------------------------------------------
const S = {
  pages: [], markers: [], entries: [], console: [], network: [], inputs: [], submits: [], surveys: [], extra: [],
  summary: null, total: 0, T: 0, playing: false, speed: 1, vw: 0, vh: 0, load: 0,
};
let cur = null; // { pv, t, queue, loadedUntil, ended, fetching }
const frame = new ReplayLink(frameBox, {
  viewport(w, h2) { S.vw = w; S.vh = h2; fit(); },
  url(u) { urlLabel.textContent = u; },
  pointer(x, y, clicked) {
    cursor.hidden = false;
    cursor.style.left = x + "px";
    cursor.style.top = y + "px";
    if (clicked && S.playing) {
      const r = h("div", { class: "ripple" });
      r.style.left = x + "px";
      r.style.top = y + "px";
      frameBox.append(r);
      setTimeout(() => r.remove(), 700);
    }
  },
  // A fresh frame after the old one was navigated away: rebuild where we were.
  reconnected() { cur = null; seek(S.T); },
});

function fit() {
  stage.classList.toggle("actual-size", zoomSel.value === "100");
  if (!S.vw) return;
  const scale = zoomSel.value === "100" ? 1 : Math.min(1, stage.clientWidth / S.vw, stage.clientHeight / S.vh);
  // At 1:1 no transform at all: a scaled layer is resampled, not drawn.
  frameBox.style.transform = scale === 1 ? "none" : `scale(${scale})`;
  // The replay on whole device pixels of the screen: the stage may start
  // between pixels (a header 35.39 px high, a 1.25 or 1.5 pixel ratio), and a
  // frame drawn from there rounds every fractional edge of the recorded page
  // differently than the visitor's browser did (text blurred, edges 1 px off).
  const box = stage.getBoundingClientRect();
  const onPixel = (start, offset) => Math.round((start + offset) * devicePixelRatio) / devicePixelRatio - start;
  frameBox.style.left = onPixel(box.left - stage.scrollLeft + stage.clientLeft, Math.floor(Math.max(0, (stage.clientWidth - S.vw * scale) / 2))) + "px";
  frameBox.style.top = onPixel(box.top - stage.scrollTop + stage.clientTop, Math.floor(Math.max(0, (stage.clientHeight - S.vh * scale) / 2))) + "px";
}
addEventListener("resize", fit);

function pageAt(T) {
  let pv = S.pages[0];
  for (const p of S.pages) if (p.offset <= T) pv = p;
  return pv;
}

function base(pv) {
  return `/api/sessions/${encodeURIComponent(sid)}/pages/${encodeURIComponent(pv.pid)}`;
}

const siteQuery = siteParam ? "&" + siteParam.slice(1) : "";

async function loadState(pv, t) {
  const token = ++S.load;
  document.body.dataset.state = "loading";
  let body = await api(`${base(pv)}/state?at=${Math.floor(t)}${siteQuery}`);
  let shownAt = t;
  if (!hasPage(body)) {
    // Before the page's first snapshot (a page view starts with its meta
    // event, the DOM follows ms later): show the page as first recorded
    // instead of an empty, white document. The clock stays at t.
    const ahead = await api(`${base(pv)}/events?after=${Math.floor(t)}&until=${Math.floor(t) + WINDOW_MS}${siteQuery}`);
    const snap = ahead.events.find((e) => e[KIND] === "snapshot" && e[SNAPSHOT_LAST]);
    if (snap) {
      shownAt = snap[TIME];
      body = await api(`${base(pv)}/state?at=${Math.floor(shownAt)}${siteQuery}`);
    }
  }
  if (token !== S.load) return false;
  cur = { pv, t, queue: [], loadedUntil: shownAt, ended: false, fetching: null };
  await frame.call({ type: "keyframe", keyframe: body.keyframe, events: body.events });
  if (token === S.load) frameBox.classList.remove("empty");
  return token === S.load;
}

function hasPage(state) {
  return (state.keyframe.nodes || []).length > 0 || state.events.some((e) => e[KIND] === "snapshot" && e[SNAPSHOT_LAST]);
}

function fetchMore() {
  if (!cur || cur.ended || cur.fetching) return cur && cur.fetching;
  const c = cur;
  const until = c.loadedUntil + WINDOW_MS;
  c.fetching = api(`${base(c.pv)}/events?after=${Math.floor(c.loadedUntil)}&until=${Math.floor(until)}${siteQuery}`)
    .then((body) => {
      if (c !== cur) return;
      for (const e of body.events) c.queue.push(e);
      c.loadedUntil = body.more && body.events.length ? body.events[body.events.length - 1][TIME] : until;
      if (!body.more && until >= body.end) c.ended = true;
    })
    .finally(() => { c.fetching = null; });
  return c.fetching;
}

async function applyUntil(t) {
  let n = 0;
  while (n < cur.queue.length && cur.queue[n][TIME] <= t) n++;
  const events = cur.queue.splice(0, n);
  cur.t = t;
  if (n) await frame.call({ type: "events", events });
}

async function seek(T) {
  T = Math.max(0, Math.min(S.total, T));
  S.T = T;
  const pv = pageAt(T);
  const t = T - pv.offset;
  if (!cur || cur.pv !== pv || t < cur.t || t - cur.t > RELOAD_FORWARD_MS) {
    if (!(await loadState(pv, t))) return;
  } else {
    while (!cur.ended && cur.loadedUntil < t) await fetchMore();
    await applyUntil(t);
  }
  fetchMore(); // no-op while a fetch is in flight or the page view is fully loaded
  render();
  followInUrl(T);
  document.body.dataset.replayT = String(Math.floor(T));
  document.body.dataset.state = "ready";
}

// ?t= is always the moment shown: at once after a seek, at most every
// URL_EVERY_MS while playing (replaceState: no history entry per step).
let urlWritten = 0;
function followInUrl(T) {
  const now = performance.now();
  if (S.playing && now - urlWritten < URL_EVERY_MS) return;
  urlWritten = now;
  keepInUrl("t", String(Math.floor(T)));
}

function linkHere() {
  const q = new URLSearchParams(location.search);
  q.set("t", String(Math.floor(S.T)));
  return `${location.origin}${location.pathname}?${q.toString()}`;
}

async function copyLink() {
  const link = linkHere();
  copyBtn.dataset.link = link;
  try {
    await navigator.clipboard.writeText(link);
    copyStatus.textContent = "Link copied";
  } catch (e) {
    // No clipboard access (an insecure origin, a denied permission): show the link to copy by hand.
    copyStatus.textContent = link;
  }
}
copyBtn.addEventListener("click", copyLink);

// -- playback ----------------------------------------------------------------
let last = 0;
let stepping = false;
async function tick(now) {
  if (!S.playing) return;
  const dt = last ? Math.min(now - last, 250) : 0;
  last = now;
  if (!stepping && cur) {
    stepping = true;
    let T = S.T + dt * S.speed;
    if (skipBox.checked) T = skipIdle(T);
    const atEnd = T >= S.total;
    if (atEnd) T = S.total;
    const pv = pageAt(T);
    if (!atEnd && pv === cur.pv && cur.loadedUntil < T - pv.offset && !cur.ended) {
      fetchMore(); // buffer ran dry: hold the playhead until events arrive
    } else {
      await seek(T); // at the end too: the last events must be shown before pausing
    }
    if (atEnd) pause();
    if (cur && !cur.ended && cur.loadedUntil - cur.t < AHEAD_MS) fetchMore();
    stepping = false;
  }
  requestAnimationFrame(tick);
}

function skipIdle(T) {
  const t = T - cur.pv.offset;
  // Activity kinds come from the schema (x-activity), shared with the recorder and facts.py.
  const next = cur.queue.find((e) => ACTIVITY[e[KIND]]);
  if (next && next[TIME] - t > IDLE_MS) return cur.pv.offset + next[TIME] - 300;
  if (!next && cur.ended) {
    const after = S.pages.find((p) => p.offset > S.T);
    if (after && after.offset - T > IDLE_MS) return after.offset;
    if (!after && S.total - T > IDLE_MS) return S.total;
  }
  if (!next && !cur.ended && cur.loadedUntil - t > IDLE_MS * 2) return cur.pv.offset + cur.loadedUntil - IDLE_MS;
  return T;
}

function play() {
  if (S.T >= S.total) seek(0);
  S.playing = true;
  playBtn.textContent = "❚❚";
  last = 0;
  requestAnimationFrame(tick);
}
function pause() {
  S.playing = false;
  playBtn.textContent = "▶";
  followInUrl(S.T);
}
function keepInUrl(name, value) {
  const q = new URLSearchParams(location.search);
  if (value == null) q.delete(name); else q.set(name, value);
  history.replaceState(null, "", "?" + q.toString());
}
function setZoom(value) {
  zoomSel.value = value;
  keepInUrl("zoom", value === "100" ? "100" : null);
  fit();
}
zoomSel.addEventListener("change", () => setZoom(zoomSel.value));
playBtn.addEventListener("click", () => (S.playing ? pause() : play()));
speedSel.addEventListener("change", () => { S.speed = Number(speedSel.value); });
timelineEl.addEventListener("click", (e) => {
  const r = timelineEl.getBoundingClientRect();
  seek(((e.clientX - r.left) / r.width) * S.total);
});
let relayout = 0;
addEventListener("resize", () => { clearTimeout(relayout); relayout = setTimeout(buildMarkers, 100); });
addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
  if (e.key === " ") { e.preventDefault(); S.playing ? pause() : play(); }
  else if (e.key === "ArrowRight") seek(S.T + 5000);
  else if (e.key === "ArrowLeft") seek(S.T - 5000);
  else if (e.key >= "1" && e.key <= "5") { S.speed = SPEEDS[Number(e.key) - 1]; speedSel.value = String(S.speed); }
  else if (e.key === "s") skipBox.checked = !skipBox.checked;
  else if (e.key === "z") setZoom(zoomSel.value === "100" ? "fit" : "100");
});

// -- rendering the chrome ------------------------------------------------------
function render() {
  timeLabel.textContent = `${fmt(S.T)} / ${fmt(S.total)}`;
  done.style.width = (S.total ? (100 * S.T) / S.total : 0) + "%";
  for (const li of pagesList.children) li.classList.toggle("current", cur && li.dataset.pid === cur.pv.pid);
  events.mark(S.T);
}

function buildPages() {
  for (const pv of S.pages) {
    pagesList.append(h("li", { "data-pid": pv.pid, onclick: () => seek(pv.offset) },
      h("span", { class: "time", text: fmt(pv.offset) }), h("span", { class: "label", title: pv.url || "", text: pv.url || "(page)" })));
  }
}

const events = new EventList(eventsBox, { fmt, seek: (T) => seek(T), onFilter: () => layoutTimeline() });
const paneHooks = { fmt, seek: (T) => seek(T) };

// Every entry the list and the timeline show: the server's (one per
// interaction), typing, console errors and failed requests from the
// inspected page views, and entries added by other modules (notes).
function allEntries() {
  const out = S.entries.slice();
  for (const i of S.inputs) out.push({ pid: i.pid, t: i.T, kind: "input", label: i.label });
  for (const f of S.submits) out.push({ pid: f.pid, t: f.T, kind: "submit", label: f.label });
  for (const a of S.surveys) out.push({ pid: a.pid, t: a.T, kind: "survey", label: a.label || surveyLabel(a, null) });
  for (const c of S.console) {
    if (c.level === "error" && !c.uncaught) out.push({ pid: c.pid, t: c.T, kind: "console", label: `console.error: ${c.message}` });
  }
  for (const r of S.network) {
    if (r.failed) out.push({ pid: r.pid, t: r.T, kind: "request", label: `Request failed: ${r.method} ${r.url} (${r.status || "network error"})` });
  }
  for (const e of S.extra) out.push(e);
  out.sort((a, b) => a.t - b.t || (a.kind === "pageview" ? -1 : b.kind === "pageview" ? 1 : 0));
  return out;
}

function buildMarkers() {
  events.set(allEntries());
  events.mark(S.T);
  layoutTimeline();
}

// The timeline shows the kinds the list shows (the legend filters both).
function layoutTimeline() {
  marksEl.replaceChildren(...layoutMarks(events.shown(events.entries), S.total, marksEl.clientWidth, fmt, (e) => seek(e.t)));
}

function buildPanes() {
  renderConsole(consoleBox, S.console, paneHooks);
  renderNetwork(networkBox, S.network, paneHooks);
}

// Console, network and typing of each page view, one page view after the other
// (each decodes its chunks on the server), after the first frame.
async function inspectPages() {
  for (const pv of S.pages) {
    let body;
    try {
      body = await api(`${base(pv)}/inspect${siteParam}`);
    } catch (e) {
      continue; // one page view's details missing never stops the others
    }
    const at = (x) => ({ ...x, pid: pv.pid, T: pv.offset + x.t });
    S.console.push(...body.console.map(at));
    S.network.push(...body.network.map(at));
    S.inputs.push(...body.inputs.map(at));
    S.submits.push(...(body.submits || []).map(at));
    S.surveys.push(...(body.surveys || []).map(at));
  }
  await nameSurveys();
  S.console.sort((a, b) => a.T - b.T);
  S.network.sort((a, b) => a.T - b.T);
  buildPanes();
  buildMarkers();
  document.body.dataset.inspect = "ready";
}

// Survey moments read as the researcher wrote the survey: its name, the question's prompt and
// the option's label (the definitions, /api/surveys); by id when a survey was deleted since.
async function nameSurveys() {
  if (!S.surveys.length) return;
  let byId = {};
  try {
    const site = S.site ? `?site=${encodeURIComponent(S.site)}` : siteParam;
    const body = await api(`/api/surveys${site}`);
    for (const s of body.surveys || []) byId[s.id] = s;
  } catch (e) {
    byId = {};
  }
  for (const a of S.surveys) a.label = surveyLabel(a, byId[a.survey] || null);
}

function surveyLabel(a, def) {
  const name = `'${(def && def.name) || a.survey}'`;
  if (a.action === "shown") return `Survey shown: ${name}`;
  if (a.action === "dismiss") return `Survey dismissed: ${name}`;
  if (a.action === "complete") return `Survey completed: ${name}`;
  const q = def && (def.questions || []).find((x) => x.id === a.question);
  const options = Object.fromEntries(((q && q.options) || []).map((o) => [o.id, o.label]));
  const said = q && (q.type === "choice" || q.type === "multi")
    ? a.value.split("\n").map((v) => options[v] || v).join(", ")
    : a.value.length > 80 ? a.value.slice(0, 79) + "…" : a.value;
  return `Answered '${(q && q.prompt) || a.question}': ${said}`;
}

// For other modules (notes): entries [{t (session clock), kind, label, pid?}] shown on the timeline and in the list.
function addEntries(list) {
  for (const e of list) {
    if (e && Number.isFinite(e.t) && typeof e.kind === "string") S.extra.push({ pid: e.pid || null, t: e.t, kind: e.kind, label: String(e.label ?? "") });
  }
  buildMarkers();
}
function removeEntries(kind) {
  S.extra = S.extra.filter((e) => e.kind !== kind);
  buildMarkers();
}

async function start() {
  // Page views first (from the index alone): the first frame waits for
  // nothing else. Event markers need every chunk read; they follow.
  const sessionUrl = `/api/sessions/${encodeURIComponent(sid)}${siteParam}`;
  const info = await api(sessionUrl + (siteParam ? "&" : "?") + "markers=0");
  S.pages = info.page_views;
  S.markers = info.markers;
  S.entries = info.entries || [];
  S.summary = info.summary;
  S.site = (info.session && info.session.site) || params.get("site") || "";
  S.total = Math.max(...S.pages.map((p) => p.offset + p.duration_ms), 0);
  buildPages();
  buildMarkers();
  renderSummary(summaryBox, S.summary, (u) => pathOf(u));
  const full = api(sessionUrl);
  await frame.ready;
  const t = params.get("t");
  await seek(t != null ? Number(t) : 0);
  if (t == null) play();
  const all = await full;
  S.markers = all.markers;
  S.entries = all.entries || [];
  buildMarkers();
  document.body.dataset.markers = "ready";
  await inspectPages();
}

function pathOf(u) {
  if (!u) return "—";
  try {
    const url = new URL(u);
    return url.pathname + url.search;
  } catch (e) {
    return u;
  }
}

// Notes (notes.js, by the notes helper): listed in their pane, marked on the timeline.
const siteKey = params.get("site") || undefined;
const notes = mountNotes(notesBox, {
  sid,
  site: siteKey,
  getTime: () => ({ t: Math.floor(S.T), pid: cur ? cur.pv.pid : (S.pages[0] && S.pages[0].pid) }),
  seek: (t) => seek(t),
  onChange: () => { S.extra = S.extra.filter((e) => e.kind !== "note"); addEntries(notes.markers()); },
});
notes.ready.then(() => { S.extra = S.extra.filter((e) => e.kind !== "note"); addEntries(notes.markers()); }).catch(() => {});
mountStar(starBtn, sid, { site: siteKey });

window.sessionlensPlayer = { seek, play, pause, frame, state: S, addEntries, removeEntries, get current() { return cur; } };
dispatchEvent(new CustomEvent("sessionlens:player", { detail: window.sessionlensPlayer }));
start().catch((e) => {
  document.body.dataset.state = "error";
  stage.append(h("p", { class: "error", text: e.message }));
});
