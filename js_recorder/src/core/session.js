// The visit: a session id shared by the page views of one tab's visit, ended
// after 30 minutes without activity; sampling decided once per session.
// Nothing is written to storage before the recorder may record (consent).

const KEY = "sl_session";
const VID_KEY = "sl_vid";
const IDLE_MS = 30 * 60 * 1000;

// 128 random bits as 28 characters [0-9a-z] (each 32 bits + 2**32 in base 36 is 7 digits).
export function randomId() {
  return Array.from(crypto.getRandomValues(new Uint32Array(4)), (n) => (n + 2 ** 32).toString(36)).join("");
}

function read() {
  try { return JSON.parse(localStorage.getItem(KEY)); } catch { return null; }
}

function write(s) {
  try { localStorage.setItem(KEY, JSON.stringify(s)); } catch { /* storage may be full or blocked */ }
}

// The first-party visitor id: made here, so only once recording is allowed (after consent
// where the site requires it), kept until consent is withdrawn; sent as the batch's `vid`.
function visitorId() {
  try {
    let v = localStorage.getItem(VID_KEY);
    if (!/^[\w-]{8,64}$/.test(v)) localStorage.setItem(VID_KEY, (v = randomId()));
    return v;
  } catch { /* no storage: no visitor id */ }
}

export function resumeSession(sampleRate) {
  const now = Date.now();
  let s = read();
  if (!s?.id || now - s.last > IDLE_MS) {
    s = { id: randomId(), sampled: Math.random() < sampleRate }; // last: set below
  }
  s.last = now;
  write(s);
  let lastWrite = now;
  return {
    id: s.id,
    vid: visitorId(),
    sampled: s.sampled,
    // Called on user activity; the write is throttled to stay cheap.
    touch() {
      const t = Date.now();
      if (t - lastWrite > 5000) { s.last = t; write(s); lastWrite = t; }
    },
  };
}

export function forgetSession() {
  try { for (const k of [KEY, VID_KEY, "sl_pending"]) localStorage.removeItem(k); } catch { /* nothing to forget */ }
}
