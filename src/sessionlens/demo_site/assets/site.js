// Small behaviours of the demo shop; the pages work without them.
(function () {
  const $ = (id) => document.getElementById(id);
  const on = (id, type, fn) => { const el = $(id); if (el) el.addEventListener(type, fn); };
  on("hero-newsletter", "click", () => { $("newsletter-note").hidden = false; });
  on("add-to-cart", "click", () => {
    $("cart-note").hidden = false;
    if (window.sessionlens) window.sessionlens.track("add_to_cart", { product: document.title });
  });
  on("qty-plus", "click", () => { $("qty").textContent = String(Number($("qty").textContent) + 1); });
  on("qty-minus", "click", () => { $("qty").textContent = String(Math.max(1, Number($("qty").textContent) - 1)); });
  document.querySelectorAll(".tabs button[data-tab]").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll(".tabs button[data-tab]").forEach((o) => o.classList.toggle("active", o === b));
    $("tab-details").hidden = b.dataset.tab !== "details";
    $("tab-reviews").hidden = b.dataset.tab !== "reviews";
  }));
  on("signup-form", "submit", (e) => {
    e.preventDefault();
    $("signup-form").hidden = true;
    $("signup-thanks").hidden = false;
  });
  on("article-top", "click", () => window.scrollTo({ top: 0 }));
})();
