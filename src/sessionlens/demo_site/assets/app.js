// A tiny single-page app: routes change with history.pushState.
(function () {
  const views = {
    "/app/inbox": "<h1>Inbox</h1><ul><li>Your order has shipped</li><li>Welcome to Northwind</li></ul>",
    "/app/settings": "<h1>Settings</h1><label><input type='checkbox' id='app-dark'> Dark mode</label>",
    "/app/profile": "<h1>Profile</h1><p>Member since 2024.</p>",
  };
  const view = document.getElementById("app-view");
  function render() {
    const html = views[location.pathname];
    if (html) view.innerHTML = html;
  }
  document.getElementById("app-nav").addEventListener("click", (e) => {
    const a = e.target.closest("a");
    if (!a) return;
    e.preventDefault();
    history.pushState({}, "", a.getAttribute("href"));
    render();
  });
  window.addEventListener("popstate", render);
  document.getElementById("app-track").addEventListener("click", () => window.sessionlens && window.sessionlens.track("upgrade_clicked", { plan: "pro" }));
  document.getElementById("app-error").addEventListener("click", () => { throw new Error("demo error: upgrade failed"); });
  render();
})();
