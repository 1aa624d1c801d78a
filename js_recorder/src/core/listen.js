// Every listener goes through here so stop() removes exactly what start() added.

export function listeners() {
  const added = [];
  return {
    on(target, type, fn, opts) {
      const o = opts || { capture: true, passive: true };
      target.addEventListener(type, fn, o);
      added.push([target, type, fn, o]);
    },
    off() {
      for (const [t, type, fn, o] of added.splice(0)) t.removeEventListener(type, fn, o);
    },
  };
}

// Leading and trailing throttle, keyed so each scroll container has its own.
export function throttled(ms, fn) {
  const last = new Map();
  const timers = new Map();
  return (key, arg) => {
    const now = performance.now();
    const since = now - (last.get(key) || -Infinity);
    if (since >= ms) {
      last.set(key, now);
      fn(arg);
    } else if (!timers.has(key)) {
      timers.set(key, setTimeout(() => {
        timers.delete(key);
        last.set(key, performance.now());
        fn(arg);
      }, ms - since));
    }
  };
}

export function targetOf(event) {
  const path = event.composedPath ? event.composedPath() : null;
  let t = (path && path[0]) || event.target;
  if (t && t.nodeType === 3) t = t.parentNode;
  return t;
}

export const round = (n) => Math.round(n);
export const round3 = (n) => Math.round(n * 1000) / 1000;
