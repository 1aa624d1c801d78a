// Hooks on the page's own prototypes (property setters, drawing calls):
// what script does that no event or observer reports. Each is installed
// once per window and stays; it calls the current recorder's hook, so a
// stopped recorder costs one property read per call.

const hooks = {};

export function setHook(name, fn) {
  hooks[name] = fn;
}

// After proto[prop] (a method, or the setter when `setter`) runs, hooks[name]
// gets the object and the call's arguments. A missing or locked property is left alone.
export function after(proto, prop, name, setter) {
  const d = proto && Object.getOwnPropertyDescriptor(proto, prop);
  const key = setter ? "set" : "value";
  const orig = d?.[key];
  if (typeof orig !== "function" || !d.configurable || orig.__sl) return;
  d[key] = function () {
    const result = orig.apply(this, arguments);
    const h = hooks[name];
    try { h?.(this, arguments); } catch { /* the page's call already succeeded */ }
    return result;
  };
  d[key].__sl = 1;
  Object.defineProperty(proto, prop, d);
}

// patch([["HTMLInputElement", "value", ...], ...], name, setter): after() on
// each listed property of each named class of this window.
export function patch(list, name, setter) {
  for (const [cls, ...props] of list) for (const p of props) after(window[cls]?.prototype, p, name, setter);
}
