// Shared state of one page view: configuration, the clock, node ids and the
// event sink. Modules receive it in start(ctx) instead of importing globals.

export function createContext(config, emit) {
  const ids = new WeakMap();
  let nextId = 1;
  const t0 = Date.now();
  const perf0 = performance.now();
  return {
    config,
    t0,
    emit,
    // Milliseconds since the page view started, as integers on the wire.
    now: () => Math.round(performance.now() - perf0),
    idOf: (node) => ids.get(node) || null,
    assignId: (node) => {
      let id = ids.get(node);
      if (!id) { id = nextId++; ids.set(node, id); }
      return id;
    },
    forgetId: (node) => ids.delete(node),
    peekNextId: () => nextId,
    // Set by the layout module: start observing a shadow root or frame document.
    observeRoot: null,
  };
}
