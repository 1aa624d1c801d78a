// sessionlens on-page survey widget (docs/surveys.md, "Widget"). Never part of recorder.js: the
// recorder appends this script only after the collector's ack says the site has an active survey,
// so it only ever runs while recording runs (after consent). It shows at most one survey at a time,
// each at most once per visitor, in a shadow root (the site's CSS cannot reach it, its CSS cannot
// reach the site), and records itself through sessionlens.survey(). Definitions are site-owner
// input treated as untrusted: their strings only ever become textContent or property values.
(function () {
  "use strict";
  const w = window;
  const d = document;
  const script = d.currentScript;
  if (!script || w.__sessionlensSurveys) return;

  // -- URL patterns: the same semantics as sessionlens.url_patterns.page_matches ------------------
  // (python's urlsplit/parse_qsl/urlencode reproduced on strings; tests compare both on a table).
  const TRACKING = /^(?:utm_[^\n]*|gclid|fbclid|msclkid|dclid|yclid|mc_cid|mc_eid|_ga|_gl|ref|ref_src)\n?$/;
  const NETLOC_SCHEMES = /^(|ftp|https?|gopher|nntp|telnet|imap|wais|file|mms|shttp|snews|prospero|rtspu?|rsync|svn|svn\+ssh|sftp|nfs|git|git\+ssh|wss?)$/;
  const split = (url) => {
    url = url.replace(/^[\0- ]+/, "").replace(/[\t\r\n]/g, "");
    const m = /^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(\/\/[^/?#]*)?([^?#]*)(?:\?([^#]*))?/.exec(url);
    const netloc = (m[2] || "").slice(2);
    if (/\[/.test(netloc) !== /\]/.test(netloc)) return null; // python: ValueError("Invalid IPv6 URL")
    return { scheme: (m[1] || "").toLowerCase(), netloc, path: m[3], query: m[4] || "" };
  };
  const unquote = (s) =>
    s.replace(/\+/g, " ").replace(/(?:%[0-9a-fA-F]{2})+/g, (run) =>
      new TextDecoder().decode(new Uint8Array(run.slice(1).split("%").map((h) => parseInt(h, 16))))
    );
  const quote = (s) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase()).replace(/%20/g, "+");
  function normalise(url) {
    const p = split(url);
    if (!p) return url;
    const query = p.query
      .split("&")
      .filter((pair) => pair)
      .map((pair) => {
        const i = pair.indexOf("=");
        return i < 0 ? [unquote(pair), ""] : [unquote(pair.slice(0, i)), unquote(pair.slice(i + 1))];
      })
      .filter(([k]) => !TRACKING.test(k))
      .map(([k, v]) => quote(k) + "=" + quote(v))
      .join("&");
    let out = p.path || "/";
    const netloc = p.netloc.toLowerCase();
    if (netloc || (p.scheme && NETLOC_SCHEMES.test(p.scheme) && out.slice(0, 2) !== "//")) {
      if (out[0] !== "/") out = "/" + out;
      out = "//" + netloc + out;
    }
    return (p.scheme ? p.scheme + ":" : "") + out + (query ? "?" + query : "");
  }
  const pathQuery = (url) => {
    const p = split(url);
    return p.path + (p.query ? "?" + p.query : "");
  };
  // `*` is any run of characters but a line feed, the rest literal (python's _glob_fullmatch):
  // each part found at its leftmost place after the previous one, so matching is linear (a regex
  // of one wildcard per `*` backtracks exponentially on a hostile pattern).
  function globMatch(text, pattern) {
    const parts = pattern.split("*");
    if (parts.length === 1) return text === pattern;
    const first = parts[0];
    const last = parts[parts.length - 1];
    if (text.slice(0, first.length) !== first) return false;
    let pos = first.length;
    const end = text.length - last.length;
    if (end < pos) return false; // the first and last parts would overlap
    for (let i = 1; i < parts.length - 1; i++) {
      const part = parts[i];
      const found = part ? text.slice(0, end).indexOf(part, pos) : pos;
      if (found < 0 || text.slice(pos, found).indexOf("\n") >= 0) return false;
      pos = found + part.length;
    }
    return end >= pos && text.slice(end) === last && text.slice(pos, end).indexOf("\n") < 0;
  }
  function pageMatches(url, pattern) {
    if (!url) return false;
    if (pattern.indexOf("*") >= 0) {
      const u = normalise(url);
      return globMatch(pattern[0] === "/" ? pathQuery(u) : u, pattern);
    }
    if (pattern[0] === "/") return pathQuery(normalise(url)) === normalise("http://x" + pattern).slice(8);
    return normalise(url) === normalise(pattern);
  }
  w.__sessionlensSurveys = { pageMatches, normalise };

  // -- state -------------------------------------------------------------------------------------
  const site = script.getAttribute("data-site") || "";
  let origin;
  try {
    origin = new URL(script.getAttribute("data-endpoint") || "", location.href).origin;
  } catch (e) {
    return;
  }
  const api = () => w.sessionlens;
  const recording = () => !!(api() && api().sessionId);
  const record = (...args) => api() && typeof api().survey === "function" && api().survey(...args);
  const KEY = (id) => "sl_survey_" + id;
  let open = null; // the survey on screen (at most one)
  let surveys = [];
  // Names tracked in this page view: those the recorder kept from before this script loaded (if
  // it keeps them) and every call from now on, seen by wrapping the public track().
  const tracked = new Set();

  const seen = (id) => {
    try {
      return w.localStorage.getItem(KEY(id)) !== null;
    } catch (e) {
      return true; // no storage: "at most once" cannot be kept, so never
    }
  };
  const pageOk = (s) => !s.trigger.url || pageMatches(location.href, s.trigger.url);

  function fire(s, why) {
    if (open || s.done || !recording() || !pageOk(s) || seen(s.id)) return;
    if (why === "event" && !tracked.has(s.trigger.event)) return;
    s.done = true;
    try {
      w.localStorage.setItem(KEY(s.id), "1");
    } catch (e) {
      return;
    }
    show(s);
  }
  const fireAll = (why) => surveys.forEach((s) => s.when[why] && fire(s, why));

  // -- triggers ----------------------------------------------------------------------------------
  function watch() {
    const sl = api();
    if (sl && typeof sl.track === "function" && !sl.track.__survey) {
      const inner = sl.track;
      const wrapped = function (name) {
        const r = inner.apply(this, arguments);
        tracked.add(String(name));
        fireAll("event");
        return r;
      };
      wrapped.__survey = 1;
      sl.track = wrapped;
    }
    if (sl && Array.isArray(sl.tracked)) sl.tracked.forEach((n) => tracked.add(String(n)));
    let href = location.href;
    const onPage = () => {
      fireAll("page");
      fireAll("event");
    };
    setInterval(() => href !== location.href && ((href = location.href), onPage()), 500);
    w.addEventListener("popstate", onPage);
    // Exit intent, desktop: the pointer leaves the viewport through the top (towards tabs/close).
    d.addEventListener("mouseout", (e) => !e.relatedTarget && e.clientY <= 0 && fireAll("exit"));
    // Exit intent, touch: the page comes back after being hidden (tab/app switch), or a fast
    // scroll back up of at least half a viewport (reaching for the address bar).
    let hidden = false;
    d.addEventListener("visibilitychange", () => {
      if (d.visibilityState === "hidden") hidden = true;
      else if (hidden) fireAll("exit");
    });
    let lastY = scrollY;
    let lastT = Date.now();
    w.addEventListener(
      "scroll",
      () => {
        const now = Date.now();
        if (matchMedia("(hover: none)").matches && lastY - scrollY > innerHeight / 2 && now - lastT < 500) fireAll("exit");
        if (now - lastT >= 500 || scrollY > lastY) (lastY = scrollY), (lastT = now);
      },
      { passive: true }
    );
    for (const s of surveys) {
      const secs = s.trigger.after_seconds;
      if (secs > 0) setTimeout(() => fire(s, "time"), Math.max(0, secs * 1000 - performance.now()));
    }
    onPage();
  }

  // -- the dialog --------------------------------------------------------------------------------
  const COLOUR = /^#[0-9a-fA-F]{6}$/;
  const colour = (v, fallback) => (typeof v === "string" && COLOUR.test(v) ? v : fallback);
  // Dark or light text on the accent colour, whichever reads better.
  const onAccent = (hex) => {
    const n = parseInt(hex.slice(1), 16);
    return 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255) > 150 ? "#111111" : "#ffffff";
  };
  const CSS =
    ":host{all:initial}" +
    ".box{position:fixed;z-index:2147483647;box-sizing:border-box;width:min(360px,calc(100vw - 32px));max-height:calc(100vh - 32px);overflow:auto;" +
    "padding:16px;border-radius:10px;box-shadow:0 6px 28px rgba(0,0,0,.3);background:var(--b);color:var(--t);" +
    "font:15px/1.4 system-ui,sans-serif;text-align:left}" +
    ".bottom-right{right:16px;bottom:16px}.bottom-left{left:16px;bottom:16px}" +
    ".center{left:50%;top:50%;transform:translate(-50%,-50%)}" +
    "h2{font-size:16px;margin:0 28px 4px 0}p{margin:0 0 8px}.s{font-size:13px;opacity:.8}" +
    "fieldset{border:0;margin:0;padding:0;min-width:0}legend{padding:0;margin-bottom:8px;font-weight:600}" +
    ".o{display:flex;flex-wrap:wrap;gap:6px}label{cursor:pointer}.o label{display:inline-flex;align-items:center;gap:4px;" +
    "padding:4px 8px;border:1px solid currentColor;border-radius:6px}" +
    "input{accent-color:var(--a);margin:0}textarea{box-sizing:border-box;width:100%;min-height:72px;font:inherit;color:#111;background:#fff;" +
    "border:1px solid #888;border-radius:6px;padding:6px}.q>label{display:block;font-weight:600;margin-bottom:8px}" +
    "button{font:inherit;cursor:pointer;border-radius:6px}.go{margin-top:12px;padding:6px 14px;border:0;background:var(--a);color:var(--c)}" +
    ".x{position:absolute;top:8px;right:8px;width:28px;height:28px;border:0;background:none;color:inherit;font-size:20px;line-height:1}" +
    ":focus-visible,.o label:has(:focus-visible){outline:3px solid var(--a);outline-offset:2px}" +
    ".box:focus{outline:none}.err{color:inherit;font-weight:600;min-height:1em;margin:8px 0 0}";

  const el = (tag, props, parent) => {
    const e = d.createElement(tag);
    Object.assign(e, props);
    if (parent) parent.appendChild(e);
    return e;
  };
  // Free text leaves the page with e-mail addresses and phone-like numbers (7+ digits, with
  // spaces, dots, dashes or brackets between) masked, length kept; the server scrubs again.
  const privateMasked = (text) =>
    text
      .replace(/[\w.%+-]+@[\w-]+(\.[\w-]+)+/g, (m) => "*".repeat(m.length))
      .replace(/\+?\(?\d[\d ().\/-]{5,}\d/g, (m) => (m.replace(/\D/g, "").length >= 7 ? m.replace(/\d/g, "*") : m));
  const str = (v, max) => (typeof v === "string" ? v : "").slice(0, max || 500);

  function show(s) {
    const t = s.theme || {};
    const accent = colour(t.accent, "#2563eb");
    const host = el("sessionlens-survey", {});
    host.setAttribute(
      "style",
      "all:initial!important;position:static!important;display:block!important;visibility:visible!important"
    );
    const root = host.attachShadow({ mode: "open" });
    el("style", { textContent: CSS }, root);
    const pos = /^(bottom-right|bottom-left|center)$/.test(t.position) ? t.position : "bottom-right";
    const box = el("div", { className: "box " + pos, tabIndex: -1 }, root);
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-labelledby", "sl-t");
    box.setAttribute("aria-describedby", "sl-d");
    box.style.setProperty("--a", accent);
    box.style.setProperty("--c", onAccent(accent));
    box.style.setProperty("--b", colour(t.background, "#ffffff"));
    box.style.setProperty("--t", colour(t.text, "#111111"));
    const close = el("button", { type: "button", className: "x", textContent: "\u00d7" }, box);
    close.setAttribute("aria-label", "Close survey");
    el("h2", { id: "sl-t", textContent: str(s.name, 200) || "Survey" }, box);
    const step = el("p", { id: "sl-d", className: "s" }, box);
    const body = el("div", { className: "q" }, box);
    const err = el("p", { className: "err" }, box);
    err.setAttribute("role", "status");
    const go = el("button", { type: "button", className: "go" }, box);
    const questions = (Array.isArray(s.questions) ? s.questions : []).filter((q) => q && typeof q.id === "string");
    const before = d.activeElement;
    let index = -1;
    let value = () => "";

    const finish = (action) => {
      if (open !== s) return;
      if (action) record(s.id, action);
      open = null;
      host.remove();
      if (before && before.focus && d.contains(before)) before.focus();
    };
    const options = (q, type, list) => {
      const fs = el("fieldset", {}, body);
      el("legend", { textContent: str(q.prompt) }, fs);
      const row = el("div", { className: "o" }, fs);
      const inputs = list.map(([val, text]) => {
        const label = el("label", {}, row);
        const input = el("input", { type, name: "sl-q", value: val }, label);
        label.appendChild(d.createTextNode(text));
        return input;
      });
      value = () => inputs.filter((i) => i.checked).map((i) => i.value).join("\n");
      return fs;
    };
    const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => String(a + i)).map((v) => [v, v]);
    const hint = (fs, low, high) => {
      if (!low && !high) return;
      const p = el("p", { className: "s", id: "sl-h", textContent: [low, high].filter(Boolean).join(" \u2026 ") }, fs);
      fs.setAttribute("aria-describedby", p.id);
    };

    function render() {
      body.textContent = "";
      err.textContent = "";
      const q = questions[index];
      step.textContent = "Question " + (index + 1) + " of " + questions.length;
      go.textContent = index === questions.length - 1 ? "Send" : "Next";
      if (q.type === "text") {
        el("label", { htmlFor: "sl-text", textContent: str(q.prompt) }, body);
        const area = el("textarea", { id: "sl-text", maxLength: 1000 }, body);
        // Typed text is masked in the recording (the answer goes through the survey kind, scrubbed).
        area.setAttribute("data-sl-mask", "");
        value = () => privateMasked(area.value.trim());
        return;
      }
      if (q.type === "multi" || q.type === "choice") {
        const list = (Array.isArray(q.options) ? q.options : []).filter((o) => o && typeof o.id === "string");
        options(q, q.type === "multi" ? "checkbox" : "radio", list.map((o) => [o.id, str(o.label, 200)]));
        return;
      }
      if (q.type === "nps") return hint(options(q, "radio", range(0, 10)), "0 = not likely", "10 = very likely");
      const sc = q.scale || {};
      const lo = Math.max(0, Math.min(10, sc.min | 0));
      const hi = Math.max(lo + 1, Math.min(10, sc.max | 0 || 5));
      const fs = options(q, "radio", range(lo, hi));
      hint(fs, sc.low_label && lo + " = " + str(sc.low_label, 100), sc.high_label && hi + " = " + str(sc.high_label, 100));
    }
    function next() {
      if (!recording()) return finish();
      const q = questions[index];
      if (q) {
        const v = value().slice(0, 1000);
        if (!v && q.required) {
          err.textContent = "Please answer this question.";
          (body.querySelector("input,textarea") || box).focus();
          return;
        }
        if (v) record(s.id, "answer", q.id, v);
      }
      index++;
      if (index < questions.length) {
        render();
        box.focus();
        return;
      }
      record(s.id, "complete");
      body.textContent = err.textContent = "";
      // The thanks become the dialog's description: read out when focus returns to the dialog.
      step.textContent = str(s.thanks) || "Thank you!";
      go.textContent = "Close";
      go.onclick = () => finish();
      box.focus();
    }
    // Closing before the end dismisses the survey; after it, only closes the thanks.
    const quit = () => finish(index < questions.length ? "dismiss" : null);
    close.onclick = quit;
    box.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        quit();
      }
    });
    go.onclick = next;
    open = s;
    record(s.id, "shown");
    next();
    d.body.appendChild(host);
    box.focus();
  }

  // -- start -------------------------------------------------------------------------------------
  fetch(origin + "/ingest/" + encodeURIComponent(site) + "/surveys", { credentials: "omit" })
    .then((r) => (r.ok ? r.json() : { surveys: [] }))
    .then((data) => {
      surveys = (Array.isArray(data && data.surveys) ? data.surveys : [])
        .filter((s) => s && typeof s.id === "string" && s.id && !seen(s.id))
        .map((s) => {
          const tr = Object.assign({ url: "", event: "", exit_intent: false, after_seconds: 0 }, s.trigger);
          tr.url = str(tr.url, 2000);
          tr.after_seconds = Math.max(0, Number(tr.after_seconds) || 0);
          const when = { event: !!tr.event, exit: !!tr.exit_intent, time: tr.after_seconds > 0 };
          when.page = !when.event && !when.exit && !when.time; // no moment given: as soon as the page matches
          return Object.assign({}, s, { trigger: tr, when });
        });
      if (surveys.length) watch();
    })
    .catch(() => {})
    .then(() => (w.__sessionlensSurveys.ready = 1)); // definitions read and the page evaluated (tests wait on it)
})();
