// The player's side of the replay frame (/replay/frame, see replay-frame.js).
//
// The frame is sandboxed without allow-same-origin, so recorded content in it
// has an opaque origin and never sends the researcher's cookie. The player
// talks to it over a MessageChannel: the port is handed over once, on the
// frame's first load, to the frame's own window. If the frame ever loads
// again (something navigated it), that document is not ours: the element is
// thrown away and a fresh frame connected, so the recording is only ever
// posted to our script.
import { h } from "./ui.js";

export const FRAME_URL = "/replay/frame";
const MAX_SIZE = 100000;

const finite = (v) => typeof v === "number" && Number.isFinite(v);

export class ReplayLink {
  // hooks: viewport(w, h), url(text), pointer(x, y, clicked), reconnected()
  constructor(container, hooks) {
    this.container = container;
    this.hooks = hooks;
    this.port = null;
    this.pending = new Map();
    this.nextId = 0;
    this.iframe = null;
    this.ready = this.open();
  }

  open() {
    const iframe = h("iframe", { sandbox: "allow-scripts", src: FRAME_URL, title: "replay", referrerpolicy: "no-referrer" });
    if (this.iframe) this.iframe.replaceWith(iframe);
    else this.container.prepend(iframe);
    this.iframe = iframe;
    return new Promise((resolve) => {
      let loads = 0;
      iframe.addEventListener("load", () => {
        loads += 1;
        if (loads === 1) this.connect(iframe, resolve);
        else this.replace(); // navigated away from our frame document
      });
    });
  }

  connect(iframe, resolve) {
    const channel = new MessageChannel();
    channel.port1.onmessage = (event) => {
      if (this.iframe !== iframe) return;
      const msg = event.data;
      if (msg && msg.type === "ready" && !this.port) {
        this.port = channel.port1;
        resolve();
      } else this.receive(msg);
    };
    // The port only: nothing of the recording goes out with targetOrigin "*".
    iframe.contentWindow.postMessage({ type: "sl-replay-connect" }, "*", [channel.port2]);
  }

  replace() {
    if (this.port) this.port.close();
    this.port = null;
    for (const resolve of this.pending.values()) resolve();
    this.pending.clear();
    this.ready = this.open();
    this.ready.then(() => this.hooks.reconnected && this.hooks.reconnected());
  }

  // Send a message; resolves when the frame has applied it.
  call(msg) {
    if (!this.port) return Promise.resolve();
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.port.postMessage({ ...msg, id });
    });
  }

  // Only well-formed messages of the known kinds get through.
  receive(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "done" && Number.isSafeInteger(msg.id)) {
      const resolve = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (resolve) resolve();
    } else if (msg.type === "viewport" && finite(msg.w) && finite(msg.h)) {
      const w = Math.floor(msg.w), hgt = Math.floor(msg.h);
      if (w >= 1 && hgt >= 1 && w <= MAX_SIZE && hgt <= MAX_SIZE) {
        this.iframe.width = w;
        this.iframe.height = hgt;
        this.hooks.viewport(w, hgt);
      }
    } else if (msg.type === "url" && typeof msg.url === "string") {
      this.hooks.url(msg.url.slice(0, 4096));
    } else if (msg.type === "pointer" && finite(msg.x) && finite(msg.y) && typeof msg.clicked === "boolean") {
      this.hooks.pointer(msg.x, msg.y, msg.clicked);
    }
  }
}
