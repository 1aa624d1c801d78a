// Timeline markers that never hide each other: each kind has a lane
// (kinds.js; errors alone in the top one), and markers of a lane closer
// than one slot share one marker showing their count. Slots are whole
// pixels of the timeline's current width, so two markers never overlap.
import { kindOf, LANES, rank } from "./kinds.js";
import { h } from "./ui.js";

// A click marker is a click whatever signal names it (class "click" too).
const CLICKS = new Set(["click", "rage", "dead", "error-click"]);

export const SLOT_PX = 12;  // a marker is 10 px wide in a 12 px slot
export const LANE_PX = 10; // 9 px high

// entries: [{t, kind, label}]; returns the marker elements (positioned).
export function layoutMarks(entries, total, width, fmt, onPick) {
  const slots = Math.max(1, Math.floor(width / SLOT_PX));
  const cells = new Map(); // lane * slots + slot -> [entry]
  for (const e of entries) {
    const lane = kindOf(e.kind).lane;
    const slot = Math.min(slots - 1, Math.floor((total ? e.t / total : 0) * slots));
    const key = lane * slots + slot;
    if (!cells.has(key)) cells.set(key, []);
    cells.get(key).push(e);
  }
  const out = [];
  for (const [key, group] of cells) {
    const lane = Math.floor(key / slots), slot = key % slots;
    group.sort((a, b) => a.t - b.t);
    const top = group.reduce((best, e) => (rank(e.kind) < rank(best.kind) ? e : best), group[0]);
    const title = group.slice(0, 12).map((e) => `${fmt(e.t)} ${e.label}`).join("\n") + (group.length > 12 ? `\n… ${group.length - 12} more` : "");
    const el = h("div", {
      class: `mark ${top.kind}` + (CLICKS.has(top.kind) && top.kind !== "click" ? " click" : "") + (group.length > 1 ? " cluster" : ""),
      "data-kind": top.kind,
      "data-t": String(Math.floor(group[0].t)),
      title,
      onclick: (ev) => { ev.stopPropagation(); onPick(group[0]); },
    });
    el.style.left = slot * SLOT_PX + "px";
    el.style.top = lane * LANE_PX + "px";
    el.style.background = kindOf(top.kind).colour;
    if (group.length > 1) el.append(h("span", { class: "count", text: group.length > 99 ? "99+" : String(group.length) }));
    out.push(el);
  }
  return out;
}

export const MARKS_HEIGHT = LANES * LANE_PX;
