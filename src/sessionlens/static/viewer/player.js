// The player: one session on one clock, page views rebuilt one at a time in
// the replay frame (an opaque-origin sandbox, see replay-link.js), events
// streamed in windows ahead of the playhead.
import { ReplayLink } from "./replay-link.js";
import { api, h } from "./ui.js";
import { ACTIVITY, KIND, T as TIME } from "./wire.js";

const WINDOW_MS = 30000;        // events fetched per request
const AHEAD_MS = 15000;         // keep at least this much buffered while playing
const RELOAD_FORWARD_MS = 20000; // further than this, loading a keyframe beats applying events
const IDLE_MS = 2500;           // gaps longer than this are skipped when "skip inactivity" is on
const SPEEDS = [1, 2, 4, 8, 16];

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
const frameBox = h("div", { class: "frame-box" }, cursor);
const stage = h("div", { class: "stage" }, frameBox);
const urlLabel = h("span", { class: "muted url" });
const playBtn = h("button", { text: "▶", title: "play / pause (space)" });
const speedSel = h("select", { title: "speed (1-5)" }, ...SPEEDS.map((s) => h("option", { value: String(s), text: s + "×" })));
const skipBox = h("input", { type: "checkbox", title: "skip inactivity (s)" });
// "fit" scales the replay down to the stage; "100" shows it at 1:1 (the stage
// scrolls), for comparing pixels with the live page. Kept in the URL (?zoom=100).
const zoomSel = h("select", { title: "zoom (z)" }, h("option", { value: "fit", text: "fit" }), h("option", { value: "100", text: "100 %" }));
zoomSel.value = params.get("zoom") === "100" ? "100" : "fit";
skipBox.checked = true;
const timeLabel = h("span", { class: "time", text: "0:00 / 0:00" });
const track = h("div", { class: "track" });
const done = h("div", { class: "done" });
const timelineEl = h("div", { class: "timeline", title: "click to jump" }, track, done);
const pagesList = h("ol", { class: "pages" });
const eventsList = h("ol", { class: "events" });
app.append(
  h("header", { class: "bar" }, h("a", { href: "/", text: "← Sessions" }), h("h1", { text: "Replay" }), urlLabel),
  stage,
  h("div", { class: "controls" }, playBtn, h("label", {}, speedSel), h("label", {}, skipBox, " skip inactivity"), h("label", {}, zoomSel), timeLabel, timelineEl),
  h("aside", { class: "side" }, h("h2", { text: "Pages" }), pagesList, h("h2", { text: "Events" }), eventsList),
);

// -- state -------------------------------------------------------------------
const S = { pages: [], markers: [], total: 0, T: 0, playing: false, speed: 1, vw: 0, vh: 0, load: 0 };
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

async function loadState(pv, t) {
  const token = ++S.load;
  document.body.dataset.state = "loading";
  const body = await api(`${base(pv)}/state?at=${Math.floor(t)}${siteParam ? "&" + siteParam.slice(1) : ""}`);
  if (token !== S.load) return false;
  cur = { pv, t, queue: [], loadedUntil: t, ended: false, fetching: null };
  await frame.call({ type: "keyframe", keyframe: body.keyframe, events: body.events });
  return token === S.load;
}

function fetchMore() {
  if (!cur || cur.ended || cur.fetching) return cur && cur.fetching;
  const c = cur;
  const until = c.loadedUntil + WINDOW_MS;
  c.fetching = api(`${base(c.pv)}/events?after=${Math.floor(c.loadedUntil)}&until=${Math.floor(until)}${siteParam ? "&" + siteParam.slice(1) : ""}`)
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
  document.body.dataset.replayT = String(Math.floor(T));
  document.body.dataset.state = "ready";
}

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
  keepInUrl("t", String(Math.floor(S.T)));
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
}

function buildPages() {
  for (const pv of S.pages) {
    pagesList.append(h("li", { "data-pid": pv.pid, onclick: () => seek(pv.offset) },
      h("span", { class: "time", text: fmt(pv.offset) }), h("span", { class: "label", title: pv.url || "", text: pv.url || "(page)" })));
  }
}

function buildMarkers() {
  timelineEl.querySelectorAll(".mark").forEach((el) => el.remove());
  eventsList.replaceChildren();
  for (const m of S.markers) {
    const left = S.total ? (100 * m.t) / S.total : 0;
    timelineEl.append(h("div", { class: `mark ${m.kind}`, style: `left:${left}%`, title: `${fmt(m.t)} ${m.kind} ${m.label}` }));
    if (m.kind === "pageview") continue;
    eventsList.append(h("li", { class: m.kind, onclick: () => seek(m.t) },
      h("span", { class: "time", text: fmt(m.t) }), h("span", { class: "label", text: `${m.kind}: ${m.label}` })));
  }
}

async function start() {
  // Page views first (from the index alone): the first frame waits for
  // nothing else. Event markers need every chunk read; they follow.
  const sessionUrl = `/api/sessions/${encodeURIComponent(sid)}${siteParam}`;
  const info = await api(sessionUrl + (siteParam ? "&" : "?") + "markers=0");
  S.pages = info.page_views;
  S.markers = info.markers;
  S.total = Math.max(...S.pages.map((p) => p.offset + p.duration_ms), 0);
  buildPages();
  buildMarkers();
  const full = api(sessionUrl);
  await frame.ready;
  const t = params.get("t");
  await seek(t != null ? Number(t) : 0);
  if (t == null) play();
  const all = await full;
  S.markers = all.markers;
  buildMarkers();
  document.body.dataset.markers = "ready";
}

window.sessionlensPlayer = { seek, play, pause, frame, state: S, get current() { return cur; } };
start().catch((e) => {
  document.body.dataset.state = "error";
  stage.append(h("p", { class: "error", text: e.message }));
});
