// Small helpers shared by the capture modules.

// Leading and trailing throttle, keyed so each scroll container has its own: fn(key).
export function throttled(ms, fn) {
  const last = new Map();
  const timers = new Map();
  return (key) => {
    const now = performance.now();
    const since = now - (last.get(key) || -Infinity);
    if (since >= ms) {
      last.set(key, now);
      fn(key);
    } else if (!timers.has(key)) {
      timers.set(key, setTimeout(() => {
        timers.delete(key);
        last.set(key, performance.now());
        fn(key);
      }, ms - since));
    }
  };
}

// The event's innermost target, inside open shadow roots; an element, not its text.
export function targetOf(event) {
  const t = event.composedPath()[0] || event.target;
  return t?.nodeType === 3 ? t.parentNode : t;
}

// el.matches() that is false for a selector this browser does not know (:modal, :popover-open).
export function matches(el, sel) {
  try { return el.matches(sel); } catch { return false; }
}

// Any value as text of at most n characters ("" for null and undefined).
export const str = (v, n) => String(v ?? "").slice(0, n);

export const round = (n) => Math.round(n);
export const round3 = (n) => Math.round(n * 1000) / 1000;

// A PerformanceObserver of `type`, buffered entries too, calling fn(entry); undefined where
// this browser does not know the type.
export function observePerf(type, fn) {
  try {
    const o = new PerformanceObserver((list) => list.getEntries().forEach(fn));
    o.observe({ type, buffered: true });
    return o;
  } catch { /* entry type not supported here */ }
}
