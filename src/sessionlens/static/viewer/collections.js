// The collections page: every collection (shared by the viewer's users) and its sessions, each
// linking to its replay. Names and URLs are put in as text.
import { api, h } from "./ui.js";
import { send } from "./notes.js";

const app = document.getElementById("app");

function when(ms) {
  return new Date(ms).toLocaleString();
}

async function showSessions(c, box) {
  const body = await api(`/api/collections/${encodeURIComponent(c.id)}/sessions`);
  box.replaceChildren(
    body.sessions.length
      ? h(
          "ul",
          { class: "sl-collection-sessions" },
          ...body.sessions.map((s) =>
            h(
              "li",
              {},
              h("a", { href: `/sessions/${encodeURIComponent(s.sid)}?site=${encodeURIComponent(s.site)}`, text: when(s.start_time) }),
              h("span", { text: ` ${s.entry_url || ""}` }),
              h("button", {
                type: "button",
                text: "Remove",
                onclick: async () => {
                  await send("DELETE", `/api/collections/${encodeURIComponent(c.id)}/sessions/${encodeURIComponent(s.sid)}`);
                  await render();
                },
              }),
            ),
          ),
        )
      : h("p", { text: "No sessions yet: star one in the player." }),
  );
}

async function render() {
  const body = await api("/api/collections");
  const status = h("p", { role: "status" });
  const items = body.collections.map((c) => {
    const box = h("div", { class: "sl-collection-body" });
    const title = h("button", { type: "button", class: "sl-collection-name", text: `${c.name} (${c.count})`, onclick: () => showSessions(c, box).catch((e) => (status.textContent = e.message)) });
    const rename = h("button", {
      type: "button",
      text: "Rename",
      onclick: async () => {
        const name = window.prompt("Name", c.name);
        if (!name) return;
        try {
          await send("PATCH", `/api/collections/${encodeURIComponent(c.id)}`, { name, version: c.version });
        } catch (e) {
          status.textContent = e.message;
        }
        await render();
      },
    });
    const remove = h("button", {
      type: "button",
      text: "Delete",
      onclick: async () => {
        if (!window.confirm(`Delete the collection ${c.name}? (The sessions stay.)`)) return;
        await send("DELETE", `/api/collections/${encodeURIComponent(c.id)}`);
        await render();
      },
    });
    const filter = h("a", { href: `/?collection=${encodeURIComponent(c.id)}`, text: "Open in the list" });
    return h("li", { class: "sl-collection", "data-collection": c.id }, title, " ", h("span", { text: `by ${c.author}` }), " ", filter, " ", rename, remove, box);
  });
  app.replaceChildren(
    h("h1", {}, h("a", { href: "/", text: "Sessions" }), " / Collections"),
    status,
    items.length ? h("ul", { class: "sl-collections" }, ...items) : h("p", { text: "No collections yet: use the star in the player." }),
  );
}

render().catch((e) => app.replaceChildren(h("p", { role: "alert", text: e.message })));
