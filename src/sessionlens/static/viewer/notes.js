// Notes at a moment of a session and the star (collections), for the player (player.js imports
// these; see docs/viewer.md). Every text is put in with textContent: notes are never markup.
import { api, h } from "./ui.js";

let csrfToken = null;

async function csrf() {
  if (!csrfToken) csrfToken = (await api("/api/me")).csrf;
  return csrfToken;
}

// A state change with the CSRF header; the answer's JSON (or null for 204), or an Error naming why.
export async function send(method, path, body) {
  const r = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": await csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 204) return null;
  const answer = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(answer.error || r.statusText);
  return answer;
}

function siteQuery(site) {
  return site ? `?site=${encodeURIComponent(site)}` : "";
}

function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// The notes list and its add form in `container`.
// opts: {sid, site?, getTime: () => ({t, pid}), seek: (t, pid) => void, onChange?: () => void}
// Returns {ready, markers(), reload()}; markers() are timeline markers {pid, t, kind: "note", label, id}.
export function mountNotes(container, opts) {
  const { sid, site } = opts;
  let notes = [];
  let me = null;
  const list = h("ol", { class: "sl-notes-list" });
  const input = h("textarea", { class: "sl-notes-input", maxlength: "2000", rows: "2", placeholder: "Note at this moment" });
  const status = h("p", { class: "sl-notes-status", role: "status" });
  const form = h("form", { class: "sl-notes-form" }, input, h("button", { type: "submit", text: "Add note" }), status);
  const root = h("section", { class: "sl-notes", "aria-label": "Notes" }, h("h2", { text: "Notes" }), list, form);
  container.append(root);

  function changed() {
    render();
    if (opts.onChange) opts.onChange();
  }

  function render() {
    list.replaceChildren(
      ...notes.map((n) => {
        const at = h("button", { type: "button", class: "sl-notes-time", text: clock(n.t), title: "Go to this moment", onclick: () => opts.seek(n.t, n.pid) });
        const text = h("span", { class: "sl-notes-text", text: n.text });
        const by = h("span", { class: "sl-notes-author", text: n.author });
        const item = h("li", { class: "sl-notes-item", "data-note": n.id }, at, text, by);
        if (me && n.author === me) {
          item.append(
            h("button", { type: "button", class: "sl-notes-edit", text: "Edit", onclick: () => edit(n) }),
            h("button", { type: "button", class: "sl-notes-delete", text: "Delete", onclick: () => remove(n) }),
          );
        }
        return item;
      }),
    );
  }

  async function edit(n) {
    const text = window.prompt("Note", n.text);
    if (text == null || text.trim() === n.text) return;
    try {
      const updated = await send("PATCH", `/api/notes/${encodeURIComponent(n.id)}`, { text, version: n.version });
      notes = notes.map((x) => (x.id === n.id ? updated : x));
      status.textContent = "";
    } catch (e) {
      status.textContent = e.message;
      await reload();
      return;
    }
    changed();
  }

  async function remove(n) {
    try {
      await send("DELETE", `/api/notes/${encodeURIComponent(n.id)}?version=${n.version}`);
      notes = notes.filter((x) => x.id !== n.id);
      status.textContent = "";
    } catch (e) {
      status.textContent = e.message;
    }
    changed();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const { t, pid } = opts.getTime();
    try {
      const note = await send("POST", `/api/sessions/${encodeURIComponent(sid)}/notes${siteQuery(site)}`, {
        t: Math.max(0, Math.round(t)),
        pid,
        text,
      });
      notes = [...notes, note].sort((a, b) => a.t - b.t || a.created - b.created);
      input.value = "";
      status.textContent = "";
    } catch (e) {
      status.textContent = e.message;
      return;
    }
    changed();
  });

  async function reload() {
    const [body, who] = await Promise.all([api(`/api/sessions/${encodeURIComponent(sid)}/notes${siteQuery(site)}`), me ? null : api("/api/me")]);
    if (who) {
      me = who.user;
      csrfToken = who.csrf;
    }
    notes = body.notes;
    changed();
  }

  const ready = reload();
  return {
    ready,
    reload,
    markers: () => notes.map((n) => ({ pid: n.pid, t: n.t, kind: "note", label: n.text, id: n.id })),
  };
}

// The star: a button showing whether the session is in a collection; clicking it opens a small
// panel to add it to or take it out of collections, or to make a new one.
export function mountStar(button, sid, opts = {}) {
  const site = opts.site || null;
  let open = null;
  button.classList.add("sl-star");
  button.setAttribute("aria-pressed", "false");
  button.setAttribute("aria-haspopup", "true");
  if (!button.textContent) button.textContent = "☆ Star";

  async function state() {
    const mine = await api(`/api/sessions/${encodeURIComponent(sid)}/collections${siteQuery(site)}`);
    const starred = mine.collections.length > 0;
    button.setAttribute("aria-pressed", String(starred));
    button.textContent = starred ? "★ Starred" : "☆ Star";
    return new Set(mine.collections.map((c) => c.id));
  }

  async function panel() {
    if (open) {
      open.remove();
      open = null;
      return;
    }
    const [member, all] = await Promise.all([state(), api(`/api/collections${siteQuery(site)}`)]);
    const list = h("ul", { class: "sl-star-list" });
    const status = h("p", { class: "sl-star-status", role: "status" });
    for (const c of all.collections) {
      const box = h("input", { type: "checkbox" });
      box.checked = member.has(c.id);
      box.addEventListener("change", async () => {
        try {
          await send(box.checked ? "PUT" : "DELETE", `/api/collections/${encodeURIComponent(c.id)}/sessions/${encodeURIComponent(sid)}`);
          await state();
        } catch (e) {
          status.textContent = e.message;
          box.checked = !box.checked;
        }
      });
      list.append(h("li", {}, h("label", {}, box, h("span", { text: ` ${c.name} (${c.count})` }))));
    }
    const name = h("input", { class: "sl-star-name", maxlength: "200", placeholder: "New collection" });
    const form = h("form", { class: "sl-star-form" }, name, h("button", { type: "submit", text: "Create and add" }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!name.value.trim()) return;
      try {
        const siteKey = site || (await api(`/api/sessions/${encodeURIComponent(sid)}?markers=0`)).session.site;
        const c = await send("POST", "/api/collections", { name: name.value, site: siteKey });
        await send("PUT", `/api/collections/${encodeURIComponent(c.id)}/sessions/${encodeURIComponent(sid)}`);
        open.remove();
        open = null;
        await panel();
      } catch (e) {
        status.textContent = e.message;
      }
    });
    open = h("div", { class: "sl-star-panel", role: "dialog", "aria-label": "Collections" }, list, form, status, h("a", { href: "/collections", text: "All collections" }));
    button.after(open);
  }

  button.addEventListener("click", () => panel().catch(() => {}));
  const ready = state();
  return { ready, refresh: state };
}
