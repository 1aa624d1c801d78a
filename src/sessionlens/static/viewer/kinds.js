// The one table of what the player marks: each kind's name (legend, filter),
// colour (timeline marker, list dot, legend swatch) and timeline lane.
// Lane 0 holds errors alone, so an error marker is never behind another.
export const KINDS = {
  error: { name: "Errors", colour: "#c0392b", lane: 0 },
  console: { name: "Console errors", colour: "#e67e22", lane: 0 },
  request: { name: "Failed requests", colour: "#a93226", lane: 0 },
  rage: { name: "Rage clicks", colour: "#d35400", lane: 1 },
  "error-click": { name: "Error clicks", colour: "#cb4335", lane: 1 },
  dead: { name: "Dead clicks", colour: "#7f8c8d", lane: 1 },
  "quick-back": { name: "Quick backs", colour: "#af7ac5", lane: 1 },
  "excessive-scroll": { name: "Excessive scrolling", colour: "#5d6d7e", lane: 1 },
  thrash: { name: "Thrashed cursor", colour: "#b9770e", lane: 1 },
  "form-error": { name: "Form errors", colour: "#e74c3c", lane: 1 },
  click: { name: "Clicks", colour: "#f39c12", lane: 2 },
  input: { name: "Typing", colour: "#16a085", lane: 2 },
  submit: { name: "Form submits", colour: "#117a65", lane: 2 },
  custom: { name: "Custom events", colour: "#8e44ad", lane: 3 },
  survey: { name: "Survey", colour: "#0e7c86", lane: 3 },
  nav: { name: "Navigations", colour: "#2874a6", lane: 3 },
  note: { name: "Notes", colour: "#2e86de", lane: 3 },
  pageview: { name: "Page views", colour: "#1d2330", lane: 3 },
};
export const LANES = 4;
const OTHER = { name: "Other", colour: "#687087", lane: 3 };

export function kindOf(kind) {
  return Object.prototype.hasOwnProperty.call(KINDS, kind) ? KINDS[kind] : OTHER;
}

// Which kind names a cluster of markers: the first in table order (errors first).
const ORDER = Object.keys(KINDS);
export function rank(kind) {
  const i = ORDER.indexOf(kind);
  return i < 0 ? ORDER.length : i;
}
