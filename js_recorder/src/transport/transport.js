// Batches events and delivers them. A batch is only forgotten once the
// collector answered 2xx (or refused it for good with a 4xx); failures are
// retried with backoff, and at page hide every unconfirmed batch is written
// to localStorage so the next page of the session sends it. Batches are
// keyed by (session, page view, seq), so a resend overwrites, never doubles.

import { KIND, SNAPSHOT_NODES } from "../core/wire.js";

const PENDING_KEY = "sl_pending";
const MAX_PENDING_CHARS = 2000000;
const MAX_EVENTS = 250;
const MAX_ESTIMATE = 400000;
const KEEPALIVE_LIMIT = 60000;

// ack(response) is told of every 2xx answer (the survey widget's header).
export function createTransport(config, session, pid, t0, canStore, ack) {
  const endpoint = config.endpoint;
  let buffer = [];
  let estimate = 0;
  let seq = 0;
  let queue = [];
  let pumping = null;
  let backoff = 0;
  let retryTimer = 0;
  let stored = false;

  function add(event) {
    buffer.push(event);
    const kind = event[KIND];
    estimate += kind === "snapshot" ? event[SNAPSHOT_NODES].length * 80 : kind === "mutation" ? 400 : 60;
    if (buffer.length >= MAX_EVENTS || estimate > MAX_ESTIMATE) cut();
  }

  // Close the open batch: it gets its sequence number now.
  function cut() {
    if (!buffer.length) return;
    const body = JSON.stringify({ v: 1, sid: session.id, pid, seq: seq++, t0, vid: session.vid, events: buffer });
    buffer = [];
    estimate = 0;
    queue.push({ e: endpoint, b: body });
    if (!retryTimer) pump();
  }

  // Small bodies stay as they are; a gzipped one is a promise of its Blob.
  function encode(body) {
    return body.length < 1024 || typeof CompressionStream === "undefined" ? body
      : new Response(new Blob([body]).stream().pipeThrough(new CompressionStream("gzip"))).blob();
  }

  // -1: done with it (accepted, or refused for good), otherwise a delay to retry after.
  async function send(item, keepalive) {
    try {
      const res = await fetch(item.e, {
        method: "POST",
        body: keepalive ? item.b : await encode(item.b),
        credentials: "omit",
        keepalive,
      });
      if (res.ok) ack(res);
      if (res.status !== 429 && res.status < 500) return -1;
      return Math.max(res.headers.get("Retry-After") * 1000, 0) || 0;
    } catch {
      return 0; // network failure: collector down or offline
    }
  }

  function forget(item) {
    queue = queue.filter((i) => i !== item);
    if (stored) persist();
  }

  function pump() {
    if (pumping) return pumping;
    pumping = (async () => {
      while (queue.length) {
        const item = queue[0];
        const result = await send(item, false);
        if (result < 0) {
          backoff = 0;
          forget(item);
          continue;
        }
        backoff = Math.min(config.retryMaxMs, Math.max(backoff * 2 || 500, result));
        persist();
        await new Promise((resolve) => { retryTimer = setTimeout(resolve, backoff); });
        retryTimer = 0;
      }
    })().finally(() => { pumping = null; });
    return pumping;
  }

  function persist() {
    if (!canStore()) return;
    try {
      let items = queue.slice();
      let size = items.reduce((n, i) => n + i.b.length, 0);
      while (size > MAX_PENDING_CHARS && items.length) size -= items.shift().b.length; // oldest go first
      if (items.length) localStorage.setItem(PENDING_KEY, JSON.stringify(items));
      else localStorage.removeItem(PENDING_KEY);
      stored = items.length > 0;
    } catch { /* storage full or blocked: the in-memory retry still runs */ }
  }

  return {
    add,
    // Batches left unsent by earlier page views of this session.
    adoptPending() {
      if (!canStore()) return;
      try {
        const items = JSON.parse(localStorage.getItem(PENDING_KEY) || "[]");
        if (items.length) {
          queue = items.concat(queue);
          stored = true;
          pump();
        }
      } catch { /* unreadable: nothing to adopt */ }
    },
    flush() {
      cut();
      return pump();
    },
    // The page may be going away: send what we have with requests that
    // outlive it, and keep a copy for the next page in case they do not.
    flushUnloading() {
      cut();
      persist();
      for (const item of queue) {
        if (item.b.length <= KEEPALIVE_LIMIT) {
          send(item, true).then((r) => r < 0 && forget(item));
        } else {
          navigator.sendBeacon(item.e, new Blob([item.b], { type: "text/plain" }));
        }
      }
    },
    stop() {
      clearTimeout(retryTimer);
    },
  };
}
